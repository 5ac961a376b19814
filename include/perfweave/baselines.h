/* baselines.h — the libraries the report measures against, known and validated: OpenBLAS (which
 * core it runs, and the better core perfweave chooses when the library's own detection is
 * weaker than the CPU), BLIS and oneDNN (loaded on demand, single-threaded, private to the
 * process that calls them), the check that the process holds one CBLAS, and the sanity floor
 * that keeps a handicapped library from deciding a claim.
 *
 * OpenBLAS is linked; BLIS and oneDNN are opened with dlopen(RTLD_LOCAL) the first time a
 * variant needs them, so that BLIS's own cblas_sgemm/sgemm_ never take over the CBLAS symbols the
 * `openblas` variant, the MLP and the transformer use, and so that oneDNN's OpenMP runtime is
 * never loaded into a process that later forks (the report's parent forks every measuring
 * child).  The one piece of process state here is that once-opened library handle per library
 * (and the pid of the forking process, below). */
#ifndef PERFWEAVE_BASELINES_H
#define PERFWEAVE_BASELINES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perfweave/cpu.h"
#include "perfweave/matmul.h"

/* === OpenBLAS cores ============================================================================ */
/* A core of OpenBLAS's DYNAMIC_ARCH list (driver/others/dynamic.c, 0.3.21–0.3.28) with the vector
 * code of its sgemm kernels: `rank` orders the cores by instruction-set level (1 SSE … 9 AVX2+FMA,
 * 10 AVX-512, 11 AVX-512+BF16, 12 AMX; 0 "Unknown"), `floats` is the vector width in floats and
 * `fma` whether its kernels fuse multiply and add. */
typedef struct {
    const char *name;  /* OpenBLAS's spelling, e.g. "SkylakeX" */
    int rank;
    int floats;        /* 4 (SSE), 8 (AVX, AVX2), 16 (AVX-512); 0 for "Unknown" */
    bool fma;
} pw_openblas_core;

/* The core named name (compared case-insensitively, as OpenBLAS does), or NULL for a name not in
 * the list.  Static storage. */
const pw_openblas_core *pw_openblas_core_find(const char *name);

/* The version in openblas_get_config()-style text ("OpenBLAS 0.3.21 DYNAMIC_ARCH …") as
 * major·10000 + minor·100 + patch (0.3.21 → 321), or -1 when the text does not start so. */
int pw_openblas_version(const char *config);

/* The best core for cpu that an OpenBLAS described by config can be switched to with
 * OPENBLAS_CORETYPE: NULL unless config names a DYNAMIC_ARCH build, and otherwise chosen from the
 * CPU's *usable* instruction sets (cpu.h), never from its family/model (so CPU models OpenBLAS does
 * not know are covered):
 *   AVX-512 (F, DQ, BW, VL, ZMM state)     "Cooperlake" when the CPU has AVX512-BF16 and the
 *                                          version is >= 0.3.22 (0.3.21's name lookup stops one
 *                                          entry short of it), else "SkylakeX"
 *   AVX2 + FMA (YMM state)                 "Zen" on AMD/Hygon, else "Haswell"
 *   AVX (YMM state)                        "Sandybridge"
 *   SSE4.2 / SSSE3 / SSE3                  "Nehalem" / "Core2" / "Prescott"
 * and NULL on a CPU without SSE3 or off x86.  ("SapphireRapids", listed from 0.3.26, is not
 * reachable by name up to 0.3.28 either.)  Static storage. */
const char *pw_openblas_best_core(const pw_cpu_info *cpu, const char *config);

/* The environment variable through which perfweave's re-exec tells its new image what the
 * library had detected on its own; its presence also stops a second re-exec. */
#define PW_OPENBLAS_MARKER "PERFWEAVE_OPENBLAS_DETECTED"

