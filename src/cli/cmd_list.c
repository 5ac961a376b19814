/* cmd_list.c — `perfweave list [--json]`: every experiment with its parameters and metrics. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "perfweave/experiment.h"

static const char *type_name(pw_param_type t)
{
    switch (t) {
    case PW_PARAM_INT: return "int";
    case PW_PARAM_REAL: return "real";
    case PW_PARAM_BOOL: return "bool";
    case PW_PARAM_STRING: return "word";
    case PW_PARAM_INT_LIST: return "[int]";
    case PW_PARAM_STRING_LIST: return "[word]";
    }
    return "?";
}

int pw_cmd_list(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else {
            fprintf(stderr, "perfweave list: unknown option '%s'\nusage: perfweave list [--json]\n", argv[i]);
            return PW_EXIT_USAGE;
        }
    }
    size_t n;
    const pw_experiment *const *all = pw_registry_all(&n);
    json_t *doc = json_array();
    for (size_t i = 0; i < n; i++) {
        const pw_experiment *e = all[i];
        json_t *params = json_array(), *metrics = json_array();
        if (!json) printf("%s — %s\n", e->name, e->summary);
        for (size_t k = 0; k < e->nparams; k++) {
            const pw_param_spec *p = &e->params[k];
            json_t *choices = json_array();
            for (const char *const *c = p->choices; c && *c; c++) json_array_append_new(choices, json_string(*c));
            json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", p->name,
                                                    "type", type_name(p->type), "default", p->default_value,
                                                    "help", p->help, "choices", choices));
            if (!json) printf("    %-12s %-7s default %-24s %s\n", p->name, type_name(p->type),
                              p->default_value, p->help);
        }
        for (const char *const *m = e->metrics; m && *m; m++) {
            json_array_append_new(metrics, json_string(*m));
            if (!json) printf("    metric %s\n", *m);
        }
        json_array_append_new(doc, json_pack("{s:s, s:s, s:o, s:o}", "name", e->name, "summary",
                                             e->summary, "params", params, "metrics", metrics));
    }
    if (json) {
        json_dumpf(doc, stdout, JSON_INDENT(2));
        putchar('\n');
    }
    json_decref(doc);
    return PW_EXIT_OK;
}
