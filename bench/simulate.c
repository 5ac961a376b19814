/* simulate.c — the bench loop's comparison method on synthetic machines (nothing is timed): why
 * short budgets inflate the A/A false-positive rate, and which change fixes it.
 *
 * A simulated machine turns CPU work into wall time through noise that evolves in (simulated)
 * time: white noise per sample, an Ornstein–Uhlenbeck process (noise correlated over tau), a
 * hypervisor that deschedules the vCPU for part of every period (steal, with a period of the
 * order of a round), and bursts of heavy-tailed delays.  On it the loop of src/measure/bench.c is
 * replayed exactly — calibration and warm-up as a fixed overhead, rounds of the two variants,
 * the order-statistic stopping rule on each median, the minimum number of rounds, the budget —
 * and a comparison is decided as pw_bench_publish_speedup does (the order-statistic 95% interval
 * of the median of the per-round ratios; "different" when it excludes 1).  Orders compared:
 *   rotate   the first variant rotates each round (A B, B A, A B, …): the bench before this study;
 *   random   each round's order drawn at random (a seeded coin per round): what bench.c does now.
 *
 * usage: simulate [--trials N] [--seed S]      prints one table per machine (docs/methodology.md). */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/scoring.h"
#include "perfweave/stats.h"

/* --- a synthetic machine ------------------------------------------------------------------- */
typedef struct {
    const char *name;
    double white;        /* sd of independent log noise of a 5 ms sample (scales as 1/sqrt(length)) */
    double ou_sd, ou_tau; /* OU log noise: stationary sd and correlation time (s) */
    double steal_period;  /* s; 0 = none.  Drawn per trial within ±spread */
    double steal_spread;  /* relative spread of the period across trials */
    double steal_off;     /* fraction of each period the vCPU is descheduled */
    double steal_jitter;  /* relative sd of each period's length (phase drift) */
    double burst_rate;    /* bursts per second; 0 = none */
    double burst_len;     /* mean burst length (s) */
    double burst_delay;   /* mean extra delay of a sample inside a burst (fraction) */
} machine;

typedef struct {
    const machine *m;
    gsl_rng *rng;
    double t;             /* simulated now */
    double ou, ou_t;      /* OU state and when it was last advanced */
    double period, next_off, off_len; /* steal: the next off interval [next_off, next_off+off_len) */
    bool in_burst;
    double burst_end, next_burst;
} world;

static void world_init(world *w, const machine *m, gsl_rng *rng)
{
    memset(w, 0, sizeof *w);
    w->m = m;
    w->rng = rng;
    w->ou = m->ou_sd > 0 ? gsl_ran_gaussian(rng, m->ou_sd) : 0;
    if (m->steal_period > 0) {
        w->period = m->steal_period * (1 + m->steal_spread * (2 * gsl_rng_uniform(rng) - 1));
        w->next_off = gsl_rng_uniform(rng) * w->period;
        w->off_len = m->steal_off * w->period;
    }
    w->next_burst = m->burst_rate > 0 ? gsl_ran_exponential(rng, 1 / m->burst_rate) : INFINITY;
}

static void advance_ou(world *w, double t)
{
    const machine *m = w->m;
    if (m->ou_sd <= 0 || t <= w->ou_t) return;
    double a = exp(-(t - w->ou_t) / m->ou_tau);
    w->ou = w->ou * a + m->ou_sd * sqrt(1 - a * a) * gsl_ran_gaussian(w->rng, 1);
    w->ou_t = t;
}

/* Wall seconds that `work` seconds of CPU take when started now; advances the world. */
static double run_work(world *w, double work)
{
    const machine *m = w->m;
    advance_ou(w, w->t);
    double white = m->white * sqrt(0.005 / work); /* independent jitter averages out over time */
    double f = exp(w->ou + (white > 0 ? gsl_ran_gaussian(w->rng, white) : 0));
    /* Bursts: a state switched by a Poisson process; inside, each sample is delayed. */
    while (w->t >= w->next_burst) {
        w->in_burst = true;
        w->burst_end = w->next_burst + gsl_ran_exponential(w->rng, m->burst_len);
        w->next_burst = w->burst_end + gsl_ran_exponential(w->rng, 1 / m->burst_rate);
    }
    if (w->in_burst && w->t >= w->burst_end) w->in_burst = false;
    if (w->in_burst) f *= 1 + gsl_ran_exponential(w->rng, m->burst_delay);
    double need = work * f, start = w->t;
    if (m->steal_period <= 0) {
        w->t += need;
        return need;
    }
    /* Steal: progress only outside the off intervals. */
    double t = w->t;
    while (need > 0) {
        if (t >= w->next_off + w->off_len) {
            double p = w->period * (1 + m->steal_jitter * gsl_ran_gaussian(w->rng, 1));
            if (p < 0.2 * w->period) p = 0.2 * w->period;
            w->next_off += p;
            continue;
        }
        if (t >= w->next_off) {
            t = w->next_off + w->off_len;
            continue;
        }
        double run = w->next_off - t;
        if (run >= need) {
            t += need;
            need = 0;
        } else {
            t += run;
            need -= run;
        }
    }
    w->t = t;
    return t - start;
}

