/* report_internal.h — private to src/weave: the state one `perfweave report` run carries from
 * stage to stage, and the stages themselves (one file each), in the order report.c calls them:
 * load.c (chapters, ids, references, special blocks), obtain.c (results), decide.c (checks
 * after results, claims), special.c (history and matrix blocks from the archive), compose.c
 * (charts, custom nodes, HTML and LaTeX documents), publish.c (staging, pdflatex, atomic
 * rename). */
#ifndef PERFWEAVE_REPORT_INTERNAL_H
#define PERFWEAVE_REPORT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "perfweave/common.h"
#include "perfweave/report.h"
#include "perfweave/store.h"
#include "perfweave/weave.h"


/* A fenced block that perfweave fills in besides experiments: `summary` (every claim of the
 * report), `assessment` (the claims grouped into what works, what does not, what is undecided),
 * `history` (a metric across archived runs) and `matrix` (a metric across machines). */
typedef enum { SPECIAL_SUMMARY, SPECIAL_ASSESSMENT, SPECIAL_HISTORY, SPECIAL_MATRIX } special_kind;

typedef struct {
    special_kind kind;
    cmark_node *node;      /* the code block, then the custom block replacing it */
    const char *file;
    int line;
    char *metric;          /* fnmatch pattern over "id.metric" */
    char *caption;
    json_t *object;        /* built chart (history) or table (matrix); NULL when nothing to show */
    char *stem;            /* figure file stem of a history chart */
    char *empty;           /* why there is nothing to show */
} special_block;

typedef struct {
    const pw_report_options *opt;
    pw_chapter **chapters;
    size_t nchapters;
    pw_diag diag;
    json_t *environment;
    char *staging;         /* outdir/.staging-PID */
    char *figdir;          /* staging/figures */
    char *prev_figdir;     /* outdir/figures of the previous report (figures reused when unchanged) */
    char *stamp;           /* UTC time of this run, ISO 8601 */
    size_t failed;         /* experiments in ERROR */
    json_t *replay;        /* the replayed run document, when --replay names a file */
    json_t *env_warnings;  /* noisy conditions seen before/after the measurements */
    json_t *environment_after; /* captured after the measurements (load, governor), or NULL */
    pw_cache *cache;       /* NULL when caching is off */
    char *fingerprint;     /* this machine's fingerprint hash */
    size_t measured;       /* experiments actually run (not cached, replayed or frozen) */
    char *started;         /* UTC, ISO 8601, for the archive */
    special_block *specials;
    size_t nspecials;
} pw_report;

/* --- load.c ---------------------------------------------------------------------------------- */
/* The directive with this id in any chapter, or NULL. */
pw_directive *pw_report_find_directive(pw_report *r, const char *id);
/* Loads every chapter; duplicate ids and references to unknown ids go to r->diag. */
void pw_report_load_chapters(pw_report *r);
/* Collects and validates the summary/assessment/history/matrix blocks (errors to r->diag). */
void pw_report_load_specials(pw_report *r);

/* --- obtain.c -------------------------------------------------------------------------------- */
/* The replay source when it is a run document (a file), else NULL; the caller decrefs it. */
json_t *pw_report_replay_document(const char *path);
/* Gives every directive its result (replay, cache or a child process). */
void pw_report_obtain(pw_report *r);
/* Every distinct noise warning carried by the results (new reference). */
json_t *pw_report_env_warnings(const pw_report *r);

/* --- decide.c -------------------------------------------------------------------------------- */
/* After results exist: references, chart and table keys against the results (errors to r->diag). */
void pw_report_check(pw_report *r);
/* Claims, chapter by chapter (Holm within a chapter); verdicts go into each directive. */
void pw_report_decide(pw_report *r);

/* --- special.c ------------------------------------------------------------------------------- */
/* Builds the chart or table of each history/matrix block from the archive. */
void pw_report_build_specials(pw_report *r);

/* --- compose.c ------------------------------------------------------------------------------- */
/* Renders every shown chart (and history chart) into r->figdir.  PW_OK or the failing status. */
int pw_report_render_charts(pw_report *r);
/* Replaces directive, reference and special block nodes by custom nodes (once). */
void pw_report_install_custom_nodes(pw_report *r);
/* The whole HTML (LaTeX) document into out.  PW_OK, PW_EIO or PW_EINVAL (template). */
int pw_report_render_html(pw_report *r, pw_buf *out);
int pw_report_render_latex(pw_report *r, pw_buf *out);

/* --- publish.c ------------------------------------------------------------------------------- */
/* Removes a folder and everything under it. */
void pw_report_remove_tree(const char *path);
/* Removes staging folders of runs that died before cleaning up. */
void pw_report_remove_stale_staging(const char *outdir);
/* Writes b to staging/name atomically.  PW_OK or PW_EIO. */
int pw_report_write_staged(pw_report *r, const char *name, const pw_buf *b);
/* Runs pdflatex in the staging folder; 0 on success (see publish.c). */
int pw_report_run_pdflatex(pw_report *r);
/* Moves every staged file into the output folder.  PW_OK or PW_EIO. */
int pw_report_publish(pw_report *r, bool with_pdf);
/* The run document (results.json, the archive's schema); new reference. */
json_t *pw_report_results_document(pw_report *r);

#endif
