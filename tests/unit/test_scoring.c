/* test_scoring.c — the event score on fixed inputs, ranks with ties, Kendall's tau-b against R
 * and against hand counts, the mean tau over runs with its bootstrap interval, and the
 * Clopper–Pearson interval against closed forms. */
#include "support.h"

#include <gsl/gsl_errno.h>
#include <math.h>

#include "perfweave/common.h"
#include "perfweave/scoring.h"

static void test_geomean(void **state)
{
    (void)state;
    double base[2] = {10, 100}, s;
    /* The baseline itself scores 1. */
    assert_int_equal(pw_score_geomean(base, base, 2, true, &s), PW_OK);
    assert_close(s, 1.0, 1e-15);
    /* Twice as fast, same memory: sqrt(2 · 1). */
    double v1[2] = {5, 100};
    assert_int_equal(pw_score_geomean(base, v1, 2, true, &s), PW_OK);
    assert_close(s, sqrt(2.0), 1e-15);
    /* Twice as fast, twice the memory: sqrt(2 · 0.5) = 1. */
    double v2[2] = {5, 200};
    assert_int_equal(pw_score_geomean(base, v2, 2, true, &s), PW_OK);
    assert_close(s, 1.0, 1e-15);
    /* 4× faster, 8× less memory: sqrt(4 · 8) = sqrt(32). */
    double v3[2] = {2.5, 12.5};
    assert_int_equal(pw_score_geomean(base, v3, 2, true, &s), PW_OK);
    assert_close(s, sqrt(32.0), 1e-14);
    /* Failing the accuracy gate: 0 however fast. */
    assert_int_equal(pw_score_geomean(base, v3, 2, false, &s), PW_OK);
    assert_true(s == 0.0);
    /* Bad input. */
    double bad[2] = {0, 1};
    s = 42;
    assert_int_equal(pw_score_geomean(base, bad, 2, true, &s), PW_EINVAL);
    assert_int_equal(pw_score_geomean(base, v1, 0, true, &s), PW_EINVAL);
    assert_true(s == 42);
}

static void test_rank(void **state)
{
    (void)state;
    double score[5] = {1.0, 3.0, 2.0, 3.0, 0.0}, rank[5];
    assert_int_equal(pw_score_rank(score, 5, rank), PW_OK);
    /* 3.0 and 3.0 share ranks 1 and 2 → 1.5; then 2.0 → 3, 1.0 → 4, 0.0 → 5. */
    assert_close(rank[0], 4, 0);
    assert_close(rank[1], 1.5, 0);
    assert_close(rank[2], 3, 0);
    assert_close(rank[3], 1.5, 0);
    assert_close(rank[4], 5, 0);
    assert_int_equal(pw_score_rank(score, 0, rank), PW_EINVAL);
}

/* R's example in ?cor.test (Hollander & Wolfe 1973, p. 187):
 *   x <- c(44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1)
 *   y <- c( 2.6,  3.1,  2.5,  5.0,  3.6,  4.0,  5.2,  2.8,  3.8)
 *   cor.test(x, y, method = "kendall")  →  T = 26, tau 0.4444444
 * (26 concordant of 36 pairs, 10 discordant: (26 − 10) / 36 = 4/9). */
static void test_kendall_r(void **state)
{
    (void)state;
    const double x[] = {44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1};
    const double y[] = {2.6, 3.1, 2.5, 5.0, 3.6, 4.0, 5.2, 2.8, 3.8};
    double tau;
    assert_int_equal(pw_score_kendall_tau(x, y, 9, &tau), PW_OK);
    assert_close(tau, 4.0 / 9.0, 1e-15);
}

static void test_kendall_hand(void **state)
{
    (void)state;
    double tau;
    /* Identical and reversed orders. */
    const double a[] = {1, 2, 3, 4}, rev[] = {4, 3, 2, 1};
    assert_int_equal(pw_score_kendall_tau(a, a, 4, &tau), PW_OK);
    assert_close(tau, 1, 0);
    assert_int_equal(pw_score_kendall_tau(a, rev, 4, &tau), PW_OK);
    assert_close(tau, -1, 0);
    /* x = 1..5, y = 3 1 2 5 4: discordant pairs (1,2) (1,3) (4,5), 7 concordant of 10 → 0.4. */
    const double x[] = {1, 2, 3, 4, 5}, y[] = {3, 1, 2, 5, 4};
    assert_int_equal(pw_score_kendall_tau(x, y, 5, &tau), PW_OK);
    assert_close(tau, 0.4, 1e-15);
    /* With ties (tau-b): x = 1 2 2 3, y = 1 2 3 3.  Pairs: (1,2) C, (1,3) C, (1,4) C, (2,3) tie in
     * x, (2,4) C, (3,4) tie in y → C 4, D 0, Tx 1, Ty 1: 4 / sqrt(5 · 5) = 0.8. */
    const double tx[] = {1, 2, 2, 3}, ty[] = {1, 2, 3, 3};
    assert_int_equal(pw_score_kendall_tau(tx, ty, 4, &tau), PW_OK);
    assert_close(tau, 0.8, 1e-15);
    /* Undefined cases. */
    const double c[] = {1, 1, 1, 1};
    assert_int_equal(pw_score_kendall_tau(a, c, 4, &tau), PW_EINVAL);
    assert_int_equal(pw_score_kendall_tau(a, a, 1, &tau), PW_EINVAL);
}

/* Three runs of three submissions, the third run swapping the last two: tau(1, 2) = 1 and
 * tau(1, 3) = tau(2, 3) = (2 − 1) / 3, so the mean over the pairs of runs is 5/9.  Every
 * bootstrap draw averages some of those three taus, so the interval lies within [1/3, 1]. */
