/* matmul.c — the simple members of the matmul family (naive, ikj, blocked), the OpenBLAS
 * baseline, the kernel table, the backend dispatcher and the correctness gate.  The packed BLIS
 * kernel lives in matmul_packed.c. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/matmul.h"

/* The reference: i-j-k, one dot product per entry of C, striding down a column of B. */
void pw_matmul_naive(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                     const float *restrict a, const float *restrict b, float *restrict c)
{
    (void)ctx;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (size_t p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
            c[i * n + j] = s;
        }
}

/* i-k-j: the innermost loop walks a row of B and a row of C with unit stride. */
void pw_matmul_ikj(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                   const float *restrict a, const float *restrict b, float *restrict c)
{
    (void)ctx;
    for (size_t i = 0; i < m; i++) {
        float *restrict crow = c + i * n;
        for (size_t j = 0; j < n; j++) crow[j] = 0.0f;
        for (size_t p = 0; p < k; p++) {
            const float aip = a[i * k + p];
            const float *restrict brow = b + p * n;
            for (size_t j = 0; j < n; j++) crow[j] += aip * brow[j];
        }
    }
}

/* Cache tiling: a bs×bs tile of B stays in L1 while every row of the corresponding block
 * column of C is updated from it (tile loops j0 → p0 → i0, ikj inside a tile).  Only the loop
 * order and tiling differ from ikj: same arithmetic, no library, no explicit SIMD. */
void pw_matmul_blocked(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                       const float *restrict a, const float *restrict b, float *restrict c)
{
    size_t bs = ctx && ctx->block ? ctx->block : PW_MATMUL_BLOCK_DEFAULT;
    for (size_t i = 0; i < m * n; i++) c[i] = 0.0f;
    for (size_t j0 = 0; j0 < n; j0 += bs) {
        size_t j1 = j0 + bs < n ? j0 + bs : n;
        for (size_t p0 = 0; p0 < k; p0 += bs) {
            size_t p1 = p0 + bs < k ? p0 + bs : k;
            for (size_t i0 = 0; i0 < m; i0 += bs) {
                size_t i1 = i0 + bs < m ? i0 + bs : m;
                for (size_t i = i0; i < i1; i++) {
                    float *restrict crow = c + i * n + j0;
                    for (size_t p = p0; p < p1; p++) {
                        const float aip = a[i * k + p];
                        const float *restrict brow = b + p * n + j0;
                        for (size_t j = 0; j < j1 - j0; j++) crow[j] += aip * brow[j];
                    }
                }
            }
        }
    }
}

/* The library baseline: OpenBLAS sgemm with whatever thread count pw_matmul_set_threads fixed. */
void pw_matmul_openblas(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                        const float *restrict a, const float *restrict b, float *restrict c)
{
    (void)ctx;
    if (m == 0 || n == 0) return;
    if (k == 0) {
        memset(c, 0, m * n * sizeof *c);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, (blasint)n, (blasint)k,
                1.0f, a, (blasint)k, b, (blasint)n, 0.0f, c, (blasint)n);
}

int pw_matmul_set_threads(int threads)
{
    if (threads >= 1) openblas_set_num_threads(threads);
    return openblas_get_num_threads();
}

