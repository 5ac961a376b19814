/* result.h — what an experiment produces: metrics with 95% intervals, raw samples, tables,
 * charts, notes and an error status, held as one JSON document (schema PW_RESULT_SCHEMA).
 *
 * Experiments build a result through these calls (in the child process); the weave reads it
 * back (from the child's pipe, the cache or a fixture) to render tables, charts, inline numbers
 * and claim verdicts.  The JSON layout is documented in docs/architecture.md. */
#ifndef PERFWEAVE_RESULT_H
#define PERFWEAVE_RESULT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define PW_RESULT_SCHEMA 1

typedef struct pw_result pw_result;
typedef struct pw_table pw_table;
typedef struct pw_chart pw_chart;
typedef struct pw_series pw_series;

/* A metric as read back: value with a 95% interval [lo, hi] (lo == hi == value when exact). */
typedef struct {
    const char *name;  /* borrowed from the result */
    double value, lo, hi;
    const char *unit;  /* borrowed; "" when dimensionless */
    double n;          /* samples behind the estimate, or 0 when not from samples */
    double cv;         /* coefficient of variation of those samples, or NAN */
    const char *undecidable_why;    /* NULL, or why this metric may not decide a claim (a code, */
    const char *undecidable_reason; /* see pw_result_metric_undecidable) and a sentence; borrowed */
    const char *fixed_sample;       /* NULL, or why more samples cannot narrow the interval */
    const char *method;             /* NULL, or how the estimate and its interval were computed */
} pw_metric;

/* json_load_file(path, flags, err) without its character-at-a-time stdio reads (a locked getc
 * per byte: two thirds of a prose-only re-render went there, reading the archive): the file is
 * read whole, then parsed with json_loadb.  The same contract: a new reference, or NULL with
 * *err (when given) saying why — unreadable ("unable to open PATH: reason", line -1) or invalid
 * JSON (jansson's message, line and column). */
json_t *pw_json_load_file(const char *path, size_t flags, json_error_t *err);

/* A new, empty result for the experiment and directive id; the caller frees it. */
pw_result *pw_result_new(const char *experiment, const char *id);
/* Wraps a parsed document (takes a new reference to doc); NULL with *err set (static string)
 * when doc is not a result of a known schema.  The caller frees the result. */
pw_result *pw_result_from_json(json_t *doc, const char **err);
void pw_result_free(pw_result *r);
/* The underlying document, borrowed: valid until r is freed. */
json_t *pw_result_json(const pw_result *r);

const char *pw_result_experiment(const pw_result *r);
const char *pw_result_id(const pw_result *r);

