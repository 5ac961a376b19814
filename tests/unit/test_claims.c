/* test_claims.c — claim parsing (good and malformed), verdicts from synthetic intervals with
 * known shifts, Holm demotion, ERROR cases, and the verdict helpers. */
#include "support.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/claims.h"
#include "perfweave/common.h"
#include "perfweave/result.h"

/* --- parsing --------------------------------------------------------------------------------- */

static void test_parse_good(void **state)
{
    (void)state;
    pw_claim c;
    char msg[256];
    assert_int_equal(pw_claim_parse("  speedup(openblas, naive) >= 5 where n >= 256  ", &c, msg,
                                    sizeof msg), PW_OK);
    assert_string_equal(c.text, "speedup(openblas, naive) >= 5 where n >= 256");
    assert_string_equal(c.target, "speedup.openblas_vs_naive");
    assert_int_equal(c.cmp, PW_CMP_GE);
    assert_close(c.threshold, 5, 0);
    assert_true(c.scoped);
    assert_string_equal(c.scope_var, "n");
    assert_int_equal(c.scope_cmp, PW_CMP_GE);
    assert_close(c.scope_value, 256, 0);
    pw_claim_release(&c);

    assert_int_equal(pw_claim_parse("exponent(time_per_token, cached) <= 1.2", &c, msg, sizeof msg),
                     PW_OK);
    assert_string_equal(c.target, "exponent.time_per_token.cached");
    assert_int_equal(c.cmp, PW_CMP_LE);
    assert_close(c.threshold, 1.2, 0);
    assert_false(c.scoped);
    pw_claim_release(&c);

    assert_int_equal(pw_claim_parse("accuracy.int8 in [0.95, 1]", &c, msg, sizeof msg), PW_OK);
    assert_string_equal(c.target, "accuracy.int8");
    assert_int_equal(c.cmp, PW_CMP_IN);
    assert_close(c.threshold, 0.95, 0);
    assert_close(c.threshold_hi, 1, 0);
    pw_claim_release(&c);

    assert_int_equal(pw_claim_parse("ratio(kv,cache,mem)==2 where t<1e3", &c, msg, sizeof msg), PW_OK);
    assert_string_equal(c.target, "ratio.kv.cache.mem");
    assert_int_equal(c.cmp, PW_CMP_EQ);
    assert_string_equal(c.scope_var, "t");
    assert_int_equal(c.scope_cmp, PW_CMP_LT);
    assert_close(c.scope_value, 1000, 0);
    pw_claim_release(&c);

    assert_int_equal(pw_claim_parse("gflops.naive.n256 > -1.5", &c, msg, sizeof msg), PW_OK);
    assert_string_equal(c.target, "gflops.naive.n256");
    assert_int_equal(c.cmp, PW_CMP_GT);
    assert_close(c.threshold, -1.5, 0);
    pw_claim_release(&c);
    pw_claim_release(NULL);
}

static void expect_error(const char *text, const char *want)
{
    pw_claim c;
    char msg[256];
    memset(&c, 0, sizeof c);
    int rc = pw_claim_parse(text, &c, msg, sizeof msg);
    if (rc != PW_EINVAL) print_error("claim '%s' parsed unexpectedly\n", text);
    assert_int_equal(rc, PW_EINVAL);
    if (strcmp(msg, want) != 0) print_error("claim '%s': got '%s'\n", text, msg);
    assert_string_equal(msg, want);
}

static void test_parse_bad(void **state)
{
    (void)state;
    expect_error("speedup(a, b) 5",
                 "claim: expected a comparison (>=, >, <=, <, ==, in) after 'speedup(a, b)'");
    expect_error("", "claim: empty claim");
    expect_error("   ", "claim: empty claim");
    expect_error("speedup(a) >= 2", "claim: speedup takes two variants, speedup(fast, slow); found 1");
    expect_error("speedup(a, b >= 2", "claim: expected ',' or ')' in speedup(…), found '>='");
    expect_error("speedup(, b) >= 2", "claim: expected a variant name in speedup(…), found ','");
}

