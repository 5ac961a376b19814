/* report.c — `perfweave report` from chapters to published outputs (see report.h).  The order
 * matters: everything that can be wrong with the input is found before anything runs or is
 * written; outputs are built in a staging folder and renamed into place at the end, so an
 * interrupted or failed run leaves the previous report whole. */
#include "perfweave/report.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/claims.h"
#include "perfweave/env.h"
#include "perfweave/escape.h"
#include "perfweave/isolate.h"
#include "perfweave/plot.h"
#include "perfweave/render.h"
#include "perfweave/store.h"
#include "perfweave/template.h"
#include "perfweave/version.h"
#include "perfweave/weave.h"

/* Where the templates are: $PERFWEAVE_TEMPLATES, ./templates, or the templates/ folder beside
 * the build folder of the running executable (build/perfweave → templates/). */
static const char *default_templates_dir(void)
{
    const char *t = getenv("PERFWEAVE_TEMPLATES");
    if (t && *t) return t;
    if (access("templates/report.html", R_OK) == 0) return "templates";
    static char beside[4096]; /* written once, then only read: a path, not state */
    ssize_t n = readlink("/proc/self/exe", beside, sizeof beside - 32);
    if (n > 0) {
        beside[n] = '\0';
        char *slash = strrchr(beside, '/');
        if (slash) {
            strcpy(slash, "/../templates");
            char probe[4096 + 16];
            snprintf(probe, sizeof probe, "%s/report.html", beside);
            if (access(probe, R_OK) == 0) return beside;
        }
    }
    return "templates";
}

void pw_report_options_default(pw_report_options *o)
{
    memset(o, 0, sizeof *o);
    o->outdir = "out";
    o->html = o->latex = o->pdf = true;
    o->cache_dir = ".cache/results";
    o->archive_root = "validation_results";
    o->templates_dir = default_templates_dir();
    o->progress = true;
}

/* A fenced block that perfweave fills in besides experiments: `summary` (every claim of the
 * report), `assessment` (the claims grouped into what works, what does not, what is undecided),
 * `history` (a metric across archived runs) and `matrix` (a metric across machines). */
typedef enum { SPECIAL_SUMMARY, SPECIAL_ASSESSMENT, SPECIAL_HISTORY, SPECIAL_MATRIX } special_kind;

typedef struct {
    special_kind kind;
    cmark_node *node;      /* the code block, then the custom block replacing it */
    const char *file;
    int line;
    char *metric;          /* fnmatch pattern over "id.metric" */
    char *caption;
    json_t *object;        /* built chart (history) or table (matrix); NULL when nothing to show */
    char *stem;            /* figure file stem of a history chart */
    char *empty;           /* why there is nothing to show */
} special_block;

typedef struct {
    const pw_report_options *opt;
    pw_chapter **chapters;
    size_t nchapters;
    pw_diag diag;
    json_t *environment;
    char *staging;         /* outdir/.staging-PID */
    char *figdir;          /* staging/figures */
    char *prev_figdir;     /* outdir/figures of the previous report (figures reused when unchanged) */
    char *stamp;           /* UTC time of this run, ISO 8601 */
    size_t failed;         /* experiments in ERROR */
    json_t *replay;        /* the replayed run document, when --replay names a file */
    json_t *env_warnings;  /* noisy conditions seen before/after the measurements */
    json_t *environment_after; /* captured after the measurements (load, governor), or NULL */
    pw_cache *cache;       /* NULL when caching is off */
    char *fingerprint;     /* this machine's fingerprint hash */
    size_t measured;       /* experiments actually run (not cached, replayed or frozen) */
    char *started;         /* UTC, ISO 8601, for the archive */
    special_block *specials;
    size_t nspecials;
} report;

/* --- time and environment ------------------------------------------------------------------ */

/* The report's clock: SOURCE_DATE_EPOCH when set (reproducible output), else now. */
static time_t report_time(void)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (s && *s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (*end == '\0' && v >= 0) return (time_t)v;
    }
    return time(NULL);
}

static char *iso_time(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return pw_xstrdup(buf);
}

/* --- loading and validation ---------------------------------------------------------------- */

static pw_directive *find_directive(report *r, const char *id)
{
    for (size_t c = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++)
            if (strcmp(r->chapters[c]->directives[k]->id, id) == 0) return r->chapters[c]->directives[k];
    return NULL;
}

static void load_chapters(report *r)
{
    r->chapters = pw_xcalloc(r->opt->nchapters ? r->opt->nchapters : 1, sizeof *r->chapters);
    for (size_t i = 0; i < r->opt->nchapters; i++) {
        pw_chapter *c = pw_chapter_load(r->opt->chapters[i], (int)i + 1, &r->diag);
        if (c) r->chapters[r->nchapters++] = c;
    }
    /* Ids are report-wide: inline references may point into other chapters. */
    json_t *seen = json_object();
    for (size_t c = 0; c < r->nchapters; c++) {
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            pw_directive *d = r->chapters[c]->directives[k];
            json_t *prev = json_object_get(seen, d->id);
            if (prev)
                pw_diag_add(&r->diag, d->file, d->line, "duplicate id '%s' (also at %s)", d->id,
                            json_string_value(prev));
            else
                json_object_set_new(seen, d->id, json_sprintf("%s:%d", d->file, d->line));
        }
    }
    json_decref(seen);
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        for (size_t k = 0; k < ch->nrefs; k++) {
            if (find_directive(r, ch->refs[k].id)) continue;
            size_t n = 0;
            for (size_t cc = 0; cc < r->nchapters; cc++) n += r->chapters[cc]->ndirectives;
            const char **ids = pw_xmalloc((n ? n : 1) * sizeof *ids);
            n = 0;
            for (size_t cc = 0; cc < r->nchapters; cc++)
                for (size_t kk = 0; kk < r->chapters[cc]->ndirectives; kk++)
                    ids[n++] = r->chapters[cc]->directives[kk]->id;
            const char *hint = pw_suggest(ch->refs[k].id, ids, n);
            if (hint)
                pw_diag_add(&r->diag, ch->path, ch->refs[k].line, "unknown result id '%s' in `=%s.%s` (did you mean '%s'?)",
                            ch->refs[k].id, ch->refs[k].id, ch->refs[k].metric, hint);
            else
                pw_diag_add(&r->diag, ch->path, ch->refs[k].line, "unknown result id '%s' in `=%s.%s`",
                            ch->refs[k].id, ch->refs[k].id, ch->refs[k].metric);
            free(ids);
        }
    }
}

