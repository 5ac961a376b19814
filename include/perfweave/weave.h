/* weave.h — chapters, directives and inline references: loading Markdown with libcmark,
 * parsing and validating experiment directives against the registry, formatting measured
 * values, and the diagnostics that point back at chapter lines. */
#ifndef PERFWEAVE_WEAVE_H
#define PERFWEAVE_WEAVE_H

#include <cmark.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "perfweave/claims.h"
#include "perfweave/common.h"
#include "perfweave/experiment.h"
#include "perfweave/result.h"

/* --- diagnostics ---------------------------------------------------------------------------- */
/* A list of `file:line: message` diagnostics, collected so that one run shows every error; the
 * command line prints them (the library never does). */
typedef struct {
    char **lines;
    size_t n, cap;
} pw_diag;

void pw_diag_init(pw_diag *d);
void pw_diag_release(pw_diag *d);
/* Records "file:line: message" (line 0 → "file: message"). */
void pw_diag_add(pw_diag *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* --- directives ----------------------------------------------------------------------------- */
/* Keys every directive accepts in addition to its experiment's parameters. */
extern const char *const pw_directive_common_keys[];

typedef struct {
    const char *file;              /* borrowed from the chapter */
    int line;                      /* line of the opening fence */
    char *experiment_name;
    const pw_experiment *experiment;  /* NULL when unknown (an error was reported) */
    char *id;                      /* given or derived ("<experiment>-<n>") */
    char *caption;                 /* may be NULL */
    char **charts, **tables;       /* names to show; NULL = all */
    size_t ncharts, ntables;
    pw_claim *claims;
    int *claim_lines;
    size_t nclaims;
    json_t *given;                 /* parameters written in the directive */
    json_t *params;                /* every parameter, defaults filled in */
    double timeout_s;              /* 0 = default */
    double memory_mb;              /* 0 = default */
    cmark_node *node;              /* the code block, owned by the chapter's document */
    /* filled by the report: */
    pw_result *result;
    json_t *verdicts;              /* array from pw_claims_evaluate, or NULL */
} pw_directive;

/* Parses a directive body ("key: value" lines) for experiment name at file:line.  Errors
 * (unknown experiment or key with suggestions, malformed or out-of-range values, malformed
 * claims, duplicate keys) go to diag with the line of the offending body line.  Returns a new
 * directive (caller frees with pw_directive_free) or NULL when it could not be parsed at all. */
pw_directive *pw_directive_parse(const char *file, int line, const char *name, const char *body,
                                 int index, pw_diag *diag);
void pw_directive_free(pw_directive *d);

/* Parses "key=value" command-line assignments for experiment e (the `run` command) into a new
 * directive; errors go to diag with file "<command line>". */
pw_directive *pw_directive_from_args(const pw_experiment *e, char **args, int nargs, pw_diag *diag);

/* The canonical text of what a directive measures (experiment name and every parameter, keys
 * sorted): equal texts measure the same thing.  Caller frees. */
char *pw_directive_canonical(const pw_directive *d);

/* --- chapters ------------------------------------------------------------------------------- */
typedef struct {
    cmark_node *node;   /* the code span, owned by the chapter's document */
    int line;
    char *id;           /* result id */
    char *metric;       /* metric name */
} pw_ref;

typedef struct {
    char *path;
    char *text;
    cmark_node *doc;
    char *title;         /* text of the first heading, or the file name */
    char *anchor;        /* HTML id of the chapter */
    pw_directive **directives;
    size_t ndirectives;
    pw_ref *refs;
    size_t nrefs;
} pw_chapter;

/* Reads and parses one chapter; directive and reference errors go to diag.  Returns NULL (and a
 * diagnostic) only when the file cannot be read.  first_index numbers derived ids. */
pw_chapter *pw_chapter_load(const char *path, int chapter_number, pw_diag *diag);
void pw_chapter_free(pw_chapter *c);

/* --- formatting ----------------------------------------------------------------------------- */
/* Formats a number with sig significant digits, without exponent for ordinary magnitudes. */
void pw_format_number(pw_buf *b, double v, int sig);
/* "212× (95% CI 205–219×)", "80.1 GFLOP/s (95% CI 79.5–80.6)", "1,048,576 B" for exact values.
 * Plain UTF-8 text; escape it for the output format. */
void pw_format_metric(pw_buf *b, const pw_metric *m);
/* Value with unit only ("212×"), and the interval alone ("205–219"). */
void pw_format_value(pw_buf *b, const pw_metric *m);
void pw_format_interval(pw_buf *b, const pw_metric *m);

#endif
