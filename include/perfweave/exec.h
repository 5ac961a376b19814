/* exec.h — the seam where results are obtained.  An executor takes jobs (one experiment with its
 * parameters each), runs or finds them however it does, and hands each back as a pw_result; the
 * report driver (src/weave/obtain.c) submits every job first and then collects completions, so
 * it does not know, or care, whether jobs run one at a time in a child process, in parallel on
 * a cluster, or come from a cache or a previous run.
 *
 * Implementations, one file each under src/exec/:
 *   local   (local.c)   one isolated child process at a time, in submission order (isolate.h);
 *   replay  (replay.c)  results of a previous run document or a DIR/<id>.json folder;
 *   cache   (cache.c)   a decorator: answers from the result cache, forwards misses to an inner
 *                       executor and stores the clean results it measured;
 *   stale   (stale.c)   never measures: a miss is answered with the directive's previous result,
 *                       marked as standing in for it, or as "not measured yet" (for a preview that
 *                       measures in the background, in another process);
 *   slurm   (slurm.c)   each job as one Slurm job on a partition's nodes, all submitted at once
 *                       (slurm.h), the node's perfweave measuring it through the local executor.
 * A new way to obtain results is a new file that fills a pw_exec_ops and calls pw_exec_new —
 * nothing in the driver changes.
 *
 * The contract every executor keeps (and the driver relies on):
 *   - Threading: none.  Every call comes from the thread that made the executor; an executor
 *     does its work inside pw_exec_submit, pw_exec_wait and pw_exec_cancel, never behind the
 *     caller's back (child processes run on their own, of course).
 *   - Tickets: pw_exec_submit returns a ticket (> 0, unique per executor) at once and never
 *     fails; a job that cannot be run is answered with an ERROR result.
 *   - Completions: every job that starts is answered exactly once by pw_exec_wait, with a result
 *     the caller then owns (pw_result_free).  Results carry "run" (at least "source":
 *     "measured" when measured by this run here, "slurm" when measured by this run as a Slurm
 *     job (with "slurm": job id, partition, node, state), else what it came from: "from cache",
 *     "replayed", "frozen…"; plus "measured_at", "host", "seconds", "peak_rss_kib" when measured)
 *     and "environment": the environment of the process that measured it (env.h).
 *   - Readiness: pw_exec_prepare is where slow or refusable set-up happens (a probe job); the
 *     driver calls it after validating its input and before submitting anything.
 *   - Cancel: a cancelled job that had not started is dropped and never answered; a running one
 *     is stopped (its child killed and reaped) before pw_exec_cancel returns and is then
 *     answered once, with an ERROR result saying why it ended; a finished one is still answered.
 *   - Events (pw_exec_observe): QUEUED when submitted, STARTED when work on the job begins
 *     (a child forked, a cache entry found), FINISHED just before its result becomes available
 *     to pw_exec_wait, WARNING for something the caller should see (a corrupt cache entry), NOTE
 *     for information (waiting for the measurement lock, and who holds it), and ERROR just
 *     before pw_exec_wait returns a status saying the executor cannot go on (the lock is busy).
 *   - The measurement lock (lock.h): an executor that measures on this machine holds it while it
 *     measures and only then — taken before its first job starts, not at submit, so a report
 *     answered entirely from the cache or a replay never waits for it — and gives it back when
 *     nothing is left to run.  One that only hands jobs to other machines never takes it.
 *   - pw_exec_free cancels whatever is still pending and frees results not yet collected.
 */
#ifndef PERFWEAVE_EXEC_H
#define PERFWEAVE_EXEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "perfweave/experiment.h"
#include "perfweave/lock.h"
#include "perfweave/result.h"
#include "perfweave/store.h"

typedef struct pw_exec pw_exec;
typedef size_t pw_exec_ticket;

/* One experiment to obtain.  pw_exec_submit copies what it keeps: the job and its strings may
 * go away when submit returns; params is referenced (json_incref), not copied, and must not be
 * modified while the job is pending. */
typedef struct {
    const pw_experiment *experiment; /* what to run (a registry entry) */
    const char *id;                  /* names the result (the directive's id) */
    json_t *params;                  /* every parameter, defaults filled in */
    const char *canonical;           /* what is measured, as text (pw_directive_canonical): the
                                        cache key's directive part */
    bool quick;                      /* the --quick mode (part of the cache key) */
    double timeout_s, memory_mb;     /* limits; 0 = the executor's default */
    const char *key;                 /* the job's cache key when a cache decorator forwards it
                                        (pw_exec_cache_new), else NULL */
} pw_exec_job;

