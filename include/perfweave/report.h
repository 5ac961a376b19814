/* report.h — the whole job of `perfweave report`: load chapters, validate every directive and
 * reference, obtain each result through an executor (exec.h: a child process, the cache, a
 * replay), decide claims, render charts and each document through its output format's renderer
 * (render.h: HTML, LaTeX, plain text) and the PDF, and publish them atomically into the output
 * folder.
 *
 * The library prints nothing (STYLE habit 4): what happens comes back to the caller as data —
 * messages and progress through the callbacks in the options, as they happen (a preview server
 * shows them live), and an outcome at the end (input diagnostics, counts, files written, the
 * archive path).  src/cli/cmd_report.c turns them into the command's stderr. */
#ifndef PERFWEAVE_REPORT_H
#define PERFWEAVE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "perfweave/exec.h"
#include "perfweave/render.h"
#include "perfweave/weave.h"

typedef enum {
    PW_REPORT_ERROR,      /* why the report stops ("cannot create out: …") */
    PW_REPORT_WARNING,    /* something to know or fix; the report goes on */
    PW_REPORT_FAILED,     /* an experiment ended in ERROR ("ID ERROR: reason", at its directive) */
    PW_REPORT_NOTE        /* information ("archived this run as …") */
} pw_report_message_kind;

typedef struct {
    pw_report_message_kind kind;
    const char *file;     /* the file it is about (a chapter) or NULL; borrowed for the call */
    int line;             /* its line, or 0 */
    const char *text;     /* lowercase, no final period; borrowed for the call */
} pw_report_message;

/* Progress of the obtain stage: one call as each experiment starts (run, looked up, replayed),
 * and a last one with done set when every result is in (or the run was interrupted). */
typedef struct {
    size_t index, total;  /* the index-th (1-based) of total experiments; index 0 when done */
    const char *id;       /* the directive's id and experiment; NULL when done; borrowed */
    const char *experiment;
    double elapsed_s;     /* since the stage began */
    double eta_s;         /* estimated seconds left (measured time so far per measured
                             experiment × experiments left); NAN before anything was measured */
    bool done;
    const char *where;    /* NULL for the report's own executor; a peer's name (below) when the
                             experiment is one a peer measures for the matrix; borrowed */
} pw_report_progress;

/* An executor that measures the same directives on another machine, for the hardware matrix. */
typedef struct {
    pw_exec *executor;    /* borrowed: the caller frees it after the report */
    const char *name;     /* what it measures on, for messages: "Slurm partition pw-b" */
} pw_report_peer;

typedef struct {
    const char *outdir;            /* "out" */
    /* The documents to write: registered renderers (render.h, pw_render_find), NULL-terminated,
     * borrowed; NULL for HTML and LaTeX.  Each is written once, whatever the order or repeats. */
    const pw_renderer *const *formats;
    bool pdf;                      /* also typeset report.tex with pdflatex (writes the LaTeX) */
    bool quick;                    /* reduced sizes and budgets */
    bool frozen;                   /* never run: use cached results only, from any machine */
    const char *replay_dir;        /* take results from this run document or DIR/<id>.json */
    const char *cache_dir;         /* result cache, or NULL for none */
    const char *archive_root;      /* archive each run here, or NULL */
    char *const *rerun;            /* ids to re-run despite the cache ("all" for every one) */
    size_t nrerun;
    char *const *chapters;         /* chapter paths in order */
    size_t nchapters;
    const char *templates_dir;     /* folder with report.html, report.css, report.tex */
    /* Never measure (`--stale`): the default stack gets the stale executor (exec.h) instead of
     * the local one, so a directive missing from the cache is shown from its previous result —
     * the first found in previous[0 .. nprevious), then outdir/results.json, then the newest
     * cache entry of its id — marked as such, or as "not measured yet"; the outcome lists them. */
    bool stale;
    char *const *previous;
    size_t nprevious;
    /* Measure without publishing (`--measure-only`): load, obtain (measuring what the cache
     * lacks), check, decide and archive; nothing is written into outdir. */
    bool measure_only;
    /* Also write the run document (what outdir/results.json holds) to this file, or NULL. */
    const char *results_path;
    /* Where results come from: NULL for the default (replay_dir when set, else the cache
     * decorator over the local executor — or the stale one — with frozen and rerun); else this
     * executor, borrowed (the caller frees it), and replay_dir, cache_dir, frozen, rerun, stale
     * and previous are not used. */
    pw_exec *executor;
    /* Peers (`report --slurm A,B,…`: the partitions after the first): every job is submitted to
     * each of them too, after the report's own executor has it; their results are not rendered;
     * each peer's results measured by this run are archived as a run of their own (with the
     * peer's environment, under archive_root) before the history and matrix blocks are built,
     * so they feed the matrix.  Every executor is prepared (pw_exec_prepare) before anything is
     * submitted; a peer's ERROR results count in failed_peers.  NULL / 0: none. */
    const pw_report_peer *peers;
    size_t npeers;
    /* How long the default local executor waits for the machine-wide measurement lock (lock.h)
     * when it must measure: < 0 for PW_LOCK_MAX_WAIT_S (the default), 0 not at all (--no-wait).
     * Waiting is told through on_message (NOTE: who holds it); a report answered entirely from
     * the cache or a replay never takes the lock. */
    double max_wait_s;
    /* Called as things happen (each may be NULL); ctx is passed back. */
    void (*on_message)(void *ctx, const pw_report_message *m);
    void (*on_progress)(void *ctx, const pw_report_progress *p);
    void *ctx;
} pw_report_options;

