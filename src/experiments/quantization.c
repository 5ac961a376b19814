/* quantization.c — experiment `quantization.mlp`: the report's Fashion-MNIST MLP in fp32 against
 * its true INT8 version (integer GEMM and requantization, no dequantize-to-float): accuracy with
 * an exact McNemar test, model bytes, per-layer round-trip error, end-to-end latency per batch
 * size and a GEMM-level comparison on the model's layer shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>

#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/cpu.h"
#include "perfweave/experiment.h"
#include "perfweave/matmul.h"
#include "perfweave/quant.h"
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
} fwd_arg;

static void run_fp32(void *arg, uint64_t iters)
{
    fwd_arg *a = arg;
    for (uint64_t i = 0; i < iters; i++) pw_mlp_forward(a->m, a->pixels, a->n, a->logits, a->work);
}

static void run_int8(void *arg, uint64_t iters)
{
    fwd_arg *a = arg;
    for (uint64_t i = 0; i < iters; i++) pw_qmlp_forward(a->q, a->pixels, a->n, a->logits, a->work);
}

/* The three layer GEMMs of one batch: fp32 through sgemm (sgemv for one row), or int8 through one qgemm kernel. */
typedef struct {
    size_t n, dims[PW_MLP_LAYERS + 1];
    const float *xf[PW_MLP_LAYERS];    /* fp32 layer inputs, n × dims[l] */
    const float *wf[PW_MLP_LAYERS];
    const uint8_t *xq[PW_MLP_LAYERS];  /* uint8 layer inputs */
    pw_qgemm_b *pb[PW_MLP_LAYERS];
    float *yf;
    int32_t *yq;
    void *work;
} gemm_arg;

static void run_sgemm(void *arg, uint64_t iters)
{
    gemm_arg *a = arg;
    for (uint64_t it = 0; it < iters; it++)
        for (int l = 0; l < PW_MLP_LAYERS; l++)
            if (a->n == 1)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)a->dims[l + 1], (int)a->dims[l],
                            1.0f, a->wf[l], (int)a->dims[l], a->xf[l], 1, 0.0f, a->yf, 1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)a->n, (int)a->dims[l + 1],
                        (int)a->dims[l], 1.0f, a->xf[l], (int)a->dims[l], a->wf[l],
                        (int)a->dims[l], 0.0f, a->yf, (int)a->dims[l + 1]);
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

/* The machine's int8 roof on the GEMM chart: the dot-product peak of every int8 width this CPU
 * runs (peak.int8.vnni256 / .vnni512, ceilings.h), the widest drawn as a line, and
 * fraction_of_peak.qgemm_<kernel>.bN of each kernel's gops against it (conservative interval).
 * On a CPU without VNNI nothing is drawn and a note says so. */
static void int8_roof(pw_run *run, pw_chart *gc, const long *batches, size_t nb, const int *kinds,
                      int nk)
{
    pw_result *r = pw_run_result(run);
    pw_ceilings c;
    pw_ceilings_measure(run, PW_CEIL_INT8, 0, &c);
    pw_peak_kind roof = isfinite(c.peak[PW_PEAK_VNNI512]) ? PW_PEAK_VNNI512
                        : isfinite(c.peak[PW_PEAK_VNNI256]) ? PW_PEAK_VNNI256
                                                            : PW_PEAK_KINDS;
    if (roof == PW_PEAK_KINDS) {
        pw_result_note(r, "No int8 dot-product peak is drawn: this CPU runs neither AVX-VNNI nor "
                       "AVX512-VNNI.");
        return;
    }
    char name[80], label[80];
    pw_metric pk, g;
    snprintf(name, sizeof name, "peak.%s", pw_peak_metric(roof));
    if (pw_result_get_metric(r, name, &pk) != PW_OK || !(pk.lo > 0)) return;
    snprintf(label, sizeof label, "%s int8 peak, 1 core", pw_ceilings_label(roof));
    pw_chart_hline(gc, label, pk.value);
    for (size_t i = 0; i < nb; i++)
        for (int j = 0; j < nk; j++) {
            const char *kn = pw_qgemm_name((pw_qgemm_kind)kinds[j]);
            snprintf(name, sizeof name, "gops.qgemm_%s.b%ld", kn, batches[i]);
            if (pw_result_get_metric(r, name, &g) != PW_OK) continue;
            snprintf(name, sizeof name, "fraction_of_peak.qgemm_%s.b%ld", kn, batches[i]);
            pw_result_metric(r, name, g.value / pk.value, g.lo / pk.hi, g.hi / pk.lo, "");
        }
    pw_result_note(r, "fraction_of_peak.qgemm_<kernel>.bN divides each integer kernel's GOP/s by "
                   "%s (%.3g GOP/s), the widest int8 dot product this CPU runs.", label, pk.value);
}

