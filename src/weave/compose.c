/* compose.c — the report's documents: charts through gnuplot, custom nodes in place of
 * directives and references, their per-format text, and the HTML and LaTeX documents filled
 * into the templates.  (Split by output format next; report.c only calls the entry points.) */
#include "report_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/escape.h"
#include "perfweave/plot.h"
#include "perfweave/render.h"
#include "perfweave/template.h"
#include "perfweave/version.h"

int pw_report_render_charts(pw_report *r)
{
    bool svg = r->opt->html, pdf = r->opt->latex || r->opt->pdf;
    for (size_t k = 0; k < r->nspecials; k++) {
        special_block *sb = &r->specials[k];
        if (sb->kind != SPECIAL_HISTORY || !sb->object) continue;
        char msg[512];
        if (pw_plot_render(sb->object, r->figdir, sb->stem, svg, pdf, r->prev_figdir, msg, sizeof msg) != PW_OK) {
            pw_report_tell(r, PW_REPORT_ERROR, sb->file, sb->line, "%s", msg);
            return PW_ECHILD;
        }
    }
    for (size_t c = 0; c < r->nchapters; c++) {
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            pw_directive *d = r->chapters[c]->directives[k];
            if (!d->result) continue;
            size_t i;
            json_t *chart;
            json_array_foreach(json_object_get(pw_result_json(d->result), "charts"), i, chart) {
                const char *name = json_string_value(json_object_get(chart, "name"));
                if (!name || !pw_render_shows_chart(d, name)) continue;
                char *stem = pw_render_chart_stem(d->id, name);
                char msg[512];
                int status = pw_plot_render(chart, r->figdir, stem, svg, pdf, r->prev_figdir, msg, sizeof msg);
                free(stem);
                if (status != PW_OK) {
                    pw_report_tell(r, PW_REPORT_ERROR, d->file, d->line, "%s", msg);
                    return status;
                }
            }
        }
    }
    return PW_OK;
}

/* Replaces directive and reference nodes by custom nodes (once), so that each format pass only
 * sets their text. */
void pw_report_install_custom_nodes(pw_report *r)
{
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        for (size_t k = 0; k < ch->ndirectives; k++) {
            pw_directive *d = ch->directives[k];
            cmark_node *custom = cmark_node_new(CMARK_NODE_CUSTOM_BLOCK);
            cmark_node_replace(d->node, custom);
            cmark_node_free(d->node);
            d->node = custom;
        }
        for (size_t k = 0; k < ch->nrefs; k++) {
            cmark_node *custom = cmark_node_new(CMARK_NODE_CUSTOM_INLINE);
            cmark_node_replace(ch->refs[k].node, custom);
            cmark_node_free(ch->refs[k].node);
            ch->refs[k].node = custom;
        }
    }
    for (size_t k = 0; k < r->nspecials; k++) {
        special_block *sb = &r->specials[k];
        cmark_node *custom = cmark_node_new(CMARK_NODE_CUSTOM_BLOCK);
        cmark_node_set_user_data(custom, sb);
        cmark_node_replace(sb->node, custom);
        cmark_node_free(sb->node);
        sb->node = custom;
    }
}

