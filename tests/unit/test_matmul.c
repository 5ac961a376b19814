/* test_matmul.c — every matmul kernel (each microkernel of the packed kernel forced in turn, its
 * direct path and its packed path separately) on awkward shapes against an independent
 * double-precision triple loop, the correctness gate catching broken kernels, microkernel
 * dispatch on simulated CPUs (no AVX-512, no AVX2, an OS without the ZMM or YMM state), the
 * dispatcher's documented rule, and the machine-fact kernels' work accounting (operations and
 * bytes per round counted from their results).  Nothing is timed. */
#include "support.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/experiments/ceilings.h"
#include "perfweave/baselines.h"
#include "perfweave/common.h"
#include "perfweave/experiment.h"
#include "perfweave/matmul.h"

/* Checks c against a double-precision product of a and b: every entry within γ_k (|A||B|)_ij
 * (the fp32 bound for one result; the double reference is exact enough to ignore) plus FLT_MIN. */
static void check_against_double(const char *what, size_t m, size_t n, size_t k, const float *a,
                                 const float *b, const float *c)
{
    double g = pw_matmul_gamma(k);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0.0, mag = 0.0;
            for (size_t p = 0; p < k; p++) {
                s += (double)a[i * k + p] * (double)b[p * n + j];
                mag += fabs((double)a[i * k + p]) * fabs((double)b[p * n + j]);
            }
            double err = fabs((double)c[i * n + j] - s);
            if (!(err <= g * mag + FLT_MIN))
                fail_msg("%s m=%zu k=%zu n=%zu: c[%zu,%zu] = %.9g, exact %.9g (bound %.3g)", what,
                         m, k, n, i, j, (double)c[i * n + j], s, g * mag + FLT_MIN);
        }
}

/* Runs fn on shape m×k×n with C poisoned first and checks the result. */
static void run_shape(const char *what, pw_matmul_fn fn, const pw_matmul_ctx *ctx, size_t m,
                      size_t k, size_t n, uint64_t seed)
{
    float *a = pw_xmalloc((m * k + 1) * sizeof *a);
    float *b = pw_xmalloc((k * n + 1) * sizeof *b);
    float *c = pw_xmalloc((m * n + 1) * sizeof *c);
    pw_matmul_fill(a, m * k, seed);
    pw_matmul_fill(b, k * n, seed + 1);
    for (size_t i = 0; i < m * n + 1; i++) c[i] = NAN;
    fn(ctx, m, n, k, a, b, c);
    check_against_double(what, m, n, k, a, b, c);
    assert_true(isnan(c[m * n])); /* nothing written past the end of C */
    free(a);
    free(b);
    free(c);
}

static const size_t extra_shapes[][3] = {
    {0, 5, 5}, {5, 0, 5}, {5, 5, 0}, {6, 256, 16}, {12, 512, 32}, {144, 257, 33}, {150, 20, 4097},
};

static void run_all_shapes(const char *what, pw_matmul_fn fn, const pw_matmul_ctx *ctx)
{
    size_t ns;
    const size_t (*shapes)[3] = pw_matmul_gate_shapes(&ns);
    for (size_t s = 0; s < ns; s++)
        run_shape(what, fn, ctx, shapes[s][0], shapes[s][1], shapes[s][2], 10 + s);
    for (size_t s = 0; s < sizeof extra_shapes / sizeof extra_shapes[0]; s++)
        run_shape(what, fn, ctx, extra_shapes[s][0], extra_shapes[s][1], extra_shapes[s][2],
                  100 + s);
}

static void test_table(void **state)
{
    (void)state;
    size_t n;
    const pw_matmul_kernel *k = pw_matmul_kernels(&n);
    static const char *const names[] = {"naive", "ikj", "blocked", "packed", "openblas", "blis",
                                        "onednn"};
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(k[i].name, names[i]);
        assert_ptr_equal(pw_matmul_find(names[i]), &k[i]);
        assert_non_null(k[i].fn);
    }
    assert_null(pw_matmul_find("numpy"));
}

static void test_every_kernel(void **state)
{
    (void)state;
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    size_t n;
    const pw_matmul_kernel *k = pw_matmul_kernels(&n);
    for (size_t i = 0; i < n; i++) {
        /* BLIS and oneDNN are opened on demand (scripts/packages.txt installs both). */
        char why[256];
        if (pw_baselines_ready(k[i].name, why, sizeof why) != PW_OK) fail_msg("%s", why);
        run_all_shapes(k[i].name, k[i].fn, &ctx);
    }
    /* A NULL context means defaults (packed allocates its own buffers). */
    run_all_shapes("packed (no context)", pw_matmul_packed, NULL);
    run_all_shapes("blocked (no context)", pw_matmul_blocked, NULL);
    pw_matmul_ctx_release(&ctx);
}

/* Every microkernel this CPU can run, forced in turn through the context, on every shape; a
 * kernel with a direct path is also run with that path forced on every shape and with it off. */
