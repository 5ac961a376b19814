/* cmd_run.c — `perfweave run [--quick] [--json] [--no-wait] [--max-wait S] [--slurm P] EXPERIMENT
 * [key=value…]`: one experiment outside any chapter, isolated like in a report and measured under
 * the machine-wide measurement lock; prints its metrics (and claims given as claim=…). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/claims.h"
#include "perfweave/env.h"
#include "perfweave/isolate.h"
#include "perfweave/slurm.h"
#include "perfweave/weave.h"

#define RUN_USAGE "usage: perfweave run [--quick] [--json] [--no-wait] [--max-wait SECONDS]\n" \
                  "                     [--slurm PARTITION [--slurm-time MIN] [--slurm-dir DIR]] EXPERIMENT [key=value...]\n"
#define SLURM_DIR ".cache/slurm"

typedef struct {
    const char *partition;   /* NULL: run here */
    int time_min;            /* 0: from the directive's timeout */
    const char *dir;
} slurm_opts;

/* The directive as one Slurm job on opt->partition (slurm.h); NULL with *code set when nothing
 * could be submitted (the controller, the partition, the work folder). */
static pw_result *run_on_slurm(const pw_experiment *e, const pw_directive *d, bool quick,
                               const slurm_opts *opt, int *code)
{
    char msg[1024];
    const char *parts[] = {opt->partition};
    if (pw_slurm_check_partitions(parts, 1, 30, NULL, msg, sizeof msg) != PW_OK) {
        fprintf(stderr, "perfweave run: %s\n", msg);
        *code = PW_EXIT_USAGE;
        return NULL;
    }
    pw_slurm_ctx ctx;
    if (pw_slurm_ctx_init(&ctx, opt->dir, msg, sizeof msg) != PW_OK) {
        fprintf(stderr, "perfweave run: %s\n", msg);
        *code = PW_EXIT_USAGE;
        return NULL;
    }
    pw_slurm_measure m = {e, d->id, d->params, quick, d->timeout_s, d->memory_mb};
    pw_slurm_limits lim;
    pw_slurm_limits_for(&m, &lim);
    if (opt->time_min > 0) lim.time_min = opt->time_min;
    pw_isolate_catch_signals();
    bool interrupted = false;
    pw_result *r = pw_slurm_run(&ctx, opt->partition, &m, &lim, &interrupted, msg, sizeof msg);
    if (!r) {
        fprintf(stderr, "perfweave run: %s\n", msg);
        *code = PW_EXIT_USAGE;
    } else {
        json_t *sl = json_object_get(json_object_get(pw_result_json(r), "run"), "slurm");
        fprintf(stderr, "perfweave run: Slurm job %s on node %s (partition %s): %s\n",
                json_string_value(json_object_get(sl, "job_id")),
                json_string_value(json_object_get(sl, "node")), opt->partition,
                json_string_value(json_object_get(sl, "state")));
        if (interrupted) {
            fprintf(stderr, "perfweave run: interrupted: Slurm job cancelled\n");
            pw_result_free(r);
            r = NULL;
            *code = 128 + pw_isolate_interrupted();
        }
    }
    pw_slurm_ctx_release(&ctx);
    return r;
}


