/* quant.h — INT8 post-training quantization of the report's MLP, done for real: per-channel
 * int8 weights, per-tensor uint8 activations calibrated on training images, an integer GEMM
 * (uint8 × int8 → int32) with portable, AVX2, AVX-VNNI, AVX512-VNNI and AMX kernels, and
 * integer requantization between layers, so that the forward pass is integer arithmetic up to
 * the final logits.
 *
 * Formats (docs/quantization.md has the derivations):
 *   activations  x ≈ s · (q − z), q uint8 in [0, 255], s > 0 float, z integer in [0, 255] chosen
 *                so that 0.0 is exactly representable; one (s, z) per tensor.
 *   weights      w ≈ s_o · q, q int8 in [−127, 127] (−128 unused: symmetric), one s_o per
 *                output channel (row of the layer's weight matrix).
 *   bias         int32 with scale s_in · s_o, folded with the zero-point correction into one
 *                int32 offset per output channel.
 *   requantize   q_out = clamp(z_out + round(M · acc), lo, 255) with M = s_in · s_o / s_out held
 *                as an int32 multiplier and a right shift (M ≈ mult · 2^−shift), all integer.
 * The last layer's int32 accumulators are multiplied by s_in · s_o for the softmax/argmax: the
 * only float operation of the quantized forward pass. */
#ifndef PERFWEAVE_QUANT_H
#define PERFWEAVE_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perfweave/cpu.h"
#include "perfweave/mlp.h"
#include "perfweave/mnist.h"

/* --- tensors -------------------------------------------------------------------------------- */
typedef struct {
    float scale;
    int32_t zero_point;
} pw_qparams;

/* Asymmetric uint8 parameters covering [lo, hi] widened to contain 0 (so ReLU's zero is exact);
 * a degenerate range gets scale 1.  Returns PW_OK or PW_EINVAL for non-finite bounds. */
int pw_qparams_from_range(float lo, float hi, pw_qparams *out);
/* q = clamp(round(x / s) + z, 0, 255); for x inside the range given to pw_qparams_from_range,
 * |x − pw_dequant_u8(q)| <= s / 2. */
uint8_t pw_quant_u8(float x, pw_qparams p);
float pw_dequant_u8(uint8_t q, pw_qparams p);
void pw_quant_u8_array(const float *x, size_t n, pw_qparams p, uint8_t *q);

/* Symmetric per-row int8: scales[r] = max |w[r, ·]| / 127 (1 for an all-zero row) and
 * q = round(w / scales[r]) in [−127, 127]; |w − scales[r] · q| <= scales[r] / 2. */
void pw_quant_weights_rows(const float *w, size_t rows, size_t cols, int8_t *q, float *scales);

/* Calibration of a tensor's range from observed values x[0..n): min/max, or the (100 − pct)th
 * and pct-th percentiles (pct in (50, 100]; clips rare outliers).  Return PW_OK or PW_EINVAL. */
int pw_calib_minmax(const float *x, size_t n, float *lo, float *hi);
int pw_calib_percentile(const float *x, size_t n, double pct, float *lo, float *hi);

/* Error of an approximation xq of x: max |x − xq|, ‖x − xq‖₂ / ‖x‖₂ and the signal-to-
 * quantization-noise ratio 10·log10(Σx² / Σ(x − xq)²) in dB (INFINITY when exact). */
typedef struct {
    double max_abs, rel, sqnr_db;
} pw_quant_error;
void pw_quant_error_of(const float *x, const float *xq, size_t n, pw_quant_error *out);

/* --- requantization ------------------------------------------------------------------------- */
/* A positive real multiplier M as mult · 2^−shift with mult in [2^30, 2^31) and shift in
 * [0, 62]; M below 2^−32 is represented as mult 0 (everything rounds to 0). */
typedef struct {
    int32_t mult;
    int32_t shift;
} pw_requant;

/* Returns PW_OK, or PW_ERANGE when m is not in (0, 2^30) or not finite. */
int pw_requant_from_real(double m, pw_requant *out);
/* round(acc · mult / 2^shift), rounding half up, in int64 arithmetic (|acc| < 2^31 and
 * mult < 2^31, so the product fits); exact apart from M's 31-bit rounding. */
static inline int32_t pw_requant_apply(int32_t acc, pw_requant r)
{
    if (r.mult == 0) return 0;
    int64_t p = (int64_t)acc * (int64_t)r.mult;
    if (r.shift == 0) return (int32_t)p;
    /* >> of a negative int64 is an arithmetic shift with GCC and Clang (floor division). */
    int64_t v = (p + ((int64_t)1 << (r.shift - 1))) >> r.shift;
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}
/* Requantizes acc to uint8 with zero point zp, clamped to [lo, 255] (lo = zp fuses a ReLU). */
static inline uint8_t pw_requant_u8(int32_t acc, pw_requant r, int32_t zp, int32_t lo)
{
    int32_t v = pw_requant_apply(acc, r);
    int64_t q = (int64_t)v + zp;
    return (uint8_t)(q < lo ? lo : q > 255 ? 255 : q);
}

