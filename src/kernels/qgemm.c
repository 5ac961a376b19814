/* qgemm.c — the integer GEMM C = A · Bᵀ (uint8 activations × int8 weights → int32): a reference
 * triple loop, a portable kernel, an AVX2 kernel and an AVX-VNNI kernel, chosen at run time.
 *
 * Why not vpmaddubsw: it multiplies u8 × s8 pairs and adds them into int16 with saturation;
 * 255 · 127 · 2 = 64770 > 32767, so full-range uint8 activations against int8 weights can
 * saturate and silently give wrong sums.  The usual workarounds restrict the activations to 7
 * bits or the weights to ±64, each costing a bit of precision.  The AVX2 kernel here instead
 * widens A to int16 once per call (and B once at packing time) and uses vpmaddwd (int16 pairs →
 * int32), which is exact for the full ranges at half the multiply density of vpmaddubsw.  Where
 * the CPU has AVX-VNNI, vpdpbusd does the u8 × s8 four-way dot product straight into int32
 * lanes, with no intermediate saturation and twice the density of vpmaddwd.
 *
 * Both SIMD kernels follow BLIS: B packed in panels of NR = 16 output channels with the k
 * dimension interleaved (2 int16 or 4 int8 per 32-bit lane), A copied into a buffer zero-padded in k,
 * and an MR = 4 × NR = 16 microkernel holding 8 ymm accumulators; edges are handled by padding
 * (zeros add nothing) and by storing only the valid part of the last tiles. */
#include <cpuid.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/quant.h"

#define MR 4
#define NR 16

struct pw_qgemm_b {
    pw_qgemm_kind kind;
    size_t n, k;     /* logical shape of B */
    size_t np, kp;   /* padded: np multiple of NR, kp multiple of the k group (2 or 4) */
    void *data;      /* packed B */
    size_t bytes;
};

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

const char *pw_qgemm_name(pw_qgemm_kind kind)
{
    switch (kind) {
    case PW_QGEMM_PORTABLE: return "portable";
    case PW_QGEMM_AVX2: return "avx2";
    case PW_QGEMM_AVXVNNI: return "avxvnni";
    default: return "unknown";
    }
}

/* AVX-VNNI (VEX-encoded vpdpbusd): CPUID leaf 7, sub-leaf 1, EAX bit 4.  Read with cpuid
 * directly, since not every compiler's __builtin_cpu_supports knows the name. */
static bool cpu_has_avxvnni(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    return (a >> 4) & 1u;
}

bool pw_qgemm_supported(pw_qgemm_kind kind)
{
    __builtin_cpu_init();
    switch (kind) {
    case PW_QGEMM_PORTABLE: return true;
    case PW_QGEMM_AVX2: return __builtin_cpu_supports("avx2");
    case PW_QGEMM_AVXVNNI:
        return __builtin_cpu_supports("avx2") && cpu_has_avxvnni();
    default: return false;
    }
}

pw_qgemm_kind pw_qgemm_best(void)
{
    if (pw_qgemm_supported(PW_QGEMM_AVXVNNI)) return PW_QGEMM_AVXVNNI;
    if (pw_qgemm_supported(PW_QGEMM_AVX2)) return PW_QGEMM_AVX2;
    return PW_QGEMM_PORTABLE;
}

void pw_qgemm_ref(size_t m, size_t n, size_t k, const uint8_t *A, size_t lda, const int8_t *B,
                  size_t ldb, int32_t *C, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            int32_t s = 0;
            for (size_t p = 0; p < k; p++) s += (int32_t)A[i * lda + p] * (int32_t)B[j * ldb + p];
            C[i * ldc + j] = s;
        }
}

