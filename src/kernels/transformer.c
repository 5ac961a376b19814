/* transformer.c — the decoder-only transformer of transformer.h: seeded weights, the shared
 * forward pass (full recomputation, batched prefill into a KV cache, one-position decoding), the
 * causal attention kernel both paths use, greedy generation and the analytic FLOP counts. */
#include "perfweave/transformer.h"

#include <cblas.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"

#define ATTN_TILE 64       /* query rows per attention tile in batched passes */
#define NORM_EPS 1e-5f
#define LOGIT_SPREAD 4.0   /* standard deviation of the logits of a normalised state */

typedef struct {
    float *norm1_g, *norm1_b, *wqkv, *bqkv, *wo, *bo, *norm2_g, *norm2_b, *w1, *b1, *w2, *b2;
} layer;

struct pw_transformer {
    pw_transformer_config cfg;
    pw_alloc *acct;
    float *tok_emb, *pos_emb, *normf_g, *normf_b, *wout;
    layer *layers;
};

struct pw_transformer_work {
    const pw_transformer *m;
    pw_alloc *acct;
    int rows;
    float *x, *h, *qkv, *att, *ff, *scores, *logits;
};

struct pw_kvcache {
    const pw_transformer *m;
    pw_alloc *acct;
    int capacity, len;
    float *k, *v;
};