/* --- using an executor ------------------------------------------------------------------------ */

/* Submits a job and returns its ticket at once (see the contract above). */
pw_exec_ticket pw_exec_submit(pw_exec *x, const pw_exec_job *job);

/* The next completion: PW_OK with *ticket and *result (the caller frees the result);
 * PW_ENOTFOUND at once when nothing is pending (every started job answered, nothing queued);
 * PW_EAGAIN when timeout_s passed first (timeout_s < 0: wait as long as it takes; 0: only look;
 * also while the measurement lock is still being waited for) or a caught signal interrupted the
 * wait (pw_isolate_interrupted: the caller decides whether to cancel); PW_EBUSY when the
 * measurement lock is held by another process and the executor's wait for it is over, PW_EIO
 * when the lock file cannot be used — both after an ERROR event saying why, with nothing started
 * and the jobs still queued (the caller cancels them; waiting again starts a new wait for the
 * lock).  On anything but PW_OK, *ticket is 0 and *result NULL. */
int pw_exec_wait(pw_exec *x, double timeout_s, pw_exec_ticket *ticket, pw_result **result);

/* Cancels one job, or every pending job when ticket is 0 (see the contract above). */
void pw_exec_cancel(pw_exec *x, pw_exec_ticket ticket);

/* The environment (env.h layout) of the machine this executor measures on; borrowed, valid until
 * pw_exec_free; never NULL (an empty object when unknown, as for a replay without one).  The
 * cache keys its entries by this machine's fingerprint.  May do work the first time (a probe
 * job on a cluster node). */
const json_t *pw_exec_environment(pw_exec *x);

/* Gets x ready to measure: set-up that takes a while or can be refused for a reason the user must
 * fix first (the Slurm executor's probe job: the controller, the shared filesystem, the node's
 * environment).  The report driver calls it once, after every input is validated and before
 * anything is submitted.  PW_OK, or a status with a lowercase sentence in msg — PW_EINTR when a
 * signal interrupted it — and then nothing should be submitted (what is submitted anyway is
 * answered with an ERROR saying why).  Executors with nothing to set up are always ready; the
 * cache decorator asks its inner executor. */
int pw_exec_prepare(pw_exec *x, char *msg, size_t msgsize);

/* True when a result was measured by this run (run.source "measured" or "slurm"), rather than
 * taken from a cache, a replay or a frozen store. */
bool pw_exec_measured_now(const pw_result *result);

/* The implementation's name ("local", "replay", "cache", "slurm"); static storage. */
const char *pw_exec_name(const pw_exec *x);

typedef enum {
    PW_EXEC_QUEUED, PW_EXEC_STARTED, PW_EXEC_FINISHED, PW_EXEC_WARNING, PW_EXEC_NOTE, PW_EXEC_ERROR
} pw_exec_event_kind;

typedef struct {
    pw_exec_event_kind kind;
    pw_exec_ticket ticket;     /* the job; 0 for a WARNING about the executor itself */
    double at;                 /* when (CLOCK_MONOTONIC seconds) */
    const pw_result *result;   /* FINISHED: the result about to be returned (borrowed, valid
                                  during the call); else NULL */
    const char *message;       /* WARNING, NOTE, ERROR: a lowercase sentence (borrowed); else
                                  NULL */
} pw_exec_event;

typedef void (*pw_exec_observer)(void *ctx, const pw_exec_event *ev);

/* Sends x's events to fn(ctx, event) from now on (NULL: to nobody).  Called synchronously from
 * inside submit, wait and cancel. */
void pw_exec_observe(pw_exec *x, pw_exec_observer fn, void *ctx);

/* Cancels what is pending, frees uncollected results and the executor (NULL: no-op). */
void pw_exec_free(pw_exec *x);

/* --- the implementations ---------------------------------------------------------------------- */

/* The local executor: each job in a forked, pinned, limited child (isolate.h), one at a time in
 * submission order; a queued job starts inside pw_exec_wait, so that the parent is idle while a
 * child measures.  Limits: pw_isolate_limits_default for the job's mode, overridden by the job's
 * timeout_s and memory_mb.  The environment is captured once, when the executor is made, and
 * attached to every result, whose "run" also gets measured_at (this label, copied), "host" and
 * "source": "measured", and whose "environment_warnings" compare that environment with one
 * captured after the job (pw_env_warnings).
 *
 * The machine-wide measurement lock (lock.h) is taken inside pw_exec_wait, before the first job
 * starts (never at submit: a report whose jobs all come from the cache never reaches it), waiting
 * for it as lock says — NULL for pw_lock_options_default: the default path, PW_LOCK_MAX_WAIT_S,
 * this process's command line; its notify, notify_arg and interrupted are replaced (the wait
 * becomes NOTE events, and a caught SIGINT/SIGTERM ends it, pw_exec_wait returning PW_EAGAIN).
 * The wait honours pw_exec_wait's timeout (PW_EAGAIN while it goes on); a lock still busy after
 * the maximum wait is an ERROR event and PW_EBUSY.  The lock is held across every queued job, so
 * two reports never interleave their measurements, and given back as soon as nothing is queued
 * or running (the last job answered, or everything cancelled), before the caller renders; a
 * later submit takes it again.  Experiment children inherit it (they die with the executor's
 * process). */
