/* quantization.c — experiment `quantization.mlp`: the report's Fashion-MNIST MLP in fp32 against
 * its true INT8 version (integer GEMM and requantization, no dequantize-to-float): accuracy with
 * an exact McNemar test, model bytes, per-layer round-trip error, end-to-end latency per batch
 * size and a GEMM-level comparison on the model's layer shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/baselines.h"
#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/cpu.h"
#include "perfweave/experiment.h"
#include "perfweave/handicap.h"
#include "perfweave/matmul.h"
#include "perfweave/quant.h"
#include "baseline.h"
#include "ceilings.h"
#include "mnistexp.h"

#define MAXB 8

/* --- workloads for the bench ---------------------------------------------------------------- */
typedef struct {
    const pw_mlp *m;
    const pw_qmlp *q;
    const uint8_t *pixels;
    size_t n;
    float *logits;
    void *work;
    pw_mlp_gemm_fn gemm;  /* fp32 only: the library's product (NULL: OpenBLAS, pw_mlp_forward) */
} fwd_arg;

static void run_fp32(void *arg, uint64_t iters)
{
    fwd_arg *a = arg;
    for (uint64_t i = 0; i < iters; i++)
        pw_mlp_forward_gemm(a->m, a->gemm, a->pixels, a->n, a->logits, a->work);
}

static void run_int8(void *arg, uint64_t iters)
{
    fwd_arg *a = arg;
    for (uint64_t i = 0; i < iters; i++) pw_qmlp_forward(a->q, a->pixels, a->n, a->logits, a->work);
}

/* The three layer GEMMs of one batch: fp32 through one library (OpenBLAS takes sgemv for one
 * row), int8 through one qgemm kernel, or int8 through oneDNN's int8 matmul primitive. */
typedef struct {
    size_t n, dims[PW_MLP_LAYERS + 1];
    const float *xf[PW_MLP_LAYERS];    /* fp32 layer inputs, n × dims[l] */
    const float *wf[PW_MLP_LAYERS];
    const uint8_t *xq[PW_MLP_LAYERS];  /* uint8 layer inputs */
    const int8_t *wq[PW_MLP_LAYERS];   /* int8 weights, dims[l + 1] × dims[l] */
    pw_onednn_qmatmul *qm[PW_MLP_LAYERS]; /* oneDNN's matmul per layer, weights reordered once */
    pw_qgemm_b *pb[PW_MLP_LAYERS];
    pw_mlp_gemm_fn fp32;
    float *yf;
    int32_t *yq;
    void *work;
} gemm_arg;

static void run_sgemm(void *arg, uint64_t iters)
{
    gemm_arg *a = arg;
    for (uint64_t it = 0; it < iters; it++)
        for (int l = 0; l < PW_MLP_LAYERS; l++)
            a->fp32(a->n, a->dims[l + 1], a->dims[l], a->xf[l], a->dims[l], a->wf[l], a->dims[l],
                    a->yf, a->dims[l + 1]);
}

static void run_onednn_int8(void *arg, uint64_t iters)
{
    gemm_arg *a = arg;
    for (uint64_t it = 0; it < iters; it++)
        for (int l = 0; l < PW_MLP_LAYERS; l++) pw_onednn_qmatmul_run(a->qm[l], a->xq[l], a->yq);
}

static void run_qgemm(void *arg, uint64_t iters)
{
    gemm_arg *a = arg;
    for (uint64_t it = 0; it < iters; it++)
        for (int l = 0; l < PW_MLP_LAYERS; l++)
            pw_qgemm_run(a->pb[l], a->n, a->xq[l], a->dims[l], a->yq, a->dims[l + 1], a->work);
}

/* The int8 model's kernel: `auto` → the fastest this CPU runs (pw_qgemm_best); a forced one the
 * CPU, OS or build cannot run is an ERROR naming the reason, never a silent fallback. */
static int model_kernel(pw_result *r, const char *name, pw_qgemm_kind *kind)
{
    if (strcmp(name, "auto") == 0 || pw_qgemm_from_name(name, kind) != PW_OK) {
        *kind = pw_qgemm_best();
        return PW_OK;
    }
    char why[256];
    if (pw_qgemm_usable(*kind, pw_cpu_host(), why, sizeof why)) return PW_OK;
    pw_result_error(r, "kernel: the %s integer GEMM kernel cannot run here: %s",
                    pw_qgemm_name(*kind), why);
    return PW_EINVAL;
}

/* The kernels of the GEMM-level comparison: those of gemm_kernels that can run here, and the
 * model's; kinds[*sel] is the model's.  The ones skipped, with why, go into a note. */
static int gemm_kernel_list(pw_run *run, pw_qgemm_kind model, int *kinds, int *sel)
{
    pw_buf skipped;
    pw_buf_init(&skipped);
    int nk = 0;
    *sel = -1;
    for (int k = 0; k < PW_QGEMM_KINDS; k++) {
        if (!pw_run_has(run, "gemm_kernels", pw_qgemm_name((pw_qgemm_kind)k))) continue;
        char why[256];
        if (!pw_qgemm_usable((pw_qgemm_kind)k, pw_cpu_host(), why, sizeof why)) {
            pw_buf_printf(&skipped, "%s%s (%s)", skipped.len ? "; " : "",
                          pw_qgemm_name((pw_qgemm_kind)k), why);
            continue;
        }
        if (k == (int)model) *sel = nk;
        kinds[nk++] = k;
    }
    if (*sel < 0) kinds[*sel = nk++] = (int)model;
    if (skipped.len)
        pw_result_note(pw_run_result(run), "Integer kernels not run here: %s.", skipped.data);
    pw_buf_release(&skipped);
    return nk;
}

/* The machine's roofs for the GEMM level, from the ceilings *cp the caller measured (and timed
 * twice, pw_ceilings_recheck): the widest fp32 FMA peak (peak.fma, the roof of the
 * fp32 libraries' GOP/s: two operations per multiply-add in both) and the int8 peaks this CPU
 * runs (peak.int8.vnni256 / .vnni512 / .amx, ceilings.h).  The int8 roof (*int8) is the widest
 * int8 unit: AMX tiles where the CPU has them and this process may use them, else the widest
 * vpdpbusd; *vec8 is the widest vector (vpdpbusd) peak, the bound of vector code, kept apart
 * because a library past it is not running vector instructions.  The roofs are drawn as lines
 * on the chart; each metric has lo = 0 when it was not measured (no VNNI and no AMX: no int8
 * roof, and a note says so).  *narrow is set to the sentence saying so when peak.fma is
 * narrower than the CPU's widest unit (a build without SIMD kernels measures only the scalar
 * width, while the libraries still use the CPU's vectors), else to "". */
