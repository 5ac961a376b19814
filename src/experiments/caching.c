/* caching.c — the KV-caching experiment (caching.generate): one seeded decoder generates text
 * greedily twice, recomputing the whole prefix at every step and with a KV cache, and the two
 * are compared for exactness, per-token latency against position, total generation time,
 * scaling exponents, cache memory (glibc's heap statistics and the resident set against the
 * formula), the speedup the FLOP counts predict, the cost of prefilling a prompt, and where a
 * cached step stands against the machine's measured roofs (arithmetic peak, DRAM and L2 triad
 * bandwidth) and cache sizes. */
#include <cblas.h>
#include <malloc.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ceilings.h"
#include "perfweave/alloc.h"
#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/experiment.h"
#include "perfweave/matmul.h"
#include "perfweave/memprobe.h"
#include "perfweave/stats.h"
#include "perfweave/transformer.h"

#define MAXLIST 32
#define LOGIT_TOL 1e-3   /* |logit(full) − logit(cached)| allowed, relative to max(1, |logit|) */

typedef struct {
    pw_transformer_config cfg;
    int prompt, check;
    long lengths[MAXLIST], positions[MAXLIST], prefill[MAXLIST];
    size_t nlengths, npositions, nprefill;
    int max_len;  /* the longest generation */
    int chunk;    /* rows of the prefill workspace: longer fills go in chunks of this */
    double budget; /* seconds for the total-generation runs beyond their minimum repetitions */
} plan;

/* One timed job: a forward pass, a decode step, a generation or a prefill. */
typedef struct {
    const pw_transformer *m;
    pw_transformer_work *w;
    pw_kvcache *c;
    int *seq;       /* owned by the experiment */
    int len;        /* positions of a step; prompt length of a generation or prefill */
    int steps;      /* tokens generated */
    float *logits;  /* vocab floats */
} job;

static void run_step_full(void *arg, uint64_t iters)
{
    job *j = arg;
    for (uint64_t i = 0; i < iters; i++)
        pw_transformer_forward_full(j->m, j->w, j->seq, j->len, j->logits, NULL, 0);
}

static void run_step_cached(void *arg, uint64_t iters)
{
    job *j = arg;
    for (uint64_t i = 0; i < iters; i++) {
        pw_kvcache_truncate(j->c, j->len - 1);
        pw_transformer_decode(j->m, j->c, j->w, j->seq[j->len - 1], j->logits, NULL, 0);
    }
}

static void run_prefill_batched(void *arg, uint64_t iters)
{
    job *j = arg;
    for (uint64_t i = 0; i < iters; i++) {
        pw_kvcache_truncate(j->c, 0);
        pw_transformer_prefill(j->m, j->c, j->w, j->seq, j->len, j->logits, NULL, 0);
    }
}

static void run_prefill_stepwise(void *arg, uint64_t iters)
{
    job *j = arg;
    for (uint64_t i = 0; i < iters; i++) {
        pw_kvcache_truncate(j->c, 0);
        for (int k = 0; k < j->len; k++)
            pw_transformer_decode(j->m, j->c, j->w, j->seq[k], j->logits, NULL, 0);
    }
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Sorts and removes duplicates in place; returns the new count. */
static size_t sort_unique(long *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_long);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

static int read_plan(pw_run *run, plan *p)
{
    pw_result *r = pw_run_result(run);
    pw_transformer_config_default(&p->cfg);
    p->cfg.d_model = (int)pw_run_int(run, "d_model");
    p->cfg.heads = (int)pw_run_int(run, "heads");
    p->cfg.layers = (int)pw_run_int(run, "layers");
    p->cfg.vocab = (int)pw_run_int(run, "vocab");
    p->cfg.context = (int)pw_run_int(run, "context");
    long dff = pw_run_int(run, "d_ff");
    p->cfg.norm = strcmp(pw_run_string(run, "norm"), "rmsnorm") == 0 ? PW_NORM_RMS : PW_NORM_LAYER;
    p->cfg.act = strcmp(pw_run_string(run, "activation"), "relu") == 0 ? PW_ACT_RELU : PW_ACT_GELU;
    p->cfg.pos = strcmp(pw_run_string(run, "encoding"), "sinusoidal") == 0 ? PW_POS_SINUSOIDAL
                                                                            : PW_POS_LEARNED;
    p->cfg.seed = (uint64_t)pw_run_int(run, "seed");
    if (pw_run_quick(run)) {
        /* --quick: a tiny model over the same lengths, so every metric still exists. */
        p->cfg.d_model = 16;
        p->cfg.heads = 2;
        p->cfg.layers = 1;
        p->cfg.vocab = 32;
        dff = 0;
        pw_result_note(r, "quick mode: a tiny model (d_model 16, 2 heads, 1 layer, vocab 32) "
                          "with short measurement budgets; its numbers say nothing about the "
                          "default model");
    }
    p->cfg.d_ff = dff > 0 ? (int)dff : 4 * p->cfg.d_model;
    char msg[256];
    if (pw_transformer_config_check(&p->cfg, msg, sizeof msg) != PW_OK) {
        pw_result_error(r, "%s", msg);
        return PW_EINVAL;
    }
    p->budget = pw_run_quick(run) ? 1 : pw_run_real(run, "budget");
    p->prompt = (int)pw_run_int(run, "prompt");
    p->check = (int)pw_run_int(run, "check");
    long tokens = pw_run_int(run, "tokens");
    size_t n = pw_run_ints(run, "lengths", p->lengths, MAXLIST - 1);
    if (n > MAXLIST - 1) n = MAXLIST - 1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (p->lengths[i] <= tokens) p->lengths[k++] = p->lengths[i];
    p->lengths[k++] = tokens;
    p->nlengths = sort_unique(p->lengths, k);
    p->max_len = (int)p->lengths[p->nlengths - 1];
    n = pw_run_ints(run, "positions", p->positions, MAXLIST);
    p->npositions = sort_unique(p->positions, n > MAXLIST ? MAXLIST : n);
    n = pw_run_ints(run, "prefill", p->prefill, MAXLIST - 1);
    if (n > MAXLIST - 1) n = MAXLIST - 1;
    p->prefill[n++] = p->prompt;  /* the prompt's own prefill is always timed */
    p->nprefill = sort_unique(p->prefill, n);

    const long C = p->cfg.context;
    const long need = (long)p->prompt + (p->max_len > p->check ? p->max_len : p->check) - 1;
    if (need > C) {
        pw_result_error(r, "a prompt of %d tokens and %d generated need %ld positions, more than "
                        "the context of %ld", p->prompt, p->max_len > p->check ? p->max_len : p->check,
                        need, C);
        return PW_ERANGE;
    }
    if (p->positions[p->npositions - 1] > C || p->prefill[p->nprefill - 1] > C) {
        pw_result_error(r, "positions and prefill lengths must not exceed the context of %ld", C);
        return PW_ERANGE;
    }
    if (p->npositions < 3) {
        pw_result_error(r, "the scaling fit needs at least 3 distinct positions, not %zu",
                        p->npositions);
        return PW_EINVAL;
    }
    return PW_OK;
}

/* Deterministic token ids for prompts and filler, from the seed (splitmix64). */
static void fill_tokens(int *seq, int n, int vocab, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < n; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        seq[i] = (int)(z % (uint64_t)vocab);
    }
}

static void fmt_ci(char *buf, size_t size, const pw_metric *m, double scale, const char *fmt)
{
    char v[32], lo[32], hi[32];
    snprintf(v, sizeof v, fmt, m->value * scale);
    snprintf(lo, sizeof lo, fmt, m->lo * scale);
    snprintf(hi, sizeof hi, fmt, m->hi * scale);
    snprintf(buf, size, "%s (%s–%s)", v, lo, hi);
}

static double metric_value(const pw_result *r, const char *name, pw_metric *m)
{
    if (pw_result_get_metric(r, name, m) != PW_OK) {
        m->value = m->lo = m->hi = m->cv = NAN;
        m->n = 0;
        return NAN;
    }
    return m->value;
}

/* Accumulates the differences between one step's logits x (the recomputed reference) and y:
 * the largest absolute difference into *maxdiff, the largest relative to max(1, |x|) into
 * *worst_rel.  Returns max |x|. */
static double logit_diff(const float *x, const float *y, int vocab, double *maxdiff,
                         double *worst_rel)
{
    double maxabs = 0;
    for (int v = 0; v < vocab; v++) {
        double d = fabs((double)x[v] - y[v]), scale = fmax(1.0, fabs((double)x[v]));
        *maxdiff = fmax(*maxdiff, d);
        *worst_rel = fmax(*worst_rel, d / scale);
        maxabs = fmax(maxabs, fabs((double)x[v]));
    }
    return maxabs;
}

/* How two greedy generations of the same prompt compare. */
typedef struct {
    int diverge;  /* the first step whose chosen token differs; steps when none does */
    double maxdiff, worst_rel, maxabs, margin;  /* over the steps compared; margin: best − second */
} gen_cmp;

/* Compares two greedy generations of steps tokens after prompt (tokens a from recomputation and
 * b from the cache, their logits la and lb, steps × vocab) step by step while the sequences
 * agree; the step at which they diverge is compared too, since its input was still the same.
 * After that the two paths see different inputs and their logits are no longer comparable. */
