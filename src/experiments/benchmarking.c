/* benchmarking.c — the experiments of the benchmarking-methodology chapter: is a benchmark
 * reproducible across fresh processes (`benchmarking.reproducibility`), how often does it detect
 * injected slowdowns and how often does it see differences that are not there
 * (`benchmarking.detection`), and TinyMLPerf-style events (matmul kernels, the Fashion-MNIST MLP
 * and its int8/pruned variants, transformer decoding with and without a KV cache) with a
 * documented score and the stability of their rankings over repeated runs
 * (`benchmarking.events`). */
#include <errno.h>
#include <sched.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perfweave/alloc.h"
#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/experiment.h"
#include "perfweave/handicap.h"
#include "perfweave/matmul.h"
#include "perfweave/mlp.h"
#include "perfweave/quant.h"
#include "perfweave/scoring.h"
#include "perfweave/sparse.h"
#include "perfweave/stats.h"
#include "perfweave/transformer.h"
#include "baseline.h"
#include "mnistexp.h"

#define MAXN 32

/* Runs fn(arg, out) in a forked child that sends size bytes of *out back through a pipe.
 * Returns PW_OK or PW_ECHILD (the child crashed, exited non-zero or sent too little). */
static int in_child(void (*fn)(void *arg, void *out), void *arg, void *out, size_t size)
{
    int fd[2];
    if (pipe(fd) != 0) return PW_EIO;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return PW_ECHILD;
    }
    if (pid == 0) {
        close(fd[0]);
        fn(arg, out);
        const char *p = out;
        size_t left = size;
        while (left) {
            ssize_t w = write(fd[1], p, left);
            if (w <= 0) _exit(1);
            p += w, left -= (size_t)w;
        }
        _exit(0);
    }
    close(fd[1]);
    char *p = out;
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd[0], p + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (got != size || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return PW_ECHILD;
    return PW_OK;
}

/* 64-bit FNV-1a of n bytes: a fingerprint of an output. */
static uint64_t fnv(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

typedef struct {
    pw_matmul_fn fn;
    const pw_matmul_ctx *ctx;
    size_t n;
    const float *a, *b;
    float *c;
} mm_job;

static void run_mm(void *arg, uint64_t iters)
{
    const mm_job *j = arg;
    for (uint64_t i = 0; i < iters; i++) j->fn(j->ctx, j->n, j->n, j->n, j->a, j->b, j->c);
}

static const char *const kernel_names[] = {"naive", "ikj", "blocked", "packed", "openblas", NULL};

/* ============================================================================================ */
/* benchmarking.reproducibility                                                                 */

typedef struct {
    const pw_matmul_kernel *kern;
    size_t n;
    bool quick;
    double budget;
} repro_arg;

typedef struct {
    double median, lo, hi, cv, n;
    uint64_t checksum;
} repro_out;

/* One fresh process: seeded operands, one bench of the kernel, its median and spread. */
static void repro_child(void *argp, void *outp)
{
    const repro_arg *arg = argp;
    repro_out *o = outp;
    memset(o, 0, sizeof *o);
    o->median = NAN;
    size_t n = arg->n;
    float *a = pw_xmalloc(n * n * sizeof *a), *b = pw_xmalloc(n * n * sizeof *b);
    float *c = pw_xmalloc(n * n * sizeof *c);
    pw_matmul_fill(a, n * n, 2026);
    pw_matmul_fill(b, n * n, 1129);
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    mm_job job = {arg->kern->fn, &ctx, n, a, b, c};
    pw_bench_config cfg;
    pw_bench_config_default(&cfg, arg->quick);
    cfg.max_seconds = arg->budget;
    pw_bench *bench = pw_bench_new(&cfg);
    size_t i = pw_bench_add(bench, "kernel", run_mm, &job);
    pw_bench_run(bench);
    size_t ns;
    const double *x = pw_bench_samples(bench, i, &ns);
    pw_summary s;
    if (pw_stats_summarize(x, ns, 5, &s) == PW_OK) {
        o->median = s.median * 1e6;
        o->lo = s.ci95_median[0] * 1e6;
        o->hi = s.ci95_median[1] * 1e6;
        o->cv = s.cv;
        o->n = (double)s.n;
    }
    o->checksum = fnv(c, n * n * sizeof *c);
    pw_bench_free(bench);
    pw_matmul_ctx_release(&ctx);
    free(a), free(b), free(c);
}

/* One product in a fresh process pinned to one CPU, with every operand placed offset bytes
 * past a page boundary. */
typedef struct {
    const pw_matmul_kernel *kern;
    size_t n, offset;
    int cpu;
} place_arg;

/* Writes ok (1.0 when pinned and computed, else 0) and then the n×n product into outp. */
static void place_child(void *argp, void *outp)
{
    const place_arg *arg = argp;
    double *ok = outp;
    float *out = (float *)(ok + 1);
    size_t n = arg->n, page = (size_t)sysconf(_SC_PAGESIZE);
    *ok = 0;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(arg->cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) return;
    size_t bytes = n * n * sizeof(float) + arg->offset;
    char *raw[3];
    for (int k = 0; k < 3; k++) raw[k] = aligned_alloc(page, (bytes + page - 1) / page * page);
    if (raw[0] && raw[1] && raw[2]) {
        float *a = (float *)(raw[0] + arg->offset), *b = (float *)(raw[1] + arg->offset);
        float *c = (float *)(raw[2] + arg->offset);
        pw_matmul_fill(a, n * n, 2026);
        pw_matmul_fill(b, n * n, 1129);
        pw_matmul_ctx ctx;
        pw_matmul_ctx_init(&ctx);
        arg->kern->fn(&ctx, n, n, n, a, b, c);
        pw_matmul_ctx_release(&ctx);
        memcpy(out, c, n * n * sizeof *c);
        *ok = 1;
    }
    for (int k = 0; k < 3; k++) free(raw[k]);
}

/* Kernels of this project sum in an order fixed by the shape alone, so their products must
 * agree bit for bit wherever they run; OpenBLAS promises no such thing. */
static bool fixed_order(const pw_matmul_kernel *k)
{
    return strcmp(k->name, "openblas") != 0;
}

/* The output sweep: the kernel's product in a fresh process on every online CPU and at every
 * offset, compared with the first (CPU of the sweep's first run, offset 0): how many are
 * bitwise identical, and the largest difference in units of the bound 2·γ_k·(|A||B|)ij that two
 * products which each meet the rounding-error bound can differ by.  Publishes outputs.*. */
static int output_sweep(pw_run *run, const pw_matmul_kernel *kern, size_t n,
                        const uint64_t *fingerprints, size_t nfp, pw_result *r)
{
    long offs[MAXN];
    size_t noff = pw_run_ints(run, "offsets", offs, MAXN);
    if (noff > MAXN) noff = MAXN;
    const long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    const size_t bytes = sizeof(double) + n * n * sizeof(float);
    double *buf = pw_xmalloc(bytes);
    float *ref = pw_xmalloc(n * n * sizeof *ref), *bound = pw_xmalloc(n * n * sizeof *bound);
    /* The bound of the difference of two products that each meet |ĉ − c| <= γ_k(|A||B|)ij. */
    {
        float *a = pw_xmalloc(n * n * sizeof *a), *b = pw_xmalloc(n * n * sizeof *b);
        pw_matmul_fill(a, n * n, 2026);
        pw_matmul_fill(b, n * n, 1129);
        double g = 2 * pw_matmul_gamma(n);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t k = 0; k < n; k++) s += fabs((double)a[i * n + k] * b[k * n + j]);
                bound[i * n + j] = (float)(g * s);
            }
        free(a), free(b);
    }
    static const char *const headers[] = {"CPU", "offset (bytes)", "bitwise identical to the "
                                          "first", "largest difference (units of the bound)"};
    pw_table *t = pw_result_table(r, "outputs", "The kernel's product in fresh processes pinned "
                                  "to each CPU, with operands at offsets within a page", 4,
                                  headers);
    size_t runs = 0, same = 0, cpus = 0;
    double worst = 0;
    bool have_ref = false;
    int status = PW_OK;
    for (long cpu = 0; cpu < ncpu && cpu < CPU_SETSIZE && status == PW_OK; cpu++) {
        bool used = false;
        for (size_t o = 0; o < noff; o++) {
            place_arg pa = {kern, n, (size_t)offs[o], (int)cpu};
            if (in_child(place_child, &pa, buf, bytes) != PW_OK) {
                pw_result_error(r, "the product process on CPU %ld failed", cpu);
                status = PW_ECHILD;
                break;
            }
            if (buf[0] != 1) break;  /* this CPU is offline or not ours to use */
            const float *c = (const float *)(buf + 1);
            used = true;
            if (!have_ref) {
                memcpy(ref, c, n * n * sizeof *ref);
                have_ref = true;
            }
            bool bitwise = memcmp(c, ref, n * n * sizeof *ref) == 0;
            double dev = 0;
            for (size_t i = 0; i < n * n; i++) {
                double d = fabs((double)c[i] - ref[i]);
                double u = bound[i] > 0 ? d / bound[i] : (d > 0 ? INFINITY : 0);
                if (!(u <= dev)) dev = u;
            }
            runs++;
            same += bitwise;
            if (!(dev <= worst)) worst = dev;
            pw_table_rowf(t, "%ld\t%ld\t%s\t%.3g", cpu, offs[o], bitwise ? "yes" : "NO", dev);
        }
        cpus += used;
    }
    /* The timing processes' products (same CPU, page-aligned) are compared by fingerprint. */
    size_t fp_same = 0;
    for (size_t i = 0; i < nfp; i++) fp_same += fingerprints[i] == fnv(ref, n * n * sizeof *ref);
    free(buf), free(ref), free(bound);
    if (status != PW_OK) return status;
    if (runs == 0) {
        pw_result_error(r, "no CPU could be used for the output sweep");
        return PW_ECHILD;
    }
    pw_result_exact(r, "outputs.runs", (double)(runs + nfp), "");
    pw_result_exact(r, "outputs.cpus", (double)cpus, "");
    pw_result_exact(r, "outputs.bitwise", (double)(same + fp_same) / (double)(runs + nfp), "");
    pw_result_exact(r, "outputs.deviation", worst, "");
    pw_result_exact(r, "outputs_reproducible",
                    fixed_order(kern) ? same + fp_same == runs + nfp : worst <= 1, "");
    pw_result_note(r, "outputs: the %s product (n = %zu, seeded operands) computed in %zu fresh "
                   "processes, one per online CPU (%zu) and operand offset within a page (%zu "
                   "offsets), plus the %zu timing processes (by fingerprint); %zu of %zu were bit "
                   "for bit the first one's; the largest difference is %.3g in units of "
                   "2·γ_n·(|A||B|)ij, the most two products that each meet the rounding-error "
                   "bound can differ by; %s", kern->name, n, runs, cpus, noff, nfp,
                   same + fp_same, runs + nfp, worst,
                   fixed_order(kern) ? "this kernel sums in an order fixed by the shape, so "
                                       "outputs_reproducible asks for every product bit for bit"
                                     : "this library promises no fixed summation order, so "
                                       "outputs_reproducible asks for every product within the "
                                       "bound");
    return PW_OK;
}

