/* matmul_packed.c — the BLIS-style packed sgemm: five named loops (jc, pc, ic, jr, ir) around
 * a register microkernel, with A and B copied into contiguous, zero-padded panels so the
 * microkernel streams both with unit stride from L1/L2.  The microkernels share one contract
 * (pw_ukernel_fn) and each carries its own blocksizes, read by the driver at run time, so
 * kernels of different shapes coexist (BLIS's context): AVX-512 (several register shapes, one
 * preferred in general and one on AMD from Zen 5), AVX2+FMA 6×16 and portable C 6×16.  The
 * SIMD ones are compiled for their target only and chosen at run time from cpu.h; which one
 * runs is decided by
 * pw_matmul_ukernel_select, which refuses — with the reason — an ISA the CPU, the OS or this
 * build cannot run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/matmul.h"
#include "simd.h"

/* --- portable ------------------------------------------------------------------------------- */
enum { P_MR = 6, P_NR = 16 };

static void ukernel_portable(size_t kc, const float *restrict ap, const float *restrict bp,
                             float *restrict c, size_t ldc, size_t mr, size_t nr, int accumulate)
{
    float acc[P_MR][P_NR];
    memset(acc, 0, sizeof acc);
    for (size_t p = 0; p < kc; p++) {
        for (int i = 0; i < P_MR; i++) {
            const float ai = ap[i];
            for (int j = 0; j < P_NR; j++) acc[i][j] += ai * bp[j];
        }
        ap += P_MR;
        bp += P_NR;
    }
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nr; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#ifdef PW_X86_SIMD
/* --- AVX2 + FMA, 6×16 ----------------------------------------------------------------------- */
/* Twelve accumulators (6 rows × two 8-float halves) stay in registers for the whole kc loop;
 * each k step loads two vectors of B, broadcasts six scalars of A and issues twelve FMAs. */
enum { A2_MR = 6, A2_NR = 16 };

PW_TARGET_AVX2 static void ukernel_avx2(size_t kc, const float *restrict ap,
                                        const float *restrict bp, float *restrict c, size_t ldc,
                                        size_t mr, size_t nr, int accumulate)
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
        ap += A2_MR;
        bp += A2_NR;
    }
    __m256 r[A2_MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (nr == A2_NR) {
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
    static const int32_t lane[A2_NR] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
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

/* --- AVX-512, MR × (16·NV) -------------------------------------------------------------------- */
/* One body for every AVX-512 shape: MR rows × NV zmm vectors of 16 floats.  MR and NV are
 * constants after inlining, so the accumulator array is fully unrolled into MR·NV registers
 * (GCC scalarizes it after complete unrolling; checked in the disassembly: no spills for the
 * shapes below, whose MR·NV + NV + 1 <= 32).  Each k step loads NV vectors of B, broadcasts MR
 * floats of A and issues MR·NV independent FMAs, far more than FMA latency × 2 ports needs.
 * Edges: rows by count, columns with opmask loads/stores (only the first nr floats of a row
 * are touched). */
enum { A5_MAX_MR = 16, A5_MAX_NV = 4 };

PW_TARGET_AVX512 static inline __attribute__((always_inline)) void
ukernel_avx512_body(size_t kc, const float *restrict ap, const float *restrict bp,
                    float *restrict c, size_t ldc, size_t mr, size_t nr, int accumulate,
                    const int MR, const int NV, const int PF)
{
    __m512 acc[A5_MAX_MR][A5_MAX_NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (size_t i = 0; i < mr; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
    for (size_t p = 0; p < kc; p++) {
        __m512 b[A5_MAX_NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) b[v] = _mm512_load_ps(bp + 16 * v);
        if (PF) {
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                _mm_prefetch((const char *)(bp + 16 * v + 16 * NV * PF), _MM_HINT_T0);
            if (PF > 1) _mm_prefetch((const char *)(ap + MR * PF), _MM_HINT_T0);
        }
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            const __m512 a = _mm512_set1_ps(ap[i]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
        }
        ap += MR;
        bp += 16 * NV;
    }
    __mmask16 mask[A5_MAX_NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        size_t left = nr > (size_t)(16 * v) ? nr - (size_t)(16 * v) : 0;
        mask[v] = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        if ((size_t)i >= mr) break;
        float *ci = c + (size_t)i * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m512 r = acc[i][v];
            if (accumulate) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mask[v], ci + 16 * v));
            _mm512_mask_storeu_ps(ci + 16 * v, mask[v], r);
        }
    }
}

/* The direct path for small products (BLIS's "sup", OpenBLAS's small-matrix kernels): the same
 * register block, but A and B are read where they lie — B's rows through (masked) unaligned
 * loads, A's entries broadcast from R separate rows — so nothing is packed.  Worth it while the
 * operands sit in L1/L2 anyway and packing would be a large share of the work; the threshold is
 * the descriptor's direct_mnk.  R (the rows of this tile, <= MR), NV and FULL are constants
 * after inlining.  A block narrower than 16·NV columns (the last one) is masked, so nothing
 * outside A, B or the tile of C is read or written; a full block (FULL, nr == 16·NV) uses plain
 * loads and stores: with an all-ones mask the masked ones cost 3–7% at n = 96–256 on the Xeon
 * VM when the FMAs run near their peak (docs/kernels.md). */
PW_TARGET_AVX512 static inline __attribute__((always_inline)) void
direct_avx512_tile(size_t k, const float *restrict a, size_t lda, const float *restrict b,
                   size_t ldb, float *restrict c, size_t ldc, size_t nr, const int R,
                   const int NV, const int FULL)
{
    __m512 acc[A5_MAX_MR][A5_MAX_NV];
    __mmask16 mask[A5_MAX_NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        size_t left = nr > (size_t)(16 * v) ? nr - (size_t)(16 * v) : 0;
        mask[v] = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (size_t p = 0; p < k; p++) {
        __m512 bv[A5_MAX_NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            bv[v] = FULL ? _mm512_loadu_ps(b + p * ldb + 16 * v)
                         : _mm512_maskz_loadu_ps(mask[v], b + p * ldb + 16 * v);
#pragma GCC unroll 16
        for (int i = 0; i < R; i++) {
            const __m512 av = _mm512_set1_ps(a[(size_t)i * lda + p]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            if (FULL) _mm512_storeu_ps(c + (size_t)i * ldc + 16 * v, acc[i][v]);
            else _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16 * v, mask[v], acc[i][v]);
        }
}

/* One column block [j, j + nr) of C for every row: R-row tiles (R <= MR) of an MR × 16·NV
 * register block, the row remainder dispatched to a constant instantiation, full blocks to the
 * unmasked one. */
#define DIRECT_CASE(R)                                                                           \
    case R:                                                                                     \
        if (nr == 16 * DNV) direct_avx512_tile(k, a + i * k, k, b + j, n, c + i * n + j, n, nr, R, DNV, 1); \
        else direct_avx512_tile(k, a + i * k, k, b + j, n, c + i * n + j, n, nr, R, DNV, 0);    \
        break;
#define DIRECT_COLUMN_BLOCK(NAME, MR, NV, CASES)                                                  \
    PW_TARGET_AVX512 static void NAME(size_t m, size_t n, size_t k, const float *restrict a,     \
                                      const float *restrict b, float *restrict c, size_t j,      \
                                      size_t nr)                                                 \
    {                                                                                           \
        enum { DNV = NV };                                                                      \
        for (size_t i = 0; i < m; i += MR) {                                                    \
            switch (m - i < MR ? m - i : MR) { CASES }                                          \
        }                                                                                       \
    }
DIRECT_COLUMN_BLOCK(direct_avx512_6x64, 6, 4,
                    DIRECT_CASE(6) DIRECT_CASE(5) DIRECT_CASE(4) DIRECT_CASE(3) DIRECT_CASE(2)
                    default: DIRECT_CASE(1))
DIRECT_COLUMN_BLOCK(direct_avx512_8x32, 8, 2,
                    DIRECT_CASE(8) DIRECT_CASE(7) DIRECT_CASE(6) DIRECT_CASE(5) DIRECT_CASE(4)
                    DIRECT_CASE(3) DIRECT_CASE(2) default: DIRECT_CASE(1))

/* C = A·B for the whole (small) product, one column block after another: blocks of 64 columns
 * with 6×64 tiles (24 accumulators, 4 loads of B and 6 broadcasts of A per k step), and a last
 * block of at most 32 columns with 8×32 tiles (16 accumulators), so a narrow edge does not run
 * a half-masked 64-wide tile.  Within a block the rows go outer, so a block of B is reused from
 * L1 by every row tile. */
PW_TARGET_AVX512 static void direct_avx512(size_t m, size_t n, size_t k, const float *restrict a,
                                           const float *restrict b, float *restrict c)
{
    size_t j = 0;
    for (; j < n && n - j > 32; j += 64)
        direct_avx512_6x64(m, n, k, a, b, c, j, n - j < 64 ? n - j : 64);
    if (j < n) direct_avx512_8x32(m, n, k, a, b, c, j, n - j);
}

#define AVX512_UKERNEL(MR, NV, PF)                                                              \
    PW_TARGET_AVX512 static void ukernel_avx512_##MR##x##NV##p##PF(                             \
        size_t kc, const float *restrict ap, const float *restrict bp, float *restrict c,       \
        size_t ldc, size_t mr, size_t nr, int accumulate)                                       \
    {                                                                                           \
        ukernel_avx512_body(kc, ap, bp, c, ldc, mr, nr, accumulate, MR, NV, PF);                \
    }
/* PF = 16: each k step prefetches the B lines 16 steps ahead (and from PF > 1 one line of A),
 * worth about 3% at n = 512–1024 on the development machine (docs/kernels.md). */
AVX512_UKERNEL(14, 2, 16)
AVX512_UKERNEL(12, 2, 16)
AVX512_UKERNEL(8, 2, 16)
AVX512_UKERNEL(6, 4, 16)
AVX512_UKERNEL(16, 1, 16)
#endif /* PW_X86_SIMD */

/* --- the table ------------------------------------------------------------------------------ */
/* Blocksizes: kc×nr floats of B (the L1 sliver, reused by every A sliver of the block) plus one
 * mr×kc sliver of A fit the 32–48 KiB L1 of current cores; mc×kc of A (a few hundred KiB) sits
 * in any L2 of 1 MiB or more; kc×nc of B (4 MiB) in L3.  The AVX-512 kernels measured best with
 * a block of A of one or two slivers (MC = MR or 2·MR, 16–24 KiB, kept in L1 for the whole row
 * of slivers of B) and the kc×n panel of B read from L2 instead.  The AVX-512 candidates and
 * their blocks are ranked by `make tune-ukernels` (bench/ukernels.c, `--ref onednn` against the
 * usual `library`); the preferred one and the measurement behind the choice are in
 * docs/kernels.md. */
static const pw_matmul_ukernel ukernels[] = {
#ifdef PW_X86_SIMD
    {"avx512_16x16", PW_UKERNEL_AVX512, 16, 16, 256, 16, 4096, ukernel_avx512_16x1p16,
     direct_avx512, 384.0 * 384 * 384, 512, 1,
     "AVX-512: 16 zmm accumulators, 1 load of B and 16 broadcasts of A per k step; "
     "unpacked up to 384^3"},
    /* Preferred on AMD from Zen 5 (family 26): there 16×16's 17 loads per 16 FMAs held it at
     * 0.78× oneDNN at n = 1024 whatever its blocks, and 12×32 needed the whole depth of a
     * 1024-deep product in one pass (KC 1024: 0.95× oneDNN, against 0.88× with KC 512 and 0.78×
     * with KC 256, where each extra pass rereads and rewrites C); docs/kernels.md. */
    {"avx512_12x32", PW_UKERNEL_AVX512, 12, 32, 1024, 24, 1024, ukernel_avx512_12x2p16,
     direct_avx512, 384.0 * 384 * 384, 512, 0,
     "AVX-512: 24 zmm accumulators, 2 loads of B and 12 broadcasts of A per k step; "
     "unpacked up to 384^3; preferred on AMD family 26 (Zen 5) and later",
     "AuthenticAMD", 26},
    {"avx512_14x32", PW_UKERNEL_AVX512, 14, 32, 256, 28, 4096, ukernel_avx512_14x2p16, NULL, 0,
     0, 0, "AVX-512: 28 zmm accumulators, 2 loads of B and 14 broadcasts of A per k step"},
    {"avx512_8x32", PW_UKERNEL_AVX512, 8, 32, 256, 24, 4096, ukernel_avx512_8x2p16, NULL, 0, 0,
     0, "AVX-512: 16 zmm accumulators, 2 loads of B and 8 broadcasts of A per k step"},
    {"avx512_6x64", PW_UKERNEL_AVX512, 6, 64, 128, 24, 4096, ukernel_avx512_6x4p16, NULL, 0, 0,
     0, "AVX-512: 24 zmm accumulators, 4 loads of B and 6 broadcasts of A per k step"},
    {"avx2_6x16", PW_UKERNEL_AVX2, A2_MR, A2_NR, 256, 144, 4096, ukernel_avx2, NULL, 0, 0, 1,
     "AVX2+FMA: 12 ymm accumulators, 2 loads of B and 6 broadcasts of A per k step"},
#endif
    {"portable_6x16", PW_UKERNEL_PORTABLE, P_MR, P_NR, 256, 144, 4096, ukernel_portable, NULL, 0,
     0, 1,
     "portable C: a 6x16 array of accumulators (vectorized only as far as the compiler manages)"},
};
enum { NUKERNELS = sizeof ukernels / sizeof ukernels[0] };

const pw_matmul_ukernel *pw_matmul_ukernels(size_t *n)
{
    *n = NUKERNELS;
    return ukernels;
}

const pw_matmul_ukernel *pw_matmul_ukernel_find(const char *name)
{
    for (size_t i = 0; i < NUKERNELS; i++)
        if (strcmp(ukernels[i].name, name) == 0) return &ukernels[i];
    return NULL;
}

static const char *const isa_names[PW_UKERNEL_ISAS] = {"auto", "portable", "avx2", "avx512"};

const char *pw_ukernel_name(pw_ukernel isa)
{
    return (unsigned)isa < PW_UKERNEL_ISAS ? isa_names[isa] : "unknown";
}

int pw_ukernel_from_name(const char *s, pw_ukernel *out)
{
    for (int i = 0; i < PW_UKERNEL_ISAS; i++)
        if (strcmp(s, isa_names[i]) == 0) {
            *out = (pw_ukernel)i;
            return PW_OK;
        }
    return PW_ENOTFOUND;
}

const pw_matmul_ukernel *pw_matmul_ukernel_preferred(pw_ukernel isa)
{
    for (size_t i = 0; i < NUKERNELS; i++)
        if (ukernels[i].isa == isa && ukernels[i].preferred) return &ukernels[i];
    return NULL;
}

const pw_matmul_ukernel *pw_matmul_ukernel_preferred_on(pw_ukernel isa, const pw_cpu_info *cpu)
{
    for (size_t i = 0; cpu && i < NUKERNELS; i++)
        if (ukernels[i].isa == isa && ukernels[i].preferred_vendor &&
            strcmp(ukernels[i].preferred_vendor, cpu->vendor) == 0 &&
            cpu->family >= ukernels[i].preferred_min_family)
            return &ukernels[i];
    return pw_matmul_ukernel_preferred(isa);
}

/* Appends ", name" for each missing flag to a buffer. */
static void missing(pw_buf *b, bool has, const char *name)
{
    if (!has) pw_buf_printf(b, "%s%s", b->len ? ", " : "", name);
}

bool pw_ukernel_usable(pw_ukernel isa, const pw_cpu_info *cpu, char *why, size_t whysize)
{
    if (whysize) why[0] = '\0';
    if (isa == PW_UKERNEL_AUTO || isa == PW_UKERNEL_PORTABLE) return true;
    if ((unsigned)isa >= PW_UKERNEL_ISAS) {
        if (whysize) snprintf(why, whysize, "unknown instruction set %d", (int)isa);
        return false;
    }
    if (!pw_matmul_ukernel_preferred(isa)) {
        if (whysize) snprintf(why, whysize, "%s", PW_SIMD_ABSENT_WHY);
        return false;
    }
    bool ok = isa == PW_UKERNEL_AVX2 ? pw_cpu_usable_avx2_fma(cpu) : pw_cpu_usable_avx512(cpu);
    if (ok) return true;
    pw_buf cpu_lacks;
    pw_buf_init(&cpu_lacks);
    missing(&cpu_lacks, cpu->avx, "avx");
    missing(&cpu_lacks, cpu->avx2, "avx2");
    missing(&cpu_lacks, cpu->fma, "fma");
    if (isa == PW_UKERNEL_AVX512) {
        missing(&cpu_lacks, cpu->avx512f, "avx512f");
        missing(&cpu_lacks, cpu->avx512dq, "avx512dq");
        missing(&cpu_lacks, cpu->avx512bw, "avx512bw");
        missing(&cpu_lacks, cpu->avx512vl, "avx512vl");
    }
    if (whysize) {
        if (cpu_lacks.len)
            snprintf(why, whysize, "the CPU does not report %s", cpu_lacks.data);
        else if (!cpu->osxsave)
            snprintf(why, whysize, "the operating system does not enable XSAVE (OSXSAVE clear), "
                     "so no AVX register state is saved");
        else if (!cpu->os_ymm)
            snprintf(why, whysize, "the CPU has the instructions but the operating system has "
                     "not enabled the AVX (YMM) register state (XCR0)");
        else
            snprintf(why, whysize, "the CPU has the instructions but the operating system has "
                     "not enabled the AVX-512 (opmask and ZMM) register state (XCR0)");
    }
    pw_buf_release(&cpu_lacks);
    return false;
}

pw_ukernel pw_ukernel_widest(const pw_cpu_info *cpu)
{
    if (pw_ukernel_usable(PW_UKERNEL_AVX512, cpu, NULL, 0)) return PW_UKERNEL_AVX512;
    if (pw_ukernel_usable(PW_UKERNEL_AVX2, cpu, NULL, 0)) return PW_UKERNEL_AVX2;
    return PW_UKERNEL_PORTABLE;
}

int pw_matmul_ukernel_select(pw_ukernel which, const pw_cpu_info *cpu,
                             const pw_matmul_ukernel **out, char *why, size_t whysize)
{
    if (whysize) why[0] = '\0';
    pw_ukernel isa = which == PW_UKERNEL_AUTO ? pw_ukernel_widest(cpu) : which;
    char reason[256];
    if (!pw_ukernel_usable(isa, cpu, reason, sizeof reason)) {
        if (whysize)
            snprintf(why, whysize, "the %s microkernel cannot run here: %s", pw_ukernel_name(isa),
                     reason);
        return PW_EINVAL;
    }
    *out = pw_matmul_ukernel_preferred_on(isa, cpu);
    return PW_OK;
}

/* --- packing -------------------------------------------------------------------------------- */
/* One full sliver of mr rows of A (row stride lda), k-major; mr is a constant after inlining. */
static inline __attribute__((always_inline)) void
pack_a_full(size_t kc, const float *restrict r0, size_t lda, float *restrict ap, const size_t mr)
{
    for (size_t p = 0; p < kc; p++) {
        for (size_t i = 0; i < mr; i++) ap[i] = r0[i * lda + p];
        ap += mr;
    }
}

/* Packs rows [0, mc) × depth [0, kc) of A (row stride lda) into MR-row slivers, each stored
 * k-major (MR consecutive values per k step); rows past mc are zero. */
static void pack_a(size_t MR, size_t mc, size_t kc, const float *restrict a, size_t lda,
                   float *restrict ap)
{
    for (size_t ir = 0; ir < mc; ir += MR, ap += MR * kc) {
        size_t mr = mc - ir < MR ? mc - ir : MR;
        const float *r0 = a + ir * lda;
        if (mr == MR) {
            /* Full sliver: the common shapes with a constant row count. */
            switch (MR) {
            case 6: pack_a_full(kc, r0, lda, ap, 6); break;
            case 8: pack_a_full(kc, r0, lda, ap, 8); break;
            case 12: pack_a_full(kc, r0, lda, ap, 12); break;
            case 14: pack_a_full(kc, r0, lda, ap, 14); break;
            case 16: pack_a_full(kc, r0, lda, ap, 16); break;
            default: pack_a_full(kc, r0, lda, ap, MR); break;
            }
            continue;
        }
        float *dst = ap;
        for (size_t p = 0; p < kc; p++) {
            for (size_t i = 0; i < MR; i++) dst[i] = i < mr ? r0[i * lda + p] : 0.0f;
            dst += MR;
        }
    }
}

#ifdef PW_X86_SIMD
/* The same packing with AVX-512, for slivers of at most 16 rows: per 16 steps of k, one load of
 * 16 floats from each row, a 16 × 16 transpose in registers (unpacklo/hi_ps, unpacklo/hi_pd,
 * then two rounds of shuffle_f32x4: 64 shuffles) and 16 masked stores of MR floats.  The
 * scalar loop above reads one float per row per step, MR rows a stride apart (4 KiB at
 * n = 1024, so every row falls in the same L1 set): it took about 12% of a 1024³ product on the
 * Xeon VM (docs/kernels.md), the transpose about 2%.  Rows past MR in the transpose are zero;
 * the remainder of k (kc % 16) and partial slivers take the scalar path. */
PW_TARGET_AVX512 static void pack_a_avx512(size_t MR, size_t mc, size_t kc, const float *restrict a,
                                           size_t lda, float *restrict ap)
{
    const __mmask16 keep = (__mmask16)((1u << MR) - 1u);
    for (size_t ir = 0; ir < mc; ir += MR, ap += MR * kc) {
        size_t mr = mc - ir < MR ? mc - ir : MR;
        const float *r0 = a + ir * lda;
        if (mr != MR) {
            float *dst = ap;
            for (size_t p = 0; p < kc; p++, dst += MR)
                for (size_t i = 0; i < MR; i++) dst[i] = i < mr ? r0[i * lda + p] : 0.0f;
            continue;
        }
        size_t p = 0;
        for (; p + 16 <= kc; p += 16) {
            __m512 r[16], t[16], u[16];
            for (size_t i = 0; i < 16; i++)
                r[i] = i < MR ? _mm512_loadu_ps(r0 + i * lda + p) : _mm512_setzero_ps();
            for (int i = 0; i < 8; i++) {
                t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            /* u[4g + q], lane L: column 4L + q of rows 4g .. 4g + 3 */
            for (int g = 0; g < 4; g++) {
                __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
                __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
                u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
                u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
                u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
                u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
            }
            for (int q = 0; q < 4; q++) {
                __m512 w0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x88);
                __m512 w1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xdd);
                __m512 w2 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x88);
                __m512 w3 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xdd);
                /* column c of the 16: all 16 rows' values at depth p + c */
                _mm512_mask_storeu_ps(ap + (p + q) * MR, keep, _mm512_shuffle_f32x4(w0, w2, 0x88));
                _mm512_mask_storeu_ps(ap + (p + 4 + q) * MR, keep, _mm512_shuffle_f32x4(w1, w3, 0x88));
                _mm512_mask_storeu_ps(ap + (p + 8 + q) * MR, keep, _mm512_shuffle_f32x4(w0, w2, 0xdd));
                _mm512_mask_storeu_ps(ap + (p + 12 + q) * MR, keep, _mm512_shuffle_f32x4(w1, w3, 0xdd));
            }
        }
        for (; p < kc; p++)
            for (size_t i = 0; i < MR; i++) ap[p * MR + i] = r0[i * lda + p];
    }
}
#endif

