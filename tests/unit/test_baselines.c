/* test_baselines.c — the library baselines without timing anything: the CPU → OpenBLAS core table
 * (CPUs OpenBLAS does not know included), the re-exec decision and the record of who chose the
 * core, the one-CBLAS symbol check, BLIS and oneDNN through the correctness gate and against
 * independent references, the rule that oneDNN never runs in the forking process, the sanity
 * floor on fixture numbers, and the marking of comparisons against a handicapped library.  The
 * OpenBLAS gate under the chosen core runs in a re-executed copy of this program. */
#include "support.h"

#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/experiments/baseline.h"
#include "perfweave/baselines.h"
#include "perfweave/common.h"
#include "perfweave/cpu.h"
#include "perfweave/handicap.h"
#include "perfweave/matmul.h"
#include "perfweave/quant.h"
#include "perfweave/result.h"

#define CFG_0321 "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64"
#define CFG_0322 "OpenBLAS 0.3.22 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"

/* --- CPUs built by hand ------------------------------------------------------------------------ */

static pw_cpu_info cpu_sse(const char *vendor, unsigned family, unsigned model)
{
    pw_cpu_info c;
    memset(&c, 0, sizeof c);
    snprintf(c.vendor, sizeof c.vendor, "%s", vendor);
    c.family = family;
    c.model = model;
    c.sse2 = c.sse3 = c.ssse3 = c.sse41 = c.sse42 = c.popcnt = true;
    c.osxsave = c.os_ymm = c.os_zmm = true;
    return c;
}

static pw_cpu_info cpu_avx2(const char *vendor, unsigned family, unsigned model)
{
    pw_cpu_info c = cpu_sse(vendor, family, model);
    c.avx = c.avx2 = c.fma = c.f16c = true;
    return c;
}

static pw_cpu_info cpu_avx512(const char *vendor, unsigned family, unsigned model, bool bf16)
{
    pw_cpu_info c = cpu_avx2(vendor, family, model);
    c.avx512f = c.avx512dq = c.avx512cd = c.avx512bw = c.avx512vl = c.avx512_vnni = true;
    c.avx512_bf16 = bf16;
    return c;
}

static void check_best(const pw_cpu_info *c, const char *config, const char *expected)
{
    const char *got = pw_openblas_best_core(c, config);
    if (!expected) {
        if (got) fail_msg("%s %u/%u: expected no core, got %s", c->vendor, c->family, c->model, got);
        return;
    }
    if (!got || strcmp(got, expected) != 0)
        fail_msg("%s %u/%u with '%s': expected %s, got %s", c->vendor, c->family, c->model, config,
                 expected, got ? got : "none");
    assert_non_null(pw_openblas_core_find(got));
}

static void test_core_table(void **state)
{
    (void)state;
    /* The machine of issue 12: Intel family 6 model 207 (not in 0.3.21's model switch, which
     * falls through to Prescott).  0.3.21 cannot be asked for Cooperlake by name. */
    pw_cpu_info emr = cpu_avx512("GenuineIntel", 6, 207, true);
    check_best(&emr, CFG_0321, "SkylakeX");
    check_best(&emr, CFG_0322, "Cooperlake");
    /* A family no OpenBLAS release knows: only the usable ISA matters. */
    pw_cpu_info future = cpu_avx512("GenuineIntel", 19, 1, false);
    check_best(&future, CFG_0322, "SkylakeX");
    /* AVX-512 in the CPU but not enabled by the OS (no ZMM state): AVX2 code. */
    pw_cpu_info nozmm = cpu_avx512("GenuineIntel", 6, 85, false);
    nozmm.os_zmm = false;
    check_best(&nozmm, CFG_0321, "Haswell");
    /* AMD: Zen kernels for AVX2, the AVX-512 ones for Zen 4; Hygon as AMD; other x86 vendors
     * with AVX2 get Haswell. */
    pw_cpu_info zen2 = cpu_avx2("AuthenticAMD", 23, 49), zen4 = cpu_avx512("AuthenticAMD", 25, 97, true);
    pw_cpu_info hygon = cpu_avx2("HygonGenuine", 24, 1), zhaoxin = cpu_avx2("  Shanghai  ", 7, 91);
    check_best(&zen2, CFG_0321, "Zen");
    check_best(&zen4, CFG_0321, "SkylakeX");
    check_best(&zen4, CFG_0322, "Cooperlake");
    check_best(&hygon, CFG_0321, "Zen");
    check_best(&zhaoxin, CFG_0321, "Haswell");
    pw_cpu_info hsw = cpu_avx2("GenuineIntel", 6, 60);
    check_best(&hsw, CFG_0321, "Haswell");
    /* AVX without FMA/AVX2; AVX without the OS's YMM state; older SSE levels. */
    pw_cpu_info snb = cpu_sse("GenuineIntel", 6, 42);
    snb.avx = true;
    check_best(&snb, CFG_0321, "Sandybridge");
    pw_cpu_info noymm = hsw;
    noymm.os_ymm = noymm.os_zmm = false;
    check_best(&noymm, CFG_0321, "Nehalem");
    pw_cpu_info core2 = cpu_sse("GenuineIntel", 6, 15);
    core2.sse41 = core2.sse42 = false;
    check_best(&core2, CFG_0321, "Core2");
    pw_cpu_info presc = core2;
    presc.ssse3 = false;
    check_best(&presc, CFG_0321, "Prescott");
    presc.sse3 = false;
    check_best(&presc, CFG_0321, NULL);
    /* A build for one core cannot be switched; no x86 vendor, no x86 core; unreadable text. */
    check_best(&emr, "OpenBLAS 0.3.21 NO_AFFINITY HASWELL MAX_THREADS=64", NULL);
    pw_cpu_info arm;
    memset(&arm, 0, sizeof arm);
    check_best(&arm, CFG_0321, NULL);
    check_best(&emr, "libopenblas", NULL);
    check_best(&emr, NULL, NULL);
}