/* --- the bench loop ------------------------------------------------------------------------ */
typedef enum { ORDER_ROTATE, ORDER_RANDOM } order_rule;

typedef struct {
    const char *label;
    order_rule order;
    double sample_s;   /* CPU seconds of one sample (calibrated inner loop) */
    size_t min_rounds, max_rounds;
    double target;     /* each median's order-statistic half-width / median */
    double budget;     /* s, overhead included */
    double overhead;   /* calibration and warm-up (s) */
} method;

typedef struct {
    double lo, hi, ratio, seconds;
    size_t n;
} outcome;

/* The bench's stopping statistic on an already sorted sample (kept sorted by insertion here: the
 * same numbers as sorting a copy every round, as bench.c does, only faster). */
static double rel_halfwidth(const double *sorted, size_t n)
{
    double ci[2], med = gsl_stats_median_from_sorted_data(sorted, 1, n);
    if (pw_stats_median_ci_order(sorted, n, 0.95, ci) != 0 || !(med > 0)) return INFINITY;
    return (ci[1] - ci[0]) / 2 / med;
}

static void insert_sorted(double *sorted, size_t n, double x)
{
    size_t i = n;
    while (i > 0 && sorted[i - 1] > x) {
        sorted[i] = sorted[i - 1];
        i--;
    }
    sorted[i] = x;
}

static void compare(const method *me, const machine *ma, double slowdown, gsl_rng *rng, outcome *o)
{
    world w;
    world_init(&w, ma, rng);
    w.t = me->overhead;
    size_t cap = me->max_rounds;
    double *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
    double *sa = malloc(cap * sizeof *sa), *sb = malloc(cap * sizeof *sb);
    double *scratch = malloc(cap * sizeof *scratch);
    size_t n = 0;
    while (n < cap) {
        bool a_first = me->order == ORDER_ROTATE ? n % 2 == 0 : gsl_rng_uniform(rng) < 0.5;
        double wa, wb;
        if (a_first) {
            wa = run_work(&w, me->sample_s);
            wb = run_work(&w, me->sample_s * (1 + slowdown));
        } else {
            wb = run_work(&w, me->sample_s * (1 + slowdown));
            wa = run_work(&w, me->sample_s);
        }
        a[n] = wa, b[n] = wb;
        insert_sorted(sa, n, wa);
        insert_sorted(sb, n, wb);
        n++;
        if (n < me->min_rounds) continue;
        if (rel_halfwidth(sa, n) <= me->target && rel_halfwidth(sb, n) <= me->target) break;
        if (w.t >= me->budget) break;
    }
    for (size_t i = 0; i < n; i++) scratch[i] = b[i] / a[i];
    gsl_sort(scratch, 1, n);
    double ci[2] = {0, INFINITY};
    pw_stats_median_ci_order(scratch, n, 0.95, ci);
    o->ratio = gsl_stats_median_from_sorted_data(scratch, 1, n);
    o->lo = ci[0];
    o->hi = ci[1];
    o->n = n;
    o->seconds = w.t;
    free(a), free(b), free(sa), free(sb), free(scratch);
}

/* Clopper–Pearson 95% interval of k in n, in percent. */
static void cp(size_t k, size_t n, double out[2])
{
    pw_score_proportion_ci(k, n, 0.95, out);
    out[0] *= 100;
    out[1] *= 100;
}

