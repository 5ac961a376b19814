/* stale.c — the stale executor (exec.h): it measures nothing.  A job it gets (under the cache
 * decorator: a miss) is answered at once with the directive's previous result, marked as a
 * stand-in that decides no claim and is never cached, or as "not measured yet".  This is what
 * `perfweave report --stale` renders from, so that a preview shows a changed directive's
 * previous result while another process measures the new one. */
#include "perfweave/exec.h"

#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/env.h"
#include "perfweave/store.h"

typedef struct {
    char **paths;          /* run documents to search, in order */
    size_t npaths;
    json_t **docs;         /* loaded at the first job (NULL: missing or unreadable) */
    bool loaded;
    char *cache_dir;       /* searched last; NULL: none */
    pw_cache *cache;       /* opened at the first job that gets that far */
    bool cache_tried;
    json_t *environment;   /* this machine's */
} stale_state;

/* Why a previous result of another key is shown (the directive's own words, or another change). */
#define CHANGED_DIRECTIVE "the directive changed: this is its previous result, shown until the new one is measured"
#define CHANGED_ELSEWHERE                                                                              \
    "perfweave, the machine or the mode changed since this result was measured: it is shown until it " \
    "is measured again"

static void load_documents(stale_state *s)
{
    if (s->loaded) return;
    s->loaded = true;
    for (size_t i = 0; i < s->npaths; i++) {
        json_error_t jerr;
        json_t *doc = pw_json_load_file(s->paths[i], 0, &jerr);
        if (doc && !json_is_array(json_object_get(doc, "results"))) {
            json_decref(doc);
            doc = NULL;
        }
        s->docs[i] = doc;
    }
}

static bool is_placeholder(const json_t *doc)
{
    const char *state = json_string_value(json_object_get(json_object_get(doc, "stale"), "state"));
    return state && strcmp(state, "unmeasured") == 0;
}

/* The first previous result of the job's id and experiment (a document of its own), or NULL.
 * Placeholders ("not measured yet") are not results and are passed over. */
static json_t *previous_of(stale_state *s, const pw_exec_job *job)
{
    load_documents(s);
    for (size_t i = 0; i < s->npaths; i++) {
        size_t k;
        json_t *doc;
        json_array_foreach(json_object_get(s->docs[i], "results"), k, doc) {
            const char *id = json_string_value(json_object_get(doc, "id"));
            const char *exp = json_string_value(json_object_get(doc, "experiment"));
            if (id && exp && strcmp(id, job->id) == 0 && strcmp(exp, job->experiment->name) == 0 &&
                !is_placeholder(doc))
                return json_deep_copy(doc);
        }
    }
    if (s->cache_dir && !s->cache_tried) {
        s->cache_tried = true;
        s->cache = pw_cache_open(s->cache_dir);
    }
    json_t *doc = NULL;
    if (s->cache && pw_cache_get_latest(s->cache, job->experiment->name, job->id, &doc) == PW_OK) return doc;
    return NULL;
}

/* Removes what belonged to the run that wrote the document (where it stood, its verdicts) and
 * any earlier stand-in marks, so that the result is as it was measured. */
static void strip(json_t *doc)
{
    json_object_del(doc, "chapter");
    json_object_del(doc, "line");
    json_object_del(doc, "claims");
    json_object_del(doc, "stale");
    const char *name;
    json_t *m;
    json_object_foreach(json_object_get(doc, "metrics"), name, m) {
        const char *why = json_string_value(json_object_get(json_object_get(m, "undecidable"), "why"));
        if (why && strcmp(why, "stale") == 0) json_object_del(m, "undecidable");
    }
}

static void mark(pw_result *res, const char *state, const char *reason, const char *key)
{
    json_t *m = json_pack("{s:s, s:s}", "state", state, "reason", reason);
    if (key) json_object_set_new(m, "key", json_string(key));
    json_object_set_new(pw_result_json(res), "stale", m);
}

/* A stand-in with no metrics: nothing to show yet. */
static pw_result *unmeasured(const pw_exec_job *job, const char *reason)
{
    pw_result *res = pw_result_new(job->experiment->name, job->id);
    json_object_set(pw_result_json(res), "params", job->params);
    mark(res, "unmeasured", reason, job->key);
    pw_exec_set_source(res, "not measured yet");
    return res;
}

/* The job's answer, given its previous result doc (a document of its own, taken over; NULL for
 * none). */
static pw_result *answer_from(const pw_exec_job *job, json_t *doc)
{
    if (!doc) return unmeasured(job, "not measured yet");
    strip(doc);
    const char *why = NULL;
    pw_result *res = pw_result_from_json(doc, &why);
    json_decref(doc);
    if (!res) return unmeasured(job, "not measured yet");
    json_t *d = pw_result_json(res);
    json_t *run = json_object_get(d, "run");
    const char *key = json_string_value(json_object_get(run, "cache_key"));
    if (job->key && key && strcmp(key, job->key) == 0) {
        /* Measured for exactly this directive, build, machine and mode, and not cached (an ERROR,
         * a disturbed result, or an entry since removed): the job's own result. */
        pw_exec_set_source(res, "from the previous run");
        return res;
    }
    if (pw_result_failed(res)) {
        char *reason = pw_xasprintf("not measured yet (the previous version of this directive ended in ERROR: %s)",
                                    pw_result_error_reason(res));
        pw_result_free(res);
        res = unmeasured(job, reason);
        free(reason);
        return res;
    }
    bool same_params = json_equal(json_object_get(d, "params"), job->params);
    const char *reason = same_params ? CHANGED_ELSEWHERE : CHANGED_DIRECTIVE;
    const char *name;
    json_t *m;
    json_object_foreach(json_object_get(d, "metrics"), name, m) pw_result_metric_undecidable(res, name, "stale", "%s", reason);
    mark(res, "stale", reason, job->key);
    pw_exec_set_source(res, "previous result");
    return res;
}

static void stale_submit(pw_exec *x, pw_exec_ticket ticket, const pw_exec_job *job)
{
    stale_state *s = pw_exec_state(x);
    pw_exec_emit(x, PW_EXEC_STARTED, ticket, NULL);
    pw_exec_complete(x, ticket, answer_from(job, previous_of(s, job)));
}

static const json_t *stale_environment(pw_exec *x)
{
    const stale_state *s = pw_exec_state(x);
    return s->environment;
}

static void stale_free(void *state)
{
    stale_state *s = state;
    for (size_t i = 0; i < s->npaths; i++) {
        free(s->paths[i]);
        json_decref(s->docs[i]);
    }
    free(s->paths);
    free(s->docs);
    free(s->cache_dir);
    pw_cache_free(s->cache);
    json_decref(s->environment);
    free(s);
}

static const pw_exec_ops stale_ops = {
    "stale", stale_submit, NULL, NULL, stale_environment, stale_free,
};

pw_exec *pw_exec_stale_new(char *const *previous, size_t nprevious, const char *cache_dir)
{
    stale_state *s = pw_xcalloc(1, sizeof *s);
    s->npaths = nprevious;
    s->paths = pw_xcalloc(nprevious ? nprevious : 1, sizeof *s->paths);
    s->docs = pw_xcalloc(nprevious ? nprevious : 1, sizeof *s->docs);
    for (size_t i = 0; i < nprevious; i++) s->paths[i] = pw_xstrdup(previous[i]);
    s->cache_dir = cache_dir ? pw_xstrdup(cache_dir) : NULL;
    s->environment = pw_env_capture();
    return pw_exec_new(&stale_ops, s);
}