static void compare_generations(const int *a, const int *b, const float *la, const float *lb,
                                int prompt, int steps, int vocab, gen_cmp *out)
{
    gen_cmp g = {steps, 0, 0, 0, INFINITY};
    for (int s = 0; s < steps; s++)
        if (a[prompt + s] != b[prompt + s]) {
            g.diverge = s;
            break;
        }
    const int upto = g.diverge < steps ? g.diverge + 1 : steps;
    for (int s = 0; s < upto; s++) {
        const float *x = la + (size_t)s * (size_t)vocab, *y = lb + (size_t)s * (size_t)vocab;
        g.maxabs = fmax(g.maxabs, logit_diff(x, y, vocab, &g.maxdiff, &g.worst_rel));
        float best = -INFINITY, second = -INFINITY;
        for (int v = 0; v < vocab; v++) {
            if (x[v] > best) second = best, best = x[v];
            else if (x[v] > second) second = x[v];
        }
        g.margin = fmin(g.margin, (double)best - second);
    }
    *out = g;
}

/* --- sections ----------------------------------------------------------------------------- */

/* Cache memory at each position count, seen three ways: the accountant's figure (what the code
 * requested), glibc's bytes in use (what the C library holds for it) and the growth of the
 * resident set (the pages really touched), the last two against the formula 2·L·N·d·4 with the
 * tolerances of memprobe.h.  Each cache is allocated for N positions and filled by prefill.
 * The process is pinned to its CPU for the section, so that each resident-set growth is read on
 * one CPU; every resident-set reading is taken with no JSON or table being built in between. */
static int measure_memory(const plan *p, const pw_transformer *m, pw_transformer_work *wpre,
                          pw_alloc *acct, pw_result *r)
{
    const pw_transformer_config *c = &p->cfg;
    const size_t np = p->npositions, page = (size_t)sysconf(_SC_PAGESIZE);
    const double tol = pw_memprobe_rss_tolerance(sysconf(_SC_NPROCESSORS_ONLN), page);
    const double per_pos = 2.0 * c->layers * c->d_model * (double)sizeof(float);
    size_t bytes[MAXLIST], heap[MAXLIST];
    double rss[MAXLIST];
    int status = PW_OK, failed = 0;
    char msg[256], name[64];
    int *seq = pw_xmalloc(sizeof(int) * (size_t)c->context);
    float *logits = pw_xmalloc(sizeof(float) * (size_t)c->vocab);
    fill_tokens(seq, c->context, c->vocab, c->seed + 7);
    cpu_set_t saved;
    int pinned = pw_memprobe_pin(&saved, sizeof saved) == 0;
    for (size_t i = 0; i < np; i++) {
        const int n = (int)p->positions[i];
        size_t before_acct = pw_alloc_current(acct, "kv_cache");
        /* Free memory that is still resident (the arena's top, inherited or left by the last
         * cache) goes back first: glibc would serve the blocks from it before mapping new pages,
         * and touching it would not grow the resident set. */
        malloc_trim(0);
        size_t rss0 = pw_memprobe_rss_current(), heap0 = pw_memprobe_heap_in_use();
        pw_kvcache *kv = NULL;
        status = pw_kvcache_new(m, n, acct, &kv, msg, sizeof msg);
        heap[i] = pw_memprobe_heap_in_use() - heap0;
        /* Fill every position through real prefill passes (in chunks of the workspace). */
        for (int at = 0; status == PW_OK && at < n;) {
            int chunk = n - at < p->chunk ? n - at : p->chunk;
            status = pw_transformer_prefill(m, kv, wpre, seq + at, chunk, logits, msg, sizeof msg);
            at += chunk;
        }
        if (status != PW_OK) {
            failed = n;
            pw_kvcache_free(kv);
            break;
        }
        rss[i] = (double)pw_memprobe_rss_current() - (double)rss0;
        bytes[i] = pw_alloc_current(acct, "kv_cache") - before_acct;
        pw_kvcache_free(kv);
    }
    if (pinned) pw_memprobe_unpin(&saved, sizeof saved);
    free(seq);
    free(logits);
    if (status != PW_OK) {
        pw_result_error(r, "cache of %d positions: %s", failed, msg);
        return status;
    }

    static const char *const headers[] = {"positions", "2·L·N·d·4", "profiler (accountant)",
                                          "glibc holds", "resident set growth",
                                          "growth vs formula (tolerance)"};
    pw_table *t = pw_result_table(r, "memory", "KV cache memory against positions held: the "
                                  "formula, the accounting allocator, glibc's heap statistics "
                                  "and the resident set (bytes)", 6, headers);
    pw_chart *ch = pw_result_chart(r, "memory", "KV cache bytes against positions held",
                                   "positions", "bytes", PW_CHART_LOGX | PW_CHART_LOGY);
    pw_series *sf = pw_chart_series(ch, "formula 2·L·N·d·4");
    pw_series *sr = pw_chart_series(ch, "resident set growth");
    /* Two blocks (K and V), each within memprobe's block overhead, plus the cache's small
     * descriptor (one pw_xcalloc of a few pointers: under 128 bytes with glibc's header). */
    enum { DESCRIPTOR = 128 };
    for (size_t i = 0; i < np; i++) {
        const int n = (int)p->positions[i];
        const double want = per_pos * n, block = want / 2;
        double lo, hi;
        pw_memprobe_block_overhead((size_t)block, page, &lo, &hi);
        lo = 2 * lo, hi = 2 * hi + DESCRIPTOR;
        snprintf(name, sizeof name, "bytes.cache.t%d", n);
        pw_result_exact(r, name, (double)bytes[i], "B");
        snprintf(name, sizeof name, "mib.cache.t%d", n);
        pw_result_exact(r, name, (double)bytes[i] / (1024.0 * 1024.0), "MiB");
        snprintf(name, sizeof name, "bytes.heap.t%d", n);
        pw_result_exact(r, name, (double)heap[i], "B");
        snprintf(name, sizeof name, "heap_check.cache.t%d", n);
        pw_result_exact(r, name, pw_memprobe_position((double)heap[i] - want, lo, hi), "");
        /* One reading: the true growth lies within the counters' error of it. */
        snprintf(name, sizeof name, "bytes.rss.t%d", n);
        pw_result_metric(r, name, rss[i], fmin(rss[i], fmax(0, rss[i] - tol)), rss[i] + tol, "B");
        pw_result_metric_fixed_sample(r, name, "one reading per size; its range is the kernel's "
                                      "counting granularity, which repeating the reading does "
                                      "not reduce");
        /* The reading against the formula: allowed are the counters' error either way, plus the
         * page of each block's header. */
        const double rlo = -tol, rhi = tol + 2.0 * (double)page;
        snprintf(name, sizeof name, "rss_check.cache.t%d", n);
        pw_result_exact(r, name, pw_memprobe_position(rss[i] - want, rlo, rhi), "");
        if (i > 0 && p->positions[i] == 2 * p->positions[i - 1]) {
            snprintf(name, sizeof name, "doubling.heap.t%d", n);
            pw_result_exact(r, name, (double)heap[i] / (double)heap[i - 1], "×");
        }
        pw_table_rowf(t, "%d\t%.0f\t%zu\t%zu\t%.0f\t%+.0f (%s, −%.0f – +%.0f)", n, want, bytes[i],
                      heap[i], rss[i], rss[i] - want,
                      rss[i] - want >= rlo && rss[i] - want <= rhi ? "within" : "OUTSIDE", tol,
                      rhi);
        pw_series_point(sf, n, want, NAN, NAN);
        if (rss[i] > 0) pw_series_point(sr, n, rss[i], NAN, NAN);
    }
    /* Bytes per position from the resident set alone: the growth between the smallest and the
     * largest cache over the positions between them, with the tolerance of both readings. */
    const double dn = (double)(p->positions[np - 1] - p->positions[0]);
    const double slope = (rss[np - 1] - rss[0]) / dn, sl_err = (2 * tol + 2.0 * page) / dn;
    pw_result_metric(r, "bytes_per_position.rss", slope, slope - sl_err, slope + sl_err,
                     "B/position");
    pw_result_exact(r, "bytes_per_position.formula", per_pos, "B/position");
    pw_result_exact(r, "bytes.weights", (double)pw_alloc_current(acct, "weights"), "B");
    pw_result_exact(r, "mib.weights", (double)pw_alloc_current(acct, "weights") / (1024.0 * 1024.0),
                    "MiB");
    pw_result_note(r, "cache memory: for N positions a cache is allocated and filled by prefill "
                      "passes; the accountant's figure is the bytes requested (float32 K and V "
                      "blocks); glibc's bytes in use (mallinfo2) were read around the allocation "
                      "and may exceed 2·L·N·d·4 by each block's header, alignment slack and "
                      "rounding to a page, plus the cache's small descriptor; the resident set "
                      "(/proc/self/statm) was read around allocation and filling, on one CPU, and "
                      "may differ from the formula by the kernel's counting batches (±%.0f KiB "
                      "here) plus a header page per block (the table's tolerance); a cache held as "
                      "float64 would show twice the formula", tol / 1024);
    return PW_OK;
}