/* --- integer GEMM --------------------------------------------------------------------------- */
/* C (m × n int32, row stride ldc) = A (m × k uint8, stride lda) · Bᵀ, B n × k int8 (stride ldb),
 * int32 accumulation.  Exact while k · 255 · 128 < 2^31 (k < 65793). */
typedef enum {
    PW_QGEMM_PORTABLE,  /* plain C, any CPU */
    PW_QGEMM_AVX2,      /* 16-bit widening + vpmaddwd (exact: no int16 saturation) */
    PW_QGEMM_AVXVNNI,   /* vpdpbusd on ymm (AVX-VNNI): u8 × s8 four-way dot products into int32 */
    PW_QGEMM_AVX512VNNI, /* vpdpbusd on zmm (AVX512-VNNI): twice the products per instruction */
    PW_QGEMM_AMX,       /* tdpbusd on AMX tiles (16 rows × 64 bytes): a 16×16×64 product per
                         * instruction; rows past the last multiple of 16 on AVX512-VNNI */
    PW_QGEMM_KINDS
} pw_qgemm_kind;

/* "portable", "avx2", "avxvnni", "avx512vnni", "amx". */
const char *pw_qgemm_name(pw_qgemm_kind kind);
/* The instruction set in words, e.g. "AVX512-VNNI (vpdpbusd, 512-bit)"; static storage. */
const char *pw_qgemm_isa(pw_qgemm_kind kind);
/* The kind named s (pw_qgemm_name); PW_OK or PW_ENOTFOUND. */
int pw_qgemm_from_name(const char *s, pw_qgemm_kind *out);
/* Whether kind can run on cpu in this build: compiled in (x86 without PW_NO_SIMD), the CPU
 * reports the instructions and the OS enabled their register state (cpu.h).  When not, the
 * reason in why (whysize may be 0).  portable always runs. */
bool pw_qgemm_usable(pw_qgemm_kind kind, const pw_cpu_info *cpu, char *why, size_t whysize);
/* pw_qgemm_usable on the running CPU (pw_cpu_host). */
bool pw_qgemm_supported(pw_qgemm_kind kind);
/* The kind expected fastest among those usable on cpu: amx, else avx512vnni, else avxvnni, else
 * avx2, else portable (quantization.mlp's GEMM table measures whether it is).  amx is usable
 * only when the process was also granted the tile state (pw_cpu_request_amx). */
pw_qgemm_kind pw_qgemm_best_on(const pw_cpu_info *cpu);
/* pw_qgemm_best_on(pw_cpu_host()). */
pw_qgemm_kind pw_qgemm_best(void);

/* The reference: a plain triple loop, the definition the kernels are checked against. */
void pw_qgemm_ref(size_t m, size_t n, size_t k, const uint8_t *A, size_t lda, const int8_t *B,
                  size_t ldb, int32_t *C, size_t ldc);

/* B packed once (weights are constant) in the layout of one kernel. */
typedef struct pw_qgemm_b pw_qgemm_b;
/* Packs B (n × k, stride ldb) for kind; NULL when kind is unsupported here.  The caller frees it
 * with pw_qgemm_b_free (NULL is a no-op). */
pw_qgemm_b *pw_qgemm_pack(pw_qgemm_kind kind, const int8_t *B, size_t n, size_t k, size_t ldb);
void pw_qgemm_b_free(pw_qgemm_b *pb);
pw_qgemm_kind pw_qgemm_b_kind(const pw_qgemm_b *pb);
/* Packed bytes (the kernel's padded copy of B). */
size_t pw_qgemm_b_bytes(const pw_qgemm_b *pb);
/* Scratch bytes pw_qgemm_run needs for m rows (A's padded / widened copy). */
size_t pw_qgemm_work_bytes(const pw_qgemm_b *pb, size_t m);
/* C = A · Bᵀ with the packed B; work holds pw_qgemm_work_bytes(pb, m) bytes (any alignment). */
void pw_qgemm_run(const pw_qgemm_b *pb, size_t m, const uint8_t *A, size_t lda, int32_t *C,
                  size_t ldc, void *work);

/* --- checks (run before anything is timed) -------------------------------------------------- */
/* A GEMM under test with pw_qgemm_ref's contract: C (m × n, stride ldc) = A · Bᵀ. */
typedef void (*pw_qgemm_fn)(void *ctx, size_t m, size_t n, size_t k, const uint8_t *A,
                            size_t lda, const int8_t *B, size_t ldb, int32_t *C, size_t ldc);
