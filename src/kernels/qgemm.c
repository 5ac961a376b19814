/* qgemm.c — the integer GEMM C = A · Bᵀ (uint8 activations × int8 weights → int32): a reference
 * triple loop, a portable kernel, AVX2, AVX-VNNI and AVX512-VNNI kernels and an AMX kernel,
 * chosen at run time.
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
 * Where the CPU has AVX512-VNNI, the same instruction on zmm registers does 64 products per
 * instruction.  Where it has AMX (Intel's matrix unit: eight tile registers of 16 rows × 64
 * bytes and a multiply-accumulate on whole tiles), tdpbusd does a 16 × 16 × 64 u8 × s8 product
 * into a 16 × 16 int32 tile: 16384 products per instruction.  The AMX kernel holds a 32 × 32 block
 * of C in four tiles, loads two tiles of A (32 rows × 64 k) and two of B (64 k × 32 channels) per
 * step and issues four tdpbusd; B's packed layout is the VNNI-512 one (a tile of B is 16 quads of
 * one half of a 32-channel panel, read with a 128-byte row stride), so the rows past the last
 * multiple of 16 run the VNNI-512 microkernel on the same packed B.
 *
 * The SIMD kernels follow BLIS: B packed in panels of NR output channels with the k dimension
 * interleaved (2 int16 or 4 int8 per 32-bit lane), A copied into a buffer zero-padded in k (the
 * VNNI-512 kernel reads A in place when k is a multiple of 4), and an MR × NR microkernel
 * holding its accumulators in registers: 4 × 16 in 8 ymm (AVX2, AVX-VNNI), 8 × 32 in 16 zmm
 * (AVX512-VNNI).  Edges are handled by padding (zeros add nothing) and by storing only the
 * valid part of the last tiles.  Which kernels may run is decided from cpu.h (CPU flags and the
 * OS-enabled register state); without x86 SIMD in the build (PW_NO_SIMD, or not x86) only the
 * portable kernel exists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/cpu.h"
#include "perfweave/quant.h"
#include "simd.h"

/* The 256-bit kernels' tile; the 512-bit kernel's is V5_MR × V5_NR. */
#define MR 4
#define NR 16
#define V5_MR 8
#define V5_NR 32
/* An AMX tile: 16 rows of 64 bytes (64 k of A; 16 quads of B); C tiles are 16 × 16 int32. */
#define AMX_TM 16
#define AMX_TK 64

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
    case PW_QGEMM_AVX512VNNI: return "avx512vnni";
    case PW_QGEMM_AMX: return "amx";
    default: return "unknown";
    }
}

const char *pw_qgemm_isa(pw_qgemm_kind kind)
{
    switch (kind) {
    case PW_QGEMM_PORTABLE: return "portable C";
    case PW_QGEMM_AVX2: return "AVX2 (vpmaddwd, 256-bit)";
    case PW_QGEMM_AVXVNNI: return "AVX-VNNI (vpdpbusd, 256-bit)";
    case PW_QGEMM_AVX512VNNI: return "AVX512-VNNI (vpdpbusd, 512-bit)";
    case PW_QGEMM_AMX: return "AMX-INT8 (tdpbusd on 16 × 64-byte tiles)";
    default: return "unknown";
    }
}

int pw_qgemm_from_name(const char *s, pw_qgemm_kind *out)
{
    for (int k = 0; k < PW_QGEMM_KINDS; k++)
        if (strcmp(s, pw_qgemm_name((pw_qgemm_kind)k)) == 0) {
            *out = (pw_qgemm_kind)k;
            return PW_OK;
        }
    return PW_ENOTFOUND;
}

