/* test_quant.c — quantization round-trip bounds, calibration, fixed-point requantization against
 * 128-bit arithmetic, every integer GEMM kernel against an independent int64 reference on awkward
 * shapes, the pre-timing gate (and broken kernels it must reject), the quantized MLP against its
 * fp32 original, and its scalar reference pass against the test's own integer pass. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/quant.h"

/* A small deterministic generator (xorshift64*), independent of the library. */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static void test_act_round_trip(void **state)
{
    (void)state;
    const float ranges[][2] = {{-1, 1}, {0, 6}, {-0.3f, 17}, {2, 5}, {-4, -1}, {0, 1e-3f}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        pw_qparams p;
        assert_int_equal(pw_qparams_from_range(ranges[r][0], ranges[r][1], &p), PW_OK);
        assert_true(p.zero_point >= 0 && p.zero_point <= 255);
        float lo = ranges[r][0] < 0 ? ranges[r][0] : 0, hi = ranges[r][1] > 0 ? ranges[r][1] : 0;
        /* Zero is exact (ReLU outputs and padding). */
        assert_true(pw_dequant_u8(pw_quant_u8(0.0f, p), p) == 0.0f);
        for (int i = 0; i <= 2000; i++) {
            float x = lo + (hi - lo) * (float)i / 2000.0f;
            float err = fabsf(x - pw_dequant_u8(pw_quant_u8(x, p), p));
            if (err > p.scale / 2 * (1 + 1e-4f) + 1e-7f)
                fail_msg("range [%g, %g]: x %g error %g > scale/2 %g", lo, hi, x, err, p.scale / 2);
        }
        /* Outside the range values clamp to the ends. */
        assert_int_equal(pw_quant_u8(hi + 100 * p.scale, p), 255);
        assert_int_equal(pw_quant_u8(lo - 100 * p.scale, p), 0);
    }
    pw_qparams p;
    assert_int_equal(pw_qparams_from_range(NAN, 1, &p), PW_EINVAL);
    assert_int_equal(pw_qparams_from_range(0, 0, &p), PW_OK);
    assert_true(p.scale == 1.0f && p.zero_point == 0);
}

static void test_weight_round_trip(void **state)
{
    (void)state;
    const size_t rows = 9, cols = 33;
    float w[9 * 33], s[9];
    int8_t q[9 * 33];
    for (size_t i = 0; i < rows * cols; i++) w[i] = (float)((unif() - 0.5) * (1 + i / cols));
    for (size_t c = 0; c < cols; c++) w[4 * cols + c] = 0; /* an all-zero row */
    pw_quant_weights_rows(w, rows, cols, q, s);
    for (size_t r = 0; r < rows; r++) {
        int maxq = 0;
        for (size_t c = 0; c < cols; c++) {
            int v = q[r * cols + c];
            assert_true(v >= -127 && v <= 127);
            maxq = abs(v) > maxq ? abs(v) : maxq;
            float err = fabsf(w[r * cols + c] - s[r] * (float)v);
            assert_true(err <= s[r] / 2 * (1 + 1e-5f));
        }
        assert_int_equal(maxq, r == 4 ? 0 : 127); /* the extreme maps to ±127 */
    }
    pw_quant_error e;
    float wq[9 * 33];
    for (size_t i = 0; i < rows * cols; i++) wq[i] = s[i / cols] * q[i];
    pw_quant_error_of(w, wq, rows * cols, &e);
    assert_true(e.sqnr_db > 30 && e.rel < 0.05 && e.max_abs > 0);
    pw_quant_error_of(w, w, rows * cols, &e);
    assert_true(isinf(e.sqnr_db) && e.rel == 0);
}

static void test_calibration(void **state)
{
    (void)state;
    float x[1000];
    for (int i = 0; i < 1000; i++) x[i] = (float)i; /* 0 … 999 */
    x[500] = 1e6f;                                  /* one outlier */
    float lo, hi;
    assert_int_equal(pw_calib_minmax(x, 1000, &lo, &hi), PW_OK);
    assert_true(lo == 0 && hi == 1e6f);
    assert_int_equal(pw_calib_percentile(x, 1000, 99.0, &lo, &hi), PW_OK);
    /* Sorted: 0..499, 501..999, 1e6; nearest rank 990 → 990, and rank 10 → 10. */
    assert_true(hi == 990.0f);
    assert_true(lo == 10.0f);
    assert_int_equal(pw_calib_percentile(x, 1000, 100.0, &lo, &hi), PW_OK);
    assert_true(hi == 1e6f);
    assert_int_equal(pw_calib_percentile(x, 1000, 40.0, &lo, &hi), PW_EINVAL);
    assert_int_equal(pw_calib_minmax(x, 0, &lo, &hi), PW_EINVAL);
}

