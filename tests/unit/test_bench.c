/* test_bench.c — the measurement loop's bookkeeping: interleaving, sample counts, calibration
 * and the publishing helpers.  Nothing here asserts on a duration: the workloads are
 * deterministic and record the order in which they are called; the budget is tiny. */
#include "support.h"

#include <gsl/gsl_errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/bench.h"
#include "perfweave/claims.h"
#include "perfweave/common.h"
#include "perfweave/result.h"

#define MAXLOG 100000

typedef struct {
    size_t who[MAXLOG];
    uint64_t iters[MAXLOG];
    size_t n;
} call_log;

typedef struct {
    call_log *log;
    size_t id;
    unsigned extra; /* more work per iteration */
} workload;

static void work(void *arg, uint64_t iters)
{
    workload *w = arg;
    volatile double acc = 0;
    for (uint64_t i = 0; i < iters; i++)
        for (unsigned k = 0; k <= w->extra; k++) acc += (double)(i ^ k) * 1e-9;
    if (w->log->n < MAXLOG) {
        w->log->who[w->log->n] = w->id;
        w->log->iters[w->log->n] = iters;
        w->log->n++;
    }
}

static pw_bench_config tiny(void)
{
    pw_bench_config cfg;
    pw_bench_config_default(&cfg, 1);
    cfg.max_seconds = 0.02;
    cfg.min_sample_seconds = 1e-5;
    cfg.warmup_seconds = 0.001;
    cfg.min_samples = 6;
    cfg.max_samples = 12;
    /* unreachable, even by a 0-wide interval (a tiny work item on a fast core can time the same
     * clock ticks every round): the loop must stop on budget, the rounds or the cap */
    cfg.target_rel_ci = -1;
    return cfg;
}

static void test_defaults(void **state)
{
    (void)state;
    pw_bench_config full, quick;
    pw_bench_config_default(&full, 0);
    pw_bench_config_default(&quick, 1);
    assert_close(full.target_rel_ci, 0.01, 0);
    assert_int_equal(full.min_samples, 20); /* see docs/methodology.md: A/A false positives */
    assert_int_equal(quick.min_samples, PW_BENCH_MIN_DECIDING); /* quick benches can decide */
    assert_int_equal(PW_BENCH_MIN_DECIDING, 6);
    assert_true(quick.quick && !full.quick);
    assert_true(full.max_seconds >= 2 && full.max_seconds <= 3);
    assert_true(quick.max_seconds <= 0.3 + 1e-12);
    assert_true(full.max_samples >= full.min_samples);
    pw_bench *b = pw_bench_new(&full);
    assert_string_equal(pw_bench_stop_reason(b), "not run");
    assert_int_equal(pw_bench_count(b), 0);
    pw_bench_free(b);
    pw_bench_free(NULL);
}

