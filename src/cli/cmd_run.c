/* cmd_run.c — `perfweave run [--quick] [--json] EXPERIMENT [key=value…]`: one experiment outside
 * any chapter, isolated like in a report; prints its metrics (and claims given as claim=…). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/claims.h"
#include "perfweave/env.h"
#include "perfweave/isolate.h"
#include "perfweave/weave.h"

int pw_cmd_run(int argc, char **argv)
{
    bool quick = false, json = false;
    /* Options may come before or after the experiment name; key=value never starts with '-'. */
    char **rest = pw_xcalloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--quick") == 0) quick = true;
        else if (strcmp(argv[k], "--json") == 0) json = true;
        else if (argv[k][0] == '-') {
            fprintf(stderr, "perfweave run: unknown option '%s'\nusage: perfweave run [--quick] [--json] EXPERIMENT [key=value...]\n", argv[k]);
            free(rest);
            return PW_EXIT_USAGE;
        } else rest[nrest++] = argv[k];
    }
    argv = rest;
    argc = nrest;
    int i = 0;
    if (i >= argc) {
        fprintf(stderr, "usage: perfweave run [--quick] [--json] EXPERIMENT [key=value...]\n");
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
    json_t *env = pw_env_capture();
    pw_result *r = pw_isolate_run(e, d->id, d->params, &lim);
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
