/* format_html.c — the HTML output format (render.h): all of the page's markup — tables,
 * inline SVG figures, verdict badges, claim tables and lists, inline values, the experiment box,
 * the environment section — and the page itself, one self-contained file from
 * templates/report.html with the CSS inlined.  Every string is escaped here, where it is used. */
#include "perfweave/render.h"

#include <stdlib.h>
#include <string.h>

#include "perfweave/escape.h"
#include "perfweave/version.h"

static void esc(pw_buf *b, const char *s)
{
    if (s) pw_escape_html(b, s);
}

static void verdict(pw_buf *b, const char *v)
{
    if (!v) v = "ERROR";
    pw_buf_printf(b, "<span class=\"verdict v-%s\">", pw_render_verdict_kind(v));
    esc(b, v);
    pw_buf_puts(b, "</span>");
}

/* The tooltip names the metric and, where the result says, how it was estimated. */
static void value(pw_buf *b, const char *metric, const char *text, const char *interval, const char *method)
{
    pw_buf_puts(b, "<span class=\"measured\" title=\"");
    esc(b, metric);
    if (method) {
        pw_buf_puts(b, ": ");
        esc(b, method);
    }
    pw_buf_puts(b, "\">");
    esc(b, text);
    if (*interval) {
        pw_buf_puts(b, " <span class=\"ci\">(");
        esc(b, interval);
        pw_buf_puts(b, ")</span>");
    }
    pw_buf_puts(b, "</span>");
}

static void previous(pw_buf *b, const char *metric, const char *text, const char *interval, const char *method)
{
    pw_buf_puts(b, "<span class=\"stale\" title=\"the previous result, shown until the new one is measured\">");
    value(b, metric, text, interval, method);
    pw_buf_puts(b, "<sup class=\"stale-tag\">previous</sup></span>");
}

static void unmeasured(pw_buf *b, const char *text)
{
    pw_buf_puts(b, "<span class=\"measured missing\">");
    esc(b, text);
    pw_buf_puts(b, "</span>");
}

static void missing(pw_buf *b, const char *text)
{
    pw_buf_puts(b, "<p class=\"missing\">");
    esc(b, text);
    pw_buf_puts(b, "</p>\n");
}

static void table(pw_buf *b, const json_t *t, int no)
{
    size_t i, k;
    json_t *row, *cell;
    pw_buf_printf(b, "<div class=\"table-wrap\"><table class=\"results\" id=\"table-%d\">\n<caption><b>Table %d.</b> ", no, no);
    esc(b, json_string_value(json_object_get(t, "caption")));
    pw_buf_puts(b, "</caption>\n<thead><tr>");
    json_array_foreach(json_object_get(t, "columns"), i, cell) {
        pw_buf_puts(b, "<th>");
        esc(b, json_string_value(cell));
        pw_buf_puts(b, "</th>");
    }
    pw_buf_puts(b, "</tr></thead>\n<tbody>\n");
    json_array_foreach(json_object_get(t, "rows"), i, row) {
        pw_buf_puts(b, "<tr>");
        json_array_foreach(row, k, cell) {
            pw_buf_puts(b, k == 0 ? "<th scope=\"row\">" : "<td>");
            esc(b, json_string_value(cell));
            pw_buf_puts(b, k == 0 ? "</th>" : "</td>");
        }
        pw_buf_puts(b, "</tr>\n");
    }
    pw_buf_puts(b, "</tbody></table></div>\n");
}

/* The chart's text alternative, for a screen reader and a search: what the axes show and the
 * series and reference lines drawn (the chart's own strings, escaped here). */
static void chart_description(pw_buf *b, const json_t *chart)
{
    pw_buf_puts(b, "x: ");
    esc(b, json_string_value(json_object_get(chart, "xlabel")));
    if (json_is_true(json_object_get(chart, "logx"))) pw_buf_puts(b, " (log scale)");
    pw_buf_puts(b, "; y: ");
    esc(b, json_string_value(json_object_get(chart, "ylabel")));
    if (json_is_true(json_object_get(chart, "logy"))) pw_buf_puts(b, " (log scale)");
    static const char *const kinds[][2] = {{"series", "Series"}, {"hlines", "Horizontal lines"},
                                           {"vlines", "Vertical lines"}};
    for (size_t k = 0; k < 3; k++) {
        json_t *list = json_object_get(chart, kinds[k][0]);
        if (!json_array_size(list)) continue;
        pw_buf_printf(b, ". %s: ", kinds[k][1]);
        size_t i;
        json_t *item;
        json_array_foreach(list, i, item) {
            if (i) pw_buf_puts(b, ", ");
            esc(b, json_string_value(json_object_get(item, "label")));
        }
    }
    pw_buf_puts(b, ". Error bars are 95% intervals.");
}

