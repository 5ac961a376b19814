/* diff.c — compares two archived runs metric by metric: which way is better for each metric,
 * whether a change is statistically significant (Welch + Mann–Whitney on raw samples, or the
 * 95% intervals, Holm-corrected across all metrics) and whether it exceeds the noise threshold;
 * the rules are stated in store.h and docs/store.md. */
#include "perfweave/store.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/env.h"
#include "perfweave/stats.h"

/* Metric families (first dotted component) whose lower values are better, and higher. */
static const char *const lower_families[] = {
    "time", "times", "latency", "seconds", "duration", "ttft", "bytes", "memory", "mem",
    "footprint", "size", "peak", "rss", "error", "err", "loss", "mse", "rmse", "mae", "overhead",
    "cycles", "misses", "stall", "energy", NULL,
};
static const char *const higher_families[] = {
    "gflops", "flops", "gops", "speedup", "throughput", "rate", "bandwidth", "accuracy", "acc",
    "top1", "top5", "tokens_per_s", "tps", "efficiency", "hit_rate", "compression", "reduction",
    "savings", "f1", "precision", "recall", NULL,
};
static const char *const lower_units[] = {
    "s", "ms", "us", "\xc2\xb5s", "ns", "B", "KB", "kB", "KiB", "MB", "MiB", "GB", "GiB", "bytes",
    "cycles", NULL,
};

static bool in_list(const char *const *list, const char *s, size_t len)
{
    for (; *list; list++)
        if (strlen(*list) == len && strncmp(*list, s, len) == 0) return true;
    return false;
}

/* +1 / −1 when some prefix of family ending at '_' (or the whole family) is in a table. */
static int family_direction(const char *family, size_t len)
{
    if (in_list(higher_families, family, len)) return 1;
    if (in_list(lower_families, family, len)) return -1;
    for (size_t k = len; k > 0; k--) {
        if (family[k - 1] != '_') continue;
        if (in_list(higher_families, family, k - 1)) return 1;
        if (in_list(lower_families, family, k - 1)) return -1;
    }
    return 0;
}

int pw_metric_direction(const char *metric, const char *unit)
{
    if (metric) {
        const char *name = strncmp(metric, "samples:", 8) == 0 ? metric + 8 : metric;
        int d = family_direction(name, strcspn(name, "."));
        if (d) return d;
    }
    if (unit && *unit) {
        size_t n = strlen(unit);
        if (in_list(lower_units, unit, n)) return -1;
        if (n >= 2 && strcmp(unit + n - 2, "/s") == 0) return 1;
        if (strcmp(unit, "\xc3\x97") == 0 || strcmp(unit, "x") == 0) return 1;
    }
    return 0;
}

void pw_diff_options_default(pw_diff_options *opt)
{
    opt->threshold = 0.02;
    opt->alpha = 0.05;
}

/* The occurrence-th (from 0) result with this id in a run's results, or NULL.  Ids should be
 * unique; when one repeats, the k-th occurrence in one run is matched with the k-th in the
 * other. */
static json_t *find_result(const json_t *run, const char *id, size_t occurrence)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(run, "results"), i, r) {
        const char *rid = json_string_value(json_object_get(r, "id"));
        if (rid && strcmp(rid, id) == 0 && occurrence-- == 0) return r;
    }
    return NULL;
}

/* How many results before position pos in run have this id. */
static size_t occurrence_of(const json_t *run, const char *id, size_t pos)
{
    size_t k = 0;
    for (size_t i = 0; i < pos; i++) {
        const char *rid = json_string_value(json_object_get(json_array_get(json_object_get(run, "results"), i), "id"));
        if (rid && strcmp(rid, id) == 0) k++;
    }
    return k;
}

static bool result_ok(const json_t *r)
{
    const char *s = json_string_value(json_object_get(r, "status"));
    return s && strcmp(s, "ok") == 0;
}

/* A result's raw samples under name as a new array (caller frees) when there are at least two
 * and all are finite numbers; NULL otherwise. */
