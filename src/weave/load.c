/* load.c — the first stage of a report: every chapter parsed, ids and labels checked unique
 * across the report, every inline reference resolved to an id and every conditional text to a
 * label, and the special blocks (summary, assessment, history, matrix) collected and validated
 * — all before anything runs. */
#include "report_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

pw_directive *pw_report_find_directive(pw_report *r, const char *id)
{
    for (size_t c = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++)
            if (strcmp(r->chapters[c]->directives[k]->id, id) == 0) return r->chapters[c]->directives[k];
    return NULL;
}

pw_directive *pw_report_find_label(pw_report *r, const char *label, bool *condition, size_t *index)
{
    for (size_t c = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            pw_directive *d = r->chapters[c]->directives[k];
            for (int cond = 0; cond < 2; cond++) {
                const pw_claim *list = cond ? d->conditions : d->claims;
                size_t n = cond ? d->nconditions : d->nclaims;
                for (size_t i = 0; i < n; i++)
                    if (list[i].label && strcmp(list[i].label, label) == 0) {
                        *condition = cond;
                        *index = i;
                        return d;
                    }
            }
        }
    return NULL;
}

/* Labels are report-wide and unique; every conditional text names one. */
static void check_labels(pw_report *r)
{
    json_t *seen = json_object();
    for (size_t c = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            pw_directive *d = r->chapters[c]->directives[k];
            for (int cond = 0; cond < 2; cond++) {
                const pw_claim *list = cond ? d->conditions : d->claims;
                const int *lines = cond ? d->condition_lines : d->claim_lines;
                size_t n = cond ? d->nconditions : d->nclaims;
                for (size_t i = 0; i < n; i++) {
                    if (!list[i].label) continue;
                    json_t *prev = json_object_get(seen, list[i].label);
                    if (prev)
                        pw_diag_add(&r->diag, d->file, lines[i], "duplicate label '%s' (also at %s)",
                                    list[i].label, json_string_value(prev));
                    else
                        json_object_set_new(seen, list[i].label, json_sprintf("%s:%d", d->file, lines[i]));
                }
            }
        }
    size_t n = json_object_size(seen), i = 0;
    const char **labels = pw_xmalloc((n ? n : 1) * sizeof *labels);
    const char *key;
    json_t *v;
    json_object_foreach(seen, key, v) labels[i++] = key;
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        for (size_t k = 0; k < ch->nwhens; k++) {
            const pw_when *w = &ch->whens[k];
            if (json_object_get(seen, w->label)) continue;
            const char *hint = pw_suggest(w->label, labels, n);
            if (hint)
                pw_diag_add(&r->diag, ch->path, w->line, "unknown label '%s' (did you mean '%s'?)", w->label, hint);
            else
                pw_diag_add(&r->diag, ch->path, w->line, "unknown label '%s' (label a claim, counterclaim "
                            "or condition: claim LABEL: EXPR)", w->label);
        }
    }
    free(labels);
    json_decref(seen);
}

void pw_report_load_chapters(pw_report *r)
{
    r->chapters = pw_xcalloc(r->opt->nchapters ? r->opt->nchapters : 1, sizeof *r->chapters);
    for (size_t i = 0; i < r->opt->nchapters; i++) {
        pw_chapter *c = pw_chapter_load(r->opt->chapters[i], (int)i + 1, &r->diag);
        if (c) r->chapters[r->nchapters++] = c;
    }
    /* Ids are report-wide: inline references may point into other chapters. */
    json_t *seen = json_object();
    for (size_t c = 0; c < r->nchapters; c++) {
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            pw_directive *d = r->chapters[c]->directives[k];
            json_t *prev = json_object_get(seen, d->id);
            if (prev)
                pw_diag_add(&r->diag, d->file, d->line, "duplicate id '%s' (also at %s)", d->id,
                            json_string_value(prev));
            else
                json_object_set_new(seen, d->id, json_sprintf("%s:%d", d->file, d->line));
        }
    }
    json_decref(seen);
    check_labels(r);
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        for (size_t k = 0; k < ch->nrefs; k++) {
            if (pw_report_find_directive(r, ch->refs[k].id)) continue;
            size_t n = 0;
            for (size_t cc = 0; cc < r->nchapters; cc++) n += r->chapters[cc]->ndirectives;
            const char **ids = pw_xmalloc((n ? n : 1) * sizeof *ids);
            n = 0;
            for (size_t cc = 0; cc < r->nchapters; cc++)
                for (size_t kk = 0; kk < r->chapters[cc]->ndirectives; kk++)
                    ids[n++] = r->chapters[cc]->directives[kk]->id;
            const char *hint = pw_suggest(ch->refs[k].id, ids, n);
            if (hint)
                pw_diag_add(&r->diag, ch->path, ch->refs[k].line, "unknown result id '%s' in `=%s.%s` (did you mean '%s'?)",
                            ch->refs[k].id, ch->refs[k].id, ch->refs[k].metric, hint);
            else
                pw_diag_add(&r->diag, ch->path, ch->refs[k].line, "unknown result id '%s' in `=%s.%s`",
                            ch->refs[k].id, ch->refs[k].id, ch->refs[k].metric);
            free(ids);
        }
    }
}

