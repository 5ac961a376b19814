/* test_stats.c — the statistics core against independently computed references (NIST StRD, R,
 * exact hand computations), its guards, the bootstrap's reproducibility and coverage, and the
 * `stats` and `compare` commands. */
#include "support.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/cli/commands.h"
#include "perfweave/common.h"
#include "perfweave/stats.h"

#define SEED 12345

/* --- quantiles --------------------------------------------------------------------------- */

/* References from R 4.x: qt(0.975, 10) = 2.228138851986274, qt(0.975, 3) = 3.182446305284263,
 * qt(0.975, 1) = 12.70620473617471, qnorm(0.975) = 1.959963984540054,
 * qnorm(0.8) = 0.8416212335729143. */
static void test_quantiles(void **state)
{
    (void)state;
    assert_close(gsl_cdf_tdist_Pinv(0.975, 10), 2.228138851986274, 1e-12);
    assert_close(gsl_cdf_tdist_Pinv(0.975, 3), 3.182446305284263, 1e-12);
    assert_close(gsl_cdf_tdist_Pinv(0.975, 1), 12.70620473617471, 1e-12);
    assert_close(gsl_cdf_ugaussian_Pinv(0.975), 1.959963984540054, 1e-12);
    assert_close(gsl_cdf_ugaussian_Pinv(0.8), 0.8416212335729143, 1e-12);
    /* The mean's interval uses t: x = 1..11 has mean 6 and sd sqrt(11) (variance n(n+1)/12 = 11
     * for 1..n with n = 11), so the half-width is qt(0.975, 10) · sqrt(11) / sqrt(11). */
    double x[11];
    for (int i = 0; i < 11; i++) x[i] = i + 1;
    pw_summary s;
    assert_int_equal(pw_stats_summarize(x, 11, SEED, &s), PW_OK);
    assert_close(s.mean, 6, 1e-15);
    assert_close(s.sd, sqrt(11.0), 1e-14);
    assert_close(s.ci95_mean[0], 6 - 2.228138851986274, 1e-13);
    assert_close(s.ci95_mean[1], 6 + 2.228138851986274, 1e-13);
    assert_close(s.median, 6, 0);
    assert_close(s.min, 1, 0);
    assert_close(s.max, 11, 0);
    assert_close(s.q1, 3.5, 1e-15); /* R quantile(type 7): 1 + 0.25 · 10 = position 3.5 */
    assert_close(s.q3, 8.5, 1e-15);
    /* MAD: |x - 6| = 0..5 twice and 0 once → median 3, scaled by GSL's 1/qnorm(0.75) =
     * 1.482602218505602 (R rounds the constant: mad(1:11) = 4.4478). */
    assert_close(s.mad, 3 * 1.482602218505602, 1e-12);
    assert_close(s.mad, 4.4478, 1e-5);
    assert_close(s.cv, sqrt(11.0) / 6, 1e-14);
    assert_true(s.ci95_median[0] <= 6 && 6 <= s.ci95_median[1]);
}

/* --- NIST StRD univariate summary statistics ------------------------------------------------
 * https://www.itl.nist.gov/div898/strd/univ/ — certified values (mean, sample sd):
 *   NumAcc1: 10000001, 10000003, 10000002            mean 10000002     sd 1
 *   NumAcc2: 1.2, then 1.1, 1.3 alternating (1001)    mean 1.2          sd 0.1
 *   NumAcc3: 1000000.2, then 1000000.1, 1000000.3 …   mean 1000000.2    sd 0.1
 *   NumAcc4: 10000000.2, then 10000000.1, 10000000.3  mean 10000000.2   sd 0.1
 *   Michelso (100 values, below)                      mean 299.852400000000  sd 0.0790105478190518
 * The tolerances reflect that the decimal inputs are not exactly representable: NumAcc4's
 * values carry a representation error of ~1e-9, i.e. ~1e-8 relative to an sd of 0.1. */
static void numacc(double base, double step, double want_mean, double want_sd, double tol_sd)
{
    enum { N = 1001 };
    double *x = pw_xmalloc(N * sizeof *x);
    x[0] = base;
    for (int i = 1; i < N; i++) x[i] = (i % 2) ? base - step : base + step;
    pw_summary s;
    assert_int_equal(pw_stats_summarize(x, N, SEED, &s), PW_OK);
    assert_close(s.mean, want_mean, 1e-15);
    assert_close(s.sd, want_sd, tol_sd);
    free(x);
}

