/* stats.c — summaries, two-sample tests, bootstrap ratios, Holm, power and scaling fits on GSL
 * (see stats.h).  GSL does the arithmetic; this file adds the guards GSL leaves to its callers
 * (n >= 2, finite input, 0 <= f <= 1, sorted copies) and the resampling loops. */
#include "perfweave/stats.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_fit.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"

static int all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* A sorted copy of x (caller frees). */
static double *sorted_copy(const double *x, size_t n)
{
    double *s = pw_xmalloc(n * sizeof *s);
    memcpy(s, x, n * sizeof *s);
    gsl_sort(s, 1, n);
    return s;
}

/* A Mersenne Twister seeded with seed; GSL treats seed 0 as its default seed, so mix it. */
static gsl_rng *rng_new(uint64_t seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) abort(); /* out of memory, as pw_xmalloc */
    unsigned long s = (unsigned long)(seed ^ (seed >> 32)) ^ 0x9e3779b9UL;
    gsl_rng_set(r, s);
    return r;
}

/* The median of n values drawn with replacement from x, using buf (n doubles) as scratch. */
static double resampled_median(const gsl_rng *r, const double *x, size_t n, double *buf)
{
    for (size_t i = 0; i < n; i++) buf[i] = x[gsl_rng_uniform_int(r, n)];
    return gsl_stats_median(buf, 1, n); /* reorders buf (quickselect), which is scratch */
}

/* Lower and upper percentile-bootstrap bounds from the sorted statistics. */
static void percentile_bounds(const double *sorted, size_t b, double level, double ci[2])
{
    double tail = (1.0 - level) / 2.0;
    ci[0] = gsl_stats_quantile_from_sorted_data(sorted, 1, b, tail);
    ci[1] = gsl_stats_quantile_from_sorted_data(sorted, 1, b, 1.0 - tail);
}

int pw_stats_median_ci_bootstrap(const double *x, size_t n, uint64_t seed, size_t resamples,
                                 double level, double ci[2])
{
    if (!x || n < 2 || resamples < 10 || !(level > 0 && level < 1) || !all_finite(x, n))
        return PW_EINVAL;
    gsl_rng *r = rng_new(seed);
    double *buf = pw_xmalloc(n * sizeof *buf);
    double *stat = pw_xmalloc(resamples * sizeof *stat);
    for (size_t b = 0; b < resamples; b++) stat[b] = resampled_median(r, x, n, buf);
    gsl_sort(stat, 1, resamples);
    percentile_bounds(stat, resamples, level, ci);
    free(stat);
    free(buf);
    gsl_rng_free(r);
    return PW_OK;
}

int pw_stats_median_ci_order(const double *sorted, size_t n, double level, double ci[2])
{
    if (!sorted || n < 1 || !(level > 0 && level < 1)) return PW_EINVAL;
    /* Distribution-free interval [x_(j), x_(n+1-j)] (1-based): the largest j with
     * P(Binomial(n, 1/2) <= j - 1) <= (1 - level) / 2 covers the median with >= level. */
    double tail = (1.0 - level) / 2.0;
    /* j = 1 + the largest k < n/2 with P(X <= k) <= tail (the CDF grows with k).  Start from the
     * normal approximation and step to the exact answer: a few CDF evaluations instead of n/2,
     * which matters to the bench loop that recomputes this every round. */
    size_t half = n / 2;
    double guess = (double)n / 2 - 1 + gsl_cdf_ugaussian_Pinv(tail) * sqrt((double)n) / 2;
    size_t j = guess > 0 ? (size_t)guess : 0;
    if (j > half) j = half;
    while (j > 0 && gsl_cdf_binomial_P((unsigned)(j - 1), 0.5, (unsigned)n) > tail) j--;
    while (j + 1 <= half && gsl_cdf_binomial_P((unsigned)j, 0.5, (unsigned)n) <= tail) j++;
    if (j == 0) return PW_ERANGE; /* too few values for this level */
    ci[0] = sorted[j - 1];
    ci[1] = sorted[n - j];
    return PW_OK;
}