static void collect_special_blocks(report *r)
{
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        cmark_iter *it = cmark_iter_new(ch->doc);
        cmark_event_type ev;
        while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *node = cmark_iter_get_node(it);
            const char *info = cmark_node_get_fence_info(node);
            if (ev != CMARK_EVENT_ENTER || cmark_node_get_type(node) != CMARK_NODE_CODE_BLOCK || !info) continue;
            special_kind kind;
            if (strcmp(info, "summary") == 0) kind = SPECIAL_SUMMARY;
            else if (strcmp(info, "assessment") == 0) kind = SPECIAL_ASSESSMENT;
            else if (strcmp(info, "history") == 0) kind = SPECIAL_HISTORY;
            else if (strcmp(info, "matrix") == 0) kind = SPECIAL_MATRIX;
            else continue;
            r->specials = pw_xrealloc(r->specials, (r->nspecials + 1) * sizeof *r->specials);
            special_block *sb = &r->specials[r->nspecials++];
            memset(sb, 0, sizeof *sb);
            sb->kind = kind;
            sb->node = node;
            sb->file = ch->path;
            sb->line = cmark_node_get_start_line(node);
            /* Body: `metric: PATTERN` and `caption: TEXT` lines. */
            char *body = pw_xstrdup(cmark_node_get_literal(node));
            int lineno = sb->line;
            for (char *line = body, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next) *next++ = '\0';
                lineno++;
                while (*line == ' ' || *line == '\t') line++;
                if (!*line || *line == '#') continue;
                char *colon = strchr(line, ':');
                char *value = colon ? colon + 1 : NULL;
                if (colon) *colon = '\0';
                while (value && (*value == ' ' || *value == '\t')) value++;
                if (!colon || !*value) pw_diag_add(&r->diag, ch->path, lineno, "expected 'key: value' in the %s block", info);
                else if (kind >= SPECIAL_HISTORY && strcmp(line, "metric") == 0) { free(sb->metric); sb->metric = pw_xstrdup(value); }
                else if (kind >= SPECIAL_HISTORY && strcmp(line, "caption") == 0) { free(sb->caption); sb->caption = pw_xstrdup(value); }
                else pw_diag_add(&r->diag, ch->path, lineno, "unknown key '%s' in the %s block%s", line, info,
                                 kind < SPECIAL_HISTORY ? " (it takes none)" : " (metric, caption)");
            }
            free(body);
            if (kind >= SPECIAL_HISTORY && !sb->metric)
                pw_diag_add(&r->diag, ch->path, sb->line, "the %s block needs 'metric: ID.METRIC' (a pattern such as accel-spectrum.gflops.*)", info);
        }
        cmark_iter_free(it);
    }
}

/* Loads every archived run (oldest first); *n receives the count.  The caller decrefs each. */
static json_t **load_archive(const report *r, size_t *n)
{
    *n = 0;
    json_t *list = NULL;
    if (!r->opt->archive_root || pw_archive_list(r->opt->archive_root, &list) != PW_OK) return NULL;
    json_t **runs = pw_xcalloc(json_array_size(list) + 1, sizeof *runs);
    size_t i;
    json_t *entry;
    json_array_foreach(list, i, entry) {
        json_t *doc = NULL;
        const char *name = json_string_value(json_object_get(entry, "run"));
        if (name && pw_archive_load(r->opt->archive_root, name, &doc) == PW_OK) runs[(*n)++] = doc;
    }
    json_decref(list);
    return runs;
}