/* Runs fn on one m × n × k product of seeded pseudo-random operands (padded strides; the first
 * row of A all 255 and the first row of B all −127 or 127, the extreme products) and compares
 * every int32 of C with pw_qgemm_ref exactly.  Returns PW_OK, or PW_ERANGE with a lowercase
 * description of the first differing entry in msg (msglen bytes, may be 0). */
int pw_qgemm_check_fn(pw_qgemm_fn fn, void *ctx, size_t m, size_t n, size_t k, uint64_t seed,
                      char *msg, size_t msglen);
/* pw_qgemm_check_fn for kernel kind (B packed by pw_qgemm_pack, run by pw_qgemm_run) on a set
 * of awkward shapes (1×1×1, odd and tile-straddling m, n and k) followed by the caller's shapes
 * (nshapes triples {m, n, k}, may be 0).  PW_OK, PW_EINVAL when kind cannot run here (the
 * reason in msg), or PW_ERANGE with the failing shape in msg. */
int pw_qgemm_gate(pw_qgemm_kind kind, const size_t (*shapes)[3], size_t nshapes, char *msg,
                  size_t msglen);

/* --- the quantized MLP ---------------------------------------------------------------------- */
typedef enum { PW_CALIB_MINMAX, PW_CALIB_PERCENTILE } pw_calib;

typedef struct pw_qmlp pw_qmlp;

/* Quantizes m for kernel kind: weights per channel; the first layer's input is the pixels
 * themselves (s = 1/255, z = 0, exact); the hidden activations' ranges are calibrated by running
 * the fp32 model on ncalib calibration images (training images), by min/max or by the pct-th
 * percentile.  NULL when kind is unsupported or ncalib is 0.  The caller frees it. */
pw_qmlp *pw_qmlp_new(const pw_mlp *m, const uint8_t *calib_pixels, size_t ncalib,
                     pw_calib method, double pct, pw_qgemm_kind kind);
void pw_qmlp_free(pw_qmlp *q);

/* Bytes the quantized model stores: int8 weights, int32 biases, one float32 scale per output
 * channel, and a float32 scale and int32 zero point per activation tensor.  (The requantization
 * multipliers and packed copies are derived from these at load time and not counted.) */
size_t pw_qmlp_bytes(const pw_qmlp *q);

/* Layer l's quantized parts, borrowed: int8 weights (dims[l+1] × dims[l]), per-row scales, and
 * the input activation parameters. */
const int8_t *pw_qmlp_weights(const pw_qmlp *q, int l);
const float *pw_qmlp_weight_scales(const pw_qmlp *q, int l);
pw_qparams pw_qmlp_input_params(const pw_qmlp *q, int l);

/* Scratch bytes for a forward pass of n images. */
size_t pw_qmlp_work_bytes(const pw_qmlp *q, size_t n);
/* Integer forward pass of n images (uint8 pixels) to logits (n × 10 floats: the last layer's
 * int32 accumulators times their scale).  work holds pw_qmlp_work_bytes(q, n) bytes. */
void pw_qmlp_forward(const pw_qmlp *q, const uint8_t *pixels, size_t n, float *logits, void *work);
/* The independent reference of pw_qmlp_forward: a scalar pass from the stored model alone (int8
 * weights, int32 biases, weight scales, activation parameters) through pw_qgemm_ref, with the
 * zero-point correction, requantization multipliers and output scales recomputed here rather
 * than taken from the ones pw_qmlp_new derived, and no packing.  It applies the same integer
 * requantization, so its logits equal pw_qmlp_forward's bit for bit when the kernel is right.
 * Returns PW_OK, or PW_EINTERNAL when a multiplier cannot be rebuilt (logits then undefined). */
int pw_qmlp_forward_ref(const pw_qmlp *q, const uint8_t *pixels, size_t n, float *logits);
/* Checks pw_qmlp_forward against pw_qmlp_forward_ref on n images, exactly (every logit's bits).
 * Returns PW_OK, PW_ERANGE with the first differing image and class in msg, or PW_EINTERNAL
 * when the reference cannot rebuild a multiplier. */
int pw_qmlp_check(const pw_qmlp *q, const uint8_t *pixels, size_t n, char *msg, size_t msglen);
/* Predicted classes of all d->n images into pred (d->n bytes, may be NULL); returns accuracy. */
double pw_qmlp_evaluate(const pw_qmlp *q, const pw_mnist *d, uint8_t *pred);

/* The fp32 activations entering layer l (1 or 2: the ReLU outputs of layer l−1) for n images,
 * computed by the fp32 model: n × dims[l] floats into out.  For calibration and error tables. */
void pw_mlp_activations(const pw_mlp *m, const uint8_t *pixels, size_t n, int l, float *out);

#endif