int pw_stats_summarize(const double *x, size_t n, uint64_t seed, pw_summary *out)
{
    if (!x || !out || n < 2 || !all_finite(x, n)) return PW_EINVAL;
    pw_summary s;
    memset(&s, 0, sizeof s);
    double *sorted = sorted_copy(x, n);
    double *work = pw_xmalloc(n * sizeof *work);
    s.n = n;
    s.mean = gsl_stats_mean(sorted, 1, n);
    s.sd = gsl_stats_sd_m(sorted, 1, n, s.mean);
    s.median = gsl_stats_median_from_sorted_data(sorted, 1, n);
    s.mad = gsl_stats_mad(sorted, 1, n, work);
    s.min = sorted[0];
    s.max = sorted[n - 1];
    s.q1 = gsl_stats_quantile_from_sorted_data(sorted, 1, n, 0.25);
    s.q3 = gsl_stats_quantile_from_sorted_data(sorted, 1, n, 0.75);
    s.cv = s.mean != 0 ? s.sd / fabs(s.mean) : NAN;
    double half = gsl_cdf_tdist_Pinv(0.975, (double)(n - 1)) * s.sd / sqrt((double)n);
    s.ci95_mean[0] = s.mean - half;
    s.ci95_mean[1] = s.mean + half;
    int rc = pw_stats_median_ci_bootstrap(sorted, n, seed, PW_STATS_BOOTSTRAP, 0.95, s.ci95_median);
    if (rc != PW_OK) goto out;
    /* A percentile interval of a discrete statistic can miss the estimate by a hair; keep it in. */
    if (s.ci95_median[0] > s.median) s.ci95_median[0] = s.median;
    if (s.ci95_median[1] < s.median) s.ci95_median[1] = s.median;
    double iqr = s.q3 - s.q1;
    for (size_t i = 0; i < n; i++) {
        double v = sorted[i];
        if (v < s.q1 - 3 * iqr || v > s.q3 + 3 * iqr) s.outliers_severe++;
        else if (v < s.q1 - 1.5 * iqr || v > s.q3 + 1.5 * iqr) s.outliers_mild++;
    }
    *out = s;
out:
    free(work);
    free(sorted);
    return rc;
}

int pw_stats_welch(const double *a, size_t na, const double *b, size_t nb, pw_welch *out)
{
    if (!a || !b || !out || na < 2 || nb < 2 || !all_finite(a, na) || !all_finite(b, nb))
        return PW_EINVAL;
    double ma = gsl_stats_mean(a, 1, na), mb = gsl_stats_mean(b, 1, nb);
    double va = gsl_stats_variance_m(a, 1, na, ma), vb = gsl_stats_variance_m(b, 1, nb, mb);
    double ea = va / (double)na, eb = vb / (double)nb, se2 = ea + eb;
    pw_welch w;
    w.diff = ma - mb;
    if (se2 > 0) {
        double se = sqrt(se2);
        w.t = w.diff / se;
        w.df = se2 * se2 / (ea * ea / (double)(na - 1) + eb * eb / (double)(nb - 1));
        w.p = 2 * gsl_cdf_tdist_Q(fabs(w.t), w.df);
        if (w.p > 1) w.p = 1;
        double half = gsl_cdf_tdist_Pinv(0.975, w.df) * se;
        w.diff_ci95[0] = w.diff - half;
        w.diff_ci95[1] = w.diff + half;
    } else {
        /* Both samples constant: the difference is known exactly. */
        w.df = (double)(na + nb - 2);
        w.t = w.diff == 0 ? 0 : copysign(INFINITY, w.diff);
        w.p = w.diff == 0 ? 1 : 0;
        w.diff_ci95[0] = w.diff_ci95[1] = w.diff;
    }
    *out = w;
    return PW_OK;
}