static void test_nist_numacc(void **state)
{
    (void)state;
    double a1[] = {10000001, 10000003, 10000002};
    pw_summary s;
    assert_int_equal(pw_stats_summarize(a1, 3, SEED, &s), PW_OK);
    assert_close(s.mean, 10000002, 0);
    assert_close(s.sd, 1, 1e-15);
    /* NumAcc2..4 are built with the representable nearest doubles of 1.1, 1.2, 1.3 etc. */
    numacc(1.2, 0.1, 1.2, 0.1, 1e-13);
    numacc(1000000.2, 0.1, 1000000.2, 0.1, 1e-9);
    numacc(10000000.2, 0.1, 10000000.2, 0.1, 1e-8);
}

static void test_nist_michelso(void **state)
{
    (void)state;
    static const double x[100] = {
        299.85, 299.74, 299.90, 300.07, 299.93, 299.85, 299.95, 299.98, 299.98, 299.88,
        300.00, 299.98, 299.93, 299.65, 299.76, 299.81, 300.00, 300.00, 299.96, 299.96,
        299.96, 299.94, 299.96, 299.94, 299.88, 299.80, 299.85, 299.88, 299.90, 299.84,
        299.83, 299.79, 299.81, 299.88, 299.88, 299.83, 299.80, 299.79, 299.76, 299.80,
        299.88, 299.88, 299.88, 299.86, 299.72, 299.62, 299.86, 299.97, 299.95, 299.88,
        299.91, 299.85, 299.87, 299.84, 299.84, 299.85, 299.84, 299.84, 299.84, 299.89,
        299.81, 299.81, 299.82, 299.80, 299.77, 299.76, 299.74, 299.75, 299.76, 299.91,
        299.92, 299.89, 299.86, 299.88, 299.72, 299.84, 299.85, 299.85, 299.78, 299.89,
        299.84, 299.78, 299.81, 299.76, 299.81, 299.79, 299.81, 299.82, 299.85, 299.87,
        299.87, 299.81, 299.74, 299.81, 299.94, 299.95, 299.80, 299.81, 299.87, 299.72,
    };
    pw_summary s;
    assert_int_equal(pw_stats_summarize(x, 100, SEED, &s), PW_OK);
    assert_close(s.mean, 299.852400000000, 1e-14);
    assert_close(s.sd, 0.0790105478190518, 1e-12);
}

/* --- guards ---------------------------------------------------------------------------------- */

static void test_guards(void **state)
{
    (void)state;
    pw_summary s;
    double one[] = {1.0}, bad[] = {1.0, NAN, 2.0}, inf[] = {1.0, INFINITY};
    assert_int_equal(pw_stats_summarize(one, 1, SEED, &s), PW_EINVAL);
    assert_int_equal(pw_stats_summarize(bad, 3, SEED, &s), PW_EINVAL);
    assert_int_equal(pw_stats_summarize(inf, 2, SEED, &s), PW_EINVAL);
    assert_int_equal(pw_stats_summarize(NULL, 2, SEED, &s), PW_EINVAL);
    pw_welch w;
    double ok[] = {1, 2, 3};
    assert_int_equal(pw_stats_welch(ok, 3, one, 1, &w), PW_EINVAL);
    assert_int_equal(pw_stats_welch(ok, 3, bad, 3, &w), PW_EINVAL);
    double ratio, ci[2], zero[] = {0, 0, 0};
    assert_int_equal(pw_stats_ratio_median(ok, 3, zero, 3, SEED, 0.95, &ratio, ci), PW_EINVAL);
    assert_int_equal(pw_stats_ratio_median(ok, 3, ok, 3, SEED, 1.5, &ratio, ci), PW_EINVAL);
    double p[] = {0.5, 1.5}, adj[2];
    assert_int_equal(pw_stats_holm(p, 2, adj), PW_EINVAL);
    assert_true(isnan(pw_stats_mde(0.1, 1, 0.05, 0.8)));
    assert_true(isnan(pw_stats_mde(0.1, 10, 0.05, 1.0)));
    pw_powerfit f;
    double xs[] = {1, 2, 3}, ys[] = {1, -2, 3}, same[] = {2, 2, 2};
    assert_int_equal(pw_stats_powerfit(xs, ys, 3, &f), PW_EINVAL);
    assert_int_equal(pw_stats_powerfit(same, xs, 3, &f), PW_EINVAL);
    assert_int_equal(pw_stats_powerfit(xs, xs, 2, &f), PW_EINVAL);
    assert_string_equal(pw_stats_complexity_class(xs, ys, 3), "unknown");
    /* Constant samples: the Welch difference is exact. */
    double c1[] = {2, 2, 2}, c2[] = {1, 1, 1};
    assert_int_equal(pw_stats_welch(c1, 3, c2, 3, &w), PW_OK);
    assert_true(w.p == 0 && w.diff == 1 && w.diff_ci95[0] == 1 && w.diff_ci95[1] == 1);
    assert_int_equal(pw_stats_welch(c1, 3, c1, 3, &w), PW_OK);
    assert_true(w.p == 1 && w.t == 0);
}

