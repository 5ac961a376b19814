/* experiment.c — parameter parsing against an experiment's schema, and the run context that
 * gives an experiment its validated parameters (see experiment.h). */
#include "perfweave/experiment.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"

struct pw_run {
    const pw_experiment *experiment;
    json_t *params;
    pw_result *result;
    bool quick;
};

const pw_param_spec *pw_experiment_param(const pw_experiment *e, const char *name)
{
    for (size_t i = 0; i < e->nparams; i++)
        if (strcmp(e->params[i].name, name) == 0) return &e->params[i];
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
    return s;
}

static bool is_word(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.')) return false;
    return true;
}

/* Parses one scalar element of spec's element type into *out. */
static int parse_scalar(const pw_param_spec *spec, pw_param_type type, const char *text,
                        json_t **out, char *msg, size_t msgsize)
{
    const char *name = spec->name;
    if (type == PW_PARAM_INT || type == PW_PARAM_REAL) {
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v)) {
            snprintf(msg, msgsize, "'%s' expects a number, not '%s'", name, text);
            return PW_EINVAL;
        }
        if (type == PW_PARAM_INT && v != floor(v)) {
            snprintf(msg, msgsize, "'%s' expects a whole number, not '%s'", name, text);
            return PW_EINVAL;
        }
        if (v < spec->min || v > spec->max) {
            snprintf(msg, msgsize, "'%s' value %s is out of range [%g, %g]", name, text,
                     spec->min, spec->max);
            return PW_ERANGE;
        }
        *out = type == PW_PARAM_INT ? json_integer((json_int_t)v) : json_real(v);
        return PW_OK;
    }
    if (type == PW_PARAM_BOOL) {
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
        for (size_t i = 0; i < 4; i++) {
            if (strcmp(text, yes[i]) == 0) { *out = json_true(); return PW_OK; }
            if (strcmp(text, no[i]) == 0) { *out = json_false(); return PW_OK; }
        }
        snprintf(msg, msgsize, "'%s' expects true or false, not '%s'", name, text);
        return PW_EINVAL;
    }
    /* a word */
    if (!is_word(text)) {
        snprintf(msg, msgsize, "'%s' expects a word (letters, digits, '_', '-', '.'), not '%s'",
                 name, text);
        return PW_EINVAL;
    }
    if (spec->choices) {
        size_t n = 0;
        while (spec->choices[n]) n++;
        for (size_t i = 0; i < n; i++)
            if (strcmp(spec->choices[i], text) == 0) {
                *out = json_string(text);
                return PW_OK;
            }
        const char *hint = pw_suggest(text, spec->choices, n);
        pw_buf all;
        pw_buf_init(&all);
        for (size_t i = 0; i < n; i++) pw_buf_printf(&all, "%s%s", i ? ", " : "", spec->choices[i]);
        if (hint)
            snprintf(msg, msgsize, "'%s' has no choice '%s' (did you mean '%s'?)", name, text, hint);
        else
            snprintf(msg, msgsize, "'%s' has no choice '%s' (choose from %s)", name, text, all.data);
        pw_buf_release(&all);
        return PW_EINVAL;
    }
    *out = json_string(text);
    return PW_OK;
}

int pw_param_parse(const pw_param_spec *spec, const char *text, json_t **out, char *msg,
                   size_t msgsize)
{
    char *copy = pw_xstrdup(text);
    char *s = trim(copy);
    int status = PW_OK;
    bool is_list = spec->type == PW_PARAM_INT_LIST || spec->type == PW_PARAM_STRING_LIST;
    if (!is_list) {
        if (*s == '[') {
            snprintf(msg, msgsize, "'%s' expects a single value, not a list", spec->name);
            status = PW_EINVAL;
        } else if (!*s) {
            snprintf(msg, msgsize, "'%s' has no value", spec->name);
            status = PW_EINVAL;
        } else {
            status = parse_scalar(spec, spec->type, s, out, msg, msgsize);
        }
        free(copy);
        return status;
    }
    pw_param_type elem = spec->type == PW_PARAM_INT_LIST ? PW_PARAM_INT : PW_PARAM_STRING;
    size_t len = strlen(s);
    /* A bare scalar is accepted as a one-element list ("sizes: 256" or "sizes=256,512"). */
    if (len >= 1 && s[0] == '[') {
        if (s[len - 1] != ']') {
            snprintf(msg, msgsize, "'%s' list is missing its closing ']'", spec->name);
            free(copy);
            return PW_EINVAL;
        }
        s[len - 1] = '\0';
        s++;
    }
    json_t *arr = json_array();
    char *save = NULL;
    s = trim(s);
    if (!*s) {
        snprintf(msg, msgsize, "'%s' list is empty", spec->name);
        status = PW_EINVAL;
    }
    for (char *tok = *s ? strtok_r(s, ",", &save) : NULL; tok && status == PW_OK;
         tok = strtok_r(NULL, ",", &save)) {
        char *t = trim(tok);
        json_t *v = NULL;
        if (!*t) {
            snprintf(msg, msgsize, "'%s' list has an empty element", spec->name);
            status = PW_EINVAL;
            break;
        }
        status = parse_scalar(spec, elem, t, &v, msg, msgsize);
        if (status == PW_OK) json_array_append_new(arr, v);
    }
    if (status == PW_OK) *out = arr;
    else json_decref(arr);
    free(copy);
    return status;
}

