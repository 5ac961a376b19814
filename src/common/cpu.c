/* cpu.c — CPUID identity and feature bits, and the OS-enabled register state from XGETBV (see
 * cpu.h).  Bit positions are from the Intel SDM, vol. 2A, CPUID; AMD uses the same ones. */
#include "perfweave/cpu.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && (defined(__x86_64__) || defined(__i386__))
#include <sys/syscall.h>
#include <unistd.h>
#define PW_CPU_LINUX_X86 1
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define PW_CPU_X86 1
#endif

#ifdef PW_CPU_X86
/* XCR0 through the xgetbv instruction (encoded by hand: no -mxsave needed); only valid when
 * CPUID reports OSXSAVE. */
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static bool bit(unsigned reg, int n)
{
    return (reg >> n) & 1u;
}
#endif

void pw_cpu_detect(pw_cpu_info *out)
{
    memset(out, 0, sizeof *out);
#ifdef PW_CPU_X86
    unsigned a, b, c, d, max_leaf;
    if (!__get_cpuid(0, &max_leaf, &b, &c, &d)) return;
    memcpy(out->vendor, &b, 4);
    memcpy(out->vendor + 4, &d, 4);
    memcpy(out->vendor + 8, &c, 4);
    out->vendor[12] = '\0';
    if (max_leaf >= 1 && __get_cpuid(1, &a, &b, &c, &d)) {
        unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
        out->stepping = a & 0xf;
        out->family = base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family;
        out->model = (base_family == 6 || base_family == 0xf) ? base_model + (((a >> 16) & 0xf) << 4)
                                                              : base_model;
        out->sse2 = bit(d, 26);
        out->sse3 = bit(c, 0);
        out->ssse3 = bit(c, 9);
        out->fma = bit(c, 12);
        out->sse41 = bit(c, 19);
        out->sse42 = bit(c, 20);
        out->popcnt = bit(c, 23);
        out->osxsave = bit(c, 27);
        out->avx = bit(c, 28);
        out->f16c = bit(c, 29);
        out->hypervisor = bit(c, 31);
    }
    if (max_leaf >= 7 && __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        unsigned subleaves = a;
        out->avx2 = bit(b, 5);
        out->avx512f = bit(b, 16);
        out->avx512dq = bit(b, 17);
        out->avx512cd = bit(b, 28);
        out->avx512bw = bit(b, 30);
        out->avx512vl = bit(b, 31);
        out->avx512_vnni = bit(c, 11);
        out->avx512_fp16 = bit(d, 23);
        out->amx_bf16 = bit(d, 22);
        out->amx_tile = bit(d, 24);
        out->amx_int8 = bit(d, 25);
        if (subleaves >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) {
            out->avx_vnni = bit(a, 4);
            out->avx512_bf16 = bit(a, 5);
        }
    }
    if (out->osxsave) {
        uint64_t xcr0 = read_xcr0();
        out->os_ymm = (xcr0 & 0x6) == 0x6;
        out->os_zmm = out->os_ymm && (xcr0 & 0xe0) == 0xe0;
        out->os_tile = (xcr0 & 0x60000) == 0x60000;
    }
    unsigned max_ext = __get_cpuid_max(0x80000000u, NULL);
    if (max_ext >= 0x80000004u) {
        unsigned regs[12];
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
        char raw[49];
        memcpy(raw, regs, 48);
        raw[48] = '\0';
        const char *s = raw;
        while (*s == ' ') s++;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1])) n--;
        memcpy(out->brand, s, n);
        out->brand[n] = '\0';
    }
#endif
}

/* The host description: written once under pthread_once, read-only afterwards. */
static pw_cpu_info host_info;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_detect(void)
{
    pw_cpu_detect(&host_info);
}

const pw_cpu_info *pw_cpu_host(void)
{
    pthread_once(&host_once, host_detect);
    return &host_info;
}

bool pw_cpu_usable_avx2_fma(const pw_cpu_info *c)
{
    return c->avx && c->avx2 && c->fma && c->os_ymm;
}

bool pw_cpu_usable_avx512(const pw_cpu_info *c)
{
    return c->avx512f && c->avx512dq && c->avx512bw && c->avx512vl && c->os_zmm &&
           pw_cpu_usable_avx2_fma(c);
}

bool pw_cpu_usable_avx512_vnni(const pw_cpu_info *c)
{
    return pw_cpu_usable_avx512(c) && c->avx512_vnni;
}