static int run_repro(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    bool quick = pw_run_quick(run);
    long k = pw_run_int(run, "processes");
    size_t n = (size_t)pw_run_int(run, "n");
    const pw_matmul_kernel *kern = pw_matmul_find(pw_run_string(run, "kernel"));
    repro_arg arg = {kern, n, quick, quick ? 0.1 : pw_run_real(run, "budget")};
    if (quick) {
        if (k > 4) k = 4;
        if (n > 64) arg.n = n = 64;
    }
    long offs[MAXN];
    size_t noff = pw_run_ints(run, "offsets", offs, MAXN);
    for (size_t o = 0; o < noff && o < MAXN; o++)
        if (offs[o] % (long)sizeof(float) != 0) {
            pw_result_error(r, "offset %ld is not a multiple of %zu bytes (a float's alignment)",
                            offs[o], sizeof(float));
            return PW_EINVAL;
        }
    pw_matmul_set_threads(1);
    char msg[256];
    pw_matmul_ctx gctx;
    pw_matmul_ctx_init(&gctx);
    int gate = pw_matmul_gate(kern, &gctx, msg, sizeof msg);
    pw_matmul_ctx_release(&gctx);
    if (gate != PW_OK) {
        pw_result_error(r, "%s; nothing was timed", msg);
        return PW_ERANGE;
    }
    repro_out outs[256];
    double med[256], cvs[256], los[256], his[256];
    uint64_t fps[256];
    if (k > 256) k = 256;
    static const char *const headers[] = {"process", "median (µs, 95% CI)", "within-process CV",
                                          "samples", "output fingerprint"};
    pw_table *t = pw_result_table(r, "processes", "One benchmark, repeated in fresh processes",
                                  5, headers);
    pw_chart *c = pw_result_chart(r, "processes", "Median time per process with its 95% CI",
                                  "process", "µs per product", 0);
    pw_series *ser = pw_chart_series(c, pw_run_string(run, "kernel"));
    for (long p = 0; p < k; p++) {
        if (in_child(repro_child, &arg, &outs[p], sizeof outs[p]) != PW_OK ||
            !isfinite(outs[p].median)) {
            pw_result_error(r, "benchmark process %ld failed", p + 1);
            return PW_ECHILD;
        }
        med[p] = outs[p].median;
        los[p] = outs[p].lo;
        his[p] = outs[p].hi;
        cvs[p] = 100 * outs[p].cv;
        fps[p] = outs[p].checksum;
        pw_series_point(ser, (double)(p + 1), med[p], outs[p].lo, outs[p].hi);
        pw_table_rowf(t, "%ld\t%.4g (%.4g–%.4g)\t%.2f%%\t%.0f\t%016llx", p + 1, med[p],
                      outs[p].lo, outs[p].hi, cvs[p], outs[p].n,
                      (unsigned long long)outs[p].checksum);
    }
    pw_summary sm, sw;
    if (pw_stats_summarize(med, (size_t)k, 3, &sm) != PW_OK ||
        pw_stats_summarize(cvs, (size_t)k, 4, &sw) != PW_OK) {
        pw_result_error(r, "too few processes for a spread");
        return PW_EINVAL;
    }
    /* CV of the process medians with the chi-square interval of a normal sd (mean held fixed). */
    double df = (double)(k - 1), cvb = 100 * sm.sd / sm.mean;
    double lo = cvb * sqrt(df / gsl_cdf_chisq_Pinv(0.975, df));
    double hi = cvb * sqrt(df / gsl_cdf_chisq_Pinv(0.025, df));
    pw_result_metric(r, "cv.between", cvb, lo, hi, "%");
    pw_result_metric_basis(r, "cv.between", (double)k, NAN);
    pw_result_metric(r, "cv.within", sw.mean, sw.ci95_mean[0] > 0 ? sw.ci95_mean[0] : 0,
                     sw.ci95_mean[1], "%");
    pw_result_metric_basis(r, "cv.within", (double)k, sw.cv);
    /* The slowest process median over the fastest: the observed ratio, with the range the
     * medians' own intervals allow for the ratio of the slowest to the fastest of these k
     * processes (the largest lower end over the smallest upper end, and so on). */
    double max_lo = los[0], min_hi = his[0], max_hi = his[0], min_lo = los[0];
    for (long p = 1; p < k; p++) {
        max_lo = fmax(max_lo, los[p]), min_hi = fmin(min_hi, his[p]);
        max_hi = fmax(max_hi, his[p]), min_lo = fmin(min_lo, los[p]);
    }
    double spread = sm.max / sm.min;
    pw_result_metric(r, "spread.max_over_min", spread, fmin(spread, fmax(1, max_lo / min_hi)),
                     min_lo > 0 ? fmax(spread, max_hi / min_lo) : spread, "×");
    pw_result_metric(r, "time.median", sm.median, sm.ci95_median[0], sm.ci95_median[1], "µs");
    pw_result_metric_basis(r, "time.median", (double)k, sm.cv);
    pw_result_exact(r, "processes", (double)k, "");
    pw_chart_hline(c, "median of the process medians", sm.median);
    pw_result_note(r, "%ld fresh processes (fork) each ran one bench of the %s %zu×%zu matmul on "
                   "the same seeded operands (budget %.2f s) and reported its median through a "
                   "pipe; the interval of the between-process CV assumes normally spread medians; "
                   "the interval of spread.max_over_min combines the process medians' own "
                   "intervals", k, kern->name, n, n, arg.budget);
    return output_sweep(run, kern, n, fps, (size_t)k, r);
}

