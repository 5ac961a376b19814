/* render.h — what the report shows, decided once, and the interface every output format fills.
 *
 * The decisions shared by all formats live in src/weave/render.c: which charts and tables a
 * directive shows, the numbering of tables and figures, the run line of an experiment, the
 * evidence sentence of a claim, the statement as written with its kind, what each verdict means
 * for the optimization (its outcome, claims.h) and the counts of outcomes, the grouping of claims
 * by outcome into the summary and the assessment, what tells apart a statement written the same
 * in several experiments, the summary of an experiment's measurement quality, the baseline
 * warnings collected for the top of the report, and the rows of the environment section
 * (src/weave/render_env.c: the readable table and the raw record).  Each output format
 * is one file (src/weave/format_html.c, format_latex.c, format_text.c) that fills a pw_renderer:
 * it owns all of its markup and escapes every string it is given, where it uses it (STYLE habit
 * 9).  The shared walks below call a renderer's callbacks with plain UTF-8 text; the compose
 * stage (src/weave/compose.c) calls the walks and a renderer's page.  Adding a format is one new
 * file that defines its pw_renderer plus one line in the registry (pw_renderers, render.c) and
 * its declaration here. */
#ifndef PERFWEAVE_RENDER_H
#define PERFWEAVE_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "perfweave/claims.h"
#include "perfweave/common.h"
#include "perfweave/template.h"
#include "perfweave/weave.h"

/* Running numbers of tables and figures across the whole report (one per document). */
typedef struct {
    int table;
    int figure;
} pw_numbering;

/* The verdicts in the order every count is given: PASS, PARTIAL, FAIL, UNDECIDED, ERROR. */
extern const char *const pw_render_verdicts[5];

/* The kind of a verdict for styling: "pass", "partial", "fail", "undecided", or "error" (also for
 * NULL and anything unknown).  A static string. */
const char *pw_render_verdict_kind(const char *verdict);

/* The kind of an outcome for styling: "helped", "not-helped", "undecided", "unmeasured". */
const char *pw_render_outcome_kind(pw_outcome o);

/* The lists of claims a report shows. */
typedef enum {
    PW_CLAIMS_EXPERIMENT,  /* the claims of one experiment, in its box */
    PW_CLAIMS_SUMMARY,     /* the summary block: every claim, grouped by outcome */
    PW_CLAIMS_ASSESSMENT   /* one group of the assessment block (a heading, its claims) */
} pw_claim_list;

/* The lists of strings a result carries. */
typedef enum {
    PW_ITEMS_WARNINGS,   /* measurement-quality warnings (few; many are folded, pw_fold_kind) */
    PW_ITEMS_NOTES,      /* how the experiment measured */
    PW_ITEMS_BASELINE,   /* "baseline_warnings": handicapped libraries; they block claims */
    PW_ITEMS_DISTURBED   /* the result's disturbed sentence (result.h); it blocks every claim */
} pw_item_list;

/* What a folded block (a one-line summary, its details hidden until asked for) is about. */
typedef enum {
    PW_FOLD_PRECISION,   /* how well the timings were sampled: one line per experiment */
    PW_FOLD_WARNINGS     /* a result's warnings, when there are many of them */
} pw_fold_kind;

/* The two parts of the environment section. */
typedef enum {
    PW_ENV_SUMMARY,      /* the short table a student reads: CPU, ISA, cores, libraries, load … */
    PW_ENV_RAW           /* every field as recorded (nested keys dotted); a format may fold it,
                            or leave it out and say that results.json holds it */
} pw_env_part;

/* One claim (or counterclaim) as a list shows it; every pointer is borrowed for the call. */
typedef struct {
    const pw_chapter *chapter;      /* its chapter; NULL in an experiment's own list */
    const pw_directive *directive;  /* its experiment */
    const char *claim;              /* the expression as written */
    const char *statement;          /* the directive line as written, kind and label included:
                                       "counterclaim csr-slow: speedup(csr, dense) < 1" */
    const char *verdict;            /* PASS … ERROR */
    pw_outcome outcome;             /* what the verdict means for the optimization */
    const char *context;            /* when the same expression is written in several
                                       experiments of the report: this one's id and the parameters
                                       that differ ("prune-b1: batch 1"); else NULL (and always
                                       NULL in an experiment's own list) */
    const char *evidence;           /* the evidence sentence (pw_render_evidence) */
} pw_render_claim;

