/* matmul.h — the fp32 matrix-multiply family (naive, ikj, blocked, packed, openblas) behind one
 * table of kernels with identical signatures, the backend dispatcher that picks one by shape and
 * CPU features, the correctness gate every kernel passes before it is timed, and the machine
 * facts the charts draw as ceilings (the peak of each vector width, the triad bandwidth, cache
 * sizes, SMT siblings).
 *
 * Every kernel computes C = A·B for row-major A (m×k), B (k×n) and C (m×n) with natural leading
 * dimensions (k, n, n); C is overwritten (β = 0), never read.  Any of m, n, k may be 0 (k = 0
 * yields C = 0).  The operands must not overlap.  No kernel calls another kernel of the table
 * except `openblas`, which is the library itself. */
#ifndef PERFWEAVE_MATMUL_H
#define PERFWEAVE_MATMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perfweave/cpu.h"

/* --- the packed kernel's microkernels (BLIS's context) ------------------------------------- */
/* The instruction set of a register microkernel; AUTO asks for the widest one this CPU, its
 * operating system and this build can run. */
typedef enum {
    PW_UKERNEL_AUTO = 0,
    PW_UKERNEL_PORTABLE,   /* plain C, any CPU */
    PW_UKERNEL_AVX2,       /* AVX2 + FMA intrinsics, 16 ymm registers */
    PW_UKERNEL_AVX512,     /* AVX-512 F/DQ/BW/VL intrinsics, 32 zmm registers */
    PW_UKERNEL_ISAS
} pw_ukernel;

enum { PW_MATMUL_BLOCK_DEFAULT = 64 /* tile edge of `blocked` when the context says 0 */ };

/* The microkernel contract: ap is an MR×kc sliver of packed A (MR values per k step), bp a
 * kc×NR sliver of packed B (NR values per k step, 64-byte aligned); computes the full MR×NR
 * product and stores its top-left mr×nr corner (mr <= MR, nr <= NR: edge tiles) into c (row
 * stride ldc), adding to c when accumulate is nonzero and overwriting it otherwise.  Nothing
 * outside that corner is read or written. */
typedef void (*pw_ukernel_fn)(size_t kc, const float *restrict ap, const float *restrict bp,
                              float *restrict c, size_t ldc, size_t mr, size_t nr,
                              int accumulate);

/* The direct path of a microkernel: C = A·B (row-major, natural leading dimensions, C
 * overwritten) computed with the same register block but reading A and B in place, unpacked. */
typedef void (*pw_ukernel_direct_fn)(size_t m, size_t n, size_t k, const float *restrict a,
                                     const float *restrict b, float *restrict c);

/* A microkernel and the blocksizes the packed driver uses with it, read at run time, so kernels
 * of different shapes coexist (as a BLIS context holds them).  mc is a multiple of mr, nc of nr;
 * a kc×nr sliver of B stays in L1 while every A sliver of the block passes it, and the mc×kc
 * block of A and the kc×nc panel of B share L2 (docs/kernels.md gives the measurements behind
 * each choice).  A kernel with a direct path uses it instead of packing for products of at most
 * direct_mnk multiply-adds and depth k <= direct_kmax (small operands, already in L1/L2, where
 * packing would be a large share of the work). */
typedef struct {
    const char *name;     /* "avx512_12x32", "avx2_6x16", "portable_6x16" */
    pw_ukernel isa;
    size_t mr, nr;        /* register block: rows of A broadcast, columns of B per k step */
    size_t kc, mc, nc;    /* cache blocks */
    pw_ukernel_fn fn;
    pw_ukernel_direct_fn direct; /* NULL: always pack */
    double direct_mnk;    /* m·n·k at or below which `direct` runs … */
    size_t direct_kmax;   /* … when k is at most this too */
    int preferred;        /* nonzero for the one AUTO / a forced ISA selects (one per ISA) … */
    const char *summary;  /* one line */
    /* … unless the CPU is one of those another kernel of the ISA is preferred on: CPUID vendor
     * preferred_vendor ("AuthenticAMD") and display family >= preferred_min_family.  NULL for
     * the kernels that are not preferred on particular CPUs (as BLIS keeps one configuration per
     * microarchitecture: each shape was chosen by measurement on one machine of that kind). */
    const char *preferred_vendor;
    unsigned preferred_min_family;
} pw_matmul_ukernel;

