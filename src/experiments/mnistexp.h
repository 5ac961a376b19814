/* mnistexp.h — what the quantization and compression experiments share: loading Fashion-MNIST
 * and the report's trained MLP (publishing its training record), and accuracy statistics
 * (Wilson intervals, the exact McNemar test on paired predictions). */
#ifndef PERFWEAVE_EXPERIMENTS_MNISTEXP_H
#define PERFWEAVE_EXPERIMENTS_MNISTEXP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perfweave/mlp.h"
#include "perfweave/mnist.h"
#include "perfweave/result.h"

typedef struct {
    pw_mnist train, test;
    pw_mlp_config cfg;      /* the configuration of the model below */
    pw_mlp *model;
    pw_mlp_history hist;
    int trained;            /* 1 when trained in this run (not from the cache) */
} pw_mnistexp;

/* What the report's cached model depends on besides its configuration, for pw_mlp_config.depends:
 * "code=<16 hex digits> machine=<16 hex digits>", the first a SHA-256 over the compile flags and
 * the build-time hashes of the training sources (mlp.c, mnist.c and their headers), the second
 * the machine fingerprint (pw_env_fingerprint_hash of an environment captured now).  A model
 * trained by other code or on another machine is then a cache miss: trained again here, so its
 * published training time is always one measured by this code on this machine. */
void pw_mnistexp_model_depends(char *buf, size_t size);

/* Loads the test split and the report's model (pw_mlp_obtain_report under PW_MLP_CACHE_DIR, with
 * pw_mnistexp_model_depends), and
 * the training split when need_train or when the model must be trained (otherwise e->train stays
 * empty); sets OpenBLAS to one thread, and adds warnings (quick model, cache problems) to r.  On
 * failure calls pw_result_error(r, …) and returns the status.  Release with
 * pw_mnistexp_release. */
int pw_mnistexp_load(pw_mnistexp *e, bool quick, bool need_train, pw_result *r);
void pw_mnistexp_release(pw_mnistexp *e);

/* Publishes the training record: time.training (s), count.epochs, count.train_images (when the
 * training split is loaded), a "training" chart (accuracy per epoch) and a "training" table.
 * time.training is one timing, so it is marked undecidable ("too_few_samples"): it is shown but
 * decides no claim; for a model from the cache the reason says the time is the earlier training
 * run's, not a measurement of this run. */
void pw_mnistexp_publish_training(const pw_mnistexp *e, pw_result *r);

/* The 95% Wilson score interval of k successes in n trials. */
void pw_mnistexp_wilson(size_t k, size_t n, double *lo, double *hi);
/* Publishes k/n as metric name with its Wilson interval (unit ""), basis n and the fixed-sample
 * sentence (the test set is all there is: more evaluations cannot narrow it); returns the
 * accuracy.  For every accuracy on the test split (an agreement too). */
double pw_mnistexp_publish_accuracy(pw_result *r, const char *name, size_t k, size_t n);

/* Paired comparison of two classifiers on the same n items: b = items only A gets right,
 * c = items only B gets right.  p is the exact two-sided McNemar p-value (binomial test of b
 * against Bin(b + c, 1/2), gsl_cdf_binomial_P); diff = (b − c) / n = acc(A) − acc(B) with a 95%
 * interval conditional on b + c (Clopper–Pearson on b / (b + c), scaled by (b + c) / n). */
typedef struct {
    size_t b, c, n;
    double p, diff, lo, hi;
} pw_mnistexp_paired;
void pw_mnistexp_mcnemar(const uint8_t *pred_a, const uint8_t *pred_b, const uint8_t *labels,
                         size_t n, pw_mnistexp_paired *out);
/* Publishes mc's diff (accuracy of A − accuracy of B) as metric name with its paired interval,
 * basis mc->n and the fixed-sample sentence, as pw_mnistexp_publish_accuracy does. */
void pw_mnistexp_publish_drop(pw_result *r, const char *name, const pw_mnistexp_paired *mc);

#endif