/* --- outliers -------------------------------------------------------------------------------- */

static void test_outliers(void **state)
{
    (void)state;
    /* Sorted, n = 11: q1 (position 2.5, 0-based) = 12.5, q3 (position 7.5) = 17.5, IQR = 5;
     * mild fences 5 and 25, severe fences -2.5 and 32.5: 26 is mild, 60 severe, and both stay. */
    double x[] = {14, 10, 11, 60, 12, 13, 26, 15, 16, 17, 18};
    pw_summary s;
    assert_int_equal(pw_stats_summarize(x, 11, SEED, &s), PW_OK);
    assert_close(s.q1, 12.5, 1e-15);
    assert_close(s.q3, 17.5, 1e-15);
    assert_int_equal(s.outliers_mild, 1);
    assert_int_equal(s.outliers_severe, 1);
    assert_int_equal(s.n, 11);
    assert_close(s.max, 60, 0);
    /* The input is not modified (a sorted copy is used). */
    assert_close(x[0], 14, 0);
    assert_close(x[3], 60, 0);
}

/* --- two samples ----------------------------------------------------------------------------
 * R's `sleep` data (Student 1908), the example of ?t.test:
 *   t.test(extra ~ group, data = sleep)
 *   t = -1.8608, df = 17.776, p-value = 0.07939
 *   95 percent confidence interval: -3.3654832  0.2054832; means 0.75 and 2.33
 * Full-precision values recomputed independently (exact rational arithmetic for t and df,
 * numerical integration of the t density for p and the quantile): t = -1.860813467486853,
 * df = 17.77647351617849, p = 0.07939414018735517, interval -3.3654832307117166 to
 * 0.20548323071171626.
 *   wilcox.test(extra ~ group, data = sleep, exact = FALSE, correct = TRUE)
 *   W = 25.5, p-value = 0.06933   (recomputed: z = -1.8162790619136817, p = 0.06932757543362662)
 * with ties (0.8, -0.1, 3.4 appear in both groups). */
static const double sleep1[] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
static const double sleep2[] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};

static void test_welch_sleep(void **state)
{
    (void)state;
    pw_welch w;
    assert_int_equal(pw_stats_welch(sleep1, 10, sleep2, 10, &w), PW_OK);
    assert_close(w.t, -1.860813467486853, 1e-12);
    assert_close(w.df, 17.77647351617849, 1e-12);
    assert_close(w.p, 0.07939414018735517, 1e-9);
    assert_close(w.diff, -1.58, 1e-14);
    assert_close(w.diff_ci95[0], -3.3654832307117166, 1e-9);
    assert_close(w.diff_ci95[1], 0.20548323071171626, 1e-9);
    /* Swapping the samples flips the sign and keeps p. */
    pw_welch v;
    assert_int_equal(pw_stats_welch(sleep2, 10, sleep1, 10, &v), PW_OK);
    assert_close(v.t, 1.860813467486853, 1e-12);
    assert_close(v.p, w.p, 1e-15);
}

static void test_mann_whitney_sleep(void **state)
{
    (void)state;
    pw_mann_whitney m;
    assert_int_equal(pw_stats_mann_whitney(sleep1, 10, sleep2, 10, &m), PW_OK);
    assert_close(m.u, 25.5, 0);
    assert_close(m.z, -1.8162790619136817, 1e-12);
    assert_close(m.p, 0.06932757543362662, 1e-12);
    /* U of b is n_a · n_b − U of a; p is symmetric. */
    pw_mann_whitney r;
    assert_int_equal(pw_stats_mann_whitney(sleep2, 10, sleep1, 10, &r), PW_OK);
    assert_close(r.u, 100 - 25.5, 0);
    assert_close(r.p, m.p, 1e-15);
    /* Complete separation, no ties: U = 0. */
    double a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
    assert_int_equal(pw_stats_mann_whitney(a, 4, b, 4, &m), PW_OK);
    assert_close(m.u, 0, 0);
    /* Hand check: var = 4·4·9/12 = 12, z = (0 − 8 + 0.5)/sqrt(12) = −2.165063509461097,
     * p = 2 Φ(z) = 0.03038282 (pnorm(-2.165063509461097) · 2 in R). */
    assert_close(m.z, -7.5 / sqrt(12.0), 1e-14);
    assert_close(m.p, 2 * gsl_cdf_ugaussian_P(-7.5 / sqrt(12.0)), 1e-15);
    assert_close(m.p, 0.03038282, 1e-6);
    /* All values equal: no evidence at all. */
    double c[] = {3, 3, 3};
    assert_int_equal(pw_stats_mann_whitney(c, 3, c, 3, &m), PW_OK);
    assert_close(m.p, 1, 0);
}

