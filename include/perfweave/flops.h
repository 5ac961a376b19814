/* flops.h — the FLOP counter of the profiling chapter: analytical operation counts per layer type
 * (matmul, linear, conv2d, ReLU, softmax, LayerNorm, multi-head attention, an MLP forward, a small
 * transformer block) and instrumented reference kernels that count the operations they actually
 * execute, so that the two can be compared exactly.
 *
 * What is counted.  Operations are kept by kind (pw_flops) rather than as one number, so that any
 * convention can be derived and a mismatch shows where it is:
 *   mac   a multiply-add a·b + c (one product accumulated into a sum);
 *   add   an addition or subtraction (bias, residual, centring, softmax sums);
 *   mul   a multiplication that is not part of a multiply-add (scaling);
 *   div   a division;   exp  an exponential;   sqrt  a square root;
 *   cmp   a comparison / max (ReLU, the running maximum of a softmax).
 * Reductions start from their identity: a dot product of length k is k multiply-adds (so an
 * m×k by k×n matmul is m·n·k of them), a sum of L terms is L additions, a maximum over L values is
 * L comparisons.
 *
 * Two conventions (pw_flops_total):
 *   PW_FLOPS_STANDARD  a multiply-add counts 2 FLOPs (one multiply, one add), every other
 *                      operation 1: matmul = 2·m·n·k.  The convention of BLAS benchmarks and of
 *                      every GFLOP/s figure in this report.
 *   PW_FLOPS_MAC       a multiply-add counts 1, every other operation 1: the convention of the
 *                      original framework's counter (conv2d(32, 32×32, 16→32, 3×3, valid) =
 *                      32·30·30·32·144 + 921,600 bias adds = 133,632,000; linear(128, 64, 32) =
 *                      128·64·32 + 128·32 = 266,240, which the original gave as 264,192, an
 *                      arithmetic slip of 64·32).
 *
 * Instrumented kernels (pw_ref_*).  Plain C loops, written for clarity, not speed, with the
 * counter passed explicitly (no globals): when `cnt` is non-NULL every arithmetic operation the
 * kernel performs increments the matching field of a local tally, which is added to *cnt when
 * the kernel (or each kernel it calls) returns (accumulating: the caller zeroes *cnt); when `cnt`
 * is NULL the same loops run without counting (the "plain" kernel of the overhead experiment;
 * the counting branch is resolved once per call, not per operation).  Layouts are
 * row-major; a linear layer computes y = x·W + b with W stored [in × out].  The transformer block
 * and the MLP here are this module's own small references, independent of the model in
 * transformer.h and the MLP of the quantization chapter. */
#ifndef PERFWEAVE_FLOPS_H
#define PERFWEAVE_FLOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t mac, add, mul, div, exp, sqrt, cmp;
} pw_flops;

typedef enum { PW_FLOPS_STANDARD, PW_FLOPS_MAC } pw_flops_convention;

/* Total FLOPs of f under a convention (see above). */
uint64_t pw_flops_total(const pw_flops *f, pw_flops_convention conv);
/* acc += x, field by field. */
void pw_flops_accumulate(pw_flops *acc, const pw_flops *x);
/* True when every field is equal. */
bool pw_flops_equal(const pw_flops *a, const pw_flops *b);

/* --- shapes ----------------------------------------------------------------------------------- */
/* A 2-D convolution: input NCHW [batch × cin × h × w], weights [cout × cin × kh × kw], one bias
 * per output channel, valid padding, stride 1: output [batch × cout × (h−kh+1) × (w−kw+1)]. */
typedef struct { size_t batch, h, w, cin, cout, kh, kw; } pw_conv2d_shape;

/* Multi-head self-attention over a sequence of seq positions of width d_model (a multiple of
 * heads): Q, K, V and output projections (each d_model × d_model with bias), scores scaled by
 * 1/sqrt(d_model/heads), softmax (max-subtracted), causal when a position attends only to itself
 * and earlier positions. */
typedef struct { size_t seq, d_model, heads; bool causal; } pw_attention_shape;

/* A pre-norm transformer block: x += attention(LayerNorm1(x)); x += W2·ReLU(W1·LayerNorm2(x) + b1)
 * + b2, with hidden width d_ff. */