/* Every microkernel compiled into this build (the SIMD ones only on x86 without PW_NO_SIMD), in
 * the order avx512…, avx2…, portable; static storage, *n set. */
const pw_matmul_ukernel *pw_matmul_ukernels(size_t *n);
/* The microkernel named name, or NULL. */
const pw_matmul_ukernel *pw_matmul_ukernel_find(const char *name);
/* "auto", "portable", "avx2", "avx512" (static storage; "unknown" out of range). */
const char *pw_ukernel_name(pw_ukernel isa);
/* The ISA named s ("auto", "portable", "avx2", "avx512"); PW_OK or PW_ENOTFOUND. */
int pw_ukernel_from_name(const char *s, pw_ukernel *out);
/* The ISA's preferred microkernel in this build, or NULL when it is compiled out (or AUTO). */
const pw_matmul_ukernel *pw_matmul_ukernel_preferred(pw_ukernel isa);
/* The ISA's microkernel for cpu: the one preferred on CPUs of its vendor and family
 * (preferred_vendor, preferred_min_family) when there is one, else pw_matmul_ukernel_preferred. */
const pw_matmul_ukernel *pw_matmul_ukernel_preferred_on(pw_ukernel isa, const pw_cpu_info *cpu);
/* Whether a microkernel of isa can run on cpu in this build: compiled in, the CPU reports the
 * instructions and the operating system enabled their register state (cpu.h).  When it cannot,
 * writes the reason as a lowercase sentence into why (whysize bytes, may be 0), naming what is
 * missing: the build, the CPU's instructions, or the OS-enabled state.  AUTO is always usable. */
bool pw_ukernel_usable(pw_ukernel isa, const pw_cpu_info *cpu, char *why, size_t whysize);
/* The widest ISA usable on cpu: avx512, else avx2, else portable. */
pw_ukernel pw_ukernel_widest(const pw_cpu_info *cpu);
/* Resolves a choice: AUTO → the microkernel preferred on cpu of pw_ukernel_widest(cpu); a forced
 * ISA → its microkernel preferred on cpu when pw_ukernel_usable says so.  A forced ISA that
 * cannot run is PW_EINVAL with the reason in why ("the avx512 microkernel cannot run here: …"), never a
 * silent fallback.  PW_OK sets *out. */
int pw_matmul_ukernel_select(pw_ukernel which, const pw_cpu_info *cpu,
                             const pw_matmul_ukernel **out, char *why, size_t whysize);

/* What a kernel may need besides its operands.  Embed it, pw_matmul_ctx_init() it (allocates
 * the packing buffers, 64-byte aligned, large enough for every microkernel's blocks) and
 * pw_matmul_ctx_release() it.  A kernel given NULL uses defaults (and `packed` then picks the
 * AUTO microkernel for the running CPU and allocates and frees its buffers per call). */
typedef struct {
    size_t block;                 /* `blocked`: tile edge in elements; 0 → PW_MATMUL_BLOCK_DEFAULT */
    const pw_matmul_ukernel *uk;  /* `packed`: microkernel and blocksizes; init sets AUTO's */
    float *apack;                 /* `packed`: A block workspace (owned by the context) */
    float *bpack;                 /* `packed`: B panel workspace (owned by the context) */
} pw_matmul_ctx;

/* Sets the AUTO microkernel for the running CPU (pw_cpu_host). */
void pw_matmul_ctx_init(pw_matmul_ctx *ctx);
void pw_matmul_ctx_release(pw_matmul_ctx *ctx);
/* ctx->uk = pw_matmul_ukernel_select(which, cpu); on failure ctx is unchanged and the reason is
 * in why.  Returns what pw_matmul_ukernel_select returns. */
int pw_matmul_ctx_set_ukernel(pw_matmul_ctx *ctx, pw_ukernel which, const pw_cpu_info *cpu,
                              char *why, size_t whysize);

/* The common signature of every kernel. */
typedef void (*pw_matmul_fn)(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                             const float *restrict a, const float *restrict b,
                             float *restrict c);

