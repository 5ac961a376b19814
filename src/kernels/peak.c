/* peak.c — what one core can do at best, for the ceilings of the charts and fraction_of_peak:
 * an arithmetic-throughput microbenchmark per vector width (fp32 FMA on 1, 8 and 16 lanes; the
 * int8 dot product vpdpbusd on ymm and zmm) and for the AMX matrix unit (tdpbusd on tiles),
 * independent chains so latency never limits it;
 * plus the machine facts around it (data-cache sizes, which CPUs are SMT siblings).
 *
 * Each kernel returns the sum of every lane of every chain after its rounds, so the work cannot
 * be optimized away and a test can check, exactly, how many operations a round performed
 * (docs/kernels.md, "Machine facts"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perfweave/common.h"
#include "perfweave/matmul.h"
#include "simd.h"

/* Chains per kind: enough independent accumulators to cover latency × issue ports on current
 * cores (FMA: 4 cycles × 2 ports = 8; vpdpbusd: 5 × 2), and few enough that every accumulator
 * and the constants stay in registers (16 ymm for VEX code, 32 zmm).  On the AMD EPYC
 * development VM 8 or 10 ymm chains reached half the rate of 12–14; on the Xeon (model 207) VM
 * 12–28 zmm chains all reached the same rate.  The compiled loops were checked for spills. */
static const struct {
    const char *metric, *isa;
    int chains, lanes; /* lanes: multiply-adds per chain per round (int8: 4 per 32-bit lane) */
    bool integer;
} kinds[PW_PEAK_KINDS] = {
    [PW_PEAK_SCALAR] = {"fma.scalar", "scalar", 14, 1, false},
    [PW_PEAK_AVX2] = {"fma.avx2", "avx2", 14, 8, false},
    [PW_PEAK_AVX512] = {"fma.avx512", "avx512", 24, 16, false},
    [PW_PEAK_VNNI256] = {"int8.vnni256", "avx_vnni", 12, 32, true},
    [PW_PEAK_VNNI512] = {"int8.vnni512", "avx512_vnni", 16, 64, true},
    [PW_PEAK_AMX] = {"int8.amx", "amx_int8", 6, 16 * 16 * 64, true},
};

const char *pw_peak_metric(pw_peak_kind kind)
{
    return (unsigned)kind < PW_PEAK_KINDS ? kinds[kind].metric : "unknown";
}

const char *pw_peak_isa(pw_peak_kind kind)
{
    return (unsigned)kind < PW_PEAK_KINDS ? kinds[kind].isa : "unknown";
}

bool pw_peak_is_int8(pw_peak_kind kind)
{
    return (unsigned)kind < PW_PEAK_KINDS && kinds[kind].integer;
}

int pw_peak_chains(pw_peak_kind kind)
{
    return (unsigned)kind < PW_PEAK_KINDS ? kinds[kind].chains : 0;
}

int pw_peak_lanes(pw_peak_kind kind)
{
    return (unsigned)kind < PW_PEAK_KINDS ? kinds[kind].lanes : 0;
}

double pw_peak_ops_per_iter(pw_peak_kind kind)
{
    return 2.0 * pw_peak_chains(kind) * pw_peak_lanes(kind);
}

bool pw_peak_usable(pw_peak_kind kind, const pw_cpu_info *cpu, char *why, size_t whysize)
{
    if (whysize) why[0] = '\0';
    switch (kind) {
    case PW_PEAK_SCALAR: return true;
    case PW_PEAK_AVX2: return pw_ukernel_usable(PW_UKERNEL_AVX2, cpu, why, whysize);
    case PW_PEAK_AVX512: return pw_ukernel_usable(PW_UKERNEL_AVX512, cpu, why, whysize);
    case PW_PEAK_VNNI256:
    case PW_PEAK_VNNI512: {
        bool wide = kind == PW_PEAK_VNNI512;
        if (!pw_ukernel_usable(wide ? PW_UKERNEL_AVX512 : PW_UKERNEL_AVX2, cpu, why, whysize))
            return false;
        if (wide ? pw_cpu_usable_avx512_vnni(cpu) : pw_cpu_usable_avx_vnni(cpu)) return true;
        if (whysize)
            snprintf(why, whysize, "the CPU does not report %s", wide ? "avx512_vnni" : "avx_vnni");
        return false;
    }
    case PW_PEAK_AMX:
#ifndef PW_X86_SIMD
        if (whysize) snprintf(why, whysize, "%s", PW_SIMD_ABSENT_WHY);
        return false;
#else
        if (!pw_cpu_usable_amx_int8(cpu)) {
            if (whysize)
                snprintf(why, whysize, cpu->amx_tile && cpu->amx_int8
                         ? "the CPU reports amx_tile and amx_int8 but the operating system has "
                           "not enabled the tile state (XCR0)"
                         : "the CPU does not report amx_tile and amx_int8");
            return false;
        }
        return pw_cpu_request_amx(why, whysize);
#endif
    default:
        if (whysize) snprintf(why, whysize, "unknown peak kind %d", (int)kind);
        return false;
    }
}

