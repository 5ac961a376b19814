/* scoring.c — event scores, ranks, Kendall's tau-b and the Clopper–Pearson interval (scoring.h). */
#include "perfweave/scoring.h"

#include <gsl/gsl_cdf.h>
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
