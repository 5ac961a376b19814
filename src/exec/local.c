/* local.c — the local executor (exec.h): each job in an isolated child process on this machine,
 * one at a time in submission order.  It is part of the measurement core (store.h): it decides
 * the limits a child runs under and what a measured result carries (environment, warnings). */
#include "perfweave/exec.h"

#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/env.h"
#include "perfweave/isolate.h"

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

static int local_wait(pw_exec *x, double timeout_s)
{
    local_state *s = pw_exec_state(x);
    if (!s->child && s->head == s->n) return PW_ENOTFOUND;
    if (pw_isolate_interrupted()) return PW_EAGAIN; /* nothing new starts after a signal */
    if (!s->child) start_next(x, s);
    if (!pw_isolate_poll(s->child, timeout_s)) return PW_EAGAIN;
    finish_running(x, s);
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
    free(s);
}

static const pw_exec_ops local_ops = {
    "local", local_submit, local_wait, local_cancel, local_environment, local_free,
};

pw_exec *pw_exec_local_new(const char *measured_at)
{
    local_state *s = pw_xcalloc(1, sizeof *s);
    s->environment = pw_env_capture();
    s->measured_at = pw_xstrdup(measured_at ? measured_at : "");
    return pw_exec_new(&local_ops, s);
}
