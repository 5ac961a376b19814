/* machine.c — the experiment `machine.ceilings`: every ceiling of one core (the peak of each
 * vector width, fp32 and int8; the triad bandwidth from DRAM and from L2) with the machine's
 * roofline, the CPU topology (SMT siblings), and whether 512-bit work lowers the clock for the
 * code that runs right after it.  Other chapters can reference its metrics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ceilings.h"
#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/cpu.h"
#include "perfweave/stats.h"


/* Median and bootstrap interval of rates ops / t over samples t; published as name. */
static void publish_rates(pw_result *r, const char *name, const double *t, size_t n, double ops,
                          const char *unit)
{
    double *rate = pw_xmalloc(n * sizeof *rate);
    for (size_t i = 0; i < n; i++) rate[i] = ops / t[i] / 1e9;
    pw_summary s;
    if (pw_stats_summarize(rate, n, 20261129, &s) == PW_OK) {
        pw_result_metric(r, name, s.median, s.ci95_median[0], s.ci95_median[1], unit);
        pw_result_metric_basis(r, name, (double)n, s.cv);
    }
    free(rate);
}

/* Does 512-bit work lower the clock for what runs right after it?  Rounds alternate two
 * conditions, each a prelude of about 5 ms of work followed by a timed window of about 0.5 ms
 * of AVX2 FMAs: the prelude is scalar in one, AVX-512 in the other.  A lowered frequency licence
 * lasts on the order of a millisecond after the last heavy 512-bit instruction on the cores that
 * have one, so the window falls inside it.  Publishes both windows' AVX2 rates and their ratio. */
static void clock_test(pw_run *run, const pw_ceilings *c)
{
    pw_result *r = pw_run_result(run);
    const pw_cpu_info *cpu = pw_cpu_host();
    char why[256];
    if (!pw_peak_usable(PW_PEAK_AVX512, cpu, why, sizeof why) ||
        !pw_peak_usable(PW_PEAK_AVX2, cpu, why, sizeof why)) {
        pw_result_note(r, "Clock after 512-bit work: not measured, it needs both AVX-512 and "
                       "AVX2 (%s)", why);
        return;
    }
    double p5 = c->peak[PW_PEAK_AVX512], p2 = c->peak[PW_PEAK_AVX2], ps = c->peak[PW_PEAK_SCALAR];
    if (!(p5 > 0 && p2 > 0 && ps > 0)) {
        pw_result_note(r, "Clock after 512-bit work: not measured (the peaks it is sized from "
                       "were not measured)");
        return;
    }
    const double prelude = 5e-3, window = 0.5e-3;
    uint64_t pre5 = (uint64_t)(prelude * p5 * 1e9 / pw_peak_ops_per_iter(PW_PEAK_AVX512)) + 1;
    uint64_t pres = (uint64_t)(prelude * ps * 1e9 / pw_peak_ops_per_iter(PW_PEAK_SCALAR)) + 1;
    uint64_t win = (uint64_t)(window * p2 * 1e9 / pw_peak_ops_per_iter(PW_PEAK_AVX2)) + 1;
    size_t rounds = pw_run_quick(run) ? 30 : 200;
    double *after_s = pw_xmalloc(rounds * sizeof *after_s);
    double *after_5 = pw_xmalloc(rounds * sizeof *after_5);
    volatile double sink = 0;
    for (size_t i = 0; i < rounds; i++)
        for (int cond = 0; cond < 2; cond++) {
            int which = (int)(i & 1) ^ cond; /* alternate which condition goes first */
            if (which) sink += pw_peak_fma_run(PW_PEAK_AVX512, pre5, PW_PEAK_MUL, PW_PEAK_ADD);
            else sink += pw_peak_fma_run(PW_PEAK_SCALAR, pres, PW_PEAK_MUL, PW_PEAK_ADD);
            double t0 = pw_now();
            sink += pw_peak_fma_run(PW_PEAK_AVX2, win, PW_PEAK_MUL, PW_PEAK_ADD);
            double t = pw_now() - t0;
            (which ? after_5 : after_s)[i] = t;
        }
    (void)sink;
    double ops = (double)win * pw_peak_ops_per_iter(PW_PEAK_AVX2);
    publish_rates(r, "clock.avx2_after_scalar", after_s, rounds, ops, "GFLOP/s");
    publish_rates(r, "clock.avx2_after_avx512", after_5, rounds, ops, "GFLOP/s");
    pw_result_samples(r, "clock.avx2_after_scalar", after_s, rounds);
    pw_result_samples(r, "clock.avx2_after_avx512", after_5, rounds);
    double ratio, ci[2];
    /* rate after AVX-512 / rate after scalar = time after scalar / time after AVX-512 */
    if (pw_stats_ratio_median(after_s, rounds, after_5, rounds, 20261129, 0.95, &ratio, ci) ==
        PW_OK) {
        pw_result_metric(r, "ratio.clock.avx2_after_avx512", ratio, ci[0], ci[1], "×");
        pw_result_note(r, "Clock after 512-bit work: AVX2 FMAs timed for %.1f ms right after %.0f "
                       "ms of AVX-512 FMAs ran at %.3g× (95%% CI %.3g–%.3g) their rate right "
                       "after the same time of scalar work (%zu rounds of each, alternated).  "
                       "An interval below 1 means the 512-bit work lowered the clock for the code "
                       "that followed it; an interval containing 1, that no such effect showed "
                       "here.  Interleaved comparisons cancel this effect out of a ratio, not out "
                       "of an absolute rate.", window * 1e3, prelude * 1e3, ratio, ci[0], ci[1],
                       rounds);
    }
    free(after_s);
    free(after_5);
}

