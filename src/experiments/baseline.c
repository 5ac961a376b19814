/* baseline.c — the experiments' side of the library baselines: the derived variant `library`
 * (the fastest library at each size), the sanity floor applied to a result, the marking of every
 * comparison with a handicapped library, and the record of the libraries as measured (see
 * baseline.h and baselines.h). */
#include "baseline.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/baselines.h"
#include "perfweave/common.h"
#include "perfweave/cpu.h"
#include "perfweave/handicap.h"
#include "perfweave/matmul.h"

bool pw_baseline_is_library(const char *variant)
{
    return variant && (strcmp(variant, "openblas") == 0 || strcmp(variant, "blis") == 0 ||
                       strcmp(variant, "onednn") == 0);
}

const char *pw_baseline_library_name(const char *variant)
{
    if (!variant) return "";
    if (strcmp(variant, "openblas") == 0) return "OpenBLAS";
    if (strcmp(variant, "blis") == 0) return "BLIS";
    if (strcmp(variant, "onednn") == 0) return "oneDNN";
    return variant;
}

/* The result's extra[key] object, created when missing; borrowed. */
static json_t *extra_object(pw_result *r, const char *key)
{
    json_t *o = json_object_get(json_object_get(pw_result_json(r), "extra"), key);
    if (json_is_object(o)) return o;
    pw_result_set_extra(r, key, json_object());
    return json_object_get(json_object_get(pw_result_json(r), "extra"), key);
}

int pw_baseline_pick_fastest(pw_result *r, const char *const *metrics, const char *const *labels,
                             size_t count, bool higher_is_better, const char *derived,
                             const char *key, const char *suffix)
{
    int best = -1;
    pw_metric bm = {0};
    for (size_t i = 0; i < count; i++) {
        pw_metric m;
        if (pw_result_get_metric(r, metrics[i], &m) != PW_OK) continue;
        if (best < 0 || (higher_is_better ? m.value > bm.value : m.value < bm.value)) {
            best = (int)i;
            bm = m;
        }
    }
    if (best < 0) return -1;
    /* The derived metric is the chosen one under another name: its basis and whatever stops it
     * deciding (too few samples, a handicapped baseline) come with it. */
    if (pw_result_metric(r, derived, bm.value, bm.lo, bm.hi, bm.unit) == PW_OK)
        pw_result_metric_basis_from(r, derived, metrics[best], 1.0);
    json_object_set_new(extra_object(r, key), suffix, json_string(labels[best]));
    return best;
}

int pw_baseline_publish_library(const pw_bench *b, pw_result *r, long n, const char *const *vars,
                                const bool *ran, const size_t *idx, size_t nvars, pw_table *gt,
                                pw_table *st)
{
    char names[8][96], derived[96], suffix[32];
    const char *metrics[8], *labels[8];
    size_t which[8], count = 0;
    for (size_t v = 0; v < nvars && count < 8; v++) {
        if (!ran[v] || !pw_baseline_is_library(vars[v])) continue;
        snprintf(names[count], sizeof names[count], "gflops.%s.n%ld", vars[v], n);
        metrics[count] = names[count];
        labels[count] = vars[v];
        which[count++] = v;
    }
    snprintf(derived, sizeof derived, "gflops.library.n%ld", n);
    snprintf(suffix, sizeof suffix, "n%ld", n);
    int pick = pw_baseline_pick_fastest(r, metrics, labels, count, true, derived, "library", suffix);
    if (pick < 0) return -1;
    size_t best = which[pick];
    pw_metric bm;
    pw_result_get_metric(r, derived, &bm);
    for (size_t v = 0; v < nvars; v++) {
        if (!ran[v] || pw_baseline_is_library(vars[v])) continue;
        char name[96];
        snprintf(name, sizeof name, "speedup.%s_vs_library.n%ld", vars[v], n);
        pw_metric sp;
        if (pw_bench_publish_speedup(b, idx[v], idx[best], r, name) == PW_OK && st &&
            pw_result_get_metric(r, name, &sp) == PW_OK)
            pw_table_rowf(st, "%ld\t%s vs library (= %s)\t%.3g× (%.3g–%.3g)", n, vars[v],
                          vars[best], sp.value, sp.lo, sp.hi);
    }
    if (gt) pw_baseline_library_row(r, gt, n);
    return (int)best;
}