static const char *const repro_metrics[] = {
    "cv.between", "cv.within", "spread.max_over_min", "time.median", "processes", "outputs.runs",
    "outputs.cpus", "outputs.bitwise", "outputs.deviation", "outputs_reproducible", NULL};
static const pw_param_spec repro_params[] = {
    {"processes", PW_PARAM_INT, "10", 2, 256, NULL, "fresh processes K"},
    {"n", PW_PARAM_INT, "128", 1, 2048, NULL, "matmul size"},
    {"kernel", PW_PARAM_STRING, "blocked", 0, 0, kernel_names, "the kernel benchmarked"},
    {"budget", PW_PARAM_REAL, "0.5", 0.05, 60, NULL, "seconds of measurement per process"},
    {"offsets", PW_PARAM_INT_LIST, "[0, 4, 12, 64, 1028]", 0, 4092, NULL,
     "byte offsets of the operands past a page boundary in the output sweep (multiples of 4)"},
};
/* The kernel and helper sources these results depend on (the cache key hashes them). */
static const char *const module_sources[] = {"src/kernels/matmul.c", "src/kernels/matmul_packed.c", "src/kernels/peak.c", "src/kernels/mnist.c", "src/kernels/mlp.c", "src/experiments/mnistexp.c", "src/kernels/quant.c", "src/kernels/qgemm.c", "src/kernels/prune.c", "src/kernels/sparse.c", "src/kernels/transformer.c", "src/kernels/tensor_alloc.c", NULL};

const pw_experiment pw_exp_benchmarking_reproducibility = {
    "benchmarking.reproducibility",
    "the same benchmark in K fresh processes: spread of the process medians vs within a process, "
    "and the product on every CPU and operand offset",
    repro_params, sizeof repro_params / sizeof repro_params[0], repro_metrics, run_repro,
    module_sources,
};

/* ============================================================================================ */
/* benchmarking.detection                                                                       */

enum { RULE_BENCH, RULE_WELCH, RULE_MW, RULE_BANDS, NRULES };
static const char *const rule_names[NRULES] = {"bench", "welch", "mw", "bands"};
static const char *const rule_labels[NRULES] = {
    "bench interval (median of paired ratios)", "Welch t-test", "Mann–Whitney U",
    "original rule (mean ± 1.96 SE bands apart)"};

/* One comparison of the reference loop with a slowed one: which rules call it a difference
 * (in the slower direction when slowdown > 0, either direction for an A/A comparison). */
static int detect_once(unsigned long work, double slowdown, const pw_bench_config *cfg,
                       bool hits[NRULES], double *seconds, bool *converged)
{
    pw_busy_job base = {work, 0}, slow = {(unsigned long)((double)work * (1 + slowdown) + 0.5), 0};
    pw_bench *b = pw_bench_new(cfg);
    size_t f = pw_bench_add(b, "reference", pw_busy_run, &base);
    size_t s = pw_bench_add(b, "slowed", pw_busy_run, &slow);
    double t0 = pw_now();
    pw_bench_run(b);
    *seconds = pw_now() - t0;
    *converged = strcmp(pw_bench_stop_reason(b), "converged") == 0;
    pw_result *tmp = pw_result_new("benchmarking.detection", "trial");
    pw_metric m;
    int rc = pw_bench_publish_speedup(b, f, s, tmp, "speedup.reference_vs_slowed");
    if (rc == PW_OK) rc = pw_result_get_metric(tmp, "speedup.reference_vs_slowed", &m);
    size_t na, nb;
    const double *xa = pw_bench_samples(b, s, &na), *xb = pw_bench_samples(b, f, &nb);
    pw_welch w;
    pw_mann_whitney u;
    if (rc == PW_OK) rc = pw_stats_welch(xa, na, xb, nb, &w);
    if (rc == PW_OK) rc = pw_stats_mann_whitney(xa, na, xb, nb, &u);
    if (rc == PW_OK) {
        bool aa = slowdown == 0;
        /* Directions: slowed − reference > 0 means "slower detected". */
        hits[RULE_BENCH] = aa ? (m.lo > 1 || m.hi < 1) : m.lo > 1;
        hits[RULE_WELCH] = w.p < 0.05 && (aa || w.diff > 0);
        hits[RULE_MW] = u.p < 0.05 && (aa || u.u > (double)na * (double)nb / 2);
        /* The original framework: mean ± 1.96·sd/√n of each, "significant" when they do not overlap. */
        pw_summary sa, sb;
        pw_stats_summarize(xa, na, 1, &sa);
        pw_stats_summarize(xb, nb, 1, &sb);
        double ha = 1.959963984540054 * sa.sd / sqrt((double)na);
        double hb = 1.959963984540054 * sb.sd / sqrt((double)nb);
        bool up = sa.mean - ha > sb.mean + hb, down = sa.mean + ha < sb.mean - hb;
        hits[RULE_BANDS] = aa ? (up || down) : up;
    }
    pw_result_free(tmp);
    pw_bench_free(b);
    return rc;
}

