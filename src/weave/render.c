/* render.c — HTML and LaTeX fragments for experiment results (see render.h). */
#include "perfweave/render.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/escape.h"
#include "perfweave/exec.h"

static bool isalnum_ascii(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void esc(pw_buf *b, const char *s, pw_format fmt)
{
    if (!s) return;
    if (fmt == PW_FMT_HTML) pw_escape_html(b, s);
    else pw_escape_latex(b, s);
}

char *pw_render_chart_stem(const char *id, const char *chart_name)
{
    pw_buf b;
    pw_buf_init(&b);
    pw_buf_printf(&b, "%s-", id);
    for (const char *s = chart_name; *s; s++)
        pw_buf_putc(&b, (isalnum_ascii(*s) || *s == '-' || *s == '_') ? *s : '_');
    return pw_buf_detach(&b);
}

static bool listed(char *const *names, size_t n, const char *name)
{
    if (!names) return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return true;
    return false;
}

bool pw_render_shows_chart(const pw_directive *d, const char *name)
{
    return listed(d->charts, d->ncharts, name);
}

bool pw_render_shows_table(const pw_directive *d, const char *name)
{
    return listed(d->tables, d->ntables, name);
}

static const char *verdict_class(const char *v)
{
    if (!v) return "error";
    if (strcmp(v, "PASS") == 0) return "pass";
    if (strcmp(v, "PARTIAL") == 0) return "partial";
    if (strcmp(v, "FAIL") == 0) return "fail";
    if (strcmp(v, "UNDECIDED") == 0) return "undecided";
    return "error";
}

void pw_render_verdict(pw_buf *b, const char *verdict, pw_format fmt)
{
    if (!verdict) verdict = "ERROR";
    if (fmt == PW_FMT_HTML) {
        pw_buf_printf(b, "<span class=\"verdict v-%s\">", verdict_class(verdict));
        pw_escape_html(b, verdict);
        pw_buf_puts(b, "</span>");
    } else
        pw_buf_printf(b, "\\verdict%s{}", verdict_class(verdict));
}

void pw_render_inline(pw_buf *b, const pw_metric *m, pw_format fmt)
{
    pw_buf value, ci;
    pw_buf_init(&value);
    pw_buf_init(&ci);
    pw_format_value(&value, m);
    if (m->lo != m->hi) {
        pw_buf_puts(&ci, "95% CI ");
        pw_format_interval(&ci, m);
    }
    if (fmt == PW_FMT_HTML) {
        pw_buf_puts(b, "<span class=\"measured\" title=\"");
        pw_escape_html(b, m->name);
        pw_buf_puts(b, "\">");
        pw_escape_html(b, value.data);
        if (ci.len) {
            pw_buf_puts(b, " <span class=\"ci\">(");
            pw_escape_html(b, ci.data);
            pw_buf_puts(b, ")</span>");
        }
        pw_buf_puts(b, "</span>");
    } else {
        pw_buf_puts(b, "\\measured{");
        pw_escape_latex(b, value.data);
        pw_buf_puts(b, "}{");
        pw_escape_latex(b, ci.data);
        pw_buf_puts(b, "}");
    }
    pw_buf_release(&value);
    pw_buf_release(&ci);
}

void pw_render_stale_inline(pw_buf *b, const pw_metric *m, pw_format fmt)
{
    if (fmt == PW_FMT_HTML) {
        pw_buf_puts(b, "<span class=\"stale\" title=\"the previous result, shown until the new one is measured\">");
        pw_render_inline(b, m, fmt);
        pw_buf_puts(b, "<sup class=\"stale-tag\">previous</sup></span>");
    } else {
        pw_render_inline(b, m, fmt);
        pw_buf_puts(b, "\\textsuperscript{previous}");
    }
}

/* --- tables ------------------------------------------------------------------------------- */

void pw_render_table(pw_buf *b, const json_t *t, pw_format fmt, pw_numbering *num)
{
    const char *caption_prefix = NULL;
    json_t *cols = json_object_get(t, "columns"), *rows = json_object_get(t, "rows");
    size_t ncols = json_array_size(cols);
    const char *caption = json_string_value(json_object_get(t, "caption"));
    int no = ++num->table;
    size_t i, k;
    json_t *row, *cell;
    if (fmt == PW_FMT_HTML) {
        pw_buf_printf(b, "<div class=\"table-wrap\"><table class=\"results\" id=\"table-%d\">\n<caption><b>Table %d.</b> ", no, no);
        esc(b, caption_prefix, fmt);
        esc(b, caption, fmt);
        pw_buf_puts(b, "</caption>\n<thead><tr>");
        json_array_foreach(cols, i, cell) {
            pw_buf_puts(b, "<th>");
            esc(b, json_string_value(cell), fmt);
            pw_buf_puts(b, "</th>");
        }
        pw_buf_puts(b, "</tr></thead>\n<tbody>\n");
        json_array_foreach(rows, i, row) {
            pw_buf_puts(b, "<tr>");
            json_array_foreach(row, k, cell) {
                pw_buf_puts(b, k == 0 ? "<th scope=\"row\">" : "<td>");
                esc(b, json_string_value(cell), fmt);
                pw_buf_puts(b, k == 0 ? "</th>" : "</td>");
            }
            pw_buf_puts(b, "</tr>\n");
        }
        pw_buf_puts(b, "</tbody></table></div>\n");
        return;
    }
    pw_buf_puts(b, "\\begin{table}[htbp]\n\\centering\\small\n\\caption{");
    esc(b, caption_prefix, fmt);
    esc(b, caption, fmt);
    pw_buf_printf(b, "}\\label{table-%d}\n\\begin{tabular}{l", no);
    for (i = 1; i < ncols; i++) pw_buf_putc(b, 'r');
    pw_buf_puts(b, "}\n\\toprule\n");
    json_array_foreach(cols, i, cell) {
        if (i) pw_buf_puts(b, " & ");
        pw_buf_puts(b, "\\textbf{");
        esc(b, json_string_value(cell), fmt);
        pw_buf_puts(b, "}");
    }
    pw_buf_puts(b, " \\\\\n\\midrule\n");
    json_array_foreach(rows, i, row) {
        json_array_foreach(row, k, cell) {
            if (k) pw_buf_puts(b, " & ");
            esc(b, json_string_value(cell), fmt);
        }
        pw_buf_puts(b, " \\\\\n");
    }
    pw_buf_puts(b, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
}

/* --- figures ------------------------------------------------------------------------------ */

static void render_figure(pw_buf *b, const pw_directive *d, const json_t *chart, pw_format fmt,
                          pw_numbering *num, const char *figdir, const char *figrel)
{
    const char *name = json_string_value(json_object_get(chart, "name"));
    char *stem = pw_render_chart_stem(d->id, name ? name : "chart");
    pw_render_figure(b, chart, stem, fmt, num, figdir, figrel);
    free(stem);
}

void pw_render_figure(pw_buf *b, const json_t *chart, const char *stem, pw_format fmt,
                      pw_numbering *num, const char *figdir, const char *figrel)
{
    const char *caption = json_string_value(json_object_get(chart, "caption"));
    int no = ++num->figure;
    if (fmt == PW_FMT_HTML) {
        char *path = pw_xasprintf("%s/%s.svg", figdir, stem);
        char *svg = pw_read_file(path, NULL);
        pw_buf_printf(b, "<figure class=\"chart\" id=\"figure-%d\">\n", no);
        const char *start = svg ? strstr(svg, "<svg") : NULL;
        if (start) {
            pw_buf_puts(b, start);
        } else {
            pw_buf_puts(b, "<p class=\"missing\">(chart not rendered: ");
            esc(b, path, fmt);
            pw_buf_puts(b, " is missing)</p>");
        }
        pw_buf_printf(b, "\n<figcaption><b>Figure %d.</b> ", no);
        esc(b, caption, fmt);
        pw_buf_puts(b, " <span class=\"repro\">(");
        esc(b, figrel, fmt);
        pw_buf_putc(b, '/');
        esc(b, stem, fmt);
        pw_buf_puts(b, "-svg.gp)</span></figcaption>\n</figure>\n");
        free(svg);
        free(path);
    } else {
        pw_buf_printf(b, "\\begin{figure}[htbp]\n\\centering\n\\includegraphics[width=\\linewidth]{%s/%s.pdf}\n\\caption{",
                      figrel, stem);
        esc(b, caption, fmt);
        pw_buf_printf(b, "}\\label{figure-%d}\n\\end{figure}\n", no);
    }
}

/* --- claims -------------------------------------------------------------------------------- */

/* One sentence on the points of a claim: how many hold, fail, are undecided, and the MDE. */
static void claim_detail(pw_buf *b, const json_t *v)
{
    json_t *points = json_object_get(v, "points");
    size_t holds = 0, fails = 0, undecided = 0, i;
    json_t *p;
    json_array_foreach(points, i, p) {
        const char *st = json_string_value(json_object_get(p, "state"));
        if (!st) continue;
        if (strcmp(st, "holds") == 0) holds++;
        else if (strcmp(st, "fails") == 0) fails++;
        else undecided++;
    }
    const char *reason = json_string_value(json_object_get(v, "reason"));
    if (json_array_size(points) == 0) {
        pw_buf_puts(b, reason ? reason : "no measurement matched the claim");
        return;
    }
    pw_buf_printf(b, "%zu of %zu point%s hold", holds, json_array_size(points),
                  json_array_size(points) == 1 ? "" : "s");
    if (fails) pw_buf_printf(b, ", %zu fail", fails);
    if (undecided) pw_buf_printf(b, ", %zu undecided", undecided);
    pw_buf_puts(b, ": ");
    json_array_foreach(points, i, p) {
        if (i) pw_buf_puts(b, "; ");
        if (i >= 6) {
            pw_buf_printf(b, "… (%zu more)", json_array_size(points) - i);
            break;
        }
        pw_metric m = {0};
        m.name = json_string_value(json_object_get(p, "metric"));
        m.value = json_number_value(json_object_get(p, "value"));
        m.lo = json_number_value(json_object_get(p, "lo"));
        m.hi = json_number_value(json_object_get(p, "hi"));
        m.unit = json_string_value(json_object_get(p, "unit"));
        if (!m.unit) m.unit = "";
        const char *dotted = m.name ? strrchr(m.name, '.') : NULL;
        pw_buf_printf(b, "%s ", dotted ? dotted + 1 : (m.name ? m.name : "?"));
        pw_format_metric(b, &m);
        const char *st = json_string_value(json_object_get(p, "state"));
        if (st && strcmp(st, "undecided") == 0) {
            pw_buf_puts(b, " undecided");
            json_t *mde = json_object_get(p, "mde");
            if (json_is_number(mde)) pw_buf_printf(b, ", detectable effect %.1f%%", 100 * json_number_value(mde));
            json_t *need = json_object_get(p, "samples_needed");
            if (json_is_number(need)) pw_buf_printf(b, ", about %.0f samples would decide", json_number_value(need));
        }
    }
    /* Points that may not decide (a stale result, a handicapped baseline) say why once. */
    bool blocked = false;
    json_array_foreach(points, i, p) blocked = blocked || json_object_get(p, "reason") != NULL;
    if (blocked && reason) pw_buf_printf(b, " (%s)", reason);
}

/* The evidence sentence of a claim's verdict object, escaped for the format. */
static void put_detail(pw_buf *b, const json_t *v, pw_format fmt)
{
    pw_buf detail;
    pw_buf_init(&detail);
    claim_detail(&detail, v);
    esc(b, detail.data, fmt);
    pw_buf_release(&detail);
}

/* One claim as a LaTeX list item: badge, optional context (a chapter title), the claim, its
 * evidence. */
static void latex_claim_item(pw_buf *b, const json_t *v, const char *context)
{
    pw_buf_puts(b, "\\item ");
    pw_render_verdict(b, json_string_value(json_object_get(v, "verdict")), PW_FMT_LATEX);
    if (context) {
        pw_buf_puts(b, " \\textit{");
        esc(b, context, PW_FMT_LATEX);
        pw_buf_puts(b, "}:");
    }
    pw_buf_puts(b, " \\texttt{");
    esc(b, json_string_value(json_object_get(v, "claim")), PW_FMT_LATEX);
    pw_buf_puts(b, "} --- ");
    put_detail(b, v, PW_FMT_LATEX);
    pw_buf_putc(b, '\n');
}

static void render_claims(pw_buf *b, const pw_directive *d, pw_format fmt)
{
    if (!d->verdicts || json_array_size(d->verdicts) == 0) return;
    size_t i;
    json_t *v;
    if (fmt == PW_FMT_HTML) {
        pw_buf_puts(b, "<div class=\"table-wrap\"><table class=\"claims\">\n<thead><tr><th>Claim</th><th>Verdict</th><th>Evidence (95% intervals)</th></tr></thead>\n<tbody>\n");
        json_array_foreach(d->verdicts, i, v) {
            pw_buf_puts(b, "<tr><td><code>");
            esc(b, json_string_value(json_object_get(v, "claim")), fmt);
            pw_buf_puts(b, "</code></td><td>");
            pw_render_verdict(b, json_string_value(json_object_get(v, "verdict")), fmt);
            pw_buf_puts(b, "</td><td>");
            put_detail(b, v, fmt);
            pw_buf_puts(b, "</td></tr>\n");
        }
        pw_buf_puts(b, "</tbody></table></div>\n");
        return;
    }
    pw_buf_puts(b, "\\begin{claimlist}\n");
    json_array_foreach(d->verdicts, i, v) latex_claim_item(b, v, NULL);
    pw_buf_puts(b, "\\end{claimlist}\n");
}

static void render_list(pw_buf *b, const json_t *items, const char *cls, pw_format fmt)
{
    if (json_array_size(items) == 0) return;
    size_t i;
    json_t *s;
    if (fmt == PW_FMT_HTML) {
        pw_buf_printf(b, "<ul class=\"%s\">\n", cls);
        json_array_foreach(items, i, s) {
            pw_buf_puts(b, "<li>");
            esc(b, json_string_value(s), fmt);
            pw_buf_puts(b, "</li>\n");
        }
        pw_buf_puts(b, "</ul>\n");
    } else {
        json_array_foreach(items, i, s) {
            pw_buf_printf(b, "\\%s{", strcmp(cls, "warnings") == 0 ? "pwwarning" : "pwnote");
            esc(b, json_string_value(s), fmt);
            pw_buf_puts(b, "}\n");
        }
    }
}

/* "measured 2026-11-29 03:12 UTC on host in 12.3 s (from cache)" */
static void run_line(pw_buf *b, const pw_directive *d)
{
    json_t *doc = pw_result_json(d->result);
    json_t *run = json_object_get(doc, "run");
    const char *when = json_string_value(json_object_get(run, "measured_at"));
    const char *host = json_string_value(json_object_get(run, "host"));
    pw_buf_printf(b, "%s", d->experiment_name);
    if (when) pw_buf_printf(b, ", measured %s", when);
    if (host) pw_buf_printf(b, " on %s", host);
    json_t *secs = json_object_get(run, "seconds");
    if (json_is_number(secs)) pw_buf_printf(b, " in %.1f s", json_number_value(secs));
    json_t *rss = json_object_get(run, "peak_rss_kib");
    if (json_is_integer(rss) && json_integer_value(rss) > 0)
        pw_buf_printf(b, ", peak RSS %.1f MiB", (double)json_integer_value(rss) / 1024.0);
    if (json_is_true(json_object_get(run, "quick"))) pw_buf_puts(b, ", quick mode");
    const char *source = json_string_value(json_object_get(run, "source"));
    if (source && strcmp(source, "measured") != 0) pw_buf_printf(b, " (%s)", source);
}

/* A stand-in (exec.h) says so where the reader sees it: a sentence under the head (and, in HTML,
 * a class on the box). */
static void render_standin(pw_buf *b, pw_exec_standin_kind kind, const char *reason, pw_format fmt)
{
    if (kind == PW_EXEC_FRESH) return;
    if (!reason) reason = kind == PW_EXEC_STALE ? "this is the previous result" : "not measured yet";
    if (fmt == PW_FMT_HTML) {
        pw_buf_puts(b, "<p class=\"stale-note\">");
        pw_escape_html(b, reason);
        pw_buf_puts(b, "</p>\n");
    } else {
        pw_buf_puts(b, "\\pwwarning{");
        pw_escape_latex(b, reason);
        pw_buf_puts(b, "}\n");
    }
}

void pw_render_directive(pw_buf *b, const pw_directive *d, pw_format fmt, pw_numbering *num,
                         const char *figdir, const char *figrel)
{
    json_t *doc = d->result ? pw_result_json(d->result) : NULL;
    const char *prefix = d->caption;
    const char *stale_reason = NULL;
    pw_exec_standin_kind standin = d->result ? pw_exec_standin(d->result, &stale_reason, NULL) : PW_EXEC_FRESH;
    pw_buf info;
    pw_buf_init(&info);
    if (d->result) run_line(&info, d);
    if (fmt == PW_FMT_HTML) {
        pw_buf_puts(b, standin == PW_EXEC_STALE        ? "<section class=\"experiment stale\" id=\"result-"
                       : standin == PW_EXEC_UNMEASURED ? "<section class=\"experiment unmeasured\" id=\"result-"
                                                       : "<section class=\"experiment\" id=\"result-");
        esc(b, d->id, fmt);
        pw_buf_puts(b, "\">\n<div class=\"exp-head\"><span class=\"exp-id\">");
        esc(b, d->id, fmt);
        pw_buf_puts(b, "</span> <span class=\"exp-run\">");
        esc(b, info.data, fmt);
        pw_buf_puts(b, "</span></div>\n");
        if (prefix) {
            pw_buf_puts(b, "<p class=\"exp-caption\">");
            esc(b, prefix, fmt);
            pw_buf_puts(b, "</p>\n");
        }
    } else {
        pw_buf_puts(b, "\\begin{experiment}{");
        esc(b, d->id, fmt);
        pw_buf_puts(b, "}{");
        esc(b, info.data, fmt);
        pw_buf_puts(b, "}\n");
        if (prefix) {
            pw_buf_puts(b, "\\textit{");
            esc(b, prefix, fmt);
            pw_buf_puts(b, "}\n\n");
        }
    }
    pw_buf_release(&info);
    render_standin(b, standin, stale_reason, fmt);
    if (!d->result || pw_result_failed(d->result)) {
        const char *reason = d->result ? pw_result_error_reason(d->result) : "the experiment did not run";
        if (fmt == PW_FMT_HTML) {
            pw_buf_puts(b, "<div class=\"error-box\">");
            pw_render_verdict(b, "ERROR", fmt);
            pw_buf_puts(b, " ");
            esc(b, reason, fmt);
            pw_buf_puts(b, "</div>\n");
        } else {
            pw_buf_puts(b, "\\pwerror{");
            esc(b, reason, fmt);
            pw_buf_puts(b, "}\n");
        }
    }
    size_t i;
    json_t *item;
    if (doc) {
        json_array_foreach(json_object_get(doc, "charts"), i, item) {
            const char *name = json_string_value(json_object_get(item, "name"));
            if (name && pw_render_shows_chart(d, name)) render_figure(b, d, item, fmt, num, figdir, figrel);
        }
        json_array_foreach(json_object_get(doc, "tables"), i, item) {
            const char *name = json_string_value(json_object_get(item, "name"));
            if (name && pw_render_shows_table(d, name)) pw_render_table(b, item, fmt, num);
        }
    }
    render_claims(b, d, fmt);
    if (doc) {
        render_list(b, json_object_get(doc, "warnings"), "warnings", fmt);
        render_list(b, json_object_get(doc, "notes"), "notes", fmt);
    }
    pw_buf_puts(b, fmt == PW_FMT_HTML ? "</section>\n" : "\\end{experiment}\n");
}

/* --- report-wide summary ------------------------------------------------------------------- */

static const char *const verdict_names[5] = {"PASS", "PARTIAL", "FAIL", "UNDECIDED", "ERROR"};

static int verdict_index(const char *v)
{
    for (int i = 0; i < 5; i++)
        if (v && strcmp(v, verdict_names[i]) == 0) return i;
    return 4;
}

/* The module verdict of a chapter: aggregates its claims (ERROR if any experiment failed). */
static const char *chapter_verdict(const pw_chapter *c, size_t counts[5])
{
    size_t total = 0;
    for (int i = 0; i < 5; i++) counts[i] = 0;
    for (size_t k = 0; k < c->ndirectives; k++) {
        const pw_directive *d = c->directives[k];
        if (d->result && pw_result_failed(d->result) && d->nclaims == 0) { counts[4]++; total++; }
        size_t i;
        json_t *v;
        json_array_foreach(d->verdicts, i, v) {
            counts[verdict_index(json_string_value(json_object_get(v, "verdict")))]++;
            total++;
        }
    }
    if (total == 0) return NULL;
    if (counts[4]) return "ERROR";
    for (int i = 0; i < 4; i++)
        if (counts[i] == total && i != 1) return verdict_names[i];
    return "PARTIAL";
}

size_t pw_render_count_verdicts(pw_chapter *const *chapters, size_t n, size_t counts[5])
{
    size_t total = 0;
    for (int i = 0; i < 5; i++) counts[i] = 0;
    for (size_t c = 0; c < n; c++) {
        size_t local[5];
        chapter_verdict(chapters[c], local);
        for (int i = 0; i < 5; i++) {
            counts[i] += local[i];
            total += local[i];
        }
    }
    return total;
}

void pw_render_claim_summary(pw_buf *b, pw_chapter *const *chapters, size_t n, pw_format fmt)
{
    size_t counts[5];
    size_t total = pw_render_count_verdicts(chapters, n, counts);
    if (fmt == PW_FMT_HTML) {
        pw_buf_puts(b, "<div class=\"verdict-counts\">");
        for (int i = 0; i < 5; i++) {
            pw_buf_printf(b, "<span class=\"count\">%zu ", counts[i]);
            pw_render_verdict(b, verdict_names[i], fmt);
            pw_buf_puts(b, "</span> ");
        }
        pw_buf_printf(b, "<span class=\"total\">of %zu claims</span></div>\n", total);
        pw_buf_puts(b, "<div class=\"table-wrap\"><table class=\"claims summary\">\n<thead><tr><th>Module</th><th>Claim</th><th>Verdict</th><th>Evidence (95% intervals)</th></tr></thead>\n<tbody>\n");
    } else {
        pw_buf_printf(b, "\\noindent ");
        for (int i = 0; i < 5; i++) {
            pw_buf_printf(b, "%zu~", counts[i]);
            pw_render_verdict(b, verdict_names[i], fmt);
            pw_buf_puts(b, "\\quad ");
        }
        pw_buf_printf(b, "of %zu claims.\n\n", total);
        pw_buf_puts(b, "\\begin{claimlist}\n");
    }
    for (size_t c = 0; c < n; c++) {
        const pw_chapter *ch = chapters[c];
        size_t local[5];
        const char *mv = chapter_verdict(ch, local);
        if (!mv) continue;
        if (fmt == PW_FMT_HTML) {
            pw_buf_printf(b, "<tr class=\"module\"><th colspan=\"2\"><a href=\"#%s\">", ch->anchor);
            esc(b, ch->title, fmt);
            pw_buf_puts(b, "</a></th><td>");
            pw_render_verdict(b, mv, fmt);
            pw_buf_puts(b, "</td><td>module verdict</td></tr>\n");
        } else {
            pw_buf_puts(b, "\\item[] \\textbf{");
            esc(b, ch->title, fmt);
            pw_buf_puts(b, "} ");
            pw_render_verdict(b, mv, fmt);
            pw_buf_putc(b, '\n');
        }
        for (size_t k = 0; k < ch->ndirectives; k++) {
            const pw_directive *d = ch->directives[k];
            size_t i;
            json_t *v;
            json_array_foreach(d->verdicts, i, v) {
                const char *verdict = json_string_value(json_object_get(v, "verdict"));
                if (fmt == PW_FMT_HTML) {
                    pw_buf_puts(b, "<tr><td><a href=\"#result-");
                    esc(b, d->id, fmt);
                    pw_buf_puts(b, "\">");
                    esc(b, d->id, fmt);
                    pw_buf_puts(b, "</a></td><td><code>");
                    esc(b, json_string_value(json_object_get(v, "claim")), fmt);
                    pw_buf_puts(b, "</code></td><td>");
                    pw_render_verdict(b, verdict, fmt);
                    pw_buf_puts(b, "</td><td>");
                    put_detail(b, v, fmt);
                    pw_buf_puts(b, "</td></tr>\n");
                } else {
                    latex_claim_item(b, v, NULL);
                }
            }
        }
    }
    pw_buf_puts(b, fmt == PW_FMT_HTML ? "</tbody></table></div>\n" : "\\end{claimlist}\n");
}

/* --- the generated assessment -------------------------------------------------------------- */

/* One group of the assessment: every claim whose verdict is in verdicts[], as a list. */
static size_t assessment_group(pw_buf *b, pw_chapter *const *chapters, size_t n, const char *heading,
                               const char *const *verdicts, size_t nv, const char *none, pw_format fmt)
{
    if (fmt == PW_FMT_HTML) {
        pw_buf_puts(b, "<h3>");
        esc(b, heading, fmt);
        pw_buf_puts(b, "</h3>\n<ul class=\"assessment\">\n");
    } else {
        pw_buf_puts(b, "\\subsubsection*{");
        esc(b, heading, fmt);
        pw_buf_puts(b, "}\n\\begin{claimlist}\n");
    }
    size_t count = 0;
    for (size_t c = 0; c < n; c++) {
        const pw_chapter *ch = chapters[c];
        for (size_t k = 0; k < ch->ndirectives; k++) {
            const pw_directive *d = ch->directives[k];
            size_t i;
            json_t *v;
            json_array_foreach(d->verdicts, i, v) {
                const char *verdict = json_string_value(json_object_get(v, "verdict"));
                bool wanted = false;
                for (size_t j = 0; j < nv; j++)
                    if (verdict && strcmp(verdict, verdicts[j]) == 0) wanted = true;
                if (!wanted) continue;
                count++;
                if (fmt == PW_FMT_HTML) {
                    pw_buf_puts(b, "<li>");
                    pw_render_verdict(b, verdict, fmt);
                    pw_buf_printf(b, " <a href=\"#%s\">", ch->anchor);
                    esc(b, ch->title, fmt);
                    pw_buf_puts(b, "</a>: <code>");
                    esc(b, json_string_value(json_object_get(v, "claim")), fmt);
                    pw_buf_puts(b, "</code> — <span class=\"evidence\">");
                    put_detail(b, v, fmt);
                    pw_buf_puts(b, "</span></li>\n");
                } else {
                    latex_claim_item(b, v, ch->title);
                }
            }
        }
    }
    if (count == 0) {
        if (fmt == PW_FMT_HTML) {
            pw_buf_puts(b, "<li class=\"none\">");
            esc(b, none, fmt);
            pw_buf_puts(b, "</li>\n");
        } else {
            pw_buf_puts(b, "\\item[] ");
            esc(b, none, fmt);
            pw_buf_putc(b, '\n');
        }
    }
    pw_buf_puts(b, fmt == PW_FMT_HTML ? "</ul>\n" : "\\end{claimlist}\n");
    return count;
}

void pw_render_assessment(pw_buf *b, pw_chapter *const *chapters, size_t n, pw_format fmt)
{
    static const char *const works[] = {"PASS"}, *const fails[] = {"FAIL"},
                             *const open[] = {"PARTIAL", "UNDECIDED"}, *const broken[] = {"ERROR"};
    assessment_group(b, chapters, n, "What works: claims that held at every point", works, 1,
                     "No claim held at every point.", fmt);
    assessment_group(b, chapters, n, "What does not: claims that failed at every point", fails, 1,
                     "No claim failed outright.", fmt);
    assessment_group(b, chapters, n, "What we could not decide, or holds only in part", open, 2,
                     "Every claim was decided one way.", fmt);
    assessment_group(b, chapters, n, "What could not be measured", broken, 1,
                     "Every experiment ran and passed its correctness checks.", fmt);
}
