/* quant.c — quantization formats (uint8 activations, per-channel int8 weights), calibration,
 * round-trip error, fixed-point requantization, and the integer forward pass of the MLP. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/quant.h"

/* --- tensors -------------------------------------------------------------------------------- */
int pw_qparams_from_range(float lo, float hi, pw_qparams *out)
{
    if (!isfinite(lo) || !isfinite(hi)) return PW_EINVAL;
    if (lo > 0) lo = 0;
    if (hi < 0) hi = 0;
    if (hi - lo <= 1e-30f) {
        *out = (pw_qparams){1.0f, 0};
        return PW_OK;
    }
    float s = (hi - lo) / 255.0f;
    double z = round(-(double)lo / (double)s);
    out->scale = s;
    out->zero_point = (int32_t)(z < 0 ? 0 : z > 255 ? 255 : z);
    return PW_OK;
}

uint8_t pw_quant_u8(float x, pw_qparams p)
{
    double q = round((double)x / (double)p.scale) + p.zero_point;
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

float pw_dequant_u8(uint8_t q, pw_qparams p)
{
    return p.scale * (float)((int32_t)q - p.zero_point);
}

void pw_quant_u8_array(const float *x, size_t n, pw_qparams p, uint8_t *q)
{
    for (size_t i = 0; i < n; i++) q[i] = pw_quant_u8(x[i], p);
}

void pw_quant_weights_rows(const float *w, size_t rows, size_t cols, int8_t *q, float *scales)
{
    for (size_t r = 0; r < rows; r++) {
        const float *row = w + r * cols;
        float mx = 0;
        for (size_t c = 0; c < cols; c++) mx = fabsf(row[c]) > mx ? fabsf(row[c]) : mx;
        float s = mx > 0 ? mx / 127.0f : 1.0f;
        scales[r] = s;
        for (size_t c = 0; c < cols; c++) {
            double v = round((double)row[c] / (double)s);
            q[r * cols + c] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
        }
    }
}

int pw_calib_minmax(const float *x, size_t n, float *lo, float *hi)
{
    if (n == 0) return PW_EINVAL;
    float a = x[0], b = x[0];
    for (size_t i = 1; i < n; i++) {
        a = x[i] < a ? x[i] : a;
        b = x[i] > b ? x[i] : b;
    }
    if (!isfinite(a) || !isfinite(b)) return PW_EINVAL;
    *lo = a;
    *hi = b;
    return PW_OK;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int pw_calib_percentile(const float *x, size_t n, double pct, float *lo, float *hi)
{
    if (n == 0 || !(pct > 50 && pct <= 100)) return PW_EINVAL;
    float *s = pw_xmalloc(n * sizeof(float));
    memcpy(s, x, n * sizeof(float));
    qsort(s, n, sizeof(float), cmp_float);
    /* Nearest-rank percentiles on the sorted copy. */
    size_t ih = (size_t)ceil(pct / 100.0 * (double)n);
    ih = ih == 0 ? 0 : ih - 1;
    size_t il = (size_t)floor((1.0 - pct / 100.0) * (double)n);
    if (il >= n) il = n - 1;
    *lo = s[il];
    *hi = s[ih < n ? ih : n - 1];
    free(s);
    return isfinite(*lo) && isfinite(*hi) ? PW_OK : PW_EINVAL;
}

void pw_quant_error_of(const float *x, const float *xq, size_t n, pw_quant_error *out)
{
    double mx = 0, sig = 0, noise = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)x[i] - (double)xq[i];
        mx = fabs(d) > mx ? fabs(d) : mx;
        sig += (double)x[i] * (double)x[i];
        noise += d * d;
    }
    out->max_abs = mx;
    out->rel = sig > 0 ? sqrt(noise / sig) : (noise > 0 ? INFINITY : 0);
    out->sqnr_db = noise > 0 ? 10 * log10(sig / noise) : INFINITY;
}

/* --- requantization ------------------------------------------------------------------------- */
int pw_requant_from_real(double m, pw_requant *out)
{
    if (!isfinite(m) || m <= 0 || m >= 1073741824.0) return PW_ERANGE;
    int e;
    double f = frexp(m, &e); /* m = f · 2^e, f in [0.5, 1) */
    int64_t mult = llround(f * 2147483648.0);
    if (mult == 2147483648LL) {
        mult /= 2;
        e++;
    }
    int shift = 31 - e;
    if (shift > 62) {
        /* M < 2^−32: below half a unit for any |acc| < 2^31.  Keep it as 0. */
        *out = (pw_requant){0, 0};
        return PW_OK;
    }
    if (shift < 0) return PW_ERANGE;
    out->mult = (int32_t)mult;
    out->shift = shift;
    return PW_OK;
}