int pw_cmd_run(int argc, char **argv)
{
    bool quick = false, json = false, no_wait = false;
    double max_wait = -1;
    slurm_opts so = {NULL, 0, SLURM_DIR};
    /* Options may come before or after the experiment name; key=value never starts with '-'. */
    char **rest = pw_xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    for (int k = 1; k < argc; k++) {
        int lk = pw_cli_lock_option((const char *const *)argv, argc, &k, &no_wait, &max_wait);
        if (lk == 1) continue;
        if (strcmp(argv[k], "--quick") == 0) quick = true;
        else if (strcmp(argv[k], "--json") == 0) json = true;
        else if ((strcmp(argv[k], "--slurm") == 0 || strcmp(argv[k], "--slurm-time") == 0 ||
                  strcmp(argv[k], "--slurm-dir") == 0) && k + 1 < argc) {
            const char *opt = argv[k++];
            if (strcmp(opt, "--slurm") == 0) so.partition = argv[k];
            else if (strcmp(opt, "--slurm-dir") == 0) so.dir = argv[k];
            else if ((so.time_min = atoi(argv[k])) < 1) {
                fprintf(stderr, "perfweave run: --slurm-time takes whole minutes, not '%s'\n" RUN_USAGE, argv[k]);
                free(rest);
                return PW_EXIT_USAGE;
            }
        } else if (argv[k][0] == '-' || lk < 0) {
            fprintf(stderr, "perfweave run: %s option '%s'\n" RUN_USAGE,
                    lk < 0 ? "malformed" : "unknown", argv[k]);
            free(rest);
            return PW_EXIT_USAGE;
        } else rest[nrest++] = argv[k];
    }
    argv = rest;
    argc = nrest;
    int i = 0;
    if (so.partition && strchr(so.partition, ',')) {
        fprintf(stderr, "perfweave run: --slurm takes one partition (a report takes several)\n");
        free(rest);
        return PW_EXIT_USAGE;
    }
    if (i >= argc) {
        fprintf(stderr, RUN_USAGE);
        free(rest);
        return PW_EXIT_USAGE;
    }
    const pw_experiment *e = pw_registry_find(argv[i]);
    if (!e) {
        size_t n;
        const pw_experiment *const *all = pw_registry_all(&n);
        const char **names = pw_xmalloc(n * sizeof *names);
        for (size_t k = 0; k < n; k++) names[k] = all[k]->name;
        const char *hint = pw_suggest(argv[i], names, n);
        fprintf(stderr, "perfweave run: unknown experiment '%s'%s%s%s\n", argv[i], hint ? " (did you mean '" : " (see perfweave list)",
                hint ? hint : "", hint ? "'?)" : "");
        free(names);
        free(rest);
        return PW_EXIT_USAGE;
    }
    pw_diag diag;
    pw_diag_init(&diag);
    pw_directive *d = pw_directive_from_args(e, argv + i + 1, argc - i - 1, &diag);
    if (diag.n) {
        pw_cli_print_diag(&diag);
        pw_diag_release(&diag);
        pw_directive_free(d);
        free(rest);
        return PW_EXIT_USAGE;
    }
    pw_diag_release(&diag);
    json_t *env = NULL;
    pw_result *r;
    if (so.partition) {
        /* Submitting measures nothing here: the job's perfweave on the node takes the node's
         * measurement lock (run-job), this process holds none. */
        int code = PW_EXIT_OK;
        r = run_on_slurm(e, d, quick, &so, &code);
        if (!r) {
            pw_directive_free(d);
            free(rest);
            return code;
        }
        /* The environment is the node's, as run-job recorded it. */
        env = json_incref(json_object_get(pw_result_json(r), "environment"));
        if (!env) env = json_object();
    } else {
        pw_isolate_limits lim;
        pw_isolate_limits_default(&lim, quick);
        if (d->timeout_s > 0) lim.timeout_s = d->timeout_s;
        if (d->memory_mb > 0) lim.memory_mb = d->memory_mb;
        /* Validated: now this process measures, so it takes the machine-wide lock (the
         * environment is captured under it too) and gives it back as soon as the child is done. */
        pw_isolate_catch_signals();
        pw_lock *lock = pw_cli_lock_new("perfweave run", no_wait, max_wait);
        int lc = pw_cli_lock_acquire(lock, "perfweave run");
        if (lc != PW_EXIT_OK) {
            pw_lock_free(lock);
            pw_directive_free(d);
            free(rest);
            return lc;
        }
        env = pw_env_capture();
        r = pw_isolate_run(e, d->id, d->params, &lim);
        pw_lock_free(lock);
        if (pw_isolate_interrupted()) {
            fprintf(stderr, "perfweave run: %s: interrupted; nothing printed\n", e->name);
            json_decref(env);
            pw_result_free(r);
            pw_directive_free(d);
            free(rest);
            return 128 + pw_isolate_interrupted();
        }
    }
    json_t *doc = pw_result_json(r);
    json_object_set(doc, "params", d->params);
    json_object_set_new(doc, "environment", env);
    if (d->nclaims) {
        const pw_result **results = pw_xmalloc(d->nclaims * sizeof *results);
        for (size_t k = 0; k < d->nclaims; k++) results[k] = r;
        json_object_set_new(doc, "claims", pw_claims_evaluate(d->claims, results, d->nclaims));
        free(results);
    } else {
        json_object_set_new(doc, "claims", json_array());
    }
    int code = pw_result_failed(r) ? PW_EXIT_ERROR : PW_EXIT_OK;
    if (json) {
        json_dumpf(doc, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        if (pw_result_failed(r)) fprintf(stderr, "perfweave run: %s: ERROR: %s\n", e->name, pw_result_error_reason(r));
        size_t n = pw_result_metric_count(r);
        for (size_t k = 0; k < n; k++) {
            pw_metric m;
            pw_result_metric_at(r, k, &m);
            pw_buf b;
            pw_buf_init(&b);
            pw_format_metric(&b, &m);
            printf("%-40s %s\n", m.name, b.data);
            pw_buf_release(&b);
        }
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(doc, "claims"), k, v)
            printf("%-9s %s\n", json_string_value(json_object_get(v, "verdict")),
                   json_string_value(json_object_get(v, "claim")));
    }
    pw_result_free(r);
    pw_directive_free(d);
    free(rest);
    return code;
}