static double *samples_of(const json_t *r, const char *name, size_t *n)
{
    json_t *arr = json_object_get(json_object_get(r, "samples"), name);
    size_t m = json_array_size(arr);
    if (m < 2) return NULL;
    double *x = pw_xmalloc(m * sizeof *x);
    for (size_t i = 0; i < m; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            free(x);
            return NULL;
        }
        x[i] = json_number_value(v);
    }
    *n = m;
    return x;
}

static double median_of(const double *x, size_t n)
{
    double *s = pw_xmalloc(n * sizeof *s);
    memcpy(s, x, n * sizeof *s);
    gsl_sort(s, 1, n);
    double m = gsl_stats_median_from_sorted_data(s, 1, n);
    free(s);
    return m;
}

/* Two-sided p of a difference in location between samples a and b: the larger of the Welch and
 * Mann–Whitney p-values (both tests must agree).  NAN when neither applies. */
static double samples_p(const double *a, size_t na, const double *b, size_t nb)
{
    pw_welch w;
    pw_mann_whitney u;
    bool hw = pw_stats_welch(a, na, b, nb, &w) == PW_OK && isfinite(w.p);
    bool hu = pw_stats_mann_whitney(a, na, b, nb, &u) == PW_OK && isfinite(u.p);
    if (hw && hu) return fmax(w.p, u.p);
    if (hu) return u.p;
    if (hw) return w.p;
    return NAN;
}

/* Two-sided p of a difference between two estimates known by their 95% intervals: normal
 * approximation, standard error = half-width / z(0.975), on log scale when everything is
 * positive (ratios, times, rates are skewed).  Both intervals of zero width (exact values):
 * 0 when the values differ, 1 when equal; *exact reports that case. */
static double interval_p(double va, double loa, double hia, double vb, double lob, double hib,
                         bool *exact)
{
    const double z975 = gsl_cdf_ugaussian_Pinv(0.975);
    *exact = loa == hia && lob == hib;
    if (*exact) return va == vb ? 1.0 : 0.0;
    double xa = va, xb = vb, sa = (hia - loa) / (2 * z975), sb = (hib - lob) / (2 * z975);
    if (loa > 0 && lob > 0 && va > 0 && vb > 0) {
        xa = log(va), xb = log(vb);
        sa = (log(hia) - log(loa)) / (2 * z975);
        sb = (log(hib) - log(lob)) / (2 * z975);
    }
    double se = sqrt(sa * sa + sb * sb);
    if (!(se > 0)) return xa == xb ? 1.0 : 0.0;
    return 2 * gsl_cdf_ugaussian_Q(fabs(xa - xb) / se);
}

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* One comparison row; p is filled later for Holm. */
static json_t *row(const char *id, const char *metric, const char *unit, int dir, double a,
                   double b, const char *method, double p)
{
    double change = a != 0 ? b / a - 1 : (b == a ? 0 : NAN);
    return json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:s, s:o}", "id", id, "metric", metric,
                     "unit", unit, "direction", dir, "a", num(a), "b", num(b), "change",
                     num(change), "method", method, "p", num(p));
}