static void test_ratio_median(void **state)
{
    (void)state;
    double b[25], a[25];
    for (int i = 0; i < 25; i++) {
        b[i] = 1.0 + 0.01 * ((i * 7) % 25);
        a[i] = 2 * b[i];
    }
    double r1, ci1[2], r2, ci2[2], r3, ci3[2];
    assert_int_equal(pw_stats_ratio_median(a, 25, b, 25, 7, 0.95, &r1, ci1), PW_OK);
    assert_close(r1, 2, 1e-15);
    assert_true(ci1[0] <= 2 && 2 <= ci1[1]);
    assert_true(ci1[0] > 1.8 && ci1[1] < 2.2);
    /* Same seed, same interval; another seed, (almost surely) another interval. */
    assert_int_equal(pw_stats_ratio_median(a, 25, b, 25, 7, 0.95, &r2, ci2), PW_OK);
    assert_true(ci2[0] == ci1[0] && ci2[1] == ci1[1]);
    assert_int_equal(pw_stats_ratio_median(a, 25, b, 25, 8, 0.95, &r3, ci3), PW_OK);
    assert_true(ci3[0] != ci1[0] || ci3[1] != ci1[1]);
}

/* --- Holm, MDE ------------------------------------------------------------------------------- */

/* R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02 */
static void test_holm(void **state)
{
    (void)state;
    double p[] = {0.01, 0.04, 0.03, 0.005}, adj[4];
    assert_int_equal(pw_stats_holm(p, 4, adj), PW_OK);
    assert_close(adj[0], 0.03, 1e-15);
    assert_close(adj[1], 0.06, 1e-15);
    assert_close(adj[2], 0.06, 1e-15);
    assert_close(adj[3], 0.02, 1e-15);
    /* Capped at 1: p.adjust(c(0.5, 0.9), "holm") = 1 1 */
    double q[] = {0.5, 0.9}, adj2[2];
    assert_int_equal(pw_stats_holm(q, 2, adj2), PW_OK);
    assert_close(adj2[0], 1, 0);
    assert_close(adj2[1], 1, 0);
}

/* (qnorm(0.975) + qnorm(0.8)) · sqrt(2) · 0.1 / sqrt(20) = 0.08859390348296597 */
static void test_mde(void **state)
{
    (void)state;
    assert_close(pw_stats_mde(0.1, 20, 0.05, 0.8), 0.08859390348296597, 1e-13);
    /* Four times the samples halve it. */
    assert_close(pw_stats_mde(0.1, 80, 0.05, 0.8), 0.08859390348296597 / 2, 1e-13);
    assert_close(pw_stats_mde(0, 20, 0.05, 0.8), 0, 0);
}

/* --- scaling --------------------------------------------------------------------------------- */

static void test_powerfit(void **state)
{
    (void)state;
    double x[] = {16, 32, 64, 128, 256, 512}, y[6];
    pw_powerfit f;
    for (int i = 0; i < 6; i++) y[i] = 3 * x[i] * x[i];
    assert_int_equal(pw_stats_powerfit(x, y, 6, &f), PW_OK);
    assert_close(f.exponent, 2, 1e-12);
    assert_close(f.log_c, log(3.0), 1e-11);
    assert_close(f.r2, 1, 1e-12);
    assert_true(f.ci95[1] - f.ci95[0] < 1e-9);
    for (int i = 0; i < 6; i++) y[i] = 0.5 * pow(x[i], 3);
    assert_int_equal(pw_stats_powerfit(x, y, 6, &f), PW_OK);
    assert_close(f.exponent, 3, 1e-12);
    /* A noisy fit, reference by ordinary least squares on logs computed independently (Python,
     * closed-form slope = Sxy/Sxx, se = sqrt(RSS/(n-2)/Sxx), qt(0.975, 3) = 3.182446305284263):
     * slope 0.9832640218468354, intercept 0.044978590710149424, R² 0.9966451284690406,
     * interval 0.8784454401599909 to 1.08808260353368. */
    double xn[] = {1, 2, 4, 8, 16}, yn[] = {1.1, 1.9, 4.3, 7.7, 16.5};
    assert_int_equal(pw_stats_powerfit(xn, yn, 5, &f), PW_OK);
    assert_close(f.exponent, 0.9832640218468354, 1e-12);
    assert_close(f.log_c, 0.044978590710149424, 1e-11);
    assert_close(f.r2, 0.9966451284690406, 1e-12);
    assert_close(f.ci95[0], 0.8784454401599909, 1e-11);
    assert_close(f.ci95[1], 1.08808260353368, 1e-11);
}

