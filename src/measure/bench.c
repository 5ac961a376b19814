/* bench.c — the in-process measurement loop (see bench.h): clock characterisation, calibration
 * of the inner loop, warm-up until timings settle, interleaved rounds in a random order drawn
 * afresh each round, an adaptive stopping rule on the median's interval, and publishing helpers. */
#include "perfweave/bench.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perfweave/common.h"
#include "perfweave/stats.h"

#define SETTLE_REL 0.02     /* warm-up ends when successive timings agree within 2% … */
#define SETTLE_RUNS 2       /* … this many times in a row */
#define WARMUP_MAX_RUNS 50  /* and never runs more than this many warm-up samples */
#define NOISY_CV 0.05       /* a CV above this counts as noisy in the report's summary */
#define CLOCK_FACTOR 1000.0 /* a sample lasts >= this × max(clock resolution, call overhead) */

typedef struct {
    char *name;
    pw_bench_fn fn;
    void *arg;
    uint64_t iters;
    double *wall, *cpu; /* seconds per iteration, one per sample */
    size_t n, cap;
    double rel_ci;      /* last median 95% half-width / median (order-statistic), or INFINITY */
    size_t max_rounds;  /* leaves the rotation after this many rounds (0: stays to the end) */
    double calib_wall;  /* seconds of calibration's last call, at the final iters (or -1) */
} variant;

struct pw_bench {
    pw_bench_config cfg;
    variant *v;
    size_t nv, capv;
    const char *stop_reason;
    double resolution, overhead, sample_target;
    size_t rounds;
    uint64_t order_state; /* the random order of the rounds, from cfg.seed */
};

double pw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double pw_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void pw_bench_config_default(pw_bench_config *cfg, int quick)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->target_rel_ci = 0.01;
    cfg->seed = 20261129;
    cfg->quick = quick != 0;
    if (quick) {
        cfg->max_seconds = 0.3;
        cfg->min_sample_seconds = 0.001;
        cfg->min_samples = PW_BENCH_MIN_DECIDING; /* so a budget-limited quick bench can decide */
        cfg->max_samples = 200;
        cfg->warmup_seconds = 0.02;
    } else {
        cfg->max_seconds = 2.5;
        cfg->min_sample_seconds = 0.005;
        cfg->min_samples = 20;
        cfg->max_samples = 2000;
        cfg->warmup_seconds = 0.1;
    }
}

pw_bench *pw_bench_new(const pw_bench_config *cfg)
{
    pw_bench *b = pw_xcalloc(1, sizeof *b);
    if (cfg) b->cfg = *cfg;
    else pw_bench_config_default(&b->cfg, 0);
    if (b->cfg.min_samples < 2) b->cfg.min_samples = 2;
    if (b->cfg.max_samples < b->cfg.min_samples) b->cfg.max_samples = b->cfg.min_samples;
    b->stop_reason = "not run";
    return b;
}

void pw_bench_free(pw_bench *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->nv; i++) {
        free(b->v[i].name);
        free(b->v[i].wall);
        free(b->v[i].cpu);
    }
    free(b->v);
    free(b);
}

size_t pw_bench_add(pw_bench *b, const char *name, pw_bench_fn fn, void *arg)
{
    if (b->nv == b->capv) {
        b->capv = b->capv ? 2 * b->capv : 4;
        b->v = pw_xrealloc(b->v, b->capv * sizeof *b->v);
    }
    variant *v = &b->v[b->nv];
    memset(v, 0, sizeof *v);
    v->name = pw_xstrdup(name);
    v->fn = fn;
    v->arg = arg;
    v->iters = 1;
    v->rel_ci = INFINITY;
    return b->nv++;
}

void pw_bench_limit_rounds(pw_bench *b, size_t i, size_t rounds)
{
    if (i < b->nv) b->v[i].max_rounds = rounds;
}