static void gemm_roofs(pw_run *run, const pw_ceilings *cp, pw_chart *gc, pw_metric *fp32,
                       pw_metric *int8, pw_metric *vec8, char *narrow, size_t narrowsize)
{
    pw_result *r = pw_run_result(run);
    memset(fp32, 0, sizeof *fp32);
    memset(int8, 0, sizeof *int8);
    memset(vec8, 0, sizeof *vec8);
    char label[80];
    narrow[0] = '\0';
    if (pw_result_get_metric(r, "peak.fma", fp32) == PW_OK && fp32->lo > 0) {
        snprintf(label, sizeof label, "%s fp32 peak, 1 core", pw_ceilings_label(cp->roof));
        pw_chart_hline(gc, label, fp32->value);
        const char *widest = pw_cpu_widest_isa(pw_cpu_host());
        char wname[48];
        snprintf(wname, sizeof wname, "peak.fma.%s", widest);
        pw_metric w;
        if (pw_result_get_metric(r, wname, &w) != PW_OK)
            snprintf(narrow, narrowsize, "peak.fma is the %s width this build measures, narrower "
                     "than the CPU's widest unit (%s) that the libraries may use, so a fraction "
                     "of it overstates how much of the machine a library uses",
                     pw_ceilings_label(cp->roof), widest);
    } else {
        fp32->lo = 0;
    }
    if (fp32->lo > 0 && !narrow[0])
        pw_result_note(r, "fraction_of_peak.sgemm_<library>.bN (and .sgemm.bN, the fastest) "
                       "divides each fp32 library's GOP/s on the layer shapes by peak.fma "
                       "(%.3g GFLOP/s), the widest fp32 FMA this CPU runs: how much of the "
                       "machine's fp32 arithmetic the baseline uses on these shapes.",
                       fp32->value);
    else if (fp32->lo > 0)
        pw_result_note(r, "fraction_of_peak.sgemm_<library>.bN (and .sgemm.bN) divide each fp32 "
                       "library's GOP/s by peak.fma (%.3g GFLOP/s), but %s: they decide nothing.",
                       fp32->value, narrow);
    pw_peak_kind vroof = isfinite(cp->peak[PW_PEAK_VNNI512]) ? PW_PEAK_VNNI512
                         : isfinite(cp->peak[PW_PEAK_VNNI256]) ? PW_PEAK_VNNI256
                                                             : PW_PEAK_KINDS;
    char name[80], vlabel[80] = "";
    if (vroof != PW_PEAK_KINDS) {
        snprintf(name, sizeof name, "peak.%s", pw_peak_metric(vroof));
        if (pw_result_get_metric(r, name, vec8) != PW_OK || !(vec8->lo > 0)) vec8->lo = 0;
        snprintf(vlabel, sizeof vlabel, "%s int8 peak, 1 core", pw_ceilings_label(vroof));
    }
    pw_peak_kind roof = vroof;
    *int8 = *vec8;
    snprintf(name, sizeof name, "peak.%s", pw_peak_metric(PW_PEAK_AMX));
    pw_metric amx;
    if (isfinite(cp->peak[PW_PEAK_AMX]) && pw_result_get_metric(r, name, &amx) == PW_OK &&
        amx.lo > 0) {
        roof = PW_PEAK_AMX;
        *int8 = amx;
    }
    if (!(int8->lo > 0)) {
        int8->lo = 0;
        pw_result_note(r, "No int8 peak is drawn: this CPU runs neither AMX tiles nor AVX-VNNI "
                       "nor AVX512-VNNI (or their peaks could not be measured), so no integer "
                       "kernel has a fraction_of_peak.");
        return;
    }
    snprintf(label, sizeof label, "%s int8 peak, 1 core", pw_ceilings_label(roof));
    pw_chart_hline(gc, label, int8->value);
    if (roof == PW_PEAK_AMX && vec8->lo > 0) pw_chart_hline(gc, vlabel, vec8->value);
    pw_result_note(r, "fraction_of_peak.qgemm_<kernel>.bN (and .onednn_int8.bN) divides each "
                   "integer GEMM's GOP/s by the %s (%.3g GOP/s), the widest int8 unit this run "
                   "may use; fraction_of_peak.qgemm.bN is the model's kernel.", label, int8->value);
    if (vec8->lo > 0)
        pw_result_note(r, "fraction_of_vector_peak.onednn_int8.bN divides oneDNN's GOP/s by the "
                       "%s (%.3g GOP/s), the widest vector dot product (vpdpbusd) this CPU runs: "
                       "vector code cannot pass it, so a fraction above 1 says the library used "
                       "another unit%s.", vlabel, vec8->value,
                       roof == PW_PEAK_AMX ? " (this CPU's AMX tiles)" : "");
}

/* Publishes frac = metric gops over the roof pk (conservative interval, the basis and marks of
 * gops) and writes it into cell ("–" when there is no roof or no gops). */
static void publish_fraction(pw_result *r, const char *gops, const char *frac, const pw_metric *pk,
                             char *cell, size_t cellsize)
{
    pw_metric g;
    snprintf(cell, cellsize, "–");
    if (!(pk->lo > 0) || pw_result_get_metric(r, gops, &g) != PW_OK) return;
    if (pw_result_metric(r, frac, g.value / pk->value, g.lo / pk->hi, g.hi / pk->lo, "") != PW_OK)
        return;
    pw_result_metric_basis_from(r, frac, gops, 1.0);
    snprintf(cell, cellsize, "%.2f", g.value / pk->value);
}

/* The checks of the int8 anchor (baselines.h), as for the fp32 libraries: what it runs, then how
 * fast.  (1) Code: where this process may use AMX tiles, oneDNN's implementation at the largest
 * batch (impl) must be an AMX one; a library kept off the CPU's matrix unit (an old oneDNN, or
 * ONEDNN_MAX_CPU_ISA) is a handicapped baseline for a kernel on it.  (2) Measured: its best
 * batch against the widest *vector* int8 peak pk, below PW_BASELINE_FLOOR.  The floor is not
 * taken against the AMX peak: on these layer shapes (at most 256 × 784 × 256) no
 * implementation comes near half of it (a tdpbusd needs two fresh 1 KiB tiles of operands per
 * 16 × 16 × 64 product), and a strawman shows below the vector roof.  Either way every speedup
 * against onednn decides nothing (UNDECIDED, "handicapped baseline") and the report warns at the
 * top: a library far from the machine's ceiling is named, never silently beaten. */
static void check_int8_anchor(pw_result *r, const long *batches, size_t nb, const pw_metric *pk,
                              const char *impl)
{
    json_t *doc = pw_onednn_json(), *isa = json_object_get(doc, "isa");
    const char *isaname = json_is_string(isa) ? json_string_value(isa) : "unknown";
    if (pw_qgemm_supported(PW_QGEMM_AMX) && !strstr(impl, "amx")) {
        char *msg = pw_xasprintf("oneDNN's int8 matmul (ISA %s) is a handicapped int8 baseline "
                                 "on this machine: at its largest batch it ran %s, not the AMX "
                                 "tiles this CPU has and this process may use, so comparisons "
                                 "against onednn are shown but decide no claim", isaname, impl);
        pw_handicap_mark(r, "onednn", NULL, NULL, msg);
        free(msg);
        json_decref(doc);
        return;
    }
    if (!(pk->value > 0)) {
        json_decref(doc);
        return;
    }
    double best = NAN, gops = NAN;
    long at = 0;
    for (size_t i = 0; i < nb; i++) {
        char name[64];
        pw_metric g;
        snprintf(name, sizeof name, "gops.onednn_int8.b%ld", batches[i]);
        if (pw_result_get_metric(r, name, &g) != PW_OK || !isfinite(g.value)) continue;
        if (isnan(best) || g.value / pk->value > best) {
            best = g.value / pk->value;
            gops = g.value;
            at = batches[i];
        }
    }
    if (!isfinite(best) || best >= PW_BASELINE_FLOOR) {
        json_decref(doc);
        return;
    }
    char *msg = pw_xasprintf("oneDNN's int8 matmul (ISA %s) is a handicapped int8 baseline on "
                             "this machine: at its best batch (%ld) on the model's layer shapes "
                             "it reached %.3g GOP/s, %.0f%% of the single-core vector int8 "
                             "dot-product peak of %.3g GOP/s; the floor is %.0f%% of that peak, "
                             "so comparisons against onednn are shown but decide no claim",
                             isaname, at, gops, 100 * best, pk->value, 100 * PW_BASELINE_FLOOR);
    json_decref(doc);
    pw_handicap_mark(r, "onednn", NULL, NULL, msg);
    free(msg);
}

/* One row of the round-trip table for x (fp32) against xq (after the round trip), publishing
 * sqnr.<key> (dB) and roundtrip.<key>: the original framework's measure, mean |error| over the
 * range (max − min) of x.  Both are exact: the tensors are fixed once the model is. */
