/* mnistexp.c — shared setup and accuracy statistics of the Fashion-MNIST experiments
 * (quantization.mlp, compression.prune). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cdf.h>
#include <nettle/sha2.h>

#include "perfweave/common.h"
#include "perfweave/env.h"
#include "perfweave/scoring.h"
#include "perfweave/store.h"
#include "mnistexp.h"

/* The sources whose code decides the trained weights and the training time. */
static const char *const training_sources[] = {
    "src/kernels/mlp.c", "src/kernels/mnist.c", "include/perfweave/mlp.h",
    "include/perfweave/mnist.h", NULL,
};

void pw_mnistexp_model_depends(char *buf, size_t size)
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    const char *flags = pw_impl_generated_flags();
    sha256_update(&ctx, strlen(flags) + 1, (const uint8_t *)flags);
    for (const char *const *f = training_sources; *f; f++) {
        const char *h = pw_impl_file_hash(*f);
        if (!h) h = "missing";
        sha256_update(&ctx, strlen(*f) + 1, (const uint8_t *)*f);
        sha256_update(&ctx, strlen(h) + 1, (const uint8_t *)h);
    }
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    json_t *env = pw_env_capture();
    char *machine = pw_env_fingerprint_hash(env);
    json_decref(env);
    size_t len = (size_t)snprintf(buf, size, "code=");
    for (size_t i = 0; i < 8 && len + 2 < size; i++, len += 2)
        snprintf(buf + len, size - len, "%02x", digest[i]);
    snprintf(buf + len, len < size ? size - len : 0, " machine=%s", machine);
    free(machine);
}

/* The cached model for quick/full mode without touching the training set, or PW_ENOTFOUND. */
static int cached_only(pw_mnistexp *e, bool quick, const char *depends)
{
    char msg[512];
    pw_mlp_config_default(&e->cfg);
    for (int attempt = 0; attempt < (quick ? 2 : 1); attempt++) {
        if (attempt == 1) pw_mlp_config_quick(&e->cfg);
        snprintf(e->cfg.depends, sizeof e->cfg.depends, "%s", depends);
        char *path = pw_mlp_cache_path(&e->cfg, PW_MLP_CACHE_DIR);
        int st = pw_mlp_load(path, &e->cfg, &e->model, &e->hist, msg, sizeof msg);
        free(path);
        if (st == PW_OK) return PW_OK;
    }
    return PW_ENOTFOUND;
}

int pw_mnistexp_load(pw_mnistexp *e, bool quick, bool need_train, pw_result *r)
{
    memset(e, 0, sizeof *e);
    char msg[768];
    int st = pw_mnist_load(NULL, "t10k", &e->test, msg, sizeof msg);
    if (st != PW_OK) {
        pw_result_error(r, "%s", msg);
        pw_mnistexp_release(e);
        return st;
    }
    pw_mlp_blas_single_thread();
    char depends[sizeof e->cfg.depends];
    pw_mnistexp_model_depends(depends, sizeof depends);
    if (!need_train && cached_only(e, quick, depends) == PW_OK) goto loaded;
    if ((st = pw_mnist_load(NULL, "train", &e->train, msg, sizeof msg)) != PW_OK) {
        pw_result_error(r, "%s", msg);
        pw_mnistexp_release(e);
        return st;
    }
    st = pw_mlp_obtain_report(quick, PW_MLP_CACHE_DIR, depends, &e->train, &e->test, &e->cfg,
                              &e->model, &e->hist, &e->trained, msg, sizeof msg);
    if (st != PW_OK) {
        pw_result_error(r, "cannot obtain the model: %s", msg[0] ? msg : pw_strerror(st));
        pw_mnistexp_release(e);
        return st;
    }
    if (msg[0]) pw_result_warning(r, "%s", msg);
loaded:
    if (e->cfg.epochs == 1 && e->cfg.ntrain) {
        pw_result_warning(r, "quick mode without a cached full model: this is a small model "
                          "(%d epoch on %zu images); run the report once without --quick to "
                          "train and cache the report's model", e->cfg.epochs, e->cfg.ntrain);
    }
    return PW_OK;
}

void pw_mnistexp_release(pw_mnistexp *e)
{
    pw_mnist_release(&e->train);
    pw_mnist_release(&e->test);
    pw_mlp_free(e->model);
    e->model = NULL;
    pw_mlp_history_release(&e->hist);
}

