/* report_internal.h — private to src/weave: the state one `perfweave report` run carries from
 * stage to stage, and the stages themselves (one file each), in the order report.c calls them:
 * load.c (chapters, ids, labels, references, special blocks), obtain.c (results), decide.c
 * (checks after results, handicapped baselines across results, claims, conditional text),
 * special.c (history and matrix blocks from the archive), compose.c (charts, custom nodes, each
 * document through its format's renderer, render.h), publish.c (staging, results.json and the
 * archive, pdflatex, atomic rename).
 * Stages report through pw_report_tell and r->diag, never on stderr. */
#ifndef PERFWEAVE_REPORT_INTERNAL_H
#define PERFWEAVE_REPORT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "perfweave/common.h"
#include "perfweave/render.h"
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
    json_t *lines;         /* history: [ { "y", "label" } ] reference lines (`line: Y LABEL`), or NULL */
    json_t *object;        /* built chart (history) or table (matrix); NULL when nothing to show */
    json_t *notes;         /* strings shown under a matrix (software differences, runs left out), or NULL */
    char *stem;            /* figure file stem of a history chart */
    char *empty;           /* why there is nothing to show */
} special_block;

/* What a peer (report.h) measured: one result per directive in report order, archived as a run
 * of its own. */
typedef struct {
    const char *name;      /* borrowed from the options */
    json_t *environment;   /* the peer's executor's */
    pw_result **results;   /* [directive in report order]; NULL where none came back */
    size_t measured;       /* results measured by this run */
    char *archived;        /* its run's results.json in the archive, or NULL */
} peer_run;

typedef struct {
    const pw_report_options *opt;
    const pw_renderer *renderers[PW_RENDER_MAX]; /* the documents to write, in registry order */
    size_t nrenderers;
    pw_chapter **chapters;
    size_t nchapters;
    pw_diag diag;
    json_t *environment;   /* of the machine the executor measures on (exec.h) */
    char *staging;         /* outdir/.staging-PID */
    char *figdir;          /* staging/figures */
    char *prev_figdir;     /* outdir/figures of the previous report (figures reused when unchanged) */
    char *stamp;           /* UTC time of this run, ISO 8601 */
    size_t failed;         /* experiments in ERROR */
    json_t *env_warnings;  /* noisy conditions seen before/after the measurements */
    json_t *environment_after; /* captured after the measurements (load, governor), or NULL */
    size_t measured;       /* experiments measured by this run (not cached, replayed or frozen) */
    size_t measured_here;  /* of those, measured on this machine (not as Slurm jobs) */
    peer_run *peers;       /* one per options peer */
    size_t npeers;
    size_t failed_peers;   /* peers' results in ERROR */
    size_t measured_clean; /* of those, the ones neither ERROR nor disturbed (what a cache keeps) */
    int blocked;           /* PW_EBUSY / PW_EIO when the executor could not measure (the lock) */
    char *started;         /* UTC, ISO 8601, for the archive */
    special_block *specials;
    size_t nspecials;
    bool pdf_ok;           /* pdflatex made report.pdf */
    char *archived;        /* this run's results.json in the archive, or NULL */
} pw_report;

/* --- report.c -------------------------------------------------------------------------------- */
/* Hands a message to the caller's on_message (nothing when there is none): the library prints
 * nothing itself.  file may be NULL (line 0). */
