/* sparse.h — magnitude pruning of the report's MLP (unstructured per layer or global, and
 * structured by whole neurons) and real sparse storage and inference: CSR matrices and a CSR ×
 * dense kernel, so that a pruned model's bytes and time are measured, not assumed.
 *
 * Layout for sparse inference: activations are feature-major (features × batch, row-major), so
 * that layer l computes Y (out × n) = W (out × in) · X (in × n) and each nonzero w[r][c] adds
 * w · X[c, ·] to Y[r, ·]: a contiguous AXPY over the batch.  The dense baseline uses the same
 * layout with one sgemm per layer. */
#ifndef PERFWEAVE_SPARSE_H
#define PERFWEAVE_SPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perfweave/cpu.h"
#include "perfweave/mlp.h"

/* --- CSR ------------------------------------------------------------------------------------ */
/* rows × cols with nnz stored entries: row r's entries are val[rowptr[r] .. rowptr[r+1]) at
 * columns colidx[…] (ascending).  uint16 column indices (cols <= 65535) keep storage honest. */
typedef struct {
    size_t rows, cols, nnz;
    uint32_t *rowptr;  /* rows + 1 */
    uint16_t *colidx;  /* nnz */
    float *val;        /* nnz */
} pw_csr;

/* CSR of the nonzero entries of dense w (rows × cols, row-major).  Returns PW_OK, or PW_ERANGE
 * when cols > 65535 or nnz > 2^32 − 1.  Release with pw_csr_release. */
int pw_csr_from_dense(const float *w, size_t rows, size_t cols, pw_csr *out);
void pw_csr_release(pw_csr *m);
/* Bytes stored: nnz × (4 + 2) + (rows + 1) × 4. */
size_t pw_csr_bytes(const pw_csr *m);
/* Writes the dense rows × cols matrix (zeros where nothing is stored). */
void pw_csr_to_dense(const pw_csr *m, float *w);

/* Y (rows × n, row stride ldy) = A · X, X cols × n (stride ldx); Y is overwritten.  Runs the
 * AVX2/FMA path when pw_csr_spmm_simd(cpu), else portable C; pw_csr_spmm decides for the running
 * CPU (pw_cpu_host). */
void pw_csr_spmm_on(const pw_cpu_info *cpu, const pw_csr *A, const float *X, size_t n,
                    size_t ldx, float *Y, size_t ldy);
void pw_csr_spmm(const pw_csr *A, const float *X, size_t n, size_t ldx, float *Y, size_t ldy);
/* Whether pw_csr_spmm_on takes its AVX2/FMA path on cpu: compiled in (x86 without PW_NO_SIMD)
 * and AVX2+FMA usable (cpu.h). */
bool pw_csr_spmm_simd(const pw_cpu_info *cpu);

/* --- pruning -------------------------------------------------------------------------------- */
/* Zeros the floor(sparsity · n) entries of w with the smallest magnitude (ties: lower index
 * first), counting entries that are already zero.  sparsity in [0, 1]. */
void pw_prune_magnitude(float *w, size_t n, double sparsity);
/* Per-layer unstructured pruning: each layer's weights to the same sparsity (biases kept). */
void pw_prune_layers(pw_mlp *m, double sparsity);
/* Global unstructured pruning: one magnitude threshold across all layers' weights. */
void pw_prune_global(pw_mlp *m, double sparsity);
/* Structured pruning: removes round(fraction · width) neurons of each hidden layer, those whose
 * incoming weights have the smallest L2 norm, and returns the smaller dense network (their
 * rows, biases and the next layer's columns removed); the caller frees it. */
pw_mlp *pw_prune_neurons(const pw_mlp *m, double fraction);
/* 0/1 masks of m's nonzero weights, one new array per layer (caller frees each). */
void pw_prune_masks(const pw_mlp *m, float *masks[PW_MLP_LAYERS]);

/* --- inference, feature-major ---------------------------------------------------------------- */
typedef struct {
    size_t dims[PW_MLP_LAYERS + 1];
    pw_csr w[PW_MLP_LAYERS];
    float *b[PW_MLP_LAYERS];  /* copies */
} pw_sparse_mlp;

/* The CSR form of m.  Returns PW_OK or PW_ERANGE; release with pw_sparse_mlp_release. */
int pw_sparse_mlp_init(pw_sparse_mlp *s, const pw_mlp *m);
void pw_sparse_mlp_release(pw_sparse_mlp *s);
/* Stored bytes: CSR weights plus float32 biases. */
size_t pw_sparse_mlp_bytes(const pw_sparse_mlp *s);

/* Scratch floats for a feature-major forward pass of n images (sparse or dense). */
size_t pw_mlpt_work_floats(const size_t dims[PW_MLP_LAYERS + 1], size_t n);
/* Logits (dims[3] × n) of feature-major inputs xt (dims[0] × n): CSR × dense per layer. */
void pw_sparse_mlp_forward(const pw_sparse_mlp *s, const float *xt, size_t n, float *logits,
                           float *work);
/* The same with the dense weights of m: one sgemm per layer. */
void pw_mlp_forward_t(const pw_mlp *m, const float *xt, size_t n, float *logits, float *work);
/* Feature-major inputs of n images: xt[j · n + i] = pixels[i · d + j] / 255. */
void pw_pixels_to_t(const uint8_t *pixels, size_t n, size_t d, float *xt);

#endif