const char *pw_baseline_library_at(const pw_result *r, long n)
{
    char suffix[32];
    snprintf(suffix, sizeof suffix, "n%ld", n);
    const json_t *extra = json_object_get(pw_result_json(r), "extra");
    return json_string_value(json_object_get(json_object_get(extra, "library"), suffix));
}

void pw_baseline_library_row(pw_result *r, pw_table *gt, long n)
{
    char derived[96];
    snprintf(derived, sizeof derived, "gflops.library.n%ld", n);
    pw_metric bm;
    const char *best = pw_baseline_library_at(r, n);
    if (best && pw_result_get_metric(r, derived, &bm) == PW_OK)
        pw_table_rowf(gt, "%ld\tlibrary = %s\tthe fastest library at this n\t%.3g (%.3g–%.3g)",
                      n, best, bm.value, bm.lo, bm.hi);
}

/* What one library variant runs, as this process runs it. */
typedef struct {
    json_t *doc;      /* its description (baselines.h); owned */
    char code[96];    /* "core SkylakeX", "kernel set haswell", "ISA avx2" */
    int floats;
    bool fma;
} lib_info;

static void describe(const char *variant, lib_info *out)
{
    memset(out, 0, sizeof *out);
    const char *key = "core", *label = "core";
    if (strcmp(variant, "openblas") == 0) out->doc = pw_openblas_json();
    else if (strcmp(variant, "blis") == 0) out->doc = pw_blis_json(), key = "arch", label = "kernel set";
    else out->doc = pw_onednn_json(), key = "isa", label = "ISA";
    const char *what = json_string_value(json_object_get(out->doc, key));
    snprintf(out->code, sizeof out->code, "%s %s", label, what ? what : "unknown");
    json_t *vec = json_object_get(out->doc, "vector");
    out->floats = (int)json_integer_value(json_object_get(vec, "floats"));
    out->fma = json_is_true(json_object_get(vec, "fma"));
}

int pw_baseline_check_floor(pw_result *r, const char *const *vars, size_t nvars,
                            const long *sizes, size_t nsizes)
{
    if (pw_result_failed(r)) return 0;
    pw_cpu_info cpu;
    pw_cpu_detect(&cpu);
    pw_baseline_machine mach = {NAN, NULL, pw_cpu_widest_isa(&cpu), pw_cpu_widest_floats(&cpu),
                                PW_BASELINE_FLOOR};
    char pname[48];
    pw_metric pk;
    snprintf(pname, sizeof pname, "peak.fma.%s", mach.widest);
    if (pw_result_get_metric(r, pname, &pk) == PW_OK) {
        mach.peak = pk.value;
        mach.peak_isa = mach.widest;
    } else if (pw_result_get_metric(r, "peak.fma", &pk) == PW_OK) {
        /* The CPU's widest unit was not measured: "peak.fma" is then the widest this build can
         * measure (ceilings.h; narrower only in a build without SIMD kernels, PW_NO_SIMD), and
         * the judgement says the fraction flatters the library. */
        mach.peak = pk.value;
        mach.peak_isa = pw_peak_isa(pw_peak_widest_fma(pw_cpu_host()));
    }
    int handicapped = 0;
    json_t *libs = extra_object(r, "libraries");
    pw_handicap_add_side(r, "library", "library");
    for (size_t v = 0; v < nvars; v++) {
        if (!pw_baseline_is_library(vars[v]) || json_object_get(libs, vars[v])) continue;
        lib_info info;
        describe(vars[v], &info);
        json_object_set_new(libs, vars[v], info.doc);
        /* The library's best size among those >= PW_BASELINE_FLOOR_MIN_N (one disturbed size
         * must not condemn it), or its largest size when none is that large. */
        char msg[1024];
        long at = 0, largest = 0;
        double best = NAN;
        for (size_t s = 0; s < nsizes; s++) {
            char gname[96];
            pw_metric g;
            snprintf(gname, sizeof gname, "gflops.%s.n%ld", vars[v], sizes[s]);
            if (pw_result_get_metric(r, gname, &g) != PW_OK) continue;
            if (sizes[s] > largest) largest = sizes[s];
            if (sizes[s] >= PW_BASELINE_FLOOR_MIN_N && (isnan(best) || g.value > best)) {
                best = g.value;
                at = sizes[s];
            }
        }
        if (!largest) continue;
        pw_baseline_obs obs = {pw_baseline_library_name(vars[v]), vars[v], info.code, best,
                               at ? at : largest, info.floats, info.fma};
        double fraction;
        if (!pw_baseline_judge(&obs, &mach, msg, sizeof msg, &fraction)) continue;
        handicapped++;
        pw_handicap_mark(r, vars[v], "library", "library", msg);
        pw_handicap_judged(r, vars[v], msg);
    }
    return handicapped;
}

