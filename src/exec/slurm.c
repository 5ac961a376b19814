/* slurm.c — the Slurm executor (exec.h): every job becomes one Slurm job on a partition,
 * submitted at once, so a partition's nodes measure in parallel; the environment is the probe
 * job's (the node's machine, for the cache key); one squeue call per round follows every pending
 * job, and each job that ended is answered with the result its node wrote, validated, or with an
 * ERROR naming the Slurm state and the job id.  This process measures nothing: the node's
 * perfweave (`run-job`) takes that node's measurement lock around its measurement. */
#include "perfweave/exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perfweave/common.h"
#include "perfweave/env.h"
#include "perfweave/isolate.h"
#include "perfweave/slurm.h"

/* How long the controller may stay silent before perfweave stops waiting for its jobs, and how
 * long a cancel waits for the cancelled jobs to end (as pw_slurm_run does). */
#define LOST_CONTACT_S 600.0
#define CANCEL_WAIT_S 30.0

/* A submitted job until it is answered. */
typedef struct {
    pw_exec_ticket ticket;
    char *experiment;
    char *id;
    pw_slurm_job *job;
    bool started;          /* STARTED sent: Slurm said RUNNING (or the job ended) */
} pending;

typedef struct {
    pw_exec *self;
    char *partition;
    pw_slurm_ctx ctx;
    char **paths;          /* what the probe checks besides the binary and the work folder */
    size_t npaths;
    int time_min;
    bool probed;
    int probe_status;      /* PW_OK, or why the probe failed */
    char *probe_error;     /* the sentence when it failed */
    json_t *environment;   /* the probe's node environment; an empty object until then */
    char *fingerprint;     /* pw_env_fingerprint_hash of it, once probed */
    pending *jobs;
    size_t njobs, cap;
    double last_round;     /* CLOCK_MONOTONIC of the last squeue round (0: none yet) */
    double last_answer;    /* when the controller last answered */
} slurm_state;

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void nap(double s)
{
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Runs the probe once (its outcome is kept): the node's environment, or why not. */
static int ensure_probed(slurm_state *s)
{
    if (s->probed) return s->probe_status;
    s->probed = true;
    json_t *env = NULL;
    char msg[1024];
    s->probe_status = pw_slurm_probe(&s->ctx, s->partition, (const char *const *)s->paths, s->npaths,
                                     &env, msg, sizeof msg);
    if (s->probe_status == PW_OK) {
        json_decref(s->environment);
        s->environment = env;
        s->fingerprint = pw_env_fingerprint_hash(env);
    } else {
        s->probe_error = pw_xasprintf("cannot measure on Slurm partition '%s': %s", s->partition, msg);
    }
    return s->probe_status;
}

/* Answers a job that never became a Slurm job with an ERROR. */
static void answer_error(pw_exec *x, pw_exec_ticket ticket, const char *experiment, const char *id,
                         const char *why)
{
    pw_result *r = pw_result_new(experiment, id);
    pw_result_error(r, "%s", why);
    pw_exec_set_source(r, "slurm");
    pw_exec_emit(x, PW_EXEC_STARTED, ticket, NULL);
    pw_exec_complete(x, ticket, r);
}

static void slurm_submit(pw_exec *x, pw_exec_ticket ticket, const pw_exec_job *job)
{
    slurm_state *s = pw_exec_state(x);
    if (ensure_probed(s) != PW_OK) {
        answer_error(x, ticket, job->experiment->name, job->id, s->probe_error);
        return;
    }
    pw_slurm_measure m = {job->experiment, job->id, job->params, job->quick, job->timeout_s, job->memory_mb};
    pw_slurm_limits lim;
    pw_slurm_limits_for(&m, &lim);
    if (s->time_min > 0) lim.time_min = s->time_min;
    json_t *doc = pw_slurm_job_measure(&m);
    pw_slurm_job *sj = NULL;
    char msg[1024];
    int status = pw_slurm_job_submit(&s->ctx, s->partition, job->id, doc, &lim, &sj, msg, sizeof msg);
    json_decref(doc);
    if (status != PW_OK) {
        answer_error(x, ticket, job->experiment->name, job->id, msg);
        return;
    }
    if (s->njobs == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->jobs = pw_xrealloc(s->jobs, s->cap * sizeof *s->jobs);
    }
    pending *p = &s->jobs[s->njobs++];
    p->ticket = ticket;
    p->experiment = pw_xstrdup(job->experiment->name);
    p->id = pw_xstrdup(job->id);
    p->job = sj;
    p->started = false;
    s->last_answer = monotonic_now();
}

static void release(pending *p, bool remove_files)
{
    pw_slurm_job_free(p->job, remove_files);
    free(p->experiment);
    free(p->id);
    memset(p, 0, sizeof *p);
}

/* A result that came back from another kind of machine than the probe's (a partition whose nodes
 * sinfo could not tell apart, e.g. two CPU models with equal counts) says so. */
static void check_machine(pw_exec *x, slurm_state *s, pw_exec_ticket ticket, pw_result *r)
{
    const json_t *env = json_object_get(pw_result_json(r), "environment");
    if (!s->fingerprint || !json_is_object(env) || !json_object_size(env)) return;
    char *fp = pw_env_fingerprint_hash(env);
    if (strcmp(fp, s->fingerprint) != 0) {
        const char *node = json_string_value(json_object_get(env, "host"));
        char *why = pw_xasprintf("measured on node %s, which is not the kind of machine the probe of "
                                 "partition '%s' found (machine fingerprint %s, not %s): the "
                                 "partition mixes machines that Slurm reports alike",
                                 node ? node : "(unknown)", s->partition, fp, s->fingerprint);
        pw_result_warning(r, "%s", why);
        pw_exec_emit(x, PW_EXEC_WARNING, ticket, why);
        free(why);
    }
    free(fp);
}

/* Answers an ended job with its result; its files go unless something went wrong (its log then
 * says why).  why_override, when given, replaces the reason (a cancel, lost contact). */
static void answer_ended(pw_exec *x, slurm_state *s, pending *p, const char *why_override)
{
    const pw_slurm_info *info = pw_slurm_job_info(p->job);
    pw_result *r = pw_slurm_result(p->experiment, p->id, info, pw_slurm_job_out_path(p->job),
                                   pw_slurm_job_log_path(p->job));
    bool completed = pw_slurm_state_parse(info->state)->phase == PW_SLURM_COMPLETED;
    if (why_override && !(completed && !pw_result_failed(r))) pw_result_error(r, "%s", why_override);
    else check_machine(x, s, p->ticket, r);
    bool clean = (completed && !pw_result_failed(r)) || (why_override && pw_slurm_job_ended(p->job));
    if (!p->started) pw_exec_emit(x, PW_EXEC_STARTED, p->ticket, NULL);
    pw_exec_ticket ticket = p->ticket;
    release(p, clean);
    pw_exec_complete(x, ticket, r);
}

/* Removes the released entries (job NULL) from the pending list. */
static void compact(slurm_state *s)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->njobs; i++)
        if (s->jobs[i].job) s->jobs[kept++] = s->jobs[i];
    s->njobs = kept;
}

