/* matmul_packed.c — the BLIS-style packed sgemm: five named loops (jc, pc, ic, jr, ir) around
 * a 6×16 register microkernel, with A and B copied into contiguous, zero-padded panels so the
 * microkernel streams both with unit stride from L1/L2.  Two microkernels share one contract:
 * AVX2+FMA intrinsics (compiled for that target only, chosen at run time) and portable C. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PW_HAVE_X86 1
#endif

#include "perfweave/common.h"
#include "perfweave/matmul.h"

enum { MR = PW_MATMUL_MR, NR = PW_MATMUL_NR, KC = PW_MATMUL_KC, MC = PW_MATMUL_MC,
       NC = PW_MATMUL_NC };

_Static_assert(MC % MR == 0, "MC must be a multiple of MR");
_Static_assert(NC % NR == 0, "NC must be a multiple of NR");

/* The microkernel contract: ap is an MR×kc sliver of packed A (MR values per k step), bp a
 * kc×NR sliver of packed B (NR values per k step); computes the full MR×NR product and stores
 * its top-left mr×nr corner (mr <= MR, nr <= NR: edge tiles) into c (row stride ldc), adding to
 * c when accumulate is nonzero and overwriting it otherwise.  Nothing outside that corner is
 * read or written. */
typedef void (*ukernel_fn)(size_t kc, const float *restrict ap, const float *restrict bp,
                           float *restrict c, size_t ldc, size_t mr, size_t nr, int accumulate);

