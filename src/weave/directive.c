/* directive.c — experiment directives: the `key: value` body of a fenced ```experiment NAME```
 * block, validated against the registry's parameter schema (see weave.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/weave.h"

const char *const pw_directive_common_keys[] = {"id", "caption", "chart", "table", "claim",
                                                "counterclaim", "condition", "timeout", "memory",
                                                NULL};

void pw_diag_init(pw_diag *d)
{
    d->lines = NULL;
    d->n = d->cap = 0;
}

void pw_diag_release(pw_diag *d)
{
    for (size_t i = 0; i < d->n; i++) free(d->lines[i]);
    free(d->lines);
    pw_diag_init(d);
}

void pw_diag_add(pw_diag *d, const char *file, int line, const char *fmt, ...)
{
    pw_buf b;
    pw_buf_init(&b);
    if (line > 0) pw_buf_printf(&b, "%s:%d: ", file, line);
    else pw_buf_printf(&b, "%s: ", file);
    va_list ap;
    va_start(ap, fmt);
    pw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 8;
        d->lines = pw_xrealloc(d->lines, d->cap * sizeof *d->lines);
    }
    d->lines[d->n++] = pw_buf_detach(&b);
    pw_buf_release(&b);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
    return s;
}

static bool valid_key(const char *k)
{
    if (!(islower((unsigned char)*k) || *k == '_')) return false;
    for (; *k; k++)
        if (!(islower((unsigned char)*k) || isdigit((unsigned char)*k) || *k == '_')) return false;
    return true;
}

bool pw_label_valid(const char *s)
{
    if (!s || !(islower((unsigned char)*s) || isdigit((unsigned char)*s))) return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-')) return false;
    return true;
}

/* The kind a statement key names, or -1 for any other key. */
static int claim_kind(const char *key)
{
    if (strcmp(key, "claim") == 0) return PW_CLAIM_CLAIM;
    if (strcmp(key, "counterclaim") == 0) return PW_CLAIM_COUNTERCLAIM;
    if (strcmp(key, "condition") == 0) return PW_CLAIM_CONDITION;
    return -1;
}

static bool valid_id(const char *s)
{
    if (!isalnum((unsigned char)*s)) return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_')) return false;
    return true;
}

/* Splits "a" or "[a, b]" into words; returns false on a malformed list. */
static bool parse_names(const char *value, char ***out, size_t *n)
{
    char *copy = pw_xstrdup(value);
    char *s = trim(copy);
    size_t len = strlen(s);
    if (len && s[0] == '[') {
        if (s[len - 1] != ']') { free(copy); return false; }
        s[len - 1] = '\0';
        s++;
    }
    char *save = NULL;
    *out = NULL;
    *n = 0;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *t = trim(tok);
        if (!valid_id(t)) {
            for (size_t i = 0; i < *n; i++) free((*out)[i]);
            free(*out);
            *out = NULL;
            *n = 0;
            free(copy);
            return false;
        }
        *out = pw_xrealloc(*out, (*n + 1) * sizeof **out);
        (*out)[(*n)++] = pw_xstrdup(t);
    }
    free(copy);
    return *n > 0;
}

static bool parse_positive(const char *value, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *trim(end) != '\0' || !isfinite(v) || v <= 0 || v > max) return false;
    *out = v;
    return true;
}

/* Every key the directive may use: the common ones and the experiment's parameters. */
static const char **known_keys(const pw_experiment *e, size_t *n)
{
    size_t ncommon = 0;
    while (pw_directive_common_keys[ncommon]) ncommon++;
    size_t np = e ? e->nparams : 0;
    const char **keys = pw_xmalloc((ncommon + np) * sizeof *keys);
    for (size_t i = 0; i < ncommon; i++) keys[i] = pw_directive_common_keys[i];
    for (size_t i = 0; i < np; i++) keys[ncommon + i] = e->params[i].name;
    *n = ncommon + np;
    return keys;
}

static pw_directive *directive_new(const char *file, int line, const char *name, int index)
{
    pw_directive *d = pw_xcalloc(1, sizeof *d);
    d->file = file;
    d->line = line;
    d->experiment_name = pw_xstrdup(name);
    d->experiment = pw_registry_find(name);
    d->given = json_object();
    /* Derived id: the experiment name with dots as dashes, numbered within the chapter. */
    pw_buf id;
    pw_buf_init(&id);
    for (const char *s = name; *s; s++) pw_buf_putc(&id, *s == '.' ? '-' : *s);
    pw_buf_printf(&id, "-%d", index);
    d->id = pw_buf_detach(&id);
    pw_buf_release(&id);
    return d;
}

/* A `claim`, `counterclaim` or `condition` line: the statement, its kind and its label (NULL
 * when none was written).  Conditions go to their own list: they are decided apart. */
