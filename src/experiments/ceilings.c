/* ceilings.c — the machine's ceilings, measured inside an experiment (ceilings.h): the
 * arithmetic peak of every vector width the CPU runs and the triad bandwidth of one core from
 * DRAM and from L2, published as metrics, and the roofs of a roofline chart. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ceilings.h"
#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/cpu.h"

/* --- peaks ---------------------------------------------------------------------------------- */
/* One iteration of the bench is PEAK_ROUNDS rounds of a peak kernel. */
enum { PEAK_ROUNDS = 10000 };

typedef struct {
    pw_peak_kind kind;
    volatile double sink;
} peak_job;

static void run_peak(void *arg, uint64_t iters)
{
    peak_job *p = arg;
    if (pw_peak_is_int8(p->kind))
        p->sink = (double)pw_peak_int8_run(p->kind, iters * PEAK_ROUNDS, 1, 1);
    else
        p->sink = pw_peak_fma_run(p->kind, iters * PEAK_ROUNDS, PW_PEAK_MUL, PW_PEAK_ADD);
}

const char *pw_ceilings_label(pw_peak_kind kind)
{
    switch (kind) {
    case PW_PEAK_AVX512: return "AVX-512";
    case PW_PEAK_AVX2: return "AVX2";
    case PW_PEAK_VNNI256: return "AVX-VNNI";
    case PW_PEAK_VNNI512: return "AVX512-VNNI";
    case PW_PEAK_AMX: return "AMX-INT8";
    default: return "scalar";
    }
}

/* Times one kind alone and publishes peak.<metric> into r; returns the median or NAN. */
static double measure_peak_into(pw_run *run, pw_result *r, pw_peak_kind kind)
{
    pw_bench_config cfg;
    pw_bench_config_default(&cfg, pw_run_quick(run));
    cfg.max_seconds = pw_run_quick(run) ? 0.1 : 0.5;
    pw_bench *b = pw_bench_new(&cfg);
    peak_job job = {kind, 0};
    char name[64];
    snprintf(name, sizeof name, "peak.%s", pw_peak_metric(kind));
    size_t i = pw_bench_add(b, name, run_peak, &job);
    double value = NAN;
    pw_metric m;
    if (pw_bench_run(b) == PW_OK &&
        pw_bench_publish_rate(b, i, r, name, pw_peak_ops_per_iter(kind) * PEAK_ROUNDS / 1e9,
                              pw_peak_is_int8(kind) ? "GOP/s" : "GFLOP/s") == PW_OK &&
        pw_result_get_metric(r, name, &m) == PW_OK)
        value = m.value;
    pw_bench_free(b);
    return value;
}

static double measure_peak(pw_run *run, pw_peak_kind kind)
{
    return measure_peak_into(run, pw_run_result(run), kind);
}

/* Publishes peak.fma as a copy of the roof's own metric (peak.<roof>). */
static void publish_roof(pw_result *r, pw_peak_kind roof)
{
    pw_metric m;
    char roofname[64];
    snprintf(roofname, sizeof roofname, "peak.%s", pw_peak_metric(roof));
    if (pw_result_get_metric(r, roofname, &m) == PW_OK) {
        pw_result_metric(r, "peak.fma", m.value, m.lo, m.hi, m.unit);
        pw_result_metric_basis(r, "peak.fma", m.n, m.cv);
    }
}

/* Times kind again into a scratch result and keeps the faster window: replaces peak.<kind> (and
 * peak.fma when kind is the roof) and c's value when the second is faster; a note gives both. */
static void recheck_kind(pw_run *run, pw_ceilings *c, pw_peak_kind kind)
{
    pw_result *r = pw_run_result(run);
    pw_result *scratch = pw_result_new("ceilings", "recheck");
    double first = c->peak[kind], again = measure_peak_into(run, scratch, kind);
    const bool int8 = pw_peak_is_int8(kind);
    char name[64];
    snprintf(name, sizeof name, "peak.%s", pw_peak_metric(kind));
    bool faster = isfinite(again) && again > first;
    pw_result_note(r, "%s (%s) was timed twice, before and after the timed products: %.4g and "
                   "%.4g %s; the faster window is the roof (a loop that touches no memory can "
                   "be slowed by other work on the host, never sped up)%s",
                   kind == c->roof ? "peak.fma" : name, pw_peak_isa(kind), first, again,
                   int8 ? "GOP/s" : "GFLOP/s",
                   isfinite(again) ? "" : " (the second window could not be timed)");
    if (faster) {
        json_t *mine = json_object_get(pw_result_json(r), "metrics");
        json_t *theirs = json_object_get(json_object_get(pw_result_json(scratch), "metrics"), name);
        if (json_is_object(mine) && json_is_object(theirs)) {
            json_object_set_new(mine, name, json_deep_copy(theirs));
            c->peak[kind] = again;
            if (kind == c->roof) {
                publish_roof(r, c->roof);
                c->roof_value = again;
            }
        }
    }
    pw_result_free(scratch);
}