static int fail(char *msg, size_t msgsize, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t msgsize, int status, const char *fmt, ...)
{
    if (msg && msgsize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msgsize, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* --- configuration ------------------------------------------------------------------------- */

void pw_transformer_config_default(pw_transformer_config *cfg)
{
    cfg->d_model = 256;
    cfg->heads = 4;
    cfg->layers = 4;
    cfg->d_ff = 1024;
    cfg->vocab = 512;
    cfg->context = 1024;
    cfg->norm = PW_NORM_LAYER;
    cfg->act = PW_ACT_GELU;
    cfg->pos = PW_POS_LEARNED;
    cfg->seed = 1;
}

int pw_transformer_config_check(const pw_transformer_config *cfg, char *msg, size_t msgsize)
{
    if (cfg->d_model < 2 || cfg->d_model > 16384)
        return fail(msg, msgsize, PW_EINVAL, "d_model %d is outside 2..16384", cfg->d_model);
    if (cfg->heads < 1 || cfg->d_model % cfg->heads != 0)
        return fail(msg, msgsize, PW_EINVAL, "d_model %d is not a multiple of heads %d",
                    cfg->d_model, cfg->heads);
    if (cfg->layers < 1 || cfg->layers > 256)
        return fail(msg, msgsize, PW_EINVAL, "layers %d is outside 1..256", cfg->layers);
    if (cfg->d_ff < 1 || cfg->d_ff > 65536)
        return fail(msg, msgsize, PW_EINVAL, "d_ff %d is outside 1..65536", cfg->d_ff);
    if (cfg->vocab < 2 || cfg->vocab > 1 << 20)
        return fail(msg, msgsize, PW_EINVAL, "vocab %d is outside 2..1048576", cfg->vocab);
    if (cfg->context < 1 || cfg->context > 1 << 20)
        return fail(msg, msgsize, PW_EINVAL, "context %d is outside 1..1048576", cfg->context);
    if (cfg->pos == PW_POS_SINUSOIDAL && cfg->d_model % 2 != 0)
        return fail(msg, msgsize, PW_EINVAL, "sinusoidal positions need an even d_model, not %d",
                    cfg->d_model);
    return PW_OK;
}

/* --- model ----------------------------------------------------------------------------------- */

static float *tensor(pw_transformer *m, size_t count, int *ok)
{
    float *p = pw_alloc_calloc(m->acct, "weights", count, sizeof(float));
    if (!p) *ok = 0;
    return p;
}

/* Normal deviates by Box–Muller over mt19937 (gsl_randist.h is avoided: it pulls in
 * gsl_cblas.h, whose declarations clash with OpenBLAS's cblas.h). */
static void gaussian(gsl_rng *rng, float *p, size_t count, double mean, double sd)
{
    for (size_t i = 0; i < count; i += 2) {
        double u1 = gsl_rng_uniform_pos(rng), u2 = gsl_rng_uniform(rng);
        double r = sqrt(-2.0 * log(u1)), t = 2.0 * M_PI * u2;
        p[i] = (float)(mean + sd * r * cos(t));
        if (i + 1 < count) p[i + 1] = (float)(mean + sd * r * sin(t));
    }
}

int pw_transformer_new(const pw_transformer_config *cfg, pw_alloc *acct, pw_transformer **out,
                       char *msg, size_t msgsize)
{
    *out = NULL;
    int status = pw_transformer_config_check(cfg, msg, msgsize);
    if (status != PW_OK) return status;
    pw_transformer *m = pw_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    m->acct = acct;
    const size_t d = (size_t)cfg->d_model, f = (size_t)cfg->d_ff, V = (size_t)cfg->vocab;
    const size_t C = (size_t)cfg->context, L = (size_t)cfg->layers;
    int ok = 1;
    m->tok_emb = tensor(m, V * d, &ok);
    m->pos_emb = tensor(m, C * d, &ok);
    m->normf_g = tensor(m, d, &ok);
    m->normf_b = tensor(m, d, &ok);
    m->wout = tensor(m, d * V, &ok);
    m->layers = pw_xcalloc(L, sizeof *m->layers);
    for (size_t l = 0; l < L; l++) {
        layer *y = &m->layers[l];
        y->norm1_g = tensor(m, d, &ok);
        y->norm1_b = tensor(m, d, &ok);
        y->wqkv = tensor(m, d * 3 * d, &ok);
        y->bqkv = tensor(m, 3 * d, &ok);
        y->wo = tensor(m, d * d, &ok);
        y->bo = tensor(m, d, &ok);
        y->norm2_g = tensor(m, d, &ok);
        y->norm2_b = tensor(m, d, &ok);
        y->w1 = tensor(m, d * f, &ok);
        y->b1 = tensor(m, f, &ok);
        y->w2 = tensor(m, f * d, &ok);
        y->b2 = tensor(m, d, &ok);
    }
    if (!ok) {
        pw_transformer_free(m);
        return fail(msg, msgsize, PW_ERANGE, "cannot allocate the model's weights");
    }

    /* Fixed drawing order, so the same seed always gives the same model. */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, (unsigned long)cfg->seed);
    const double resid = 1.0 / sqrt(2.0 * (double)L);
    const int rms = cfg->norm == PW_NORM_RMS;
    gaussian(rng, m->tok_emb, V * d, 0, 1);
    if (cfg->pos == PW_POS_LEARNED) {
        gaussian(rng, m->pos_emb, C * d, 0, 0.5);
    } else {
        for (size_t p = 0; p < C; p++)
            for (size_t i = 0; i < d; i += 2) {
                double freq = pow(10000.0, -(double)i / (double)d);
                m->pos_emb[p * d + i] = (float)sin((double)p * freq);
                m->pos_emb[p * d + i + 1] = (float)cos((double)p * freq);
            }
    }
    for (size_t l = 0; l < L; l++) {
        layer *y = &m->layers[l];
        gaussian(rng, y->norm1_g, d, 1, 0.1);
        if (!rms) gaussian(rng, y->norm1_b, d, 0, 0.05);
        gaussian(rng, y->wqkv, d * 3 * d, 0, 1 / sqrt((double)d));
        gaussian(rng, y->bqkv, 3 * d, 0, 0.02);
        gaussian(rng, y->wo, d * d, 0, resid / sqrt((double)d));
        gaussian(rng, y->bo, d, 0, 0.02);
        gaussian(rng, y->norm2_g, d, 1, 0.1);
        if (!rms) gaussian(rng, y->norm2_b, d, 0, 0.05);
        gaussian(rng, y->w1, d * f, 0, 1 / sqrt((double)d));
        gaussian(rng, y->b1, f, 0, 0.02);
        gaussian(rng, y->w2, f * d, 0, resid / sqrt((double)f));
        gaussian(rng, y->b2, d, 0, 0.02);
    }
    gaussian(rng, m->normf_g, d, 1, 0.1);
    if (!rms) gaussian(rng, m->normf_b, d, 0, 0.05);
    gaussian(rng, m->wout, d * V, 0, LOGIT_SPREAD / sqrt((double)d));
    gsl_rng_free(rng);
    *out = m;
    return PW_OK;
}

void pw_transformer_free(pw_transformer *m)
{
    if (!m) return;
    pw_alloc_dealloc(m->acct, m->tok_emb);
    pw_alloc_dealloc(m->acct, m->pos_emb);
    pw_alloc_dealloc(m->acct, m->normf_g);
    pw_alloc_dealloc(m->acct, m->normf_b);
    pw_alloc_dealloc(m->acct, m->wout);
    for (int l = 0; m->layers && l < m->cfg.layers; l++) {
        layer *y = &m->layers[l];
        float *all[] = {y->norm1_g, y->norm1_b, y->wqkv, y->bqkv, y->wo, y->bo,
                        y->norm2_g, y->norm2_b, y->w1, y->b1, y->w2, y->b2};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pw_alloc_dealloc(m->acct, all[i]);
    }
    free(m->layers);
    free(m);
}

const pw_transformer_config *pw_transformer_config_get(const pw_transformer *m)
{
    return &m->cfg;
}

int pw_transformer_layer_view(const pw_transformer *m, int l, pw_transformer_layer *out)
{
    if (l < 0 || l >= m->cfg.layers) return PW_ERANGE;
    const layer *y = &m->layers[l];
    *out = (pw_transformer_layer){y->norm1_g, y->norm1_b, y->wqkv, y->bqkv, y->wo, y->bo,
                                  y->norm2_g, y->norm2_b, y->w1, y->b1, y->w2, y->b2};
    return PW_OK;
}

void pw_transformer_ends_view(const pw_transformer *m, pw_transformer_ends *out)
{
    *out = (pw_transformer_ends){m->tok_emb, m->pos_emb, m->normf_g, m->normf_b, m->wout};
}

/* --- workspace and cache ------------------------------------------------------------------- */

size_t pw_attention_scratch(int keys)
{
    return (size_t)ATTN_TILE * (size_t)(keys > 0 ? keys : 1);
}

int pw_transformer_work_new(const pw_transformer *m, int rows, pw_alloc *acct,
                            pw_transformer_work **out, char *msg, size_t msgsize)
{
    *out = NULL;
    if (rows < 1 || rows > m->cfg.context)
        return fail(msg, msgsize, PW_ERANGE, "a workspace of %d rows is outside 1..%d (the context)",
                    rows, m->cfg.context);
    pw_transformer_work *w = pw_xcalloc(1, sizeof *w);
    w->m = m;
    w->acct = acct;
    w->rows = rows;
    const size_t r = (size_t)rows, d = (size_t)m->cfg.d_model;
    const char *tag = "activations";
    w->x = pw_alloc_calloc(acct, tag, r * d, sizeof(float));
    w->h = pw_alloc_calloc(acct, tag, r * d, sizeof(float));
    w->qkv = pw_alloc_calloc(acct, tag, r * 3 * d, sizeof(float));
    w->att = pw_alloc_calloc(acct, tag, r * d, sizeof(float));
    w->ff = pw_alloc_calloc(acct, tag, r * (size_t)m->cfg.d_ff, sizeof(float));
    w->scores = pw_alloc_calloc(acct, tag, pw_attention_scratch(m->cfg.context), sizeof(float));
    w->logits = pw_alloc_calloc(acct, tag, (size_t)m->cfg.vocab, sizeof(float));
    if (!w->x || !w->h || !w->qkv || !w->att || !w->ff || !w->scores || !w->logits) {
        pw_transformer_work_free(w);
        return fail(msg, msgsize, PW_ERANGE, "cannot allocate a workspace of %d rows", rows);
    }
    *out = w;
    return PW_OK;
}

void pw_transformer_work_free(pw_transformer_work *w)
{
    if (!w) return;
    float *all[] = {w->x, w->h, w->qkv, w->att, w->ff, w->scores, w->logits};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pw_alloc_dealloc(w->acct, all[i]);
    free(w);
}

int pw_kvcache_new(const pw_transformer *m, int capacity, pw_alloc *acct, pw_kvcache **out,
                   char *msg, size_t msgsize)
{
    *out = NULL;
    if (capacity < 1 || capacity > m->cfg.context)
        return fail(msg, msgsize, PW_ERANGE,
                    "a kv cache of %d positions is outside 1..%d (the model's context)", capacity,
                    m->cfg.context);
    pw_kvcache *c = pw_xcalloc(1, sizeof *c);
    c->m = m;
    c->acct = acct;
    c->capacity = capacity;
    const size_t count = (size_t)m->cfg.layers * (size_t)capacity * (size_t)m->cfg.d_model;
    c->k = pw_alloc_calloc(acct, "kv_cache", count, sizeof(float));
    c->v = pw_alloc_calloc(acct, "kv_cache", count, sizeof(float));
    if (!c->k || !c->v) {
        pw_kvcache_free(c);
        return fail(msg, msgsize, PW_ERANGE, "cannot allocate a kv cache of %d positions", capacity);
    }
    *out = c;
    return PW_OK;
}

void pw_kvcache_free(pw_kvcache *c)
{
    if (!c) return;
    pw_alloc_dealloc(c->acct, c->k);
    pw_alloc_dealloc(c->acct, c->v);
    free(c);
}

int pw_kvcache_len(const pw_kvcache *c) { return c->len; }
int pw_kvcache_capacity(const pw_kvcache *c) { return c->capacity; }
const float *pw_kvcache_keys(const pw_kvcache *c) { return c->k; }
const float *pw_kvcache_values(const pw_kvcache *c) { return c->v; }

size_t pw_kvcache_bytes(const pw_kvcache *c)
{
    return pw_alloc_size(c->acct, c->k) + pw_alloc_size(c->acct, c->v);
}

int pw_kvcache_truncate(pw_kvcache *c, int len)
{
    if (len < 0 || len > c->len) return PW_ERANGE;
    c->len = len;
    return PW_OK;
}

/* --- building blocks ------------------------------------------------------------------------ */

static void normalize(const pw_transformer_config *cfg, const float *x, float *y, int rows,
                      const float *g, const float *b)
{
    const int d = cfg->d_model;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;
        double mean = 0, var = 0;
        if (cfg->norm == PW_NORM_LAYER) {
            for (int i = 0; i < d; i++) mean += xr[i];
            mean /= d;
        }
        for (int i = 0; i < d; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= d;
        const float inv = (float)(1.0 / sqrt(var + NORM_EPS));
        for (int i = 0; i < d; i++) yr[i] = ((float)(xr[i] - mean)) * inv * g[i] + b[i];
    }
}

/* y[rows × out] = x[rows × in] · W[in × out] + beta · y, then + bias on every row. */
static void project(const float *x, int rows, int in, const float *w, int out, const float *bias,
                    float beta, float *y)
{
    if (rows == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, in, out, 1.0f, w, out, x, 1, beta, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, out, in, 1.0f, x, in, w, out,
                    beta, y, out);
    for (int r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * out;
        for (int j = 0; j < out; j++) yr[j] += bias[j];
    }
}

static void activate(pw_act_kind act, float *x, size_t count)
{
    if (act == PW_ACT_RELU) {
        for (size_t i = 0; i < count; i++) x[i] = x[i] > 0 ? x[i] : 0;
        return;
    }
    /* GELU, tanh form: 0.5·v·(1 + tanh(u)) = v · (1 − 1/(1 + e^{2u})), u = sqrt(2/pi)(v + 0.044715 v³);
     * written with expf, which is several times cheaper than tanhf (the MLP applies it to every
     * hidden unit of every row).  e^{2u} overflowing to infinity gives exactly v; underflowing
     * to 0 gives exactly 0. */
    const float c2 = 2.0f * 0.7978845608028654f;
    for (size_t i = 0; i < count; i++) {
        float v = x[i];
        x[i] = v - v / (1.0f + expf(c2 * (v + 0.044715f * v * v * v)));
    }
}

static void softmax_prefix(float *s, int visible, int width)
{
    float mx = s[0];
    for (int j = 1; j < visible; j++) mx = s[j] > mx ? s[j] : mx;
    float sum = 0;
    for (int j = 0; j < visible; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j < visible; j++) s[j] *= inv;
    for (int j = visible; j < width; j++) s[j] = 0;  /* the future: masked out */
}

void pw_attention_causal(int heads, int d_model, int start, int nq, const float *q, size_t ldq,
                         const float *k, const float *v, size_t ldkv, float *out, size_t ldo,
                         float *scratch)
{
    const int dh = d_model / heads;
    const float scale = (float)(1.0 / sqrt((double)dh));
    for (int h = 0; h < heads; h++) {
        const float *kh = k + (size_t)h * dh, *vh = v + (size_t)h * dh;
        for (int r0 = 0; r0 < nq; r0 += ATTN_TILE) {
            const int rows = nq - r0 < ATTN_TILE ? nq - r0 : ATTN_TILE;
            const int keys = start + r0 + rows;  /* what the tile's last row sees */
            const float *qh = q + (size_t)r0 * ldq + (size_t)h * dh;
            float *oh = out + (size_t)r0 * ldo + (size_t)h * dh;
            if (rows == 1)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, keys, dh, scale, kh, (int)ldkv, qh, 1,
                            0.0f, scratch, 1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, dh, scale, qh,
                            (int)ldq, kh, (int)ldkv, 0.0f, scratch, keys);
            for (int i = 0; i < rows; i++)
                softmax_prefix(scratch + (size_t)i * keys, start + r0 + i + 1, keys);
            if (rows == 1)
                cblas_sgemv(CblasRowMajor, CblasTrans, keys, dh, 1.0f, vh, (int)ldkv, scratch, 1,
                            0.0f, oh, 1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, dh, keys, 1.0f,
                            scratch, keys, vh, (int)ldkv, 0.0f, oh, (int)ldo);
        }
    }
}