/* What a renderer's page is made from; every pointer is borrowed for the call. */
typedef struct {
    pw_chapter *const *chapters;    /* in report order, custom nodes filled for this format when
                                       the renderer shows prose */
    size_t nchapters;
    const json_t *environment;      /* of the machine the results were measured on */
    const json_t *environment_after; /* captured after the measurements (load), or NULL */
    const json_t *env_warnings;     /* array of strings: noisy conditions seen */
    const char *title;              /* of the report */
    const char *generated;          /* when, "YYYY-MM-DD HH:MM UTC" */
    const char *templates_dir;      /* the folder of report.html, report.css, report.tex */
    /* Where a page's errors go (a sentence, lowercase, no final period); ctx is passed back. */
    void (*error)(void *ctx, const char *text);
    void *ctx;
} pw_render_page;

/* An output format.  Every string passed to a callback is plain UTF-8 that the callback escapes
 * for its format; each appends to b.  The fragment callbacks are called only when prose is true
 * (and then none may be NULL); page is always called. */
typedef struct pw_renderer {
    const char *name;      /* as `-f` names it: "html" */
    const char *file;      /* the document it writes into the output folder: "report.html" */
    const char *figures;   /* the chart files its documents refer to ("svg", "pdf"), or NULL */
    bool prose;            /* it renders the chapters: their custom nodes get its fragments */
    bool terminal;         /* plain text for a terminal or a CI log: the command also prints it */
    /* The files its page reads from the templates folder (NULL-terminated; NULL for none): a
     * report checks them (readable, UTF-8) before anything runs. */
    const char *const *templates;

    /* --- inline ---------------------------------------------------------------------------- */
    /* A measured value: metric is its name, interval "95% CI 205–219×" or "" when exact, method
     * how it was estimated ("median of 25 paired per-round time ratios; …") or NULL. */
    void (*value)(pw_buf *b, const char *metric, const char *value, const char *interval,
                  const char *method);
    /* The same for a value of a previous result (a stale stand-in, exec.h): marked "previous". */
    void (*previous)(pw_buf *b, const char *metric, const char *value, const char *interval,
                     const char *method);
    /* A reference whose value does not exist (its experiment ended in ERROR, or is not measured
     * yet): text says which. */
    void (*unmeasured)(pw_buf *b, const char *text);

    /* --- blocks ---------------------------------------------------------------------------- */
    /* A special block (history, matrix) with nothing to show, and why. */
    void (*missing)(pw_buf *b, const char *text);
    /* Table `number` from a table object (result.h: caption, columns, rows of strings). */
    void (*table)(pw_buf *b, const json_t *table, int number);
    /* Figure `number` from a chart object whose files are figdir/<stem>.<figures>; figrel is
     * how the document refers to figdir ("figures"). */
    void (*figure)(pw_buf *b, const json_t *chart, const char *stem, int number, const char *figdir,
                   const char *figrel);

    /* --- the experiment box: open, [error], figures and tables, [claims], [items], close ---- */
    /* run: the run line (pw_render_run_line), "" without a result; caption may be NULL.
     * standin: NULL for a result, else the box shows a stand-in (exec.h) — "stale" (a previous
     * result) or "unmeasured" (nothing yet) — which the format marks, saying reason. */
    void (*experiment_open)(pw_buf *b, const char *id, const char *run, const char *caption, const char *standin,
                            const char *reason);
    void (*experiment_error)(pw_buf *b, const char *reason);
    /* A result's warnings, notes, baseline warnings or disturbed sentence: a non-empty array of
     * strings. */
    void (*items)(pw_buf *b, pw_item_list kind, const json_t *strings);
    /* A summary line with its details folded (HTML <details>, LaTeX a short list): details is a
     * non-empty array of strings. */
    void (*folded)(pw_buf *b, pw_fold_kind kind, const char *summary, const json_t *details);
    void (*experiment_close)(pw_buf *b);

    /* --- lists of claims: open, (group | claim)…, [none], close ------------------------------- */
    /* The outcome counts (pw_outcome order) and their total, above the summary. */
    void (*counts)(pw_buf *b, const size_t outcomes[PW_OUTCOMES], size_t total);
    /* heading: the assessment group's heading; NULL for the other lists. */
    void (*claims_open)(pw_buf *b, pw_claim_list kind, const char *heading);
    /* In the summary, before the claims of one outcome (only outcomes that have claims): its
     * heading ("Did not help") and how many claims follow. */
    void (*group)(pw_buf *b, pw_outcome outcome, const char *heading, size_t count);
    void (*claim)(pw_buf *b, pw_claim_list kind, const pw_render_claim *c);
    /* An assessment group without claims: what that means. */
    void (*claims_none)(pw_buf *b, pw_claim_list kind, const char *text);
    void (*claims_close)(pw_buf *b, pw_claim_list kind);

    /* --- the environment section (pw_render_environment): for each part, open, row…, close --- */
    /* warnings: array of strings, possibly empty (given with the summary part only). */
    void (*environment_open)(pw_buf *b, pw_env_part part, const json_t *warnings);
    void (*environment_row)(pw_buf *b, pw_env_part part, const char *name, const char *value);
    void (*environment_close)(pw_buf *b, pw_env_part part);

    /* --- the document ------------------------------------------------------------------------ */
    /* The whole document into out.  PW_OK, or PW_EIO / PW_EINVAL after telling p->error why. */
    int (*page)(const pw_render_page *p, pw_buf *out);
} pw_renderer;

