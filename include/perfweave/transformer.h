/* transformer.h — a small decoder-only transformer with deterministic weights, and the two ways
 * of generating text greedily with it: recomputing the whole prefix at every step, or keeping a
 * key/value cache and processing one new position per step.
 *
 * Model.  tokens → embedding (vocab × d_model) + position (learned table or sinusoidal) → L
 * pre-norm blocks → final norm → projection to vocab logits.  Each block:
 *     x += Wo · attention(norm1(x))      (multi-head, causal, a position attends to 0..itself)
 *     x += W2 · act(W1 · norm2(x) + b1) + b2
 * with norm LayerNorm or RMSNorm and act GELU (tanh form) or ReLU.  Weights are row-major
 * [in × out] float32 (y = x · W); Q, K, V come from one fused [d_model × 3·d_model] matrix, head
 * h owning columns h·dh … (h+1)·dh − 1 of each (dh = d_model / heads).  Every matrix product goes
 * through OpenBLAS (cblas_sgemm for several rows, cblas_sgemv for one); set the BLAS thread count
 * (openblas_set_num_threads) in the caller.
 *
 * Weights are drawn from a seeded generator (GSL mt19937), scaled by 1/sqrt(fan-in) with the
 * residual outputs further scaled by 1/sqrt(2L), so activations stay of order one at any depth,
 * and the output projection is scaled so that logits have a spread of a few units: greedy
 * decisions then have clear margins and do not flip on float rounding.
 *
 * KV cache.  Two float32 blocks, K and V, each [layers × capacity × d_model], allocated once
 * through the accounting allocator under the tag "kv_cache" (2 · layers · capacity · d_model · 4
 * bytes).  The key of position p in layer l starts at float offset (l · capacity + p) · d_model
 * of K (likewise V); within it, head h holds floats h·dh … (h+1)·dh − 1.
 *
 * Errors: functions return PW_OK, PW_EINVAL (bad configuration or token) or PW_ERANGE (a sequence
 * longer than the context or the cache), writing a lowercase message into msg when msg is
 * non-NULL.  Nothing here prints or exits; allocation failures of the model's tensors are
 * reported as PW_ERANGE ("cannot allocate …"). */
#ifndef PERFWEAVE_TRANSFORMER_H
#define PERFWEAVE_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "perfweave/alloc.h"

typedef enum { PW_NORM_LAYER, PW_NORM_RMS } pw_norm_kind;
typedef enum { PW_ACT_GELU, PW_ACT_RELU } pw_act_kind;
typedef enum { PW_POS_LEARNED, PW_POS_SINUSOIDAL } pw_pos_kind;

typedef struct {
    int d_model;   /* width of the residual stream; a multiple of heads */
    int heads;
    int layers;
    int d_ff;      /* hidden width of the MLP (default 4 · d_model) */
    int vocab;
    int context;   /* most positions a sequence may have */
    pw_norm_kind norm;
    pw_act_kind act;
    pw_pos_kind pos;
    uint64_t seed;
} pw_transformer_config;

/* d_model 256, 4 heads, 4 layers, d_ff 1024, vocab 512, context 1024, LayerNorm, GELU, learned
 * positions, seed 1. */
void pw_transformer_config_default(pw_transformer_config *cfg);
/* PW_OK, or PW_EINVAL with a message for a configuration that cannot be built. */
int pw_transformer_config_check(const pw_transformer_config *cfg, char *msg, size_t msgsize);

typedef struct pw_transformer pw_transformer;

/* Builds the model with weights drawn from cfg->seed, allocated through acct under the tag
 * "weights" (acct must outlive the model).  The caller frees *out with pw_transformer_free. */
int pw_transformer_new(const pw_transformer_config *cfg, pw_alloc *acct, pw_transformer **out,
                       char *msg, size_t msgsize);
void pw_transformer_free(pw_transformer *m);
/* The model's configuration (borrowed). */
const pw_transformer_config *pw_transformer_config_get(const pw_transformer *m);

