/* qgemm.c — ranks the integer GEMM kernels against oneDNN's int8 matmul primitive on the report
 * MLP's three layer shapes (784 → 256 → 128 → 10), by measurement (not part of the test suite;
 * `make tune-qgemm` runs it pinned to one CPU, on a quiet machine).
 *
 * For every qgemm kernel this CPU can run (or the ones named) and for each batch, the three layer
 * products are timed as one unit of work, interleaved round by round with oneDNN's (bench.h),
 * after each kernel has passed pw_qgemm_gate and oneDNN's result has been compared with
 * pw_qgemm_ref.  Prints the median GOP/s with its 95% interval and the ratio to oneDNN (the
 * implementation oneDNN chose is named).  docs/benchmarks.md records the runs.
 *
 * usage: qgemm [--batches 1,32,256] [--kernels NAME,…|all] [--budget SECONDS] */
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/baselines.h"
#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/cpu.h"
#include "perfweave/quant.h"
#include "perfweave/result.h"

#include "tune.h"

enum { LAYERS = 3 };
static const size_t dims[LAYERS + 1] = {784, 256, 128, 10};

typedef struct {
    size_t m;
    const uint8_t *x[LAYERS];      /* each layer's input activations, m × dims[l] */
    int32_t *y;                    /* scratch output, m × 256 */
    pw_qgemm_b *pb[LAYERS];        /* a qgemm kernel's packed weights, or */
    pw_onednn_qmatmul *qm[LAYERS]; /* oneDNN's primitives */
    void *work;
} job;

static void run_qgemm(void *arg, uint64_t iters)
{
    const job *j = arg;
    for (uint64_t i = 0; i < iters; i++)
        for (int l = 0; l < LAYERS; l++)
            pw_qgemm_run(j->pb[l], j->m, j->x[l], dims[l], j->y, dims[l + 1], j->work);
}