/* The formats, one file each, and the registry of them (NULL-terminated, in the order the
 * command lists their files; fewer than PW_RENDER_MAX). */
#define PW_RENDER_MAX 8
extern const pw_renderer pw_render_html;   /* format_html.c: one self-contained page */
extern const pw_renderer pw_render_latex;  /* format_latex.c: the document pdflatex typesets */
extern const pw_renderer pw_render_text;   /* format_text.c: outcome counts and claim table */
extern const pw_renderer *const pw_renderers[];

/* The registered renderer called name, or NULL. */
const pw_renderer *pw_render_find(const char *name);

/* --- shared decisions ---------------------------------------------------------------------- */

/* The file stem of chart `name` of directive id ("<id>-<name>"), for figures/<stem>.svg|pdf.
 * Caller frees. */
char *pw_render_chart_stem(const char *id, const char *chart_name);

/* True when directive d shows the chart (table) named name, per its `chart:` (`table:`) key. */
bool pw_render_shows_chart(const pw_directive *d, const char *name);
bool pw_render_shows_table(const pw_directive *d, const char *name);

/* "selftest.fixed, measured 2026-11-29 03:12 UTC on host in 12.3 s, peak RSS 2.0 MiB (from
 * cache)": when, where and how d's result was obtained.  d must have a result. */
void pw_render_run_line(pw_buf *b, const pw_directive *d);

/* The evidence sentence of a claim's verdict object: how many points hold, fail or are
 * undecided, each point's value with its interval, and for an undecided point what would decide
 * it — the detectable effect and about how many samples would, or why more samples cannot (its
 * fixed_sample sentence), or what blocks it (a handicapped baseline, too few samples, a
 * disturbed or stale measurement: a short label per point, each distinct reason sentence once at
 * the end).  Plain UTF-8. */
void pw_render_evidence(pw_buf *b, const json_t *verdict);

/* The one-line summary of how well an experiment's timings were sampled, from its result's
 * "bench_sets" (result.h): how many timed variants missed the precision target (those with no
 * interval at all as "no stable interval"), the worst CV, why the sets stopped; and one detail
 * line per set.  Returns false (and writes nothing) when the result has no bench sets. */
bool pw_render_precision(const json_t *result, pw_buf *summary, json_t **details);

/* A baseline warning as the top of the report shows it: the sentence and the experiments
 * carrying it (or one differing only in its figures: the sentence is the first one seen). */
typedef struct {
    const char *text;                   /* borrowed from the first result carrying it */
    const pw_directive **directives;    /* in report order; owned by the notice */
    size_t n;
} pw_render_notice;
/* Every result's "baseline_warnings", deduplicated, in report order; *out is NULL when there
 * are none.  Free with pw_render_notices_free. */
size_t pw_render_baseline_notices(pw_chapter *const *chapters, size_t n, pw_render_notice **out);
void pw_render_notices_free(pw_render_notice *notices, size_t n);

/* Overall verdict counts (pw_render_verdicts order; an experiment in ERROR without claims counts
 * as one ERROR); returns their total. */
size_t pw_render_count_verdicts(pw_chapter *const *chapters, size_t n, size_t counts[5]);
/* The same claims counted by outcome (pw_outcome order; an experiment in ERROR without claims
 * counts as one "could not be measured"); returns their total, equal to the verdicts'. */