/* Builds the chart or table of each history/matrix block from the archive. */
static void build_special_blocks(report *r)
{
    size_t nruns = 0;
    json_t **runs = NULL;
    bool loaded = false;
    for (size_t k = 0; k < r->nspecials; k++) {
        special_block *sb = &r->specials[k];
        if (sb->kind < SPECIAL_HISTORY) continue;
        if (!loaded) {
            runs = load_archive(r, &nruns);
            loaded = true;
        }
        if (nruns == 0) {
            sb->empty = pw_xstrdup("No archived runs yet: the archive fills as the report is measured.");
            continue;
        }
        if (sb->kind == SPECIAL_HISTORY) {
            json_t *m = pw_archive_matrix(runs, nruns, sb->metric);
            json_t *rows = json_object_get(m, "rows");
            pw_result *tmp = pw_result_new("history", "history");
            char *caption = sb->caption ? pw_xstrdup(sb->caption)
                                        : pw_xasprintf("%s across %zu archived runs, oldest first", sb->metric, nruns);
            pw_chart *chart = pw_result_chart(tmp, "history", caption, "archived run (oldest first)", "value", 0);
            free(caption);
            size_t i;
            json_t *row;
            json_array_foreach(rows, i, row) {
                pw_series *series = pw_chart_series(chart, json_string_value(json_object_get(row, "metric")));
                size_t j;
                json_t *cell;
                json_array_foreach(json_object_get(row, "cells"), j, cell) {
                    if (!json_is_object(cell)) continue;
                    pw_series_point(series, (double)(j + 1), json_number_value(json_object_get(cell, "value")),
                                    json_number_value(json_object_get(cell, "lo")),
                                    json_number_value(json_object_get(cell, "hi")));
                }
            }
            if (json_array_size(rows)) {
                sb->object = json_incref(json_array_get(json_object_get(pw_result_json(tmp), "charts"), 0));
                sb->stem = pw_xasprintf("history-%zu", k + 1);
            } else {
                sb->empty = pw_xasprintf("No archived run has a metric matching %s.", sb->metric);
            }
            pw_result_free(tmp);
            json_decref(m);
        } else {
            /* The hardware matrix: the newest run of each machine, side by side. */
            json_t **latest = pw_xcalloc(nruns, sizeof *latest);
            size_t nlatest = 0;
            for (size_t i = nruns; i-- > 0;) {
                const char *host = json_string_value(json_object_get(json_object_get(runs[i], "environment"), "host"));
                bool seen = false;
                for (size_t j = 0; j < nlatest; j++) {
                    const char *h = json_string_value(json_object_get(json_object_get(latest[j], "environment"), "host"));
                    if (h && host && strcmp(h, host) == 0) seen = true;
                }
                if (!seen) latest[nlatest++] = runs[i];
            }
            json_t *m = pw_archive_matrix(latest, nlatest, sb->metric);
            json_t *cols = json_array(), *rows = json_array();
            json_array_append_new(cols, json_string("metric"));
            size_t i;
            json_t *v;
            json_array_foreach(json_object_get(m, "columns"), i, v)
                json_array_append_new(cols, json_sprintf("%s", json_string_value(json_object_get(v, "label"))));
            json_array_foreach(json_object_get(m, "rows"), i, v) {
                json_t *row = json_array();
                json_array_append_new(row, json_string(json_string_value(json_object_get(v, "metric"))));
                size_t j;
                json_t *cell;
                json_array_foreach(json_object_get(v, "cells"), j, cell) {
                    if (!json_is_object(cell)) {
                        json_array_append_new(row, json_string("—"));
                        continue;
                    }
                    pw_metric pm = {"", json_number_value(json_object_get(cell, "value")),
                                    json_number_value(json_object_get(cell, "lo")),
                                    json_number_value(json_object_get(cell, "hi")),
                                    json_string_value(json_object_get(v, "unit")), 0, 0};
                    if (!pm.unit) pm.unit = "";
                    pw_buf b;
                    pw_buf_init(&b);
                    pw_format_metric(&b, &pm);
                    json_array_append_new(row, json_string(b.data));
                    pw_buf_release(&b);
                }
                json_array_append_new(rows, row);
            }
            char *caption = sb->caption ? pw_xstrdup(sb->caption)
                                        : pw_xasprintf("%s on every machine in the archive (newest run of each)", sb->metric);
            if (json_array_size(rows))
                sb->object = json_pack("{s:s, s:s, s:o, s:o}", "name", "matrix", "caption", caption, "columns", cols, "rows", rows);
            else {
                json_decref(cols);
                json_decref(rows);
                sb->empty = pw_xasprintf("No archived run has a metric matching %s.", sb->metric);
            }
            free(caption);
            free(latest);
            json_decref(m);
        }
    }
    for (size_t i = 0; i < nruns; i++) json_decref(runs[i]);
    free(runs);
}

/* After results exist: every reference names a metric, every chart/table key names one. */
static void check_results(report *r)
{
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        for (size_t k = 0; k < ch->nrefs; k++) {
            pw_ref *ref = &ch->refs[k];
            pw_directive *d = find_directive(r, ref->id);
            pw_metric m;
            if (!d || !d->result || pw_result_failed(d->result)) continue;
            if (pw_result_get_metric(d->result, ref->metric, &m) == PW_OK) continue;
            size_t n = pw_result_metric_count(d->result);
            const char **names = pw_xmalloc((n ? n : 1) * sizeof *names);
            for (size_t i = 0; i < n; i++) {
                pw_result_metric_at(d->result, i, &m);
                names[i] = m.name;
            }
            const char *hint = pw_suggest(ref->metric, names, n);
            if (hint)
                pw_diag_add(&r->diag, ch->path, ref->line, "result '%s' has no metric '%s' (did you mean '%s'?)",
                            ref->id, ref->metric, hint);
            else
                pw_diag_add(&r->diag, ch->path, ref->line, "result '%s' has no metric '%s' (it has %zu; see perfweave run %s --json)",
                            ref->id, ref->metric, n, d->experiment_name);
            free(names);
        }
        for (size_t k = 0; k < ch->ndirectives; k++) {
            pw_directive *d = ch->directives[k];
            if (!d->result || pw_result_failed(d->result)) continue;
            json_t *doc = pw_result_json(d->result);
            for (int kind = 0; kind < 2; kind++) {
                char **names = kind ? d->tables : d->charts;
                size_t n = kind ? d->ntables : d->ncharts;
                json_t *items = json_object_get(doc, kind ? "tables" : "charts");
                for (size_t i = 0; i < n; i++) {
                    bool found = false;
                    size_t j;
                    json_t *it;
                    json_array_foreach(items, j, it)
                        if (strcmp(json_string_value(json_object_get(it, "name")), names[i]) == 0) found = true;
                    if (!found) {
                        pw_buf avail;
                        pw_buf_init(&avail);
                        json_array_foreach(items, j, it)
                            pw_buf_printf(&avail, "%s%s", j ? ", " : "", json_string_value(json_object_get(it, "name")));
                        pw_diag_add(&r->diag, d->file, d->line, "%s has no %s named '%s' (it has: %s)",
                                    d->experiment_name, kind ? "table" : "chart", names[i],
                                    avail.len ? avail.data : "none");
                        pw_buf_release(&avail);
                    }
                }
            }
        }
    }
}

/* --- obtaining results --------------------------------------------------------------------- */

static bool wants_rerun(const report *r, const char *id)
{
    for (size_t i = 0; i < r->opt->nrerun; i++)
        if (strcmp(r->opt->rerun[i], "all") == 0 || strcmp(r->opt->rerun[i], id) == 0) return true;
    return false;
}

