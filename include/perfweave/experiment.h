/* experiment.h — the experiment registry: each experiment's name, parameter schema, metric
 * names and run function, and the run context an experiment reads its parameters from.
 *
 * An experiment lives in src/experiments/<module>.c, exports one `const pw_experiment`, and is
 * listed in src/experiments/registry.c.  Its run function executes in a child process (see
 * isolate.h); it reads validated parameters from the pw_run, measures, and publishes into
 * pw_run_result().  It returns PW_OK, or an error status after calling pw_result_error(). */
#ifndef PERFWEAVE_EXPERIMENT_H
#define PERFWEAVE_EXPERIMENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "perfweave/result.h"

typedef enum {
    PW_PARAM_INT,          /* a whole number within [min, max] */
    PW_PARAM_REAL,         /* a finite number within [min, max] */
    PW_PARAM_BOOL,         /* true/false, yes/no, on/off */
    PW_PARAM_STRING,       /* a word; one of choices when choices is non-NULL */
    PW_PARAM_INT_LIST,     /* [a, b, …] of whole numbers, each within [min, max] */
    PW_PARAM_STRING_LIST   /* [a, b, …] of words, each one of choices when non-NULL */
} pw_param_type;

typedef struct {
    const char *name;
    pw_param_type type;
    const char *default_value;   /* in directive syntax ("[64, 128]", "8", "naive"); required */
    double min, max;             /* numeric bounds (inclusive) for INT, REAL and INT_LIST */
    const char *const *choices;  /* NULL-terminated allowed words, or NULL for any word */
    const char *help;            /* one line for `perfweave list` */
} pw_param_spec;

typedef struct pw_run pw_run;

typedef struct {
    const char *name;               /* "acceleration.matmul" */
    const char *summary;            /* one line */
    const pw_param_spec *params;    /* nparams entries */
    size_t nparams;
    const char *const *metrics;     /* NULL-terminated metric name patterns, for documentation */
    int (*run)(pw_run *run);
    const char *const *sources; /* NULL-terminated extra source files (kernels) the experiment's results depend on, for the cache key */
} pw_experiment;

/* --- registry ------------------------------------------------------------------------------- */
/* All registered experiments, sorted by name; *n receives the count.  Static storage. */
const pw_experiment *const *pw_registry_all(size_t *n);
/* The experiment named name, or NULL. */
const pw_experiment *pw_registry_find(const char *name);
/* A parameter spec of e by name, or NULL. */
const pw_param_spec *pw_experiment_param(const pw_experiment *e, const char *name);

/* Parses text (directive syntax) as a value of spec's type and checks its bounds and choices.
 * On success stores a new JSON value in *out (caller owns the reference) and returns PW_OK; on
 * failure returns PW_EINVAL and writes a lowercase message (no file:line) into msg. */
int pw_param_parse(const pw_param_spec *spec, const char *text, json_t **out,
                   char *msg, size_t msgsize);

/* Builds the complete parameter object for e: every spec's default, overridden by the values in
 * given (already parsed by pw_param_parse).  Returns a new reference. */
json_t *pw_experiment_params(const pw_experiment *e, const json_t *given);

/* --- run context (inside the experiment) ---------------------------------------------------- */
/* A run context over validated parameters (borrowed reference kept) and a result to fill.
 * quick selects the reduced sizes/budgets of `--quick`.  The caller frees the run; the result
 * stays owned by the caller. */
pw_run *pw_run_new(const pw_experiment *e, json_t *params, pw_result *result, bool quick);
void pw_run_free(pw_run *run);

pw_result *pw_run_result(pw_run *run);
const pw_experiment *pw_run_experiment(const pw_run *run);
bool pw_run_quick(const pw_run *run);
const json_t *pw_run_params(const pw_run *run);

/* Parameter accessors.  The name must be one of the experiment's parameters of that type (a
 * mismatch is a programming error and aborts with a message). */
long pw_run_int(const pw_run *run, const char *name);
double pw_run_real(const pw_run *run, const char *name);
bool pw_run_bool(const pw_run *run, const char *name);
const char *pw_run_string(const pw_run *run, const char *name);          /* borrowed */
/* Copies up to max list elements into out and returns the list's length. */
size_t pw_run_ints(const pw_run *run, const char *name, long *out, size_t max);
size_t pw_run_strings(const pw_run *run, const char *name, const char **out, size_t max);
/* True when the string list name contains word. */
bool pw_run_has(const pw_run *run, const char *name, const char *word);

#endif