static void test_requant(void **state)
{
    (void)state;
    for (int t = 0; t < 20000; t++) {
        double M = exp(log(1e-7) + (log(50.0) - log(1e-7)) * unif());
        pw_requant r;
        assert_int_equal(pw_requant_from_real(M, &r), PW_OK);
        assert_true(r.mult >= (1 << 30) && r.shift >= 0 && r.shift <= 62);
        double rep = (double)r.mult * ldexp(1.0, -r.shift);
        assert_true(fabs(rep - M) <= M * ldexp(1.0, -30));
        int32_t acc = (int32_t)((int64_t)(rnd() % 4000001) - 2000000);
        if (t % 7 == 0) acc = (int32_t)((int64_t)(rnd() % 40001) - 20000);
        int32_t got = pw_requant_apply(acc, r);
        /* Independent: floor((acc · mult + 2^(shift−1)) / 2^shift) in 128-bit arithmetic. */
        __int128 p = (__int128)acc * r.mult + ((__int128)1 << (r.shift - 1));
        __int128 den = (__int128)1 << r.shift;
        __int128 f = p / den;
        if (p % den != 0 && p < 0) f -= 1;
        if (f > INT32_MAX) f = INT32_MAX;
        if (f < INT32_MIN) f = INT32_MIN;
        assert_int_equal(got, (int32_t)f);
        /* And it is within half a unit (plus M's rounding) of the real product. */
        double exact = (double)acc * M;
        if (fabs(exact) < 2e9) assert_true(fabs((double)got - exact) <= 0.5 + fabs(exact) * 1e-9 + 1e-9);
        /* uint8 requantization clamps. */
        uint8_t u = pw_requant_u8(acc, r, 3, 3);
        int64_t ref = (int64_t)f + 3;
        ref = ref < 3 ? 3 : ref > 255 ? 255 : ref;
        assert_int_equal(u, ref);
    }
    pw_requant r;
    assert_int_equal(pw_requant_from_real(0, &r), PW_ERANGE);
    assert_int_equal(pw_requant_from_real(-1, &r), PW_ERANGE);
    assert_int_equal(pw_requant_from_real(INFINITY, &r), PW_ERANGE);
    assert_int_equal(pw_requant_from_real(1e-12, &r), PW_OK);
    assert_int_equal(pw_requant_apply(1000000, r), 0);
    assert_int_equal(pw_requant_from_real(1.0, &r), PW_OK);
    assert_int_equal(pw_requant_apply(-77, r), -77);
}

/* The test's own reference: int64 sums, checked to fit int32. */
static void ref_gemm(size_t m, size_t n, size_t k, const uint8_t *A, size_t lda, const int8_t *B,
                     size_t ldb, int32_t *C, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            int64_t s = 0;
            for (size_t p = 0; p < k; p++) s += (int64_t)A[i * lda + p] * (int64_t)B[j * ldb + p];
            assert_true(s >= INT32_MIN && s <= INT32_MAX);
            C[i * ldc + j] = (int32_t)s;
        }
}

