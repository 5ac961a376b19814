/* scoring.h — how the benchmarking chapter's events score submissions and how it judges a
 * ranking and a detection rate: the geometric-mean score with an accuracy gate, ranks, Kendall's
 * rank correlation, and the exact (Clopper–Pearson) interval of a proportion.
 *
 * Scoring formula.  Each event measures, for the baseline and every submission, m metrics where
 * lower is better (latency, memory).  A submission's score is the geometric mean of its
 * normalized metrics, baseline / submission:
 *     score = (Π_i baseline_i / value_i)^(1/m)
 * so the baseline scores exactly 1, a submission twice as fast at equal memory scores √2, and no
 * single metric can be traded off linearly against another (halving latency while doubling
 * memory scores 1).  Accuracy is not averaged in but is a gate: a submission that fails the
 * event's accuracy criterion scores 0 (disqualified), however fast it is. */
#ifndef PERFWEAVE_SCORING_H
#define PERFWEAVE_SCORING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The score above of one submission: baseline[0..m) and value[0..m) must be positive and finite
 * (m >= 1); gate false gives 0.  Returns PW_OK or PW_EINVAL (nothing written). */
int pw_score_geomean(const double *baseline, const double *value, size_t m, bool gate,
                     double *score);

/* Ranks of score[0..n) with 1 for the highest score; ties get the mean of the ranks they span
 * (midranks).  Returns PW_OK or PW_EINVAL for n == 0 or a NaN score. */
int pw_score_rank(const double *score, size_t n, double *rank);

/* Kendall's rank correlation tau-b of x[0..n) and y[0..n): (C − D) / sqrt((P − Tx)(P − Ty)) with
 * C, D the concordant and discordant pairs, P = n(n−1)/2 and Tx, Ty the pairs tied in x, in y —
 * the statistic of R's cor(x, y, method = "kendall").  1 for identical orders, −1 for reversed.
 * O(n²), for the handful of submissions of an event.  Returns PW_EINVAL for n < 2, non-finite
 * values or a constant x or y (undefined). */
int pw_score_kendall_tau(const double *x, const double *y, size_t n, double *tau);

/* The stability of a ranking over repeated runs: runs rows of ns scores (scores[r·ns + i] is
 * submission i in run r).  *mean is the mean of Kendall's tau-b over every pair of distinct runs
 * (the estimate of the tau between two independent runs); ci is its seeded percentile-bootstrap
 * interval at the given level, resampling whole runs with replacement (resamples times) and
 * averaging over the pairs of distinct draws that are not the same run drawn twice.  Pairs whose
 * tau is undefined (a run of tied scores) are left out; *pairs counts the pairs used.  The
 * bootstrap sees only the variation among the runs taken: when every pair agrees, the interval
 * is [1, 1] however few the runs.  Returns PW_EINVAL for runs < 2, ns < 2, resamples < 10 or no
 * pair with a defined tau. */
int pw_score_tau_mean_ci(const double *scores, size_t runs, size_t ns, uint64_t seed,
                         size_t resamples, double level, double *mean, double ci[2],
                         size_t *pairs);

/* Exact (Clopper–Pearson) interval of a proportion with k successes in n trials at the given
 * level (0.95 normally): it covers the true rate with at least that probability for every rate.
 * Returns PW_EINVAL for n == 0 or k > n. */
int pw_score_proportion_ci(size_t k, size_t n, double level, double ci[2]);

#endif
