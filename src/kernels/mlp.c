/* mlp.c — the report's Fashion-MNIST MLP: fp32 forward through OpenBLAS, deterministic SGD
 * training with momentum, and the on-disk weight cache keyed by the training configuration (with
 * what else it depends on, pw_mlp_config.depends). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
/* GSL's randist header pulls in gsl_cblas.h, whose declarations are the standard CBLAS ones that
 * OpenBLAS implements (the build links OpenBLAS, not gslcblas); OpenBLAS's own cblas.h would
 * clash with it, so its one extension used here is declared by hand. */
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <zlib.h>

#include "perfweave/common.h"
#include "perfweave/matmul.h"
#include "perfweave/mlp.h"

void pw_mlp_blas_single_thread(void)
{
    pw_matmul_set_threads(1); /* passes on only a change (see there) */
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void pw_mlp_config_default(pw_mlp_config *c)
{
    memset(c, 0, sizeof *c);
    c->dims[0] = 784;
    c->dims[1] = 256;
    c->dims[2] = 128;
    c->dims[3] = 10;
    c->epochs = 20;
    c->batch = 128;
    c->ntrain = 0;
    c->lr = 0.05;
    c->momentum = 0.9;
    c->seed = 20251129;
}

void pw_mlp_config_quick(pw_mlp_config *c)
{
    pw_mlp_config_default(c);
    c->epochs = 1;
    c->ntrain = 10000;
}

char *pw_mlp_config_key(const pw_mlp_config *c)
{
    return pw_xasprintf("pw-mlp v1 relu-softmax-ce sgd-momentum lr-linear-to-0.1 "
                        "dims=%zu-%zu-%zu-%zu epochs=%d batch=%zu ntrain=%zu lr=%.17g "
                        "momentum=%.17g seed=%llu depends=%s",
                        c->dims[0], c->dims[1], c->dims[2], c->dims[3], c->epochs, c->batch,
                        c->ntrain, c->lr, c->momentum, (unsigned long long)c->seed, c->depends);
}

static uint64_t fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t pw_mlp_config_hash(const pw_mlp_config *c)
{
    char *k = pw_mlp_config_key(c);
    uint64_t h = fnv1a(k, strlen(k));
    free(k);
    return h;
}

pw_mlp *pw_mlp_new(const size_t dims[PW_MLP_LAYERS + 1])
{
    pw_mlp *m = pw_xcalloc(1, sizeof *m);
    memcpy(m->dims, dims, sizeof m->dims);
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        m->w[l] = pw_xcalloc(dims[l] * dims[l + 1], sizeof(float));
        m->b[l] = pw_xcalloc(dims[l + 1], sizeof(float));
    }
    return m;
}

void pw_mlp_free(pw_mlp *m)
{
    if (!m) return;
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        free(m->w[l]);
        free(m->b[l]);
    }
    free(m);
}

pw_mlp *pw_mlp_clone(const pw_mlp *m)
{
    pw_mlp *c = pw_mlp_new(m->dims);
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        memcpy(c->w[l], m->w[l], m->dims[l] * m->dims[l + 1] * sizeof(float));
        memcpy(c->b[l], m->b[l], m->dims[l + 1] * sizeof(float));
    }
    return c;
}

size_t pw_mlp_param_count(const pw_mlp *m)
{
    size_t n = 0;
    for (int l = 0; l < PW_MLP_LAYERS; l++) n += m->dims[l] * m->dims[l + 1] + m->dims[l + 1];
    return n;
}

size_t pw_mlp_bytes(const pw_mlp *m)
{
    return pw_mlp_param_count(m) * sizeof(float);
}

size_t pw_mlp_zero_weights(const pw_mlp *m)
{
    size_t z = 0;
    for (int l = 0; l < PW_MLP_LAYERS; l++)
        for (size_t i = 0; i < m->dims[l] * m->dims[l + 1]; i++) z += m->w[l][i] == 0.0f;
    return z;
}

/* y (n × out) = x (n × in) · wᵀ + b, then ReLU when relu; the product through gemm when given. */
static void dense(pw_mlp_gemm_fn gemm, const float *x, size_t n, size_t in, const float *w,
                  const float *b, size_t out, float *y, int relu)
{
    /* One row is a matrix-vector product: sgemv is OpenBLAS's faster path for it. */
    if (gemm)
        gemm(n, out, in, x, in, w, in, y, out);
    else if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)out, (int)in, 1.0f, w, (int)in, x, 1, 0.0f,
                    y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, x,
                    (int)in, w, (int)in, 0.0f, y, (int)out);
    for (size_t i = 0; i < n; i++) {
        float *row = y + i * out;
        for (size_t j = 0; j < out; j++) {
            float v = row[j] + b[j];
            row[j] = relu && v < 0.0f ? 0.0f : v;
        }
    }
}