/* --- quantized MLP -------------------------------------------------------------------------- */
struct pw_qmlp {
    size_t dims[PW_MLP_LAYERS + 1];
    pw_qgemm_kind kind;
    /* Stored model. */
    int8_t *wq[PW_MLP_LAYERS];
    float *wscale[PW_MLP_LAYERS];
    int32_t *bias[PW_MLP_LAYERS];      /* round(b / (s_in · s_o)) */
    pw_qparams in[PW_MLP_LAYERS];      /* input activations of each layer */
    /* Derived at construction. */
    int32_t *offset[PW_MLP_LAYERS];    /* bias − z_in · Σ_k wq[o][k] */
    pw_requant *rq[PW_MLP_LAYERS];     /* hidden layers: s_in · s_o / s_out */
    float *outscale;                   /* last layer: s_in · s_o */
    pw_qgemm_b *pb[PW_MLP_LAYERS];
};

void pw_mlp_activations(const pw_mlp *m, const uint8_t *pixels, size_t n, int l, float *out)
{
    float *work = pw_xmalloc(pw_mlp_work_floats(m, n) * sizeof(float));
    float *logits = pw_xmalloc(n * m->dims[3] * sizeof(float));
    pw_mlp_forward(m, pixels, n, logits, work);
    /* pw_mlp_forward leaves x, a1, a2 in work, in that order. */
    const float *src = work + n * m->dims[0];
    if (l == 2) src += n * m->dims[1];
    memcpy(out, src, n * m->dims[l] * sizeof(float));
    free(work);
    free(logits);
}

void pw_qmlp_free(pw_qmlp *q)
{
    if (!q) return;
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        free(q->wq[l]);
        free(q->wscale[l]);
        free(q->bias[l]);
        free(q->offset[l]);
        free(q->rq[l]);
        pw_qgemm_b_free(q->pb[l]);
    }
    free(q->outscale);
    free(q);
}

pw_qmlp *pw_qmlp_new(const pw_mlp *m, const uint8_t *calib_pixels, size_t ncalib,
                     pw_calib method, double pct, pw_qgemm_kind kind)
{
    if (!pw_qgemm_supported(kind) || ncalib == 0) return NULL;
    pw_qmlp *q = pw_xcalloc(1, sizeof *q);
    memcpy(q->dims, m->dims, sizeof q->dims);
    q->kind = kind;
    const size_t *d = m->dims;
    /* Input activation parameters: pixels exactly; hidden layers calibrated. */
    q->in[0] = (pw_qparams){1.0f / 255.0f, 0};
    for (int l = 1; l < PW_MLP_LAYERS; l++) {
        float *act = pw_xmalloc(ncalib * d[l] * sizeof(float));
        pw_mlp_activations(m, calib_pixels, ncalib, l, act);
        float lo = 0, hi = 0;
        int st = method == PW_CALIB_PERCENTILE
                     ? pw_calib_percentile(act, ncalib * d[l], pct, &lo, &hi)
                     : pw_calib_minmax(act, ncalib * d[l], &lo, &hi);
        free(act);
        if (st != PW_OK || pw_qparams_from_range(lo, hi, &q->in[l]) != PW_OK) goto fail;
    }
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        size_t in = d[l], out = d[l + 1];
        q->wq[l] = pw_xmalloc(in * out);
        q->wscale[l] = pw_xmalloc(out * sizeof(float));
        q->bias[l] = pw_xmalloc(out * sizeof(int32_t));
        q->offset[l] = pw_xmalloc(out * sizeof(int32_t));
        pw_quant_weights_rows(m->w[l], out, in, q->wq[l], q->wscale[l]);
        for (size_t o = 0; o < out; o++) {
            double s = (double)q->in[l].scale * (double)q->wscale[l][o];
            double bq = round((double)m->b[l][o] / s);
            if (!(fabs(bq) < 1e9)) goto fail;
            q->bias[l][o] = (int32_t)bq;
            int64_t rowsum = 0;
            for (size_t k = 0; k < in; k++) rowsum += q->wq[l][o * in + k];
            int64_t off = (int64_t)q->bias[l][o] - (int64_t)q->in[l].zero_point * rowsum;
            if (off > INT32_MAX / 2 || off < INT32_MIN / 2) goto fail;
            q->offset[l][o] = (int32_t)off;
        }
        if (l + 1 < PW_MLP_LAYERS) {
            q->rq[l] = pw_xmalloc(out * sizeof(pw_requant));
            for (size_t o = 0; o < out; o++) {
                double M = (double)q->in[l].scale * (double)q->wscale[l][o] /
                           (double)q->in[l + 1].scale;
                if (pw_requant_from_real(M, &q->rq[l][o]) != PW_OK) goto fail;
            }
        } else {
            q->outscale = pw_xmalloc(out * sizeof(float));
            for (size_t o = 0; o < out; o++)
                q->outscale[o] = q->in[l].scale * q->wscale[l][o];
        }
        q->pb[l] = pw_qgemm_pack(kind, q->wq[l], out, in, in);
    }
    return q;