/* --- status --------------------------------------------------------------------------------- */
/* Marks the result as an ERROR with a reason (printf-style); metrics already added are kept. */
void pw_result_error(pw_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool pw_result_failed(const pw_result *r);
/* The error reason, or NULL when the experiment ran; borrowed. */
const char *pw_result_error_reason(const pw_result *r);

/* --- metrics -------------------------------------------------------------------------------- */
/* Publishes a metric (name like "gflops.naive.n256") with its 95% interval and unit ("" for
 * none).  Re-publishing a name replaces it.  Returns PW_OK or PW_EINVAL for a NaN value or
 * lo > value or value > hi. */
int pw_result_metric(pw_result *r, const char *name, double value, double lo, double hi,
                     const char *unit);
/* An exact metric: its interval is the value itself (counts, bytes, true/false as 1/0). */
int pw_result_exact(pw_result *r, const char *name, double value, const char *unit);
/* Attaches the sample size and coefficient of variation behind an already published metric
 * (used for the minimum detectable effect).  Returns PW_ENOTFOUND for an unknown name. */
int pw_result_metric_basis(pw_result *r, const char *name, double n, double cv);
/* Gives metric name the basis (n, cv), fixed-sample mark and undecidable mark (as
 * pw_result_metric_inherit) of metric from, for a metric derived from another (an error in % of
 * a ratio, a score of a speedup); cv is multiplied by cv_scale (the derived metric's relative
 * spread per unit of the source's; NAN keeps n only).  PW_ENOTFOUND when either name is unknown. */
int pw_result_metric_basis_from(pw_result *r, const char *name, const char *from, double cv_scale);
/* Marks metric name as resting on a fixed sample: measuring again cannot narrow its interval
 * (the accuracy on the one 10,000-image test set; a fit whose width comes from its residuals),
 * with a sentence saying why (printf-style).  A claim point on it that stays undecided gives
 * this sentence instead of a number of samples that would decide it (claims.h).  The metric
 * member is "fixed_sample": SENTENCE.  Returns PW_ENOTFOUND for an unknown name. */
int pw_result_metric_fixed_sample(pw_result *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* --- points that may not decide a claim ---------------------------------------------------- */
/* Every reason a measured value is shown but must not decide a claim shares one representation:
 * the metric carries "undecidable": {"why": CODE, "reason": SENTENCE}, and a claim point on it is
 * UNDECIDED with that code and sentence (claims.h), whatever its interval says.  Codes in use:
 *   "baseline"         the comparison is against a library running far below the machine's peak
 *   "too_few_samples"  the interval rests on fewer samples than its method needs
 *   "extreme"          an observed extreme (the smallest of several values), not an estimate
 *   "not_established"  a derived quantity the measurements do not establish (a crossover that
 *                      no interval confirms)
 *   "single_cpu"       a scaling figure on a machine with one usable CPU (nothing to split)
 *   "stale"            a previous result shown while the directive is re-measured (exec.h)
 *   "disturbed"        the measurement was disturbed (set for a whole result, below)
 * Marks metric name so (the sentence is printf-style).  Returns PW_ENOTFOUND for an unknown
 * name, PW_EINVAL for an empty code. */
int pw_result_metric_undecidable(pw_result *r, const char *name, const char *why,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A metric computed from another (an overhead from a speedup, a score from a latency) inherits
 * what stops that one deciding: when from is marked undecidable, name gets the same code and
 * sentence.  Returns PW_OK (also when from is not marked) or PW_ENOTFOUND for an unknown name. */
int pw_result_metric_inherit(pw_result *r, const char *name, const char *from);
/* Marks the whole result as disturbed (contention during its measurement, with the sentence
 * saying what was seen): none of its sampled metrics decides a claim (code "disturbed"; exact
 * values such as counts still do), and the result must not be cached as a clean measurement.
 * Calling it again replaces the sentence. */
void pw_result_set_disturbed(pw_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The disturbed sentence, or NULL when the result was not marked; borrowed. */
const char *pw_result_disturbed(const pw_result *r);

/* Looks a metric up; returns PW_OK and fills *out, or PW_ENOTFOUND. */
int pw_result_get_metric(const pw_result *r, const char *name, pw_metric *out);
/* Number of metrics and the i-th in publication order. */
size_t pw_result_metric_count(const pw_result *r);
int pw_result_metric_at(const pw_result *r, size_t i, pw_metric *out);

/* --- raw data, notes ------------------------------------------------------------------------ */
/* Keeps raw samples (e.g. seconds per iteration) under a name, copied. */
void pw_result_samples(pw_result *r, const char *name, const double *x, size_t n);
/* A sentence for the report below the experiment's output (plain text, escaped when rendered). */
void pw_result_note(pw_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A measurement-quality warning (noise, budget exhausted, …), shown highlighted. */
void pw_result_warning(pw_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Free-form JSON an experiment keeps for its own needs (steals the reference to value). */
void pw_result_set_extra(pw_result *r, const char *key, json_t *value);

/* --- how a value was estimated, and how well the timings were sampled ----------------------- */
/* Says how metric name and its interval were computed, for a reader (a tooltip, a caption):
 * "median of 25 paired per-round ratios; 95% order-statistic interval" (printf-style).  The
 * metric member is "method": SENTENCE.  Returns PW_ENOTFOUND for an unknown name. */
int pw_result_metric_method(pw_result *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One set of variants timed together (one pw_bench run, bench.h), as the report's summary of
 * measurement quality reads it.  Appended to the member "bench_sets", an array of
 *   { "rounds": n, "variants": V, "stop": "converged"|"budget"|"max_samples"|"rounds",
 *     "target": the median's relative 95% half-width asked for, "budget_s": s,
 *     "cv_limit": the CV above which timings count as noisy,
 *     "resolution_s": s, "overhead_s": s (the clock, as measured),
 *     "timings": [ { "name": variant, "n": samples (fewer than rounds when it left early),
 *                    "cv": fraction | null,
 *                    "rel_ci": the median's relative 95% half-width reached, or null when no
 *                              interval could be formed from so few samples } ] }
 * Numbers that are not finite are stored as null. */
typedef struct {
    size_t rounds;
    const char *stop;
    double target, budget_s, cv_limit, resolution_s, overhead_s;
} pw_bench_set_info;
typedef struct {
    const char *name;
    size_t n;
    double cv;      /* NAN when n < 2 */
    double rel_ci;  /* NAN or infinite when no interval could be formed */
} pw_bench_timing_info;
void pw_result_bench_set(pw_result *r, const pw_bench_set_info *set,
                         const pw_bench_timing_info *timings, size_t n);

/* --- tables --------------------------------------------------------------------------------- */
/* A table named name (used by a directive's `table:` key) with a caption and column headers.
 * Cells are plain text, escaped at render time.  Borrowed: lives as long as r. */
pw_table *pw_result_table(pw_result *r, const char *name, const char *caption,
                          size_t ncols, const char *const *headers);
/* Appends one row of ncols cells (copied). */
void pw_table_row(pw_table *t, const char *const *cells);
/* Appends one row given as printf-style cells separated by '\t' in the formatted text. */
void pw_table_rowf(pw_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- charts --------------------------------------------------------------------------------- */
/* PW_CHART_INTX: x takes whole values only (an index such as the archived run's position): the
 * axis ticks whole numbers and reaches half a step past the first and the last. */
enum { PW_CHART_LOGX = 1u << 0, PW_CHART_LOGY = 1u << 1, PW_CHART_BARS = 1u << 2, PW_CHART_INTX = 1u << 3 };

/* A chart named name (used by a directive's `chart:` key).  Borrowed: lives as long as r. */
pw_chart *pw_result_chart(pw_result *r, const char *name, const char *caption,
                          const char *xlabel, const char *ylabel, unsigned flags);
/* A series (one line in the legend).  Borrowed: lives as long as r. */
pw_series *pw_chart_series(pw_chart *c, const char *label);
/* Adds a point; lo and hi bound the 95% interval drawn as an error bar (NAN for none). */
void pw_series_point(pw_series *s, double x, double y, double lo, double hi);
/* A labelled horizontal reference line (a ceiling such as the measured peak). */
void pw_chart_hline(pw_chart *c, const char *label, double y);
/* A labelled vertical reference line (a cache size, a crossover). */
void pw_chart_vline(pw_chart *c, const char *label, double x);

#endif