int pw_stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                          pw_mann_whitney *out)
{
    if (!a || !b || !out || na < 1 || nb < 1 || !all_finite(a, na) || !all_finite(b, nb))
        return PW_EINVAL;
    size_t n = na + nb;
    double *all = pw_xmalloc(n * sizeof *all);
    size_t *idx = pw_xmalloc(n * sizeof *idx);
    memcpy(all, a, na * sizeof *all);
    memcpy(all + na, b, nb * sizeof *all);
    gsl_sort_index(idx, all, 1, n);
    /* Midranks for ties; ties also shrink the variance by sum(t^3 - t) / (N (N - 1)). */
    double rank_sum_a = 0, tie_term = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && all[idx[j + 1]] == all[idx[i]]) j++;
        double midrank = (double)(i + j) / 2.0 + 1.0, t = (double)(j - i + 1);
        for (size_t k = i; k <= j; k++)
            if (idx[k] < na) rank_sum_a += midrank;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    double dna = (double)na, dnb = (double)nb, dn = (double)n;
    pw_mann_whitney m;
    m.u = rank_sum_a - dna * (dna + 1) / 2;
    double mu = dna * dnb / 2;
    double var = dna * dnb / 12 * ((dn + 1) - (n > 1 ? tie_term / (dn * (dn - 1)) : 0));
    if (var > 0) {
        double d = m.u - mu;
        double corr = d > 0 ? 0.5 : d < 0 ? -0.5 : 0;  /* continuity correction, toward mu */
        m.z = (d - corr) / sqrt(var);
        double lower = gsl_cdf_ugaussian_P(m.z), upper = gsl_cdf_ugaussian_Q(m.z);
        m.p = 2 * (lower < upper ? lower : upper);
        if (m.p > 1) m.p = 1;
    } else {
        m.z = 0;
        m.p = 1;
    }
    *out = m;
    free(idx);
    free(all);
    return PW_OK;
}

int pw_stats_ratio_median(const double *a, size_t na, const double *b, size_t nb, uint64_t seed,
                          double level, double *ratio, double ci[2])
{
    if (!a || !b || !ratio || !ci || na < 2 || nb < 2 || !(level > 0 && level < 1) ||
        !all_finite(a, na) || !all_finite(b, nb))
        return PW_EINVAL;
    double *sa = sorted_copy(a, na), *sb = sorted_copy(b, nb);
    double ma = gsl_stats_median_from_sorted_data(sa, 1, na);
    double mb = gsl_stats_median_from_sorted_data(sb, 1, nb);
    int rc = PW_EINVAL;
    double *bufa = NULL, *bufb = NULL, *stat = NULL;
    gsl_rng *r = NULL;
    if (mb == 0) goto out;
    bufa = pw_xmalloc(na * sizeof *bufa);
    bufb = pw_xmalloc(nb * sizeof *bufb);
    stat = pw_xmalloc(PW_STATS_BOOTSTRAP * sizeof *stat);
    r = rng_new(seed);
    for (size_t k = 0; k < PW_STATS_BOOTSTRAP; k++) {
        double ra = resampled_median(r, sa, na, bufa), rb = resampled_median(r, sb, nb, bufb);
        stat[k] = ra / rb; /* ±inf when a resampled median of b is 0: sorts to an end */
    }
    gsl_sort(stat, 1, PW_STATS_BOOTSTRAP);
    *ratio = ma / mb;
    percentile_bounds(stat, PW_STATS_BOOTSTRAP, level, ci);
    if (ci[0] > *ratio) ci[0] = *ratio;
    if (ci[1] < *ratio) ci[1] = *ratio;
    rc = PW_OK;
out:
    gsl_rng_free(r);
    free(stat);
    free(bufb);
    free(bufa);
    free(sb);
    free(sa);
    return rc;
}

