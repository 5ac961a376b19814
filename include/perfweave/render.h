/* render.h — experiment output as HTML or LaTeX fragments: numbered captioned tables, figures,
 * claim verdicts, notes and warnings, inline values, and the report-wide claim summary.  Every
 * string taken from a chapter or a result is escaped here, where it is used. */
#ifndef PERFWEAVE_RENDER_H
#define PERFWEAVE_RENDER_H

#include "perfweave/common.h"
#include "perfweave/weave.h"

typedef enum { PW_FMT_HTML, PW_FMT_LATEX } pw_format;

/* Running numbers of tables and figures across the whole report (one per format pass). */
typedef struct {
    int table;
    int figure;
} pw_numbering;

/* The file stem of chart `name` of directive id ("<id>-<name>"), for figures/<stem>.svg|pdf.
 * Caller frees. */
char *pw_render_chart_stem(const char *id, const char *chart_name);

/* True when directive d shows the chart (table) named name, per its `chart:` (`table:`) key. */
bool pw_render_shows_chart(const pw_directive *d, const char *name);
bool pw_render_shows_table(const pw_directive *d, const char *name);

/* Appends the fragment for one directive with its result and verdicts.  figdir is the folder
 * holding the rendered figures (read for inline SVG in HTML); figrel is how the output refers
 * to it ("figures").  run_info adds a line on when/where/how the result was obtained. */
void pw_render_directive(pw_buf *b, const pw_directive *d, pw_format fmt, pw_numbering *num,
                         const char *figdir, const char *figrel);

/* A numbered, captioned table from a table object (result.h layout). */
void pw_render_table(pw_buf *b, const json_t *table, pw_format fmt, pw_numbering *num);
/* A numbered figure from a chart object whose files are figdir/<stem>.svg|pdf. */
void pw_render_figure(pw_buf *b, const json_t *chart, const char *stem, pw_format fmt,
                      pw_numbering *num, const char *figdir, const char *figrel);

/* An inline value: "212× (95% CI 205–219×)" marked up for the format. */
void pw_render_inline(pw_buf *b, const pw_metric *m, pw_format fmt);
/* The same for a value of a previous result (a stand-in, exec.h), marked "previous" beside it. */
void pw_render_stale_inline(pw_buf *b, const pw_metric *m, pw_format fmt);

/* A verdict badge. */
void pw_render_verdict(pw_buf *b, const char *verdict, pw_format fmt);

/* The table of every claim in the report with module (chapter) verdicts and counts. */
void pw_render_claim_summary(pw_buf *b, pw_chapter *const *chapters, size_t n, pw_format fmt);

/* "What works, what does not, what we could not decide, what could not be measured": every
 * claim of the report grouped by its verdict, with its evidence. */
void pw_render_assessment(pw_buf *b, pw_chapter *const *chapters, size_t n, pw_format fmt);

/* Overall verdict counts; returns the number of claims. */
size_t pw_render_count_verdicts(pw_chapter *const *chapters, size_t n, size_t counts[5]);

#endif