bool pw_qgemm_usable(pw_qgemm_kind kind, const pw_cpu_info *cpu, char *why, size_t whysize)
{
    if (whysize) why[0] = '\0';
    if (kind == PW_QGEMM_PORTABLE) return true;
    if ((unsigned)kind >= PW_QGEMM_KINDS) {
        if (whysize) snprintf(why, whysize, "unknown integer kernel %d", (int)kind);
        return false;
    }
#ifndef PW_X86_SIMD
    (void)cpu;
    if (whysize) snprintf(why, whysize, "%s", PW_SIMD_ABSENT_WHY);
    return false;
#else
    const char *need = NULL;
    bool ok = false, state = false;
    switch (kind) {
    case PW_QGEMM_AVX2:
        ok = pw_cpu_usable_avx2_fma(cpu), state = cpu->avx2, need = "avx2";
        break;
    case PW_QGEMM_AVXVNNI:
        ok = pw_cpu_usable_avx_vnni(cpu), state = cpu->avx2 && cpu->avx_vnni, need = "avx2 and avx_vnni";
        break;
    case PW_QGEMM_AMX:
        ok = pw_cpu_usable_amx_int8(cpu) && pw_cpu_usable_avx512_vnni(cpu);
        state = cpu->amx_tile && cpu->amx_int8 && cpu->avx512f && cpu->avx512bw &&
                cpu->avx512vl && cpu->avx512dq && cpu->avx512_vnni;
        need = "amx_tile, amx_int8 and avx512_vnni (for the rows past the last full tile)";
        if (ok) return pw_cpu_request_amx(why, whysize);
        break;
    default:
        ok = pw_cpu_usable_avx512_vnni(cpu);
        state = cpu->avx512f && cpu->avx512bw && cpu->avx512vl && cpu->avx512dq && cpu->avx512_vnni;
        need = "avx512f, avx512bw, avx512dq, avx512vl and avx512_vnni";
        break;
    }
    if (ok) return true;
    if (whysize) {
        if (!state) snprintf(why, whysize, "the CPU does not report %s", need);
        else snprintf(why, whysize, "the CPU reports %s but the operating system has not enabled "
                      "the register state (XCR0)", need);
    }
    return false;
#endif
}

bool pw_qgemm_supported(pw_qgemm_kind kind)
{
    return pw_qgemm_usable(kind, pw_cpu_host(), NULL, 0);
}

pw_qgemm_kind pw_qgemm_best_on(const pw_cpu_info *cpu)
{
    static const pw_qgemm_kind order[] = {PW_QGEMM_AMX, PW_QGEMM_AVX512VNNI, PW_QGEMM_AVXVNNI,
                                          PW_QGEMM_AVX2};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (pw_qgemm_usable(order[i], cpu, NULL, 0)) return order[i];
    return PW_QGEMM_PORTABLE;
}

