/* scoring.c — event scores, ranks, Kendall's tau-b and the Clopper–Pearson interval (scoring.h). */
#include "perfweave/scoring.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>

#include "perfweave/common.h"

int pw_score_geomean(const double *baseline, const double *value, size_t m, bool gate,
                     double *score)
{
    if (m == 0) return PW_EINVAL;
    double logsum = 0;
    for (size_t i = 0; i < m; i++) {
        if (!(baseline[i] > 0) || !(value[i] > 0) || !isfinite(baseline[i]) || !isfinite(value[i]))
            return PW_EINVAL;
        logsum += log(baseline[i] / value[i]);
    }
    *score = gate ? exp(logsum / (double)m) : 0.0;
    return PW_OK;
}

int pw_score_rank(const double *score, size_t n, double *rank)
{
    if (n == 0) return PW_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (isnan(score[i])) return PW_EINVAL;
    for (size_t i = 0; i < n; i++) {
        size_t above = 0, equal = 0;
        for (size_t j = 0; j < n; j++) {
            above += score[j] > score[i];
            equal += score[j] == score[i];
        }
        /* Ranks above+1 … above+equal are shared: their mean. */
        rank[i] = (double)above + (double)(equal + 1) / 2.0;
    }
    return PW_OK;
}

int pw_score_kendall_tau(const double *x, const double *y, size_t n, double *tau)
{
    if (n < 2) return PW_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || !isfinite(y[i])) return PW_EINVAL;
    double conc = 0, disc = 0, tx = 0, ty = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double dx = x[i] - x[j], dy = y[i] - y[j];
            if (dx == 0) tx++;
            if (dy == 0) ty++;
            if (dx == 0 || dy == 0) continue;
            if ((dx > 0) == (dy > 0)) conc++;
            else disc++;
        }
    double pairs = (double)n * (double)(n - 1) / 2.0;
    double den = sqrt((pairs - tx) * (pairs - ty));
    if (!(den > 0)) return PW_EINVAL;
    *tau = (conc - disc) / den;
    return PW_OK;
}

/* The p-quantile of Beta(a, b).  gsl_cdf_beta_Pinv fails (NaN) for some parameters met at a few
 * hundred trials, e.g. p = 0.975, a = 3, b = 258 (the upper bound for 2 of 260): its answer is
 * kept only when the CDF confirms it, else the CDF (reliable) is bisected. */
static double beta_quantile(double p, double a, double b)
{
    double x = gsl_cdf_beta_Pinv(p, a, b);
    if (isfinite(x) && x >= 0 && x <= 1 && fabs(gsl_cdf_beta_P(x, a, b) - p) <= 1e-10) return x;
    double lo = 0, hi = 1;
    for (int i = 0; i < 200 && hi - lo > 1e-16; i++) {
        double mid = (lo + hi) / 2;
        if (gsl_cdf_beta_P(mid, a, b) < p) lo = mid;
        else hi = mid;
    }
    return (lo + hi) / 2;
}

int pw_score_proportion_ci(size_t k, size_t n, double level, double ci[2])
{
    if (n == 0 || k > n || !(level > 0 && level < 1)) return PW_EINVAL;
    double a = (1 - level) / 2;
    ci[0] = k == 0 ? 0.0 : beta_quantile(a, (double)k, (double)(n - k + 1));
    ci[1] = k == n ? 1.0 : beta_quantile(1 - a, (double)(k + 1), (double)(n - k));
    return PW_OK;
}

int pw_score_tau_mean_ci(const double *scores, size_t runs, size_t ns, uint64_t seed,
                         size_t resamples, double level, double *mean, double ci[2],
                         size_t *pairs)
{
    if (runs < 2 || ns < 2 || resamples < 10 || !(level > 0 && level < 1)) return PW_EINVAL;
    /* tau of every pair of runs once; NAN where undefined */
    double *tau = pw_xmalloc(runs * runs * sizeof *tau);
    double sum = 0;
    size_t used = 0;
    for (size_t i = 0; i < runs; i++)
        for (size_t j = i + 1; j < runs; j++) {
            double t;
            if (pw_score_kendall_tau(scores + i * ns, scores + j * ns, ns, &t) != PW_OK) t = NAN;
            tau[i * runs + j] = tau[j * runs + i] = t;
            if (isfinite(t)) sum += t, used++;
        }
    if (used == 0) {
        free(tau);
        return PW_EINVAL;
    }
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, (unsigned long)seed);
    size_t *draw = pw_xmalloc(runs * sizeof *draw);
    double *boot = pw_xmalloc(resamples * sizeof *boot);
    size_t nb = 0;
    for (size_t b = 0; b < resamples; b++) {
        for (size_t k = 0; k < runs; k++) draw[k] = (size_t)gsl_rng_uniform_int(rng, runs);
        double s = 0;
        size_t c = 0;
        for (size_t k = 0; k < runs; k++)
            for (size_t l = k + 1; l < runs; l++) {
                if (draw[k] == draw[l]) continue;
                double t = tau[draw[k] * runs + draw[l]];
                if (isfinite(t)) s += t, c++;
            }
        if (c) boot[nb++] = s / (double)c;
    }
    int rc = PW_EINVAL;
    if (nb >= 10) {
        gsl_sort(boot, 1, nb);
        ci[0] = gsl_stats_quantile_from_sorted_data(boot, 1, nb, (1 - level) / 2);
        ci[1] = gsl_stats_quantile_from_sorted_data(boot, 1, nb, 1 - (1 - level) / 2);
        *mean = sum / (double)used;
        if (ci[0] > *mean) ci[0] = *mean;
        if (ci[1] < *mean) ci[1] = *mean;
        if (pairs) *pairs = used;
        rc = PW_OK;
    }
    free(boot);
    free(draw);
    gsl_rng_free(rng);
    free(tau);
    return rc;
}