static int run_detection(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    bool quick = pw_run_quick(run);
    long slow[MAXN];
    size_t nsl = pw_run_ints(run, "slowdowns", slow, MAXN);
    long trials = pw_run_int(run, "trials");
    /* The A/A comparisons get a count of their own: a false-positive rate near 5% can be shown
     * below 10% only from about 200 trials (docs/methodology.md section 11), while 40 trials
     * resolve a power of 80% or more. */
    long aa_trials = pw_run_int(run, "aa_trials");
    unsigned long work = (unsigned long)pw_run_int(run, "work");
    pw_bench_config cfg;
    pw_bench_config_default(&cfg, quick);
    cfg.max_seconds = pw_run_real(run, "budget");
    if (quick) {
        if (trials > 3) trials = 3;
        if (aa_trials > 3) aa_trials = 3;
        cfg.max_seconds = 0.05;
    }
    if (nsl > MAXN) {
        pw_result_error(r, "at most %d slowdowns", MAXN);
        return PW_EINVAL;
    }
    static const char *const headers[] = {"injected slowdown", "bench interval", "Welch",
                                          "Mann–Whitney", "original rule"};
    pw_table *t = pw_result_table(r, "detection", "Share of trials that report a difference "
                                  "(detections; at 0% false positives), exact 95% CI", 5, headers);
    pw_chart *c = pw_result_chart(r, "power", "Detection rate against the injected slowdown "
                                  "(95% Clopper–Pearson CI); at 0% it is the false-positive rate",
                                  "injected slowdown (% more work)", "trials reporting a difference (%)",
                                  0);
    pw_series *ser[NRULES];
    for (int k = 0; k < NRULES; k++) ser[k] = pw_chart_series(c, rule_labels[k]);
    pw_chart_hline(c, "80% power", 80);
    double *secs_all = pw_xmalloc((nsl * (size_t)(trials > aa_trials ? trials : aa_trials) + 1) * sizeof *secs_all);
    size_t comparisons = 0, converged = 0;
    for (size_t i = 0; i < nsl; i++) {
        size_t hits[NRULES] = {0};
        const long n_i = slow[i] == 0 ? aa_trials : trials;
        for (long tr = 0; tr < n_i; tr++) {
            bool h[NRULES] = {0}, conv;
            double secs;
            pw_bench_config c2 = cfg;
            c2.seed = cfg.seed + (uint64_t)(i * 1000 + (size_t)tr);
            if (detect_once(work, (double)slow[i] / 100.0, &c2, h, &secs, &conv) != PW_OK) {
                pw_result_error(r, "trial %ld at %ld%% could not be evaluated", tr + 1, slow[i]);
                free(secs_all);
                return PW_EINTERNAL;
            }
            for (int k = 0; k < NRULES; k++) hits[k] += h[k];
            secs_all[comparisons++] = secs;
            converged += conv;
        }
        char cells[NRULES][48];
        for (int k = 0; k < NRULES; k++) {
            double ci[2], rate = 100.0 * (double)hits[k] / (double)n_i;
            pw_score_proportion_ci(hits[k], (size_t)n_i, 0.95, ci);
            char name[64];
            if (slow[i] == 0) snprintf(name, sizeof name, "false_positive.%s", rule_names[k]);
            else snprintf(name, sizeof name, "power.%s.s%ld", rule_names[k], slow[i]);
            pw_result_metric(r, name, rate, 100 * ci[0], 100 * ci[1], "%");
            pw_result_metric_basis(r, name, (double)n_i, NAN);
            pw_series_point(ser[k], (double)slow[i], rate, 100 * ci[0], 100 * ci[1]);
            snprintf(cells[k], sizeof cells[k], "%zu/%ld (%.0f–%.0f%%)", hits[k], n_i,
                     100 * ci[0], 100 * ci[1]);
        }
        pw_table_rowf(t, "%ld%%%s\t%s\t%s\t%s\t%s", slow[i], slow[i] == 0 ? " (A/A)" : "",
                      cells[0], cells[1], cells[2], cells[3]);
    }
    pw_summary st;
    if (comparisons >= 2 && pw_stats_summarize(secs_all, comparisons, 17, &st) == PW_OK) {
        /* The mean with its Student t interval: trials are independent benches. */
        pw_result_metric(r, "seconds_per_trial", st.mean, fmax(0, st.ci95_mean[0]),
                         st.ci95_mean[1], "s");
        pw_result_metric_basis(r, "seconds_per_trial", (double)st.n, st.cv);
    }
    double cci[2];
    if (comparisons && pw_score_proportion_ci(converged, comparisons, 0.95, cci) == PW_OK) {
        pw_result_metric(r, "converged_share", 100.0 * (double)converged / (double)comparisons,
                         100 * cci[0], 100 * cci[1], "%");
        pw_result_metric_basis(r, "converged_share", (double)comparisons, NAN);
    }
    free(secs_all);
    pw_result_note(r, "each trial is a fresh two-variant bench (reference busy loop of %lu "
                   "multiply-adds against one doing the stated share more), the bench's default "
                   "settings with a budget of %.2f s; %ld trials per slowdown and %ld A/A trials "
                   "(0%%); a detection needs the difference in the slower direction, an A/A false "
                   "positive either direction; seconds_per_trial is the mean over all trials with a "
                   "Student t interval, converged_share a proportion with its Clopper–Pearson "
                   "interval", work, cfg.max_seconds, trials, aa_trials);
    return PW_OK;
}

static const char *const detection_metrics[] = {
    "power.RULE.sN", "false_positive.RULE", "seconds_per_trial", "converged_share", NULL};
static const pw_param_spec detection_params[] = {
    {"slowdowns", PW_PARAM_INT_LIST, "[0, 1, 2, 5, 10, 20]", 0, 1000, NULL,
     "injected extra work in percent (0 = A/A)"},
    {"trials", PW_PARAM_INT, "40", 2, 10000, NULL, "comparisons per slowdown above 0"},
    {"aa_trials", PW_PARAM_INT, "200", 2, 10000, NULL,
     "A/A comparisons (slowdown 0): about 200 decide a false-positive rate below 10%"},
    {"budget", PW_PARAM_REAL, "0.4", 0.02, 60, NULL, "time budget of one comparison (s)"},
    {"work", PW_PARAM_INT, "20000", 100, 100000000, NULL, "multiply-adds of the reference loop"},
};
const pw_experiment pw_exp_benchmarking_detection = {
    "benchmarking.detection",
    "detection rate of injected 1–20% slowdowns over repeated trials, and the A/A false positives",
    detection_params, sizeof detection_params / sizeof detection_params[0], detection_metrics,
    run_detection,
    module_sources,
};

/* ============================================================================================ */
/* benchmarking.events                                                                          */

/* One submission of an event: a timed workload, its memory, and whether it passed the gate. */
typedef struct {
    const char *name;
    pw_bench_fn fn;
    void *arg;
    double memory;    /* bytes */
    double accuracy;  /* 0..1, or NAN when the event has no accuracy metric */
    bool gate;
    char why[192];    /* why the gate failed */
} ev_sub;

/* Scores ns submissions (subs[0] is the baseline) over runs interleaved runs and publishes the
 * first run's latencies, speedups, memories and scores, the rankings of every run and Kendall's
 * tau between every pair of runs.  A submission that failed its gate is never timed: it gets
 * score 0 (exact), its memory and the reason, and no latency or speedup. */