/* Smallest observed step of the monotonic clock and the mean cost of one reading. */
static void characterise_clock(pw_bench *b)
{
    double res = INFINITY;
    for (int k = 0; k < 20; k++) {
        double t0 = pw_now(), t1;
        while ((t1 = pw_now()) == t0) {}
        if (t1 - t0 < res) res = t1 - t0;
    }
    enum { CALLS = 1000 };
    double t0 = pw_now();
    for (int k = 0; k < CALLS; k++) (void)pw_now();
    double over = (pw_now() - t0) / CALLS;
    b->resolution = res;
    b->overhead = over;
    double floor_s = CLOCK_FACTOR * (res > over ? res : over);
    b->sample_target = b->cfg.min_sample_seconds > floor_s ? b->cfg.min_sample_seconds : floor_s;
}

/* One timed call of fn(arg, iters): wall and CPU seconds for the whole call. */
static void time_call(const variant *v, uint64_t iters, double *wall, double *cpu)
{
    double c0 = pw_cpu_now();
    double t0 = pw_now();
    v->fn(v->arg, iters);
    double t1 = pw_now();
    double c1 = pw_cpu_now();
    *wall = t1 - t0;
    *cpu = c1 - c0;
}

/* Grows iters until one call lasts at least the sample target (or the budget is gone).  The last
 * call ran at the final iters: its time is kept for the warm-up. */
static void calibrate(pw_bench *b, variant *v, double deadline)
{
    uint64_t iters = 1;
    v->calib_wall = -1;
    for (;;) {
        double wall, cpu;
        time_call(v, iters, &wall, &cpu);
        v->calib_wall = wall;
        if (wall >= b->sample_target || pw_now() > deadline) break;
        double grow = wall > 0 ? 1.2 * b->sample_target / wall : 100;
        if (grow < 2) grow = 2;
        if (grow > 100) grow = 100;
        if ((double)iters * grow > 1e15) break;
        iters = (uint64_t)ceil((double)iters * grow);
    }
    v->iters = iters;
}

/* Runs calibrated samples until two successive timings agree within SETTLE_REL SETTLE_RUNS times
 * in a row, or the warm-up time is spent.  Calibration's last call, at the same iters, is the
 * first of them: a variant whose one call outlasts the warm-up time (a scalar loop at n = 1024,
 * 0.7 s) was warmed up by it and gets no extra untimed call. */
static void warm_up(const pw_bench *b, const variant *v, double deadline)
{
    double prev = v->calib_wall, start = pw_now() - (prev > 0 ? prev : 0);
    int settled = 0;
    if (prev >= b->cfg.warmup_seconds) return;
    for (int k = 0; k < WARMUP_MAX_RUNS; k++) {
        double wall, cpu;
        time_call(v, v->iters, &wall, &cpu);
        if (prev > 0) {
            double lo = wall < prev ? wall : prev;
            settled = lo > 0 && fabs(wall - prev) / lo <= SETTLE_REL ? settled + 1 : 0;
            if (settled >= SETTLE_RUNS) break;
        }
        prev = wall;
        double now = pw_now();
        if (now - start >= b->cfg.warmup_seconds || now > deadline) break;
    }
}

static void add_sample(variant *v, double wall, double cpu)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->wall = pw_xrealloc(v->wall, v->cap * sizeof *v->wall);
        v->cpu = pw_xrealloc(v->cpu, v->cap * sizeof *v->cpu);
    }
    v->wall[v->n] = wall / (double)v->iters;
    v->cpu[v->n] = cpu / (double)v->iters;
    v->n++;
}