/* Read-only views of the weights (borrowed; for tests and independent reference code). */
typedef struct {
    const float *norm1_g, *norm1_b;   /* [d_model]; norm1_b is zero (unused) under RMSNorm */
    const float *wqkv, *bqkv;         /* [d_model × 3·d_model], [3·d_model]: Q | K | V columns */
    const float *wo, *bo;             /* [d_model × d_model], [d_model] */
    const float *norm2_g, *norm2_b;
    const float *w1, *b1;             /* [d_model × d_ff], [d_ff] */
    const float *w2, *b2;             /* [d_ff × d_model], [d_model] */
} pw_transformer_layer;
typedef struct {
    const float *tok_emb;             /* [vocab × d_model] */
    const float *pos_emb;             /* [context × d_model] (the table, learned or sinusoidal) */
    const float *normf_g, *normf_b;   /* [d_model] */
    const float *wout;                /* [d_model × vocab] */
} pw_transformer_ends;
int pw_transformer_layer_view(const pw_transformer *m, int layer, pw_transformer_layer *out);
void pw_transformer_ends_view(const pw_transformer *m, pw_transformer_ends *out);

/* Scratch space for forward passes of up to rows positions at once (rows <= context), charged
 * to the tag "activations".  One workspace serves one forward pass at a time. */
typedef struct pw_transformer_work pw_transformer_work;
int pw_transformer_work_new(const pw_transformer *m, int rows, pw_alloc *acct,
                            pw_transformer_work **out, char *msg, size_t msgsize);
void pw_transformer_work_free(pw_transformer_work *w);

typedef struct pw_kvcache pw_kvcache;
/* A cache for up to capacity positions (1 <= capacity <= context), zero-filled, length 0.  The
 * caller frees it with pw_kvcache_free (before acct). */
int pw_kvcache_new(const pw_transformer *m, int capacity, pw_alloc *acct, pw_kvcache **out,
                   char *msg, size_t msgsize);
void pw_kvcache_free(pw_kvcache *c);
int pw_kvcache_len(const pw_kvcache *c);
int pw_kvcache_capacity(const pw_kvcache *c);
/* Bytes the cache's K and V blocks were allocated with (2 · layers · capacity · d_model · 4). */
size_t pw_kvcache_bytes(const pw_kvcache *c);
/* Forgets positions len … (0 <= len <= current length; PW_ERANGE otherwise); with len 0 the
 * cache starts a new sequence.  Contents are not cleared, only the length. */
int pw_kvcache_truncate(pw_kvcache *c, int len);
/* The K and V blocks themselves, laid out as documented above (borrowed). */
const float *pw_kvcache_keys(const pw_kvcache *c);
const float *pw_kvcache_values(const pw_kvcache *c);

/* --- forward passes ------------------------------------------------------------------------ */
/* Full recomputation: runs tokens[0..n) through the whole model from scratch (no cache) and
 * writes the logits of the last position into logits[vocab].  n <= context and n <= the
 * workspace's rows, else PW_ERANGE. */
int pw_transformer_forward_full(const pw_transformer *m, pw_transformer_work *w, const int *tokens,
                                int n, float *logits, char *msg, size_t msgsize);
/* Appends tokens[0..n) to the cache at positions len … len+n−1 as one batched pass (the prefill
 * of a prompt; n rows through sgemm), storing their keys and values, and writes the logits of the
 * last of them.  PW_ERANGE, with the cache unchanged, when len + n exceeds its capacity. */
int pw_transformer_prefill(const pw_transformer *m, pw_kvcache *c, pw_transformer_work *w,
                           const int *tokens, int n, float *logits, char *msg, size_t msgsize);
/* One decoding step: appends token at position len (sgemv), attends over positions 0 … len
 * (itself included) and writes its logits.  PW_ERANGE when the cache is full. */
int pw_transformer_decode(const pw_transformer *m, pw_kvcache *c, pw_transformer_work *w, int token,
                          float *logits, char *msg, size_t msgsize);

