/* peak.c — what the hardware can do at best, for the ceilings on the acceleration charts: an
 * FMA-throughput microbenchmark (independent chains, so latency never limits it) and the data
 * cache sizes of the machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PW_HAVE_X86 1
#endif

#include "perfweave/matmul.h"

/* Each chain computes x ← x·m + a, which converges to a/(1 − m) = 1 and never overflows or
 * goes subnormal.  PW_PEAK_CHAINS independent chains must cover FMA latency × issue width; on
 * this project's Zen machine 8 or 10 chains reached only half the rate that 12–14 reached, so
 * 14 it is (the most that fit in registers). */
#define PEAK_MUL 0.999999f
#define PEAK_ADD 0.000001f

#ifdef PW_HAVE_X86
/* PW_PEAK_CHAINS accumulators plus the two constants fill the 16 ymm registers exactly, so
 * nothing spills (checked in the disassembly). */
__attribute__((target("avx2,fma"))) static float peak_avx2(uint64_t iters)
{
    const __m256 m = _mm256_set1_ps(PEAK_MUL), a = _mm256_set1_ps(PEAK_ADD);
    __m256 x[PW_PEAK_CHAINS];
    for (int c = 0; c < PW_PEAK_CHAINS; c++) x[c] = _mm256_set1_ps(0.1f * (float)c);
    for (uint64_t i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int c = 0; c < PW_PEAK_CHAINS; c++) x[c] = _mm256_fmadd_ps(x[c], m, a);
    }
    __m256 s = x[0];
    for (int c = 1; c < PW_PEAK_CHAINS; c++) s = _mm256_add_ps(s, x[c]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}
#endif

static float peak_portable(uint64_t iters)
{
    float x[PW_PEAK_CHAINS][8];
    for (int c = 0; c < PW_PEAK_CHAINS; c++)
        for (int l = 0; l < 8; l++) x[c][l] = 0.1f * (float)c + 0.01f * (float)l;
    for (uint64_t i = 0; i < iters; i++)
        for (int c = 0; c < PW_PEAK_CHAINS; c++)
            for (int l = 0; l < 8; l++) x[c][l] = x[c][l] * PEAK_MUL + PEAK_ADD;
    float s = 0.0f;
    for (int c = 0; c < PW_PEAK_CHAINS; c++)
        for (int l = 0; l < 8; l++) s += x[c][l];
    return s;
}

float pw_peak_fma(uint64_t iters)
{
#ifdef PW_HAVE_X86
    if (pw_cpu_has_avx2_fma()) return peak_avx2(iters);
#endif
    return peak_portable(iters);
}

double pw_peak_flops_per_iter(void)
{
    return 2.0 * 8.0 * PW_PEAK_CHAINS;
}

/* Parses "48K", "1024K", "32M" as written in sysfs. */
static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s) return 0;
    if (*end == 'K' || *end == 'k') v <<= 10;
    else if (*end == 'M' || *end == 'm') v <<= 20;
    else if (*end == 'G' || *end == 'g') v <<= 30;
    return (size_t)v;
}

static void sysfs_caches(size_t sizes[3])
{
    for (int idx = 0; idx < 8; idx++) {
        char path[96], buf[64];
        int level = 0;
        char type[32] = "";
        FILE *f;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
        if (!(f = fopen(path, "r"))) break;
        if (fscanf(f, "%d", &level) != 1) level = 0;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", idx);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%31s", type) != 1) type[0] = '\0';
            fclose(f);
        }
        if (level < 1 || level > 3 || strcmp(type, "Instruction") == 0) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        if ((f = fopen(path, "r"))) {
            if (fgets(buf, sizeof buf, f) && sizes[level - 1] == 0)
                sizes[level - 1] = parse_size(buf);
            fclose(f);
        }
    }
}

int pw_cache_sizes(size_t sizes[3])
{
    sizes[0] = sizes[1] = sizes[2] = 0;
#ifdef _SC_LEVEL1_DCACHE_SIZE
    long v;
    if ((v = sysconf(_SC_LEVEL1_DCACHE_SIZE)) > 0) sizes[0] = (size_t)v;
    if ((v = sysconf(_SC_LEVEL2_CACHE_SIZE)) > 0) sizes[1] = (size_t)v;
    if ((v = sysconf(_SC_LEVEL3_CACHE_SIZE)) > 0) sizes[2] = (size_t)v;
#endif
    if (!sizes[0] || !sizes[1] || !sizes[2]) sysfs_caches(sizes);
    int known = 0;
    for (int i = 0; i < 3; i++) known += sizes[i] != 0;
    return known;
}
