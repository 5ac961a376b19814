/* test_matmul_verify.c — the matmul correctness check is independent of OpenBLAS: with
 * cblas_sgemm interposed by a deliberately broken wrapper the openblas kernel is rejected, the
 * check itself never calls BLAS, healthy OpenBLAS (one thread and several) passes on the awkward
 * shapes, and the sampled check for large products catches wrong edges, wrong row patterns and
 * non-finite entries.  Nothing is timed. */
#include "support.h"

#include <cblas.h>
#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/matmul.h"

/* The interposed library's state (test-only): how many sgemm calls, and whether to break them. */
static unsigned long sgemm_calls;
static int sgemm_broken; /* 0 healthy, 1 one entry off, 2 every third row off */

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                         const enum CBLAS_TRANSPOSE, const blasint, const blasint, const blasint,
                         const float, const float *, const blasint, const float *, const blasint,
                         const float, float *, const blasint);

/* An "OpenBLAS-like" library: the real cblas_sgemm (found with RTLD_NEXT), then, when asked,
 * corrupted the way a miscompiled or mis-dispatched library might be.  Every caller in this
 * program, libperfweave's openblas kernel included, reaches this definition. */
void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                 const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n, const blasint k,
                 const float alpha, const float *a, const blasint lda, const float *b,
                 const blasint ldb, const float beta, float *c, const blasint ldc)
{
    static sgemm_fn real; /* resolved once; the test is single-threaded */
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "cblas_sgemm");
        memcpy(&real, &sym, sizeof real);
    }
    assert_non_null(real);
    sgemm_calls++;
    real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (sgemm_broken == 1 && m > 0 && n > 0) {
        float *x = &c[(size_t)(m / 2) * (size_t)ldc + (size_t)(n / 2)];
        *x += 1e-3f * (1.0f + fabsf(*x));
    } else if (sgemm_broken == 2) {
        for (blasint i = 1; i < m; i += 3)
            for (blasint j = 0; j < n; j++) c[(size_t)i * (size_t)ldc + (size_t)j] *= 1.001f;
    }
}

/* An m×k·k×n problem with filled operands and C poisoned with NaN. */
typedef struct {
    size_t m, n, k;
    float *a, *b, *c;
} problem;

static problem problem_new(size_t m, size_t k, size_t n, uint64_t seed)
{
    problem p = {m, n, k, pw_xmalloc((m * k + 1) * sizeof(float)),
                 pw_xmalloc((k * n + 1) * sizeof(float)), pw_xmalloc((m * n + 1) * sizeof(float))};
    pw_matmul_fill(p.a, m * k, seed);
    pw_matmul_fill(p.b, k * n, seed + 1);
    for (size_t i = 0; i < m * n; i++) p.c[i] = NAN;
    return p;
}

static void problem_free(problem *p)
{
    free(p->a), free(p->b), free(p->c);
}

/* The exact product rounded once to fp32 (the best any kernel can do). */
static void exact_product(problem *p)
{
    for (size_t i = 0; i < p->m; i++)
        for (size_t j = 0; j < p->n; j++) {
            double s = 0.0;
            for (size_t q = 0; q < p->k; q++)
                s += (double)p->a[i * p->k + q] * (double)p->b[q * p->n + j];
            p->c[i * p->n + j] = (float)s;
        }
}

static int verify(const problem *p, double *worst)
{
    return pw_matmul_verify(p->m, p->n, p->k, p->a, p->b, p->c, worst);
}

static void test_verify_calls_no_blas(void **state)
{
    (void)state;
    problem small = problem_new(65, 63, 127, 1), large = problem_new(384, 384, 384, 3);
    exact_product(&small);
    exact_product(&large);
    unsigned long before = sgemm_calls;
    double worst;
    assert_int_equal(verify(&small, &worst), PW_OK);
    assert_true(worst < 0.01); /* one rounding is far inside the γ_k bound */
    assert_int_equal(verify(&large, &worst), PW_OK);
    assert_true(worst < 0.01);
    assert_true(sgemm_calls == before);
    problem_free(&small);
    problem_free(&large);
}