static void test_packed_microkernels(void **state)
{
    (void)state;
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    const pw_matmul_ukernel *autok = NULL;
    assert_int_equal(pw_matmul_ukernel_select(PW_UKERNEL_AUTO, pw_cpu_host(), &autok, NULL, 0),
                     PW_OK);
    assert_ptr_equal(ctx.uk, autok);
    size_t n, ran = 0;
    const pw_matmul_ukernel *uks = pw_matmul_ukernels(&n);
    for (size_t i = 0; i < n; i++) {
        if (!pw_ukernel_usable(uks[i].isa, pw_cpu_host(), NULL, 0)) continue;
        /* Every descriptor's blocks are consistent and fit the context's buffers. */
        assert_int_equal(uks[i].mc % uks[i].mr, 0);
        assert_int_equal(uks[i].nc % uks[i].nr, 0);
        char what[96];
        pw_matmul_ukernel only_packed = uks[i], only_direct = uks[i];
        only_packed.direct = NULL;
        ctx.uk = &only_packed;
        snprintf(what, sizeof what, "packed (%s)", uks[i].name);
        run_all_shapes(what, pw_matmul_packed, &ctx);
        if (uks[i].direct) {
            only_direct.direct_mnk = INFINITY;
            only_direct.direct_kmax = (size_t)-1;
            ctx.uk = &only_direct;
            snprintf(what, sizeof what, "direct (%s)", uks[i].name);
            run_all_shapes(what, pw_matmul_packed, &ctx);
        }
        ctx.uk = &uks[i];
        snprintf(what, sizeof what, "as configured (%s)", uks[i].name);
        run_all_shapes(what, pw_matmul_packed, &ctx);
        ran++;
    }
    assert_true(ran >= 1); /* the portable one at least */
    pw_matmul_ctx_release(&ctx);
    pw_matmul_ctx_release(&ctx); /* releasing twice is harmless */
}

/* A hand-built CPU: everything up to AVX-512 VNNI present and enabled, then taken away. */
static pw_cpu_info full_cpu(void)
{
    pw_cpu_info c;
    memset(&c, 0, sizeof c);
    c.sse2 = c.sse3 = c.ssse3 = c.sse41 = c.sse42 = c.popcnt = true;
    c.avx = c.avx2 = c.fma = c.f16c = true;
    c.avx512f = c.avx512dq = c.avx512cd = c.avx512bw = c.avx512vl = c.avx512_vnni = true;
    c.avx_vnni = true;
    c.osxsave = c.os_ymm = c.os_zmm = true;
    return c;
}

static void expect_select(const pw_cpu_info *cpu, pw_ukernel which, pw_ukernel isa_expected)
{
    const pw_matmul_ukernel *uk = NULL;
    char why[256];
    assert_int_equal(pw_matmul_ukernel_select(which, cpu, &uk, why, sizeof why), PW_OK);
    assert_string_equal(why, "");
    assert_non_null(uk);
    assert_int_equal(uk->isa, isa_expected);
    assert_true(uk->preferred || uk->preferred_vendor);
    assert_ptr_equal(uk, pw_matmul_ukernel_preferred_on(isa_expected, cpu));
}

static void expect_refused(const pw_cpu_info *cpu, pw_ukernel which, const char *reason)
{
    const pw_matmul_ukernel *uk = (const pw_matmul_ukernel *)&uk;
    char why[256];
    assert_int_equal(pw_matmul_ukernel_select(which, cpu, &uk, why, sizeof why), PW_EINVAL);
    assert_ptr_equal(uk, (const pw_matmul_ukernel *)&uk); /* *out untouched */
    assert_non_null(strstr(why, pw_ukernel_name(which)));
    if (!strstr(why, reason)) fail_msg("'%s' does not say '%s'", why, reason);
}

