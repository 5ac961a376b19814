/* special.c — the history and matrix blocks: a metric across the archived runs (a chart) and
 * across kinds of machine (a table, one column per kind of hardware), built from
 * validation_results/. */
#include "report_internal.h"

#include "perfweave/exec.h"

#include <stdlib.h>
#include <string.h>

/* Loads every archived run (oldest first); *n receives the count.  The caller decrefs each. */
static json_t **load_archive(const pw_report *r, size_t *n)
{
    json_t **runs = NULL;
    *n = 0;
    if (r->opt->archive_root) (void)pw_archive_load_runs(r->opt->archive_root, &runs, n);
    /* A run document holds every result the run rendered, also those it took from the cache:
     * each measurement belongs to the run that made it, not to every later run that reused it
     * (a history would show one measurement as several runs that agree).  Documents written
     * before results recorded their source keep every result. */
    for (size_t i = 0; i < *n; i++) {
        json_t *results = json_object_get(runs[i], "results");
        for (size_t k = json_array_size(results); k-- > 0;) {
            json_t *res = json_array_get(results, k);
            const char *source = json_string_value(json_object_get(json_object_get(res, "run"), "source"));
            pw_result *wrapped = source ? pw_result_from_json(res, NULL) : NULL;
            if (wrapped && !pw_exec_measured_now(wrapped)) json_array_remove(results, k);
            pw_result_free(wrapped);
        }
    }
    return runs;
}

/* "a, b, c" from an array of strings, or NULL when it is empty; caller frees. */
static char *joined(const json_t *arr)
{
    if (!json_array_size(arr)) return NULL;
    pw_buf b;
    pw_buf_init(&b);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) pw_buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(v));
    return pw_buf_detach(&b);
}

/* The matrix block: one column per kind of hardware among every archived run
 * (pw_archive_matrix_hardware), a first row saying which hosts (and Slurm partitions) each column
 * holds, a † on a column whose runs had different software, and notes naming those differences
 * and any run left out. */
