/* fuzz_directive.c — libFuzzer harness for the chapter side of the weave: a whole Markdown
 * chapter (cmark parse, directive bodies against the registry, `=ID.METRIC` references,
 * conditional text: `when` blocks with their passages and `?LABEL|…` spans), a directive body
 * on its own (labelled claims, counterclaims, conditions), and the text as a `when` body and as
 * an inline span.  Any input must load or be diagnosed with file:line messages,
 * never crash, leak or read out of bounds.  Built and run by `make fuzz`; seeds in
 * tests/fuzz/corpus/directive/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perfweave/common.h"
#include "perfweave/weave.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = pw_xstrndup((const char *)data, size);
    pw_diag diag;

    /* The text as a directive body of each experiment kind that has parameters. */
    static const char *const names[] = {"selftest.fixed", "acceleration.matmul", "nosuch.experiment"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        pw_diag_init(&diag);
        pw_directive *d = pw_directive_parse("fuzz.md", 1, names[i], text, 1, &diag);
        if (!d) abort();
        for (size_t k = 0; k < diag.n; k++)
            if (strncmp(diag.lines[k], "fuzz.md:", 8) != 0) abort(); /* every message points at the file */
        for (size_t k = 0; k < d->nconditions; k++)
            if (!d->conditions[k].label || !pw_label_valid(d->conditions[k].label)) abort();
        for (size_t k = 0; k < d->nclaims; k++)
            if (d->claims[k].label && !pw_label_valid(d->claims[k].label)) abort();
        char *canon = pw_directive_canonical(d);
        free(canon);
        pw_directive_free(d);
        pw_diag_release(&diag);
    }

    /* The text as the body of a `when` block, and as an inline span. */
    pw_diag_init(&diag);
    pw_when w;
    if (pw_when_parse_block("fuzz.md", 1, "when x", text, &w, &diag)) {
        if (!w.label) abort();
        for (int v = PW_VERDICT_PASS; v <= PW_VERDICT_ERROR; v++) {
            pw_passage p = pw_when_choose(&w, (pw_verdict)v);
            if (p != PW_PASSAGE_NONE && !w.passage[p]) abort(); /* a chosen passage exists */
        }
        pw_when_release(&w);
    } else if (diag.n == 0) {
        abort(); /* refused without saying why */
    }
    char *span = pw_xasprintf("?%s", text);
    if (pw_when_parse_inline("fuzz.md", 1, span, &w, &diag)) {
        for (int i = 0; i < 3; i++)
            if (!w.alt[i] || strchr(w.alt[i], '|')) abort();
        pw_when_release(&w);
    }
    free(span);
    for (size_t k = 0; k < diag.n; k++)
        if (strncmp(diag.lines[k], "fuzz.md:", 8) != 0) abort();
    pw_diag_release(&diag);

    /* The text as a whole chapter. */
    char path[] = "/tmp/perfweave-fuzz-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) {
        if (write(fd, data, size) == (ssize_t)size) {
            pw_diag_init(&diag);
            pw_chapter *c = pw_chapter_load(path, 1, &diag);
            if (c) {
                for (size_t k = 0; k < c->nrefs; k++)
                    if (!c->refs[k].id[0] || !c->refs[k].metric[0] || c->refs[k].line < 1) abort();
                for (size_t k = 0; k < c->nwhens; k++)
                    if (!c->whens[k].node || !pw_label_valid(c->whens[k].label) || c->whens[k].line < 1) abort();
                pw_chapter_free(c);
            }
            pw_diag_release(&diag);
        }
        close(fd);
        unlink(path);
    }
    free(text);
    return 0;
}