static void test_complexity_class(void **state)
{
    (void)state;
    double x[] = {8, 16, 32, 64, 128, 256, 512, 1024}, y[8];
    for (int i = 0; i < 8; i++) y[i] = 5;
    assert_string_equal(pw_stats_complexity_class(x, y, 8), "1");
    for (int i = 0; i < 8; i++) y[i] = 2 * log(x[i]);
    assert_string_equal(pw_stats_complexity_class(x, y, 8), "log n");
    for (int i = 0; i < 8; i++) y[i] = 4 * x[i];
    assert_string_equal(pw_stats_complexity_class(x, y, 8), "n");
    for (int i = 0; i < 8; i++) y[i] = x[i] * log(x[i]);
    assert_string_equal(pw_stats_complexity_class(x, y, 8), "n log n");
    for (int i = 0; i < 8; i++) y[i] = 1e-9 * x[i] * x[i] * (i % 2 ? 1.05 : 0.95);
    assert_string_equal(pw_stats_complexity_class(x, y, 8), "n^2");
    for (int i = 0; i < 8; i++) y[i] = 7 * x[i] * x[i] * x[i];
    assert_string_equal(pw_stats_complexity_class(x, y, 8), "n^3");
}

/* --- bootstrap ------------------------------------------------------------------------------- */

/* The crossover on a grid: a speedup that settles above 1 from the fourth point, whose
 * interval first leaves 1 behind at the fifth, and which no interval excludes from the second on;
 * then a curve that should end below a threshold, and the cases without any crossing. */
static void test_crossover(void **state)
{
    (void)state;
    const double v[] = {0.9, 1.2, 0.95, 1.1, 1.3, 2.0};
    const double lo[] = {0.8, 1.1, 0.9, 0.95, 1.05, 1.8};
    const double hi[] = {0.95, 1.3, 1.02, 1.2, 1.5, 2.2};
    size_t first, est, sure;
    assert_int_equal(pw_stats_crossover(v, lo, hi, 6, 1, 0, &first, &est, &sure), PW_OK);
    assert_int_equal(first, 1);  /* from 1.2 (1.1–1.3) on, every interval reaches above 1 */
    assert_int_equal(est, 3);    /* values above 1 from 1.1 on */
    assert_int_equal(sure, 4);   /* intervals above 1 from 1.3 (1.05–1.5) on */
    /* An early point above the threshold does not count once a later one falls back. */
    const double v2[] = {8, 3, 1.5}, lo2[] = {7, 2, 1}, hi2[] = {9, 6, 2};
    assert_int_equal(pw_stats_crossover(v2, lo2, hi2, 3, 5, 1, &first, &est, &sure), PW_OK);
    assert_int_equal(first, 1);  /* below 5: lo 2 < 5 from the second point */
    assert_int_equal(est, 1);
    assert_int_equal(sure, 2);   /* hi below 5 only from the third */
    /* No crossing at all: n for every index. */
    assert_int_equal(pw_stats_crossover(v, lo, hi, 6, 3, 0, &first, &est, &sure), PW_OK);
    assert_int_equal(first, 6);
    assert_int_equal(est, 6);
    assert_int_equal(sure, 6);
    /* A last interval straddling the threshold: an estimate, never certain. */
    const double v3[] = {0.5, 1.1}, lo3[] = {0.4, 0.9}, hi3[] = {0.6, 1.3};
    assert_int_equal(pw_stats_crossover(v3, lo3, hi3, 2, 1, 0, &first, &est, &sure), PW_OK);
    assert_int_equal(first, 1);
    assert_int_equal(est, 1);
    assert_int_equal(sure, 2);
    /* Guards: nothing to scan, an interval that does not hold its value. */
    assert_int_equal(pw_stats_crossover(v, lo, hi, 0, 1, 0, &first, &est, &sure), PW_EINVAL);
    const double bad_lo[] = {1.0};
    assert_int_equal(pw_stats_crossover(v, bad_lo, hi, 1, 1, 0, &first, &est, &sure), PW_EINVAL);
}