static void test_parse_bad_more(void **state)
{
    (void)state;
    expect_error("x >= fast", "claim: expected a number (threshold) after 'x >=', found 'fast'");
    expect_error("x >=", "claim: expected a number (threshold) after 'x >=', found 'end of line'");
    expect_error("x >= nan", "claim: the (threshold) must be a finite number");
    expect_error("x in [2, 1]", "claim: the range [2, 1] is empty (start above end)");
    expect_error("x in 1, 2", "claim: expected '[' to open the range after 'x in', found '1,'");
    expect_error("x in [1 2]",
                 "claim: expected ',' between the range's bounds after 'x in [1', found '2]'");
    expect_error("x >= 1 where >= 3",
                 "claim: expected a size variable (letters, e.g. n) after 'where', found '>='");
    expect_error("x >= 1 where n 3",
                 "claim: expected a comparison (>=, >, <=, <, ==) after 'x >= 1 where n'");
    expect_error("x >= 1 where n in [1, 2]",
                 "claim: expected a comparison (>=, >, <=, <, ==) after 'x >= 1 where n'");
    expect_error("x >= 1 junk", "claim: unexpected 'junk' after 'x >= 1'");
    expect_error(">= 1", "claim: expected a metric or function such as speedup(a, b), found '>='");
    expect_error("a.b(c, d) > 1", "claim: a function name cannot contain '.': 'a.b'");
}

/* --- evaluation ------------------------------------------------------------------------------ */

static pw_claim parse(const char *text)
{
    pw_claim c;
    char msg[256];
    if (pw_claim_parse(text, &c, msg, sizeof msg) != PW_OK) {
        print_error("%s\n", msg);
        fail();
    }
    return c;
}

/* Evaluates one claim against r; returns the claim's JSON object (new reference). */
static json_t *eval1(const char *text, const pw_result *r)
{
    pw_claim c = parse(text);
    const pw_result *rs[1] = {r};
    json_t *arr = pw_claims_evaluate(&c, rs, 1);
    assert_int_equal(json_array_size(arr), 1);
    json_t *o = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    pw_claim_release(&c);
    return o;
}

static const char *verdict(const json_t *o)
{
    return json_string_value(json_object_get(o, "verdict"));
}

static const char *point_state(const json_t *o, const char *metric)
{
    json_t *pts = json_object_get(o, "points");
    for (size_t i = 0; i < json_array_size(pts); i++) {
        json_t *p = json_array_get(pts, i);
        if (strcmp(json_string_value(json_object_get(p, "metric")), metric) == 0)
            return json_string_value(json_object_get(p, "state"));
    }
    return NULL;
}

/* Speedups with clearly separated intervals: n64 ≈ 2.6 (2.5–2.7), n128 ≈ 3.1 (3.0–3.2),
 * n256 ≈ 1.5 (1.4–1.6), n512 ≈ 2.0 (1.9–2.1); plus a look-alike family that must not match. */
static pw_result *speedups(void)
{
    pw_result *r = pw_result_new("test.claims", "speed");
    pw_result_metric(r, "speedup.fast_vs_slow.n64", 2.6, 2.5, 2.7, "×");
    pw_result_metric(r, "speedup.fast_vs_slow.n128", 3.1, 3.0, 3.2, "×");
    pw_result_metric(r, "speedup.fast_vs_slow.n256", 1.5, 1.4, 1.6, "×");
    pw_result_metric(r, "speedup.fast_vs_slow.n512", 2.0, 1.9, 2.1, "×");
    pw_result_metric(r, "speedup.fast_vs_slower.n64", 100, 99, 101, "×");
    pw_result_metric(r, "speedup.fast_vs_slow.t64", 9, 8, 10, "×");
    pw_result_metric(r, "gflops.fast.n64", 10, 9, 11, "GFLOP/s");
    pw_result_metric_basis(r, "speedup.fast_vs_slow.n512", 20, 0.1);
    return r;
}

