/* commands.h — the subcommands of the perfweave program.  Each takes the arguments after its
 * own name (argv[0] is the subcommand name) and returns the process exit status:
 * 0 success, 1 bad usage or input, 2 an experiment ERROR or a detected regression, 3 internal. */
#ifndef PERFWEAVE_CLI_COMMANDS_H
#define PERFWEAVE_CLI_COMMANDS_H

#include "perfweave/weave.h"

enum { PW_EXIT_OK = 0, PW_EXIT_USAGE = 1, PW_EXIT_ERROR = 2, PW_EXIT_INTERNAL = 3 };

int pw_cmd_list(int argc, char **argv);
int pw_cmd_report(int argc, char **argv);
int pw_cmd_run(int argc, char **argv);
int pw_cmd_stats(int argc, char **argv);
int pw_cmd_compare(int argc, char **argv);
int pw_cmd_history(int argc, char **argv);
int pw_cmd_diff(int argc, char **argv);
int pw_cmd_archive(int argc, char **argv);
int pw_cmd_slurm(int argc, char **argv);
int pw_cmd_run_job(int argc, char **argv);
int pw_cmd_preview(int argc, char **argv);

/* Writes every diagnostic a library call collected to stderr, one per line (diag.c). */
void pw_cli_print_diag(const pw_diag *d);

#endif
