/* format_text.c — the plain-text output format (render.h): report.txt, the outcome and verdict
 * counts, the noisy-environment warnings, the handicapped baselines and the table of every claim
 * grouped by outcome (outcome, chapter, experiment, claim, verdict, evidence) in aligned columns
 * of plain UTF-8, for a terminal or a CI log (`perfweave report -f text` also prints it on
 * stdout).  It shows no prose, so it fills only the page. */
#include "perfweave/render.h"

#include <stdlib.h>
#include <string.h>

#include "perfweave/version.h"

enum { COLUMNS = 6 };

static const char *const headings[COLUMNS] = {"Outcome", "Chapter", "Experiment", "Claim", "Verdict", "Evidence"};

/* The rows of the claim table, cells already made plain. */
typedef struct {
    char *(*cells)[COLUMNS];
    size_t n, cap;
} rows;

/* Plain text on one line: control characters (a tab, a newline) become spaces. */
static char *plain(const char *s)
{
    char *t = pw_xstrdup(s ? s : "");
    for (char *p = t; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
    return t;
}

/* Characters, not bytes: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) w++;
    return w;
}

static void add_row(void *ctx, const pw_render_claim *c)
{
    rows *t = ctx;
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->cells = pw_xrealloc(t->cells, t->cap * sizeof *t->cells);
    }
    const char *cell[COLUMNS] = {pw_outcome_name(c->outcome), c->chapter->title,
                                 c->context ? c->context : c->directive->id, c->statement,
                                 c->verdict ? c->verdict : "ERROR", c->evidence};
    for (int k = 0; k < COLUMNS; k++) t->cells[t->n][k] = plain(cell[k]);
    t->n++;
}

/* One line of the table: every column but the last padded to its width, two spaces apart. */
static void put_line(pw_buf *b, const char *const cell[COLUMNS], const size_t w[COLUMNS])
{
    for (int k = 0; k < COLUMNS; k++) {
        pw_buf_puts(b, cell[k]);
        if (k + 1 == COLUMNS) break;
        for (size_t pad = width(cell[k]); pad < w[k] + 2; pad++) pw_buf_putc(b, ' ');
    }
    pw_buf_putc(b, '\n');
}

static void claim_table(pw_buf *b, const rows *t)
{
    size_t w[COLUMNS];
    for (int k = 0; k < COLUMNS; k++) w[k] = width(headings[k]);
    for (size_t i = 0; i < t->n; i++)
        for (int k = 0; k < COLUMNS; k++)
            if (width(t->cells[i][k]) > w[k]) w[k] = width(t->cells[i][k]);
    put_line(b, headings, w);
    for (int k = 0; k < COLUMNS; k++) {
        for (size_t i = 0; i < (k + 1 == COLUMNS ? width(headings[k]) : w[k]); i++) pw_buf_putc(b, '-');
        pw_buf_puts(b, k + 1 == COLUMNS ? "\n" : "  ");
    }
    for (size_t i = 0; i < t->n; i++) put_line(b, (const char *const *)t->cells[i], w);
}

static int page(const pw_render_page *p, pw_buf *out)
{
    size_t counts[5], outcomes[PW_OUTCOMES];
    size_t total = pw_render_count_verdicts(p->chapters, p->nchapters, counts);
    pw_render_count_outcomes(p->chapters, p->nchapters, outcomes);
    char *title = plain(p->title);
    pw_buf_printf(out, "%s\nGenerated %s by perfweave %s (commit %s).\n\n", title, p->generated, PW_VERSION,
                  pw_commit());
    free(title);
    pw_buf_printf(out, "%zu claim%s:", total, total == 1 ? "" : "s");
    for (int i = 0; i < PW_OUTCOMES; i++) pw_buf_printf(out, "%s %zu %s", i ? "," : "", outcomes[i], pw_outcome_name((pw_outcome)i));
    pw_buf_puts(out, "\nverdicts:");
    for (int i = 0; i < 5; i++) pw_buf_printf(out, "%s %zu %s", i ? "," : "", counts[i], pw_render_verdicts[i]);
    pw_buf_putc(out, '\n');
    size_t i;
    json_t *w;
    json_array_foreach(p->env_warnings, i, w) {
        char *text = plain(json_string_value(w));
        pw_buf_printf(out, "warning: %s\n", text);
        free(text);
    }
    /* Handicapped baselines: the claims against them are UNDECIDED below. */
    pw_render_notice *notices;
    size_t nn = pw_render_baseline_notices(p->chapters, p->nchapters, &notices);
    for (size_t k = 0; k < nn; k++) {
        char *text = plain(notices[k].text);
        pw_buf_printf(out, "baseline: %s (%s", text, notices[k].n > 1 ? "figures from the first of " : "");
        for (size_t d = 0; d < notices[k].n; d++) pw_buf_printf(out, "%s%s", d ? ", " : "", notices[k].directives[d]->id);
        pw_buf_puts(out, ")\n");
        free(text);
    }
    pw_render_notices_free(notices, nn);
    rows t = {NULL, 0, 0};
    for (int o = 0; o < PW_OUTCOMES; o++) pw_render_each_claim(p->chapters, p->nchapters, o, add_row, &t);
    pw_buf_putc(out, '\n');
    if (t.n) claim_table(out, &t);
    else pw_buf_puts(out, "No claims.\n");
    for (size_t r = 0; r < t.n; r++)
        for (int k = 0; k < COLUMNS; k++) free(t.cells[r][k]);
    free(t.cells);
    return PW_OK;
}

const pw_renderer pw_render_text = {
    .name = "text",
    .file = "report.txt",
    .terminal = true,
    .page = page,
};
