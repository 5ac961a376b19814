/* replay.c — the replay executor (exec.h): results from a previous run instead of measurements,
 * so that a report renders without running anything (the golden tests render this way). */
#include "perfweave/exec.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "perfweave/common.h"

typedef struct {
    char *path;
    json_t *document;     /* the run document when path is a file, else NULL */
    json_t *environment;
} replay_state;

/* A run document (out/results.json) indexes its results by id. */
static pw_result *from_document(const replay_state *s, const pw_exec_job *job)
{
    size_t i;
    json_t *doc;
    json_array_foreach(json_object_get(s->document, "results"), i, doc) {
        if (!json_is_string(json_object_get(doc, "id")) ||
            strcmp(json_string_value(json_object_get(doc, "id")), job->id) != 0) continue;
        const char *why = NULL;
        pw_result *res = pw_result_from_json(doc, &why);
        if (res) return res;
        res = pw_result_new(job->experiment->name, job->id);
        pw_result_error(res, "replayed result is unreadable (%s)", why);
        return res;
    }
    pw_result *res = pw_result_new(job->experiment->name, job->id);
    pw_result_error(res, "%s holds no result with id '%s'", s->path, job->id);
    return res;
}

static pw_result *from_folder(const replay_state *s, const pw_exec_job *job)
{
    char *path = pw_xasprintf("%s/%s.json", s->path, job->id);
    json_error_t jerr;
    json_t *doc = pw_json_load_file(path, 0, &jerr);
    pw_result *res = NULL;
    const char *why = NULL;
    if (doc) res = pw_result_from_json(doc, &why);
    json_decref(doc);
    if (!res) {
        res = pw_result_new(job->experiment->name, job->id);
        pw_result_error(res, "no replayable result at %s (%s)", path, why ? why : jerr.text);
    }
    free(path);
    return res;
}

static void replay_submit(pw_exec *x, pw_exec_ticket ticket, const pw_exec_job *job)
{
    const replay_state *s = pw_exec_state(x);
    pw_exec_emit(x, PW_EXEC_STARTED, ticket, NULL);
    pw_result *res = s->document ? from_document(s, job) : from_folder(s, job);
    pw_exec_set_source(res, "replayed");
    pw_exec_complete(x, ticket, res);
}

static const json_t *replay_environment(pw_exec *x)
{
    const replay_state *s = pw_exec_state(x);
    return s->environment;
}

static void replay_free(void *state)
{
    replay_state *s = state;
    free(s->path);
    json_decref(s->document);
    json_decref(s->environment);
    free(s);
}

static const pw_exec_ops replay_ops = {
    "replay", replay_submit, NULL, NULL, replay_environment, replay_free,
};

pw_exec *pw_exec_replay_new(const char *path)
{
    replay_state *s = pw_xcalloc(1, sizeof *s);
    s->path = pw_xstrdup(path);
    struct stat st;
    json_error_t jerr;
    if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) s->document = pw_json_load_file(path, 0, &jerr);
    if (s->document) {
        s->environment = json_incref(json_object_get(s->document, "environment"));
    } else {
        char *env = pw_xasprintf("%s/environment.json", path);
        s->environment = pw_json_load_file(env, 0, &jerr);
        free(env);
    }
    if (!json_is_object(s->environment)) {
        json_decref(s->environment);
        s->environment = json_object();
    }
    return pw_exec_new(&replay_ops, s);
}