static void set_custom_text(pw_report *r, pw_format fmt, pw_numbering *num)
{
    const char *figrel = "figures";
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        cmark_iter *it = cmark_iter_new(ch->doc);
        cmark_event_type ev;
        /* Walk in document order so that tables and figures are numbered as they appear. */
        while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *node = cmark_iter_get_node(it);
            if (ev != CMARK_EVENT_ENTER) continue;
            cmark_node_type type = cmark_node_get_type(node);
            if (type == CMARK_NODE_CUSTOM_BLOCK) {
                pw_buf b;
                pw_buf_init(&b);
                special_block *sb = cmark_node_get_user_data(node);
                if (sb && sb->kind == SPECIAL_SUMMARY) {
                    pw_render_claim_summary(&b, r->chapters, r->nchapters, fmt);
                } else if (sb && sb->kind == SPECIAL_ASSESSMENT) {
                    pw_render_assessment(&b, r->chapters, r->nchapters, fmt);
                } else if (sb && sb->object && sb->kind == SPECIAL_HISTORY) {
                    pw_render_figure(&b, sb->object, sb->stem, fmt, num, r->figdir, figrel);
                } else if (sb && sb->object) {
                    pw_render_table(&b, sb->object, fmt, num);
                } else if (sb) {
                    pw_buf_puts(&b, fmt == PW_FMT_HTML ? "<p class=\"missing\">" : "\\textit{");
                    if (fmt == PW_FMT_HTML) pw_escape_html(&b, sb->empty ? sb->empty : "");
                    else pw_escape_latex(&b, sb->empty ? sb->empty : "");
                    pw_buf_puts(&b, fmt == PW_FMT_HTML ? "</p>\n" : "}\n");
                } else {
                    for (size_t k = 0; k < ch->ndirectives; k++)
                        if (ch->directives[k]->node == node)
                            pw_render_directive(&b, ch->directives[k], fmt, num, r->figdir, figrel);
                }
                cmark_node_set_on_enter(node, b.data);
                cmark_node_set_on_exit(node, "");
                pw_buf_release(&b);
            } else if (type == CMARK_NODE_CUSTOM_INLINE) {
                for (size_t k = 0; k < ch->nrefs; k++) {
                    if (ch->refs[k].node != node) continue;
                    pw_directive *d = pw_report_find_directive(r, ch->refs[k].id);
                    pw_metric m;
                    pw_buf b;
                    pw_buf_init(&b);
                    pw_exec_standin_kind standin = d && d->result ? pw_exec_standin(d->result, NULL, NULL) : PW_EXEC_FRESH;
                    bool found = d && d->result && pw_result_get_metric(d->result, ch->refs[k].metric, &m) == PW_OK;
                    if (found && standin == PW_EXEC_STALE) /* a previous value: said so beside it */
                        pw_render_stale_inline(&b, &m, fmt);
                    else if (found)
                        pw_render_inline(&b, &m, fmt);
                    else if (standin != PW_EXEC_FRESH)
                        pw_buf_puts(&b, fmt == PW_FMT_HTML ? "<span class=\"measured missing\">[not measured yet]</span>"
                                                           : "\\textbf{[not measured yet]}");
                    else if (fmt == PW_FMT_HTML)
                        pw_buf_puts(&b, "<span class=\"measured missing\">[not measured: the experiment ended in ERROR]</span>");
                    else
                        pw_buf_puts(&b, "\\textbf{[not measured: the experiment ended in ERROR]}");
                    cmark_node_set_on_enter(node, b.data);
                    cmark_node_set_on_exit(node, "");
                    pw_buf_release(&b);
                }
            }
        }
        cmark_iter_free(it);
    }
}

static char *read_template(pw_report *r, const char *name)
{
    char *path = pw_xasprintf("%s/%s", r->opt->templates_dir, name);
    char *text = pw_read_file(path, NULL);
    if (!text) pw_report_tell(r, PW_REPORT_ERROR, NULL, 0, "cannot read template %s: %s", path, strerror(errno));
    free(path);
    return text;
}

/* One row per leaf of the environment document, nested keys dotted ("cpu.model"). */
static void environment_rows(pw_buf *b, const char *prefix, const json_t *obj, pw_format fmt)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        char *name = prefix ? pw_xasprintf("%s.%s", prefix, key) : pw_xstrdup(key);
        if (json_is_object(v)) {
            environment_rows(b, name, v, fmt);
            free(name);
            continue;
        }
        char *text = json_is_string(v) ? pw_xstrdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (fmt == PW_FMT_HTML) {
            pw_buf_puts(b, "<tr><th>");
            pw_escape_html(b, name);
            pw_buf_puts(b, "</th><td>");
            pw_escape_html(b, text ? text : "");
            pw_buf_puts(b, "</td></tr>\n");
        } else {
            pw_escape_latex(b, name);
            pw_buf_puts(b, " & \\parbox[t]{0.7\\linewidth}{\\raggedright\\small ");
            /* The CPU flag list is long; LaTeX gets its first part. */
            if (text && strlen(text) > 400) strcpy(text + 396, "...");
            pw_escape_latex(b, text ? text : "");
            pw_buf_puts(b, "} \\\\\n");
        }
        free(text);
        free(name);
    }
}

static void environment_text(pw_buf *b, const json_t *env, const json_t *warnings, pw_format fmt)
{
    if (json_array_size(warnings)) {
        size_t i;
        json_t *w;
        pw_buf_puts(b, fmt == PW_FMT_HTML ? "<ul class=\"warnings\">\n" : "");
        json_array_foreach(warnings, i, w) {
            if (fmt == PW_FMT_HTML) {
                pw_buf_puts(b, "<li>");
                pw_escape_html(b, json_string_value(w));
                pw_buf_puts(b, "</li>\n");
            } else {
                pw_buf_puts(b, "\\pwwarning{");
                pw_escape_latex(b, json_string_value(w));
                pw_buf_puts(b, "}\n");
            }
        }
        pw_buf_puts(b, fmt == PW_FMT_HTML ? "</ul>\n" : "\n");
    }
    if (fmt == PW_FMT_HTML) pw_buf_puts(b, "<table class=\"env\"><tbody>\n");
    else pw_buf_puts(b, "\\begin{longtable}{@{}ll@{}}\n\\toprule\n");
    environment_rows(b, NULL, env, fmt);
    pw_buf_puts(b, fmt == PW_FMT_HTML ? "</tbody></table>\n" : "\\bottomrule\n\\end{longtable}\n");
}

