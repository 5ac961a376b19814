/* format_latex.c — the LaTeX output format (render.h): all of the document's markup — tables,
 * figures of the PDF charts, verdict badges, claim lists, inline values, the experiment
 * environment, the environment section — and the document itself from templates/report.tex,
 * whose preamble defines the commands used here (\verdictpass, \measured, \pwnote, …).  Every
 * string is escaped here, where it is used; cmark's own LaTeX is made safe for pdflatex. */
#include "perfweave/render.h"

#include <stdlib.h>
#include <string.h>

#include "perfweave/escape.h"
#include "perfweave/version.h"

static void esc(pw_buf *b, const char *s)
{
    if (s) pw_escape_latex(b, s);
}

static void verdict(pw_buf *b, const char *v)
{
    pw_buf_printf(b, "\\verdict%s{}", pw_render_verdict_kind(v));
}

static void value(pw_buf *b, const char *metric, const char *text, const char *interval, const char *method)
{
    (void)metric;
    (void)method;
    pw_buf_puts(b, "\\measured{");
    esc(b, text);
    pw_buf_puts(b, "}{");
    esc(b, interval);
    pw_buf_puts(b, "}");
}

static void previous(pw_buf *b, const char *metric, const char *text, const char *interval, const char *method)
{
    value(b, metric, text, interval, method);
    pw_buf_puts(b, "\\textsuperscript{previous}");
}

static void unmeasured(pw_buf *b, const char *text)
{
    pw_buf_puts(b, "\\textbf{");
    esc(b, text);
    pw_buf_puts(b, "}");
}

static void missing(pw_buf *b, const char *text)
{
    pw_buf_puts(b, "\\textit{");
    esc(b, text);
    pw_buf_puts(b, "}\n");
}