/* splitmix64 (Steele, Lea, Flood 2014): a reproducible stream for the order of the rounds. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A uniformly random permutation of the n entries of order, in place (Fisher–Yates). */
static void shuffle(uint64_t *state, size_t *order, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(next_random(state) % i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* Relative half-width of the order-statistic 95% interval of v's median (INFINITY when n is too
 * small).  Bootstrap intervals are for publishing; this one is cheap enough for every round. */
static double median_rel_ci(const variant *v, double *scratch)
{
    memcpy(scratch, v->wall, v->n * sizeof *scratch);
    gsl_sort(scratch, 1, v->n);
    double ci[2], med = gsl_stats_median_from_sorted_data(scratch, 1, v->n);
    if (pw_stats_median_ci_order(scratch, v->n, 0.95, ci) != PW_OK || !(med > 0)) return INFINITY;
    return (ci[1] - ci[0]) / 2 / med;
}

int pw_bench_run(pw_bench *b)
{
    if (b->nv == 0) {
        b->stop_reason = "converged";
        return PW_OK;
    }
    double start = pw_now(), deadline = start + b->cfg.max_seconds;
    for (size_t i = 0; i < b->nv; i++) {
        b->v[i].n = 0; /* a second run starts afresh */
        b->v[i].rel_ci = INFINITY;
    }
    characterise_clock(b);
    for (size_t i = 0; i < b->nv; i++) calibrate(b, &b->v[i], deadline);
    for (size_t i = 0; i < b->nv; i++) warm_up(b, &b->v[i], deadline);

    double *scratch = pw_xmalloc(b->cfg.max_samples * sizeof *scratch);
    size_t *order = pw_xmalloc(b->nv * sizeof *order);
    bool *active = pw_xmalloc(b->nv * sizeof *active);
    for (size_t i = 0; i < b->nv; i++) {
        /* A limited variant still gives the floor of rounds every published interval assumes. */
        if (b->v[i].max_rounds && b->v[i].max_rounds < b->cfg.min_samples)
            b->v[i].max_rounds = b->cfg.min_samples;
        active[i] = true;
    }
    size_t nactive = b->nv;
    b->order_state = b->cfg.seed ^ 0x6f72646572ULL; /* "order" */
    b->rounds = 0;
    for (;;) {
        /* One round: every variant still in the rotation once, in an order drawn at random for
         * this round.  A fixed rotation (A B, B A, A B, …) lets a disturbance with a period of
         * about two rounds (a hypervisor's time slices) hit the same variant round after round,
         * and the per-round ratios then lean one way; with the order a fair coin per round, under
         * "no difference" each ratio is above or below 1 with probability ½ whatever the noise,
         * which is exactly what the order-statistic interval assumes (docs/methodology.md,
         * bench/simulate.c). */
        size_t k = 0;
        for (size_t i = 0; i < b->nv; i++)
            if (active[i]) order[k++] = i;
        shuffle(&b->order_state, order, nactive);
        for (k = 0; k < nactive; k++) {
            variant *v = &b->v[order[k]];
            double wall, cpu;
            time_call(v, v->iters, &wall, &cpu);
            add_sample(v, wall, cpu);
        }
        b->rounds++;
        if (b->rounds < b->cfg.min_samples) continue;
        /* Limited variants leave after their rounds (sample i of every variant still comes from
         * round i, so a ratio over the common rounds stays paired); the ones that stay get at
         * least cfg.tail_seconds more, past the budget if need be. */
        bool left = false;
        for (size_t i = 0; i < b->nv; i++) {
            if (!active[i] || !b->v[i].max_rounds || b->rounds < b->v[i].max_rounds) continue;
            b->v[i].rel_ci = median_rel_ci(&b->v[i], scratch);
            active[i] = false;
            nactive--;
            left = true;
        }
        if (left && b->cfg.tail_seconds > 0 && pw_now() + b->cfg.tail_seconds > deadline)
            deadline = pw_now() + b->cfg.tail_seconds;
        if (nactive == 0) {
            b->stop_reason = "rounds";
            break;
        }
        int converged = 1;
        for (size_t i = 0; i < b->nv; i++) {
            if (!active[i]) continue;
            b->v[i].rel_ci = median_rel_ci(&b->v[i], scratch);
            if (!(b->v[i].rel_ci <= b->cfg.target_rel_ci)) converged = 0;
        }
        if (converged) {
            b->stop_reason = "converged";
            break;
        }
        if (b->rounds >= b->cfg.max_samples) {
            b->stop_reason = "max_samples";
            break;
        }
        if (pw_now() >= deadline) {
            b->stop_reason = "budget";
            break;
        }
    }
    free(active);
    free(order);
    free(scratch);
    return PW_OK;
}

size_t pw_bench_count(const pw_bench *b)
{
    return b->nv;
}

const char *pw_bench_name(const pw_bench *b, size_t i)
{
    return i < b->nv ? b->v[i].name : NULL;
}

const double *pw_bench_samples(const pw_bench *b, size_t i, size_t *n)
{
    if (i >= b->nv) {
        *n = 0;
        return NULL;
    }
    *n = b->v[i].n;
    return b->v[i].wall;
}

const double *pw_bench_cpu_samples(const pw_bench *b, size_t i, size_t *n)
{
    if (i >= b->nv) {
        *n = 0;
        return NULL;
    }
    *n = b->v[i].n;
    return b->v[i].cpu;
}

uint64_t pw_bench_iters(const pw_bench *b, size_t i)
{
    return i < b->nv ? b->v[i].iters : 0;
}

const char *pw_bench_stop_reason(const pw_bench *b)
{
    return b->stop_reason;
}

/* A seed per (bench seed, variant) so that two publications of one variant agree. */
static uint64_t seed_for(const pw_bench *b, size_t i)
{
    return b->cfg.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)i + 1;
}

