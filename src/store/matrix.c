/* matrix.c — the hardware matrix: archived runs from several machines side by side, one column
 * per run and one row per metric, for the report to render (see store.h). */
#include "perfweave/store.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"

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
