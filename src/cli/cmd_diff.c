/* cmd_diff.c — `perfweave diff [--json] [--root DIR] [--threshold F] RUN_A RUN_B`: every metric
 * of two archived runs compared (RUN_A the baseline); exit 2 on a significant regression, so CI
 * can gate on it. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/store.h"

#define DEFAULT_ROOT "validation_results"
#define USAGE "usage: perfweave diff [--json] [--root DIR] [--threshold F] [--alpha F] RUN_A RUN_B"

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "perfweave diff: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n" USAGE "\n");
    return PW_EXIT_USAGE;
}

/* Parses a fraction in [0, 1) (threshold) or (0, 1) (alpha). */
static int parse_fraction(const char *text, double *out, int allow_zero)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v) || v < 0 || v >= 1 || (!allow_zero && v == 0))
        return -1;
    *out = v;
    return 0;
}

static const char *fmt_num(char *buf, size_t size, const json_t *v)
{
    if (json_is_number(v)) snprintf(buf, size, "%.4g", json_number_value(v));
    else if (json_is_string(v)) snprintf(buf, size, "%s", json_string_value(v));
    else snprintf(buf, size, "-");
    return buf;
}

/* Rows in the order: regressions, improvements, changed, incomparable, same. */
static int rank(const char *status)
{
    static const char *const order[] = {"regression", "improvement", "changed", "incomparable", "same"};
    for (int i = 0; i < 5; i++)
        if (strcmp(status, order[i]) == 0) return i;
    return 5;
}

static void print_table(const json_t *d)
{
    const json_t *rows = json_object_get(d, "metrics");
    printf("%-12s %-44s %12s %12s %9s %9s %s\n", "STATUS", "METRIC", "A", "B", "CHANGE", "P(HOLM)",
           "METHOD");
    for (int pass = 0; pass <= 5; pass++) {
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r) {
            const char *status = json_string_value(json_object_get(r, "status"));
            if (rank(status) != pass) continue;
            const char *id = json_string_value(json_object_get(r, "id"));
            const char *metric = json_string_value(json_object_get(r, "metric"));
            char name[512], a[32], b[32], p[32], change[32] = "-";
            snprintf(name, sizeof name, "%s%s%s", id, metric ? "." : "", metric ? metric : "");
            json_t *cj = json_object_get(r, "change");
            if (json_is_number(cj)) snprintf(change, sizeof change, "%+.1f%%", 100 * json_number_value(cj));
            printf("%-12s %-44s %12s %12s %9s %9s %s\n", status, name,
                   fmt_num(a, sizeof a, json_object_get(r, "a")), fmt_num(b, sizeof b, json_object_get(r, "b")),
                   change, fmt_num(p, sizeof p, json_object_get(r, "p_holm")),
                   json_string_value(json_object_get(r, "method")));
        }
    }
    size_t na = json_array_size(json_object_get(d, "only_a")), nb = json_array_size(json_object_get(d, "only_b"));
    if (na) printf("%zu metric(s) only in the first run\n", na);
    if (nb) printf("%zu metric(s) only in the second run\n", nb);
    printf("%lld regression(s), %lld improvement(s), %lld change(s) of unknown direction "
           "(significance %.3g after Holm, noise threshold %.3g%%)\n",
           (long long)json_integer_value(json_object_get(d, "regressions")),
           (long long)json_integer_value(json_object_get(d, "improvements")),
           (long long)json_integer_value(json_object_get(d, "changed")),
           json_number_value(json_object_get(d, "alpha")),
           100 * json_number_value(json_object_get(d, "threshold")));
}

int pw_cmd_diff(int argc, char **argv)
{
    int json = 0;
    const char *root = DEFAULT_ROOT, *runs[2] = {NULL, NULL};
    int nruns = 0;
    pw_diff_options opt;
    pw_diff_options_default(&opt);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--json") == 0) json = 1;
        else if (strcmp(arg, "--root") == 0 || strcmp(arg, "--threshold") == 0 || strcmp(arg, "--alpha") == 0) {
            if (i + 1 >= argc) return usage_error("%s needs a value", arg);
            const char *v = argv[++i];
            if (strcmp(arg, "--root") == 0) root = v;
            else if (strcmp(arg, "--threshold") == 0 && parse_fraction(v, &opt.threshold, 1) != 0)
                return usage_error("--threshold expects a fraction in [0, 1), such as 0.02, not '%s'", v);
            else if (strcmp(arg, "--alpha") == 0 && parse_fraction(v, &opt.alpha, 0) != 0)
                return usage_error("--alpha expects a fraction in (0, 1), such as 0.05, not '%s'", v);
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return usage_error("unknown option '%s'", arg);
        } else if (nruns < 2) {
            runs[nruns++] = arg;
        } else {
            return usage_error("unexpected argument '%s' (two runs expected)", arg);
        }
    }
    if (nruns != 2) return usage_error("%s", "two runs expected");
    json_t *docs[2] = {NULL, NULL}, *d = NULL;
    int code = PW_EXIT_USAGE;
    char msg[512];
    for (int k = 0; k < 2; k++) {
        if (pw_archive_load_msg(root, runs[k], &docs[k], msg, sizeof msg) != PW_OK) {
            fprintf(stderr, "perfweave diff: %s\n", msg);
            goto out;
        }
    }
    if (pw_archive_diff(docs[0], docs[1], &opt, &d, msg, sizeof msg) != PW_OK) {
        fprintf(stderr, "perfweave diff: %s\n", msg);
        goto out;
    }
    if (json) {
        json_dumpf(d, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        printf("A: %s  %s  commit %s\nB: %s  %s  commit %s\n\n", runs[0],
               json_string_value(json_object_get(json_object_get(d, "a"), "host")),
               json_string_value(json_object_get(json_object_get(d, "a"), "commit")), runs[1],
               json_string_value(json_object_get(json_object_get(d, "b"), "host")),
               json_string_value(json_object_get(json_object_get(d, "b"), "commit")));
        if (!json_is_true(json_object_get(d, "same_machine")))
            printf("note: the runs come from different kinds of machine (their hardware differs); "
                   "a difference may be the hardware, not the code\n\n");
        else if (!json_is_true(json_object_get(d, "same_software")))
            printf("note: the runs come from the same kind of machine with different software "
                   "(compiler, libraries or OpenBLAS core); a difference may be the toolchain, "
                   "not the code\n\n");
        print_table(d);
    }
    code = json_integer_value(json_object_get(d, "regressions")) > 0 ? PW_EXIT_ERROR : PW_EXIT_OK;
out:
    json_decref(d);
    json_decref(docs[0]);
    json_decref(docs[1]);
    return code;
}
