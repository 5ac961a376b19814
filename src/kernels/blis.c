/* blis.c — BLIS as a matmul baseline: its serial build opened privately (dlopen RTLD_LOCAL, so
 * that its CBLAS and BLAS symbols never bind for anyone else) and called through its own typed
 * API, bli_sgemm with general strides; plus the record of its version and kernel set (see
 * baselines.h).  blis.h is not included: its static helper functions reference library
 * internals and break unoptimised builds; the few declarations used are below, and the one
 * assumption they make (64-bit dim_t and inc_t) is checked when the library is opened. */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "perfweave/baselines.h"
#include "perfweave/common.h"

#ifndef PW_BLIS_PATH
#define PW_BLIS_PATH "libblis.so.4"
#endif

/* BLIS 0.9's typed API (frame/3/bli_l3_tapi.h): dim_t and inc_t are gint_t (int64_t in a build
 * with BLIS_INT_TYPE_SIZE 64), trans_t an enum whose BLIS_NO_TRANSPOSE is 0. */
typedef int64_t blis_int;
enum { BLIS_NO_TRANSPOSE_ = 0 };
typedef void (*blis_sgemm_fn)(int transa, int transb, blis_int m, blis_int n, blis_int k,
                              float *alpha, float *a, blis_int rsa, blis_int csa, float *b,
                              blis_int rsb, blis_int csb, float *beta, float *c, blis_int rsc,
                              blis_int csc);

/* The library once opened: the process's one BLIS handle (see baselines.h). */
static struct {
    pthread_once_t once;
    int status;
    char error[256];
    void *handle;
    blis_sgemm_fn sgemm;
} lib = {PTHREAD_ONCE_INIT, PW_ENOTFOUND, "", NULL, NULL};

static void *sym(const char *name)
{
    void *p = dlsym(lib.handle, name);
    if (!p && !lib.error[0]) snprintf(lib.error, sizeof lib.error, "BLIS (%s) lacks %s", PW_BLIS_PATH, name);
    return p;
}

static void open_once(void)
{
    lib.handle = dlopen(PW_BLIS_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!lib.handle) {
        const char *e = dlerror();
        snprintf(lib.error, sizeof lib.error, "cannot open BLIS: %s", e ? e : PW_BLIS_PATH);
        return;
    }
    *(void **)&lib.sgemm = sym("bli_sgemm");
    int64_t (*int_size)(void);
    *(void **)&int_size = sym("bli_info_get_int_type_size");
    if (!lib.sgemm || !int_size) return;
    /* A 32-bit gint_t would come back in the low half of the register only. */
    int64_t bits = int_size() & 0xffffffff;
    if (bits != 64) {
        snprintf(lib.error, sizeof lib.error, "BLIS (%s) uses %lld-bit integers; perfweave calls it "
                 "with 64-bit ones", PW_BLIS_PATH, (long long)bits);
        lib.sgemm = NULL;
        return;
    }
    lib.status = PW_OK;
}

int pw_blis_open(char *msg, size_t size)
{
    pthread_once(&lib.once, open_once);
    if (lib.status != PW_OK && msg && size) snprintf(msg, size, "%s", lib.error);
    return lib.status;
}

/* C (m × n, strides rsc, csc) = A (m × k, rsa, csa) · B (k × n, rsb, csb). */
static void blis_gemm(size_t m, size_t n, size_t k, const float *a, blis_int rsa, blis_int csa,
                      const float *b, blis_int rsb, blis_int csb, float *c, blis_int rsc)
{
    if (m == 0 || n == 0) return;
    if (!lib.sgemm) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * (size_t)rsc + j] = NAN;
        return;
    }
    if (k == 0) {
        for (size_t i = 0; i < m; i++) memset(c + i * (size_t)rsc, 0, n * sizeof *c);
        return;
    }
    float one = 1.0f, zero = 0.0f;
    /* BLIS takes non-const operands but does not write A or B (beta = 0: C is not read). */
    lib.sgemm(BLIS_NO_TRANSPOSE_, BLIS_NO_TRANSPOSE_, (blis_int)m, (blis_int)n, (blis_int)k, &one,
              (float *)a, rsa, csa, (float *)b, rsb, csb, &zero, c, rsc, 1);
}