pw_qgemm_kind pw_qgemm_best(void)
{
    return pw_qgemm_best_on(pw_cpu_host());
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
/* Zeroed, 64-byte aligned (the 512-bit kernel loads whole cache lines of a panel); freed with
 * free().  Out of memory aborts, as pw_xmalloc does. */
static void *zalloc64(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0 || !p) {
        fprintf(stderr, "perfweave: out of memory (%zu bytes)\n", bytes);
        abort();
    }
    memset(p, 0, bytes ? bytes : 64);
    return p;
}

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
        int16_t *d = zalloc64(pb->np * pb->kp * sizeof(int16_t));
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
        /* Panel jb, quad q: nr lanes of B[jb+l][4q .. 4q+3] as int8 (nr = 16, or 32 for the
         * 512-bit and AMX kernels; k padded to whole tiles, 64, for AMX). */
        const bool wide = kind == PW_QGEMM_AVX512VNNI || kind == PW_QGEMM_AMX;
        const size_t nr = wide ? V5_NR : NR;
        pb->np = round_up(n, nr);
        pb->kp = round_up(k, kind == PW_QGEMM_AMX ? AMX_TK : 4);
        pb->bytes = pb->np * pb->kp;
        int8_t *d = zalloc64(pb->np * pb->kp);
        for (size_t jb = 0; jb < pb->np; jb += nr)
            for (size_t q = 0; q < pb->kp / 4; q++)
                for (size_t l = 0; l < nr; l++)
                    for (size_t t = 0; t < 4; t++) {
                        size_t j = jb + l, kk = 4 * q + t;
                        d[jb * pb->kp + q * 4 * nr + 4 * l + t] =
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
    case PW_QGEMM_AVX512VNNI: return pb->k % 4 ? m * pb->kp + 64 : 1;
    case PW_QGEMM_AMX: return pb->k % AMX_TK ? m * pb->kp + 64 : 1;
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

#ifdef PW_X86_SIMD
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

/* --- AVX512-VNNI: vpdpbusd on zmm ---------------------------------------------------------- */
/* acc += the four u8 (a) × s8 (b) products of each 32-bit lane.  Written out: with the
 * intrinsic, GCC 12 copies every accumulator to a scratch register (and some to the stack)
 * around each vpdpbusd, doubling the instructions of the loop (seen in the disassembly). */
#define DPBUSD512(acc, a, b) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b))

/* One R × 32 tile: two zmm of B (32 channels × one quad of k) per step, R broadcasts of four A
 * bytes, 2R vpdpbusd into 2R accumulators (16 at R = 8, of 32 registers).  R is a constant
 * after inlining; the last panel's columns are stored through an opmask. */
PW_TARGET_AVX512VNNI static inline __attribute__((always_inline)) void
tile_vnni512(const uint8_t *a0, size_t lda, size_t kq, const int8_t *panel, int32_t *C,
             size_t ldc, size_t cols, const int R)
{
    __m512i acc[V5_MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (size_t q = 0; q < kq; q++) {
        __m512i b0 = _mm512_load_si512((const void *)(panel + q * 4 * V5_NR));
        __m512i b1 = _mm512_load_si512((const void *)(panel + q * 4 * V5_NR + 64));
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            int32_t quad;
            memcpy(&quad, a0 + (size_t)r * lda + 4 * q, 4);
            __m512i a = _mm512_set1_epi32(quad);
            DPBUSD512(acc[r][0], a, b0);
            DPBUSD512(acc[r][1], a, b1);
        }
    }
    const __mmask16 m0 = cols >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cols) - 1u);
    const __mmask16 m1 = cols >= 32   ? (__mmask16)0xffff
                         : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1u)
                                     : (__mmask16)0;
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        _mm512_mask_storeu_epi32(C + (size_t)r * ldc, m0, acc[r][0]);
        _mm512_mask_storeu_epi32(C + (size_t)r * ldc + 16, m1, acc[r][1]);
    }
}

/* A as the 512-bit and AMX kernels read it, whole groups of `group` bytes of k per step: A
 * itself (stride lda) when k is a multiple of group, else a copy in work (64-byte aligned,
 * stride kp, zero-padded from k to kp).  The stride read goes to *la. */
