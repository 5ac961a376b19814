/* obtain.c — the stage that gives every directive its result: replayed, from the result cache,
 * or measured in an isolated child process, with progress on stderr. */
#include "report_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/env.h"
#include "perfweave/isolate.h"

static bool wants_rerun(const pw_report *r, const char *id)
{
    for (size_t i = 0; i < r->opt->nrerun; i++)
        if (strcmp(r->opt->rerun[i], "all") == 0 || strcmp(r->opt->rerun[i], id) == 0) return true;
    return false;
}

/* Loads the replay source once: a run document (out/results.json) indexes its results by id. */
json_t *pw_report_replay_document(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISDIR(st.st_mode)) return NULL;
    json_error_t jerr;
    return json_load_file(path, 0, &jerr);
}

static pw_result *replay_result(pw_report *r, pw_directive *d)
{
    if (r->replay) {
        size_t i;
        json_t *doc;
        json_array_foreach(json_object_get(r->replay, "results"), i, doc) {
            if (!json_is_string(json_object_get(doc, "id")) ||
                strcmp(json_string_value(json_object_get(doc, "id")), d->id) != 0) continue;
            const char *why = NULL;
            pw_result *res = pw_result_from_json(doc, &why);
            if (res) return res;
            res = pw_result_new(d->experiment_name, d->id);
            pw_result_error(res, "replayed result is unreadable (%s)", why);
            return res;
        }
        pw_result *res = pw_result_new(d->experiment_name, d->id);
        pw_result_error(res, "%s holds no result with id '%s'", r->opt->replay_dir, d->id);
        return res;
    }
    char *path = pw_xasprintf("%s/%s.json", r->opt->replay_dir, d->id);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    pw_result *res = NULL;
    const char *why = NULL;
    if (doc) res = pw_result_from_json(doc, &why);
    json_decref(doc);
    if (!res) {
        res = pw_result_new(d->experiment_name, d->id);
        pw_result_error(res, "no replayable result at %s (%s)", path, why ? why : jerr.text);
    }
    free(path);
    return res;
}

/* The cache key and machine-independent family of a directive; the caller frees both. */
static void cache_keys(const pw_report *r, const pw_directive *d, char **key, char **family)
{
    char *canon = pw_directive_canonical(d);
    char *impl = pw_impl_hash(d->experiment);
    *key = pw_cache_key(canon, impl, r->fingerprint, r->opt->quick);
    *family = pw_cache_family(canon, impl, r->opt->quick);
    free(canon);
    free(impl);
}

/* Looks d up in the cache (or, with --frozen, in any machine's entries).  Returns true and sets
 * d->result when a stored result is used; --frozen without one gives an ERROR result. */
static bool lookup_cached(pw_report *r, pw_directive *d, const char **source)
{
    if (!r->cache || (!r->opt->frozen && wants_rerun(r, d->id))) {
        if (r->opt->frozen) {
            d->result = pw_result_new(d->experiment_name, d->id);
            pw_result_error(d->result, "--frozen without a result cache: nothing to render from");
            *source = "frozen";
            return true;
        }
        return false;
    }
    char *key, *family;
    cache_keys(r, d, &key, &family);
    json_t *doc = NULL;
    char warning[512] = "";
    int status = pw_cache_get(r->cache, key, &doc, warning, sizeof warning);
    if (warning[0]) fprintf(stderr, "perfweave: %s:%d: warning: %s\n", d->file, d->line, warning);
    if (status != PW_OK && r->opt->frozen) {
        warning[0] = '\0';
        status = pw_cache_get_family(r->cache, family, &doc, warning, sizeof warning);
        if (warning[0]) fprintf(stderr, "perfweave: %s:%d: warning: %s\n", d->file, d->line, warning);
    }
    free(key);
    free(family);
    if (status == PW_OK) {
        const char *why = NULL;
        d->result = pw_result_from_json(doc, &why);
        json_decref(doc);
        if (d->result) {
            json_t *run = json_object_get(pw_result_json(d->result), "run");
            const char *host = json_string_value(json_object_get(run, "host"));
            const char *here = json_string_value(json_object_get(r->environment, "host"));
            bool elsewhere = host && here && strcmp(host, here) != 0;
            *source = r->opt->frozen ? (elsewhere ? "frozen: measured on another machine" : "frozen from cache")
                                     : "from cache";
            return true;
        }
    }
    if (r->opt->frozen) {
        d->result = pw_result_new(d->experiment_name, d->id);
        pw_result_error(d->result, "--frozen: no stored result for this directive (run the report once without --frozen)");
        *source = "frozen";
        return true;
    }
    return false;
}