size_t pw_render_count_outcomes(pw_chapter *const *chapters, size_t n, size_t counts[PW_OUTCOMES]);

/* The outcome a verdict object records; one without (a hand-written fixture) is derived from its
 * kind and verdict (pw_claim_outcome). */
pw_outcome pw_render_outcome(const json_t *verdict);

/* Calls fn for every claim of the chapters in report order (c->chapter and c->context set);
 * outcome < 0 for every claim, else only for claims with that outcome. */
void pw_render_each_claim(pw_chapter *const *chapters, size_t n, int outcome,
                          void (*fn)(void *ctx, const pw_render_claim *c), void *ctx);

/* --- shared walks: they decide what to show and call the renderer ---------------------------- */

/* One directive with its result and verdicts: the experiment box.  figdir is the folder holding
 * the rendered figures, figrel how the document refers to it. */
void pw_render_directive(pw_buf *b, const pw_renderer *R, pw_numbering *num, const pw_directive *d,
                         const char *figdir, const char *figrel);
/* The next numbered table (a table object), and the next numbered figure (a chart object whose
 * files are figdir/<stem>.*). */
void pw_render_table(pw_buf *b, const pw_renderer *R, pw_numbering *num, const json_t *table);
void pw_render_figure(pw_buf *b, const pw_renderer *R, pw_numbering *num, const json_t *chart,
                      const char *stem, const char *figdir, const char *figrel);
/* An inline value: "212×" with "95% CI 205–219×"; previous: it is a previous result's (a stale
 * stand-in, exec.h). */
void pw_render_inline(pw_buf *b, const pw_renderer *R, const pw_metric *m, bool previous);
/* The summary block: the outcome counts, then every claim grouped by outcome (helped, did not
 * help, undecided, could not be measured), in report order within a group. */
void pw_render_claim_summary(pw_buf *b, const pw_renderer *R, pw_chapter *const *chapters, size_t n);
/* The assessment block: what helped, what did not, what we could not decide, what could not be
 * measured — every claim in the group of its outcome. */
void pw_render_assessment(pw_buf *b, const pw_renderer *R, pw_chapter *const *chapters, size_t n);
/* The environment section (render_env.c): the warnings and the readable table
 * (pw_render_environment_rows), then the raw record, one row per leaf of env, nested keys dotted
 * ("cpu.model"), non-string values as compact JSON. */
void pw_render_environment(pw_buf *b, const pw_renderer *R, const pw_render_page *p);
/* The readable table of the environment env (after: captured after the measurements, or NULL)
 * and of the libraries as the chapters' experiments used them: an array of [name, value] pairs
 * of plain text — CPU identity, usable vector ISAs (widest first), cores and SMT, caches,
 * memory, hypervisor, operating system, compiler and flags, OpenBLAS (version, core, who chose
 * it, threads), BLIS, oneDNN, where the CBLAS symbols bind, other libraries, load before and
 * after, steal.  A field that is missing (an older or replayed record, another OS) reads
 * "unknown".  New reference. */
json_t *pw_render_environment_rows(const json_t *env, const json_t *after,
                                   pw_chapter *const *chapters, size_t n);

/* --- templates, for pages ---------------------------------------------------------------------- */
/* Reads template dir/name into *text (the caller frees it): PW_OK; PW_EIO when it cannot be read
 * (msg "cannot read template: reason"); PW_EINVAL when it is not UTF-8 text (msg "invalid UTF-8
 * (byte 0xFF)", or a NUL byte; *line its line).  msg never names the file: the caller puts
 * "DIR/NAME:LINE: " before it.  *text is NULL and *line 0 unless said otherwise. */
int pw_render_template_load(const char *dir, const char *name, char **text, int *line, char *msg,
                            size_t msgsize);
/* pw_render_template_load from p->templates_dir, telling p->error what went wrong ("DIR/NAME:LINE:
 * invalid UTF-8 (byte 0xFF)"); returns its status. */
int pw_render_template_read(const pw_render_page *p, const char *name, char **text);
/* Expands template `name` (its text tmpl) with the n vars into out.  PW_OK, or PW_EINVAL after
 * telling p->error "DIR/NAME:LINE: message". */
int pw_render_template_fill(const pw_render_page *p, const char *name, const char *tmpl,
                            const pw_template_var *vars, size_t n, pw_buf *out);

#endif