static void test_core_names(void **state)
{
    (void)state;
    assert_int_equal(pw_openblas_version(CFG_0321), 321);
    assert_int_equal(pw_openblas_version("OpenBLAS 1.2.3"), 10203);
    assert_int_equal(pw_openblas_version("BLIS 0.9.0"), -1);
    assert_int_equal(pw_openblas_version(NULL), -1);
    const pw_openblas_core *p = pw_openblas_core_find("prescott"), *s = pw_openblas_core_find("SKYLAKEX");
    assert_non_null(p);
    assert_non_null(s);
    assert_string_equal(p->name, "Prescott");
    assert_int_equal(p->floats, 4);
    assert_false(p->fma);
    assert_int_equal(s->floats, 16);
    assert_true(s->fma);
    assert_true(s->rank > pw_openblas_core_find("Haswell")->rank);
    assert_true(pw_openblas_core_find("Haswell")->rank > pw_openblas_core_find("Sandybridge")->rank);
    assert_true(pw_openblas_core_find("Cooperlake")->rank > s->rank);
    assert_null(pw_openblas_core_find("FutureLake"));
    assert_int_equal(pw_openblas_core_find("Unknown")->rank, 0);
}

static void test_plan(void **state)
{
    (void)state;
    pw_cpu_info emr = cpu_avx512("GenuineIntel", 6, 207, true);
    pw_openblas_plan p;
    pw_openblas_plan_decide(&emr, CFG_0321, "Prescott", NULL, NULL, &p);
    assert_true(p.reexec);
    assert_string_equal(p.core, "SkylakeX");
    pw_openblas_plan_decide(&emr, CFG_0321, "Unknown", NULL, NULL, &p);
    assert_true(p.reexec);
    /* Already the best, or better than the table's choice: nothing to do. */
    pw_openblas_plan_decide(&emr, CFG_0321, "SkylakeX", NULL, NULL, &p);
    assert_false(p.reexec);
    pw_openblas_plan_decide(&emr, CFG_0321, "Cooperlake", NULL, NULL, &p);
    assert_false(p.reexec);
    /* The user's choice is kept; the re-executed image never re-executes again; a core this
     * table does not know is never overridden. */
    pw_openblas_plan_decide(&emr, CFG_0321, "Prescott", "Prescott", NULL, &p);
    assert_false(p.reexec);
    pw_openblas_plan_decide(&emr, CFG_0321, "Prescott", "SkylakeX", "Prescott", &p);
    assert_false(p.reexec);
    pw_openblas_plan_decide(&emr, CFG_0321, "FutureLake", NULL, NULL, &p);
    assert_false(p.reexec);
    pw_openblas_plan_decide(&emr, "OpenBLAS 0.3.21 HASWELL", "Haswell", NULL, NULL, &p);
    assert_false(p.reexec);
}

static const char *str(const json_t *d, const char *k)
{
    return json_string_value(json_object_get(d, k));
}

static void test_describe(void **state)
{
    (void)state;
    pw_cpu_info emr = cpu_avx512("GenuineIntel", 6, 207, true);
    /* perfweave chose, and it took. */
    json_t *d = pw_openblas_describe(&emr, CFG_0321, "SkylakeX", "SkylakeX", "Prescott", 1);
    assert_string_equal(str(d, "chosen_by"), "perfweave");
    assert_string_equal(str(d, "detected"), "Prescott");
    assert_string_equal(str(d, "requested"), "SkylakeX");
    assert_string_equal(str(d, "best"), "SkylakeX");
    assert_string_equal(str(d, "version"), "0.3.21");
    assert_true(json_is_true(json_object_get(d, "took")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "vector"), "floats")), 16);
    assert_string_equal(str(d, "summary"), "OpenBLAS core SkylakeX, chosen by perfweave: the library "
                                           "detected Prescott on this CPU");
    json_decref(d);
    /* perfweave chose, and it did not take. */
    d = pw_openblas_describe(&emr, CFG_0321, "Prescott", "SkylakeX", "Prescott", 1);
    assert_true(json_is_false(json_object_get(d, "took")));
    assert_non_null(strstr(str(d, "summary"), "did not take"));
    json_decref(d);
    /* The user chose: kept and reported; what the library would have detected is unknown. */
    d = pw_openblas_describe(&emr, CFG_0321, "Prescott", "Prescott", NULL, 1);
    assert_string_equal(str(d, "chosen_by"), "user");
    assert_true(json_is_null(json_object_get(d, "detected")));
    assert_true(json_is_true(json_object_get(d, "took")));
    assert_non_null(strstr(str(d, "summary"), "set by the user (OPENBLAS_CORETYPE=Prescott)"));
    assert_non_null(strstr(str(d, "summary"), "would be SkylakeX"));
    json_decref(d);
    /* The library chose. */
    pw_cpu_info hsw = cpu_avx2("GenuineIntel", 6, 60);
    d = pw_openblas_describe(&hsw, CFG_0321, "Haswell", NULL, NULL, 2);
    assert_string_equal(str(d, "chosen_by"), "library");
    assert_string_equal(str(d, "detected"), "Haswell");
    assert_true(json_is_null(json_object_get(d, "requested")));
    assert_int_equal(json_integer_value(json_object_get(d, "threads")), 2);
    assert_string_equal(str(d, "summary"), "OpenBLAS core Haswell, as the library detected it");
    json_decref(d);
}

/* --- one CBLAS ------------------------------------------------------------------------------ */