/* The forward pass shared by every path: n positions start … start+n−1, keys and values kept in
 * the cache when c is non-NULL (else read from the fused QKV buffer, start must be 0).  Inputs
 * are validated by the callers. */
static void forward(const pw_transformer *m, pw_transformer_work *w, pw_kvcache *c,
                    const int *tokens, int n, int start, float *logits)
{
    const pw_transformer_config *cfg = &m->cfg;
    const int d = cfg->d_model, d3 = 3 * d;
    const size_t dz = (size_t)d;
    for (int i = 0; i < n; i++) {
        const float *e = m->tok_emb + (size_t)tokens[i] * dz;
        const float *p = m->pos_emb + (size_t)(start + i) * dz;
        float *x = w->x + (size_t)i * dz;
        for (int j = 0; j < d; j++) x[j] = e[j] + p[j];
    }
    for (int l = 0; l < cfg->layers; l++) {
        const layer *y = &m->layers[l];
        normalize(cfg, w->x, w->h, n, y->norm1_g, y->norm1_b);
        project(w->h, n, d, y->wqkv, d3, y->bqkv, 0.0f, w->qkv);
        const float *k, *v;
        size_t ld;
        if (c) {
            float *kl = c->k + (size_t)l * (size_t)c->capacity * dz;
            float *vl = c->v + (size_t)l * (size_t)c->capacity * dz;
            for (int i = 0; i < n; i++) {
                const float *row = w->qkv + (size_t)i * (size_t)d3;
                memcpy(kl + (size_t)(start + i) * dz, row + d, dz * sizeof(float));
                memcpy(vl + (size_t)(start + i) * dz, row + 2 * d, dz * sizeof(float));
            }
            k = kl;
            v = vl;
            ld = dz;
        } else {
            k = w->qkv + d;
            v = w->qkv + 2 * d;
            ld = (size_t)d3;
        }
        pw_attention_causal(cfg->heads, d, start, n, w->qkv, (size_t)d3, k, v, ld, w->att, dz,
                            w->scores);
        project(w->att, n, d, y->wo, d, y->bo, 1.0f, w->x);   /* residual: x += att · Wo + bo */
        normalize(cfg, w->x, w->h, n, y->norm2_g, y->norm2_b);
        project(w->h, n, d, y->w1, cfg->d_ff, y->b1, 0.0f, w->ff);
        activate(cfg->act, w->ff, (size_t)n * (size_t)cfg->d_ff);
        project(w->ff, n, cfg->d_ff, y->w2, d, y->b2, 1.0f, w->x);
    }
    const float *last = w->x + (size_t)(n - 1) * dz;
    normalize(cfg, last, w->h, 1, m->normf_g, m->normf_b);
    cblas_sgemv(CblasRowMajor, CblasTrans, d, cfg->vocab, 1.0f, m->wout, cfg->vocab, w->h, 1, 0.0f,
                logits, 1);
    if (c) c->len = start + n;
}

