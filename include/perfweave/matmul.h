/* matmul.h — the fp32 matrix-multiply family (naive, ikj, blocked, packed, openblas) behind one
 * table of kernels with identical signatures, the backend dispatcher that picks one by shape and
 * CPU features, the correctness gate every kernel passes before it is timed, and the machine
 * facts (FMA peak, cache sizes) the acceleration chapter draws as ceilings.
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

/* --- tuning constants of the packed kernel (BLIS names) ------------------------------------- */
enum {
    PW_MATMUL_MR = 6,     /* microkernel rows: 6 broadcasts of A per k step */
    PW_MATMUL_NR = 16,    /* microkernel columns: two 8-float AVX registers of B per k step */
    PW_MATMUL_KC = 256,   /* depth of a packed panel: an MR×KC sliver of A + KC×NR of B sit in L1 */
    PW_MATMUL_MC = 144,   /* rows of the packed A block (MC×KC floats ≈ 144 KiB, kept in L2) */
    PW_MATMUL_NC = 4096,  /* columns of the packed B panel (KC×NC floats = 4 MiB, kept in L3) */
    PW_MATMUL_BLOCK_DEFAULT = 64 /* tile edge of `blocked` when the context says 0 */
};

/* Which register microkernel `packed` uses. */
typedef enum {
    PW_UKERNEL_AUTO = 0,   /* AVX2+FMA when the CPU has both (checked at run time), else portable */
    PW_UKERNEL_PORTABLE,   /* plain C, any CPU */
    PW_UKERNEL_AVX2        /* intrinsics; falls back to portable where the CPU lacks AVX2/FMA */
} pw_ukernel;

/* What a kernel may need besides its operands.  Embed it, pw_matmul_ctx_init() it (allocates the
 * packing buffers, 64-byte aligned) and pw_matmul_ctx_release() it.  A kernel given NULL uses
 * defaults (and `packed` then allocates and frees its buffers per call). */
typedef struct {
    size_t block;          /* `blocked`: tile edge in elements; 0 → PW_MATMUL_BLOCK_DEFAULT */
    pw_ukernel ukernel;    /* `packed`: microkernel choice; AUTO is resolved by init */
    float *apack;          /* `packed`: MC×KC workspace (owned by the context) */
    float *bpack;          /* `packed`: KC×NC workspace (owned by the context) */
} pw_matmul_ctx;

void pw_matmul_ctx_init(pw_matmul_ctx *ctx);
void pw_matmul_ctx_release(pw_matmul_ctx *ctx);

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
/* True when the running CPU supports both AVX2 and FMA (__builtin_cpu_supports). */
bool pw_cpu_has_avx2_fma(void);

/* --- the backend dispatcher ----------------------------------------------------------------- */
/* The documented rule (docs/kernels.md), applied in this order:
 *   1. m·n·k <= small_mnk (default PW_MATMUL_SMALL_MNK = 6³): `naive` — for a handful of dot
 *      products, one sum kept in a register beats any setup (zeroing C, packing panels);
 *   2. the CPU has AVX2+FMA: `packed` (with the AVX2 microkernel);
 *   3. otherwise: `openblas`, whose own kernels beat our portable microkernel.
 * The features are captured once at init (so a test may set them), not queried per call. */
enum { PW_MATMUL_SMALL_MNK = 6 * 6 * 6 };

typedef struct {
    bool avx2_fma;                   /* the CPU feature the rule looks at */
    size_t small_mnk;                /* threshold of rule 1 */
    const pw_matmul_kernel *table[3]; /* [0] small, [1] SIMD, [2] no SIMD: borrowed from the table */
} pw_matmul_backend;

/* Fills be for the running CPU (avx2_fma from pw_cpu_has_avx2_fma()). */
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

/* --- machine facts ---------------------------------------------------------------------------- */
/* The FMA throughput microbenchmark: iters rounds of PW_PEAK_CHAINS independent 8-wide FMA
 * chains (AVX2+FMA when present, else scalar chains of the same shape).  Returns a value that
 * depends on every result, so the work cannot be optimised away. */
enum { PW_PEAK_CHAINS = 14 };
float pw_peak_fma(uint64_t iters);
/* Floating-point operations one round of pw_peak_fma performs (2 per FMA lane). */
double pw_peak_flops_per_iter(void);

/* Data-cache sizes in bytes for levels 1–3 (0 where unknown): sysconf(_SC_LEVEL*_CACHE_SIZE),
 * then /sys/devices/system/cpu/cpu0/cache.  Returns how many levels are known. */
int pw_cache_sizes(size_t sizes[3]);

#endif