void pw_ceilings_recheck(pw_run *run, pw_ceilings *c, unsigned what)
{
    for (int k = 0; k < PW_PEAK_KINDS; k++) {
        pw_peak_kind kind = (pw_peak_kind)k;
        bool want = pw_peak_is_int8(kind) ? (what & PW_CEIL_INT8) != 0
                                          : (what & PW_CEIL_ROOF) && kind == c->roof;
        if (want && isfinite(c->peak[k])) recheck_kind(run, c, kind);
    }
}

void pw_ceilings_recheck_roof(pw_run *run, pw_ceilings *c)
{
    pw_ceilings_recheck(run, c, PW_CEIL_ROOF);
}

/* --- triad ---------------------------------------------------------------------------------- */
typedef struct {
    double *a, *b, *c;
    size_t n;
} triad_job;

static void run_triad(void *arg, uint64_t iters)
{
    triad_job *t = arg;
    for (uint64_t i = 0; i < iters; i++) pw_triad(PW_UKERNEL_AUTO, t->a, t->b, t->c, 3.0, t->n);
}

/* Times the triad over three arrays of `bytes` in total and publishes `metric` in GB/s; returns
 * the median, or NAN (with a warning) when the arrays cannot be allocated. */
static double measure_triad(pw_run *run, const char *metric, size_t bytes, bool dram)
{
    pw_result *r = pw_run_result(run);
    bool quick = pw_run_quick(run);
    size_t n = bytes / (3 * sizeof(double));
    n = n / 16 * 16;
    if (n < 16) n = 16;
    size_t each = n * sizeof(double);
    triad_job t = {aligned_alloc(64, each), aligned_alloc(64, each), aligned_alloc(64, each), n};
    double value = NAN;
    if (!t.a || !t.b || !t.c) {
        pw_result_warning(r, "%s: could not allocate 3 × %zu MiB for the triad; not measured",
                          metric, each >> 20);
        goto out;
    }
    /* First touch: every page is faulted in before anything is timed. */
    for (size_t i = 0; i < n; i++) {
        t.a[i] = 0.0;
        t.b[i] = (double)(i & 1023);
        t.c[i] = 1.0 / (double)((i & 7) + 1);
    }
    pw_bench_config cfg;
    pw_bench_config_default(&cfg, quick);
    if (dram) {
        /* One pass over a DRAM-sized set takes ~0.1 s: few, long samples. */
        cfg.min_samples = quick ? 3 : 10;
        cfg.max_seconds = quick ? 0.3 : 1.5;
        cfg.warmup_seconds = 0.0;
    } else {
        cfg.max_seconds = quick ? 0.1 : 0.5;
    }
    pw_bench *b = pw_bench_new(&cfg);
    size_t i = pw_bench_add(b, metric, run_triad, &t);
    pw_metric m;
    if (pw_bench_run(b) == PW_OK &&
        pw_bench_publish_rate(b, i, r, metric, pw_triad_bytes(n) / 1e9, "GB/s") == PW_OK &&
        pw_result_get_metric(r, metric, &m) == PW_OK)
        value = m.value;
    pw_bench_free(b);
    /* The result is used, so the passes cannot be elided. */
    if (!(t.a[n / 2] == t.b[n / 2] + 3.0 * t.c[n / 2]))
        pw_result_warning(r, "%s: the triad's output is wrong", metric);
out:
    free(t.a);
    free(t.b);
    free(t.c);
    return value;
}

double pw_ceilings_triad(pw_run *run, const char *metric, size_t bytes)
{
    /* Sets of 64 MiB or more take long passes: few, long samples, as for DRAM. */
    return measure_triad(run, metric, bytes, bytes >= ((size_t)64 << 20));
}

/* The DRAM working set: 4 × the last-level cache (at least 64 MiB), at most a quarter of
 * physical memory; or triad_mib when given.  *capped says the memory cap bound. */
static size_t dram_bytes(const size_t cache[3], long triad_mib, bool *capped)
{
    *capped = false;
    if (triad_mib > 0) return (size_t)triad_mib << 20;
    size_t llc = cache[2] ? cache[2] : cache[1] ? cache[1] : 0;
    size_t want = 4 * llc;
    if (want < ((size_t)64 << 20)) want = (size_t)64 << 20;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psize > 0) {
        size_t cap = (size_t)pages * (size_t)psize / 4;
        if (want > cap) {
            want = cap;
            *capped = true;
        }
    }
    return want;
}