static void test_qgemm_shapes(void **state)
{
    (void)state;
    /* 64: k a multiple of 4 (the 512-bit kernel reads A in place), m a multiple of its 8-row
     * tile, n of its 32-column panel. */
    static const size_t sizes[] = {1, 7, 63, 64, 65, 257};
    const size_t ns = sizeof sizes / sizeof sizes[0], pad = 3;
    size_t maxd = 257 + pad;
    uint8_t *A = pw_xmalloc(maxd * maxd);
    int8_t *B = pw_xmalloc(maxd * maxd);
    int32_t *C = pw_xmalloc(maxd * maxd * sizeof(int32_t));
    int32_t *R = pw_xmalloc(maxd * maxd * sizeof(int32_t));
    int tested[PW_QGEMM_KINDS] = {0};
    for (int fill = 0; fill < 2; fill++) {
        for (size_t i = 0; i < maxd * maxd; i++) {
            /* fill 0: random full range; fill 1: extremes that would saturate vpmaddubsw. */
            A[i] = fill ? 255 : (uint8_t)(rnd() & 255);
            B[i] = fill ? (int8_t)((i / 64) & 1 ? -127 : 127) : (int8_t)((int)(rnd() % 255) - 127);
        }
        for (size_t a = 0; a < ns; a++)
            for (size_t b = 0; b < ns; b++)
                for (size_t c = 0; c < ns; c++) {
                    size_t m = sizes[a], n = sizes[b], k = sizes[c];
                    size_t lda = k + pad, ldb = k + 1, ldc = n + 2;
                    ref_gemm(m, n, k, A, lda, B, ldb, R, ldc);
                    /* The library's reference too. */
                    memset(C, 0x55, maxd * maxd * sizeof(int32_t));
                    pw_qgemm_ref(m, n, k, A, lda, B, ldb, C, ldc);
                    for (size_t i = 0; i < m; i++)
                        assert_memory_equal(C + i * ldc, R + i * ldc, n * sizeof(int32_t));
                    for (int kind = 0; kind < PW_QGEMM_KINDS; kind++) {
                        pw_qgemm_b *pb = pw_qgemm_pack(kind, B, n, k, ldb);
                        if (!pb) {
                            assert_false(pw_qgemm_supported(kind));
                            continue;
                        }
                        void *work = pw_xmalloc(pw_qgemm_work_bytes(pb, m));
                        memset(C, 0x55, maxd * maxd * sizeof(int32_t));
                        pw_qgemm_run(pb, m, A, lda, C, ldc, work);
                        for (size_t i = 0; i < m; i++) {
                            if (memcmp(C + i * ldc, R + i * ldc, n * sizeof(int32_t)) != 0)
                                fail_msg("%s: m %zu n %zu k %zu row %zu differs",
                                         pw_qgemm_name(kind), m, n, k, i);
                            /* Nothing written past the row's n columns. */
                            if (n + 2 <= ldc) assert_int_equal(C[i * ldc + n], 0x55555555);
                        }
                        tested[kind]++;
                        free(work);
                        pw_qgemm_b_free(pb);
                    }
                }
    }
    assert_true(tested[PW_QGEMM_PORTABLE] > 0);
    for (int kind = 0; kind < PW_QGEMM_KINDS; kind++)
        if (!tested[kind]) print_message("qgemm kind %s not supported here; skipped\n",
                                         pw_qgemm_name(kind));
    assert_true(pw_qgemm_supported(pw_qgemm_best()));
    free(A);
    free(B);
    free(C);
    free(R);
}

/* A small random network (20-9-5-3) quantized with every kernel: the kernels agree bit for bit,
 * and the integer logits track the fp32 logits. */
static void test_qmlp(void **state)
{
    (void)state;
    const size_t dims[4] = {20, 9, 5, 3}, n = 200;
    pw_mlp *m = pw_mlp_new(dims);
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; i < dims[l] * dims[l + 1]; i++)
            m->w[l][i] = (float)((unif() - 0.5) * 2 / sqrt((double)dims[l]));
        for (size_t j = 0; j < dims[l + 1]; j++) m->b[l][j] = (float)(unif() - 0.3);
    }
    uint8_t *px = pw_xmalloc(n * dims[0]);
    for (size_t i = 0; i < n * dims[0]; i++) px[i] = (uint8_t)(rnd() & 255);
    float *ref = pw_xmalloc(n * 3 * sizeof(float)), *got = pw_xmalloc(n * 3 * sizeof(float));
    float *first = pw_xmalloc(n * 3 * sizeof(float));
    float *work = pw_xmalloc(pw_mlp_work_floats(m, n) * sizeof(float));
    pw_mlp_forward(m, px, n, ref, work);
    int have_first = 0;
    for (int kind = 0; kind < PW_QGEMM_KINDS; kind++)
        for (int meth = 0; meth < 2; meth++) {
            pw_qmlp *q = pw_qmlp_new(m, px, n, meth, 99.9, kind);
            if (!q) {
                assert_false(pw_qgemm_supported(kind));
                continue;
            }
            void *qw = pw_xmalloc(pw_qmlp_work_bytes(q, n));
            pw_qmlp_forward(q, px, n, got, qw);
            pw_quant_error e;
            pw_quant_error_of(ref, got, n * 3, &e);
            if (e.sqnr_db < 25) fail_msg("%s: logits SQNR %.1f dB", pw_qgemm_name(kind), e.sqnr_db);
            if (meth == PW_CALIB_MINMAX) {
                if (!have_first) memcpy(first, got, n * 3 * sizeof(float));
                else assert_memory_equal(first, got, n * 3 * sizeof(float));
                have_first = 1;
            }
            /* Stored bytes: int8 weights, int32 bias + float scale per channel, activation
             * scale + zero point per layer. */
            size_t w = 20 * 9 + 9 * 5 + 5 * 3, ch = 9 + 5 + 3;
            assert_int_equal(pw_qmlp_bytes(q), w + 8 * ch + 3 * 8);
            assert_int_equal(pw_mlp_bytes(m), 4 * (w + ch));
            pw_qparams p0 = pw_qmlp_input_params(q, 0);
            assert_true(p0.zero_point == 0 && p0.scale == 1.0f / 255.0f);
            free(qw);
            pw_qmlp_free(q);
        }
    assert_null(pw_qmlp_new(m, px, 0, PW_CALIB_MINMAX, 99.9, PW_QGEMM_PORTABLE));
    pw_qmlp_free(NULL);
    free(px);
    free(ref);
    free(got);
    free(first);
    free(work);
    pw_mlp_free(m);
}

