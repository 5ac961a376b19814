/* flops.c — analytical FLOP formulas and the instrumented reference kernels of flops.h.  Each
 * kernel is written once as an always-inlined body taking a compile-time `counting` flag, so the
 * plain and the counting kernel execute exactly the same arithmetic; the counter increments sit
 * beside the operations they count. */
#include "perfweave/flops.h"

#include <math.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))
/* Each body counts into a local tally (kept in registers by the compiler) and adds it to *cnt
 * once, at its end: a store to *cnt inside the loops would be a memory dependency on every dot
 * product, whose cost depends on where the counter happens to live (store forwarding, 4K
 * aliasing with the operands).  COUNT counts k operations of kind f when counting (resolved at
 * compile time in each instantiation); TALLY declares the tally and FLUSH adds it to *cnt. */
#define TALLY pw_flops lc = {0}
#define COUNT(f, k) do { if (counting) lc.f += (k); } while (0)
#define FLUSH do { if (counting) pw_flops_accumulate(cnt, &lc); } while (0)

uint64_t pw_flops_total(const pw_flops *f, pw_flops_convention conv)
{
    uint64_t other = f->add + f->mul + f->div + f->exp + f->sqrt + f->cmp;
    return (conv == PW_FLOPS_STANDARD ? 2 * f->mac : f->mac) + other;
}

void pw_flops_accumulate(pw_flops *acc, const pw_flops *x)
{
    acc->mac += x->mac;
    acc->add += x->add;
    acc->mul += x->mul;
    acc->div += x->div;
    acc->exp += x->exp;
    acc->sqrt += x->sqrt;
    acc->cmp += x->cmp;
}

bool pw_flops_equal(const pw_flops *a, const pw_flops *b)
{
    return a->mac == b->mac && a->add == b->add && a->mul == b->mul && a->div == b->div &&
           a->exp == b->exp && a->sqrt == b->sqrt && a->cmp == b->cmp;
}

/* ============================================================================================ */
/* analytical counts                                                                            */

pw_flops pw_flops_matmul(size_t m, size_t k, size_t n)
{
    pw_flops f = {0};
    f.mac = (uint64_t)m * k * n;
    return f;
}

pw_flops pw_flops_linear(size_t batch, size_t in, size_t out)
{
    pw_flops f = pw_flops_matmul(batch, in, out);
    f.add = (uint64_t)batch * out; /* the bias */
    return f;
}

pw_flops pw_flops_conv2d(const pw_conv2d_shape *s)
{
    pw_flops f = {0};
    uint64_t ho = s->h >= s->kh ? s->h - s->kh + 1 : 0, wo = s->w >= s->kw ? s->w - s->kw + 1 : 0;
    uint64_t outputs = (uint64_t)s->batch * s->cout * ho * wo;
    f.mac = outputs * s->cin * s->kh * s->kw;
    f.add = outputs; /* the bias */
    return f;
}

pw_flops pw_flops_relu(size_t n)
{
    pw_flops f = {0};
    f.cmp = n;
    return f;
}

pw_flops pw_flops_softmax(size_t rows, size_t len)
{
    /* Per row: running max (len cmp), x − max and the sum (2·len add), exp (len), normalise (len div). */
    pw_flops f = {0};
    uint64_t e = (uint64_t)rows * len;
    f.cmp = e;
    f.add = 2 * e;
    f.exp = e;
    f.div = e;
    return f;
}

pw_flops pw_flops_layernorm(size_t rows, size_t d)
{
    /* Per row: sum (d add), mean (1 div), centre (d add), sum of squares (d mac), variance (1 div),
     * 1/sqrt(var + eps) (1 add, 1 sqrt, 1 div), scale by it (d mul), gain and bias (d mac). */
    pw_flops f = {0};
    f.add = (uint64_t)rows * (2 * (uint64_t)d + 1);
    f.div = (uint64_t)rows * 3;
    f.mac = (uint64_t)rows * 2 * d;
    f.mul = (uint64_t)rows * d;
    f.sqrt = rows;
    return f;
}

