/* cpu.h — what the processor is and which vector instruction sets this process may use: the
 * CPUID identity (vendor, family, model, stepping, brand string), the ISA feature bits, and the
 * operating system's consent (XGETBV: the OS must save the YMM/ZMM/opmask state on a context
 * switch, or using the instructions faults or corrupts registers).  A feature is *usable* only
 * when the CPU reports it and the OS enabled its register state.
 *
 * Kernel dispatch, the OpenBLAS core choice, the machine's peak (the widest usable vector unit)
 * and the environment record all read this one description.  Detection is plain CPUID, so a
 * test can build a pw_cpu_info by hand and hand it to any function that takes one. */
#ifndef PERFWEAVE_CPU_H
#define PERFWEAVE_CPU_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char vendor[13];        /* "GenuineIntel", "AuthenticAMD", … ("" off x86) */
    char brand[49];         /* the brand string, trimmed ("" when the CPU has none) */
    unsigned family;        /* display family: base + extended when base is 0xF */
    unsigned model;         /* display model: base + (extended << 4) for families 6 and 0xF+ */
    unsigned stepping;
    /* feature bits as the CPU reports them (CPUID leaves 1, 7.0, 7.1) */
    bool sse2, sse3, ssse3, sse41, sse42, popcnt;
    bool avx, avx2, fma, f16c;
    bool avx512f, avx512dq, avx512cd, avx512bw, avx512vl, avx512_vnni, avx512_bf16, avx512_fp16;
    bool avx_vnni;          /* VEX-encoded vpdpbusd on 256-bit registers (leaf 7.1 EAX bit 4) */
    bool amx_tile, amx_int8, amx_bf16;
    bool hypervisor;        /* leaf 1 ECX bit 31 */
    /* the OS-enabled register state (XCR0), meaningful only when osxsave is true */
    bool osxsave;           /* the OS uses XSAVE and lets user code read XCR0 */
    bool os_ymm;            /* XCR0 bits 1 and 2: SSE and AVX state saved */
    bool os_zmm;            /* XCR0 bits 5, 6 and 7: opmask, ZMM0–15 upper halves, ZMM16–31 */
    bool os_tile;           /* XCR0 bits 17 and 18: AMX tile configuration and tile data */
} pw_cpu_info;

/* Fills *out from CPUID and XGETBV on the running CPU (all zero/false off x86). */
void pw_cpu_detect(pw_cpu_info *out);
/* The running CPU, detected once per process (thread-safe) and kept: what kernels called
 * without an explicit description dispatch on.  CPUID traps to the hypervisor under a VM, so
 * per-call detection would cost microseconds.  Borrowed, static storage. */
const pw_cpu_info *pw_cpu_host(void);

/* Usable instruction sets: the CPU has them and the OS enabled their state. */
bool pw_cpu_usable_avx2_fma(const pw_cpu_info *c);      /* AVX, AVX2, FMA, YMM state */
bool pw_cpu_usable_avx512(const pw_cpu_info *c);        /* F, DQ, BW, VL and ZMM state */
bool pw_cpu_usable_avx512_vnni(const pw_cpu_info *c);   /* the above plus AVX512-VNNI */
bool pw_cpu_usable_avx_vnni(const pw_cpu_info *c);      /* AVX-VNNI (256-bit) with YMM state */
bool pw_cpu_usable_amx_int8(const pw_cpu_info *c);      /* AMX-TILE and AMX-INT8 with tile state */

/* AMX tiles need one more consent than XCR0: on Linux (5.16 and later) a process must ask for
 * the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) before its first
 * tile instruction, or that instruction faults.  This asks once per process (thread-safe; the
 * grant is inherited by forked children) and returns whether it was granted; when not, the
 * reason in why (whysize may be 0).  False off Linux x86, and without asking where the
 * environment sets PERFWEAVE_NO_AMX (to anything but "" or "0"): a user's way to measure this
 * CPU as one without AMX, as ONEDNN_MAX_CPU_ISA is oneDNN's. */
bool pw_cpu_request_amx(char *why, size_t whysize);
/* Where the CPU has usable AMX-INT8 (pw_cpu_usable_amx_int8): {"granted": bool} plus "why" when
 * refused, after pw_cpu_request_amx; JSON null elsewhere.  New reference (the environment
 * record's cpu.amx, part of the result cache's software key). */
json_t *pw_cpu_amx_json(const pw_cpu_info *c);

/* The widest usable floating-point vector unit: "avx512" (16 floats), "avx2" (8 floats, with
 * FMA) or "scalar" (no usable AVX2+FMA: the portable kernels' level).  Static storage. */
const char *pw_cpu_widest_isa(const pw_cpu_info *c);
/* Floats per vector of that unit: 16, 8 or 1. */
int pw_cpu_widest_floats(const pw_cpu_info *c);

/* The description as JSON for the environment record:
 *   { "vendor", "brand", "family", "model", "stepping",
 *     "isa": [ usable sets, e.g. "sse4.2", "avx2", "fma", "avx512f", …, "avx512_vnni" ],
 *     "isa_cpu_only": [ sets the CPU reports but the OS did not enable ],
 *     "widest": "avx512"|"avx2"|"scalar" }
 * Returns a new reference. */
json_t *pw_cpu_json(const pw_cpu_info *c);

#endif