static void test_verdicts(void **state)
{
    (void)state;
    pw_result *r = speedups();
    json_t *o;

    o = eval1("speedup(fast, slow) >= 1.2 where n <= 512", r);
    assert_string_equal(verdict(o), "PASS");
    assert_int_equal(json_array_size(json_object_get(o, "points")), 4);
    json_decref(o);

    o = eval1("speedup(fast, slow) >= 2.2 where n >= 64", r);
    assert_string_equal(verdict(o), "PARTIAL");
    assert_string_equal(point_state(o, "speedup.fast_vs_slow.n64"), "holds");
    assert_string_equal(point_state(o, "speedup.fast_vs_slow.n256"), "fails");
    assert_null(point_state(o, "speedup.fast_vs_slow.t64")); /* other letters: out of scope */
    assert_null(point_state(o, "speedup.fast_vs_slower.n64")); /* other family */
    json_decref(o);

    o = eval1("speedup(fast, slow) > 5 where n > 0", r);
    assert_string_equal(verdict(o), "FAIL");
    json_decref(o);

    /* Without a scope every <letters><number> point counts, the t64 one too. */
    o = eval1("speedup(fast, slow) > 1", r);
    assert_string_equal(verdict(o), "PASS");
    assert_int_equal(json_array_size(json_object_get(o, "points")), 5);
    json_decref(o);

    /* Straddling: 2.0 (1.9–2.1) against 2 is undecided; mde and samples_needed come from its
     * basis (n 20, cv 0.1): mde = 0.08859390348296597 (see test_stats), samples_needed =
     * 20 · ((2.1 − 1.9)/2 / |2.0 − 1.95|)² = 20 · 4 = 80. */
    o = eval1("speedup(fast, slow) >= 1.95 where n == 512", r);
    assert_string_equal(verdict(o), "UNDECIDED");
    assert_non_null(json_string_value(json_object_get(o, "reason")));
    json_t *p = json_array_get(json_object_get(o, "points"), 0);
    assert_string_equal(json_string_value(json_object_get(p, "state")), "undecided");
    assert_close(json_number_value(json_object_get(p, "mde")), 0.08859390348296597, 1e-12);
    assert_close(json_number_value(json_object_get(p, "samples_needed")), 80, 1e-9);
    assert_close(json_number_value(json_object_get(p, "value")), 2.0, 0);
    assert_close(json_number_value(json_object_get(p, "lo")), 1.9, 0);
    assert_close(json_number_value(json_object_get(p, "hi")), 2.1, 0);
    assert_string_equal(json_string_value(json_object_get(p, "unit")), "×");
    json_decref(o);

    /* Holds at both sizes in scope; then holds, fails and undecided together: PARTIAL. */
    o = eval1("speedup(fast, slow) >= 2 where n <= 128", r);
    assert_string_equal(verdict(o), "PASS");
    json_decref(o);
    o = eval1("speedup(fast, slow) in [1.95, 3.5] where n >= 128", r);
    assert_string_equal(verdict(o), "PARTIAL");
    assert_string_equal(point_state(o, "speedup.fast_vs_slow.n128"), "holds");
    assert_string_equal(point_state(o, "speedup.fast_vs_slow.n256"), "fails");
    assert_string_equal(point_state(o, "speedup.fast_vs_slow.n512"), "undecided");
    json_decref(o);

    /* A bare metric name and <=. */
    o = eval1("gflops.fast.n64 <= 12", r);
    assert_string_equal(verdict(o), "PASS");
    json_decref(o);
    o = eval1("gflops.fast.n64 <= 12 where n >= 64", r);
    assert_string_equal(verdict(o), "PASS");
    json_decref(o);
    o = eval1("gflops.fast.n64 <= 12 where n > 64", r);
    assert_string_equal(verdict(o), "ERROR");
    json_decref(o);
    o = eval1("gflops(fast) < 9", r);
    assert_string_equal(verdict(o), "FAIL");
    json_decref(o);
    pw_result_free(r);
}

static void test_exact_and_equality(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("test.claims", "exact");
    pw_result_exact(r, "flops.linear", 264192, "");
    pw_result_metric(r, "ratio.mem.n8", 2.0, 1.9, 2.1, "×");
    json_t *o = eval1("flops.linear == 264192", r);
    assert_string_equal(verdict(o), "PASS");
    json_decref(o);
    o = eval1("flops.linear == 264193", r);
    assert_string_equal(verdict(o), "FAIL");
    json_decref(o);
    /* A noisy value can only be undecided or fail on equality. */
    o = eval1("ratio(mem) == 2", r);
    assert_string_equal(verdict(o), "UNDECIDED");
    json_decref(o);
    o = eval1("ratio(mem) == 3", r);
    assert_string_equal(verdict(o), "FAIL");
    json_decref(o);
    /* An exact value sitting on a >= / <= threshold holds with certainty (no sampling error), so
     * Holm must not demote it: e.g. a rank correlation of exactly 0.6 against tau >= 0.6. */
    pw_result_exact(r, "tau.min", 0.6, "");
    o = eval1("tau.min >= 0.6", r);
    assert_string_equal(verdict(o), "PASS");
    json_decref(o);
    o = eval1("tau.min <= 0.6", r);
    assert_string_equal(verdict(o), "PASS");
    json_decref(o);
    o = eval1("tau.min > 0.6", r);
    assert_string_equal(verdict(o), "FAIL");
    json_decref(o);
    pw_result_free(r);
}

