/* acceleration.c — the experiments of the acceleration chapter: the matmul spectrum from naive
 * loops to OpenBLAS (`acceleration.matmul`), the block-size sweep of the tiled kernel
 * (`acceleration.blocksize`), OpenBLAS on one core and on all (`acceleration.threads`) and the
 * cost of the backend dispatcher (`acceleration.dispatch`).  Every kernel passes the correctness
 * gate before anything is timed, and every timed output is checked again against an independent
 * double-precision product (pw_matmul_verify; never OpenBLAS, so OpenBLAS is checked too) before
 * its figures are published. */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perfweave/baselines.h"
#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/experiment.h"
#include "perfweave/matmul.h"
#include "baseline.h"
#include "ceilings.h"

#define MAXN 32 /* list parameters read at most this many entries */

/* One timed workload: a kernel on fixed operands. */
typedef struct {
    pw_matmul_fn fn;
    const pw_matmul_ctx *ctx;
    size_t m, n, k;
    const float *a, *b;
    float *c;
} mm_job;

static void run_job(void *arg, uint64_t iters)
{
    const mm_job *j = arg;
    for (uint64_t i = 0; i < iters; i++) j->fn(j->ctx, j->m, j->n, j->k, j->a, j->b, j->c);
}

/* Lets this process (and the OpenBLAS threads it starts from now on) run on every online CPU:
 * the runner pins an experiment's child to one CPU, which would serialise a threaded library.
 * Returns the number of CPUs now allowed. */
static int widen_affinity(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (long i = 0; i < ncpu && i < CPU_SETSIZE; i++) CPU_SET((int)i, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) return 1;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return CPU_COUNT(&set);
}

/* Publishes rate = 2mnk/1e9 per iteration for variant i and returns the metric (value NAN when
 * publishing failed). */
static pw_metric publish_gflops(const pw_bench *b, size_t i, pw_result *r, const char *variant,
                                long n, double work)
{
    char name[96];
    pw_metric m = {0};
    m.value = NAN;
    snprintf(name, sizeof name, "gflops.%s.n%ld", variant, n);
    if (pw_bench_publish_rate(b, i, r, name, work, "GFLOP/s") != PW_OK ||
        pw_result_get_metric(r, name, &m) != PW_OK)
        m.value = NAN;
    return m;
}

/* "12.3× (11.9–12.8)" for a published metric, or "–" when it is missing. */
static void format_metric(const pw_result *r, const char *name, const char *unit, char *out,
                          size_t size)
{
    pw_metric m;
    if (pw_result_get_metric(r, name, &m) != PW_OK) snprintf(out, size, "–");
    else snprintf(out, size, "%.3g%s (%.3g–%.3g)", m.value, unit, m.lo, m.hi);
}

/* Checks a timed output against the double-precision reference (sampled for large n, see
 * pw_matmul_verify); on failure marks the result as an ERROR. */
static int check_output(pw_result *r, const char *variant, const mm_job *j)
{
    double worst;
    if (pw_matmul_verify(j->m, j->n, j->k, j->a, j->b, j->c, &worst) == PW_OK) return PW_OK;
    pw_result_error(r, "kernel '%s' produced a wrong product at n=%zu (error %.3g times the "
                    "bound); its timings are discarded", variant, j->n, worst);
    return PW_ERANGE;
}

/* ============================================================================================ */
/* acceleration.matmul                                                                          */

static const char *const variant_names[] = {"naive", "ikj", "blocked", "packed", "openblas",
                                            "blis", "onednn", NULL};
static const char *const ukernel_names[] = {"auto", "avx512", "avx2", "portable", NULL};
static const char *const ukernels_choices[] = {"none", "usable", "avx512", "avx2", "portable",
                                               NULL};

/* The speedup pairs published (fast, slow) when both variants ran. */
static const char *const speedup_pairs[][2] = {
    {"ikj", "naive"},         {"blocked", "naive"},       {"packed", "naive"},
    {"openblas", "naive"},    {"blocked", "ikj"},         {"packed", "blocked"},
    {"packed", "openblas"},   {"packed_avx512", "openblas"}, {"packed_avx2", "openblas"},
    {"packed_portable", "openblas"}, {"packed", "packed_avx2"}, {"packed", "packed_portable"},
    {"packed_avx512", "packed_avx2"},
};
enum { NPAIRS = sizeof speedup_pairs / sizeof speedup_pairs[0] };

/* At most this many timed variants: the kernels of `variants` plus one packed_<isa> per
 * microkernel ISA. */
enum { MAXVARS = 12 };

/* One timed variant: a kernel of the table and the context it runs with (a copy of the
 * experiment's context that shares its packing buffers; packed_<isa> variants differ only in
 * the microkernel), and what the table says it runs on. */
typedef struct {
    char name[32];
    const pw_matmul_kernel *kern;
    pw_matmul_ctx ctx;
    char isa[96];
} mm_variant;

/* The ISA column of a variant: the instruction set (and, for a library, its core) it runs. */
static void variant_isa(mm_variant *v)
{
    const char *k = v->kern->name;
    if (strcmp(k, "naive") == 0 || strcmp(k, "ikj") == 0 || strcmp(k, "blocked") == 0)
        snprintf(v->isa, sizeof v->isa, "C, no intrinsics (what -O2 makes of it)");
    else if (strcmp(k, "packed") == 0)
        snprintf(v->isa, sizeof v->isa, "%s: %s microkernel", pw_ukernel_name(v->ctx.uk->isa),
                 v->ctx.uk->name);
    else if (strcmp(k, "openblas") == 0)
        snprintf(v->isa, sizeof v->isa, "OpenBLAS core %s", pw_matmul_blas_core());
    else if (strcmp(k, "blis") == 0 || strcmp(k, "onednn") == 0) {
        /* Their own detection, read back from the opened library (after the gate opened it). */
        bool blis = strcmp(k, "blis") == 0;
        json_t *d = blis ? pw_blis_json() : pw_onednn_json();
        const char *what = json_string_value(json_object_get(d, blis ? "arch" : "isa"));
        snprintf(v->isa, sizeof v->isa, "%s %s %s", blis ? "BLIS" : "oneDNN",
                 blis ? "kernel set" : "ISA", what ? what : "unknown");
        json_decref(d);
    } else
        snprintf(v->isa, sizeof v->isa, "library");
}

/* The variants of `variants`, each with the experiment's context. */
static int kernel_variants(pw_result *r, const char *const *names, size_t count,
                           const pw_matmul_ctx *ctx, mm_variant *out, size_t *n)
{
    for (size_t i = 0; i < count; i++) {
        const pw_matmul_kernel *kern = pw_matmul_find(names[i]);
        if (!kern) {
            pw_result_error(r, "unknown kernel '%s'", names[i]);
            return PW_EINVAL;
        }
        mm_variant *v = &out[(*n)++];
        snprintf(v->name, sizeof v->name, "%s", names[i]);
        v->kern = kern;
        v->ctx = *ctx;
    }
    return PW_OK;
}

/* The packed_<isa> variants asked for by `microkernels`: each listed ISA, or with `usable`
 * every ISA this CPU, its OS and this build can run except the one `packed` already runs (so
 * the same kernel is not timed twice).  A listed ISA that cannot run is an ERROR naming the
 * reason. */