static void test_cblas_paths(void **state)
{
    (void)state;
    const char *const *syms = pw_cblas_symbols();
    const char *ob = "/lib/x86_64-linux-gnu/libopenblas.so.0";
    const char *good[3] = {ob, ob, ob}, *gsl[3] = {"/lib/x86_64-linux-gnu/libgslcblas.so.0", ob, ob},
               *none[3] = {ob, ob, NULL};
    char msg[512];
    assert_int_equal(pw_cblas_check_paths(syms, good, 3, ob, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_cblas_check_paths(syms, gsl, 3, ob, msg, sizeof msg), PW_ERANGE);
    assert_non_null(strstr(msg, "cblas_sgemm resolves into /lib/x86_64-linux-gnu/libgslcblas.so.0, not OpenBLAS"));
    assert_int_equal(pw_cblas_check_paths(syms, none, 3, ob, msg, sizeof msg), PW_ERANGE);
    assert_non_null(strstr(msg, "sgemm_ does not resolve"));
}

/* The live check, before and after BLIS (which exports cblas_sgemm and sgemm_ too) is opened. */
static void test_cblas_live(void **state)
{
    (void)state;
    char msg[512];
    if (pw_cblas_check(msg, sizeof msg) != PW_OK) fail_msg("%s", msg);
    if (pw_blis_open(msg, sizeof msg) != PW_OK) fail_msg("%s", msg);
    if (pw_cblas_check(msg, sizeof msg) != PW_OK) fail_msg("after opening BLIS: %s", msg);
    json_t *cb = pw_cblas_json(), *ob = pw_openblas_json();
    const char *lib = str(ob, "library");
    assert_non_null(lib);
    assert_non_null(strstr(lib, "openblas"));
    assert_string_equal(str(cb, "cblas_sgemm"), lib);
    assert_string_equal(str(cb, "cblas_sdot"), lib);
    assert_string_equal(str(cb, "sgemm_"), lib);
    /* And the call itself goes to OpenBLAS: the address this program calls is in its file. */
    Dl_info info;
    assert_true(dladdr((const void *)dlsym(RTLD_NEXT, "cblas_sgemm"), &info));
    assert_string_equal(info.dli_fname, lib);
    json_decref(cb);
    json_decref(ob);
}

/* --- BLIS and oneDNN -------------------------------------------------------------------------- */

static void test_libraries_gate(void **state)
{
    (void)state;
    static const char *const names[] = {"blis", "onednn"};
    pw_matmul_ctx ctx;
    pw_matmul_ctx_init(&ctx);
    for (int i = 0; i < 2; i++) {
        char msg[512];
        const pw_matmul_kernel *k = pw_matmul_find(names[i]);
        assert_non_null(k);
        if (pw_matmul_gate(k, &ctx, msg, sizeof msg) != PW_OK) fail_msg("%s", msg);
        if (pw_matmul_gate(k, NULL, msg, sizeof msg) != PW_OK) fail_msg("%s (no context)", msg);
    }
    pw_matmul_ctx_release(&ctx);
    json_t *b = pw_blis_json(), *o = pw_onednn_json();
    assert_true(json_is_true(json_object_get(b, "available")));
    assert_true(json_is_true(json_object_get(o, "available")));
    assert_int_equal(json_integer_value(json_object_get(b, "threads")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "threads")), 1);
    assert_string_equal(str(b, "threading"), "none");
    assert_non_null(strstr(str(b, "library"), "blis-serial"));
    json_decref(b);
    json_decref(o);
}

/* C = A·Bᵀ with padded leading dimensions, each library against a double-precision loop. */
static void test_nt_products(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {{1, 1, 1}, {7, 65, 300}, {37, 10, 128}, {33, 256, 784}};
    void (*const fns[3])(size_t, size_t, size_t, const float *, size_t, const float *, size_t,
                         float *, size_t) = {pw_sgemm_nt_openblas, pw_sgemm_nt_blis,
                                             pw_sgemm_nt_onednn};
    char msg[256];
    assert_int_equal(pw_blis_open(msg, sizeof msg), PW_OK);
    assert_int_equal(pw_onednn_open(msg, sizeof msg), PW_OK);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        size_t lda = k + 3, ldb = k + 5, ldc = n + 2;
        float *a = pw_xmalloc(m * lda * sizeof *a), *b = pw_xmalloc(n * ldb * sizeof *b);
        float *c = pw_xmalloc(m * ldc * sizeof *c);
        pw_matmul_fill(a, m * lda, 3 * s + 1);
        pw_matmul_fill(b, n * ldb, 3 * s + 2);
        for (int f = 0; f < 3; f++) {
            for (size_t i = 0; i < m * ldc; i++) c[i] = -7.0f;
            fns[f](m, n, k, a, lda, b, ldb, c, ldc);
            for (size_t i = 0; i < m; i++) {
                for (size_t j = 0; j < n; j++) {
                    double e = 0, mag = 0;
                    for (size_t p = 0; p < k; p++) {
                        e += (double)a[i * lda + p] * b[j * ldb + p];
                        mag += fabs((double)a[i * lda + p] * b[j * ldb + p]);
                    }
                    if (!(fabs(c[i * ldc + j] - e) <= pw_matmul_gamma(k) * mag + 1e-30))
                        fail_msg("library %d shape %zux%zux%zu: c[%zu,%zu] = %g, exact %g", f, m,
                                 n, k, i, j, (double)c[i * ldc + j], e);
                }
                for (size_t j = n; j < ldc; j++) assert_true(c[i * ldc + j] == -7.0f);
            }
        }
        free(a);
        free(b);
        free(c);
    }
}

/* Seeded int8 operands kept within 7 bits (activations 0..127, weights -64..63), where no
 * ISA's intermediate 16-bit sums can saturate: n of each into a or w (either may be NULL). */
static void fill_7bit(uint64_t *x, uint8_t *a, int8_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a) a[i] = (uint8_t)((*x = *x * 6364136223846793005ull + 1) >> 57);
        if (w) w[i] = (int8_t)((int)((*x = *x * 6364136223846793005ull + 1) >> 57) - 64);
    }
}