/* One-sided p on log scale for ratios: value 2 with interval 1.8–2.2 against 1.
 * se = (log 2.2 − log 1.8) / (2 · 1.959963984540054); p = Q((log 2 − log 1) / se). */
static void test_p_values(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("test.claims", "p");
    pw_result_metric(r, "speedup.a_vs_b", 2.0, 1.8, 2.2, "×");
    pw_result_metric(r, "gain.a", 10, 8, 12, "%");
    json_t *o = eval1("speedup(a, b) > 1", r);
    json_t *p = json_array_get(json_object_get(o, "points"), 0);
    double se = (log(2.2) - log(1.8)) / (2 * 1.959963984540054);
    assert_close(json_number_value(json_object_get(p, "p")), gsl_cdf_ugaussian_Q(log(2.0) / se), 1e-12);
    json_decref(o);
    /* Linear scale otherwise: se = 4 / 3.919927969080108, p = Q((10 − 9) / se). */
    o = eval1("gain(a) > 9", r);
    p = json_array_get(json_object_get(o, "points"), 0);
    double sl = 4 / (2 * 1.959963984540054);
    assert_close(json_number_value(json_object_get(p, "p")), gsl_cdf_ugaussian_Q(1 / sl), 1e-12);
    assert_string_equal(json_string_value(json_object_get(p, "state")), "undecided");
    json_decref(o);
    pw_result_free(r);
}

/* Holm across one call: each interval alone excludes the threshold, barely (lower bound just
 * above it, so a one-sided p just under 0.025); four such points adjust to ~0.1 and all become
 * undecided.  A single such point evaluated alone holds. */
static void test_holm_demotion(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("test.claims", "holm");
    pw_result_metric(r, "gain.a.n1", 1.0, 0.01, 1.99, "");
    pw_result_metric(r, "gain.a.n2", 1.0, 0.01, 1.99, "");
    pw_result_metric(r, "gain.b.n1", 1.0, 0.01, 1.99, "");
    pw_result_metric(r, "gain.b.n2", 1.0, 0.01, 1.99, "");
    pw_claim c[2] = {parse("gain(a) > 0"), parse("gain(b) > 0")};
    const pw_result *rs[2] = {r, r};
    json_t *arr = pw_claims_evaluate(c, rs, 2);
    assert_int_equal(json_array_size(arr), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_array_get(arr, i);
        assert_string_equal(verdict(o), "UNDECIDED");
        assert_non_null(strstr(json_string_value(json_object_get(o, "reason")), "Holm"));
        json_t *p = json_array_get(json_object_get(o, "points"), 0);
        double praw = json_number_value(json_object_get(p, "p"));
        assert_true(praw < 0.025);
        assert_close(json_number_value(json_object_get(p, "p_holm")), 4 * praw, 1e-12);
    }
    json_decref(arr);
    json_t *o = eval1("gain(a) > 0 where n == 1", r);
    assert_string_equal(verdict(o), "PASS");
    json_decref(o);
    pw_claim_release(&c[0]);
    pw_claim_release(&c[1]);
    pw_result_free(r);
}

static void test_errors(void **state)
{
    (void)state;
    pw_result *r = speedups();
    json_t *o = eval1("speedup(fast, slwo) >= 2", r);
    assert_string_equal(verdict(o), "ERROR");
    const char *why = json_string_value(json_object_get(o, "reason"));
    assert_non_null(strstr(why, "no metric matches 'speedup.fast_vs_slwo'"));
    assert_non_null(strstr(why, "did you mean 'speedup.fast_vs_slow'"));
    json_decref(o);
    o = eval1("speedup(fast, slow) >= 2 where n > 4096", r);
    assert_string_equal(verdict(o), "ERROR");
    json_decref(o);
    pw_result_error(r, "kernel check failed");
    o = eval1("speedup(fast, slow) >= 2", r);
    assert_string_equal(verdict(o), "ERROR");
    assert_non_null(strstr(json_string_value(json_object_get(o, "reason")), "kernel check failed"));
    json_decref(o);
    pw_result_free(r);
    /* A missing result is an ERROR too. */
    pw_claim c = parse("x > 1");
    const pw_result *none[1] = {NULL};
    json_t *arr = pw_claims_evaluate(&c, none, 1);
    assert_string_equal(verdict(json_array_get(arr, 0)), "ERROR");
    json_decref(arr);
    pw_claim_release(&c);
}