static void matrix_block(special_block *sb, json_t *const *runs, size_t nruns)
{
    json_t *m = pw_archive_matrix_hardware(runs, nruns, sb->metric);
    json_t *cols = json_array(), *rows = json_array(), *where = json_array(), *notes = json_array();
    json_array_append_new(cols, json_string("metric"));
    json_array_append_new(where, json_string("measured on"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(m, "columns"), i, v) {
        bool differs = json_is_true(json_object_get(v, "software_differs"));
        const char *label = json_string_value(json_object_get(v, "label"));
        json_array_append_new(cols, json_sprintf("%s%s", label, differs ? " †" : ""));
        char *hosts = joined(json_object_get(v, "hosts"));
        char *parts = joined(json_object_get(v, "partitions"));
        size_t nparts = json_array_size(json_object_get(v, "partitions"));
        json_array_append_new(where, parts ? json_sprintf("%s (Slurm partition%s %s)", hosts ? hosts : "unknown host",
                                                          nparts > 1 ? "s" : "", parts)
                                           : json_string(hosts ? hosts : "unknown host"));
        free(hosts);
        free(parts);
        if (!differs) continue;
        pw_buf b;
        pw_buf_init(&b);
        pw_buf_printf(&b, "† %s: the software differed between its runs (the hardware did not): ", label);
        size_t k;
        json_t *f;
        json_array_foreach(json_object_get(v, "software"), k, f) {
            char *values = joined(json_object_get(f, "values"));
            pw_buf_printf(&b, "%s%s (%s)", k ? "; " : "", json_string_value(json_object_get(f, "field")),
                          values ? values : "missing in some");
            free(values);
        }
        json_array_append_new(notes, json_string(b.data));
        pw_buf_release(&b);
    }
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
    json_array_foreach(json_object_get(m, "skipped"), i, v)
        json_array_append_new(notes, json_sprintf("archived run %lld is not a valid run document and is left out: %s",
                                                  (long long)json_integer_value(json_object_get(v, "index")) + 1,
                                                  json_string_value(json_object_get(v, "why"))));
    if (json_array_size(rows)) {
        json_array_insert_new(rows, 0, where);
        char *caption = sb->caption ? pw_xstrdup(sb->caption)
                                    : pw_xasprintf("%s on every kind of machine in the archive (the newest value of each)", sb->metric);
        sb->object = json_pack("{s:s, s:s, s:o, s:o}", "name", "matrix", "caption", caption, "columns", cols, "rows", rows);
        free(caption);
        if (json_array_size(notes)) sb->notes = json_incref(notes);
    } else {
        json_decref(cols);
        json_decref(rows);
        json_decref(where);
        sb->empty = pw_xasprintf("No archived run has a metric matching %s.", sb->metric);
    }
    json_decref(notes);
    json_decref(m);
}

/* The metric name of a row of pw_archive_matrix. */
static const char *row_metric(const json_t *row)
{
    return json_string_value(json_object_get(row, "metric"));
}

/* qsort: rows of pw_archive_matrix by their metric names in natural order (strverscmp). */
static int by_metric_name(const void *a, const void *b)
{
    return strverscmp(row_metric(*(json_t *const *)a), row_metric(*(json_t *const *)b));
}

/* The length of the dotted prefix every row's metric name shares, in whole components and
 * leaving each name at least its last one: "accel-spectrum.speedup.packed_vs_library." for
 * ….n32 and ….n1024, so the legend says n32 and n1024 and the axis the rest. */
static size_t shared_prefix(json_t *const *rows, size_t n)
{
    if (n == 0) return 0;
    const char *first = row_metric(rows[0]), *dot = strrchr(first, '.');
    size_t len = dot ? (size_t)(dot - first) + 1 : 0;
    for (size_t i = 1; i < n; i++)
        while (len && strncmp(row_metric(rows[i]), first, len) != 0) {
            len--;
            while (len && first[len - 1] != '.') len--;
        }
    return len;
}

/* The chart of history block k: one series per matching metric (natural order, labelled by what
 * follows their shared prefix), x the position among the runs that measured one of them (runs
 * that measured none are left out), y labelled with the prefix and the unit they share, and the
 * block's reference lines. */
static void history_chart(special_block *sb, size_t k, json_t *const *runs, size_t nruns)
{
    json_t *m = pw_archive_matrix(runs, nruns, sb->metric);
    json_t *rows = json_object_get(m, "rows");
    size_t nrows = json_array_size(rows);
    if (nrows == 0) {
        sb->empty = pw_xasprintf("No archived run has a metric matching %s.", sb->metric);
        json_decref(m);
        return;
    }
    size_t i;
    json_t *row;
    size_t *x = pw_xcalloc(nruns ? nruns : 1, sizeof *x), plotted = 0;
    for (size_t j = 0; j < nruns; j++) {
        bool any = false;
        json_array_foreach(rows, i, row) any = any || json_is_object(json_array_get(json_object_get(row, "cells"), j));
        x[j] = any ? ++plotted : 0;
    }
    json_t **sorted = pw_xcalloc(nrows, sizeof *sorted);
    json_array_foreach(rows, i, row) sorted[i] = row;
    qsort(sorted, nrows, sizeof *sorted, by_metric_name);
    const char *unit = NULL;
    for (i = 0; i < nrows; i++) {
        const char *u = json_string_value(json_object_get(sorted[i], "unit"));
        unit = i == 0 ? u : (unit && u && strcmp(unit, u) == 0 ? unit : NULL);
    }
    size_t prefix = shared_prefix(sorted, nrows);
    pw_buf ylabel;
    pw_buf_init(&ylabel);
    if (prefix) pw_buf_put(&ylabel, row_metric(sorted[0]), prefix - 1);
    if (unit && *unit) pw_buf_printf(&ylabel, prefix ? " (%s)" : "%s", unit);
    if (!ylabel.len) pw_buf_puts(&ylabel, "value");

    pw_result *tmp = pw_result_new("history", "history");
    char *caption = sb->caption ? pw_xstrdup(sb->caption)
                                : pw_xasprintf("%s across %zu archived runs, oldest first", sb->metric, plotted);
    pw_chart *chart = pw_result_chart(tmp, "history", caption, "archived run (oldest first)", ylabel.data,
                                      PW_CHART_INTX);
    free(caption);
    pw_buf_release(&ylabel);
    json_t *line;
    json_array_foreach(sb->lines, i, line)
        pw_chart_hline(chart, json_string_value(json_object_get(line, "label")),
                       json_number_value(json_object_get(line, "y")));
    for (i = 0; i < nrows; i++) {
        pw_series *series = pw_chart_series(chart, row_metric(sorted[i]) + prefix);
        size_t j;
        json_t *cell;
        json_array_foreach(json_object_get(sorted[i], "cells"), j, cell) {
            if (!json_is_object(cell)) continue;
            pw_series_point(series, (double)x[j], json_number_value(json_object_get(cell, "value")),
                            json_number_value(json_object_get(cell, "lo")),
                            json_number_value(json_object_get(cell, "hi")));
        }
    }
    sb->object = json_incref(json_array_get(json_object_get(pw_result_json(tmp), "charts"), 0));
    sb->stem = pw_xasprintf("history-%zu", k + 1);
    pw_result_free(tmp);
    free(sorted);
    free(x);
    json_decref(m);
}

/* Builds the chart or table of each history/matrix block from the archive. */
void pw_report_build_specials(pw_report *r)
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
            history_chart(sb, k, runs, nruns);
        } else {
            matrix_block(sb, runs, nruns);
        }
    }
    for (size_t i = 0; i < nruns; i++) json_decref(runs[i]);
    free(runs);
}