json_t *pw_experiment_params(const pw_experiment *e, const json_t *given)
{
    json_t *params = json_object();
    for (size_t i = 0; i < e->nparams; i++) {
        const pw_param_spec *spec = &e->params[i];
        json_t *v = given ? json_object_get(given, spec->name) : NULL;
        if (v) {
            json_object_set(params, spec->name, v);
            continue;
        }
        char msg[256];
        if (pw_param_parse(spec, spec->default_value, &v, msg, sizeof msg) != PW_OK) {
            fprintf(stderr, "perfweave: internal error: default of %s.%s: %s\n", e->name,
                    spec->name, msg);
            abort();
        }
        json_object_set_new(params, spec->name, v);
    }
    return params;
}

pw_run *pw_run_new(const pw_experiment *e, json_t *params, pw_result *result, bool quick)
{
    pw_run *run = pw_xcalloc(1, sizeof *run);
    run->experiment = e;
    run->params = json_incref(params);
    run->result = result;
    run->quick = quick;
    return run;
}

void pw_run_free(pw_run *run)
{
    if (!run) return;
    json_decref(run->params);
    free(run);
}

pw_result *pw_run_result(pw_run *run) { return run->result; }
const pw_experiment *pw_run_experiment(const pw_run *run) { return run->experiment; }
bool pw_run_quick(const pw_run *run) { return run->quick; }
const json_t *pw_run_params(const pw_run *run) { return run->params; }

static json_t *param(const pw_run *run, const char *name, pw_param_type type)
{
    const pw_param_spec *spec = pw_experiment_param(run->experiment, name);
    json_t *v = json_object_get(run->params, name);
    if (!spec || spec->type != type || !v) {
        fprintf(stderr, "perfweave: internal error: experiment %s reads parameter '%s' of the "
                "wrong type or not in its schema\n", run->experiment->name, name);
        abort();
    }
    return v;
}

long pw_run_int(const pw_run *run, const char *name)
{
    return (long)json_integer_value(param(run, name, PW_PARAM_INT));
}

double pw_run_real(const pw_run *run, const char *name)
{
    return json_number_value(param(run, name, PW_PARAM_REAL));
}

bool pw_run_bool(const pw_run *run, const char *name)
{
    return json_is_true(param(run, name, PW_PARAM_BOOL));
}

const char *pw_run_string(const pw_run *run, const char *name)
{
    return json_string_value(param(run, name, PW_PARAM_STRING));
}

size_t pw_run_ints(const pw_run *run, const char *name, long *out, size_t max)
{
    json_t *arr = param(run, name, PW_PARAM_INT_LIST);
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = (long)json_integer_value(json_array_get(arr, i));
    return n;
}

size_t pw_run_strings(const pw_run *run, const char *name, const char **out, size_t max)
{
    json_t *arr = param(run, name, PW_PARAM_STRING_LIST);
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n && i < max; i++) out[i] = json_string_value(json_array_get(arr, i));
    return n;
}

bool pw_run_has(const pw_run *run, const char *name, const char *word)
{
    json_t *arr = param(run, name, PW_PARAM_STRING_LIST);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (strcmp(json_string_value(v), word) == 0) return true;
    return false;
}
