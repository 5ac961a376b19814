/* exec.c — what every executor shares (see exec.h): tickets, the observer, and the queue of
 * completions waiting to be collected; the implementations live beside it, one file each. */
#include "perfweave/exec.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perfweave/common.h"

struct pw_exec {
    const pw_exec_ops *ops;
    void *state;
    pw_exec_ticket last;         /* the last ticket given out */
    pw_exec_observer observer;
    void *observer_ctx;
    /* Completions not yet collected, oldest first: done[head .. n). */
    struct {
        pw_exec_ticket ticket;
        pw_result *result;
    } *done;
    size_t head, n, cap;
};

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

pw_exec *pw_exec_new(const pw_exec_ops *ops, void *state)
{
    pw_exec *x = pw_xcalloc(1, sizeof *x);
    x->ops = ops;
    x->state = state;
    return x;
}

void *pw_exec_state(const pw_exec *x)
{
    return x->state;
}

const char *pw_exec_name(const pw_exec *x)
{
    return x->ops->name;
}

void pw_exec_observe(pw_exec *x, pw_exec_observer fn, void *ctx)
{
    x->observer = fn;
    x->observer_ctx = ctx;
}

static void emit(pw_exec *x, pw_exec_event_kind kind, pw_exec_ticket ticket, const pw_result *result,
                 const char *message)
{
    if (!x->observer) return;
    pw_exec_event ev = {kind, ticket, monotonic_now(), result, message};
    x->observer(x->observer_ctx, &ev);
}

void pw_exec_emit(pw_exec *x, pw_exec_event_kind kind, pw_exec_ticket ticket, const char *message)
{
    emit(x, kind, ticket, NULL, message);
}

void pw_exec_complete(pw_exec *x, pw_exec_ticket ticket, pw_result *result)
{
    emit(x, PW_EXEC_FINISHED, ticket, result, NULL);
    if (x->head > 0 && x->head == x->n) x->head = x->n = 0;
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 8;
        x->done = pw_xrealloc(x->done, x->cap * sizeof *x->done);
    }
    x->done[x->n].ticket = ticket;
    x->done[x->n].result = result;
    x->n++;
}

void pw_exec_set_source(pw_result *result, const char *source)
{
    json_t *doc = pw_result_json(result);
    json_t *run = json_object_get(doc, "run");
    if (!run) {
        run = json_object();
        json_object_set_new(doc, "run", run);
    }
    json_object_set_new(run, "source", json_string(source));
}

pw_exec_standin_kind pw_exec_standin(const pw_result *res, const char **reason, const char **key)
{
    const json_t *mark = json_object_get(pw_result_json(res), "stale");
    const char *state = json_string_value(json_object_get(mark, "state"));
    if (!state) return PW_EXEC_FRESH;
    if (reason) *reason = json_string_value(json_object_get(mark, "reason"));
    if (key) *key = json_string_value(json_object_get(mark, "key"));
    return strcmp(state, "unmeasured") == 0 ? PW_EXEC_UNMEASURED : PW_EXEC_STALE;
}

pw_exec_ticket pw_exec_submit(pw_exec *x, const pw_exec_job *job)
{
    pw_exec_ticket t = ++x->last;
    emit(x, PW_EXEC_QUEUED, t, NULL, NULL);
    x->ops->submit(x, t, job);
    return t;
}

static bool take_done(pw_exec *x, pw_exec_ticket *ticket, pw_result **result)
{
    if (x->head == x->n) return false;
    *ticket = x->done[x->head].ticket;
    *result = x->done[x->head].result;
    x->head++;
    return true;
}

int pw_exec_wait(pw_exec *x, double timeout_s, pw_exec_ticket *ticket, pw_result **result)
{
    *ticket = 0;
    *result = NULL;
    if (take_done(x, ticket, result)) return PW_OK;
    int status = x->ops->wait ? x->ops->wait(x, timeout_s) : PW_ENOTFOUND;
    if (take_done(x, ticket, result)) return PW_OK;
    return status == PW_OK ? PW_EAGAIN : status;
}

void pw_exec_cancel(pw_exec *x, pw_exec_ticket ticket)
{
    if (x->ops->cancel) x->ops->cancel(x, ticket);
}

int pw_exec_prepare(pw_exec *x, char *msg, size_t msgsize)
{
    if (msg && msgsize) msg[0] = '\0';
    return x->ops->prepare ? x->ops->prepare(x, msg, msgsize) : PW_OK;
}

bool pw_exec_measured_now(const pw_result *result)
{
    const char *source = json_string_value(json_object_get(json_object_get(pw_result_json(result), "run"), "source"));
    return source && (strcmp(source, "measured") == 0 || strcmp(source, "slurm") == 0);
}

const json_t *pw_exec_environment(pw_exec *x)
{
    return x->ops->environment(x);
}

void pw_exec_free(pw_exec *x)
{
    if (!x) return;
    x->observer = NULL; /* what the cancel completes is news to nobody now */
    pw_exec_cancel(x, 0);
    for (size_t i = x->head; i < x->n; i++) pw_result_free(x->done[i].result);
    if (x->ops->free) x->ops->free(x->state);
    free(x->done);
    free(x);
}