bool pw_cpu_usable_avx_vnni(const pw_cpu_info *c)
{
    return c->avx_vnni && pw_cpu_usable_avx2_fma(c);
}

bool pw_cpu_usable_amx_int8(const pw_cpu_info *c)
{
    return c->amx_tile && c->amx_int8 && c->os_tile;
}

/* The answer of the one permission request: written under pthread_once. */
static bool amx_granted;
static char amx_why[160];
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_request(void)
{
    const char *off = getenv("PERFWEAVE_NO_AMX");
    if (off && *off && strcmp(off, "0") != 0) {
        snprintf(amx_why, sizeof amx_why, "PERFWEAVE_NO_AMX is set: this run measures the CPU "
                 "as one without AMX");
        return;
    }
#ifdef PW_CPU_LINUX_X86
    enum { ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, (unsigned long)XFEATURE_XTILEDATA) != 0) {
        snprintf(amx_why, sizeof amx_why, "the kernel refused the AMX tile state "
                 "(arch_prctl ARCH_REQ_XCOMP_PERM: %s)", strerror(errno));
        return;
    }
    unsigned long perm = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm) != 0 ||
        !(perm & (1ul << XFEATURE_XTILEDATA))) {
        snprintf(amx_why, sizeof amx_why, "the kernel did not grant the AMX tile state "
                 "(arch_prctl ARCH_GET_XCOMP_PERM)");
        return;
    }
    amx_granted = true;
#else
    snprintf(amx_why, sizeof amx_why, "AMX tiles are requested only on Linux x86");
#endif
}

bool pw_cpu_request_amx(char *why, size_t whysize)
{
    pthread_once(&amx_once, amx_request);
    if (!amx_granted && whysize) snprintf(why, whysize, "%s", amx_why);
    return amx_granted;
}

json_t *pw_cpu_amx_json(const pw_cpu_info *c)
{
    if (!pw_cpu_usable_amx_int8(c)) return json_null();
    char why[200];
    if (pw_cpu_request_amx(why, sizeof why)) return json_pack("{s:b}", "granted", 1);
    return json_pack("{s:b, s:s}", "granted", 0, "why", why);
}

const char *pw_cpu_widest_isa(const pw_cpu_info *c)
{
    if (pw_cpu_usable_avx512(c)) return "avx512";
    if (pw_cpu_usable_avx2_fma(c)) return "avx2";
    return "scalar";
}

int pw_cpu_widest_floats(const pw_cpu_info *c)
{
    if (pw_cpu_usable_avx512(c)) return 16;
    if (pw_cpu_usable_avx2_fma(c)) return 8;
    return 1;
}

json_t *pw_cpu_json(const pw_cpu_info *c)
{
    /* name, CPU bit, OS state needed (0 none, 1 YMM, 2 ZMM, 3 tiles) */
    const struct { const char *name; bool has; int state; } sets[] = {
        {"sse2", c->sse2, 0}, {"sse3", c->sse3, 0}, {"ssse3", c->ssse3, 0},
        {"sse4.1", c->sse41, 0}, {"sse4.2", c->sse42, 0}, {"avx", c->avx, 1},
        {"avx2", c->avx2, 1}, {"fma", c->fma, 1}, {"f16c", c->f16c, 1},
        {"avx_vnni", c->avx_vnni, 1}, {"avx512f", c->avx512f, 2}, {"avx512dq", c->avx512dq, 2},
        {"avx512cd", c->avx512cd, 2}, {"avx512bw", c->avx512bw, 2}, {"avx512vl", c->avx512vl, 2},
        {"avx512_vnni", c->avx512_vnni, 2}, {"avx512_bf16", c->avx512_bf16, 2},
        {"avx512_fp16", c->avx512_fp16, 2}, {"amx_tile", c->amx_tile, 3},
        {"amx_int8", c->amx_int8, 3}, {"amx_bf16", c->amx_bf16, 3},
    };
    json_t *usable = json_array(), *cpu_only = json_array();
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        if (!sets[i].has) continue;
        bool os = sets[i].state == 0 || (sets[i].state == 1   ? c->os_ymm
                                         : sets[i].state == 2 ? c->os_zmm
                                                              : c->os_tile);
        json_array_append_new(os ? usable : cpu_only, json_string(sets[i].name));
    }
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:o, s:o, s:s}", "vendor", c->vendor, "brand",
                     c->brand, "family", (int)c->family, "model", (int)c->model, "stepping",
                     (int)c->stepping, "isa", usable, "isa_cpu_only", cpu_only, "widest",
                     pw_cpu_widest_isa(c));
}
