/* obtain.c — the stage that gives every directive its result, through an executor (exec.h):
 * every job is submitted first, then completions are collected and attached to their directives
 * by ticket, so an executor that runs jobs in parallel works unchanged.  The executor's events
 * become the report's progress and messages; a caught SIGINT/SIGTERM cancels everything. */
#include "report_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perfweave/isolate.h"

/* One submitted directive. */
typedef struct {
    pw_exec_ticket ticket;
    pw_directive *d;
    double started_at;     /* when its STARTED event came, or 0 */
} submitted;

typedef struct {
    pw_report *r;
    submitted *jobs;       /* in submission order */
    size_t njobs, total;   /* submitted so far, and in all */
    bool submitting;       /* inside pw_exec_submit for jobs[njobs - 1] */
    size_t started;        /* STARTED events so far */
    size_t measured;       /* FINISHED events of results measured by this run */
    size_t clean;          /* of those, the ones neither ERROR nor disturbed */
    double t0;             /* when the stage began (CLOCK_MONOTONIC) */
    double spent;          /* seconds between STARTED and FINISHED of those measured */
} obtaining;

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static submitted *job_of(obtaining *o, pw_exec_ticket ticket)
{
    for (size_t i = 0; i < o->njobs; i++)
        if (o->jobs[i].ticket == ticket) return &o->jobs[i];
    return NULL;
}

static bool measured_now(const pw_result *res)
{
    const char *source = json_string_value(json_object_get(json_object_get(pw_result_json(res), "run"), "source"));
    return source && strcmp(source, "measured") == 0;
}

/* The executor's events, as the report's progress and messages. */
static void on_event(void *ctx, const pw_exec_event *ev)
{
    obtaining *o = ctx;
    /* QUEUED comes first, from inside pw_exec_submit: it tells the new job's ticket, so that
     * what an executor reports before submit returns (a cache hit, a replay) finds its job. */
    if (ev->kind == PW_EXEC_QUEUED && o->submitting) o->jobs[o->njobs - 1].ticket = ev->ticket;
    submitted *s = ev->ticket ? job_of(o, ev->ticket) : NULL;
    if (ev->kind == PW_EXEC_WARNING || ev->kind == PW_EXEC_NOTE || ev->kind == PW_EXEC_ERROR) {
        pw_report_message_kind kind = ev->kind == PW_EXEC_WARNING ? PW_REPORT_WARNING
                                      : ev->kind == PW_EXEC_NOTE  ? PW_REPORT_NOTE
                                                                  : PW_REPORT_ERROR;
        pw_report_tell(o->r, kind, s ? s->d->file : NULL, s ? s->d->line : 0, "%s", ev->message);
        return;
    }
    if (!s) return;
    if (ev->kind == PW_EXEC_STARTED) {
        s->started_at = ev->at;
        size_t done = o->started++;
        if (!o->r->opt->on_progress) return;
        pw_report_progress p = {o->started, o->total, s->d->id, s->d->experiment_name, ev->at - o->t0,
                                o->measured ? o->spent / (double)o->measured * (double)(o->total - done) : NAN,
                                false};
        o->r->opt->on_progress(o->r->opt->ctx, &p);
    } else if (ev->kind == PW_EXEC_FINISHED) {
        if (measured_now(ev->result)) {
            o->measured++;
            if (!pw_result_failed(ev->result) && !pw_result_disturbed(ev->result)) o->clean++;
            if (s->started_at > 0) o->spent += ev->at - s->started_at;
        }
        if (pw_result_failed(ev->result))
            pw_report_tell(o->r, PW_REPORT_FAILED, s->d->file, s->d->line, "%s ERROR: %s", s->d->id,
                           pw_result_error_reason(ev->result));
    }
}

/* The stale executor of the options: previous results from the run documents they name, then
 * the output folder's results.json, then the cache. */
static pw_exec *stale_executor(const pw_report_options *opt)
{
    char **paths = pw_xcalloc(opt->nprevious + 1, sizeof *paths);
    for (size_t i = 0; i < opt->nprevious; i++) paths[i] = opt->previous[i];
    char *own = pw_xasprintf("%s/results.json", opt->outdir);
    paths[opt->nprevious] = own;
    pw_exec *x = pw_exec_stale_new(paths, opt->nprevious + 1, opt->cache_dir);
    free(own);
    free(paths);
    return x;
}

/* The executor the options ask for: a replay, or the cache decorator over the local executor
 * (which takes the measurement lock only when a job reaches it: a cache miss), or over the stale
 * one when the run must not measure (which never takes it). */