static int microkernel_variants(pw_run *run, const pw_matmul_ctx *ctx, bool have_packed,
                                mm_variant *out, size_t *n)
{
    pw_result *r = pw_run_result(run);
    static const pw_ukernel isas[] = {PW_UKERNEL_AVX512, PW_UKERNEL_AVX2, PW_UKERNEL_PORTABLE};
    bool usable = pw_run_has(run, "microkernels", "usable");
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        const char *name = pw_ukernel_name(isas[i]);
        bool listed = pw_run_has(run, "microkernels", name);
        if (!listed && !usable) continue;
        char why[256];
        const pw_matmul_ukernel *uk;
        if (pw_matmul_ukernel_select(isas[i], pw_cpu_host(), &uk, why, sizeof why) != PW_OK) {
            if (!listed) continue;
            pw_result_error(r, "microkernels: %s", why);
            return PW_EINVAL;
        }
        if (!listed && have_packed && uk == ctx->uk) continue;
        if (*n >= MAXVARS) {
            pw_result_error(r, "at most %d variants in all", MAXVARS);
            return PW_EINVAL;
        }
        mm_variant *v = &out[(*n)++];
        snprintf(v->name, sizeof v->name, "packed_%s", name);
        v->kern = pw_matmul_find("packed");
        v->ctx = *ctx;
        v->ctx.uk = uk;
    }
    return PW_OK;
}

/* The largest n a variant is timed at: naive_max for naive and for the extra packed_portable
 * variant (a few GFLOP/s: at n = 1024 its 20 rounds alone would take seconds), and in quick mode
 * smaller caps for the scalar loops (a chapter should reference only metrics that exist in both
 * modes); 0 means no cap.  `packed` itself is never capped, whatever its microkernel: on a CPU
 * without SIMD it is the portable one, and a chapter references its largest size. */
static long variant_cap(pw_run *run, const mm_variant *v)
{
    bool naive = strcmp(v->name, "naive") == 0, portable = strcmp(v->name, "packed_portable") == 0;
    bool scalar = strcmp(v->name, "ikj") == 0 || strcmp(v->name, "blocked") == 0;
    long cap = naive || portable ? pw_run_int(run, "naive_max") : 0;
    if (pw_run_quick(run)) {
        long q = naive ? 256 : scalar || portable ? 512 : 0;
        if (q && (!cap || q < cap)) cap = q;
    }
    return cap;
}

/* Operands of the timed products.  Every matrix starts exactly on a page boundary, so every
 * process, build and report sees the same address layout.  The scalar loops (ikj, blocked) are
 * sensitive to it: on this project's machine ikj at n = 512 measured 4.75 GFLOP/s with
 * page-aligned operands, 6.6 with each matrix 16 bytes past a page boundary (glibc's mmap'd
 * chunks) and 4.4–4.9 wherever brk-heap malloc put them — layout, not code, and before this
 * helper it changed with unrelated allocations earlier in the process.  Tiling lost to ikj in
 * every layout measured (0.73–0.96×).  Freed with free(). */
static float *alloc_matrix(size_t bytes)
{
    size_t rounded = (bytes + 4095) / 4096 * 4096;
    float *p = aligned_alloc(4096, rounded ? rounded : 4096);
    if (!p) {
        fprintf(stderr, "perfweave: out of memory allocating a %zu-byte matrix\n", bytes);
        abort();
    }
    return p;
}

/* Budget for one size: the default floor of rounds (20 in full mode: fewer gave A/A false
 * positives well above 5%, docs/methodology.md), then a time budget growing with n; in quick
 * mode the fewest samples that still give an interval. */
static void matmul_config(pw_bench_config *cfg, bool quick, long n)
{
    pw_bench_config_default(cfg, quick);
    if (quick) {
        cfg->min_samples = n >= 512 ? 2 : 3;
        cfg->max_seconds = n >= 512 ? 0.05 : 0.15;
        return;
    }
    cfg->max_seconds = n <= 128 ? 1.0 : n <= 256 ? 2.0 : n <= 512 ? 3.0 : 4.0;
}

/* The spectrum's rounds in a full run.  The plain C loops (naive, ikj, blocked) and the portable
 * packed kernel are 10–50× slower than the tuned kernels: timed in every round they took the
 * whole budget, every size stopped at the 20-round floor, and the comparisons that need
 * precision — packed against the libraries, within a few percent of each other — rested on 20
 * ratios with intervals of ±2–6%.  So the slow ones (slow_in_spectrum) leave the rotation after
 * the floor (their own comparisons keep their 20 paired rounds), the others go on, with 1 ms
 * samples instead of 5 ms (what `make bench` uses to detect 1%: a time slice of steal then spoils
 * fewer samples, which the median ignores; docs/methodology.md §11).  Where a claim on packed against `library` reads
 * the size and the slow variants' 20 rounds take most of the budget — n = 256 (about 1 s of
 * its 2) and n = 1024 (1.4 s a round, far past its 4) — the others get a tail of their own after
 * them: 1 s (about 150 rounds) and 2 s (about 17).  At n = 512, which no such claim reads, what
 * is left of the budget. */
static void spectrum_rounds(pw_bench_config *cfg, bool quick, long n)
{
    if (quick) return;
    cfg->min_sample_seconds = 0.001;
    cfg->tail_seconds = n >= 1024 ? 2.0 : n == 256 ? 1.0 : 0.0;
}

/* <family>.<variant>.nN = the variant's gflops.<variant>.nN (m) over the peak metric `peak`,
 * with the conservative interval of the two; it inherits what stops either deciding (too few
 * samples in quick mode).  The table cell, when frac is non-NULL, in frac. */
static void publish_fraction_of(pw_result *r, const char *family, const char *peak,
                                const char *variant, long n, const pw_metric *m, char *frac,
                                size_t size)
{
    pw_metric pk;
    if (frac) snprintf(frac, size, "–");
    if (pw_result_get_metric(r, peak, &pk) != PW_OK || !(pk.value > 0) || !(pk.lo > 0)) return;
    char fname[96], gname[96];
    snprintf(fname, sizeof fname, "%s.%s.n%ld", family, variant, n);
    snprintf(gname, sizeof gname, "gflops.%s.n%ld", variant, n);
    if (pw_result_metric(r, fname, m->value / pk.value, m->lo / pk.hi, m->hi / pk.lo, "") != PW_OK)
        return;
    pw_result_metric_inherit(r, fname, gname);
    pw_result_metric_inherit(r, fname, peak);
    if (frac) snprintf(frac, size, "%.1f%%", 100 * m->value / pk.value);
}

/* fraction_of_peak.<variant>.nN against the machine's roof (peak.fma, the widest usable width);
 * the table cell in frac. */
static void publish_fraction(pw_result *r, const char *variant, long n, const pw_metric *m,
                             char *frac, size_t size)
{
    publish_fraction_of(r, "fraction_of_peak", "peak.fma", variant, n, m, frac, size);
}

/* The plain C loops, which the baseline build compiles to scalar code unless GCC vectorizes
 * them: they also get fraction_of_scalar_peak.<v>.nN, against peak.fma.scalar (one lane, a
 * separate multiply and add).  A value above 1 is more than scalar multiply-adds can do: the
 * compiler vectorized the loop. */
static bool is_c_loop(const char *variant)
{
    return strcmp(variant, "naive") == 0 || strcmp(variant, "ikj") == 0 ||
           strcmp(variant, "blocked") == 0;
}

/* The variants that leave the spectrum's rotation after the floor of rounds (spectrum_rounds):
 * the C loops and the portable packed kernel, 10–50× slower than the tuned kernels. */
static bool slow_in_spectrum(const char *variant)
{
    return is_c_loop(variant) || strcmp(variant, "packed_portable") == 0;
}

/* fraction_of_peak.library.nN, once `library` at n was chosen (pw_baseline_publish_library
 * records the choice: pw_baseline_library_at) and the roof is final.  gflops.library.nN carries the
 * chosen variant's basis but not its undecidable mark (pw_baseline_pick_fastest), so the
 * fraction inherits from that variant too. */