/* Copies svg up to the element open…close when it comes before the first group (the head of
 * the document) and returns what follows the element; otherwise copies nothing and returns svg. */
static const char *skip_element(pw_buf *b, const char *svg, const char *open, const char *close)
{
    const char *t = strstr(svg, open), *g = strstr(svg, "<g");
    const char *e = t ? strstr(t, close) : NULL;
    if (!e || (g && g < t)) return svg;
    pw_buf_put(b, svg, (size_t)(t - svg));
    return e + strlen(close);
}

/* gnuplot's SVG with its own <title>Gnuplot</title> and <desc> replaced by the chart's: the
 * opening tag gains role="img" and aria-labelledby pointing at them. */
static void inline_svg(pw_buf *b, const char *svg, const json_t *chart, int no)
{
    const char *open_end = strchr(svg, '>');
    if (!open_end) {
        pw_buf_puts(b, svg);
        return;
    }
    pw_buf_put(b, svg, (size_t)(open_end - svg));
    pw_buf_printf(b, " role=\"img\" aria-labelledby=\"figure-%d-title figure-%d-desc\">\n", no, no);
    pw_buf_printf(b, "<title id=\"figure-%d-title\">Figure %d. ", no, no);
    esc(b, json_string_value(json_object_get(chart, "caption")));
    pw_buf_printf(b, "</title>\n<desc id=\"figure-%d-desc\">", no);
    chart_description(b, chart);
    pw_buf_puts(b, "</desc>");
    /* Drop gnuplot's own title and description (they name the program, not the chart). */
    const char *rest = skip_element(b, open_end + 1, "<title>", "</title>");
    rest = skip_element(b, rest, "<desc>", "</desc>");
    pw_buf_puts(b, rest);
}

/* The SVG itself goes into the page (no external file), with the script that drew it named. */
static void figure(pw_buf *b, const json_t *chart, const char *stem, int no, const char *figdir, const char *figrel)
{
    char *path = pw_xasprintf("%s/%s.svg", figdir, stem);
    char *svg = pw_read_file(path, NULL);
    pw_buf_printf(b, "<figure class=\"chart\" id=\"figure-%d\">\n", no);
    const char *start = svg ? strstr(svg, "<svg") : NULL;
    if (start) {
        inline_svg(b, start, chart, no);
    } else {
        pw_buf_puts(b, "<p class=\"missing\">(chart not rendered: ");
        esc(b, path);
        pw_buf_puts(b, " is missing)</p>");
    }
    pw_buf_printf(b, "\n<figcaption><b>Figure %d.</b> ", no);
    esc(b, json_string_value(json_object_get(chart, "caption")));
    pw_buf_puts(b, " <span class=\"repro\">(");
    esc(b, figrel);
    pw_buf_putc(b, '/');
    esc(b, stem);
    pw_buf_puts(b, "-svg.gp)</span></figcaption>\n</figure>\n");
    free(svg);
    free(path);
}

static void experiment_open(pw_buf *b, const char *id, const char *run, const char *caption, const char *standin,
                            const char *reason)
{
    pw_buf_puts(b, "<section class=\"experiment");
    if (standin) {
        pw_buf_putc(b, ' ');
        esc(b, standin);
    }
    pw_buf_puts(b, "\" id=\"result-");
    esc(b, id);
    pw_buf_puts(b, "\">\n<div class=\"exp-head\"><span class=\"exp-id\">");
    esc(b, id);
    pw_buf_puts(b, "</span> <span class=\"exp-run\">");
    esc(b, run);
    pw_buf_puts(b, "</span></div>\n");
    if (caption) {
        pw_buf_puts(b, "<p class=\"exp-caption\">");
        esc(b, caption);
        pw_buf_puts(b, "</p>\n");
    }
    if (standin) {
        pw_buf_puts(b, "<p class=\"stale-note\">");
        esc(b, reason);
        pw_buf_puts(b, "</p>\n");
    }
}