static int event_score(pw_run *run, ev_sub *subs, size_t ns, long runs,
                       const pw_bench_config *cfg, double latency_scale, const char *latency_unit)
{
    pw_result *r = pw_run_result(run);
    if (!subs[0].gate) {
        pw_result_error(r, "the baseline '%s' fails the accuracy gate: %s", subs[0].name,
                        subs[0].why);
        return PW_ERANGE;
    }
    for (size_t i = 1; i < ns; i++)
        if (!subs[i].gate)
            pw_result_note(r, "%s is disqualified (score 0, not timed): %s", subs[i].name,
                           subs[i].why);
    if (runs > 64) runs = 64;
    double (*scores)[8] = pw_xcalloc((size_t)runs, sizeof *scores);
    bool has_acc = isfinite(subs[0].accuracy);
    char lat_head[48];
    snprintf(lat_head, sizeof lat_head, "latency %s (95%% CI)", latency_unit);
    const char *headers[] = {"submission", lat_head, "speedup", "MiB", "gate", "score (95% CI)",
                             "rank", "accuracy"};
    pw_table *t = pw_result_table(r, "scores", "The first run's measurements and scores: "
                                  "latency, speedup over the baseline (the first row; "
                                  PW_BENCH_SPEEDUP_METHOD "), memory, accuracy gate, score and "
                                  "rank", has_acc ? 8 : 7, headers);
    for (long run_i = 0; run_i < runs; run_i++) {
        pw_bench_config c2 = *cfg;
        c2.seed = cfg->seed + (uint64_t)run_i;
        pw_bench *bench = pw_bench_new(&c2);
        size_t idx[8];
        /* Only submissions that passed their gate are timed. */
        for (size_t i = 0; i < ns; i++)
            idx[i] = subs[i].gate ? pw_bench_add(bench, subs[i].name, subs[i].fn, subs[i].arg)
                                  : SIZE_MAX;
        pw_bench_run(bench);
        pw_result *tmp = run_i == 0 ? r : pw_result_new("benchmarking.events", "run");
        pw_metric sp[8];
        for (size_t i = 0; i < ns; i++) {
            char name[96];
            memset(&sp[i], 0, sizeof sp[i]);
            sp[i].value = sp[i].lo = sp[i].hi = 1;
            if (!subs[i].gate) {
                scores[run_i][i] = 0;
                if (run_i == 0) {
                    snprintf(name, sizeof name, "score.%s", subs[i].name);
                    pw_result_exact(r, name, 0, "");
                    snprintf(name, sizeof name, "memory.%s", subs[i].name);
                    pw_result_exact(r, name, subs[i].memory / (1024.0 * 1024.0), "MiB");
                }
                continue;
            }
            if (i > 0) {
                snprintf(name, sizeof name, "speedup.%s_vs_%s", subs[i].name, subs[0].name);
                if (pw_bench_publish_speedup(bench, idx[i], idx[0], tmp, name) != PW_OK ||
                    pw_result_get_metric(tmp, name, &sp[i]) != PW_OK) {
                    pw_result_error(r, "no latency for '%s'", subs[i].name);
                    if (tmp != r) pw_result_free(tmp);
                    pw_bench_free(bench);
                    free(scores);
                    return PW_EINTERNAL;
                }
            }
            /* score = sqrt(speedup · memory ratio), the geometric mean of the normalized
             * metrics; its interval follows the speedup's (memory is deterministic). */
            double base[2] = {1, subs[0].memory}, val[2] = {1 / sp[i].value, subs[i].memory};
            double sc, slo, shi;
            if (pw_score_geomean(base, val, 2, subs[i].gate, &sc) != PW_OK) sc = 0;
            val[0] = 1 / sp[i].lo;
            if (pw_score_geomean(base, val, 2, subs[i].gate, &slo) != PW_OK) slo = sc;
            val[0] = 1 / sp[i].hi;
            if (pw_score_geomean(base, val, 2, subs[i].gate, &shi) != PW_OK) shi = sc;
            scores[run_i][i] = sc;
            if (run_i == 0) {
                snprintf(name, sizeof name, "score.%s", subs[i].name);
                pw_result_metric(r, name, sc, slo, shi, "");
                if (i > 0) {
                    /* The score is the square root of the speedup times a constant. */
                    char from[96];
                    snprintf(from, sizeof from, "speedup.%s_vs_%s", subs[i].name, subs[0].name);
                    pw_result_metric_basis_from(r, name, from, 0.5);
                }
                snprintf(name, sizeof name, "memory.%s", subs[i].name);
                pw_result_exact(r, name, subs[i].memory / (1024.0 * 1024.0), "MiB");
                snprintf(name, sizeof name, "latency.%s", subs[i].name);
                pw_bench_publish_time(bench, idx[i], r, name, latency_scale, latency_unit);
            }
        }
        if (run_i == 0) {
            double ranks[8];
            pw_score_rank(scores[0], ns, ranks);
            for (size_t i = 0; i < ns; i++) {
                char name[96], acc[32] = "–", latc[64] = "– (not timed)", spc[64] = "–",
                     scc[64] = "0";
                pw_metric lat, sc;
                if (subs[i].gate) {
                    snprintf(name, sizeof name, "latency.%s", subs[i].name);
                    if (pw_result_get_metric(r, name, &lat) == PW_OK)
                        snprintf(latc, sizeof latc, "%.3g (%.3g–%.3g)", lat.value, lat.lo,
                                 lat.hi);
                    snprintf(spc, sizeof spc, "%.3g× (%.3g–%.3g)", sp[i].value, sp[i].lo,
                             sp[i].hi);
                    snprintf(name, sizeof name, "score.%s", subs[i].name);
                    if (pw_result_get_metric(r, name, &sc) == PW_OK)
                        snprintf(scc, sizeof scc, "%.3g (%.3g–%.3g)", sc.value, sc.lo, sc.hi);
                }
                if (has_acc) snprintf(acc, sizeof acc, "%.2f%%", 100 * subs[i].accuracy);
                pw_table_rowf(t, "%s\t%s\t%s\t%.3f\t%s\t%s\t%g%s%s", subs[i].name, latc, spc,
                              subs[i].memory / (1024.0 * 1024.0), subs[i].gate ? "pass" : "FAIL",
                              scc, ranks[i], has_acc ? "\t" : "", has_acc ? acc : "");
            }
            pw_bench_record(bench, r, "");
        } else {
            pw_result_free(tmp);
        }
        pw_bench_free(bench);
    }

    /* Ranking stability: Kendall's tau between every pair of runs. */
    static const char *const rheaders[] = {"run", "ranking (best first)", "tau vs run 1"};
    pw_table *rt = pw_result_table(r, "rankings", "The ranking in each repeated run", 3, rheaders);
    double tmin = 1;
    size_t tn = 0;
    double *flat = pw_xmalloc((size_t)runs * ns * sizeof *flat);
    for (long i = 0; i < runs; i++) {
        for (size_t k = 0; k < ns; k++) flat[(size_t)i * ns + k] = scores[i][k];
        for (long j = i + 1; j < runs; j++) {
            double tau;
            if (pw_score_kendall_tau(scores[i], scores[j], ns, &tau) == PW_OK) {
                if (tau < tmin) tmin = tau;
                tn++;
            }
        }
        double ranks[8], tau1 = NAN;
        pw_score_rank(scores[i], ns, ranks);
        pw_buf order;
        pw_buf_init(&order);
        /* Best first; submissions sharing a (mid)rank are tied and joined by "=". */
        for (double rk = 1; rk <= (double)ns; rk += 0.5) {
            bool first = true;
            for (size_t k = 0; k < ns; k++)
                if (ranks[k] == rk) {
                    pw_buf_printf(&order, "%s%s", first ? (order.len ? " > " : "") : " = ",
                                  subs[k].name);
                    first = false;
                }
        }
        pw_score_kendall_tau(scores[0], scores[i], ns, &tau1);
        pw_table_rowf(rt, "%ld\t%s\t%.3f", i + 1, order.data, tau1);
        pw_buf_release(&order);
    }
    /* The mean tau over pairs of runs estimates the tau between two independent runs; its
     * interval comes from resampling whole runs.  The smallest tau is what these runs showed,
     * an extreme rather than an estimate, so it is shown but decides nothing. */
    double tmean, tci[2];
    size_t tpairs;
    if (tn && pw_score_tau_mean_ci(flat, (size_t)runs, ns, cfg->seed ^ 0x7a0, PW_STATS_BOOTSTRAP,
                                   0.95, &tmean, tci, &tpairs) == PW_OK) {
        pw_result_metric(r, "tau.mean", tmean, tci[0], tci[1], "");
        pw_result_metric_basis(r, "tau.mean", (double)runs, NAN);
        if (runs < 6)
            pw_result_metric_undecidable(r, "tau.mean", "too_few_samples", "a bootstrap over %ld "
                                         "runs falls short of 95%% coverage (6 or more needed)",
                                         runs);
        pw_result_exact(r, "tau.min", tmin, "");
        pw_result_metric_undecidable(r, "tau.min", "extreme", "the smallest tau over the %zu "
                                     "pairs of runs is an observed extreme, not an estimate with "
                                     "an interval", tn);
    } else {
        pw_result_note(r, "Kendall's tau is undefined here (every run gave tied scores)");
    }
    free(flat);
    pw_result_exact(r, "runs", (double)runs, "");
    pw_result_note(r, "score = sqrt((baseline latency / latency) · (baseline memory / memory)), "
                   "0 (and not timed) for a submission that fails its gate; %ld repeated runs of %.2f s "
                   "each, every run a fresh interleaved benchmark; tau.mean is the mean Kendall tau "
                   "over the pairs of runs with a seeded bootstrap interval over the runs (it sees "
                   "only the variation among the runs taken: when every pair agrees it is [1, 1]), "
                   "tau.min the smallest observed", runs, cfg->max_seconds);
    free(scores);
    /* A library submission is checked like every library baseline (baseline.h): where its code
     * cannot reach half of the machine's peak, or the acceleration chapter measured it below
     * that (carried by the weave, handicap.h), its speedup and its score decide no claim and
     * the report names it beside this event's rankings. */
    const char *libs[8];
    size_t nl = 0;
    for (size_t i = 0; i < ns; i++)
        if (pw_baseline_is_library(subs[i].name)) {
            char name[96];
            snprintf(name, sizeof name, "score.%s", subs[i].name);
            pw_handicap_add_metric(r, name, subs[i].name);
            libs[nl++] = subs[i].name;
        }
    if (nl) pw_baseline_check_code(r, libs, nl, NULL, NULL);
    return PW_OK;
}