static void publish_library_fraction(pw_result *r, long n)
{
    char name[96], cell[64];
    pw_metric m;
    snprintf(name, sizeof name, "gflops.library.n%ld", n);
    const char *chosen = pw_baseline_library_at(r, n);
    if (!chosen || pw_result_get_metric(r, name, &m) != PW_OK) return;
    publish_fraction(r, "library", n, &m, cell, sizeof cell);
    char fname[96], gname[96];
    snprintf(fname, sizeof fname, "fraction_of_peak.library.n%ld", n);
    snprintf(gname, sizeof gname, "gflops.%s.n%ld", chosen, n);
    pw_result_metric_inherit(r, fname, gname);
}

/* After pw_baseline_publish_library chose vars[lib] as `library` at n: for each C loop that ran,
 * speedup.library_vs_<v>.nN (from the same interleaved samples as any pair; the original
 * promises are stated as the library's speedup over the loops), each with a row in the speedup
 * table.  The sanity floor (pw_baseline_check_floor) marks these like the other `library`
 * pairs. */
static void publish_library_extras(const pw_bench *bench, pw_result *r, long n,
                                   const mm_variant *vars, const bool *ran, const size_t *idx,
                                   size_t nvars, size_t lib, pw_table *st)
{
    char name[96], cell[64];
    for (size_t v = 0; v < nvars; v++) {
        if (!ran[v] || !is_c_loop(vars[v].name)) continue;
        snprintf(name, sizeof name, "speedup.library_vs_%s.n%ld", vars[v].name, n);
        if (pw_bench_publish_speedup(bench, idx[lib], idx[v], r, name) != PW_OK) continue;
        format_metric(r, name, "×", cell, sizeof cell);
        pw_table_rowf(st, "%ld\tlibrary (= %s) vs %s\t%s", n, vars[lib].name, vars[v].name, cell);
    }
}

/* The roofline of the timed products: each variant at the arithmetic intensity of an n×n
 * product whose only traffic is the compulsory one (A and B read once, C written once:
 * 2n³ flop over 12n² bytes = n/6 flop per byte), under the measured roofs. */
static pw_chart *roofline_chart(pw_result *r)
{
    return pw_result_chart(r, "roofline",
                           "Each variant against the machine's roofs (one core): compulsory "
                           "arithmetic intensity n/6 flop per byte",
                           "arithmetic intensity (flop per byte, compulsory traffic)", "GFLOP/s",
                           PW_CHART_LOGX | PW_CHART_LOGY);
}

/* The roofline's note: the two ridges, and which sizes lie left of the DRAM ridge.  For those,
 * whether their three matrices (12n² bytes) fit in a cache level the CPU reports decides whether
 * the DRAM roof need apply at all; the note compares the numbers instead of assuming either. */
static void roofline_note(pw_result *r, const pw_ceilings *c, const long *sizes, size_t nsizes)
{
    if (!isfinite(c->bw_dram) || !isfinite(c->roof_value) || nsizes == 0) return;
    double ridge = c->roof_value / c->bw_dram;
    long below = 0;
    for (size_t s = 0; s < nsizes; s++)
        if ((double)sizes[s] / 6.0 < ridge && sizes[s] > below) below = sizes[s];
    char tail[320];
    if (!below) {
        snprintf(tail, sizeof tail, "Every size timed lies right of the DRAM ridge: compute-bound "
                 "in principle, so any shortfall from the roof is the kernel's own.");
    } else {
        static const char *const cnames[] = {"L1d", "L2", "L3"};
        size_t cache[3];
        pw_cache_sizes(cache);
        double ws = 12.0 * (double)below * (double)below;
        int level = -1;
        bool known = false;
        /* Strictly smaller: a working set the size of a cache leaves no room for anything else. */
        for (int l = 0; l < 3; l++) {
            known |= cache[l] > 0;
            if (level < 0 && cache[l] && ws < (double)cache[l]) level = l;
        }
        int len = snprintf(tail, sizeof tail, "Sizes up to n = %ld lie left of it and would be "
                           "memory-bound if their operands came from DRAM each time; at n = %ld "
                           "the three matrices take %.0f KiB, ", below, below, ws / 1024);
        size_t off = len > 0 && (size_t)len < sizeof tail ? (size_t)len : 0;
        if (level >= 0)
            snprintf(tail + off, sizeof tail - off, "which fits in the %s cache this CPU reports "
                     "(%zu KiB), so once loaded they need not come from DRAM.", cnames[level],
                     cache[level] >> 10);
        else if (known)
            snprintf(tail + off, sizeof tail - off, "more than any cache this CPU reports.");
        else
            snprintf(tail + off, sizeof tail - off, "and this CPU reports no cache sizes to "
                     "compare them with.");
    }
    pw_result_note(r, "Roofline: the DRAM ridge is at %.3g flop per byte (peak / triad "
                   "bandwidth), the L2 ridge at %.3g; an n×n product moves at least 12n² bytes "
                   "for 2n³ flop, n/6 flop per byte.  %s", ridge, c->roof_value / c->bw_l2, tail);
}