/* oneDNN's u8s8s32 GEMM equals the integer reference exactly (7-bit operands, fill_7bit). */
static void test_onednn_int8(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {{1, 10, 128}, {32, 256, 784}, {3, 128, 256}, {5, 7, 1}};
    char msg[256];
    assert_int_equal(pw_onednn_open(msg, sizeof msg), PW_OK);
    uint64_t x = 12345;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], lda = k + 4, ldb = k + 1, ldc = n + 3;
        uint8_t *a = pw_xmalloc(m * lda);
        int8_t *b = pw_xmalloc(n * ldb);
        int32_t *c = pw_xmalloc(m * ldc * sizeof *c), *ref = pw_xmalloc(m * ldc * sizeof *ref);
        fill_7bit(&x, a, NULL, m * lda);
        fill_7bit(&x, NULL, b, n * ldb);
        assert_int_equal(pw_onednn_gemm_u8s8s32(m, n, k, a, lda, b, ldb, c, ldc), PW_OK);
        pw_qgemm_ref(m, n, k, a, lda, b, ldb, ref, ldc);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                if (c[i * ldc + j] != ref[i * ldc + j])
                    fail_msg("shape %zux%zux%zu: c[%zu,%zu] = %d, reference %d", m, n, k, i, j,
                             c[i * ldc + j], ref[i * ldc + j]);
        free(a);
        free(b);
        free(c);
        free(ref);
    }
}

/* oneDNN's int8 matmul primitive, weights reordered once, equals the integer reference exactly
 * (7-bit operands, fill_7bit), and runs again on new activations. */
static void test_onednn_qmatmul(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {{1, 10, 128}, {32, 256, 784}, {256, 128, 256}, {5, 7, 1}};
    char msg[256];
    assert_int_equal(pw_onednn_open(msg, sizeof msg), PW_OK);
    uint64_t x = 999;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        uint8_t *a = pw_xmalloc(m * k);
        int8_t *w = pw_xmalloc(n * k);
        int32_t *c = pw_xmalloc(m * n * sizeof *c), *ref = pw_xmalloc(m * n * sizeof *ref);
        fill_7bit(&x, NULL, w, n * k);
        pw_onednn_qmatmul *q;
        assert_int_equal(pw_onednn_qmatmul_new(m, n, k, w, &q, msg, sizeof msg), PW_OK);
        assert_non_null(pw_onednn_qmatmul_impl(q));
        for (int round = 0; round < 2; round++) {
            fill_7bit(&x, a, NULL, m * k);
            assert_int_equal(pw_onednn_qmatmul_run(q, a, c), PW_OK);
            pw_qgemm_ref(m, n, k, a, k, w, k, ref, n);
            for (size_t i = 0; i < m * n; i++)
                if (c[i] != ref[i])
                    fail_msg("shape %zux%zux%zu round %d: c[%zu] = %d, reference %d (%s)", m, n, k,
                             round, i, c[i], ref[i], pw_onednn_qmatmul_impl(q));
        }
        pw_onednn_qmatmul_free(q);
        free(a);
        free(w);
        free(c);
        free(ref);
    }
}