int pw_stats_holm(const double *p, size_t m, double *adj)
{
    if (!p || !adj || m == 0) return PW_EINVAL;
    for (size_t i = 0; i < m; i++)
        if (!(p[i] >= 0 && p[i] <= 1)) return PW_EINVAL;
    size_t *order = pw_xmalloc(m * sizeof *order);
    gsl_sort_index(order, p, 1, m);
    double running = 0;
    for (size_t k = 0; k < m; k++) {
        double v = (double)(m - k) * p[order[k]];
        if (v > 1) v = 1;
        if (v > running) running = v; /* step-down: adjusted p never decreases */
        adj[order[k]] = running;
    }
    free(order);
    return PW_OK;
}

double pw_stats_mde(double cv, size_t n, double alpha, double power)
{
    if (!(cv >= 0) || !isfinite(cv) || n < 2 || !(alpha > 0 && alpha < 1) ||
        !(power > 0 && power < 1))
        return NAN;
    double z = gsl_cdf_ugaussian_Pinv(1 - alpha / 2) + gsl_cdf_ugaussian_Pinv(power);
    return z * sqrt(2.0) * cv / sqrt((double)n);
}

int pw_stats_powerfit(const double *x, const double *y, size_t n, pw_powerfit *out)
{
    if (!x || !y || !out || n < 3) return PW_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || !isfinite(y[i]) || x[i] <= 0 || y[i] <= 0) return PW_EINVAL;
    double *lx = pw_xmalloc(n * sizeof *lx), *ly = pw_xmalloc(n * sizeof *ly);
    for (size_t i = 0; i < n; i++) {
        lx[i] = log(x[i]);
        ly[i] = log(y[i]);
    }
    int rc = PW_EINVAL;
    double c0, c1, cov00, cov01, cov11, sumsq;
    /* All x equal: the slope is undefined. */
    if (gsl_stats_tss(lx, 1, n) <= 0) goto out;
    if (gsl_fit_linear(lx, 1, ly, 1, n, &c0, &c1, &cov00, &cov01, &cov11, &sumsq) != 0) goto out;
    double tss = gsl_stats_tss(ly, 1, n);
    double half = gsl_cdf_tdist_Pinv(0.975, (double)(n - 2)) * sqrt(cov11 > 0 ? cov11 : 0);
    out->exponent = c1;
    out->ci95[0] = c1 - half;
    out->ci95[1] = c1 + half;
    out->log_c = c0;
    /* Constant y fitted exactly (slope 0): nothing was left unexplained. */
    out->r2 = tss > 0 ? 1 - sumsq / tss : 1;
    if (out->r2 < 0) out->r2 = 0;
    rc = PW_OK;
out:
    free(ly);
    free(lx);
    return rc;
}

typedef struct {
    const char *name;
    int needs_log; /* f involves log x: only defined (positive) for x > 1 */
    double (*f)(double);
} growth;

static double g_one(double x) { (void)x; return 1; }
static double g_log(double x) { return log(x); }
static double g_lin(double x) { return x; }
static double g_nlog(double x) { return x * log(x); }
static double g_sq(double x) { return x * x; }
static double g_cube(double x) { return x * x * x; }

static const growth classes[] = {
    {"1", 0, g_one},     {"log n", 1, g_log}, {"n", 0, g_lin},
    {"n log n", 1, g_nlog}, {"n^2", 0, g_sq},  {"n^3", 0, g_cube},
};

int pw_stats_crossover(const double *v, const double *lo, const double *hi, size_t n, double t,
                       int below, size_t *first, size_t *est, size_t *sure)
{
    if (n == 0) return PW_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!(lo[i] <= v[i] && v[i] <= hi[i])) return PW_EINVAL;
    /* Scanning back from the largest size, each index moves down while its condition holds. */
    size_t f = n, e = n, s = n;
    for (size_t i = n; i-- > 0;) {
        int far = below ? lo[i] < t : hi[i] > t;   /* beyond t is possible */
        int mid = below ? v[i] < t : v[i] > t;     /* beyond t by the estimate */
        int near = below ? hi[i] < t : lo[i] > t;  /* beyond t for certain */
        if (far && f == i + 1) f = i;
        if (mid && e == i + 1) e = i;
        if (near && s == i + 1) s = i;
    }
    *first = f, *est = e, *sure = s;
    return PW_OK;
}