/* The widths' peaks against each other: how much of the doubled width the 512-bit unit
 * delivers (2 where it runs at the same clock and issue rate). */
static void width_ratio(pw_result *r)
{
    pw_metric a, b;
    if (pw_result_get_metric(r, "peak.fma.avx512", &a) != PW_OK ||
        pw_result_get_metric(r, "peak.fma.avx2", &b) != PW_OK || !(b.value > 0) || !(b.lo > 0))
        return;
    pw_result_metric(r, "ratio.peak.avx512_vs_avx2", a.value / b.value, a.lo / b.hi,
                     a.hi / b.lo, "×");
}

static const char *const ceiling_parts[] = {"fma", "int8", "bandwidth", "clock", NULL};

static int run_ceilings(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    unsigned what = 0;
    if (pw_run_has(run, "parts", "fma") || pw_run_has(run, "parts", "clock")) what |= PW_CEIL_FMA;
    if (pw_run_has(run, "parts", "int8")) what |= PW_CEIL_INT8;
    if (pw_run_has(run, "parts", "bandwidth")) what |= PW_CEIL_BANDWIDTH;
    pw_ceilings c;
    int st = pw_ceilings_measure(run, what, pw_run_int(run, "triad_mib"), &c);
    if (st != PW_OK) return st;
    width_ratio(r);

    static const char *const headers[] = {"ceiling", "what runs", "one core (95% CI)"};
    pw_table *t = pw_result_table(r, "ceilings", "The machine's ceilings, one core", 3, headers);
    for (int k = 0; k < PW_PEAK_KINDS; k++) {
        char name[64];
        pw_metric m;
        snprintf(name, sizeof name, "peak.%s", pw_peak_metric((pw_peak_kind)k));
        if (pw_result_get_metric(r, name, &m) != PW_OK) continue;
        pw_table_rowf(t, "%s\t%d chains of %s %s\t%.4g %s (%.4g–%.4g)", name,
                      pw_peak_chains((pw_peak_kind)k), pw_peak_isa((pw_peak_kind)k),
                      k == PW_PEAK_AMX                   ? "tdpbusd"
                      : pw_peak_is_int8((pw_peak_kind)k) ? "vpdpbusd"
                                                         : "multiply-add",
                      m.value,
                      m.unit, m.lo, m.hi);
    }
    static const char *const bws[] = {"bandwidth.triad.dram", "bandwidth.triad.l2"};
    for (int i = 0; i < 2; i++) {
        pw_metric m;
        if (pw_result_get_metric(r, bws[i], &m) != PW_OK) continue;
        pw_table_rowf(t, "%s\ttriad over %zu KiB\t%.4g GB/s (%.4g–%.4g)", bws[i],
                      (i ? c.l2_bytes : c.dram_bytes) >> 10, m.value, m.lo, m.hi);
        char ridge[48];
        snprintf(ridge, sizeof ridge, "ridge.%s", i ? "l2" : "dram");
        if (isfinite(c.roof_value) && m.value > 0 && m.lo > 0 &&
            pw_result_metric(r, ridge, c.roof_value / m.value, c.roof_value / m.hi,
                             c.roof_value / m.lo, "flop/B") == PW_OK) {
            /* A ridge from an undecidable peak or bandwidth decides nothing either. */
            pw_result_metric_inherit(r, ridge, "peak.fma");
            pw_result_metric_inherit(r, ridge, bws[i]);
        }
    }
    if (what & PW_CEIL_BANDWIDTH) {
        pw_chart *chart = pw_result_chart(r, "roofline", "The machine's roofline, one core",
                                          "arithmetic intensity (flop per byte of DRAM or L2 "
                                          "traffic)", "GFLOP/s", PW_CHART_LOGX | PW_CHART_LOGY);
        pw_ceilings_roofline(&c, chart, 1.0 / 16, 256);
        pw_result_note(r, "Roofline: a kernel of arithmetic intensity I (flop per byte moved) "
                       "can reach at most min(peak, bandwidth × I); left of a ridge point "
                       "(ridge.dram, ridge.l2: peak / bandwidth) it is memory-bound at that "
                       "level, right of it compute-bound.");
    }

    pw_topology topo;
    pw_cpu_topology(&topo);
    pw_result_exact(r, "cpus.online", topo.cpus, "");
    pw_result_exact(r, "cpus.cores", topo.cores, "");
    pw_result_exact(r, "cpus.smt", topo.smt ? 1 : 0, "");
    pw_result_note(r, "%s", topo.known
                                ? (topo.smt ? "Topology: some online CPUs are SMT siblings of "
                                              "one core (thread_siblings_list), so a peak × CPUs "
                                              "ceiling overstates the machine"
                                            : "Topology: no two online CPUs are SMT siblings "
                                              "(thread_siblings_list), as the OS sees them")
                                : "Topology: /sys/devices/system/cpu is not readable here");
    if (pw_cpu_host()->hypervisor)
        pw_result_note(r, "This is a virtual machine: its topology and caches are what the "
                       "hypervisor reports, and its clock follows the host's policy.");
    if (pw_run_has(run, "parts", "clock")) clock_test(run, &c);
    return PW_OK;
}