static int run_matmul(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    long sizes[MAXN];
    const char *names[8];
    size_t nsizes = pw_run_ints(run, "sizes", sizes, MAXN);
    size_t nnames = pw_run_strings(run, "variants", names, 8);
    long threads = pw_run_int(run, "threads");
    bool quick = pw_run_quick(run), roofline = pw_run_bool(run, "roofline");
    int status = PW_OK;
    if (nsizes > MAXN || nnames > 8) {
        pw_result_error(r, "at most %d sizes and 8 variants", MAXN);
        return PW_EINVAL;
    }
    if (threads > 1) widen_affinity();
    int got = pw_matmul_set_threads((int)threads);

    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    ctx.block = (size_t)pw_run_int(run, "block");
    mm_variant *vars = pw_xcalloc(MAXVARS, sizeof *vars);
    const char *vnames[MAXVARS]; /* the variants' names, for the library baselines (baseline.h) */
    size_t nvars = 0;
    {
        pw_ukernel which = PW_UKERNEL_AUTO;
        char why[256];
        pw_ukernel_from_name(pw_run_string(run, "microkernel"), &which);
        if (pw_matmul_ctx_set_ukernel(&ctx, which, pw_cpu_host(), why, sizeof why) != PW_OK) {
            pw_result_error(r, "microkernel: %s", why);
            status = PW_EINVAL;
            goto out_ctx;
        }
    }
    bool have_packed = false;
    for (size_t i = 0; i < nnames; i++) have_packed |= strcmp(names[i], "packed") == 0;
    status = kernel_variants(r, names, nnames, &ctx, vars, &nvars);
    if (status == PW_OK) status = microkernel_variants(run, &ctx, have_packed, vars, &nvars);
    if (status != PW_OK) goto out_ctx;
    for (size_t v = 0; v < nvars; v++) vnames[v] = vars[v].name;

    /* The gate, every variant with its own context, before anything is timed. */
    for (size_t v = 0; v < nvars && status == PW_OK; v++) {
        char msg[256];
        pw_matmul_kernel named = *vars[v].kern;
        named.name = vars[v].name;
        if (pw_matmul_gate(&named, &vars[v].ctx, msg, sizeof msg) != PW_OK) {
            pw_result_error(r, "%s; nothing was timed", msg);
            status = PW_ERANGE;
        }
    }
    if (status != PW_OK) goto out_ctx;
    for (size_t v = 0; v < nvars; v++) variant_isa(&vars[v]);

    pw_ceilings ceil;
    pw_ceilings_measure(run, PW_CEIL_FMA | (roofline ? PW_CEIL_BANDWIDTH : 0),
                        pw_run_int(run, "triad_mib"), &ceil);

    static const char *const gheaders[] = {"n", "variant", "runs on", "GFLOP/s (95% CI)",
                                           "of the machine's FMA peak"};
    pw_table *gt = pw_result_table(r, "gflops", "GFLOP/s of each variant (median, 95% CI)", 5,
                                   gheaders);
    pw_chart *chart = pw_result_chart(r, "gflops", "GFLOP/s of each matmul variant against n",
                                      "n (square matrices)", "GFLOP/s",
                                      PW_CHART_LOGX | PW_CHART_LOGY);
    pw_chart *rchart = roofline ? roofline_chart(r) : NULL;
    pw_series *series[MAXVARS], *rseries[MAXVARS];
    for (size_t v = 0; v < nvars; v++) {
        series[v] = pw_chart_series(chart, vars[v].name);
        rseries[v] = rchart ? pw_chart_series(rchart, vars[v].name) : NULL;
    }

    /* The speedup table, one row per size and pair whose variants both ran (long rather than
     * wide, so it fits a printed page). */
    static const char *const sheaders[] = {"n", "comparison", "speedup (95% CI)"};
    pw_table *st = pw_result_table(r, "speedup",
                                   "Speedup of the first kernel over the second ("
                                   PW_BENCH_SPEEDUP_METHOD ")",
                                   3, sheaders);

    long capped_at = 0, portable_capped_at = 0;
    bool quick_capped = false;
    for (size_t s = 0; s < nsizes && status == PW_OK; s++) {
        long n = sizes[s];
        size_t nn = (size_t)n;
        float *a = alloc_matrix(nn * nn * sizeof *a), *b = alloc_matrix(nn * nn * sizeof *b);
        float *c[MAXVARS] = {0};
        mm_job jobs[MAXVARS];
        size_t idx[MAXVARS];
        bool ran[MAXVARS] = {0};
        pw_matmul_fill(a, nn * nn, 2 * (uint64_t)n + 1);
        pw_matmul_fill(b, nn * nn, 2 * (uint64_t)n + 2);

        pw_bench_config cfg;
        matmul_config(&cfg, quick, n);
        spectrum_rounds(&cfg, quick, n);
        pw_bench *bench = pw_bench_new(&cfg);
        for (size_t v = 0; v < nvars; v++) {
            long cap = variant_cap(run, &vars[v]);
            if (cap && n > cap) {
                if (strcmp(vars[v].name, "naive") == 0 && !capped_at) capped_at = cap;
                else if (strcmp(vars[v].name, "packed_portable") == 0 && !portable_capped_at)
                    portable_capped_at = cap;
                else if (strcmp(vars[v].name, "naive") != 0) quick_capped = true;
                continue;
            }
            c[v] = alloc_matrix(nn * nn * sizeof *c[v]);
            jobs[v] = (mm_job){vars[v].kern->fn, &vars[v].ctx, nn, nn, nn, a, b, c[v]};
            char name[64];
            snprintf(name, sizeof name, "%s.n%ld", vars[v].name, n);
            idx[v] = pw_bench_add(bench, name, run_job, &jobs[v]);
            if (!quick && slow_in_spectrum(vars[v].name))
                pw_bench_limit_rounds(bench, idx[v], cfg.min_samples);
            ran[v] = true;
        }
        pw_bench_run(bench);
        for (size_t v = 0; v < nvars && status == PW_OK; v++)
            if (ran[v]) status = check_output(r, vars[v].name, &jobs[v]);
        if (status == PW_OK) {
            double work = 2.0 * (double)n * (double)n * (double)n / 1e9;
            for (size_t v = 0; v < nvars; v++) {
                if (!ran[v]) continue;
                pw_metric m = publish_gflops(bench, idx[v], r, vars[v].name, n, work);
                if (!isfinite(m.value)) continue;
                pw_series_point(series[v], (double)n, m.value, m.lo, m.hi);
                if (rseries[v]) pw_series_point(rseries[v], (double)n / 6.0, m.value, m.lo, m.hi);
            }
            for (size_t p = 0; p < NPAIRS; p++) {
                size_t f = nvars, sl = nvars;
                for (size_t v = 0; v < nvars; v++) {
                    if (ran[v] && strcmp(vars[v].name, speedup_pairs[p][0]) == 0) f = v;
                    if (ran[v] && strcmp(vars[v].name, speedup_pairs[p][1]) == 0) sl = v;
                }
                if (f == nvars || sl == nvars) continue;
                char name[96], cell[64];
                snprintf(name, sizeof name, "speedup.%s_vs_%s.n%ld", speedup_pairs[p][0],
                         speedup_pairs[p][1], n);
                if (pw_bench_publish_speedup(bench, idx[f], idx[sl], r, name) != PW_OK) continue;
                format_metric(r, name, "×", cell, sizeof cell);
                pw_table_rowf(st, "%ld\t%s vs %s\t%s", n, speedup_pairs[p][0],
                              speedup_pairs[p][1], cell);
            }
            int lib = pw_baseline_publish_library(bench, r, n, vnames, ran, idx, nvars, NULL, st);
            if (lib >= 0)
                publish_library_extras(bench, r, n, vars, ran, idx, nvars, (size_t)lib, st);
            char prefix[32];
            snprintf(prefix, sizeof prefix, "n%ld.", n);
            pw_bench_record(bench, r, prefix);
        }
        pw_bench_free(bench);
        for (size_t v = 0; v < nvars; v++) free(c[v]);
        free(a);
        free(b);
    }
    if (status == PW_OK) {
        /* The roof again, now that the products are timed, and only then what divides by it:
         * every fraction of the peak, the table's last column, the chart's roof lines. */
        pw_ceilings_recheck_roof(run, &ceil);
        for (size_t s = 0; s < nsizes; s++) {
            long n = sizes[s];
            for (size_t v = 0; v < nvars; v++) {
                char gname[96], frac[32];
                pw_metric m;
                snprintf(gname, sizeof gname, "gflops.%s.n%ld", vars[v].name, n);
                if (pw_result_get_metric(r, gname, &m) != PW_OK) continue;
                publish_fraction(r, vars[v].name, n, &m, frac, sizeof frac);
                if (is_c_loop(vars[v].name))
                    publish_fraction_of(r, "fraction_of_scalar_peak", "peak.fma.scalar",
                                        vars[v].name, n, &m, NULL, 0);
                pw_table_rowf(gt, "%ld\t%s\t%s\t%.3g (%.3g–%.3g)\t%s", n, vars[v].name,
                              vars[v].isa, m.value, m.lo, m.hi, frac);
            }
            publish_library_fraction(r, n);
            pw_baseline_library_row(r, gt, n);
        }
        if (isfinite(ceil.roof_value)) {
            char label[96];
            snprintf(label, sizeof label, "%s FMA peak, 1 core", pw_ceilings_label(ceil.roof));
            pw_chart_hline(chart, label, ceil.roof_value);
            if (ceil.roof != PW_PEAK_AVX2 && isfinite(ceil.peak[PW_PEAK_AVX2]))
                pw_chart_hline(chart, "AVX2 FMA peak, 1 core", ceil.peak[PW_PEAK_AVX2]);
        }
    }
    if (status == PW_OK && rchart) {
        double xlo = 1.0, xhi = 1.0;
        for (size_t s = 0; s < nsizes; s++) xhi = fmax(xhi, (double)sizes[s] / 6.0);
        for (size_t s = 0; s < nsizes; s++) xlo = fmin(xlo, (double)sizes[s] / 6.0);
        pw_ceilings_roofline(&ceil, rchart, xlo / 4, xhi * 4);
        roofline_note(r, &ceil, sizes, nsizes);
        if (isfinite(ceil.bw_dram) && isfinite(ceil.roof_value)) {
            pw_metric bw;
            /* Each ridge inherits what stops its bandwidth deciding (too few triad passes in
             * quick mode). */
            if (pw_result_get_metric(r, "bandwidth.triad.dram", &bw) == PW_OK && bw.lo > 0 &&
                pw_result_metric(r, "ridge.dram", ceil.roof_value / bw.value,
                                 ceil.roof_value / bw.hi, ceil.roof_value / bw.lo, "flop/B") == PW_OK)
                pw_result_metric_inherit(r, "ridge.dram", "bandwidth.triad.dram");
            if (pw_result_get_metric(r, "bandwidth.triad.l2", &bw) == PW_OK && bw.lo > 0 &&
                pw_result_metric(r, "ridge.l2", ceil.roof_value / bw.value,
                                 ceil.roof_value / bw.hi, ceil.roof_value / bw.lo, "flop/B") == PW_OK)
                pw_result_metric_inherit(r, "ridge.l2", "bandwidth.triad.l2");
        }
    }
    if (status == PW_OK) {
        size_t nshapes;
        (void)pw_matmul_gate_shapes(&nshapes);
        if (capped_at)
            pw_result_note(r, "naive is timed only up to n = %ld: beyond that one product takes "
                           "seconds (its time grows as n³ while its GFLOP/s only falls)%s",
                           capped_at, quick ? " (quick mode)" : "");
        if (portable_capped_at)
            pw_result_note(r, "packed_portable is timed only up to n = %ld, as naive is: its "
                           "rate is that of the scalar loops' order, and larger products would "
                           "take seconds each%s", portable_capped_at, quick ? " (quick mode)" : "");
        if (quick_capped)
            pw_result_note(r, "quick mode: ikj and blocked are timed only up to n = 512");
        if (quick)
            pw_result_note(r, "quick mode: a few samples per point, so the intervals are wide");
        pw_buf uks;
        pw_buf_init(&uks);
        for (size_t v = 0; v < nvars; v++) {
            const pw_matmul_ukernel *uk = vars[v].ctx.uk;
            if (strcmp(vars[v].kern->name, "packed") != 0) continue;
            pw_buf_printf(&uks, "%s%s: %s (MR×NR %zu×%zu, KC %zu, MC %zu, NC %zu", uks.len ? "; " : "",
                          vars[v].name, uk->name, uk->mr, uk->nr, uk->kc, uk->mc, uk->nc);
            if (uk->direct)
                pw_buf_printf(&uks, "; unpacked, reading A and B in place, up to %.0f³ "
                              "multiply-adds with k <= %zu", cbrt(uk->direct_mnk), uk->direct_kmax);
            pw_buf_puts(&uks, ")");
        }
        pw_result_note(r, "single-threaded OpenBLAS (%d thread%s, core %s); %s%sblocked uses "
                       "%zu×%zu tiles; every kernel passed the correctness gate (error within "
                       "γ_k·|A||B| of a double-precision product on %zu awkward shapes) before "
                       "timing, and every timed product was checked again (every entry up to "
                       "2^25 multiply-adds, beyond that the edge rows and columns and %d seeded "
                       "random entries)",
                       got, got == 1 ? "" : "s", pw_matmul_blas_core(),
                       uks.len ? uks.data : "", uks.len ? "; " : "", ctx.block, ctx.block,
                       nshapes, (int)PW_MATMUL_VERIFY_SAMPLES);
        pw_buf_release(&uks);
        if (threads > 1)
            pw_result_note(r, "OpenBLAS ran with %d threads here", got);
        pw_baseline_note(r, vnames, nvars);
        pw_baseline_check_floor(r, vnames, nvars, sizes, nsizes);
    }
out_ctx:
    free(vars);
    pw_matmul_ctx_release(&ctx);
    return status;
}