/* Loads the replay source once: a run document (out/results.json) indexes its results by id. */
static json_t *replay_document(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISDIR(st.st_mode)) return NULL;
    json_error_t jerr;
    return json_load_file(path, 0, &jerr);
}

static pw_result *replay_result(report *r, pw_directive *d)
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
static void cache_keys(const report *r, const pw_directive *d, char **key, char **family)
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
static bool lookup_cached(report *r, pw_directive *d, const char **source)
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
static void store_cached(report *r, const pw_directive *d)
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

static void progress(const report *r, size_t done, size_t total, const pw_directive *d, double elapsed,
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
static json_t *collect_env_warnings(const report *r)
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

static void obtain_results(report *r)
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

/* Claims are decided per chapter, so Holm's correction spans one module's claims. */
static void decide_claims(report *r)
{
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        size_t m = 0;
        for (size_t k = 0; k < ch->ndirectives; k++) m += ch->directives[k]->nclaims;
        if (m == 0) continue;
        pw_claim *claims = pw_xmalloc(m * sizeof *claims);
        const pw_result **results = pw_xmalloc(m * sizeof *results);
        size_t i = 0;
        for (size_t k = 0; k < ch->ndirectives; k++)
            for (size_t j = 0; j < ch->directives[k]->nclaims; j++) {
                claims[i] = ch->directives[k]->claims[j];
                results[i++] = ch->directives[k]->result;
            }
        json_t *verdicts = pw_claims_evaluate(claims, results, m);
        i = 0;
        for (size_t k = 0; k < ch->ndirectives; k++) {
            pw_directive *d = ch->directives[k];
            d->verdicts = json_array();
            for (size_t j = 0; j < d->nclaims; j++)
                json_array_append(d->verdicts, json_array_get(verdicts, i++));
            json_object_set(pw_result_json(d->result), "claims", d->verdicts);
        }
        json_decref(verdicts);
        free(claims);
        free(results);
    }
}

/* --- rendering ----------------------------------------------------------------------------- */

static int render_charts(report *r)
{
    bool svg = r->opt->html, pdf = r->opt->latex || r->opt->pdf;
    for (size_t k = 0; k < r->nspecials; k++) {
        special_block *sb = &r->specials[k];
        if (sb->kind != SPECIAL_HISTORY || !sb->object) continue;
        char msg[512];
        if (pw_plot_render(sb->object, r->figdir, sb->stem, svg, pdf, r->prev_figdir, msg, sizeof msg) != PW_OK) {
            fprintf(stderr, "perfweave: %s:%d: %s\n", sb->file, sb->line, msg);
            return PW_ECHILD;
        }
    }
    for (size_t c = 0; c < r->nchapters; c++) {
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            pw_directive *d = r->chapters[c]->directives[k];
            if (!d->result) continue;
            size_t i;
            json_t *chart;
            json_array_foreach(json_object_get(pw_result_json(d->result), "charts"), i, chart) {
                const char *name = json_string_value(json_object_get(chart, "name"));
                if (!name || !pw_render_shows_chart(d, name)) continue;
                char *stem = pw_render_chart_stem(d->id, name);
                char msg[512];
                int status = pw_plot_render(chart, r->figdir, stem, svg, pdf, r->prev_figdir, msg, sizeof msg);
                free(stem);
                if (status != PW_OK) {
                    fprintf(stderr, "perfweave: %s:%d: %s\n", d->file, d->line, msg);
                    return status;
                }
            }
        }
    }
    return PW_OK;
}

/* Replaces directive and reference nodes by custom nodes (once), so that each format pass only
 * sets their text. */
static void install_custom_nodes(report *r)
{
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        for (size_t k = 0; k < ch->ndirectives; k++) {
            pw_directive *d = ch->directives[k];
            cmark_node *custom = cmark_node_new(CMARK_NODE_CUSTOM_BLOCK);
            cmark_node_replace(d->node, custom);
            cmark_node_free(d->node);
            d->node = custom;
        }
        for (size_t k = 0; k < ch->nrefs; k++) {
            cmark_node *custom = cmark_node_new(CMARK_NODE_CUSTOM_INLINE);
            cmark_node_replace(ch->refs[k].node, custom);
            cmark_node_free(ch->refs[k].node);
            ch->refs[k].node = custom;
        }
    }
    for (size_t k = 0; k < r->nspecials; k++) {
        special_block *sb = &r->specials[k];
        cmark_node *custom = cmark_node_new(CMARK_NODE_CUSTOM_BLOCK);
        cmark_node_set_user_data(custom, sb);
        cmark_node_replace(sb->node, custom);
        cmark_node_free(sb->node);
        sb->node = custom;
    }
}

