/* matrix.c — the hardware matrix: archived runs from several machines side by side, one column
 * per run and one row per metric, for the report to render (see store.h). */
#include "perfweave/store.h"

#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/env.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool matches(const char *glob, const char *full, const char *metric)
{
    if (!glob || !*glob || strcmp(glob, "*") == 0) return true;
    return fnmatch(glob, full, 0) == 0 || fnmatch(glob, metric, 0) == 0;
}

json_t *pw_archive_matrix(json_t *const *runs, size_t n, const char *metric_glob)
{
    json_t *columns = json_array();
    json_t *table = json_object();  /* "id.metric" → { unit, cells[n] } */
    for (size_t c = 0; c < n; c++) {
        bool valid = pw_archive_validate(runs[c], NULL, 0) == PW_OK;
        json_t *summary = valid ? pw_archive_summary(runs[c]) : NULL;
        const json_t *env = json_object_get(runs[c], "environment");
        const char *host = valid ? json_string_value(json_object_get(summary, "host")) : "invalid run";
        const char *cpu = json_string_value(json_object_get(json_object_get(env, "cpu"), "model"));
        json_array_append_new(columns, json_pack("{s:s, s:s, s:s, s:s, s:s}", "label", host,
                                                 "host", host, "started",
                                                 valid ? json_string_value(json_object_get(summary, "started")) : "",
                                                 "cpu", cpu ? cpu : "unknown", "commit",
                                                 valid ? json_string_value(json_object_get(summary, "commit")) : ""));
        json_t *stamp = summary ? json_incref(json_object_get(summary, "stamp")) : json_string("");
        json_object_set_new(json_array_get(columns, c), "stamp", stamp);
        json_decref(summary);
        if (!valid) continue;
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(runs[c], "results"), i, r) {
            const char *id = json_string_value(json_object_get(r, "id"));
            const char *name;
            json_t *m;
            json_object_foreach(json_object_get(r, "metrics"), name, m) {
                char *full = pw_xasprintf("%s.%s", id, name);
                if (!matches(metric_glob, full, name)) {
                    free(full);
                    continue;
                }
                json_t *rowj = json_object_get(table, full);
                if (!rowj) {
                    const char *unit = json_string_value(json_object_get(m, "unit"));
                    json_t *cells = json_array();
                    for (size_t k = 0; k < n; k++) json_array_append_new(cells, json_null());
                    rowj = json_pack("{s:s, s:s, s:o}", "metric", full, "unit", unit ? unit : "",
                                     "cells", cells);
                    json_object_set_new(table, full, rowj);
                }
                json_t *ci = json_object_get(m, "ci95");
                json_t *value = json_object_get(m, "value");
                json_t *cell = json_pack("{s:O, s:O, s:O}", "value", value ? value : json_null(),
                                         "lo", json_is_array(ci) ? json_array_get(ci, 0) : value,
                                         "hi", json_is_array(ci) ? json_array_get(ci, 1) : value);
                if (cell) json_array_set_new(json_object_get(rowj, "cells"), c, cell);
                free(full);
            }
        }
    }
    /* A host that appears in several columns is told apart by its stamp. */
    size_t c;
    json_t *col;
    json_array_foreach(columns, c, col) {
        const char *host = json_string_value(json_object_get(col, "host"));
        size_t same = 0, k;
        json_t *other;
        json_array_foreach(columns, k, other)
            if (strcmp(host, json_string_value(json_object_get(other, "host"))) == 0) same++;
        if (same > 1)
            json_object_set_new(col, "label", json_sprintf("%s (%s)", host,
                                                           json_string_value(json_object_get(col, "stamp"))));
    }
    size_t nrows = json_object_size(table), k = 0;
    const char **keys = pw_xcalloc(nrows ? nrows : 1, sizeof *keys);
    const char *key;
    json_t *v;
    json_object_foreach(table, key, v) keys[k++] = key;
    qsort(keys, nrows, sizeof *keys, cmp_str);
    json_t *rows = json_array();
    for (k = 0; k < nrows; k++) json_array_append(rows, json_object_get(table, keys[k]));
    free(keys);
    json_decref(table);
    return json_pack("{s:o, s:o}", "columns", columns, "rows", rows);
}

/* --- one column per kind of hardware -------------------------------------------------------- */

