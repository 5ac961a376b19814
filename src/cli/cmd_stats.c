/* cmd_stats.c — `perfweave stats [--json] [FILE|-]`: summary statistics of one number per line
 * (see the command-line contract in docs and DESIGN.md). */
#include <errno.h>
#include <gsl/gsl_errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/stats.h"

#define CLI_SEED 20261129 /* fixed: the same input always prints the same intervals */

static const char usage_text[] = "usage: perfweave stats [--json] [FILE|-]\n";

/* Prints the summary as an aligned two-column table. */
static void print_summary(const pw_summary *s)
{
    printf("%-10s %zu\n", "n", s->n);
    printf("%-10s %-14.6g 95%% CI %.6g to %.6g (t)\n", "mean", s->mean, s->ci95_mean[0],
           s->ci95_mean[1]);
    printf("%-10s %-14.6g 95%% CI %.6g to %.6g (bootstrap)\n", "median", s->median,
           s->ci95_median[0], s->ci95_median[1]);
    printf("%-10s %.6g\n", "sd", s->sd);
    printf("%-10s %.6g\n", "mad", s->mad);
    printf("%-10s %.6g\n", "min", s->min);
    printf("%-10s %.6g\n", "q1", s->q1);
    printf("%-10s %.6g\n", "q3", s->q3);
    printf("%-10s %.6g\n", "max", s->max);
    if (s->mean != 0) printf("%-10s %.3g%%\n", "cv", 100 * s->cv);
    else printf("%-10s undefined (mean is 0)\n", "cv");
    printf("%-10s %zu mild, %zu severe (Tukey fences; kept)\n", "outliers", s->outliers_mild,
           s->outliers_severe);
}

int pw_cmd_stats(int argc, char **argv)
{
    int json = 0, rc = PW_EXIT_USAGE;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return PW_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "perfweave stats: unknown option '%s'\n%s", argv[i], usage_text);
            return PW_EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "perfweave stats: one file at a time (got '%s' and '%s')\n%s", path,
                    argv[i], usage_text);
            return PW_EXIT_USAGE;
        } else path = argv[i];
    }
    int from_stdin = !path || strcmp(path, "-") == 0;
    const char *name = from_stdin ? "<stdin>" : path;
    FILE *in = from_stdin ? stdin : fopen(path, "r");
    if (!in) {
        fprintf(stderr, "perfweave stats: cannot open %s: %s\n", path, strerror(errno));
        return PW_EXIT_USAGE;
    }
    double *x = NULL;
    size_t n = 0;
    char msg[256];
    int st = pw_stats_read_numbers(in, name, &x, &n, msg, sizeof msg);
    if (!from_stdin) fclose(in);
    if (st != PW_OK) {
        fprintf(stderr, "perfweave stats: %s\n", msg);
        goto out;
    }
    if (n < 2) {
        fprintf(stderr, "perfweave stats: %s: only one value; at least 2 are needed\n", name);
        goto out;
    }
    pw_summary s;
    if (pw_stats_summarize(x, n, CLI_SEED, &s) != PW_OK) {
        fprintf(stderr, "perfweave stats: %s: cannot summarize these values\n", name);
        rc = PW_EXIT_INTERNAL;
        goto out;
    }
    if (json) {
        json_t *doc = pw_stats_summary_json(&s);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        putchar('\n');
        json_decref(doc);
    } else print_summary(&s);
    fflush(stdout);
    rc = PW_EXIT_OK;
out:
    free(x);
    return rc;
}