size_t pw_mlp_work_floats(const pw_mlp *m, size_t n)
{
    return n * (m->dims[0] + m->dims[1] + m->dims[2]);
}

void pw_mlp_forward_gemm(const pw_mlp *m, pw_mlp_gemm_fn gemm, const uint8_t *pixels, size_t n,
                         float *logits, float *work)
{
    const size_t *d = m->dims;
    float *x = work, *a1 = x + n * d[0], *a2 = a1 + n * d[1];
    for (size_t i = 0; i < n * d[0]; i++) x[i] = (float)pixels[i] * (1.0f / 255.0f);
    dense(gemm, x, n, d[0], m->w[0], m->b[0], d[1], a1, 1);
    dense(gemm, a1, n, d[1], m->w[1], m->b[1], d[2], a2, 1);
    dense(gemm, a2, n, d[2], m->w[2], m->b[2], d[3], logits, 0);
}

void pw_mlp_forward(const pw_mlp *m, const uint8_t *pixels, size_t n, float *logits, float *work)
{
    pw_mlp_forward_gemm(m, NULL, pixels, n, logits, work);
}

static size_t argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t j = 1; j < n; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

double pw_mlp_evaluate(const pw_mlp *m, const pw_mnist *d, uint8_t *pred)
{
    const size_t chunk = 500, in = m->dims[0], out = m->dims[3];
    float *work = pw_xmalloc(pw_mlp_work_floats(m, chunk) * sizeof(float));
    float *logits = pw_xmalloc(chunk * out * sizeof(float));
    size_t correct = 0;
    for (size_t s = 0; s < d->n; s += chunk) {
        size_t c = d->n - s < chunk ? d->n - s : chunk;
        pw_mlp_forward(m, d->pixels + s * in, c, logits, work);
        for (size_t i = 0; i < c; i++) {
            size_t p = argmax(logits + i * out, out);
            if (pred) pred[s + i] = (uint8_t)p;
            correct += p == d->labels[s + i];
        }
    }
    free(work);
    free(logits);
    return d->n ? (double)correct / (double)d->n : NAN;
}

void pw_mlp_history_release(pw_mlp_history *h)
{
    if (!h) return;
    free(h->curve);
    memset(h, 0, sizeof *h);
}

