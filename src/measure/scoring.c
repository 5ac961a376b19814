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

int pw_score_proportion_ci(size_t k, size_t n, double level, double ci[2])
{
    if (n == 0 || k > n || !(level > 0 && level < 1)) return PW_EINVAL;
    double a = (1 - level) / 2;
    ci[0] = k == 0 ? 0.0 : gsl_cdf_beta_Pinv(a, (double)k, (double)(n - k + 1));
    ci[1] = k == n ? 1.0 : gsl_cdf_beta_Pinv(1 - a, (double)(k + 1), (double)(n - k));
    return PW_OK;
}