static void test_ukernel_dispatch(void **state)
{
    (void)state;
    bool simd = pw_matmul_ukernel_preferred(PW_UKERNEL_AVX512) != NULL;
    assert_int_equal(simd, pw_matmul_ukernel_preferred(PW_UKERNEL_AVX2) != NULL);
    assert_non_null(pw_matmul_ukernel_preferred(PW_UKERNEL_PORTABLE));
    assert_null(pw_matmul_ukernel_preferred(PW_UKERNEL_AUTO));

    pw_cpu_info c = full_cpu();
    if (!simd) {
        /* A build without SIMD kernels: a CPU with every ISA still gets the portable kernel,
         * and a forced SIMD kernel is refused naming the build. */
        expect_select(&c, PW_UKERNEL_AUTO, PW_UKERNEL_PORTABLE);
        expect_refused(&c, PW_UKERNEL_AVX512, "SIMD");
        expect_refused(&c, PW_UKERNEL_AVX2, "SIMD");
        expect_select(&c, PW_UKERNEL_PORTABLE, PW_UKERNEL_PORTABLE);
        assert_int_equal(pw_ukernel_widest(&c), PW_UKERNEL_PORTABLE);
        return;
    }
    expect_select(&c, PW_UKERNEL_AUTO, PW_UKERNEL_AVX512);
    expect_select(&c, PW_UKERNEL_AVX512, PW_UKERNEL_AVX512);
    expect_select(&c, PW_UKERNEL_AVX2, PW_UKERNEL_AVX2);
    expect_select(&c, PW_UKERNEL_PORTABLE, PW_UKERNEL_PORTABLE);

    /* The AVX-512 shape follows the CPU it was chosen on: the general one (an Intel Xeon, or a
     * CPU whose vendor says nothing), the one preferred on AMD from family 26 (Zen 5) there and
     * not on Zen 4 (family 25, not measured); other ISAs have one kernel for every CPU. */
    const pw_matmul_ukernel *general = pw_matmul_ukernel_preferred(PW_UKERNEL_AVX512);
    assert_true(general->preferred && !general->preferred_vendor);
    strcpy(c.vendor, "GenuineIntel");
    c.family = 6;
    assert_ptr_equal(pw_matmul_ukernel_preferred_on(PW_UKERNEL_AVX512, &c), general);
    strcpy(c.vendor, "AuthenticAMD");
    c.family = 25;
    assert_ptr_equal(pw_matmul_ukernel_preferred_on(PW_UKERNEL_AVX512, &c), general);
    const pw_matmul_ukernel *zen5 = NULL;
    for (int family = 26; family <= 27; family++) {
        c.family = (unsigned)family;
        const pw_matmul_ukernel *uk = pw_matmul_ukernel_preferred_on(PW_UKERNEL_AVX512, &c);
        assert_ptr_not_equal(uk, general);
        assert_int_equal(uk->isa, PW_UKERNEL_AVX512);
        assert_string_equal(uk->preferred_vendor, "AuthenticAMD");
        zen5 = uk;
    }
    expect_select(&c, PW_UKERNEL_AUTO, PW_UKERNEL_AVX512);
    const pw_matmul_ukernel *chosen = NULL;
    assert_int_equal(pw_matmul_ukernel_select(PW_UKERNEL_AVX512, &c, &chosen, NULL, 0), PW_OK);
    assert_ptr_equal(chosen, zen5);
    assert_ptr_equal(pw_matmul_ukernel_preferred_on(PW_UKERNEL_AVX2, &c),
                     pw_matmul_ukernel_preferred(PW_UKERNEL_AVX2));
    assert_ptr_equal(pw_matmul_ukernel_preferred_on(PW_UKERNEL_AVX512, NULL), general);
    c = full_cpu();

    /* An AVX2-only CPU (Haswell, Zen 1–3): auto is avx2, avx512 refused for the CPU. */
    c.avx512f = c.avx512dq = c.avx512cd = c.avx512bw = c.avx512vl = c.avx512_vnni = false;
    expect_select(&c, PW_UKERNEL_AUTO, PW_UKERNEL_AVX2);
    expect_refused(&c, PW_UKERNEL_AVX512, "does not report avx512f, avx512dq, avx512bw, avx512vl");

    /* AVX-512 without BW (Knights Landing): the kernels need F, DQ, BW and VL. */
    c = full_cpu();
    c.avx512bw = false;
    expect_select(&c, PW_UKERNEL_AUTO, PW_UKERNEL_AVX2);
    expect_refused(&c, PW_UKERNEL_AVX512, "does not report avx512bw");

    /* The CPU has AVX-512 but the OS saves no ZMM state: never used, and the reason says so. */
    c = full_cpu();
    c.os_zmm = false;
    expect_select(&c, PW_UKERNEL_AUTO, PW_UKERNEL_AVX2);
    expect_refused(&c, PW_UKERNEL_AVX512, "operating system has not enabled the AVX-512");

    /* No AVX2 (an older x86, or an arm64 machine, where detection reports nothing). */
    c = full_cpu();
    c.avx2 = false;
    c.avx512f = false;
    expect_select(&c, PW_UKERNEL_AUTO, PW_UKERNEL_PORTABLE);
    expect_refused(&c, PW_UKERNEL_AVX2, "does not report avx2");
    pw_cpu_info none;
    memset(&none, 0, sizeof none);
    expect_select(&none, PW_UKERNEL_AUTO, PW_UKERNEL_PORTABLE);
    expect_refused(&none, PW_UKERNEL_AVX2, "does not report avx, avx2, fma");
    assert_int_equal(pw_ukernel_widest(&none), PW_UKERNEL_PORTABLE);

    /* AVX2 in the CPU, no YMM state (or no XSAVE at all) in the OS. */
    c = full_cpu();
    c.os_ymm = c.os_zmm = false;
    expect_select(&c, PW_UKERNEL_AUTO, PW_UKERNEL_PORTABLE);
    expect_refused(&c, PW_UKERNEL_AVX2, "operating system has not enabled the AVX (YMM)");
    c.osxsave = false;
    expect_refused(&c, PW_UKERNEL_AVX512, "does not enable XSAVE");

    /* The context keeps its kernel when a forced one is refused. */
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    const pw_matmul_ukernel *before = ctx.uk;
    char why[256];
    assert_int_equal(pw_matmul_ctx_set_ukernel(&ctx, PW_UKERNEL_AVX2, &none, why, sizeof why),
                     PW_EINVAL);
    assert_ptr_equal(ctx.uk, before);
    c = full_cpu();
    assert_int_equal(pw_matmul_ctx_set_ukernel(&ctx, PW_UKERNEL_AVX2, &c, why, sizeof why), PW_OK);
    assert_string_equal(ctx.uk->name, "avx2_6x16");
    pw_matmul_ctx_release(&ctx);

    /* The backend dispatcher reads the same description. */
    pw_matmul_backend be;
    pw_matmul_backend_init_cpu(&be, &none);
    assert_false(be.avx2_fma);
    pw_matmul_backend_init_cpu(&be, &c);
    assert_true(be.avx2_fma);
}

