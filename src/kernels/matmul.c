/* matmul.c — the simple members of the matmul family (naive, ikj, blocked), the OpenBLAS
 * baseline, the kernel table, the backend dispatcher and the correctness gate.  The packed BLIS
 * kernel lives in matmul_packed.c. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/baselines.h"
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
    /* Only a change is passed on: in a forked child any openblas_set_num_threads call restarts
     * the library's thread pool, whose spinning workers then preempt the measurement on its
     * one CPU (about 70 involuntary switches per child, measured), even when the count is the
     * one already in effect. */
    if (threads >= 1 && threads != openblas_get_num_threads()) openblas_set_num_threads(threads);
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
     "BLIS-style: packed panels, five loops, a register microkernel with its own blocksizes "
     "(AVX-512, AVX2/FMA or portable C); small products unpacked (AVX-512)"},
    {"openblas", pw_matmul_openblas, "OpenBLAS cblas_sgemm"},
    {"blis", pw_matmul_blis, "BLIS bli_sgemm (serial build, its own API; baselines.h)"},
    {"onednn", pw_matmul_onednn, "oneDNN dnnl_sgemm (one OpenMP thread; baselines.h)"},
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
    return pw_cpu_usable_avx2_fma(pw_cpu_host());
}

/* --- dispatcher ------------------------------------------------------------------------------- */

void pw_matmul_backend_init(pw_matmul_backend *be)
{
    pw_matmul_backend_init_cpu(be, pw_cpu_host());
}

void pw_matmul_backend_init_cpu(pw_matmul_backend *be, const pw_cpu_info *cpu)
{
    be->avx2_fma = pw_ukernel_widest(cpu) != PW_UKERNEL_PORTABLE;
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

/* One verification in progress: the operands, the output under test, the bound's factor and the
 * worst ratio so far. */
typedef struct {
    size_t m, n, k;
    const float *a, *b, *c;
    double g; /* the bound is g·(|A||B|)_ij + FLT_MIN */
    double worst;
} verify_state;

/* Judges entry (i, j) against its double-precision value s and magnitude mag = (|A||B|)_ij. */
static void verify_judge(verify_state *v, size_t i, size_t j, double s, double mag)
{
    float cij = v->c[i * v->n + j];
    double err = isfinite(cij) ? fabs((double)cij - s) : INFINITY;
    double ratio = err / (v->g * mag + FLT_MIN);
    if (isnan(ratio)) ratio = INFINITY;
    if (ratio > v->worst) v->worst = ratio;
}

/* Row i of the exact product, accumulated in double along unit-stride rows of B; sum and mag are
 * n-double scratch. */
static void verify_row(verify_state *v, size_t i, double *sum, double *mag)
{
    size_t n = v->n, k = v->k;
    for (size_t j = 0; j < n; j++) sum[j] = mag[j] = 0.0;
    for (size_t p = 0; p < k; p++) {
        double aip = (double)v->a[i * k + p], abs_aip = fabs(aip);
        const float *brow = v->b + p * n;
        for (size_t j = 0; j < n; j++) {
            sum[j] += aip * (double)brow[j];
            mag[j] += abs_aip * fabs((double)brow[j]);
        }
    }
    for (size_t j = 0; j < n; j++) verify_judge(v, i, j, sum[j], mag[j]);
}

/* Column j of the exact product: the column of B is gathered once into bcol (k doubles). */
static void verify_column(verify_state *v, size_t j, double *bcol)
{
    size_t n = v->n, k = v->k;
    for (size_t p = 0; p < k; p++) bcol[p] = (double)v->b[p * n + j];
    for (size_t i = 0; i < v->m; i++) {
        double s = 0.0, mag = 0.0;
        const float *arow = v->a + i * k;
        for (size_t p = 0; p < k; p++) {
            s += (double)arow[p] * bcol[p];
            mag += fabs((double)arow[p]) * fabs(bcol[p]);
        }
        verify_judge(v, i, j, s, mag);
    }
}

/* One entry, striding down a column of B. */
static void verify_entry(verify_state *v, size_t i, size_t j)
{
    double s = 0.0, mag = 0.0;
    for (size_t p = 0; p < v->k; p++) {
        double x = (double)v->a[i * v->k + p], y = (double)v->b[p * v->n + j];
        s += x * y;
        mag += fabs(x) * fabs(y);
    }
    verify_judge(v, i, j, s, mag);
}

/* splitmix64 step for the sampled entries. */
static uint64_t verify_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int pw_matmul_verify(size_t m, size_t n, size_t k, const float *a, const float *b,
                     const float *c, double *worst)
{
    *worst = 0.0;
    if (m == 0 || n == 0) return PW_OK;
    /* The double reference is itself rounded: at most γ_k in double precision (k·2^-53) of
     * |A||B|, about 2^-29 of the fp32 bound; twice that is added so the bound stays rigorous. */
    double gd = (double)k * ldexp(1.0, -53);
    verify_state v = {m, n, k, a, b, c, PW_MATMUL_GATE_FACTOR * pw_matmul_gamma(k) + 2.0 * gd,
                      0.0};
    double *sum = pw_xmalloc(n * sizeof *sum), *mag = pw_xmalloc(n * sizeof *mag);
    if ((double)m * (double)n * (double)k <= PW_MATMUL_VERIFY_FULL_WORK) {
        for (size_t i = 0; i < m; i++) verify_row(&v, i, sum, mag);
    } else {
        /* Every entry must be finite (a cheap O(mn) scan catches unwritten, NaN-poisoned C). */
        for (size_t i = 0; i < m * n; i++)
            if (!isfinite(c[i])) v.worst = INFINITY;
        /* The edges, where tiled kernels keep their remainder code: first and last rows and
         * columns in full. */
        verify_row(&v, 0, sum, mag);
        if (m > 1) verify_row(&v, m - 1, sum, mag);
        double *bcol = pw_xmalloc((k ? k : 1) * sizeof *bcol);
        verify_column(&v, 0, bcol);
        if (n > 1) verify_column(&v, n - 1, bcol);
        free(bcol);
        /* And a seeded random sample of the interior, the same entries for the same shape. */
        uint64_t s = PW_MATMUL_VERIFY_SEED ^ ((uint64_t)m << 42) ^ ((uint64_t)n << 21) ^ k;
        for (int t = 0; t < PW_MATMUL_VERIFY_SAMPLES; t++) {
            size_t i = (size_t)(verify_next(&s) % m), j = (size_t)(verify_next(&s) % n);
            verify_entry(&v, i, j);
        }
    }
    free(sum);
    free(mag);
    *worst = v.worst;
    return *worst <= 1.0 ? PW_OK : PW_ERANGE;
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
    /* A library that cannot be opened here (missing, or not allowed in this process) fails the
     * gate with the loader's reason rather than with the NaNs its kernel leaves. */
    char why[256];
    if (pw_baselines_ready(kern->name, why, sizeof why) != PW_OK) {
        if (msg) snprintf(msg, msgsize, "kernel '%s' cannot run here: %s", kern->name, why);
        return PW_ENOTFOUND;
    }
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
                     "times the bound %g·γ_k·|A||B| (double-precision reference)",
                     kern->name, m, k, n, worst, PW_MATMUL_GATE_FACTOR);
        free(a);
        free(b);
        free(c);
    }
    return status;
}