pw_peak_kind pw_peak_widest_fma(const pw_cpu_info *cpu)
{
    if (pw_peak_usable(PW_PEAK_AVX512, cpu, NULL, 0)) return PW_PEAK_AVX512;
    if (pw_peak_usable(PW_PEAK_AVX2, cpu, NULL, 0)) return PW_PEAK_AVX2;
    return PW_PEAK_SCALAR;
}

/* --- fp32 ----------------------------------------------------------------------------------- */
/* Each chain computes x ← x·mul + add; with the measurement's mul = 0.999999, add = 1e-6 it
 * converges to 1 and never overflows or goes subnormal. */

/* One lane, no vectors: the ceiling of the scalar loops, which the baseline build compiles to a
 * separate multiply and add.  The empty asm pins each chain to its own register, so the
 * compiler cannot pack the chains into a vector (GCC's SLP vectorizer would at -O2). */
#if defined(__x86_64__) || defined(__i386__)
#define KEEP_SCALAR(x) __asm__("" : "+x"(x))
#elif defined(__aarch64__)
#define KEEP_SCALAR(x) __asm__("" : "+w"(x))
#else
#define KEEP_SCALAR(x) ((void)0)
#endif

enum { SCALAR_CHAINS = 14 };
#define CHAINS14(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)

static float fma_scalar(uint64_t iters, float mul, float add)
{
#define INIT(c) float x##c = 0.0625f * (float)c;
#define STEP(c) x##c = x##c * mul + add; KEEP_SCALAR(x##c);
#define SUM(c) s += x##c;
    CHAINS14(INIT)
    for (uint64_t i = 0; i < iters; i++) {
        CHAINS14(STEP)
    }
    float s = 0.0f;
    CHAINS14(SUM)
#undef INIT
#undef STEP
#undef SUM
    return s;
}

#ifdef PW_X86_SIMD
enum { AVX2_CHAINS = 14, AVX512_CHAINS = 24, VNNI256_CHAINS = 12, VNNI512_CHAINS = 16 };

/* 14 accumulators plus the two constants fill the 16 ymm registers exactly. */
PW_TARGET_AVX2 static float fma_avx2(uint64_t iters, float mul, float add)
{
    const __m256 m = _mm256_set1_ps(mul), a = _mm256_set1_ps(add);
    __m256 x[AVX2_CHAINS];
#pragma GCC unroll 16
    for (int c = 0; c < AVX2_CHAINS; c++) x[c] = _mm256_set1_ps(0.0625f * (float)c);
    for (uint64_t i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int c = 0; c < AVX2_CHAINS; c++) x[c] = _mm256_fmadd_ps(x[c], m, a);
    }
    __m256 v = x[0];
#pragma GCC unroll 16
    for (int c = 1; c < AVX2_CHAINS; c++) v = _mm256_add_ps(v, x[c]);
    float out[8], s = 0.0f;
    _mm256_storeu_ps(out, v);
    for (int l = 0; l < 8; l++) s += out[l];
    return s;
}

PW_TARGET_AVX512 static float fma_avx512(uint64_t iters, float mul, float add)
{
    const __m512 m = _mm512_set1_ps(mul), a = _mm512_set1_ps(add);
    __m512 x[AVX512_CHAINS];
#pragma GCC unroll 24
    for (int c = 0; c < AVX512_CHAINS; c++) x[c] = _mm512_set1_ps(0.0625f * (float)c);
    for (uint64_t i = 0; i < iters; i++) {
#pragma GCC unroll 24
        for (int c = 0; c < AVX512_CHAINS; c++) x[c] = _mm512_fmadd_ps(x[c], m, a);
    }
    __m512 v = x[0];
#pragma GCC unroll 24
    for (int c = 1; c < AVX512_CHAINS; c++) v = _mm512_add_ps(v, x[c]);
    float out[16], s = 0.0f;
    _mm512_storeu_ps(out, v);
    for (int l = 0; l < 16; l++) s += out[l];
    return s;
}