static void test_ukernel_names(void **state)
{
    (void)state;
    for (int i = 0; i < PW_UKERNEL_ISAS; i++) {
        pw_ukernel u;
        assert_int_equal(pw_ukernel_from_name(pw_ukernel_name((pw_ukernel)i), &u), PW_OK);
        assert_int_equal(u, i);
    }
    pw_ukernel u;
    assert_int_equal(pw_ukernel_from_name("sse", &u), PW_ENOTFOUND);
    assert_string_equal(pw_ukernel_name(PW_UKERNEL_ISAS), "unknown");
    size_t n;
    const pw_matmul_ukernel *uks = pw_matmul_ukernels(&n);
    int preferred[PW_UKERNEL_ISAS] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(pw_matmul_ukernel_find(uks[i].name), &uks[i]);
        /* The name says the ISA and the register shape. */
        char expect[48];
        snprintf(expect, sizeof expect, "%s_%zux%zu", pw_ukernel_name(uks[i].isa), uks[i].mr,
                 uks[i].nr);
        assert_string_equal(uks[i].name, expect);
        preferred[uks[i].isa] += uks[i].preferred != 0;
    }
    for (int i = PW_UKERNEL_PORTABLE; i < PW_UKERNEL_ISAS; i++)
        assert_int_equal(preferred[i], pw_matmul_ukernel_preferred((pw_ukernel)i) ? 1 : 0);
    assert_null(pw_matmul_ukernel_find("avx1024_1x1"));
}

static void test_blocked_sizes(void **state)
{
    (void)state;
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    static const size_t blocks[] = {1, 7, 16, 64, 128, 256, 1000};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        ctx.block = blocks[i];
        char what[64];
        snprintf(what, sizeof what, "blocked (block %zu)", blocks[i]);
        run_shape(what, pw_matmul_blocked, &ctx, 65, 127, 63, 40 + i);
        run_shape(what, pw_matmul_blocked, &ctx, 1, 257, 7, 50 + i);
    }
    pw_matmul_ctx_release(&ctx);
}

/* Deliberately broken kernels: the gate must reject them. */
static void kernel_off_by_one(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                              const float *restrict a, const float *restrict b,
                              float *restrict c)
{
    pw_matmul_ikj(ctx, m, n, k, a, b, c);
    if (m * n > 0) c[(m * n) / 2] += 1e-3f;
}

static void kernel_skip_last_k(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                               const float *restrict a, const float *restrict b,
                               float *restrict c)
{
    (void)ctx;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (size_t p = 0; p + 1 < k; p++) s += a[i * k + p] * b[p * n + j];
            c[i * n + j] = s;
        }
}