#ifdef PW_X86_SIMD
/* pack_b for 16-float multiples of NR (the AVX-512 kernels): each k step's NR floats move as
 * NR / 16 zmm loads and aligned stores (the slivers start 64-byte aligned), the last sliver's
 * columns past nc through masked loads that read nothing outside B.  A memcpy of 128 bytes per
 * step cost a library call each (8192 per 256 × 1024 panel). */
PW_TARGET_AVX512 static void pack_b_avx512(size_t NR, size_t kc, size_t nc, const float *restrict b,
                                           size_t ldb, float *restrict bp)
{
    const size_t nv = NR / 16;
    for (size_t jr = 0; jr < nc; jr += NR) {
        size_t nr = nc - jr < NR ? nc - jr : NR;
        const float *col = b + jr;
        __mmask16 mask[A5_MAX_NV];
        for (size_t v = 0; v < nv; v++) {
            size_t left = nr > 16 * v ? nr - 16 * v : 0;
            mask[v] = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
        }
        if (nr == NR && nv == 2) {
            for (size_t p = 0; p < kc; p++, bp += 32) {
                _mm512_store_ps(bp, _mm512_loadu_ps(col + p * ldb));
                _mm512_store_ps(bp + 16, _mm512_loadu_ps(col + p * ldb + 16));
            }
            continue;
        }
        for (size_t p = 0; p < kc; p++, bp += NR)
            for (size_t v = 0; v < nv; v++)
                _mm512_store_ps(bp + 16 * v, _mm512_maskz_loadu_ps(mask[v], col + p * ldb + 16 * v));
    }
}
#endif

