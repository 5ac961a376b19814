/* main.c — the perfweave command: dispatches to one subcommand (src/cli/cmd_*.c). */
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "perfweave/version.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} command;

static const command commands[] = {
    {"report", pw_cmd_report, "report [-o DIR] [-f html,latex,pdf] [--quick] [--rerun ID|all] [--frozen] [CHAPTER.md...]"},
    {"run", pw_cmd_run, "run [--quick] [--json] [--slurm PARTITION [--slurm-time MIN] [--slurm-dir DIR]] EXPERIMENT [key=value...]"},
    {"list", pw_cmd_list, "list [--json]                 experiments, parameters, metric names"},
    {"stats", pw_cmd_stats, "stats [--json] [FILE|-]       summary statistics of one number per line"},
    {"compare", pw_cmd_compare, "compare [--json] A B          two samples: Welch, Mann-Whitney, ratio and difference CIs"},
    {"history", pw_cmd_history, "history [--json] [--root DIR] archived runs with their verdicts"},
    {"diff", pw_cmd_diff, "diff [--json] [--root DIR] [--threshold F] RUN_A RUN_B  regressions between runs"},
    {"archive", pw_cmd_archive, "archive export [--root DIR] RUN > FILE | archive import [--root DIR] [--skip-present] FILE...  runs that travel"},
    {"slurm", pw_cmd_slurm, "slurm check [--dir DIR] [--json] PARTITION[,PARTITION...]  can perfweave measure there?"},
    /* Hidden: what a Slurm job runs on its node (docs/slurm.md). */
    {"run-job", pw_cmd_run_job, NULL},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: perfweave COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].usage) fprintf(out, "  perfweave %s\n", commands[i].usage);
    fprintf(out, "\n  perfweave --help | --version\n\nexit status: 0 success, 1 bad usage or input, "
                 "2 an experiment ERROR or a regression, 3 internal failure\n");
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    if (argc < 2) {
        usage(stderr);
        return PW_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return PW_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("perfweave %s (commit %s)\n", pw_version(), pw_commit());
        return PW_EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "perfweave: unknown command '%s' (see perfweave --help)\n", argv[1]);
    return PW_EXIT_USAGE;
}
