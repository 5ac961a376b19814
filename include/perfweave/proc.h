/* proc.h — running another program the way perfweave runs every helper: fork/exec with an argv
 * (never a shell, so no argument is ever interpreted), stdin from /dev/null, stdout and stderr
 * captured, a wall-clock limit.  For the Slurm client commands (sbatch, squeue, scancel, …). */
#ifndef PERFWEAVE_PROC_H
#define PERFWEAVE_PROC_H

#include <stdbool.h>

#include "perfweave/common.h"

/* At most this many bytes of each stream are kept (the rest is read and dropped). */
#define PW_PROC_MAX_OUTPUT (4u * 1024 * 1024)

typedef struct {
    int exit_code;   /* the program's exit status, 128 + signal when killed by one, -1 if not run */
    bool timed_out;  /* killed (SIGKILL) after the limit */
    bool not_found;  /* argv[0] could not be executed (exec failed: errno in exec_errno) */
    int exec_errno;
} pw_proc_status;

/* Runs argv (argv[0] looked up in PATH; NULL-terminated) and waits for it, at most timeout_s
 * seconds (<= 0: no limit).  Its stdout and stderr are appended to out and err (either may be
 * NULL to discard).  Returns PW_OK when the program ran (whatever its exit status, which is in
 * *st), PW_ENOTFOUND when it could not be executed, PW_ECHILD when it was killed for the time
 * limit, PW_EIO when no pipe or process could be made. */
int pw_proc_run(char *const argv[], double timeout_s, pw_buf *out, pw_buf *err, pw_proc_status *st);

#endif
