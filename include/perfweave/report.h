/* report.h — the whole job of `perfweave report`: load chapters, validate every directive and
 * reference, obtain each result (run in a child, or from cache or replay), decide claims, render
 * charts and HTML/LaTeX/PDF, and publish them atomically into the output folder. */
#ifndef PERFWEAVE_REPORT_H
#define PERFWEAVE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *outdir;            /* "out" */
    bool html, latex, pdf;         /* formats to write */
    bool quick;                    /* reduced sizes and budgets */
    bool frozen;                   /* never run: use cached or archived results only */
    const char *replay_dir;        /* take results from DIR/<id>.json instead of running */
    const char *cache_dir;         /* result cache, or NULL for none */
    const char *archive_root;      /* archive each run here, or NULL */
    char *const *rerun;            /* ids to re-run despite the cache ("all" for every one) */
    size_t nrerun;
    char *const *chapters;         /* chapter paths in order */
    size_t nchapters;
    const char *templates_dir;     /* folder with report.html, report.css, report.tex */
    bool progress;                 /* progress lines on stderr */
} pw_report_options;

/* Fills defaults: out/, HTML+LaTeX+PDF, cache .cache/results, archive validation_results,
 * templates/ (or $PERFWEAVE_TEMPLATES), progress on. */
void pw_report_options_default(pw_report_options *o);

/* Builds the report.  Returns PW_OK; PW_EINVAL after printing file:line diagnostics (nothing
 * written); PW_ECHILD when the report was written but an experiment ended in ERROR; PW_EIO
 * when an output could not be written; PW_EINTR after SIGINT/SIGTERM (with
 * pw_isolate_catch_signals installed): the running experiment is killed, results finished so far
 * stay cached, nothing is published.  In every failure the previous report is left as it was. */
int pw_report_build(const pw_report_options *o);

#endif
