/* local.c — the local executor (exec.h): each job in an isolated child process on this machine,
 * one at a time in submission order, under the machine-wide measurement lock (lock.h), taken
 * before the first job starts and given back when nothing is left to run.  It is part of the
 * measurement core (store.h): it decides the limits a child runs under and what a measured result
 * carries (environment, warnings). */
#include "perfweave/exec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perfweave/common.h"
#include "perfweave/env.h"
#include "perfweave/isolate.h"
#include "perfweave/lock.h"

typedef struct {
    pw_exec_ticket ticket;
    const pw_experiment *experiment;
    char *id;
    json_t *params;
    bool quick;
    double timeout_s, memory_mb;
} local_job;

typedef struct {
    json_t *environment;       /* captured when the executor was made */
    char *measured_at;
    local_job *queue;          /* waiting jobs, in order: queue[head .. n) */
    size_t head, n, cap;
    local_job running;         /* valid while child != NULL */
    pw_isolate_child *child;
    pw_exec *self;             /* for the lock's notifications (NOTE events) */
    pw_lock *lock;             /* held from the first job started until nothing is left */
} local_state;

static void job_release(local_job *j)
{
    free(j->id);
    json_decref(j->params);
    memset(j, 0, sizeof *j);
}

static void local_submit(pw_exec *x, pw_exec_ticket ticket, const pw_exec_job *job)
{
    local_state *s = pw_exec_state(x);
    if (s->head > 0 && s->head == s->n) s->head = s->n = 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->queue = pw_xrealloc(s->queue, s->cap * sizeof *s->queue);
    }
    local_job *j = &s->queue[s->n++];
    j->ticket = ticket;
    j->experiment = job->experiment;
    j->id = pw_xstrdup(job->id);
    j->params = json_incref(job->params);
    j->quick = job->quick;
    j->timeout_s = job->timeout_s;
    j->memory_mb = job->memory_mb;
}

static void start_next(pw_exec *x, local_state *s)
{
    s->running = s->queue[s->head++];
    pw_isolate_limits lim;
    pw_isolate_limits_default(&lim, s->running.quick);
    if (s->running.timeout_s > 0) lim.timeout_s = s->running.timeout_s;
    if (s->running.memory_mb > 0) lim.memory_mb = s->running.memory_mb;
    pw_exec_emit(x, PW_EXEC_STARTED, s->running.ticket, NULL);
    s->child = pw_isolate_start(s->running.experiment, s->running.id, s->running.params, &lim);
}

/* Reaps the running child and answers its job with the annotated result. */
static void finish_running(pw_exec *x, local_state *s)
{
    pw_result *r = pw_isolate_finish(s->child);
    s->child = NULL;
    json_t *doc = pw_result_json(r);
    json_object_set(doc, "params", s->running.params);
    json_t *run = json_object_get(doc, "run");
    if (run) {
        json_object_set_new(run, "measured_at", json_string(s->measured_at));
        json_object_set(run, "host", json_object_get(s->environment, "host"));
    }
    json_object_set(doc, "environment", s->environment);
    /* Noise warnings belong to the measurement, so they travel with the result (through the
     * cache too): conditions before the report against after this run. */
    json_t *after = pw_env_capture();
    json_object_set_new(doc, "environment_warnings", pw_env_warnings(s->environment, after));
    json_decref(after);
    pw_exec_set_source(r, "measured");
    pw_exec_ticket ticket = s->running.ticket;
    job_release(&s->running);
    pw_exec_complete(x, ticket, r);
}

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The lock's notifications, as NOTE events for the caller to show. */
static void lock_notify(void *arg, pw_lock_event ev, const char *path, const pw_lock_holder *h,
                        double max_wait_s, double waited_s)
{
    local_state *s = arg;
    char text[1024];
    pw_lock_describe_event(ev, path, h, max_wait_s, waited_s, text, sizeof text);
    pw_exec_emit(s->self, PW_EXEC_NOTE, 0, text);
}