/* --- int8: vpdpbusd ------------------------------------------------------------------------- */
/* Every 32-bit lane adds the four products of a's and b's bytes (u8 × s8) per instruction.  The
 * accumulators wrap after about 2^31 / (4·|a·b|) rounds; that changes the checksum, never the
 * work.  The chains are summed as vectors (wrapping int32) before their lanes are added. */
/* The chains are named variables and the instruction is written out: with the intrinsic, GCC 12
 * stores every accumulator to the stack on each round (the intrinsic's casts defeat its
 * register allocation), which adds a store per dot product to what is measured. */
#define CHAINS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define CHAINS16(X) CHAINS12(X) X(12) X(13) X(14) X(15)

PW_TARGET_AVXVNNI static int64_t int8_vnni256(uint64_t iters, uint8_t ua, int8_t sb)
{
    const __m256i a = _mm256_set1_epi8((char)ua), b = _mm256_set1_epi8(sb);
#define INIT(c) __m256i x##c = _mm256_set1_epi32(c);
#define STEP(c) __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(x##c) : "x"(a), "x"(b));
#define SUM(c) v = _mm256_add_epi32(v, x##c);
    CHAINS12(INIT)
    for (uint64_t i = 0; i < iters; i++) {
        CHAINS12(STEP)
    }
    __m256i v = _mm256_setzero_si256();
    CHAINS12(SUM)
#undef INIT
#undef STEP
#undef SUM
    int32_t out[8];
    int64_t s = 0;
    _mm256_storeu_si256((__m256i *)out, v);
    for (int l = 0; l < 8; l++) s += out[l];
    return s;
}

PW_TARGET_AVX512VNNI static int64_t int8_vnni512(uint64_t iters, uint8_t ua, int8_t sb)
{
    const __m512i a = _mm512_set1_epi8((char)ua), b = _mm512_set1_epi8(sb);
#define INIT(c) __m512i x##c = _mm512_set1_epi32(c);
#define STEP(c) __asm__("vpdpbusd %2, %1, %0" : "+v"(x##c) : "v"(a), "v"(b));
#define SUM(c) v = _mm512_add_epi32(v, x##c);
    CHAINS16(INIT)
    for (uint64_t i = 0; i < iters; i++) {
        CHAINS16(STEP)
    }
    __m512i v = _mm512_setzero_si512();
    CHAINS16(SUM)
#undef INIT
#undef STEP
#undef SUM
    int32_t out[16];
    int64_t s = 0;
    _mm512_storeu_si512(out, v);
    for (int l = 0; l < 16; l++) s += out[l];
    return s;
}

/* AMX: six C tiles (0–5) accumulate the product of the same A (tile 6, every byte a) and B
 * (tile 7, every byte b) tiles, independent chains that cover tdpbusd's latency; every int32 of
 * C grows by 64·a·b per instruction (wrapping, as above).  The sum is of every element of the
 * six tiles. */
enum { AMX_CHAINS = 6 };
PW_TARGET_AMX static int64_t int8_amx(uint64_t iters, uint8_t ua, int8_t sb)
{
    pw_amx_tilecfg cfg;
    pw_amx_tilecfg_full(&cfg);
    static _Thread_local uint8_t a[16 * 64] __attribute__((aligned(64)));
    static _Thread_local int8_t b[16 * 64] __attribute__((aligned(64)));
    static _Thread_local int32_t c[16 * 16] __attribute__((aligned(64)));
    memset(a, ua, sizeof a);
    memset(b, sb, sizeof b);
    _tile_loadconfig(&cfg);
    _tile_loadd(6, a, 64);
    _tile_loadd(7, b, 64);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_zero(4);
    _tile_zero(5);
    for (uint64_t i = 0; i < iters; i++) {
        _tile_dpbusd(0, 6, 7);
        _tile_dpbusd(1, 6, 7);
        _tile_dpbusd(2, 6, 7);
        _tile_dpbusd(3, 6, 7);
        _tile_dpbusd(4, 6, 7);
        _tile_dpbusd(5, 6, 7);
    }
    int64_t s = 0;
#define SUM_TILE(t)                                                                             \
    _tile_stored(t, c, 64);                                                                     \
    for (int e = 0; e < 16 * 16; e++) s += c[e];
    SUM_TILE(0) SUM_TILE(1) SUM_TILE(2) SUM_TILE(3) SUM_TILE(4) SUM_TILE(5)
#undef SUM_TILE
    _tile_release();
    return s;
}

