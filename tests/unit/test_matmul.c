/* test_matmul.c — every matmul kernel (the portable microkernel forced on too) on awkward shapes
 * against an independent double-precision triple loop, the correctness gate catching broken
 * kernels, the dispatcher's documented rule, and the peak/cache helpers.  Nothing is timed. */
#include "support.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/baselines.h"
#include "perfweave/common.h"
#include "perfweave/experiment.h"
#include "perfweave/matmul.h"

/* Checks c against a double-precision product of a and b: every entry within γ_k (|A||B|)_ij
 * (the fp32 bound for one result; the double reference is exact enough to ignore) plus FLT_MIN. */
static void check_against_double(const char *what, size_t m, size_t n, size_t k, const float *a,
                                 const float *b, const float *c)
{
    double g = pw_matmul_gamma(k);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0.0, mag = 0.0;
            for (size_t p = 0; p < k; p++) {
                s += (double)a[i * k + p] * (double)b[p * n + j];
                mag += fabs((double)a[i * k + p]) * fabs((double)b[p * n + j]);
            }
            double err = fabs((double)c[i * n + j] - s);
            if (!(err <= g * mag + FLT_MIN))
                fail_msg("%s m=%zu k=%zu n=%zu: c[%zu,%zu] = %.9g, exact %.9g (bound %.3g)", what,
                         m, k, n, i, j, (double)c[i * n + j], s, g * mag + FLT_MIN);
        }
}

/* Runs fn on shape m×k×n with C poisoned first and checks the result. */
static void run_shape(const char *what, pw_matmul_fn fn, const pw_matmul_ctx *ctx, size_t m,
                      size_t k, size_t n, uint64_t seed)
{
    float *a = pw_xmalloc((m * k + 1) * sizeof *a);
    float *b = pw_xmalloc((k * n + 1) * sizeof *b);
    float *c = pw_xmalloc((m * n + 1) * sizeof *c);
    pw_matmul_fill(a, m * k, seed);
    pw_matmul_fill(b, k * n, seed + 1);
    for (size_t i = 0; i < m * n + 1; i++) c[i] = NAN;
    fn(ctx, m, n, k, a, b, c);
    check_against_double(what, m, n, k, a, b, c);
    assert_true(isnan(c[m * n])); /* nothing written past the end of C */
    free(a);
    free(b);
    free(c);
}

static const size_t extra_shapes[][3] = {
    {0, 5, 5}, {5, 0, 5}, {5, 5, 0}, {6, 256, 16}, {12, 512, 32}, {144, 257, 33}, {150, 20, 4097},
};

static void run_all_shapes(const char *what, pw_matmul_fn fn, const pw_matmul_ctx *ctx)
{
    size_t ns;
    const size_t (*shapes)[3] = pw_matmul_gate_shapes(&ns);
    for (size_t s = 0; s < ns; s++)
        run_shape(what, fn, ctx, shapes[s][0], shapes[s][1], shapes[s][2], 10 + s);
    for (size_t s = 0; s < sizeof extra_shapes / sizeof extra_shapes[0]; s++)
        run_shape(what, fn, ctx, extra_shapes[s][0], extra_shapes[s][1], extra_shapes[s][2],
                  100 + s);
}

static void test_table(void **state)
{
    (void)state;
    size_t n;
    const pw_matmul_kernel *k = pw_matmul_kernels(&n);
    static const char *const names[] = {"naive", "ikj", "blocked", "packed", "openblas", "blis",
                                        "onednn"};
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(k[i].name, names[i]);
        assert_ptr_equal(pw_matmul_find(names[i]), &k[i]);
        assert_non_null(k[i].fn);
    }
    assert_null(pw_matmul_find("numpy"));
}

static void test_every_kernel(void **state)
{
    (void)state;
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    size_t n;
    const pw_matmul_kernel *k = pw_matmul_kernels(&n);
    for (size_t i = 0; i < n; i++) {
        /* BLIS and oneDNN are opened on demand (scripts/packages.txt installs both). */
        char why[256];
        if (pw_baselines_ready(k[i].name, why, sizeof why) != PW_OK) fail_msg("%s", why);
        run_all_shapes(k[i].name, k[i].fn, &ctx);
    }
    /* A NULL context means defaults (packed allocates its own buffers). */
    run_all_shapes("packed (no context)", pw_matmul_packed, NULL);
    run_all_shapes("blocked (no context)", pw_matmul_blocked, NULL);
    pw_matmul_ctx_release(&ctx);
}

static void test_packed_microkernels(void **state)
{
    (void)state;
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    assert_int_equal(ctx.ukernel, pw_cpu_has_avx2_fma() ? PW_UKERNEL_AVX2 : PW_UKERNEL_PORTABLE);
    ctx.ukernel = PW_UKERNEL_PORTABLE;
    run_all_shapes("packed (portable)", pw_matmul_packed, &ctx);
    ctx.ukernel = PW_UKERNEL_AUTO;
    run_shape("packed (auto)", pw_matmul_packed, &ctx, 65, 300, 63, 7);
    if (pw_cpu_has_avx2_fma()) {
        ctx.ukernel = PW_UKERNEL_AVX2;
        run_all_shapes("packed (avx2)", pw_matmul_packed, &ctx);
    }
    pw_matmul_ctx_release(&ctx);
    pw_matmul_ctx_release(&ctx); /* releasing twice is harmless */
}