pw_flops pw_flops_attention(const pw_attention_shape *s)
{
    uint64_t t = s->seq, d = s->d_model, h = s->heads;
    /* Scores each query computes, summed over queries: all t keys, or keys 0..i when causal. */
    uint64_t pairs = s->causal ? t * (t + 1) / 2 : t * t;
    pw_flops f = pw_flops_linear(t, d, d), proj = f;
    pw_flops_accumulate(&f, &proj);
    pw_flops_accumulate(&f, &proj);
    pw_flops_accumulate(&f, &proj); /* Q, K, V and the output projection */
    /* q·k over dh = d/h per score and head, then p·V likewise: 2 · pairs · dh · h = 2 · pairs · d. */
    f.mac += 2 * pairs * d;
    f.mul += h * pairs; /* scaling each score */
    pw_flops sm = pw_flops_softmax(h * pairs, 1);
    pw_flops_accumulate(&f, &sm); /* softmax is linear in the number of scores */
    f.sqrt += 1;                  /* the scale 1/sqrt(dh), once per call */
    f.div += 1;
    return f;
}

pw_flops pw_flops_mlp(size_t batch, const size_t *widths, size_t nw)
{
    pw_flops f = {0};
    for (size_t l = 0; l + 1 < nw; l++) {
        pw_flops lin = pw_flops_linear(batch, widths[l], widths[l + 1]);
        pw_flops_accumulate(&f, &lin);
        if (l + 2 < nw) {
            pw_flops r = pw_flops_relu(batch * widths[l + 1]);
            pw_flops_accumulate(&f, &r);
        }
    }
    return f;
}

pw_flops pw_flops_block(const pw_block_shape *s)
{
    size_t t = s->attn.seq, d = s->attn.d_model;
    pw_flops f = pw_flops_layernorm(t, d), x;
    x = pw_flops_attention(&s->attn);
    pw_flops_accumulate(&f, &x);
    x = pw_flops_layernorm(t, d);
    pw_flops_accumulate(&f, &x);
    size_t widths[3] = {d, s->d_ff, d};
    x = pw_flops_mlp(t, widths, 3);
    pw_flops_accumulate(&f, &x);
    f.add += 2 * (uint64_t)t * d; /* the two residual additions */
    return f;
}

/* ============================================================================================ */
/* instrumented kernels                                                                         */

INLINE void matmul_body(pw_flops *cnt, const bool counting, size_t m, size_t k, size_t n,
                        const float *restrict a, const float *restrict b, float *restrict c)
{
    TALLY;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float s = 0;
            for (size_t p = 0; p < k; p++) {
                s += a[i * k + p] * b[p * n + j];
                COUNT(mac, 1);
            }
            c[i * n + j] = s;
        }
    FLUSH;
}

INLINE void linear_body(pw_flops *cnt, const bool counting, size_t batch, size_t in, size_t out,
                        const float *restrict x, const float *restrict w,
                        const float *restrict bias, float *restrict y)
{
    TALLY;
    for (size_t i = 0; i < batch; i++)
        for (size_t j = 0; j < out; j++) {
            float s = 0;
            for (size_t p = 0; p < in; p++) {
                s += x[i * in + p] * w[p * out + j];
                COUNT(mac, 1);
            }
            y[i * out + j] = s + bias[j];
            COUNT(add, 1);
        }
    FLUSH;
}

INLINE void relu_body(pw_flops *cnt, const bool counting, size_t n, float *x)
{
    TALLY;
    for (size_t i = 0; i < n; i++) {
        x[i] = x[i] > 0 ? x[i] : 0;
        COUNT(cmp, 1);
    }
    FLUSH;
}

INLINE void softmax_body(pw_flops *cnt, const bool counting, size_t rows, size_t len, float *x)
{
    TALLY;
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * len, mx = -INFINITY, sum = 0;
        for (size_t j = 0; j < len; j++) {
            mx = row[j] > mx ? row[j] : mx;
            COUNT(cmp, 1);
        }
        for (size_t j = 0; j < len; j++) {
            row[j] = expf(row[j] - mx);
            COUNT(add, 1);
            COUNT(exp, 1);
            sum += row[j];
            COUNT(add, 1);
        }
        for (size_t j = 0; j < len; j++) {
            row[j] /= sum;
            COUNT(div, 1);
        }
    }
    FLUSH;
}

INLINE void layernorm_body(pw_flops *cnt, const bool counting, size_t rows, size_t d,
                           const float *restrict x, const float *restrict g,
                           const float *restrict b, float *restrict y)
{
    TALLY;
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d, sum = 0, var = 0;
        for (size_t j = 0; j < d; j++) {
            sum += xr[j];
            COUNT(add, 1);
        }
        float mean = sum / (float)d;
        COUNT(div, 1);
        for (size_t j = 0; j < d; j++) {
            yr[j] = xr[j] - mean;
            COUNT(add, 1);
            var += yr[j] * yr[j];
            COUNT(mac, 1);
        }
        var /= (float)d;
        COUNT(div, 1);
        float rstd = 1.0f / sqrtf(var + 1e-5f);
        COUNT(add, 1);
        COUNT(sqrt, 1);
        COUNT(div, 1);
        for (size_t j = 0; j < d; j++) {
            yr[j] *= rstd;
            COUNT(mul, 1);
            yr[j] = yr[j] * g[j] + b[j];
            COUNT(mac, 1);
        }
    }
    FLUSH;
}