/* What main() does about the core, decided from: the CPU, the library's config text, the core it
 * runs now (`detected`), the value of OPENBLAS_CORETYPE (`user`, NULL when unset) and of
 * PW_OPENBLAS_MARKER (`marker`, NULL when unset).  reexec is true only when no marker is set, the
 * user did not set OPENBLAS_CORETYPE, a best core exists and it ranks above the detected one (an
 * unlisted detected name is never overridden); core is then the core to request. */
typedef struct {
    bool reexec;
    const char *core;  /* static storage, or NULL */
} pw_openblas_plan;
void pw_openblas_plan_decide(const pw_cpu_info *cpu, const char *config, const char *detected,
                             const char *user, const char *marker, pw_openblas_plan *out);

/* The record of OpenBLAS as a process runs it, from the same inputs plus the core now in use and
 * the thread count (a pure function; pw_openblas_json supplies the live values):
 *   { "version": "0.3.21"|null, "config": str, "core": in use, "detected": what the library
 *     detected on its own, or null when the user's choice hid it, "best": pw_openblas_best_core
 *     or null, "chosen_by": "library"|"perfweave"|"user", "requested": OPENBLAS_CORETYPE or null,
 *     "took": whether the core in use is the one requested (true when nothing was requested),
 *     "threads": n, "vector": { "floats": n, "fma": bool } | null (from the core in use),
 *     "summary": one sentence for the reader, e.g. "OpenBLAS core SkylakeX, chosen by perfweave:
 *     the library detected Prescott on this CPU" }
 * Returns a new reference. */
json_t *pw_openblas_describe(const pw_cpu_info *cpu, const char *config, const char *core,
                             const char *user, const char *marker, int threads);
/* The variables of envp (an environ-style array) that tune OpenBLAS besides its core: every
 * OPENBLAS_* (OPENBLAS_L2_SIZE, OPENBLAS_NUM_THREADS, ...) but OPENBLAS_CORETYPE, and the
 * GotoBLAS names GOTO_* and GOTOBLAS_*, as { name: value }; an empty object when none is set.
 * New reference. */
json_t *pw_openblas_environment(char *const *envp);
/* pw_openblas_describe for this process, plus "library": the file OpenBLAS was loaded from, and
 * "environment": pw_openblas_environment of this process where it is not empty. */
json_t *pw_openblas_json(void);

/* === one CBLAS in the process ================================================================== */
/* The symbols whose binding matters: cblas_sgemm, cblas_sdot, sgemm_ (NULL-terminated). */
const char *const *pw_cblas_symbols(void);
/* Pure part of the check: paths[i] is the file symbols[i] resolves into (NULL when it does not
 * resolve), expected the file of the library the report names.  PW_OK, or PW_ERANGE with the
 * first mismatch in msg ("cblas_sgemm resolves into /…/libgslcblas.so.0, not OpenBLAS (/…)"). */
int pw_cblas_check_paths(const char *const *symbols, const char *const *paths, size_t n,
                         const char *expected, char *msg, size_t size);
/* The live check: where the dynamic linker binds each of pw_cblas_symbols() for the program and
 * its libraries (libgsl included: dlsym(RTLD_DEFAULT) follows the global lookup order its
 * relocations use) against the file that exports openblas_get_config.  PW_OK or PW_ERANGE. */
int pw_cblas_check(char *msg, size_t size);
/* { symbol: file } for pw_cblas_symbols() as bound now (null where unresolved).  New reference. */
json_t *pw_cblas_json(void);

/* === BLIS and oneDNN =========================================================================== */
/* Opens the library once per process (later calls return the first outcome): BLIS from its
 * serial build (PW_BLIS_PATH, set by the Makefile), oneDNN from its soname, both RTLD_LOCAL.
 * PW_OK, or PW_ENOTFOUND with the reason in msg (the loader's message; for BLIS also an integer
 * size other than 64 bits).  pw_onednn_open also refuses (PW_EINVAL) in the process that called
 * pw_onednn_forbid_here(), and sets oneDNN's OpenMP runtime to one thread before any call. */