static void test_blocked_sizes(void **state)
{
    (void)state;
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    static const size_t blocks[] = {1, 7, 16, 64, 128, 256, 1000};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        ctx.block = blocks[i];
        char what[64];
        snprintf(what, sizeof what, "blocked (block %zu)", blocks[i]);
        run_shape(what, pw_matmul_blocked, &ctx, 65, 127, 63, 40 + i);
        run_shape(what, pw_matmul_blocked, &ctx, 1, 257, 7, 50 + i);
    }
    pw_matmul_ctx_release(&ctx);
}

/* Deliberately broken kernels: the gate must reject them. */
static void kernel_off_by_one(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                              const float *restrict a, const float *restrict b,
                              float *restrict c)
{
    pw_matmul_ikj(ctx, m, n, k, a, b, c);
    if (m * n > 0) c[(m * n) / 2] += 1e-3f;
}

static void kernel_skip_last_k(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                               const float *restrict a, const float *restrict b,
                               float *restrict c)
{
    (void)ctx;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (size_t p = 0; p + 1 < k; p++) s += a[i * k + p] * b[p * n + j];
            c[i * n + j] = s;
        }
}

static void kernel_no_write(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                            const float *restrict a, const float *restrict b, float *restrict c)
{
    (void)ctx, (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
}

static void test_gate(void **state)
{
    (void)state;
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    char msg[256];
    size_t n;
    const pw_matmul_kernel *k = pw_matmul_kernels(&n);
    for (size_t i = 0; i < n; i++) {
        msg[0] = '\0';
        assert_int_equal(pw_matmul_gate(&k[i], &ctx, msg, sizeof msg), PW_OK);
        assert_string_equal(msg, "");
    }
    const pw_matmul_kernel bad[] = {
        {"off_by_one", kernel_off_by_one, ""},
        {"skip_last_k", kernel_skip_last_k, ""},
        {"no_write", kernel_no_write, ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pw_matmul_gate(&bad[i], &ctx, msg, sizeof msg), PW_ERANGE);
        assert_non_null(strstr(msg, bad[i].name));
        assert_non_null(strstr(msg, "fails the correctness gate"));
    }
    pw_matmul_ctx_release(&ctx);
}

static void test_verify_and_bound(void **state)
{
    (void)state;
    assert_true(pw_matmul_gamma(0) == 0.0);
    assert_close(pw_matmul_gamma(1000), 1000.0 / 16777216.0, 1e-3);
    assert_true(isinf(pw_matmul_gamma((size_t)1 << 25)));
    /* A 2×2 product with exact fp32 answers passes with worst 0; a NaN fails. */
    const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
    float c[] = {19, 22, 43, 50};
    double worst = -1;
    assert_int_equal(pw_matmul_verify(2, 2, 2, a, b, c, &worst), PW_OK);
    assert_true(worst == 0.0);
    c[3] = NAN;
    assert_int_equal(pw_matmul_verify(2, 2, 2, a, b, c, &worst), PW_ERANGE);
    c[3] = 50.01f;
    assert_int_equal(pw_matmul_verify(2, 2, 2, a, b, c, &worst), PW_ERANGE);
    assert_true(worst > 1.0);
    /* k = 0: the product is zero. */
    float z[] = {0, 0, 0, 0};
    assert_int_equal(pw_matmul_verify(2, 2, 0, a, b, z, &worst), PW_OK);
    z[0] = 1;
    assert_int_equal(pw_matmul_verify(2, 2, 0, a, b, z, &worst), PW_ERANGE);
}

static void test_fill(void **state)
{
    (void)state;
    float x[1000], y[1000];
    pw_matmul_fill(x, 1000, 42);
    pw_matmul_fill(y, 1000, 42);
    assert_memory_equal(x, y, sizeof x);
    double mean = 0;
    for (int i = 0; i < 1000; i++) {
        assert_true(x[i] >= -1.0f && x[i] < 1.0f);
        mean += x[i];
    }
    assert_true(fabs(mean / 1000) < 0.1);
    pw_matmul_fill(y, 1000, 43);
    assert_true(memcmp(x, y, sizeof x) != 0);
}

static void test_dispatch_rule(void **state)
{
    (void)state;
    pw_matmul_backend be;
    pw_matmul_backend_init(&be);
    assert_int_equal(be.avx2_fma, pw_cpu_has_avx2_fma());
    assert_int_equal(be.small_mnk, 216);

    be.avx2_fma = true;
    assert_string_equal(pw_matmul_backend_choose(&be, 4, 4, 4)->name, "naive");
    assert_string_equal(pw_matmul_backend_choose(&be, 6, 6, 6)->name, "naive");
    assert_string_equal(pw_matmul_backend_choose(&be, 1, 216, 1)->name, "naive");
    assert_string_equal(pw_matmul_backend_choose(&be, 0, 100000, 100000)->name, "naive");
    assert_string_equal(pw_matmul_backend_choose(&be, 7, 6, 6)->name, "packed");
    assert_string_equal(pw_matmul_backend_choose(&be, 8, 8, 8)->name, "packed");
    assert_string_equal(pw_matmul_backend_choose(&be, 1, 217, 1)->name, "packed");
    /* m·n·k would overflow 64 bits: still large, never "small". */
    size_t huge = (size_t)1 << 22;
    assert_string_equal(pw_matmul_backend_choose(&be, huge, huge, huge)->name, "packed");

    be.avx2_fma = false;
    assert_string_equal(pw_matmul_backend_choose(&be, 6, 6, 6)->name, "naive");
    assert_string_equal(pw_matmul_backend_choose(&be, 64, 64, 64)->name, "openblas");
    assert_string_equal(pw_matmul_backend_choose(&be, huge, huge, huge)->name, "openblas");

    /* The dispatched call computes the product, whichever kernel it picks. */
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    pw_matmul_backend_init(&be);
    static const size_t sizes[] = {1, 4, 6, 7, 8, 16, 17, 32, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t s = sizes[i];
        float *a = pw_xmalloc(s * s * sizeof *a), *b = pw_xmalloc(s * s * sizeof *b);
        float *c = pw_xmalloc(s * s * sizeof *c);
        pw_matmul_fill(a, s * s, s);
        pw_matmul_fill(b, s * s, s + 1000);
        pw_matmul_backend_run(&be, &ctx, s, s, s, a, b, c);
        check_against_double("dispatch", s, s, s, a, b, c);
        free(a);
        free(b);
        free(c);
    }
    pw_matmul_ctx_release(&ctx);
}

static void test_threads(void **state)
{
    (void)state;
    assert_int_equal(pw_matmul_set_threads(1), 1);
    assert_true(pw_matmul_set_threads(0) >= 1); /* 0 leaves the count alone */
    assert_true(strlen(pw_matmul_blas_core()) > 0);
}

static void test_peak_and_caches(void **state)
{
    (void)state;
    assert_true(pw_peak_flops_per_iter() == 2.0 * 8.0 * PW_PEAK_CHAINS);
    float v = pw_peak_fma(1000);
    assert_true(isfinite(v));
    /* Every chain converges towards 1 and none starts above 1.3. */
    assert_true(v > 0.0f && v < 1.3f * 8 * PW_PEAK_CHAINS);
    assert_true(pw_peak_fma(0) == pw_peak_fma(0));

    size_t c[3];
    int known = pw_cache_sizes(c);
    assert_true(known >= 0 && known <= 3);
    if (c[0]) assert_true(c[0] >= 4096 && c[0] <= ((size_t)4 << 20));
    if (c[0] && c[1]) assert_true(c[1] >= c[0]);
    if (c[1] && c[2]) assert_true(c[2] >= c[1]);
}

/* The experiments are registered, and their schemas accept the chapter's values and reject
 * what they should (running them would time things, so the tests stop at the parameters). */
static void test_experiment_params(void **state)
{
    (void)state;
    static const char *const names[] = {"acceleration.blocksize", "acceleration.dispatch",
                                        "acceleration.matmul", "acceleration.threads"};
    for (size_t i = 0; i < 4; i++) {
        const pw_experiment *e = pw_registry_find(names[i]);
        assert_non_null(e);
        json_t *p = pw_experiment_params(e, NULL);
        assert_non_null(json_object_get(p, "sizes"));
        json_decref(p);
    }
    const pw_experiment *e = pw_registry_find("acceleration.matmul");
    char msg[200];
    json_t *v = NULL;
    const pw_param_spec *variants = pw_experiment_param(e, "variants");
    assert_int_equal(pw_param_parse(variants, "[packed, openblas]", &v, msg, sizeof msg), PW_OK);
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    assert_int_not_equal(pw_param_parse(variants, "[naive, numpy]", &v, msg, sizeof msg), PW_OK);
    assert_non_null(strstr(msg, "numpy"));
    assert_int_not_equal(pw_param_parse(pw_experiment_param(e, "sizes"), "[64, 0]", &v, msg,
                                        sizeof msg), PW_OK);
    assert_int_not_equal(pw_param_parse(pw_experiment_param(e, "microkernel"), "avx512", &v, msg,
                                        sizeof msg), PW_OK);
    assert_int_not_equal(pw_param_parse(pw_experiment_param(e, "block"), "0", &v, msg,
                                        sizeof msg), PW_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_every_kernel),
        cmocka_unit_test(test_packed_microkernels),
        cmocka_unit_test(test_blocked_sizes),
        cmocka_unit_test(test_gate),
        cmocka_unit_test(test_verify_and_bound),
        cmocka_unit_test(test_fill),
        cmocka_unit_test(test_dispatch_rule),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_peak_and_caches),
        cmocka_unit_test(test_experiment_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