static void experiment_error(pw_buf *b, const char *reason)
{
    pw_buf_puts(b, "<div class=\"error-box\">");
    verdict(b, "ERROR");
    pw_buf_puts(b, " ");
    esc(b, reason);
    pw_buf_puts(b, "</div>\n");
}

static void list_items(pw_buf *b, const json_t *strings)
{
    size_t i;
    json_t *s;
    json_array_foreach(strings, i, s) {
        pw_buf_puts(b, "<li>");
        esc(b, json_string_value(s));
        pw_buf_puts(b, "</li>\n");
    }
}

static void items(pw_buf *b, pw_item_list kind, const json_t *strings)
{
    static const char *const classes[] = {"warnings", "notes", "warnings blocking baseline",
                                          "warnings blocking disturbed"};
    pw_buf_printf(b, "<ul class=\"%s\">\n", classes[kind]);
    if (kind == PW_ITEMS_DISTURBED) {
        /* One sentence; say what it does to the claims below. */
        pw_buf_puts(b, "<li><b>Disturbed measurement:</b> ");
        esc(b, json_string_value(json_array_get(strings, 0)));
        pw_buf_puts(b, ". None of its timed values decides a claim; exact counts still do.</li>\n");
    } else {
        list_items(b, strings);
    }
    pw_buf_puts(b, "</ul>\n");
}

static void folded(pw_buf *b, pw_fold_kind kind, const char *summary, const json_t *details)
{
    pw_buf_printf(b, "<details class=\"fold %s\"><summary>", kind == PW_FOLD_PRECISION ? "precision" : "warnings");
    esc(b, summary);
    pw_buf_puts(b, "</summary>\n<ul>\n");
    list_items(b, details);
    pw_buf_puts(b, "</ul></details>\n");
}

static void experiment_close(pw_buf *b)
{
    pw_buf_puts(b, "</section>\n");
}

static void outcome(pw_buf *b, pw_outcome o)
{
    pw_buf_printf(b, "<span class=\"outcome o-%s\">", pw_render_outcome_kind(o));
    esc(b, pw_outcome_name(o));
    pw_buf_puts(b, "</span>");
}

/* "4 helped 3 did not help … of 10 claims" (the summary block and the page's head). */
static void count_spans(pw_buf *b, const size_t counts[PW_OUTCOMES], size_t total)
{
    for (int i = 0; i < PW_OUTCOMES; i++) {
        pw_buf_printf(b, "<span class=\"count\">%zu ", counts[i]);
        outcome(b, (pw_outcome)i);
        pw_buf_puts(b, "</span> ");
    }
    pw_buf_printf(b, "<span class=\"total\">of %zu claims</span>", total);
}

static void counts(pw_buf *b, const size_t counts[PW_OUTCOMES], size_t total)
{
    pw_buf_puts(b, "<div class=\"verdict-counts\">");
    count_spans(b, counts, total);
    pw_buf_puts(b, "</div>\n");
}

static const char claims_head[] =
    "<th>Claim</th><th>Verdict</th><th>Evidence (95% intervals)</th></tr></thead>\n<tbody>\n";

static void claims_open(pw_buf *b, pw_claim_list kind, const char *heading)
{
    switch (kind) {
    case PW_CLAIMS_EXPERIMENT:
        pw_buf_printf(b, "<div class=\"table-wrap\"><table class=\"claims\">\n<thead><tr>%s", claims_head);
        break;
    case PW_CLAIMS_SUMMARY:
        pw_buf_printf(b, "<div class=\"table-wrap\"><table class=\"claims summary\">\n<thead><tr><th>Module</th>"
                      "<th>Experiment</th>%s", claims_head);
        break;
    case PW_CLAIMS_ASSESSMENT:
        pw_buf_puts(b, "<h3>");
        esc(b, heading);
        pw_buf_puts(b, "</h3>\n<ul class=\"assessment\">\n");
        break;
    }
}

static void group(pw_buf *b, pw_outcome o, const char *heading, size_t count)
{
    pw_buf_printf(b, "<tr class=\"group o-%s\"><th colspan=\"5\">", pw_render_outcome_kind(o));
    esc(b, heading);
    pw_buf_printf(b, " (%zu)</th></tr>\n", count);
}