/* The test's own scalar integer pass from the public parts (per-channel weights and scales, the
 * activation parameters, the fp32 biases): Σ (x − z_in) · w in int64, bias round(b / (s_in s_o)),
 * requantization through pw_requant_from_real / pw_requant_u8 (tested above). */
static void own_int8_pass(const pw_mlp *m, const pw_qmlp *q, const uint8_t *px, size_t n,
                          float *logits)
{
    const size_t *d = m->dims;
    uint8_t *x = pw_xmalloc(n * 32), *y = pw_xmalloc(n * 32);
    memcpy(x, px, n * d[0]);
    for (int l = 0; l < 3; l++) {
        size_t in = d[l], out = d[l + 1];
        assert_true(in <= 32 && out <= 32);
        const int8_t *w = pw_qmlp_weights(q, l);
        const float *ws = pw_qmlp_weight_scales(q, l);
        pw_qparams pin = pw_qmlp_input_params(q, l);
        for (size_t i = 0; i < n; i++)
            for (size_t o = 0; o < out; o++) {
                int64_t acc = 0;
                for (size_t k = 0; k < in; k++)
                    acc += ((int64_t)x[i * in + k] - pin.zero_point) * (int64_t)w[o * in + k];
                acc += (int64_t)round((double)m->b[l][o] / ((double)pin.scale * (double)ws[o]));
                if (l < 2) {
                    pw_qparams pout = pw_qmlp_input_params(q, l + 1);
                    pw_requant rq;
                    assert_int_equal(pw_requant_from_real((double)pin.scale * (double)ws[o] /
                                                          (double)pout.scale, &rq), PW_OK);
                    y[i * out + o] = pw_requant_u8((int32_t)acc, rq, pout.zero_point,
                                                   pout.zero_point);
                } else {
                    logits[i * out + o] = (float)(int32_t)acc * (pin.scale * ws[o]);
                }
            }
        uint8_t *t = x;
        x = y;
        y = t;
    }
    free(x);
    free(y);
}

/* A broken kernel for the gate: the reference with one entry off by one. */
static void broken_off_by_one(void *ctx, size_t m, size_t n, size_t k, const uint8_t *A,
                              size_t lda, const int8_t *B, size_t ldb, int32_t *C, size_t ldc)
{
    (void)ctx;
    pw_qgemm_ref(m, n, k, A, lda, B, ldb, C, ldc);
    if (m && n) C[(m - 1) * ldc + n - 1] += 1;
}

/* A broken kernel: drops the last k column (a classic edge bug). */
static void broken_short_k(void *ctx, size_t m, size_t n, size_t k, const uint8_t *A, size_t lda,
                           const int8_t *B, size_t ldb, int32_t *C, size_t ldc)
{
    (void)ctx;
    pw_qgemm_ref(m, n, k ? k - 1 : 0, A, lda, B, ldb, C, ldc);
}

/* A broken kernel: right values, but it writes past each row's end into C's padding. */
static void broken_overrun(void *ctx, size_t m, size_t n, size_t k, const uint8_t *A, size_t lda,
                           const int8_t *B, size_t ldb, int32_t *C, size_t ldc)
{
    (void)ctx;
    pw_qgemm_ref(m, n, k, A, lda, B, ldb, C, ldc);
    for (size_t i = 0; i < m && ldc > n; i++) C[i * ldc + n] = 0;
}

