/* baseline.h — what experiments do with library baselines (baselines.h): name the fastest library
 * at each size (the derived variant `library`), judge every library against the sanity floor and
 * mark each comparison with a handicapped one as undecidable, and record the libraries as the
 * measuring process ran them. */
#ifndef PERFWEAVE_EXPERIMENTS_BASELINE_H
#define PERFWEAVE_EXPERIMENTS_BASELINE_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

#include "perfweave/bench.h"
#include "perfweave/mlp.h"
#include "perfweave/result.h"

/* Whether variant names a library baseline: "openblas", "blis" or "onednn". */
bool pw_baseline_is_library(const char *variant);
/* The library's name for the reader: "OpenBLAS", "BLIS", "oneDNN" (variant itself otherwise). */
const char *pw_baseline_library_name(const char *variant);

/* Among count published metrics (names in metrics, one label each), the one with the highest
 * median (lowest when higher_is_better is false: times) is copied as metric `derived` (value,
 * interval, unit, sample basis) and its label recorded in the result's extra[key][suffix].
 * Returns its index, or -1 when none of the metrics exists. */
int pw_baseline_pick_fastest(pw_result *r, const char *const *metrics, const char *const *labels,
                             size_t count, bool higher_is_better, const char *derived,
                             const char *key, const char *suffix);

/* After one size n was measured and every variant's gflops.<v>.n<n> published: the library
 * variant (among those with ran[v]) with the highest median is `library` at n.  Publishes
 * gflops.library.nN (that variant's metric), speedup.X_vs_library.nN for every other variant X
 * that ran and is not a library (from the same bench samples, like any pair), and records the
 * choice in the result's extra "library": { "nN": variant }.  Appends the row "n | library = X |
 * GFLOP/s (CI)" to gt and "n | Y vs library (= X) | speedup (CI)" rows to st, each when non-NULL.
 * Returns the index in vars of the variant chosen, or -1 when no library ran at n. */
int pw_baseline_publish_library(const pw_bench *b, pw_result *r, long n, const char *const *vars,
                                const bool *ran, const size_t *idx, size_t nvars, pw_table *gt,
                                pw_table *st);

/* The gflops table's row for `library` at n — "n | library = X | the fastest library at this n |
 * GFLOP/s (CI)" — from what pw_baseline_publish_library recorded in r; nothing when no library
 * was chosen at n.  For an experiment that fills its table after all sizes were measured. */
void pw_baseline_library_row(pw_result *r, pw_table *gt, long n);

/* The variant pw_baseline_publish_library chose as `library` at n (borrowed from r), or NULL. */
const char *pw_baseline_library_at(const pw_result *r, long n);

/* After every size: each library variant in vars that was measured is judged against the sanity
 * floor (pw_baseline_judge) on its best GFLOP/s among sizes >= PW_BASELINE_FLOOR_MIN_N (a tuned
 * library clears the floor at its best size, so one disturbed size cannot condemn it; the
 * largest size is always among them), with the machine's widest peak, read from the metric
 * "peak.fma.<widest ISA>" when the experiment published it and from "peak.fma" (measured on
 * AVX2+FMA, or portable code) otherwise.  A handicapped library gets a sentence in the result's
 * "baseline_warnings" array, and every metric comparing against it — speedup.*_vs_<v>.* and
 * speedup.<v>_vs_*.*, and the `library` pairs at each size where it was the library — is marked
 * undecidable with code "baseline" and that sentence (handicap.h's pw_handicap_mark); the
 * judgement is recorded (pw_handicap_judged) for the weave to carry into every other result
 * that compares against the same library on the same machine.  Records each library's
 * description (baselines.h, as this process runs it) in the result's extra "libraries" and the
 * side `library` (pw_handicap_add_side).  Returns the number of handicapped libraries. */
int pw_baseline_check_floor(pw_result *r, const char *const *vars, size_t nvars,
                            const long *sizes, size_t nsizes);

/* ISA-only form of the floor for experiments that measure no peak (quantization's layer shapes
 * are too small for the measured part; pruning's dense passes): each library in vars whose
 * vector code cannot reach the floor is handicapped, and its comparisons — directly, and through
 * alias (when not NULL) at the suffixes where extra[alias_key] names it (an object suffix →
 * variant, or one variant for all) — are marked as by pw_handicap_mark.  Records the
 * descriptions in extra "libraries" and the side (pw_handicap_add_side), so that a judgement
 * measured elsewhere in the report is carried here too (handicap.h), and its own judgements
 * (pw_handicap_judged).  Returns the number of handicapped libraries. */
int pw_baseline_check_code(pw_result *r, const char *const *vars, size_t nvars, const char *alias,
                           const char *alias_key);

/* The fp32 libraries this process can call for C = A·Bᵀ (mlp.h's pw_mlp_gemm_fn): OpenBLAS
 * always, BLIS and oneDNN when they open here; names[i] their variant names.  A library that
 * does not open is named with its reason in why (a sentence, "" when all opened).  Returns the
 * count (at most 3). */
size_t pw_baseline_fp32_libraries(const char *names[3], pw_mlp_gemm_fn fns[3], char *why,
                                  size_t whysize);
/* Checks fn on one m × n × k product C = A·Bᵀ (seeded operands, padded leading dimensions, C
 * poisoned first) against a double-precision loop within γ_k·(|A||B|ᵀ) (matmul.h's bound).
 * PW_OK, or PW_ERANGE with "<name> fails … at m=… n=… k=…" in msg. */
int pw_baseline_check_nt(pw_mlp_gemm_fn fn, const char *name, size_t m, size_t n, size_t k,
                         uint64_t seed, char *msg, size_t size);

/* One note naming what each library variant in vars ran: the OpenBLAS summary sentence, BLIS's
 * version and kernel set, oneDNN's version, ISA and threads. */
void pw_baseline_note(pw_result *r, const char *const *vars, size_t nvars);

#endif
