/* compose.c — the report's documents: charts through gnuplot, custom nodes in place of
 * directives, references and special blocks, their text from one output format's renderer
 * (render.h) — what each node shows is decided here and in render.c, how it looks in the
 * format's file — and that format's page. */
#include "report_internal.h"

#include <stdlib.h>
#include <string.h>

#include "perfweave/plot.h"
#include "perfweave/render.h"

/* True when one of the documents being written refers to chart files of this kind. */
static bool wants_figures(const pw_report *r, const char *kind)
{
    for (size_t i = 0; i < r->nrenderers; i++)
        if (r->renderers[i]->figures && strcmp(r->renderers[i]->figures, kind) == 0) return true;
    return false;
}

int pw_report_render_charts(pw_report *r)
{
    bool svg = wants_figures(r, "svg"), pdf = wants_figures(r, "pdf");
    if (!svg && !pdf) return PW_OK;
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

/* Sets the text of every custom node to R's fragment for it, walking each chapter in document
 * order so that tables and figures are numbered as they appear. */
static void set_custom_text(pw_report *r, const pw_renderer *R)
{
    static const char figrel[] = "figures";
    pw_numbering num = {0, 0};
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        cmark_iter *it = cmark_iter_new(ch->doc);
        cmark_event_type ev;
        while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *node = cmark_iter_get_node(it);
            if (ev != CMARK_EVENT_ENTER) continue;
            cmark_node_type type = cmark_node_get_type(node);
            if (type == CMARK_NODE_CUSTOM_BLOCK) {
                pw_buf b;
                pw_buf_init(&b);
                special_block *sb = cmark_node_get_user_data(node);
                if (sb && sb->kind == SPECIAL_SUMMARY) {
                    pw_render_claim_summary(&b, R, r->chapters, r->nchapters);
                } else if (sb && sb->kind == SPECIAL_ASSESSMENT) {
                    pw_render_assessment(&b, R, r->chapters, r->nchapters);
                } else if (sb && sb->object && sb->kind == SPECIAL_HISTORY) {
                    pw_render_figure(&b, R, &num, sb->object, sb->stem, r->figdir, figrel);
                } else if (sb && sb->object) {
                    pw_render_table(&b, R, &num, sb->object);
                    if (sb->notes) R->items(&b, PW_ITEMS_NOTES, sb->notes);
                } else if (sb) {
                    R->missing(&b, sb->empty ? sb->empty : "");
                } else {
                    for (size_t k = 0; k < ch->ndirectives; k++)
                        if (ch->directives[k]->node == node)
                            pw_render_directive(&b, R, &num, ch->directives[k], r->figdir, figrel);
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
                    if (d && d->result && pw_result_get_metric(d->result, ch->refs[k].metric, &m) == PW_OK)
                        pw_render_inline(&b, R, &m, standin == PW_EXEC_STALE); /* a previous value says so */
                    else if (standin != PW_EXEC_FRESH)
                        R->unmeasured(&b, "[not measured yet]");
                    else
                        R->unmeasured(&b, "[not measured: the experiment ended in ERROR]");
                    cmark_node_set_on_enter(node, b.data);
                    cmark_node_set_on_exit(node, "");
                    pw_buf_release(&b);
                }
            }
        }
        cmark_iter_free(it);
    }
}

static void page_error(void *ctx, const char *text)
{
    pw_report_tell(ctx, PW_REPORT_ERROR, NULL, 0, "%s", text);
}

int pw_report_render_document(pw_report *r, const pw_renderer *R, pw_buf *out)
{
    if (R->prose) set_custom_text(r, R);
    pw_render_page page = {
        .chapters = r->chapters,
        .nchapters = r->nchapters,
        .environment = r->environment,
        .environment_after = r->environment_after,
        .env_warnings = r->env_warnings,
        .title = "perfweave: do ML-systems optimizations deliver?",
        .generated = r->stamp,
        .templates_dir = r->opt->templates_dir,
        .error = page_error,
        .ctx = r,
    };
    return R->page(&page, out);
}