/* A process that declared itself the forking parent may not open oneDNN; its children may. */
static void test_onednn_forbidden(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pw_onednn_forbid_here();
        char msg[256] = "";
        int st = pw_onednn_open(msg, sizeof msg);
        bool refused = st == PW_EINVAL && strstr(msg, "forks the measuring children");
        char gmsg[512] = "";
        bool gated = pw_matmul_gate(pw_matmul_find("onednn"), NULL, gmsg, sizeof gmsg) != PW_OK &&
                     strstr(gmsg, "cannot run here");
        pid_t grandchild = fork();
        if (grandchild == 0) _exit(pw_onednn_open(NULL, 0) == PW_OK ? 0 : 1);
        int gs;
        waitpid(grandchild, &gs, 0);
        _exit(refused && gated && WIFEXITED(gs) && WEXITSTATUS(gs) == 0 ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_probe(void **state)
{
    (void)state;
    json_t *p = pw_baselines_probe();
    assert_true(json_is_true(json_object_get(json_object_get(p, "blis"), "available")));
    assert_true(json_is_true(json_object_get(json_object_get(p, "onednn"), "available")));
    assert_non_null(str(json_object_get(p, "onednn"), "isa"));
    json_decref(p);
    int f;
    bool fma;
    assert_int_equal(pw_blis_arch_vector("skx", &f, &fma), PW_OK);
    assert_int_equal(f, 16);
    assert_int_equal(pw_blis_arch_vector("sandybridge", &f, &fma), PW_OK);
    assert_false(fma);
    assert_int_equal(pw_blis_arch_vector("generic", &f, &fma), PW_ENOTFOUND);
    assert_int_equal(pw_onednn_isa_vector("avx2", &f, &fma), PW_OK);
    assert_int_equal(f, 8);
    assert_true(fma);
    assert_int_equal(pw_onednn_isa_vector("sse41", &f, &fma), PW_OK);
    assert_int_equal(f, 4);
}

/* The openblas variant passes the gate under the core perfweave would choose, in a copy of this
 * program re-executed with OPENBLAS_CORETYPE set (the core is fixed at load time). */
static void test_openblas_gate_chosen_core(void **state)
{
    (void)state;
    pw_cpu_info cpu;
    pw_cpu_detect(&cpu);
    const char *best = pw_openblas_best_core(&cpu, openblas_get_config());
    if (!best) {
        print_message("no switchable OpenBLAS core here (%s): nothing to check\n", openblas_get_config());
        return;
    }
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        setenv("OPENBLAS_CORETYPE", best, 1);
        execl("/proc/self/exe", "test_baselines", "--gate-openblas", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char out[512] = "";
    size_t len = 0;
    ssize_t r;
    while (len + 1 < sizeof out && (r = read(fd[0], out + len, sizeof out - 1 - len)) > 0) len += (size_t)r;
    out[len] = '\0';
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    char expect[64];
    snprintf(expect, sizeof expect, "core %s gate ok", best);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !strstr(out, expect))
        fail_msg("re-executed gate under %s: '%s' (status %d)", best, out, status);
}

static int gate_openblas_main(void)
{
    char msg[512] = "";
    int st = pw_matmul_gate(pw_matmul_find("openblas"), NULL, msg, sizeof msg);
    printf("core %s gate %s %s\n", openblas_get_corename(), st == PW_OK ? "ok" : "failed", msg);
    return st == PW_OK ? 0 : 1;
}

/* --- the sanity floor ------------------------------------------------------------------------ */

static void test_floor_rule(void **state)
{
    (void)state;
    pw_baseline_machine avx512 = {160.0, "avx512", "avx512", 16, PW_BASELINE_FLOOR};
    char msg[1024];
    double f;
    /* A library on the right kernels: 81% of the peak. */
    pw_baseline_obs good = {"OpenBLAS", "openblas", "core SkylakeX", 130.0, 1024, 16, true};
    assert_false(pw_baseline_judge(&good, &avx512, msg, sizeof msg, &f));
    assert_close(f, 130.0 / 160.0, 1e-12);
    /* Exactly at the floor is not below it. */
    pw_baseline_obs half = {"BLIS", "blis", "kernel set haswell", 80.0, 1024, 8, true};
    assert_false(pw_baseline_judge(&half, &avx512, msg, sizeof msg, &f));
    /* AVX2 code at 44% of the AVX-512 peak: below the floor by measurement only. */
    pw_baseline_obs avx2 = {"BLIS", "blis", "kernel set haswell", 70.0, 1024, 8, true};
    assert_true(pw_baseline_judge(&avx2, &avx512, msg, sizeof msg, &f));
    assert_close(f, 0.4375, 1e-12);
    assert_non_null(strstr(msg, "BLIS (kernel set haswell) is a handicapped baseline"));
    assert_non_null(strstr(msg, "70 GFLOP/s at n = 1024, 44% of the single-core AVX-512 FMA peak of 160"));
    assert_non_null(strstr(msg, "the floor is 50%"));
    assert_null(strstr(msg, "can reach at most"));
    /* SSE code without FMA: below by measurement and by what its vector code can reach at all
     * (4 lanes · 1 flop over 16 lanes · 2 flops = 12.5%). */
    pw_baseline_obs sse = {"OpenBLAS", "openblas", "core Prescott", 27.0, 1024, 4, false};
    assert_true(pw_baseline_judge(&sse, &avx512, msg, sizeof msg, &f));
    assert_non_null(strstr(msg, "core Prescott"));
    assert_non_null(strstr(msg, "4-wide vector code without FMA can reach at most 12"));
    assert_non_null(strstr(msg, "comparisons against openblas are shown but decide no claim"));
    /* Without a measured peak only the ISA bound can judge, and it never flags code it does not
     * know. */
    pw_baseline_machine nopeak = {NAN, NULL, "avx512", 16, PW_BASELINE_FLOOR};
    assert_true(pw_baseline_judge(&sse, &nopeak, msg, sizeof msg, &f));
    assert_true(isnan(f));
    pw_baseline_obs unknown = {"BLIS", "blis", "kernel set generic", 5.0, 1024, 0, false};
    assert_false(pw_baseline_judge(&unknown, &nopeak, msg, sizeof msg, &f));
    /* but a measurement still can. */
    assert_true(pw_baseline_judge(&unknown, &avx512, msg, sizeof msg, &f));
    /* On an AVX2 machine, AVX code without FMA may still reach 50%: only measurement decides. */
    pw_baseline_machine avx2m = {80.0, "avx2", "avx2", 8, PW_BASELINE_FLOOR};
    pw_baseline_obs snb = {"OpenBLAS", "openblas", "core Sandybridge", 45.0, 1024, 8, false};
    assert_false(pw_baseline_judge(&snb, &avx2m, msg, sizeof msg, &f));
    snb.gflops = 30.0;
    assert_true(pw_baseline_judge(&snb, &avx2m, msg, sizeof msg, &f));
    assert_true(pw_baseline_judge(&sse, &avx2m, msg, sizeof msg, &f)); /* 4/16: SSE on AVX2 */
    /* A peak measured on a narrower unit than the widest is said to flatter the library. */
    pw_baseline_machine narrow = {80.0, "avx2", "avx512", 16, PW_BASELINE_FLOOR};
    assert_true(pw_baseline_judge(&sse, &narrow, msg, sizeof msg, &f));
    assert_non_null(strstr(msg, "AVX2 FMA peak of 80 GFLOP/s (the AVX-512 peak is not measured here"));
    /* No vector unit to speak of: the ISA rule is off. */
    pw_baseline_machine scalar = {NAN, NULL, "scalar", 1, PW_BASELINE_FLOOR};
    assert_false(pw_baseline_judge(&sse, &scalar, msg, sizeof msg, &f));
    /* Below PW_BASELINE_FLOOR_MIN_N the measurement does not judge; the ISA bound still does. */
    pw_baseline_obs small = avx2;
    small.n = PW_BASELINE_FLOOR_MIN_N / 2;
    assert_false(pw_baseline_judge(&small, &avx512, msg, sizeof msg, &f));
    assert_close(f, 0.4375, 1e-12);
    pw_baseline_obs small_sse = sse;
    small_sse.n = 64;
    assert_true(pw_baseline_judge(&small_sse, &avx512, msg, sizeof msg, &f));
    assert_null(strstr(msg, "it reached"));
    /* msg may be NULL. */
    assert_true(pw_baseline_judge(&sse, &avx512, NULL, 0, NULL));
}

static void put(pw_result *r, const char *name, double v)
{
    assert_int_equal(pw_result_metric(r, name, v, v * 0.99, v * 1.01, ""), PW_OK);
}

static const char *why_of(const pw_result *r, const char *name)
{
    pw_metric m;
    assert_int_equal(pw_result_get_metric(r, name, &m), PW_OK);
    return m.undecidable_why;
}

static void test_mark(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("acceleration.matmul", "fixture");
    put(r, "speedup.packed_vs_openblas.n256", 3.0);
    put(r, "speedup.openblas_vs_naive.n256", 9.0);
    put(r, "speedup.packed_vs_blis.n256", 1.1);
    put(r, "speedup.packed_vs_library.n256", 3.0);
    put(r, "speedup.packed_vs_library.n512", 1.1);
    put(r, "gflops.openblas.n256", 20.0);
    put(r, "score.openblas", 3.0);
    put(r, "score.packed", 3.0);
    pw_result_set_extra(r, "library", json_pack("{s:s, s:s}", "n256", "openblas", "n512", "blis"));
    /* A metric that is not a pair but rests on one (an event's score of the library). */
    pw_handicap_add_metric(r, "score.openblas", "openblas");
    assert_int_equal(pw_handicap_mark(r, "openblas", "library", "library", "openblas is handicapped"), 4);
    assert_string_equal(why_of(r, "score.openblas"), "baseline");
    assert_null(why_of(r, "score.packed"));
    assert_string_equal(why_of(r, "speedup.packed_vs_openblas.n256"), "baseline");
    assert_string_equal(why_of(r, "speedup.openblas_vs_naive.n256"), "baseline");
    assert_string_equal(why_of(r, "speedup.packed_vs_library.n256"), "baseline");
    assert_null(why_of(r, "speedup.packed_vs_blis.n256"));
    assert_null(why_of(r, "speedup.packed_vs_library.n512"));
    assert_null(why_of(r, "gflops.openblas.n256"));
    pw_metric m;
    pw_result_get_metric(r, "speedup.packed_vs_openblas.n256", &m);
    assert_string_equal(m.undecidable_reason, "openblas is handicapped");
    /* The sentence is listed once however often it is marked. */
    pw_handicap_mark(r, "openblas", NULL, NULL, "openblas is handicapped");
    json_t *w = json_object_get(pw_result_json(r), "baseline_warnings");
    assert_int_equal(json_array_size(w), 1);
    assert_string_equal(json_string_value(json_array_get(w, 0)), "openblas is handicapped");
    pw_result_free(r);
}

/* The whole rule on a result: BLIS well below a (fixture) peak is flagged and its comparisons
 * marked; OpenBLAS's comparisons stay decidable when only BLIS is handicapped. */
static void test_check_floor(void **state)
{
    (void)state;
    static const char *const vars[] = {"packed", "blis"};
    pw_result *r = pw_result_new("acceleration.matmul", "fixture");
    put(r, "peak.fma", 1000.0);
    put(r, "gflops.packed.n1024", 900.0);
    put(r, "gflops.blis.n1024", 100.0);
    put(r, "speedup.packed_vs_blis.n1024", 9.0);
    put(r, "speedup.packed_vs_openblas.n1024", 1.0);
    static const long sizes[] = {64, 1024};
    assert_int_equal(pw_baseline_check_floor(r, vars, 2, sizes, 2), 1);
    assert_string_equal(why_of(r, "speedup.packed_vs_blis.n1024"), "baseline");
    assert_null(why_of(r, "speedup.packed_vs_openblas.n1024"));
    json_t *doc = pw_result_json(r);
    json_t *w = json_object_get(doc, "baseline_warnings");
    assert_int_equal(json_array_size(w), 1);
    assert_non_null(strstr(json_string_value(json_array_get(w, 0)), "BLIS (kernel set "));
    assert_non_null(strstr(json_string_value(json_array_get(w, 0)), "10% of the single-core"));
    json_t *extra = json_object_get(doc, "extra");
    assert_non_null(json_object_get(json_object_get(extra, "libraries"), "blis"));
    /* The judgement is recorded for the weave to carry, and so is the side `library`. */
    assert_string_equal(json_string_value(json_object_get(json_object_get(extra, "handicapped"), "blis")),
                        json_string_value(json_array_get(w, 0)));
    assert_string_equal(json_string_value(json_object_get(json_object_get(extra, "baseline_sides"), "library")),
                        "library");
    pw_result_free(r);
    /* A library measured close to the peak is not flagged (unless its code could not reach the
     * floor at all, which BLIS's kernel sets on x86 with FMA never are). */
    r = pw_result_new("acceleration.matmul", "fixture");
    put(r, "peak.fma", 100.0);
    put(r, "gflops.blis.n1024", 90.0);
    put(r, "speedup.packed_vs_blis.n1024", 0.8);
    assert_int_equal(pw_baseline_check_floor(r, vars, 2, sizes, 2), 0);
    assert_null(why_of(r, "speedup.packed_vs_blis.n1024"));
    assert_null(json_object_get(pw_result_json(r), "baseline_warnings"));
    pw_result_free(r);
    /* One disturbed size does not condemn a library that clears the floor at another size of at
     * least PW_BASELINE_FLOOR_MIN_N; a small size never counts. */
    static const long three[] = {128, 256, 1024};
    r = pw_result_new("acceleration.matmul", "fixture");
    put(r, "peak.fma", 100.0);
    put(r, "gflops.blis.n128", 95.0);
    put(r, "gflops.blis.n256", 80.0);
    put(r, "gflops.blis.n1024", 20.0);
    assert_int_equal(pw_baseline_check_floor(r, vars, 2, three, 3), 0);
    pw_result_free(r);
    r = pw_result_new("acceleration.matmul", "fixture");
    put(r, "peak.fma", 100.0);
    put(r, "gflops.blis.n128", 95.0);
    put(r, "gflops.blis.n256", 30.0);
    put(r, "gflops.blis.n1024", 20.0);
    assert_int_equal(pw_baseline_check_floor(r, vars, 2, three, 3), 1);
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(pw_result_json(r), "baseline_warnings"), 0)),
                           "30 GFLOP/s at n = 256"));
    pw_result_free(r);
}