/* Blocked points: a metric marked undecidable, or a disturbed result, is UNDECIDED with its
 * reason whatever its interval says, and does not enter the Holm family of the others. */
/* An estimate on its threshold gets no extrapolated sample count, only the statement. */
static void test_on_threshold(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("test.claims", "edge");
    pw_result_metric(r, "speedup.a_vs_b.n1", 0.9001, 0.88, 0.94, "×");
    pw_result_metric_basis(r, "speedup.a_vs_b.n1", 20, 0.05);
    pw_result_metric(r, "speedup.a_vs_b.n2", 0.95, 0.88, 1.02, "×");
    pw_result_metric_basis(r, "speedup.a_vs_b.n2", 20, 0.05);
    json_t *o = eval1("speedup(a, b) >= 0.9", r);
    json_t *p1 = json_array_get(json_object_get(o, "points"), 0), *p2 = json_array_get(json_object_get(o, "points"), 1);
    assert_true(json_is_true(json_object_get(p1, "on_threshold")));
    assert_null(json_object_get(p1, "samples_needed"));
    assert_null(json_object_get(p2, "on_threshold"));
    /* half-width 0.07 against a gap of 0.05: (0.07/0.05)^2 * 20 = 39.2, rounded up */
    assert_close(json_number_value(json_object_get(p2, "samples_needed")), 40, 0);
    json_decref(o);
    pw_result_free(r);
}

static void test_blocked_points(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("test.claims", "blocked");
    /* Both intervals lie far above 1; one is against a handicapped baseline. */
    pw_result_metric(r, "speedup.fast_vs_lib.n64", 3.0, 2.9, 3.1, "×");
    pw_result_metric(r, "speedup.fast_vs_lib.n1024", 3.0, 2.9, 3.1, "×");
    assert_int_equal(pw_result_metric_undecidable(r, "speedup.fast_vs_lib.n1024", "baseline",
                                                  "lib reached %d%% of the peak", 19), PW_OK);
    assert_int_equal(pw_result_metric_undecidable(r, "no.such.metric", "baseline", "x"), PW_ENOTFOUND);
    json_t *o = eval1("speedup(fast, lib) > 1", r);
    assert_string_equal(verdict(o), "PARTIAL");
    assert_string_equal(point_state(o, "speedup.fast_vs_lib.n64"), "holds");
    assert_string_equal(point_state(o, "speedup.fast_vs_lib.n1024"), "undecided");
    json_t *p = json_array_get(json_object_get(o, "points"), 1);
    assert_string_equal(json_string_value(json_object_get(p, "why")), "baseline");
    assert_string_equal(json_string_value(json_object_get(p, "reason")), "lib reached 19% of the peak");
    assert_non_null(strstr(json_string_value(json_object_get(o, "reason")), "1 of 2 points cannot decide"));
    /* The blocked point is not part of the Holm family: the other one's p is not multiplied. */
    json_t *p0 = json_array_get(json_object_get(o, "points"), 0);
    assert_close(json_number_value(json_object_get(p0, "p_holm")),
                 json_number_value(json_object_get(p0, "p")), 0);
    json_decref(o);
    o = eval1("speedup(fast, lib) > 1 where n >= 1024", r);
    assert_string_equal(verdict(o), "UNDECIDED");
    assert_non_null(strstr(json_string_value(json_object_get(o, "reason")), "no point can decide"));
    json_decref(o);
    /* A disturbed result decides nothing, even where an interval is far from the threshold. */
    assert_null(pw_result_disturbed(r));
    pw_result_set_disturbed(r, "steal time %d%%", 12);
    assert_string_equal(pw_result_disturbed(r), "steal time 12%");
    o = eval1("speedup(fast, lib) > 1 where n <= 64", r);
    assert_string_equal(verdict(o), "UNDECIDED");
    p = json_array_get(json_object_get(o, "points"), 0);
    assert_string_equal(json_string_value(json_object_get(p, "why")), "disturbed");
    assert_string_equal(json_string_value(json_object_get(p, "reason")), "steal time 12%");
    json_decref(o);
    /* ...but an exact value (a count) of the same result still decides: contention distorts
     * what is timed, not what is counted. */
    pw_result_exact(r, "count.n4", 4, "");
    o = eval1("count == 4", r);
    assert_string_equal(verdict(o), "PASS");
    json_decref(o);
    /* An ordinary straddling point says why too. */
    pw_result *s = pw_result_new("test.claims", "straddle");
    pw_result_metric(s, "gain.a", 1.0, 0.9, 1.1, "");
    o = eval1("gain(a) > 1", s);
    p = json_array_get(json_object_get(o, "points"), 0);
    assert_string_equal(json_string_value(json_object_get(p, "why")), "interval");
    json_decref(o);
    pw_result_free(s);
    pw_result_free(r);
}