/* The statement as written, and in an experiment's box what its verdict means. */
static void statement(pw_buf *b, const pw_render_claim *c)
{
    pw_buf_puts(b, "<code>");
    esc(b, c->statement);
    pw_buf_puts(b, "</code>");
}

static void claim(pw_buf *b, pw_claim_list kind, const pw_render_claim *c)
{
    if (kind == PW_CLAIMS_ASSESSMENT) {
        pw_buf_puts(b, "<li>");
        verdict(b, c->verdict);
        pw_buf_printf(b, " <a href=\"#%s\">", c->chapter->anchor);
        esc(b, c->chapter->title);
        pw_buf_puts(b, "</a>");
        if (c->context) {
            pw_buf_puts(b, " (");
            esc(b, c->context);
            pw_buf_puts(b, ")");
        }
        pw_buf_puts(b, ": ");
        statement(b, c);
        pw_buf_puts(b, " — <span class=\"evidence\">");
        esc(b, c->evidence);
        pw_buf_puts(b, "</span></li>\n");
        return;
    }
    pw_buf_puts(b, "<tr>");
    if (kind == PW_CLAIMS_SUMMARY) {
        pw_buf_printf(b, "<td><a href=\"#%s\">", c->chapter->anchor);
        esc(b, c->chapter->title);
        pw_buf_puts(b, "</a></td><td><a href=\"#result-");
        esc(b, c->directive->id);
        pw_buf_puts(b, "\">");
        esc(b, c->context ? c->context : c->directive->id);
        pw_buf_puts(b, "</a></td>");
    }
    pw_buf_puts(b, "<td>");
    statement(b, c);
    pw_buf_puts(b, "</td><td>");
    verdict(b, c->verdict);
    if (kind == PW_CLAIMS_EXPERIMENT) {
        pw_buf_puts(b, " ");
        outcome(b, c->outcome);
    }
    pw_buf_puts(b, "</td><td>");
    esc(b, c->evidence);
    pw_buf_puts(b, "</td></tr>\n");
}

static void claims_none(pw_buf *b, pw_claim_list kind, const char *text)
{
    (void)kind;
    pw_buf_puts(b, "<li class=\"none\">");
    esc(b, text);
    pw_buf_puts(b, "</li>\n");
}

static void claims_close(pw_buf *b, pw_claim_list kind)
{
    pw_buf_puts(b, kind == PW_CLAIMS_ASSESSMENT ? "</ul>\n" : "</tbody></table></div>\n");
}

/* The readable table, then the raw record folded. */
static void environment_open(pw_buf *b, pw_env_part part, const json_t *warnings)
{
    if (part == PW_ENV_RAW) {
        pw_buf_puts(b, "<details class=\"env-raw\"><summary>The raw record: every field as captured "
                       "(results.json holds it too)</summary>\n<table class=\"env raw\"><tbody>\n");
        return;
    }
    if (json_array_size(warnings)) items(b, PW_ITEMS_WARNINGS, warnings);
    pw_buf_puts(b, "<table class=\"env\"><tbody>\n");
}

static void environment_row(pw_buf *b, pw_env_part part, const char *name, const char *text)
{
    (void)part;
    pw_buf_puts(b, "<tr><th scope=\"row\">");
    esc(b, name);
    pw_buf_puts(b, "</th><td>");
    esc(b, text);
    pw_buf_puts(b, "</td></tr>\n");
}

static void environment_close(pw_buf *b, pw_env_part part)
{
    pw_buf_puts(b, part == PW_ENV_RAW ? "</tbody></table></details>\n" : "</tbody></table>\n");
}

