/* compression.c — experiment `compression.prune`: magnitude pruning of the report's trained
 * Fashion-MNIST MLP (unstructured per layer and global, structured by whole neurons), with an
 * optional short fine-tune; accuracy against sparsity with paired tests, real CSR storage, and
 * the real time of a CSR × dense forward pass against dense sgemm. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/cpu.h"
#include "perfweave/experiment.h"
#include "perfweave/matmul.h"
#include "perfweave/sparse.h"
#include "baseline.h"
#include "mnistexp.h"

#define MAXS 16

typedef struct {
    const pw_mlp *dense;          /* for dense variants */
    const pw_sparse_mlp *sparse;  /* for CSR variants */
    const float *xt;
    size_t n;
    float *logits, *work;
} fwd_arg;

static void run_dense(void *arg, uint64_t iters)
{
    fwd_arg *a = arg;
    for (uint64_t i = 0; i < iters; i++) pw_mlp_forward_t(a->dense, a->xt, a->n, a->logits, a->work);
}

static void run_csr(void *arg, uint64_t iters)
{
    fwd_arg *a = arg;
    for (uint64_t i = 0; i < iters; i++)
        pw_sparse_mlp_forward(a->sparse, a->xt, a->n, a->logits, a->work);
}

static double weight_count(const pw_mlp *m)
{
    double n = 0;
    for (int l = 0; l < PW_MLP_LAYERS; l++) n += (double)(m->dims[l] * m->dims[l + 1]);
    return n;
}

typedef struct {
    pw_result *r;
    const pw_mnistexp *e;
    const uint8_t *dense_pred;
    uint8_t *pred;
    pw_table *table;
    pw_mlp_config ft;   /* fine-tune configuration; epochs 0: none */
} ctx;

/* Evaluates m, publishes accuracy.<label>.<suffix> and drop.accuracy.<label>_vs_dense.<suffix>,
 * adds a table row and a chart point at x (% of weights removed). */
static void evaluate(ctx *c, const pw_mlp *m, const char *label, const char *suffix,
                     const char *method, double target, double x, pw_series *s)
{
    const pw_mnist *test = &c->e->test;
    pw_mlp_evaluate(m, test, c->pred);
    size_t k = 0;
    for (size_t i = 0; i < test->n; i++) k += c->pred[i] == test->labels[i];
    char name[96];
    snprintf(name, sizeof name, "accuracy.%s.%s", label, suffix);
    double acc = pw_mnistexp_publish_accuracy(c->r, name, k, test->n);
    pw_metric am;
    pw_result_get_metric(c->r, name, &am);
    pw_mnistexp_paired mc;
    pw_mnistexp_mcnemar(c->dense_pred, c->pred, test->labels, test->n, &mc);
    snprintf(name, sizeof name, "drop.accuracy.%s_vs_dense.%s", label, suffix);
    pw_mnistexp_publish_drop(c->r, name, &mc);
    snprintf(name, sizeof name, "sparsity.%s.%s", label, suffix);
    pw_result_exact(c->r, name, x / 100, "");
    pw_series_point(s, x, acc, am.lo, am.hi);
    pw_table_rowf(c->table, "%s\t%g%%\t%.1f%%\t%.4f [%.4f, %.4f]\t%+.4f [%+.4f, %+.4f]\t%.3g", method,
                  target, x, acc, am.lo, am.hi, -mc.diff, -mc.hi, -mc.lo, mc.p);
}