/* Stores a fresh result in the cache; failed runs are not stored (they run again next time). */
static void store_cached(pw_report *r, const pw_directive *d)
{
    if (!r->cache || pw_result_failed(d->result)) return;
    char *key, *family;
    cache_keys(r, d, &key, &family);
    if (pw_cache_put_family(r->cache, key, family, pw_result_json(d->result)) != PW_OK)
        fprintf(stderr, "perfweave: warning: cannot store the result of %s in %s: %s\n", d->id,
                pw_cache_dir(r->cache), strerror(errno));
    free(key);
    free(family);
}

static void progress(const pw_report *r, size_t done, size_t total, const pw_directive *d, double elapsed,
                     double spent_measuring, size_t measured)
{
    if (!r->opt->progress) return;
    bool tty = isatty(STDERR_FILENO);
    double eta = measured ? spent_measuring / (double)measured * (double)(total - done) : NAN;
    fprintf(stderr, "%s[%zu/%zu] %s (%s)  %.0fs elapsed", tty ? "\r\033[K" : "", done + 1, total,
            d->id, d->experiment_name, elapsed);
    if (isfinite(eta)) fprintf(stderr, ", ETA %.0fs", eta);
    fputs(tty ? "" : "\n", stderr);
    fflush(stderr);
}

/* True when a and b differ only in their digits (the same warning with another load figure). */
static bool same_but_numbers(const char *a, const char *b)
{
    for (;;) {
        while (*a && ((*a >= '0' && *a <= '9') || *a == '.')) a++;
        while (*b && ((*b >= '0' && *b <= '9') || *b == '.')) b++;
        if (*a != *b) return false;
        if (!*a) return true;
        a++;
        b++;
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
                    if (json_is_string(w) && same_but_numbers(json_string_value(seen), json_string_value(w)))
                        dup = true;
                if (!dup && json_is_string(w)) json_array_append(all, w);
            }
        }
    return all;
}

void pw_report_obtain(pw_report *r)
{
    size_t total = 0, done = 0, measured = 0;
    for (size_t c = 0; c < r->nchapters; c++) total += r->chapters[c]->ndirectives;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double spent = 0;
    for (size_t c = 0; c < r->nchapters; c++) {
        for (size_t k = 0; k < r->chapters[c]->ndirectives && !pw_isolate_interrupted(); k++, done++) {
            pw_directive *d = r->chapters[c]->directives[k];
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double elapsed = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            progress(r, done, total, d, elapsed, spent, measured);
            const char *source = "measured";
            if (r->opt->replay_dir) {
                d->result = replay_result(r, d);
                source = "replayed";
            } else if (!lookup_cached(r, d, &source)) {
                pw_isolate_limits lim;
                pw_isolate_limits_default(&lim, r->opt->quick);
                if (d->timeout_s > 0) lim.timeout_s = d->timeout_s;
                if (d->memory_mb > 0) lim.memory_mb = d->memory_mb;
                double before = elapsed;
                d->result = pw_isolate_run(d->experiment, d->id, d->params, &lim);
                json_t *doc = pw_result_json(d->result);
                json_object_set(doc, "params", d->params);
                json_t *run = json_object_get(doc, "run");
                if (run) {
                    json_object_set_new(run, "measured_at", json_string(r->stamp));
                    json_object_set(run, "host", json_object_get(r->environment, "host"));
                }
                json_object_set(doc, "environment", r->environment);
                /* Noise warnings belong to the measurement, so they travel with the result
                 * (through the cache too): conditions before the report against after this run. */
                json_t *after = pw_env_capture();
                json_object_set_new(doc, "environment_warnings", pw_env_warnings(r->environment, after));
                json_decref(after);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                spent += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec) - before;
                measured++;
                r->measured++;
                store_cached(r, d);
            }
            json_t *run = json_object_get(pw_result_json(d->result), "run");
            if (!run) {
                run = json_object();
                json_object_set_new(pw_result_json(d->result), "run", run);
            }
            json_object_set_new(run, "source", json_string(source));
            if (pw_result_failed(d->result)) {
                r->failed++;
                if (r->opt->progress)
                    fprintf(stderr, "%s%s:%d: %s ERROR: %s\n", isatty(STDERR_FILENO) ? "\r\033[K" : "",
                            d->file, d->line, d->id, pw_result_error_reason(d->result));
            }
        }
    }
    if (r->opt->progress && isatty(STDERR_FILENO)) fputs("\r\033[K", stderr);
}