typedef struct {
    const char *name;     /* "naive", "ikj", "blocked", "packed", "openblas" */
    pw_matmul_fn fn;
    const char *summary;  /* one line */
} pw_matmul_kernel;

/* The table of kernels, in the order above (the reference `naive` first); static storage. */
const pw_matmul_kernel *pw_matmul_kernels(size_t *n);
/* The kernel named name, or NULL. */
const pw_matmul_kernel *pw_matmul_find(const char *name);

void pw_matmul_naive(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                     const float *restrict a, const float *restrict b, float *restrict c);
void pw_matmul_ikj(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                   const float *restrict a, const float *restrict b, float *restrict c);
void pw_matmul_blocked(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                       const float *restrict a, const float *restrict b, float *restrict c);
void pw_matmul_packed(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                      const float *restrict a, const float *restrict b, float *restrict c);
void pw_matmul_openblas(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                        const float *restrict a, const float *restrict b, float *restrict c);

/* Fixes OpenBLAS's thread count (for every later `openblas` call in this process) and returns
 * the count in effect afterwards. */
int pw_matmul_set_threads(int threads);
/* OpenBLAS's core name (e.g. "Haswell"); static storage. */
const char *pw_matmul_blas_core(void);

/* --- CPU features ----------------------------------------------------------------------------- */
/* True when the running CPU and its OS can run AVX2 and FMA (pw_cpu_usable_avx2_fma on
 * pw_cpu_host()); says nothing about what this build compiled in. */
bool pw_cpu_has_avx2_fma(void);

/* --- the backend dispatcher ----------------------------------------------------------------- */
/* The documented rule (docs/kernels.md), applied in this order:
 *   1. m·n·k <= small_mnk (default PW_MATMUL_SMALL_MNK = 6³): `naive` — for a handful of dot
 *      products, one sum kept in a register beats any setup (zeroing C, packing panels);
 *   2. a SIMD microkernel can run (AVX-512 or AVX2+FMA, pw_ukernel_widest): `packed`, with the
 *      context's microkernel (AUTO: the widest);
 *   3. otherwise: `openblas`, whose own kernels beat our portable microkernel.
 * The features are captured once at init (so a test may set them), not queried per call. */
enum { PW_MATMUL_SMALL_MNK = 6 * 6 * 6 };

typedef struct {
    bool avx2_fma;                   /* rule 2's test: a SIMD microkernel (AVX2+FMA or wider) runs */
    size_t small_mnk;                /* threshold of rule 1 */
    const pw_matmul_kernel *table[3]; /* [0] small, [1] SIMD, [2] no SIMD: borrowed from the table */
} pw_matmul_backend;

/* Fills be for cpu: avx2_fma = pw_ukernel_widest(cpu) is not portable. */
void pw_matmul_backend_init_cpu(pw_matmul_backend *be, const pw_cpu_info *cpu);
/* pw_matmul_backend_init_cpu for the running CPU (pw_cpu_host). */
void pw_matmul_backend_init(pw_matmul_backend *be);
/* The kernel the rule picks for the shape; borrowed from the table. */
const pw_matmul_kernel *pw_matmul_backend_choose(const pw_matmul_backend *be, size_t m, size_t n,
                                                 size_t k);
/* Chooses and calls: the dispatched path whose overhead `acceleration.dispatch` measures. */
void pw_matmul_backend_run(const pw_matmul_backend *be, const pw_matmul_ctx *ctx, size_t m,
                           size_t n, size_t k, const float *restrict a, const float *restrict b,
                           float *restrict c);

/* --- correctness gate ------------------------------------------------------------------------- */
/* The error bound: a dot product of length k summed in any order in fp32 (with or without FMA)
 * has |ĉ − c| <= γ_k (|A||B|)_ij with γ_k = k·u/(1 − k·u), u = 2^-24 (Higham, Accuracy and
 * Stability of Numerical Algorithms, §3.1).  The reference is computed independently of every
 * kernel, OpenBLAS included: a plain loop accumulating in double, whose own error (k·2^-53 of
 * |A||B|) is added to the bound.  So the gate allows PW_MATMUL_GATE_FACTOR · γ_k (|A||B|)_ij
 * (|A||B| also in double), plus FLT_MIN for entries whose magnitudes cancel to zero. */
