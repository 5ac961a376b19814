/* commands.h — the subcommands of the perfweave program.  Each takes the arguments after its
 * own name (argv[0] is the subcommand name) and returns the process exit status:
 * 0 success, 1 bad usage or input, 2 an experiment ERROR or a detected regression, 3 internal,
 * 4 the measurement lock is held by another process (with --no-wait, or after the maximum wait),
 * 128 + N interrupted by signal N. */
#ifndef PERFWEAVE_CLI_COMMANDS_H
#define PERFWEAVE_CLI_COMMANDS_H

#include <stdbool.h>

#include "perfweave/lock.h"
#include "perfweave/weave.h"

enum { PW_EXIT_OK = 0, PW_EXIT_USAGE = 1, PW_EXIT_ERROR = 2, PW_EXIT_INTERNAL = 3, PW_EXIT_BUSY = 4 };

int pw_cmd_list(int argc, char **argv);
int pw_cmd_report(int argc, char **argv);
int pw_cmd_run(int argc, char **argv);
int pw_cmd_stats(int argc, char **argv);
int pw_cmd_compare(int argc, char **argv);
int pw_cmd_history(int argc, char **argv);
int pw_cmd_diff(int argc, char **argv);
int pw_cmd_archive(int argc, char **argv);
int pw_cmd_slurm(int argc, char **argv);
int pw_cmd_run_job(int argc, char **argv);
int pw_cmd_preview(int argc, char **argv);

/* Writes every diagnostic a library call collected to stderr, one per line (diag.c). */
void pw_cli_print_diag(const pw_diag *d);

/* --- the measurement lock on the command line (cli_lock.c) ------------------------------------ */
/* Recognises --no-wait and --max-wait SECONDS at argv[*i] (advancing *i past a value): returns 1
 * when it took the option, 0 when argv[*i] is something else, -1 for a malformed --max-wait. */
int pw_cli_lock_option(const char *const *argv, int argc, int *i, bool *no_wait, double *max_wait);
/* A lock handle for command who ("perfweave run") that prints who holds the lock while waiting,
 * waits max_wait seconds (< 0: PW_LOCK_MAX_WAIT_S; no_wait: not at all) and stops waiting on
 * SIGINT/SIGTERM (pw_isolate_catch_signals).  Nothing is locked yet; free with pw_lock_free. */
pw_lock *pw_cli_lock_new(const char *who, bool no_wait, double max_wait);
/* Takes the lock; on failure prints why (with the holder) and returns the exit status:
 * PW_EXIT_BUSY, 128 + signal when interrupted, PW_EXIT_USAGE when the lock file is unusable.
 * Returns PW_EXIT_OK when held. */
int pw_cli_lock_acquire(pw_lock *l, const char *who);

#endif