static void set_custom_text(report *r, pw_format fmt, pw_numbering *num)
{
    const char *figrel = "figures";
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        cmark_iter *it = cmark_iter_new(ch->doc);
        cmark_event_type ev;
        /* Walk in document order so that tables and figures are numbered as they appear. */
        while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *node = cmark_iter_get_node(it);
            if (ev != CMARK_EVENT_ENTER) continue;
            cmark_node_type type = cmark_node_get_type(node);
            if (type == CMARK_NODE_CUSTOM_BLOCK) {
                pw_buf b;
                pw_buf_init(&b);
                special_block *sb = cmark_node_get_user_data(node);
                if (sb && sb->kind == SPECIAL_SUMMARY) {
                    pw_render_claim_summary(&b, r->chapters, r->nchapters, fmt);
                } else if (sb && sb->kind == SPECIAL_ASSESSMENT) {
                    pw_render_assessment(&b, r->chapters, r->nchapters, fmt);
                } else if (sb && sb->object && sb->kind == SPECIAL_HISTORY) {
                    pw_render_figure(&b, sb->object, sb->stem, fmt, num, r->figdir, figrel);
                } else if (sb && sb->object) {
                    pw_render_table(&b, sb->object, fmt, num);
                } else if (sb) {
                    pw_buf_puts(&b, fmt == PW_FMT_HTML ? "<p class=\"missing\">" : "\\textit{");
                    if (fmt == PW_FMT_HTML) pw_escape_html(&b, sb->empty ? sb->empty : "");
                    else pw_escape_latex(&b, sb->empty ? sb->empty : "");
                    pw_buf_puts(&b, fmt == PW_FMT_HTML ? "</p>\n" : "}\n");
                } else {
                    for (size_t k = 0; k < ch->ndirectives; k++)
                        if (ch->directives[k]->node == node)
                            pw_render_directive(&b, ch->directives[k], fmt, num, r->figdir, figrel);
                }
                cmark_node_set_on_enter(node, b.data);
                cmark_node_set_on_exit(node, "");
                pw_buf_release(&b);
            } else if (type == CMARK_NODE_CUSTOM_INLINE) {
                for (size_t k = 0; k < ch->nrefs; k++) {
                    if (ch->refs[k].node != node) continue;
                    pw_directive *d = find_directive(r, ch->refs[k].id);
                    pw_metric m;
                    pw_buf b;
                    pw_buf_init(&b);
                    if (d && d->result && pw_result_get_metric(d->result, ch->refs[k].metric, &m) == PW_OK)
                        pw_render_inline(&b, &m, fmt);
                    else if (fmt == PW_FMT_HTML)
                        pw_buf_puts(&b, "<span class=\"measured missing\">[not measured: the experiment ended in ERROR]</span>");
                    else
                        pw_buf_puts(&b, "\\textbf{[not measured: the experiment ended in ERROR]}");
                    cmark_node_set_on_enter(node, b.data);
                    cmark_node_set_on_exit(node, "");
                    pw_buf_release(&b);
                }
            }
        }
        cmark_iter_free(it);
    }
}

static char *read_template(report *r, const char *name)
{
    char *path = pw_xasprintf("%s/%s", r->opt->templates_dir, name);
    char *text = pw_read_file(path, NULL);
    if (!text) fprintf(stderr, "perfweave: cannot read template %s: %s\n", path, strerror(errno));
    free(path);
    return text;
}

/* One row per leaf of the environment document, nested keys dotted ("cpu.model"). */
static void environment_rows(pw_buf *b, const char *prefix, const json_t *obj, pw_format fmt)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        char *name = prefix ? pw_xasprintf("%s.%s", prefix, key) : pw_xstrdup(key);
        if (json_is_object(v)) {
            environment_rows(b, name, v, fmt);
            free(name);
            continue;
        }
        char *text = json_is_string(v) ? pw_xstrdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (fmt == PW_FMT_HTML) {
            pw_buf_puts(b, "<tr><th>");
            pw_escape_html(b, name);
            pw_buf_puts(b, "</th><td>");
            pw_escape_html(b, text ? text : "");
            pw_buf_puts(b, "</td></tr>\n");
        } else {
            pw_escape_latex(b, name);
            pw_buf_puts(b, " & \\parbox[t]{0.7\\linewidth}{\\raggedright\\small ");
            /* The CPU flag list is long; LaTeX gets its first part. */
            if (text && strlen(text) > 400) strcpy(text + 396, "...");
            pw_escape_latex(b, text ? text : "");
            pw_buf_puts(b, "} \\\\\n");
        }
        free(text);
        free(name);
    }
}

static void environment_text(pw_buf *b, const json_t *env, const json_t *warnings, pw_format fmt)
{
    if (json_array_size(warnings)) {
        size_t i;
        json_t *w;
        pw_buf_puts(b, fmt == PW_FMT_HTML ? "<ul class=\"warnings\">\n" : "");
        json_array_foreach(warnings, i, w) {
            if (fmt == PW_FMT_HTML) {
                pw_buf_puts(b, "<li>");
                pw_escape_html(b, json_string_value(w));
                pw_buf_puts(b, "</li>\n");
            } else {
                pw_buf_puts(b, "\\pwwarning{");
                pw_escape_latex(b, json_string_value(w));
                pw_buf_puts(b, "}\n");
            }
        }
        pw_buf_puts(b, fmt == PW_FMT_HTML ? "</ul>\n" : "\n");
    }
    if (fmt == PW_FMT_HTML) pw_buf_puts(b, "<table class=\"env\"><tbody>\n");
    else pw_buf_puts(b, "\\begin{longtable}{@{}ll@{}}\n\\toprule\n");
    environment_rows(b, NULL, env, fmt);
    pw_buf_puts(b, fmt == PW_FMT_HTML ? "</tbody></table>\n" : "\\bottomrule\n\\end{longtable}\n");
}

