/* test_profiling.c — the profiling and benchmarking chapters' pieces that can be checked without
 * timing anything: the accounting allocator on the profiling chapter's known sequence (1 MiB and
 * 10 MiB, then freed), the `profiling.flops` experiment run in-process on small shapes (exact
 * counts, hand-computed), its error paths, the parameter schemas of every experiment of the
 * two chapters, and the reproducibility experiment's output sweep (products, not times). */
#include "support.h"

#include <jansson.h>
#include <string.h>

#include "perfweave/alloc.h"
#include "perfweave/common.h"
#include "perfweave/experiment.h"
#include "perfweave/result.h"

#define MIB ((size_t)1 << 20)

static void test_accounting_sequence(void **state)
{
    (void)state;
    pw_alloc *a = pw_alloc_new();
    void *one = pw_alloc_malloc(a, "tensor_1mb", MIB);
    assert_non_null(one);
    assert_int_equal(pw_alloc_current(a, "tensor_1mb"), MIB);
    void *ten = pw_alloc_malloc(a, "tensor_10mb", 10 * MIB);
    assert_non_null(ten);
    assert_int_equal(pw_alloc_current(a, "tensor_10mb"), 10 * MIB);
    assert_int_equal(pw_alloc_current(a, NULL), 11 * MIB);
    assert_int_equal(pw_alloc_peak(a, NULL), 11 * MIB);
    assert_int_equal(pw_alloc_dealloc(a, one), PW_OK);
    assert_int_equal(pw_alloc_current(a, NULL), 10 * MIB);
    assert_int_equal(pw_alloc_peak(a, NULL), 11 * MIB);
    assert_int_equal(pw_alloc_peak(a, "tensor_1mb"), MIB);
    /* A block given back twice is refused and changes nothing. */
    assert_int_equal(pw_alloc_dealloc(a, one), PW_EINVAL);
    assert_int_equal(pw_alloc_current(a, NULL), 10 * MIB);
    assert_int_equal(pw_alloc_dealloc(a, ten), PW_OK);
    assert_int_equal(pw_alloc_current(a, NULL), 0);
    assert_int_equal(pw_alloc_peak(a, NULL), 11 * MIB);
    /* A new window: the peak restarts from the current value. */
    pw_alloc_reset(a);
    assert_int_equal(pw_alloc_peak(a, NULL), 0);
    void *again = pw_alloc_malloc(a, "tensor_1mb", MIB);
    assert_int_equal(pw_alloc_peak(a, NULL), MIB);
    pw_alloc_dealloc(a, again);
    pw_alloc_free(a);
}

/* Runs experiment name with the given "key=value" overrides; returns the result (caller frees)
 * and the run's status in *status. */
static pw_result *run_with(const char *name, const char *const *kv, size_t n, int *status)
{
    const pw_experiment *e = pw_registry_find(name);
    assert_non_null(e);
    json_t *given = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
        const pw_param_spec *spec = pw_experiment_param(e, key);
        assert_non_null(spec);
        json_t *v = NULL;
        char msg[200];
        assert_int_equal(pw_param_parse(spec, eq + 1, &v, msg, sizeof msg), PW_OK);
        json_object_set_new(given, key, v);
    }
    json_t *params = pw_experiment_params(e, given);
    pw_result *r = pw_result_new(name, "test");
    pw_run *run = pw_run_new(e, params, r, true);
    *status = e->run(run);
    pw_run_free(run);
    json_decref(params);
    json_decref(given);
    return r;
}

static double metric(const pw_result *r, const char *name)
{
    pw_metric m;
    if (pw_result_get_metric(r, name, &m) != PW_OK) fail_msg("missing metric %s", name);
    assert_true(m.lo == m.value && m.hi == m.value); /* counts are exact */
    return m.value;
}

/* Small shapes, so the test is fast; the linear layer keeps the original's shape.
 *   conv2d [2, 8, 8, 3, 4, 3, 3]: 2·4·6·6 = 288 outputs × 27 multiply-adds = 7,776, + 288 bias
 *     adds → 8,064 (MAC = 1), 15,840 (MAC = 2).
 *   matmul [3, 5, 7]: 105 multiply-adds → 210.
 *   mlp [20, 8, 4] batch 3: 3·(20·8 + 8·4) = 576 multiply-adds, 3·(8 + 4) = 36 bias adds,
 *     3·8 = 24 ReLU comparisons → 1,212 (MAC = 2). */
static void test_flops_experiment(void **state)
{
    (void)state;
    static const char *const kv[] = {"matmul=[3, 5, 7]", "conv2d=[2, 8, 8, 3, 4, 3, 3]",
                                     "attention=[5, 8, 2]", "mlp=[20, 8, 4]", "mlp_batch=3",
                                     "block=[4, 8, 2, 16]"};
    int status;
    pw_result *r = run_with("profiling.flops", kv, 6, &status);
    assert_int_equal(status, PW_OK);
    assert_false(pw_result_failed(r));
    assert_true(metric(r, "flops_match") == 1);
    static const char *const ops[] = {"matmul", "linear", "conv2d", "attention", "mlp", "block"};
    for (size_t i = 0; i < 6; i++) {
        char name[64];
        snprintf(name, sizeof name, "flops_match.%s", ops[i]);
        assert_true(metric(r, name) == 1);
    }
    assert_true(metric(r, "flops_mac.linear") == 266240);
    assert_true(metric(r, "flops.linear") == 528384);
    assert_true(metric(r, "original_slip.linear") == 2048);
    assert_true(metric(r, "flops_mac.conv2d") == 8064);
    assert_true(metric(r, "flops.conv2d") == 15840);
    assert_true(metric(r, "flops.matmul") == 210);
    assert_true(metric(r, "flops.mlp") == 1212);
    pw_result_free(r);
}