/* Compares every metric and sample series of two results that both ran. */
static void compare_results(const char *id, const json_t *ra, const json_t *rb, json_t *rows,
                            json_t *only_a, json_t *only_b)
{
    json_t *ma = json_object_get(ra, "metrics"), *mb = json_object_get(rb, "metrics");
    const char *name;
    json_t *a;
    json_object_foreach(ma, name, a) {
        json_t *b = json_object_get(mb, name);
        if (!b) {
            json_array_append_new(only_a, json_sprintf("%s.%s", id, name));
            continue;
        }
        const char *ua = json_string_value(json_object_get(a, "unit"));
        const char *ub = json_string_value(json_object_get(b, "unit"));
        ua = ua ? ua : "";
        ub = ub ? ub : "";
        double va = json_number_value(json_object_get(a, "value"));
        double vb = json_number_value(json_object_get(b, "value"));
        json_t *ca = json_object_get(a, "ci95"), *cb = json_object_get(b, "ci95");
        double loa = json_number_value(json_array_get(ca, 0)), hia = json_number_value(json_array_get(ca, 1));
        double lob = json_number_value(json_array_get(cb, 0)), hib = json_number_value(json_array_get(cb, 1));
        if (!json_is_array(ca)) loa = hia = va;
        if (!json_is_array(cb)) lob = hib = vb;
        int dir = pw_metric_direction(name, ub);
        if (strcmp(ua, ub) != 0) {
            json_t *r = row(id, name, ub, dir, va, vb, "unit", NAN);
            json_object_set_new(r, "status", json_string("incomparable"));
            json_object_set_new(r, "reason", json_sprintf("unit changed from '%s' to '%s'", ua, ub));
            json_array_append_new(rows, r);
            continue;
        }
        size_t na, nb;
        double *xa = samples_of(ra, name, &na), *xb = xa ? samples_of(rb, name, &nb) : NULL;
        double p = xa && xb ? samples_p(xa, na, xb, nb) : NAN;
        const char *method = "samples";
        if (!isfinite(p)) {
            bool exact;
            p = interval_p(va, loa, hia, vb, lob, hib, &exact);
            method = exact ? "exact" : "interval";
        }
        free(xa), free(xb);
        json_array_append_new(rows, row(id, name, ub, dir, va, vb, method, p));
    }
    json_object_foreach(mb, name, a)
        if (!json_object_get(ma, name)) json_array_append_new(only_b, json_sprintf("%s.%s", id, name));

    /* Raw sample series without a metric of the same name (e.g. pw_bench_record's seconds per
     * iteration): compared by their medians, taken as seconds unless the family says otherwise. */
    json_t *sa = json_object_get(ra, "samples");
    json_object_foreach(sa, name, a) {
        if (json_object_get(ma, name)) continue;
        size_t na, nb;
        double *xa = samples_of(ra, name, &na), *xb = xa ? samples_of(rb, name, &nb) : NULL;
        if (xa && xb) {
            double p = samples_p(xa, na, xb, nb);
            char *label = pw_xasprintf("samples:%s", name);
            if (isfinite(p))
                json_array_append_new(rows, row(id, label, "s", pw_metric_direction(label, "s"),
                                                median_of(xa, na), median_of(xb, nb), "samples", p));
            free(label);
        }
        free(xa), free(xb);
    }
}