int pw_mlp_train(pw_mlp *m, const pw_mlp_config *cfg, int init, const pw_mnist *train,
                 const pw_mnist *test, float *const *masks, pw_mlp_history *hist)
{
    const size_t *d = m->dims;
    if (memcmp(d, cfg->dims, sizeof m->dims) != 0 || cfg->batch == 0 || cfg->epochs < 1 ||
        train->rows * train->cols != d[0] || train->n == 0)
        return PW_EINVAL;
    size_t ntrain = cfg->ntrain && cfg->ntrain < train->n ? cfg->ntrain : train->n;
    const size_t B = cfg->batch;
    pw_mlp_blas_single_thread();
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, (unsigned long)cfg->seed);
    if (init)
        for (int l = 0; l < PW_MLP_LAYERS; l++) {
            double sd = sqrt(2.0 / (double)d[l]);
            for (size_t i = 0; i < d[l] * d[l + 1]; i++)
                m->w[l][i] = (float)gsl_ran_gaussian(rng, sd);
            memset(m->b[l], 0, d[l + 1] * sizeof(float));
        }
    if (masks)
        for (int l = 0; l < PW_MLP_LAYERS; l++)
            if (masks[l])
                for (size_t i = 0; i < d[l] * d[l + 1]; i++) m->w[l][i] *= masks[l][i];

    float *gw[PW_MLP_LAYERS], *gb[PW_MLP_LAYERS], *vw[PW_MLP_LAYERS], *vb[PW_MLP_LAYERS];
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        gw[l] = pw_xmalloc(d[l] * d[l + 1] * sizeof(float));
        gb[l] = pw_xmalloc(d[l + 1] * sizeof(float));
        vw[l] = pw_xcalloc(d[l] * d[l + 1], sizeof(float));
        vb[l] = pw_xcalloc(d[l + 1], sizeof(float));
    }
    float *x = pw_xmalloc(B * d[0] * sizeof(float));
    float *a1 = pw_xmalloc(B * d[1] * sizeof(float)), *a2 = pw_xmalloc(B * d[2] * sizeof(float));
    float *p = pw_xmalloc(B * d[3] * sizeof(float));
    float *da1 = pw_xmalloc(B * d[1] * sizeof(float)), *da2 = pw_xmalloc(B * d[2] * sizeof(float));
    size_t *order = pw_xmalloc(ntrain * sizeof(size_t));
    for (size_t i = 0; i < ntrain; i++) order[i] = i;
    if (hist) {
        memset(hist, 0, sizeof *hist);
        hist->curve = pw_xcalloc((size_t)cfg->epochs, sizeof *hist->curve);
    }
    size_t steps = (ntrain + B - 1) / B * (size_t)cfg->epochs, step = 0;
    double seconds = 0;
    for (int e = 0; e < cfg->epochs; e++) {
        double t0 = now(), loss = 0;
        size_t correct = 0, nb = 0;
        gsl_ran_shuffle(rng, order, ntrain, sizeof(size_t));
        for (size_t s = 0; s < ntrain; s += B, step++, nb++) {
            size_t n = ntrain - s < B ? ntrain - s : B;
            for (size_t i = 0; i < n; i++) {
                const uint8_t *px = train->pixels + order[s + i] * d[0];
                for (size_t j = 0; j < d[0]; j++) x[i * d[0] + j] = (float)px[j] * (1.0f / 255.0f);
            }
            dense(NULL, x, n, d[0], m->w[0], m->b[0], d[1], a1, 1);
            dense(NULL, a1, n, d[1], m->w[1], m->b[1], d[2], a2, 1);
            dense(NULL, a2, n, d[2], m->w[2], m->b[2], d[3], p, 0);
            /* Softmax cross-entropy; p becomes dL/dz3 = (softmax − onehot) / n. */
            double bl = 0;
            for (size_t i = 0; i < n; i++) {
                float *z = p + i * d[3];
                size_t y = train->labels[order[s + i]];
                correct += argmax(z, d[3]) == y;
                float mx = z[0];
                for (size_t j = 1; j < d[3]; j++) mx = z[j] > mx ? z[j] : mx;
                double sum = 0;
                for (size_t j = 0; j < d[3]; j++) sum += exp((double)(z[j] - mx));
                bl += log(sum) - (double)(z[y] - mx);
                for (size_t j = 0; j < d[3]; j++) {
                    double sm = exp((double)(z[j] - mx)) / sum;
                    z[j] = (float)((sm - (j == y ? 1.0 : 0.0)) / (double)n);
                }
            }
            loss += bl / (double)n;
            /* Backward: dW = dZᵀ·A, db = Σ dZ, dA(prev) = dZ·W, masked by ReLU. */
            const float *acts[PW_MLP_LAYERS] = {x, a1, a2};
            float *dz[PW_MLP_LAYERS] = {da1, da2, p};
            for (int l = PW_MLP_LAYERS - 1; l >= 0; l--) {
                size_t in = d[l], out = d[l + 1];
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n,
                            1.0f, dz[l], (int)out, acts[l], (int)in, 0.0f, gw[l], (int)in);
                for (size_t j = 0; j < out; j++) gb[l][j] = 0;
                for (size_t i = 0; i < n; i++)
                    for (size_t j = 0; j < out; j++) gb[l][j] += dz[l][i * out + j];
                if (l > 0) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in,
                                (int)out, 1.0f, dz[l], (int)out, m->w[l], (int)in, 0.0f,
                                dz[l - 1], (int)in);
                    const float *a = acts[l];
                    for (size_t i = 0; i < n * in; i++)
                        if (a[i] <= 0.0f) dz[l - 1][i] = 0.0f;
                }
            }
            float lr = (float)(cfg->lr * (1.0 - 0.9 * (double)step / (double)steps));
            float mu = (float)cfg->momentum;
            for (int l = 0; l < PW_MLP_LAYERS; l++) {
                size_t nw = d[l] * d[l + 1];
                const float *mk = masks ? masks[l] : NULL;
                for (size_t i = 0; i < nw; i++) {
                    vw[l][i] = mu * vw[l][i] - lr * gw[l][i];
                    m->w[l][i] += vw[l][i];
                    if (mk) m->w[l][i] *= mk[i];
                }
                for (size_t j = 0; j < d[l + 1]; j++) {
                    vb[l][j] = mu * vb[l][j] - lr * gb[l][j];
                    m->b[l][j] += vb[l][j];
                }
            }
        }
        seconds += now() - t0;
        if (hist) {
            pw_mlp_epoch *ep = &hist->curve[e];
            ep->train_loss = loss / (double)nb;
            ep->train_acc = (double)correct / (double)ntrain;
            ep->test_acc = test ? pw_mlp_evaluate(m, test, NULL) : NAN;
            ep->seconds = seconds;
            hist->nepochs = (size_t)e + 1;
            hist->train_seconds = seconds;
        }
    }
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        free(gw[l]);
        free(gb[l]);
        free(vw[l]);
        free(vb[l]);
    }
    free(x);
    free(a1);
    free(a2);
    free(p);
    free(da1);
    free(da2);
    free(order);
    gsl_rng_free(rng);
    return PW_OK;
}

