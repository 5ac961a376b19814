/* cache.c — the cache decorator (exec.h): jobs whose result is in the result cache (store.h) are
 * answered from it; the others go to the inner executor with their key, and the clean results
 * it measured are stored.  --rerun and --frozen are decided here. */
#include "perfweave/exec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/env.h"

/* A job forwarded to the inner executor: what storing its result needs. */
typedef struct {
    pw_exec_ticket outer, inner;
    char *key, *family;
} forwarded;

typedef struct {
    pw_exec *self;             /* the decorator (events are re-sent from it) */
    pw_exec *inner;
    pw_cache *cache;           /* NULL: none */
    bool frozen;
    char **rerun;
    size_t nrerun;
    char *fingerprint;         /* of the inner executor's machine; made at the first lookup */
    forwarded *jobs;           /* jobs with the inner executor */
    size_t njobs;
    bool submitting;           /* inside pw_exec_submit(inner) for jobs[njobs - 1] */
} cache_state;

static bool wants_rerun(const cache_state *s, const char *id)
{
    for (size_t i = 0; i < s->nrerun; i++)
        if (strcmp(s->rerun[i], "all") == 0 || strcmp(s->rerun[i], id) == 0) return true;
    return false;
}

/* The cache key and machine-independent family of a job; the caller frees both. */
static void job_keys(cache_state *s, const pw_experiment *e, const char *canonical, bool quick,
                     char **key, char **family)
{
    if (!s->fingerprint) s->fingerprint = pw_env_fingerprint_hash(pw_exec_environment(s->inner));
    char *impl = pw_impl_hash(e);
    *key = pw_cache_key(canonical, impl, s->fingerprint, quick);
    *family = pw_cache_family(canonical, impl, quick);
    free(impl);
}

static forwarded *find_inner(cache_state *s, pw_exec_ticket inner)
{
    for (size_t i = 0; i < s->njobs; i++)
        if (s->jobs[i].inner == inner) return &s->jobs[i];
    return NULL;
}

/* Inner events, re-sent with the decorator's tickets.  QUEUED and FINISHED are the decorator's
 * own (sent by pw_exec_submit and pw_exec_complete on it); the inner QUEUED only tells which
 * inner ticket the job being forwarded got, so that events inner sends during its submit
 * (an inner executor that answers at once) find their job. */
static void inner_event(void *ctx, const pw_exec_event *ev)
{
    cache_state *s = ctx;
    if (ev->kind == PW_EXEC_QUEUED && s->submitting) s->jobs[s->njobs - 1].inner = ev->ticket;
    if (ev->kind == PW_EXEC_QUEUED || ev->kind == PW_EXEC_FINISHED) return;
    forwarded *f = ev->ticket ? find_inner(s, ev->ticket) : NULL;
    if (ev->ticket && !f) return;
    pw_exec_emit(s->self, ev->kind, f ? f->outer : 0, ev->message);
}

/* Records which key a result belongs to ("run"."cache_key"; "run" exists by then). */
static void set_key(pw_result *res, const char *key)
{
    json_t *run = json_object_get(pw_result_json(res), "run");
    if (run && key) json_object_set_new(run, "cache_key", json_string(key));
}

/* Hands a job to inner with its key (which job_keys made, and f now owns). */
static void forward(cache_state *s, pw_exec_ticket ticket, const pw_exec_job *job, char *key, char *family)
{
    s->jobs = pw_xrealloc(s->jobs, (s->njobs + 1) * sizeof *s->jobs);
    forwarded *f = &s->jobs[s->njobs++];
    f->outer = ticket;
    f->inner = 0; /* set by inner's QUEUED event, before anything else inner sends about it */
    f->key = key;
    f->family = family;
    pw_exec_job keyed = *job;
    keyed.key = key;
    s->submitting = true;
    pw_exec_ticket inner = pw_exec_submit(s->inner, &keyed);
    s->submitting = false;
    s->jobs[s->njobs - 1].inner = inner;
}