static void test_tau_mean(void **state)
{
    (void)state;
    const double scores[] = {3, 2, 1, 3, 2, 1, 3, 1, 2};
    double mean, ci[2], again[2];
    size_t pairs;
    assert_int_equal(pw_score_tau_mean_ci(scores, 3, 3, 42, 2000, 0.95, &mean, ci, &pairs), PW_OK);
    assert_close(mean, 5.0 / 9.0, 1e-12);
    assert_int_equal(pairs, 3);
    assert_true(ci[0] >= 1.0 / 3.0 - 1e-12 && ci[0] <= mean);
    assert_true(ci[1] <= 1 + 1e-12 && ci[1] >= mean);
    assert_true(ci[0] < ci[1]);
    /* The same seed gives the same interval. */
    assert_int_equal(pw_score_tau_mean_ci(scores, 3, 3, 42, 2000, 0.95, &mean, again, NULL), PW_OK);
    assert_close(again[0], ci[0], 0);
    assert_close(again[1], ci[1], 0);
    /* Runs that all agree: the bootstrap sees no variation, [1, 1]. */
    const double same[] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3};
    assert_int_equal(pw_score_tau_mean_ci(same, 4, 3, 1, 100, 0.95, &mean, ci, &pairs), PW_OK);
    assert_close(mean, 1, 0);
    assert_close(ci[0], 1, 0);
    assert_close(ci[1], 1, 0);
    assert_int_equal(pairs, 6);
    /* Guards: too few runs, submissions or resamples; every run tied (tau undefined). */
    assert_int_equal(pw_score_tau_mean_ci(same, 1, 3, 1, 100, 0.95, &mean, ci, NULL), PW_EINVAL);
    assert_int_equal(pw_score_tau_mean_ci(same, 4, 1, 1, 100, 0.95, &mean, ci, NULL), PW_EINVAL);
    assert_int_equal(pw_score_tau_mean_ci(same, 4, 3, 1, 5, 0.95, &mean, ci, NULL), PW_EINVAL);
    const double tied[] = {0, 0, 0, 0, 0, 0};
    assert_int_equal(pw_score_tau_mean_ci(tied, 2, 3, 1, 100, 0.95, &mean, ci, NULL), PW_EINVAL);
}

/* Clopper–Pearson closed forms: k = 0 → [0, 1 − (α/2)^(1/n)]; k = n → [(α/2)^(1/n), 1]. */
static void test_proportion_ci(void **state)
{
    (void)state;
    double ci[2];
    assert_int_equal(pw_score_proportion_ci(0, 20, 0.95, ci), PW_OK);
    assert_close(ci[0], 0, 0);
    assert_close(ci[1], 1 - pow(0.025, 1.0 / 20), 1e-9);
    assert_int_equal(pw_score_proportion_ci(20, 20, 0.95, ci), PW_OK);
    assert_close(ci[0], pow(0.025, 1.0 / 20), 1e-9);
    assert_close(ci[1], 1, 0);
    /* Symmetry: k of n mirrors n − k of n. */
    double d[2];
    assert_int_equal(pw_score_proportion_ci(7, 20, 0.95, ci), PW_OK);
    assert_int_equal(pw_score_proportion_ci(13, 20, 0.95, d), PW_OK);
    assert_close(ci[0], 1 - d[1], 1e-9);
    assert_close(ci[1], 1 - d[0], 1e-9);
    assert_true(ci[0] < 0.35 && 0.35 < ci[1]);
    assert_int_equal(pw_score_proportion_ci(3, 2, 0.95, ci), PW_EINVAL);
    assert_int_equal(pw_score_proportion_ci(0, 0, 0.95, ci), PW_EINVAL);
    /* Hundreds of trials, where GSL's inverse beta returns NaN for some of these: references from
     * the binomial tails, P(X <= k | n, hi) = 0.025 = P(X >= k | n, lo), bisected in exact
     * integer arithmetic (Python's math.comb), independent of any beta function. */
    static const struct { size_t k, n; double lo, hi; } ref[] = {
        {2, 260, 0.000932935506065, 0.027509464775},
        {8, 350, 0.0099185546559, 0.0445392736001},
        {4, 360, 0.00303547239301, 0.028203048362},
        {18, 470, 0.0228529038399, 0.0598533086247},
        {258, 260, 0.972490535225, 0.999067064494},
        {10, 200, 0.0242341654721, 0.0900275377014},
        {31, 1000, 0.0211581719702, 0.0437150850062},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        assert_int_equal(pw_score_proportion_ci(ref[i].k, ref[i].n, 0.95, ci), PW_OK);
        assert_close(ci[0], ref[i].lo, 1e-9);
        assert_close(ci[1], ref[i].hi, 1e-9);
    }
    /* Every k of a few n up to 1000 gives a finite, ordered interval containing k / n. */
    for (size_t n = 10; n <= 1000; n += 70)
        for (size_t k = 0; k <= n; k++) {
            assert_int_equal(pw_score_proportion_ci(k, n, 0.95, ci), PW_OK);
            double p = (double)k / (double)n;
            if (!(ci[0] >= 0 && ci[0] <= p && p <= ci[1] && ci[1] <= 1))
                fail_msg("%zu of %zu: [%g, %g]", k, n, ci[0], ci[1]);
        }
}

int main(void)
{
    gsl_set_error_handler_off(); /* as main() does: GSL reports, perfweave decides */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geomean),
        cmocka_unit_test(test_rank),
        cmocka_unit_test(test_kendall_r),
        cmocka_unit_test(test_kendall_hand),
        cmocka_unit_test(test_tau_mean),
        cmocka_unit_test(test_proportion_ci),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