static void test_interleaving(void **state)
{
    (void)state;
    call_log *log = pw_xcalloc(1, sizeof *log);
    workload w[3] = {{log, 0, 0}, {log, 1, 3}, {log, 2, 7}};
    pw_bench_config cfg = tiny();
    pw_bench *b = pw_bench_new(&cfg);
    assert_int_equal(pw_bench_add(b, "a", work, &w[0]), 0);
    assert_int_equal(pw_bench_add(b, "b", work, &w[1]), 1);
    assert_int_equal(pw_bench_add(b, "c", work, &w[2]), 2);
    assert_int_equal(pw_bench_run(b), PW_OK);
    assert_int_equal(pw_bench_count(b), 3);
    assert_string_equal(pw_bench_name(b, 1), "b");
    const char *why = pw_bench_stop_reason(b);
    assert_true(strcmp(why, "budget") == 0 || strcmp(why, "max_samples") == 0);

    size_t n0, n;
    pw_bench_samples(b, 0, &n0);
    assert_true(n0 >= cfg.min_samples && n0 <= cfg.max_samples);
    for (size_t i = 0; i < 3; i++) {
        const double *x = pw_bench_samples(b, i, &n);
        assert_int_equal(n, n0); /* whole rounds only */
        const double *c = pw_bench_cpu_samples(b, i, &n);
        assert_int_equal(n, n0);
        assert_non_null(x);
        assert_non_null(c);
        for (size_t k = 0; k < n; k++) assert_true(x[k] >= 0 && c[k] >= 0);
        assert_true(pw_bench_iters(b, i) >= 1);
    }
    /* The last 3·n0 calls are the sampling rounds: each block of 3 holds every variant once,
     * at its calibrated iteration count, in an order that changes from round to round. */
    assert_true(log->n >= 3 * n0);
    size_t start = log->n - 3 * n0;
    size_t changes = 0;
    for (size_t r = 0; r < n0; r++) {
        int seen[3] = {0, 0, 0};
        for (size_t k = 0; k < 3; k++) {
            size_t who = log->who[start + 3 * r + k];
            assert_true(who < 3);
            seen[who]++;
            assert_int_equal(log->iters[start + 3 * r + k], pw_bench_iters(b, who));
        }
        assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
        if (r && memcmp(&log->who[start + 3 * r], &log->who[start + 3 * (r - 1)], 3 * sizeof log->who[0]))
            changes++;
    }
    assert_true(changes > 0);
    pw_bench_free(b);

    /* The order is drawn from the seed: the same seed gives the same rounds, another seed others. */
    size_t orders[2][3 * 6];
    for (int pass = 0; pass < 3; pass++) {
        call_log *l2 = pw_xcalloc(1, sizeof *l2);
        workload w2[3] = {{l2, 0, 0}, {l2, 1, 0}, {l2, 2, 0}};
        pw_bench_config c2 = tiny();
        c2.min_samples = c2.max_samples = 6;
        c2.seed = pass == 2 ? 7 : 99;
        pw_bench *b2 = pw_bench_new(&c2);
        for (size_t k = 0; k < 3; k++) pw_bench_add(b2, "v", work, &w2[k]);
        pw_bench_run(b2);
        assert_true(l2->n >= 18);
        if (pass < 2) memcpy(orders[pass], &l2->who[l2->n - 18], sizeof orders[pass]);
        else assert_memory_not_equal(orders[0], &l2->who[l2->n - 18], sizeof orders[0]);
        pw_bench_free(b2);
        free(l2);
    }
    assert_memory_equal(orders[0], orders[1], sizeof orders[0]);
    free(log);
}

static void test_min_samples_floor(void **state)
{
    (void)state;
    /* A zero budget still yields min_samples per variant. */
    call_log *log = pw_xcalloc(1, sizeof *log);
    workload w = {log, 0, 0};
    pw_bench_config cfg = tiny();
    cfg.max_seconds = 0;
    cfg.min_samples = 4;
    pw_bench *b = pw_bench_new(&cfg);
    pw_bench_add(b, "only", work, &w);
    assert_int_equal(pw_bench_run(b), PW_OK);
    size_t n;
    pw_bench_samples(b, 0, &n);
    assert_int_equal(n, 4);
    assert_string_equal(pw_bench_stop_reason(b), "budget");
    assert_true(pw_bench_iters(b, 0) >= 1);
    pw_bench_free(b);
    free(log);
}

/* A variant limited by pw_bench_limit_rounds leaves after its rounds (never fewer than
 * min_samples); the others go on in rounds of their own, ratios pair the common rounds, and
 * tail_seconds keeps the others going after the budget is spent. */