int pw_baseline_check_code(pw_result *r, const char *const *vars, size_t nvars, const char *alias,
                           const char *alias_key)
{
    if (pw_result_failed(r)) return 0;
    pw_cpu_info cpu;
    pw_cpu_detect(&cpu);
    pw_baseline_machine mach = {NAN, NULL, pw_cpu_widest_isa(&cpu), pw_cpu_widest_floats(&cpu),
                                PW_BASELINE_FLOOR};
    json_t *libs = extra_object(r, "libraries");
    if (alias) pw_handicap_add_side(r, alias, alias_key);
    int handicapped = 0;
    for (size_t v = 0; v < nvars; v++) {
        if (!pw_baseline_is_library(vars[v])) continue;
        lib_info info;
        describe(vars[v], &info);
        pw_baseline_obs obs = {pw_baseline_library_name(vars[v]), vars[v], info.code, NAN, 0,
                               info.floats, info.fma};
        char msg[1024];
        double fraction;
        bool bad = pw_baseline_judge(&obs, &mach, msg, sizeof msg, &fraction);
        if (!json_object_get(libs, vars[v])) json_object_set_new(libs, vars[v], info.doc);
        else json_decref(info.doc);
        if (!bad) continue;
        handicapped++;
        pw_handicap_mark(r, vars[v], alias, alias_key, msg);
        pw_handicap_judged(r, vars[v], msg);
    }
    return handicapped;
}

size_t pw_baseline_fp32_libraries(const char *names[3], pw_mlp_gemm_fn fns[3], char *why,
                                  size_t whysize)
{
    size_t n = 0;
    pw_buf s;
    pw_buf_init(&s);
    names[n] = "openblas";
    fns[n++] = pw_sgemm_nt_openblas;
    char msg[256];
    if (pw_blis_open(msg, sizeof msg) == PW_OK) {
        names[n] = "blis";
        fns[n++] = pw_sgemm_nt_blis;
    } else {
        pw_buf_printf(&s, "BLIS is not measured: %s. ", msg);
    }
    if (pw_onednn_open(msg, sizeof msg) == PW_OK) {
        names[n] = "onednn";
        fns[n++] = pw_sgemm_nt_onednn;
    } else {
        pw_buf_printf(&s, "oneDNN is not measured: %s. ", msg);
    }
    if (why && whysize) snprintf(why, whysize, "%s", s.data);
    pw_buf_release(&s);
    return n;
}

