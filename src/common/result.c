/* result.c — the result document an experiment fills and the weave renders (see result.h).
 * Tables, charts and series handed out to callers are the JSON objects themselves, behind
 * opaque pointer types; they live as long as the result's document. */
#include "perfweave/result.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"

struct pw_result {
    json_t *doc;
};

/* A JSON number, or null for NaN/inf (JSON has neither). */
static json_t *jnum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static double num_or_nan(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *member(json_t *obj, const char *key, json_t *(*make)(void))
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        v = make();
        json_object_set_new(obj, key, v);
    }
    return v;
}

pw_result *pw_result_new(const char *experiment, const char *id)
{
    pw_result *r = pw_xcalloc(1, sizeof *r);
    r->doc = json_pack("{s:i, s:s, s:s, s:s, s:{}}", "schema", PW_RESULT_SCHEMA,
                       "experiment", experiment, "id", id ? id : experiment, "status", "ok",
                       "metrics");
    return r;
}

pw_result *pw_result_from_json(json_t *doc, const char **err)
{
    const char *why = NULL;
    if (!json_is_object(doc)) why = "result is not a JSON object";
    else if (json_integer_value(json_object_get(doc, "schema")) != PW_RESULT_SCHEMA)
        why = "result has an unknown schema version";
    else if (!json_is_string(json_object_get(doc, "experiment")) ||
             !json_is_string(json_object_get(doc, "id")))
        why = "result lacks its experiment or id";
    else if (!json_is_object(json_object_get(doc, "metrics")))
        why = "result lacks its metrics";
    if (why) {
        if (err) *err = why;
        return NULL;
    }
    pw_result *r = pw_xcalloc(1, sizeof *r);
    r->doc = json_incref(doc);
    return r;
}

void pw_result_free(pw_result *r)
{
    if (!r) return;
    json_decref(r->doc);
    free(r);
}

json_t *pw_result_json(const pw_result *r)
{
    return r->doc;
}

const char *pw_result_experiment(const pw_result *r)
{
    return json_string_value(json_object_get(r->doc, "experiment"));
}

const char *pw_result_id(const pw_result *r)
{
    return json_string_value(json_object_get(r->doc, "id"));
}

void pw_result_error(pw_result *r, const char *fmt, ...)
{
    pw_buf b;
    va_list ap;
    pw_buf_init(&b);
    va_start(ap, fmt);
    pw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    json_object_set_new(r->doc, "status", json_string("error"));
    json_object_set_new(r->doc, "error", json_string(b.data));
    pw_buf_release(&b);
}

bool pw_result_failed(const pw_result *r)
{
    const char *s = json_string_value(json_object_get(r->doc, "status"));
    return !s || strcmp(s, "ok") != 0;
}

const char *pw_result_error_reason(const pw_result *r)
{
    if (!pw_result_failed(r)) return NULL;
    const char *s = json_string_value(json_object_get(r->doc, "error"));
    return s ? s : "unknown error";
}

int pw_result_metric(pw_result *r, const char *name, double value, double lo, double hi,
                     const char *unit)
{
    if (!isfinite(value) || !isfinite(lo) || !isfinite(hi) || lo > value || value > hi)
        return PW_EINVAL;
    json_t *m = json_pack("{s:f, s:[f,f], s:s}", "value", value, "ci95", lo, hi, "unit",
                          unit ? unit : "");
    json_object_set_new(json_object_get(r->doc, "metrics"), name, m);
    return PW_OK;
}

int pw_result_exact(pw_result *r, const char *name, double value, const char *unit)
{
    return pw_result_metric(r, name, value, value, value, unit);
}

int pw_result_metric_basis(pw_result *r, const char *name, double n, double cv)
{
    json_t *m = json_object_get(json_object_get(r->doc, "metrics"), name);
    if (!m) return PW_ENOTFOUND;
    json_object_set_new(m, "n", jnum(n));
    json_object_set_new(m, "cv", jnum(cv));
    return PW_OK;
}

int pw_result_metric_basis_from(pw_result *r, const char *name, const char *from, double cv_scale)
{
    json_t *metrics = json_object_get(r->doc, "metrics");
    json_t *m = json_object_get(metrics, name), *src = json_object_get(metrics, from);
    if (!m || !src) return PW_ENOTFOUND;
    json_t *n = json_object_get(src, "n"), *fixed = json_object_get(src, "fixed_sample");
    if (json_is_number(n)) {
        json_object_set_new(m, "n", json_real(json_number_value(n)));
        json_object_set_new(m, "cv", jnum(cv_scale * num_or_nan(json_object_get(src, "cv"))));
    }
    if (json_is_string(fixed)) json_object_set(m, "fixed_sample", fixed);
    return pw_result_metric_inherit(r, name, from);
}

/* Sets metric name's member key to the formatted sentence. */
static int metric_sentence(pw_result *r, const char *name, const char *key, const char *fmt, va_list ap)
{
    json_t *m = json_object_get(json_object_get(r->doc, "metrics"), name);
    if (!m) return PW_ENOTFOUND;
    pw_buf b;
    pw_buf_init(&b);
    pw_buf_vprintf(&b, fmt, ap);
    json_object_set_new(m, key, json_string(b.data));
    pw_buf_release(&b);
    return PW_OK;
}

