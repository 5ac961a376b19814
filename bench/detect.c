/* detect.c — checks perfweave's measurement loop against its own promises (not part of the
 * test suite; run by `make bench` on a quiet machine):
 *
 *   A/A:   two identical kernels compared TRIALS times (200 by default); a "difference" is a
 *          speedup interval (pw_bench_publish_speedup: the order-statistic 95% interval of the
 *          median of the per-round ratios) that excludes 1.  Expected rate <= 5%; printed with
 *          its exact (Clopper–Pearson) 95% interval.
 *   power: the same kernel against one doing EXTRA more work (1% by default); "detected" is the
 *          speedup interval lying wholly above 1 (the slower one recognised as slower).  Target
 *          >= 95%, with at most BUDGET (2 s) of measurement per comparison.
 *
 * Both use the bench's defaults except the budget, the samples' length (--sample, 1 ms) and the
 * precision target (--target, ±0.2% per median): a comparison keeps measuring past the ±1% a
 * report's median needs, because a 1% difference needs a ratio interval narrower than that
 * (docs/methodology.md section 11; bench/simulate.c).  It takes the machine-wide measurement
 * lock first (lock.h), so a report elsewhere on the machine cannot disturb it, nor it the report.
 * Welch and Mann–Whitney rejection rates on the same raw samples are printed beside them.
 *
 * --same times one job object as both sides of the A/A pair (the two sides then differ in nothing,
 * not even the address of their state), --no-power skips the power experiment.
 *
 * usage: detect [--trials N] [--budget SECONDS] [--extra FRACTION] [--work N] [--sample SECONDS]
 *               [--target FRACTION] [--same] [--no-power] */
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/lock.h"
#include "perfweave/result.h"
#include "perfweave/scoring.h"
#include "perfweave/stats.h"

typedef struct {
    int ci_excludes_1, ci_above_1, welch, mw;
    double seconds;
    size_t n;
    const char *stop;
    double ratio, lo, hi;
} outcome;

static int compare_once(pw_busy_job *fast, pw_busy_job *slow, const pw_bench_config *cfg,
                        int trial, outcome *o)
{
    pw_bench_config c = *cfg;
    c.seed = cfg->seed + (uint64_t)trial;
    pw_bench *b = pw_bench_new(&c);
    size_t f = pw_bench_add(b, "fast", pw_busy_run, fast);
    size_t s = pw_bench_add(b, "slow", pw_busy_run, slow);
    double t0 = pw_now();
    int rc = pw_bench_run(b);
    o->seconds = pw_now() - t0;
    pw_result *r = pw_result_new("bench.detect", "detect");
    if (rc == PW_OK) rc = pw_bench_publish_speedup(b, f, s, r, "speedup.fast_vs_slow");
    pw_metric m;
    if (rc == PW_OK) rc = pw_result_get_metric(r, "speedup.fast_vs_slow", &m);
    if (rc == PW_OK) {
        size_t na, nb;
        const double *xa = pw_bench_samples(b, f, &na), *xb = pw_bench_samples(b, s, &nb);
        pw_welch w;
        pw_mann_whitney u;
        o->ratio = m.value;
        o->lo = m.lo;
        o->hi = m.hi;
        o->ci_excludes_1 = m.lo > 1 || m.hi < 1;
        o->ci_above_1 = m.lo > 1;
        o->welch = pw_stats_welch(xa, na, xb, nb, &w) == PW_OK && w.p < 0.05;
        o->mw = pw_stats_mann_whitney(xa, na, xb, nb, &u) == PW_OK && u.p < 0.05;
        o->n = na;
        o->stop = pw_bench_stop_reason(b);
    }
    pw_result_free(r);
    pw_bench_free(b);
    return rc;
}