static void error_row(pw_table *t, const char *what, const float *x, const float *xq, size_t n,
                      pw_quant_error *e)
{
    pw_quant_error_of(x, xq, n, e);
    pw_table_rowf(t, "%s\t%zu\t%.3g\t%.3g\t%.1f", what, n, e->max_abs, e->rel, e->sqnr_db);
}

/* Round-trip table: weights per layer, the calibrated hidden activations (both methods), and
 * the end-to-end logits.  act_q[l] are the quantized models by calibration method. */
static void roundtrip_table(pw_result *r, const pw_mlp *m, pw_qmlp *const *byc,
                            const char *const *cname, pw_calib chosen, const pw_mnist *test,
                            const float *logit_f, const float *logit_q, size_t nlog)
{
    static const char *const hdr[] = {"tensor", "values", "max |error|", "relative error",
                                      "SQNR (dB)"};
    pw_table *t = pw_result_table(r, "roundtrip", "Quantize → dequantize round trip per layer",
                                  5, hdr);
    pw_quant_error e;
    const pw_qmlp *q = byc[chosen];
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        size_t in = m->dims[l], out = m->dims[l + 1];
        float *wd = pw_xmalloc(in * out * sizeof(float));
        const int8_t *wq = pw_qmlp_weights(q, l);
        const float *s = pw_qmlp_weight_scales(q, l);
        for (size_t i = 0; i < in * out; i++) wd[i] = s[i / in] * (float)wq[i];
        char what[96], name[48];
        snprintf(what, sizeof what, "layer %d weights (int8, per channel)", l + 1);
        error_row(t, what, m->w[l], wd, in * out, &e);
        snprintf(name, sizeof name, "sqnr.weights.l%d", l + 1);
        pw_result_exact(r, name, e.sqnr_db, "dB");
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
            char what[128], name[48];
            snprintf(what, sizeof what, "layer %d input activations (uint8, %s; scale %.3g, "
                     "zero point %d)", l + 1, cname[c], (double)p.scale, (int)p.zero_point);
            error_row(t, what, act, deq, na * m->dims[l], &e);
            snprintf(name, sizeof name, "sqnr.act_%s.l%d", cname[c], l + 1);
            pw_result_exact(r, name, e.sqnr_db, "dB");
        }
        free(act);
        free(deq);
    }
    error_row(t, "logits: integer forward pass vs fp32 (all test images)", logit_f, logit_q,
              nlog, &e);
    pw_result_exact(r, "sqnr.logits", e.sqnr_db, "dB");
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
    gemm_arg *ga = NULL;
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
    pw_result_metric(r, "drop.accuracy.int8_vs_fp32", mc.diff, mc.lo, mc.hi, "");
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

    /* --- latency: whole forward pass per batch, fp32 (OpenBLAS) vs int8 ------------------- */
    pw_bench_config cfg;
    pw_bench_config_default(&cfg, quick);
    cfg.max_seconds *= (double)nb;
    bl = pw_bench_new(&cfg);
    fa = pw_xcalloc(2 * nb, sizeof *fa);
    for (size_t i = 0; i < nb; i++) {
        size_t b = (size_t)batches[i];
        char name[64];
        fa[2 * i] = (fwd_arg){m, q, test->pixels, b, pw_xmalloc(b * K * sizeof(float)),
                              pw_xmalloc(pw_mlp_work_floats(m, b) * sizeof(float))};
        fa[2 * i + 1] = (fwd_arg){m, q, test->pixels, b, pw_xmalloc(b * K * sizeof(float)),
                                  pw_xmalloc(pw_qmlp_work_bytes(q, b))};
        /* Gate: the timed int8 call gives the scalar reference pass's logits exactly. */
        run_int8(&fa[2 * i + 1], 1);
        if (memcmp(fa[2 * i + 1].logits, lr, b * K * sizeof(float)) != 0) {
            pw_result_error(r, "the int8 forward pass at batch %zu disagrees with the scalar "
                            "reference pass (nothing was timed)", b);
            st = PW_EINTERNAL;
            goto out;
        }
        snprintf(name, sizeof name, "fp32.b%zu", b);
        pw_bench_add(bl, name, run_fp32, &fa[2 * i]);
        snprintf(name, sizeof name, "int8.b%zu", b);
        pw_bench_add(bl, name, run_int8, &fa[2 * i + 1]);
    }
    pw_bench_run(bl);
    pw_chart *lc = pw_result_chart(r, "latency", "Forward pass time per batch (one core)",
                                   "batch size", "ms per batch", PW_CHART_LOGX | PW_CHART_LOGY);
    pw_series *sf = pw_chart_series(lc, "fp32 (OpenBLAS sgemm)");
    pw_series *sq = pw_chart_series(lc, "int8 (integer GEMM + requantization)");
    static const char *const lhdr[] = {"batch", "fp32 ms", "int8 ms", "speedup int8 vs fp32"};
    pw_table *lt = pw_result_table(r, "latency", "Forward pass per batch, fp32 vs int8", 4, lhdr);
    int slower = 0;
    for (size_t i = 0; i < nb; i++) {
        char a[64], b[64], s[64];
        snprintf(a, sizeof a, "time.fp32.b%ld", batches[i]);
        snprintf(b, sizeof b, "time.int8.b%ld", batches[i]);
        snprintf(s, sizeof s, "speedup.int8_vs_fp32.b%ld", batches[i]);
        pw_bench_publish_time(bl, 2 * i, r, a, 1e3, "ms");
        pw_bench_publish_time(bl, 2 * i + 1, r, b, 1e3, "ms");
        pw_bench_publish_speedup(bl, 2 * i + 1, 2 * i, r, s);
        pw_metric ma, mb, ms;
        if (pw_result_get_metric(r, a, &ma) == PW_OK && pw_result_get_metric(r, b, &mb) == PW_OK &&
            pw_result_get_metric(r, s, &ms) == PW_OK) {
            pw_series_point(sf, (double)batches[i], ma.value, ma.lo, ma.hi);
            pw_series_point(sq, (double)batches[i], mb.value, mb.lo, mb.hi);
            pw_table_rowf(lt, "%ld\t%.4g [%.4g, %.4g]\t%.4g [%.4g, %.4g]\t%.3g× [%.3g, %.3g]",
                          batches[i], ma.value, ma.lo, ma.hi, mb.value, mb.lo, mb.hi, ms.value,
                          ms.lo, ms.hi);
            if (ms.hi < 1) slower = 1;
        }
    }
    pw_bench_record(bl, r, "latency.");
    pw_result_note(r, "Latency: both passes start from the batch's uint8 pixels (fp32 converts "
                   "them to float as part of its pass; int8 uses them as they are) and end with "
                   "float logits; one core, OpenBLAS single-threaded, sgemv at batch 1.");

    /* --- GEMM level: the model's three layer shapes, sgemm vs each integer kernel ---------- */
    pw_bench_config_default(&cfg, quick);
    cfg.max_seconds *= quick ? (double)nb : (double)nb * (1 + nk) / 2;
    bg = pw_bench_new(&cfg);
    ga = pw_xcalloc(nb * (size_t)nk, sizeof *ga);
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
        snprintf(name, sizeof name, "sgemm.b%zu", b);
        pw_bench_add(bg, name, run_sgemm, &ga[i * (size_t)nk]);
        for (int j = 0; j < nk; j++) {
            snprintf(name, sizeof name, "qgemm_%s.b%zu", pw_qgemm_name(kinds[j]), b);
            pw_bench_add(bg, name, run_qgemm, &ga[i * (size_t)nk + (size_t)j]);
        }
    }
    if (st == PW_OK) {
        pw_bench_run(bg);
        double macs_per_image = 0;
        for (int l = 0; l < PW_MLP_LAYERS; l++) macs_per_image += (double)(m->dims[l] * m->dims[l + 1]);
        pw_chart *gc = pw_result_chart(r, "gemm", "GEMM throughput on the model's layer shapes "
                                       "(784→256, 256→128, 128→10)", "batch size",
                                       "GOP/s (2 ops per multiply-add)", PW_CHART_LOGX);
        pw_series *ss[1 + PW_QGEMM_KINDS];
        ss[0] = pw_chart_series(gc, "sgemm (OpenBLAS, fp32)");
        for (int j = 0; j < nk; j++) {
            char lab[64];
            snprintf(lab, sizeof lab, "qgemm %s (int8)", pw_qgemm_name(kinds[j]));
            ss[1 + j] = pw_chart_series(gc, lab);
        }
        static const char *const ghdr[] = {"batch", "kernel", "GOP/s", "speedup vs sgemm"};
        pw_table *gt = pw_result_table(r, "gemm", "Integer GEMM vs sgemm on the model's layer "
                                       "shapes", 4, ghdr);
        for (size_t i = 0; i < nb; i++) {
            long b = batches[i];
            double work = 2.0 * macs_per_image * (double)b / 1e9;
            size_t base = i * (size_t)(1 + nk);
            char name[80];
            pw_metric mm;
            snprintf(name, sizeof name, "gops.sgemm.b%ld", b);
            pw_bench_publish_rate(bg, base, r, name, work, "GOP/s");
            if (pw_result_get_metric(r, name, &mm) == PW_OK) {
                pw_series_point(ss[0], (double)b, mm.value, mm.lo, mm.hi);
                pw_table_rowf(gt, "%ld\tsgemm\t%.3g\t1", b, mm.value);
            }
            for (int j = 0; j < nk; j++) {
                const char *kn = pw_qgemm_name(kinds[j]);
                snprintf(name, sizeof name, "gops.qgemm_%s.b%ld", kn, b);
                pw_bench_publish_rate(bg, base + 1 + (size_t)j, r, name, work, "GOP/s");
                double g = NAN;
                if (pw_result_get_metric(r, name, &mm) == PW_OK) {
                    pw_series_point(ss[1 + j], (double)b, mm.value, mm.lo, mm.hi);
                    g = mm.value;
                }
                snprintf(name, sizeof name, "speedup.qgemm_%s_vs_sgemm.b%ld", kn, b);
                pw_bench_publish_speedup(bg, base + 1 + (size_t)j, base, r, name);
                if (pw_result_get_metric(r, name, &mm) == PW_OK)
                    pw_table_rowf(gt, "%ld\tqgemm %s\t%.3g\t%.3g× [%.3g, %.3g]", b, kn, g,
                                  mm.value, mm.lo, mm.hi);
                if (j == sel) {
                    snprintf(name, sizeof name, "speedup.qgemm_vs_sgemm.b%ld", b);
                    pw_bench_publish_speedup(bg, base + 1 + (size_t)j, base, r, name);
                }
            }
        }
        pw_bench_record(bg, r, "gemm.");
        int8_roof(run, gc, batches, nb, kinds, nk);
        pw_result_note(r, "GEMM level: the three layer products of a batch, OpenBLAS sgemm on "
                       "fp32 (sgemv at batch 1, its faster path) against the integer kernels (uint8 × int8 → int32) on the same "
                       "shapes; weights pre-packed for both (OpenBLAS packs inside each call), "
                       "each integer kernel checked equal to the reference before timing.  "
                       "speedup.qgemm_vs_sgemm uses the %s kernel.", pw_qgemm_name(kind));
    }
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
            kind == PW_QGEMM_AVX512VNNI
                ? "vpdpbusd on zmm: 64 uint8 × int8 products accumulated into int32 per 512-bit "
                  "instruction"
            : kind == PW_QGEMM_AVXVNNI
                ? "vpdpbusd: 32 uint8 × int8 products accumulated into int32 per 256-bit "
                  "instruction"
            : kind == PW_QGEMM_AVX2
                ? "16-bit widening and vpmaddwd: 16 multiplies per 256-bit instruction plus a "
                  "separate add"
                : "plain C loops, vectorized only as far as the compiler manages";
        pw_result_note(r, "Where int8 is not faster: the fp32 baseline is OpenBLAS, which "
                       "reports its kernel core as %s, on a CPU %s; the int8 pass used the %s "
                       "kernel (%s).  The integer path also "
                       "pays for requantization (an int64 multiply, shift and clamp per "
                       "output) and for widening or repacking the activations on every call; "
                       "at batch 1 each layer is a matrix-vector product bound by reading the "
                       "weights, and small shapes (128→10) leave little work to amortize that "
                       "overhead.", pw_matmul_blas_core(),
                       a512 ? "whose widest usable vectors are AVX-512"
                       : a2 ? "whose widest usable vectors are AVX2"
                            : "without usable AVX2",
                       pw_qgemm_name(kind), kdesc);
    }