/* --- cache file ----------------------------------------------------------------------------
 * Native byte order (a cache for this machine, not an interchange format):
 *   "PWMLP\0v1" | u32 keylen | key bytes | u32 dims[4] | u32 nepochs | f64 train_seconds |
 *   nepochs × f64[4] (loss, train_acc, test_acc, seconds) | f32 w0 b0 w1 b1 w2 b2 |
 *   u32 CRC-32 (zlib) of everything before it. */
static const char MAGIC[8] = {'P', 'W', 'M', 'L', 'P', 0, 'v', '1'};

char *pw_mlp_cache_path(const pw_mlp_config *cfg, const char *dir)
{
    return pw_xasprintf("%s/mlp-%016llx.bin", dir ? dir : PW_MLP_CACHE_DIR,
                        (unsigned long long)pw_mlp_config_hash(cfg));
}

int pw_mlp_save(const char *path, const pw_mlp_config *cfg, const pw_mlp *m,
                const pw_mlp_history *hist)
{
    pw_buf b;
    pw_buf_init(&b);
    char *key = pw_mlp_config_key(cfg);
    uint32_t klen = (uint32_t)strlen(key), u;
    pw_buf_put(&b, MAGIC, sizeof MAGIC);
    pw_buf_put(&b, (const char *)&klen, 4);
    pw_buf_put(&b, key, klen);
    for (int i = 0; i <= PW_MLP_LAYERS; i++) {
        u = (uint32_t)m->dims[i];
        pw_buf_put(&b, (const char *)&u, 4);
    }
    u = hist ? (uint32_t)hist->nepochs : 0;
    pw_buf_put(&b, (const char *)&u, 4);
    double ts = hist ? hist->train_seconds : 0;
    pw_buf_put(&b, (const char *)&ts, 8);
    for (uint32_t e = 0; e < u; e++) {
        const pw_mlp_epoch *ep = &hist->curve[e];
        double v[4] = {ep->train_loss, ep->train_acc, ep->test_acc, ep->seconds};
        pw_buf_put(&b, (const char *)v, sizeof v);
    }
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        pw_buf_put(&b, (const char *)m->w[l], m->dims[l] * m->dims[l + 1] * sizeof(float));
        pw_buf_put(&b, (const char *)m->b[l], m->dims[l + 1] * sizeof(float));
    }
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)b.data, (uInt)b.len);
    pw_buf_put(&b, (const char *)&crc, 4);
    int st = pw_write_file_atomic(path, b.data, b.len);
    free(key);
    pw_buf_release(&b);
    return st;
}

