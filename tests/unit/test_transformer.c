/* test_transformer.c — the decoder: attention against a case computed by hand, both forward
 * paths against an independent double-precision reference, cached and uncached generation
 * agreeing for 64 steps, the KV cache's layout and byte count, overflow errors and the FLOP
 * formulas.  Nothing is timed. */
#include "support.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/alloc.h"
#include "perfweave/common.h"
#include "perfweave/transformer.h"

/* One head, d = 2 (so the scale is 1/sqrt(2)), three positions, s = sqrt(2)·ln 2:
 *   k0 = (0, 0)  k1 = (s, 0)  k2 = (s, s)        v0 = (1, 2)  v1 = (3, −1)  v2 = (0, 4)
 *   q0 = (1, 0)  q1 = (1, 0)  q2 = (0, 1)
 * row 0 sees only itself:                        out0 = v0 = (1, 2)
 * row 1: scores q1·k/sqrt2 = (0, ln 2) → weights (1, 2)/3:
 *        out1 = (1 + 2·3, 2 − 2)/3 = (7/3, 0)
 * row 2: scores (0, 0, ln 2) → weights (1, 1, 2)/4 (it attends to itself with weight 1/2):
 *        out2 = ((1 + 3 + 0)/4, (2 − 1 + 8)/4) = (1, 9/4)
 * Were the current token left out, row 2 would give (v0 + v1)/2 = (2, 0.5) instead. */
static void test_attention_by_hand(void **state)
{
    (void)state;
    const float s = (float)(sqrt(2.0) * log(2.0));
    const float q[] = {1, 0, 1, 0, 0, 1};
    const float k[] = {0, 0, s, 0, s, s};
    const float v[] = {1, 2, 3, -1, 0, 4};
    const double want[] = {1, 2, 7.0 / 3, 0, 1, 2.25};
    float out[6], scratch[256];
    assert_true(pw_attention_scratch(3) <= 256);
    /* batched: three query rows at once (the sgemm path) */
    pw_attention_causal(1, 2, 0, 3, q, 2, k, v, 2, out, 2, scratch);
    for (int i = 0; i < 6; i++) assert_close(out[i], want[i], 1e-6);
    /* one row at a time at positions 0, 1, 2 (the sgemv path of decoding) */
    for (int p = 0; p < 3; p++) {
        pw_attention_causal(1, 2, p, 1, q + 2 * p, 2, k, v, 2, out + 2 * p, 2, scratch);
        assert_close(out[2 * p], want[2 * p], 1e-6);
        assert_close(out[2 * p + 1], want[2 * p + 1], 1e-6);
    }
    /* Two heads side by side (d = 4): head 1 is the same case with its columns swapped. */
    float q2[12], k2[12], v2[12], out2[12];
    for (int r = 0; r < 3; r++) {
        q2[4 * r] = q[2 * r], q2[4 * r + 1] = q[2 * r + 1];
        k2[4 * r] = k[2 * r], k2[4 * r + 1] = k[2 * r + 1];
        v2[4 * r] = v[2 * r], v2[4 * r + 1] = v[2 * r + 1];
        q2[4 * r + 2] = q[2 * r + 1], q2[4 * r + 3] = q[2 * r];
        k2[4 * r + 2] = k[2 * r + 1], k2[4 * r + 3] = k[2 * r];
        v2[4 * r + 2] = v[2 * r + 1], v2[4 * r + 3] = v[2 * r];
    }
    pw_attention_causal(2, 4, 0, 3, q2, 4, k2, v2, 4, out2, 4, scratch);
    for (int r = 0; r < 3; r++) {
        assert_close(out2[4 * r], want[2 * r], 1e-6);
        assert_close(out2[4 * r + 1], want[2 * r + 1], 1e-6);
        assert_close(out2[4 * r + 2], want[2 * r + 1], 1e-6);
        assert_close(out2[4 * r + 3], want[2 * r], 1e-6);
    }
}

/* --- an independent reference: the model's definition in plain double-precision loops ------- */

typedef struct {
    double *logits;  /* [vocab] of the last position */
    double *k, *v;   /* [layers × n × d] */
} reference;

