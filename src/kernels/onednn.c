/* onednn.c — oneDNN as a baseline: dnnl_sgemm for fp32 matmul and dnnl_gemm_u8s8s32 as the int8
 * anchor, opened privately (dlopen RTLD_LOCAL) and only in a process that will not fork
 * afterwards, with its OpenMP runtime held to one thread; plus the record of its version and
 * effective ISA (see baselines.h).  dnnl.h supplies the types; every call goes through dlsym. */
#include <dlfcn.h>
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "perfweave/baselines.h"
#include "perfweave/common.h"

#define STR2(x) #x
#define STR(x) STR2(x)
#define ONEDNN_SONAME "libdnnl.so." STR(DNNL_VERSION_MAJOR)

/* The library once opened: the process's one oneDNN handle, and the pid of the process that
 * forks measuring children and so may not open it (0: none declared). */
static struct {
    pthread_once_t once;
    int status;
    char error[256];
    void *handle;
    __typeof__(dnnl_sgemm) *sgemm;
    __typeof__(dnnl_gemm_u8s8s32) *gemm_u8s8s32;
    int threads;
} lib = {PTHREAD_ONCE_INIT, PW_ENOTFOUND, "", NULL, NULL, NULL, 0};
static pid_t forking_process;

void pw_onednn_forbid_here(void)
{
    forking_process = getpid();
}

/* dlsym in the opened library; the first missing name is recorded in error (size bytes). */
static void *sym_or_note(const char *name, char *error, size_t size)
{
    void *p = dlsym(lib.handle, name);
    if (!p && !error[0]) snprintf(error, size, "oneDNN (%s) lacks %s", ONEDNN_SONAME, name);
    return p;
}

static void *sym(const char *name)
{
    return sym_or_note(name, lib.error, sizeof lib.error);
}

static void open_once(void)
{
    lib.handle = dlopen(ONEDNN_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib.handle) {
        const char *e = dlerror();
        snprintf(lib.error, sizeof lib.error, "cannot open oneDNN: %s", e ? e : ONEDNN_SONAME);
        return;
    }
    *(void **)&lib.sgemm = sym("dnnl_sgemm");
    *(void **)&lib.gemm_u8s8s32 = sym("dnnl_gemm_u8s8s32");
    /* oneDNN's OpenMP runtime comes in with it (a dependency of the handle): one thread before
     * the first parallel region, so that no thread pool is ever started. */
    void (*set_threads)(int);
    int (*max_threads)(void);
    *(void **)&set_threads = dlsym(lib.handle, "omp_set_num_threads");
    *(void **)&max_threads = dlsym(lib.handle, "omp_get_max_threads");
    if (set_threads) set_threads(1);
    lib.threads = max_threads ? max_threads() : 1;
    if (lib.sgemm && lib.gemm_u8s8s32) lib.status = PW_OK;
}

int pw_onednn_open(char *msg, size_t size)
{
    if (forking_process && getpid() == forking_process) {
        if (msg && size)
            snprintf(msg, size, "oneDNN may not run in the process that forks the measuring "
                     "children (its OpenMP runtime must not be copied into them); only a "
                     "measuring child may call it");
        return PW_EINVAL;
    }
    pthread_once(&lib.once, open_once);
    if (lib.status != PW_OK && msg && size) snprintf(msg, size, "%s", lib.error);
    return lib.status;
}

/* C (m × n, ldc) = A (m × k, lda) · op(B), op 'N' (B k × n) or 'T' (B n × k), row-major. */
static void onednn_sgemm(char transb, size_t m, size_t n, size_t k, const float *a, size_t lda,
                         const float *b, size_t ldb, float *c, size_t ldc)
{
    if (m == 0 || n == 0) return;
    if (!lib.sgemm) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = NAN;
        return;
    }
    if (k == 0) {
        for (size_t i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof *c);
        return;
    }
    if (lib.sgemm('N', transb, (dnnl_dim_t)m, (dnnl_dim_t)n, (dnnl_dim_t)k, 1.0f, a,
                  (dnnl_dim_t)lda, b, (dnnl_dim_t)ldb, 0.0f, c, (dnnl_dim_t)ldc) != dnnl_success)
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = NAN;
}

void pw_matmul_onednn(const pw_matmul_ctx *ctx, size_t m, size_t n, size_t k,
                      const float *restrict a, const float *restrict b, float *restrict c)
{
    (void)ctx;
    onednn_sgemm('N', m, n, k, a, k, b, n, c, n);
}