/* Both generations from one prompt for check steps: tokens and every step's logits. */
static int check_exactness(const plan *p, const pw_transformer *m, pw_transformer_work *wfull,
                           pw_transformer_work *wpre, pw_alloc *acct, pw_result *r,
                           int **ref_out, int *identical, int *diverge_out,
                           double *maxdiff_out)
{
    const pw_transformer_config *c = &p->cfg;
    const int steps = p->check, total = p->prompt + steps;
    int *a = pw_xmalloc(sizeof(int) * (size_t)total), *b = pw_xmalloc(sizeof(int) * (size_t)total);
    float *la = pw_xmalloc(sizeof(float) * (size_t)steps * (size_t)c->vocab);
    float *lb = pw_xmalloc(sizeof(float) * (size_t)steps * (size_t)c->vocab);
    fill_tokens(a, p->prompt, c->vocab, c->seed);
    memcpy(b, a, sizeof(int) * (size_t)p->prompt);
    char msg[256];
    pw_kvcache *kv = NULL;
    int status = pw_kvcache_new(m, total, acct, &kv, msg, sizeof msg);
    if (status == PW_OK)
        status = pw_transformer_generate_full(m, wfull, a, p->prompt, steps, la, msg, sizeof msg);
    if (status == PW_OK)
        status = pw_transformer_generate_cached(m, kv, wpre, b, p->prompt, steps, lb, msg,
                                                sizeof msg);
    if (status != PW_OK) {
        pw_result_error(r, "generation failed: %s", msg);
        goto out;
    }
    gen_cmp g;
    compare_generations(a, b, la, lb, p->prompt, steps, c->vocab, &g);
    const double maxdiff = g.maxdiff, worst_rel = g.worst_rel, maxabs = g.maxabs,
                 margin = g.margin;
    *identical = g.diverge == steps;
    *diverge_out = g.diverge;
    *maxdiff_out = maxdiff;
    pw_result_exact(r, "check.steps", steps, "tokens");
    pw_result_exact(r, "logits.max_abs_diff", maxdiff, "");
    pw_result_exact(r, "logits.max_abs", maxabs, "");
    pw_result_exact(r, "logits.min_margin", margin, "");
    pw_result_note(r, "exactness: %d greedy steps after a prompt of %d tokens, both paths from the "
                      "same weights; logits may differ by float rounding only (sgemm over the "
                      "prefix vs sgemv for one row); tolerance %.0e relative to max(1, |logit|)",
                   steps, p->prompt, LOGIT_TOL);
    if (worst_rel > LOGIT_TOL) {
        pw_result_error(r, "cached logits differ from recomputed ones by %.3g (tolerance %.0e): "
                           "the cache is wrong, so nothing is timed", maxdiff, LOGIT_TOL);
        status = PW_EINTERNAL;
        goto out;
    }
    if (!*identical)
        pw_result_warning(r, "the greedy tokens diverged at step %d although every logit agreed "
                             "within tolerance: a near tie flipped by rounding", g.diverge);
    *ref_out = a;
    a = NULL;
out:
    pw_kvcache_free(kv);
    free(a);
    free(b);
    free(la);
    free(lb);
    return status;
}

/* Per-token latency at each position, both paths interleaved in one bench; before timing, the
 * cached step at each position is checked against the full recomputation (an ERROR otherwise). */
static int measure_latency(const plan *p, const pw_transformer *m, pw_transformer_work *wfull,
                           pw_transformer_work *wpre, pw_transformer_work *wdec, pw_alloc *acct,
                           const int *seq, bool quick, pw_result *r)
{
    const pw_transformer_config *c = &p->cfg;
    const size_t np = p->npositions;
    job *jobs = pw_xcalloc(2 * np, sizeof *jobs);
    float *logits = pw_xmalloc(sizeof(float) * (size_t)c->vocab * 2 * np);
    int status = PW_OK;
    double step_maxdiff = 0;
    char msg[256], name[96];
    pw_bench_config bc;
    pw_bench_config_default(&bc, quick);
    bc.target_rel_ci = 0.02;
    bc.max_seconds = quick ? 0.8 : 15;
    pw_bench *b = pw_bench_new(&bc);
    for (size_t i = 0; i < np; i++) {
        const int n = (int)p->positions[i];
        job *f = &jobs[2 * i], *k = &jobs[2 * i + 1];
        *f = (job){m, wfull, NULL, (int *)seq, n, 0, logits + (size_t)(2 * i) * c->vocab};
        *k = (job){m, wdec, NULL, (int *)seq, n, 0, logits + (size_t)(2 * i + 1) * c->vocab};
        /* Each cached variant owns a cache holding the n − 1 earlier positions. */
        status = pw_kvcache_new(m, n, acct, &k->c, msg, sizeof msg);
        for (int at = 0; status == PW_OK && at < n - 1;) {
            int chunk = n - 1 - at < p->chunk ? n - 1 - at : p->chunk;
            status = pw_transformer_prefill(m, k->c, wpre, seq + at, chunk, k->logits, msg,
                                            sizeof msg);
            at += chunk;
        }
        /* Before it is timed, the cached step at this position must give the logits of the
         * full recomputation of the same n tokens (the exactness check covers only the
         * positions up to its own length). */
        if (status == PW_OK)
            status = pw_transformer_forward_full(m, wfull, seq, n, f->logits, msg, sizeof msg);
        if (status == PW_OK)
            status = pw_transformer_decode(m, k->c, wdec, seq[n - 1], k->logits, msg, sizeof msg);
        if (status == PW_OK && (status = pw_kvcache_truncate(k->c, n - 1)) != PW_OK)
            snprintf(msg, sizeof msg, "cannot truncate the cache to %d positions", n - 1);
        if (status != PW_OK) {
            pw_result_error(r, "preparing position %d: %s", n, msg);
            goto out;
        }
        double worst_rel = 0, diff = 0;
        logit_diff(f->logits, k->logits, c->vocab, &diff, &worst_rel);
        step_maxdiff = fmax(step_maxdiff, diff);
        if (worst_rel > LOGIT_TOL) {
            pw_result_error(r, "at position %d the cached step's logits differ from the full "
                               "recomputation's by %.3g (tolerance %.0e relative to max(1, "
                               "|logit|)): the cache is wrong, so no latency is timed", n, diff,
                            LOGIT_TOL);
            status = PW_EINTERNAL;
            goto out;
        }
        snprintf(name, sizeof name, "full.p%d", n);
        pw_bench_add(b, name, run_step_full, f);
        snprintf(name, sizeof name, "cached.p%d", n);
        pw_bench_add(b, name, run_step_cached, k);
    }
    pw_bench_run(b);
    pw_bench_record(b, r, "latency.");

    static const char *const headers[] = {"position", "full (ms)", "cached (ms)",
                                          "per-token speedup", "full GFLOP/s", "cached GFLOP/s",
                                          "cached GB/s"};
    pw_table *t = pw_result_table(r, "latency", "Per-token latency against position (median, 95% "
                                  "interval; per-token speedup: " PW_BENCH_SPEEDUP_METHOD "); cached GB/s: "
                                  "the bytes a cached step must move (weights it uses, K and V) over "
                                  "its median time", 7, headers);
    pw_chart *ch = pw_result_chart(r, "latency", "Per-token latency against position",
                                   "position (tokens in the sequence)", "ms per token",
                                   PW_CHART_LOGX | PW_CHART_LOGY);
    pw_series *sf = pw_chart_series(ch, "full recomputation");
    pw_series *sk = pw_chart_series(ch, "KV cache");
    double x[MAXLIST], yf[MAXLIST], yk[MAXLIST], ff[MAXLIST], fk[MAXLIST], bk[MAXLIST];
    for (size_t i = 0; i < np; i++) {
        const int n = (int)p->positions[i];
        char nf[64], nk[64], ns[64], gf[64], gk[64];
        snprintf(nf, sizeof nf, "latency.full.p%d", n);
        snprintf(nk, sizeof nk, "latency.cached.p%d", n);
        snprintf(ns, sizeof ns, "speedup_step.cached_vs_full.p%d", n);
        snprintf(gf, sizeof gf, "gflops.full.p%d", n);
        snprintf(gk, sizeof gk, "gflops.cached.p%d", n);
        double flf = pw_transformer_flops_step_full(c, n), flk = pw_transformer_flops_step_cached(c, n);
        /* The traffic a cached step asks for, and the rate at which it moved it. */
        const double bytes = pw_transformer_bytes_step_cached(c, n);
        char bw[64];
        snprintf(bw, sizeof bw, "bandwidth.cached.p%d", n);
        if (pw_bench_publish_time(b, 2 * i, r, nf, 1e3, "ms") != PW_OK ||
            pw_bench_publish_time(b, 2 * i + 1, r, nk, 1e3, "ms") != PW_OK ||
            pw_bench_publish_speedup(b, 2 * i + 1, 2 * i, r, ns) != PW_OK ||
            pw_bench_publish_rate(b, 2 * i, r, gf, flf / 1e9, "GFLOP/s") != PW_OK ||
            pw_bench_publish_rate(b, 2 * i + 1, r, gk, flk / 1e9, "GFLOP/s") != PW_OK ||
            pw_bench_publish_rate(b, 2 * i + 1, r, bw, bytes / 1e9, "GB/s") != PW_OK) {
            pw_result_error(r, "too few samples to publish the latency at position %d", n);
            status = PW_EINTERNAL;
            goto out;
        }
        snprintf(name, sizeof name, "mib.step.cached.p%d", n);
        pw_result_exact(r, name, bytes / (1024.0 * 1024.0), "MiB");
        snprintf(name, sizeof name, "intensity.cached.p%d", n);
        pw_result_exact(r, name, flk / bytes, "flop/B");
        /* The measured per-step speedup over the one the FLOP counts predict: the ratio of the
         * two paths' achieved GFLOP/s, with the paired interval of the speedup. */
        snprintf(name, sizeof name, "speedup_step_vs_flops.p%d", n);
        pw_metric sp;
        if (pw_result_get_metric(r, ns, &sp) == PW_OK) {
            const double pred = flf / flk;
            pw_result_metric(r, name, sp.value / pred, sp.lo / pred, sp.hi / pred, "×");
            pw_result_metric_basis_from(r, name, ns, 1);
        }
        pw_metric mf, mk, ms, mgf, mgk, mbw;
        metric_value(r, nf, &mf);
        metric_value(r, nk, &mk);
        metric_value(r, ns, &ms);
        metric_value(r, gf, &mgf);
        metric_value(r, gk, &mgk);
        metric_value(r, bw, &mbw);
        char cf[128], ck[128], cs[128];
        fmt_ci(cf, sizeof cf, &mf, 1, "%.4g");
        fmt_ci(ck, sizeof ck, &mk, 1, "%.4g");
        fmt_ci(cs, sizeof cs, &ms, 1, "%.3g");
        pw_table_rowf(t, "%d\t%s\t%s\t%s×\t%.1f\t%.1f\t%.1f", n, cf, ck, cs, mgf.value,
                      mgk.value, mbw.value);
        pw_series_point(sf, n, mf.value, mf.lo, mf.hi);
        pw_series_point(sk, n, mk.value, mk.lo, mk.hi);
        x[i] = n;
        yf[i] = mf.value;
        yk[i] = mk.value;
        ff[i] = flf;
        fk[i] = flk;
        bk[i] = bytes;
    }
    pw_powerfit pf, pk, qf, qk;
    if (pw_stats_powerfit(x, yf, np, &pf) != PW_OK || pw_stats_powerfit(x, yk, np, &pk) != PW_OK ||
        pw_stats_powerfit(x, ff, np, &qf) != PW_OK || pw_stats_powerfit(x, fk, np, &qk) != PW_OK) {
        pw_result_error(r, "the log-log fit of latency against position failed");
        status = PW_EINTERNAL;
        goto out;
    }
    pw_result_metric(r, "exponent.full", pf.exponent, pf.ci95[0], pf.ci95[1], "");
    pw_result_metric(r, "exponent.cached", pk.exponent, pk.ci95[0], pk.ci95[1], "");
    /* The drop is the slope of log(full / cached) on log N: least squares is linear in y, so
     * that slope equals the difference of the two slopes exactly, and its interval comes from
     * the residuals of the ratio itself.  Combining the two fits' half-widths in quadrature
     * would treat them as independent, which they are not (same positions, same bench). */
    double ratio[MAXLIST];
    for (size_t i = 0; i < np; i++) ratio[i] = yf[i] / yk[i];
    pw_powerfit pd;
    if (pw_stats_powerfit(x, ratio, np, &pd) != PW_OK) {
        pw_result_error(r, "the log-log fit of the per-token speedup against position failed");
        status = PW_EINTERNAL;
        goto out;
    }
    pw_result_metric(r, "exponent.drop", pd.exponent, pd.ci95[0], pd.ci95[1], "");
    static const char *const fits[] = {"exponent.full", "exponent.cached", "exponent.drop"};
    for (int k = 0; k < 3; k++)
        pw_result_metric_fixed_sample(r, fits[k], "the interval of a log-log fit over %zu "
                                      "positions comes from its residuals, the curve's departure "
                                      "from a power law, which repeating the timings does not "
                                      "shrink; more positions would narrow it", np);
    pw_result_exact(r, "fit.full.r2", pf.r2, "");
    pw_result_exact(r, "fit.cached.r2", pk.r2, "");
    pw_result_exact(r, "exponent_flops.full", qf.exponent, "");
    pw_result_exact(r, "exponent_flops.cached", qk.exponent, "");
    /* The same slope for the bytes a cached step must move: a second prediction of its cost. */
    pw_powerfit qb;
    if (pw_stats_powerfit(x, bk, np, &qb) == PW_OK)
        pw_result_exact(r, "exponent_bytes.cached", qb.exponent, "");
    pw_result_note(r, "per-token latency at position N is one step, timed repeatedly: the full "
                      "path runs the whole N-token prefix through the model; the cached path "
                      "decodes position N from a cache already holding N − 1 (prepared by "
                      "prefill, outside the timing); exponents are least-squares slopes of log "
                      "latency on log N over %zu positions (95%% interval from the fit's "
                      "residuals, t with %zu df); exponent.drop is the slope of log(full / "
                      "cached latency) on log N, which equals the difference of the two "
                      "exponents, and its interval comes from that fit's own residuals, so the "
                      "two fits' correlation is accounted for", np, np - 2);
    pw_result_note(r, "before timing, the cached step at every position was compared with the "
                      "full recomputation of the same prefix: largest logit difference %.3g "
                      "(tolerance %.0e relative to max(1, |logit|))", step_maxdiff, LOGIT_TOL);
out:
    for (size_t i = 0; i < np; i++) pw_kvcache_free(jobs[2 * i + 1].c);
    pw_bench_free(b);
    free(jobs);
    free(logits);
    return status;
}