fail:
    pw_qmlp_free(q);
    return NULL;
}

size_t pw_qmlp_bytes(const pw_qmlp *q)
{
    size_t b = 0;
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        size_t in = q->dims[l], out = q->dims[l + 1];
        b += in * out * sizeof(int8_t) + out * sizeof(int32_t) + out * sizeof(float);
        b += sizeof(float) + sizeof(int32_t); /* input activation scale and zero point */
    }
    return b;
}

const int8_t *pw_qmlp_weights(const pw_qmlp *q, int l) { return q->wq[l]; }
const float *pw_qmlp_weight_scales(const pw_qmlp *q, int l) { return q->wscale[l]; }
pw_qparams pw_qmlp_input_params(const pw_qmlp *q, int l) { return q->in[l]; }

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

size_t pw_qmlp_work_bytes(const pw_qmlp *q, size_t n)
{
    size_t w = 0;
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        size_t g = pw_qgemm_work_bytes(q->pb[l], n);
        w = g > w ? g : w;
    }
    size_t widest = q->dims[1] > q->dims[2] ? q->dims[1] : q->dims[2];
    if (q->dims[3] > widest) widest = q->dims[3];
    return align64(w) + align64(n * widest * sizeof(int32_t)) + align64(n * q->dims[1]) +
           align64(n * q->dims[2]) + 64;
}

void pw_qmlp_forward(const pw_qmlp *q, const uint8_t *pixels, size_t n, float *logits, void *work)
{
    const size_t *d = q->dims;
    char *base = (char *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    size_t gw = 0;
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        size_t g = pw_qgemm_work_bytes(q->pb[l], n);
        gw = g > gw ? g : gw;
    }
    size_t widest = d[1] > d[2] ? d[1] : d[2];
    if (d[3] > widest) widest = d[3];
    void *gwork = base;
    int32_t *acc = (int32_t *)(base + align64(gw));
    uint8_t *a1 = (uint8_t *)acc + align64(n * widest * sizeof(int32_t));
    uint8_t *a2 = a1 + align64(n * d[1]);
    const uint8_t *x = pixels;
    uint8_t *outs[2] = {a1, a2};
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        size_t in = d[l], out = d[l + 1];
        pw_qgemm_run(q->pb[l], n, x, in, acc, out, gwork);
        const int32_t *off = q->offset[l];
        if (l + 1 < PW_MLP_LAYERS) {
            /* Integer requantization with the ReLU fused as the lower clamp at z_out. */
            int32_t z = q->in[l + 1].zero_point;
            const pw_requant *rq = q->rq[l];
            uint8_t *y = outs[l];
            for (size_t i = 0; i < n; i++)
                for (size_t o = 0; o < out; o++)
                    y[i * out + o] = pw_requant_u8(acc[i * out + o] + off[o], rq[o], z, z);
            x = y;
        } else {
            for (size_t i = 0; i < n; i++)
                for (size_t o = 0; o < out; o++)
                    logits[i * out + o] = (float)(acc[i * out + o] + off[o]) * q->outscale[o];
        }
    }
}