/* What an undecided point says about more samples: with a basis of n alone (no cv) it still
 * gets samples_needed, without an mde; on a metric marked as a fixed sample it gets that
 * sentence instead of a number of samples.  A derived metric takes its basis (cv scaled) and
 * its fixed-sample mark from its source. */
static void test_more_samples(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("test.claims", "samples");
    pw_result_metric(r, "tau.mean", 0.75, 0.5, 1.0, "");
    assert_int_equal(pw_result_metric_basis(r, "tau.mean", 10, NAN), PW_OK);
    pw_result_metric(r, "drop.accuracy.a_vs_b", 0.01, 0.005, 0.015, "");
    assert_int_equal(pw_result_metric_fixed_sample(r, "drop.accuracy.a_vs_b", "the %d-image "
                                                   "test set is all there is", 10000), PW_OK);
    assert_int_equal(pw_result_metric_fixed_sample(r, "no.such", "x"), PW_ENOTFOUND);
    pw_result_metric(r, "speedup.a_vs_b", 2.0, 1.8, 2.2, "×");
    pw_result_metric_basis(r, "speedup.a_vs_b", 20, 0.2);
    pw_result_metric(r, "score.a", 1.41, 1.34, 1.48, "");
    assert_int_equal(pw_result_metric_basis_from(r, "score.a", "speedup.a_vs_b", 0.5), PW_OK);
    assert_int_equal(pw_result_metric_basis_from(r, "score.a", "no.such", 1), PW_ENOTFOUND);
    pw_metric m;
    assert_int_equal(pw_result_get_metric(r, "score.a", &m), PW_OK);
    assert_close(m.n, 20, 0);
    assert_close(m.cv, 0.1, 1e-15);
    assert_null(m.fixed_sample);
    pw_result_metric(r, "error.a", 0.5, -0.5, 1.5, "%");
    assert_int_equal(pw_result_metric_basis_from(r, "error.a", "drop.accuracy.a_vs_b", NAN), PW_OK);
    assert_int_equal(pw_result_get_metric(r, "error.a", &m), PW_OK);
    assert_string_equal(m.fixed_sample, "the 10000-image test set is all there is");

    /* n 10, half-width 0.25, gap 0.125: 10 · (0.25 / 0.125)² = 40 runs; no cv, so no mde. */
    json_t *o = eval1("tau.mean >= 0.625", r);
    assert_string_equal(verdict(o), "UNDECIDED");
    json_t *p = json_array_get(json_object_get(o, "points"), 0);
    assert_close(json_number_value(json_object_get(p, "samples_needed")), 40, 1e-9);
    assert_null(json_object_get(p, "mde"));
    assert_null(json_object_get(p, "fixed_sample"));
    json_decref(o);

    o = eval1("drop.accuracy.a_vs_b < 0.012", r);
    assert_string_equal(verdict(o), "UNDECIDED");
    p = json_array_get(json_object_get(o, "points"), 0);
    assert_string_equal(json_string_value(json_object_get(p, "fixed_sample")),
                        "the 10000-image test set is all there is");
    assert_null(json_object_get(p, "samples_needed"));
    assert_string_equal(json_string_value(json_object_get(p, "why")), "interval");
    json_decref(o);
    /* Decided points carry no such sentence. */
    o = eval1("drop.accuracy.a_vs_b < 0.02", r);
    assert_string_equal(verdict(o), "PASS");
    assert_null(json_object_get(json_array_get(json_object_get(o, "points"), 0), "fixed_sample"));
    json_decref(o);
    pw_result_free(r);
}