/* Sorted, without repeats: an array of strings. */
static json_t *sorted_strings(const json_t *arr)
{
    size_t n = json_array_size(arr), k = 0;
    const char **s = pw_xcalloc(n ? n : 1, sizeof *s);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_is_string(v)) s[k++] = json_string_value(v);
    qsort(s, k, sizeof *s, cmp_str);
    json_t *out = json_array();
    for (i = 0; i < k; i++)
        if (i == 0 || strcmp(s[i], s[i - 1]) != 0) json_array_append_new(out, json_string(s[i]));
    free(s);
    return out;
}

/* What every record has, old or new: "cpu_model|isa (sorted)|cores|memory|".  An environment
 * without the CPUID description joins the column whose key this is.  Caller frees. */
static char *common_key(const json_t *hw)
{
    pw_buf b;
    pw_buf_init(&b);
    static const char *const parts[] = {"cpu_model", "isa", "cores_online", "memory_gib"};
    for (size_t i = 0; i < 4; i++) {
        const json_t *v = json_object_get(hw, parts[i]);
        json_t *sorted = json_is_array(v) ? sorted_strings(v) : NULL;
        char *t = json_dumps(sorted ? sorted : v, JSON_ENCODE_ANY | JSON_COMPACT);
        pw_buf_printf(&b, "%s|", t ? t : "?");
        free(t);
        json_decref(sorted);
    }
    return pw_buf_detach(&b);
}

/* Flattens the software side of an environment into dotted paths → scalar JSON text: everything
 * except what identifies the hardware, what changes between two captures on one machine, the
 * Slurm job and the commit (listed on its own). */
static void software_flatten(json_t *out, const char *prefix, const json_t *v)
{
    static const char *const skip[] = {"schema", "captured", "host", "load", "cpu", "hypervisor",
                                       "memory_bytes", "slurm", "perfweave.commit",
                                       "kernel.machine", NULL};
    if (json_is_object(v)) {
        const char *key;
        json_t *m;
        json_object_foreach((json_t *)v, key, m) {
            char *path = *prefix ? pw_xasprintf("%s.%s", prefix, key) : pw_xstrdup(key);
            bool skipped = false;
            for (size_t i = 0; skip[i]; i++)
                if (strcmp(path, skip[i]) == 0) skipped = true;
            if (!skipped) software_flatten(out, path, m);
            free(path);
        }
        return;
    }
    if (!*prefix) return;
    char *t = json_is_string(v) ? pw_xstrdup(json_string_value(v))
                                : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_object_set_new(out, prefix, json_string(t ? t : "?"));
    free(t);
}

/* Appends s to the array of strings arr unless present. */
static void add_unique(json_t *arr, const char *s)
{
    if (!s || !*s) return;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (strcmp(json_string_value(v), s) == 0) return;
    json_array_append_new(arr, json_string(s));
}

static void sort_array(json_t *obj, const char *key)
{
    json_object_set_new(obj, key, sorted_strings(json_object_get(obj, key)));
}

/* One measured result and where it was measured. */
typedef struct {
    size_t run;
    const json_t *result, *env;
    json_t *hw;
    char *full, *partial;
    size_t col;
} entry;

/* The partition a result was measured in, when it records one. */
static const char *partition_of(const json_t *result, const json_t *env)
{
    const char *p = json_string_value(json_object_get(json_object_get(env, "slurm"), "partition"));
    if (!p) p = json_string_value(json_object_get(json_object_get(json_object_get(result, "run"), "slurm"), "partition"));
    return p;
}

static size_t column_for(json_t *columns, entry *e, const char *key)
{
    size_t c;
    json_t *col;
    json_array_foreach(columns, c, col)
        if (strcmp(json_string_value(json_object_get(col, "key")), key) == 0) return c;
    json_array_append_new(columns, json_pack("{s:s, s:O, s:[], s:[], s:[], s:[], s:{}}", "key", key,
                                             "hardware", e->hw, "hosts", "partitions", "runs",
                                             "commits", "software_seen"));
    return json_array_size(columns) - 1;
}

/* "Intel Xeon … · 2 cores · 24 GiB"; caller frees. */
static char *column_label(const json_t *hw)
{
    const char *cpu = json_string_value(json_object_get(hw, "cpu_model"));
    pw_buf b;
    pw_buf_init(&b);
    pw_buf_puts(&b, cpu ? cpu : "unknown CPU");
    json_t *cores = json_object_get(hw, "cores_online"), *gib = json_object_get(hw, "memory_gib");
    if (json_is_integer(cores))
        pw_buf_printf(&b, " · %lld core%s", (long long)json_integer_value(cores),
                      json_integer_value(cores) == 1 ? "" : "s");
    if (json_is_integer(gib)) pw_buf_printf(&b, " · %lld GiB", (long long)json_integer_value(gib));
    return pw_buf_detach(&b);
}

