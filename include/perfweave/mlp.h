/* mlp.h — the report's model: a 784-256-128-10 multilayer perceptron (ReLU, softmax
 * cross-entropy) trained in C with OpenBLAS on Fashion-MNIST, deterministic for a seed, with its
 * trained weights cached on disk keyed by the training configuration and what else they depend on
 * (the training code and the machine, in `depends`).
 *
 * Layout: layer l maps dims[l] inputs to dims[l+1] outputs; w[l] is dims[l+1] × dims[l]
 * row-major (one row per output neuron, the unit of per-channel quantization and of structured
 * pruning) and b[l] has dims[l+1] entries.  Inputs are the uint8 pixels divided by 255.
 *
 * Determinism: training draws its initial weights and its per-epoch shuffle from a GSL MT19937
 * generator seeded with the configuration's seed, and sets OpenBLAS to one thread (a process-wide
 * setting) so that every sgemm sums in the same order; the same configuration and data on the
 * same machine give bit-identical weights. */
#ifndef PERFWEAVE_MLP_H
#define PERFWEAVE_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "perfweave/mnist.h"

#define PW_MLP_LAYERS 3
#define PW_MLP_CACHE_DIR ".cache/models"

/* The training configuration; every field is part of the cache key. */
typedef struct {
    size_t dims[PW_MLP_LAYERS + 1];  /* 784, 256, 128, 10 */
    int epochs;
    size_t batch;       /* mini-batch size */
    size_t ntrain;      /* train on the first ntrain training images (0: all) */
    double lr;          /* SGD learning rate at epoch 0, decayed linearly to lr/10 */
    double momentum;    /* heavy-ball momentum */
    uint64_t seed;      /* initial weights and shuffle */
    /* What else the weights and the recorded training time depend on, as text ("" for nothing):
     * the report's experiments put the training code's hash and the machine's fingerprint here
     * (pw_mnistexp_model_depends), so that a model trained by an older mlp.c or on another
     * machine is never reused, and its training time never republished as measured here. */
    char depends[160];
} pw_mlp_config;

/* The report's configuration: 784-256-128-10, 20 epochs of batch 128 on all 60k images, no
 * depends. */
void pw_mlp_config_default(pw_mlp_config *c);
/* The --quick fallback when no full model is cached: 1 epoch on the first 10k images. */
void pw_mlp_config_quick(pw_mlp_config *c);
/* Canonical text of c (every field; the cache key's preimage); the caller frees it. */
char *pw_mlp_config_key(const pw_mlp_config *c);
/* FNV-1a 64-bit hash of pw_mlp_config_key. */
uint64_t pw_mlp_config_hash(const pw_mlp_config *c);

typedef struct {
    size_t dims[PW_MLP_LAYERS + 1];
    float *w[PW_MLP_LAYERS];
    float *b[PW_MLP_LAYERS];
} pw_mlp;

/* A zero-initialised network of the given dims; pw_mlp_free frees it (NULL is a no-op). */
pw_mlp *pw_mlp_new(const size_t dims[PW_MLP_LAYERS + 1]);
void pw_mlp_free(pw_mlp *m);
/* A deep copy; the caller frees it. */
pw_mlp *pw_mlp_clone(const pw_mlp *m);
/* Weights and biases in count (excluding nothing). */
size_t pw_mlp_param_count(const pw_mlp *m);
/* Bytes of the fp32 model: float32 weights and biases. */
size_t pw_mlp_bytes(const pw_mlp *m);
/* Weights (not biases) that are exactly zero. */
size_t pw_mlp_zero_weights(const pw_mlp *m);

/* Logits of n images (uint8 pixels, n × dims[0]) into logits (n × dims[3]), fp32 through
 * cblas_sgemm.  work must hold pw_mlp_work_floats(m, n) floats. */
size_t pw_mlp_work_floats(const pw_mlp *m, size_t n);
void pw_mlp_forward(const pw_mlp *m, const uint8_t *pixels, size_t n, float *logits, float *work);
/* An fp32 product for the dense layers: C (m × n, row stride ldc) = A (m × k, lda) · Bᵀ with B
 * n × k (ldb), row-major, C overwritten (baselines.h has one per library). */
typedef void (*pw_mlp_gemm_fn)(size_t m, size_t n, size_t k, const float *a, size_t lda,
                               const float *b, size_t ldb, float *c, size_t ldc);