static int render_html(report *r, pw_buf *out)
{
    pw_numbering num = {0, 0};
    set_custom_text(r, PW_FMT_HTML, &num);
    pw_buf body, toc, summary, env;
    pw_buf_init(&body);
    pw_buf_init(&toc);
    pw_buf_init(&summary);
    pw_buf_init(&env);
    pw_buf_puts(&toc, "<ol>\n");
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        char *html = cmark_render_html(ch->doc, CMARK_OPT_DEFAULT);
        pw_buf_printf(&body, "<section class=\"chapter\" id=\"%s\">\n%s", ch->anchor, html);
        pw_buf_puts(&body, "<nav class=\"chapter-nav\">");
        if (c > 0) pw_buf_printf(&body, "<a href=\"#%s\">← previous</a> ", r->chapters[c - 1]->anchor);
        pw_buf_puts(&body, "<a href=\"#top\">contents</a>");
        if (c + 1 < r->nchapters) pw_buf_printf(&body, " <a href=\"#%s\">next →</a>", r->chapters[c + 1]->anchor);
        pw_buf_puts(&body, "</nav>\n</section>\n");
        free(html);
        pw_buf_printf(&toc, "<li><a href=\"#%s\">", ch->anchor);
        pw_escape_html(&toc, ch->title);
        pw_buf_puts(&toc, "</a></li>\n");
    }
    pw_buf_puts(&toc, "</ol>\n");
    size_t counts[5];
    size_t total = pw_render_count_verdicts(r->chapters, r->nchapters, counts);
    static const char *const names[5] = {"PASS", "PARTIAL", "FAIL", "UNDECIDED", "ERROR"};
    for (int i = 0; i < 5; i++) {
        pw_buf_printf(&summary, "<span class=\"count\">%zu ", counts[i]);
        pw_render_verdict(&summary, names[i], PW_FMT_HTML);
        pw_buf_puts(&summary, "</span> ");
    }
    pw_buf_printf(&summary, "<span class=\"total\">of %zu claims</span>", total);
    if (json_array_size(r->env_warnings))
        pw_buf_printf(&summary, " <a class=\"noise\" href=\"#environment\">⚠ %zu measurement-environment warning%s</a>",
                      json_array_size(r->env_warnings), json_array_size(r->env_warnings) == 1 ? "" : "s");
    environment_text(&env, r->environment, r->env_warnings, PW_FMT_HTML);
    char *tmpl = read_template(r, "report.html");
    char *css = read_template(r, "report.css");
    int status = PW_EIO;
    if (tmpl && css) {
        char msg[256];
        pw_template_var vars[] = {
            {"title", "perfweave: do ML-systems optimizations deliver?"}, {"css", css},
            {"toc", toc.data}, {"body", body.data}, {"summary", summary.data},
            {"environment", env.data}, {"generated", r->stamp}, {"version", PW_VERSION},
            {"commit", pw_commit()},
        };
        status = pw_template_expand(tmpl, vars, sizeof vars / sizeof vars[0], out, msg, sizeof msg);
        if (status != PW_OK) fprintf(stderr, "perfweave: %s/report.html:%s\n", r->opt->templates_dir, msg + 4);
    }
    free(tmpl);
    free(css);
    pw_buf_release(&body);
    pw_buf_release(&toc);
    pw_buf_release(&summary);
    pw_buf_release(&env);
    return status;
}

static int render_latex(report *r, pw_buf *out)
{
    pw_numbering num = {0, 0};
    set_custom_text(r, PW_FMT_LATEX, &num);
    pw_buf body, env;
    pw_buf_init(&body);
    pw_buf_init(&env);
    for (size_t c = 0; c < r->nchapters; c++) {
        char *tex = cmark_render_latex(r->chapters[c]->doc, CMARK_OPT_DEFAULT, 0);
        pw_latex_unicode(&body, tex);
        pw_buf_puts(&body, "\n\\clearpage\n");
        free(tex);
    }
    environment_text(&env, r->environment, r->env_warnings, PW_FMT_LATEX);
    char *tmpl = read_template(r, "report.tex");
    int status = PW_EIO;
    if (tmpl) {
        char msg[256];
        pw_template_var vars[] = {
            {"title", "perfweave: do ML-systems optimizations deliver?"}, {"body", body.data},
            {"environment", env.data}, {"generated", r->stamp}, {"version", PW_VERSION},
            {"commit", pw_commit()},
        };
        status = pw_template_expand(tmpl, vars, sizeof vars / sizeof vars[0], out, msg, sizeof msg);
        if (status != PW_OK) fprintf(stderr, "perfweave: %s/report.tex:%s\n", r->opt->templates_dir, msg + 4);
    }
    free(tmpl);
    pw_buf_release(&body);
    pw_buf_release(&env);
    return status;
}

/* --- staging and publishing ---------------------------------------------------------------- */

static void remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char *child = pw_xasprintf("%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(child);
            else unlink(child);
            free(child);
        }
        closedir(dir);
    }
    rmdir(path);
}

/* Staging folders of runs that were killed before they could clean up. */
static void remove_stale_staging(const char *outdir)
{
    DIR *dir = opendir(outdir);
    if (!dir) return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, ".staging-", 9) != 0) continue;
        long pid = strtol(e->d_name + 9, NULL, 10);
        if (pid > 0 && kill((pid_t)pid, 0) == 0) continue; /* still running */
        char *path = pw_xasprintf("%s/%s", outdir, e->d_name);
        remove_tree(path);
        free(path);
    }
    closedir(dir);
}

static int write_staged(report *r, const char *name, const pw_buf *b)
{
    char *path = pw_xasprintf("%s/%s", r->staging, name);
    int status = pw_write_file_atomic(path, b->data, b->len);
    if (status != PW_OK) fprintf(stderr, "perfweave: cannot write %s: %s\n", path, strerror(errno));
    free(path);
    return status;
}

/* LaTeX's own auxiliary files, kept in <outdir>/.latex/ between runs. */
static const char *const latex_aux_files[] = {"report.aux", "report.toc", "report.out"};
#define NLATEX_AUX (sizeof latex_aux_files / sizeof latex_aux_files[0])

/* Copies each auxiliary file that exists from one folder to another; returns how many. */
static size_t copy_latex_aux(const char *from_dir, const char *to_dir)
{
    size_t copied = 0;
    for (size_t i = 0; i < NLATEX_AUX; i++) {
        char *from = pw_xasprintf("%s/%s", from_dir, latex_aux_files[i]);
        char *to = pw_xasprintf("%s/%s", to_dir, latex_aux_files[i]);
        size_t len = 0;
        char *data = pw_read_file(from, &len);
        if (data && pw_write_file_atomic(to, data, len) == PW_OK) copied++;
        free(data);
        free(from);
        free(to);
    }
    return copied;
}

/* Runs pdflatex in the staging folder.  It starts from the previous report's auxiliary files
 * (.aux, .toc, .out), so one pass usually suffices; a second pass runs only when the .aux
 * changed (as latexmk would decide), and a first pass that fails on carried-over files is
 * repeated from scratch. */