pw_exec *pw_exec_local_new_lock(const char *measured_at, const pw_lock_options *lock);
/* pw_exec_local_new_lock(measured_at, NULL). */
pw_exec *pw_exec_local_new(const char *measured_at);

/* The replay executor: answers every job at submit from path, a run document (out/results.json,
 * results matched by "id") or a folder of <id>.json result documents; "source": "replayed".
 * A missing, unreadable or invalid result is an ERROR result naming the path.  Its environment
 * is the run document's, or path/environment.json for a folder, or an empty object. */
pw_exec *pw_exec_replay_new(const char *path);

typedef struct {
    bool frozen;           /* never forward: a miss is an ERROR; entries of any machine count */
    char *const *rerun;    /* ids to forward despite an entry ("all": every id); copied */
    size_t nrerun;
} pw_exec_cache_options;

/* The cache decorator over inner (taken over: freed with the decorator) and cache (taken over;
 * NULL when there is none: every job is forwarded, or with frozen answered with an ERROR).  A
 * job's key is pw_cache_key(job canonical text, pw_impl_hash(experiment), the fingerprint of
 * pw_exec_environment(inner), mode).  A hit is answered at submit ("source": "from cache"; with
 * frozen "frozen from cache", or "frozen: measured on another machine" when an entry of the
 * key's family from another host was used); a miss, or a job named in rerun (ignored when
 * frozen), goes to inner with its key in job.key, and a clean result coming back — not ERROR,
 * not disturbed, not a stand-in (pw_exec_standin), not one inner took from elsewhere ("source":
 * "replayed" or "from the previous run") — is stored under its key.  Every result it returns but a stand-in carries its key in
 * "run"."cache_key" (with or without a cache), so that a later run can tell which directive,
 * build, machine and mode a result belongs to.  Unusable entries and failed stores are WARNING
 * events; the job's ticket names the job whose entry was corrupt, ticket 0 a store that failed.
 * Inner's NOTE and ERROR events and its wait statuses (PW_EBUSY, PW_EIO) pass through. */
pw_exec *pw_exec_cache_new(pw_exec *inner, pw_cache *cache, const pw_exec_cache_options *opt);

typedef struct {
    const char *partition;        /* the Slurm partition whose nodes measure */
    const char *workdir;          /* job files, scripts, logs and results (".cache/slurm"): on a
                                     filesystem the nodes share */
    const char *const *paths;     /* also checked visible on the node by the probe (the chapters) */
    size_t npaths;
    int time_min;                 /* every job's --time in minutes; 0: from each job's timeout */
} pw_exec_slurm_options;

/* The Slurm executor (slurm.h, docs/slurm.md): every job is submitted at once as one Slurm job
 * on the partition (one node, --exclusive, the job's timeout and memory as its limits), so the
 * jobs of a partition run in parallel across its nodes; the node's perfweave (`run-job`)
 * measures it through the local executor under that node's measurement lock — this process
 * measures nothing and takes no lock.  Construction checks what must hold before anything is
 * submitted — the Slurm commands, the controller answering, the partition existing, up and of
 * one kind of node — and prepares the work folder: NULL with the sentence in msg when it cannot.
 * pw_exec_prepare (or else the first pw_exec_environment or submit) runs the probe job: its
 * node's environment is this executor's, so the cache keys entries by that machine's
 * fingerprint; a failed probe is refused there with the probe's sentence.
 *   submit: sbatch at once (a failed submission is an ERROR result at once);
 *   wait: one squeue call per round for every pending job (at most one round per second),
 *         STARTED when a job reads RUNNING, each ended job answered with pw_slurm_result (the
 *         result document the node wrote, validated, or an ERROR naming the Slurm state and job
 *         id); a result measured on another kind of machine than the probe's carries a warning
 *         (and the cache decorator does not store it under the probe's key);
 *   cancel: one scancel, then waiting (at most 30 s) for the jobs to end; a job that never ran
 *         is dropped, a running one answered with an ERROR "interrupted: Slurm job N was
 *         cancelled", one that completed first with its result. */