static void ukernel_portable(size_t kc, const float *restrict ap, const float *restrict bp,
                             float *restrict c, size_t ldc, size_t mr, size_t nr, int accumulate)
{
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (size_t p = 0; p < kc; p++) {
        for (int i = 0; i < MR; i++) {
            const float ai = ap[i];
            for (int j = 0; j < NR; j++) acc[i][j] += ai * bp[j];
        }
        ap += MR;
        bp += NR;
    }
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nr; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#ifdef PW_HAVE_X86
/* Twelve accumulators (6 rows × two 8-float halves) stay in registers for the whole kc loop;
 * each k step loads two vectors of B, broadcasts six scalars of A and issues twelve FMAs. */
__attribute__((target("avx2,fma"))) static void
ukernel_avx2(size_t kc, const float *restrict ap, const float *restrict bp, float *restrict c,
             size_t ldc, size_t mr, size_t nr, int accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (size_t i = 0; i < mr; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
    for (size_t p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
        __m256 a;
        a = _mm256_broadcast_ss(ap + 0);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(ap + 1);
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(ap + 2);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(ap + 3);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(ap + 4);
        c40 = _mm256_fmadd_ps(a, b0, c40);
        c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(ap + 5);
        c50 = _mm256_fmadd_ps(a, b0, c50);
        c51 = _mm256_fmadd_ps(a, b1, c51);
        ap += MR;
        bp += NR;
    }
    __m256 r[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (nr == NR) {
        for (size_t i = 0; i < mr; i++) {
            float *ci = c + i * ldc;
            if (accumulate) {
                r[i][0] = _mm256_add_ps(r[i][0], _mm256_loadu_ps(ci));
                r[i][1] = _mm256_add_ps(r[i][1], _mm256_loadu_ps(ci + 8));
            }
            _mm256_storeu_ps(ci, r[i][0]);
            _mm256_storeu_ps(ci + 8, r[i][1]);
        }
        return;
    }
    /* Edge columns: masked loads and stores touch only the first nr floats of each row. */
    static const int32_t lane[NR] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const __m256i limit = _mm256_set1_epi32((int32_t)nr);
    const __m256i m0 = _mm256_cmpgt_epi32(limit, _mm256_loadu_si256((const __m256i *)lane));
    const __m256i m1 = _mm256_cmpgt_epi32(limit, _mm256_loadu_si256((const __m256i *)(lane + 8)));
    for (size_t i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        if (accumulate) {
            r[i][0] = _mm256_add_ps(r[i][0], _mm256_maskload_ps(ci, m0));
            r[i][1] = _mm256_add_ps(r[i][1], _mm256_maskload_ps(ci + 8, m1));
        }
        _mm256_maskstore_ps(ci, m0, r[i][0]);
        _mm256_maskstore_ps(ci + 8, m1, r[i][1]);
    }
}
#endif

/* Packs rows [0, mc) × depth [0, kc) of A (row stride lda) into MR-row slivers, each stored
 * k-major (MR consecutive values per k step); rows past mc are zero. */
static void pack_a(size_t mc, size_t kc, const float *restrict a, size_t lda,
                   float *restrict ap)
{
    for (size_t ir = 0; ir < mc; ir += MR) {
        size_t mr = mc - ir < MR ? mc - ir : MR;
        if (mr == MR) {
            /* Full sliver: no bounds tests in the copy loop. */
            const float *r0 = a + ir * lda;
            for (size_t p = 0; p < kc; p++) {
                for (size_t i = 0; i < MR; i++) ap[i] = r0[i * lda + p];
                ap += MR;
            }
            continue;
        }
        const float *rows[MR];
        for (size_t i = 0; i < MR; i++) rows[i] = a + (ir + (i < mr ? i : 0)) * lda;
        for (size_t p = 0; p < kc; p++) {
            for (size_t i = 0; i < MR; i++) ap[i] = i < mr ? rows[i][p] : 0.0f;
            ap += MR;
        }
    }
}

/* Packs depth [0, kc) × columns [0, nc) of B (row stride ldb) into NR-column slivers, each
 * stored k-major (NR consecutive values per k step); columns past nc are zero. */
static void pack_b(size_t kc, size_t nc, const float *restrict b, size_t ldb,
                   float *restrict bp)
{
    for (size_t jr = 0; jr < nc; jr += NR) {
        size_t nr = nc - jr < NR ? nc - jr : NR;
        const float *col = b + jr;
        if (nr == NR) {
            for (size_t p = 0; p < kc; p++) {
                memcpy(bp, col + p * ldb, NR * sizeof *bp);
                bp += NR;
            }
        } else {
            for (size_t p = 0; p < kc; p++) {
                size_t j = 0;
                for (; j < nr; j++) bp[j] = col[p * ldb + j];
                for (; j < NR; j++) bp[j] = 0.0f;
                bp += NR;
            }
        }
    }
}

static void *alloc_aligned(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0 || !p) {
        /* Out of memory aborts, as pw_xmalloc does. */
        fprintf(stderr, "perfweave: out of memory (%zu bytes)\n", bytes);
        abort();
    }
    return p;
}

void pw_matmul_ctx_init(pw_matmul_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->block = PW_MATMUL_BLOCK_DEFAULT;
    ctx->ukernel = pw_cpu_has_avx2_fma() ? PW_UKERNEL_AVX2 : PW_UKERNEL_PORTABLE;
    ctx->apack = alloc_aligned((size_t)MC * KC * sizeof(float));
    ctx->bpack = alloc_aligned((size_t)KC * NC * sizeof(float));
}

void pw_matmul_ctx_release(pw_matmul_ctx *ctx)
{
    if (!ctx) return;
    free(ctx->apack);
    free(ctx->bpack);
    ctx->apack = ctx->bpack = NULL;
}

static ukernel_fn choose_ukernel(pw_ukernel which)
{
#ifdef PW_HAVE_X86
    /* AVX2 asked for on a CPU without it falls back rather than faulting. */
    if (which != PW_UKERNEL_PORTABLE && pw_cpu_has_avx2_fma()) return ukernel_avx2;
#else
    (void)which;
#endif
    return ukernel_portable;
}

void pw_matmul_packed(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                      const float *restrict a, const float *restrict b, float *restrict c)
{
    if (m == 0 || n == 0) return;
    if (k == 0) {
        memset(c, 0, m * n * sizeof *c);
        return;
    }
    pw_matmul_ctx local;
    int own = !ctx || !ctx->apack || !ctx->bpack;
    if (own) {
        /* No workspace given: allocate just what this shape needs (a small product should not
         * pay for a 4 MiB panel). */
        size_t mcap = m < MC ? (m + MR - 1) / MR * MR : MC;
        size_t ncap = n < NC ? (n + NR - 1) / NR * NR : NC;
        size_t kcap = k < KC ? k : KC;
        memset(&local, 0, sizeof local);
        local.ukernel = ctx ? ctx->ukernel : PW_UKERNEL_AUTO;
        local.apack = alloc_aligned(mcap * kcap * sizeof(float));
        local.bpack = alloc_aligned(kcap * ncap * sizeof(float));
        ctx = &local;
    }
    const ukernel_fn ukr = choose_ukernel(ctx->ukernel);
    float *restrict ap = ctx->apack, *restrict bp = ctx->bpack;

    for (size_t jc = 0; jc < n; jc += NC) {                 /* 5th loop: NC columns of B, C */
        size_t nc = n - jc < NC ? n - jc : NC;
        for (size_t pc = 0; pc < k; pc += KC) {             /* 4th loop: KC depth */
            size_t kc = k - pc < KC ? k - pc : KC;
            int accumulate = pc > 0;
            pack_b(kc, nc, b + pc * n + jc, n, bp);
            for (size_t ic = 0; ic < m; ic += MC) {         /* 3rd loop: MC rows of A, C */
                size_t mc = m - ic < MC ? m - ic : MC;
                pack_a(mc, kc, a + ic * k + pc, k, ap);
                for (size_t jr = 0; jr < nc; jr += NR) {    /* 2nd loop: NR-column slivers */
                    size_t nr = nc - jr < NR ? nc - jr : NR;
                    for (size_t ir = 0; ir < mc; ir += MR) { /* 1st loop: MR-row slivers */
                        size_t mr = mc - ir < MR ? mc - ir : MR;
                        ukr(kc, ap + ir * kc, bp + jr * kc, c + (ic + ir) * n + jc + jr, n,
                            mr, nr, accumulate);
                    }
                }
            }
        }
    }
    if (own) pw_matmul_ctx_release(&local);
}