/* Packs depth [0, kc) × columns [0, nc) of B (row stride ldb) into NR-column slivers, each
 * stored k-major (NR consecutive values per k step); columns past nc are zero. */
static void pack_b(size_t NR, size_t kc, size_t nc, const float *restrict b, size_t ldb,
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
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0 || !p) {
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
    (void)pw_matmul_ukernel_select(PW_UKERNEL_AUTO, pw_cpu_host(), &ctx->uk, NULL, 0);
    /* Large enough for every microkernel's blocks, so switching kernels never reallocates. */
    size_t abig = 0, bbig = 0;
    for (size_t i = 0; i < NUKERNELS; i++) {
        size_t am = ukernels[i].mc * ukernels[i].kc, bm = ukernels[i].kc * ukernels[i].nc;
        abig = am > abig ? am : abig;
        bbig = bm > bbig ? bm : bbig;
    }
    ctx->apack = alloc_aligned(abig * sizeof(float));
    ctx->bpack = alloc_aligned(bbig * sizeof(float));
}

void pw_matmul_ctx_release(pw_matmul_ctx *ctx)
{
    if (!ctx) return;
    free(ctx->apack);
    free(ctx->bpack);
    ctx->apack = ctx->bpack = NULL;
}

int pw_matmul_ctx_set_ukernel(pw_matmul_ctx *ctx, pw_ukernel which, const pw_cpu_info *cpu,
                              char *why, size_t whysize)
{
    const pw_matmul_ukernel *uk;
    int st = pw_matmul_ukernel_select(which, cpu, &uk, why, whysize);
    if (st == PW_OK) ctx->uk = uk;
    return st;
}