static void kernel_no_write(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                            const float *restrict a, const float *restrict b, float *restrict c)
{
    (void)ctx, (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
}

static void test_gate(void **state)
{
    (void)state;
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    char msg[256];
    size_t n;
    const pw_matmul_kernel *k = pw_matmul_kernels(&n);
    for (size_t i = 0; i < n; i++) {
        msg[0] = '\0';
        assert_int_equal(pw_matmul_gate(&k[i], &ctx, msg, sizeof msg), PW_OK);
        assert_string_equal(msg, "");
    }
    const pw_matmul_kernel bad[] = {
        {"off_by_one", kernel_off_by_one, ""},
        {"skip_last_k", kernel_skip_last_k, ""},
        {"no_write", kernel_no_write, ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pw_matmul_gate(&bad[i], &ctx, msg, sizeof msg), PW_ERANGE);
        assert_non_null(strstr(msg, bad[i].name));
        assert_non_null(strstr(msg, "fails the correctness gate"));
    }
    pw_matmul_ctx_release(&ctx);
}

static void test_verify_and_bound(void **state)
{
    (void)state;
    assert_true(pw_matmul_gamma(0) == 0.0);
    assert_close(pw_matmul_gamma(1000), 1000.0 / 16777216.0, 1e-3);
    assert_true(isinf(pw_matmul_gamma((size_t)1 << 25)));
    /* A 2×2 product with exact fp32 answers passes with worst 0; a NaN fails. */
    const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
    float c[] = {19, 22, 43, 50};
    double worst = -1;
    assert_int_equal(pw_matmul_verify(2, 2, 2, a, b, c, &worst), PW_OK);
    assert_true(worst == 0.0);
    c[3] = NAN;
    assert_int_equal(pw_matmul_verify(2, 2, 2, a, b, c, &worst), PW_ERANGE);
    c[3] = 50.01f;
    assert_int_equal(pw_matmul_verify(2, 2, 2, a, b, c, &worst), PW_ERANGE);
    assert_true(worst > 1.0);
    /* k = 0: the product is zero. */
    float z[] = {0, 0, 0, 0};
    assert_int_equal(pw_matmul_verify(2, 2, 0, a, b, z, &worst), PW_OK);
    z[0] = 1;
    assert_int_equal(pw_matmul_verify(2, 2, 0, a, b, z, &worst), PW_ERANGE);
}

static void test_fill(void **state)
{
    (void)state;
    float x[1000], y[1000];
    pw_matmul_fill(x, 1000, 42);
    pw_matmul_fill(y, 1000, 42);
    assert_memory_equal(x, y, sizeof x);
    double mean = 0;
    for (int i = 0; i < 1000; i++) {
        assert_true(x[i] >= -1.0f && x[i] < 1.0f);
        mean += x[i];
    }
    assert_true(fabs(mean / 1000) < 0.1);
    pw_matmul_fill(y, 1000, 43);
    assert_true(memcmp(x, y, sizeof x) != 0);
}

static void test_dispatch_rule(void **state)
{
    (void)state;
    pw_matmul_backend be;
    pw_matmul_backend_init(&be);
    assert_int_equal(be.avx2_fma, pw_ukernel_widest(pw_cpu_host()) != PW_UKERNEL_PORTABLE);
    assert_int_equal(be.small_mnk, 216);

    be.avx2_fma = true;
    assert_string_equal(pw_matmul_backend_choose(&be, 4, 4, 4)->name, "naive");
    assert_string_equal(pw_matmul_backend_choose(&be, 6, 6, 6)->name, "naive");
    assert_string_equal(pw_matmul_backend_choose(&be, 1, 216, 1)->name, "naive");
    assert_string_equal(pw_matmul_backend_choose(&be, 0, 100000, 100000)->name, "naive");
    assert_string_equal(pw_matmul_backend_choose(&be, 7, 6, 6)->name, "packed");
    assert_string_equal(pw_matmul_backend_choose(&be, 8, 8, 8)->name, "packed");
    assert_string_equal(pw_matmul_backend_choose(&be, 1, 217, 1)->name, "packed");
    /* m·n·k would overflow 64 bits: still large, never "small". */
    size_t huge = (size_t)1 << 22;
    assert_string_equal(pw_matmul_backend_choose(&be, huge, huge, huge)->name, "packed");

    be.avx2_fma = false;
    assert_string_equal(pw_matmul_backend_choose(&be, 6, 6, 6)->name, "naive");
    assert_string_equal(pw_matmul_backend_choose(&be, 64, 64, 64)->name, "openblas");
    assert_string_equal(pw_matmul_backend_choose(&be, huge, huge, huge)->name, "openblas");

    /* The dispatched call computes the product, whichever kernel it picks. */
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    pw_matmul_backend_init(&be);
    static const size_t sizes[] = {1, 4, 6, 7, 8, 16, 17, 32, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t s = sizes[i];
        float *a = pw_xmalloc(s * s * sizeof *a), *b = pw_xmalloc(s * s * sizeof *b);
        float *c = pw_xmalloc(s * s * sizeof *c);
        pw_matmul_fill(a, s * s, s);
        pw_matmul_fill(b, s * s, s + 1000);
        pw_matmul_backend_run(&be, &ctx, s, s, s, a, b, c);
        check_against_double("dispatch", s, s, s, a, b, c);
        free(a);
        free(b);
        free(c);
    }
    pw_matmul_ctx_release(&ctx);
}

static void test_threads(void **state)
{
    (void)state;
    assert_int_equal(pw_matmul_set_threads(1), 1);
    assert_true(pw_matmul_set_threads(0) >= 1); /* 0 leaves the count alone */
    assert_true(strlen(pw_matmul_blas_core()) > 0);
}

/* The work a round of each peak kernel performs, counted from its result: with mul = 1 and
 * add = 1 every fp32 lane grows by exactly 1 per round (exact below 2^24), and with a = b = 1
 * every int8 lane by 4 (four products of 1·1), so the difference of the checksums after N and 0
 * rounds is the multiply-adds per round times N.  The lane counts come from the register width
 * (512 or 256 bits over 32-bit lanes), not from the kernel's own table. */
static void test_peak_accounting(void **state)
{
    (void)state;
    static const struct { pw_peak_kind kind; int width_floats; } fp[] = {
        {PW_PEAK_SCALAR, 1}, {PW_PEAK_AVX2, 256 / 32}, {PW_PEAK_AVX512, 512 / 32}};
    const uint64_t N = 1000;
    for (size_t i = 0; i < sizeof fp / sizeof fp[0]; i++) {
        pw_peak_kind k = fp[i].kind;
        assert_false(pw_peak_is_int8(k));
        if (!pw_peak_usable(k, pw_cpu_host(), NULL, 0)) continue;
        double grown = (double)pw_peak_fma_run(k, N, 1.0f, 1.0f) -
                       (double)pw_peak_fma_run(k, 0, 1.0f, 1.0f);
        double fmas_per_round = grown / (double)N;
        assert_true(fmas_per_round == (double)pw_peak_chains(k) * fp[i].width_floats);
        assert_int_equal(pw_peak_lanes(k), fp[i].width_floats);
        assert_true(pw_peak_ops_per_iter(k) == 2.0 * fmas_per_round);
        /* The measurement's constants converge to 1: no overflow, no subnormals. */
        float v = pw_peak_fma_run(k, 100000, PW_PEAK_MUL, PW_PEAK_ADD);
        assert_true(isfinite(v) && v > 0.0f && v < 1.3f * (float)fmas_per_round);
    }
    /* products per instruction: 4 per 32-bit lane of a vector; 16 × 16 × 64 per AMX tile */
    static const struct { pw_peak_kind kind; int products; } in[] = {
        {PW_PEAK_VNNI256, 256 / 32 * 4}, {PW_PEAK_VNNI512, 512 / 32 * 4}, {PW_PEAK_AMX, 16 * 16 * 64}};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        pw_peak_kind k = in[i].kind;
        assert_true(pw_peak_is_int8(k));
        if (!pw_peak_usable(k, pw_cpu_host(), NULL, 0)) continue;
        double grown = (double)(pw_peak_int8_run(k, N, 1, 1) - pw_peak_int8_run(k, 0, 1, 1));
        double macs_per_round = grown / (double)N;
        assert_true(macs_per_round == (double)pw_peak_chains(k) * in[i].products);
        assert_int_equal(pw_peak_lanes(k), in[i].products);
        assert_true(pw_peak_ops_per_iter(k) == 2.0 * macs_per_round);
        /* u8 × s8: 255 · (−128) per product, signed, no saturation. */
        assert_true(pw_peak_int8_run(k, 1, 255, -128) - pw_peak_int8_run(k, 0, 255, -128) ==
                    (int64_t)macs_per_round * 255 * -128);
    }
    /* The widest fp32 kind is the machine's roof; the compatibility helpers time it. */
    pw_peak_kind w = pw_peak_widest_fma(pw_cpu_host());
    assert_true(pw_peak_flops_per_iter() == pw_peak_ops_per_iter(w));
    assert_true(pw_peak_fma(0) == pw_peak_fma(0));
    assert_string_equal(pw_peak_metric(PW_PEAK_AVX512), "fma.avx512");
    assert_string_equal(pw_peak_metric(PW_PEAK_VNNI256), "int8.vnni256");
    assert_string_equal(pw_peak_metric(PW_PEAK_KINDS), "unknown");
}