/* The index of the largest logit (the lowest index among equals). */
int pw_transformer_argmax(const float *logits, int vocab);

/* --- greedy generation --------------------------------------------------------------------- */
/* seq[0..prompt) holds the prompt; both functions write steps greedy tokens into
 * seq[prompt .. prompt+steps) and, when all_logits is non-NULL, each step's logits into
 * all_logits[s · vocab …].  Generation needs prompt + steps − 1 positions: more than the context
 * (or, cached, the cache's capacity) is PW_ERANGE before any work is done.
 *   _full: every step runs pw_transformer_forward_full over the whole sequence so far.
 *   _cached: starts the cache afresh (length 0), prefills the prompt, then decodes one position
 *   per step. */
int pw_transformer_generate_full(const pw_transformer *m, pw_transformer_work *w, int *seq,
                                 int prompt, int steps, float *all_logits, char *msg,
                                 size_t msgsize);
int pw_transformer_generate_cached(const pw_transformer *m, pw_kvcache *c, pw_transformer_work *w,
                                   int *seq, int prompt, int steps, float *all_logits, char *msg,
                                   size_t msgsize);

/* --- the attention kernel shared by both paths ---------------------------------------------- */
/* Causal multi-head attention for nq query rows at absolute positions start … start+nq−1: row i
 * attends to key/value rows 0 … start+i (itself included) with weights softmax(q·k / sqrt(dh)).
 * q: nq rows of d_model floats, row stride ldq; k, v: start+nq rows, row stride ldkv; out: nq
 * rows, stride ldo.  scratch holds at least pw_attention_scratch(start + nq) floats. */
void pw_attention_causal(int heads, int d_model, int start, int nq, const float *q, size_t ldq,
                         const float *k, const float *v, size_t ldkv, float *out, size_t ldo,
                         float *scratch);
size_t pw_attention_scratch(int keys);

/* --- analytic FLOP counts ------------------------------------------------------------------ */
/* Floating-point operations of the matrix products (a multiply-add counts 2), the work that
 * dominates; norms, softmax, activations and embedding lookups (O(rows · d_model) each) are not
 * counted.  Processing n new positions after start cached ones costs, per layer,
 *     2·n·d·3d (QKV) + 2·n·d·d (Wo) + 2·2·n·d·d_ff (MLP) + 4·d·Σ_{i=start}^{start+n−1} (i+1)
 * (the last term: q·k and p·V over i+1 keys for every head together), plus 2·d·vocab for the
 * logits of the last row. */
double pw_transformer_flops_forward(const pw_transformer_config *cfg, long start, long n);
/* One step at sequence length len: full recomputation = forward(0, len); cached = forward(len−1, 1). */
double pw_transformer_flops_step_full(const pw_transformer_config *cfg, long len);
double pw_transformer_flops_step_cached(const pw_transformer_config *cfg, long len);
/* Whole greedy generations of steps tokens after a prompt, as the generate functions do them. */
double pw_transformer_flops_generate_full(const pw_transformer_config *cfg, long prompt, long steps);
double pw_transformer_flops_generate_cached(const pw_transformer_config *cfg, long prompt,
                                            long steps);

/* --- analytic traffic of a cached step ------------------------------------------------------ */
/* The bytes one cached decoding step at sequence length len must move at the least, each once,
 * all float32: every weight the step uses, read (all of the model's weights except the vocab − 1
 * token rows and context − 1 position rows it does not look up); per layer, the K and V rows of
 * the len positions it attends over, read (2·len·d_model floats), and its own K and V rows,
 * written (2·d_model).  Activations (a few vectors of d_model or d_ff floats) and the logits are
 * not counted.  Whether the bytes come from DRAM or from a cache is the machine's business: this
 * is the traffic the step asks for, not where it is served from. */
double pw_transformer_bytes_step_cached(const pw_transformer_config *cfg, long len);

#endif