void pw_sgemm_nt_onednn(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                        size_t ldb, float *c, size_t ldc)
{
    onednn_sgemm('T', m, n, k, a, lda, b, ldb, c, ldc);
}

int pw_onednn_gemm_u8s8s32(size_t m, size_t n, size_t k, const uint8_t *A, size_t lda,
                           const int8_t *B, size_t ldb, int32_t *C, size_t ldc)
{
    if (!lib.gemm_u8s8s32) return PW_EINVAL;
    if (m == 0 || n == 0) return PW_OK;
    const int32_t co = 0;
    return lib.gemm_u8s8s32('N', 'T', 'F', (dnnl_dim_t)m, (dnnl_dim_t)n, (dnnl_dim_t)k, 1.0f, A,
                            (dnnl_dim_t)lda, 0, B, (dnnl_dim_t)ldb, 0, 0.0f, C, (dnnl_dim_t)ldc,
                            &co) == dnnl_success
               ? PW_OK
               : PW_EINVAL;
}

/* --- the int8 matmul primitive ------------------------------------------------------------- */
/* oneDNN's matmul primitive (u8 × s8 → s32, no scales or zero points) for one shape, with its
 * weights reordered once into the layout the primitive chose (format tag any): the library's
 * counterpart of a kernel whose weights are packed once, where dnnl_gemm_u8s8s32 packs them in
 * every call.  One engine and stream per process, made on first use. */
static struct {
    pthread_once_t once;
    int status;
    char error[256];
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    __typeof__(dnnl_memory_desc_init_by_tag) *md_init;
    __typeof__(dnnl_matmul_desc_init) *matmul_init;
    __typeof__(dnnl_primitive_desc_create) *pd_create;
    __typeof__(dnnl_primitive_desc_query_md) *pd_query_md;
    __typeof__(dnnl_primitive_desc_query) *pd_query;
    __typeof__(dnnl_primitive_desc_destroy) *pd_destroy;
    __typeof__(dnnl_primitive_create) *prim_create;
    __typeof__(dnnl_primitive_destroy) *prim_destroy;
    __typeof__(dnnl_primitive_execute) *execute;
    __typeof__(dnnl_reorder_primitive_desc_create) *reorder_pd;
    __typeof__(dnnl_memory_create) *mem_create;
    __typeof__(dnnl_memory_destroy) *mem_destroy;
    __typeof__(dnnl_memory_set_data_handle) *mem_set;
    __typeof__(dnnl_stream_wait) *wait;
} prim = {PTHREAD_ONCE_INIT, PW_ENOTFOUND, ""};

static void *prim_sym(const char *name)
{
    return sym_or_note(name, prim.error, sizeof prim.error);
}

static void prim_open_once(void)
{
    __typeof__(dnnl_engine_create) *engine_create;
    __typeof__(dnnl_stream_create) *stream_create;
    *(void **)&engine_create = prim_sym("dnnl_engine_create");
    *(void **)&stream_create = prim_sym("dnnl_stream_create");
    *(void **)&prim.md_init = prim_sym("dnnl_memory_desc_init_by_tag");
    *(void **)&prim.matmul_init = prim_sym("dnnl_matmul_desc_init");
    *(void **)&prim.pd_create = prim_sym("dnnl_primitive_desc_create");
    *(void **)&prim.pd_query_md = prim_sym("dnnl_primitive_desc_query_md");
    *(void **)&prim.pd_query = prim_sym("dnnl_primitive_desc_query");
    *(void **)&prim.pd_destroy = prim_sym("dnnl_primitive_desc_destroy");
    *(void **)&prim.prim_create = prim_sym("dnnl_primitive_create");
    *(void **)&prim.prim_destroy = prim_sym("dnnl_primitive_destroy");
    *(void **)&prim.execute = prim_sym("dnnl_primitive_execute");
    *(void **)&prim.reorder_pd = prim_sym("dnnl_reorder_primitive_desc_create");
    *(void **)&prim.mem_create = prim_sym("dnnl_memory_create");
    *(void **)&prim.mem_destroy = prim_sym("dnnl_memory_destroy");
    *(void **)&prim.mem_set = prim_sym("dnnl_memory_set_data_handle");
    *(void **)&prim.wait = prim_sym("dnnl_stream_wait");
    if (prim.error[0]) return;
    if (engine_create(&prim.engine, dnnl_cpu, 0) != dnnl_success ||
        stream_create(&prim.stream, prim.engine, dnnl_stream_default_flags) != dnnl_success) {
        snprintf(prim.error, sizeof prim.error, "oneDNN could not create a CPU engine and stream");
        return;
    }
    prim.status = PW_OK;
}