static void test_median_ci_order(void **state)
{
    (void)state;
    double x[10], ci[2];
    for (int i = 0; i < 10; i++) x[i] = i + 1;
    /* P(Bin(10, 1/2) <= 1) = 11/1024 = 0.0107 <= 0.025 < P(<= 2) = 56/1024: j = 2 → [x2, x9]. */
    assert_int_equal(pw_stats_median_ci_order(x, 10, 0.95, ci), PW_OK);
    assert_close(ci[0], 2, 0);
    assert_close(ci[1], 9, 0);
    /* n = 6: P(<= 0) = 1/64 <= 0.025 → [x1, x6]; n = 5: 1/32 > 0.025 → too few. */
    assert_int_equal(pw_stats_median_ci_order(x, 6, 0.95, ci), PW_OK);
    assert_close(ci[0], 1, 0);
    assert_close(ci[1], 6, 0);
    assert_int_equal(pw_stats_median_ci_order(x, 5, 0.95, ci), PW_ERANGE);
    /* The ranks equal the definition's, checked by walking every rank (as the first version of
     * the function did) for n up to 1000 and several levels; n = 100 gives j = 40 ([x40, x61]),
     * as R's qbinom(0.025, 100, 0.5) = 40 says. */
    enum { N = 1000 };
    double *y = pw_xmalloc(N * sizeof *y);
    for (int i = 0; i < N; i++) y[i] = i + 1;
    static const double levels[] = {0.5, 0.9, 0.95, 0.99, 0.999};
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        double tail = (1 - levels[l]) / 2;
        for (size_t n = 1; n <= N; n++) {
            size_t j = 0;
            while (j + 1 <= n / 2 && gsl_cdf_binomial_P((unsigned)j, 0.5, (unsigned)n) <= tail) j++;
            int rc = pw_stats_median_ci_order(y, n, levels[l], ci);
            if (j == 0) {
                if (rc != PW_ERANGE) fail_msg("n %zu level %g: expected too few", n, levels[l]);
            } else if (rc != PW_OK || ci[0] != y[j - 1] || ci[1] != y[n - j]) {
                fail_msg("n %zu level %g: rank %zu expected, got [%g, %g]", n, levels[l], j, ci[0], ci[1]);
            }
        }
    }
    assert_int_equal(pw_stats_median_ci_order(y, 100, 0.95, ci), PW_OK);
    assert_close(ci[0], 40, 0);
    assert_close(ci[1], 61, 0);
    free(y);
}

static void test_bootstrap_reproducible(void **state)
{
    (void)state;
    double x[40];
    for (int i = 0; i < 40; i++) x[i] = sin(i * 1.3) + 0.1 * i;
    pw_summary a, b, c;
    assert_int_equal(pw_stats_summarize(x, 40, 99, &a), PW_OK);
    assert_int_equal(pw_stats_summarize(x, 40, 99, &b), PW_OK);
    assert_int_equal(pw_stats_summarize(x, 40, 100, &c), PW_OK);
    assert_true(a.ci95_median[0] == b.ci95_median[0] && a.ci95_median[1] == b.ci95_median[1]);
    assert_true(a.ci95_median[0] <= a.median && a.median <= a.ci95_median[1]);
    assert_true(c.ci95_median[0] != a.ci95_median[0] || c.ci95_median[1] != a.ci95_median[1]);
}

/* 200 synthetic N(0, 1) samples of n = 30 (fixed generator seed, so the test cannot flake):
 * the percentile-bootstrap interval of the median should cover the true median 0 about 95% of
 * the time; binomial sd at 200 trials is ~1.5%, so 0.88–0.99 is a wide, honest band. */
static void test_bootstrap_coverage(void **state)
{
    (void)state;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 424242);
    enum { TRIALS = 200, N = 30 };
    double x[N];
    int covered = 0, order_covered = 0;
    for (int t = 0; t < TRIALS; t++) {
        for (int i = 0; i < N; i++) x[i] = gsl_ran_gaussian(r, 1.0);
        pw_summary s;
        assert_int_equal(pw_stats_summarize(x, N, (uint64_t)t, &s), PW_OK);
        if (s.ci95_median[0] <= 0 && 0 <= s.ci95_median[1]) covered++;
        double ci[2];
        gsl_sort(x, 1, N);
        assert_int_equal(pw_stats_median_ci_order(x, N, 0.95, ci), PW_OK);
        if (ci[0] <= 0 && 0 <= ci[1]) order_covered++;
    }
    gsl_rng_free(r);
    double cov = (double)covered / TRIALS, ocov = (double)order_covered / TRIALS;
    print_message("median CI coverage: bootstrap %.3f, order statistic %.3f\n", cov, ocov);
    assert_true(cov >= 0.88 && cov <= 0.99);
    assert_true(ocov >= 0.90 && ocov <= 1.0); /* conservative by construction */
}

