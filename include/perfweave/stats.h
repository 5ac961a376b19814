/* stats.h — the statistics core, built on GSL: summaries with intervals, two-sample tests,
 * bootstrap ratios, multiple-comparison correction, power and scaling fits.
 *
 * Every function is pure (no global state); randomness comes from an explicit seed so that
 * intervals are reproducible.  Functions return PW_OK or PW_EINVAL (too few values, non-finite
 * input) and fill their out-parameters only on success. */
#ifndef PERFWEAVE_STATS_H
#define PERFWEAVE_STATS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PW_STATS_BOOTSTRAP 2000   /* default bootstrap resamples */

typedef struct {
    size_t n;
    double mean, sd, median, mad;       /* mad: median absolute deviation × 1.4826 */
    double min, max, q1, q3;            /* q1, q3: quartiles (GSL quantile_from_sorted_data) */
    double cv;                          /* sd / mean */
    double ci95_mean[2];                /* Student t */
    double ci95_median[2];              /* percentile bootstrap, seeded */
    size_t outliers_mild, outliers_severe;  /* Tukey fences 1.5 × IQR and 3 × IQR (kept) */
} pw_summary;

/* Summarizes x[0..n) (n >= 2, all finite; x is not modified).  seed drives the bootstrap. */
int pw_stats_summarize(const double *x, size_t n, uint64_t seed, pw_summary *out);

/* The summary as a new JSON object (caller decrefs) with the keys of `perfweave stats --json`:
 * n, mean, sd, median, mad, min, max, q1, q3, cv, ci95_mean [lo, hi], ci95_median [lo, hi],
 * outliers {mild, severe}.  Non-finite numbers (a cv of a zero mean) become null. */
json_t *pw_stats_summary_json(const pw_summary *s);

/* Reads one number per line from in (blank lines and surrounding blanks ignored) into a new
 * array *x (caller frees) of *n values.  name labels messages: on a line that is not a number
 * or not finite, returns PW_EINVAL with "NAME:LINE: …" in msg; on no numbers at all,
 * PW_EINVAL with "NAME: no numbers"; on a read error, PW_EIO. */
int pw_stats_read_numbers(FILE *in, const char *name, double **x, size_t *n, char *msg,
                          size_t msgsize);

/* Percentile-bootstrap interval of the median of x[0..n) at the given level (0.95 normally),
 * from resamples resamples (>= 10) drawn with a Mersenne Twister seeded by seed: the same seed
 * gives the same interval.  Needs n >= 2 finite values. */
int pw_stats_median_ci_bootstrap(const double *x, size_t n, uint64_t seed, size_t resamples,
                                 double level, double ci[2]);

/* Distribution-free (order-statistic, binomial) interval of the median of sorted[0..n) (sorted
 * ascending): [x_(j), x_(n+1-j)] with the largest j whose binomial tail is <= (1 - level) / 2.
 * Cheap enough to recompute after every sample (the bench's stopping rule).  Returns PW_ERANGE
 * when n is too small for the level (n < 6 at 95%). */
int pw_stats_median_ci_order(const double *sorted, size_t n, double level, double ci[2]);

/* Welch's unequal-variance t-test of a against b: t, Welch–Satterthwaite df, two-sided p, and
 * the 95% interval of mean(a) − mean(b). */
typedef struct { double t, df, p, diff, diff_ci95[2]; } pw_welch;
int pw_stats_welch(const double *a, size_t na, const double *b, size_t nb, pw_welch *out);

/* Mann–Whitney U (U of a), normal approximation with tie and continuity correction, two-sided p. */
typedef struct { double u, z, p; } pw_mann_whitney;
int pw_stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                          pw_mann_whitney *out);

/* Ratio of medians median(a) / median(b) with a seeded percentile-bootstrap 95% interval
 * (a and b resampled independently).  level is 0.95 normally. */
int pw_stats_ratio_median(const double *a, size_t na, const double *b, size_t nb,
                          uint64_t seed, double level, double *ratio, double ci[2]);

/* Holm step-down adjustment of p[0..m) into adj[0..m) (adjusted p-values, monotone, <= 1). */
int pw_stats_holm(const double *p, size_t m, double *adj);

/* Minimum detectable relative effect (as a fraction of the mean) of a two-sided two-sample test
 * at significance alpha and the given power, with n samples per group and coefficient of
 * variation cv: (z_{1-alpha/2} + z_power) · sqrt(2) · cv / sqrt(n).  NAN for n < 2, cv < 0 or
 * alpha, power outside (0, 1). */
double pw_stats_mde(double cv, size_t n, double alpha, double power);

/* Log-log least-squares fit y = c · x^k (gsl_fit_linear on logs): exponent k with its 95%
 * interval (t with n−2 df), log c, and R².  Needs n >= 3 positive points. */
typedef struct { double exponent, ci95[2], log_c, r2; } pw_powerfit;
int pw_stats_powerfit(const double *x, const double *y, size_t n, pw_powerfit *out);

/* Where a measured curve crosses a threshold for good.  Over points 0..n) in increasing order of
 * their size, with values v and 95% intervals [lo, hi], and a threshold t that the curve should
 * end up above (below, when below is true):
 *   *est    the first point from which on every value lies beyond t (the estimate);
 *   *first  the first point from which on no interval rules that out (the earliest the crossing
 *           can be, given the intervals);
 *   *sure   the first point from which on every interval lies beyond t (the latest it can be).
 * Each is n when there is no such point; first <= est <= sure.  Reported as the sizes of those
 * points, [first, sure] is the interval of the crossover on the grid of sizes measured.
 * Returns PW_OK, or PW_EINVAL for n == 0 or an interval that does not contain its value. */
int pw_stats_crossover(const double *v, const double *lo, const double *hi, size_t n, double t,
                       int below, size_t *first, size_t *est, size_t *sure);

/* The complexity class among 1, log n, n, n log n, n², n³ whose one-parameter fit y ≈ c·f(x)
 * has the least residual sum of squares on log scale.  Returns a static name ("1", "log n", "n",
 * "n log n", "n^2", "n^3"), or "unknown" for fewer than 2 points or non-positive values; the log
 * classes are only considered when every x > 1. */
const char *pw_stats_complexity_class(const double *x, const double *y, size_t n);

#endif