/* --- the matmul event ----------------------------------------------------------------------- */

typedef struct {
    const pw_matmul_kernel *kern;
    size_t n;
} mem_arg;

/* A fresh process's footprint for one submission: operands (accounted exactly) plus the peak
 * RSS growth that one call brings (workspaces, library buffers), in bytes. */
static void mem_child(void *argp, void *outp)
{
    const mem_arg *arg = argp;
    double *out = outp;
    size_t n = arg->n;
    pw_alloc *acct = pw_alloc_new();
    float *a = pw_alloc_malloc(acct, "operands", n * n * sizeof *a);
    float *b = pw_alloc_malloc(acct, "operands", n * n * sizeof *b);
    float *c = pw_alloc_malloc(acct, "operands", n * n * sizeof *c);
    *out = NAN;
    if (a && b && c) {
        pw_matmul_fill(a, n * n, 1);
        pw_matmul_fill(b, n * n, 2);
        memset(c, 0, n * n * sizeof *c);
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        pw_matmul_ctx ctx;
        pw_matmul_ctx_init(&ctx);
        arg->kern->fn(&ctx, n, n, n, a, b, c);
        getrusage(RUSAGE_SELF, &after);
        pw_matmul_ctx_release(&ctx);
        *out = (double)pw_alloc_peak(acct, "operands") +
               1024.0 * (double)(after.ru_maxrss - before.ru_maxrss);
    }
    pw_alloc_free(acct);
}

static int event_matmul(pw_run *run, const char *const *names, size_t ns, long runs,
                        const pw_bench_config *cfg)
{
    pw_result *r = pw_run_result(run);
    size_t n = (size_t)pw_run_int(run, "n");
    if (pw_run_quick(run) && n > 96) n = 96;
    pw_matmul_set_threads(1);
    ev_sub subs[8];
    mm_job jobs[8];
    float *c[8] = {0};
    memset(subs, 0, sizeof subs);
    /* Memory first, in fresh processes, before this one has touched any library buffer. */
    for (size_t i = 0; i < ns; i++) {
        const pw_matmul_kernel *kern = pw_matmul_find(names[i]);
        if (!kern) {
            pw_result_error(r, "'%s' is not a matmul kernel", names[i]);
            return PW_EINVAL;
        }
        mem_arg ma = {kern, n};
        subs[i].name = names[i];
        subs[i].accuracy = NAN;
        if (in_child(mem_child, &ma, &subs[i].memory, sizeof subs[i].memory) != PW_OK ||
            !isfinite(subs[i].memory)) {
            pw_result_error(r, "the memory probe of '%s' failed", names[i]);
            return PW_ECHILD;
        }
    }
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    float *a = pw_xmalloc(n * n * sizeof *a), *b = pw_xmalloc(n * n * sizeof *b);
    pw_matmul_fill(a, n * n, 11);
    pw_matmul_fill(b, n * n, 12);
    /* The accuracy gate, before any timing: the correctness gate on awkward shapes, then the
     * event's own product, both against an independent double-precision product, so the
     * openblas submission is checked as strictly as the others. */
    for (size_t i = 0; i < ns; i++) {
        const pw_matmul_kernel *kern = pw_matmul_find(names[i]);
        c[i] = pw_xmalloc(n * n * sizeof *c[i]);
        jobs[i] = (mm_job){kern->fn, &ctx, n, a, b, c[i]};
        subs[i].fn = run_mm;
        subs[i].arg = &jobs[i];
        double worst;
        subs[i].gate = pw_matmul_gate(kern, &ctx, subs[i].why, sizeof subs[i].why) == PW_OK;
        if (subs[i].gate) {
            kern->fn(&ctx, n, n, n, a, b, c[i]);
            subs[i].gate = pw_matmul_verify(n, n, n, a, b, c[i], &worst) == PW_OK;
            if (!subs[i].gate)
                snprintf(subs[i].why, sizeof subs[i].why, "wrong product at n = %zu", n);
        }
    }
    int status = event_score(run, subs, ns, runs, cfg, 1e3, "ms");
    if (status == PW_OK)
        pw_result_note(r, "matmul event at n = %zu: memory = the operands (3·n² floats, "
                       "accounted exactly) plus the peak-RSS growth one call causes in a fresh "
                       "process; the gate is the acceleration chapter's correctness check", n);
    for (size_t i = 0; i < ns; i++) free(c[i]);
    free(a), free(b);
    pw_matmul_ctx_release(&ctx);
    return status;
}

/* --- the MLP event (Fashion-MNIST) ---------------------------------------------------------- */

typedef struct {
    int kind;  /* 0 dense fp32, 1 int8, 2 sparse CSR */
    const pw_mlp *m;
    const pw_qmlp *q;
    const pw_sparse_mlp *s;
    const uint8_t *px;
    size_t n;
    float *logits, *xt;
    void *work;
} mlp_job;

static void mlp_forward(const mlp_job *j, const uint8_t *px, size_t n)
{
    if (j->kind == 0) pw_mlp_forward(j->m, px, n, j->logits, j->work);
    else if (j->kind == 1) pw_qmlp_forward(j->q, px, n, j->logits, j->work);
    else {
        pw_pixels_to_t(px, n, j->s->dims[0], j->xt);
        pw_sparse_mlp_forward(j->s, j->xt, n, j->logits, j->work);
    }
}

static void run_mlp(void *arg, uint64_t iters)
{
    const mlp_job *j = arg;
    for (uint64_t i = 0; i < iters; i++) mlp_forward(j, j->px, j->n);
}

/* Accuracy of a submission on the whole test split, through its own forward pass (batch by
 * batch, the batch size of the event); its prediction for every image into pred. */
static double mlp_accuracy(const mlp_job *j, const pw_mnist *test, size_t classes, uint8_t *pred)
{
    size_t d = test->rows * test->cols, correct = 0;
    for (size_t at = 0; at < test->n; at += j->n) {
        size_t n = test->n - at < j->n ? test->n - at : j->n;
        mlp_forward(j, test->pixels + at * d, n);
        for (size_t i = 0; i < n; i++) {
            size_t best = 0;
            for (size_t k = 1; k < classes; k++) {
                /* The sparse path is feature-major (classes × n), the others row-major. */
                float v = j->kind == 2 ? j->logits[k * n + i] : j->logits[i * classes + k];
                float bv = j->kind == 2 ? j->logits[best * n + i] : j->logits[i * classes + best];
                if (v > bv) best = k;
            }
            pred[at + i] = (uint8_t)best;
            correct += best == test->labels[at + i];
        }
    }
    return (double)correct / (double)test->n;
}