static int check_tokens(const pw_transformer *m, const int *tokens, int n, char *msg,
                        size_t msgsize)
{
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab)
            return fail(msg, msgsize, PW_EINVAL, "token %d at index %d is outside the vocabulary 0..%d",
                        tokens[i], i, m->cfg.vocab - 1);
    return PW_OK;
}

static int check_work(const pw_transformer *m, const pw_transformer_work *w, int n, char *msg,
                      size_t msgsize)
{
    if (w->m != m) return fail(msg, msgsize, PW_EINVAL, "the workspace belongs to another model");
    if (n < 1) return fail(msg, msgsize, PW_EINVAL, "a forward pass needs at least one token");
    if (n > w->rows)
        return fail(msg, msgsize, PW_ERANGE, "%d positions exceed the workspace's %d rows", n,
                    w->rows);
    return PW_OK;
}

int pw_transformer_forward_full(const pw_transformer *m, pw_transformer_work *w, const int *tokens,
                                int n, float *logits, char *msg, size_t msgsize)
{
    if (n > m->cfg.context)
        return fail(msg, msgsize, PW_ERANGE, "sequence of %d positions exceeds the context of %d",
                    n, m->cfg.context);
    int status = check_work(m, w, n, msg, msgsize);
    if (status == PW_OK) status = check_tokens(m, tokens, n, msg, msgsize);
    if (status != PW_OK) return status;
    forward(m, w, NULL, tokens, n, 0, logits);
    return PW_OK;
}