/* --- packing -------------------------------------------------------------------------------- */
pw_qgemm_b *pw_qgemm_pack(pw_qgemm_kind kind, const int8_t *B, size_t n, size_t k, size_t ldb)
{
    if (!pw_qgemm_supported(kind)) return NULL;
    pw_qgemm_b *pb = pw_xcalloc(1, sizeof *pb);
    pb->kind = kind;
    pb->n = n;
    pb->k = k;
    if (kind == PW_QGEMM_PORTABLE) {
        pb->np = n;
        pb->kp = k;
        pb->bytes = n * k;
        int8_t *d = pw_xmalloc(pb->bytes ? pb->bytes : 1);
        for (size_t j = 0; j < n; j++) memcpy(d + j * k, B + j * ldb, k);
        pb->data = d;
    } else if (kind == PW_QGEMM_AVX2) {
        /* Panel jb, pair p: 16 lanes of (B[jb+l][2p], B[jb+l][2p+1]) as int16. */
        pb->np = round_up(n, NR);
        pb->kp = round_up(k, 2);
        pb->bytes = pb->np * pb->kp * sizeof(int16_t);
        int16_t *d = pw_xcalloc(pb->np * pb->kp, sizeof(int16_t));
        for (size_t jb = 0; jb < pb->np; jb += NR)
            for (size_t p = 0; p < pb->kp / 2; p++)
                for (size_t l = 0; l < NR; l++)
                    for (size_t t = 0; t < 2; t++) {
                        size_t j = jb + l, kk = 2 * p + t;
                        d[jb * pb->kp + p * 2 * NR + 2 * l + t] =
                            j < n && kk < k ? B[j * ldb + kk] : 0;
                    }
        pb->data = d;
    } else {
        /* Panel jb, quad q: 16 lanes of B[jb+l][4q .. 4q+3] as int8. */
        pb->np = round_up(n, NR);
        pb->kp = round_up(k, 4);
        pb->bytes = pb->np * pb->kp;
        int8_t *d = pw_xcalloc(pb->np * pb->kp, 1);
        for (size_t jb = 0; jb < pb->np; jb += NR)
            for (size_t q = 0; q < pb->kp / 4; q++)
                for (size_t l = 0; l < NR; l++)
                    for (size_t t = 0; t < 4; t++) {
                        size_t j = jb + l, kk = 4 * q + t;
                        d[jb * pb->kp + q * 4 * NR + 4 * l + t] =
                            j < n && kk < k ? B[j * ldb + kk] : 0;
                    }
        pb->data = d;
    }
    return pb;
}

void pw_qgemm_b_free(pw_qgemm_b *pb)
{
    if (!pb) return;
    free(pb->data);
    free(pb);
}

pw_qgemm_kind pw_qgemm_b_kind(const pw_qgemm_b *pb) { return pb->kind; }
size_t pw_qgemm_b_bytes(const pw_qgemm_b *pb) { return pb->bytes; }

size_t pw_qgemm_work_bytes(const pw_qgemm_b *pb, size_t m)
{
    size_t mp = round_up(m ? m : 1, MR);
    switch (pb->kind) {
    case PW_QGEMM_AVX2: return mp * pb->kp * sizeof(int16_t) + 64;
    case PW_QGEMM_AVXVNNI: return mp * pb->kp + 64;
    default: return 1;
    }
}

/* --- portable ------------------------------------------------------------------------------- */
/* Four output channels at a time so each A element is loaded once per four products; the
 * compiler may vectorise the k loop. */
static void run_portable(const pw_qgemm_b *pb, size_t m, const uint8_t *A, size_t lda,
                         int32_t *C, size_t ldc)
{
    const int8_t *B = pb->data;
    size_t n = pb->n, k = pb->k;
    for (size_t i = 0; i < m; i++) {
        const uint8_t *a = A + i * lda;
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const int8_t *b0 = B + j * k, *b1 = b0 + k, *b2 = b1 + k, *b3 = b2 + k;
            int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            size_t p = 0;
            /* Blocks of a constant 16 so that compilers vectorise the reduction even under
             * -O2's cautious cost model; the remainder runs scalar. */
            for (; p + 16 <= k; p += 16)
                for (size_t t = 0; t < 16; t++) {
                    int32_t x = a[p + t];
                    s0 += x * b0[p + t];
                    s1 += x * b1[p + t];
                    s2 += x * b2[p + t];
                    s3 += x * b3[p + t];
                }
            for (; p < k; p++) {
                int32_t x = a[p];
                s0 += x * b0[p];
                s1 += x * b1[p];
                s2 += x * b2[p];
                s3 += x * b3[p];
            }
            C[i * ldc + j] = s0;
            C[i * ldc + j + 1] = s1;
            C[i * ldc + j + 2] = s2;
            C[i * ldc + j + 3] = s3;
        }
        for (; j < n; j++) {
            const int8_t *b = B + j * k;
            int32_t s = 0;
            for (size_t p = 0; p < k; p++) s += (int32_t)a[p] * b[p];
            C[i * ldc + j] = s;
        }
    }
}