void pw_report_tell(pw_report *r, pw_report_message_kind kind, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* --- load.c ---------------------------------------------------------------------------------- */
/* The directive with this id in any chapter, or NULL. */
pw_directive *pw_report_find_directive(pw_report *r, const char *id);
/* The claim or condition labelled label in any chapter, or NULL: its directive, whether it is a
 * condition, and its index in d->conditions (or d->claims). */
pw_directive *pw_report_find_label(pw_report *r, const char *label, bool *condition, size_t *index);
/* Loads every chapter; duplicate ids and labels, references to unknown ids and conditional
 * text naming unknown labels go to r->diag. */
void pw_report_load_chapters(pw_report *r);
/* Collects and validates the summary/assessment/history/matrix blocks (errors to r->diag). */
void pw_report_load_specials(pw_report *r);
/* Checks that every template the chosen renderers read is readable UTF-8 text (errors to
 * r->diag, "templates/report.html:12: invalid UTF-8 (byte 0xE9)"), so that a broken template
 * stops the report before anything is measured. */
void pw_report_load_templates(pw_report *r);

/* --- obtain.c -------------------------------------------------------------------------------- */
/* Gives every directive its result through the executor (the options' or the default stack of
 * replay, or cache over local — over stale with opt->stale), and each peer's result to
 * r->peers; sets r->environment to the executor's, counts r->measured, r->measured_here,
 * r->measured_clean, r->failed and r->failed_peers.  Every executor is prepared first: PW_EINVAL
 * when one refused (an ERROR message; nothing was submitted), PW_EINTR when interrupted there.
 * After a caught signal, or when the executor cannot measure (r->blocked: the measurement lock is
 * busy or unusable), every job is cancelled; directives not answered keep a NULL result.  PW_OK
 * otherwise (also when blocked: r->blocked says so). */
int pw_report_obtain(pw_report *r);
/* Every distinct noise warning carried by the results (new reference). */
json_t *pw_report_env_warnings(const pw_report *r);

/* --- decide.c -------------------------------------------------------------------------------- */
/* After results exist: references, chart and table keys against the results (errors to r->diag). */
void pw_report_check(pw_report *r);
/* Claims, chapter by chapter (Holm within a chapter); verdicts go into each directive.
 * Conditions, each on its own; their verdicts go into each directive's condition_verdicts. */
void pw_report_decide(pw_report *r);
/* Conditional text: each `when` block and `?` span replaced by what the verdict of its label
 * selects (the same verdict object the badge shows), spliced into the chapter's tree. */
void pw_report_choose(pw_report *r);

/* --- special.c ------------------------------------------------------------------------------- */
/* Builds the chart or table of each history/matrix block from the archive. */
void pw_report_build_specials(pw_report *r);

/* --- compose.c ------------------------------------------------------------------------------- */
/* Renders every shown chart (and history chart) into r->figdir, as the figure files the
 * renderers being written refer to (none when none does).  PW_OK or the failing status. */
int pw_report_render_charts(pw_report *r);
/* Replaces directive, reference and special block nodes by custom nodes (once). */
void pw_report_install_custom_nodes(pw_report *r);
/* R's whole document into out: the custom nodes get R's fragments (when it shows prose), then
 * its page is made.  PW_OK, PW_EIO or PW_EINVAL (template; an ERROR message). */
int pw_report_render_document(pw_report *r, const pw_renderer *R, pw_buf *out);

/* --- publish.c ------------------------------------------------------------------------------- */
/* Creates the output folder and this run's staging folder (r->staging, r->figdir), removing
 * staging folders of runs that died.  PW_OK or PW_EIO (an ERROR message). */
int pw_report_open_staging(pw_report *r);
/* Removes this run's staging folder, if any (the end of every run, published or not). */
void pw_report_close_staging(pw_report *r);
/* Writes b to staging/name atomically.  PW_OK or PW_EIO (an ERROR message). */
int pw_report_write_staged(pw_report *r, const char *name, const pw_buf *b);
/* Stages results.json (the run document; not with measure_only), writes it to results_path when
 * set (an ERROR message when it cannot) and, when something was measured and no result is a
 * stand-in, archives it (r->archived; a NOTE, or a WARNING when it cannot); then archives each
 * peer's run that measured something, with the peer's environment (its archived path in the
 * peer).  PW_OK or PW_EIO. */
int pw_report_write_results(pw_report *r);
/* Runs pdflatex in the staging folder; sets r->pdf_ok (WARNING messages when it cannot). */
void pw_report_run_pdflatex(pw_report *r);
/* Moves every staged file into the output folder.  PW_OK or PW_EIO (an ERROR message). */
int pw_report_publish(pw_report *r);

#endif