const char *pw_matmul_blas_core(void)
{
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

static const pw_matmul_kernel kernels[] = {
    {"naive", pw_matmul_naive, "i-j-k triple loop (the reference)"},
    {"ikj", pw_matmul_ikj, "i-k-j loop order: unit stride in the inner loop"},
    {"blocked", pw_matmul_blocked, "cache tiling (block size a parameter), ikj inside a tile"},
    {"packed", pw_matmul_packed,
     "BLIS-style: packed panels, five loops, 6x16 register microkernel (AVX2/FMA or portable C)"},
    {"openblas", pw_matmul_openblas, "OpenBLAS cblas_sgemm"},
};

const pw_matmul_kernel *pw_matmul_kernels(size_t *n)
{
    *n = sizeof kernels / sizeof kernels[0];
    return kernels;
}

const pw_matmul_kernel *pw_matmul_find(const char *name)
{
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        if (strcmp(kernels[i].name, name) == 0) return &kernels[i];
    return NULL;
}

bool pw_cpu_has_avx2_fma(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

/* --- dispatcher ------------------------------------------------------------------------------- */

void pw_matmul_backend_init(pw_matmul_backend *be)
{
    be->avx2_fma = pw_cpu_has_avx2_fma();
    be->small_mnk = PW_MATMUL_SMALL_MNK;
    be->table[0] = pw_matmul_find("naive");
    be->table[1] = pw_matmul_find("packed");
    be->table[2] = pw_matmul_find("openblas");
}

const pw_matmul_kernel *pw_matmul_backend_choose(const pw_matmul_backend *be, size_t m, size_t n,
                                                 size_t k)
{
    /* Compare without overflowing: m·n·k <= small_mnk. */
    if (m == 0 || n == 0 || k == 0) return be->table[0];
    if (m <= be->small_mnk / n / k && m * n * k <= be->small_mnk) return be->table[0];
    return be->avx2_fma ? be->table[1] : be->table[2];
}

void pw_matmul_backend_run(const pw_matmul_backend *be, const pw_matmul_ctx *ctx, size_t m,
                           size_t n, size_t k, const float *restrict a, const float *restrict b,
                           float *restrict c)
{
    pw_matmul_backend_choose(be, m, n, k)->fn(ctx, m, n, k, a, b, c);
}

/* --- correctness gate ------------------------------------------------------------------------- */

double pw_matmul_gamma(size_t k)
{
    const double u = ldexp(1.0, -24);
    double ku = (double)k * u;
    return ku < 1.0 ? ku / (1.0 - ku) : INFINITY;
}

void pw_matmul_fill(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    for (size_t i = 0; i < n; i++) {
        /* splitmix64 */
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        x[i] = (float)((double)(z >> 40) * ldexp(1.0, -23) - 1.0);
    }
}

int pw_matmul_verify(size_t m, size_t n, size_t k, const float *a, const float *b,
                     const float *c, double *worst)
{
    *worst = 0.0;
    if (m == 0 || n == 0) return PW_OK;
    int status = PW_OK;
    float *ref = pw_xmalloc(m * n * sizeof *ref);
    float *mag = pw_xmalloc(m * n * sizeof *mag);
    float *aa = NULL, *ab = NULL;
    if (k == 0) {
        memset(ref, 0, m * n * sizeof *ref);
        memset(mag, 0, m * n * sizeof *mag);
    } else {
        aa = pw_xmalloc(m * k * sizeof *aa);
        ab = pw_xmalloc(k * n * sizeof *ab);
        for (size_t i = 0; i < m * k; i++) aa[i] = fabsf(a[i]);
        for (size_t i = 0; i < k * n; i++) ab[i] = fabsf(b[i]);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, (blasint)n,
                    (blasint)k, 1.0f, a, (blasint)k, b, (blasint)n, 0.0f, ref, (blasint)n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, (blasint)n,
                    (blasint)k, 1.0f, aa, (blasint)k, ab, (blasint)n, 0.0f, mag, (blasint)n);
    }
    /* |A||B| computed in fp32 is itself within γ_k of the truth; the 1.01 absorbs that. */
    double g = PW_MATMUL_GATE_FACTOR * pw_matmul_gamma(k) * 1.01;
    for (size_t i = 0; i < m * n; i++) {
        double bound = g * (double)mag[i] + FLT_MIN;
        double err = fabs((double)c[i] - (double)ref[i]);
        if (!isfinite(c[i])) err = INFINITY;
        double ratio = err / bound;
        if (ratio > *worst) *worst = ratio;
    }
    if (!(*worst <= 1.0)) status = PW_ERANGE;
    free(aa);
    free(ab);
    free(mag);
    free(ref);
    return status;
}

static const size_t gate_shapes[][3] = {
    /* m, k, n */
    {1, 1, 1},     {7, 7, 7},      {63, 63, 63},  {65, 65, 65}, {127, 127, 127},
    {257, 257, 257}, {1, 257, 7},  {65, 1, 127},  {127, 63, 1}, {7, 300, 65},
    {257, 65, 63}, {63, 127, 300}, {145, 513, 17}, {2, 3, 4113},
};

const size_t (*pw_matmul_gate_shapes(size_t *n))[3]
{
    *n = sizeof gate_shapes / sizeof gate_shapes[0];
    return gate_shapes;
}

int pw_matmul_gate(const pw_matmul_kernel *kern, const pw_matmul_ctx *ctx, char *msg,
                   size_t msgsize)
{
    int status = PW_OK;
    for (size_t s = 0; s < sizeof gate_shapes / sizeof gate_shapes[0] && status == PW_OK; s++) {
        size_t m = gate_shapes[s][0], k = gate_shapes[s][1], n = gate_shapes[s][2];
        float *a = pw_xmalloc(m * k * sizeof *a);
        float *b = pw_xmalloc(k * n * sizeof *b);
        float *c = pw_xmalloc(m * n * sizeof *c);
        pw_matmul_fill(a, m * k, 2 * s + 1);
        pw_matmul_fill(b, k * n, 2 * s + 2);
        /* Poison C so a kernel that reads instead of overwriting it is caught. */
        for (size_t i = 0; i < m * n; i++) c[i] = NAN;
        kern->fn(ctx, m, n, k, a, b, c);
        double worst;
        status = pw_matmul_verify(m, n, k, a, b, c, &worst);
        if (status != PW_OK && msg)
            snprintf(msg, msgsize,
                     "kernel '%s' fails the correctness gate at m=%zu k=%zu n=%zu: error %.3g "
                     "times the bound %g·γ_k·|A||B|",
                     kern->name, m, k, n, worst, PW_MATMUL_GATE_FACTOR);
        free(a);
        free(b);
        free(c);
    }
    return status;
}