static void add_claim(pw_directive *d, pw_claim_kind kind, const char *label, const char *value,
                      int line, pw_diag *diag)
{
    const char *word = pw_claim_kind_name(kind);
    if (label && !pw_label_valid(label)) {
        pw_diag_add(diag, d->file, line, "label '%s' must be lowercase letters, digits and '-', "
                    "starting with a letter or digit", label);
        return;
    }
    if (kind == PW_CLAIM_CONDITION && !label) {
        pw_diag_add(diag, d->file, line, "a condition needs a label for prose to refer to "
                    "(condition LABEL: EXPR)");
        return;
    }
    pw_claim c;
    char msg[256];
    if (pw_claim_parse(value, &c, msg, sizeof msg) != PW_OK) {
        /* The parser's messages start with "claim: "; say which statement it was. */
        const char *rest = strncmp(msg, "claim: ", 7) == 0 ? msg + 7 : msg;
        pw_diag_add(diag, d->file, line, "%s: %s", word, rest);
        return;
    }
    c.kind = kind;
    c.label = label ? pw_xstrdup(label) : NULL;
    bool cond = kind == PW_CLAIM_CONDITION;
    pw_claim **list = cond ? &d->conditions : &d->claims;
    int **lines = cond ? &d->condition_lines : &d->claim_lines;
    size_t *n = cond ? &d->nconditions : &d->nclaims;
    *list = pw_xrealloc(*list, (*n + 1) * sizeof **list);
    *lines = pw_xrealloc(*lines, (*n + 1) * sizeof **lines);
    (*list)[*n] = c;
    (*lines)[(*n)++] = line;
}

/* Applies one `key: value` to d (label: the word after a statement key, or NULL); reports
 * problems at file:line. */
static void apply_key(pw_directive *d, const char *key, const char *label, const char *value,
                      int line, bool *seen_id, pw_diag *diag)
{
    const char *file = d->file;
    if (strcmp(key, "id") == 0) {
        if (!valid_id(value)) {
            pw_diag_add(diag, file, line, "id '%s' must be letters, digits, '-' and '_' (no dots: "
                        "inline references split on them)", value);
            return;
        }
        free(d->id);
        d->id = pw_xstrdup(value);
        *seen_id = true;
    } else if (strcmp(key, "caption") == 0) {
        free(d->caption);
        d->caption = pw_xstrdup(value);
    } else if (strcmp(key, "chart") == 0 || strcmp(key, "table") == 0) {
        bool chart = key[0] == 'c';
        char **names;
        size_t n;
        if (!parse_names(value, &names, &n)) {
            pw_diag_add(diag, file, line, "'%s' expects a name or a [list, of, names], not '%s'", key, value);
            return;
        }
        if (chart) { d->charts = names; d->ncharts = n; }
        else { d->tables = names; d->ntables = n; }
    } else if (claim_kind(key) >= 0) {
        add_claim(d, (pw_claim_kind)claim_kind(key), label, value, line, diag);
    } else if (strcmp(key, "timeout") == 0) {
        if (!parse_positive(value, 86400, &d->timeout_s))
            pw_diag_add(diag, file, line, "'timeout' expects seconds in (0, 86400], not '%s'", value);
    } else if (strcmp(key, "memory") == 0) {
        if (!parse_positive(value, 1 << 20, &d->memory_mb))
            pw_diag_add(diag, file, line, "'memory' expects megabytes in (0, 1048576], not '%s'", value);
    } else if (d->experiment) {
        const pw_param_spec *spec = pw_experiment_param(d->experiment, key);
        if (!spec) {
            size_t n;
            const char **keys = known_keys(d->experiment, &n);
            const char *hint = pw_suggest(key, keys, n);
            if (hint)
                pw_diag_add(diag, file, line, "unknown key '%s' for %s (did you mean '%s'?)", key,
                            d->experiment->name, hint);
            else
                pw_diag_add(diag, file, line, "unknown key '%s' for %s (see perfweave list)", key,
                            d->experiment->name);
            free(keys);
            return;
        }
        json_t *v = NULL;
        char msg[256];
        if (pw_param_parse(spec, value, &v, msg, sizeof msg) != PW_OK) {
            pw_diag_add(diag, file, line, "%s", msg);
            return;
        }
        json_object_set_new(d->given, key, v);
    }
}

static void finish(pw_directive *d)
{
    if (d->experiment) d->params = pw_experiment_params(d->experiment, d->given);
}

