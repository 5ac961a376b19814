/* selftest.c — experiments that exercise perfweave itself rather than an optimization:
 * `selftest.fixed` publishes exactly the values it is given (so the weave can be tested end to
 * end without timing anything; `delay` makes it take a while, as a background measurement a
 * preview shows does), `selftest.crash` fails in a chosen way (so isolation, limits and ERROR
 * verdicts can be tested), and `selftest.spin` measures a busy loop for a chosen time (so the
 * measurement lock and contention detection can be tested on a real measurement; the tests
 * judge what was recorded, never the time taken). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/experiment.h"

#define MAXV 64

static int run_fixed(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    long sizes[MAXV], values[MAXV];
    size_t ns = pw_run_ints(run, "sizes", sizes, MAXV);
    size_t nv = pw_run_ints(run, "values", values, MAXV);
    double spread = pw_run_real(run, "spread");
    /* Read only when given, so that a parameter object built by hand (a unit test) may omit it. */
    const json_t *delay = json_object_get(pw_run_params(run), "delay");
    if (json_is_number(delay) && json_number_value(delay) > 0) {
        double d = json_number_value(delay);
        struct timespec left = {(time_t)d, (long)((d - floor(d)) * 1e9)};
        while (nanosleep(&left, &left) != 0 && errno == EINTR) {
        }
    }
    if (ns != nv) {
        pw_result_error(r, "sizes and values differ in length (%zu vs %zu)", ns, nv);
        return PW_EINVAL;
    }
    static const char *const headers[] = {"n", "value", "95% interval"};
    pw_table *t = pw_result_table(r, "values", "The values given, with a fixed spread", 3, headers);
    pw_chart *c = pw_result_chart(r, "values", "The values given against n", "n", "value",
                                  PW_CHART_LOGX | PW_CHART_LOGY);
    pw_series *s = pw_chart_series(c, pw_run_string(run, "label"));
    for (size_t i = 0; i < ns; i++) {
        double v = (double)values[i], lo = v * (1 - spread), hi = v * (1 + spread);
        char name[64];
        snprintf(name, sizeof name, "value.n%ld", sizes[i]);
        pw_result_metric(r, name, v, lo, hi, "x");
        pw_table_rowf(t, "%ld\t%g\t%g–%g", sizes[i], v, lo, hi);
        pw_series_point(s, (double)sizes[i], v, lo, hi);
    }
    pw_chart_hline(c, "ceiling", (double)values[nv - 1] * 2);
    pw_result_exact(r, "count", (double)ns, "");
    pw_result_note(r, "These numbers are given, not measured: this experiment tests the weave.");
    return PW_OK;
}

static int run_crash(pw_run *run)
{
    const char *mode = pw_run_string(run, "mode");
    if (strcmp(mode, "segv") == 0) raise(SIGSEGV);
    else if (strcmp(mode, "abort") == 0) abort();
    else if (strcmp(mode, "hang") == 0) for (;;) pause();
    else if (strcmp(mode, "oom") == 0) {
        /* Touch memory until the child's address-space limit stops us. */
        for (;;) {
            char *p = malloc(1 << 26);
            if (!p) {
                fprintf(stderr, "selftest.crash: allocation refused\n");
                _exit(99);
            }
            memset(p, 1, 1 << 26);
        }
    } else if (strcmp(mode, "exit") == 0) {
        fprintf(stderr, "selftest.crash: exiting with status 7 on purpose\n");
        exit(7);
    }
    pw_result_error(pw_run_result(run), "failed on purpose (mode 'error')");
    return PW_EINVAL;
}

/* A busy loop measured for `seconds` (no precision target, so the whole budget is used). */
static int run_spin(pw_run *run)
{
    pw_result *r = pw_run_result(run);
    pw_busy_job job = {(unsigned long)pw_run_int(run, "work"), 0};
    pw_bench_config cfg;
    pw_bench_config_default(&cfg, pw_run_quick(run));
    cfg.max_seconds = pw_run_real(run, "seconds");
    cfg.target_rel_ci = 0;
    cfg.max_samples = 1000000;
    pw_bench *b = pw_bench_new(&cfg);
    size_t i = pw_bench_add(b, "spin", pw_busy_run, &job);
    int rc = pw_bench_run(b);
    if (rc == PW_OK) rc = pw_bench_publish_time(b, i, r, "time.spin", 1e6, "µs");
    if (rc == PW_OK) rc = pw_bench_publish_rate(b, i, r, "rate.spin", (double)job.work / 1e6, "M/s");
    if (rc != PW_OK) pw_result_error(r, "the busy loop could not be summarised (%s)", pw_strerror(rc));
    else pw_bench_record(b, r, "");
    pw_bench_free(b);
    return rc;
}

static const char *const fixed_metrics[] = {"value.nN", "count", NULL};
static const pw_param_spec fixed_params[] = {
    {"sizes", PW_PARAM_INT_LIST, "[1, 2, 4]", 1, 1e9, NULL, "x positions (n)"},
    {"values", PW_PARAM_INT_LIST, "[10, 20, 40]", 1, 1e12, NULL, "one value per size"},
    {"spread", PW_PARAM_REAL, "0.1", 0, 0.9, NULL, "relative half-width of each interval"},
    {"label", PW_PARAM_STRING, "given", 0, 0, NULL, "legend label of the series"},
    {"delay", PW_PARAM_REAL, "0", 0, 60, NULL, "seconds to wait before publishing (a slow measurement, for tests)"},
};
/* The kernel and helper sources these results depend on (the cache key hashes them). */
static const char *const module_sources[] = {NULL};

static const char *const spin_metrics[] = {"time.spin", "rate.spin", NULL};
static const pw_param_spec spin_params[] = {
    {"seconds", PW_PARAM_REAL, "1", 0.05, 60, NULL, "how long to measure"},
    {"work", PW_PARAM_INT, "20000", 100, 100000000, NULL, "multiply-adds per iteration"},
};
const pw_experiment pw_exp_selftest_spin = {
    "selftest.spin", "measures a busy loop for a given time (tests the lock and contention detection)",
    spin_params, sizeof spin_params / sizeof spin_params[0], spin_metrics, run_spin,
    module_sources,
};

const pw_experiment pw_exp_selftest_fixed = {
    "selftest.fixed", "publishes the values it is given (tests the weave; measures nothing)",
    fixed_params, sizeof fixed_params / sizeof fixed_params[0], fixed_metrics, run_fixed,
    module_sources,
};

static const char *const crash_modes[] = {"segv", "abort", "hang", "oom", "exit", "error", NULL};
static const char *const crash_metrics[] = {NULL};
static const pw_param_spec crash_params[] = {
    {"mode", PW_PARAM_STRING, "segv", 0, 0, crash_modes, "how to fail"},
};
const pw_experiment pw_exp_selftest_crash = {
    "selftest.crash", "fails on purpose in the chosen way (tests isolation and ERROR verdicts)",
    crash_params, 1, crash_metrics, run_crash,
    module_sources,
};