typedef struct { pw_attention_shape attn; size_t d_ff; } pw_block_shape;

/* --- analytical counts (pure; arguments may be 0) ----------------------------------------------- */
pw_flops pw_flops_matmul(size_t m, size_t k, size_t n);
pw_flops pw_flops_linear(size_t batch, size_t in, size_t out);
pw_flops pw_flops_conv2d(const pw_conv2d_shape *s);
pw_flops pw_flops_relu(size_t n);
/* Softmax of rows rows of len values each. */
pw_flops pw_flops_softmax(size_t rows, size_t len);
/* LayerNorm of rows rows of d values (with gain and bias). */
pw_flops pw_flops_layernorm(size_t rows, size_t d);
pw_flops pw_flops_attention(const pw_attention_shape *s);
/* An MLP forward of batch rows through widths[0] → widths[1] → … → widths[nw−1] (nw >= 2): linear
 * layers with bias and ReLU between them (none after the last). */
pw_flops pw_flops_mlp(size_t batch, const size_t *widths, size_t nw);
pw_flops pw_flops_block(const pw_block_shape *s);

/* --- instrumented reference kernels --------------------------------------------------------- */
/* c[m×n] = a[m×k] · b[k×n]. */
void pw_ref_matmul(pw_flops *cnt, size_t m, size_t k, size_t n, const float *restrict a,
                   const float *restrict b, float *restrict c);
/* y[batch×out] = x[batch×in] · w[in×out] + bias[out]. */
void pw_ref_linear(pw_flops *cnt, size_t batch, size_t in, size_t out, const float *restrict x,
                   const float *restrict w, const float *restrict bias, float *restrict y);
/* y = max(x, 0) in place over n values. */
void pw_ref_relu(pw_flops *cnt, size_t n, float *x);
/* Row-wise softmax in place over rows × len. */
void pw_ref_softmax(pw_flops *cnt, size_t rows, size_t len, float *x);
/* y[rows×d] = LayerNorm(x) · g + b, eps 1e-5. */
void pw_ref_layernorm(pw_flops *cnt, size_t rows, size_t d, const float *restrict x,
                      const float *restrict g, const float *restrict b, float *restrict y);
/* The convolution of pw_conv2d_shape. */
void pw_ref_conv2d(pw_flops *cnt, const pw_conv2d_shape *s, const float *restrict in,
                   const float *restrict w, const float *restrict bias, float *restrict out);

/* Weights of one attention layer: four [d_model × d_model] matrices and their biases. */
typedef struct {
    const float *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo;
} pw_attention_weights;
/* Floats of scratch the attention kernel needs: Q, K, V, the per-head context, one score row. */
size_t pw_ref_attention_scratch(const pw_attention_shape *s);
/* y[seq×d] = attention(x[seq×d]).  scratch: pw_ref_attention_scratch(s) floats. */
void pw_ref_attention(pw_flops *cnt, const pw_attention_shape *s, const pw_attention_weights *wt,
                      const float *x, float *y, float *scratch);

/* Weights of an MLP: for layer l (0 <= l < nw−1), w[l] is [widths[l] × widths[l+1]], b[l] its bias. */
typedef struct {
    const size_t *widths;
    size_t nw;
    const float *const *w, *const *b;
} pw_mlp_weights;
/* Floats of scratch for a batch: two activation buffers of the widest layer. */
size_t pw_ref_mlp_scratch(size_t batch, const pw_mlp_weights *wt);
/* y[batch × widths[nw−1]] = MLP(x[batch × widths[0]]). */
void pw_ref_mlp(pw_flops *cnt, size_t batch, const pw_mlp_weights *wt, const float *x, float *y,
                float *scratch);

typedef struct {
    pw_attention_weights attn;
    const float *ln1_g, *ln1_b, *ln2_g, *ln2_b;  /* [d_model] */
    const float *w1, *b1;                        /* [d_model × d_ff], [d_ff] */
    const float *w2, *b2;                        /* [d_ff × d_model], [d_model] */
} pw_block_weights;
size_t pw_ref_block_scratch(const pw_block_shape *s);
/* x[seq×d] ← block(x) in place. */
void pw_ref_block(pw_flops *cnt, const pw_block_shape *s, const pw_block_weights *wt, float *x,
                  float *scratch);

#endif