/* Peak kinds on simulated CPUs: usable exactly when the instructions and the OS state are. */
static void test_peak_usable(void **state)
{
    (void)state;
    pw_cpu_info c = full_cpu();
    bool simd = pw_matmul_ukernel_preferred(PW_UKERNEL_AVX512) != NULL;
    for (int k = 0; k < PW_PEAK_KINDS; k++)
        if (k != PW_PEAK_AMX) /* full_cpu has no matrix unit */
            assert_int_equal(pw_peak_usable((pw_peak_kind)k, &c, NULL, 0), simd || k == PW_PEAK_SCALAR);
    char why[200];
    assert_false(pw_peak_usable(PW_PEAK_AMX, &c, why, sizeof why));
    assert_non_null(strstr(why, simd ? "amx_tile" : "SIMD"));
    assert_int_equal(pw_peak_widest_fma(&c), simd ? PW_PEAK_AVX512 : PW_PEAK_SCALAR);
    if (!simd) return;
    c.amx_tile = c.amx_int8 = true;
    assert_false(pw_peak_usable(PW_PEAK_AMX, &c, why, sizeof why)); /* no tile state (XCR0) */
    assert_non_null(strstr(why, "operating system"));
    c.os_tile = true;
    assert_int_equal(pw_peak_usable(PW_PEAK_AMX, &c, NULL, 0), pw_cpu_request_amx(NULL, 0));
    c.avx512_vnni = false;
    assert_false(pw_peak_usable(PW_PEAK_VNNI512, &c, why, sizeof why));
    assert_non_null(strstr(why, "avx512_vnni"));
    assert_true(pw_peak_usable(PW_PEAK_VNNI256, &c, NULL, 0));
    c.avx_vnni = false;
    assert_false(pw_peak_usable(PW_PEAK_VNNI256, &c, why, sizeof why));
    c = full_cpu();
    c.os_zmm = false;
    assert_false(pw_peak_usable(PW_PEAK_AVX512, &c, why, sizeof why));
    assert_non_null(strstr(why, "operating system"));
    assert_int_equal(pw_peak_widest_fma(&c), PW_PEAK_AVX2);
}

/* The triad computes a = b + s·c over exactly n elements with every vector width, and counts
 * 24 bytes per element. */
