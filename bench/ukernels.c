/* ukernels.c — ranks the packed sgemm's register microkernels and their blocksizes by
 * measurement (not part of the test suite; `make tune-ukernels` runs it, on a quiet machine).
 *
 * For every microkernel this CPU can run (or the ones named), and for every combination of the
 * kc / mc values given (default: the kernel's own), it times pw_matmul_packed on square
 * products of each size, interleaved with OpenBLAS in the same rounds (bench.h), after the
 * correctness gate, and prints the median GFLOP/s with its 95% interval and the ratio to
 * OpenBLAS (or, with --ref onednn, oneDNN's sgemm: the `library` at most sizes on AVX-512
 * machines).  The preferred kernel of each ISA (pw_matmul_ukernel.preferred in
 * src/kernels/matmul_packed.c) should be the one that wins here; docs/kernels.md records the
 * run that chose it.
 *
 * usage: ukernels [--sizes 64,256,1024] [--kernels NAME,…|all] [--kc 192,256,…] [--mc …] [--nc …]
 *                 [--direct EDGE,…]  (direct path up to EDGE³ multiply-adds and k <= EDGE; 0: never)
 *                 [--budget SECONDS] [--ref openblas|onednn] */
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/baselines.h"
#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/cpu.h"
#include "perfweave/matmul.h"
#include "perfweave/result.h"

#include "tune.h"

typedef struct {
    pw_matmul_fn fn;
    const pw_matmul_ctx *ctx;
    size_t n;
    const float *a, *b;
    float *c;
} job;

static void run_job(void *arg, uint64_t iters)
{
    const job *j = arg;
    for (uint64_t i = 0; i < iters; i++) j->fn(j->ctx, j->n, j->n, j->n, j->a, j->b, j->c);
}