/* The first column left-aligned (the row's name), the others right-aligned (numbers). */
static void table(pw_buf *b, const json_t *t, int no)
{
    size_t i, k;
    json_t *row, *cell, *cols = json_object_get(t, "columns");
    pw_buf_puts(b, "\\begin{table}[htbp]\n\\centering\\small\n\\caption{");
    esc(b, json_string_value(json_object_get(t, "caption")));
    pw_buf_printf(b, "}\\label{table-%d}\n\\begin{tabular}{l", no);
    for (i = 1; i < json_array_size(cols); i++) pw_buf_putc(b, 'r');
    pw_buf_puts(b, "}\n\\toprule\n");
    json_array_foreach(cols, i, cell) {
        if (i) pw_buf_puts(b, " & ");
        pw_buf_puts(b, "\\textbf{");
        esc(b, json_string_value(cell));
        pw_buf_puts(b, "}");
    }
    pw_buf_puts(b, " \\\\\n\\midrule\n");
    json_array_foreach(json_object_get(t, "rows"), i, row) {
        json_array_foreach(row, k, cell) {
            if (k) pw_buf_puts(b, " & ");
            esc(b, json_string_value(cell));
        }
        pw_buf_puts(b, " \\\\\n");
    }
    pw_buf_puts(b, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
}

static void figure(pw_buf *b, const json_t *chart, const char *stem, int no, const char *figdir, const char *figrel)
{
    (void)figdir;
    pw_buf_printf(b, "\\begin{figure}[htbp]\n\\centering\n\\includegraphics[width=\\linewidth]{%s/%s.pdf}\n\\caption{",
                  figrel, stem);
    esc(b, json_string_value(json_object_get(chart, "caption")));
    pw_buf_printf(b, "}\\label{figure-%d}\n\\end{figure}\n", no);
}

static void experiment_open(pw_buf *b, const char *id, const char *run, const char *caption, const char *standin,
                            const char *reason)
{
    pw_buf_puts(b, "\\begin{experiment}{");
    esc(b, id);
    pw_buf_puts(b, "}{");
    esc(b, run);
    pw_buf_puts(b, "}\n");
    if (caption) {
        pw_buf_puts(b, "\\textit{");
        esc(b, caption);
        pw_buf_puts(b, "}\n\n");
    }
    if (standin) { /* a previous result, or none yet: said before anything of it */
        pw_buf_puts(b, "\\pwwarning{");
        esc(b, reason);
        pw_buf_puts(b, "}\n");
    }
}

static void experiment_error(pw_buf *b, const char *reason)
{
    pw_buf_puts(b, "\\pwerror{");
    esc(b, reason);
    pw_buf_puts(b, "}\n");
}

static void items(pw_buf *b, pw_item_list kind, const json_t *strings)
{
    static const char *const commands[] = {"pwwarning", "pwnote", "pwbaseline", "pwdisturbed"};
    size_t i;
    json_t *s;
    json_array_foreach(strings, i, s) {
        pw_buf_printf(b, "\\%s{", commands[kind]);
        esc(b, json_string_value(s));
        pw_buf_puts(b, "}\n");
    }
}

/* A summary line and a short list: the first FOLD_SHOWN details, then how many more there are
 * (results.json holds them all). */
enum { FOLD_SHOWN = 6 };
static void folded(pw_buf *b, pw_fold_kind kind, const char *summary, const json_t *details)
{
    pw_buf_printf(b, "\\%s{", kind == PW_FOLD_PRECISION ? "pwprecision" : "pwwarning");
    esc(b, summary);
    pw_buf_puts(b, "}\n\\begin{pwdetails}\n");
    size_t i, n = json_array_size(details);
    json_t *s;
    json_array_foreach(details, i, s) {
        if (i == FOLD_SHOWN && n > FOLD_SHOWN + 1) {
            pw_buf_printf(b, "\\item \\ldots{} and %zu more (results.json holds them all)\n", n - i);
            break;
        }
        pw_buf_puts(b, "\\item ");
        esc(b, json_string_value(s));
        pw_buf_putc(b, '\n');
    }
    pw_buf_puts(b, "\\end{pwdetails}\n");
}

static void experiment_close(pw_buf *b)
{
    pw_buf_puts(b, "\\end{experiment}\n");
}

static void counts(pw_buf *b, const size_t counts[PW_OUTCOMES], size_t total)
{
    pw_buf_printf(b, "\\noindent ");
    for (int i = 0; i < PW_OUTCOMES; i++) {
        pw_buf_printf(b, "\\textbf{%zu}~", counts[i]);
        esc(b, pw_outcome_name((pw_outcome)i));
        pw_buf_puts(b, "\\quad ");
    }
    pw_buf_printf(b, "of %zu claims.\n\n", total);
}

/* Every list of claims is a claimlist; an assessment group has its heading above. */
static void claims_open(pw_buf *b, pw_claim_list kind, const char *heading)
{
    if (kind == PW_CLAIMS_ASSESSMENT) {
        pw_buf_puts(b, "\\subsubsection*{");
        esc(b, heading);
        pw_buf_puts(b, "}\n");
    }
    pw_buf_puts(b, "\\begin{claimlist}\n");
}

static void group(pw_buf *b, pw_outcome o, const char *heading, size_t count)
{
    (void)o;
    pw_buf_puts(b, "\\item[] \\textbf{");
    esc(b, heading);
    pw_buf_printf(b, " (%zu)}\n", count);
}

/* Badge (with what it means in an experiment's box), the chapter's title and the context in the
 * summary and the assessment, the statement, its evidence. */
static void claim(pw_buf *b, pw_claim_list kind, const pw_render_claim *c)
{
    pw_buf_puts(b, "\\item ");
    verdict(b, c->verdict);
    if (kind == PW_CLAIMS_EXPERIMENT) {
        pw_buf_puts(b, " (\\emph{");
        esc(b, pw_outcome_name(c->outcome));
        pw_buf_puts(b, "})");
    } else {
        pw_buf_puts(b, " \\textit{");
        esc(b, c->chapter->title);
        if (c->context) {
            pw_buf_puts(b, " (");
            esc(b, c->context);
            pw_buf_puts(b, ")");
        }
        pw_buf_puts(b, "}:");
    }
    pw_buf_puts(b, " \\texttt{");
    esc(b, c->statement);
    pw_buf_puts(b, "} --- ");
    esc(b, c->evidence);
    pw_buf_putc(b, '\n');
}

static void claims_none(pw_buf *b, pw_claim_list kind, const char *text)
{
    (void)kind;
    pw_buf_puts(b, "\\item[] ");
    esc(b, text);
    pw_buf_putc(b, '\n');
}

static void claims_close(pw_buf *b, pw_claim_list kind)
{
    (void)kind;
    pw_buf_puts(b, "\\end{claimlist}\n");
}

/* The readable table; the raw record is left to results.json (its CPU flag list alone fills a
 * page), with a sentence saying so. */
static void environment_open(pw_buf *b, pw_env_part part, const json_t *warnings)
{
    if (part == PW_ENV_RAW) {
        pw_buf_puts(b, "\\pwnote{The raw record, every field as captured, is in results.json beside "
                       "this report.}\n");
        return;
    }
    if (json_array_size(warnings)) {
        items(b, PW_ITEMS_WARNINGS, warnings);
        pw_buf_putc(b, '\n');
    }
    pw_buf_puts(b, "\\begin{longtable}{@{}ll@{}}\n\\toprule\n");
}

static void environment_row(pw_buf *b, pw_env_part part, const char *name, const char *text)
{
    if (part == PW_ENV_RAW) return;
    pw_buf_puts(b, "\\parbox[t]{0.25\\linewidth}{\\raggedright\\small ");
    esc(b, name);
    pw_buf_puts(b, "} & \\parbox[t]{0.72\\linewidth}{\\raggedright\\small ");
    esc(b, text);
    pw_buf_puts(b, "} \\\\\n");
}

static void environment_close(pw_buf *b, pw_env_part part)
{
    if (part == PW_ENV_SUMMARY) pw_buf_puts(b, "\\bottomrule\n\\end{longtable}\n");
}

/* After the title: every handicapped baseline, with the experiments carrying it. */
static void baseline_box(pw_buf *b, const pw_render_page *p)
{
    pw_render_notice *notices;
    size_t n = pw_render_baseline_notices(p->chapters, p->nchapters, &notices);
    if (n == 0) return;
    pw_buf_printf(b, "\\begin{pwbaselines}{%s}\n", n == 1 ? "A handicapped baseline" : "Handicapped baselines");
    for (size_t i = 0; i < n; i++) {
        pw_buf_puts(b, "\\item ");
        esc(b, notices[i].text);
        pw_buf_puts(b, notices[i].n > 1 ? " (figures from the first of " : " (");
        for (size_t k = 0; k < notices[i].n; k++) {
            if (k) pw_buf_puts(b, ", ");
            esc(b, notices[i].directives[k]->id);
        }
        pw_buf_puts(b, ")\n");
    }
    pw_buf_puts(b, "\\end{pwbaselines}\n");
    pw_render_notices_free(notices, n);
}

static int page(const pw_render_page *p, pw_buf *out)
{
    pw_buf body, env;
    pw_buf_init(&body);
    pw_buf_init(&env);
    for (size_t c = 0; c < p->nchapters; c++) {
        char *tex = cmark_render_latex(p->chapters[c]->doc, CMARK_OPT_DEFAULT, 0);
        pw_latex_unicode(&body, tex);
        pw_buf_puts(&body, "\n\\clearpage\n");
        free(tex);
    }
    pw_render_environment(&env, &pw_render_latex, p);
    pw_buf baselines;
    pw_buf_init(&baselines);
    baseline_box(&baselines, p);
    char *tmpl = NULL;
    int status = pw_render_template_read(p, "report.tex", &tmpl);
    if (status == PW_OK) {
        pw_template_var vars[] = {
            {"title", p->title}, {"body", body.data},
            {"environment", env.data}, {"generated", p->generated}, {"version", PW_VERSION},
            {"baselines", baselines.data},
            {"commit", pw_commit()},
        };
        status = pw_render_template_fill(p, "report.tex", tmpl, vars, sizeof vars / sizeof vars[0], out);
    }
    free(tmpl);
    pw_buf_release(&body);
    pw_buf_release(&env);
    pw_buf_release(&baselines);
    return status;
}

const pw_renderer pw_render_latex = {
    .name = "latex",
    .file = "report.tex",
    .figures = "pdf",
    .prose = true,
    .templates = (const char *const[]){"report.tex", NULL},
    .value = value,
    .previous = previous,
    .unmeasured = unmeasured,
    .missing = missing,
    .table = table,
    .figure = figure,
    .experiment_open = experiment_open,
    .experiment_error = experiment_error,
    .items = items,
    .folded = folded,
    .experiment_close = experiment_close,
    .counts = counts,
    .claims_open = claims_open,
    .group = group,
    .claim = claim,
    .claims_none = claims_none,
    .claims_close = claims_close,
    .environment_open = environment_open,
    .environment_row = environment_row,
    .environment_close = environment_close,
    .page = page,
};