static void error_row(pw_result *r, pw_table *t, const char *what, const char *key,
                      const float *x, const float *xq, size_t n)
{
    pw_quant_error e;
    pw_quant_error_of(x, xq, n, &e);
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        sum += fabs((double)x[i] - (double)xq[i]);
    }
    char name[64], cell[32] = "–";
    snprintf(name, sizeof name, "sqnr.%s", key);
    pw_result_exact(r, name, e.sqnr_db, "dB");
    if (n && hi > lo) {
        double rt = sum / (double)n / (hi - lo);
        snprintf(name, sizeof name, "roundtrip.%s", key);
        pw_result_exact(r, name, rt, "");
        snprintf(cell, sizeof cell, "%.3g", rt);
    }
    pw_table_rowf(t, "%s\t%zu\t%.3g\t%s\t%.3g\t%.1f", what, n, e.max_abs, cell, e.rel,
                  e.sqnr_db);
}

/* Round-trip table: weights per layer, the calibrated hidden activations (both methods), and
 * the end-to-end logits.  act_q[l] are the quantized models by calibration method. */
static void roundtrip_table(pw_result *r, const pw_mlp *m, pw_qmlp *const *byc,
                            const char *const *cname, pw_calib chosen, const pw_mnist *test,
                            const float *logit_f, const float *logit_q, size_t nlog)
{
    static const char *const hdr[] = {"tensor", "values", "max |error|",
                                      "mean |error| / range", "relative error (L2)", "SQNR (dB)"};
    pw_table *t = pw_result_table(r, "roundtrip", "Quantize → dequantize round trip per layer",
                                  6, hdr);
    const pw_qmlp *q = byc[chosen];
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        size_t in = m->dims[l], out = m->dims[l + 1];
        float *wd = pw_xmalloc(in * out * sizeof(float));
        const int8_t *wq = pw_qmlp_weights(q, l);
        const float *s = pw_qmlp_weight_scales(q, l);
        for (size_t i = 0; i < in * out; i++) wd[i] = s[i / in] * (float)wq[i];
        char what[96], key[48];
        snprintf(what, sizeof what, "layer %d weights (int8, per channel)", l + 1);
        snprintf(key, sizeof key, "weights.l%d", l + 1);
        error_row(r, t, what, key, m->w[l], wd, in * out);
        free(wd);
    }
    size_t na = test->n < 1000 ? test->n : 1000;
    for (int l = 1; l < PW_MLP_LAYERS; l++) {
        float *act = pw_xmalloc(na * m->dims[l] * sizeof(float));
        float *deq = pw_xmalloc(na * m->dims[l] * sizeof(float));
        pw_mlp_activations(m, test->pixels, na, l, act);
        for (int c = 0; c < 2; c++) {
            pw_qparams p = pw_qmlp_input_params(byc[c], l);
            for (size_t i = 0; i < na * m->dims[l]; i++)
                deq[i] = pw_dequant_u8(pw_quant_u8(act[i], p), p);
            char what[128], key[48];
            snprintf(what, sizeof what, "layer %d input activations (uint8, %s; scale %.3g, "
                     "zero point %d)", l + 1, cname[c], (double)p.scale, (int)p.zero_point);
            snprintf(key, sizeof key, "act_%s.l%d", cname[c], l + 1);
            error_row(r, t, what, key, act, deq, na * m->dims[l]);
        }
        free(act);
        free(deq);
    }
    error_row(r, t, "logits: integer forward pass vs fp32 (all test images)", "logits", logit_f,
              logit_q, nlog);
}

static void predictions(const float *logits, size_t n, size_t k, uint8_t *pred)
{
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
            if (logits[i * k + j] > logits[i * k + best]) best = j;
        pred[i] = (uint8_t)best;
    }
}

static void all_logits_fp32(const pw_mlp *m, const pw_mnist *d, float *logits)
{
    const size_t chunk = 500;
    float *work = pw_xmalloc(pw_mlp_work_floats(m, chunk) * sizeof(float));
    for (size_t s = 0; s < d->n; s += chunk) {
        size_t c = d->n - s < chunk ? d->n - s : chunk;
        pw_mlp_forward(m, d->pixels + s * m->dims[0], c, logits + s * m->dims[3], work);
    }
    free(work);
}

static void all_logits_int8(const pw_qmlp *q, const pw_mlp *m, const pw_mnist *d, float *logits)
{
    const size_t chunk = 500;
    void *work = pw_xmalloc(pw_qmlp_work_bytes(q, chunk));
    for (size_t s = 0; s < d->n; s += chunk) {
        size_t c = d->n - s < chunk ? d->n - s : chunk;
        pw_qmlp_forward(q, d->pixels + s * m->dims[0], c, logits + s * m->dims[3], work);
    }
    free(work);
}