static void test_triad(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 7, 8, 15, 16, 17, 33, 1000};
    static const pw_ukernel isas[] = {PW_UKERNEL_PORTABLE, PW_UKERNEL_AVX2, PW_UKERNEL_AVX512,
                                      PW_UKERNEL_AUTO};
    for (size_t w = 0; w < sizeof isas / sizeof isas[0]; w++) {
        if (!pw_ukernel_usable(isas[w], pw_cpu_host(), NULL, 0)) continue;
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            double *a = pw_xmalloc((n + 1) * sizeof *a), *b = pw_xmalloc((n + 1) * sizeof *b);
            double *c = pw_xmalloc((n + 1) * sizeof *c);
            for (size_t i = 0; i <= n; i++) {
                a[i] = -1.0;
                b[i] = (double)i;
                c[i] = (double)(i % 7);
            }
            pw_triad(isas[w], a, b, c, 3.0, n);
            for (size_t i = 0; i < n; i++) assert_true(a[i] == (double)i + 3.0 * (double)(i % 7));
            assert_true(a[n] == -1.0); /* nothing past the end */
            assert_true(pw_triad_bytes(n) == 3.0 * 8.0 * (double)n);
            free(a);
            free(b);
            free(c);
        }
    }
}

static void test_caches_and_topology(void **state)
{
    (void)state;
    size_t c[3];
    int known = pw_cache_sizes(c);
    assert_true(known >= 0 && known <= 3);
    if (c[0]) assert_true(c[0] >= 4096 && c[0] <= ((size_t)4 << 20));
    if (c[0] && c[1]) assert_true(c[1] >= c[0]);
    if (c[1] && c[2]) assert_true(c[2] >= c[1]);

    int cpus[16];
    assert_int_equal(pw_cpu_list_parse("0-3,8,10-11", cpus, 16), 7);
    assert_int_equal(cpus[4], 8);
    assert_int_equal(cpus[6], 11);
    assert_int_equal(pw_cpu_list_parse("5", cpus, 16), 1);
    assert_int_equal(pw_cpu_list_parse("0-1\n", cpus, 16), 2);
    assert_int_equal(pw_cpu_list_parse("0-63", cpus, 16), 64); /* counted, 16 stored */
    assert_int_equal(pw_cpu_list_parse("3-1", cpus, 16), -1);
    assert_int_equal(pw_cpu_list_parse("a", cpus, 16), -1);
    assert_int_equal(pw_cpu_list_parse("1;2", cpus, 16), -1);

    pw_topology t;
    int st = pw_cpu_topology(&t);
    assert_true(t.cpus >= 1 && t.cores >= 1 && t.cores <= t.cpus);
    if (st == PW_OK) {
        assert_true(t.known);
        assert_int_equal(t.cpus, (int)sysconf(_SC_NPROCESSORS_ONLN));
        assert_int_equal(t.smt, t.cores < t.cpus);
        assert_int_equal(t.smt, t.siblings[0] != '\0');
    } else {
        assert_false(t.known);
    }
}

/* The roofs drawn for fixture ceilings: min(bandwidth × x, peak) at the ends and at the ridge,
 * computed here independently, and the peak lines (AVX2 only where it is not the roof). */
static void test_roofline(void **state)
{
    (void)state;
    pw_ceilings c;
    memset(&c, 0, sizeof c);
    for (int k = 0; k < PW_PEAK_KINDS; k++) c.peak[k] = NAN;
    c.roof = PW_PEAK_AVX512;
    c.peak[PW_PEAK_AVX512] = c.roof_value = 160.0;
    c.peak[PW_PEAK_AVX2] = 80.0;
    c.bw_dram = 8.0;   /* ridge 20 flop/B */
    c.bw_l2 = 100.0;   /* ridge 1.6 flop/B */
    pw_result *r = pw_result_new("acceleration.matmul", "t");
    pw_chart *chart = pw_result_chart(r, "roofline", "", "x", "y", PW_CHART_LOGX | PW_CHART_LOGY);
    pw_ceilings_roofline(&c, chart, 0.25, 500.0);
    json_t *ch = json_array_get(json_object_get(pw_result_json(r), "charts"), 0);
    json_t *series = json_object_get(ch, "series");
    assert_int_equal(json_array_size(series), 2);
    const double bw[2] = {8.0, 100.0};
    for (size_t i = 0; i < 2; i++) {
        json_t *xs = json_object_get(json_array_get(series, i), "x");
        json_t *ys = json_object_get(json_array_get(series, i), "y");
        assert_int_equal(json_array_size(xs), 3);
        double ridge = 160.0 / bw[i];
        assert_close(json_number_value(json_array_get(xs, 0)), 0.25, 1e-12);
        assert_close(json_number_value(json_array_get(ys, 0)), 0.25 * bw[i], 1e-12);
        assert_close(json_number_value(json_array_get(xs, 1)), ridge, 1e-12);
        assert_close(json_number_value(json_array_get(ys, 1)), 160.0, 1e-12);
        assert_close(json_number_value(json_array_get(ys, 2)), 160.0, 1e-12);
    }
    json_t *hl = json_object_get(ch, "hlines");
    assert_int_equal(json_array_size(hl), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(hl, 0), "label")),
                        "AVX-512 FMA peak, 1 core");
    assert_string_equal(json_string_value(json_object_get(json_array_get(hl, 1), "label")),
                        "AVX2 FMA peak, 1 core");
    /* An AVX2 machine: the roof is AVX2 and no second line is drawn. */
    pw_result_free(r);
    r = pw_result_new("acceleration.matmul", "t");
    chart = pw_result_chart(r, "roofline", "", "x", "y", 0);
    c.roof = PW_PEAK_AVX2;
    c.roof_value = 80.0;
    c.bw_l2 = NAN;
    pw_ceilings_roofline(&c, chart, 0.25, 500.0);
    ch = json_array_get(json_object_get(pw_result_json(r), "charts"), 0);
    assert_int_equal(json_array_size(json_object_get(ch, "series")), 1);
    assert_int_equal(json_array_size(json_object_get(ch, "hlines")), 1);
    pw_result_free(r);
}