/* Marks metric undecidable when it rests on fewer than PW_BENCH_MIN_DECIDING samples. */
static int sample_floor(const pw_bench *b, pw_result *r, const char *metric, size_t n)
{
    if (n >= PW_BENCH_MIN_DECIDING) return PW_OK;
    return pw_result_metric_undecidable(r, metric, "too_few_samples",
                                        "too few samples%s: %zu, fewer than the %d an interval "
                                        "needs to decide a claim", b->cfg.quick ? " (quick mode)" : "",
                                        n, PW_BENCH_MIN_DECIDING);
}

int pw_bench_publish_time(const pw_bench *b, size_t i, pw_result *r, const char *metric,
                          double scale, const char *unit)
{
    if (i >= b->nv || !(scale > 0)) return PW_EINVAL;
    pw_summary s;
    int rc = pw_stats_summarize(b->v[i].wall, b->v[i].n, seed_for(b, i), &s);
    if (rc != PW_OK) return rc;
    rc = pw_result_metric(r, metric, scale * s.median, scale * s.ci95_median[0],
                          scale * s.ci95_median[1], unit);
    if (rc == PW_OK) rc = pw_result_metric_basis(r, metric, (double)s.n, s.cv);
    if (rc == PW_OK) rc = sample_floor(b, r, metric, s.n);
    return rc;
}

int pw_bench_publish_rate(const pw_bench *b, size_t i, pw_result *r, const char *metric,
                          double work, const char *unit)
{
    if (i >= b->nv || !(work > 0)) return PW_EINVAL;
    pw_summary s;
    int rc = pw_stats_summarize(b->v[i].wall, b->v[i].n, seed_for(b, i), &s);
    if (rc != PW_OK) return rc;
    if (!(s.ci95_median[0] > 0)) return PW_ERANGE; /* a zero time has no rate */
    /* rate = work / time is decreasing in time: the interval's ends swap. */
    rc = pw_result_metric(r, metric, work / s.median, work / s.ci95_median[1],
                          work / s.ci95_median[0], unit);
    if (rc == PW_OK) rc = pw_result_metric_basis(r, metric, (double)s.n, s.cv);
    if (rc == PW_OK) rc = sample_floor(b, r, metric, s.n);
    return rc;
}

