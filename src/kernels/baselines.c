/* baselines.c — what the library baselines share: whether a library variant may run here, the
 * forked probe that records BLIS and oneDNN without loading them into the caller, the OpenBLAS
 * NT product used beside the other libraries', and the sanity-floor rule (see baselines.h). */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/baselines.h"
#include "perfweave/common.h"

void pw_sgemm_nt_openblas(size_t m, size_t n, size_t k, const float *a, size_t lda,
                          const float *b, size_t ldb, float *c, size_t ldc)
{
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (size_t i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof *c);
        return;
    }
    /* One row is a matrix-vector product, c = B·a: sgemv is OpenBLAS's faster path for it. */
    if (m == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)n, (blasint)k, 1.0f, b, (blasint)ldb, a,
                    1, 0.0f, c, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k, 1.0f,
                a, (blasint)lda, b, (blasint)ldb, 0.0f, c, (blasint)ldc);
}

int pw_baselines_ready(const char *name, char *msg, size_t size)
{
    if (name && strcmp(name, "blis") == 0) return pw_blis_open(msg, size);
    if (name && strcmp(name, "onednn") == 0) return pw_onednn_open(msg, size);
    return PW_OK;
}

/* --- the probe ------------------------------------------------------------------------------ */

enum { PROBE_TIMEOUT_MS = 30000 };

static json_t *probe_failed(const char *why)
{
    return json_pack("{s:{s:b, s:s}, s:{s:b, s:s}}", "blis", "available", 0, "error", why,
                     "onednn", "available", 0, "error", why);
}

json_t *pw_baselines_probe(void)
{
    int fd[2];
    if (pipe(fd) != 0) return probe_failed("cannot create a pipe for the library probe");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return probe_failed("cannot fork the library probe");
    }
    if (pid == 0) {
        close(fd[0]);
        json_t *doc = json_pack("{s:o, s:o}", "blis", pw_blis_json(), "onednn", pw_onednn_json());
        char *text = json_dumps(doc, JSON_COMPACT);
        size_t len = text ? strlen(text) : 0, off = 0;
        while (off < len) {
            ssize_t w = write(fd[1], text + off, len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(fd[1]);
    pw_buf buf;
    pw_buf_init(&buf);
    const char *why = NULL;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (long)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        struct pollfd p = {fd[0], POLLIN, 0};
        int rc = poll(&p, 1, (int)(spent < PROBE_TIMEOUT_MS ? PROBE_TIMEOUT_MS - spent : 0));
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) {
            why = "the library probe timed out";
            kill(pid, SIGKILL);
            break;
        }
        char chunk[4096];
        ssize_t r = read(fd[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        pw_buf_put(&buf, chunk, (size_t)r);
    }
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    json_t *doc = NULL;
    if (!why && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        why = WIFSIGNALED(status) ? "the library probe crashed" : "the library probe failed";
    if (!why) {
        json_error_t jerr;
        doc = json_loads(buf.data, 0, &jerr);
        if (!json_is_object(doc)) {
            json_decref(doc);
            doc = NULL;
            why = "the library probe wrote no description";
        }
    }
    pw_buf_release(&buf);
    return doc ? doc : probe_failed(why);
}

/* --- the sanity floor ----------------------------------------------------------------------- */

static const char *isa_label(const char *isa)
{
    if (!isa) return "widest";
    if (strcmp(isa, "avx512") == 0) return "AVX-512";
    if (strcmp(isa, "avx2") == 0) return "AVX2";
    return isa;
}

bool pw_baseline_judge(const pw_baseline_obs *o, const pw_baseline_machine *m, char *msg,
                       size_t size, double *fraction)
{
    double frac = isfinite(o->gflops) && isfinite(m->peak) && m->peak > 0 ? o->gflops / m->peak
                                                                           : NAN;
    if (fraction) *fraction = frac;
    if (o->n < PW_BASELINE_FLOOR_MIN_N) frac = NAN; /* too small to say anything about the library */
    /* Upper bound of the fraction the library's vector code can reach: its flops per cycle per
     * vector unit over the widest unit's (both FMA: 2 flops per lane). */
    double bound = o->floats > 0 && m->widest_floats > 1
                       ? (double)o->floats * (o->fma ? 2 : 1) / ((double)m->widest_floats * 2)
                       : NAN;
    bool by_measure = isfinite(frac) && frac < m->floor;
    bool by_isa = isfinite(bound) && bound < m->floor;
    if (!by_measure && !by_isa) return false;
    if (!msg || !size) return true;
    pw_buf s;
    pw_buf_init(&s);
    pw_buf_printf(&s, "%s (%s) is a handicapped baseline on this machine: ", o->library,
                  o->code && *o->code ? o->code : "what it runs is not known");
    if (isfinite(frac)) {
        bool narrower = m->peak_isa && m->widest && strcmp(m->peak_isa, m->widest) != 0;
        pw_buf_printf(&s, "it reached %.3g GFLOP/s at n = %ld, %.0f%% of the single-core %s FMA "
                      "peak of %.3g GFLOP/s", o->gflops, o->n, 100 * frac, isa_label(m->peak_isa),
                      m->peak);
        if (by_measure && !by_isa)
            pw_buf_puts(&s, " (either its code does not suit this CPU or its measurement was "
                        "disturbed)");
        if (narrower)
            pw_buf_printf(&s, " (the %s peak is not measured here, so this fraction flatters it)",
                          isa_label(m->widest));
        if (by_isa) pw_buf_puts(&s, ", and ");
    }
    if (by_isa)
        pw_buf_printf(&s, "its %d-wide vector code %s FMA can reach at most %.0f%% of the %s FMA "
                      "peak", o->floats, o->fma ? "with" : "without", 100 * bound,
                      isa_label(m->widest));
    pw_buf_printf(&s, "; the floor is %.0f%% of the peak, so comparisons against %s are shown but "
                  "decide no claim", 100 * m->floor, o->variant);
    snprintf(msg, size, "%s", s.data);
    pw_buf_release(&s);
    return true;
}
