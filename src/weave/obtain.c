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
    size_t index;          /* the directive's place in report order */
    double started_at;     /* when its STARTED event came, or 0 */
} submitted;

typedef struct obtaining obtaining;

/* One executor and the jobs it was given: the report's own (lane 0), or a peer measuring the
 * same directives for the matrix. */
typedef struct {
    obtaining *o;
    pw_exec *x;
    const char *where;     /* NULL for the report's own; the peer's name */
    peer_run *peer;        /* where a peer's results go; NULL for lane 0 */
    submitted *jobs;       /* in submission order */
    size_t njobs;
    bool submitting;       /* inside pw_exec_submit for jobs[njobs - 1] */
    bool done;             /* its wait said nothing is pending */
} lane;

struct obtaining {
    pw_report *r;
    pw_directive **directives; /* in report order */
    size_t ndirectives;
    size_t total;          /* jobs in every lane */
    size_t started;        /* STARTED events so far, every lane */
    size_t measured;       /* FINISHED events of results measured by this run, every lane */
    double t0;             /* when the stage began (CLOCK_MONOTONIC) */
    double spent;          /* seconds between STARTED and FINISHED of those measured */
};

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static submitted *job_of(lane *l, pw_exec_ticket ticket)
{
    for (size_t i = 0; i < l->njobs; i++)
        if (l->jobs[i].ticket == ticket) return &l->jobs[i];
    return NULL;
}