int pw_bench_publish_speedup(const pw_bench *b, size_t fast, size_t slow, pw_result *r,
                             const char *metric)
{
    if (fast >= b->nv || slow >= b->nv) return PW_EINVAL;
    const variant *f = &b->v[fast], *s = &b->v[slow];
    size_t n = f->n < s->n ? f->n : s->n;
    double ratio, ci[2];
    int rc;
    if (n >= PW_BENCH_MIN_DECIDING) {
        /* Sample i of every variant comes from round i, so slow[i] / fast[i] compares the two
         * under the same conditions: drift during the run cancels in each ratio.  The speedup is
         * the median of these per-round ratios, and its 95% interval the distribution-free
         * order-statistic interval of that median (exact coverage for independent rounds).  A
         * bootstrap of the two medians resampled independently ignores the pairing and covers
         * less than 95% at the 10-20 samples a converged benchmark stops at (docs/methodology.md,
         * bench/detect's A/A figures). */
        double *ratios = pw_xmalloc(n * sizeof *ratios);
        for (size_t i = 0; i < n; i++) ratios[i] = s->wall[i] / f->wall[i];
        gsl_sort(ratios, 1, n);
        ratio = gsl_stats_median_from_sorted_data(ratios, 1, n);
        rc = pw_stats_median_ci_order(ratios, n, 0.95, ci);
        free(ratios);
    } else {
        rc = pw_stats_ratio_median(s->wall, s->n, f->wall, f->n,
                                   seed_for(b, fast) ^ (seed_for(b, slow) << 1), 0.95, &ratio, ci);
    }
    if (rc != PW_OK) return rc;
    if (!isfinite(ci[0]) || !isfinite(ci[1])) return PW_ERANGE;
    if (ci[0] > ratio) ci[0] = ratio;
    if (ci[1] < ratio) ci[1] = ratio;
    rc = pw_result_metric(r, metric, ratio, ci[0], ci[1], "×");
    if (rc != PW_OK) return rc;
    if (n >= PW_BENCH_MIN_DECIDING)
        pw_result_metric_method(r, metric, "median of %zu paired per-round time ratios; 95%% "
                                "order-statistic interval", n);
    else
        pw_result_metric_method(r, metric, "ratio of the median times (%zu and %zu samples, too "
                                "few rounds to pair); 95%% bootstrap interval", s->n, f->n);
    /* Basis for the minimum detectable effect: the smaller sample and the root-mean-square CV of
     * the two, so that sqrt(2)·cv in the two-sample formula is sqrt(cv_fast² + cv_slow²). */
    double mf = gsl_stats_mean(f->wall, 1, f->n), ms = gsl_stats_mean(s->wall, 1, s->n);
    double cvf = gsl_stats_sd_m(f->wall, 1, f->n, mf) / mf;
    double cvs = gsl_stats_sd_m(s->wall, 1, s->n, ms) / ms;
    rc = pw_result_metric_basis(r, metric, (double)n, sqrt((cvf * cvf + cvs * cvs) / 2));
    if (rc == PW_OK) rc = sample_floor(b, r, metric, n);
    return rc;
}

void pw_bench_record(const pw_bench *b, pw_result *r, const char *prefix)
{
    if (!prefix) prefix = "";
    pw_bench_timing_info *t = pw_xcalloc(b->nv ? b->nv : 1, sizeof *t);
    for (size_t i = 0; i < b->nv; i++) {
        const variant *v = &b->v[i];
        char *name = pw_xasprintf("%s%s", prefix, v->name);
        pw_result_samples(r, name, v->wall, v->n);
        free(name);
        name = pw_xasprintf("%s%s.cpu", prefix, v->name);
        pw_result_samples(r, name, v->cpu, v->n);
        free(name);
        double cv = NAN;
        if (v->n >= 2) {
            double m = gsl_stats_mean(v->wall, 1, v->n);
            if (m > 0) cv = gsl_stats_sd_m(v->wall, 1, v->n, m) / m;
        }
        t[i] = (pw_bench_timing_info){v->name, v->n, cv, v->rel_ci};
    }
    /* One record per set, not a warning per variant: the report summarises them per experiment
     * (how many missed the target, the worst CV, why the set stopped) with the details folded. */
    pw_bench_set_info set = {b->rounds, b->stop_reason, b->cfg.target_rel_ci,
                             b->cfg.max_seconds, NOISY_CV, b->resolution, b->overhead};
    pw_result_bench_set(r, &set, t, b->nv);
    free(t);
}

void pw_busy_run(void *arg, uint64_t iters)
{
    pw_busy_job *j = arg;
    double x = 1.0;
    for (uint64_t it = 0; it < iters; it++)
        for (unsigned long i = 0; i < j->work; i++) x = x * 0.999999 + 1e-7;
    j->sink = x;
}