static int run_pdflatex(report *r)
{
    char *const argv[] = {"pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex", NULL};
    char *log = pw_xasprintf("%s/pdflatex.out", r->staging);
    char *keep = pw_xasprintf("%s/.latex", r->opt->outdir);
    char *aux = pw_xasprintf("%s/report.aux", r->staging);
    size_t carried = copy_latex_aux(keep, r->staging);
    size_t before_len = 0;
    char *before = pw_read_file(aux, &before_len);
    int rc = pw_spawn(argv, r->staging, log, 300);
    if (rc > 0 && carried) {
        for (size_t i = 0; i < NLATEX_AUX; i++) {
            char *path = pw_xasprintf("%s/%s", r->staging, latex_aux_files[i]);
            unlink(path);
            free(path);
        }
        free(before);
        before = NULL;
        rc = pw_spawn(argv, r->staging, log, 300);
    }
    size_t after_len = 0;
    char *after = rc == 0 ? pw_read_file(aux, &after_len) : NULL;
    if (rc == 0 && (!before || !after || before_len != after_len || memcmp(before, after, after_len) != 0))
        rc = pw_spawn(argv, r->staging, log, 300);
    if (rc == 0 && pw_mkdir_p(keep) == PW_OK) copy_latex_aux(r->staging, keep);
    free(before);
    free(after);
    free(keep);
    free(aux);
    if (rc < 0)
        fprintf(stderr, "perfweave: warning: pdflatex is not installed; wrote HTML and LaTeX only (make setup installs it)\n");
    else if (rc != 0)
        fprintf(stderr, "perfweave: warning: pdflatex failed (status %d); see %s/report.log after the run; no PDF written\n",
                rc, r->opt->outdir);
    free(log);
    return rc;
}

/* Moves every staged file into the output folder (rename: each file appears whole). */
static int publish(report *r, bool with_pdf)
{
    char *outfig = pw_xasprintf("%s/figures", r->opt->outdir);
    int status = pw_mkdir_p(outfig);
    /* Figures of charts that are no longer in the report go, so out/ matches this run; only when
     * every format was written (an HTML-only run must not strip the PDFs report.tex uses). */
    DIR *old = r->opt->html && (r->opt->latex || r->opt->pdf) ? opendir(outfig) : NULL;
    if (old) {
        struct dirent *e;
        while ((e = readdir(old))) {
            if (e->d_name[0] == '.') continue;
            char *staged = pw_xasprintf("%s/%s", r->figdir, e->d_name);
            if (access(staged, F_OK) != 0) {
                char *stale = pw_xasprintf("%s/%s", outfig, e->d_name);
                unlink(stale);
                free(stale);
            }
            free(staged);
        }
        closedir(old);
    }
    DIR *dir = opendir(r->figdir);
    if (status == PW_OK && dir) {
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.') continue;
            char *from = pw_xasprintf("%s/%s", r->figdir, e->d_name);
            char *to = pw_xasprintf("%s/%s", outfig, e->d_name);
            if (rename(from, to) != 0) status = PW_EIO;
            free(from);
            free(to);
        }
    }
    if (dir) closedir(dir);
    free(outfig);
    const char *files[] = {"results.json", "report.tex", "report.log", with_pdf ? "report.pdf" : NULL, "report.html"};
    for (size_t i = 0; i < sizeof files / sizeof files[0] && status == PW_OK; i++) {
        if (!files[i]) continue;
        char *from = pw_xasprintf("%s/%s", r->staging, files[i]);
        char *to = pw_xasprintf("%s/%s", r->opt->outdir, files[i]);
        if (access(from, F_OK) == 0 && rename(from, to) != 0) {
            fprintf(stderr, "perfweave: cannot move %s to %s: %s\n", from, to, strerror(errno));
            status = PW_EIO;
        }
        free(from);
        free(to);
    }
    return status;
}

static json_t *results_document(report *r)
{
    json_t *results = json_array();
    for (size_t c = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            pw_directive *d = r->chapters[c]->directives[k];
            if (!d->result) continue;
            json_t *doc = json_deep_copy(pw_result_json(d->result));
            json_object_set_new(doc, "chapter", json_string(d->file));
            json_object_set_new(doc, "line", json_integer(d->line));
            json_array_append_new(results, doc);
        }
    json_t *chapters = json_array();
    for (size_t c = 0; c < r->nchapters; c++) json_array_append_new(chapters, json_string(r->chapters[c]->path));
    char finished[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(finished, sizeof finished, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:O, s:{s:b, s:b, s:o}, s:o}", "schema", 1,
                            "generated", r->stamp, "started", r->started, "finished", finished,
                            "environment", r->environment, "config", "quick", r->opt->quick,
                            "frozen", r->opt->frozen, "chapters", chapters, "results", results);
    if (r->env_warnings) json_object_set(doc, "environment_warnings", r->env_warnings);
    if (r->environment_after) json_object_set(doc, "environment_after", r->environment_after);
    return doc;
}