static void test_limit_rounds(void **state)
{
    (void)state;
    call_log *log = pw_xcalloc(1, sizeof *log);
    workload w[3] = {{log, 0, 0}, {log, 1, 5}, {log, 2, 0}};
    pw_bench_config cfg = tiny();
    cfg.max_seconds = 30; /* the loop stops on the cap, long before this */
    pw_bench *b = pw_bench_new(&cfg);
    for (size_t i = 0; i < 3; i++) pw_bench_add(b, "v", work, &w[i]);
    pw_bench_limit_rounds(b, 1, 3); /* below the floor: raised to min_samples = 6 */
    assert_int_equal(pw_bench_run(b), PW_OK);
    assert_string_equal(pw_bench_stop_reason(b), "max_samples");
    size_t n0, n1, n2;
    pw_bench_samples(b, 0, &n0);
    pw_bench_samples(b, 1, &n1);
    pw_bench_samples(b, 2, &n2);
    assert_int_equal(n1, 6);
    assert_int_equal(n0, 12);
    assert_int_equal(n2, 12);
    /* The last 6 rounds hold variants 0 and 2 once each; the 6 before, all three. */
    assert_true(log->n >= 2 * 6 + 3 * 6);
    size_t tail = log->n - 2 * 6, head = tail - 3 * 6;
    for (size_t r = 0; r < 6; r++) {
        int seen[3] = {0, 0, 0};
        for (size_t k = 0; k < 2; k++) seen[log->who[tail + 2 * r + k]]++;
        assert_true(seen[0] == 1 && seen[1] == 0 && seen[2] == 1);
        int all[3] = {0, 0, 0};
        for (size_t k = 0; k < 3; k++) all[log->who[head + 3 * r + k]]++;
        assert_true(all[0] == 1 && all[1] == 1 && all[2] == 1);
    }
    /* A ratio with the limited variant rests on the 6 rounds both took, paired. */
    pw_result *r = pw_result_new("x", "x");
    assert_int_equal(pw_bench_publish_speedup(b, 0, 1, r, "speedup.a_vs_b"), PW_OK);
    assert_int_equal(pw_bench_publish_speedup(b, 0, 2, r, "speedup.a_vs_c"), PW_OK);
    pw_metric m;
    assert_int_equal(pw_result_get_metric(r, "speedup.a_vs_b", &m), PW_OK);
    assert_true(m.n == 6);
    assert_int_equal(pw_result_get_metric(r, "speedup.a_vs_c", &m), PW_OK);
    assert_true(m.n == 12);
    pw_result_free(r);
    pw_bench_free(b);

    /* Every variant limited: the set ends when the last one leaves. */
    b = pw_bench_new(&cfg);
    pw_bench_add(b, "v", work, &w[0]);
    pw_bench_add(b, "v", work, &w[2]);
    pw_bench_limit_rounds(b, 0, 7);
    pw_bench_limit_rounds(b, 1, 8);
    pw_bench_run(b);
    assert_string_equal(pw_bench_stop_reason(b), "rounds");
    pw_bench_samples(b, 0, &n0);
    pw_bench_samples(b, 1, &n1);
    assert_int_equal(n0, 7);
    assert_int_equal(n1, 8);
    pw_bench_free(b);

    /* A spent budget stops the set at the floor; a tail lets the others go on to the cap. */
    for (int with_tail = 0; with_tail < 2; with_tail++) {
        pw_bench_config c = tiny();
        c.max_seconds = 0;
        c.tail_seconds = with_tail ? 30 : 0;
        b = pw_bench_new(&c);
        pw_bench_add(b, "v", work, &w[0]);
        pw_bench_add(b, "v", work, &w[1]);
        pw_bench_limit_rounds(b, 1, 6);
        pw_bench_run(b);
        pw_bench_samples(b, 0, &n0);
        assert_int_equal(n0, with_tail ? 12 : 6);
        assert_string_equal(pw_bench_stop_reason(b), with_tail ? "max_samples" : "budget");
        pw_bench_free(b);
    }
    free(log);
}