static int check_cache(const pw_transformer *m, const pw_kvcache *c, int n, char *msg,
                       size_t msgsize)
{
    if (c->m != m) return fail(msg, msgsize, PW_EINVAL, "the kv cache belongs to another model");
    if (n > c->capacity - c->len)
        return fail(msg, msgsize, PW_ERANGE,
                    "kv cache overflow: %d positions held, %d more requested, capacity %d", c->len,
                    n, c->capacity);
    return PW_OK;
}

int pw_transformer_prefill(const pw_transformer *m, pw_kvcache *c, pw_transformer_work *w,
                           const int *tokens, int n, float *logits, char *msg, size_t msgsize)
{
    int status = check_work(m, w, n, msg, msgsize);
    if (status == PW_OK) status = check_cache(m, c, n, msg, msgsize);
    if (status == PW_OK) status = check_tokens(m, tokens, n, msg, msgsize);
    if (status != PW_OK) return status;
    forward(m, w, c, tokens, n, c->len, logits);
    return PW_OK;
}

int pw_transformer_decode(const pw_transformer *m, pw_kvcache *c, pw_transformer_work *w, int token,
                          float *logits, char *msg, size_t msgsize)
{
    return pw_transformer_prefill(m, c, w, &token, 1, logits, msg, msgsize);
}