static pw_exec *default_executor(pw_report *r)
{
    const pw_report_options *opt = r->opt;
    if (opt->replay_dir) return pw_exec_replay_new(opt->replay_dir);
    pw_exec *local;
    if (opt->stale) {
        local = stale_executor(opt);
    } else {
        pw_lock_options lo;
        pw_lock_options_default(&lo);
        if (opt->max_wait_s >= 0) lo.max_wait_s = opt->max_wait_s;
        local = pw_exec_local_new_lock(r->stamp, &lo);
    }
    pw_cache *cache = NULL;
    if (opt->cache_dir && !(cache = pw_cache_open(opt->cache_dir)))
        pw_report_tell(r, PW_REPORT_WARNING, NULL, 0, "cannot open the result cache %s: %s; running without it",
                       opt->cache_dir, strerror(errno));
    pw_exec_cache_options co = {opt->frozen, opt->rerun, opt->nrerun};
    return pw_exec_cache_new(local, cache, &co);
}

void pw_report_obtain(pw_report *r)
{
    pw_exec *x = r->opt->executor ? r->opt->executor : default_executor(r);
    json_decref(r->environment);
    r->environment = json_deep_copy(pw_exec_environment(x));
    obtaining o = {r, NULL, 0, 0, false, 0, 0, 0, monotonic_now(), 0};
    for (size_t c = 0; c < r->nchapters; c++) o.total += r->chapters[c]->ndirectives;
    o.jobs = pw_xcalloc(o.total ? o.total : 1, sizeof *o.jobs);
    pw_exec_observe(x, on_event, &o);

    for (size_t c = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            pw_directive *d = r->chapters[c]->directives[k];
            char *canonical = pw_directive_canonical(d);
            pw_exec_job job = {d->experiment, d->id, d->params, canonical, r->opt->quick, d->timeout_s, d->memory_mb};
            submitted *s = &o.jobs[o.njobs++];
            s->d = d;
            o.submitting = true;
            pw_exec_ticket ticket = pw_exec_submit(x, &job);
            o.submitting = false;
            s->ticket = ticket;
            free(canonical);
        }

    bool cancelled = false;
    for (;;) {
        if (!cancelled && pw_isolate_interrupted()) {
            pw_exec_cancel(x, 0);
            cancelled = true;
        }
        pw_exec_ticket ticket;
        pw_result *res;
        int status = pw_exec_wait(x, -1, &ticket, &res);
        if (status == PW_ENOTFOUND) break;
        if (status == PW_EBUSY || status == PW_EIO) {
            /* The executor cannot measure (the measurement lock; its ERROR event said why):
             * nothing more is obtained, and the report stops after collecting what is done. */
            if (cancelled) break; /* still, after cancelling everything: a broken executor */
            r->blocked = status;
            pw_exec_cancel(x, 0);
            cancelled = true;
            continue;
        }
        if (status != PW_OK) continue;
        submitted *s = job_of(&o, ticket);
        if (!s || s->d->result) { /* not a job of this report, or answered twice: a broken executor */
            pw_result_free(res);
            continue;
        }
        s->d->result = res;
        if (pw_result_failed(res)) r->failed++;
    }
    r->measured = o.measured;
    r->measured_clean = o.clean;
    pw_exec_observe(x, NULL, NULL);
    if (x != r->opt->executor) pw_exec_free(x);
    free(o.jobs);
    if (r->opt->on_progress) {
        pw_report_progress p = {0, o.total, NULL, NULL, monotonic_now() - o.t0, NAN, true};
        r->opt->on_progress(r->opt->ctx, &p);
    }
}

/* Every distinct noise warning carried by the report's results (measured now or cached); the
 * same warning with other figures is kept once, as first seen. */
json_t *pw_report_env_warnings(const pw_report *r)
{
    json_t *all = json_array();
    for (size_t c = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            const pw_directive *d = r->chapters[c]->directives[k];
            if (!d->result) continue;
            size_t i, j;
            json_t *w, *seen;
            json_array_foreach(json_object_get(pw_result_json(d->result), "environment_warnings"), i, w) {
                bool dup = false;
                json_array_foreach(all, j, seen)
                    if (json_is_string(w) && pw_same_but_numbers(json_string_value(seen), json_string_value(w)))
                        dup = true;
                if (!dup && json_is_string(w)) json_array_append(all, w);
            }
        }
    return all;
}