/* Publishes the median of x with its bootstrap interval, its basis, and keeps the samples. */
static int publish_samples(pw_result *r, const char *name, const double *x, size_t n,
                           uint64_t seed, const char *unit)
{
    pw_summary s;
    int rc = pw_stats_summarize(x, n, seed, &s);
    if (rc == PW_OK) rc = pw_result_metric(r, name, s.median, s.ci95_median[0], s.ci95_median[1],
                                           unit);
    if (rc == PW_OK) rc = pw_result_metric_basis(r, name, (double)s.n, s.cv);
    pw_result_samples(r, name, x, n);
    return rc;
}

/* Publishes the geometric mean of x with a Student t interval computed on log scale (which
 * assumes log-normal noise), the basis (n and the coefficient of variation of x), and keeps the
 * samples: the summary for lengths with too few runs for a bootstrap. */
static int publish_logmean(pw_result *r, const char *name, const double *x, size_t n,
                           uint64_t seed, const char *unit)
{
    double *lx = pw_xmalloc(n * sizeof *lx);
    for (size_t i = 0; i < n; i++) lx[i] = x[i] > 0 ? log(x[i]) : NAN;
    pw_summary sl, sx;
    int rc = pw_stats_summarize(lx, n, seed, &sl);
    if (rc == PW_OK) rc = pw_stats_summarize(x, n, seed, &sx);
    if (rc == PW_OK) rc = pw_result_metric(r, name, exp(sl.mean), exp(sl.ci95_mean[0]),
                                           exp(sl.ci95_mean[1]), unit);
    if (rc == PW_OK) rc = pw_result_metric_basis(r, name, (double)n, sx.cv);
    pw_result_samples(r, name, x, n);
    free(lx);
    return rc;
}

/* The ratio of the geometric means of a and b with a Welch t interval on log scale
 * (Welch–Satterthwaite df, the t quantile from GSL). */
static int ratio_logmean(const double *a, size_t na, const double *b, size_t nb, double *ratio,
                         double ci[2])
{
    double *la = pw_xmalloc(na * sizeof *la), *lb = pw_xmalloc(nb * sizeof *lb);
    for (size_t i = 0; i < na; i++) la[i] = a[i] > 0 ? log(a[i]) : NAN;
    for (size_t i = 0; i < nb; i++) lb[i] = b[i] > 0 ? log(b[i]) : NAN;
    pw_welch w;
    int rc = pw_stats_welch(la, na, lb, nb, &w);
    if (rc == PW_OK) {
        *ratio = exp(w.diff);
        ci[0] = exp(w.diff_ci95[0]);
        ci[1] = exp(w.diff_ci95[1]);
    }
    free(la);
    free(lb);
    return rc;
}

/* Generates steps tokens both ways again, untimed and keeping every step's logits, after the
 * timed runs of that length produced tokens f0 (recomputation) and k0 (cache) that differ.
 * The rerun must reproduce f0 and k0, and the logits must agree within LOGIT_TOL up to the
 * step at which the tokens diverge; otherwise the cache is wrong and the result an ERROR.
 * On success *g says where they diverged and by how much the logits differed. */
static int verify_divergence(const plan *p, const pw_transformer *m, pw_transformer_work *wfull,
                             pw_transformer_work *wpre, pw_kvcache *kv, const int *f0,
                             const int *k0, int steps, gen_cmp *g, pw_result *r)
{
    const int vocab = p->cfg.vocab, total = p->prompt + steps;
    int *a = pw_xmalloc(sizeof(int) * (size_t)total), *b = pw_xmalloc(sizeof(int) * (size_t)total);
    float *la = pw_xmalloc(sizeof(float) * (size_t)steps * (size_t)vocab);
    float *lb = pw_xmalloc(sizeof(float) * (size_t)steps * (size_t)vocab);
    memcpy(a, f0, sizeof(int) * (size_t)p->prompt);
    memcpy(b, f0, sizeof(int) * (size_t)p->prompt);
    char msg[256];
    int status = pw_transformer_generate_full(m, wfull, a, p->prompt, steps, la, msg, sizeof msg);
    if (status == PW_OK)
        status = pw_transformer_generate_cached(m, kv, wpre, b, p->prompt, steps, lb, msg,
                                                sizeof msg);
    if (status != PW_OK) {
        pw_result_error(r, "checking the generation of %d tokens: %s", steps, msg);
        goto out;
    }
    if (memcmp(a, f0, sizeof(int) * (size_t)total) != 0 ||
        memcmp(b, k0, sizeof(int) * (size_t)total) != 0) {
        pw_result_error(r, "generating %d tokens again did not reproduce the timed runs' tokens: "
                           "a path is not deterministic, so no generation time is published",
                        steps);
        status = PW_EINTERNAL;
        goto out;
    }
    compare_generations(a, b, la, lb, p->prompt, steps, vocab, g);
    if (g->worst_rel > LOGIT_TOL) {
        pw_result_error(r, "generating %d tokens, the cached path chose a different token at step "
                           "%d and its logits differ from recomputation's by %.3g (tolerance %.0e "
                           "relative to max(1, |logit|)): the cache is wrong, so no generation "
                           "time is published", steps, g->diverge, g->maxdiff, LOGIT_TOL);
        status = PW_EINTERNAL;
    }
out:
    free(a);
    free(b);
    free(la);
    free(lb);
    return status;
}