static int run_quant(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    bool quick = pw_run_quick(run);
    long batches[MAXB];
    size_t nb = pw_run_ints(run, "batches", batches, MAXB);
    if (nb > MAXB) {
        pw_result_error(r, "at most %d batch sizes", MAXB);
        return PW_EINVAL;
    }
    const char *cal = pw_run_string(run, "calibration");
    pw_calib chosen = strcmp(cal, "percentile") == 0 ? PW_CALIB_PERCENTILE : PW_CALIB_MINMAX;
    double pct = pw_run_real(run, "percentile");
    size_t ncal = (size_t)pw_run_int(run, "calib_images");
    if (quick && ncal > 500) ncal = 500;
    pw_qgemm_kind kind;
    if (model_kernel(r, pw_run_string(run, "kernel"), &kind) != PW_OK) return PW_EINVAL;

    pw_mnistexp e;
    int st = pw_mnistexp_load(&e, quick, true, r);
    if (st != PW_OK) return st;
    const pw_mlp *m = e.model;
    const pw_mnist *test = &e.test;
    const size_t nt = test->n, K = m->dims[3];
    if (ncal > e.train.n) ncal = e.train.n;
    pw_mnistexp_publish_training(&e, r);

    /* Quantize with both calibrations (on the first ncal training images). */
    static const char *const cname[2] = {"minmax", "percentile"};
    pw_qmlp *byc[2] = {NULL, NULL};
    float *lf = pw_xmalloc(nt * K * sizeof(float)), *lq = pw_xmalloc(nt * K * sizeof(float));
    float *lr = NULL; /* the scalar reference pass's logits of the first ncheck test images */
    uint8_t *pf = pw_xmalloc(nt), *pq = pw_xmalloc(nt);
    pw_bench *bl = NULL, *bg = NULL;
    int kinds[PW_QGEMM_KINDS + 1], nk = 0;
    fwd_arg *fa = NULL;
    gemm_arg *ga = NULL, *gf = NULL, *go = NULL;
    size_t *fidx = NULL;
    /* The fp32 libraries the model is measured on: the fastest at each batch is "fp32"/"sgemm". */
    const char *libs[3];
    pw_mlp_gemm_fn lfn[3];
    char libwhy[600];
    size_t nl = pw_baseline_fp32_libraries(libs, lfn, libwhy, sizeof libwhy);
    for (int c = 0; c < 2; c++) {
        byc[c] = pw_qmlp_new(m, e.train.pixels, ncal, (pw_calib)c, pct, kind);
        if (!byc[c]) {
            pw_result_error(r, "quantizing the model with %s calibration failed", cname[c]);
            st = PW_EINVAL;
            goto out;
        }
    }
    const pw_qmlp *q = byc[chosen];

    size_t bmax = 0;
    for (size_t i = 0; i < nb; i++) bmax = (size_t)batches[i] > bmax ? (size_t)batches[i] : bmax;
    if (bmax > nt) {
        pw_result_error(r, "batch %zu exceeds the %zu test images", bmax, nt);
        st = PW_EINVAL;
        goto out;
    }
    /* The integer kernels compared with sgemm below: the requested ones that can run here and
     * the selected one. */
    int sel;
    nk = gemm_kernel_list(run, kind, kinds, &sel);

    /* --- checks, before any int8 figure is computed or anything is timed ------------------- */
    /* 1. Every kernel that runs below against pw_qgemm_ref, exactly: awkward shapes and the
     *    model's three layer shapes at a few row counts. */
    size_t shapes[3 * PW_MLP_LAYERS][3], nsh = 0;
    static const size_t rows[3] = {1, 3, 37};
    for (int i = 0; i < 3; i++)
        for (int l = 0; l < PW_MLP_LAYERS; l++) {
            shapes[nsh][0] = rows[i];
            shapes[nsh][1] = m->dims[l + 1];
            shapes[nsh][2] = m->dims[l];
            nsh++;
        }
    for (int j = 0; j < nk; j++) {
        char why[256];
        if (pw_qgemm_gate(kinds[j], (const size_t(*)[3])shapes, nsh, why, sizeof why) != PW_OK) {
            pw_result_error(r, "the %s integer GEMM fails its check against the reference "
                            "(nothing was timed): %s", pw_qgemm_name(kinds[j]), why);
            st = PW_EINTERNAL;
            goto out;
        }
    }
    /* 1b. Every fp32 library against a double-precision product on the same shapes. */
    for (size_t L = 0; L < nl; L++)
        for (size_t i = 0; i < nsh; i++) {
            char why[256];
            if (pw_baseline_check_nt(lfn[L], libs[L], shapes[i][0], shapes[i][1], shapes[i][2],
                                     i, why, sizeof why) != PW_OK) {
                pw_result_error(r, "the fp32 baseline fails its check (nothing was timed): %s", why);
                st = PW_EINTERNAL;
                goto out;
            }
        }
    /* 2. Both quantized networks against the independent scalar pass (pw_qgemm_ref and the same
     *    requantization, recomputed from the stored model), every logit's bits, on the first
     *    ncheck test images (all the timed batches read). */
    size_t ncheck = bmax > 256 ? bmax : 256;
    if (ncheck > nt) ncheck = nt;
    for (int c = 0; c < 2; c++) {
        char why[256];
        if (pw_qmlp_check(byc[c], test->pixels, ncheck, why, sizeof why) != PW_OK) {
            pw_result_error(r, "the int8 network (%s calibration) disagrees with the scalar "
                            "reference pass (nothing was timed): %s", cname[c], why);
            st = PW_EINTERNAL;
            goto out;
        }
    }
    lr = pw_xmalloc(ncheck * K * sizeof(float));
    if (pw_qmlp_forward_ref(q, test->pixels, ncheck, lr) != PW_OK) {
        pw_result_error(r, "the scalar reference pass of the int8 network failed");
        st = PW_EINTERNAL;
        goto out;
    }

    /* Accuracy on the 10k test images, fp32 vs int8, paired. */
    all_logits_fp32(m, test, lf);
    predictions(lf, nt, K, pf);
    size_t cf = 0, cq = 0;
    for (size_t i = 0; i < nt; i++) cf += pf[i] == test->labels[i];
    pw_mnistexp_publish_accuracy(r, "accuracy.fp32", cf, nt);
    for (int c = 0; c < 2; c++) {
        if (c == (int)chosen) continue;
        uint8_t *po = pw_xmalloc(nt);
        double acc = pw_qmlp_evaluate(byc[c], test, po);
        char name[64];
        snprintf(name, sizeof name, "accuracy.calib.%s", cname[c]);
        pw_mnistexp_publish_accuracy(r, name, (size_t)llround(acc * (double)nt), nt);
        free(po);
    }
    all_logits_int8(q, m, test, lq);
    /* The evaluated logits (batches of 500) are the checked ones. */
    if (memcmp(lq, lr, ncheck * K * sizeof(float)) != 0) {
        pw_result_error(r, "the evaluated int8 logits differ from the scalar reference pass");
        st = PW_EINTERNAL;
        goto out;
    }
    predictions(lq, nt, K, pq);
    for (size_t i = 0; i < nt; i++) cq += pq[i] == test->labels[i];
    pw_mnistexp_publish_accuracy(r, "accuracy.int8", cq, nt);
    {
        char name[64];
        snprintf(name, sizeof name, "accuracy.calib.%s", cname[chosen]);
        pw_mnistexp_publish_accuracy(r, name, cq, nt);
    }
    pw_mnistexp_paired mc;
    pw_mnistexp_mcnemar(pf, pq, test->labels, nt, &mc);
    pw_mnistexp_publish_drop(r, "drop.accuracy.int8_vs_fp32", &mc);
    pw_result_exact(r, "pvalue.mcnemar.int8_vs_fp32", mc.p, "");
    pw_result_exact(r, "count.fp32_only_correct", (double)mc.b, "");
    pw_result_exact(r, "count.int8_only_correct", (double)mc.c, "");
    size_t agree = 0;
    for (size_t i = 0; i < nt; i++) agree += pf[i] == pq[i];
    pw_mnistexp_publish_accuracy(r, "agreement.int8_vs_fp32", agree, nt);
    pw_result_note(r, "Accuracy on the %zu test images with 95%% Wilson intervals; int8 uses %s "
                   "calibration on %zu training images%s and the %s GEMM kernel (%s).  Paired: "
                   "%zu images only fp32 classifies correctly, %zu only int8; exact McNemar p = %.3g.",
                   nt, cname[chosen], ncal,
                   chosen == PW_CALIB_PERCENTILE ? " (percentile clipping)" : "",
                   pw_qgemm_name(kind), pw_qgemm_isa(kind), mc.b, mc.c, mc.p);

    {
        pw_buf ks;
        pw_buf_init(&ks);
        for (int j = 0; j < nk; j++)
            pw_buf_printf(&ks, "%s%s", j ? (j + 1 == nk ? " and " : ", ") : "",
                          pw_qgemm_name(kinds[j]));
        pw_result_note(r, "Checked before anything was timed: the %s integer GEMM kernel%s "
                       "the plain triple-loop reference exactly on awkward shapes and on the "
                       "model's layer shapes; both int8 networks give, bit for bit, the logits "
                       "of an independent scalar pass (reference GEMM, same integer "
                       "requantization, offsets and multipliers recomputed from the stored "
                       "model) on the first %zu test images, which include every timed batch.",
                       ks.data, nk > 1 ? "s equal" : " equals", ncheck);
        pw_buf_release(&ks);
    }

    /* Bytes. */
    double bf = (double)pw_mlp_bytes(m), bq = (double)pw_qmlp_bytes(q);
    pw_result_exact(r, "bytes.fp32", bf, "B");
    pw_result_exact(r, "bytes.int8", bq, "B");
    pw_result_exact(r, "ratio.bytes", bf / bq, "×");
    pw_result_note(r, "Bytes: fp32 stores float32 weights and biases; int8 stores int8 weights, "
                   "int32 biases, a float32 scale per output channel and a float32 scale plus "
                   "int32 zero point per activation tensor.  The ratio stays below 4 because of "
                   "those per-channel and bias terms.");

    roundtrip_table(r, m, byc, cname, chosen, test, lf, lq, nt * K);

    /* --- latency: whole forward pass per batch, fp32 (each library) vs int8 --------------- */
    /* Per batch: the fp32 pass on each library, then the int8 pass (stride F in fa). */
    const size_t F = nl + 1;
    pw_bench_config cfg;
    pw_bench_config_default(&cfg, quick);
    cfg.max_seconds *= (double)nb * (double)F / 2;
    bl = pw_bench_new(&cfg);
    fa = pw_xcalloc(F * nb, sizeof *fa);
    for (size_t i = 0; i < nb && st == PW_OK; i++) {
        size_t b = (size_t)batches[i];
        char name[64];
        for (size_t L = 0; L <= nl; L++) {
            bool int8 = L == nl;
            fa[F * i + L] = (fwd_arg){m, q, test->pixels, b, pw_xmalloc(b * K * sizeof(float)),
                                      int8 ? pw_xmalloc(pw_qmlp_work_bytes(q, b))
                                           : pw_xmalloc(pw_mlp_work_floats(m, b) * sizeof(float)),
                                      int8 || L == 0 ? NULL : lfn[L]};
        }
        /* Gate: the timed int8 call gives the scalar reference pass's logits exactly; each
         * library's fp32 pass gives OpenBLAS's logits up to float rounding (a wiring check: the
         * products themselves were checked above). */
        run_int8(&fa[F * i + nl], 1);
        if (memcmp(fa[F * i + nl].logits, lr, b * K * sizeof(float)) != 0) {
            pw_result_error(r, "the int8 forward pass at batch %zu disagrees with the scalar "
                            "reference pass (nothing was timed)", b);
            st = PW_EINTERNAL;
            break;
        }
        for (size_t L = 0; L < nl; L++) run_fp32(&fa[F * i + L], 1);
        for (size_t L = 1; L < nl && st == PW_OK; L++) {
            double top = 1, diff = 0;
            for (size_t e = 0; e < b * K; e++) {
                double x = fa[F * i].logits[e], y = fa[F * i + L].logits[e];
                top = fabs(x) > top ? fabs(x) : top;
                diff = isfinite(y) ? (fabs(x - y) > diff ? fabs(x - y) : diff) : INFINITY;
            }
            if (!(diff <= 1e-3 * top)) {
                pw_result_error(r, "the fp32 forward pass on %s differs from OpenBLAS's at batch "
                                "%zu by %.3g (largest logit %.3g; nothing was timed)", libs[L], b,
                                diff, top);
                st = PW_EINTERNAL;
            }
        }
        for (size_t L = 0; L <= nl && st == PW_OK; L++) {
            if (L < nl) snprintf(name, sizeof name, "fp32_%s.b%zu", libs[L], b);
            else snprintf(name, sizeof name, "int8.b%zu", b);
            pw_bench_add(bl, name, L < nl ? run_fp32 : run_int8, &fa[F * i + L]);
        }
    }
    if (st != PW_OK) goto out;
    pw_bench_run(bl);
    pw_chart *lc = pw_result_chart(r, "latency", "Forward pass time per batch (one core)",
                                   "batch size", "ms per batch", PW_CHART_LOGX | PW_CHART_LOGY);
    pw_series *sf = pw_chart_series(lc, "fp32 (fastest fp32 library at each batch)");
    pw_series *sq = pw_chart_series(lc, "int8 (integer GEMM + requantization)");
    static const char *const lhdr[] = {"batch", "fp32 ms (library)", "int8 ms",
                                       "speedup int8 vs fp32"};
    pw_table *lt = pw_result_table(r, "latency", "Forward pass per batch, fp32 (fastest library) "
                                   "vs int8 (speedup: " PW_BENCH_SPEEDUP_METHOD ")", 4, lhdr);
    int slower = 0;
    for (size_t i = 0; i < nb; i++) {
        char a[64], b[64], s[64], suffix[32], lname[3][64];
        const char *lm[3];
        snprintf(suffix, sizeof suffix, "b%ld", batches[i]);
        for (size_t L = 0; L < nl; L++) {
            snprintf(lname[L], sizeof lname[L], "time.fp32_%s.b%ld", libs[L], batches[i]);
            pw_bench_publish_time(bl, F * i + L, r, lname[L], 1e3, "ms");
            lm[L] = lname[L];
        }
        snprintf(a, sizeof a, "time.fp32.b%ld", batches[i]);
        snprintf(b, sizeof b, "time.int8.b%ld", batches[i]);
        snprintf(s, sizeof s, "speedup.int8_vs_fp32.b%ld", batches[i]);
        int pick = pw_baseline_pick_fastest(r, lm, libs, nl, false, a, "fp32", suffix);
        pw_bench_publish_time(bl, F * i + nl, r, b, 1e3, "ms");
        if (pick >= 0) pw_bench_publish_speedup(bl, F * i + nl, F * i + (size_t)pick, r, s);
        pw_metric ma, mb, ms;
        if (pick >= 0 && pw_result_get_metric(r, a, &ma) == PW_OK &&
            pw_result_get_metric(r, b, &mb) == PW_OK && pw_result_get_metric(r, s, &ms) == PW_OK) {
            pw_series_point(sf, (double)batches[i], ma.value, ma.lo, ma.hi);
            pw_series_point(sq, (double)batches[i], mb.value, mb.lo, mb.hi);
            pw_table_rowf(lt, "%ld\t%.4g [%.4g, %.4g] (%s)\t%.4g [%.4g, %.4g]\t%.3g× [%.3g, %.3g]",
                          batches[i], ma.value, ma.lo, ma.hi, libs[pick], mb.value, mb.lo, mb.hi,
                          ms.value, ms.lo, ms.hi);
            if (ms.hi < 1) slower = 1;
        }
    }
    pw_bench_record(bl, r, "latency.");
    pw_result_note(r, "Latency: both passes start from the batch's uint8 pixels (fp32 converts "
                   "them to float as part of its pass; int8 uses them as they are) and end with "
                   "float logits; one core.  The fp32 pass ran on each fp32 library (every one "
                   "single-threaded; OpenBLAS through sgemv at batch 1) and fp32 is the fastest "
                   "of them at each batch (time.fp32_LIBRARY.bN are all of them).");

    /* --- GEMM level: the model's three layer shapes, each fp32 library vs each integer kernel
     *     and oneDNN's integer GEMM ---------------------------------------------------------- */
    char anchor_why[256] = "", anchor_impl[512] = "";
    bool anchor = pw_onednn_open(anchor_why, sizeof anchor_why) == PW_OK;
    pw_bench_config_default(&cfg, quick);
    cfg.max_seconds *= quick ? (double)nb : (double)nb * (double)(nl + (size_t)nk + anchor) / 2;
    bg = pw_bench_new(&cfg);
    ga = pw_xcalloc(nb * (size_t)nk, sizeof *ga);
    gf = pw_xcalloc(nb * nl, sizeof *gf);
    go = pw_xcalloc(nb, sizeof *go);
    fidx = pw_xcalloc(nb * (nl + (size_t)nk + 1), sizeof *fidx);
    /* Real layer inputs of the first bmax test images: fp32 activations and their uint8 codes. */
    float *xf[PW_MLP_LAYERS];
    uint8_t *xq[PW_MLP_LAYERS];
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        size_t w = m->dims[l];
        xf[l] = pw_xmalloc(bmax * w * sizeof(float));
        xq[l] = pw_xmalloc(bmax * w);
        if (l == 0)
            for (size_t i = 0; i < bmax * w; i++) xf[0][i] = (float)test->pixels[i] / 255.0f;
        else
            pw_mlp_activations(m, test->pixels, bmax, l, xf[l]);
        pw_quant_u8_array(xf[l], bmax * w, pw_qmlp_input_params(q, l), xq[l]);
        if (l == 0) memcpy(xq[0], test->pixels, bmax * w);
    }
    size_t widest = 256;
    float *yf = pw_xmalloc(bmax * widest * sizeof(float));
    int32_t *yq = pw_xmalloc(bmax * widest * sizeof(int32_t)),
            *yr = pw_xmalloc(bmax * widest * sizeof(int32_t));
    /* Bench indices per batch: fp32 libraries, integer kernels, oneDNN int8 (stride G). */
    const size_t G = nl + (size_t)nk + 1;
    for (size_t i = 0; i < nb && st == PW_OK; i++) {
        size_t b = (size_t)batches[i];
        char name[64];
        for (int j = 0; j < nk; j++) {
            gemm_arg *g = &ga[i * (size_t)nk + (size_t)j];
            g->n = b;
            memcpy(g->dims, m->dims, sizeof g->dims);
            size_t wb = 1;
            for (int l = 0; l < PW_MLP_LAYERS; l++) {
                g->xf[l] = xf[l];
                g->wf[l] = m->w[l];
                g->xq[l] = xq[l];
                g->pb[l] = pw_qgemm_pack(kinds[j], pw_qmlp_weights(q, l), m->dims[l + 1],
                                         m->dims[l], m->dims[l]);
                size_t w = pw_qgemm_work_bytes(g->pb[l], b);
                wb = w > wb ? w : wb;
            }
            g->yf = yf;
            g->yq = yq;
            g->work = pw_xmalloc(wb);
            /* Gate: every layer's integer GEMM equals the reference exactly. */
            for (int l = 0; l < PW_MLP_LAYERS && st == PW_OK; l++) {
                pw_qgemm_run(g->pb[l], b, xq[l], m->dims[l], yq, m->dims[l + 1], g->work);
                pw_qgemm_ref(b, m->dims[l + 1], m->dims[l], xq[l], m->dims[l],
                             pw_qmlp_weights(q, l), m->dims[l], yr, m->dims[l + 1]);
                if (memcmp(yq, yr, b * m->dims[l + 1] * sizeof(int32_t)) != 0) {
                    pw_result_error(r, "the %s integer GEMM differs from the reference on layer "
                                    "%d at batch %zu", pw_qgemm_name(kinds[j]), l + 1, b);
                    st = PW_EINTERNAL;
                }
            }
        }
        if (st != PW_OK) break;
        gemm_arg *o = &go[i];
        o->n = b;
        memcpy(o->dims, m->dims, sizeof o->dims);
        for (int l = 0; l < PW_MLP_LAYERS; l++) {
            o->xq[l] = xq[l];
            o->wq[l] = pw_qmlp_weights(q, l);
        }
        o->yq = yq;
        /* The anchor: oneDNN's int8 matmul primitive per layer, its weights reordered once into
         * the primitive's own layout (as our kernels' are packed once), so that neither side
         * packs weights inside a timed call.  Gate: it equals the reference exactly, or it is
         * not the anchor (on CPUs without VNNI oneDNN may sum u8·s8 pairs in saturating 16-bit
         * arithmetic). */
        for (int l = 0; l < PW_MLP_LAYERS && anchor; l++) {
            char why[192];
            if (pw_onednn_qmatmul_new(b, m->dims[l + 1], m->dims[l], pw_qmlp_weights(q, l),
                                      &o->qm[l], why, sizeof why) != PW_OK) {
                anchor = false;
                snprintf(anchor_why, sizeof anchor_why, "%s (layer %d, batch %zu)", why, l + 1, b);
                break;
            }
            pw_qgemm_ref(b, m->dims[l + 1], m->dims[l], xq[l], m->dims[l], pw_qmlp_weights(q, l),
                         m->dims[l], yr, m->dims[l + 1]);
            if (pw_onednn_qmatmul_run(o->qm[l], xq[l], yq) != PW_OK ||
                memcmp(yq, yr, b * m->dims[l + 1] * sizeof(int32_t)) != 0) {
                anchor = false;
                snprintf(anchor_why, sizeof anchor_why, "oneDNN's int8 matmul differs from the "
                         "integer reference on layer %d at batch %zu", l + 1, b);
            }
        }
        /* What oneDNN chose for the first layer at each batch (it may differ by shape). */
        if (anchor) {
            size_t used = strlen(anchor_impl);
            snprintf(anchor_impl + used, sizeof anchor_impl - used, "%sbatch %zu %s",
                     used ? ", " : "", b, pw_onednn_qmatmul_impl(o->qm[0]));
        }
        for (size_t L = 0; L < nl; L++) {
            gemm_arg *g = &gf[i * nl + L];
            *g = (gemm_arg){.n = b, .fp32 = lfn[L], .yf = yf};
            memcpy(g->dims, m->dims, sizeof g->dims);
            for (int l = 0; l < PW_MLP_LAYERS; l++) {
                g->xf[l] = xf[l];
                g->wf[l] = m->w[l];
            }
            snprintf(name, sizeof name, "sgemm_%s.b%zu", libs[L], b);
            fidx[i * G + L] = pw_bench_add(bg, name, run_sgemm, g);
        }
        for (int j = 0; j < nk; j++) {
            snprintf(name, sizeof name, "qgemm_%s.b%zu", pw_qgemm_name(kinds[j]), b);
            fidx[i * G + nl + (size_t)j] = pw_bench_add(bg, name, run_qgemm, &ga[i * (size_t)nk + (size_t)j]);
        }
    }
    /* The anchor is timed only where it passed its check at every batch. */
    for (size_t i = 0; i < nb && st == PW_OK && anchor; i++) {
        char name[64];
        snprintf(name, sizeof name, "onednn_int8.b%ld", batches[i]);
        fidx[i * G + G - 1] = pw_bench_add(bg, name, run_onednn_int8, &go[i]);
    }
    /* The roofs are timed before the GEMM rounds and again after them, the faster window kept
     * (pw_ceilings_recheck): one 0.5 s window can fall in a slow stretch of a shared host. */
    pw_ceilings roofs;
    if (st == PW_OK) pw_ceilings_measure(run, PW_CEIL_ROOF | PW_CEIL_INT8, 0, &roofs);
    if (st == PW_OK) {
        pw_bench_run(bg);
        pw_ceilings_recheck(run, &roofs, PW_CEIL_ROOF | PW_CEIL_INT8);
        double macs_per_image = 0;
        for (int l = 0; l < PW_MLP_LAYERS; l++) macs_per_image += (double)(m->dims[l] * m->dims[l + 1]);
        pw_chart *gc = pw_result_chart(r, "gemm", "GEMM throughput on the model's layer shapes "
                                       "(784→256, 256→128, 128→10)", "batch size",
                                       "GOP/s (2 ops per multiply-add)", PW_CHART_LOGX);
        pw_series *ss[2 + PW_QGEMM_KINDS];
        ss[0] = pw_chart_series(gc, "sgemm (fastest fp32 library, fp32)");
        for (int j = 0; j < nk; j++) {
            char lab[64];
            snprintf(lab, sizeof lab, "qgemm %s (int8)", pw_qgemm_name(kinds[j]));
            ss[1 + j] = pw_chart_series(gc, lab);
        }
        ss[1 + nk] = anchor ? pw_chart_series(gc, "oneDNN matmul (int8)") : NULL;
        pw_metric roof32, roof8, vec8;
        char narrow[256];
        gemm_roofs(run, &roofs, gc, &roof32, &roof8, &vec8, narrow, sizeof narrow);
        /* What each dedicated instruction buys, kernel against kernel on the same shapes: the
         * widest VNNI kernel against the AVX2 (16-bit) one, speedup.qgemm_vnni_vs_qgemm_avx2.bN,
         * and the AMX kernel against the widest VNNI one, speedup.qgemm_amx_vs_qgemm_vnni.bN. */
        int javx2 = -1, jvnni = -1, jamx = -1;
        for (int j = 0; j < nk; j++) {
            if (kinds[j] == PW_QGEMM_AVX2) javx2 = j;
            if (kinds[j] == PW_QGEMM_AVX512VNNI || (kinds[j] == PW_QGEMM_AVXVNNI && jvnni < 0))
                jvnni = j;
            if (kinds[j] == PW_QGEMM_AMX) jamx = j;
        }
        static const char *const ghdr[] = {"batch", "kernel", "GOP/s", "fraction of roof",
                                           "speedup vs sgemm", "speedup vs oneDNN int8"};
        pw_table *gt = pw_result_table(r, "gemm", "Integer GEMM vs the fastest fp32 library and "
                                       "oneDNN's integer GEMM on the model's layer shapes "
                                       "(fraction of roof: fp32 rows of the fp32 peak, int8 rows "
                                       "of the int8 peak; speedups: " PW_BENCH_SPEEDUP_METHOD ")", 6, ghdr);
        for (size_t i = 0; i < nb; i++) {
            long b = batches[i];
            double work = 2.0 * macs_per_image * (double)b / 1e9;
            const size_t *bi = &fidx[i * G];
            char name[80], suffix[32], lname[3][80], frac[3][32], fname[80];
            const char *lm[3];
            pw_metric mm;
            snprintf(suffix, sizeof suffix, "b%ld", b);
            for (size_t L = 0; L < nl; L++) {
                snprintf(lname[L], sizeof lname[L], "gops.sgemm_%s.b%ld", libs[L], b);
                pw_bench_publish_rate(bg, bi[L], r, lname[L], work, "GOP/s");
                lm[L] = lname[L];
                snprintf(fname, sizeof fname, "fraction_of_peak.sgemm_%s.b%ld", libs[L], b);
                publish_fraction(r, lname[L], fname, &roof32, frac[L], sizeof frac[L]);
                if (narrow[0]) pw_result_metric_undecidable(r, fname, "not_established", "%s", narrow);
            }
            snprintf(name, sizeof name, "gops.sgemm.b%ld", b);
            int pick = pw_baseline_pick_fastest(r, lm, libs, nl, true, name, "sgemm", suffix);
            for (size_t L = 0; L < nl; L++)
                if (pw_result_get_metric(r, lname[L], &mm) == PW_OK)
                    pw_table_rowf(gt, "%ld\tsgemm %s%s\t%.3g\t%s\t%s", b, libs[L],
                                  (int)L == pick ? " (fastest)" : "", mm.value, frac[L],
                                  (int)L == pick ? "1" : "–");
            if (pick < 0) continue;
            {
                char cell[32];
                snprintf(fname, sizeof fname, "fraction_of_peak.sgemm.b%ld", b);
                publish_fraction(r, name, fname, &roof32, cell, sizeof cell);
                if (narrow[0]) pw_result_metric_undecidable(r, fname, "not_established", "%s", narrow);
            }
            if (pw_result_get_metric(r, name, &mm) == PW_OK)
                pw_series_point(ss[0], (double)b, mm.value, mm.lo, mm.hi);
            size_t fp = bi[pick], oi = bi[G - 1];
            if (anchor) {
                snprintf(name, sizeof name, "gops.onednn_int8.b%ld", b);
                pw_bench_publish_rate(bg, oi, r, name, work, "GOP/s");
                if (pw_result_get_metric(r, name, &mm) == PW_OK) {
                    char cell[32], vcell[32];
                    snprintf(fname, sizeof fname, "fraction_of_peak.onednn_int8.b%ld", b);
                    publish_fraction(r, name, fname, &roof8, cell, sizeof cell);
                    snprintf(fname, sizeof fname, "fraction_of_vector_peak.onednn_int8.b%ld", b);
                    publish_fraction(r, name, fname, &vec8, vcell, sizeof vcell);
                    pw_series_point(ss[1 + nk], (double)b, mm.value, mm.lo, mm.hi);
                    pw_table_rowf(gt, "%ld\toneDNN matmul (int8)\t%.3g\t%s\t–\t1", b, mm.value, cell);
                }
            }
            for (int j = 0; j < nk; j++) {
                const char *kn = pw_qgemm_name(kinds[j]);
                size_t qi = bi[nl + (size_t)j];
                snprintf(name, sizeof name, "gops.qgemm_%s.b%ld", kn, b);
                pw_bench_publish_rate(bg, qi, r, name, work, "GOP/s");
                double g = NAN;
                if (pw_result_get_metric(r, name, &mm) == PW_OK) {
                    pw_series_point(ss[1 + j], (double)b, mm.value, mm.lo, mm.hi);
                    g = mm.value;
                }
                char vs_f[64] = "–", vs_o[64] = "–", cell[32];
                snprintf(fname, sizeof fname, "fraction_of_peak.qgemm_%s.b%ld", kn, b);
                publish_fraction(r, name, fname, &roof8, cell, sizeof cell);
                if (j == sel) {
                    char alias[32];
                    snprintf(fname, sizeof fname, "fraction_of_peak.qgemm.b%ld", b);
                    publish_fraction(r, name, fname, &roof8, alias, sizeof alias);
                }
                snprintf(name, sizeof name, "speedup.qgemm_%s_vs_sgemm.b%ld", kn, b);
                pw_bench_publish_speedup(bg, qi, fp, r, name);
                if (pw_result_get_metric(r, name, &mm) == PW_OK)
                    snprintf(vs_f, sizeof vs_f, "%.3g× [%.3g, %.3g]", mm.value, mm.lo, mm.hi);
                if (anchor) {
                    snprintf(name, sizeof name, "speedup.qgemm_%s_vs_onednn.b%ld", kn, b);
                    pw_bench_publish_speedup(bg, qi, oi, r, name);
                    if (pw_result_get_metric(r, name, &mm) == PW_OK)
                        snprintf(vs_o, sizeof vs_o, "%.3g× [%.3g, %.3g]", mm.value, mm.lo, mm.hi);
                }
                pw_table_rowf(gt, "%ld\tqgemm %s\t%.3g\t%s\t%s\t%s", b, kn, g, cell, vs_f, vs_o);
                if (j == sel) {
                    snprintf(name, sizeof name, "speedup.qgemm_vs_sgemm.b%ld", b);
                    pw_bench_publish_speedup(bg, qi, fp, r, name);
                    if (anchor) {
                        snprintf(name, sizeof name, "speedup.qgemm_vs_onednn.b%ld", b);
                        pw_bench_publish_speedup(bg, qi, oi, r, name);
                    }
                }
            }
            if (jvnni >= 0 && javx2 >= 0) {
                snprintf(name, sizeof name, "speedup.qgemm_vnni_vs_qgemm_avx2.b%ld", b);
                pw_bench_publish_speedup(bg, bi[nl + (size_t)jvnni], bi[nl + (size_t)javx2], r,
                                         name);
            }
            if (jamx >= 0 && jvnni >= 0) {
                snprintf(name, sizeof name, "speedup.qgemm_amx_vs_qgemm_vnni.b%ld", b);
                pw_bench_publish_speedup(bg, bi[nl + (size_t)jamx], bi[nl + (size_t)jvnni], r,
                                         name);
            }
        }
        pw_bench_record(bg, r, "gemm.");
        if (anchor) {
            size_t big = 0; /* the largest batch, where a matrix unit pays most */
            for (size_t i = 1; i < nb; i++) big = batches[i] > batches[big] ? i : big;
            check_int8_anchor(r, batches, nb, &vec8, pw_onednn_qmatmul_impl(go[big].qm[0]));
        }
        pw_result_note(r, "GEMM level: the three layer products of a batch, on fp32 through each "
                       "fp32 library (sgemm is the fastest of them at each batch; OpenBLAS through "
                       "sgemv at batch 1, its faster path) against the integer kernels (uint8 × "
                       "int8 → int32) on the same shapes; weights pre-packed for the integer "
                       "kernels and oneDNN's int8 matmul (the fp32 libraries pack inside each "
                       "call), each integer kernel "
                       "checked equal to the reference and each fp32 library checked against a "
                       "double-precision product before timing.  speedup.qgemm_vs_sgemm, "
                       "speedup.qgemm_vs_onednn and fraction_of_peak.qgemm use the %s kernel%s%s%s%s.",
                       pw_qgemm_name(kind),
                       jvnni >= 0 && javx2 >= 0 ? "; speedup.qgemm_vnni_vs_qgemm_avx2 sets the "
                                                  "widest VNNI kernel (" : "",
                       jvnni >= 0 && javx2 >= 0 ? pw_qgemm_name(kinds[jvnni]) : "",
                       jvnni >= 0 && javx2 >= 0 ? ") against the AVX2 (16-bit vpmaddwd) kernel "
                                                  "on the same shapes" : "",
                       jamx >= 0 && jvnni >= 0 ? "; speedup.qgemm_amx_vs_qgemm_vnni sets the AMX "
                                                 "kernel against it" : "");
        if (anchor)
            pw_result_note(r, "The int8 anchor is oneDNN's int8 matmul primitive (u8 × s8 → s32, "
                           "one thread, no scales or offsets; implementation on the first layer: %s), one primitive "
                           "per layer and batch with its weights reordered once into the layout "
                           "it chose, as our kernels' are packed once; checked equal to the "
                           "integer reference on every layer at every batch before it was timed.",
                           anchor_impl[0] ? anchor_impl : "unknown");
        else
            pw_result_warning(r, "no int8 library anchor: %s; speedup.qgemm_vs_onednn is not "
                              "published", anchor_why);
    }
    if (libwhy[0]) pw_result_warning(r, "%s", libwhy);
    pw_baseline_note(r, libs, nl);
    /* No peak is measured here (and these layer shapes are too small for the measured part of
     * the floor): what each library's vector code can reach decides alone. */
    pw_baseline_check_code(r, libs, nl, "sgemm", "sgemm");
    pw_baseline_check_code(r, libs, nl, "fp32", "fp32");
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        free(xf[l]);
        free(xq[l]);
    }
    free(yf);
    free(yq);
    free(yr);
    if (slower) {
        /* Only what this run knows: the OpenBLAS core, the CPU's vector extensions and the
         * integer kernel that ran. */
        const pw_cpu_info *cpu = pw_cpu_host();
        bool a512 = pw_cpu_usable_avx512(cpu), a2 = pw_cpu_usable_avx2_fma(cpu);
        const char *kdesc =
            kind == PW_QGEMM_AMX
                ? "tdpbusd on AMX tiles: a 16 × 16 × 64 uint8 × int8 product into int32 per "
                  "instruction"
            : kind == PW_QGEMM_AVX512VNNI
                ? "vpdpbusd on zmm: 64 uint8 × int8 products accumulated into int32 per 512-bit "
                  "instruction"
            : kind == PW_QGEMM_AVXVNNI
                ? "vpdpbusd: 32 uint8 × int8 products accumulated into int32 per 256-bit "
                  "instruction"
            : kind == PW_QGEMM_AVX2
                ? "16-bit widening and vpmaddwd: 16 multiplies per 256-bit instruction plus a "
                  "separate add"
                : "plain C loops, vectorized only as far as the compiler manages";
        pw_result_note(r, "Where int8 is not faster: the fp32 baseline is the fastest fp32 "
                       "library at each batch (named in the latency table; OpenBLAS runs its "
                       "%s core), on a CPU %s; the int8 pass used the %s kernel (%s).  Besides "
                       "its products the integer pass requantizes every hidden output (an int64 "
                       "multiply, a shift and a clamp) and widens or repacks the activations on "
                       "every call; this experiment does not time those parts separately, so "
                       "which of them costs the difference is not measured here (the GEMM table "
                       "times the products alone).", pw_matmul_blas_core(),
                       a512 ? "whose widest usable vectors are AVX-512"
                       : a2 ? "whose widest usable vectors are AVX2"
                            : "without usable AVX2",
                       pw_qgemm_name(kind), kdesc);
    }