pw_exec *pw_exec_slurm_new(const pw_exec_slurm_options *opt, char *msg, size_t msgsize);

/* The stale executor: measures nothing, and answers every job at submit (so, under the cache
 * decorator, every miss) from the directive's previous result: the first result with the job's
 * id and experiment in the run documents previous[0 .. nprevious) (paths, e.g. a preview's last
 * measurement and out/results.json; a missing or unreadable one is skipped), else the newest
 * entry with that id and experiment in the result cache cache_dir (NULL: none; pw_cache_get_latest).
 * That previous result is then
 *   - the job's own result when its "run"."cache_key" equals job.key (measured for exactly this
 *     directive, build, machine and mode, but not cached: an ERROR or a disturbed result): it is
 *     returned as it is, "source": "from the previous run";
 *   - otherwise a stand-in, PW_EXEC_STALE: every metric is marked undecidable (code "stale",
 *     result.h) with a sentence saying why it is shown, so that no claim is decided from it,
 *     "source": "previous result";
 * and with no previous result (or an ERROR of another key) the job gets a stand-in with no
 * metrics, PW_EXEC_UNMEASURED, "source": "not measured yet".  Stand-ins carry job.key (what a
 * measurement would store them under) and are never cached (pw_exec_cache_new).  Its
 * environment is this machine's (pw_env_capture), so the cache decorator over it finds exactly
 * the entries the local executor would have.  previous and cache_dir are copied. */
pw_exec *pw_exec_stale_new(char *const *previous, size_t nprevious, const char *cache_dir);

/* What a result stands for.  FRESH: a result (measured now or before, ERROR included); STALE and
 * UNMEASURED: a stand-in of the stale executor (a previous result, or nothing) for a result that
 * still has to be measured.  The mark is "stale": {"state": "stale"|"unmeasured", "reason":
 * SENTENCE, "key": KEY} in the result document. */
typedef enum { PW_EXEC_FRESH = 0, PW_EXEC_STALE, PW_EXEC_UNMEASURED } pw_exec_standin_kind;

/* The kind of res; when it is a stand-in, *reason (the sentence saying why it is shown) and *key
 * (the cache key it stands in for, or NULL) are set when those pointers are non-NULL (borrowed
 * from res), else left alone. */
pw_exec_standin_kind pw_exec_standin(const pw_result *res, const char **reason, const char **key);

/* --- writing an executor ---------------------------------------------------------------------- */
/* An implementation fills this table (static storage) and makes its executor with pw_exec_new.
 * pw_exec_submit assigns the ticket and emits QUEUED before calling submit; implementations
 * emit STARTED themselves (pw_exec_emit) and hand every completion to pw_exec_complete, which
 * emits FINISHED and queues it for pw_exec_wait. */
typedef struct {
    const char *name;
    /* Takes the job (copy what is kept); may complete it at once. */
    void (*submit)(pw_exec *x, pw_exec_ticket ticket, const pw_exec_job *job);
    /* Works until at least one job completed (PW_OK), or returns PW_EAGAIN (timeout, signal) or
     * PW_ENOTFOUND (nothing in flight).  NULL when every job completes inside submit. */
    int (*wait)(pw_exec *x, double timeout_s);
    /* Cancels one job or, for ticket 0, every one (the contract above). */
    void (*cancel)(pw_exec *x, pw_exec_ticket ticket);
    /* The environment of the machine it measures on (borrowed, never NULL). */
    const json_t *(*environment)(pw_exec *x);
    /* Frees the implementation's state (after cancel(0)). */
    void (*free)(void *state);
    /* Set-up before the first job (pw_exec_prepare); NULL: always ready. */
    int (*prepare)(pw_exec *x, char *msg, size_t msgsize);
} pw_exec_ops;

/* A new executor with ops and state (owned: ops->free frees it). */
pw_exec *pw_exec_new(const pw_exec_ops *ops, void *state);
/* The state given to pw_exec_new; borrowed. */
void *pw_exec_state(const pw_exec *x);
/* Sends an event (ticket, kind, message) to the observer, stamped with the time. */
void pw_exec_emit(pw_exec *x, pw_exec_event_kind kind, pw_exec_ticket ticket, const char *message);
/* Answers ticket with result (taken over): FINISHED event, then queued for pw_exec_wait. */
void pw_exec_complete(pw_exec *x, pw_exec_ticket ticket, pw_result *result);
/* Sets result's "run"."source" (creating "run" when missing). */
void pw_exec_set_source(pw_result *result, const char *source);

#endif