static int event_mlp(pw_run *run, const char *const *names, size_t ns, long runs,
                     const pw_bench_config *cfg)
{
    pw_result *r = pw_run_result(run);
    bool quick = pw_run_quick(run);
    size_t batch = (size_t)pw_run_int(run, "batch");
    double max_drop = pw_run_real(run, "max_drop");
    pw_mnistexp e;
    int status = pw_mnistexp_load(&e, quick, true, r);
    if (status != PW_OK) return status;
    const pw_mlp *m = e.model;
    size_t classes = m->dims[PW_MLP_LAYERS], ncal = e.train.n < 1000 ? e.train.n : 1000;
    size_t widest = 0;
    for (int l = 0; l <= PW_MLP_LAYERS; l++)
        if (m->dims[l] > widest) widest = m->dims[l];
    ev_sub subs[8];
    mlp_job jobs[8];
    pw_mlp *owned[8] = {0};
    pw_qmlp *q[8] = {0};
    pw_sparse_mlp sp[8];
    bool sp_init[8] = {0};
    uint8_t *pred[8] = {0};
    memset(subs, 0, sizeof subs);
    memset(jobs, 0, sizeof jobs);
    for (size_t i = 0; i < ns && status == PW_OK; i++) {
        mlp_job *j = &jobs[i];
        subs[i].name = names[i];
        j->px = e.test.pixels;
        j->n = batch;
        j->logits = pw_xmalloc(batch * classes * sizeof *j->logits);
        j->xt = pw_xmalloc(batch * widest * sizeof *j->xt);
        if (strcmp(names[i], "fp32") == 0 || strcmp(names[i], "neurons50") == 0) {
            const pw_mlp *mm = m;
            if (names[i][0] == 'n') mm = owned[i] = pw_prune_neurons(m, 0.5);
            j->kind = 0;
            j->m = mm;
            j->work = pw_xmalloc(pw_mlp_work_floats(mm, batch) * sizeof(float));
            subs[i].memory = (double)pw_mlp_bytes(mm);
        } else if (strcmp(names[i], "int8") == 0) {
            q[i] = pw_qmlp_new(m, e.train.pixels, ncal, PW_CALIB_MINMAX, 0, pw_qgemm_best());
            if (!q[i]) {
                pw_result_error(r, "cannot build the int8 model");
                status = PW_EINTERNAL;
                break;
            }
            /* The integer pass against the independent scalar reference, exactly, before its
             * accuracy is computed or it is timed. */
            char why[256];
            size_t nchk = e.test.n < batch ? e.test.n : batch;
            if (pw_qmlp_check(q[i], e.test.pixels, nchk, why, sizeof why) != PW_OK) {
                pw_result_error(r, "the int8 model disagrees with its scalar reference pass "
                                "(nothing was timed): %s", why);
                status = PW_EINTERNAL;
                break;
            }
            j->kind = 1;
            j->q = q[i];
            j->work = pw_xmalloc(pw_qmlp_work_bytes(q[i], batch));
            subs[i].memory = (double)pw_qmlp_bytes(q[i]);
        } else if (strcmp(names[i], "pruned50") == 0 || strcmp(names[i], "pruned90") == 0) {
            owned[i] = pw_mlp_clone(m);
            pw_prune_layers(owned[i], names[i][6] == '5' ? 0.5 : 0.9);
            if (pw_sparse_mlp_init(&sp[i], owned[i]) != PW_OK) {
                pw_result_error(r, "cannot build the sparse model");
                status = PW_EINTERNAL;
                break;
            }
            sp_init[i] = true;
            j->kind = 2;
            j->s = &sp[i];
            j->work = pw_xmalloc(pw_mlpt_work_floats(m->dims, batch) * sizeof(float));
            subs[i].memory = (double)pw_sparse_mlp_bytes(&sp[i]);
        } else {
            pw_result_error(r, "'%s' is not a submission of the mlp event (fp32, int8, pruned50, "
                            "pruned90, neurons50)", names[i]);
            status = PW_EINVAL;
            break;
        }
        subs[i].fn = run_mlp;
        subs[i].arg = j;
        pred[i] = pw_xmalloc(e.test.n);
        subs[i].accuracy = mlp_accuracy(j, &e.test, classes, pred[i]);
        char name[64];
        snprintf(name, sizeof name, "accuracy.%s", names[i]);
        size_t k = (size_t)llround(subs[i].accuracy * (double)e.test.n);
        pw_mnistexp_publish_accuracy(r, name, k, e.test.n);
    }
    if (status == PW_OK) {
        /* The gate decides from the paired interval of the drop, as the compression chapter's
         * claims do: a submission passes only when the whole 95% interval of (baseline −
         * submission) accuracy lies below max_drop points. */
        for (size_t i = 1; i < ns; i++) {
            pw_mnistexp_paired mc;
            pw_mnistexp_mcnemar(pred[0], pred[i], e.test.labels, e.test.n, &mc);
            char name[96];
            snprintf(name, sizeof name, "drop.accuracy.%s_vs_%s", names[i], names[0]);
            pw_mnistexp_publish_drop(r, name, &mc);
            subs[i].gate = 100 * mc.hi < max_drop;
            if (!subs[i].gate)
                snprintf(subs[i].why, sizeof subs[i].why, "test accuracy %.2f%%, %.2f points "
                         "below the baseline (95%% CI %.2f to %.2f), not wholly below the %g-point "
                         "drop the gate allows", 100 * subs[i].accuracy, 100 * mc.diff,
                         100 * mc.lo, 100 * mc.hi, max_drop);
        }
        subs[0].gate = true;
        status = event_score(run, subs, ns, runs, cfg, 1e3, "ms");
    }
    if (status == PW_OK)
        pw_result_note(r, "MLP event: latency of one batch of %zu test images; memory = the bytes "
                       "the model stores (fp32 weights and biases; int8 weights with their "
                       "scales; CSR values, indices and row pointers); gate: the 95%% interval of "
                       "the accuracy drop against the fp32 baseline (all %zu test images, through "
                       "the submission's own forward pass, paired: exact McNemar-based interval) "
                       "wholly below a drop of %g percentage point(s); int8 calibrated by min/max "
                       "on %zu training images; pruned = per-layer magnitude pruning without "
                       "fine-tuning; neurons50 = half of each hidden layer's neurons removed",
                       batch, e.test.n, max_drop, ncal);
    for (size_t i = 0; i < ns; i++) {
        free(jobs[i].logits), free(jobs[i].xt), free(jobs[i].work);
        pw_mlp_free(owned[i]);
        pw_qmlp_free(q[i]);
        if (sp_init[i]) pw_sparse_mlp_release(&sp[i]);
        free(pred[i]);
    }
    pw_mnistexp_release(&e);
    return status;
}

/* --- the decoding event (transformer, greedy generation) ------------------------------------ */

typedef struct {
    const pw_transformer *m;
    pw_transformer_work *w;
    pw_kvcache *cache;  /* NULL: full recomputation */
    int *seq;
    int prompt, steps;
    int status;
} dec_job;

static void dec_once(dec_job *j)
{
    char msg[128];
    if (j->cache)
        j->status = pw_transformer_generate_cached(j->m, j->cache, j->w, j->seq, j->prompt,
                                                   j->steps, NULL, msg, sizeof msg);
    else
        j->status = pw_transformer_generate_full(j->m, j->w, j->seq, j->prompt, j->steps, NULL,
                                                 msg, sizeof msg);
}

static void run_dec(void *arg, uint64_t iters)
{
    dec_job *j = arg;
    for (uint64_t i = 0; i < iters; i++) dec_once(j);
}

