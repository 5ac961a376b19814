/* cmd_run.c — `perfweave run [--quick] [--json] [--no-wait] [--max-wait S] EXPERIMENT
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
#include "perfweave/weave.h"

#define RUN_USAGE "usage: perfweave run [--quick] [--json] [--no-wait] [--max-wait SECONDS] EXPERIMENT [key=value...]\n"

int pw_cmd_run(int argc, char **argv)
{
    bool quick = false, json = false, no_wait = false;
    double max_wait = -1;
    /* Options may come before or after the experiment name; key=value never starts with '-'. */
    char **rest = pw_xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    for (int k = 1; k < argc; k++) {
        int lk = pw_cli_lock_option((const char *const *)argv, argc, &k, &no_wait, &max_wait);
        if (lk == 1) continue;
        if (strcmp(argv[k], "--quick") == 0) quick = true;
        else if (strcmp(argv[k], "--json") == 0) json = true;
        else if (argv[k][0] == '-' || lk < 0) {
            fprintf(stderr, "perfweave run: %s option '%s'\n" RUN_USAGE,
                    lk < 0 ? "malformed" : "unknown", argv[k]);
            free(rest);
            return PW_EXIT_USAGE;
        } else rest[nrest++] = argv[k];
    }
    argv = rest;
    argc = nrest;
    int i = 0;
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
    pw_isolate_limits lim;
    pw_isolate_limits_default(&lim, quick);
    if (d->timeout_s > 0) lim.timeout_s = d->timeout_s;
    if (d->memory_mb > 0) lim.memory_mb = d->memory_mb;
    /* Validated: now this process measures, so it takes the machine-wide lock (the environment
     * is captured under it too) and gives it back as soon as the child is done. */
    pw_isolate_catch_signals();
    pw_lock *lock = pw_cli_lock_new("perfweave run", no_wait, max_wait);
    int lc = pw_cli_lock_acquire(lock, "perfweave run");
    if (lc != PW_EXIT_OK) {
        pw_lock_free(lock);
        pw_directive_free(d);
        free(rest);
        return lc;
    }
    json_t *env = pw_env_capture();
    pw_result *r = pw_isolate_run(e, d->id, d->params, &lim);
    pw_lock_free(lock);
    if (pw_isolate_interrupted()) {
        fprintf(stderr, "perfweave run: %s: interrupted; nothing printed\n", e->name);
        json_decref(env);
        pw_result_free(r);
        pw_directive_free(d);
        free(rest);
        return 128 + pw_isolate_interrupted();
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