/* Whole generations of each length both ways.  Not through pw_bench: its calibration and
 * warm-up would each add one more full run, and a 512-token recomputation takes tens of
 * seconds; a single run is in any case far above the clock's resolution.  Instead pairs of runs
 * alternate (full, cached, cached, full, …) at least MIN_REPS times per length, more while the
 * length's share of the budget lasts; the exactness check before this served as warm-up.
 * Every timed run's tokens are checked: repeated runs of a path must agree, recomputation must
 * reproduce the checked generation ref, and where the cache's tokens differ from
 * recomputation's the logits are compared (verify_divergence); a real mismatch is an ERROR and
 * no generation time is published.  known_diverge is the step at which the exactness check saw
 * the tokens diverge by a near tie (its logits agreed), or −1. */
static int measure_generation(const plan *p, const pw_transformer *m, pw_transformer_work *wfull,
                              pw_transformer_work *wpre, pw_alloc *acct, const int *ref,
                              int known_diverge, int *identical, pw_result *r)
{
    enum { MAX_REPS = 30, MIN_REPS = 3, BOOT_MIN = 6 };
    const pw_transformer_config *c = &p->cfg;
    const size_t nl = p->nlengths, cap = (size_t)(p->prompt + p->max_len);
    const double share = p->budget / (double)nl;
    double *samples = pw_xcalloc(2 * nl * MAX_REPS, sizeof *samples);
    int *reps = pw_xcalloc(nl, sizeof *reps);
    int *seqs = pw_xmalloc(sizeof(int) * 4 * cap);
    int *sf = seqs, *sk = seqs + cap, *f0 = seqs + 2 * cap, *k0 = seqs + 3 * cap;
    pw_kvcache *kv = NULL;
    char msg[256];
    pw_buf noisy, tlens;
    pw_buf_init(&noisy);
    pw_buf_init(&tlens);
    int status = pw_kvcache_new(m, p->prompt + p->max_len, acct, &kv, msg, sizeof msg);
    if (status != PW_OK) {
        pw_result_error(r, "%s", msg);
        goto out;
    }
    for (size_t i = 0; i < nl; i++) {
        const int T = (int)p->lengths[i], total = p->prompt + T;
        const size_t bytes = sizeof(int) * (size_t)total;
        double *xf = samples + (2 * i) * MAX_REPS, *xk = samples + (2 * i + 1) * MAX_REPS;
        const double t0 = pw_now();
        int rep;
        for (rep = 0; rep < MAX_REPS; rep++) {
            if (rep >= MIN_REPS && pw_now() - t0 >= share) break;
            for (int k = 0; k < 2; k++) {
                const int cached = (rep % 2) ? 1 - k : k;
                int *seq = cached ? sk : sf;
                memcpy(seq, ref, sizeof(int) * (size_t)p->prompt);
                double start = pw_now();
                status = cached ? pw_transformer_generate_cached(m, kv, wpre, seq, p->prompt, T,
                                                                 NULL, msg, sizeof msg)
                                : pw_transformer_generate_full(m, wfull, seq, p->prompt, T, NULL,
                                                               msg, sizeof msg);
                double took = pw_now() - start;
                if (status != PW_OK) {
                    pw_result_error(r, "generating %d tokens: %s", T, msg);
                    goto out;
                }
                (cached ? xk : xf)[rep] = took;
            }
            /* Every timed run is checked: each path must repeat its first run's tokens. */
            if (rep == 0) {
                memcpy(f0, sf, bytes);
                memcpy(k0, sk, bytes);
            } else if (memcmp(sf, f0, bytes) != 0 || memcmp(sk, k0, bytes) != 0) {
                pw_result_error(r, "repeated generations of %d tokens by the %s path chose "
                                   "different tokens: it is not deterministic, so no generation "
                                   "time is published", T,
                                memcmp(sf, f0, bytes) != 0 ? "recomputation" : "cached");
                status = PW_EINTERNAL;
                goto out;
            }
        }
        reps[i] = rep;
        /* Recomputation must reproduce the checked generation as far as that went, and the
         * cache must reproduce recomputation; a divergence is accepted only as a near tie
         * whose logits agree within tolerance (checked once per divergence step). */
        const int upto = T < p->check ? total : p->prompt + p->check;
        if (memcmp(f0, ref, sizeof(int) * (size_t)upto) != 0) {
            pw_result_error(r, "recomputation of %d tokens did not reproduce the checked "
                               "generation: it is not deterministic, so no generation time is "
                               "published", T);
            status = PW_EINTERNAL;
            goto out;
        }
        int d = T;
        for (int s = 0; s < T; s++)
            if (f0[p->prompt + s] != k0[p->prompt + s]) {
                d = s;
                break;
            }
        if (d < T) {
            *identical = 0;
            if (d != known_diverge) {
                gen_cmp g;
                if ((status = verify_divergence(p, m, wfull, wpre, kv, f0, k0, T, &g, r)) != PW_OK)
                    goto out;
                known_diverge = d;
                pw_result_warning(r, "generating %d tokens, the greedy tokens of the two paths "
                                     "diverged at step %d although every logit up to it agreed "
                                     "within tolerance (largest difference %.3g): a near tie "
                                     "flipped by rounding", T, d, g.maxdiff);
            }
        }
    }

    static const char *const headers[] = {"tokens", "runs", "full (ms)", "cached (ms)", "speedup",
                                          "FLOP-predicted speedup", "measured / predicted"};
    pw_table *t = pw_result_table(r, "generation", "Total generation time against length (95% "
                                  "interval; median or geometric mean, see the note)", 7,
                                  headers);
    pw_chart *cs = pw_result_chart(r, "speedup", "Speedup of the KV cache over recomputation "
                                   "against generated tokens", "tokens generated", "speedup (×)",
                                   PW_CHART_LOGX | PW_CHART_LOGY);
    pw_series *sm = pw_chart_series(cs, "measured");
    pw_series *sp = pw_chart_series(cs, "predicted by FLOP counts");
    pw_chart_hline(cs, "no speedup", 1);
    pw_chart *ct = pw_result_chart(r, "total", "Total generation time against tokens generated",
                                   "tokens generated", "seconds", PW_CHART_LOGX | PW_CHART_LOGY);
    pw_series *tf = pw_chart_series(ct, "full recomputation");
    pw_series *tk = pw_chart_series(ct, "KV cache");
    double xs[MAXLIST], yf[MAXLIST], yk[MAXLIST], ff[MAXLIST], fk[MAXLIST];
    double sv[MAXLIST], slo[MAXLIST], shi[MAXLIST];
    size_t nfit = 0;
    for (size_t i = 0; i < nl; i++) {
        const int T = (int)p->lengths[i];
        const size_t n = (size_t)reps[i];
        const double *xf = samples + (2 * i) * MAX_REPS, *xk = samples + (2 * i + 1) * MAX_REPS;
        char nf[64], nk[64], ns[64], np_[64], ne[64];
        snprintf(nf, sizeof nf, "total.full.t%d", T);
        snprintf(nk, sizeof nk, "total.cached.t%d", T);
        snprintf(ns, sizeof ns, "speedup.cached_vs_full.t%d", T);
        snprintf(np_, sizeof np_, "speedup_flops.cached_vs_full.t%d", T);
        snprintf(ne, sizeof ne, "speedup_vs_flops.t%d", T);
        const uint64_t seed = 0x5eed0000u + (uint64_t)T;
        double ratio, ci[2];
        int rc;
        if (n >= BOOT_MIN) {
            rc = publish_samples(r, nf, xf, n, seed, "s");
            if (rc == PW_OK) rc = publish_samples(r, nk, xk, n, seed + 1, "s");
            if (rc == PW_OK) rc = pw_stats_ratio_median(xf, n, xk, n, seed + 2, 0.95, &ratio, ci);
        } else {
            /* Too few runs for a percentile bootstrap to reach its nominal coverage. */
            pw_buf_printf(&tlens, "%s%d", tlens.len ? ", " : "", T);
            rc = publish_logmean(r, nf, xf, n, seed, "s");
            if (rc == PW_OK) rc = publish_logmean(r, nk, xk, n, seed + 1, "s");
            if (rc == PW_OK) rc = ratio_logmean(xf, n, xk, n, &ratio, ci);
        }
        if (rc != PW_OK || pw_result_metric(r, ns, ratio, ci[0], ci[1], "×") != PW_OK) {
            pw_result_error(r, "cannot summarise the generation of %d tokens", T);
            status = PW_EINTERNAL;
            goto out;
        }
        double pred = pw_transformer_flops_generate_full(c, p->prompt, T) /
                      pw_transformer_flops_generate_cached(c, p->prompt, T);
        pw_result_exact(r, np_, pred, "×");
        pw_metric mf, mk, ms, me;
        metric_value(r, nf, &mf);
        metric_value(r, nk, &mk);
        metric_value(r, ns, &ms);
        pw_result_metric_basis(r, ns, (double)n, hypot(mf.cv, mk.cv) / sqrt(2.0));
        pw_result_metric(r, ne, ms.value / pred, ms.lo / pred, ms.hi / pred, "×");
        pw_result_metric_basis_from(r, ne, ns, 1);
        metric_value(r, ne, &me);
        if (mf.cv > 0.05 || mk.cv > 0.05)
            pw_buf_printf(&noisy, "%s%d (%.0f%%, %.0f%%)", noisy.len ? ", " : "", T, 100 * mf.cv,
                          100 * mk.cv);
        char cf[128], ck[128], cx[128], ce[128];
        fmt_ci(cf, sizeof cf, &mf, 1e3, "%.4g");
        fmt_ci(ck, sizeof ck, &mk, 1e3, "%.4g");
        fmt_ci(cx, sizeof cx, &ms, 1, "%.3g");
        fmt_ci(ce, sizeof ce, &me, 1, "%.2f");
        pw_table_rowf(t, "%d\t%zu\t%s\t%s\t%s×\t%.1f×\t%s", T, n, cf, ck, cx, pred, ce);
        pw_series_point(sm, T, ms.value, ms.lo, ms.hi);
        pw_series_point(sp, T, pred, NAN, NAN);
        pw_series_point(tf, T, mf.value, mf.lo, mf.hi);
        pw_series_point(tk, T, mk.value, mk.lo, mk.hi);
        sv[i] = ms.value, slo[i] = ms.lo, shi[i] = ms.hi;
        if (T >= 32) {
            xs[nfit] = T;
            yf[nfit] = mf.value;
            yk[nfit] = mk.value;
            ff[nfit] = pw_transformer_flops_generate_full(c, p->prompt, T);
            fk[nfit] = pw_transformer_flops_generate_cached(c, p->prompt, T);
            nfit++;
        }
    }
    /* The length from which on the speedup stays above 1: the estimate from the medians, with
     * the range of lengths the intervals allow (pw_stats_crossover).  Always published (0: at no
     * length) so that a chapter's reference to it stays valid. */
    size_t cfirst, cest, csure;
    if (pw_stats_crossover(sv, slo, shi, nl, 1, 0, &cfirst, &cest, &csure) == PW_OK) {
        double at = cest < nl ? (double)p->lengths[cest] : 0;
        double lo = cfirst < nl ? (double)p->lengths[cfirst] : 0;
        double hi = csure < nl ? (double)p->lengths[csure] : at;
        pw_result_metric(r, "crossover.tokens", at, fmin(lo, at), hi, "tokens");
        if (csure < nl) {
            pw_chart_vline(cs, "speedup interval above 1 from here", hi);
        } else {
            pw_result_metric_undecidable(r, "crossover.tokens", "not_established",
                                         "the speedup's interval does not lie above 1 at the "
                                         "longest lengths, so no crossover is established");
            pw_result_warning(r, "the speedup's interval does not lie above 1 at the longest "
                                 "lengths");
        }
    }
    pw_powerfit pf, pk;
    if (nfit >= 3 && pw_stats_powerfit(xs, yf, nfit, &pf) == PW_OK &&
        pw_stats_powerfit(xs, yk, nfit, &pk) == PW_OK) {
        pw_result_metric(r, "exponent_total.full", pf.exponent, pf.ci95[0], pf.ci95[1], "");
        pw_result_metric(r, "exponent_total.cached", pk.exponent, pk.ci95[0], pk.ci95[1], "");
        for (int k = 0; k < 2; k++)
            pw_result_metric_fixed_sample(r, k ? "exponent_total.cached" : "exponent_total.full",
                                          "the interval of a log-log fit over %zu lengths comes "
                                          "from its residuals, which repeating the runs does not "
                                          "shrink; more lengths would narrow it", nfit);
    }
    if (nfit >= 3 && pw_stats_powerfit(xs, ff, nfit, &pf) == PW_OK &&
        pw_stats_powerfit(xs, fk, nfit, &pk) == PW_OK) {
        pw_result_exact(r, "exponent_total_flops.full", pf.exponent, "");
        pw_result_exact(r, "exponent_total_flops.cached", pk.exponent, "");
    }
    pw_result_note(r, "total generation: every timed run really generates the stated number of "
                      "tokens after a prompt of %d tokens, both ways (the cached run includes its "
                      "prefill; its cache is allocated once, beforehand), and its tokens are "
                      "compared; runs alternate full/cached, at least %d pairs per length and "
                      "more while %.2g s per length last (budget %.3g s)",
                   p->prompt, MIN_REPS, share, p->budget);
    pw_result_note(r, "crossover.tokens is the first length from which on every median speedup "
                      "is above 1; its interval runs from the first length from which on no "
                      "interval rules that out to the first from which on every interval lies "
                      "above 1, on the grid of lengths measured");
    pw_result_note(r, "total generation intervals: at a length with at least %d pairs, the "
                      "median with a seeded percentile-bootstrap interval and the speedup as a "
                      "bootstrap ratio of medians; with fewer pairs a bootstrap of so few runs "
                      "falls short of 95%% coverage, so there the figure is the geometric mean "
                      "with a Student t interval of the log times, and the speedup the ratio of "
                      "geometric means with a Welch t interval of the difference of mean log "
                      "times (Welch–Satterthwaite df); these t intervals assume normally "
                      "distributed log times and ignore the pairing%s%s%s",
                   BOOT_MIN, tlens.len ? " (lengths " : " (no length needed them)",
                   tlens.len ? tlens.data : "", tlens.len ? ")" : "");
    if (noisy.len)
        pw_result_warning(r, "total generation times vary by more than 5%% (full, cached "
                             "coefficients of variation) at lengths %s; the machine may be busy",
                          noisy.data);
out:
    pw_buf_release(&noisy);
    pw_buf_release(&tlens);
    free(samples);
    free(reps);
    free(seqs);
    pw_kvcache_free(kv);
    return status;
}