static const char *const matmul_metrics[] = {
    "gflops.VARIANT.nN", "speedup.FAST_vs_SLOW.nN", "fraction_of_peak.VARIANT.nN", "peak.fma",
    "peak.fma.ISA", "bandwidth.triad.dram", "bandwidth.triad.l2", "ridge.dram", "ridge.l2",
    "gflops.library.nN", "speedup.VARIANT_vs_library.nN", "speedup.library_vs_LOOP.nN",
    "fraction_of_peak.library.nN", "fraction_of_scalar_peak.LOOP.nN", NULL};
static const pw_param_spec matmul_params[] = {
    {"sizes", PW_PARAM_INT_LIST, "[64, 128, 256, 512, 1024]", 1, 4096, NULL,
     "square matrix sizes n"},
    {"variants", PW_PARAM_STRING_LIST, "[naive, ikj, blocked, packed, openblas]", 0, 0,
     variant_names, "kernels to time (interleaved within each size); the fastest library among "
     "openblas, blis and onednn at each size is also published as `library`"},
    {"block", PW_PARAM_INT, "64", 1, 4096, NULL, "tile edge of the blocked kernel"},
    {"threads", PW_PARAM_INT, "1", 1, 256, NULL, "OpenBLAS threads"},
    {"microkernel", PW_PARAM_STRING, "auto", 0, 0, ukernel_names,
     "packed's register kernel: auto (the widest this CPU runs), avx512, avx2 or portable; a "
     "forced one the CPU or OS cannot run is an error"},
    {"microkernels", PW_PARAM_STRING_LIST, "[none]", 0, 0, ukernels_choices,
     "more packed variants, packed_<isa>, timed beside the others: the ISAs listed, or usable "
     "(every one the CPU runs, except packed's own)"},
    {"roofline", PW_PARAM_BOOL, "false", 0, 0, NULL,
     "also measure the triad bandwidths (DRAM and L2) and draw the roofline chart"},
    {"triad_mib", PW_PARAM_INT, "0", 0, 65536, NULL,
     "the DRAM triad's working set in MiB (0: 4 × the last-level cache)"},
    {"naive_max", PW_PARAM_INT, "512", 1, 4096, NULL,
     "largest n at which the naive loop and the extra packed_portable variant are timed"},
};
/* The kernel and helper sources these results depend on (the cache key hashes them). */
static const char *const module_sources[] = {
    "src/kernels/matmul.c", "src/kernels/matmul_packed.c", "src/kernels/peak.c",
    "src/kernels/bandwidth.c", "src/kernels/simd.h", "src/experiments/ceilings.c",
    "src/experiments/ceilings.h", "src/kernels/baselines.c", "src/kernels/blis.c",
    "src/kernels/onednn.c", "src/kernels/openblas_core.c", "src/experiments/baseline.c",
    "src/experiments/baseline.h", "src/measure/handicap.c", NULL};

const pw_experiment pw_exp_acceleration_matmul = {
    "acceleration.matmul",
    "GFLOP/s of naive, ikj, blocked, packed (BLIS-style, AVX-512/AVX2/portable microkernels) "
    "and OpenBLAS sgemm, with speedups, the machine's peaks and an optional roofline",
    matmul_params, sizeof matmul_params / sizeof matmul_params[0], matmul_metrics, run_matmul,
    module_sources,
};

/* ============================================================================================ */
/* acceleration.blocksize                                                                       */