static int event_decoding(pw_run *run, const char *const *names, size_t ns, long runs,
                          const pw_bench_config *cfg)
{
    pw_result *r = pw_run_result(run);
    bool quick = pw_run_quick(run);
    pw_transformer_config tc;
    pw_transformer_config_default(&tc);
    tc.d_model = quick ? 32 : 64;
    tc.heads = 4;
    tc.layers = quick ? 1 : 2;
    tc.d_ff = 4 * tc.d_model;
    tc.vocab = 256;
    tc.context = 256;
    tc.seed = 7;
    int prompt = 8, steps = quick ? 16 : (int)pw_run_int(run, "steps");
    if (prompt + steps > tc.context) steps = tc.context - prompt;
    pw_matmul_set_threads(1);
    char msg[256];
    pw_alloc *wacct = pw_alloc_new();
    pw_alloc *acct[8] = {0};
    pw_transformer *m = NULL;
    dec_job jobs[8];
    ev_sub subs[8];
    int *want = NULL;
    int status = pw_transformer_new(&tc, wacct, &m, msg, sizeof msg);
    memset(jobs, 0, sizeof jobs);
    memset(subs, 0, sizeof subs);
    if (status != PW_OK) {
        pw_result_error(r, "%s", msg);
        goto out;
    }
    double weights = (double)pw_alloc_current(wacct, NULL);
    for (size_t i = 0; i < ns && status == PW_OK; i++) {
        bool cached = strcmp(names[i], "cached") == 0;
        if (!cached && strcmp(names[i], "full") != 0) {
            pw_result_error(r, "'%s' is not a submission of the decoding event (full, cached)",
                            names[i]);
            status = PW_EINVAL;
            break;
        }
        dec_job *j = &jobs[i];
        acct[i] = pw_alloc_new();
        j->m = m;
        j->prompt = prompt;
        j->steps = steps;
        j->seq = pw_xcalloc((size_t)(prompt + steps), sizeof *j->seq);
        for (int p = 0; p < prompt; p++) j->seq[p] = (p * 37 + 11) % tc.vocab;
        status = pw_transformer_work_new(m, cached ? prompt : prompt + steps, acct[i], &j->w, msg,
                                         sizeof msg);
        if (status == PW_OK && cached)
            status = pw_kvcache_new(m, prompt + steps, acct[i], &j->cache, msg, sizeof msg);
        if (status != PW_OK) {
            pw_result_error(r, "%s", msg);
            break;
        }
        dec_once(j);
        if (j->status != PW_OK) {
            pw_result_error(r, "generation failed for '%s'", names[i]);
            status = j->status;
            break;
        }
        subs[i].name = names[i];
        subs[i].fn = run_dec;
        subs[i].arg = j;
        subs[i].accuracy = NAN;
        subs[i].memory = weights + (double)pw_alloc_peak(acct[i], NULL);
        /* The gate: exactly the baseline's tokens. */
        if (i == 0) {
            want = pw_xmalloc((size_t)(prompt + steps) * sizeof *want);
            memcpy(want, j->seq, (size_t)(prompt + steps) * sizeof *want);
        }
        subs[i].gate = memcmp(want, j->seq, (size_t)(prompt + steps) * sizeof *want) == 0;
        if (!subs[i].gate)
            snprintf(subs[i].why, sizeof subs[i].why, "its tokens differ from the baseline's");
    }
    if (status == PW_OK) status = event_score(run, subs, ns, runs, cfg, 1e3, "ms");
    if (status == PW_OK) {
        for (size_t i = 0; i < ns; i++)
            if (jobs[i].status != PW_OK) {
                pw_result_error(r, "a timed generation of '%s' failed", names[i]);
                status = PW_EINTERNAL;
            }
        pw_result_note(r, "decoding event: greedy generation of %d tokens after a prompt of "
                       "%d tokens by a %d-layer transformer (d_model %d, %d heads, vocab %d, "
                       "seeded weights); latency per whole generation; memory = the weights plus "
                       "every tensor the path allocates through the accounting allocator "
                       "(workspace, KV cache); gate: the same tokens as the baseline", steps,
                       prompt, tc.layers, tc.d_model, tc.heads, tc.vocab);
    }
out:
    for (size_t i = 0; i < 8; i++) {
        pw_kvcache_free(jobs[i].cache);
        pw_transformer_work_free(jobs[i].w);
        free(jobs[i].seq);
        pw_alloc_free(acct[i]);
    }
    free(want);
    pw_transformer_free(m);
    pw_alloc_free(wacct);
    return status;
}

static const char *const event_names[] = {"matmul", "mlp", "decoding", NULL};
static const char *const sub_names[] = {"default", "naive", "ikj", "blocked", "packed", "openblas",
                                        "fp32", "int8", "pruned50", "pruned90", "neurons50",
                                        "full", "cached", NULL};

static int run_events(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    bool quick = pw_run_quick(run);
    const char *event = pw_run_string(run, "event");
    const char *names[8];
    size_t ns = pw_run_strings(run, "submissions", names, 8);
    long runs = pw_run_int(run, "runs");
    if (ns == 1 && strcmp(names[0], "default") == 0) {
        static const char *const mm[] = {"naive", "blocked", "packed", "openblas"};
        static const char *const ml[] = {"fp32", "int8", "pruned50", "pruned90", "neurons50"};
        static const char *const dc[] = {"full", "cached"};
        const char *const *d = strcmp(event, "matmul") == 0 ? mm : strcmp(event, "mlp") == 0 ? ml : dc;
        ns = strcmp(event, "matmul") == 0 ? 4 : strcmp(event, "mlp") == 0 ? 5 : 2;
        for (size_t i = 0; i < ns; i++) names[i] = d[i];
    }
    if (ns < 2 || ns > 8) {
        pw_result_error(r, "an event needs 2 to 8 submissions (the first is the baseline)");
        return PW_EINVAL;
    }
    for (size_t i = 0; i < ns; i++)
        for (size_t k = i + 1; k < ns; k++)
            if (strcmp(names[i], names[k]) == 0) {
                pw_result_error(r, "submission '%s' appears twice", names[i]);
                return PW_EINVAL;
            }
    pw_bench_config cfg;
    pw_bench_config_default(&cfg, quick);
    cfg.max_seconds = pw_run_real(run, "budget");
    if (quick) {
        if (runs > 3) runs = 3;
        cfg.max_seconds = 0.1;
    }
    if (strcmp(event, "matmul") == 0) return event_matmul(run, names, ns, runs, &cfg);
    if (strcmp(event, "mlp") == 0) return event_mlp(run, names, ns, runs, &cfg);
    return event_decoding(run, names, ns, runs, &cfg);
}

static const char *const events_metrics[] = {
    "latency.SUB", "speedup.SUB_vs_BASE", "memory.SUB", "score.SUB", "accuracy.SUB (mlp)",
    "drop.accuracy.SUB_vs_BASE (mlp)",
    "tau.mean", "tau.min", "runs", NULL};
static const pw_param_spec events_params[] = {
    {"event", PW_PARAM_STRING, "matmul", 0, 0, event_names,
     "matmul (kernels), mlp (Fashion-MNIST model variants) or decoding (transformer generation)"},
    {"submissions", PW_PARAM_STRING_LIST, "[default]", 0, 0, sub_names,
     "submissions, the first being the baseline; default: the event's own set"},
    {"runs", PW_PARAM_INT, "5", 2, 64, NULL, "repeated runs for the ranking's stability"},
    {"budget", PW_PARAM_REAL, "0.6", 0.05, 60, NULL, "seconds of measurement per run"},
    {"n", PW_PARAM_INT, "256", 8, 2048, NULL, "matmul event: square matrix size"},
    {"batch", PW_PARAM_INT, "256", 1, 10000, NULL, "mlp event: images per timed forward pass"},
    {"max_drop", PW_PARAM_REAL, "1", 0, 100, NULL,
     "mlp event: accuracy gate, percentage points below the baseline"},
    {"steps", PW_PARAM_INT, "32", 1, 248, NULL, "decoding event: tokens generated"},
};
/* The events also check their library submissions (baseline.h). */
static const char *const events_sources[] = {
    "src/kernels/matmul.c", "src/kernels/matmul_packed.c", "src/kernels/peak.c",
    "src/kernels/mnist.c", "src/kernels/mlp.c", "src/experiments/mnistexp.c", "src/kernels/quant.c",
    "src/kernels/qgemm.c", "src/kernels/prune.c", "src/kernels/sparse.c",
    "src/kernels/transformer.c", "src/kernels/tensor_alloc.c", "src/kernels/baselines.c",
    "src/kernels/openblas_core.c", "src/experiments/baseline.c", "src/experiments/baseline.h",
    "src/measure/handicap.c", NULL};

const pw_experiment pw_exp_benchmarking_events = {
    "benchmarking.events",
    "TinyMLPerf-style events (matmul, mlp, decoding): geometric-mean score with an accuracy gate, "
    "ranking stability",
    events_params, sizeof events_params / sizeof events_params[0], events_metrics, run_events,
    events_sources,
};