static pw_slurm_job **job_list(slurm_state *s, pw_exec_ticket only, size_t *n)
{
    pw_slurm_job **v = pw_xcalloc(s->njobs ? s->njobs : 1, sizeof *v);
    *n = 0;
    for (size_t i = 0; i < s->njobs; i++)
        if (only == 0 || s->jobs[i].ticket == only) v[(*n)++] = s->jobs[i].job;
    return v;
}

/* One squeue round over every pending job: STARTED for those now running, an answer for each that
 * ended.  Returns how many were answered. */
static size_t poll_round(pw_exec *x, slurm_state *s)
{
    size_t n, answered = 0;
    pw_slurm_job **v = job_list(s, 0, &n);
    char msg[1024];
    double now = monotonic_now();
    s->last_round = now;
    int status = pw_slurm_jobs_poll(&s->ctx, v, n, msg, sizeof msg);
    free(v);
    if (status != PW_OK) {
        if (now - s->last_answer <= LOST_CONTACT_S) return 0;
        for (size_t i = 0; i < s->njobs; i++) {
            pending *p = &s->jobs[i];
            char *why = pw_xasprintf("Slurm did not answer about job %s for %.0f s, so perfweave stopped "
                                     "waiting (the job may still run: scancel %s): %s",
                                     pw_slurm_job_id(p->job), LOST_CONTACT_S, pw_slurm_job_id(p->job), msg);
            answer_ended(x, s, p, why);
            free(why);
            answered++;
        }
        compact(s);
        return answered;
    }
    s->last_answer = now;
    for (size_t i = 0; i < s->njobs; i++) {
        pending *p = &s->jobs[i];
        bool ended = pw_slurm_job_ended(p->job);
        if (!p->started && !ended && strcmp(pw_slurm_job_info(p->job)->state, "RUNNING") == 0) {
            pw_exec_emit(x, PW_EXEC_STARTED, p->ticket, NULL);
            p->started = true;
        }
        if (ended) {
            answer_ended(x, s, p, NULL);
            answered++;
        }
    }
    compact(s);
    return answered;
}

static int slurm_wait(pw_exec *x, double timeout_s)
{
    slurm_state *s = pw_exec_state(x);
    double t0 = monotonic_now();
    for (;;) {
        if (s->njobs == 0) return PW_ENOTFOUND;
        double now = monotonic_now();
        /* At most one round per poll interval, however often the caller looks. */
        if (s->last_round == 0 || now - s->last_round >= s->ctx.poll_s) {
            if (poll_round(x, s) > 0) return PW_OK;
            if (s->njobs == 0) return PW_ENOTFOUND;
            now = monotonic_now();
        }
        if (pw_isolate_interrupted()) return PW_EAGAIN;
        double left = timeout_s < 0 ? s->ctx.poll_s : timeout_s - (now - t0);
        if (left <= 0) return PW_EAGAIN;
        double next = s->ctx.poll_s - (now - s->last_round);
        nap(next < left ? next : left);
    }
}