int pw_result_metric_fixed_sample(pw_result *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int status = metric_sentence(r, name, "fixed_sample", fmt, ap);
    va_end(ap);
    return status;
}

int pw_result_metric_undecidable(pw_result *r, const char *name, const char *why,
                                 const char *fmt, ...)
{
    json_t *m = json_object_get(json_object_get(r->doc, "metrics"), name);
    if (!m) return PW_ENOTFOUND;
    if (!why || !*why) return PW_EINVAL;
    pw_buf b;
    va_list ap;
    pw_buf_init(&b);
    va_start(ap, fmt);
    pw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    json_object_set_new(m, "undecidable", json_pack("{s:s, s:s}", "why", why, "reason", b.data));
    pw_buf_release(&b);
    return PW_OK;
}

int pw_result_metric_inherit(pw_result *r, const char *name, const char *from)
{
    json_t *metrics = json_object_get(r->doc, "metrics");
    json_t *m = json_object_get(metrics, name), *src = json_object_get(metrics, from);
    if (!m || !src) return PW_ENOTFOUND;
    json_t *und = json_object_get(src, "undecidable");
    if (und && m != src) json_object_set(m, "undecidable", und);
    return PW_OK;
}

void pw_result_set_disturbed(pw_result *r, const char *fmt, ...)
{
    pw_buf b;
    va_list ap;
    pw_buf_init(&b);
    va_start(ap, fmt);
    pw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    json_object_set_new(r->doc, "disturbed", json_string(b.data));
    pw_buf_release(&b);
}

const char *pw_result_disturbed(const pw_result *r)
{
    return json_string_value(json_object_get(r->doc, "disturbed"));
}

static int fill_metric(const char *name, json_t *m, pw_metric *out)
{
    json_t *ci = json_object_get(m, "ci95");
    out->name = name;
    out->value = num_or_nan(json_object_get(m, "value"));
    out->lo = num_or_nan(json_array_get(ci, 0));
    out->hi = num_or_nan(json_array_get(ci, 1));
    out->unit = json_string_value(json_object_get(m, "unit"));
    if (!out->unit) out->unit = "";
    json_t *n = json_object_get(m, "n");
    out->n = json_is_number(n) ? json_number_value(n) : 0;
    out->cv = num_or_nan(json_object_get(m, "cv"));
    json_t *und = json_object_get(m, "undecidable");
    out->undecidable_why = json_string_value(json_object_get(und, "why"));
    out->undecidable_reason = out->undecidable_why ? json_string_value(json_object_get(und, "reason")) : NULL;
    if (out->undecidable_why && !out->undecidable_reason) out->undecidable_reason = out->undecidable_why;
    out->fixed_sample = json_string_value(json_object_get(m, "fixed_sample"));
    out->method = json_string_value(json_object_get(m, "method"));
    return isfinite(out->value) ? PW_OK : PW_EINVAL;
}

int pw_result_get_metric(const pw_result *r, const char *name, pw_metric *out)
{
    json_t *metrics = json_object_get(r->doc, "metrics");
    /* Return the key stored in the document so the name outlives the caller's string. */
    void *it = json_object_iter_at(metrics, name);
    if (!it) return PW_ENOTFOUND;
    return fill_metric(json_object_iter_key(it), json_object_iter_value(it), out);
}

size_t pw_result_metric_count(const pw_result *r)
{
    return json_object_size(json_object_get(r->doc, "metrics"));
}

int pw_result_metric_at(const pw_result *r, size_t i, pw_metric *out)
{
    json_t *metrics = json_object_get(r->doc, "metrics");
    size_t k = 0;
    for (void *it = json_object_iter(metrics); it; it = json_object_iter_next(metrics, it), k++)
        if (k == i) return fill_metric(json_object_iter_key(it), json_object_iter_value(it), out);
    return PW_ENOTFOUND;
}

void pw_result_samples(pw_result *r, const char *name, const double *x, size_t n)
{
    json_t *all = member(r->doc, "samples", json_object);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, jnum(x[i]));
    json_object_set_new(all, name, arr);
}

static void append_text(pw_result *r, const char *key, const char *fmt, va_list ap)
{
    pw_buf b;
    pw_buf_init(&b);
    pw_buf_vprintf(&b, fmt, ap);
    json_array_append_new(member(r->doc, key, json_array), json_string(b.data));
    pw_buf_release(&b);
}

void pw_result_note(pw_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append_text(r, "notes", fmt, ap);
    va_end(ap);
}

void pw_result_warning(pw_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append_text(r, "warnings", fmt, ap);
    va_end(ap);
}

void pw_result_set_extra(pw_result *r, const char *key, json_t *value)
{
    json_object_set_new(member(r->doc, "extra", json_object), key, value);
}

int pw_result_metric_method(pw_result *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int status = metric_sentence(r, name, "method", fmt, ap);
    va_end(ap);
    return status;
}

