/* fuzz_directive.c — libFuzzer harness for the chapter side of the weave: a whole Markdown
 * chapter (cmark parse, directive bodies against the registry, `=ID.METRIC` references) and a
 * directive body on its own.  Any input must load or be diagnosed with file:line messages,
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
        char *canon = pw_directive_canonical(d);
        free(canon);
        pw_directive_free(d);
        pw_diag_release(&diag);
    }

    /* The text as a whole chapter. */
    char path[] = "/tmp/perfweave-fuzz-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) {
        if (write(fd, data, size) == (ssize_t)size) {
            pw_diag_init(&diag);
            pw_chapter *c = pw_chapter_load(path, 1, &diag);
            if (c) {
                for (size_t k = 0; k < c->nrefs; k++)
                    if (!c->refs[k].id[0] || !c->refs[k].metric[0]) abort();
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
