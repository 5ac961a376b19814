/* chapter.c — one Markdown chapter: parsed by libcmark with source positions, its experiment
 * directives and `=ID.METRIC` inline references collected (the tree is walked first and only
 * changed later, by the renderer). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/weave.h"

static const char directive_word[] = "experiment";

/* True when a code block's info string opens a directive; *name receives the rest, trimmed. */
static bool directive_info(const char *info, char **name)
{
    size_t len = strlen(directive_word);
    if (!info || strncmp(info, directive_word, len) != 0) return false;
    if (info[len] && !isspace((unsigned char)info[len])) return false;
    const char *s = info + len;
    while (isspace((unsigned char)*s)) s++;
    const char *e = s;
    while (*e && !isspace((unsigned char)*e)) e++;
    *name = pw_xstrndup(s, (size_t)(e - s));
    return true;
}

/* Plain text of a node's inline children (for titles). */
static void inline_text(cmark_node *node, pw_buf *b)
{
    for (cmark_node *c = cmark_node_first_child(node); c; c = cmark_node_next(c)) {
        const char *lit = cmark_node_get_literal(c);
        if (lit && (cmark_node_get_type(c) == CMARK_NODE_TEXT || cmark_node_get_type(c) == CMARK_NODE_CODE))
            pw_buf_puts(b, lit);
        else if (cmark_node_get_type(c) == CMARK_NODE_SOFTBREAK)
            pw_buf_putc(b, ' ');
        else
            inline_text(c, b);
    }
}

static void add_ref(pw_chapter *c, cmark_node *node, const char *lit, pw_diag *diag)
{
    int line = cmark_node_get_start_line(node);
    const char *spec = lit + 1;
    const char *dot = strchr(spec, '.');
    if (!dot || dot == spec || !dot[1]) {
        pw_diag_add(diag, c->path, line, "inline reference '%s' must be `=ID.METRIC`", lit);
        return;
    }
    for (const char *s = spec; *s; s++)
        if (isspace((unsigned char)*s)) {
            pw_diag_add(diag, c->path, line, "inline reference '%s' contains a space", lit);
            return;
        }
    c->refs = pw_xrealloc(c->refs, (c->nrefs + 1) * sizeof *c->refs);
    pw_ref *r = &c->refs[c->nrefs++];
    r->node = node;
    r->line = line;
    r->id = pw_xstrndup(spec, (size_t)(dot - spec));
    r->metric = pw_xstrdup(dot + 1);
}

pw_chapter *pw_chapter_load(const char *path, int chapter_number, pw_diag *diag)
{
    size_t len;
    char *text = pw_read_file(path, &len);
    if (!text) {
        pw_diag_add(diag, path, 0, "cannot read chapter: %s", strerror(errno));
        return NULL;
    }
    if (strlen(text) != len) {
        pw_diag_add(diag, path, 0, "chapter contains a NUL byte; is it a text file?");
        free(text);
        return NULL;
    }
    /* libcmark would replace invalid bytes by U+FFFD silently (a Latin-1 file renders as
     * garbage); like pandoc, refuse it and say where. */
    size_t bad = pw_utf8_check(text, len);
    if (bad < len) {
        pw_diag_add(diag, path, pw_line_of_offset(text, len, bad), "invalid UTF-8 (byte 0x%02X)",
                    (unsigned)(unsigned char)text[bad]);
        free(text);
        return NULL;
    }
    pw_chapter *c = pw_xcalloc(1, sizeof *c);
    c->path = pw_xstrdup(path);
    c->text = text;
    c->doc = cmark_parse_document(text, len, CMARK_OPT_SOURCEPOS | CMARK_OPT_VALIDATE_UTF8);
    c->anchor = pw_xasprintf("chapter-%d", chapter_number);

    cmark_iter *it = cmark_iter_new(c->doc);
    cmark_event_type ev;
    int index = 0;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        if (ev != CMARK_EVENT_ENTER) continue;
        cmark_node *node = cmark_iter_get_node(it);
        cmark_node_type type = cmark_node_get_type(node);
        if (type == CMARK_NODE_HEADING && !c->title) {
            pw_buf b;
            pw_buf_init(&b);
            inline_text(node, &b);
            c->title = pw_buf_detach(&b);
            pw_buf_release(&b);
        } else if (type == CMARK_NODE_CODE_BLOCK) {
            char *name = NULL;
            if (!directive_info(cmark_node_get_fence_info(node), &name)) continue;
            pw_directive *d = pw_directive_parse(c->path, cmark_node_get_start_line(node), name,
                                                 cmark_node_get_literal(node), ++index, diag);
            free(name);
            d->node = node;
            c->directives = pw_xrealloc(c->directives, (c->ndirectives + 1) * sizeof *c->directives);
            c->directives[c->ndirectives++] = d;
        } else if (type == CMARK_NODE_CODE) {
            const char *lit = cmark_node_get_literal(node);
            if (lit && lit[0] == '=') add_ref(c, node, lit, diag);
        }
    }
    cmark_iter_free(it);
    if (!c->title) {
        const char *base = strrchr(path, '/');
        c->title = pw_xstrdup(base ? base + 1 : path);
    }
    return c;
}

void pw_chapter_free(pw_chapter *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->ndirectives; i++) pw_directive_free(c->directives[i]);
    free(c->directives);
    for (size_t i = 0; i < c->nrefs; i++) {
        free(c->refs[i].id);
        free(c->refs[i].metric);
    }
    free(c->refs);
    if (c->doc) cmark_node_free(c->doc);
    free(c->text);
    free(c->path);
    free(c->title);
    free(c->anchor);
    free(c);
}