static const char *const ceilings_metrics[] = {
    "peak.fma", "peak.fma.ISA", "peak.int8.ISA", "bandwidth.triad.dram", "bandwidth.triad.l2",
    "ridge.dram", "ridge.l2", "ratio.peak.avx512_vs_avx2", "clock.avx2_after_scalar",
    "clock.avx2_after_avx512", "ratio.clock.avx2_after_avx512", "cpus.online", "cpus.cores",
    "cpus.smt", NULL};
static const pw_param_spec ceilings_params[] = {
    {"parts", PW_PARAM_STRING_LIST, "[fma, int8, bandwidth, clock]", 0, 0, ceiling_parts,
     "what to measure: fp32 peaks, int8 peaks, triad bandwidths, the clock after 512-bit work"},
    {"triad_mib", PW_PARAM_INT, "0", 0, 65536, NULL,
     "the DRAM triad's working set in MiB (0: 4 × the last-level cache)"},
};
static const char *const ceilings_sources[] = {"src/kernels/peak.c", "src/kernels/bandwidth.c",
                                               "src/kernels/matmul_packed.c", "src/kernels/simd.h",
                                               "src/experiments/ceilings.c",
                                               "src/experiments/ceilings.h", NULL};

const pw_experiment pw_exp_machine_ceilings = {
    "machine.ceilings",
    "the machine's ceilings on one core: peak of every vector width (fp32, int8), triad "
    "bandwidth from DRAM and L2, SMT topology, clock after 512-bit work",
    ceilings_params, sizeof ceilings_params / sizeof ceilings_params[0], ceilings_metrics,
    run_ceilings, ceilings_sources,
};