/* Prefill of a prompt: one batched pass against one decode step per prompt token. */
static int measure_prefill(const plan *p, const pw_transformer *m, pw_transformer_work *wpre,
                           pw_alloc *acct, const int *seq, bool quick, pw_result *r)
{
    const pw_transformer_config *c = &p->cfg;
    const size_t nq = p->nprefill;
    job *jobs = pw_xcalloc(2 * nq, sizeof *jobs);
    float *logits = pw_xmalloc(sizeof(float) * (size_t)c->vocab);
    pw_kvcache *kv = NULL;
    char msg[256], name[96];
    int status = pw_kvcache_new(m, (int)p->prefill[nq - 1], acct, &kv, msg, sizeof msg);
    if (status != PW_OK) {
        pw_result_error(r, "%s", msg);
        goto out;
    }
    pw_bench_config bc;
    pw_bench_config_default(&bc, quick);
    bc.target_rel_ci = 0.02;
    bc.max_seconds = quick ? 0.4 : 5;
    pw_bench *b = pw_bench_new(&bc);
    for (size_t i = 0; i < nq; i++) {
        const int n = (int)p->prefill[i];
        jobs[2 * i] = (job){m, wpre, kv, (int *)seq, n, 0, logits};
        jobs[2 * i + 1] = (job){m, wpre, kv, (int *)seq, n, 0, logits};
        snprintf(name, sizeof name, "batched.p%d", n);
        pw_bench_add(b, name, run_prefill_batched, &jobs[2 * i]);
        snprintf(name, sizeof name, "stepwise.p%d", n);
        pw_bench_add(b, name, run_prefill_stepwise, &jobs[2 * i + 1]);
    }
    pw_bench_run(b);
    pw_bench_record(b, r, "prefill.");
    static const char *const headers[] = {"prompt tokens", "batched prefill (ms)",
                                          "one step per token (ms)", "speedup of batching",
                                          "batched GFLOP/s"};
    pw_table *t = pw_result_table(r, "prefill", "Prefill of a prompt into the cache (median, "
                                  "95% interval; speedup: " PW_BENCH_SPEEDUP_METHOD ")", 5,
                                  headers);
    for (size_t i = 0; i < nq; i++) {
        const int n = (int)p->prefill[i];
        char nb[64], nw[64], ns[64], ng[64];
        snprintf(nb, sizeof nb, "time.prefill.p%d", n);
        snprintf(nw, sizeof nw, "time.stepwise.p%d", n);
        snprintf(ns, sizeof ns, "speedup.batched_vs_stepwise.p%d", n);
        snprintf(ng, sizeof ng, "gflops.prefill.p%d", n);
        if (pw_bench_publish_time(b, 2 * i, r, nb, 1e3, "ms") != PW_OK ||
            pw_bench_publish_time(b, 2 * i + 1, r, nw, 1e3, "ms") != PW_OK ||
            pw_bench_publish_speedup(b, 2 * i, 2 * i + 1, r, ns) != PW_OK ||
            pw_bench_publish_rate(b, 2 * i, r, ng, pw_transformer_flops_forward(c, 0, n) / 1e9,
                                  "GFLOP/s") != PW_OK) {
            pw_result_error(r, "too few samples to publish the prefill of %d tokens", n);
            status = PW_EINTERNAL;
            break;
        }
        pw_metric mb, mw, ms, mg;
        metric_value(r, nb, &mb);
        metric_value(r, nw, &mw);
        metric_value(r, ns, &ms);
        metric_value(r, ng, &mg);
        char cb[128], cw[128], cx[128];
        fmt_ci(cb, sizeof cb, &mb, 1, "%.4g");
        fmt_ci(cw, sizeof cw, &mw, 1, "%.4g");
        fmt_ci(cx, sizeof cx, &ms, 1, "%.3g");
        pw_table_rowf(t, "%d\t%s\t%s\t%s×\t%.1f", n, cb, cw, cx, mg.value);
    }
    pw_bench_free(b);
out:
    pw_kvcache_free(kv);
    free(jobs);
    free(logits);
    return status;
}