static void test_verdict_helpers(void **state)
{
    (void)state;
    assert_string_equal(pw_verdict_name(PW_VERDICT_PASS), "PASS");
    assert_string_equal(pw_verdict_name(PW_VERDICT_UNDECIDED), "UNDECIDED");
    assert_int_equal(pw_verdict_parse("PARTIAL"), PW_VERDICT_PARTIAL);
    assert_int_equal(pw_verdict_parse("ERROR"), PW_VERDICT_ERROR);
    assert_int_equal(pw_verdict_parse("pass"), -1);
    pw_verdict all_pass[] = {PW_VERDICT_PASS, PW_VERDICT_PASS};
    pw_verdict mixed[] = {PW_VERDICT_PASS, PW_VERDICT_FAIL};
    pw_verdict with_error[] = {PW_VERDICT_PASS, PW_VERDICT_ERROR, PW_VERDICT_FAIL};
    pw_verdict fails[] = {PW_VERDICT_FAIL, PW_VERDICT_FAIL};
    pw_verdict und[] = {PW_VERDICT_UNDECIDED};
    assert_int_equal(pw_verdict_aggregate(all_pass, 2), PW_VERDICT_PASS);
    assert_int_equal(pw_verdict_aggregate(mixed, 2), PW_VERDICT_PARTIAL);
    assert_int_equal(pw_verdict_aggregate(with_error, 3), PW_VERDICT_ERROR);
    assert_int_equal(pw_verdict_aggregate(fails, 2), PW_VERDICT_FAIL);
    assert_int_equal(pw_verdict_aggregate(und, 1), PW_VERDICT_UNDECIDED);
    assert_int_equal(pw_verdict_aggregate(NULL, 0), PW_VERDICT_UNDECIDED);
}

/* Kinds and outcomes: a claim's PASS is "helped", a counterclaim's PASS "did not help"; the
 * verdict object carries kind, label and outcome (a condition has no outcome). */
static void test_kinds_and_outcomes(void **state)
{
    (void)state;
    static const struct { pw_claim_kind k; pw_verdict v; pw_outcome o; } table[] = {
        {PW_CLAIM_CLAIM, PW_VERDICT_PASS, PW_OUTCOME_HELPED},
        {PW_CLAIM_CLAIM, PW_VERDICT_FAIL, PW_OUTCOME_NOT_HELPED},
        {PW_CLAIM_CLAIM, PW_VERDICT_PARTIAL, PW_OUTCOME_UNDECIDED},
        {PW_CLAIM_CLAIM, PW_VERDICT_UNDECIDED, PW_OUTCOME_UNDECIDED},
        {PW_CLAIM_CLAIM, PW_VERDICT_ERROR, PW_OUTCOME_UNMEASURED},
        {PW_CLAIM_COUNTERCLAIM, PW_VERDICT_PASS, PW_OUTCOME_NOT_HELPED},
        {PW_CLAIM_COUNTERCLAIM, PW_VERDICT_FAIL, PW_OUTCOME_HELPED},
        {PW_CLAIM_COUNTERCLAIM, PW_VERDICT_PARTIAL, PW_OUTCOME_UNDECIDED},
        {PW_CLAIM_COUNTERCLAIM, PW_VERDICT_UNDECIDED, PW_OUTCOME_UNDECIDED},
        {PW_CLAIM_COUNTERCLAIM, PW_VERDICT_ERROR, PW_OUTCOME_UNMEASURED},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        assert_int_equal(pw_claim_outcome(table[i].k, table[i].v), table[i].o);
    /* A PARTIAL claim is MIXED only when some of its points hold and others fail. */
    assert_int_equal(pw_claim_outcome_of(PW_CLAIM_CLAIM, PW_VERDICT_PARTIAL, 1, 1), PW_OUTCOME_MIXED);
    assert_int_equal(pw_claim_outcome_of(PW_CLAIM_COUNTERCLAIM, PW_VERDICT_PARTIAL, 2, 1),
                     PW_OUTCOME_MIXED);
    assert_int_equal(pw_claim_outcome_of(PW_CLAIM_CLAIM, PW_VERDICT_PARTIAL, 1, 0), PW_OUTCOME_UNDECIDED);
    assert_int_equal(pw_claim_outcome_of(PW_CLAIM_CLAIM, PW_VERDICT_PARTIAL, 0, 2), PW_OUTCOME_UNDECIDED);
    assert_int_equal(pw_claim_outcome_of(PW_CLAIM_CLAIM, PW_VERDICT_PASS, 3, 0), PW_OUTCOME_HELPED);
    assert_string_equal(pw_outcome_name(PW_OUTCOME_MIXED), "mixed");
    assert_int_equal(pw_outcome_parse("mixed"), PW_OUTCOME_MIXED);
    assert_string_equal(pw_outcome_name(PW_OUTCOME_NOT_HELPED), "did not help");
    assert_int_equal(pw_outcome_parse("could not be measured"), PW_OUTCOME_UNMEASURED);
    assert_int_equal(pw_outcome_parse("helps"), -1);
    assert_string_equal(pw_claim_kind_name(PW_CLAIM_COUNTERCLAIM), "counterclaim");

    pw_result *r = speedups();
    pw_claim c[3] = {parse("speedup(fast, slow) > 1"), parse("speedup(fast, slow) < 1"),
                     parse("speedup(fast, slow) > 1 where n >= 256")};
    c[1].kind = PW_CLAIM_COUNTERCLAIM;
    c[1].label = pw_xstrdup("slow-anyway");
    c[2].kind = PW_CLAIM_CONDITION;
    c[2].label = pw_xstrdup("big");
    const pw_result *rs[3] = {r, r, r};
    json_t *arr = pw_claims_evaluate(c, rs, 3);
    json_t *o0 = json_array_get(arr, 0), *o1 = json_array_get(arr, 1), *o2 = json_array_get(arr, 2);
    assert_string_equal(verdict(o0), "PASS");
    assert_string_equal(json_string_value(json_object_get(o0, "kind")), "claim");
    assert_null(json_object_get(o0, "label"));
    assert_string_equal(json_string_value(json_object_get(o0, "outcome")), "helped");
    assert_string_equal(verdict(o1), "FAIL");
    assert_string_equal(json_string_value(json_object_get(o1, "kind")), "counterclaim");
    assert_string_equal(json_string_value(json_object_get(o1, "label")), "slow-anyway");
    assert_string_equal(json_string_value(json_object_get(o1, "outcome")), "helped");
    assert_string_equal(json_string_value(json_object_get(o2, "kind")), "condition");
    assert_null(json_object_get(o2, "outcome"));
    json_decref(arr);
    pw_result_error(r, "kernel check failed");
    arr = pw_claims_evaluate(&c[1], rs, 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "outcome")),
                        "could not be measured");
    json_decref(arr);
    for (int i = 0; i < 3; i++) pw_claim_release(&c[i]);
    pw_result_free(r);
}