int pw_archive_diff(const json_t *a, const json_t *b, const pw_diff_options *opt, json_t **out,
                    char *msg, size_t msgsize)
{
    *out = NULL;
    char why[256];
    if (pw_archive_validate(a, why, sizeof why) != PW_OK) {
        snprintf(msg, msgsize, "first run: %s", why);
        return PW_EINVAL;
    }
    if (pw_archive_validate(b, why, sizeof why) != PW_OK) {
        snprintf(msg, msgsize, "second run: %s", why);
        return PW_EINVAL;
    }
    pw_diff_options defaults;
    if (!opt) {
        pw_diff_options_default(&defaults);
        opt = &defaults;
    }
    json_t *rows = json_array(), *only_a = json_array(), *only_b = json_array();
    size_t i;
    json_t *ra;
    json_array_foreach(json_object_get(a, "results"), i, ra) {
        const char *id = json_string_value(json_object_get(ra, "id"));
        json_t *rb = find_result(b, id, occurrence_of(a, id, i));
        if (!rb) {
            const char *name;
            json_t *m;
            json_object_foreach(json_object_get(ra, "metrics"), name, m)
                json_array_append_new(only_a, json_sprintf("%s.%s", id, name));
            continue;
        }
        bool oka = result_ok(ra), okb = result_ok(rb);
        if (oka && okb) {
            compare_results(id, ra, rb, rows, only_a, only_b);
            continue;
        }
        const char *reason = json_string_value(json_object_get(rb, "error"));
        json_array_append_new(rows, json_pack("{s:s, s:n, s:s, s:i, s:s, s:s, s:n, s:n, s:s, s:s}",
                                              "id", id, "metric", "unit", "", "direction", 0,
                                              "a", oka ? "ok" : "error", "b", okb ? "ok" : "error",
                                              "change", "p", "method", "error", "status",
                                              oka ? "regression" : okb ? "improvement" : "same"));
        if (oka && reason)
            json_object_set_new(json_array_get(rows, json_array_size(rows) - 1), "reason",
                                json_string(reason));
    }
    json_t *rb;
    json_array_foreach(json_object_get(b, "results"), i, rb) {
        const char *id = json_string_value(json_object_get(rb, "id"));
        if (find_result(a, id, occurrence_of(b, id, i))) continue;
        const char *name;
        json_t *m;
        json_object_foreach(json_object_get(rb, "metrics"), name, m)
            json_array_append_new(only_b, json_sprintf("%s.%s", id, name));
    }

    /* Holm across every row that has a p-value. */
    size_t m = 0, nrows = json_array_size(rows);
    double *p = pw_xcalloc(nrows ? nrows : 1, sizeof *p), *adj = pw_xcalloc(nrows ? nrows : 1, sizeof *adj);
    size_t *at = pw_xcalloc(nrows ? nrows : 1, sizeof *at);
    json_t *r;
    json_array_foreach(rows, i, r) {
        json_t *pj = json_object_get(r, "p");
        if (json_is_number(pj)) {
            p[m] = fmin(1.0, fmax(0.0, json_number_value(pj)));
            at[m++] = i;
        }
    }
    if (m > 0 && pw_stats_holm(p, m, adj) != PW_OK) memcpy(adj, p, m * sizeof *adj);
    size_t regressions = 0, improvements = 0, changed = 0;
    for (size_t k = 0; k < m; k++) {
        r = json_array_get(rows, at[k]);
        json_object_set_new(r, "p_holm", json_real(adj[k]));
        json_t *cj = json_object_get(r, "change");
        double va = json_number_value(json_object_get(r, "a"));
        double vb = json_number_value(json_object_get(r, "b"));
        double change = json_is_number(cj) ? json_number_value(cj) : (vb > va ? INFINITY : -INFINITY);
        int dir = (int)json_integer_value(json_object_get(r, "direction"));
        const char *status = "same";
        if (adj[k] < opt->alpha && fabs(change) > opt->threshold) {
            if (dir == 0) status = "changed";
            else if ((change > 0) == (dir > 0)) status = "improvement";
            else status = "regression";
        }
        json_object_set_new(r, "status", json_string(status));
    }
    json_array_foreach(rows, i, r) {
        if (!json_object_get(r, "p_holm")) json_object_set_new(r, "p_holm", json_null());
        const char *st = json_string_value(json_object_get(r, "status"));
        if (strcmp(st, "regression") == 0) regressions++;
        else if (strcmp(st, "improvement") == 0) improvements++;
        else if (strcmp(st, "changed") == 0) changed++;
    }
    free(p), free(adj), free(at);
    /* The same machine is the same hardware (env.h's one definition); the software is compared
     * on its own, as only a stale-result question. */
    const json_t *ea = json_object_get(a, "environment"), *eb = json_object_get(b, "environment");
    char *ha = pw_env_hardware_hash(ea), *hb = pw_env_hardware_hash(eb);
    char *fa = pw_env_fingerprint_hash(ea), *fb = pw_env_fingerprint_hash(eb);
    bool same_machine = strcmp(ha, hb) == 0, same_software = same_machine && strcmp(fa, fb) == 0;
    free(ha), free(hb), free(fa), free(fb);
    *out = json_pack("{s:o, s:o, s:f, s:f, s:o, s:o, s:o, s:I, s:I, s:I}", "a", pw_archive_summary(a),
                     "b", pw_archive_summary(b), "threshold", opt->threshold, "alpha", opt->alpha,
                     "metrics", rows, "only_a", only_a, "only_b", only_b, "regressions",
                     (json_int_t)regressions, "improvements", (json_int_t)improvements, "changed",
                     (json_int_t)changed);
    json_object_set_new(*out, "same_machine", json_boolean(same_machine));
    json_object_set_new(*out, "same_software", json_boolean(same_software));
    return PW_OK;
}