double pw_qmlp_evaluate(const pw_qmlp *q, const pw_mnist *d, uint8_t *pred)
{
    const size_t chunk = 500, in = q->dims[0], out = q->dims[3];
    void *work = pw_xmalloc(pw_qmlp_work_bytes(q, chunk));
    float *logits = pw_xmalloc(chunk * out * sizeof(float));
    size_t correct = 0;
    for (size_t s = 0; s < d->n; s += chunk) {
        size_t c = d->n - s < chunk ? d->n - s : chunk;
        pw_qmlp_forward(q, d->pixels + s * in, c, logits, work);
        for (size_t i = 0; i < c; i++) {
            const float *v = logits + i * out;
            size_t best = 0;
            for (size_t j = 1; j < out; j++)
                if (v[j] > v[best]) best = j;
            if (pred) pred[s + i] = (uint8_t)best;
            correct += best == d->labels[s + i];
        }
    }
    free(work);
    free(logits);
    return d->n ? (double)correct / (double)d->n : NAN;
}

/* --- the independent reference pass --------------------------------------------------------- */
int pw_qmlp_forward_ref(const pw_qmlp *q, const uint8_t *pixels, size_t n, float *logits)
{
    const size_t *d = q->dims;
    int st = PW_OK;
    size_t widest = 0;
    for (int l = 1; l <= PW_MLP_LAYERS; l++) widest = d[l] > widest ? d[l] : widest;
    int32_t *acc = pw_xmalloc((n * widest + 1) * sizeof(int32_t));
    uint8_t *h[2] = {pw_xmalloc(n * widest + 1), pw_xmalloc(n * widest + 1)};
    const uint8_t *x = pixels;
    for (int l = 0; l < PW_MLP_LAYERS && st == PW_OK; l++) {
        size_t in = d[l], out = d[l + 1];
        const int8_t *w = q->wq[l];
        int32_t zin = q->in[l].zero_point;
        uint8_t *y = h[l % 2];
        pw_qgemm_ref(n, out, in, x, in, w, in, acc, out);
        for (size_t o = 0; o < out && st == PW_OK; o++) {
            /* Σ_k (x − z_in) · w = Σ_k x · w − z_in · Σ_k w, plus the stored bias. */
            int64_t rowsum = 0;
            for (size_t k = 0; k < in; k++) rowsum += w[o * in + k];
            int64_t corr = (int64_t)q->bias[l][o] - (int64_t)zin * rowsum;
            if (l + 1 < PW_MLP_LAYERS) {
                pw_requant rq;
                double M = (double)q->in[l].scale * (double)q->wscale[l][o] /
                           (double)q->in[l + 1].scale;
                if (pw_requant_from_real(M, &rq) != PW_OK) {
                    st = PW_EINTERNAL;
                    break;
                }
                int32_t z = q->in[l + 1].zero_point;
                for (size_t i = 0; i < n; i++)
                    y[i * out + o] =
                        pw_requant_u8((int32_t)((int64_t)acc[i * out + o] + corr), rq, z, z);
            } else {
                float s = q->in[l].scale * q->wscale[l][o];
                for (size_t i = 0; i < n; i++)
                    logits[i * out + o] = (float)(int32_t)((int64_t)acc[i * out + o] + corr) * s;
            }
        }
        x = y;
    }
    free(acc);
    free(h[0]);
    free(h[1]);
    return st;
}

int pw_qmlp_check(const pw_qmlp *q, const uint8_t *pixels, size_t n, char *msg, size_t msglen)
{
    const size_t K = q->dims[PW_MLP_LAYERS];
    float *got = pw_xmalloc((n * K + 1) * sizeof(float)), *want = pw_xmalloc((n * K + 1) * sizeof(float));
    void *work = pw_xmalloc(pw_qmlp_work_bytes(q, n));
    int st = pw_qmlp_forward_ref(q, pixels, n, want);
    if (st != PW_OK) {
        if (msglen) snprintf(msg, msglen, "the reference pass cannot rebuild a requantization multiplier");
    } else {
        pw_qmlp_forward(q, pixels, n, got, work);
        for (size_t i = 0; i < n * K; i++)
            if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
                if (msglen)
                    snprintf(msg, msglen, "image %zu, class %zu: the %s forward pass gives %.9g, "
                             "the scalar reference %.9g", i / K, i % K, pw_qgemm_name(q->kind),
                             (double)got[i], (double)want[i]);
                st = PW_ERANGE;
                break;
            }
    }
    free(got);
    free(want);
    free(work);
    return st;
}
