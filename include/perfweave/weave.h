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
/* Keys every directive accepts in addition to its experiment's parameters.  `claim`,
 * `counterclaim` and `condition` may repeat and take a label between the word and the colon
 * (`claim packed-small: EXPR`); a condition must have one. */
extern const char *const pw_directive_common_keys[];

/* True when s is a well-formed label: [a-z0-9][a-z0-9-]* (labels are report-wide, so a
 * passage in any chapter may refer to a claim of another). */
bool pw_label_valid(const char *s);

typedef struct {
    const char *file;              /* borrowed from the chapter */
    int line;                      /* line of the opening fence */
    char *experiment_name;
    const pw_experiment *experiment;  /* NULL when unknown (an error was reported) */
    char *id;                      /* given or derived ("<experiment>-<n>") */
    char *caption;                 /* may be NULL */
    char **charts, **tables;       /* names to show; NULL = all */
    size_t ncharts, ntables;
    pw_claim *claims;              /* claims and counterclaims, in the order written */
    int *claim_lines;
    size_t nclaims;
    pw_claim *conditions;          /* conditions (kind PW_CLAIM_CONDITION, always labelled) */
    int *condition_lines;
    size_t nconditions;
    json_t *given;                 /* parameters written in the directive */
    json_t *params;                /* every parameter, defaults filled in */
    double timeout_s;              /* 0 = default */
    double memory_mb;              /* 0 = default */
    cmark_node *node;              /* the code block, owned by the chapter's document */
    /* filled by the report: */
    pw_result *result;
    json_t *verdicts;              /* one verdict object per claim (pw_claims_evaluate), or NULL */
    json_t *condition_verdicts;    /* one per condition, each decided on its own, or NULL */
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

/* Conditional text: prose chosen by the verdict of a labelled claim, counterclaim or condition
 * (claims.h), so that a passage and the badge beside it read one decision.
 *
 * Block form, a fenced code block whose info string is `when LABEL`; its body is passages,
 * each introduced by a line that is exactly one of the passage keywords and a colon:
 *
 *     ````when packed-small
 *     holds:
 *     Markdown shown when the claim holds (PASS), with `=id.metric` references.
 *     fails:
 *     … when it fails (FAIL).
 *     otherwise:
 *     … for any verdict without its own passage.
 *     ````
 *
 * PASS → holds, FAIL → fails, PARTIAL → partial (else undecided), UNDECIDED → undecided,
 * ERROR → error; a verdict whose passage is absent takes otherwise, and with no otherwise
 * the block shows nothing (an empty passage says nothing on purpose).  Each passage is parsed
 * as a Markdown document of its own; it may not hold fenced blocks perfweave interprets
 * (experiment, when, summary, assessment, history, matrix).
 *
 * Inline form, a code span `?LABEL|if it holds|if it fails|if undecided` (plain text, exactly
 * three alternatives, each may be empty): PASS → the first, FAIL → the second, PARTIAL and
 * UNDECIDED → the third, ERROR → a visible "[not measured]". */
typedef enum {
    PW_PASSAGE_HOLDS, PW_PASSAGE_FAILS, PW_PASSAGE_PARTIAL, PW_PASSAGE_UNDECIDED,
    PW_PASSAGE_ERROR, PW_PASSAGE_OTHERWISE, PW_PASSAGE_NONE
} pw_passage;

/* "holds", "fails", "partial", "undecided", "error", "otherwise" (PW_PASSAGE_NONE entries). */
extern const char *const pw_passage_names[];

typedef struct {
    cmark_node *node;      /* the code block or code span, in the chapter's document or in a
                              passage of another block; NULL once the choice replaced it */
    int line;              /* chapter line of the fence or the span */
    char *label;
    bool is_inline;
    /* block form: each passage as a parsed document (NULL when absent), owned, and the chapter
     * line of its first text line */
    cmark_node *passage[PW_PASSAGE_NONE];
    int passage_line[PW_PASSAGE_NONE];
    /* inline form: the texts for holds, fails, undecided */
    char *alt[3];
} pw_when;

/* Parses a `when` block: info is its whole info string, literal its body, line the line of its
 * opening fence.  Errors (no or malformed label, text before the first keyword, an unknown
 * keyword with a suggestion, a passage given twice, no passage) go to diag at the line of the
 * offending text.  Fills *out (release with pw_when_release; node is left NULL) and returns
 * true when it could be parsed. */
bool pw_when_parse_block(const char *file, int line, const char *info, const char *literal,
                         pw_when *out, pw_diag *diag);
/* Parses an inline `?LABEL|…|…|…` code span's literal (the same contract). */
bool pw_when_parse_inline(const char *file, int line, const char *literal, pw_when *out, pw_diag *diag);
void pw_when_release(pw_when *w);

/* The passage verdict v selects among those the block has (PW_PASSAGE_NONE: show nothing). */
pw_passage pw_when_choose(const pw_when *w, pw_verdict v);
/* The text verdict v selects in an inline form, or NULL for ERROR (borrowed). */
const char *pw_when_choose_inline(const pw_when *w, pw_verdict v);

typedef struct {
    char *path;
    char *text;
    cmark_node *doc;
    char *title;         /* text of the first heading, or the file name */
    char *anchor;        /* HTML id of the chapter */
    pw_directive **directives;
    size_t ndirectives;
    pw_ref *refs;          /* every reference, those inside passages included */
    size_t nrefs;
    pw_when *whens;        /* conditional text, blocks and inline, passages' included */
    size_t nwhens;
} pw_chapter;

/* Reads and parses one chapter; directive, reference and conditional-text errors go to diag.
 * Returns NULL (and a diagnostic) only when the file cannot be read.  chapter_number makes the
 * anchor. */
pw_chapter *pw_chapter_load(const char *path, int chapter_number, pw_diag *diag);
/* Takes the title again from the first heading (after conditional text in it was chosen). */
void pw_chapter_retitle(pw_chapter *c);
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