int pw_report_render_html(pw_report *r, pw_buf *out)
{
    pw_numbering num = {0, 0};
    set_custom_text(r, PW_FMT_HTML, &num);
    pw_buf body, toc, summary, env;
    pw_buf_init(&body);
    pw_buf_init(&toc);
    pw_buf_init(&summary);
    pw_buf_init(&env);
    pw_buf_puts(&toc, "<ol>\n");
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        char *html = cmark_render_html(ch->doc, CMARK_OPT_DEFAULT);
        pw_buf_printf(&body, "<section class=\"chapter\" id=\"%s\">\n%s", ch->anchor, html);
        pw_buf_puts(&body, "<nav class=\"chapter-nav\">");
        if (c > 0) pw_buf_printf(&body, "<a href=\"#%s\">← previous</a> ", r->chapters[c - 1]->anchor);
        pw_buf_puts(&body, "<a href=\"#top\">contents</a>");
        if (c + 1 < r->nchapters) pw_buf_printf(&body, " <a href=\"#%s\">next →</a>", r->chapters[c + 1]->anchor);
        pw_buf_puts(&body, "</nav>\n</section>\n");
        free(html);
        pw_buf_printf(&toc, "<li><a href=\"#%s\">", ch->anchor);
        pw_escape_html(&toc, ch->title);
        pw_buf_puts(&toc, "</a></li>\n");
    }
    pw_buf_puts(&toc, "</ol>\n");
    size_t counts[5];
    size_t total = pw_render_count_verdicts(r->chapters, r->nchapters, counts);
    static const char *const names[5] = {"PASS", "PARTIAL", "FAIL", "UNDECIDED", "ERROR"};
    for (int i = 0; i < 5; i++) {
        pw_buf_printf(&summary, "<span class=\"count\">%zu ", counts[i]);
        pw_render_verdict(&summary, names[i], PW_FMT_HTML);
        pw_buf_puts(&summary, "</span> ");
    }
    pw_buf_printf(&summary, "<span class=\"total\">of %zu claims</span>", total);
    if (json_array_size(r->env_warnings))
        pw_buf_printf(&summary, " <a class=\"noise\" href=\"#environment\">⚠ %zu measurement-environment warning%s</a>",
                      json_array_size(r->env_warnings), json_array_size(r->env_warnings) == 1 ? "" : "s");
    environment_text(&env, r->environment, r->env_warnings, PW_FMT_HTML);
    char *tmpl = read_template(r, "report.html");
    char *css = read_template(r, "report.css");
    int status = PW_EIO;
    if (tmpl && css) {
        char msg[256];
        pw_template_var vars[] = {
            {"title", "perfweave: do ML-systems optimizations deliver?"}, {"css", css},
            {"toc", toc.data}, {"body", body.data}, {"summary", summary.data},
            {"environment", env.data}, {"generated", r->stamp}, {"version", PW_VERSION},
            {"commit", pw_commit()},
        };
        status = pw_template_expand(tmpl, vars, sizeof vars / sizeof vars[0], out, msg, sizeof msg);
        if (status != PW_OK) pw_report_tell(r, PW_REPORT_ERROR, NULL, 0, "%s/report.html:%s", r->opt->templates_dir, msg + 4);
    }
    free(tmpl);
    free(css);
    pw_buf_release(&body);
    pw_buf_release(&toc);
    pw_buf_release(&summary);
    pw_buf_release(&env);
    return status;
}

int pw_report_render_latex(pw_report *r, pw_buf *out)
{
    pw_numbering num = {0, 0};
    set_custom_text(r, PW_FMT_LATEX, &num);
    pw_buf body, env;
    pw_buf_init(&body);
    pw_buf_init(&env);
    for (size_t c = 0; c < r->nchapters; c++) {
        char *tex = cmark_render_latex(r->chapters[c]->doc, CMARK_OPT_DEFAULT, 0);
        pw_latex_unicode(&body, tex);
        pw_buf_puts(&body, "\n\\clearpage\n");
        free(tex);
    }
    environment_text(&env, r->environment, r->env_warnings, PW_FMT_LATEX);
    char *tmpl = read_template(r, "report.tex");
    int status = PW_EIO;
    if (tmpl) {
        char msg[256];
        pw_template_var vars[] = {
            {"title", "perfweave: do ML-systems optimizations deliver?"}, {"body", body.data},
            {"environment", env.data}, {"generated", r->stamp}, {"version", PW_VERSION},
            {"commit", pw_commit()},
        };
        status = pw_template_expand(tmpl, vars, sizeof vars / sizeof vars[0], out, msg, sizeof msg);
        if (status != PW_OK) pw_report_tell(r, PW_REPORT_ERROR, NULL, 0, "%s/report.tex:%s", r->opt->templates_dir, msg + 4);
    }
    free(tmpl);
    pw_buf_release(&body);
    pw_buf_release(&env);
    return status;
}