/* What a label gains when it reads like another's: round 0 the CPUID identity and the number of
 * instruction sets, round 1 the rest of the hardware identity (threads per core, hypervisor,
 * last-level cache, architecture).  Appends to b. */
static void label_detail(pw_buf *b, const json_t *hw, int round)
{
    if (round == 0) {
        if (!pw_env_hardware_is_legacy(hw))
            pw_buf_printf(b, " · family %lld model %lld stepping %lld",
                          (long long)json_integer_value(json_object_get(hw, "cpu_family")),
                          (long long)json_integer_value(json_object_get(hw, "cpu_model_number")),
                          (long long)json_integer_value(json_object_get(hw, "cpu_stepping")));
        else pw_buf_puts(b, " · CPUID not recorded");
        pw_buf_printf(b, " · %zu instruction sets", json_array_size(json_object_get(hw, "isa")));
        return;
    }
    json_t *tpc = json_object_get(hw, "threads_per_core");
    if (json_is_integer(tpc))
        pw_buf_printf(b, " · %lld thread%s per core", (long long)json_integer_value(tpc),
                      json_integer_value(tpc) == 1 ? "" : "s");
    json_t *hv = json_object_get(hw, "hypervisor");
    const char *hvv = json_string_value(json_object_get(hw, "hypervisor_vendor"));
    if (json_is_true(hv)) pw_buf_printf(b, " · under a hypervisor%s%s", hvv ? " " : "", hvv ? hvv : "");
    else if (json_is_false(hv)) pw_buf_puts(b, " · no hypervisor");
    json_t *l3 = json_object_get(json_object_get(hw, "caches"), "l3");
    if (json_is_integer(l3)) pw_buf_printf(b, " · L3 %lld KiB", (long long)(json_integer_value(l3) >> 10));
    const char *arch = json_string_value(json_object_get(hw, "machine"));
    if (arch) pw_buf_printf(b, " · %s", arch);
}

/* Labels that would read the same get what tells them apart, in two rounds (label_detail). */
static void label_columns(json_t *columns)
{
    size_t c, k;
    json_t *col, *other;
    json_array_foreach(columns, c, col) {
        char *label = column_label(json_object_get(col, "hardware"));
        json_object_set_new(col, "label", json_string(label));
        free(label);
    }
    for (int round = 0; round < 2; round++) {
        json_array_foreach(columns, c, col) {
            const char *label = json_string_value(json_object_get(col, "label"));
            size_t same = 0;
            json_array_foreach(columns, k, other)
                if (strcmp(label, json_string_value(json_object_get(other, "label"))) == 0) same++;
            if (same < 2) continue;
            pw_buf b;
            pw_buf_init(&b);
            pw_buf_puts(&b, label);
            label_detail(&b, json_object_get(col, "hardware"), round);
            json_object_set_new(col, "label_next", json_string(b.data));
            pw_buf_release(&b);
        }
        json_array_foreach(columns, c, col) {
            json_t *next = json_object_get(col, "label_next");
            if (next) {
                json_object_set(col, "label", next);
                json_object_del(col, "label_next");
            }
        }
    }
}

/* Fills a column's "software" (paths whose values differed between its results' environments)
 * and "software_differs" from the per-path value lists gathered in "software_seen". */
static void software_differences(json_t *col)
{
    json_t *seen = json_object_get(col, "software_seen");
    json_t *diffs = json_array();
    const char *path;
    json_t *values;
    size_t nkeys = json_object_size(seen), k = 0;
    const char **keys = pw_xcalloc(nkeys ? nkeys : 1, sizeof *keys);
    json_object_foreach(seen, path, values) keys[k++] = path;
    qsort(keys, nkeys, sizeof *keys, cmp_str);
    size_t nenv = (size_t)json_integer_value(json_object_get(col, "environments"));
    for (k = 0; k < nkeys; k++) {
        values = json_object_get(seen, keys[k]);
        /* A path missing from some environments differs too (an older record, another build). */
        size_t present = (size_t)json_integer_value(json_object_get(values, "present"));
        json_t *list = json_object_get(values, "values");
        if (json_array_size(list) > 1 || present < nenv)
            json_array_append_new(diffs, json_pack("{s:s, s:O}", "field", keys[k], "values", list));
    }
    free(keys);
    json_object_set_new(col, "software_differs", json_boolean(json_array_size(diffs) > 0));
    json_object_set_new(col, "software", diffs);
    json_object_del(col, "software_seen");
    json_object_del(col, "environments");
}