int pw_blis_open(char *msg, size_t size);
int pw_onednn_open(char *msg, size_t size);
/* Marks the calling process as one that forks measuring children: oneDNN may not be opened in
 * it (its children, having another pid, may).  main() calls it first. */
void pw_onednn_forbid_here(void);

/* Matmul kernels with the table's contract (matmul.h): BLIS through its own typed API
 * (bli_sgemm with row strides, never its CBLAS symbols), oneDNN through dnnl_sgemm (row-major),
 * each single-threaded.  They must be opened first (pw_baselines_ready, which pw_matmul_gate
 * calls); unopened, C is filled with NaN so that any check fails. */
void pw_matmul_blis(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                    const float *restrict a, const float *restrict b, float *restrict c);
void pw_matmul_onednn(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                      const float *restrict a, const float *restrict b, float *restrict c);
/* The same products with explicit layouts for the MLP shapes: C (m × n, ldc) = A (m × k, lda) ·
 * Bᵀ where B is n × k (ldb): a layer's activations times its row-major weight matrix (mlp.h's
 * pw_mlp_gemm_fn).  OpenBLAS's takes sgemv for one row, its faster path there. */
void pw_sgemm_nt_blis(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                      size_t ldb, float *c, size_t ldc);
void pw_sgemm_nt_onednn(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                        size_t ldb, float *c, size_t ldc);
void pw_sgemm_nt_openblas(size_t m, size_t n, size_t k, const float *a, size_t lda,
                          const float *b, size_t ldb, float *c, size_t ldc);

/* oneDNN's integer GEMM with quant.h's contract: C (m × n int32, ldc) = A (m × k uint8, lda) · Bᵀ,
 * B n × k int8 (ldb), no offsets (dnnl_gemm_u8s8s32, B transposed).  PW_OK, or PW_EINVAL when
 * oneDNN is not open or rejects the call. */
int pw_onednn_gemm_u8s8s32(size_t m, size_t n, size_t k, const uint8_t *A, size_t lda,
                           const int8_t *B, size_t ldb, int32_t *C, size_t ldc);

/* oneDNN's int8 matmul primitive for one shape: C (m × n, int32, row-major, ld n) = A (m × k,
 * uint8, ld k) · Wᵀ, W the n × k int8 weights (ld k) reordered once, at creation, into the layout
 * the primitive chose, so a timed call does no packing (as pw_qgemm's pre-packed weights do
 * not).  No scales, zero points or saturation.  Only after pw_onednn_open succeeded in this
 * process.  new: PW_OK and *out, or PW_EINVAL with the reason in why. */
typedef struct pw_onednn_qmatmul pw_onednn_qmatmul;
int pw_onednn_qmatmul_new(size_t m, size_t n, size_t k, const int8_t *w, pw_onednn_qmatmul **out,
                          char *why, size_t whysize);
/* One product with the primitive's shape; PW_OK or PW_EINVAL. */
int pw_onednn_qmatmul_run(pw_onednn_qmatmul *q, const uint8_t *a, int32_t *c);
/* The implementation oneDNN chose ("brg:avx512_core_amx", …). */
const char *pw_onednn_qmatmul_impl(const pw_onednn_qmatmul *q);
void pw_onednn_qmatmul_free(pw_onednn_qmatmul *q);

/* Descriptions as used (open the library; call only where that is allowed):
 *   BLIS:   { "available": true, "version": "0.9.0", "arch": "haswell" (bli_arch_string of
 *             bli_arch_query_id: the sub-configuration / kernel set), "arch_id": n,
 *             "threading": "none"|"openmp"|"pthreads", "threads": 1, "library": path,
 *             "vector": { "floats", "fma" } | null }
 *   oneDNN: { "available": true, "version": "2.6.3", "hash": str, "isa": "avx512_core_amx"
 *             (dnnl_get_effective_cpu_isa), "runtime": "omp"|…, "threads": 1, "library": path,
 *             "vector": { … } | null }
 * or { "available": false, "error": reason }.  New references. */