#define PW_MATMUL_GATE_FACTOR 1.0
/* Products with m·n·k up to this many multiply-adds are verified entry by entry (every gate shape
 * is); larger ones by the sample described at pw_matmul_verify, so a check stays O(n²). */
#define PW_MATMUL_VERIFY_FULL_WORK 33554432.0 /* 2^25 */
/* Size of the random sample of interior entries and its seed (mixed with m, n, k). */
enum { PW_MATMUL_VERIFY_SAMPLES = 256 };
#define PW_MATMUL_VERIFY_SEED UINT64_C(0x5eed0fc0ffee1234)
/* γ_k for fp32. */
double pw_matmul_gamma(size_t k);

/* Fills x with n pseudo-random floats uniform in [-1, 1) from a 64-bit seed (deterministic). */
void pw_matmul_fill(float *x, size_t n, uint64_t seed);

/* Checks kernel output c (m×n, computed from a and b) against the independent double-precision
 * reference (no BLAS call): *worst receives the largest |c − c_exact| / bound over the entries
 * checked (<= 1 passes).  When m·n·k <= PW_MATMUL_VERIFY_FULL_WORK every entry is checked;
 * above it, every entry must be finite and the checked entries are the first and last rows and
 * columns in full plus PW_MATMUL_VERIFY_SAMPLES seeded random entries, so a wrong edge or a
 * broadly wrong product is caught but a single wrong interior entry may not be.  Returns PW_OK
 * when it passes, PW_ERANGE when some checked entry breaks the bound (or is not finite). */
int pw_matmul_verify(size_t m, size_t n, size_t k, const float *a, const float *b,
                     const float *c, double *worst);

/* Runs kern on every gate shape (1, 7, 63, 65, 127, 257 cubed and non-square m×k×n mixes) and
 * verifies each, entry by entry, against the double-precision reference.  Returns PW_OK, or PW_ERANGE with a lowercase description of
 * the first failing shape in msg. */
int pw_matmul_gate(const pw_matmul_kernel *kern, const pw_matmul_ctx *ctx, char *msg,
                   size_t msgsize);
/* The gate's shapes as {m, k, n} triples; static storage, *n set. */
const size_t (*pw_matmul_gate_shapes(size_t *n))[3];

/* --- machine facts: the ceilings ------------------------------------------------------------ */
/* Arithmetic-throughput microbenchmarks, one per vector width the CPU may run: independent
 * chains of one instruction each (fp32 FMA, or the int8 dot product vpdpbusd), enough of them
 * that latency never limits the rate.  Each published as the metric "peak.<pw_peak_metric>". */
typedef enum {
    PW_PEAK_SCALAR,   /* fma.scalar: 1 lane, multiply + add as the portable build compiles them */
    PW_PEAK_AVX2,     /* fma.avx2: vfmadd on 8-float ymm */
    PW_PEAK_AVX512,   /* fma.avx512: vfmadd on 16-float zmm */
    PW_PEAK_VNNI256,  /* int8.vnni256: AVX-VNNI vpdpbusd on ymm (32 u8×s8 products) */
    PW_PEAK_VNNI512,  /* int8.vnni512: AVX512-VNNI vpdpbusd on zmm (64 products) */
    PW_PEAK_AMX,      /* int8.amx: AMX tdpbusd on tiles (16 × 16 × 64 = 16384 products) */
    PW_PEAK_KINDS
} pw_peak_kind;

/* The constants of the measurement: each fp32 chain runs x ← x·MUL + ADD, converging to 1. */
#define PW_PEAK_MUL 0.999999f
#define PW_PEAK_ADD 0.000001f