static void ref_norm(const pw_transformer_config *c, const double *x, double *y, const float *g,
                     const float *b)
{
    int d = c->d_model;
    double mean = 0, var = 0;
    if (c->norm == PW_NORM_LAYER) {
        for (int i = 0; i < d; i++) mean += x[i];
        mean /= d;
    }
    for (int i = 0; i < d; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= d;
    for (int i = 0; i < d; i++) y[i] = (x[i] - mean) / sqrt(var + 1e-5) * g[i] + b[i];
}

static double ref_act(const pw_transformer_config *c, double x)
{
    if (c->act == PW_ACT_RELU) return x > 0 ? x : 0;
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

static void ref_forward(const pw_transformer *m, const int *tok, int n, reference *out)
{
    const pw_transformer_config *c = pw_transformer_config_get(m);
    const int d = c->d_model, f = c->d_ff, H = c->heads, dh = d / H, V = c->vocab;
    pw_transformer_ends e;
    pw_transformer_ends_view(m, &e);
    double *x = calloc((size_t)n * d, sizeof *x), *h = calloc(d, sizeof *h);
    double *q = calloc((size_t)n * d, sizeof *q), *att = calloc(d, sizeof *att);
    double *ff = calloc(f, sizeof *ff), *w = calloc(n, sizeof *w);
    out->logits = calloc(V, sizeof(double));
    out->k = calloc((size_t)c->layers * n * d, sizeof(double));
    out->v = calloc((size_t)c->layers * n * d, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            x[i * d + j] = (double)e.tok_emb[tok[i] * d + j] + e.pos_emb[i * d + j];
    for (int l = 0; l < c->layers; l++) {
        pw_transformer_layer y;
        assert_int_equal(pw_transformer_layer_view(m, l, &y), PW_OK);
        double *K = out->k + (size_t)l * n * d, *Vv = out->v + (size_t)l * n * d;
        for (int i = 0; i < n; i++) {
            ref_norm(c, x + i * d, h, y.norm1_g, y.norm1_b);
            for (int j = 0; j < 3 * d; j++) {
                double acc = y.bqkv[j];
                for (int t = 0; t < d; t++) acc += h[t] * y.wqkv[t * 3 * d + j];
                if (j < d) q[i * d + j] = acc;
                else if (j < 2 * d) K[i * d + j - d] = acc;
                else Vv[i * d + j - 2 * d] = acc;
            }
        }
        for (int i = 0; i < n; i++) {
            for (int hd = 0; hd < H; hd++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= i; j++) {
                    double sc = 0;
                    for (int t = 0; t < dh; t++) sc += q[i * d + hd * dh + t] * K[j * d + hd * dh + t];
                    w[j] = sc / sqrt((double)dh);
                    mx = w[j] > mx ? w[j] : mx;
                }
                for (int j = 0; j <= i; j++) sum += (w[j] = exp(w[j] - mx));
                for (int t = 0; t < dh; t++) {
                    double acc = 0;
                    for (int j = 0; j <= i; j++) acc += w[j] / sum * Vv[j * d + hd * dh + t];
                    att[hd * dh + t] = acc;
                }
            }
            for (int j = 0; j < d; j++) {
                double acc = y.bo[j];
                for (int t = 0; t < d; t++) acc += att[t] * y.wo[t * d + j];
                x[i * d + j] += acc;
            }
            ref_norm(c, x + i * d, h, y.norm2_g, y.norm2_b);
            for (int j = 0; j < f; j++) {
                double acc = y.b1[j];
                for (int t = 0; t < d; t++) acc += h[t] * y.w1[t * f + j];
                ff[j] = ref_act(c, acc);
            }
            for (int j = 0; j < d; j++) {
                double acc = y.b2[j];
                for (int t = 0; t < f; t++) acc += ff[t] * y.w2[t * d + j];
                x[i * d + j] += acc;
            }
        }
    }
    ref_norm(c, x + (n - 1) * d, h, e.normf_g, e.normf_b);
    for (int j = 0; j < V; j++) {
        double acc = 0;
        for (int t = 0; t < d; t++) acc += h[t] * e.wout[t * V + j];
        out->logits[j] = acc;
    }
    free(x), free(h), free(q), free(att), free(ff), free(w);
}

static void ref_release(reference *r)
{
    free(r->logits), free(r->k), free(r->v);
}

static void small_config(pw_transformer_config *c)
{
    pw_transformer_config_default(c);
    c->d_model = 16;
    c->heads = 2;
    c->layers = 2;
    c->d_ff = 40;
    c->vocab = 37;
    c->context = 160;
    c->seed = 7;
}

static double max_abs_diff(const float *a, const double *b, int n)
{
    double mx = 0;
    for (int i = 0; i < n; i++) mx = fmax(mx, fabs((double)a[i] - b[i]));
    return mx;
}

/* Both the full recomputation and the cache (batched prefill and single-step decode) agree with
 * the reference, for every norm/activation/position choice; the sequence is longer than one
 * attention tile (64 rows) so tile edges are crossed. */
static void test_paths_match_reference(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        pw_transformer_config c;
        small_config(&c);
        if (variant) {
            c.norm = PW_NORM_RMS;
            c.act = PW_ACT_RELU;
            c.pos = PW_POS_SINUSOIDAL;
        }
        pw_alloc *acct = pw_alloc_new();
        pw_transformer *m;
        pw_transformer_work *w;
        pw_kvcache *kv;
        char msg[256];
        assert_int_equal(pw_transformer_new(&c, acct, &m, msg, sizeof msg), PW_OK);
        assert_int_equal(pw_transformer_work_new(m, c.context, acct, &w, msg, sizeof msg), PW_OK);
        assert_int_equal(pw_kvcache_new(m, c.context, acct, &kv, msg, sizeof msg), PW_OK);
        const int n = 70;
        int tok[70];
        for (int i = 0; i < n; i++) tok[i] = (i * 13 + 5) % c.vocab;
        reference ref;
        ref_forward(m, tok, n, &ref);
        float lg[64];
        assert_int_equal(pw_transformer_forward_full(m, w, tok, n, lg, msg, sizeof msg), PW_OK);
        assert_true(max_abs_diff(lg, ref.logits, c.vocab) < 2e-4);
        /* prefill 66 in one batch, then decode the last 4 one at a time */
        assert_int_equal(pw_transformer_prefill(m, kv, w, tok, 66, lg, msg, sizeof msg), PW_OK);
        for (int i = 66; i < n; i++)
            assert_int_equal(pw_transformer_decode(m, kv, w, tok[i], lg, msg, sizeof msg), PW_OK);
        assert_int_equal(pw_kvcache_len(kv), n);
        assert_true(max_abs_diff(lg, ref.logits, c.vocab) < 2e-4);
        /* Cache layout: the key/value of position p in layer l sits at (l·capacity + p)·d. */
        const float *K = pw_kvcache_keys(kv), *V = pw_kvcache_values(kv);
        const size_t d = (size_t)c.d_model, cap = (size_t)pw_kvcache_capacity(kv);
        for (int l = 0; l < c.layers; l++)
            for (int p = 0; p < n; p++) {
                const float *kp = K + ((size_t)l * cap + (size_t)p) * d;
                const float *vp = V + ((size_t)l * cap + (size_t)p) * d;
                const double *rk = ref.k + ((size_t)l * n + p) * d;
                const double *rv = ref.v + ((size_t)l * n + p) * d;
                assert_true(max_abs_diff(kp, rk, (int)d) < 1e-4);
                assert_true(max_abs_diff(vp, rv, (int)d) < 1e-4);
            }
        ref_release(&ref);
        pw_kvcache_free(kv);
        pw_transformer_work_free(w);
        pw_transformer_free(m);
        assert_int_equal(pw_alloc_current(acct, NULL), 0);
        pw_alloc_free(acct);
    }
}

/* 64 greedy steps both ways from the same prompt: the same tokens, logits within 1e-4. */
static void test_cached_equals_full(void **state)
{
    (void)state;
    pw_transformer_config c;
    small_config(&c);
    c.d_model = 32;
    c.heads = 4;
    c.vocab = 64;
    pw_alloc *acct = pw_alloc_new();
    pw_transformer *m;
    pw_transformer_work *w;
    pw_kvcache *kv;
    char msg[256];
    assert_int_equal(pw_transformer_new(&c, acct, &m, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_transformer_work_new(m, c.context, acct, &w, msg, sizeof msg), PW_OK);
    const int prompt = 5, steps = 64;
    assert_int_equal(pw_kvcache_new(m, prompt + steps, acct, &kv, msg, sizeof msg), PW_OK);
    int a[80], b[80];
    for (int i = 0; i < prompt; i++) a[i] = b[i] = (7 * i + 3) % c.vocab;
    float *la = malloc(sizeof(float) * steps * c.vocab), *lb = malloc(sizeof(float) * steps * c.vocab);
    assert_int_equal(pw_transformer_generate_full(m, w, a, prompt, steps, la, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_transformer_generate_cached(m, kv, w, b, prompt, steps, lb, msg, sizeof msg),
                     PW_OK);
    assert_memory_equal(a, b, sizeof(int) * (prompt + steps));
    double mx = 0;
    for (int i = 0; i < steps * c.vocab; i++) mx = fmax(mx, fabs((double)la[i] - lb[i]));
    assert_true(mx < 1e-4);
    /* The model is not degenerate: the generated tokens are not all one value. */
    int distinct = 0;
    for (int i = prompt + 1; i < prompt + steps; i++) distinct += a[i] != a[prompt];
    assert_true(distinct > 0);
    /* A second cached generation restarts the cache and repeats itself exactly. */
    int b2[80];
    memcpy(b2, b, sizeof(int) * prompt);
    assert_int_equal(pw_transformer_generate_cached(m, kv, w, b2, prompt, steps, NULL, msg, sizeof msg),
                     PW_OK);
    assert_memory_equal(b, b2, sizeof(int) * (prompt + steps));
    free(la), free(lb);
    pw_kvcache_free(kv);
    pw_transformer_work_free(w);
    pw_transformer_free(m);
    pw_alloc_free(acct);
}

/* The cache's bytes, as the accounting allocator counts them, are 2·L·capacity·d·4 exactly. */
static void test_cache_bytes(void **state)
{
    (void)state;
    pw_transformer_config c;
    small_config(&c);
    pw_alloc *acct = pw_alloc_new();
    pw_transformer *m;
    char msg[256];
    assert_int_equal(pw_transformer_new(&c, acct, &m, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_alloc_current(acct, "kv_cache"), 0);
    const int caps[] = {1, 32, 64, 160};
    for (size_t i = 0; i < 4; i++) {
        pw_kvcache *kv;
        assert_int_equal(pw_kvcache_new(m, caps[i], acct, &kv, msg, sizeof msg), PW_OK);
        size_t want = 2u * (size_t)c.layers * (size_t)caps[i] * (size_t)c.d_model * 4u;
        assert_int_equal(pw_alloc_current(acct, "kv_cache"), want);
        assert_int_equal(pw_kvcache_bytes(kv), want);
        pw_kvcache_free(kv);
        assert_int_equal(pw_alloc_current(acct, "kv_cache"), 0);
    }
    assert_int_equal(pw_alloc_peak(acct, "kv_cache"), 2u * 2 * 160 * 16 * 4);
    pw_transformer_free(m);
    pw_alloc_free(acct);
}

static void test_overflow_and_errors(void **state)
{
    (void)state;
    pw_transformer_config c;
    small_config(&c);
    pw_alloc *acct = pw_alloc_new();
    pw_transformer *m;
    pw_transformer_work *w;
    pw_kvcache *kv;
    char msg[256];
    assert_int_equal(pw_transformer_new(&c, acct, &m, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_transformer_work_new(m, c.context, acct, &w, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_kvcache_new(m, c.context + 1, acct, &kv, msg, sizeof msg), PW_ERANGE);
    assert_null(kv);
    assert_non_null(strstr(msg, "context"));
    assert_int_equal(pw_kvcache_new(m, 8, acct, &kv, msg, sizeof msg), PW_OK);
    int tok[200] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float lg[64];
    assert_int_equal(pw_transformer_prefill(m, kv, w, tok, 5, lg, msg, sizeof msg), PW_OK);
    msg[0] = '\0';
    assert_int_equal(pw_transformer_prefill(m, kv, w, tok, 4, lg, msg, sizeof msg), PW_ERANGE);
    assert_non_null(strstr(msg, "kv cache overflow"));
    assert_int_equal(pw_kvcache_len(kv), 5);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pw_transformer_decode(m, kv, w, 1, lg, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_kvcache_len(kv), 8);
    assert_int_equal(pw_transformer_decode(m, kv, w, 1, lg, msg, sizeof msg), PW_ERANGE);
    assert_int_equal(pw_kvcache_len(kv), 8);
    /* generation that would need 9 positions is refused before any work */
    assert_int_equal(pw_transformer_generate_cached(m, kv, w, tok, 3, 7, NULL, msg, sizeof msg),
                     PW_ERANGE);
    assert_non_null(strstr(msg, "9 positions"));
    assert_int_equal(pw_kvcache_len(kv), 8);
    assert_int_equal(pw_transformer_generate_cached(m, kv, w, tok, 3, 6, NULL, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_kvcache_len(kv), 8);
    assert_int_equal(pw_kvcache_truncate(kv, 9), PW_ERANGE);
    assert_int_equal(pw_kvcache_truncate(kv, 2), PW_OK);
    assert_int_equal(pw_kvcache_len(kv), 2);
    /* the full path is bounded by the context */
    assert_int_equal(pw_transformer_forward_full(m, w, tok, c.context + 1, lg, msg, sizeof msg),
                     PW_ERANGE);
    assert_int_equal(pw_transformer_generate_full(m, w, tok, 100, 62, NULL, msg, sizeof msg),
                     PW_ERANGE);
    assert_non_null(strstr(msg, "context"));
    /* bad tokens and bad configurations */
    int bad[] = {1, 99};
    assert_int_equal(pw_transformer_forward_full(m, w, bad, 2, lg, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "vocabulary"));
    assert_int_equal(pw_transformer_decode(m, kv, w, -1, lg, msg, sizeof msg), PW_EINVAL);
    assert_int_equal(pw_kvcache_len(kv), 2);
    assert_int_equal(pw_transformer_generate_full(m, w, tok, 0, 3, NULL, msg, sizeof msg), PW_EINVAL);
    pw_transformer_config badc = c;
    badc.heads = 3;
    pw_transformer *none;
    assert_int_equal(pw_transformer_new(&badc, acct, &none, msg, sizeof msg), PW_EINVAL);
    assert_null(none);
    assert_non_null(strstr(msg, "multiple of heads"));
    pw_kvcache_free(kv);
    pw_transformer_work_free(w);
    pw_transformer_free(m);
    pw_alloc_free(acct);
}

/* Same seed, same weights; another seed, other weights. */
static void test_determinism(void **state)
{
    (void)state;
    pw_transformer_config c;
    small_config(&c);
    pw_alloc *acct = pw_alloc_new();
    pw_transformer *m1, *m2, *m3;
    char msg[256];
    assert_int_equal(pw_transformer_new(&c, acct, &m1, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_transformer_new(&c, acct, &m2, msg, sizeof msg), PW_OK);
    c.seed = 8;
    assert_int_equal(pw_transformer_new(&c, acct, &m3, msg, sizeof msg), PW_OK);
    pw_transformer_layer a, b, o;
    pw_transformer_layer_view(m1, 1, &a);
    pw_transformer_layer_view(m2, 1, &b);
    pw_transformer_layer_view(m3, 1, &o);
    const size_t n = 16 * 40;
    assert_memory_equal(a.w1, b.w1, n * sizeof(float));
    assert_memory_not_equal(a.w1, o.w1, n * sizeof(float));
    /* weights are scaled by 1/sqrt(fan-in): the sample variance of W1 is near 1/16 */
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)a.w1[i] * a.w1[i];
    assert_true(ss / n > 0.04 && ss / n < 0.09);
    assert_int_equal(pw_transformer_layer_view(m1, 2, &a), PW_ERANGE);
    pw_transformer_free(m1), pw_transformer_free(m2), pw_transformer_free(m3);
    pw_alloc_free(acct);
}

/* d 4, 1 head, 1 layer, d_ff 8, vocab 10: forward(start 0, n 3) =
 *   QKV 2·3·4·12 = 288, Wo 2·3·4·4 = 96, MLP 2·2·3·4·8 = 384, attention 4·4·(1+2+3) = 96,
 *   logits 2·4·10 = 80  → 944.
 * One cached step at length 4 (start 3, n 1): 2·4·12 + 2·4·4 + 4·4·8 + 4·4·(3+1) + 80
 *   = 96 + 32 + 128 + 64 + 80 = 400. */
static void test_flops(void **state)
{
    (void)state;
    pw_transformer_config c;
    pw_transformer_config_default(&c);
    c.d_model = 4, c.heads = 1, c.layers = 1, c.d_ff = 8, c.vocab = 10;
    assert_close(pw_transformer_flops_forward(&c, 0, 3), 944, 0);
    assert_close(pw_transformer_flops_step_full(&c, 3), 944, 0);
    assert_close(pw_transformer_flops_step_cached(&c, 4), 400, 0);
    /* prompt 3, 2 tokens: full = F(0,3) + F(0,4); cached = F(0,3) + F(3,1) */
    double f04 = 2 * 4 * 4 * 12 + 2 * 4 * 4 * 4 + 4 * 4 * 4 * 8 + 4 * 4 * 10 + 80;
    assert_close(pw_transformer_flops_generate_full(&c, 3, 2), 944 + f04, 0);
    assert_close(pw_transformer_flops_generate_cached(&c, 3, 2), 944 + 400, 0);
    assert_close(pw_transformer_flops_generate_cached(&c, 3, 0), 0, 0);
}

/* The traffic of a cached step, two independent ways: by hand for d 4, 1 layer, d_ff 8, vocab
 * 10, and from the accounting allocator's "weights" bytes of a real model (every tensor the
 * model allocated) less the embedding rows a step does not look up.
 * By hand, floats: layer = norms 16 + QKV 48 + 12 + Wo 16 + 4 + W1 32 + 8 + W2 32 + 4 = 172;
 * ends = token row 4 + position row 4 + final norm 8 + output projection 40 = 56;
 * K and V at length 5: 2·5·4 read + 2·4 written = 48  → 4·(56 + 172 + 48) = 1104 bytes. */
static void test_step_bytes(void **state)
{
    (void)state;
    pw_transformer_config c;
    pw_transformer_config_default(&c);
    c.d_model = 4, c.heads = 1, c.layers = 1, c.d_ff = 8, c.vocab = 10;
    assert_close(pw_transformer_bytes_step_cached(&c, 5), 1104, 0);
    assert_close(pw_transformer_bytes_step_cached(&c, 6) - pw_transformer_bytes_step_cached(&c, 5),
                 4.0 * 2 * 4, 0);
    for (int variant = 0; variant < 2; variant++) {
        small_config(&c);
        if (variant) c.norm = PW_NORM_RMS;  /* the bias is allocated and read (zero) all the same */
        pw_alloc *acct = pw_alloc_new();
        pw_transformer *m = NULL;
        assert_int_equal(pw_transformer_new(&c, acct, &m, NULL, 0), PW_OK);
        const double d = c.d_model, unused = 4.0 * ((c.vocab - 1) + (c.context - 1)) * d;
        const double weights = (double)pw_alloc_current(acct, "weights") - unused;
        for (long len = 1; len <= c.context; len += 53) {
            double kv = 4.0 * c.layers * (2.0 * (double)len * d + 2 * d);
            assert_close(pw_transformer_bytes_step_cached(&c, len), weights + kv, 0);
        }
        pw_transformer_free(m);
        pw_alloc_free(acct);
    }
}

static int setup_blas(void **state)
{
    (void)state;
    openblas_set_num_threads(1);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_by_hand),
        cmocka_unit_test(test_paths_match_reference),
        cmocka_unit_test(test_cached_equals_full),
        cmocka_unit_test(test_cache_bytes),
        cmocka_unit_test(test_overflow_and_errors),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_flops),
        cmocka_unit_test(test_step_bytes),
    };
    return cmocka_run_group_tests_name("transformer", tests, setup_blas, NULL);
}