/* --- SIMD helpers --------------------------------------------------------------------------- */
/* Stores the valid rows × cols of a 4 × 16 tile of accumulators. */
__attribute__((target("avx2"), always_inline))
static inline void store_tile(const __m256i acc[MR][2], int32_t *C, size_t ldc, size_t rows,
                              size_t cols)
{
#pragma GCC unroll 4
    for (size_t r = 0; r < rows; r++) {
        if (cols == NR) {
            _mm256_storeu_si256((__m256i *)(C + r * ldc), acc[r][0]);
            _mm256_storeu_si256((__m256i *)(C + r * ldc + 8), acc[r][1]);
        } else {
            int32_t tmp[NR];
            _mm256_storeu_si256((__m256i *)tmp, acc[r][0]);
            _mm256_storeu_si256((__m256i *)(tmp + 8), acc[r][1]);
            memcpy(C + r * ldc, tmp, cols * sizeof(int32_t));
        }
    }
}

/* --- AVX2: int16 widening + vpmaddwd -------------------------------------------------------- */
/* One R × 16 tile over the whole (padded) k; R is a constant after inlining, so the edge rows
 * (R < MR, e.g. a batch of one image) cost no padded work. */
__attribute__((target("avx2"), always_inline))
static inline void tile_avx2(const int16_t *a0, size_t kp, const int16_t *panel, int32_t *C,
                             size_t ldc, const int R, size_t cols)
{
    __m256i acc[MR][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (size_t p = 0; p < kp / 2; p++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(panel + p * 2 * NR));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(panel + p * 2 * NR + 16));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            int32_t pair;
            memcpy(&pair, a0 + r * kp + 2 * p, 4);
            __m256i a = _mm256_set1_epi32(pair);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(a, b0));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(a, b1));
        }
    }
    store_tile((const __m256i(*)[2])acc, C, ldc, (size_t)R, cols);
}

__attribute__((target("avx2")))
static void run_avx2(const pw_qgemm_b *pb, size_t m, const uint8_t *A, size_t lda, int32_t *C,
                     size_t ldc, void *work)
{
    const size_t kp = pb->kp, k = pb->k, mp = m;
    int16_t *a16 = (int16_t *)(((uintptr_t)work + 31) & ~(uintptr_t)31);
    /* Widen A (uint8 → int16, zero-extended) into mp × kp, zero padded. */
    for (size_t i = 0; i < mp; i++) {
        int16_t *dst = a16 + i * kp;
        if (i >= m) {
            memset(dst, 0, kp * sizeof(int16_t));
            continue;
        }
        const uint8_t *src = A + i * lda;
        size_t p = 0;
        for (; p + 16 <= k; p += 16)
            _mm256_storeu_si256((__m256i *)(dst + p),
                                _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(src + p))));
        for (; p < k; p++) dst[p] = src[p];
        for (; p < kp; p++) dst[p] = 0;
    }
    const int16_t *b16 = pb->data;
    for (size_t jb = 0; jb < pb->np; jb += NR) {
        const int16_t *panel = b16 + jb * kp;
        size_t cols = pb->n - jb < NR ? pb->n - jb : NR;
        for (size_t ib = 0; ib < m; ib += MR) {
            size_t rows = m - ib < MR ? m - ib : MR;
            const int16_t *a0 = a16 + ib * kp;
            int32_t *c = C + ib * ldc + jb;
            switch (rows) {
            case 4: tile_avx2(a0, kp, panel, c, ldc, 4, cols); break;
            case 3: tile_avx2(a0, kp, panel, c, ldc, 3, cols); break;
            case 2: tile_avx2(a0, kp, panel, c, ldc, 2, cols); break;
            default: tile_avx2(a0, kp, panel, c, ldc, 1, cols); break;
            }
        }
    }
}

