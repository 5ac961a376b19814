/* main.c — the perfweave command: settles which libraries the process measures with (the
 * OpenBLAS core, one CBLAS, no oneDNN in this forking process), then dispatches to one
 * subcommand (src/cli/cmd_*.c). */
#include <cblas.h>
#include <errno.h>
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "commands.h"
#include "perfweave/baselines.h"
#include "perfweave/cpu.h"
#include "perfweave/matmul.h"
#include "perfweave/version.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
    bool measures; /* may time a library baseline: told when the user's OpenBLAS core is kept */
} command;

static const command commands[] = {
    {"report", pw_cmd_report, "report [-o DIR] [-f html,latex,pdf] [--quick] [--rerun ID|all] [--frozen] [CHAPTER.md...]", true},
    {"preview", pw_cmd_preview, "preview [--port N] [--host ADDR] [--quick] [-o DIR] [CHAPTER.md...]  live-reloading local server", true},
    {"run", pw_cmd_run, "run [--quick] [--json] [--no-wait] [--max-wait SECONDS] [--slurm PARTITION [--slurm-time MIN] [--slurm-dir DIR]] EXPERIMENT [key=value...]", true},
    {"list", pw_cmd_list, "list [--json]                 experiments, parameters, metric names"},
    {"stats", pw_cmd_stats, "stats [--json] [FILE|-]       summary statistics of one number per line"},
    {"compare", pw_cmd_compare, "compare [--json] A B          two samples: Welch, Mann-Whitney, ratio and difference CIs"},
    {"history", pw_cmd_history, "history [--json] [--root DIR] archived runs with their verdicts"},
    {"diff", pw_cmd_diff, "diff [--json] [--root DIR] [--threshold F] RUN_A RUN_B  regressions between runs"},
    {"archive", pw_cmd_archive, "archive export [--root DIR] RUN > FILE | archive import [--root DIR] [--skip-present] FILE...  runs that travel"},
    {"slurm", pw_cmd_slurm, "slurm check [--dir DIR] [--json] PARTITION[,PARTITION...]  can perfweave measure there?"},
    /* Hidden: what a Slurm job runs on its node (docs/slurm.md). */
    {"run-job", pw_cmd_run_job, NULL, true},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: perfweave COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].usage) fprintf(out, "  perfweave %s\n", commands[i].usage);
    fprintf(out, "\n  perfweave --help | --version\n\nexit status: 0 success, 1 bad usage or input, "
                 "2 an experiment ERROR or a regression, 3 internal failure,\n"
                 "4 the measurement lock is held by another process (--no-wait, or after --max-wait)\n");
}

/* A DYNAMIC_ARCH OpenBLAS picks its kernels in a load-time constructor, before main, and the
 * measuring children are forked from this process without exec: the only way to a better core
 * is to run this program again with OPENBLAS_CORETYPE set, once (PW_OPENBLAS_MARKER guards
 * against a loop and tells the new image what the library had detected).  A user's own
 * OPENBLAS_CORETYPE is kept, with a note when it is weaker than the best core and `measures`
 * (the command may time the library).  Returns unless it re-executes. */
static void choose_openblas_core(char **argv, bool measures)
{
    pw_cpu_info cpu;
    pw_cpu_detect(&cpu);
    const char *user = getenv("OPENBLAS_CORETYPE"), *marker = getenv(PW_OPENBLAS_MARKER);
    const char *core = openblas_get_corename(), *config = openblas_get_config();
    if (!core) core = "Unknown";
    if (marker) {
        if (!user || strcasecmp(core, user) != 0)
            fprintf(stderr, "perfweave: warning: OpenBLAS runs core %s although perfweave asked "
                    "for %s (the library detected %s on this CPU): the OpenBLAS baseline stays "
                    "on its weaker core, and the report says so\n", core, user ? user : "?",
                    marker);
        return;
    }
    const char *best = pw_openblas_best_core(&cpu, config);
    if (user) {
        const pw_openblas_core *b = pw_openblas_core_find(best), *c = pw_openblas_core_find(core);
        if (measures && b && (!c || b->rank > c->rank))
            fprintf(stderr, "perfweave: note: OPENBLAS_CORETYPE=%s from the environment is kept "
                    "(OpenBLAS runs core %s; the best core for this CPU is %s)\n", user, core,
                    best);
        return;
    }
    pw_openblas_plan plan;
    pw_openblas_plan_decide(&cpu, config, core, user, marker, &plan);
    if (!plan.reexec) return;
    setenv("OPENBLAS_CORETYPE", plan.core, 1);
    setenv(PW_OPENBLAS_MARKER, core, 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    int e = errno;
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(PW_OPENBLAS_MARKER);
    fprintf(stderr, "perfweave: warning: cannot run itself again to switch OpenBLAS from core %s "
            "to %s (%s): the OpenBLAS baseline stays on its weaker core, and the report says so\n",
            core, plan.core, strerror(e));
}

int main(int argc, char **argv)
{
    const command *cmd = NULL;
    for (size_t i = 0; argc >= 2 && i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) cmd = &commands[i];
    choose_openblas_core(argv, cmd && cmd->measures);
    char why[512];
    if (pw_cblas_check(why, sizeof why) != 0) {
        fprintf(stderr, "perfweave: %s\n", why);
        return PW_EXIT_INTERNAL;
    }
    /* This process forks every measuring child: oneDNN's OpenMP runtime may live only in them. */
    pw_onednn_forbid_here();
    /* ...and every child is pinned to one CPU, so OpenBLAS runs on one thread there.  The count
     * is fixed here, before any fork: changing it inside a forked child restarts OpenBLAS's
     * thread pool, whose spinning workers preempt the measurement (about 70 involuntary
     * switches per child, measured).  An experiment that widens its affinity
     * (acceleration.threads) raises it in its own child. */
    pw_matmul_set_threads(1);
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
    if (cmd) return cmd->fn(argc - 1, argv + 1);
    fprintf(stderr, "perfweave: unknown command '%s' (see perfweave --help)\n", argv[1]);
    return PW_EXIT_USAGE;
}