const char *pw_stats_complexity_class(const double *x, const double *y, size_t n)
{
    if (!x || !y || n < 2) return "unknown";
    int all_above_one = 1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]) || x[i] <= 0 || y[i] <= 0) return "unknown";
        if (x[i] <= 1) all_above_one = 0;
    }
    double *d = pw_xmalloc(n * sizeof *d);
    const char *best = "unknown";
    double best_rss = INFINITY;
    for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++) {
        if (classes[k].needs_log && !all_above_one) continue;
        /* log y = log c + log f(x): the best log c is the mean of the differences, and the
         * residual sum of squares is their total sum of squares about that mean. */
        for (size_t i = 0; i < n; i++) d[i] = log(y[i]) - log(classes[k].f(x[i]));
        double rss = gsl_stats_tss(d, 1, n);
        if (rss < best_rss) {
            best_rss = rss;
            best = classes[k].name;
        }
    }
    free(d);
    return best;
}

static json_t *jnum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *pw_stats_summary_json(const pw_summary *s)
{
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:[o,o], s:[o,o], "
                     "s:{s:I, s:I}}",
                     "n", (json_int_t)s->n, "mean", jnum(s->mean), "sd", jnum(s->sd), "median",
                     jnum(s->median), "mad", jnum(s->mad), "min", jnum(s->min), "max",
                     jnum(s->max), "q1", jnum(s->q1), "q3", jnum(s->q3), "cv", jnum(s->cv),
                     "ci95_mean", jnum(s->ci95_mean[0]), jnum(s->ci95_mean[1]), "ci95_median",
                     jnum(s->ci95_median[0]), jnum(s->ci95_median[1]), "outliers", "mild",
                     (json_int_t)s->outliers_mild, "severe", (json_int_t)s->outliers_severe);
}

int pw_stats_read_numbers(FILE *in, const char *name, double **x, size_t *n, char *msg,
                          size_t msgsize)
{
    char *line = NULL;
    size_t linecap = 0, count = 0, cap = 0, lineno = 0;
    double *v = NULL;
    ssize_t len;
    int rc = PW_OK;
    if (msg && msgsize) msg[0] = '\0';
    while ((len = getline(&line, &linecap, in)) >= 0) {
        lineno++;
        char *p = line, *end;
        while (*p == ' ' || *p == '\t') p++;
        size_t k = strlen(p);
        while (k && (p[k - 1] == '\n' || p[k - 1] == '\r' || p[k - 1] == ' ' || p[k - 1] == '\t'))
            p[--k] = '\0';
        if (k == 0) continue;
        double d = strtod(p, &end);
        if (end == p || *end) {
            if (msg) snprintf(msg, msgsize, "%s:%zu: not a number: '%.40s'", name, lineno, p);
            rc = PW_EINVAL;
            goto out;
        }
        if (!isfinite(d)) {
            if (msg) snprintf(msg, msgsize, "%s:%zu: not a finite number: '%.40s'", name, lineno, p);
            rc = PW_EINVAL;
            goto out;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 256;
            v = pw_xrealloc(v, cap * sizeof *v);
        }
        v[count++] = d;
    }
    if (ferror(in)) {
        if (msg) snprintf(msg, msgsize, "%s: read error", name);
        rc = PW_EIO;
        goto out;
    }
    if (count == 0) {
        if (msg) snprintf(msg, msgsize, "%s: no numbers", name);
        rc = PW_EINVAL;
        goto out;
    }
out:
    free(line);
    if (rc != PW_OK) {
        free(v);
        return rc;
    }
    *x = v;
    *n = count;
    return PW_OK;
}
