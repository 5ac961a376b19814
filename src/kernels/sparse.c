/* sparse.c — CSR storage, the CSR × dense kernel (portable and AVX2/FMA) and feature-major
 * forward passes of the MLP, sparse and dense, for the compression experiment.  The AVX2 path
 * exists only in x86 builds without PW_NO_SIMD and runs only where cpu.h says AVX2+FMA is
 * usable. */
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>

#include "perfweave/common.h"
#include "perfweave/cpu.h"
#include "perfweave/sparse.h"
#include "simd.h"

int pw_csr_from_dense(const float *w, size_t rows, size_t cols, pw_csr *out)
{
    memset(out, 0, sizeof *out);
    if (cols > 65535) return PW_ERANGE;
    size_t nnz = 0;
    for (size_t i = 0; i < rows * cols; i++) nnz += w[i] != 0.0f;
    if (nnz > UINT32_MAX) return PW_ERANGE;
    out->rows = rows;
    out->cols = cols;
    out->nnz = nnz;
    out->rowptr = pw_xmalloc((rows + 1) * sizeof(uint32_t));
    out->colidx = pw_xmalloc((nnz ? nnz : 1) * sizeof(uint16_t));
    out->val = pw_xmalloc((nnz ? nnz : 1) * sizeof(float));
    size_t k = 0;
    for (size_t r = 0; r < rows; r++) {
        out->rowptr[r] = (uint32_t)k;
        for (size_t c = 0; c < cols; c++) {
            float v = w[r * cols + c];
            if (v != 0.0f) {
                out->colidx[k] = (uint16_t)c;
                out->val[k++] = v;
            }
        }
    }
    out->rowptr[rows] = (uint32_t)k;
    return PW_OK;
}

void pw_csr_release(pw_csr *m)
{
    if (!m) return;
    free(m->rowptr);
    free(m->colidx);
    free(m->val);
    memset(m, 0, sizeof *m);
}

size_t pw_csr_bytes(const pw_csr *m)
{
    return m->nnz * (sizeof(float) + sizeof(uint16_t)) + (m->rows + 1) * sizeof(uint32_t);
}

void pw_csr_to_dense(const pw_csr *m, float *w)
{
    memset(w, 0, m->rows * m->cols * sizeof(float));
    for (size_t r = 0; r < m->rows; r++)
        for (uint32_t k = m->rowptr[r]; k < m->rowptr[r + 1]; k++)
            w[r * m->cols + m->colidx[k]] = m->val[k];
}

/* One row of a sparse matrix-vector product, with four partial sums so that the additions do
 * not wait on each other (a single running sum is bound by floating-point add latency). */
static inline float spmv_row(const pw_csr *A, size_t r, const float *X, size_t ldx)
{
    const uint32_t k0 = A->rowptr[r], k1 = A->rowptr[r + 1];
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t k = k0;
    for (; k + 4 <= k1; k += 4) {
        s0 += A->val[k] * X[(size_t)A->colidx[k] * ldx];
        s1 += A->val[k + 1] * X[(size_t)A->colidx[k + 1] * ldx];
        s2 += A->val[k + 2] * X[(size_t)A->colidx[k + 2] * ldx];
        s3 += A->val[k + 3] * X[(size_t)A->colidx[k + 3] * ldx];
    }
    for (; k < k1; k++) s0 += A->val[k] * X[(size_t)A->colidx[k] * ldx];
    return (s0 + s1) + (s2 + s3);
}

static void spmm_portable(const pw_csr *A, const float *restrict X, size_t n, size_t ldx,
                          float *restrict Y, size_t ldy)
{
    for (size_t r = 0; r < A->rows; r++) {
        float *restrict y = Y + r * ldy;
        if (n == 1) {
            y[0] = spmv_row(A, r, X, ldx);
            continue;
        }
        memset(y, 0, n * sizeof(float));
        for (uint32_t k = A->rowptr[r]; k < A->rowptr[r + 1]; k++) {
            const float v = A->val[k];
            const float *restrict x = X + (size_t)A->colidx[k] * ldx;
            for (size_t t = 0; t < n; t++) y[t] += v * x[t];
        }
    }
}

#ifdef PW_X86_SIMD
/* AVX2/FMA: one output row at a time, the batch in chunks of 32 floats kept in 4 registers
 * while the row's nonzeros stream past (each nonzero: one broadcast, 4 loads, 4 FMAs). */
PW_TARGET_AVX2
static void spmm_avx2(const pw_csr *A, const float *X, size_t n, size_t ldx, float *Y, size_t ldy)
{
    for (size_t r = 0; r < A->rows; r++) {
        float *y = Y + r * ldy;
        const uint32_t k0 = A->rowptr[r], k1 = A->rowptr[r + 1];
        if (n == 1) {
            y[0] = spmv_row(A, r, X, ldx);
            continue;
        }
        size_t t = 0;
        for (; t + 32 <= n; t += 32) {
            __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
            for (uint32_t k = k0; k < k1; k++) {
                __m256 v = _mm256_set1_ps(A->val[k]);
                const float *x = X + (size_t)A->colidx[k] * ldx + t;
                c0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x), c0);
                c1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x + 8), c1);
                c2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x + 16), c2);
                c3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x + 24), c3);
            }
            _mm256_storeu_ps(y + t, c0);
            _mm256_storeu_ps(y + t + 8, c1);
            _mm256_storeu_ps(y + t + 16, c2);
            _mm256_storeu_ps(y + t + 24, c3);
        }
        for (; t + 8 <= n; t += 8) {
            __m256 c0 = _mm256_setzero_ps();
            for (uint32_t k = k0; k < k1; k++)
                c0 = _mm256_fmadd_ps(_mm256_set1_ps(A->val[k]),
                                     _mm256_loadu_ps(X + (size_t)A->colidx[k] * ldx + t), c0);
            _mm256_storeu_ps(y + t, c0);
        }
        for (; t < n; t++) {
            float s = 0;
            for (uint32_t k = k0; k < k1; k++) s += A->val[k] * X[(size_t)A->colidx[k] * ldx + t];
            y[t] = s;
        }
    }
}