/* The prompt's prefill as a share of the longest cached generation: a ratio of medians from
 * two separate measurements, its interval bounded by the intervals' ends. */
static void publish_prefill_share(const plan *p, pw_result *r)
{
    pw_metric pre, tot;
    char name[64];
    snprintf(name, sizeof name, "time.prefill.p%d", p->prompt);
    if (pw_result_get_metric(r, name, &pre) != PW_OK) return;
    snprintf(name, sizeof name, "total.cached.t%d", p->max_len);
    if (pw_result_get_metric(r, name, &tot) != PW_OK || !(tot.lo > 0)) return;
    /* prefill in ms, totals in s */
    double v = pre.value / 1e3 / tot.value, lo = pre.lo / 1e3 / tot.hi, hi = pre.hi / 1e3 / tot.lo;
    snprintf(name, sizeof name, "share.prefill.t%d", p->max_len);
    pw_result_metric(r, name, 100 * v, 100 * lo, 100 * hi, "%");
}

/* value / (den's value), with the conservative interval of two independent measurements (each
 * end against the other's opposite end), scaled by k; the basis and marks of num, and den's
 * undecidable mark. */
static void publish_quotient(pw_result *r, const char *name, const char *num, const pw_metric *den,
                             const char *den_name, double k, const char *unit)
{
    pw_metric a;
    if (pw_result_get_metric(r, num, &a) != PW_OK || !(den->lo > 0)) return;
    pw_result_metric(r, name, k * a.value / den->value, k * a.lo / den->hi, k * a.hi / den->lo,
                     unit);
    pw_result_metric_basis_from(r, name, num, 1);
    pw_result_metric_inherit(r, name, den_name);
}

/* Where the steps stand against the machine they ran on: the ceilings measured here (the widest
 * FMA peak, the triad from DRAM and from L2, ceilings.h) and their ridge points; each path's
 * fraction of the peak; a cached step's bandwidth against both triads and its arithmetic
 * intensity against both ridges (below 1: left of the ridge, where that memory roof and not the
 * peak caps the rate); its bytes against the L2 and last-level cache sizes the OS reports; and a
 * roofline chart of the cached steps.  Measured last, so that no clock effect of the peak's
 * 512-bit code and no page of the triad's arrays reaches the other sections. */
static void publish_machine(const plan *p, pw_run *run, pw_result *r)
{
    pw_ceilings ceil;
    pw_ceilings_measure(run, PW_CEIL_ROOF | PW_CEIL_BANDWIDTH, 0, &ceil);
    /* The rate a streaming kernel reaches over a working set the size of the longest step's:
     * the bandwidth of whatever level of the memory holds that many bytes here. */
    const int last = (int)p->positions[p->npositions - 1];
    const double step_bytes = pw_transformer_bytes_step_cached(&p->cfg, last);
    pw_ceilings_triad(run, "bandwidth.triad.step", (size_t)step_bytes);
    pw_metric pk, bw[2];
    static const char *const level[2] = {"dram", "l2"};
    char name[96], from[96];
    const bool have_pk = pw_result_get_metric(r, "peak.fma", &pk) == PW_OK && pk.lo > 0;
    bool have_bw[2];
    for (int l = 0; l < 2; l++) {
        snprintf(from, sizeof from, "bandwidth.triad.%s", level[l]);
        have_bw[l] = pw_result_get_metric(r, from, &bw[l]) == PW_OK && bw[l].lo > 0;
        if (have_pk && have_bw[l]) {
            snprintf(name, sizeof name, "ridge.%s", level[l]);
            if (pw_result_metric(r, name, pk.value / bw[l].value, pk.lo / bw[l].hi,
                                 pk.hi / bw[l].lo, "flop/B") == PW_OK) {
                pw_result_metric_inherit(r, name, "peak.fma");
                pw_result_metric_inherit(r, name, from);
            }
        }
    }
    size_t cache[3];
    pw_cache_sizes(cache);
    const size_t llc = cache[2] ? cache[2] : cache[1];
    if (cache[1]) pw_result_exact(r, "mib.l2", (double)cache[1] / (1024.0 * 1024.0), "MiB");
    if (llc) pw_result_exact(r, "mib.llc", (double)llc / (1024.0 * 1024.0), "MiB");

    pw_chart *ch = pw_result_chart(r, "roofline", "A cached step against the machine's roofs "
                                   "(one core): its arithmetic intensity, from the bytes it must "
                                   "move, and its achieved GFLOP/s", "arithmetic intensity (flop "
                                   "per byte a cached step must move)", "GFLOP/s",
                                   PW_CHART_LOGX | PW_CHART_LOGY);
    pw_series *sk = pw_chart_series(ch, "cached step (one per position)");
    double xlo = INFINITY, xhi = 0;
    for (size_t i = 0; i < p->npositions; i++) {
        const int n = (int)p->positions[i];
        const double bytes = pw_transformer_bytes_step_cached(&p->cfg, n);
        const double in = pw_transformer_flops_step_cached(&p->cfg, n) / bytes;
        static const char *const paths[2] = {"full", "cached"};
        for (int k = 0; k < 2 && have_pk; k++) {
            snprintf(name, sizeof name, "fraction_of_peak.%s.p%d", paths[k], n);
            snprintf(from, sizeof from, "gflops.%s.p%d", paths[k], n);
            publish_quotient(r, name, from, &pk, "peak.fma", 1, "");
        }
        snprintf(from, sizeof from, "bandwidth.cached.p%d", n);
        for (int l = 0; l < 2; l++) {
            if (!have_bw[l]) continue;
            char den[64];
            snprintf(den, sizeof den, "bandwidth.triad.%s", level[l]);
            snprintf(name, sizeof name, "fraction_of_%s.cached.p%d", level[l], n);
            publish_quotient(r, name, from, &bw[l], den, 1, "×");
            if (have_pk) {
                /* I / ridge = I · bandwidth / peak: the memory roof at this intensity as a share
                 * of the arithmetic peak. */
                snprintf(name, sizeof name, "intensity_vs_ridge.%s.cached.p%d", level[l], n);
                pw_result_metric(r, name, in * bw[l].value / pk.value, in * bw[l].lo / pk.hi,
                                 in * bw[l].hi / pk.lo, "");
                pw_result_metric_inherit(r, name, den);
                pw_result_metric_inherit(r, name, "peak.fma");
            }
        }
        pw_metric ts;
        if (n == last && pw_result_get_metric(r, "bandwidth.triad.step", &ts) == PW_OK) {
            snprintf(name, sizeof name, "fraction_of_triad.cached.p%d", n);
            publish_quotient(r, name, from, &ts, "bandwidth.triad.step", 1, "×");
        }
        if (cache[1]) {
            snprintf(name, sizeof name, "ratio.step_vs_l2.p%d", n);
            pw_result_exact(r, name, bytes / (double)cache[1], "×");
        }
        if (llc) {
            snprintf(name, sizeof name, "ratio.step_vs_llc.p%d", n);
            pw_result_exact(r, name, bytes / (double)llc, "×");
        }
        pw_metric g;
        snprintf(from, sizeof from, "gflops.cached.p%d", n);
        if (pw_result_get_metric(r, from, &g) == PW_OK) {
            pw_series_point(sk, in, g.value, g.lo, g.hi);
            xlo = fmin(xlo, in);
            xhi = fmax(xhi, in);
        }
    }
    if (xhi > 0) {
        double right = xhi * 4;
        for (int l = 0; l < 2; l++)
            if (have_pk && have_bw[l]) right = fmax(right, 2 * pk.value / bw[l].value);
        pw_ceilings_roofline(&ceil, ch, xlo / 4, right);
    }
    pw_result_note(r, "machine: a cached step at position N must move at least the bytes of every "
                      "weight it uses, the K and V rows of N positions and its own new row "
                      "(pw_transformer_bytes_step_cached; mib.step.cached.pN), so its arithmetic "
                      "intensity is its FLOPs over those bytes; bandwidth.cached.pN is those bytes "
                      "over the step's median time, a lower bound on the traffic it sustained; "
                      "fraction_of_dram and fraction_of_l2 divide it by the triads measured here, "
                      "and fraction_of_triad.cached.p%d by the triad over a working set of the "
                      "same %.1f MiB (bandwidth.triad.step); intensity_vs_ridge.* is the "
                      "intensity over a ridge point (peak / bandwidth; below 1 that memory roof, "
                      "not the peak, caps the step); ratio.step_vs_l2 and ratio.step_vs_llc are its "
                      "bytes over the cache sizes the OS reports (the last-level cache%s is shared "
                      "with other cores and, under a hypervisor, with other guests); quotients of "
                      "two measurements take the interval of their ends", last,
                   step_bytes / (1024.0 * 1024.0), cache[2] ? ", L3," : "");
}