static void row(const method *me, const machine *ma, int trials, gsl_rng *rng)
{
    size_t fp = 0, det = 0, nsum = 0;
    double secs = 0;
    for (int t = 0; t < trials; t++) {
        outcome o;
        compare(me, ma, 0, rng, &o);
        fp += o.lo > 1 || o.hi < 1;
        nsum += o.n;
        secs += o.seconds;
        compare(me, ma, 0.01, rng, &o);
        det += o.lo > 1;
    }
    double f[2], d[2];
    cp(fp, (size_t)trials, f);
    cp(det, (size_t)trials, d);
    printf("  %-34s A/A %5.1f%% (%4.1f–%4.1f)   1%% detected %5.1f%% (%4.1f–%5.1f)   %5.1f rounds %5.2f s\n",
           me->label, 100.0 * (double)fp / trials, f[0], f[1], 100.0 * (double)det / trials, d[0],
           d[1], (double)nsum / trials, secs / trials);
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    int trials = 2000;
    unsigned long seed = 20261201;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trials") == 0 && i + 1 < argc) trials = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: simulate [--trials N] [--seed S]\n");
            return 1;
        }
    }
    /* Machines: noise levels chosen so that a 20-round bench sees medians within about ±0.5–1%,
     * as bench/detect does on the KVM guests in docs/bench-detect.txt. */
    static const machine machines[] = {
        {"white noise, sd 1% per 5 ms sample", 0.01, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"correlated (OU sd 1%, tau 50 ms) + white 0.3%", 0.003, 0.01, 0.05, 0, 0, 0, 0, 0, 0, 0},
        {"correlated (OU sd 1%, tau 500 ms) + white 0.3%", 0.003, 0.01, 0.5, 0, 0, 0, 0, 0, 0, 0},
        {"steal 15% of a period of 12-28 ms, steady phase", 0.003, 0, 0, 0.020, 0.4, 0.15, 0.002, 0, 0, 0},
        {"steal 15% of a period of 12-28 ms, drifting phase", 0.003, 0, 0, 0.020, 0.4, 0.15, 0.05, 0, 0, 0},
        {"steal 15% of a period of 19-21 ms (two rounds), steady", 0.003, 0, 0, 0.020, 0.05, 0.15, 0.002, 0, 0, 0},
        {"steal 20% of a period of 6-14 ms, steady phase", 0.003, 0, 0, 0.010, 0.4, 0.20, 0.002, 0, 0, 0},
        {"bursts (2/s, 100 ms, +5% per sample)", 0.003, 0, 0, 0, 0, 0, 0, 2, 0.1, 0.05},
        {"all of it (OU 0.5%/100 ms, steal 10%/12-28 ms, bursts)", 0.003, 0.005, 0.1, 0.02, 0.4, 0.10, 0.01, 1, 0.1, 0.05},
    };
    const method methods[] = {
        {"rotate, 5 ms, min 10, budget 0.4 s", ORDER_ROTATE, 0.005, 10, 2000, 0.01, 0.4, 0.1},
        {"random, 5 ms, min 10, budget 0.4 s", ORDER_RANDOM, 0.005, 10, 2000, 0.01, 0.4, 0.1},
        {"rotate, 5 ms, min 20, budget 0.4 s", ORDER_ROTATE, 0.005, 20, 2000, 0.01, 0.4, 0.1},
        {"rotate, 5 ms, min 20, budget 2 s", ORDER_ROTATE, 0.005, 20, 2000, 0.01, 2.0, 0.1},
        {"random, 5 ms, min 20, budget 0.4 s", ORDER_RANDOM, 0.005, 20, 2000, 0.01, 0.4, 0.1},
        {"random, 5 ms, min 20, budget 2 s", ORDER_RANDOM, 0.005, 20, 2000, 0.01, 2.0, 0.1},
        {"random, 5 ms, target 0.2%, budget 2 s", ORDER_RANDOM, 0.005, 20, 2000, 0.002, 2.0, 0.1},
        {"random, 1 ms, target 0.2%, budget 0.4 s", ORDER_RANDOM, 0.001, 20, 4000, 0.002, 0.4, 0.1},
        {"random, 1 ms, target 0.2%, budget 2 s", ORDER_RANDOM, 0.001, 20, 4000, 0.002, 2.0, 0.1},
        {"random, 1 ms, target 0.1%, budget 2 s", ORDER_RANDOM, 0.001, 20, 4000, 0.001, 2.0, 0.1},
    };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    printf("perfweave bench/simulate: %d A/A and %d +1%% comparisons per cell (seed %lu); "
           "intervals are exact 95%% (Clopper–Pearson)\n", trials, trials, seed);
    for (size_t k = 0; k < sizeof machines / sizeof machines[0]; k++) {
        printf("\n%s\n", machines[k].name);
        for (size_t j = 0; j < sizeof methods / sizeof methods[0]; j++)
            row(&methods[j], &machines[k], trials, rng);
        fflush(stdout);
    }
    gsl_rng_free(rng);
    return 0;
}