#endif /* PW_X86_SIMD */

bool pw_csr_spmm_simd(const pw_cpu_info *cpu)
{
#ifdef PW_X86_SIMD
    return pw_cpu_usable_avx2_fma(cpu);
#else
    (void)cpu;
    return false;
#endif
}

void pw_csr_spmm_on(const pw_cpu_info *cpu, const pw_csr *A, const float *X, size_t n,
                    size_t ldx, float *Y, size_t ldy)
{
    if (n == 0) return;
#ifdef PW_X86_SIMD
    if (pw_csr_spmm_simd(cpu)) {
        spmm_avx2(A, X, n, ldx, Y, ldy);
        return;
    }
#else
    (void)cpu;
#endif
    spmm_portable(A, X, n, ldx, Y, ldy);
}

void pw_csr_spmm(const pw_csr *A, const float *X, size_t n, size_t ldx, float *Y, size_t ldy)
{
    pw_csr_spmm_on(pw_cpu_host(), A, X, n, ldx, Y, ldy);
}

/* --- feature-major MLP ---------------------------------------------------------------------- */
int pw_sparse_mlp_init(pw_sparse_mlp *s, const pw_mlp *m)
{
    memset(s, 0, sizeof *s);
    memcpy(s->dims, m->dims, sizeof s->dims);
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        int st = pw_csr_from_dense(m->w[l], m->dims[l + 1], m->dims[l], &s->w[l]);
        if (st != PW_OK) {
            pw_sparse_mlp_release(s);
            return st;
        }
        s->b[l] = pw_xmalloc(m->dims[l + 1] * sizeof(float));
        memcpy(s->b[l], m->b[l], m->dims[l + 1] * sizeof(float));
    }
    return PW_OK;
}

void pw_sparse_mlp_release(pw_sparse_mlp *s)
{
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        pw_csr_release(&s->w[l]);
        free(s->b[l]);
        s->b[l] = NULL;
    }
}

size_t pw_sparse_mlp_bytes(const pw_sparse_mlp *s)
{
    size_t b = 0;
    for (int l = 0; l < PW_MLP_LAYERS; l++)
        b += pw_csr_bytes(&s->w[l]) + s->dims[l + 1] * sizeof(float);
    return b;
}

size_t pw_mlpt_work_floats(const size_t dims[PW_MLP_LAYERS + 1], size_t n)
{
    return n * (dims[1] + dims[2]);
}

/* y (out × n) += bias per row, then ReLU when relu. */
static void bias_relu_t(float *y, const float *b, size_t out, size_t n, int relu)
{
    for (size_t r = 0; r < out; r++) {
        float *row = y + r * n;
        const float bv = b[r];
        for (size_t t = 0; t < n; t++) {
            float v = row[t] + bv;
            row[t] = relu && v < 0.0f ? 0.0f : v;
        }
    }
}

void pw_sparse_mlp_forward(const pw_sparse_mlp *s, const float *xt, size_t n, float *logits,
                           float *work)
{
    float *a1 = work, *a2 = work + n * s->dims[1];
    const float *in[PW_MLP_LAYERS] = {xt, a1, a2};
    float *out[PW_MLP_LAYERS] = {a1, a2, logits};
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        pw_csr_spmm(&s->w[l], in[l], n, n, out[l], n);
        bias_relu_t(out[l], s->b[l], s->dims[l + 1], n, l + 1 < PW_MLP_LAYERS);
    }
}

void pw_mlp_forward_t(const pw_mlp *m, const float *xt, size_t n, float *logits, float *work)
{
    float *a1 = work, *a2 = work + n * m->dims[1];
    const float *in[PW_MLP_LAYERS] = {xt, a1, a2};
    float *out[PW_MLP_LAYERS] = {a1, a2, logits};
    for (int l = 0; l < PW_MLP_LAYERS; l++) {
        int o = (int)m->dims[l + 1], k = (int)m->dims[l];
        if (n == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, o, k, 1.0f, m->w[l], k, in[l], 1, 0.0f,
                        out[l], 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, o, (int)n, k, 1.0f, m->w[l], k,
                        in[l], (int)n, 0.0f, out[l], (int)n);
        bias_relu_t(out[l], m->b[l], m->dims[l + 1], n, l + 1 < PW_MLP_LAYERS);
    }
}

void pw_pixels_to_t(const uint8_t *pixels, size_t n, size_t d, float *xt)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) xt[j * n + i] = (float)pixels[i * d + j] * (1.0f / 255.0f);
}