out:
    free(gf);
    if (go)
        for (size_t i = 0; i < nb; i++)
            for (int l = 0; l < PW_MLP_LAYERS; l++) pw_onednn_qmatmul_free(go[i].qm[l]);
    free(go);
    free(fidx);
    if (ga) {
        for (size_t i = 0; i < nb * (size_t)nk; i++) {
            for (int l = 0; l < PW_MLP_LAYERS; l++) pw_qgemm_b_free(ga[i].pb[l]);
            free(ga[i].work);
        }
        free(ga);
    }
    if (fa) {
        for (size_t i = 0; i < (nl + 1) * nb; i++) {
            free(fa[i].logits);
            free(fa[i].work);
        }
        free(fa);
    }
    pw_bench_free(bl);
    pw_bench_free(bg);
    pw_qmlp_free(byc[0]);
    pw_qmlp_free(byc[1]);
    free(lf);
    free(lq);
    free(lr);
    free(pf);
    free(pq);
    pw_mnistexp_release(&e);
    return st;
}

static const char *const calib_choices[] = {"minmax", "percentile", NULL};
static const char *const kernel_choices[] = {"auto", "portable", "avx2", "avxvnni", "avx512vnni",
                                             "amx", NULL};
static const char *const gemm_choices[] = {"portable", "avx2", "avxvnni", "avx512vnni", "amx",
                                           NULL};