static int run_blocksize(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    long sizes[MAXN], blocks[MAXN];
    size_t nsizes = pw_run_ints(run, "sizes", sizes, MAXN);
    size_t nblocks = pw_run_ints(run, "blocks", blocks, MAXN);
    bool quick = pw_run_quick(run);
    int status = PW_OK;
    if (nsizes > MAXN || nblocks > MAXN) {
        pw_result_error(r, "at most %d sizes and %d block sizes", MAXN, MAXN);
        return PW_EINVAL;
    }
    pw_matmul_set_threads(1);
    pw_matmul_ctx *ctxs = pw_xcalloc(nblocks, sizeof *ctxs);
    for (size_t i = 0; i < nblocks; i++) {
        ctxs[i].block = (size_t)blocks[i];
        char msg[256];
        if (status == PW_OK && pw_matmul_gate(pw_matmul_find("blocked"), &ctxs[i], msg,
                                              sizeof msg) != PW_OK) {
            pw_result_error(r, "%s (block %ld); nothing was timed", msg, blocks[i]);
            status = PW_ERANGE;
        }
    }
    if (status == PW_OK) {
        char msg[256];
        if (pw_matmul_gate(pw_matmul_find("ikj"), NULL, msg, sizeof msg) != PW_OK) {
            pw_result_error(r, "%s; nothing was timed", msg);
            status = PW_ERANGE;
        }
    }
    if (status != PW_OK) goto out;

    size_t cache[3];
    pw_cache_sizes(cache);
    static const char *const cnames[] = {"L1d", "L2", "L3"};
    pw_chart *chart = pw_result_chart(r, "blocksize",
                                      "GFLOP/s of the blocked kernel against its tile edge",
                                      "tile edge b (elements)", "GFLOP/s", PW_CHART_LOGX);
    for (int l = 0; l < 3; l++) {
        char name[32], label[96];
        if (!cache[l]) continue;
        snprintf(name, sizeof name, "cache.l%d", l + 1);
        pw_result_exact(r, name, (double)cache[l], "B");
        /* The tile edge at which one b×b fp32 tile fills the cache. */
        double b = sqrt((double)cache[l] / sizeof(float));
        snprintf(label, sizeof label, "one b×b tile fills %s (%zu KiB)", cnames[l],
                 cache[l] >> 10);
        if (b <= 4096) pw_chart_vline(chart, label, b);
    }
    bool dropped = false;
    static const char *const headers[] = {"n", "tile edge", "GFLOP/s (95% CI)", "vs ikj"};
    pw_table *t = pw_result_table(r, "blocksize",
                                  "Blocked kernel by tile edge, against ikj at the same n (vs "
                                  "ikj: " PW_BENCH_SPEEDUP_METHOD ")", 4,
                                  headers);
    for (size_t s = 0; s < nsizes && status == PW_OK; s++) {
        long n = sizes[s];
        if (quick && n > 256) {
            dropped = true;
            continue;
        }
        size_t nn = (size_t)n;
        float *a = alloc_matrix(nn * nn * sizeof *a), *b = alloc_matrix(nn * nn * sizeof *b);
        float **c = pw_xcalloc(nblocks + 1, sizeof *c);
        mm_job *jobs = pw_xcalloc(nblocks + 1, sizeof *jobs);
        size_t *idx = pw_xcalloc(nblocks + 1, sizeof *idx);
        pw_matmul_fill(a, nn * nn, 3 * (uint64_t)n + 1);
        pw_matmul_fill(b, nn * nn, 3 * (uint64_t)n + 2);
        pw_bench_config cfg;
        matmul_config(&cfg, quick, n);
        if (!quick) cfg.max_seconds *= 1.5;
        pw_bench *bench = pw_bench_new(&cfg);
        char name[64];
        for (size_t i = 0; i <= nblocks; i++) {
            c[i] = alloc_matrix(nn * nn * sizeof *c[i]);
            if (i < nblocks) {
                jobs[i] = (mm_job){pw_matmul_blocked, &ctxs[i], nn, nn, nn, a, b, c[i]};
                snprintf(name, sizeof name, "b%ld.n%ld", blocks[i], n);
            } else {
                jobs[i] = (mm_job){pw_matmul_ikj, NULL, nn, nn, nn, a, b, c[i]};
                snprintf(name, sizeof name, "ikj.n%ld", n);
            }
            idx[i] = pw_bench_add(bench, name, run_job, &jobs[i]);
        }
        pw_bench_run(bench);
        for (size_t i = 0; i <= nblocks && status == PW_OK; i++) {
            snprintf(name, sizeof name, i < nblocks ? "blocked (b=%ld)" : "ikj",
                     i < nblocks ? blocks[i] : 0L);
            status = check_output(r, name, &jobs[i]);
        }
        if (status == PW_OK) {
            double work = 2.0 * (double)n * (double)n * (double)n / 1e9;
            char series_label[32];
            snprintf(series_label, sizeof series_label, "n = %ld", n);
            pw_series *ser = pw_chart_series(chart, series_label);
            pw_metric ikj = publish_gflops(bench, idx[nblocks], r, "ikj", n, work);
            for (size_t i = 0; i < nblocks; i++) {
                char var[32], sname[96], cell[64] = "–";
                snprintf(var, sizeof var, "b%ld", blocks[i]);
                pw_metric m = publish_gflops(bench, idx[i], r, var, n, work);
                if (!isfinite(m.value)) continue;
                pw_series_point(ser, (double)blocks[i], m.value, m.lo, m.hi);
                snprintf(sname, sizeof sname, "speedup.%s_vs_ikj.n%ld", var, n);
                if (pw_bench_publish_speedup(bench, idx[i], idx[nblocks], r, sname) == PW_OK)
                    format_metric(r, sname, "×", cell, sizeof cell);
                pw_table_rowf(t, "%ld\t%ld\t%.3g (%.3g–%.3g)\t%s", n, blocks[i], m.value, m.lo,
                              m.hi, cell);
            }
            if (isfinite(ikj.value))
                pw_table_rowf(t, "%ld\tikj (untiled)\t%.3g (%.3g–%.3g)\t1", n, ikj.value, ikj.lo,
                              ikj.hi);
            char prefix[32];
            snprintf(prefix, sizeof prefix, "n%ld.", n);
            pw_bench_record(bench, r, prefix);
        }
        pw_bench_free(bench);
        for (size_t i = 0; i <= nblocks; i++) free(c[i]);
        free(c);
        free(jobs);
        free(idx);
        free(a);
        free(b);
    }
    if (status == PW_OK && dropped)
        pw_result_note(r, "quick mode: sizes above 256 were skipped");
out:
    free(ctxs);
    return status;
}

static const char *const blocksize_metrics[] = {
    "gflops.bB.nN", "gflops.ikj.nN", "speedup.bB_vs_ikj.nN", "cache.lL", NULL};
static const pw_param_spec blocksize_params[] = {
    {"sizes", PW_PARAM_INT_LIST, "[128, 256, 512]", 16, 4096, NULL, "square matrix sizes n"},
    {"blocks", PW_PARAM_INT_LIST, "[16, 32, 64, 128, 256]", 1, 4096, NULL,
     "tile edges of the blocked kernel"},
};
const pw_experiment pw_exp_acceleration_blocksize = {
    "acceleration.blocksize",
    "GFLOP/s of the cache-tiled matmul over tile edges, against untiled ikj, with cache sizes",
    blocksize_params, sizeof blocksize_params / sizeof blocksize_params[0], blocksize_metrics,
    run_blocksize,
    module_sources,
};

/* ============================================================================================ */
/* acceleration.threads                                                                         */

typedef struct {
    mm_job job;
    int threads;
} thread_job;

static void run_thread_job(void *arg, uint64_t iters)
{
    const thread_job *t = arg;
    pw_matmul_set_threads(t->threads);
    run_job((void *)&t->job, iters);
}