static int run_prune(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    bool quick = pw_run_quick(run);
    long sp[MAXS], nf[MAXS];
    size_t ns = pw_run_ints(run, "sparsities", sp, MAXS);
    size_t nn = pw_run_ints(run, "neurons", nf, MAXS);
    if (ns > MAXS || nn > MAXS) {
        pw_result_error(r, "at most %d sparsities and %d neuron fractions", MAXS, MAXS);
        return PW_EINVAL;
    }
    bool do_acc = pw_run_has(run, "parts", "accuracy");
    bool do_storage = pw_run_has(run, "parts", "storage");
    bool do_time = pw_run_has(run, "parts", "time");
    size_t batch = (size_t)pw_run_int(run, "batch");

    bool ft_wanted = do_acc && pw_run_int(run, "finetune_epochs") > 0;
    pw_mnistexp e;
    int st = pw_mnistexp_load(&e, quick, ft_wanted, r);
    if (st != PW_OK) return st;
    const pw_mlp *m = e.model;
    const pw_mnist *test = &e.test;
    if (batch > test->n) batch = test->n;
    const double wtotal = weight_count(m);

    ctx c = {.r = r, .e = &e, .pred = pw_xmalloc(test->n)};
    uint8_t *dense_pred = pw_xmalloc(test->n);
    c.dense_pred = dense_pred;
    pw_mlp *pruned[MAXS] = {NULL};     /* per-layer pruned (fine-tuned when enabled): timing */
    pw_mlp *shrunk[MAXS] = {NULL};
    pw_sparse_mlp csr[MAXS];
    memset(csr, 0, sizeof csr);
    float *masks[PW_MLP_LAYERS] = {NULL};
    pw_bench *b = NULL;
    fwd_arg *fa = NULL;
    float *xt = NULL;

    /* Fine-tune: a short continuation of training with the pruned weights held at zero. */
    c.ft = e.cfg;
    c.ft.epochs = (int)pw_run_int(run, "finetune_epochs");
    c.ft.ntrain = (size_t)pw_run_int(run, "finetune_images");
    if (quick && c.ft.ntrain > 5000) c.ft.ntrain = 5000;
    c.ft.lr = pw_run_real(run, "finetune_lr");
    bool ft = c.ft.epochs > 0 && do_acc;

    size_t kd = 0;
    pw_mlp_evaluate(m, test, dense_pred);
    for (size_t i = 0; i < test->n; i++) kd += dense_pred[i] == test->labels[i];
    double dacc = pw_mnistexp_publish_accuracy(r, "accuracy.dense", kd, test->n);

    pw_chart *ac = NULL;
    if (do_acc) {
        ac = pw_result_chart(r, "accuracy", "Test accuracy against the fraction of weights "
                             "removed", "weights removed (%)", "test accuracy", 0);
        pw_chart_hline(ac, "dense model", dacc);
        static const char *const hdr[] = {"method", "target", "weights removed", "accuracy [95% CI]",
                                          "change vs dense [95% CI]", "McNemar p"};
        c.table = pw_result_table(r, "accuracy", "Accuracy of pruned networks on the 10k test "
                                  "images (paired with the dense model)", 6, hdr);
    }
    static const char *const methods[] = {"layer", "global"};
    static const char *const mlabel[] = {"unstructured, per layer", "unstructured, global"};
    for (int mi = 0; mi < 2; mi++) {
        bool want = pw_run_has(run, "methods", methods[mi]);
        if (!want && !(mi == 0 && (do_storage || do_time))) continue;
        pw_series *s0 = NULL, *s1 = NULL;
        if (do_acc && want) {
            s0 = pw_chart_series(ac, mlabel[mi]);
            if (ft) {
                char lab[96];
                snprintf(lab, sizeof lab, "%s + fine-tune", mlabel[mi]);
                s1 = pw_chart_series(ac, lab);
            }
        }
        for (size_t i = 0; i < ns; i++) {
            pw_mlp *p = pw_mlp_clone(m);
            if (mi == 0) pw_prune_layers(p, (double)sp[i] / 100);
            else pw_prune_global(p, (double)sp[i] / 100);
            double x = 100 * (double)pw_mlp_zero_weights(p) / wtotal;
            char suffix[32], lab[64];
            snprintf(suffix, sizeof suffix, "s%ld", sp[i]);
            if (do_acc && want) {
                evaluate(&c, p, methods[mi], suffix, mlabel[mi], (double)sp[i], x, s0);
                if (ft) {
                    pw_prune_masks(p, masks);
                    c.ft.seed = e.cfg.seed + 1000 + (uint64_t)sp[i];
                    if (pw_mlp_train(p, &c.ft, 0, &e.train, NULL, masks, NULL) != PW_OK) {
                        pw_result_error(r, "fine-tuning failed");
                        st = PW_EINTERNAL;
                        pw_mlp_free(p);
                        goto out;
                    }
                    for (int l = 0; l < PW_MLP_LAYERS; l++) {
                        free(masks[l]);
                        masks[l] = NULL;
                    }
                    snprintf(lab, sizeof lab, "%s_ft", methods[mi]);
                    char ml[96];
                    snprintf(ml, sizeof ml, "%s + fine-tune", mlabel[mi]);
                    evaluate(&c, p, lab, suffix, ml, (double)sp[i],
                             100 * (double)pw_mlp_zero_weights(p) / wtotal, s1);
                }
            }
            if (mi == 0) pruned[i] = p;
            else pw_mlp_free(p);
        }
    }
    /* Structured: whole hidden neurons, a smaller dense network. */
    pw_series *ss0 = NULL, *ss1 = NULL;
    if (do_acc && nn) {
        ss0 = pw_chart_series(ac, "structured (whole neurons)");
        if (ft) ss1 = pw_chart_series(ac, "structured + fine-tune");
    }
    for (size_t i = 0; i < nn; i++) {
        pw_mlp *p = pw_prune_neurons(m, (double)nf[i] / 100);
        double x = 100 * (1 - weight_count(p) / wtotal);
        char suffix[32];
        snprintf(suffix, sizeof suffix, "n%ld", nf[i]);
        if (do_acc) {
            char ml[96];
            snprintf(ml, sizeof ml, "structured, %ld%% of hidden neurons", nf[i]);
            evaluate(&c, p, "structured", suffix, ml, (double)nf[i], x, ss0);
            if (ft) {
                pw_mlp_config f = c.ft;
                memcpy(f.dims, p->dims, sizeof f.dims);
                f.seed = e.cfg.seed + 2000 + (uint64_t)nf[i];
                if (pw_mlp_train(p, &f, 0, &e.train, NULL, NULL, NULL) != PW_OK) {
                    pw_result_error(r, "fine-tuning failed");
                    st = PW_EINTERNAL;
                    pw_mlp_free(p);
                    goto out;
                }
                snprintf(ml, sizeof ml, "structured, %ld%% + fine-tune", nf[i]);
                evaluate(&c, p, "structured_ft", suffix, ml, (double)nf[i], x, ss1);
            }
        }
        shrunk[i] = p;
    }
    if (do_acc && ft)
        pw_result_note(r, "Fine-tune: %d epoch%s of SGD (momentum %.2g, learning rate %.3g "
                       "decaying to a tenth) on %zu training images, pruned weights held at zero.",
                       c.ft.epochs, c.ft.epochs == 1 ? "" : "s", c.ft.momentum, c.ft.lr,
                       c.ft.ntrain && c.ft.ntrain < e.train.n ? c.ft.ntrain : e.train.n);

    /* --- storage -------------------------------------------------------------------------- */
    double bd = (double)pw_mlp_bytes(m);
    for (size_t i = 0; i < ns; i++)
        if ((st = pw_sparse_mlp_init(&csr[i], pruned[i])) != PW_OK) {
            pw_result_error(r, "cannot build the CSR form");
            goto out;
        }
    if (do_storage) {
        pw_result_exact(r, "bytes.dense", bd, "B");
        pw_chart *sc = pw_result_chart(r, "storage", "Stored bytes of the pruned model",
                                       "weights removed (%)", "KiB", 0);
        pw_chart_hline(sc, "dense fp32", bd / 1024);
        pw_series *s1 = pw_chart_series(sc, "CSR (per-layer pruning)");
        pw_series *s2 = nn ? pw_chart_series(sc, "structured (smaller dense)") : NULL;
        static const char *const hdr[] = {"model", "weights removed", "bytes",
                                          "compression vs dense"};
        pw_table *t = pw_result_table(r, "storage", "Real storage: CSR (float32 values, uint16 "
                                      "column indices, uint32 row pointers) and structured", 4, hdr);
        pw_table_rowf(t, "dense fp32\t0%%\t%.0f\t1×", bd);
        for (size_t i = 0; i < ns; i++) {
            double bc = (double)pw_sparse_mlp_bytes(&csr[i]);
            double x = 100 * (double)pw_mlp_zero_weights(pruned[i]) / wtotal;
            char name[64];
            snprintf(name, sizeof name, "bytes.csr.s%ld", sp[i]);
            pw_result_exact(r, name, bc, "B");
            snprintf(name, sizeof name, "compression.csr.s%ld", sp[i]);
            pw_result_exact(r, name, bd / bc, "×");
            pw_series_point(s1, x, bc / 1024, NAN, NAN);
            pw_table_rowf(t, "CSR, %ld%% per layer\t%.1f%%\t%.0f\t%.3g×", sp[i], x, bc, bd / bc);
        }
        for (size_t i = 0; i < nn; i++) {
            double bs = (double)pw_mlp_bytes(shrunk[i]);
            double x = 100 * (1 - weight_count(shrunk[i]) / wtotal);
            char name[64];
            snprintf(name, sizeof name, "bytes.structured.n%ld", nf[i]);
            pw_result_exact(r, name, bs, "B");
            snprintf(name, sizeof name, "compression.structured.n%ld", nf[i]);
            pw_result_exact(r, name, bd / bs, "×");
            pw_series_point(s2, x, bs / 1024, NAN, NAN);
            pw_table_rowf(t, "structured, %ld%% of neurons\t%.1f%%\t%.0f\t%.3g×", nf[i], x, bs,
                          bd / bs);
        }
        pw_result_note(r, "CSR stores 6 bytes per kept weight (float32 value, uint16 column) "
                       "plus a row pointer per row, against 4 bytes per weight dense: it only "
                       "saves space once more than a third of the weights are gone.");
    }

    /* --- time ----------------------------------------------------------------------------- */
    if (do_time) {
        xt = pw_xmalloc(m->dims[0] * batch * sizeof(float));
        pw_pixels_to_t(test->pixels, batch, m->dims[0], xt);
        pw_bench_config cfg;
        pw_bench_config_default(&cfg, quick);
        cfg.max_seconds *= (double)(1 + ns + nn) / 2;
        b = pw_bench_new(&cfg);
        fa = pw_xcalloc(1 + ns + nn, sizeof *fa);
        size_t nv = 0;
        size_t wf = pw_mlpt_work_floats(m->dims, batch);
        fa[nv] = (fwd_arg){m, NULL, xt, batch, pw_xmalloc(batch * 10 * sizeof(float)),
                           pw_xmalloc(wf * sizeof(float))};
        pw_bench_add(b, "dense", run_dense, &fa[nv++]);
        float *check = pw_xmalloc(batch * 10 * sizeof(float));
        for (size_t i = 0; i < ns; i++) {
            fa[nv] = (fwd_arg){pruned[i], &csr[i], xt, batch, pw_xmalloc(batch * 10 * sizeof(float)),
                               pw_xmalloc(wf * sizeof(float))};
            /* Gate: the CSR pass equals the dense pass of the same pruned weights. */
            run_csr(&fa[nv], 1);
            fwd_arg dense_same = fa[nv];
            dense_same.logits = check;
            run_dense(&dense_same, 1);
            for (size_t j = 0; j < batch * 10; j++)
                if (fabsf(check[j] - fa[nv].logits[j]) > 1e-3f * (1 + fabsf(check[j]))) {
                    pw_result_error(r, "CSR forward pass differs from dense at %ld%% sparsity "
                                    "(%g vs %g)", sp[i], (double)fa[nv].logits[j],
                                    (double)check[j]);
                    st = PW_EINTERNAL;
                    free(check);
                    goto out;
                }
            char name[32];
            snprintf(name, sizeof name, "csr.s%ld", sp[i]);
            pw_bench_add(b, name, run_csr, &fa[nv++]);
        }
        free(check);
        for (size_t i = 0; i < nn; i++) {
            fa[nv] = (fwd_arg){shrunk[i], NULL, xt, batch, pw_xmalloc(batch * 10 * sizeof(float)),
                               pw_xmalloc(pw_mlpt_work_floats(shrunk[i]->dims, batch) * sizeof(float))};
            char name[32];
            snprintf(name, sizeof name, "structured.n%ld", nf[i]);
            pw_bench_add(b, name, run_dense, &fa[nv++]);
        }
        pw_bench_run(b);
        pw_bench_publish_time(b, 0, r, "time.dense", 1e3, "ms");
        pw_metric dm;
        int have_dense = pw_result_get_metric(r, "time.dense", &dm) == PW_OK;
        pw_chart *tc = pw_result_chart(r, "time", "Forward pass time of the pruned model",
                                       "weights removed (%)", "ms per batch", PW_CHART_LOGY);
        const char *blas = batch == 1 ? "sgemv" : "sgemm"; /* pw_mlp_forward_t's call */
        char dlabel[48];
        snprintf(dlabel, sizeof dlabel, "dense %s", blas);
        if (have_dense) pw_chart_hline(tc, dlabel, dm.value);
        pw_series *t1 = pw_chart_series(tc, "CSR × dense (per-layer pruning)");
        snprintf(dlabel, sizeof dlabel, "structured (smaller dense %s)", blas);
        pw_series *t2 = nn ? pw_chart_series(tc, dlabel) : NULL;
        static const char *const hdr[] = {"model", "weights removed", "ms per batch",
                                          "speedup vs dense"};
        pw_table *t = pw_result_table(r, "time", "Inference time per batch (one core; speedup vs "
                                      "dense: " PW_BENCH_SPEEDUP_METHOD ")", 4, hdr);
        if (have_dense)
            pw_table_rowf(t, "dense %s\t0%%\t%.4g [%.4g, %.4g]\t1×", blas, dm.value, dm.lo, dm.hi);
        int slower = 0, faster = 0;
        for (size_t i = 0; i < ns + nn; i++) {
            bool is_csr = i < ns;
            long lvl = is_csr ? sp[i] : nf[i - ns];
            const char *fam = is_csr ? "csr" : "structured";
            char tn[64], sn[64];
            snprintf(tn, sizeof tn, "time.%s.%c%ld", fam, is_csr ? 's' : 'n', lvl);
            snprintf(sn, sizeof sn, "speedup.%s_vs_dense.%c%ld", fam, is_csr ? 's' : 'n', lvl);
            pw_bench_publish_time(b, 1 + i, r, tn, 1e3, "ms");
            pw_bench_publish_speedup(b, 1 + i, 0, r, sn);
            pw_metric tm, sm;
            if (pw_result_get_metric(r, tn, &tm) != PW_OK || pw_result_get_metric(r, sn, &sm) != PW_OK)
                continue;
            const pw_mlp *pm = is_csr ? pruned[i] : shrunk[i - ns];
            double x = is_csr ? 100 * (double)pw_mlp_zero_weights(pm) / wtotal
                              : 100 * (1 - weight_count(pm) / wtotal);
            pw_series_point(is_csr ? t1 : t2, x, tm.value, tm.lo, tm.hi);
            pw_table_rowf(t, "%s %ld%%\t%.1f%%\t%.4g [%.4g, %.4g]\t%.3g× [%.3g, %.3g]",
                          is_csr ? "CSR, per layer" : "structured,", lvl, x, tm.value, tm.lo,
                          tm.hi, sm.value, sm.lo, sm.hi);
            if (is_csr && sm.hi < 1) slower = 1;
            if (is_csr && sm.lo > 1) faster = 1;
        }
        pw_bench_record(b, r, "time.");
        /* Dense is OpenBLAS as this process runs it: every CSR-against-dense comparison is one
         * against that library (the structured models run on it too, so theirs compare the
         * library with itself).  Its vector code is judged here; a judgement measured against
         * the machine's peak elsewhere in the report (acceleration.matmul's floor) is carried
         * here by the weave (handicap.h). */
        json_t *dense_lib = json_object();
        for (size_t i = 0; i < ns; i++) {
            char suffix[24];
            snprintf(suffix, sizeof suffix, "s%ld", sp[i]);
            json_object_set_new(dense_lib, suffix, json_string("openblas"));
        }
        pw_result_set_extra(r, "dense_library", dense_lib);
        static const char *const dense_vars[] = {"openblas"};
        pw_baseline_check_code(r, dense_vars, 1, "dense", "dense_library");
        bool simd = pw_csr_spmm_simd(pw_cpu_host());
        pw_result_note(r, "Timing at batch %zu, feature-major activations, one core: dense is "
                       "one OpenBLAS %s per layer (core %s); CSR is this project's CSR × dense "
                       "kernel (%s), checked against the dense pass before timing.", batch, blas,
                       pw_matmul_blas_core(),
                       simd ? "its AVX2/FMA path" : "its portable C path: this CPU or build has "
                                                    "no usable AVX2/FMA");
        if (slower)
            pw_result_note(r, "Where CSR is slower, it is slower although it does less "
                           "arithmetic than dense%s: each stored weight costs an index load and "
                           "a read of a row of activations chosen by that index, while the dense "
                           "library works on contiguous blocks.  Which of these costs decides "
                           "the time is not measured here.",
                           faster ? " (at the highest sparsities here it is faster)" : "");
    }
out:
    for (size_t i = 0; i < MAXS; i++) {
        pw_mlp_free(pruned[i]);
        pw_mlp_free(shrunk[i]);
        pw_sparse_mlp_release(&csr[i]);
    }
    for (int l = 0; l < PW_MLP_LAYERS; l++) free(masks[l]);
    if (fa) {
        for (size_t i = 0; i < 1 + ns + nn; i++) {
            free(fa[i].logits);
            free(fa[i].work);
        }
        free(fa);
    }
    pw_bench_free(b);
    free(xt);
    free(c.pred);
    free(dense_pred);
    pw_mnistexp_release(&e);
    return st;
}

