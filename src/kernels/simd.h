/* simd.h — private to src/kernels: whether this build carries the x86 SIMD kernels at all.
 *
 * The intrinsics paths are compiled only for x86 targets, and not even there when the build
 * defines PW_NO_SIMD (`make check-nosimd`), which stands in for a CPU without these ISAs (arm64,
 * older x86): every kernel family must then still build and run on its portable member alone,
 * and say so.  Each SIMD function carries its own target attribute, so the rest of the project
 * stays baseline x86-64; whether the running CPU may execute it is decided at run time from
 * cpu.h, never from compile-time macros. */
#ifndef PERFWEAVE_KERNELS_SIMD_H
#define PERFWEAVE_KERNELS_SIMD_H

#if (defined(__x86_64__) || defined(__i386__)) && !defined(PW_NO_SIMD)
#include <immintrin.h>
#define PW_X86_SIMD 1
#endif

/* Why a SIMD path is absent from this build, for error messages; static storage. */
#ifdef PW_NO_SIMD
#define PW_SIMD_ABSENT_WHY "this build has no SIMD kernels (compiled with PW_NO_SIMD)"
#else
#define PW_SIMD_ABSENT_WHY "this build has no x86 SIMD kernels (not an x86 target)"
#endif

/* Target attributes of the x86 vector levels the kernels use, and of the AMX matrix unit (its
 * kernel finishes the rows past the last full tile with AVX512-VNNI code). */
#define PW_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define PW_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#define PW_TARGET_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#define PW_TARGET_AVX512VNNI \
    __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#define PW_TARGET_AMX                                                                            \
    __attribute__((target("amx-tile,amx-int8,avx512f,avx512dq,avx512bw,avx512vl,avx512vnni,"   \
                          "avx2,fma")))

#ifdef PW_X86_SIMD
#include <stdint.h>
#include <string.h>
/* An AMX tile configuration (ldtilecfg's 64-byte operand, palette 1; Intel SDM vol. 1, "Intel
 * AMX"): palette, start row, 14 reserved bytes, the width in bytes of each of 16 tiles, then
 * their row counts (only tiles 0–7 exist in palette 1). */
typedef struct {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} pw_amx_tilecfg;
_Static_assert(sizeof(pw_amx_tilecfg) == 64, "the tile configuration is 64 bytes");

/* Palette 1 with all eight tiles at their largest, 16 rows × 64 bytes: what the qgemm kernel
 * and the AMX peak both use. */
static inline void pw_amx_tilecfg_full(pw_amx_tilecfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg->rows[t] = 16;
        cfg->colsb[t] = 64;
    }
}
#endif

#endif