void pw_matmul_blis(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                    const float *restrict a, const float *restrict b, float *restrict c)
{
    (void)ctx;
    blis_gemm(m, n, k, a, (blis_int)k, 1, b, (blis_int)n, 1, c, (blis_int)n);
}

void pw_sgemm_nt_blis(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                      size_t ldb, float *c, size_t ldc)
{
    /* Bᵀ as a k × n matrix: row stride 1, column stride ldb. */
    blis_gemm(m, n, k, a, (blis_int)lda, 1, b, 1, (blis_int)ldb, c, (blis_int)ldc);
}

int pw_blis_arch_vector(const char *arch, int *floats, bool *fma)
{
    static const struct { const char *name; int floats; bool fma; } known[] = {
        {"skx", 16, true},      {"knl", 16, true},        {"knc", 16, true},
        {"zen4", 16, true},     {"haswell", 8, true},     {"zen", 8, true},
        {"zen2", 8, true},      {"zen3", 8, true},        {"excavator", 8, true},
        {"steamroller", 8, true}, {"piledriver", 8, true}, {"bulldozer", 8, true},
        {"sandybridge", 8, false}, {"penryn", 4, false},
    };
    for (size_t i = 0; arch && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(arch, known[i].name) == 0) {
            *floats = known[i].floats;
            *fma = known[i].fma;
            return PW_OK;
        }
    return PW_ENOTFOUND;
}

/* The file addr was loaded from, or NULL. */
static const char *file_of(const void *addr)
{
    Dl_info info;
    return addr && dladdr(addr, &info) && info.dli_fname ? info.dli_fname : NULL;
}

json_t *pw_blis_json(void)
{
    char why[256];
    if (pw_blis_open(why, sizeof why) != PW_OK)
        return json_pack("{s:b, s:s}", "available", 0, "error", why);
    const char *(*version)(void);
    int (*query_id)(void);
    const char *(*arch_string)(int);
    int64_t (*openmp)(void), (*pthreads)(void), (*threads)(void);
    *(void **)&version = dlsym(lib.handle, "bli_info_get_version_str");
    *(void **)&query_id = dlsym(lib.handle, "bli_arch_query_id");
    *(void **)&arch_string = dlsym(lib.handle, "bli_arch_string");
    *(void **)&openmp = dlsym(lib.handle, "bli_info_get_enable_openmp");
    *(void **)&pthreads = dlsym(lib.handle, "bli_info_get_enable_pthreads");
    *(void **)&threads = dlsym(lib.handle, "bli_thread_get_num_threads");
    int id = query_id ? query_id() : -1;
    const char *arch = arch_string && id >= 0 ? arch_string(id) : NULL;
    const char *threading = !openmp || !pthreads ? NULL
                            : (openmp() & 0xffffffff) ? "openmp"
                            : (pthreads() & 0xffffffff) ? "pthreads" : "none";
    int floats;
    bool fma;
    json_t *vector = pw_blis_arch_vector(arch, &floats, &fma) == PW_OK
                         ? json_pack("{s:i, s:b}", "floats", floats, "fma", fma)
                         : json_null();
    const char *file = file_of((const void *)lib.sgemm);
    return json_pack("{s:b, s:o, s:o, s:i, s:o, s:I, s:o, s:o}", "available", 1,
                     "version", version ? json_string(version()) : json_null(),
                     "arch", arch ? json_string(arch) : json_null(), "arch_id", id,
                     "threading", threading ? json_string(threading) : json_null(),
                     /* A build without threading runs on the caller's thread only (its
                      * bli_thread_get_num_threads() is then -1, "not set"). */
                     "threads", (json_int_t)(threading && strcmp(threading, "none") == 0 ? 1
                                             : threads && threads() > 0 ? threads() : 1),
                     "library", file ? json_string(file) : json_null(), "vector", vector);
}