int pw_baseline_check_nt(pw_mlp_gemm_fn fn, const char *name, size_t m, size_t n, size_t k,
                         uint64_t seed, char *msg, size_t size)
{
    size_t lda = k + 1, ldb = k + 3, ldc = n + 2;
    float *a = pw_xmalloc((m * lda + 1) * sizeof *a), *b = pw_xmalloc((n * ldb + 1) * sizeof *b);
    float *c = pw_xmalloc((m * ldc + 1) * sizeof *c);
    pw_matmul_fill(a, m * lda, 2 * seed + 1);
    pw_matmul_fill(b, n * ldb, 2 * seed + 2);
    for (size_t i = 0; i < m * ldc + 1; i++) c[i] = NAN;
    fn(m, n, k, a, lda, b, ldb, c, ldc);
    /* The bound of pw_matmul_verify: γ_k·(|A||B|ᵀ) plus the double reference's own error. */
    double g = pw_matmul_gamma(k) + 2.0 * (double)k * ldexp(1.0, -53);
    int st = PW_OK;
    for (size_t i = 0; i < m && st == PW_OK; i++)
        for (size_t j = 0; j < n && st == PW_OK; j++) {
            double e = 0, mag = 0;
            for (size_t p = 0; p < k; p++) {
                double x = (double)a[i * lda + p] * (double)b[j * ldb + p];
                e += x;
                mag += fabs(x);
            }
            double got = c[i * ldc + j];
            if (!(fabs(got - e) <= g * mag + FLT_MIN)) {
                st = PW_ERANGE;
                if (msg && size)
                    snprintf(msg, size, "%s fails the correctness check at m=%zu n=%zu k=%zu: "
                             "c[%zu,%zu] = %.9g, exact %.9g (bound %.3g)", name, m, n, k, i, j,
                             got, e, g * mag + FLT_MIN);
            }
        }
    /* Nothing past the end of C, and the padding between rows untouched. */
    if (st == PW_OK)
        for (size_t i = 0; i < m; i++)
            for (size_t j = n; j < ldc; j++)
                if (!isnan(c[i * ldc + j]) && st == PW_OK) {
                    st = PW_ERANGE;
                    if (msg && size)
                        snprintf(msg, size, "%s writes outside C (row %zu, column %zu of the "
                                 "padding) at m=%zu n=%zu k=%zu", name, i, j, m, n, k);
                }
    free(a);
    free(b);
    free(c);
    return st;
}

void pw_baseline_note(pw_result *r, const char *const *vars, size_t nvars)
{
    pw_buf s;
    pw_buf_init(&s);
    for (size_t v = 0; v < nvars; v++) {
        if (!pw_baseline_is_library(vars[v])) continue;
        bool dup = false;
        for (size_t u = 0; u < v; u++) dup = dup || strcmp(vars[u], vars[v]) == 0;
        if (dup) continue;
        lib_info info;
        describe(vars[v], &info);
        const json_t *d = info.doc;
        const char *ver = json_string_value(json_object_get(d, "version"));
        if (s.len) pw_buf_puts(&s, "; ");
        if (strcmp(vars[v], "openblas") == 0)
            pw_buf_printf(&s, "%s (version %s)", json_string_value(json_object_get(d, "summary")),
                          ver ? ver : "unknown");
        else if (!json_is_true(json_object_get(d, "available")))
            pw_buf_printf(&s, "%s not available: %s", pw_baseline_library_name(vars[v]),
                          json_string_value(json_object_get(d, "error")));
        else if (strcmp(vars[v], "blis") == 0)
            pw_buf_printf(&s, "BLIS %s (threading %s, %lld thread, %s)", ver ? ver : "unknown",
                          json_string_value(json_object_get(d, "threading")),
                          (long long)json_integer_value(json_object_get(d, "threads")), info.code);
        else
            pw_buf_printf(&s, "oneDNN %s (%s, %lld OpenMP thread)", ver ? ver : "unknown",
                          info.code, (long long)json_integer_value(json_object_get(d, "threads")));
        json_decref(info.doc);
    }
    if (s.len) pw_result_note(r, "Libraries as measured: %s.", s.data);
    pw_buf_release(&s);
}