/* Takes the measurement lock before a job starts, waiting at most slice_s in this call (< 0: as
 * long as the lock's own limit): PW_OK when held, PW_EAGAIN while still waiting or after a
 * signal, PW_EBUSY / PW_EIO after an ERROR event saying why. */
static int take_lock(pw_exec *x, local_state *s, double slice_s)
{
    pw_lock_holder h;
    char msg[512], text[1024];
    int st = pw_lock_acquire_within(s->lock, slice_s, &h, msg, sizeof msg);
    if (st == PW_OK || st == PW_EAGAIN) return st;
    if (st == PW_EINTR) { /* the caller sees the signal and cancels */
        pw_exec_emit(x, PW_EXEC_NOTE, 0, msg);
        return PW_EAGAIN;
    }
    pw_lock_describe_failure(s->lock, st, msg, &h, text, sizeof text);
    pw_exec_emit(x, PW_EXEC_ERROR, 0, text);
    return st == PW_EBUSY ? PW_EBUSY : PW_EIO;
}

/* Gives the lock back when nothing is left to measure: another process may measure while this
 * one renders, and a later submit takes it again. */
static void release_when_idle(local_state *s)
{
    if (!s->child && s->head == s->n) pw_lock_release(s->lock);
}

static int local_wait(pw_exec *x, double timeout_s)
{
    local_state *s = pw_exec_state(x);
    if (!s->child && s->head == s->n) return PW_ENOTFOUND;
    if (pw_isolate_interrupted()) return PW_EAGAIN; /* nothing new starts after a signal */
    if (!s->child) {
        double t0 = monotonic_now();
        int st = take_lock(x, s, timeout_s);
        if (st != PW_OK) return st;
        if (pw_isolate_interrupted()) return PW_EAGAIN;
        start_next(x, s);
        if (timeout_s >= 0) timeout_s = fmax(0, timeout_s - (monotonic_now() - t0));
    }
    if (!pw_isolate_poll(s->child, timeout_s)) return PW_EAGAIN;
    finish_running(x, s);
    release_when_idle(s);
    return PW_OK;
}

static void local_cancel(pw_exec *x, pw_exec_ticket ticket)
{
    local_state *s = pw_exec_state(x);
    size_t kept = s->head;
    for (size_t i = s->head; i < s->n; i++) {
        if (ticket == 0 || s->queue[i].ticket == ticket) job_release(&s->queue[i]);
        else s->queue[kept++] = s->queue[i];
    }
    s->n = kept;
    if (s->child && (ticket == 0 || s->running.ticket == ticket)) {
        pw_isolate_kill(s->child);
        finish_running(x, s);
    }
    release_when_idle(s);
}

static const json_t *local_environment(pw_exec *x)
{
    const local_state *s = pw_exec_state(x);
    return s->environment;
}

static void local_free(void *state)
{
    local_state *s = state;
    for (size_t i = s->head; i < s->n; i++) job_release(&s->queue[i]);
    free(s->queue);
    json_decref(s->environment);
    free(s->measured_at);
    pw_lock_free(s->lock);
    free(s);
}

static const pw_exec_ops local_ops = {
    "local", local_submit, local_wait, local_cancel, local_environment, local_free,
};

pw_exec *pw_exec_local_new_lock(const char *measured_at, const pw_lock_options *lock)
{
    local_state *s = pw_xcalloc(1, sizeof *s);
    s->environment = pw_env_capture();
    s->measured_at = pw_xstrdup(measured_at ? measured_at : "");
    pw_lock_options o;
    if (lock) o = *lock;
    else pw_lock_options_default(&o);
    o.notify = lock_notify;
    o.notify_arg = s;
    o.interrupted = pw_isolate_interrupted;
    s->lock = pw_lock_new(&o);
    s->self = pw_exec_new(&local_ops, s);
    return s->self;
}

pw_exec *pw_exec_local_new(const char *measured_at)
{
    return pw_exec_local_new_lock(measured_at, NULL);
}