struct pw_onednn_qmatmul {
    dnnl_primitive_t matmul;
    dnnl_memory_t src, wei, dst;
    char impl[64];
};

/* Runs a reorder from memory `from` to memory `to` (same logical tensor, other layouts). */
static int reorder(dnnl_memory_t from, const dnnl_memory_desc_t *from_md, dnnl_memory_t to,
                   const dnnl_memory_desc_t *to_md)
{
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t r;
    if (prim.reorder_pd(&pd, from_md, prim.engine, to_md, prim.engine, NULL) != dnnl_success)
        return PW_EINVAL;
    dnnl_status_t st = prim.prim_create(&r, pd);
    prim.pd_destroy(pd);
    if (st != dnnl_success) return PW_EINVAL;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    st = prim.execute(r, prim.stream, 2, args);
    if (st == dnnl_success) st = prim.wait(prim.stream);
    prim.prim_destroy(r);
    return st == dnnl_success ? PW_OK : PW_EINVAL;
}

void pw_onednn_qmatmul_free(pw_onednn_qmatmul *q)
{
    if (!q) return;
    if (q->matmul) prim.prim_destroy(q->matmul);
    if (q->src) prim.mem_destroy(q->src);
    if (q->wei) prim.mem_destroy(q->wei);
    if (q->dst) prim.mem_destroy(q->dst);
    free(q);
}

int pw_onednn_qmatmul_new(size_t m, size_t n, size_t k, const int8_t *w, pw_onednn_qmatmul **out,
                          char *why, size_t whysize)
{
    *out = NULL;
    if (whysize) why[0] = '\0';
    if (lib.status != PW_OK || m == 0 || n == 0 || k == 0) {
        if (whysize) snprintf(why, whysize, "%s", lib.status != PW_OK ? lib.error : "an empty shape");
        return PW_EINVAL;
    }
    pthread_once(&prim.once, prim_open_once);
    if (prim.status != PW_OK) {
        if (whysize) snprintf(why, whysize, "%s", prim.error);
        return prim.status;
    }
    pw_onednn_qmatmul *q = pw_xcalloc(1, sizeof *q);
    dnnl_memory_desc_t src_md, wei_any, wei_user, dst_md;
    dnnl_dims_t sd = {(dnnl_dim_t)m, (dnnl_dim_t)k}, wd = {(dnnl_dim_t)k, (dnnl_dim_t)n},
                dd = {(dnnl_dim_t)m, (dnnl_dim_t)n};
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    int status = PW_EINVAL;
    /* The weights as stored: n rows of k (out × in, row-major), i.e. the k × n tensor in "ba". */
    if (prim.md_init(&src_md, 2, sd, dnnl_u8, dnnl_ab) != dnnl_success ||
        prim.md_init(&wei_any, 2, wd, dnnl_s8, dnnl_format_tag_any) != dnnl_success ||
        prim.md_init(&wei_user, 2, wd, dnnl_s8, dnnl_ba) != dnnl_success ||
        prim.md_init(&dst_md, 2, dd, dnnl_s32, dnnl_ab) != dnnl_success ||
        prim.matmul_init(&desc, &src_md, &wei_any, NULL, &dst_md) != dnnl_success ||
        prim.pd_create(&pd, &desc, NULL, prim.engine, NULL) != dnnl_success) {
        if (whysize) snprintf(why, whysize, "oneDNN has no u8 × s8 → s32 matmul for %zu × %zu × %zu", m, n, k);
        goto done;
    }
    const char *impl = NULL;
    if (prim.pd_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(q->impl, sizeof q->impl, "%s", impl);
    const dnnl_memory_desc_t *wei_md = prim.pd_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_t user = NULL;
    if (!wei_md || prim.prim_create(&q->matmul, pd) != dnnl_success ||
        prim.mem_create(&q->src, &src_md, prim.engine, DNNL_MEMORY_NONE) != dnnl_success ||
        prim.mem_create(&q->dst, &dst_md, prim.engine, DNNL_MEMORY_NONE) != dnnl_success ||
        prim.mem_create(&q->wei, wei_md, prim.engine, DNNL_MEMORY_ALLOCATE) != dnnl_success ||
        prim.mem_create(&user, &wei_user, prim.engine, (void *)w) != dnnl_success ||
        reorder(user, &wei_user, q->wei, wei_md) != PW_OK) {
        if (user) prim.mem_destroy(user);
        if (whysize) snprintf(why, whysize, "oneDNN could not set up the int8 matmul or reorder its weights");
        goto done;
    }
    prim.mem_destroy(user);
    status = PW_OK;
done:
    if (pd) prim.pd_destroy(pd);
    if (status == PW_OK) *out = q;
    else pw_onednn_qmatmul_free(q);
    return status;
}

int pw_onednn_qmatmul_run(pw_onednn_qmatmul *q, const uint8_t *a, int32_t *c)
{
    if (prim.mem_set(q->src, (void *)a) != dnnl_success ||
        prim.mem_set(q->dst, c) != dnnl_success)
        return PW_EINVAL;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, q->src}, {DNNL_ARG_WEIGHTS, q->wei},
                               {DNNL_ARG_DST, q->dst}};
    if (prim.execute(q->matmul, prim.stream, 3, args) != dnnl_success) return PW_EINVAL;
    return prim.wait(prim.stream) == dnnl_success ? PW_OK : PW_EINVAL;
}