pw_directive *pw_directive_parse(const char *file, int line, const char *name, const char *body,
                                 int index, pw_diag *diag)
{
    pw_directive *d = directive_new(file, line, name, index);
    if (!d->experiment) {
        size_t n;
        const pw_experiment *const *all = pw_registry_all(&n);
        const char **names = pw_xmalloc(n * sizeof *names);
        for (size_t i = 0; i < n; i++) names[i] = all[i]->name;
        const char *hint = pw_suggest(name, names, n);
        if (!*name)
            pw_diag_add(diag, file, line, "experiment block without an experiment name "
                        "(write ```experiment NAME; see perfweave list)");
        else if (hint)
            pw_diag_add(diag, file, line, "unknown experiment '%s' (did you mean '%s'?)", name, hint);
        else
            pw_diag_add(diag, file, line, "unknown experiment '%s' (see perfweave list)", name);
        free(names);
    }
    char *copy = pw_xstrdup(body);
    char *save = NULL;
    int lineno = line;
    bool seen_id = false;
    json_t *seen = json_object();
    /* strtok_r would skip empty lines and lose the count, so split by hand. */
    for (char *s = copy; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        lineno++;
        char *t = trim(s);
        s = nl ? nl + 1 : NULL;
        if (!*t || *t == '#') continue;
        char *colon = strchr(t, ':');
        if (!colon) {
            pw_diag_add(diag, file, lineno, "expected 'key: value', got '%s'", t);
            continue;
        }
        *colon = '\0';
        char *key = trim(t), *value = trim(colon + 1);
        /* `claim LABEL`, `counterclaim LABEL`, `condition LABEL`: a word, then the label. */
        char *label = NULL, *space = strpbrk(key, " \t");
        if (space) {
            *space = '\0';
            label = trim(space + 1);
            if (claim_kind(key) < 0) {
                static const char *const words[] = {"claim", "counterclaim", "condition"};
                const char *hint = pw_suggest(key, words, 3);
                pw_diag_add(diag, file, lineno, "malformed key '%s %s' (only claim, counterclaim and "
                            "condition take a label%s%s%s)", key, label, hint ? "; did you mean '" : "",
                            hint ? hint : "", hint ? "'?" : "");
                continue;
            }
        }
        if (!valid_key(key)) {
            pw_diag_add(diag, file, lineno, "malformed key '%s' (lowercase letters, digits, '_')", key);
            continue;
        }
        if (claim_kind(key) < 0) {
            if (json_object_get(seen, key)) {
                pw_diag_add(diag, file, lineno, "key '%s' given twice (first on line %d)", key,
                            (int)json_integer_value(json_object_get(seen, key)));
                continue;
            }
            json_object_set_new(seen, key, json_integer(lineno));
        }
        if (!*value) {
            pw_diag_add(diag, file, lineno, "key '%s' has no value", key);
            continue;
        }
        apply_key(d, key, label, value, lineno, &seen_id, diag);
    }
    (void)save;
    json_decref(seen);
    free(copy);
    finish(d);
    return d;
}

pw_directive *pw_directive_from_args(const pw_experiment *e, char **args, int nargs, pw_diag *diag)
{
    pw_directive *d = directive_new("<command line>", 0, e->name, 1);
    bool seen_id = false;
    for (int i = 0; i < nargs; i++) {
        char *eq = strchr(args[i], '=');
        if (!eq) {
            pw_diag_add(diag, "<command line>", 0, "expected key=value, got '%s'", args[i]);
            continue;
        }
        char *key = pw_xstrndup(args[i], (size_t)(eq - args[i]));
        if (!valid_key(key))
            pw_diag_add(diag, "<command line>", 0, "malformed key '%s'", key);
        else
            apply_key(d, key, NULL, eq + 1, 0, &seen_id, diag);
        free(key);
    }
    finish(d);
    return d;
}

char *pw_directive_canonical(const pw_directive *d)
{
    json_t *doc = json_pack("{s:s, s:O}", "experiment", d->experiment_name, "params",
                            d->params ? d->params : d->given);
    char *s = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(doc);
    return s;
}

void pw_directive_free(pw_directive *d)
{
    if (!d) return;
    free(d->experiment_name);
    free(d->id);
    free(d->caption);
    for (size_t i = 0; i < d->ncharts; i++) free(d->charts[i]);
    for (size_t i = 0; i < d->ntables; i++) free(d->tables[i]);
    free(d->charts);
    free(d->tables);
    for (size_t i = 0; i < d->nclaims; i++) pw_claim_release(&d->claims[i]);
    free(d->claims);
    free(d->claim_lines);
    for (size_t i = 0; i < d->nconditions; i++) pw_claim_release(&d->conditions[i]);
    free(d->conditions);
    free(d->condition_lines);
    json_decref(d->condition_verdicts);
    json_decref(d->given);
    json_decref(d->params);
    pw_result_free(d->result);
    json_decref(d->verdicts);
    free(d);
}