static void slurm_cancel(pw_exec *x, pw_exec_ticket ticket)
{
    slurm_state *s = pw_exec_state(x);
    size_t n;
    pw_slurm_job **v = job_list(s, ticket, &n);
    if (n == 0) {
        free(v);
        return;
    }
    /* Learn which jobs already run, then cancel them all at once and wait for their ends. */
    char msg[1024];
    pw_slurm_jobs_poll(&s->ctx, v, n, msg, sizeof msg);
    for (size_t i = 0; i < s->njobs; i++) {
        pending *p = &s->jobs[i];
        if ((ticket == 0 || p->ticket == ticket) && !p->started &&
            strcmp(pw_slurm_job_info(p->job)->state, "RUNNING") == 0) {
            pw_exec_emit(x, PW_EXEC_STARTED, p->ticket, NULL);
            p->started = true;
        }
    }
    pw_slurm_jobs_cancel(&s->ctx, v, n);
    for (double waited = 0; waited <= CANCEL_WAIT_S; waited += s->ctx.poll_s) {
        if (pw_slurm_jobs_poll(&s->ctx, v, n, msg, sizeof msg) == PW_OK) {
            bool all = true;
            for (size_t i = 0; i < n; i++) all = all && pw_slurm_job_ended(v[i]);
            if (all) break;
        }
        nap(s->ctx.poll_s);
    }
    free(v);
    for (size_t i = 0; i < s->njobs; i++) {
        pending *p = &s->jobs[i];
        if (ticket != 0 && p->ticket != ticket) continue;
        const pw_slurm_info *info = pw_slurm_job_info(p->job);
        bool completed = pw_slurm_state_parse(info->state)->phase == PW_SLURM_COMPLETED;
        if (!p->started && !completed) { /* it never ran: dropped, never answered */
            release(p, pw_slurm_job_ended(p->job));
            continue;
        }
        char *why = pw_slurm_job_ended(p->job)
                        ? pw_xasprintf("interrupted: Slurm job %s was cancelled", pw_slurm_job_id(p->job))
                        : pw_xasprintf("interrupted: Slurm job %s was cancelled, but Slurm had not confirmed "
                                       "its end after %.0f s (scancel %s)", pw_slurm_job_id(p->job),
                                       CANCEL_WAIT_S, pw_slurm_job_id(p->job));
        answer_ended(x, s, p, why);
        free(why);
    }
    compact(s);
}

static const json_t *slurm_environment(pw_exec *x)
{
    slurm_state *s = pw_exec_state(x);
    ensure_probed(s);
    return s->environment;
}

static int slurm_prepare(pw_exec *x, char *msg, size_t msgsize)
{
    slurm_state *s = pw_exec_state(x);
    int status = ensure_probed(s);
    if (status != PW_OK && msg && msgsize) snprintf(msg, msgsize, "%s", s->probe_error);
    return status;
}

static void slurm_free(void *state)
{
    slurm_state *s = state;
    for (size_t i = 0; i < s->njobs; i++) release(&s->jobs[i], false);
    free(s->jobs);
    pw_slurm_ctx_release(&s->ctx);
    for (size_t i = 0; i < s->npaths; i++) free(s->paths[i]);
    free(s->paths);
    free(s->partition);
    free(s->probe_error);
    free(s->fingerprint);
    json_decref(s->environment);
    free(s);
}

static const pw_exec_ops slurm_ops = {
    "slurm", slurm_submit, slurm_wait, slurm_cancel, slurm_environment, slurm_free, slurm_prepare,
};

pw_exec *pw_exec_slurm_new(const pw_exec_slurm_options *opt, char *msg, size_t msgsize)
{
    const char *parts[] = {opt->partition};
    if (pw_slurm_check_partitions(parts, 1, 30, NULL, msg, msgsize) != PW_OK) return NULL;
    slurm_state *s = pw_xcalloc(1, sizeof *s);
    if (pw_slurm_ctx_init(&s->ctx, opt->workdir ? opt->workdir : ".cache/slurm", msg, msgsize) != PW_OK) {
        free(s);
        return NULL;
    }
    s->partition = pw_xstrdup(opt->partition);
    s->npaths = opt->npaths;
    s->paths = pw_xcalloc(opt->npaths ? opt->npaths : 1, sizeof *s->paths);
    for (size_t i = 0; i < opt->npaths; i++) s->paths[i] = pw_xstrdup(opt->paths[i]);
    s->time_min = opt->time_min;
    s->environment = json_object();
    s->last_answer = monotonic_now();
    pw_exec *x = pw_exec_new(&slurm_ops, s);
    s->self = x;
    return x;
}