static const pw_param_spec quant_params[] = {
    {"batches", PW_PARAM_INT_LIST, "[1, 32, 256]", 1, 4096, NULL,
     "batch sizes for latency and GEMM timing"},
    {"calibration", PW_PARAM_STRING, "minmax", 0, 0, calib_choices,
     "activation range calibration of the int8 model measured as accuracy.int8"},
    {"percentile", PW_PARAM_REAL, "99.99", 50.0001, 100, NULL,
     "percentile of the percentile calibration"},
    {"calib_images", PW_PARAM_INT, "2000", 1, 60000, NULL,
     "training images used for calibration (at most 500 in quick mode)"},
    {"kernel", PW_PARAM_STRING, "auto", 0, 0, kernel_choices,
     "integer GEMM kernel of the int8 model (auto: the fastest this CPU runs; a forced one it "
     "cannot run is an error)"},
    {"gemm_kernels", PW_PARAM_STRING_LIST, "[portable, avx2, avxvnni, avx512vnni, amx]", 0, 0,
     gemm_choices,
     "integer kernels compared with sgemm at GEMM level (ones this CPU cannot run are skipped, "
     "and the note says why)"},
};
static const char *const quant_metrics[] = {
    "accuracy.fp32", "accuracy.int8", "accuracy.calib.minmax", "accuracy.calib.percentile",
    "agreement.int8_vs_fp32", "drop.accuracy.int8_vs_fp32", "pvalue.mcnemar.int8_vs_fp32",
    "count.fp32_only_correct", "count.int8_only_correct", "bytes.fp32", "bytes.int8",
    "ratio.bytes", "sqnr.weights.lN", "sqnr.act_minmax.lN", "sqnr.act_percentile.lN",
    "sqnr.logits", "time.fp32.bN", "time.fp32_LIBRARY.bN", "time.int8.bN",
    "speedup.int8_vs_fp32.bN", "gops.sgemm.bN", "gops.sgemm_LIBRARY.bN", "gops.qgemm_KERNEL.bN",
    "gops.onednn_int8.bN", "speedup.qgemm_vs_sgemm.bN", "speedup.qgemm_KERNEL_vs_sgemm.bN",
    "speedup.qgemm_vs_onednn.bN", "speedup.qgemm_KERNEL_vs_onednn.bN",
    "speedup.qgemm_vnni_vs_qgemm_avx2.bN", "speedup.qgemm_amx_vs_qgemm_vnni.bN", "peak.fma",
    "peak.fma.ISA", "peak.int8.ISA", "fraction_of_peak.sgemm.bN",
    "fraction_of_peak.sgemm_LIBRARY.bN", "fraction_of_peak.qgemm.bN",
    "fraction_of_peak.qgemm_KERNEL.bN", "fraction_of_peak.onednn_int8.bN",
    "fraction_of_vector_peak.onednn_int8.bN", "roundtrip.weights.lN",
    "roundtrip.act_minmax.lN", "roundtrip.act_percentile.lN", "roundtrip.logits",
    "time.training", "count.epochs", "count.train_images", NULL};
/* The kernel and helper sources these results depend on (the cache key hashes them). */
static const char *const module_sources[] = {"src/kernels/mnist.c", "src/kernels/mlp.c", "src/experiments/mnistexp.c", "src/kernels/quant.c", "src/kernels/qgemm.c", "src/kernels/matmul.c", "src/kernels/matmul_packed.c", "src/kernels/peak.c",
                                             "src/kernels/baselines.c", "src/kernels/blis.c", "src/kernels/onednn.c", "src/kernels/openblas_core.c",
                                             "src/experiments/baseline.c", "src/experiments/baseline.h", "src/kernels/simd.h",
                                             "src/experiments/ceilings.c", "src/experiments/ceilings.h", "src/measure/handicap.c", NULL};

const pw_experiment pw_exp_quantization_mlp = {
    "quantization.mlp",
    "Fashion-MNIST MLP in fp32 vs true int8 (integer GEMM, requantization): accuracy, bytes, "
    "error, latency",
    quant_params, sizeof quant_params / sizeof quant_params[0], quant_metrics, run_quant,
    module_sources,
};
