/* bench.h — the in-process measurement loop: calibration, warm-up, interleaved rounds and
 * adaptive stopping over a set of variants, keeping every raw sample; plus helpers that publish
 * timings, rates and speedups (with bootstrap intervals) into a result.
 *
 * Typical use inside an experiment:
 *
 *     pw_bench_config cfg;
 *     pw_bench_config_default(&cfg, pw_run_quick(run));
 *     pw_bench *b = pw_bench_new(&cfg);
 *     size_t a = pw_bench_add(b, "naive.n256", run_naive, &ctx);
 *     size_t o = pw_bench_add(b, "openblas.n256", run_blas, &ctx);
 *     if (pw_bench_run(b) == PW_OK) {
 *         pw_bench_publish_rate(b, a, res, "gflops.naive.n256", 2.0 * n * n * n / 1e9, "GFLOP/s");
 *         pw_bench_publish_speedup(b, o, a, res, "speedup.openblas_vs_naive.n256");
 *     }
 *     pw_bench_free(b);
 */
#ifndef PERFWEAVE_BENCH_H
#define PERFWEAVE_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "perfweave/result.h"

/* The workload: performs the operation iters times (the calibrated inner loop). */
typedef void (*pw_bench_fn)(void *arg, uint64_t iters);

typedef struct {
    double target_rel_ci;      /* stop when every median's 95% CI half-width <= this × median (0.01) */
    double max_seconds;        /* time budget for the whole set, warm-up and calibration included */
    double min_sample_seconds; /* calibrate iters so one sample lasts at least this long */
    size_t min_samples;        /* per variant, before stopping is considered */
    size_t max_samples;        /* per variant, hard cap */
    double warmup_seconds;     /* per variant, at most; warm-up ends early once timings settle */
    uint64_t seed;             /* seed of the bootstrap and of the rounds' order (reproducible) */
    double tail_seconds;       /* when variants limited by pw_bench_limit_rounds leave, the others
                                  get at least this much longer, past max_seconds if need be (0) */
    int quick;                 /* set by pw_bench_config_default: named in too-few-samples reasons */
} pw_bench_config;

/* The fewest samples (paired rounds, for a speedup) from which a published interval may decide a
 * claim.  The distribution-free interval of a median needs 6: with n = 6 its widest form
 * [x(1), x(6)] covers 1 − 2·2⁻⁶ = 96.9%, with n = 5 only 93.75%, and the bootstrap used below
 * that covers even less.  A metric published from fewer samples is shown with its interval but
 * marked undecidable ("too_few_samples", result.h), so a claim point on it is UNDECIDED. */
#define PW_BENCH_MIN_DECIDING 6

/* Defaults for a full run, or for --quick when quick is true. */
void pw_bench_config_default(pw_bench_config *cfg, int quick);

typedef struct pw_bench pw_bench;

pw_bench *pw_bench_new(const pw_bench_config *cfg);
void pw_bench_free(pw_bench *b);
/* Registers a variant (name copied); returns its index. */
size_t pw_bench_add(pw_bench *b, const char *name, pw_bench_fn fn, void *arg);
/* Variant i leaves the rotation after `rounds` rounds (raised to cfg.min_samples if below it):
 * for a variant so slow that it would take every round's time, while the comparisons among the
 * others need more rounds than it can afford.  Sample j of every variant still comes from round
 * j, so pw_bench_publish_speedup, which pairs the rounds both variants took, stays paired.  The
 * stopping rule then looks at the variants still in rotation; cfg.tail_seconds gives them time
 * of their own once the limited ones have left.  0 removes the limit. */
void pw_bench_limit_rounds(pw_bench *b, size_t i, size_t rounds);
/* Calibrates, warms up and samples all variants interleaved in rounds (every variant once per
 * round, in an order drawn at random each round from cfg.seed, so reproducible) until each
 * median's interval meets the target or the budget is spent.
 * min_samples is a floor honoured even past the budget (an experiment whose single iteration is
 * slow must choose its sizes accordingly).  The stopping rule uses the order-statistic interval
 * of the median (cheap); published intervals are seeded bootstraps.  Returns PW_OK. */
int pw_bench_run(pw_bench *b);

size_t pw_bench_count(const pw_bench *b);
const char *pw_bench_name(const pw_bench *b, size_t i);
/* Wall-clock seconds per single iteration, one entry per sample; borrowed, *n set. */
const double *pw_bench_samples(const pw_bench *b, size_t i, size_t *n);
/* CPU seconds per single iteration, one entry per sample; borrowed, *n set. */
const double *pw_bench_cpu_samples(const pw_bench *b, size_t i, size_t *n);
/* Iterations per sample chosen by calibration. */
uint64_t pw_bench_iters(const pw_bench *b, size_t i);
/* "converged" when every interval met the target, "budget" when time ran out first,
 * "max_samples" when the per-variant cap came first, "rounds" when every variant had left
 * after its pw_bench_limit_rounds ("not run" before pw_bench_run). */
const char *pw_bench_stop_reason(const pw_bench *b);

/* The publishers below mark the metric undecidable ("too_few_samples") when it rests on fewer
 * than PW_BENCH_MIN_DECIDING samples (rounds).
 * Publishes scale × median seconds (e.g. scale 1e3 and unit "ms") with its bootstrap interval. */
int pw_bench_publish_time(const pw_bench *b, size_t i, pw_result *r, const char *metric,
                          double scale, const char *unit);
/* Publishes work / median seconds (e.g. GFLOP per iteration → GFLOP/s) with its interval. */
int pw_bench_publish_rate(const pw_bench *b, size_t i, pw_result *r, const char *metric,
                          double work, const char *unit);
/* How pw_bench_publish_speedup computes a speedup and its interval, in the words every caption,
 * legend and note uses (from fewer than PW_BENCH_MIN_DECIDING paired rounds it falls back to the
 * ratio of the medians with a bootstrap interval, marked undecidable, and the metric's method
 * says so). */
#define PW_BENCH_SPEEDUP_METHOD \
    "median of the paired per-round time ratios, 95% order-statistic interval"
/* Publishes the speedup slow / fast, unit "×": from PW_BENCH_MIN_DECIDING paired rounds the
 * median of the per-round ratios with its order-statistic interval; below that (quick mode)
 * median(slow) / median(fast) with a bootstrap interval, marked undecidable. */
int pw_bench_publish_speedup(const pw_bench *b, size_t fast, size_t slow, pw_result *r,
                             const char *metric);
/* Stores every variant's raw samples in r under "<prefix><variant name>" (wall seconds per
 * iteration) and "<prefix><variant name>.cpu" (CPU seconds), and records the set — rounds,
 * stopping reason, target, budget, clock, and each variant's CV and the precision its median
 * reached — with pw_result_bench_set (result.h), from which the report summarises the
 * measurement quality of the experiment (a CV above 5% counts as noisy). */
void pw_bench_record(const pw_bench *b, pw_result *r, const char *prefix);

/* A known amount of pure work for testing the measurement itself: a dependent chain of `work`
 * multiply-adds per iteration (compute-bound, no memory traffic, time proportional to work;
 * nothing for the compiler to elide, the result goes through a volatile).  Pass a pw_busy_job as
 * the argument of pw_busy_run. */
typedef struct {
    unsigned long work;
    volatile double sink;
} pw_busy_job;
void pw_busy_run(void *arg, uint64_t iters);

/* Monotonic wall-clock seconds and process CPU seconds. */
double pw_now(void);
double pw_cpu_now(void);

#endif