static int experiment(const char *label, pw_busy_job *fast, pw_busy_job *slow,
                      const pw_bench_config *cfg, int trials, int want_above)
{
    int ci = 0, welch = 0, mw = 0, converged = 0;
    double worst = 0, total = 0;
    printf("\n%s: %d trials, budget %.2f s per comparison, kernels of %lu and %lu multiply-adds\n",
           label, trials, cfg->max_seconds, fast->work, slow->work);
    printf("%5s %10s %22s %5s %10s %8s\n", "trial", "speedup", "95% CI", "n", "stop", "seconds");
    for (int t = 0; t < trials; t++) {
        outcome o;
        memset(&o, 0, sizeof o);
        if (compare_once(fast, slow, cfg, t, &o) != PW_OK) {
            fprintf(stderr, "detect: trial %d could not publish a speedup\n", t);
            return 1;
        }
        ci += want_above ? o.ci_above_1 : o.ci_excludes_1;
        welch += o.welch;
        mw += o.mw;
        converged += strcmp(o.stop, "converged") == 0;
        total += o.seconds;
        if (o.seconds > worst) worst = o.seconds;
        printf("%5d %10.4f %10.4f – %-9.4f %5zu %10s %8.2f\n", t, o.ratio, o.lo, o.hi, o.n, o.stop,
               o.seconds);
        fflush(stdout);
    }
    double cp[2];
    pw_score_proportion_ci((size_t)ci, (size_t)trials, 0.95, cp);
    double lo = cp[0], hi = cp[1];
    printf("%s summary: interval %s in %d/%d (%.1f%%, exact 95%% CI %.1f–%.1f%%); Welch p<0.05 "
           "in %d; Mann–Whitney p<0.05 in %d; converged %d/%d; mean %.2f s, worst %.2f s per "
           "comparison\n",
           label, want_above ? "wholly above 1 (slower detected)" : "excludes 1 (false positive)",
           ci, trials, 100.0 * ci / trials, 100 * lo, 100 * hi, welch, mw, converged, trials,
           total / trials, worst);
    return 0;
}

static void on_lock(void *arg, pw_lock_event ev, const char *path, const pw_lock_holder *h,
                    double max_wait_s, double waited_s)
{
    (void)arg, (void)max_wait_s;
    if (ev == PW_LOCK_WAITING)
        fprintf(stderr, "detect: waiting for the measurement lock %s, held by pid %ld (%s)\n",
                path, h->pid, h->command[0] ? h->command : "command unknown");
    else
        fprintf(stderr, "detect: measurement lock taken after %.0f s\n", waited_s);
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    int trials = 200;
    double budget = 2.0, extra = 0.01, sample = 0.001, target = 0.002;
    unsigned long work = 20000;
    int same = 0, power = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trials") == 0 && i + 1 < argc) trials = atoi(argv[++i]);
        else if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc) budget = atof(argv[++i]);
        else if (strcmp(argv[i], "--extra") == 0 && i + 1 < argc) extra = atof(argv[++i]);
        else if (strcmp(argv[i], "--work") == 0 && i + 1 < argc) work = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--sample") == 0 && i + 1 < argc) sample = atof(argv[++i]);
        else if (strcmp(argv[i], "--target") == 0 && i + 1 < argc) target = atof(argv[++i]);
        else if (strcmp(argv[i], "--same") == 0) same = 1;
        else if (strcmp(argv[i], "--no-power") == 0) power = 0;
        else {
            fprintf(stderr, "usage: detect [--trials N] [--budget SECONDS] [--extra FRACTION] "
                            "[--work N] [--sample SECONDS] [--target FRACTION] [--same] "
                            "[--no-power]\n");
            return 1;
        }
    }
    if (trials < 1 || !(budget > 0) || !(extra > 0) || work < 1 || !(sample > 0) || !(target > 0)) {
        fprintf(stderr, "detect: trials, budget, extra, work, sample and target must be positive\n");
        return 1;
    }
    pw_bench_config cfg;
    pw_bench_config_default(&cfg, 0);
    cfg.max_seconds = budget;
    cfg.min_sample_seconds = sample;
    cfg.target_rel_ci = target;
    cfg.max_samples = 100000;
    printf("bench settings: budget %.2f s, samples of >= %.1f ms, target ±%.2f%% per median, "
           ">= %zu rounds, rounds in random order\n", budget, 1e3 * sample, 100 * target,
           cfg.min_samples);
    pw_lock_options lo;
    pw_lock_options_default(&lo);
    lo.notify = on_lock;
    pw_lock *lock = pw_lock_new(&lo);
    char msg[512];
    if (pw_lock_acquire(lock, NULL, msg, sizeof msg) != PW_OK) {
        fprintf(stderr, "detect: %s\n", msg);
        pw_lock_free(lock);
        return 4;
    }
    pw_busy_job a = {work, 0}, a2 = {work, 0};
    pw_busy_job heavier = {(unsigned long)((double)work * (1 + extra) + 0.5), 0};
    int rc = experiment("A/A", &a, same ? &a : &a2, &cfg, trials, 0) ||
             (power && experiment("power", &a, &heavier, &cfg, trials, 1)) ? 3 : 0;
    pw_lock_free(lock);
    return rc;
}