static void answer(cache_state *s, pw_exec_ticket ticket, pw_result *res, const char *source, const char *key)
{
    pw_exec_set_source(res, source);
    set_key(res, key);
    pw_exec_emit(s->self, PW_EXEC_STARTED, ticket, NULL);
    pw_exec_complete(s->self, ticket, res);
}

static void answer_error(cache_state *s, pw_exec_ticket ticket, const pw_exec_job *job, const char *why)
{
    pw_result *res = pw_result_new(job->experiment->name, job->id);
    pw_result_error(res, "%s", why);
    answer(s, ticket, res, "frozen", NULL);
}

static void warn(cache_state *s, pw_exec_ticket ticket, const char *warning)
{
    if (warning[0]) pw_exec_emit(s->self, PW_EXEC_WARNING, ticket, warning);
}

static void cache_submit(pw_exec *x, pw_exec_ticket ticket, const pw_exec_job *job)
{
    cache_state *s = pw_exec_state(x);
    if (!s->cache && s->frozen) {
        answer_error(s, ticket, job, "--frozen without a result cache: nothing to render from");
        return;
    }
    char *key, *family;
    job_keys(s, job->experiment, job->canonical, job->quick, &key, &family);
    if (!s->cache || (!s->frozen && wants_rerun(s, job->id))) {
        forward(s, ticket, job, key, family);
        return;
    }
    json_t *doc = NULL;
    char warning[512] = "";
    int status = pw_cache_get(s->cache, key, &doc, warning, sizeof warning);
    warn(s, ticket, warning);
    if (status != PW_OK && s->frozen) {
        warning[0] = '\0';
        status = pw_cache_get_family(s->cache, family, &doc, warning, sizeof warning);
        warn(s, ticket, warning);
    }
    if (status == PW_OK) {
        const char *why = NULL;
        pw_result *res = pw_result_from_json(doc, &why);
        json_decref(doc);
        if (res) {
            json_t *run = json_object_get(pw_result_json(res), "run");
            const char *host = json_string_value(json_object_get(run, "host"));
            const char *here = json_string_value(json_object_get(pw_exec_environment(s->inner), "host"));
            bool elsewhere = host && here && strcmp(host, here) != 0;
            /* A frozen entry of another machine has another key: it keeps the one it was stored under. */
            answer(s, ticket, res,
                   s->frozen ? (elsewhere ? "frozen: measured on another machine" : "frozen from cache") : "from cache",
                   s->frozen ? NULL : key);
            free(key);
            free(family);
            return;
        }
    }
    if (s->frozen) {
        answer_error(s, ticket, job, "--frozen: no stored result for this directive (run the report once without --frozen)");
        free(key);
        free(family);
    } else {
        forward(s, ticket, job, key, family);
    }
}

/* True when inner took the result from somewhere rather than measuring it for this job: a
 * replay, or the stale executor's previous run (its stand-ins are marked besides). */
static bool taken_from_elsewhere(const pw_result *res)
{
    const char *source = json_string_value(json_object_get(json_object_get(pw_result_json(res), "run"), "source"));
    return source && (strcmp(source, "replayed") == 0 || strcmp(source, "from the previous run") == 0);
}

/* Stores a result that came back from the inner executor when it is a clean measurement: failed
 * and disturbed results are measured again next time, and what inner did not measure (a
 * stand-in, a replayed or previous run's result) is not a measurement to keep. */