out:
    if (ga) {
        for (size_t i = 0; i < nb * (size_t)nk; i++) {
            for (int l = 0; l < PW_MLP_LAYERS; l++) pw_qgemm_b_free(ga[i].pb[l]);
            free(ga[i].work);
        }
        free(ga);
    }
    if (fa) {
        for (size_t i = 0; i < 2 * nb; i++) {
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
                                             NULL};
static const char *const gemm_choices[] = {"portable", "avx2", "avxvnni", "avx512vnni", NULL};
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
    {"gemm_kernels", PW_PARAM_STRING_LIST, "[portable, avx2, avxvnni, avx512vnni]", 0, 0,
     gemm_choices,
     "integer kernels compared with sgemm at GEMM level (ones this CPU cannot run are skipped, "
     "and the note says why)"},
};
static const char *const quant_metrics[] = {
    "accuracy.fp32", "accuracy.int8", "accuracy.calib.minmax", "accuracy.calib.percentile",
    "agreement.int8_vs_fp32", "drop.accuracy.int8_vs_fp32", "pvalue.mcnemar.int8_vs_fp32",
    "count.fp32_only_correct", "count.int8_only_correct", "bytes.fp32", "bytes.int8",
    "ratio.bytes", "sqnr.weights.lN", "sqnr.act_minmax.lN", "sqnr.act_percentile.lN",
    "sqnr.logits", "time.fp32.bN", "time.int8.bN", "speedup.int8_vs_fp32.bN", "gops.sgemm.bN",
    "gops.qgemm_KERNEL.bN", "speedup.qgemm_vs_sgemm.bN", "speedup.qgemm_KERNEL_vs_sgemm.bN",
    "peak.int8.ISA", "fraction_of_peak.qgemm_KERNEL.bN",
    "time.training", "count.epochs", "count.train_images", NULL};
/* The kernel and helper sources these results depend on (the cache key hashes them). */
static const char *const module_sources[] = {"src/kernels/mnist.c", "src/kernels/mlp.c", "src/experiments/mnistexp.c", "src/kernels/quant.c", "src/kernels/qgemm.c", "src/kernels/matmul.c", "src/kernels/matmul_packed.c", "src/kernels/peak.c", "src/kernels/simd.h", "src/experiments/ceilings.c", "src/experiments/ceilings.h", NULL};

const pw_experiment pw_exp_quantization_mlp = {
    "quantization.mlp",
    "Fashion-MNIST MLP in fp32 vs true int8 (integer GEMM, requantization): accuracy, bytes, "
    "error, latency",
    quant_params, sizeof quant_params / sizeof quant_params[0], quant_metrics, run_quant,
    module_sources,
};