/* The executors' events, as the report's progress and messages. */
static void on_event(void *ctx, const pw_exec_event *ev)
{
    lane *l = ctx;
    obtaining *o = l->o;
    /* QUEUED comes first, from inside pw_exec_submit: it tells the new job's ticket, so that
     * what an executor reports before submit returns (a cache hit, a replay) finds its job. */
    if (ev->kind == PW_EXEC_QUEUED && l->submitting) l->jobs[l->njobs - 1].ticket = ev->ticket;
    submitted *s = ev->ticket ? job_of(l, ev->ticket) : NULL;
    const pw_directive *d = s ? o->directives[s->index] : NULL;
    if (ev->kind == PW_EXEC_WARNING || ev->kind == PW_EXEC_NOTE || ev->kind == PW_EXEC_ERROR) {
        pw_report_message_kind kind = ev->kind == PW_EXEC_WARNING ? PW_REPORT_WARNING
                                      : ev->kind == PW_EXEC_NOTE  ? PW_REPORT_NOTE
                                                                  : PW_REPORT_ERROR;
        pw_report_tell(o->r, kind, d ? d->file : NULL, d ? d->line : 0, "%s%s%s", l->where ? l->where : "",
                       l->where ? ": " : "", ev->message);
        return;
    }
    if (!s) return;
    if (ev->kind == PW_EXEC_STARTED) {
        s->started_at = ev->at;
        size_t done = o->started++;
        if (!o->r->opt->on_progress) return;
        pw_report_progress p = {o->started, o->total, d->id, d->experiment_name, ev->at - o->t0,
                                o->measured ? o->spent / (double)o->measured * (double)(o->total - done) : NAN,
                                false, l->where};
        o->r->opt->on_progress(o->r->opt->ctx, &p);
    } else if (ev->kind == PW_EXEC_FINISHED) {
        if (pw_exec_measured_now(ev->result)) {
            o->measured++;
            if (s->started_at > 0) o->spent += ev->at - s->started_at;
        }
        if (pw_result_failed(ev->result))
            pw_report_tell(o->r, PW_REPORT_FAILED, d->file, d->line, "%s ERROR%s%s%s: %s", d->id,
                           l->where ? " on " : "", l->where ? l->where : "", l->where ? " (for the matrix)" : "",
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

/* A completion of lane l: the directive's result (lane 0) or the peer's. */
static void attach(lane *l, pw_exec_ticket ticket, pw_result *res)
{
    obtaining *o = l->o;
    pw_report *r = o->r;
    submitted *s = job_of(l, ticket);
    pw_result **slot = !s ? NULL : l->peer ? &l->peer->results[s->index] : &o->directives[s->index]->result;
    if (!slot || *slot) { /* not a job of this report, or answered twice: a broken executor */
        pw_result_free(res);
        return;
    }
    *slot = res;
    bool now = pw_exec_measured_now(res);
    if (l->peer) {
        if (now) l->peer->measured++;
        if (pw_result_failed(res)) r->failed_peers++;
        return;
    }
    if (now) {
        r->measured++;
        if (!pw_result_failed(res) && !pw_result_disturbed(res)) r->measured_clean++;
    }
    const char *source = json_string_value(json_object_get(json_object_get(pw_result_json(res), "run"), "source"));
    if (source && strcmp(source, "measured") == 0) r->measured_here++;
    if (pw_result_failed(res)) r->failed++;
}

int pw_report_obtain(pw_report *r)
{
    const pw_report_options *opt = r->opt;
    pw_exec *x = opt->executor ? opt->executor : default_executor(r);
    size_t nlanes = 1 + opt->npeers;
    obtaining o = {r, NULL, 0, 0, 0, 0, monotonic_now(), 0};
    for (size_t c = 0; c < r->nchapters; c++) o.ndirectives += r->chapters[c]->ndirectives;
    o.directives = pw_xcalloc(o.ndirectives ? o.ndirectives : 1, sizeof *o.directives);
    for (size_t c = 0, i = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) o.directives[i++] = r->chapters[c]->directives[k];
    o.total = o.ndirectives * nlanes;
    lane *lanes = pw_xcalloc(nlanes, sizeof *lanes);
    r->peers = pw_xcalloc(opt->npeers ? opt->npeers : 1, sizeof *r->peers);
    r->npeers = opt->npeers;
    int status = PW_OK;
    for (size_t i = 0; i < nlanes; i++) {
        lane *l = &lanes[i];
        l->o = &o;
        l->x = i == 0 ? x : opt->peers[i - 1].executor;
        l->where = i == 0 ? NULL : opt->peers[i - 1].name;
        l->jobs = pw_xcalloc(o.ndirectives ? o.ndirectives : 1, sizeof *l->jobs);
        if (i > 0) {
            l->peer = &r->peers[i - 1];
            l->peer->name = opt->peers[i - 1].name;
            l->peer->results = pw_xcalloc(o.ndirectives ? o.ndirectives : 1, sizeof *l->peer->results);
        }
    }
    /* Every executor gets ready before anything is submitted anywhere (a probe job per Slurm
     * partition): a refusal stops the report with its sentence. */
    for (size_t i = 0; i < nlanes && status == PW_OK; i++) {
        char msg[1024];
        status = pw_exec_prepare(lanes[i].x, msg, sizeof msg);
        if (status != PW_OK && status != PW_EINTR)
            pw_report_tell(r, PW_REPORT_ERROR, NULL, 0, "%s", msg[0] ? msg : "the executor is not ready");
    }
    if (status != PW_OK || pw_isolate_interrupted()) {
        status = status == PW_EINTR || pw_isolate_interrupted() ? PW_EINTR : PW_EINVAL;
        goto out;
    }
    json_decref(r->environment);
    r->environment = json_deep_copy(pw_exec_environment(x));
    for (size_t i = 1; i < nlanes; i++) lanes[i].peer->environment = json_deep_copy(pw_exec_environment(lanes[i].x));
    for (size_t i = 0; i < nlanes; i++) pw_exec_observe(lanes[i].x, on_event, &lanes[i]);

    for (size_t k = 0; k < o.ndirectives && !pw_isolate_interrupted(); k++) {
        pw_directive *d = o.directives[k];
        char *canonical = pw_directive_canonical(d);
        pw_exec_job job = {d->experiment, d->id, d->params, canonical, opt->quick, d->timeout_s, d->memory_mb};
        for (size_t i = 0; i < nlanes; i++) {
            lane *l = &lanes[i];
            submitted *s = &l->jobs[l->njobs++];
            s->index = k;
            l->submitting = true;
            pw_exec_ticket ticket = pw_exec_submit(l->x, &job);
            l->submitting = false;
            s->ticket = ticket;
        }
        free(canonical);
    }

    /* Collect from every lane: the first one still busy waits (a bounded wait when there are
     * peers, so that no lane's completions sit uncollected), the others are only looked at. */
    bool cancelled = false;
    for (;;) {
        if (!cancelled && pw_isolate_interrupted()) {
            for (size_t i = 0; i < nlanes; i++) pw_exec_cancel(lanes[i].x, 0);
            cancelled = true;
        }
        bool pending = false, waited = false;
        for (size_t i = 0; i < nlanes; i++) {
            lane *l = &lanes[i];
            if (l->done) continue;
            double timeout = nlanes == 1 ? -1 : waited ? 0 : 1.0;
            waited = true;
            pw_exec_ticket ticket;
            pw_result *res;
            int st = pw_exec_wait(l->x, timeout, &ticket, &res);
            if (st == PW_ENOTFOUND) {
                l->done = true;
                continue;
            }
            if (st == PW_EBUSY || st == PW_EIO) {
                /* The executor cannot measure (the measurement lock; its ERROR event said why):
                 * nothing more is obtained anywhere, and the report stops after collecting what
                 * is done. */
                if (cancelled) { /* still, after cancelling everything: a broken executor */
                    l->done = true;
                    continue;
                }
                r->blocked = st;
                for (size_t k = 0; k < nlanes; k++) pw_exec_cancel(lanes[k].x, 0);
                cancelled = true;
            }
            pending = true;
            if (st == PW_OK) attach(l, ticket, res);
        }
        if (!pending) break;
    }
    for (size_t i = 0; i < nlanes; i++) pw_exec_observe(lanes[i].x, NULL, NULL);
out:
    if (x != opt->executor) pw_exec_free(x);
    for (size_t i = 0; i < nlanes; i++) free(lanes[i].jobs);
    free(lanes);
    free(o.directives);
    if (opt->on_progress) {
        pw_report_progress p = {0, o.total, NULL, NULL, monotonic_now() - o.t0, NAN, true, NULL};
        opt->on_progress(opt->ctx, &p);
    }
    return status;
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