int pw_transformer_argmax(const float *logits, int vocab)
{
    int best = 0;
    for (int i = 1; i < vocab; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

/* --- generation ---------------------------------------------------------------------------- */

static int check_generation(const pw_transformer *m, int prompt, int steps, int limit,
                            const char *what, char *msg, size_t msgsize)
{
    if (prompt < 1) return fail(msg, msgsize, PW_EINVAL, "a prompt needs at least one token");
    if (steps < 0) return fail(msg, msgsize, PW_EINVAL, "cannot generate %d tokens", steps);
    const long need = (long)prompt + (steps > 0 ? steps - 1 : 0);
    if (need > limit)
        return fail(msg, msgsize, PW_ERANGE,
                    "a prompt of %d tokens and %d generated need %ld positions, more than the %s "
                    "of %d",
                    prompt, steps, need, what, limit);
    (void)m;
    return PW_OK;
}

int pw_transformer_generate_full(const pw_transformer *m, pw_transformer_work *w, int *seq,
                                 int prompt, int steps, float *all_logits, char *msg,
                                 size_t msgsize)
{
    int status = check_generation(m, prompt, steps, m->cfg.context, "context", msg, msgsize);
    if (status == PW_OK && steps > 0)
        status = check_work(m, w, prompt + steps - 1, msg, msgsize);
    if (status == PW_OK) status = check_tokens(m, seq, prompt, msg, msgsize);
    if (status != PW_OK) return status;
    const int V = m->cfg.vocab;
    for (int s = 0; s < steps; s++) {
        float *lg = all_logits ? all_logits + (size_t)s * (size_t)V : w->logits;
        forward(m, w, NULL, seq, prompt + s, 0, lg);
        seq[prompt + s] = pw_transformer_argmax(lg, V);
    }
    return PW_OK;
}

int pw_transformer_generate_cached(const pw_transformer *m, pw_kvcache *c, pw_transformer_work *w,
                                   int *seq, int prompt, int steps, float *all_logits, char *msg,
                                   size_t msgsize)
{
    if (c->m != m) return fail(msg, msgsize, PW_EINVAL, "the kv cache belongs to another model");
    int status = check_generation(m, prompt, steps, c->capacity, "kv cache's capacity", msg,
                                  msgsize);
    if (status == PW_OK && steps > 0) status = check_work(m, w, prompt, msg, msgsize);
    if (status == PW_OK) status = check_tokens(m, seq, prompt, msg, msgsize);
    if (status != PW_OK || steps == 0) return status;
    const int V = m->cfg.vocab;
    c->len = 0;
    float *lg = all_logits ? all_logits : w->logits;
    forward(m, w, c, seq, prompt, 0, lg);
    seq[prompt] = pw_transformer_argmax(lg, V);
    for (int s = 1; s < steps; s++) {
        lg = all_logits ? all_logits + (size_t)s * (size_t)V : w->logits;
        forward(m, w, c, seq + prompt + s - 1, 1, prompt + s - 1, lg);
        seq[prompt + s] = pw_transformer_argmax(lg, V);
    }
    return PW_OK;
}

/* --- FLOP counts ----------------------------------------------------------------------------- */

double pw_transformer_flops_forward(const pw_transformer_config *cfg, long start, long n)
{
    const double d = cfg->d_model, f = cfg->d_ff, N = (double)n, S = (double)start;
    const double proj = 2 * N * d * 3 * d + 2 * N * d * d + 2 * 2 * N * d * f;
    const double attn = 4 * d * (N * S + N * (N + 1) / 2);
    return cfg->layers * (proj + attn) + 2 * d * cfg->vocab;
}

double pw_transformer_flops_step_full(const pw_transformer_config *cfg, long len)
{
    return pw_transformer_flops_forward(cfg, 0, len);
}

double pw_transformer_flops_step_cached(const pw_transformer_config *cfg, long len)
{
    return pw_transformer_flops_forward(cfg, len - 1, 1);
}

double pw_transformer_flops_generate_full(const pw_transformer_config *cfg, long prompt, long steps)
{
    double sum = 0;
    for (long s = 0; s < steps; s++) sum += pw_transformer_flops_forward(cfg, 0, prompt + s);
    return sum;
}

double pw_transformer_flops_generate_cached(const pw_transformer_config *cfg, long prompt,
                                            long steps)
{
    if (steps <= 0) return 0;
    double sum = pw_transformer_flops_forward(cfg, 0, prompt);
    for (long s = 1; s < steps; s++) sum += pw_transformer_flops_forward(cfg, prompt + s - 1, 1);
    return sum;
}

double pw_transformer_bytes_step_cached(const pw_transformer_config *cfg, long len)
{
    const double d = cfg->d_model, f = cfg->d_ff, V = cfg->vocab, L = cfg->layers;
    /* Per layer: two norms (gain and bias), QKV, Wo, W1, W2 and their biases. */
    const double layer = 2 * 2 * d + d * 3 * d + 3 * d + d * d + d + d * f + f + f * d + d;
    /* One token row, one position row, the final norm, the output projection. */
    const double ends = d + d + 2 * d + d * V;
    const double kv = 2 * (double)len * d + 2 * d;
    return 4.0 * (ends + L * (layer + kv));
}