void pw_mnistexp_publish_training(const pw_mnistexp *e, pw_result *r)
{
    const pw_mlp_history *h = &e->hist;
    /* One training run is one timing: shown, never an exact figure that decides a claim; and a
     * cached model's time is that earlier run's, not a measurement of this one. */
    pw_result_exact(r, "time.training", h->train_seconds, "s");
    if (e->trained)
        pw_result_metric_undecidable(r, "time.training", "too_few_samples", "one training run, "
                                     "timed once: a single timing has no interval, so it decides "
                                     "no claim");
    else
        pw_result_metric_undecidable(r, "time.training", "too_few_samples", "the training time "
                                     "of the cached model, from the earlier run that trained it "
                                     "(same training code, same machine), not measured in this "
                                     "run; one timing, so it decides no claim");
    pw_result_exact(r, "count.epochs", (double)h->nepochs, "");
    if (e->train.n)
        pw_result_exact(r, "count.train_images",
                        (double)(e->cfg.ntrain && e->cfg.ntrain < e->train.n ? e->cfg.ntrain
                                                                              : e->train.n), "");
    pw_chart *c = pw_result_chart(r, "training", "Accuracy after each training epoch",
                                  "epoch", "accuracy", 0);
    pw_series *tr = pw_chart_series(c, "training images (during the epoch)");
    pw_series *te = pw_chart_series(c, "test images (after the epoch)");
    static const char *const hdr[] = {"epoch", "mean training loss", "training accuracy",
                                      "test accuracy", "cumulative seconds"};
    pw_table *t = pw_result_table(r, "training", "Training record of the MLP", 5, hdr);
    for (size_t i = 0; i < h->nepochs; i++) {
        const pw_mlp_epoch *ep = &h->curve[i];
        pw_series_point(tr, (double)(i + 1), ep->train_acc, NAN, NAN);
        if (isfinite(ep->test_acc)) {
            double lo, hi;
            pw_mnistexp_wilson((size_t)llround(ep->test_acc * (double)e->test.n), e->test.n, &lo, &hi);
            pw_series_point(te, (double)(i + 1), ep->test_acc, lo, hi);
        }
        pw_table_rowf(t, "%zu\t%.4f\t%.4f\t%.4f\t%.1f", i + 1, ep->train_loss, ep->train_acc,
                      ep->test_acc, ep->seconds);
    }
    char *key = pw_mlp_config_key(&e->cfg);
    pw_result_note(r, "Model: %s; %s.  The test curve is shown for information only: no "
                   "choice (epochs, rates, calibration) was made by looking at the test images.",
                   key, e->trained ? "trained in this run (its time is one run's, without an "
                                     "interval)"
                                   : "weights loaded from the cache, trained by this code on "
                                     "this machine in an earlier run (the time shown is that "
                                     "run's, not a measurement of this one)");
    free(key);
}

void pw_mnistexp_wilson(size_t k, size_t n, double *lo, double *hi)
{
    if (n == 0) {
        *lo = 0;
        *hi = 1;
        return;
    }
    const double z = 1.959963984540054;
    double p = (double)k / (double)n, nn = (double)n;
    double den = 1 + z * z / nn;
    double centre = (p + z * z / (2 * nn)) / den;
    double half = z / den * sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn));
    *lo = centre - half < 0 ? 0 : centre - half;
    *hi = centre + half > 1 ? 1 : centre + half;
    if (*lo > p) *lo = p;
    if (*hi < p) *hi = p;
}

/* Accuracy on the test split has no sampling to repeat: its interval is that of the one fixed
 * set of images, and a claim it leaves undecided says so instead of asking for more samples. */
static void mark_fixed(pw_result *r, const char *name, size_t n, const char *what)
{
    pw_result_metric_basis(r, name, (double)n, NAN);
    pw_result_metric_fixed_sample(r, name, "the %zu-image test set is all there is: evaluating "
                                  "again gives the same %s; only a larger test set (or a "
                                  "threshold further from the value) could decide", n, what);
}

double pw_mnistexp_publish_accuracy(pw_result *r, const char *name, size_t k, size_t n)
{
    double lo, hi, a = n ? (double)k / (double)n : 0;
    pw_mnistexp_wilson(k, n, &lo, &hi);
    pw_result_metric(r, name, a, lo, hi, "");
    mark_fixed(r, name, n, "count");
    return a;
}

void pw_mnistexp_publish_drop(pw_result *r, const char *name, const pw_mnistexp_paired *mc)
{
    pw_result_metric(r, name, mc->diff, mc->lo, mc->hi, "");
    mark_fixed(r, name, mc->n, "pairs");
}

void pw_mnistexp_mcnemar(const uint8_t *pred_a, const uint8_t *pred_b, const uint8_t *labels,
                         size_t n, pw_mnistexp_paired *out)
{
    size_t b = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        int ra = pred_a[i] == labels[i], rb = pred_b[i] == labels[i];
        b += ra && !rb;
        c += !ra && rb;
    }
    size_t d = b + c;
    out->b = b;
    out->c = c;
    out->n = n;
    out->diff = n ? ((double)b - (double)c) / (double)n : 0;
    if (d == 0) {
        out->p = 1;
        out->lo = out->hi = 0;
        return;
    }
    size_t k = b < c ? b : c;
    double p = 2 * gsl_cdf_binomial_P((unsigned)k, 0.5, (unsigned)d);
    out->p = p > 1 ? 1 : p;
    double cp[2];
    pw_score_proportion_ci(b, d, 0.95, cp); /* Clopper–Pearson on b / (b + c) */
    double plo = cp[0], phi = cp[1];
    double f = (double)d / (double)n;
    out->lo = f * (2 * plo - 1);
    out->hi = f * (2 * phi - 1);
    if (out->lo > out->diff) out->lo = out->diff;
    if (out->hi < out->diff) out->hi = out->diff;
}
