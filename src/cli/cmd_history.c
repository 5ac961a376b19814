/* cmd_history.c — `perfweave history [--json] [--root DIR]`: the archived runs, oldest first,
 * with their host, commit, number of results and claim verdict counts. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/store.h"

#define DEFAULT_ROOT "validation_results"

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "perfweave history: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: perfweave history [--json] [--root DIR]\n");
    return PW_EXIT_USAGE;
}

static long long count(const json_t *v, const char *key)
{
    return (long long)json_integer_value(json_object_get(json_object_get(v, "verdicts"), key));
}

int pw_cmd_history(int argc, char **argv)
{
    int json = 0;
    const char *root = DEFAULT_ROOT;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--root") == 0) {
            if (++i >= argc) return usage_error("%s needs a directory", "--root");
            root = argv[i];
        } else if (strncmp(argv[i], "--root=", 7) == 0) root = argv[i] + 7;
        else return usage_error("unknown argument '%s'", argv[i]);
    }
    json_t *runs;
    int status = pw_archive_list(root, &runs);
    if (status != PW_OK) {
        fprintf(stderr, "perfweave history: cannot read %s: %s\n", root, pw_strerror(status));
        return PW_EXIT_USAGE;
    }
    if (json) {
        json_dumpf(runs, stdout, JSON_INDENT(2));
        putchar('\n');
    } else if (json_array_size(runs) == 0) {
        printf("no archived runs in %s\n", root);
    } else {
        printf("%-34s %-16s %-14s %7s %5s %7s %5s %9s %5s\n", "RUN", "HOST", "COMMIT", "RESULTS",
               "PASS", "PARTIAL", "FAIL", "UNDECIDED", "ERROR");
        size_t i;
        json_t *r;
        json_array_foreach(runs, i, r) {
            const char *name = json_string_value(json_object_get(r, "run"));
            const char *err = json_string_value(json_object_get(r, "error"));
            if (err) {
                printf("%-34s unreadable: %s\n", name, err);
                continue;
            }
            printf("%-34s %-16s %-14s %7lld %5lld %7lld %5lld %9lld %5lld\n", name,
                   json_string_value(json_object_get(r, "host")),
                   json_string_value(json_object_get(r, "commit")),
                   (long long)json_integer_value(json_object_get(r, "results")), count(r, "PASS"),
                   count(r, "PARTIAL"), count(r, "FAIL"), count(r, "UNDECIDED"), count(r, "ERROR"));
        }
    }
    json_decref(runs);
    return PW_EXIT_OK;
}