static const uint8_t *a_readable(const uint8_t *A, size_t lda, size_t m, size_t k, size_t kp,
                                 size_t group, void *work, size_t *la)
{
    *la = lda;
    if (k % group == 0) return A;
    uint8_t *copy = (uint8_t *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    for (size_t i = 0; i < m; i++) {
        memcpy(copy + i * kp, A + i * lda, k);
        memset(copy + i * kp + k, 0, kp - k);
    }
    *la = kp;
    return copy;
}

/* Rows [i0, m) of one 32-channel panel (C's columns from c), in tiles of up to 8 rows, each row
 * count its own instantiation. */
PW_TARGET_AVX512VNNI static void panel_vnni512(const uint8_t *a8, size_t la, size_t kq,
                                               const int8_t *panel, int32_t *c, size_t ldc,
                                               size_t cols, size_t i0, size_t m)
{
    for (size_t ib = i0; ib < m; ib += V5_MR) {
        const uint8_t *a0 = a8 + ib * la;
        int32_t *ct = c + ib * ldc;
        switch (m - ib < V5_MR ? m - ib : V5_MR) {
        case 8: tile_vnni512(a0, la, kq, panel, ct, ldc, cols, 8); break;
        case 7: tile_vnni512(a0, la, kq, panel, ct, ldc, cols, 7); break;
        case 6: tile_vnni512(a0, la, kq, panel, ct, ldc, cols, 6); break;
        case 5: tile_vnni512(a0, la, kq, panel, ct, ldc, cols, 5); break;
        case 4: tile_vnni512(a0, la, kq, panel, ct, ldc, cols, 4); break;
        case 3: tile_vnni512(a0, la, kq, panel, ct, ldc, cols, 3); break;
        case 2: tile_vnni512(a0, la, kq, panel, ct, ldc, cols, 2); break;
        default: tile_vnni512(a0, la, kq, panel, ct, ldc, cols, 1); break;
        }
    }
}

PW_TARGET_AVX512VNNI
static void run_vnni512(const pw_qgemm_b *pb, size_t m, const uint8_t *A, size_t lda, int32_t *C,
                        size_t ldc, void *work)
{
    const size_t kp = pb->kp, k = pb->k;
    size_t la;
    /* The last quad of a row would read past it unless k is a multiple of 4. */
    const uint8_t *a8 = a_readable(A, lda, m, k, kp, 4, work, &la);
    const int8_t *b8 = pb->data;
    for (size_t jb = 0; jb < pb->np; jb += V5_NR) {
        const int8_t *panel = b8 + jb * kp;
        size_t cols = pb->n - jb < V5_NR ? pb->n - jb : V5_NR;
        panel_vnni512(a8, la, kp / 4, panel, C + jb, ldc, cols, 0, m);
    }
}

/* --- AMX: tdpbusd on tiles ------------------------------------------------------------------ */
/* The tiles (pw_amx_tilecfg_full, all 16 rows × 64 bytes): 0–3 hold C (16 × 16 int32), 4–5 A
 * (16 rows × 64 k), 6–7 B (16 quads × 64 bytes). */
/* Stores C tile t (a constant) of a block at c: straight into C when all 16 columns are valid,
 * else through a scratch tile of which only cols columns are copied. */
#define AMX_STORE(t, c, ldc, cols)                                                              \
    do {                                                                                        \
        if ((cols) >= 16) {                                                                     \
            _tile_stored(t, (c), (ldc) * sizeof(int32_t));                                      \
        } else {                                                                                \
            int32_t tmp_[AMX_TM * 16];                                                          \
            _tile_stored(t, tmp_, 16 * sizeof(int32_t));                                        \
            for (int r_ = 0; r_ < AMX_TM; r_++)                                                 \
                memcpy((c) + (size_t)r_ * (ldc), tmp_ + 16 * r_, (cols) * sizeof(int32_t));     \
        }                                                                                       \
    } while (0)

/* One block of RT × 16 rows and CT × 16 channels of C (RT, CT in {1, 2}, constants after
 * inlining) over the whole padded k: per 64 k, RT tiles of A and CT of B are loaded and RT · CT
 * tdpbusd issued.  a is the block's first row (stride la, at least kp bytes readable per row);
 * panel the 32-channel packed panel; cols the valid channels of the block (1 .. 32). */
PW_TARGET_AMX static inline __attribute__((always_inline)) void
amx_block(const uint8_t *a, size_t la, const int8_t *panel, size_t kp, int32_t *c, size_t ldc,
          size_t cols, const int RT, const int CT)
{
    const size_t bstride = 4 * V5_NR; /* bytes per quad of a packed panel */
    _tile_zero(0);
    if (CT == 2) _tile_zero(1);
    if (RT == 2) _tile_zero(2);
    if (RT == 2 && CT == 2) _tile_zero(3);
    for (size_t kk = 0; kk < kp; kk += AMX_TK) {
        const int8_t *b = panel + kk / 4 * bstride;
        _tile_loadd(6, b, bstride);
        if (CT == 2) _tile_loadd(7, b + 64, bstride);
        _tile_loadd(4, a + kk, la);
        _tile_dpbusd(0, 4, 6);
        if (CT == 2) _tile_dpbusd(1, 4, 7);
        if (RT == 2) {
            _tile_loadd(5, a + AMX_TM * la + kk, la);
            _tile_dpbusd(2, 5, 6);
            if (CT == 2) _tile_dpbusd(3, 5, 7);
        }
    }
    size_t c1 = cols > 16 ? cols - 16 : 0;
    AMX_STORE(0, c, ldc, cols);
    if (CT == 2) AMX_STORE(1, c + 16, ldc, c1);
    if (RT == 2) {
        int32_t *c2 = c + AMX_TM * ldc;
        AMX_STORE(2, c2, ldc, cols);
        if (CT == 2) AMX_STORE(3, c2 + 16, ldc, c1);
    }
}

PW_TARGET_AMX
static void run_amx(const pw_qgemm_b *pb, size_t m, const uint8_t *A, size_t lda, int32_t *C,
                    size_t ldc, void *work)
{
    const size_t kp = pb->kp, k = pb->k, n = pb->n;
    size_t la;
    /* A tile row reads 64 bytes of k; with fewer than 16 rows no tile is loaded, and the
     * VNNI-512 rows read whole quads only. */
    const uint8_t *a8 = a_readable(A, lda, m, k, kp, m >= AMX_TM ? AMX_TK : 4, work, &la);
    pw_amx_tilecfg cfg;
    pw_amx_tilecfg_full(&cfg);
    const size_t mt = m / AMX_TM * AMX_TM; /* rows in whole tiles; the rest on VNNI-512 */
    const int8_t *b8 = pb->data;
    if (mt) _tile_loadconfig(&cfg);
    for (size_t jb = 0; jb < pb->np; jb += V5_NR) {
        const int8_t *panel = b8 + jb * kp;
        size_t cols = n - jb < V5_NR ? n - jb : V5_NR;
        bool two = cols > 16;
        size_t ib = 0;
        for (; ib + 2 * AMX_TM <= mt; ib += 2 * AMX_TM) {
            if (two) amx_block(a8 + ib * la, la, panel, kp, C + ib * ldc + jb, ldc, cols, 2, 2);
            else amx_block(a8 + ib * la, la, panel, kp, C + ib * ldc + jb, ldc, cols, 2, 1);
        }
        if (ib < mt) {
            if (two) amx_block(a8 + ib * la, la, panel, kp, C + ib * ldc + jb, ldc, cols, 1, 2);
            else amx_block(a8 + ib * la, la, panel, kp, C + ib * ldc + jb, ldc, cols, 1, 1);
        }
        /* The last m % 16 rows: the VNNI-512 microkernel on the same panel, over the quads
         * that hold k (those past it, padding to 64, are zero in B and skipped). */
        if (mt < m) panel_vnni512(a8, la, (k + 3) / 4, panel, C + jb, ldc, cols, mt, m);
    }
    if (mt) _tile_release();
}
#endif /* PW_X86_SIMD */

void pw_qgemm_run(const pw_qgemm_b *pb, size_t m, const uint8_t *A, size_t lda, int32_t *C,
                  size_t ldc, void *work)
{
    if (m == 0 || pb->n == 0) return;
    if (pb->k == 0) {
        for (size_t i = 0; i < m; i++) memset(C + i * ldc, 0, pb->n * sizeof(int32_t));
        return;
    }
    switch (pb->kind) {
#ifdef PW_X86_SIMD
    case PW_QGEMM_AVX2: run_avx2(pb, m, A, lda, C, ldc, work); break;
    case PW_QGEMM_AVXVNNI: run_vnni(pb, m, A, lda, C, ldc, work); break;
    case PW_QGEMM_AVX512VNNI: run_vnni512(pb, m, A, lda, C, ldc, work); break;
    case PW_QGEMM_AMX: run_amx(pb, m, A, lda, C, ldc, work); break;
#endif
    default: (void)work; run_portable(pb, m, A, lda, C, ldc); break;
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
    /* m around the 4- and 8-row tiles and the 16- and 32-row AMX blocks, n around the 16- and
     * 32-column panels, k around the 2/4 groups and the 64-byte AMX tile rows (k a multiple of
     * 4 or of 64 too: the 512-bit and AMX kernels then read A in place). */
    static const size_t own[][3] = {{1, 1, 1},   {1, 10, 128}, {3, 5, 7},    {5, 17, 3},
                                    {4, 16, 4},  {7, 31, 33},  {9, 15, 65},  {13, 33, 130},
                                    {2, 3, 255}, {17, 47, 1},  {6, 18, 257}, {8, 32, 64},
                                    {9, 33, 16}, {15, 63, 12}, {16, 65, 260}, {16, 16, 64},
                                    {31, 17, 63}, {32, 32, 128}, {33, 10, 65}, {47, 48, 192},
                                    {64, 31, 784}};
    char why[192];
    if (!pw_qgemm_usable(kind, pw_cpu_host(), why, sizeof why)) {
        if (msglen)
            snprintf(msg, msglen, "the %s kernel cannot run here: %s", pw_qgemm_name(kind), why);
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