/* --- AVX-VNNI: vpdpbusd --------------------------------------------------------------------- */
__attribute__((target("avx2,avxvnni"), always_inline))
static inline void tile_vnni(const uint8_t *a0, size_t kp, const int8_t *panel, int32_t *C,
                             size_t ldc, const int R, size_t cols)
{
    __m256i acc[MR][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (size_t q = 0; q < kp / 4; q++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(panel + q * 4 * NR));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(panel + q * 4 * NR + 32));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            int32_t quad;
            memcpy(&quad, a0 + r * kp + 4 * q, 4);
            __m256i a = _mm256_set1_epi32(quad);
            acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], a, b0);
            acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], a, b1);
        }
    }
    store_tile((const __m256i(*)[2])acc, C, ldc, (size_t)R, cols);
}

__attribute__((target("avx2,avxvnni")))
static void run_vnni(const pw_qgemm_b *pb, size_t m, const uint8_t *A, size_t lda, int32_t *C,
                     size_t ldc, void *work)
{
    const size_t kp = pb->kp, k = pb->k, mp = m;
    uint8_t *a8 = (uint8_t *)(((uintptr_t)work + 31) & ~(uintptr_t)31);
    for (size_t i = 0; i < mp; i++) {
        uint8_t *dst = a8 + i * kp;
        if (i < m) {
            memcpy(dst, A + i * lda, k);
            memset(dst + k, 0, kp - k);
        } else {
            memset(dst, 0, kp);
        }
    }
    const int8_t *b8 = pb->data;
    for (size_t jb = 0; jb < pb->np; jb += NR) {
        const int8_t *panel = b8 + jb * kp;
        size_t cols = pb->n - jb < NR ? pb->n - jb : NR;
        for (size_t ib = 0; ib < m; ib += MR) {
            size_t rows = m - ib < MR ? m - ib : MR;
            const uint8_t *a0 = a8 + ib * kp;
            int32_t *c = C + ib * ldc + jb;
            switch (rows) {
            case 4: tile_vnni(a0, kp, panel, c, ldc, 4, cols); break;
            case 3: tile_vnni(a0, kp, panel, c, ldc, 3, cols); break;
            case 2: tile_vnni(a0, kp, panel, c, ldc, 2, cols); break;
            default: tile_vnni(a0, kp, panel, c, ldc, 1, cols); break;
            }
        }
    }
}

void pw_qgemm_run(const pw_qgemm_b *pb, size_t m, const uint8_t *A, size_t lda, int32_t *C,
                  size_t ldc, void *work)
{
    if (m == 0 || pb->n == 0) return;
    if (pb->k == 0) {
        for (size_t i = 0; i < m; i++) memset(C + i * ldc, 0, pb->n * sizeof(int32_t));
        return;
    }
    switch (pb->kind) {
    case PW_QGEMM_AVX2: run_avx2(pb, m, A, lda, C, ldc, work); break;
    case PW_QGEMM_AVXVNNI: run_vnni(pb, m, A, lda, C, ldc, work); break;
    default: run_portable(pb, m, A, lda, C, ldc); break;
    }
}