static void test_broken_blas_rejected(void **state)
{
    (void)state;
    const pw_matmul_kernel *ob = pw_matmul_find("openblas");
    assert_non_null(ob);
    assert_int_equal(pw_matmul_set_threads(1), 1);
    char msg[256] = "";
    /* A check whose reference came from the same library would see no difference here. */
    for (int mode = 1; mode <= 2; mode++) {
        sgemm_broken = mode;
        unsigned long before = sgemm_calls;
        assert_int_equal(pw_matmul_gate(ob, NULL, msg, sizeof msg), PW_ERANGE);
        assert_true(sgemm_calls > before); /* the kernel really went through the wrapper */
        assert_non_null(strstr(msg, "'openblas' fails the correctness gate"));
    }
    /* A large product (the sampled check): every third row off by 0.1 % is caught. */
    problem p = problem_new(384, 384, 384, 5);
    sgemm_broken = 2;
    ob->fn(NULL, p.m, p.n, p.k, p.a, p.b, p.c);
    double worst;
    assert_int_equal(verify(&p, &worst), PW_ERANGE);
    assert_true(worst > 1.0);
    sgemm_broken = 0;
    ob->fn(NULL, p.m, p.n, p.k, p.a, p.b, p.c);
    assert_int_equal(verify(&p, &worst), PW_OK);
    problem_free(&p);
    msg[0] = '\0';
    assert_int_equal(pw_matmul_gate(ob, NULL, msg, sizeof msg), PW_OK);
    assert_string_equal(msg, "");
}

/* Healthy OpenBLAS passes the independent check on the gate's awkward shapes and more, on one
 * thread and on several (a multi-threaded split of k is just another summation order). */
static void test_openblas_accepted(void **state)
{
    (void)state;
    sgemm_broken = 0;
    const pw_matmul_kernel *ob = pw_matmul_find("openblas");
    static const size_t extra[][3] = {
        {6, 256, 16}, {12, 512, 32}, {144, 257, 33}, {150, 20, 4097}, {300, 300, 400},
    };
    static const int threads[] = {1, 2, 4};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        pw_matmul_set_threads(threads[t]);
        char msg[256] = "";
        assert_int_equal(pw_matmul_gate(ob, NULL, msg, sizeof msg), PW_OK);
        for (size_t s = 0; s < sizeof extra / sizeof extra[0]; s++) {
            problem p = problem_new(extra[s][0], extra[s][1], extra[s][2], 20 + s);
            ob->fn(NULL, p.m, p.n, p.k, p.a, p.b, p.c);
            double worst;
            assert_int_equal(verify(&p, &worst), PW_OK);
            assert_true(worst <= 1.0);
            problem_free(&p);
        }
    }
    assert_int_equal(pw_matmul_set_threads(1), 1);
}

/* Above PW_MATMUL_VERIFY_FULL_WORK the check samples; at it, it checks every entry. */
static void test_sampled_and_full(void **state)
{
    (void)state;
    double worst;
    /* 256·512·256 = 2^25 multiply-adds: the full check, so one interior entry is caught. */
    problem f = problem_new(256, 512, 256, 7);
    assert_true(256.0 * 512 * 256 <= PW_MATMUL_VERIFY_FULL_WORK);
    exact_product(&f);
    assert_int_equal(verify(&f, &worst), PW_OK);
    f.c[100 * 256 + 77] += 1e-2f;
    assert_int_equal(verify(&f, &worst), PW_ERANGE);
    problem_free(&f);

    problem p = problem_new(384, 384, 384, 9);
    assert_true(384.0 * 384 * 384 > PW_MATMUL_VERIFY_FULL_WORK);
    exact_product(&p);
    assert_int_equal(verify(&p, &worst), PW_OK);
    /* Each edge is checked in full. */
    const size_t edges[][2] = {{0, 200}, {383, 17}, {150, 0}, {222, 383}};
    for (size_t e = 0; e < 4; e++) {
        float *x = &p.c[edges[e][0] * 384 + edges[e][1]];
        float keep = *x;
        *x += 1e-2f;
        assert_int_equal(verify(&p, &worst), PW_ERANGE);
        *x = keep;
    }
    /* A non-finite interior entry is caught by the scan. */
    p.c[191 * 384 + 191] = NAN;
    assert_int_equal(verify(&p, &worst), PW_ERANGE);
    assert_true(isinf(worst));
    p.c[191 * 384 + 191] = INFINITY;
    assert_int_equal(verify(&p, &worst), PW_ERANGE);
    problem_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_calls_no_blas),
        cmocka_unit_test(test_broken_blas_rejected),
        cmocka_unit_test(test_openblas_accepted),
        cmocka_unit_test(test_sampled_and_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