static void store(cache_state *s, const forwarded *f, const pw_result *res)
{
    if (!s->cache || pw_result_failed(res) || pw_result_disturbed(res) || taken_from_elsewhere(res) ||
        pw_exec_standin(res, NULL, NULL) != PW_EXEC_FRESH)
        return;
    /* The key names the machine the inner executor measures on; a result whose own environment
     * is another machine's (a node of another kind in a Slurm partition) must not fill it. */
    const json_t *env = json_object_get(pw_result_json(res), "environment");
    if (s->fingerprint && json_is_object(env) && json_object_size(env)) {
        char *fp = pw_env_fingerprint_hash(env);
        bool other = strcmp(fp, s->fingerprint) != 0;
        if (other) {
            char *msg = pw_xasprintf("%s was measured on another kind of machine (fingerprint %s) than "
                                     "the one its cache entry is for (%s): not cached",
                                     pw_result_id(res), fp, s->fingerprint);
            warn(s, f->outer, msg);
            free(msg);
        }
        free(fp);
        if (other) return;
    }
    if (pw_cache_put_family(s->cache, f->key, f->family, pw_result_json(res)) != PW_OK) {
        char *msg = pw_xasprintf("cannot store the result of %s in %s: %s", pw_result_id(res),
                                 pw_cache_dir(s->cache), strerror(errno));
        warn(s, 0, msg);
        free(msg);
    }
}

static int cache_wait(pw_exec *x, double timeout_s)
{
    cache_state *s = pw_exec_state(x);
    pw_exec_ticket inner;
    pw_result *res;
    int status = pw_exec_wait(s->inner, timeout_s, &inner, &res);
    if (status != PW_OK) return status;
    forwarded *f = find_inner(s, inner);
    if (!f) { /* not ours: cannot happen, as only the decorator submits to inner */
        pw_result_free(res);
        return PW_EAGAIN;
    }
    /* A stand-in keeps the key it stands in for in its mark; the key of a previous run's result
     * is its own (the stale executor returns one only when it equals this job's). */
    if (pw_exec_standin(res, NULL, NULL) == PW_EXEC_FRESH) set_key(res, f->key);
    store(s, f, res);
    pw_exec_ticket outer = f->outer;
    free(f->key);
    free(f->family);
    *f = s->jobs[--s->njobs];
    pw_exec_complete(x, outer, res);
    return PW_OK;
}

static void cache_cancel(pw_exec *x, pw_exec_ticket ticket)
{
    cache_state *s = pw_exec_state(x);
    if (ticket == 0) {
        pw_exec_cancel(s->inner, 0);
        return;
    }
    for (size_t i = 0; i < s->njobs; i++)
        if (s->jobs[i].outer == ticket) pw_exec_cancel(s->inner, s->jobs[i].inner);
}

static const json_t *cache_environment(pw_exec *x)
{
    cache_state *s = pw_exec_state(x);
    return pw_exec_environment(s->inner);
}

static void cache_free(void *state)
{
    cache_state *s = state;
    pw_exec_free(s->inner);
    pw_cache_free(s->cache);
    for (size_t i = 0; i < s->nrerun; i++) free(s->rerun[i]);
    free(s->rerun);
    for (size_t i = 0; i < s->njobs; i++) {
        free(s->jobs[i].key);
        free(s->jobs[i].family);
    }
    free(s->jobs);
    free(s->fingerprint);
    free(s);
}

static int cache_prepare(pw_exec *x, char *msg, size_t msgsize)
{
    cache_state *s = pw_exec_state(x);
    return pw_exec_prepare(s->inner, msg, msgsize);
}

static const pw_exec_ops cache_ops = {
    "cache", cache_submit, cache_wait, cache_cancel, cache_environment, cache_free, cache_prepare,
};

pw_exec *pw_exec_cache_new(pw_exec *inner, pw_cache *cache, const pw_exec_cache_options *opt)
{
    cache_state *s = pw_xcalloc(1, sizeof *s);
    s->inner = inner;
    s->cache = cache;
    if (opt) {
        s->frozen = opt->frozen;
        s->nrerun = opt->nrerun;
        s->rerun = pw_xcalloc(opt->nrerun ? opt->nrerun : 1, sizeof *s->rerun);
        for (size_t i = 0; i < opt->nrerun; i++) s->rerun[i] = pw_xstrdup(opt->rerun[i]);
    }
    pw_exec *x = pw_exec_new(&cache_ops, s);
    s->self = x;
    pw_exec_observe(inner, inner_event, s);
    return x;
}