/* --- checks --------------------------------------------------------------------------------- */
static uint64_t check_next(uint64_t *s)
{
    /* splitmix64: deterministic operands for a seed. */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int pw_qgemm_check_fn(pw_qgemm_fn fn, void *ctx, size_t m, size_t n, size_t k, uint64_t seed,
                      char *msg, size_t msglen)
{
    /* Padded strides, so that a kernel reading past a row's end or ignoring the stride shows. */
    size_t lda = k + 3, ldb = k + 5, ldc = n + 2;
    uint8_t *A = pw_xmalloc(m * lda + 1);
    int8_t *B = pw_xmalloc(n * ldb + 1);
    int32_t *C = pw_xmalloc((m * ldc + 1) * sizeof(int32_t));
    int32_t *R = pw_xmalloc((m * ldc + 1) * sizeof(int32_t));
    uint64_t s = seed;
    for (size_t i = 0; i < m * lda; i++) A[i] = (uint8_t)(check_next(&s) & 0xff);
    for (size_t i = 0; i < n * ldb; i++) B[i] = (int8_t)((int)(check_next(&s) % 255) - 127);
    for (size_t p = 0; p < k && m && n; p++) {
        A[p] = 255;
        B[p] = (int8_t)(p % 2 ? 127 : -127);
    }
    /* Sentinels in C's padding and the reference's, which must survive. */
    for (size_t i = 0; i < m * ldc + 1; i++) C[i] = R[i] = (int32_t)0x5a5a5a5a;
    pw_qgemm_ref(m, n, k, A, lda, B, ldb, R, ldc);
    fn(ctx, m, n, k, A, lda, B, ldb, C, ldc);
    int st = PW_OK;
    for (size_t i = 0; i < m && st == PW_OK; i++)
        for (size_t j = 0; j < ldc && st == PW_OK; j++)
            if (C[i * ldc + j] != R[i * ldc + j]) {
                if (msglen)
                    snprintf(msg, msglen, "%zu×%zu×%zu: C[%zu][%zu] = %ld, the reference gives "
                             "%ld%s", m, n, k, i, j, (long)C[i * ldc + j], (long)R[i * ldc + j],
                             j >= n ? " (a write past the row's end)" : "");
                st = PW_ERANGE;
            }
    free(A);
    free(B);
    free(C);
    free(R);
    return st;
}

/* pw_qgemm_fn of one kernel kind: packs B and runs it. */
static void check_kind_fn(void *ctx, size_t m, size_t n, size_t k, const uint8_t *A, size_t lda,
                          const int8_t *B, size_t ldb, int32_t *C, size_t ldc)
{
    pw_qgemm_kind kind = *(const pw_qgemm_kind *)ctx;
    pw_qgemm_b *pb = pw_qgemm_pack(kind, B, n, k, ldb);
    if (!pb) return;
    void *work = pw_xmalloc(pw_qgemm_work_bytes(pb, m));
    pw_qgemm_run(pb, m, A, lda, C, ldc, work);
    free(work);
    pw_qgemm_b_free(pb);
}

int pw_qgemm_gate(pw_qgemm_kind kind, const size_t (*shapes)[3], size_t nshapes, char *msg,
                  size_t msglen)
{
    /* m around the 4-row tile, n around the 16-column panel, k around the 2/4 groups. */
    static const size_t own[][3] = {{1, 1, 1},   {1, 10, 128}, {3, 5, 7},    {5, 17, 3},
                                    {4, 16, 4},  {7, 31, 33},  {9, 15, 65},  {13, 33, 130},
                                    {2, 3, 255}, {17, 47, 1},  {6, 18, 257}};
    if (!pw_qgemm_supported(kind)) {
        if (msglen) snprintf(msg, msglen, "the %s kernel is not supported here", pw_qgemm_name(kind));
        return PW_EINVAL;
    }
    size_t nown = sizeof own / sizeof own[0];
    for (size_t i = 0; i < nown + nshapes; i++) {
        const size_t *sh = i < nown ? own[i] : shapes[i - nown];
        int st = pw_qgemm_check_fn(check_kind_fn, &kind, sh[0], sh[1], sh[2], 1000 + i, msg, msglen);
        if (st != PW_OK) return st;
    }
    return PW_OK;
}