_Static_assert(AVX2_CHAINS == 14 && AVX512_CHAINS == 24 && VNNI256_CHAINS == 12 &&
                   VNNI512_CHAINS == 16 && SCALAR_CHAINS == 14 && AMX_CHAINS == 6,
               "the kinds table states the chain counts");
#endif /* PW_X86_SIMD */

float pw_peak_fma_run(pw_peak_kind kind, uint64_t iters, float mul, float add)
{
    switch (kind) {
#ifdef PW_X86_SIMD
    case PW_PEAK_AVX2: return fma_avx2(iters, mul, add);
    case PW_PEAK_AVX512: return fma_avx512(iters, mul, add);
#endif
    case PW_PEAK_SCALAR: return fma_scalar(iters, mul, add);
    default: return 0.0f;
    }
}

int64_t pw_peak_int8_run(pw_peak_kind kind, uint64_t iters, uint8_t a, int8_t b)
{
    switch (kind) {
#ifdef PW_X86_SIMD
    case PW_PEAK_VNNI256: return int8_vnni256(iters, a, b);
    case PW_PEAK_VNNI512: return int8_vnni512(iters, a, b);
    case PW_PEAK_AMX: return int8_amx(iters, a, b);
#endif
    default: (void)iters, (void)a, (void)b; return 0;
    }
}

float pw_peak_fma(uint64_t iters)
{
    return pw_peak_fma_run(pw_peak_widest_fma(pw_cpu_host()), iters, PW_PEAK_MUL, PW_PEAK_ADD);
}

double pw_peak_flops_per_iter(void)
{
    return pw_peak_ops_per_iter(pw_peak_widest_fma(pw_cpu_host()));
}

/* --- caches --------------------------------------------------------------------------------- */
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

/* --- topology ------------------------------------------------------------------------------- */
/* Reads a one-line sysfs file into buf (newline stripped); false when unreadable. */
static bool read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (ok) buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

int pw_cpu_list_parse(const char *list, int *cpus, int max)
{
    int n = 0;
    const char *p = list;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10);
        if (end == p || a < 0) return -1;
        long b = a;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a) return -1;
            p = end;
        }
        for (long c = a; c <= b; c++) {
            if (n < max) cpus[n] = (int)c;
            n++;
        }
        if (*p == ',') p++;
        else if (*p && *p != '\n' && *p != ' ') return -1;
        else break;
    }
    return n;
}

int pw_cpu_topology(pw_topology *out)
{
    memset(out, 0, sizeof *out);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    out->cpus = online > 0 ? (int)online : 1;
    out->cores = out->cpus;
    char buf[512];
    int cpus[PW_TOPOLOGY_MAX];
    if (!read_line("/sys/devices/system/cpu/online", buf, sizeof buf)) return PW_EIO;
    int n = pw_cpu_list_parse(buf, cpus, PW_TOPOLOGY_MAX);
    if (n <= 0 || n > PW_TOPOLOGY_MAX) return PW_EIO;
    /* A core is one distinct sibling list; a CPU is "SMT" when its list names more than itself. */
    char (*seen)[64] = pw_xcalloc((size_t)n, sizeof *seen);
    int cores = 0, status = PW_OK;
    for (int i = 0; i < n && status == PW_OK; i++) {
        char path[96], sib[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list",
                 cpus[i]);
        if (!read_line(path, sib, sizeof sib)) {
            status = PW_EIO;
            break;
        }
        int members[PW_TOPOLOGY_MAX];
        int m = pw_cpu_list_parse(sib, members, PW_TOPOLOGY_MAX);
        if (m > 1) out->smt = true;
        bool dup = false;
        for (int j = 0; j < cores && !dup; j++) dup = strcmp(seen[j], sib) == 0;
        if (!dup) snprintf(seen[cores++], sizeof seen[0], "%s", sib);
        if (m > 1 && out->siblings[0] == '\0') snprintf(out->siblings, sizeof out->siblings, "%s", sib);
    }
    free(seen);
    if (status != PW_OK) return status;
    out->cpus = n;
    out->cores = cores;
    out->known = true;
    return PW_OK;
}
