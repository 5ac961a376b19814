/* cmd_compare.c — `perfweave compare [--json] A B`: two samples (one number per line each)
 * compared by Welch's t-test, the Mann–Whitney U test, the difference of means and the ratio
 * of medians, each with its 95% interval. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/stats.h"

#define CLI_SEED 20261129 /* fixed: the same input always prints the same intervals */

static const char usage_text[] = "usage: perfweave compare [--json] A B   (files, one number "
                                 "per line; '-' for standard input)\n";

/* Reads a sample of at least two numbers; prints the problem and returns 0 on failure. */
static int load(const char *path, double **x, size_t *n)
{
    int from_stdin = strcmp(path, "-") == 0;
    const char *name = from_stdin ? "<stdin>" : path;
    FILE *in = from_stdin ? stdin : fopen(path, "r");
    if (!in) {
        fprintf(stderr, "perfweave compare: cannot open %s: %s\n", path, strerror(errno));
        return 0;
    }
    char msg[256];
    int st = pw_stats_read_numbers(in, name, x, n, msg, sizeof msg);
    if (!from_stdin) fclose(in);
    if (st != PW_OK) {
        fprintf(stderr, "perfweave compare: %s\n", msg);
        return 0;
    }
    if (*n < 2) {
        fprintf(stderr, "perfweave compare: %s: only one value; at least 2 are needed\n", name);
        free(*x);
        *x = NULL;
        return 0;
    }
    return 1;
}

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static void row(const char *label, double a, double b)
{
    printf("%-8s %16.6g %16.6g\n", label, a, b);
}

int pw_cmd_compare(int argc, char **argv)
{
    int json = 0, rc = PW_EXIT_USAGE;
    const char *path[2] = {NULL, NULL};
    size_t npath = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return PW_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "perfweave compare: unknown option '%s'\n%s", argv[i], usage_text);
            return PW_EXIT_USAGE;
        } else if (npath == 2) {
            fprintf(stderr, "perfweave compare: expected two files, got a third ('%s')\n%s",
                    argv[i], usage_text);
            return PW_EXIT_USAGE;
        } else path[npath++] = argv[i];
    }
    if (npath != 2) {
        fprintf(stderr, "perfweave compare: expected two files A and B\n%s", usage_text);
        return PW_EXIT_USAGE;
    }
    if (strcmp(path[0], "-") == 0 && strcmp(path[1], "-") == 0) {
        fprintf(stderr, "perfweave compare: only one of A and B can be standard input\n");
        return PW_EXIT_USAGE;
    }
    double *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    if (!load(path[0], &a, &na) || !load(path[1], &b, &nb)) goto out;

    pw_summary sa, sb;
    pw_welch w;
    pw_mann_whitney mw;
    double ratio = NAN, rci[2] = {NAN, NAN};
    if (pw_stats_summarize(a, na, CLI_SEED, &sa) != PW_OK ||
        pw_stats_summarize(b, nb, CLI_SEED, &sb) != PW_OK || pw_stats_welch(a, na, b, nb, &w) != PW_OK ||
        pw_stats_mann_whitney(a, na, b, nb, &mw) != PW_OK) {
        fprintf(stderr, "perfweave compare: cannot compare these samples\n");
        rc = PW_EXIT_INTERNAL;
        goto out;
    }
    /* The ratio is undefined when B's median is 0; everything else still holds. */
    int have_ratio = pw_stats_ratio_median(a, na, b, nb, CLI_SEED, 0.95, &ratio, rci) == PW_OK;

    if (json) {
        json_t *doc = json_object();
        json_object_set_new(doc, "a", pw_stats_summary_json(&sa));
        json_object_set_new(doc, "b", pw_stats_summary_json(&sb));
        json_object_set_new(doc, "welch", json_pack("{s:o, s:o, s:o}", "t", jnum(w.t), "df",
                                                    jnum(w.df), "p", jnum(w.p)));
        json_object_set_new(doc, "mann_whitney", json_pack("{s:o, s:o, s:o}", "u", jnum(mw.u),
                                                           "z", jnum(mw.z), "p", jnum(mw.p)));
        json_object_set_new(doc, "mean_diff", jnum(w.diff));
        json_object_set_new(doc, "mean_diff_ci95",
                            json_pack("[o,o]", jnum(w.diff_ci95[0]), jnum(w.diff_ci95[1])));
        json_object_set_new(doc, "ratio_median", have_ratio ? jnum(ratio) : json_null());
        json_object_set_new(doc, "ratio_ci95", have_ratio ? json_pack("[o,o]", jnum(rci[0]),
                                                                      jnum(rci[1]))
                                                          : json_null());
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        putchar('\n');
        json_decref(doc);
    } else {
        printf("%-8s %16s %16s\n", "", "A", "B");
        printf("%-8s %16zu %16zu\n", "n", sa.n, sb.n);
        row("mean", sa.mean, sb.mean);
        row("median", sa.median, sb.median);
        row("sd", sa.sd, sb.sd);
        row("mad", sa.mad, sb.mad);
        row("min", sa.min, sb.min);
        row("max", sa.max, sb.max);
        printf("%-8s %15.3g%% %15.3g%%\n", "cv", 100 * sa.cv, 100 * sb.cv);
        printf("\n%-26s %-12.6g 95%% CI %.6g to %.6g\n", "mean difference (A - B)", w.diff,
               w.diff_ci95[0], w.diff_ci95[1]);
        if (have_ratio)
            printf("%-26s %-12.6g 95%% CI %.6g to %.6g (bootstrap)\n", "ratio of medians (A / B)",
                   ratio, rci[0], rci[1]);
        else printf("%-26s undefined (the median of B is 0)\n", "ratio of medians (A / B)");
        printf("%-26s t = %.4g, df = %.4g, p = %.4g\n", "Welch t-test", w.t, w.df, w.p);
        printf("%-26s U = %.6g, z = %.4g, p = %.4g\n", "Mann-Whitney U", mw.u, mw.z, mw.p);
    }
    fflush(stdout);
    rc = PW_EXIT_OK;
out:
    free(a);
    free(b);
    return rc;
}