int pw_mlp_load(const char *path, const pw_mlp_config *cfg, pw_mlp **out, pw_mlp_history *hist,
                char *msg, size_t msgsize)
{
    *out = NULL;
    memset(hist, 0, sizeof *hist);
    size_t len = 0;
    char *data = pw_read_file(path, &len);
    if (!data) {
        int e = errno;
        snprintf(msg, msgsize, "cannot read %s: %s", path, strerror(e));
        return e == ENOENT ? PW_ENOTFOUND : PW_EIO;
    }
    int st = PW_EINVAL;
    char *key = pw_mlp_config_key(cfg);
    size_t klen = strlen(key), pos = 0;
    uint32_t u, crc;
    const char *why = NULL;
#define TAKE(dst, n) do { if (len - pos < (n)) { why = "truncated"; goto out; } \
                          memcpy((dst), data + pos, (n)); pos += (n); } while (0)
    if (len < sizeof MAGIC + 8 || memcmp(data, MAGIC, sizeof MAGIC) != 0) {
        why = "not a perfweave model file (bad magic)";
        goto out;
    }
    memcpy(&crc, data + len - 4, 4);
    if ((uint32_t)crc32(0L, (const Bytef *)data, (uInt)(len - 4)) != crc) {
        why = "checksum mismatch";
        goto out;
    }
    len -= 4;
    pos = sizeof MAGIC;
    TAKE(&u, 4);
    if (u != klen || len - pos < klen || memcmp(data + pos, key, klen) != 0) {
        why = "written for another training configuration";
        goto out;
    }
    pos += klen;
    size_t dims[PW_MLP_LAYERS + 1];
    for (int i = 0; i <= PW_MLP_LAYERS; i++) {
        TAKE(&u, 4);
        dims[i] = u;
        if (dims[i] != cfg->dims[i]) {
            why = "dimensions differ from the configuration";
            goto out;
        }
    }
    TAKE(&u, 4);
    if (u > 100000) {
        why = "absurd epoch count";
        goto out;
    }
    hist->nepochs = u;
    hist->curve = pw_xcalloc(u ? u : 1, sizeof *hist->curve);
    TAKE(&hist->train_seconds, 8);
    for (uint32_t e = 0; e < u; e++) {
        double v[4];
        TAKE(v, sizeof v);
        hist->curve[e] = (pw_mlp_epoch){v[0], v[1], v[2], v[3]};
    }
    *out = pw_mlp_new(dims);
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        TAKE((*out)->w[l], dims[l] * dims[l + 1] * sizeof(float));
        TAKE((*out)->b[l], dims[l + 1] * sizeof(float));
    }
#undef TAKE
    if (pos != len) {
        why = "unexpected bytes after the weights";
        goto out;
    }
    st = PW_OK;
out:
    if (st != PW_OK) {
        snprintf(msg, msgsize, "%s: %s", path, why ? why : "invalid");
        pw_mlp_free(*out);
        *out = NULL;
        pw_mlp_history_release(hist);
    }
    free(key);
    free(data);
    return st;
}

int pw_mlp_obtain(const pw_mlp_config *cfg, const char *dir, const pw_mnist *train,
                  const pw_mnist *test, pw_mlp **out, pw_mlp_history *hist, int *trained,
                  char *warn, size_t warnsize)
{
    char msg[512];
    if (!dir) dir = PW_MLP_CACHE_DIR;
    warn[0] = '\0';
    *trained = 0;
    char *path = pw_mlp_cache_path(cfg, dir);
    int st = pw_mlp_load(path, cfg, out, hist, msg, sizeof msg);
    if (st == PW_OK) goto out;
    if (st != PW_ENOTFOUND)
        snprintf(warn, warnsize, "cached model unusable (%s); retrained", msg);
    pw_mlp *m = pw_mlp_new(cfg->dims);
    st = pw_mlp_train(m, cfg, 1, train, test, NULL, hist);
    if (st != PW_OK) {
        snprintf(warn, warnsize, "training failed: the data does not match the configuration");
        pw_mlp_free(m);
        goto out;
    }
    *trained = 1;
    *out = m;
    /* A cache that cannot be written costs a retrain next time, not this run. */
    if (pw_mkdir_p(dir) != PW_OK || pw_mlp_save(path, cfg, m, hist) != PW_OK) {
        size_t l = strlen(warn);
        snprintf(warn + l, warnsize - l, "%scannot write the model cache %s: %s",
                 l ? "; " : "", path, strerror(errno));
    }
out:
    free(path);
    return st;
}

/* Sets cfg->depends to depends (NULL: ""), truncated to the field. */
static void set_depends(pw_mlp_config *cfg, const char *depends)
{
    snprintf(cfg->depends, sizeof cfg->depends, "%s", depends ? depends : "");
}

int pw_mlp_obtain_report(int quick, const char *dir, const char *depends, const pw_mnist *train,
                         const pw_mnist *test, pw_mlp_config *cfg, pw_mlp **out,
                         pw_mlp_history *hist, int *trained, char *warn, size_t warnsize)
{
    pw_mlp_config_default(cfg);
    set_depends(cfg, depends);
    if (quick) {
        char msg[512];
        char *path = pw_mlp_cache_path(cfg, dir);
        int st = pw_mlp_load(path, cfg, out, hist, msg, sizeof msg);
        free(path);
        if (st == PW_OK) {
            warn[0] = '\0';
            *trained = 0;
            return PW_OK;
        }
        pw_mlp_config_quick(cfg);
        set_depends(cfg, depends);
    }
    return pw_mlp_obtain(cfg, dir, train, test, out, hist, trained, warn, warnsize);
}