/* "fma.scalar", "fma.avx2", "fma.avx512", "int8.vnni256", "int8.vnni512" (static storage). */
const char *pw_peak_metric(pw_peak_kind kind);
/* The instruction set in words: "scalar", "avx2", "avx512", "avx_vnni", "avx512_vnni". */
const char *pw_peak_isa(pw_peak_kind kind);
/* True for the int8 kinds (their unit is GOP/s, two operations per multiply-add). */
bool pw_peak_is_int8(pw_peak_kind kind);
/* Independent chains, and multiply-adds per chain per round (lanes; int8: 4 per 32-bit lane). */
int pw_peak_chains(pw_peak_kind kind);
int pw_peak_lanes(pw_peak_kind kind);
/* Operations one round performs: 2 × chains × lanes (a multiply-add is two). */
double pw_peak_ops_per_iter(pw_peak_kind kind);
/* Whether kind can run on cpu in this build (as pw_ukernel_usable; the int8 kinds also need the
 * VNNI flag); the reason in why when not (whysize may be 0).  The scalar kind always runs. */
bool pw_peak_usable(pw_peak_kind kind, const pw_cpu_info *cpu, char *why, size_t whysize);
/* The widest usable fp32 kind on cpu: the machine's roof. */
pw_peak_kind pw_peak_widest_fma(const pw_cpu_info *cpu);
/* Runs iters rounds of an fp32 kind (every chain x ← x·mul + add, chain c starting at c/16) and
 * returns the sum of every lane of every chain; 0 for a kind that is not fp32 or not compiled
 * in.  The caller must have checked pw_peak_usable.  With mul = add = 1 the sum grows by
 * exactly chains·lanes per round (every partial sum a multiple of 1/16 below 2^20, so exact):
 * the work a test can count. */
float pw_peak_fma_run(pw_peak_kind kind, uint64_t iters, float mul, float add);
/* Runs iters rounds of an int8 kind (every 32-bit lane += the 4 products a·b of its bytes, chain
 * c starting at c in every lane) and returns the lanes' sum of the chains' sum (that vector sum
 * wrapping as int32, as the lanes do); 0 for a kind that is not int8 or not compiled in. */
int64_t pw_peak_int8_run(pw_peak_kind kind, uint64_t iters, uint8_t a, int8_t b);
/* The widest usable fp32 kind on the running CPU, with the measurement's constants: what
 * callers that want "the" FMA peak time; pw_peak_flops_per_iter is its operations per round. */
float pw_peak_fma(uint64_t iters);
double pw_peak_flops_per_iter(void);

/* The STREAM triad a[i] = b[i] + s·c[i] over n doubles, with the vector width of isa (AUTO: the
 * widest usable on the running CPU; the caller checks pw_ukernel_usable for a forced one).
 * Counted, as STREAM counts it, as 24 bytes per element (two 8-byte reads and one write; the
 * write-allocate read of a is not counted, so the bytes that actually move are up to 32). */
void pw_triad(pw_ukernel isa, double *restrict a, const double *restrict b,
              const double *restrict c, double s, size_t n);
/* Bytes pw_triad counts for n elements: 24·n. */
double pw_triad_bytes(size_t n);

/* Data-cache sizes in bytes for levels 1–3 (0 where unknown): sysconf(_SC_LEVEL*_CACHE_SIZE),
 * then /sys/devices/system/cpu/cpu0/cache.  Returns how many levels are known. */
int pw_cache_sizes(size_t sizes[3]);

/* Which online CPUs share a physical core (SMT siblings), from
 * /sys/devices/system/cpu/cpuN/topology/thread_siblings_list: as the OS sees it, which under a
 * hypervisor need not be how the host places the virtual CPUs. */
enum { PW_TOPOLOGY_MAX = 4096 };
typedef struct {
    int cpus;           /* online CPUs */
    int cores;          /* distinct sibling sets among them (= cpus without SMT) */
    bool smt;           /* some CPU has a sibling */
    bool known;         /* sysfs was readable (else cores = cpus, smt false: unknown) */
    char siblings[64];  /* the first sibling list with more than one CPU, e.g. "0-1" */
} pw_topology;
/* Fills *out; PW_OK, or PW_EIO when sysfs could not be read (out then says unknown). */
int pw_cpu_topology(pw_topology *out);
/* Parses a sysfs CPU list ("0-3,8,10-11") into cpus (at most max stored); returns the count
 * listed, or -1 when malformed. */
int pw_cpu_list_parse(const char *list, int *cpus, int max);

#endif