/* pw_mlp_forward with gemm for the three layer products (NULL: pw_mlp_forward's own OpenBLAS
 * calls), so that the fp32 model can be measured on any fp32 library. */
void pw_mlp_forward_gemm(const pw_mlp *m, pw_mlp_gemm_fn gemm, const uint8_t *pixels, size_t n,
                         float *logits, float *work);
/* Predicted classes of all d->n images (pred receives d->n bytes); returns the accuracy. */
double pw_mlp_evaluate(const pw_mlp *m, const pw_mnist *d, uint8_t *pred);

/* One epoch of the training record. */
typedef struct {
    double train_loss;  /* mean cross-entropy over the epoch's mini-batches */
    double train_acc;   /* accuracy on the epoch's mini-batches, during training */
    double test_acc;    /* accuracy on the test split after the epoch (NAN without one) */
    double seconds;     /* cumulative training seconds at the end of the epoch */
} pw_mlp_epoch;

typedef struct {
    size_t nepochs;
    pw_mlp_epoch *curve;  /* nepochs entries, owned */
    double train_seconds; /* wall-clock seconds of training (evaluation excluded) */
} pw_mlp_history;

void pw_mlp_history_release(pw_mlp_history *h);

/* Trains m in place with cfg (m's dims must equal cfg's) on train; when init is nonzero the
 * weights are first drawn from cfg->seed (He normal, zero biases).  masks, when non-NULL, holds
 * one 0/1 float per weight of each layer (NULL entries allowed): masked weights stay zero (for
 * fine-tuning pruned networks).  test (may be NULL) is evaluated after each epoch for the curve.
 * hist (may be NULL) receives the record (release it).  Returns PW_OK or PW_EINVAL. */
int pw_mlp_train(pw_mlp *m, const pw_mlp_config *cfg, int init, const pw_mnist *train,
                 const pw_mnist *test, float *const *masks, pw_mlp_history *hist);

/* Sets OpenBLAS to one thread (a process-wide setting): deterministic sums, and the same single
 * core the int8 and sparse kernels use, so speed comparisons are like for like. */
void pw_mlp_blas_single_thread(void);

/* The model the report uses: in full mode the default configuration (cached or trained now); in
 * quick mode the default configuration's cached weights when present, else the quick
 * configuration (cached or trained now); either with depends (copied into cfg->depends; NULL
 * for "").  *cfg receives the configuration used.  Otherwise as pw_mlp_obtain. */
int pw_mlp_obtain_report(int quick, const char *dir, const char *depends, const pw_mnist *train,
                         const pw_mnist *test, pw_mlp_config *cfg, pw_mlp **out,
                         pw_mlp_history *hist, int *trained, char *warn, size_t warnsize);

/* The cache file of cfg under dir: "<dir>/mlp-<16 hex digits of the hash>.bin"; caller frees. */
char *pw_mlp_cache_path(const pw_mlp_config *cfg, const char *dir);
/* Writes m, cfg's key and hist to path atomically (pw_write_file_atomic), with a CRC-32 of the
 * content.  Returns PW_OK or PW_EIO. */
int pw_mlp_save(const char *path, const pw_mlp_config *cfg, const pw_mlp *m,
                const pw_mlp_history *hist);
/* Reads a file written by pw_mlp_save for cfg.  Returns PW_OK (with *out a new network and
 * *hist filled), PW_ENOTFOUND when the file does not exist, or PW_EINVAL when it is corrupt,
 * truncated, fails its checksum or belongs to another configuration (msg says which). */
int pw_mlp_load(const char *path, const pw_mlp_config *cfg, pw_mlp **out, pw_mlp_history *hist,
                char *msg, size_t msgsize);
/* The cached network for cfg under dir, or a freshly trained one (then saved).  *trained is
 * set to 1 when it trained.  A corrupt cache file is retrained and overwritten, with a warning
 * in warn (empty otherwise).  Returns PW_OK, or an error with msg set (warn is the buffer). */
int pw_mlp_obtain(const pw_mlp_config *cfg, const char *dir, const pw_mnist *train,
                  const pw_mnist *test, pw_mlp **out, pw_mlp_history *hist, int *trained,
                  char *warn, size_t warnsize);

#endif
