/* isolate.h — running one experiment in a forked child process, so that a crash, a hang or a
 * memory blow-up becomes an ERROR result with its reason instead of a dead report. */
#ifndef PERFWEAVE_ISOLATE_H
#define PERFWEAVE_ISOLATE_H

#include <jansson.h>
#include <stdbool.h>

#include "perfweave/experiment.h"
#include "perfweave/result.h"

typedef struct {
    double timeout_s;      /* wall-clock limit; the child is killed after it (SIGKILL) */
    double memory_mb;      /* address-space limit of the child (RLIMIT_AS) */
    int cpu;               /* CPU to pin the child to, -1 to leave affinity alone, or
                              PW_ISOLATE_CPU_AUTO to choose one (contention.h) */
    bool quick;            /* the experiment's --quick mode */
} pw_isolate_limits;

#define PW_ISOLATE_CPU_AUTO (-2)

/* Defaults: 900 s (60 s quick), 16 GiB, the CPU chosen per run (PW_ISOLATE_CPU_AUTO:
 * $PERFWEAVE_CPU, else the least busy one this process may use, contention.h). */
void pw_isolate_limits_default(pw_isolate_limits *lim, bool quick);

/* --- one child, step by step (for executors that must not block: src/exec/local.c) ---------- */
typedef struct pw_isolate_child pw_isolate_child;

/* Starts e with params (a complete parameter object) in a forked child under lim and returns at
 * once (after choosing the CPU: PW_CONTENTION_CHOOSE_S with PW_ISOLATE_CPU_AUTO).  Never NULL:
 * when no child could be started (no pipe, no fork) the handle is already finished and
 * pw_isolate_finish returns the ERROR saying why.  Hand the handle to pw_isolate_finish exactly
 * once; that frees it.  Until then this process keeps off the child's CPU (contention.h), so
 * measure one child at a time: a second start would choose while the first one runs. */
pw_isolate_child *pw_isolate_start(const pw_experiment *e, const char *id, json_t *params,
                                   const pw_isolate_limits *lim);

/* Collects the child's output for at most timeout_s seconds (< 0: as long as it takes).  Returns
 * true when the child is done — it closed its pipes, passed its wall-clock limit (it is then
 * killed) or was killed by pw_isolate_kill — so that pw_isolate_finish will not block on it;
 * false when timeout_s passed first or a caught signal (pw_isolate_interrupted) is pending:
 * poll never kills on a signal, the caller decides (pw_isolate_kill). */
bool pw_isolate_poll(pw_isolate_child *c, double timeout_s);

/* Kills the child (SIGKILL); pw_isolate_finish then reaps it and returns an ERROR result
 * ("interrupted by signal N" when a signal was caught, else "cancelled").  No-op once done. */
void pw_isolate_kill(pw_isolate_child *c);

/* Reaps the child (waiting for it to exit), classifies how it ended, frees c and returns the
 * result as pw_isolate_run describes.  The caller frees the result. */
pw_result *pw_isolate_finish(pw_isolate_child *c);

/* --- blocking ---------------------------------------------------------------------------- */
/* Runs e with params (a complete parameter object) in a child and returns its result — never
 * NULL; start, poll and finish in one call, killing the child when a caught signal arrives.  When the child crashes (signal), exits without a result, exceeds a limit or writes
 * something that is not a result, the returned result is an ERROR naming the cause and
 * carrying the tail of the child's stderr.  The result's "run" member records wall seconds,
 * peak RSS (KiB), the CPU it was pinned to and when it started and finished ("started_at",
 * "finished_at": seconds since the epoch).  Its "contention" member holds the readings of
 * contention.h, and a result measured under contention is marked disturbed.  The child is killed
 * when this process dies (PR_SET_PDEATHSIG).  The caller frees it. */
pw_result *pw_isolate_run(const pw_experiment *e, const char *id, json_t *params,
                          const pw_isolate_limits *lim);

/* Installs SIGINT/SIGTERM handlers that only record the signal: a run in progress then kills
 * its child and returns an ERROR result, and callers check pw_isolate_interrupted() to stop
 * cleanly (nothing half-written).  For the command line's long-running commands. */
void pw_isolate_catch_signals(void);
/* The signal number that interrupted this process, or 0. */
int pw_isolate_interrupted(void);

/* Runs e in this process (no isolation): for tests and debugging.  The caller frees it. */
pw_result *pw_isolate_run_inline(const pw_experiment *e, const char *id, json_t *params, bool quick);

#endif