static void test_flops_experiment_errors(void **state)
{
    (void)state;
    int status;
    static const char *const bad_heads[] = {"attention=[4, 10, 3]"};
    pw_result *r = run_with("profiling.flops", bad_heads, 1, &status);
    assert_int_not_equal(status, PW_OK);
    assert_true(pw_result_failed(r));
    assert_non_null(strstr(pw_result_error_reason(r), "multiple of heads"));
    pw_result_free(r);
    static const char *const bad_shape[] = {"linear=[128, 64]"};
    r = run_with("profiling.flops", bad_shape, 1, &status);
    assert_int_not_equal(status, PW_OK);
    assert_non_null(strstr(pw_result_error_reason(r), "linear [batch, in, out]"));
    pw_result_free(r);
    /* The timer needs its reference work. */
    static const char *const no_ref[] = {"factors=[105, 110]"};
    r = run_with("profiling.timer", no_ref, 1, &status);
    assert_int_not_equal(status, PW_OK);
    assert_non_null(strstr(pw_result_error_reason(r), "include 100"));
    pw_result_free(r);
}

/* benchmarking.reproducibility's output sweep: the blocked kernel's product, computed in fresh
 * processes pinned to each CPU with operands at several offsets within a page, is bit for bit the
 * same everywhere (its summation order depends only on the shape).  The timing inside is not
 * looked at; a misaligned offset is refused. */
static void test_repro_outputs(void **state)
{
    (void)state;
    static const char *const kv[] = {"processes=2", "n=24", "offsets=[0, 4, 1028]"};
    int status;
    pw_result *r = run_with("benchmarking.reproducibility", kv, 3, &status);
    assert_int_equal(status, PW_OK);
    assert_false(pw_result_failed(r));
    pw_metric m, cpus;
    assert_int_equal(pw_result_get_metric(r, "outputs.cpus", &cpus), PW_OK);
    assert_true(cpus.value >= 1);
    assert_int_equal(pw_result_get_metric(r, "outputs.runs", &m), PW_OK);
    assert_close(m.value, cpus.value * 3 + 2, 0);
    assert_true(metric(r, "outputs.bitwise") == 1);
    assert_true(metric(r, "outputs.deviation") == 0);
    assert_true(metric(r, "outputs_reproducible") == 1);
    pw_result_free(r);
    static const char *const odd[] = {"processes=2", "n=8", "offsets=[0, 6]"};
    r = run_with("benchmarking.reproducibility", odd, 3, &status);
    assert_int_not_equal(status, PW_OK);
    assert_non_null(strstr(pw_result_error_reason(r), "multiple of 4"));
    pw_result_free(r);
}

/* Every experiment of the two chapters is registered with defaults its schema accepts, and the
 * event parameter rejects unknown events and submissions. */
static void test_schemas(void **state)
{
    (void)state;
    static const char *const names[] = {
        "benchmarking.detection", "benchmarking.events", "benchmarking.reproducibility",
        "profiling.flops", "profiling.memory", "profiling.overhead", "profiling.timer"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const pw_experiment *e = pw_registry_find(names[i]);
        assert_non_null(e);
        json_t *p = pw_experiment_params(e, NULL);
        assert_non_null(p);
        assert_int_equal(json_object_size(p), e->nparams);
        json_decref(p);
    }
    const pw_experiment *e = pw_registry_find("benchmarking.events");
    char msg[200];
    json_t *v = NULL;
    assert_int_not_equal(pw_param_parse(pw_experiment_param(e, "event"), "cnn", &v, msg,
                                        sizeof msg), PW_OK);
    assert_int_not_equal(pw_param_parse(pw_experiment_param(e, "submissions"), "[fp32, fp16]",
                                        &v, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_param_parse(pw_experiment_param(e, "submissions"), "[full, cached]", &v,
                                    msg, sizeof msg), PW_OK);
    json_decref(v);
    /* A submission that belongs to another event is refused when the event runs. */
    int status;
    static const char *const wrong[] = {"event=decoding", "submissions=[full, int8]"};
    pw_result *r = run_with("benchmarking.events", wrong, 2, &status);
    assert_int_not_equal(status, PW_OK);
    assert_non_null(strstr(pw_result_error_reason(r), "int8"));
    pw_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accounting_sequence),
        cmocka_unit_test(test_flops_experiment),
        cmocka_unit_test(test_flops_experiment_errors),
        cmocka_unit_test(test_schemas),
        cmocka_unit_test(test_repro_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