int pw_ceilings_measure(pw_run *run, unsigned what, long triad_mib, pw_ceilings *out)
{
    pw_result *r = pw_run_result(run);
    const pw_cpu_info *cpu = pw_cpu_host();
    for (int k = 0; k < PW_PEAK_KINDS; k++) out->peak[k] = NAN;
    out->roof = pw_peak_widest_fma(cpu);
    out->roof_value = out->bw_dram = out->bw_l2 = NAN;
    out->dram_bytes = out->l2_bytes = 0;

    pw_buf skipped;
    pw_buf_init(&skipped);
    for (int k = 0; k < PW_PEAK_KINDS; k++) {
        pw_peak_kind kind = (pw_peak_kind)k;
        bool want = pw_peak_is_int8(kind) ? (what & PW_CEIL_INT8) != 0
                                          : (what & PW_CEIL_FMA) || ((what & PW_CEIL_ROOF) && kind == out->roof);
        if (!want) continue;
        char why[256];
        if (!pw_peak_usable(kind, cpu, why, sizeof why)) {
            pw_buf_printf(&skipped, "%speak.%s (%s)", skipped.len ? "; " : "", pw_peak_metric(kind),
                          why);
            continue;
        }
        out->peak[k] = measure_peak(run, kind);
    }
    out->roof_value = out->peak[out->roof];
    publish_roof(r, out->roof);
    pw_buf chains;
    pw_buf_init(&chains);
    for (int k = 0; k < PW_PEAK_KINDS; k++)
        if (isfinite(out->peak[k]))
            pw_buf_printf(&chains, "%s%d %s", chains.len ? ", " : "", pw_peak_chains((pw_peak_kind)k),
                          pw_peak_isa((pw_peak_kind)k));
    bool fp32 = isfinite(out->roof_value);
    if (chains.len)
        pw_result_note(r, "Ceilings: independent chains of one instruction (%s), each width timed "
                       "on its own%s%s%s.%s%s", chains.data,
                       fp32 ? "; peak.fma is the widest width this CPU, its OS and this build run ("
                            : "",
                       fp32 ? pw_peak_isa(out->roof) : "",
                       fp32 ? "), the roof every fp32 fraction_of_peak divides by" : "",
                       skipped.len ? "  Not measured here: " : "", skipped.data);
    pw_buf_release(&chains);
    pw_buf_release(&skipped);

    if (what & PW_CEIL_BANDWIDTH) {
        size_t cache[3];
        pw_cache_sizes(cache);
        bool capped;
        out->dram_bytes = dram_bytes(cache, triad_mib, &capped);
        out->l2_bytes = cache[1] ? cache[1] / 2 : (size_t)256 << 10;
        out->bw_dram = measure_triad(run, "bandwidth.triad.dram", out->dram_bytes, true);
        out->bw_l2 = measure_triad(run, "bandwidth.triad.l2", out->l2_bytes, false);
        pw_result_note(r, "Bandwidth: the STREAM triad a = b + s·c on one core with %s vectors, "
                       "counted as 24 bytes per element (two reads, one write; the write-allocate "
                       "read is not counted).  DRAM: three arrays of %zu MiB in all%s, against a "
                       "last-level cache of %zu MiB; L2: %zu KiB in all, half the %zu KiB L2.",
                       pw_ukernel_name(pw_ukernel_widest(cpu)), out->dram_bytes >> 20,
                       triad_mib > 0 ? " (set by triad_mib)"
                       : capped      ? " (capped at a quarter of physical memory)"
                                     : " (4 × the last-level cache)",
                       (cache[2] ? cache[2] : cache[1]) >> 20, out->l2_bytes >> 10,
                       cache[1] >> 10);
    }
    return PW_OK;
}

/* Adds the machine's roofs to a roofline chart (x: flop per byte): one series per bandwidth,
 * min(bandwidth × x, roof), over [xlo, xhi]; the roof and the AVX2 peak as lines. */
void pw_ceilings_roofline(const pw_ceilings *c, pw_chart *chart, double xlo, double xhi)
{
    const struct { const char *label; double bw; } roofs[] = {
        {"DRAM roof (triad, 1 core)", c->bw_dram}, {"L2 roof (triad, 1 core)", c->bw_l2}};
    for (size_t i = 0; i < 2 && isfinite(c->roof_value); i++) {
        if (!isfinite(roofs[i].bw) || roofs[i].bw <= 0) continue;
        pw_series *s = pw_chart_series(chart, roofs[i].label);
        double ridge = c->roof_value / roofs[i].bw;
        if (ridge > xlo) pw_series_point(s, xlo, roofs[i].bw * xlo, NAN, NAN);
        if (ridge > xlo && ridge < xhi) pw_series_point(s, ridge, c->roof_value, NAN, NAN);
        pw_series_point(s, xhi, fmin(roofs[i].bw * xhi, c->roof_value), NAN, NAN);
    }
    char label[96];
    if (isfinite(c->roof_value)) {
        snprintf(label, sizeof label, "%s FMA peak, 1 core", pw_ceilings_label(c->roof));
        pw_chart_hline(chart, label, c->roof_value);
    }
    if (c->roof != PW_PEAK_AVX2 && isfinite(c->peak[PW_PEAK_AVX2]))
        pw_chart_hline(chart, "AVX2 FMA peak, 1 core", c->peak[PW_PEAK_AVX2]);
}