/* The gate accepts every supported kernel and the reference itself, and rejects broken ones. */
static void test_qgemm_gate(void **state)
{
    (void)state;
    static const size_t extra[][3] = {{3, 256, 784}, {1, 10, 128}, {37, 128, 256}};
    char msg[256];
    for (int kind = 0; kind < PW_QGEMM_KINDS; kind++) {
        int st = pw_qgemm_gate(kind, extra, 3, msg, sizeof msg);
        if (!pw_qgemm_supported(kind)) {
            assert_int_equal(st, PW_EINVAL);
            continue;
        }
        if (st != PW_OK) fail_msg("%s: %s", pw_qgemm_name(kind), msg);
    }
    static const size_t shapes[][3] = {{1, 1, 1}, {5, 17, 33}, {4, 16, 64}};
    for (size_t s = 0; s < 3; s++) {
        const size_t *sh = shapes[s];
        assert_int_equal(pw_qgemm_check_fn(broken_off_by_one, NULL, sh[0], sh[1], sh[2], 7, msg,
                                           sizeof msg), PW_ERANGE);
        assert_non_null(strstr(msg, "the reference gives"));
        assert_int_equal(pw_qgemm_check_fn(broken_short_k, NULL, sh[0], sh[1], sh[2], 7, msg,
                                           sizeof msg), PW_ERANGE);
        assert_int_equal(pw_qgemm_check_fn(broken_overrun, NULL, sh[0], sh[1], sh[2], 7, msg,
                                           sizeof msg), PW_ERANGE);
        assert_non_null(strstr(msg, "past the row's end"));
    }
}

/* Which integer kernels may run, on hand-built CPUs: each needs its instructions and the OS
 * state, the reason names what is missing, and best_on picks the widest usable. */
static void test_qgemm_dispatch(void **state)
{
    (void)state;
    pw_cpu_info c;
    memset(&c, 0, sizeof c);
    c.avx = c.avx2 = c.fma = c.avx_vnni = true;
    c.avx512f = c.avx512dq = c.avx512bw = c.avx512vl = c.avx512_vnni = true;
    c.osxsave = c.os_ymm = c.os_zmm = true;
    char why[256];
    bool simd = pw_qgemm_usable(PW_QGEMM_AVX2, &c, why, sizeof why);
    if (!simd) {
        /* A build without SIMD kernels says so, whatever the CPU. */
        assert_non_null(strstr(why, "SIMD"));
        assert_int_equal(pw_qgemm_best_on(&c), PW_QGEMM_PORTABLE);
        assert_false(pw_qgemm_usable(PW_QGEMM_AVX512VNNI, &c, NULL, 0));
        return;
    }
    assert_int_equal(pw_qgemm_best_on(&c), PW_QGEMM_AVX512VNNI);
    /* AMX: the CPU's bits, the OS's tile state (XCR0) and this process's grant of it. */
    c.amx_tile = c.amx_int8 = c.os_tile = true;
    bool granted = pw_cpu_request_amx(NULL, 0);
    assert_int_equal(pw_qgemm_usable(PW_QGEMM_AMX, &c, why, sizeof why), granted);
    if (!granted) assert_non_null(strstr(why, "arch_prctl"));
    assert_int_equal(pw_qgemm_best_on(&c), granted ? PW_QGEMM_AMX : PW_QGEMM_AVX512VNNI);
    c.os_tile = false;
    assert_false(pw_qgemm_usable(PW_QGEMM_AMX, &c, why, sizeof why));
    assert_non_null(strstr(why, "operating system"));
    assert_int_equal(pw_qgemm_best_on(&c), PW_QGEMM_AVX512VNNI);
    c.os_tile = true;
    c.avx512_vnni = false; /* the kernel's edge rows need AVX512-VNNI */
    assert_false(pw_qgemm_usable(PW_QGEMM_AMX, &c, why, sizeof why));
    assert_non_null(strstr(why, "avx512_vnni"));
    c.avx512_vnni = true;
    c.amx_tile = c.amx_int8 = c.os_tile = false;
    assert_false(pw_qgemm_usable(PW_QGEMM_AMX, &c, why, sizeof why));
    assert_non_null(strstr(why, "does not report amx_tile"));
    c.os_zmm = false; /* the OS saves no ZMM state */
    assert_false(pw_qgemm_usable(PW_QGEMM_AVX512VNNI, &c, why, sizeof why));
    assert_non_null(strstr(why, "operating system"));
    assert_int_equal(pw_qgemm_best_on(&c), PW_QGEMM_AVXVNNI);
    c.os_zmm = true;
    c.avx512_vnni = false; /* Skylake-SP: AVX-512 without VNNI */
    assert_false(pw_qgemm_usable(PW_QGEMM_AVX512VNNI, &c, why, sizeof why));
    assert_non_null(strstr(why, "does not report"));
    assert_int_equal(pw_qgemm_best_on(&c), PW_QGEMM_AVXVNNI);
    c.avx_vnni = false;
    assert_int_equal(pw_qgemm_best_on(&c), PW_QGEMM_AVX2);
    c.avx2 = false;
    assert_false(pw_qgemm_usable(PW_QGEMM_AVX2, &c, why, sizeof why));
    assert_non_null(strstr(why, "avx2"));
    assert_int_equal(pw_qgemm_best_on(&c), PW_QGEMM_PORTABLE);
    assert_true(pw_qgemm_usable(PW_QGEMM_PORTABLE, &c, NULL, 0));
    for (int k = 0; k < PW_QGEMM_KINDS; k++) {
        pw_qgemm_kind back;
        assert_int_equal(pw_qgemm_from_name(pw_qgemm_name((pw_qgemm_kind)k), &back), PW_OK);
        assert_int_equal(back, k);
    }
    pw_qgemm_kind back;
    assert_int_equal(pw_qgemm_from_name("amx512", &back), PW_ENOTFOUND);
    /* The host's own answer agrees with its description. */
    assert_int_equal(pw_qgemm_best(), pw_qgemm_best_on(pw_cpu_host()));
}