static int run_generate(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    const bool quick = pw_run_quick(run);
    plan p;
    int status = read_plan(run, &p);
    if (status != PW_OK) return status;
    const pw_transformer_config *c = &p.cfg;

    /* One BLAS thread: the child is pinned to one CPU, and both paths get the same resources.
     * Large blocks are mapped individually so the resident-set check sees each cache. */
    openblas_set_num_threads(1);
    mallopt(M_MMAP_THRESHOLD, 64 * 1024);

    pw_alloc *acct = pw_alloc_new();
    pw_transformer *m = NULL;
    pw_transformer_work *wfull = NULL, *wpre = NULL, *wdec = NULL;
    int *ref = NULL, *seq = NULL;
    char msg[256];
    int rows_pre = p.prompt;
    for (size_t i = 0; i < p.nprefill; i++)
        if (p.prefill[i] > rows_pre) rows_pre = (int)p.prefill[i];
    if (rows_pre < 256 && c->context >= 256) rows_pre = 256;
    if (rows_pre > c->context) rows_pre = c->context;
    p.chunk = rows_pre;
    if ((status = pw_transformer_new(c, acct, &m, msg, sizeof msg)) != PW_OK ||
        (status = pw_transformer_work_new(m, c->context, acct, &wfull, msg, sizeof msg)) != PW_OK ||
        (status = pw_transformer_work_new(m, rows_pre, acct, &wpre, msg, sizeof msg)) != PW_OK ||
        (status = pw_transformer_work_new(m, 1, acct, &wdec, msg, sizeof msg)) != PW_OK) {
        pw_result_error(r, "%s", msg);
        goto out;
    }
    pw_result_note(r, "model: d_model %d, %d head%s, %d layer%s, d_ff %d, vocab %d, context %d, "
                      "%s, %s, %s positions, seed %llu; %s; one BLAS thread",
                   c->d_model, c->heads, c->heads == 1 ? "" : "s", c->layers,
                   c->layers == 1 ? "" : "s", c->d_ff, c->vocab, c->context,
                   c->norm == PW_NORM_RMS ? "RMSNorm" : "LayerNorm",
                   c->act == PW_ACT_RELU ? "ReLU" : "GELU",
                   c->pos == PW_POS_SINUSOIDAL ? "sinusoidal" : "learned",
                   (unsigned long long)c->seed, openblas_get_config());

    /* One untimed pass of the largest batch first: OpenBLAS allocates and touches its work
     * buffers on first use, which would otherwise show up in the first resident-set reading. */
    seq = pw_xcalloc((size_t)c->context, sizeof(int));
    float *warm = pw_xmalloc(sizeof(float) * (size_t)c->vocab);
    status = pw_transformer_forward_full(m, wfull, seq, p.chunk, warm, msg, sizeof msg);
    if (status == PW_OK) status = pw_transformer_forward_full(m, wfull, seq, 1, warm, msg, sizeof msg);
    /* The prefill workspace too: its pages are touched by the first prefill, which would
     * otherwise land in the first cache's resident-set growth. */
    pw_kvcache *warm_kv = NULL;
    if (status == PW_OK) status = pw_kvcache_new(m, p.chunk, acct, &warm_kv, msg, sizeof msg);
    if (status == PW_OK)
        status = pw_transformer_prefill(m, warm_kv, wpre, seq, p.chunk, warm, msg, sizeof msg);
    pw_kvcache_free(warm_kv);
    free(warm);
    if (status != PW_OK) {
        pw_result_error(r, "%s", msg);
        goto out;
    }
    if ((status = measure_memory(&p, m, wpre, acct, r)) != PW_OK) goto out;

    int identical = 0, diverge = 0;
    double maxdiff = 0;
    if ((status = check_exactness(&p, m, wfull, wpre, acct, r, &ref, &identical, &diverge,
                                  &maxdiff)) != PW_OK) {
        pw_result_exact(r, "tokens_identical", identical, "");
        goto out;
    }
    /* Tokens for the latency and prefill runs: the checked generation, then seeded filler. */
    fill_tokens(seq, c->context, c->vocab, c->seed + 1);
    memcpy(seq, ref, sizeof(int) * (size_t)(p.prompt + p.check));

    if ((status = measure_latency(&p, m, wfull, wpre, wdec, acct, seq, quick, r)) != PW_OK) goto out;
    if ((status = measure_generation(&p, m, wfull, wpre, acct, ref, identical ? -1 : diverge,
                                     &identical, r)) != PW_OK)
        goto out;
    if ((status = measure_prefill(&p, m, wpre, acct, seq, quick, r)) != PW_OK) goto out;
    publish_prefill_share(&p, r);
    publish_machine(&p, run, r);
    pw_result_exact(r, "tokens_identical", identical, "");
    pw_result_exact(r, "bytes.activations.peak", (double)pw_alloc_peak(acct, "activations"), "B");
    if (!identical)
        pw_result_warning(r, "the two paths did not produce identical tokens in every run");
out:
    free(seq);
    free(ref);
    pw_transformer_work_free(wdec);
    pw_transformer_work_free(wpre);
    pw_transformer_work_free(wfull);
    pw_transformer_free(m);
    pw_alloc_free(acct);
    return status;
}

static const char *const norms[] = {"layernorm", "rmsnorm", NULL};
static const char *const acts[] = {"gelu", "relu", NULL};
static const char *const encodings[] = {"learned", "sinusoidal", NULL};
static const char *const metrics[] = {
    "tokens_identical", "check.steps", "logits.max_abs_diff", "logits.max_abs",
    "logits.min_margin", "latency.full.pN", "latency.cached.pN",
    "speedup_step.cached_vs_full.pN", "gflops.full.pN", "gflops.cached.pN", "exponent.full",
    "exponent.cached", "exponent.drop", "fit.full.r2", "fit.cached.r2", "exponent_flops.full",
    "exponent_flops.cached", "total.full.tN", "total.cached.tN", "speedup.cached_vs_full.tN",
    "speedup_flops.cached_vs_full.tN", "speedup_vs_flops.tN", "crossover.tokens",
    "exponent_total.full", "exponent_total.cached", "exponent_total_flops.full",
    "exponent_total_flops.cached", "bytes.cache.tN", "mib.cache.tN", "bytes.heap.tN",
    "heap_check.cache.tN", "doubling.heap.tN", "bytes.rss.tN", "rss_check.cache.tN",
    "bytes_per_position.rss", "bytes_per_position.formula", "bytes.weights", "mib.weights",
    "bytes.activations.peak", "time.prefill.pN",
    "time.stepwise.pN", "speedup.batched_vs_stepwise.pN", "gflops.prefill.pN",
    "share.prefill.tN", "mib.step.cached.pN", "intensity.cached.pN", "exponent_bytes.cached", "bandwidth.cached.pN",
    "speedup_step_vs_flops.pN", "peak.fma", "peak.fma.ISA", "bandwidth.triad.dram",
    "bandwidth.triad.l2", "ridge.dram", "ridge.l2", "mib.l2", "mib.llc",
    "fraction_of_peak.full.pN", "fraction_of_peak.cached.pN", "fraction_of_dram.cached.pN",
    "fraction_of_l2.cached.pN", "bandwidth.triad.step", "fraction_of_triad.cached.pN",
    "intensity_vs_ridge.dram.cached.pN",
    "intensity_vs_ridge.l2.cached.pN", "ratio.step_vs_l2.pN", "ratio.step_vs_llc.pN", NULL};
static const pw_param_spec params[] = {
    {"tokens", PW_PARAM_INT, "512", 1, 1 << 20, NULL,
     "longest generation compared in total time (with every length below it)"},
    {"lengths", PW_PARAM_INT_LIST, "[1, 2, 4, 8, 16, 32, 64, 128, 256, 512]", 1, 1 << 20, NULL,
     "generation lengths timed both ways (those above tokens are skipped)"},
    {"positions", PW_PARAM_INT_LIST, "[32, 64, 128, 256, 512, 1024]", 2, 1 << 20, NULL,
     "sequence positions at which one step's latency and the cache's bytes are measured"},
    {"prefill", PW_PARAM_INT_LIST, "[64, 256]", 1, 1 << 20, NULL,
     "prompt lengths whose prefill is timed (the prompt itself is always added)"},
    {"prompt", PW_PARAM_INT, "16", 1, 1 << 20, NULL, "prompt tokens before generation"},
    {"check", PW_PARAM_INT, "256", 1, 1 << 20, NULL,
     "greedy steps whose tokens and logits are compared between the paths"},
    {"budget", PW_PARAM_REAL, "20", 0, 3600, NULL,
     "seconds for repeating whole generations beyond 3 runs per length (--quick: 1)"},
    {"d_model", PW_PARAM_INT, "256", 2, 16384, NULL, "model width"},
    {"heads", PW_PARAM_INT, "4", 1, 1024, NULL, "attention heads (dividing d_model)"},
    {"layers", PW_PARAM_INT, "4", 1, 256, NULL, "transformer blocks"},
    {"d_ff", PW_PARAM_INT, "0", 0, 65536, NULL, "MLP hidden width (0: 4 × d_model)"},
    {"vocab", PW_PARAM_INT, "512", 2, 1 << 20, NULL, "vocabulary size"},
    {"context", PW_PARAM_INT, "1024", 2, 1 << 20, NULL, "most positions a sequence may have"},
    {"norm", PW_PARAM_STRING, "layernorm", 0, 0, norms, "normalisation before each sublayer"},
    {"activation", PW_PARAM_STRING, "gelu", 0, 0, acts, "MLP activation"},
    {"encoding", PW_PARAM_STRING, "learned", 0, 0, encodings, "position encoding"},
    {"seed", PW_PARAM_INT, "1", 0, 4294967295.0, NULL, "seed of the weights and prompt"},
};
/* The kernel and helper sources these results depend on (the cache key hashes them). */
static const char *const module_sources[] = {
    "src/kernels/transformer.c", "src/kernels/tensor_alloc.c", "src/kernels/peak.c",
    "src/kernels/bandwidth.c", "src/kernels/simd.h", "src/experiments/ceilings.c",
    "src/experiments/ceilings.h", NULL};

const pw_experiment pw_exp_caching_generate = {
    "caching.generate",
    "greedy generation by a small transformer with and without a KV cache: exactness, latency, "
    "scaling, memory",
    params, sizeof params / sizeof params[0], metrics, run_generate,
    module_sources,
};