/* The box above the contents: every handicapped baseline, with a link to each experiment. */
static void baseline_box(pw_buf *b, const pw_render_page *p)
{
    pw_render_notice *notices;
    size_t n = pw_render_baseline_notices(p->chapters, p->nchapters, &notices);
    if (n == 0) return;
    pw_buf_printf(b, "<aside class=\"baseline-box\" id=\"baselines\" aria-label=\"Handicapped baselines\">\n"
                     "<h2>⚠ %s</h2>\n<p>A library below is far from this machine's peak. Every claim that "
                     "compares against it is shown but decides nothing: it is UNDECIDED, with "
                     "“handicapped baseline” in its evidence.</p>\n<ul>\n",
                  n == 1 ? "A handicapped baseline" : "Handicapped baselines");
    for (size_t i = 0; i < n; i++) {
        pw_buf_puts(b, "<li>");
        esc(b, notices[i].text);
        pw_buf_puts(b, " <span class=\"seen-in\">(");
        if (notices[i].n > 1) pw_buf_puts(b, "figures from the first of ");
        for (size_t k = 0; k < notices[i].n; k++) {
            pw_buf_puts(b, k ? ", " : "");
            pw_buf_puts(b, "<a href=\"#result-");
            esc(b, notices[i].directives[k]->id);
            pw_buf_puts(b, "\">");
            esc(b, notices[i].directives[k]->id);
            pw_buf_puts(b, "</a>");
        }
        pw_buf_puts(b, ")</span></li>\n");
    }
    pw_buf_puts(b, "</ul>\n</aside>\n");
    pw_render_notices_free(notices, n);
}

/* Each chapter as a section with its tree rendered by libcmark, and links to its neighbours. */
static void chapters(pw_buf *body, pw_buf *toc, const pw_render_page *p)
{
    pw_buf_puts(toc, "<ol>\n");
    for (size_t c = 0; c < p->nchapters; c++) {
        const pw_chapter *ch = p->chapters[c];
        char *html = cmark_render_html(ch->doc, CMARK_OPT_DEFAULT);
        pw_buf_printf(body, "<section class=\"chapter\" id=\"%s\">\n%s", ch->anchor, html);
        pw_buf_puts(body, "<nav class=\"chapter-nav\">");
        if (c > 0) pw_buf_printf(body, "<a href=\"#%s\">← previous</a> ", p->chapters[c - 1]->anchor);
        pw_buf_puts(body, "<a href=\"#top\">contents</a>");
        if (c + 1 < p->nchapters) pw_buf_printf(body, " <a href=\"#%s\">next →</a>", p->chapters[c + 1]->anchor);
        pw_buf_puts(body, "</nav>\n</section>\n");
        free(html);
        pw_buf_printf(toc, "<li><a href=\"#%s\">", ch->anchor);
        esc(toc, ch->title);
        pw_buf_puts(toc, "</a></li>\n");
    }
    pw_buf_puts(toc, "</ol>\n");
}

static int page(const pw_render_page *p, pw_buf *out)
{
    pw_buf body, toc, summary, env;
    pw_buf_init(&body);
    pw_buf_init(&toc);
    pw_buf_init(&summary);
    pw_buf_init(&env);
    chapters(&body, &toc, p);
    size_t n[PW_OUTCOMES];
    size_t total = pw_render_count_outcomes(p->chapters, p->nchapters, n);
    count_spans(&summary, n, total);
    size_t nwarnings = json_array_size(p->env_warnings);
    if (nwarnings)
        pw_buf_printf(&summary, " <a class=\"noise\" href=\"#environment\">⚠ %zu measurement-environment warning%s</a>",
                      nwarnings, nwarnings == 1 ? "" : "s");
    pw_render_environment(&env, &pw_render_html, p);
    pw_buf baselines;
    pw_buf_init(&baselines);
    baseline_box(&baselines, p);
    char *tmpl = NULL, *css = NULL;
    int status = pw_render_template_read(p, "report.html", &tmpl);
    if (status == PW_OK) status = pw_render_template_read(p, "report.css", &css);
    if (status == PW_OK) {
        pw_template_var vars[] = {
            {"title", p->title}, {"css", css},
            {"toc", toc.data}, {"body", body.data}, {"summary", summary.data},
            {"environment", env.data}, {"generated", p->generated}, {"version", PW_VERSION},
            {"baselines", baselines.data},
            {"commit", pw_commit()},
        };
        status = pw_render_template_fill(p, "report.html", tmpl, vars, sizeof vars / sizeof vars[0], out);
    }
    free(tmpl);
    free(css);
    pw_buf_release(&body);
    pw_buf_release(&toc);
    pw_buf_release(&summary);
    pw_buf_release(&env);
    pw_buf_release(&baselines);
    return status;
}

const pw_renderer pw_render_html = {
    .name = "html",
    .file = "report.html",
    .figures = "svg",
    .prose = true,
    .templates = (const char *const[]){"report.html", "report.css", NULL},
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