/* A result that compares against OpenBLAS (a pruning experiment: CSR against "dense", which is
 * OpenBLAS at every sparsity; structured against dense too, but both sides are the library).
 * core and model vary the description and the machine. */
static pw_result *prune_fixture(const char *core, const char *model)
{
    pw_result *r = pw_result_new("compression.prune", "prune");
    put(r, "speedup.csr_vs_dense.s50", 0.5);
    put(r, "speedup.csr_vs_dense.s95", 1.5);
    put(r, "speedup.structured_vs_dense.n50", 1.9);
    put(r, "time.dense", 2.0);
    pw_result_set_extra(r, "libraries", json_pack("{s:{s:s, s:s, s:s}}", "openblas", "version",
                                                  "0.3.21", "core", core, "library", "/lib/x.so"));
    pw_result_set_extra(r, "dense_library", json_pack("{s:s, s:s}", "s50", "openblas", "s95", "openblas"));
    pw_handicap_add_side(r, "dense", "dense_library");
    json_object_set_new(pw_result_json(r), "environment", json_pack("{s:{s:s}}", "cpu", "model", model));
    return r;
}

/* The judgement of one result (the matmul experiment measured OpenBLAS far below the peak)
 * carried into another that ran the same library on the same machine, and only then. */
static void test_carry(void **state)
{
    (void)state;
    pw_result *from = prune_fixture("Haswell", "Xeon A");
    json_object_del(json_object_get(pw_result_json(from), "extra"), "baseline_sides");
    put(from, "speedup.packed_vs_openblas.n1024", 1.4);
    const char *sentence = "OpenBLAS (core Haswell) is a handicapped baseline on this machine";
    pw_handicap_mark(from, "openblas", NULL, NULL, sentence);
    pw_handicap_judged(from, "openblas", sentence);

    pw_result *to = prune_fixture("Haswell", "Xeon A");
    /* A point already undecidable keeps its own reason. */
    pw_result_metric_undecidable(to, "speedup.csr_vs_dense.s95", "disturbed", "busy");
    assert_int_equal(pw_handicap_carry(to, from, "accel-spectrum"), 1);
    assert_string_equal(why_of(to, "speedup.csr_vs_dense.s50"), "baseline");
    assert_string_equal(why_of(to, "speedup.csr_vs_dense.s95"), "disturbed");
    assert_null(why_of(to, "speedup.structured_vs_dense.n50"));
    assert_null(why_of(to, "time.dense"));
    pw_metric m;
    pw_result_get_metric(to, "speedup.csr_vs_dense.s50", &m);
    assert_non_null(strstr(m.undecidable_reason, sentence));
    assert_non_null(strstr(m.undecidable_reason, "measured in experiment accel-spectrum"));
    /* The top of the report lists the same sentence for both experiments (deduplicated). */
    json_t *w = json_object_get(pw_result_json(to), "baseline_warnings");
    assert_int_equal(json_array_size(w), 1);
    assert_string_equal(json_string_value(json_array_get(w, 0)), sentence);
    /* Carrying twice changes nothing; a result never carries into itself. */
    assert_int_equal(pw_handicap_carry(to, from, "accel-spectrum"), 0);
    assert_int_equal(json_array_size(json_object_get(pw_result_json(to), "baseline_warnings")), 1);
    assert_int_equal(pw_handicap_carry(from, from, "accel-spectrum"), 0);
    pw_result_free(to);

    /* Another core, another machine, or no record of the library: nothing is carried. */
    static const char *const other[][2] = {{"SkylakeX", "Xeon A"}, {"Haswell", "Xeon B"}};
    for (size_t i = 0; i < 2; i++) {
        to = prune_fixture(other[i][0], other[i][1]);
        assert_false(pw_handicap_same_library(to, from, "openblas"));
        assert_int_equal(pw_handicap_carry(to, from, "accel-spectrum"), 0);
        assert_null(why_of(to, "speedup.csr_vs_dense.s50"));
        assert_null(json_object_get(pw_result_json(to), "baseline_warnings"));
        pw_result_free(to);
    }
    to = prune_fixture("Haswell", "Xeon A");
    json_object_del(json_object_get(pw_result_json(to), "extra"), "libraries");
    assert_int_equal(pw_handicap_carry(to, from, "accel-spectrum"), 0);
    pw_result_free(to);
    assert_false(pw_handicap_same_library(from, from, "blis"));
    /* The library measured as a candidate but never the side of a comparison: no warning. */
    to = prune_fixture("Haswell", "Xeon A");
    pw_result_set_extra(to, "dense_library", json_pack("{s:s, s:s}", "s50", "blis", "s95", "onednn"));
    assert_true(pw_handicap_same_library(to, from, "openblas"));
    assert_int_equal(pw_handicap_carry(to, from, "accel-spectrum"), 0);
    assert_null(json_object_get(pw_result_json(to), "baseline_warnings"));
    pw_result_free(to);

    /* A side recorded as one variant for every suffix (a string): the structured pair too. */
    to = prune_fixture("Haswell", "Xeon A");
    pw_result_set_extra(to, "dense_library", json_string("openblas"));
    assert_int_equal(pw_handicap_carry(to, from, "accel-spectrum"), 3);
    assert_string_equal(why_of(to, "speedup.structured_vs_dense.n50"), "baseline");
    pw_result_free(to);
    pw_result_free(from);
}