/* The experiments are registered, and their schemas accept the chapter's values and reject
 * what they should (running them would time things, so the tests stop at the parameters). */
static void test_experiment_params(void **state)
{
    (void)state;
    static const char *const names[] = {"acceleration.blocksize", "acceleration.dispatch",
                                        "acceleration.matmul", "acceleration.threads"};
    for (size_t i = 0; i < 4; i++) {
        const pw_experiment *e = pw_registry_find(names[i]);
        assert_non_null(e);
        json_t *p = pw_experiment_params(e, NULL);
        assert_non_null(json_object_get(p, "sizes"));
        json_decref(p);
    }
    const pw_experiment *e = pw_registry_find("acceleration.matmul");
    char msg[200];
    json_t *v = NULL;
    const pw_param_spec *variants = pw_experiment_param(e, "variants");
    assert_int_equal(pw_param_parse(variants, "[packed, openblas]", &v, msg, sizeof msg), PW_OK);
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    assert_int_not_equal(pw_param_parse(variants, "[naive, numpy]", &v, msg, sizeof msg), PW_OK);
    assert_non_null(strstr(msg, "numpy"));
    assert_int_not_equal(pw_param_parse(pw_experiment_param(e, "sizes"), "[64, 0]", &v, msg,
                                        sizeof msg), PW_OK);
    assert_int_not_equal(pw_param_parse(pw_experiment_param(e, "microkernel"), "avx1024", &v, msg,
                                        sizeof msg), PW_OK);
    for (int i = 0; i < PW_UKERNEL_ISAS; i++) {
        assert_int_equal(pw_param_parse(pw_experiment_param(e, "microkernel"),
                                        pw_ukernel_name((pw_ukernel)i), &v, msg, sizeof msg),
                         PW_OK);
        json_decref(v);
    }
    assert_int_not_equal(pw_param_parse(pw_experiment_param(e, "block"), "0", &v, msg,
                                        sizeof msg), PW_OK);
    const pw_param_spec *uks = pw_experiment_param(e, "microkernels");
    assert_int_equal(pw_param_parse(uks, "[usable]", &v, msg, sizeof msg), PW_OK);
    json_decref(v);
    assert_int_equal(pw_param_parse(uks, "[avx512, avx2, portable]", &v, msg, sizeof msg), PW_OK);
    json_decref(v);
    assert_int_not_equal(pw_param_parse(uks, "[auto]", &v, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_param_parse(pw_experiment_param(e, "roofline"), "true", &v, msg,
                                    sizeof msg), PW_OK);
    json_decref(v);
    /* machine.ceilings: its parts, and a working set that is never negative. */
    const pw_experiment *mc = pw_registry_find("machine.ceilings");
    assert_non_null(mc);
    assert_int_equal(pw_param_parse(pw_experiment_param(mc, "parts"), "[fma, clock]", &v, msg,
                                    sizeof msg), PW_OK);
    json_decref(v);
    assert_int_not_equal(pw_param_parse(pw_experiment_param(mc, "parts"), "[gpu]", &v, msg,
                                        sizeof msg), PW_OK);
    assert_int_not_equal(pw_param_parse(pw_experiment_param(mc, "triad_mib"), "-1", &v, msg,
                                        sizeof msg), PW_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_every_kernel),
        cmocka_unit_test(test_packed_microkernels),
        cmocka_unit_test(test_ukernel_dispatch),
        cmocka_unit_test(test_ukernel_names),
        cmocka_unit_test(test_blocked_sizes),
        cmocka_unit_test(test_gate),
        cmocka_unit_test(test_verify_and_bound),
        cmocka_unit_test(test_fill),
        cmocka_unit_test(test_dispatch_rule),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_peak_accounting),
        cmocka_unit_test(test_peak_usable),
        cmocka_unit_test(test_triad),
        cmocka_unit_test(test_caches_and_topology),
        cmocka_unit_test(test_roofline),
        cmocka_unit_test(test_experiment_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