/* --- the stats and compare commands ---------------------------------------------------------- */

typedef struct {
    int rc;
    char *out, *err; /* captured stdout and stderr; freed by captured_free */
} captured;

/* Runs a command function with stdout and stderr redirected into files under dir. */
static captured run_cmd(const char *dir, int (*fn)(int, char **), int argc, char **argv)
{
    captured c;
    char *po = pw_xasprintf("%s/stdout", dir), *pe = pw_xasprintf("%s/stderr", dir);
    fflush(stdout);
    fflush(stderr);
    int save_out = dup(1), save_err = dup(2);
    assert_non_null(freopen(po, "w", stdout));
    assert_non_null(freopen(pe, "w", stderr));
    c.rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(save_out, 1);
    dup2(save_err, 2);
    close(save_out);
    close(save_err);
    clearerr(stdout);
    clearerr(stderr);
    c.out = pw_read_file(po, NULL);
    c.err = pw_read_file(pe, NULL);
    assert_non_null(c.out);
    assert_non_null(c.err);
    free(po);
    free(pe);
    return c;
}

static void captured_free(captured *c)
{
    free(c->out);
    free(c->err);
}

static char *write_tmp(const char *dir, const char *name, const char *text)
{
    char *path = pw_xasprintf("%s/%s", dir, name);
    assert_int_equal(pw_write_file_atomic(path, text, strlen(text)), PW_OK);
    return path;
}