static void test_publish(void **state)
{
    (void)state;
    call_log *log = pw_xcalloc(1, sizeof *log);
    workload fast = {log, 0, 0}, slow = {log, 1, 5};
    pw_bench_config cfg = tiny();
    pw_bench *b = pw_bench_new(&cfg);
    size_t f = pw_bench_add(b, "fast.n8", work, &fast);
    size_t s = pw_bench_add(b, "slow.n8", work, &slow);
    assert_int_equal(pw_bench_run(b), PW_OK);
    pw_result *r = pw_result_new("test.bench", "t");
    assert_int_equal(pw_bench_publish_time(b, f, r, "time.fast.n8", 1e6, "µs"), PW_OK);
    assert_int_equal(pw_bench_publish_rate(b, f, r, "rate.fast.n8", 1.0, "it/s"), PW_OK);
    assert_int_equal(pw_bench_publish_speedup(b, f, s, r, "speedup.fast_vs_slow.n8"), PW_OK);
    pw_metric m;
    size_t n;
    pw_bench_samples(b, f, &n);
    assert_int_equal(pw_result_get_metric(r, "time.fast.n8", &m), PW_OK);
    assert_true(m.lo <= m.value && m.value <= m.hi);
    assert_string_equal(m.unit, "µs");
    assert_close(m.n, (double)n, 0);
    assert_true(isfinite(m.cv));
    pw_metric t = m;
    assert_int_equal(pw_result_get_metric(r, "rate.fast.n8", &m), PW_OK);
    /* rate = work / time: the interval inverts (time in µs above, so scale by 1e6). */
    assert_close(m.value, 1e6 / t.value, 1e-12);
    assert_close(m.lo, 1e6 / t.hi, 1e-12);
    assert_close(m.hi, 1e6 / t.lo, 1e-12);
    assert_int_equal(pw_result_get_metric(r, "speedup.fast_vs_slow.n8", &m), PW_OK);
    assert_string_equal(m.unit, "×");
    assert_true(m.lo <= m.value && m.value <= m.hi && m.lo > 0);
    assert_true(m.n >= 2);
    /* Errors: unknown variant, bad scale. */
    assert_int_equal(pw_bench_publish_time(b, 7, r, "x", 1, "s"), PW_EINVAL);
    assert_int_equal(pw_bench_publish_rate(b, f, r, "x", 0, "s"), PW_EINVAL);

    pw_bench_record(b, r, "seconds.");
    json_t *doc = pw_result_json(r);
    json_t *samples = json_object_get(doc, "samples");
    assert_int_equal(json_array_size(json_object_get(samples, "seconds.fast.n8")), n);
    assert_int_equal(json_array_size(json_object_get(samples, "seconds.slow.n8.cpu")), n);
    /* One record of the set: rounds, stop reason, target, and every variant's timing. */
    json_t *sets = json_object_get(doc, "bench_sets");
    assert_int_equal(json_array_size(sets), 1);
    json_t *set = json_array_get(sets, 0);
    assert_int_equal(json_integer_value(json_object_get(set, "rounds")), n);
    assert_string_equal(json_string_value(json_object_get(set, "stop")), pw_bench_stop_reason(b));
    assert_int_equal(json_integer_value(json_object_get(set, "variants")), 2);
    json_t *timings = json_object_get(set, "timings");
    assert_int_equal(json_array_size(timings), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(timings, 0), "name")), "fast.n8");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(timings, 0), "n")), n);
    assert_true(json_is_number(json_object_get(json_array_get(timings, 0), "cv")));
    /* The unreachable target: the precision reached is recorded, above the target (or null). */
    json_t *rel = json_object_get(json_array_get(timings, 0), "rel_ci");
    assert_true(json_is_null(rel) || json_number_value(rel) > json_number_value(json_object_get(set, "target")));
    /* No per-variant warning strings any more: the report summarises the record. */
    assert_null(json_object_get(doc, "warnings"));
    /* The speedup says how it was computed. */
    assert_int_equal(pw_result_get_metric(r, "speedup.fast_vs_slow.n8", &m), PW_OK);
    assert_non_null(m.method);
    assert_non_null(strstr(m.method, n >= 6 ? "paired per-round" : "bootstrap"));
    pw_result_free(r);
    pw_bench_free(b);
    free(log);
}

static double m_value_minus_one(const pw_result *r, const char *name)
{
    pw_metric m;
    return pw_result_get_metric(r, name, &m) == PW_OK ? m.value - 1 : 0;
}

/* Quick mode never decides from too few samples: below PW_BENCH_MIN_DECIDING rounds every
 * published time, rate and speedup is marked undecidable and its claim points are UNDECIDED;
 * from the floor on they decide.  The sample counts are fixed (min = max), never timed. */