/* Fills defaults: out/, HTML+LaTeX+PDF (formats NULL, pdf), cache .cache/results, archive validation_results,
 * templates/ (or $PERFWEAVE_TEMPLATES), the lock's default wait (max_wait_s -1), no callbacks. */
void pw_report_options_default(pw_report_options *o);

/* The stages, in order; an outcome names the last one entered. */
typedef enum {
    PW_REPORT_LOAD,       /* chapters, directives, references, special blocks */
    PW_REPORT_OBTAIN,     /* results through the executor */
    PW_REPORT_CHECK,      /* references and chart/table keys against the results */
    PW_REPORT_DECIDE,     /* claims */
    PW_REPORT_RENDER,     /* results.json, archive, charts, documents, pdflatex */
    PW_REPORT_PUBLISH,    /* staged files renamed into the output folder */
    PW_REPORT_DONE
} pw_report_stage;

/* A directive whose result is a stand-in (exec.h: the stale executor's previous result, or
 * nothing yet): what still has to be measured for the report to be current. */
typedef struct {
    char *id, *experiment;
    char *file;              /* the chapter, as given */
    int line;                /* of the directive */
    bool unmeasured;         /* shown as "not measured yet" (else: from its previous result) */
    char *key;               /* the cache key its measurement will be stored under, or NULL */
} pw_report_pending;

typedef struct {
    pw_report_stage stage;   /* the last stage entered (PW_REPORT_DONE: published, or with
                                measure_only: measured and archived) */
    pw_diag diag;            /* input errors, file:line: message (from LOAD or CHECK) */
    size_t experiments;      /* directives in the report */
    size_t measured;         /* results measured by this run (not cached or replayed) */
    size_t measured_clean;   /* of those, the ones neither ERROR nor disturbed: what the result
                                cache keeps (when there is one) */
    size_t failed;           /* results in ERROR */
    size_t failed_peers;     /* peers' results in ERROR (their runs are archived, not rendered) */
    size_t claims;           /* claims decided, and their verdicts: PASS, PARTIAL, FAIL, */
    size_t verdicts[5];      /* UNDECIDED, ERROR */
    /* The documents published into outdir, in registry order (the LaTeX too when only the PDF
     * was asked for); borrowed renderers, each names its file. */
    const pw_renderer *documents[PW_RENDER_MAX];
    size_t ndocuments;
    bool wrote_pdf;          /* report.pdf published too */
    char *archive;           /* this run's results.json in the archive, or NULL */
    int signal;              /* the signal that interrupted the run, or 0 */
    pw_report_pending *pending;  /* directives shown from a stand-in, in report order (from the */
    size_t npending;             /* CHECK stage on; only the stale executor gives stand-ins) */
} pw_report_outcome;

/* Builds the report.  *out (when non-NULL) is filled in every case; release it with
 * pw_report_outcome_release.  Returns PW_OK; PW_EINVAL for bad input: out->diag holds the
 * diagnostics (from the LOAD or CHECK stage) and nothing was written — or no chapters, a broken
 * template, or an executor that is not ready (pw_exec_prepare refused: an ERROR message, nothing
 * submitted); PW_ECHILD when the report was written but an experiment (the report's or a
 * peer's) ended in ERROR; PW_EIO when an output could not be written (an ERROR message); PW_EINTR after
 * SIGINT/SIGTERM (with pw_isolate_catch_signals installed; out->signal): every running
 * experiment is cancelled, results finished so far stay cached, nothing is published; PW_EBUSY
 * when the measurement lock is held by another process past max_wait_s (an ERROR message names
 * the holder): nothing was measured or published.  A lock file that cannot be used is PW_EINVAL
 * (an ERROR message).  In every failure the previous report is left as it was.  With
 * measure_only, PW_OK (PW_ECHILD) once the results are in and archived; outdir is not touched. */
int pw_report_build(const pw_report_options *o, pw_report_outcome *out);

/* Frees what an outcome holds (diagnostics, archive path, pending directives). */
void pw_report_outcome_release(pw_report_outcome *out);

#endif