static float *alloc_floats(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 4096, (n ? n : 1) * sizeof(float)) != 0) abort();
    return p;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    long sizes[BENCH_MAXL] = {64, 256, 1024}, kcs[BENCH_MAXL], mcs[BENCH_MAXL], ncs[BENCH_MAXL], dirs[BENCH_MAXL];
    size_t nsizes = 3, nkc = 0, nmc = 0, nnc = 0, ndir = 0;
    const char *names = NULL;
    double budget = 3.0;
    const char *ref = "openblas";
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--sizes") == 0) nsizes = bench_parse_list(v, sizes), i++;
        else if (strcmp(argv[i], "--kc") == 0) nkc = bench_parse_list(v, kcs), i++;
        else if (strcmp(argv[i], "--mc") == 0) nmc = bench_parse_list(v, mcs), i++;
        else if (strcmp(argv[i], "--nc") == 0) nnc = bench_parse_list(v, ncs), i++;
        else if (strcmp(argv[i], "--direct") == 0) ndir = bench_parse_list(v, dirs), i++;
        else if (strcmp(argv[i], "--kernels") == 0) names = v, i++;
        else if (strcmp(argv[i], "--budget") == 0) budget = atof(v), i++;
        else if (strcmp(argv[i], "--ref") == 0 && (!strcmp(v, "openblas") || !strcmp(v, "onednn")))
            ref = v, i++;
        else {
            fprintf(stderr, "usage: %s [--sizes L] [--kernels NAMES|all] [--kc L] [--mc L] "
                    "[--nc L] [--direct L] [--budget S] [--ref openblas|onednn]\n", argv[0]);
            return 1;
        }
    }
    /* A block of 0 would never advance the driver's loops. */
    const long *lists[3] = {kcs, mcs, ncs};
    const size_t counts[3] = {nkc, nmc, nnc};
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; i < counts[l]; i++)
            if (lists[l][i] < 1) {
                fprintf(stderr, "%s: --kc, --mc and --nc take blocks of at least 1\n", argv[0]);
                return 1;
            }
    for (size_t i = 0; i < nsizes; i++)
        if (sizes[i] < 1) {
            fprintf(stderr, "%s: --sizes takes sizes of at least 1\n", argv[0]);
            return 1;
        }
    pw_matmul_fn ref_fn = pw_matmul_openblas;
    if (strcmp(ref, "onednn") == 0) {
        char msg[256];
        if (pw_onednn_open(msg, sizeof msg) != PW_OK) {
            fprintf(stderr, "%s\n", msg);
            return 1;
        }
        ref_fn = pw_matmul_onednn;
    }
    const pw_cpu_info *cpu = pw_cpu_host();
    printf("cpu: %s (family %u model %u), widest usable: %s; OpenBLAS core %s\n", cpu->brand,
           cpu->family, cpu->model, pw_cpu_widest_isa(cpu), pw_matmul_blas_core());
    pw_matmul_set_threads(1);

    /* The candidates: each runnable microkernel × kc × mc (mc rounded to a multiple of mr). */
    size_t nuk;
    const pw_matmul_ukernel *uks = pw_matmul_ukernels(&nuk);
    pw_matmul_ukernel cand[256];
    size_t ncand = 0;
    for (size_t u = 0; u < nuk; u++) {
        if (!bench_listed(names, uks[u].name) || !pw_ukernel_usable(uks[u].isa, cpu, NULL, 0)) continue;
        for (size_t x = 0; x < (nkc ? nkc : 1); x++)
            for (size_t y = 0; y < (nmc ? nmc : 1); y++)
                for (size_t z = 0; z < (nnc ? nnc : 1); z++)
                    for (size_t w = 0; w < (ndir && uks[u].direct ? ndir : 1) && ncand < 256; w++) {
                    pw_matmul_ukernel d = uks[u];
                    if (ndir && d.direct) {
                        d.direct_mnk = (double)dirs[w] * (double)dirs[w] * (double)dirs[w];
                        d.direct_kmax = (size_t)dirs[w];
                    }
                    if (nkc) d.kc = (size_t)kcs[x];
                    if (nmc) d.mc = ((size_t)mcs[y] + d.mr - 1) / d.mr * d.mr;
                    if (nnc) d.nc = ((size_t)ncs[z] + d.nr - 1) / d.nr * d.nr;
                    cand[ncand++] = d;
                }
    }
    size_t abig = 0, bbig = 0;
    for (size_t i = 0; i < ncand; i++) {
        abig = cand[i].mc * cand[i].kc > abig ? cand[i].mc * cand[i].kc : abig;
        bbig = cand[i].kc * cand[i].nc > bbig ? cand[i].kc * cand[i].nc : bbig;
    }
    pw_matmul_ctx *ctx = pw_xcalloc(ncand, sizeof *ctx);
    float *apack = alloc_floats(abig), *bpack = alloc_floats(bbig);
    int status = 0;
    for (size_t i = 0; i < ncand; i++) {
        ctx[i].uk = &cand[i];
        ctx[i].apack = apack;
        ctx[i].bpack = bpack;
        const pw_matmul_kernel gate = {cand[i].name, pw_matmul_packed, ""};
        char msg[256];
        if (pw_matmul_gate(&gate, &ctx[i], msg, sizeof msg) != PW_OK) {
            fprintf(stderr, "%s (kc %zu, mc %zu): %s\n", cand[i].name, cand[i].kc, cand[i].mc, msg);
            status = 1;
        }
    }
    if (status) goto out;

    printf("%-16s %4s %4s %5s %6s %5s  %-24s %s\n", "kernel", "kc", "mc", "nc", "direct", "n",
           "GFLOP/s (95% CI)", strcmp(ref, "onednn") ? "vs OpenBLAS" : "vs oneDNN");
    for (size_t s = 0; s < nsizes; s++) {
        size_t n = (size_t)sizes[s];
        float *a = alloc_floats(n * n), *b = alloc_floats(n * n);
        pw_matmul_fill(a, n * n, 1);
        pw_matmul_fill(b, n * n, 2);
        job *jobs = pw_xcalloc(ncand + 1, sizeof *jobs);
        size_t *idx = pw_xcalloc(ncand + 1, sizeof *idx);
        pw_bench_config cfg;
        pw_bench_config_default(&cfg, 0);
        cfg.max_seconds = budget * (double)(ncand + 1) / 2.0;
        pw_bench *bench = pw_bench_new(&cfg);
        for (size_t i = 0; i <= ncand; i++) {
            jobs[i] = (job){i < ncand ? pw_matmul_packed : ref_fn, i < ncand ? &ctx[i] : NULL, n,
                            a, b, alloc_floats(n * n)};
            idx[i] = pw_bench_add(bench, i < ncand ? cand[i].name : ref, run_job, &jobs[i]);
        }
        pw_bench_run(bench);
        pw_result *r = pw_result_new("ukernels", "ukernels");
        double work = 2.0 * (double)n * (double)n * (double)n / 1e9;
        for (size_t i = 0; i <= ncand; i++) {
            double worst;
            if (pw_matmul_verify(n, n, n, a, b, jobs[i].c, &worst) != PW_OK) {
                fprintf(stderr, "%s: wrong product at n=%zu\n", pw_bench_name(bench, i), n);
                status = 1;
            }
            char rate[64], cell[64];
            if (!bench_cells(bench, idx[i], idx[ncand], r, work, "GFLOP/s", 1, rate, sizeof rate,
                             cell, sizeof cell))
                continue;
            if (i < ncand)
                printf("%-16s %4zu %4zu %5zu %6.0f %5zu  %-24s %s\n", cand[i].name, cand[i].kc,
                       cand[i].mc, cand[i].nc,
                       cand[i].direct ? cbrt(cand[i].direct_mnk) : 0.0, n, rate, cell);
            else
                printf("%-16s %4s %4s %5s %6s %5zu  %-24s\n", ref, "", "", "", "", n, rate);
        }
        printf("\n");
        fflush(stdout);
        pw_result_free(r);
        pw_bench_free(bench);
        for (size_t i = 0; i <= ncand; i++) free(jobs[i].c);
        free(jobs);
        free(idx);
        free(a);
        free(b);
    }
out:
    free(apack);
    free(bpack);
    free(ctx);
    return status;
}