/* Deliberately wrong: transposes the wrong operand (computes A·B with B read as k × n). */
static void wrong_nt(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                     size_t ldb, float *c, size_t ldc)
{
    (void)ldb;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float s = 0;
            for (size_t p = 0; p < k; p++) s += a[i * lda + p] * b[p * n + j];
            c[i * ldc + j] = s;
        }
}

static void test_check_nt_and_fp32_libraries(void **state)
{
    (void)state;
    const char *names[3];
    pw_mlp_gemm_fn fns[3];
    char why[600], msg[512];
    size_t n = pw_baseline_fp32_libraries(names, fns, why, sizeof why);
    assert_int_equal(n, 3); /* OpenBLAS, BLIS and oneDNN all open here */
    assert_string_equal(names[0], "openblas");
    assert_string_equal(why, "");
    for (size_t i = 0; i < n; i++) {
        if (pw_baseline_check_nt(fns[i], names[i], 37, 128, 256, 1, msg, sizeof msg) != PW_OK)
            fail_msg("%s", msg);
        if (pw_baseline_check_nt(fns[i], names[i], 1, 10, 128, 2, msg, sizeof msg) != PW_OK)
            fail_msg("%s", msg);
    }
    assert_int_equal(pw_baseline_check_nt(wrong_nt, "wrong", 5, 7, 9, 3, msg, sizeof msg), PW_ERANGE);
    assert_non_null(strstr(msg, "wrong fails the correctness check at m=5 n=7 k=9"));
}