static int run_threads(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    long sizes[MAXN];
    size_t nsizes = pw_run_ints(run, "sizes", sizes, MAXN);
    bool quick = pw_run_quick(run);
    int status = PW_OK;
    if (nsizes > MAXN) {
        pw_result_error(r, "at most %d sizes", MAXN);
        return PW_EINVAL;
    }
    /* Before any BLAS call, so that every OpenBLAS thread is started with the wide mask. */
    int cpus = widen_affinity();
    int all = pw_matmul_set_threads(cpus);
    pw_result_exact(r, "threads.all", all, "");
    {
        char msg[256];
        if (pw_matmul_gate(pw_matmul_find("openblas"), NULL, msg, sizeof msg) != PW_OK) {
            pw_result_error(r, "%s; nothing was timed", msg);
            return PW_ERANGE;
        }
    }
    pw_ceilings ceil;
    pw_ceilings_measure(run, PW_CEIL_ROOF, 0, &ceil);
    double peak = ceil.roof_value;
    pw_topology topo;
    pw_cpu_topology(&topo);
    /* The ceiling for `all` threads counts physical cores: SMT siblings share one core's FMA
     * units, so peak × logical CPUs would overstate it. */
    int cores = all;
    if (topo.known && topo.smt && topo.cores < all) cores = topo.cores;
    pw_chart *chart = pw_result_chart(r, "threads", "OpenBLAS sgemm on one core and on all",
                                      "n (square matrices)", "GFLOP/s",
                                      PW_CHART_LOGX | PW_CHART_LOGY);
    pw_series *s1 = pw_chart_series(chart, "1 thread");
    char label[96];
    snprintf(label, sizeof label, "%d threads", all);
    pw_series *sa = pw_chart_series(chart, label);
    if (isfinite(peak)) {
        snprintf(label, sizeof label, "%s FMA peak, 1 core", pw_ceilings_label(ceil.roof));
        pw_chart_hline(chart, label, peak);
        snprintf(label, sizeof label, "%s FMA peak × %d core%s", pw_ceilings_label(ceil.roof),
                 cores, cores == 1 ? "" : "s");
        if (cores > 1) pw_chart_hline(chart, label, peak * cores);
    }
    pw_result_exact(r, "cpus.cores", cores, "");
    pw_result_note(r, "%s", !topo.known
                                ? "The CPU topology is not readable here (/sys/devices/system/"
                                  "cpu): the peak × cores line assumes every CPU is its own core"
                            : topo.smt
                                ? "Some CPUs are SMT siblings (thread_siblings_list): the peak × "
                                  "cores line counts physical cores, since siblings share one "
                                  "core's FMA units"
                                : "No two CPUs are SMT siblings (thread_siblings_list, as the OS "
                                  "sees them): the peak × cores line counts every CPU as a core");
    bool dropped = false;
    static const char *const headers[] = {"n", "1 thread GFLOP/s", "all threads GFLOP/s",
                                          "speedup", "parallel efficiency"};
    pw_table *t = pw_result_table(r, "threads", "OpenBLAS sgemm, 1 thread against all "
                                  "(speedup: " PW_BENCH_SPEEDUP_METHOD ")", 5,
                                  headers);
    for (size_t s = 0; s < nsizes && status == PW_OK; s++) {
        long n = sizes[s];
        if (quick && n > 1024) {
            dropped = true;
            continue;
        }
        size_t nn = (size_t)n;
        float *a = alloc_matrix(nn * nn * sizeof *a), *b = alloc_matrix(nn * nn * sizeof *b);
        float *c1 = alloc_matrix(nn * nn * sizeof *c1), *ca = alloc_matrix(nn * nn * sizeof *ca);
        pw_matmul_fill(a, nn * nn, 5 * (uint64_t)n + 1);
        pw_matmul_fill(b, nn * nn, 5 * (uint64_t)n + 2);
        thread_job j1 = {{pw_matmul_openblas, NULL, nn, nn, nn, a, b, c1}, 1};
        thread_job ja = {{pw_matmul_openblas, NULL, nn, nn, nn, a, b, ca}, all};
        pw_bench_config cfg;
        matmul_config(&cfg, quick, n);
        pw_bench *bench = pw_bench_new(&cfg);
        char name[64];
        snprintf(name, sizeof name, "one.n%ld", n);
        size_t i1 = pw_bench_add(bench, name, run_thread_job, &j1);
        snprintf(name, sizeof name, "all.n%ld", n);
        size_t ia = pw_bench_add(bench, name, run_thread_job, &ja);
        pw_bench_run(bench);
        status = check_output(r, "openblas (1 thread)", &j1.job);
        if (status == PW_OK) status = check_output(r, "openblas (all threads)", &ja.job);
        if (status == PW_OK) {
            double work = 2.0 * (double)n * (double)n * (double)n / 1e9;
            pw_metric m1 = publish_gflops(bench, i1, r, "one", n, work);
            pw_metric ma = publish_gflops(bench, ia, r, "all", n, work);
            if (isfinite(m1.value)) pw_series_point(s1, (double)n, m1.value, m1.lo, m1.hi);
            if (isfinite(ma.value)) pw_series_point(sa, (double)n, ma.value, ma.lo, ma.hi);
            char sname[96], cell[64] = "–", eff[64] = "–";
            snprintf(sname, sizeof sname, "speedup.all_vs_one.n%ld", n);
            pw_metric sp;
            if (pw_bench_publish_speedup(bench, ia, i1, r, sname) == PW_OK &&
                pw_result_get_metric(r, sname, &sp) == PW_OK) {
                format_metric(r, sname, "×", cell, sizeof cell);
                char ename[96];
                snprintf(ename, sizeof ename, "efficiency.all.n%ld", n);
                pw_result_metric(r, ename, sp.value / all, sp.lo / all, sp.hi / all, "");
                pw_result_metric_inherit(r, ename, sname);
                /* With one CPU there is nothing to split: "all" is "one", and a claim on
                 * scaling would pass or fail by definition, not by measurement. */
                if (all < 2)
                    for (int k = 0; k < 2; k++)
                        pw_result_metric_undecidable(r, k ? ename : sname, "single_cpu",
                                                     "only one CPU is available to this process: "
                                                     "there is no parallel speedup to measure");
                snprintf(eff, sizeof eff, "%.0f%%", 100 * sp.value / all);
            }
            pw_table_rowf(t, "%ld\t%.3g\t%.3g\t%s\t%s", n, m1.value, ma.value, cell, eff);
            char prefix[32];
            snprintf(prefix, sizeof prefix, "n%ld.", n);
            pw_bench_record(bench, r, prefix);
        }
        pw_bench_free(bench);
        free(a);
        free(b);
        free(c1);
        free(ca);
    }
    if (status == PW_OK && dropped)
        pw_result_note(r, "quick mode: sizes above 1024 were skipped");
    if (status == PW_OK)
        pw_result_note(r, "this experiment widens its CPU affinity to all %d online CPUs (the "
                       "runner pins other experiments to one); on a shared machine the second "
                       "core may be busy with other work", cpus);
    return status;
}

static const char *const threads_metrics[] = {
    "gflops.one.nN", "gflops.all.nN", "speedup.all_vs_one.nN", "efficiency.all.nN",
    "threads.all", "cpus.cores", "peak.fma", "peak.fma.ISA", NULL};
static const pw_param_spec threads_params[] = {
    {"sizes", PW_PARAM_INT_LIST, "[256, 512, 1024, 2048]", 1, 8192, NULL,
     "square matrix sizes n"},
};
const pw_experiment pw_exp_acceleration_threads = {
    "acceleration.threads", "OpenBLAS sgemm on one thread against all cores",
    threads_params, 1, threads_metrics, run_threads,
    module_sources,
};

/* ============================================================================================ */
/* acceleration.dispatch                                                                        */