void pw_result_bench_set(pw_result *r, const pw_bench_set_info *set,
                         const pw_bench_timing_info *timings, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:I, s:o, s:o}", "name", timings[i].name,
                                              "n", (json_int_t)timings[i].n, "cv", jnum(timings[i].cv),
                                              "rel_ci", jnum(timings[i].rel_ci)));
    json_t *s = json_pack("{s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "rounds",
                          (json_int_t)set->rounds, "variants", (json_int_t)n, "stop",
                          set->stop ? set->stop : "unknown", "target", jnum(set->target),
                          "budget_s", jnum(set->budget_s), "cv_limit", jnum(set->cv_limit),
                          "resolution_s", jnum(set->resolution_s), "overhead_s",
                          jnum(set->overhead_s), "timings", list);
    json_array_append_new(member(r->doc, "bench_sets", json_array), s);
}

pw_table *pw_result_table(pw_result *r, const char *name, const char *caption, size_t ncols,
                          const char *const *headers)
{
    json_t *cols = json_array();
    for (size_t i = 0; i < ncols; i++) json_array_append_new(cols, json_string(headers[i]));
    json_t *t = json_pack("{s:s, s:s, s:o, s:[]}", "name", name, "caption", caption ? caption : "",
                          "columns", cols, "rows");
    json_array_append_new(member(r->doc, "tables", json_array), t);
    return (pw_table *)t;
}

void pw_table_row(pw_table *t, const char *const *cells)
{
    json_t *tj = (json_t *)t;
    size_t ncols = json_array_size(json_object_get(tj, "columns"));
    json_t *row = json_array();
    for (size_t i = 0; i < ncols; i++) json_array_append_new(row, json_string(cells[i] ? cells[i] : ""));
    json_array_append_new(json_object_get(tj, "rows"), row);
}

void pw_table_rowf(pw_table *t, const char *fmt, ...)
{
    json_t *tj = (json_t *)t;
    size_t ncols = json_array_size(json_object_get(tj, "columns"));
    pw_buf b;
    va_list ap;
    pw_buf_init(&b);
    va_start(ap, fmt);
    pw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    json_t *row = json_array();
    char *s = b.data;
    for (size_t i = 0; i < ncols; i++) {
        char *tab = s ? strchr(s, '\t') : NULL;
        if (tab) *tab = '\0';
        json_array_append_new(row, json_string(s ? s : ""));
        s = tab ? tab + 1 : NULL;
    }
    json_array_append_new(json_object_get(tj, "rows"), row);
    pw_buf_release(&b);
}

pw_chart *pw_result_chart(pw_result *r, const char *name, const char *caption, const char *xlabel,
                          const char *ylabel, unsigned flags)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:[], s:[], s:[]}", "name", name,
                          "caption", caption ? caption : "", "xlabel", xlabel ? xlabel : "",
                          "ylabel", ylabel ? ylabel : "", "logx", (flags & PW_CHART_LOGX) != 0,
                          "logy", (flags & PW_CHART_LOGY) != 0, "bars", (flags & PW_CHART_BARS) != 0,
                          "series", "hlines", "vlines");
    if (flags & PW_CHART_INTX) json_object_set_new(c, "intx", json_true());
    json_array_append_new(member(r->doc, "charts", json_array), c);
    return (pw_chart *)c;
}

pw_series *pw_chart_series(pw_chart *c, const char *label)
{
    json_t *s = json_pack("{s:s, s:[], s:[], s:[], s:[]}", "label", label, "x", "y", "lo", "hi");
    json_array_append_new(json_object_get((json_t *)c, "series"), s);
    return (pw_series *)s;
}

void pw_series_point(pw_series *s, double x, double y, double lo, double hi)
{
    json_t *sj = (json_t *)s;
    json_array_append_new(json_object_get(sj, "x"), jnum(x));
    json_array_append_new(json_object_get(sj, "y"), jnum(y));
    json_array_append_new(json_object_get(sj, "lo"), jnum(lo));
    json_array_append_new(json_object_get(sj, "hi"), jnum(hi));
}

void pw_chart_hline(pw_chart *c, const char *label, double y)
{
    json_array_append_new(json_object_get((json_t *)c, "hlines"),
                          json_pack("{s:s, s:o}", "label", label, "y", jnum(y)));
}

void pw_chart_vline(pw_chart *c, const char *label, double x)
{
    json_array_append_new(json_object_get((json_t *)c, "vlines"),
                          json_pack("{s:s, s:o}", "label", label, "x", jnum(x)));
}

json_t *pw_json_load_file(const char *path, size_t flags, json_error_t *err)
{
    size_t len = 0;
    char *text = pw_read_file(path, &len);
    if (!text) {
        if (err) {
            memset(err, 0, sizeof *err);
            err->line = err->column = -1;
            snprintf(err->source, sizeof err->source, "%s", path);
            snprintf(err->text, sizeof err->text, "unable to open %s: %s", path, strerror(errno));
        }
        return NULL;
    }
    json_t *doc = json_loadb(text, len, flags, err);
    if (!doc && err) snprintf(err->source, sizeof err->source, "%s", path);
    free(text);
    return doc;
}