static void run_onednn(void *arg, uint64_t iters)
{
    const job *j = arg;
    for (uint64_t i = 0; i < iters; i++)
        for (int l = 0; l < LAYERS; l++) pw_onednn_qmatmul_run(j->qm[l], j->x[l], j->y);
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    long batches[BENCH_MAXL] = {1, 32, 256};
    size_t nb = 3;
    const char *names = NULL;
    double budget = 3.0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--batches") == 0) nb = bench_parse_list(v, batches), i++;
        else if (strcmp(argv[i], "--kernels") == 0) names = v, i++;
        else if (strcmp(argv[i], "--budget") == 0) budget = atof(v), i++;
        else {
            fprintf(stderr, "usage: %s [--batches L] [--kernels NAMES|all] [--budget S]\n", argv[0]);
            return 1;
        }
    }
    const pw_cpu_info *cpu = pw_cpu_host();
    char why[512];
    bool dnnl = pw_onednn_open(why, sizeof why) == PW_OK;
    printf("cpu: %s (family %u model %u)%s%s\n", cpu->brand, cpu->family, cpu->model,
           dnnl ? "" : "; oneDNN: ", dnnl ? "" : why);
    int kinds[PW_QGEMM_KINDS], nk = 0, status = 0;
    for (int k = 0; k < PW_QGEMM_KINDS; k++) {
        if (!bench_listed(names, pw_qgemm_name((pw_qgemm_kind)k))) continue;
        if (!pw_qgemm_usable((pw_qgemm_kind)k, cpu, why, sizeof why)) {
            printf("%s: not run (%s)\n", pw_qgemm_name((pw_qgemm_kind)k), why);
            continue;
        }
        if (pw_qgemm_gate((pw_qgemm_kind)k, NULL, 0, why, sizeof why) != PW_OK) {
            fprintf(stderr, "%s: %s\n", pw_qgemm_name((pw_qgemm_kind)k), why);
            status = 1;
            continue;
        }
        kinds[nk++] = k;
    }
    /* Weights and activations: seeded, full range. */
    int8_t *w[LAYERS];
    uint64_t s = 42;
    for (int l = 0; l < LAYERS; l++) {
        w[l] = pw_xmalloc(dims[l] * dims[l + 1]);
        for (size_t i = 0; i < dims[l] * dims[l + 1]; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            w[l][i] = (int8_t)((int)(s >> 56) % 127);
        }
    }
    printf("%-12s %5s  %-26s %s\n", "kernel", "batch", "GOP/s (95% CI)", "vs oneDNN int8");
    for (size_t bi = 0; bi < nb && !status; bi++) {
        size_t m = (size_t)batches[bi];
        uint8_t *x[LAYERS];
        for (int l = 0; l < LAYERS; l++) {
            x[l] = pw_xmalloc(m * dims[l]);
            for (size_t i = 0; i < m * dims[l]; i++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                x[l][i] = (uint8_t)(s >> 56);
            }
        }
        job *jobs = pw_xcalloc((size_t)nk + 1, sizeof *jobs);
        size_t idx[PW_QGEMM_KINDS + 1];
        pw_bench_config cfg;
        pw_bench_config_default(&cfg, 0);
        cfg.max_seconds = budget * (double)(nk + 1) / 2.0;
        pw_bench *bench = pw_bench_new(&cfg);
        int32_t *ref = pw_xmalloc(m * dims[1] * sizeof(int32_t));
        const char *impl = "";
        for (int j = 0; j <= nk; j++) {
            job *jb = &jobs[j];
            jb->m = m;
            jb->y = pw_xmalloc(m * dims[1] * sizeof(int32_t));
            size_t wb = 1;
            for (int l = 0; l < LAYERS; l++) {
                jb->x[l] = x[l];
                if (j < nk) {
                    jb->pb[l] = pw_qgemm_pack((pw_qgemm_kind)kinds[j], w[l], dims[l + 1], dims[l],
                                              dims[l]);
                    size_t b = pw_qgemm_work_bytes(jb->pb[l], m);
                    wb = b > wb ? b : wb;
                } else if (dnnl && pw_onednn_qmatmul_new(m, dims[l + 1], dims[l], w[l], &jb->qm[l],
                                                         why, sizeof why) != PW_OK) {
                    fprintf(stderr, "oneDNN int8 matmul: %s\n", why);
                    dnnl = false;
                }
            }
            jb->work = pw_xmalloc(wb);
            if (j == nk && dnnl) {
                /* oneDNN's product of the first layer against the reference, before timing. */
                pw_qgemm_ref(m, dims[1], dims[0], x[0], dims[0], w[0], dims[0], ref, dims[1]);
                pw_onednn_qmatmul_run(jb->qm[0], x[0], jb->y);
                if (memcmp(ref, jb->y, m * dims[1] * sizeof(int32_t)) != 0) {
                    fprintf(stderr, "oneDNN int8 matmul differs from the reference\n");
                    dnnl = false;
                }
                impl = dnnl ? pw_onednn_qmatmul_impl(jb->qm[0]) : "";
            }
            if (j < nk) idx[j] = pw_bench_add(bench, pw_qgemm_name((pw_qgemm_kind)kinds[j]),
                                              run_qgemm, jb);
            else if (dnnl) idx[j] = pw_bench_add(bench, "onednn_int8", run_onednn, jb);
        }
        pw_bench_run(bench);
        pw_result *r = pw_result_new("qgemm", "qgemm");
        double work = 0;
        for (int l = 0; l < LAYERS; l++) work += 2.0 * (double)m * dims[l] * dims[l + 1] / 1e9;
        for (int j = 0; j <= nk; j++) {
            if (j == nk && !dnnl) break;
            char rate[64], cell[64];
            size_t ref = dnnl ? idx[nk] : idx[j];
            if (!bench_cells(bench, idx[j], ref, r, work, "GOP/s", 0, rate, sizeof rate, cell,
                             sizeof cell))
                continue;
            printf("%-12s %5zu  %-26s %s\n",
                   j < nk ? pw_qgemm_name((pw_qgemm_kind)kinds[j]) : "onednn_int8", m, rate,
                   j < nk ? cell : impl);
        }
        printf("\n");
        fflush(stdout);
        pw_result_free(r);
        pw_bench_free(bench);
        for (int j = 0; j <= nk; j++) {
            for (int l = 0; l < LAYERS; l++) {
                pw_qgemm_b_free(jobs[j].pb[l]);
                if (jobs[j].qm[l]) pw_onednn_qmatmul_free(jobs[j].qm[l]);
            }
            free(jobs[j].y);
            free(jobs[j].work);
        }
        free(jobs);
        free(ref);
        for (int l = 0; l < LAYERS; l++) free(x[l]);
    }
    for (int l = 0; l < LAYERS; l++) free(w[l]);
    return status;
}