void pw_report_load_specials(pw_report *r)
{
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        cmark_iter *it = cmark_iter_new(ch->doc);
        cmark_event_type ev;
        while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *node = cmark_iter_get_node(it);
            const char *info = cmark_node_get_fence_info(node);
            if (ev != CMARK_EVENT_ENTER || cmark_node_get_type(node) != CMARK_NODE_CODE_BLOCK || !info) continue;
            special_kind kind;
            if (strcmp(info, "summary") == 0) kind = SPECIAL_SUMMARY;
            else if (strcmp(info, "assessment") == 0) kind = SPECIAL_ASSESSMENT;
            else if (strcmp(info, "history") == 0) kind = SPECIAL_HISTORY;
            else if (strcmp(info, "matrix") == 0) kind = SPECIAL_MATRIX;
            else continue;
            r->specials = pw_xrealloc(r->specials, (r->nspecials + 1) * sizeof *r->specials);
            special_block *sb = &r->specials[r->nspecials++];
            memset(sb, 0, sizeof *sb);
            sb->kind = kind;
            sb->node = node;
            sb->file = ch->path;
            sb->line = cmark_node_get_start_line(node);
            /* Body: `metric: PATTERN` and `caption: TEXT` lines; a history also takes
             * `line: Y LABEL` lines, each a labelled horizontal reference line (a claim's
             * threshold) at Y. */
            char *body = pw_xstrdup(cmark_node_get_literal(node));
            int lineno = sb->line;
            for (char *line = body, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next) *next++ = '\0';
                lineno++;
                while (*line == ' ' || *line == '\t') line++;
                if (!*line || *line == '#') continue;
                char *colon = strchr(line, ':');
                char *value = colon ? colon + 1 : NULL;
                if (colon) *colon = '\0';
                while (value && (*value == ' ' || *value == '\t')) value++;
                if (!colon || !*value) pw_diag_add(&r->diag, ch->path, lineno, "expected 'key: value' in the %s block", info);
                else if (kind >= SPECIAL_HISTORY && strcmp(line, "metric") == 0) { free(sb->metric); sb->metric = pw_xstrdup(value); }
                else if (kind >= SPECIAL_HISTORY && strcmp(line, "caption") == 0) { free(sb->caption); sb->caption = pw_xstrdup(value); }
                else if (kind == SPECIAL_HISTORY && strcmp(line, "line") == 0) {
                    char *end;
                    double y = strtod(value, &end);
                    if (end == value || !isfinite(y) || (*end && *end != ' ' && *end != '\t')) {
                        pw_diag_add(&r->diag, ch->path, lineno, "'line' needs a number first, then an optional label (line: 0.9 the claim's threshold)");
                        continue;
                    }
                    while (*end == ' ' || *end == '\t') end++;
                    if (!sb->lines) sb->lines = json_array();
                    json_t *l = json_pack("{s:f, s:s%}", "y", y, "label", *end ? end : value, *end ? strlen(end) : (size_t)(end - value));
                    json_array_append_new(sb->lines, l);
                }
                else pw_diag_add(&r->diag, ch->path, lineno, "unknown key '%s' in the %s block%s", line, info,
                                 kind < SPECIAL_HISTORY ? " (it takes none)" :
                                 kind == SPECIAL_HISTORY ? " (metric, caption, line)" : " (metric, caption)");
            }
            free(body);
            if (kind >= SPECIAL_HISTORY && !sb->metric)
                pw_diag_add(&r->diag, ch->path, sb->line, "the %s block needs 'metric: ID.METRIC' (a pattern such as accel-spectrum.gflops.*)", info);
        }
        cmark_iter_free(it);
    }
}

void pw_report_load_templates(pw_report *r)
{
    for (size_t i = 0; i < r->nrenderers; i++)
        for (const char *const *t = r->renderers[i]->templates; t && *t; t++) {
            char *text, msg[512];
            int line;
            if (pw_render_template_load(r->opt->templates_dir, *t, &text, &line, msg, sizeof msg) == PW_OK) {
                free(text);
                continue;
            }
            char *path = pw_xasprintf("%s/%s", r->opt->templates_dir, *t);
            pw_diag_add(&r->diag, path, line, "%s", msg);
            free(path);
        }
}