void pw_matmul_packed(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                      const float *restrict a, const float *restrict b, float *restrict c)
{
    if (m == 0 || n == 0) return;
    if (k == 0) {
        memset(c, 0, m * n * sizeof *c);
        return;
    }
    const pw_matmul_ukernel *uk = ctx ? ctx->uk : NULL;
    if (!uk) (void)pw_matmul_ukernel_select(PW_UKERNEL_AUTO, pw_cpu_host(), &uk, NULL, 0);
    if (uk->direct && k <= uk->direct_kmax && (double)m * (double)n * (double)k <= uk->direct_mnk) {
        uk->direct(m, n, k, a, b, c);
        return;
    }
    const size_t MR = uk->mr, NR = uk->nr, KC = uk->kc, MC = uk->mc, NC = uk->nc;
    const pw_ukernel_fn ukr = uk->fn;
    float *own_a = NULL, *own_b = NULL;
    float *restrict ap, *restrict bp;
    if (ctx && ctx->apack && ctx->bpack) {
        ap = ctx->apack;
        bp = ctx->bpack;
    } else {
        /* No workspace given: allocate just what this shape needs (a small product should not
         * pay for a 4 MiB panel). */
        size_t mcap = m < MC ? (m + MR - 1) / MR * MR : MC;
        size_t ncap = n < NC ? (n + NR - 1) / NR * NR : NC;
        size_t kcap = k < KC ? k : KC;
        ap = own_a = alloc_aligned(mcap * kcap * sizeof(float));
        bp = own_b = alloc_aligned(kcap * ncap * sizeof(float));
    }

    for (size_t jc = 0; jc < n; jc += NC) {                 /* 5th loop: NC columns of B, C */
        size_t nc = n - jc < NC ? n - jc : NC;
        for (size_t pc = 0; pc < k; pc += KC) {             /* 4th loop: KC depth */
            size_t kc = k - pc < KC ? k - pc : KC;
            int accumulate = pc > 0;
#ifdef PW_X86_SIMD
            if (uk->isa == PW_UKERNEL_AVX512 && NR % 16 == 0 && NR <= 16 * A5_MAX_NV)
                pack_b_avx512(NR, kc, nc, b + pc * n + jc, n, bp);
            else
#endif
                pack_b(NR, kc, nc, b + pc * n + jc, n, bp);
            for (size_t ic = 0; ic < m; ic += MC) {         /* 3rd loop: MC rows of A, C */
                size_t mc = m - ic < MC ? m - ic : MC;
#ifdef PW_X86_SIMD
                if (uk->isa == PW_UKERNEL_AVX512 && MR <= 16)
                    pack_a_avx512(MR, mc, kc, a + ic * k + pc, k, ap);
                else
#endif
                    pack_a(MR, mc, kc, a + ic * k + pc, k, ap);
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
    free(own_a);
    free(own_b);
}