static void test_sample_floor(void **state)
{
    (void)state;
    static const char *const names[] = {"time.fast.n8", "rate.fast.n8", "speedup.fast_vs_slow.n8"};
    for (size_t rounds = PW_BENCH_MIN_DECIDING - 3; rounds <= PW_BENCH_MIN_DECIDING; rounds++) {
        call_log *log = pw_xcalloc(1, sizeof *log);
        workload fast = {log, 0, 0}, slow = {log, 1, 40};
        pw_bench_config cfg;
        pw_bench_config_default(&cfg, 1);
        cfg.max_seconds = 0;
        cfg.min_sample_seconds = 1e-5;
        cfg.warmup_seconds = 0;
        cfg.min_samples = cfg.max_samples = rounds;
        pw_bench *b = pw_bench_new(&cfg);
        size_t f = pw_bench_add(b, "fast.n8", work, &fast);
        size_t s = pw_bench_add(b, "slow.n8", work, &slow);
        assert_int_equal(pw_bench_run(b), PW_OK);
        size_t n;
        pw_bench_samples(b, f, &n);
        assert_int_equal(n, rounds);
        pw_result *r = pw_result_new("test.bench", "floor");
        assert_int_equal(pw_bench_publish_time(b, f, r, names[0], 1e6, "µs"), PW_OK);
        assert_int_equal(pw_bench_publish_rate(b, f, r, names[1], 1.0, "it/s"), PW_OK);
        assert_int_equal(pw_bench_publish_speedup(b, f, s, r, names[2]), PW_OK);
        for (size_t k = 0; k < 3; k++) {
            pw_metric m;
            assert_int_equal(pw_result_get_metric(r, names[k], &m), PW_OK);
            if (rounds < PW_BENCH_MIN_DECIDING) {
                assert_non_null(m.undecidable_why);
                assert_string_equal(m.undecidable_why, "too_few_samples");
                assert_non_null(strstr(m.undecidable_reason, "too few samples (quick mode)"));
            } else {
                assert_null(m.undecidable_why);
            }
        }
        /* A metric derived from the speedup inherits its mark. */
        pw_result_metric(r, "overhead.fast.n8", m_value_minus_one(r, names[2]), 0, 1e9, "");
        assert_int_equal(pw_result_metric_inherit(r, "overhead.fast.n8", names[2]), PW_OK);
        pw_metric d;
        assert_int_equal(pw_result_get_metric(r, "overhead.fast.n8", &d), PW_OK);
        if (rounds < PW_BENCH_MIN_DECIDING) assert_string_equal(d.undecidable_why, "too_few_samples");
        else assert_null(d.undecidable_why);
        assert_int_equal(pw_result_metric_inherit(r, "no.such", names[2]), PW_ENOTFOUND);
        /* A claim whose interval would hold (any positive speedup) is UNDECIDED below the
         * floor, with the reason, and decided at it. */
        pw_claim c;
        char msg[128];
        assert_int_equal(pw_claim_parse("speedup(fast, slow) > 0", &c, msg, sizeof msg), PW_OK);
        const pw_result *rs[1] = {r};
        json_t *v = pw_claims_evaluate(&c, rs, 1);
        json_t *o = json_array_get(v, 0);
        const char *verdict = json_string_value(json_object_get(o, "verdict"));
        if (rounds < PW_BENCH_MIN_DECIDING) {
            assert_string_equal(verdict, "UNDECIDED");
            json_t *p = json_array_get(json_object_get(o, "points"), 0);
            assert_string_equal(json_string_value(json_object_get(p, "why")), "too_few_samples");
        } else {
            assert_string_equal(verdict, "PASS");
        }
        json_decref(v);
        pw_claim_release(&c);
        pw_result_free(r);
        pw_bench_free(b);
        free(log);
    }
}

static void test_clocks(void **state)
{
    (void)state;
    /* Only monotonicity, never a duration. */
    double a = pw_now(), b = pw_now();
    assert_true(b >= a);
    double c = pw_cpu_now(), d = pw_cpu_now();
    assert_true(d >= c && c >= 0);
}

int main(void)
{
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_interleaving),
        cmocka_unit_test(test_min_samples_floor),
        cmocka_unit_test(test_limit_rounds),
        cmocka_unit_test(test_publish),
        cmocka_unit_test(test_sample_floor),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