static void test_cmd_stats(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    /* 1..11 again, with blank lines and surrounding blanks that must be ignored. */
    char *good = write_tmp(dir, "good.txt", "1\n2\n\n  3\n4\t\n5\n6\n7\n8\n9\n10\n11\n\n");
    char *argv1[] = {"stats", "--json", good};
    captured c = run_cmd(dir, pw_cmd_stats, 3, argv1);
    assert_int_equal(c.rc, 0);
    json_error_t jerr;
    json_t *doc = json_loads(c.out, 0, &jerr);
    assert_non_null(doc);
    static const char *const keys[] = {"n", "mean", "sd", "median", "mad", "min", "max", "cv",
                                       "ci95_mean", "ci95_median", "outliers"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(json_object_get(doc, keys[i]));
    assert_int_equal(json_integer_value(json_object_get(doc, "n")), 11);
    assert_close(json_number_value(json_object_get(doc, "mean")), 6, 1e-15);
    assert_close(json_number_value(json_array_get(json_object_get(doc, "ci95_mean"), 1)),
                 6 + 2.228138851986274, 1e-13);
    assert_non_null(json_object_get(json_object_get(doc, "outliers"), "severe"));
    json_decref(doc);
    captured_free(&c);

    /* Human output: an aligned table. */
    char *argv2[] = {"stats", good};
    c = run_cmd(dir, pw_cmd_stats, 2, argv2);
    assert_int_equal(c.rc, 0);
    assert_non_null(strstr(c.out, "median"));
    assert_non_null(strstr(c.out, "95% CI"));
    captured_free(&c);

    /* Bad inputs: exit 1 with a message naming the problem (and the line). */
    struct { const char *name, *text, *want; } bad[] = {
        {"empty.txt", "", "empty.txt: no numbers"},
        {"blank.txt", "\n  \n", "blank.txt: no numbers"},
        {"one.txt", "42\n", "only one value"},
        {"word.txt", "1\n2\nthree\n", "word.txt:3: not a number: 'three'"},
        {"nan.txt", "1\nnan\n2\n", "nan.txt:2: not a finite number"},
        {"inf.txt", "-inf\n2\n", "inf.txt:1: not a finite number"},
        {"junk.txt", "1\n2.5x\n", "junk.txt:2: not a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *path = write_tmp(dir, bad[i].name, bad[i].text);
        char *argv[] = {"stats", path};
        c = run_cmd(dir, pw_cmd_stats, 2, argv);
        assert_int_equal(c.rc, 1);
        if (!strstr(c.err, bad[i].want)) print_error("stderr: %s\n", c.err);
        assert_non_null(strstr(c.err, bad[i].want));
        assert_string_equal(c.out, "");
        captured_free(&c);
        free(path);
    }
    char *missing = pw_xasprintf("%s/missing.txt", dir);
    char *argv3[] = {"stats", missing};
    c = run_cmd(dir, pw_cmd_stats, 2, argv3);
    assert_int_equal(c.rc, 1);
    assert_non_null(strstr(c.err, "cannot open"));
    captured_free(&c);
    char *argv4[] = {"stats", "--bogus"};
    c = run_cmd(dir, pw_cmd_stats, 2, argv4);
    assert_int_equal(c.rc, 1);
    assert_non_null(strstr(c.err, "usage"));
    captured_free(&c);
    free(missing);
    free(good);
    pw_test_rmtree(dir);
    free(dir);
}

static void test_cmd_compare(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    pw_buf a, b;
    pw_buf_init(&a);
    pw_buf_init(&b);
    for (int i = 0; i < 10; i++) {
        pw_buf_printf(&a, "%.17g\n", sleep1[i]);
        pw_buf_printf(&b, "%.17g\n", sleep2[i]);
    }
    char *pa = write_tmp(dir, "a.txt", a.data), *pb = write_tmp(dir, "b.txt", b.data);
    char *argv1[] = {"compare", "--json", pa, pb};
    captured c = run_cmd(dir, pw_cmd_compare, 4, argv1);
    assert_int_equal(c.rc, 0);
    json_error_t jerr;
    json_t *doc = json_loads(c.out, 0, &jerr);
    assert_non_null(doc);
    static const char *const keys[] = {"a", "b", "welch", "mann_whitney", "mean_diff",
                                       "mean_diff_ci95", "ratio_median", "ratio_ci95"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(json_object_get(doc, keys[i]));
    /* The sleep references of test_welch_sleep and test_mann_whitney_sleep. */
    json_t *w = json_object_get(doc, "welch"), *m = json_object_get(doc, "mann_whitney");
    assert_close(json_number_value(json_object_get(w, "t")), -1.860813467486853, 1e-12);
    assert_close(json_number_value(json_object_get(w, "df")), 17.77647351617849, 1e-12);
    assert_close(json_number_value(json_object_get(w, "p")), 0.07939414018735517, 1e-9);
    assert_close(json_number_value(json_object_get(m, "u")), 25.5, 0);
    assert_close(json_number_value(json_object_get(m, "p")), 0.06932757543362662, 1e-12);
    assert_close(json_number_value(json_object_get(doc, "mean_diff")), -1.58, 1e-14);
    assert_close(json_number_value(json_array_get(json_object_get(doc, "mean_diff_ci95"), 0)),
                 -3.3654832307117166, 1e-9);
    /* median(a) = 0.35, median(b) = 1.75: ratio 0.2 */
    assert_close(json_number_value(json_object_get(doc, "ratio_median")), 0.2, 1e-14);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "a"), "n")), 10);
    json_decref(doc);
    captured_free(&c);

    char *argv2[] = {"compare", pa, pb};
    c = run_cmd(dir, pw_cmd_compare, 3, argv2);
    assert_int_equal(c.rc, 0);
    assert_non_null(strstr(c.out, "Welch"));
    assert_non_null(strstr(c.out, "Mann-Whitney"));
    captured_free(&c);

    char *argv3[] = {"compare", pa};
    c = run_cmd(dir, pw_cmd_compare, 2, argv3);
    assert_int_equal(c.rc, 1);
    assert_non_null(strstr(c.err, "expected two files"));
    captured_free(&c);
    char *one = write_tmp(dir, "one.txt", "3\n");
    char *argv4[] = {"compare", pa, one};
    c = run_cmd(dir, pw_cmd_compare, 3, argv4);
    assert_int_equal(c.rc, 1);
    assert_non_null(strstr(c.err, "only one value"));
    captured_free(&c);
    free(one);
    free(pa);
    free(pb);
    pw_buf_release(&a);
    pw_buf_release(&b);
    pw_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_nist_numacc),
        cmocka_unit_test(test_nist_michelso),
        cmocka_unit_test(test_guards),
        cmocka_unit_test(test_outliers),
        cmocka_unit_test(test_welch_sleep),
        cmocka_unit_test(test_mann_whitney_sleep),
        cmocka_unit_test(test_ratio_median),
        cmocka_unit_test(test_holm),
        cmocka_unit_test(test_mde),
        cmocka_unit_test(test_powerfit),
        cmocka_unit_test(test_complexity_class),
        cmocka_unit_test(test_crossover),
        cmocka_unit_test(test_median_ci_order),
        cmocka_unit_test(test_bootstrap_reproducible),
        cmocka_unit_test(test_bootstrap_coverage),
        cmocka_unit_test(test_cmd_stats),
        cmocka_unit_test(test_cmd_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