/* Nothing to decide from yet (a directive not measured yet): UNDECIDED, its kind, label and
 * outcome as any verdict object has them, the reason, no points. */
static void test_undecided_without_result(void **state)
{
    (void)state;
    pw_claim c;
    char msg[128];
    assert_int_equal(pw_claim_parse("speedup(a, b) >= 2", &c, msg, sizeof msg), PW_OK);
    c.kind = PW_CLAIM_COUNTERCLAIM;
    c.label = pw_xstrdup("fast");
    json_t *v = pw_claim_undecided(&c, "not measured yet");
    assert_string_equal(json_string_value(json_object_get(v, "claim")), "speedup(a, b) >= 2");
    assert_string_equal(json_string_value(json_object_get(v, "kind")), "counterclaim");
    assert_string_equal(json_string_value(json_object_get(v, "label")), "fast");
    assert_string_equal(json_string_value(json_object_get(v, "verdict")), "UNDECIDED");
    assert_string_equal(json_string_value(json_object_get(v, "outcome")), "undecided");
    assert_string_equal(json_string_value(json_object_get(v, "reason")), "not measured yet");
    assert_int_equal(json_array_size(json_object_get(v, "points")), 0);
    json_decref(v);
    c.kind = PW_CLAIM_CONDITION; /* a condition has no outcome */
    v = pw_claim_undecided(&c, NULL);
    assert_null(json_object_get(v, "outcome"));
    assert_non_null(json_string_value(json_object_get(v, "reason")));
    json_decref(v);
    pw_claim_release(&c);
}

int main(void)
{
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_undecided_without_result),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_bad_more),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_exact_and_equality),
        cmocka_unit_test(test_p_values),
        cmocka_unit_test(test_holm_demotion),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_on_threshold),
        cmocka_unit_test(test_blocked_points),
        cmocka_unit_test(test_more_samples),
        cmocka_unit_test(test_verdict_helpers),
        cmocka_unit_test(test_kinds_and_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