static void test_pick_fastest(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("quantization.mlp", "fixture");
    put(r, "time.fp32_openblas.b32", 0.44);
    put(r, "time.fp32_blis.b32", 0.47);
    put(r, "time.fp32_onednn.b32", 0.32);
    static const char *const ms[] = {"time.fp32_openblas.b32", "time.fp32_blis.b32",
                                     "time.fp32_onednn.b32", "time.fp32_missing.b32"};
    static const char *const labels[] = {"openblas", "blis", "onednn", "missing"};
    assert_int_equal(pw_baseline_pick_fastest(r, ms, labels, 4, false, "time.fp32.b32", "fp32", "b32"), 2);
    pw_metric m;
    assert_int_equal(pw_result_get_metric(r, "time.fp32.b32", &m), PW_OK);
    assert_close(m.value, 0.32, 1e-12);
    assert_close(m.lo, 0.32 * 0.99, 1e-12);
    json_t *extra = json_object_get(pw_result_json(r), "extra");
    assert_string_equal(json_string_value(json_object_get(json_object_get(extra, "fp32"), "b32")), "onednn");
    assert_int_equal(pw_baseline_pick_fastest(r, ms, labels, 4, true, "rate.b32", "rate", "b32"), 1);
    assert_int_equal(pw_baseline_pick_fastest(r, ms + 3, labels + 3, 1, true, "none.b32", "none", "b32"), -1);
    pw_result_free(r);
}

/* The ISA-only floor follows the core this process really runs (no re-exec in a unit test: on a
 * CPU OpenBLAS does not know, that is its weak fallback core). */
static void test_check_code(void **state)
{
    (void)state;
    pw_cpu_info cpu;
    pw_cpu_detect(&cpu);
    const pw_openblas_core *core = pw_openblas_core_find(openblas_get_corename());
    int widest = pw_cpu_widest_floats(&cpu);
    bool expect = core && core->floats > 0 && widest > 1 &&
                  core->floats * (core->fma ? 2 : 1) < widest;
    static const char *const vars[] = {"openblas"};
    pw_result *r = pw_result_new("quantization.mlp", "fixture");
    put(r, "speedup.int8_vs_fp32.b32", 1.5);
    put(r, "speedup.int8_vs_fp32.b256", 1.4);
    pw_result_set_extra(r, "fp32", json_pack("{s:s, s:s}", "b32", "openblas", "b256", "onednn"));
    assert_int_equal(pw_baseline_check_code(r, vars, 1, "fp32", "fp32"), expect ? 1 : 0);
    const char *why = why_of(r, "speedup.int8_vs_fp32.b32");
    if (expect) assert_string_equal(why, "baseline");
    else assert_null(why);
    assert_null(why_of(r, "speedup.int8_vs_fp32.b256"));
    /* The side and the description are recorded for the weave; so is a judgement made here. */
    json_t *extra = json_object_get(pw_result_json(r), "extra");
    assert_string_equal(json_string_value(json_object_get(json_object_get(extra, "baseline_sides"), "fp32")),
                        "fp32");
    assert_non_null(json_object_get(json_object_get(extra, "libraries"), "openblas"));
    assert_int_equal(json_object_get(json_object_get(extra, "handicapped"), "openblas") != NULL, expect);
    pw_result_free(r);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--gate-openblas") == 0) return gate_openblas_main();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_table),
        cmocka_unit_test(test_core_names),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_cblas_paths),
        cmocka_unit_test(test_cblas_live),
        cmocka_unit_test(test_libraries_gate),
        cmocka_unit_test(test_nt_products),
        cmocka_unit_test(test_onednn_int8),
        cmocka_unit_test(test_onednn_qmatmul),
        cmocka_unit_test(test_onednn_forbidden),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_openblas_gate_chosen_core),
        cmocka_unit_test(test_floor_rule),
        cmocka_unit_test(test_mark),
        cmocka_unit_test(test_check_floor),
        cmocka_unit_test(test_carry),
        cmocka_unit_test(test_check_nt_and_fp32_libraries),
        cmocka_unit_test(test_pick_fastest),
        cmocka_unit_test(test_check_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