INLINE void conv2d_body(pw_flops *cnt, const bool counting, const pw_conv2d_shape *s,
                        const float *restrict in, const float *restrict w,
                        const float *restrict bias, float *restrict out)
{
    TALLY;
    if (s->h < s->kh || s->w < s->kw) return;
    size_t ho = s->h - s->kh + 1, wo = s->w - s->kw + 1;
    for (size_t bt = 0; bt < s->batch; bt++)
        for (size_t co = 0; co < s->cout; co++)
            for (size_t oy = 0; oy < ho; oy++)
                for (size_t ox = 0; ox < wo; ox++) {
                    float acc = 0;
                    for (size_t ci = 0; ci < s->cin; ci++) {
                        const float *ip = in + ((bt * s->cin + ci) * s->h + oy) * s->w + ox;
                        const float *wp = w + (co * s->cin + ci) * s->kh * s->kw;
                        for (size_t ky = 0; ky < s->kh; ky++)
                            for (size_t kx = 0; kx < s->kw; kx++) {
                                acc += ip[ky * s->w + kx] * wp[ky * s->kw + kx];
                                COUNT(mac, 1);
                            }
                    }
                    out[((bt * s->cout + co) * ho + oy) * wo + ox] = acc + bias[co];
                    COUNT(add, 1);
                }
    FLUSH;
}

INLINE void attention_body(pw_flops *cnt, const bool counting, const pw_attention_shape *s,
                           const pw_attention_weights *wt, const float *x, float *y,
                           float *scratch)
{
    TALLY;
    size_t t = s->seq, d = s->d_model, dh = s->heads ? d / s->heads : 0;
    float *q = scratch, *k = q + t * d, *v = k + t * d, *ctx = v + t * d, *p = ctx + t * d;
    linear_body(cnt, counting, t, d, d, x, wt->wq, wt->bq, q);
    linear_body(cnt, counting, t, d, d, x, wt->wk, wt->bk, k);
    linear_body(cnt, counting, t, d, d, x, wt->wv, wt->bv, v);
    float scale = 1.0f / sqrtf((float)dh);
    COUNT(sqrt, 1);
    COUNT(div, 1);
    for (size_t h = 0; h < s->heads; h++)
        for (size_t i = 0; i < t; i++) {
            size_t keys = s->causal ? i + 1 : t;
            const float *qi = q + i * d + h * dh;
            for (size_t j = 0; j < keys; j++) {
                const float *kj = k + j * d + h * dh;
                float dot = 0;
                for (size_t e = 0; e < dh; e++) {
                    dot += qi[e] * kj[e];
                    COUNT(mac, 1);
                }
                p[j] = dot * scale;
                COUNT(mul, 1);
            }
            softmax_body(cnt, counting, 1, keys, p);
            float *ci = ctx + i * d + h * dh;
            for (size_t e = 0; e < dh; e++) {
                float acc = 0;
                for (size_t j = 0; j < keys; j++) {
                    acc += p[j] * v[j * d + h * dh + e];
                    COUNT(mac, 1);
                }
                ci[e] = acc;
            }
        }
    linear_body(cnt, counting, t, d, d, ctx, wt->wo, wt->bo, y);
    FLUSH;
}

INLINE void mlp_body(pw_flops *cnt, const bool counting, size_t batch, const pw_mlp_weights *wt,
                     const float *x, float *y, float *scratch)
{
    TALLY;
    size_t widest = 0;
    for (size_t l = 1; l + 1 < wt->nw; l++)
        if (wt->widths[l] > widest) widest = wt->widths[l];
    float *buf[2] = {scratch, scratch + batch * widest};
    const float *src = x;
    for (size_t l = 0; l + 1 < wt->nw; l++) {
        bool last = l + 2 == wt->nw;
        float *dst = last ? y : buf[l % 2];
        linear_body(cnt, counting, batch, wt->widths[l], wt->widths[l + 1], src, wt->w[l],
                    wt->b[l], dst);
        if (!last) relu_body(cnt, counting, batch * wt->widths[l + 1], dst);
        src = dst;
    }
    FLUSH;
}