const char *pw_onednn_qmatmul_impl(const pw_onednn_qmatmul *q)
{
    return q->impl[0] ? q->impl : "unknown";
}

/* dnnl_cpu_isa_t values (dnnl_types.h, 2.6) by name, with their vector code for sgemm. */
static const struct { unsigned value; const char *name; int floats; bool fma; } isas[] = {
    {0x1, "sse41", 4, false},           {0x3, "avx", 8, false},
    {0x7, "avx2", 8, true},             {0x407, "avx2_vnni", 8, true},
    {0xf, "avx512_mic", 16, true},      {0x1f, "avx512_mic_4ops", 16, true},
    {0x27, "avx512_core", 16, true},    {0x67, "avx512_core_vnni", 16, true},
    {0xe7, "avx512_core_bf16", 16, true}, {0x3e7, "avx512_core_amx", 16, true},
};

int pw_onednn_isa_vector(const char *isa, int *floats, bool *fma)
{
    for (size_t i = 0; isa && i < sizeof isas / sizeof isas[0]; i++)
        if (strcmp(isa, isas[i].name) == 0) {
            *floats = isas[i].floats;
            *fma = isas[i].fma;
            return PW_OK;
        }
    return PW_ENOTFOUND;
}

json_t *pw_onednn_json(void)
{
    char why[256];
    if (pw_onednn_open(why, sizeof why) != PW_OK)
        return json_pack("{s:b, s:s}", "available", 0, "error", why);
    __typeof__(dnnl_version) *version;
    __typeof__(dnnl_get_effective_cpu_isa) *effective_isa;
    *(void **)&version = dlsym(lib.handle, "dnnl_version");
    *(void **)&effective_isa = dlsym(lib.handle, "dnnl_get_effective_cpu_isa");
    const dnnl_version_t *v = version ? version() : NULL;
    char vs[48] = "", isa_buf[16];
    if (v) snprintf(vs, sizeof vs, "%d.%d.%d", v->major, v->minor, v->patch);
    const char *isa = NULL;
    if (effective_isa) {
        unsigned value = (unsigned)effective_isa();
        for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
            if (isas[i].value == value) isa = isas[i].name;
        if (!isa) {
            snprintf(isa_buf, sizeof isa_buf, "0x%x", value);
            isa = isa_buf;
        }
    }
    const char *runtime = !v ? NULL
                          : v->cpu_runtime == DNNL_RUNTIME_OMP ? "omp"
                          : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential"
                          : v->cpu_runtime == DNNL_RUNTIME_TBB ? "tbb"
                          : v->cpu_runtime == DNNL_RUNTIME_THREADPOOL ? "threadpool" : "other";
    int floats;
    bool fma;
    json_t *vector = pw_onednn_isa_vector(isa, &floats, &fma) == PW_OK
                         ? json_pack("{s:i, s:b}", "floats", floats, "fma", fma)
                         : json_null();
    Dl_info info;
    const char *file = dladdr((const void *)lib.sgemm, &info) ? info.dli_fname : NULL;
    return json_pack("{s:b, s:o, s:o, s:o, s:o, s:i, s:o, s:o}", "available", 1,
                     "version", v ? json_string(vs) : json_null(),
                     "hash", v && v->hash ? json_string(v->hash) : json_null(),
                     "isa", isa ? json_string(isa) : json_null(),
                     "runtime", runtime ? json_string(runtime) : json_null(), "threads", lib.threads,
                     "library", file ? json_string(file) : json_null(), "vector", vector);
}