int pw_report_build(const pw_report_options *o)
{
    report r;
    memset(&r, 0, sizeof r);
    r.opt = o;
    pw_diag_init(&r.diag);
    r.stamp = iso_time(report_time());
    {
        time_t now = time(NULL);
        struct tm tm;
        char buf[32];
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        r.started = pw_xstrdup(buf);
    }
    int status = PW_OK;
    pw_buf html, tex;
    pw_buf_init(&html);
    pw_buf_init(&tex);

    if (o->nchapters == 0) {
        fprintf(stderr, "perfweave: no chapters given (and none in chapters/)\n");
        status = PW_EINVAL;
        goto out;
    }
    load_chapters(&r);
    collect_special_blocks(&r);
    if (r.diag.n) {
        pw_diag_print(&r.diag);
        fprintf(stderr, "perfweave: %zu error%s; nothing was run or written\n", r.diag.n, r.diag.n == 1 ? "" : "s");
        status = PW_EINVAL;
        goto out;
    }
    if (o->replay_dir) {
        r.replay = replay_document(o->replay_dir);
        if (!r.replay) {
            char *path = pw_xasprintf("%s/environment.json", o->replay_dir);
            json_error_t jerr;
            r.environment = json_load_file(path, 0, &jerr);
            free(path);
        } else {
            r.environment = json_incref(json_object_get(r.replay, "environment"));
        }
        if (!json_is_object(r.environment)) {
            json_decref(r.environment);
            r.environment = json_object();
        }
    } else {
        r.environment = pw_env_capture();
        r.fingerprint = pw_env_fingerprint_hash(r.environment);
        if (o->cache_dir && !(r.cache = pw_cache_open(o->cache_dir)))
            fprintf(stderr, "perfweave: warning: cannot open the result cache %s: %s; running without it\n",
                    o->cache_dir, strerror(errno));
    }
    obtain_results(&r);
    if (pw_isolate_interrupted()) {
        fprintf(stderr, "\nperfweave: interrupted; the previous report is untouched, and the %zu result%s "
                "measured so far are cached for the next run\n", r.measured, r.measured == 1 ? "" : "s");
        status = PW_EINTR;
        goto out;
    }
    if (!o->replay_dir && r.measured) r.environment_after = pw_env_capture();
    r.env_warnings = collect_env_warnings(&r);
    check_results(&r);
    if (r.diag.n) {
        pw_diag_print(&r.diag);
        fprintf(stderr, "perfweave: %zu error%s; nothing was written\n", r.diag.n, r.diag.n == 1 ? "" : "s");
        status = PW_EINVAL;
        goto out;
    }
    decide_claims(&r);

    if (pw_mkdir_p(o->outdir) != PW_OK) {
        fprintf(stderr, "perfweave: cannot create %s: %s\n", o->outdir, strerror(errno));
        status = PW_EIO;
        goto out;
    }
    remove_stale_staging(o->outdir);
    r.staging = pw_xasprintf("%s/.staging-%ld", o->outdir, (long)getpid());
    r.figdir = pw_xasprintf("%s/figures", r.staging);
    r.prev_figdir = pw_xasprintf("%s/figures", o->outdir);
    if (pw_mkdir_p(r.figdir) != PW_OK) {
        fprintf(stderr, "perfweave: cannot create %s: %s\n", r.figdir, strerror(errno));
        status = PW_EIO;
        goto out;
    }
    json_t *all = results_document(&r);
    char *text = json_dumps(all, JSON_INDENT(1));
    pw_buf jb = {text, strlen(text), strlen(text) + 1};
    status = write_staged(&r, "results.json", &jb);
    free(text);
    if (status != PW_OK) {
        json_decref(all);
        goto out;
    }
    /* Fresh measurements are archived (never overwritten); a render from cache adds nothing. */
    if (o->archive_root && r.measured) {
        char *path = NULL;
        if (pw_archive_write(o->archive_root, all, &path) == PW_OK) {
            if (o->progress) fprintf(stderr, "perfweave: archived this run as %s\n", path);
        } else {
            fprintf(stderr, "perfweave: warning: cannot archive this run under %s\n", o->archive_root);
        }
        free(path);
    }
    json_decref(all);
    build_special_blocks(&r);
    if ((status = render_charts(&r)) != PW_OK) goto out;
    install_custom_nodes(&r);
    if (o->latex || o->pdf) {
        if ((status = render_latex(&r, &tex)) != PW_OK) goto out;
        if ((status = write_staged(&r, "report.tex", &tex)) != PW_OK) goto out;
    }
    bool pdf_ok = false;
    if (o->pdf) pdf_ok = run_pdflatex(&r) == 0;
    if (o->html) {
        if ((status = render_html(&r, &html)) != PW_OK) goto out;
        if ((status = write_staged(&r, "report.html", &html)) != PW_OK) goto out;
    }
    if (pw_isolate_interrupted()) {
        fprintf(stderr, "perfweave: interrupted while rendering; the previous report is untouched\n");
        status = PW_EINTR;
        goto out;
    }
    if ((status = publish(&r, pdf_ok)) != PW_OK) goto out;
    if (o->progress) {
        size_t counts[5];
        size_t total = pw_render_count_verdicts(r.chapters, r.nchapters, counts);
        size_t ndirectives = 0;
        for (size_t c = 0; c < r.nchapters; c++) ndirectives += r.chapters[c]->ndirectives;
        fprintf(stderr, "perfweave: %zu experiments: %zu measured, %zu from cache or replay\n", ndirectives,
                r.measured, ndirectives - r.measured);
        fprintf(stderr, "perfweave: wrote %s/%s%s%s — %zu claims: %zu PASS, %zu PARTIAL, %zu FAIL, %zu UNDECIDED, %zu ERROR\n",
                o->outdir, o->html ? "report.html " : "", o->latex ? "report.tex " : "", pdf_ok ? "report.pdf" : "",
                total, counts[0], counts[1], counts[2], counts[3], counts[4]);
    }
    if (r.failed) status = PW_ECHILD;
out:
    if (r.staging) remove_tree(r.staging);
    for (size_t c = 0; c < r.nchapters; c++) pw_chapter_free(r.chapters[c]);
    free(r.chapters);
    pw_diag_release(&r.diag);
    json_decref(r.environment);
    json_decref(r.replay);
    json_decref(r.env_warnings);
    json_decref(r.environment_after);
    for (size_t k = 0; k < r.nspecials; k++) {
        free(r.specials[k].metric);
        free(r.specials[k].caption);
        free(r.specials[k].stem);
        free(r.specials[k].empty);
        json_decref(r.specials[k].object);
    }
    free(r.specials);
    pw_cache_free(r.cache);
    free(r.fingerprint);
    free(r.started);
    free(r.staging);
    free(r.figdir);
    free(r.prev_figdir);
    free(r.stamp);
    pw_buf_release(&html);
    pw_buf_release(&tex);
    return status;
}