typedef struct {
    const pw_matmul_backend *be;
    const pw_matmul_kernel *chosen;
    mm_job job;
} dispatch_job;

/* The direct path: the chosen kernel called by name, as code that knows its shape would. */
static void run_direct(void *arg, uint64_t iters)
{
    const dispatch_job *d = arg;
    const mm_job *j = &d->job;
    if (d->chosen->fn == pw_matmul_naive)
        for (uint64_t i = 0; i < iters; i++)
            pw_matmul_naive(j->ctx, j->m, j->n, j->k, j->a, j->b, j->c);
    else if (d->chosen->fn == pw_matmul_packed)
        for (uint64_t i = 0; i < iters; i++)
            pw_matmul_packed(j->ctx, j->m, j->n, j->k, j->a, j->b, j->c);
    else
        for (uint64_t i = 0; i < iters; i++)
            pw_matmul_openblas(j->ctx, j->m, j->n, j->k, j->a, j->b, j->c);
}

/* The dispatched path: shape and feature test, then a call through the table, every time. */
static void run_dispatched(void *arg, uint64_t iters)
{
    const dispatch_job *d = arg;
    const mm_job *j = &d->job;
    for (uint64_t i = 0; i < iters; i++)
        pw_matmul_backend_run(d->be, j->ctx, j->m, j->n, j->k, j->a, j->b, j->c);
}

static int run_dispatch(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    long sizes[MAXN];
    size_t nsizes = pw_run_ints(run, "sizes", sizes, MAXN);
    bool quick = pw_run_quick(run);
    int status = PW_OK;
    if (nsizes > MAXN) {
        pw_result_error(r, "at most %d sizes", MAXN);
        return PW_EINVAL;
    }
    pw_matmul_set_threads(1);
    pw_matmul_backend be;
    pw_matmul_backend_init(&be);
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    for (size_t i = 0; i < 3 && status == PW_OK; i++) {
        char msg[256];
        if (pw_matmul_gate(be.table[i], &ctx, msg, sizeof msg) != PW_OK) {
            pw_result_error(r, "%s; nothing was timed", msg);
            status = PW_ERANGE;
        }
    }
    if (status != PW_OK) goto out;

    static const char *const headers[] = {"n", "kernel chosen", "direct (ns)",
                                          "dispatched (ns)", "overhead (95% CI)"};
    pw_table *t = pw_result_table(r, "dispatch", "Cost of the dispatcher against a direct call "
                                  "(overhead: dispatched over direct − 1, the "
                                  PW_BENCH_SPEEDUP_METHOD ")",
                                  5, headers);
    pw_chart *chart = pw_result_chart(r, "overhead",
                                      "Dispatch overhead relative to a direct call", "n",
                                      "overhead (fraction of the direct call)", PW_CHART_LOGX);
    pw_series *ser = pw_chart_series(chart, "dispatched / direct − 1");
    pw_chart_hline(chart, "5% (the claim's bound)", 0.05);
    pw_chart_hline(chart, "no overhead", 0.0);

    for (size_t s = 0; s < nsizes && status == PW_OK; s++) {
        long n = sizes[s];
        size_t nn = (size_t)n;
        float *a = alloc_matrix(nn * nn * sizeof *a), *b = alloc_matrix(nn * nn * sizeof *b);
        float *cd = alloc_matrix(nn * nn * sizeof *cd), *cx = alloc_matrix(nn * nn * sizeof *cx);
        pw_matmul_fill(a, nn * nn, 7 * (uint64_t)n + 1);
        pw_matmul_fill(b, nn * nn, 7 * (uint64_t)n + 2);
        const pw_matmul_kernel *chosen = pw_matmul_backend_choose(&be, nn, nn, nn);
        dispatch_job direct = {&be, chosen, {chosen->fn, &ctx, nn, nn, nn, a, b, cd}};
        dispatch_job disp = {&be, chosen, {chosen->fn, &ctx, nn, nn, nn, a, b, cx}};
        pw_bench_config cfg;
        pw_bench_config_default(&cfg, quick);
        if (!quick) {
            cfg.max_seconds = 1.5;
            cfg.min_samples = 20;
        } else {
            cfg.max_seconds = 0.1;
        }
        cfg.target_rel_ci = 0.005;
        pw_bench *bench = pw_bench_new(&cfg);
        char name[64];
        snprintf(name, sizeof name, "direct.n%ld", n);
        size_t id = pw_bench_add(bench, name, run_direct, &direct);
        snprintf(name, sizeof name, "dispatch.n%ld", n);
        size_t ix = pw_bench_add(bench, name, run_dispatched, &disp);
        pw_bench_run(bench);
        status = check_output(r, chosen->name, &direct.job);
        if (status == PW_OK) status = check_output(r, "dispatched", &disp.job);
        if (status == PW_OK) {
            char mname[96], tname[96], xname[96];
            pw_metric ratio, td, tx;
            snprintf(mname, sizeof mname, "speedup.direct_vs_dispatch.n%ld", n);
            snprintf(tname, sizeof tname, "time.direct.n%ld", n);
            snprintf(xname, sizeof xname, "time.dispatch.n%ld", n);
            pw_bench_publish_time(bench, id, r, tname, 1e9, "ns");
            pw_bench_publish_time(bench, ix, r, xname, 1e9, "ns");
            if (pw_bench_publish_speedup(bench, id, ix, r, mname) == PW_OK &&
                pw_result_get_metric(r, mname, &ratio) == PW_OK &&
                pw_result_get_metric(r, tname, &td) == PW_OK &&
                pw_result_get_metric(r, xname, &tx) == PW_OK) {
                char oname[96];
                snprintf(oname, sizeof oname, "overhead.dispatch.n%ld", n);
                pw_result_metric(r, oname, ratio.value - 1, ratio.lo - 1, ratio.hi - 1, "");
                pw_result_metric_basis(r, oname, ratio.n, ratio.cv);
                pw_result_metric_inherit(r, oname, mname);
                pw_series_point(ser, (double)n, ratio.value - 1, ratio.lo - 1, ratio.hi - 1);
                pw_table_rowf(t, "%ld\t%s\t%.4g\t%.4g\t%+.2f%% (%+.2f%% to %+.2f%%)", n,
                              chosen->name, td.value, tx.value, 100 * (ratio.value - 1),
                              100 * (ratio.lo - 1), 100 * (ratio.hi - 1));
            }
            char prefix[32];
            snprintf(prefix, sizeof prefix, "n%ld.", n);
            pw_bench_record(bench, r, prefix);
        }
        pw_bench_free(bench);
        free(a);
        free(b);
        free(cd);
        free(cx);
    }
    if (status == PW_OK)
        pw_result_note(r, "the dispatcher's rule: m·n·k <= %zu → naive; otherwise packed where a "
                       "SIMD microkernel runs (here: %s), else OpenBLAS; the direct path calls the "
                       "same kernel by name", be.small_mnk,
                       be.avx2_fma ? ctx.uk->name : "none, so OpenBLAS");
out:
    pw_matmul_ctx_release(&ctx);
    return status;
}

static const char *const dispatch_metrics[] = {
    "overhead.dispatch.nN", "speedup.direct_vs_dispatch.nN", "time.direct.nN",
    "time.dispatch.nN", NULL};
static const pw_param_spec dispatch_params[] = {
    {"sizes", PW_PARAM_INT_LIST, "[4, 8, 16, 32, 64]", 1, 1024, NULL, "square matrix sizes n"},
};
const pw_experiment pw_exp_acceleration_dispatch = {
    "acceleration.dispatch",
    "overhead of the backend dispatcher against calling the chosen kernel directly",
    dispatch_params, 1, dispatch_metrics, run_dispatch,
    module_sources,
};