INLINE void block_body(pw_flops *cnt, const bool counting, const pw_block_shape *s,
                       const pw_block_weights *wt, float *x, float *scratch)
{
    TALLY;
    size_t t = s->attn.seq, d = s->attn.d_model;
    float *h = scratch, *a = h + t * d, *u = a + t * d, *rest = u + t * s->d_ff;
    layernorm_body(cnt, counting, t, d, x, wt->ln1_g, wt->ln1_b, h);
    attention_body(cnt, counting, &s->attn, &wt->attn, h, a, rest);
    for (size_t i = 0; i < t * d; i++) {
        x[i] += a[i];
        COUNT(add, 1);
    }
    layernorm_body(cnt, counting, t, d, x, wt->ln2_g, wt->ln2_b, h);
    linear_body(cnt, counting, t, d, s->d_ff, h, wt->w1, wt->b1, u);
    relu_body(cnt, counting, t * s->d_ff, u);
    linear_body(cnt, counting, t, s->d_ff, d, u, wt->w2, wt->b2, a);
    for (size_t i = 0; i < t * d; i++) {
        x[i] += a[i];
        COUNT(add, 1);
    }
    FLUSH;
}

/* Each exported kernel instantiates its body twice: counting into *cnt, or plain.  The two
 * instantiations have the same inner loops, but where the linker happens to place them differs;
 * on some cores a loop that straddles a 64-byte fetch block runs markedly slower than the same
 * loop inside one, which the overhead experiment would misread as the cost of counting.  Loops
 * of the exported kernels are therefore aligned to 64 bytes. */
#define KERNEL __attribute__((optimize("align-loops=64")))
#define DISPATCH(body, ...)                                                                       \
    do {                                                                                          \
        if (cnt) body(cnt, true, __VA_ARGS__);                                                    \
        else body(NULL, false, __VA_ARGS__);                                                      \
    } while (0)

KERNEL void pw_ref_matmul(pw_flops *cnt, size_t m, size_t k, size_t n, const float *restrict a,
                   const float *restrict b, float *restrict c)
{
    DISPATCH(matmul_body, m, k, n, a, b, c);
}

KERNEL void pw_ref_linear(pw_flops *cnt, size_t batch, size_t in, size_t out, const float *restrict x,
                   const float *restrict w, const float *restrict bias, float *restrict y)
{
    DISPATCH(linear_body, batch, in, out, x, w, bias, y);
}

KERNEL void pw_ref_relu(pw_flops *cnt, size_t n, float *x)
{
    DISPATCH(relu_body, n, x);
}

KERNEL void pw_ref_softmax(pw_flops *cnt, size_t rows, size_t len, float *x)
{
    DISPATCH(softmax_body, rows, len, x);
}

KERNEL void pw_ref_layernorm(pw_flops *cnt, size_t rows, size_t d, const float *restrict x,
                      const float *restrict g, const float *restrict b, float *restrict y)
{
    DISPATCH(layernorm_body, rows, d, x, g, b, y);
}

KERNEL void pw_ref_conv2d(pw_flops *cnt, const pw_conv2d_shape *s, const float *restrict in,
                   const float *restrict w, const float *restrict bias, float *restrict out)
{
    DISPATCH(conv2d_body, s, in, w, bias, out);
}

size_t pw_ref_attention_scratch(const pw_attention_shape *s)
{
    return 4 * s->seq * s->d_model + s->seq;
}

KERNEL void pw_ref_attention(pw_flops *cnt, const pw_attention_shape *s, const pw_attention_weights *wt,
                      const float *x, float *y, float *scratch)
{
    DISPATCH(attention_body, s, wt, x, y, scratch);
}

size_t pw_ref_mlp_scratch(size_t batch, const pw_mlp_weights *wt)
{
    size_t widest = 0;
    for (size_t l = 1; l + 1 < wt->nw; l++)
        if (wt->widths[l] > widest) widest = wt->widths[l];
    return 2 * batch * widest;
}

KERNEL void pw_ref_mlp(pw_flops *cnt, size_t batch, const pw_mlp_weights *wt, const float *x, float *y,
                float *scratch)
{
    DISPATCH(mlp_body, batch, wt, x, y, scratch);
}

size_t pw_ref_block_scratch(const pw_block_shape *s)
{
    size_t t = s->attn.seq, d = s->attn.d_model;
    return 2 * t * d + t * s->d_ff + pw_ref_attention_scratch(&s->attn);
}

KERNEL void pw_ref_block(pw_flops *cnt, const pw_block_shape *s, const pw_block_weights *wt, float *x,
                  float *scratch)
{
    DISPATCH(block_body, s, wt, x, scratch);
}