/* The reference pass equals the test's own integer pass and pw_qmlp_forward bit for bit, with
 * every kernel and both calibrations; pw_qmlp_check agrees. */
static void test_qmlp_reference(void **state)
{
    (void)state;
    const size_t dims[4] = {20, 9, 5, 3}, n = 150;
    pw_mlp *m = pw_mlp_new(dims);
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; i < dims[l] * dims[l + 1]; i++)
            m->w[l][i] = (float)((unif() - 0.5) * 2 / sqrt((double)dims[l]));
        for (size_t j = 0; j < dims[l + 1]; j++) m->b[l][j] = (float)(unif() - 0.3);
    }
    uint8_t *px = pw_xmalloc(n * dims[0]);
    for (size_t i = 0; i < n * dims[0]; i++) px[i] = (uint8_t)(rnd() & 255);
    float *own = pw_xmalloc(n * 3 * sizeof(float)), *ref = pw_xmalloc(n * 3 * sizeof(float));
    float *got = pw_xmalloc(n * 3 * sizeof(float));
    char msg[256];
    for (int kind = 0; kind < PW_QGEMM_KINDS; kind++)
        for (int meth = 0; meth < 2; meth++) {
            pw_qmlp *q = pw_qmlp_new(m, px, n, meth, 99.0, kind);
            if (!q) {
                assert_false(pw_qgemm_supported(kind));
                continue;
            }
            own_int8_pass(m, q, px, n, own);
            assert_int_equal(pw_qmlp_forward_ref(q, px, n, ref), PW_OK);
            assert_memory_equal(own, ref, n * 3 * sizeof(float));
            void *qw = pw_xmalloc(pw_qmlp_work_bytes(q, n));
            pw_qmlp_forward(q, px, n, got, qw);
            assert_memory_equal(got, ref, n * 3 * sizeof(float));
            int st = pw_qmlp_check(q, px, n, msg, sizeof msg);
            if (st != PW_OK) fail_msg("%s: %s", pw_qgemm_name(kind), msg);
            assert_int_equal(pw_qmlp_check(q, px, 1, msg, sizeof msg), PW_OK);
            free(qw);
            pw_qmlp_free(q);
        }
    free(px);
    free(own);
    free(ref);
    free(got);
    pw_mlp_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_act_round_trip),   cmocka_unit_test(test_weight_round_trip),
        cmocka_unit_test(test_calibration),      cmocka_unit_test(test_requant),
        cmocka_unit_test(test_qgemm_shapes),     cmocka_unit_test(test_qmlp),
        cmocka_unit_test(test_qgemm_gate),       cmocka_unit_test(test_qmlp_reference),
        cmocka_unit_test(test_qgemm_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