json_t *pw_blis_json(void);
json_t *pw_onednn_json(void);
/* Both, captured in a forked child so that the calling process never loads oneDNN:
 * { "blis": …, "onednn": … } (each { "available": false, "error": … } when the child failed).
 * Returns a new reference; never NULL. */
json_t *pw_baselines_probe(void);

/* The vector code of a BLIS sub-configuration ("skx", "haswell", "zen3", …) or a oneDNN ISA
 * name ("avx512_core_bf16", "avx2", …): floats per vector and FMA.  PW_OK, or PW_ENOTFOUND for
 * a name whose code is not known (e.g. BLIS "generic"). */
int pw_blis_arch_vector(const char *arch, int *floats, bool *fma);
int pw_onednn_isa_vector(const char *isa, int *floats, bool *fma);

/* Whether variant `name` of a kernel table may run here: PW_OK for anything that is not a
 * dynamically opened library; for "blis" and "onednn" the outcome of opening it (msg says why
 * not). */
int pw_baselines_ready(const char *name, char *msg, size_t size);

/* === the sanity floor ========================================================================== */
/* A library baseline is handicapped — and every comparison against it may not decide a claim —
 * when, at the size the caller judges (its best size of at least PW_BASELINE_FLOOR_MIN_N,
 * src/experiments/baseline.c), its fraction of the machine's peak (of the widest vector unit the CPU and OS enable, not of the ISA the
 * library uses) is below PW_BASELINE_FLOOR, or when its vector code cannot reach the floor at
 * all, at any size: floats·(fma ? 2 : 1) over the widest unit's floats·2 (an upper bound of its
 * possible fraction: SSE code without FMA reaches at most 4/32 = 12.5% of an AVX-512 FMA peak).
 * The floor is half the widest peak: code one vector width narrower can at best touch it, while a
 * library on kernels for the machine's widest unit should clear it with room to spare (issue 12
 * measured 65–89% for OpenBLAS on SkylakeX and 76% for oneDNN at n = 1024 on an AVX-512 Xeon).
 * Smaller products can be dominated by call, packing and edge overhead, so the measured part of
 * the rule waits for n >= PW_BASELINE_FLOOR_MIN_N (a design choice; docs/kernels.md). */
#define PW_BASELINE_FLOOR 0.5
#define PW_BASELINE_FLOOR_MIN_N 256

typedef struct {
    const char *library;   /* "OpenBLAS", "BLIS", "oneDNN" */
    const char *variant;   /* its variant name: "openblas" */
    const char *code;      /* what it runs: "core Prescott", "kernel set haswell", "ISA avx2" */
    double gflops;         /* median at the size judged (NAN when not measured) */
    long n;                /* that size (below PW_BASELINE_FLOOR_MIN_N only the ISA bound judges) */
    int floats;            /* its vector width in floats, 0 when unknown */
    bool fma;
} pw_baseline_obs;

typedef struct {
    double peak;           /* measured GFLOP/s of one core (NAN when not measured) */
    const char *peak_isa;  /* the vector unit the peak was measured on: "avx512", "avx2", "scalar" */
    const char *widest;    /* the widest usable unit (pw_cpu_widest_isa) */
    int widest_floats;     /* its floats per vector (pw_cpu_widest_floats) */
    double floor;          /* PW_BASELINE_FLOOR, or another fraction in (0, 1] */
} pw_baseline_machine;

/* Judges o on m: returns true when the library is handicapped and then writes one sentence
 * naming the library, what it runs, its fraction of the peak and the floor into msg; *fraction
 * receives the measured fraction (NAN when either value is missing).  Pure. */
bool pw_baseline_judge(const pw_baseline_obs *o, const pw_baseline_machine *m, char *msg,
                       size_t size, double *fraction);

#endif