json_t *pw_archive_matrix_hardware(json_t *const *runs, size_t n, const char *metric_glob)
{
    json_t *columns = json_array(), *skipped = json_array();
    size_t nentries = 0, cap = 16;
    entry *es = pw_xcalloc(cap, sizeof *es);
    char **stamps = pw_xcalloc(n ? n : 1, sizeof *stamps);
    /* 1. Every result of every valid run, with the environment that measured it. */
    for (size_t r = 0; r < n; r++) {
        char why[256];
        if (pw_archive_validate(runs[r], why, sizeof why) != PW_OK) {
            json_array_append_new(skipped, json_pack("{s:I, s:s}", "index", (json_int_t)r, "why", why));
            continue;
        }
        json_t *summary = pw_archive_summary(runs[r]);
        stamps[r] = pw_xstrdup(json_string_value(json_object_get(summary, "stamp")));
        json_decref(summary);
        const json_t *run_env = json_object_get(runs[r], "environment");
        size_t i;
        json_t *res;
        json_array_foreach(json_object_get(runs[r], "results"), i, res) {
            /* An ERROR measured nothing: it names no machine of the matrix. */
            const char *status = json_string_value(json_object_get(res, "status"));
            if (!status || strcmp(status, "ok") != 0) continue;
            const json_t *env = json_object_get(res, "environment");
            if (!json_is_object(env)) env = run_env;
            if (nentries == cap) es = pw_xrealloc(es, (cap *= 2) * sizeof *es);
            entry *e = &es[nentries++];
            e->run = r;
            e->result = res;
            e->env = env;
            e->hw = pw_env_hardware(env);
            e->full = pw_env_hardware_hash(env);
            e->partial = common_key(e->hw);
        }
    }
    /* 2. Columns: environments with a CPUID description by their full identity; older ones join
     *    the one column whose common part matches, or get their own. */
    for (size_t k = 0; k < nentries; k++) {
        if (pw_env_hardware_is_legacy(es[k].hw)) continue;
        es[k].col = column_for(columns, &es[k], es[k].full);
        json_object_set_new(json_array_get(columns, es[k].col), "partial", json_string(es[k].partial));
    }
    for (size_t k = 0; k < nentries; k++) {
        if (!pw_env_hardware_is_legacy(es[k].hw)) continue;
        size_t match = SIZE_MAX, hits = 0, c;
        json_t *col;
        json_array_foreach(columns, c, col) {
            const char *p = json_string_value(json_object_get(col, "partial"));
            if (p && strcmp(p, es[k].partial) == 0) match = c, hits++;
        }
        es[k].col = hits == 1 ? match : column_for(columns, &es[k], es[k].partial);
    }
    /* Columns in the order their machines first appear in the runs. */
    size_t ncol0 = json_array_size(columns);
    size_t *first = pw_xcalloc(ncol0 ? ncol0 : 1, sizeof *first), *order = pw_xcalloc(ncol0 ? ncol0 : 1, sizeof *order);
    for (size_t c = 0; c < ncol0; c++) first[c] = SIZE_MAX;
    for (size_t k = 0; k < nentries; k++)
        if (first[es[k].col] == SIZE_MAX) first[es[k].col] = k;
    for (size_t c = 0; c < ncol0; c++) order[c] = c;
    for (size_t a = 1; a < ncol0; a++)  /* insertion sort by first appearance: few columns */
        for (size_t b = a; b > 0 && first[order[b]] < first[order[b - 1]]; b--) {
            size_t t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    json_t *ordered = json_array();
    size_t *newpos = pw_xcalloc(ncol0 ? ncol0 : 1, sizeof *newpos);
    for (size_t c = 0; c < ncol0; c++) {
        json_array_append(ordered, json_array_get(columns, order[c]));
        newpos[order[c]] = c;
    }
    for (size_t k = 0; k < nentries; k++) es[k].col = newpos[es[k].col];
    json_decref(columns);
    columns = ordered;
    free(first);
    free(order);
    free(newpos);
    /* 3. What each column holds: hosts, partitions, runs, commits, software. */
    for (size_t k = 0; k < nentries; k++) {
        json_t *col = json_array_get(columns, es[k].col);
        add_unique(json_object_get(col, "hosts"), json_string_value(json_object_get(es[k].env, "host")));
        add_unique(json_object_get(col, "partitions"), partition_of(es[k].result, es[k].env));
        add_unique(json_object_get(col, "runs"), stamps[es[k].run]);
        add_unique(json_object_get(col, "commits"),
                   json_string_value(json_object_get(json_object_get(es[k].env, "perfweave"), "commit")));
        /* Each distinct environment counts once (a run's results usually share one). */
        bool repeat = false;
        for (size_t j = 0; j < k && !repeat; j++)
            if (es[j].col == es[k].col && json_equal((json_t *)es[j].env, (json_t *)es[k].env)) repeat = true;
        if (repeat) continue;
        json_object_set_new(col, "environments",
                            json_integer(json_integer_value(json_object_get(col, "environments")) + 1));
        json_t *flat = json_object();
        software_flatten(flat, "", es[k].env);
        json_t *seen = json_object_get(col, "software_seen");
        const char *path;
        json_t *v;
        json_object_foreach(flat, path, v) {
            json_t *slot = json_object_get(seen, path);
            if (!slot) {
                slot = json_pack("{s:[], s:i}", "values", "present", 0);
                json_object_set_new(seen, path, slot);
            }
            json_object_set_new(slot, "present", json_integer(json_integer_value(json_object_get(slot, "present")) + 1));
            add_unique(json_object_get(slot, "values"), json_string_value(v));
        }
        json_decref(flat);
    }
    size_t c;
    json_t *col;
    json_array_foreach(columns, c, col) {
        software_differences(col);
        sort_array(col, "hosts");
        sort_array(col, "partitions");
        json_object_del(col, "key");
        json_object_del(col, "partial");
    }
    label_columns(columns);
    /* 4. Rows: for each matching metric, the newest value of each column (later runs win). */
    size_t ncols = json_array_size(columns);
    json_t *table = json_object();
    for (size_t k = 0; k < nentries; k++) {
        const char *id = json_string_value(json_object_get(es[k].result, "id"));
        const char *name;
        json_t *m;
        json_object_foreach(json_object_get(es[k].result, "metrics"), name, m) {
            char *full = pw_xasprintf("%s.%s", id, name);
            if (!matches(metric_glob, full, name)) {
                free(full);
                continue;
            }
            json_t *rowj = json_object_get(table, full);
            if (!rowj) {
                const char *unit = json_string_value(json_object_get(m, "unit"));
                json_t *cells = json_array();
                for (size_t j = 0; j < ncols; j++) json_array_append_new(cells, json_null());
                rowj = json_pack("{s:s, s:s, s:o}", "metric", full, "unit", unit ? unit : "", "cells", cells);
                json_object_set_new(table, full, rowj);
            }
            json_t *ci = json_object_get(m, "ci95");
            json_t *value = json_object_get(m, "value");
            const char *host = json_string_value(json_object_get(es[k].env, "host"));
            const char *part = partition_of(es[k].result, es[k].env);
            json_t *cell = json_pack("{s:O, s:O, s:O, s:s, s:s}", "value", value ? value : json_null(),
                                     "lo", json_is_array(ci) ? json_array_get(ci, 0) : value,
                                     "hi", json_is_array(ci) ? json_array_get(ci, 1) : value,
                                     "run", stamps[es[k].run], "host", host ? host : "unknown");
            if (cell && part) json_object_set_new(cell, "partition", json_string(part));
            if (cell) json_array_set_new(json_object_get(rowj, "cells"), es[k].col, cell);
            free(full);
        }
    }
    size_t nrows = json_object_size(table), k = 0;
    const char **keys = pw_xcalloc(nrows ? nrows : 1, sizeof *keys);
    const char *key;
    json_t *v;
    json_object_foreach(table, key, v) keys[k++] = key;
    qsort(keys, nrows, sizeof *keys, cmp_str);
    json_t *rows = json_array();
    for (k = 0; k < nrows; k++) json_array_append(rows, json_object_get(table, keys[k]));
    free(keys);
    json_decref(table);
    for (k = 0; k < nentries; k++) {
        json_decref(es[k].hw);
        free(es[k].full);
        free(es[k].partial);
    }
    free(es);
    for (size_t r = 0; r < n; r++) free(stamps[r]);
    free(stamps);
    return json_pack("{s:o, s:o, s:o}", "columns", columns, "rows", rows, "skipped", skipped);
}