static const char *const method_choices[] = {"layer", "global", NULL};
static const char *const part_choices[] = {"accuracy", "storage", "time", NULL};
static const pw_param_spec prune_params[] = {
    {"sparsities", PW_PARAM_INT_LIST, "[50, 70, 90, 95]", 1, 99, NULL,
     "unstructured sparsities (% of weights removed)"},
    {"neurons", PW_PARAM_INT_LIST, "[25, 50]", 1, 90, NULL,
     "structured: % of each hidden layer's neurons removed"},
    {"methods", PW_PARAM_STRING_LIST, "[layer, global]", 0, 0, method_choices,
     "unstructured methods: per-layer or global magnitude threshold"},
    {"finetune_epochs", PW_PARAM_INT, "1", 0, 5, NULL, "fine-tune epochs after pruning (0: none)"},
    {"finetune_images", PW_PARAM_INT, "60000", 100, 60000, NULL,
     "training images per fine-tune epoch (at most 5000 in quick mode)"},
    {"finetune_lr", PW_PARAM_REAL, "0.01", 1e-5, 1, NULL, "fine-tune learning rate"},
    {"batch", PW_PARAM_INT, "32", 1, 4096, NULL, "batch size of the timed forward passes"},
    {"parts", PW_PARAM_STRING_LIST, "[accuracy, storage, time]", 0, 0, part_choices,
     "what to measure"},
};
static const char *const prune_metrics[] = {
    "accuracy.dense", "accuracy.METHOD.sN", "accuracy.METHOD_ft.sN", "accuracy.structured.nN",
    "accuracy.structured_ft.nN", "drop.accuracy.METHOD_vs_dense.sN",
    "drop.accuracy.structured_vs_dense.nN", "sparsity.METHOD.sN", "bytes.dense", "bytes.csr.sN",
    "compression.csr.sN", "bytes.structured.nN", "compression.structured.nN", "time.dense",
    "time.csr.sN", "speedup.csr_vs_dense.sN", "time.structured.nN",
    "speedup.structured_vs_dense.nN", NULL};
/* The kernel and helper sources these results depend on (the cache key hashes them). */
static const char *const module_sources[] = {
    "src/kernels/mnist.c", "src/kernels/mlp.c", "src/experiments/mnistexp.c", "src/kernels/prune.c",
    "src/kernels/sparse.c", "src/kernels/baselines.c", "src/kernels/openblas_core.c",
    "src/experiments/baseline.c", "src/experiments/baseline.h", "src/measure/handicap.c", NULL};

const pw_experiment pw_exp_compression_prune = {
    "compression.prune",
    "magnitude pruning of the Fashion-MNIST MLP: accuracy vs sparsity, CSR bytes and CSR time",
    prune_params, sizeof prune_params / sizeof prune_params[0], prune_metrics, run_prune,
    module_sources,
};
