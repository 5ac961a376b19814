/* test_render.c — the output formats behind render.h: the registry's contract (every format
 * complete, found by its name, one file each) and the plain-text page (columns aligned by
 * characters, not bytes; control characters made spaces).  The HTML and LaTeX markup is
 * checked whole by the golden files (tests/golden). */
#include "support.h"

#include <stdlib.h>
#include <string.h>

#include "perfweave/render.h"
#include "perfweave/version.h"

static void test_registry(void **state)
{
    (void)state;
    size_t n = 0;
    for (; pw_renderers[n]; n++) {
        const pw_renderer *R = pw_renderers[n];
        assert_non_null(R->name);
        assert_non_null(R->file);
        assert_non_null(R->page);
        assert_ptr_equal(pw_render_find(R->name), R);
        for (size_t k = 0; k < n; k++) {
            assert_string_not_equal(pw_renderers[k]->name, R->name);
            assert_string_not_equal(pw_renderers[k]->file, R->file);
        }
        if (!R->prose) continue;
        /* A format that shows the chapters gets every fragment. */
        assert_non_null(R->value);
        assert_non_null(R->unmeasured);
        assert_non_null(R->missing);
        assert_non_null(R->table);
        assert_non_null(R->figure);
        assert_non_null(R->experiment_open);
        assert_non_null(R->experiment_error);
        assert_non_null(R->items);
        assert_non_null(R->experiment_close);
        assert_non_null(R->counts);
        assert_non_null(R->claims_open);
        assert_non_null(R->module);
        assert_non_null(R->claim);
        assert_non_null(R->claims_none);
        assert_non_null(R->claims_close);
        assert_non_null(R->environment_open);
        assert_non_null(R->environment_row);
        assert_non_null(R->environment_close);
    }
    assert_true(n >= 3 && n < PW_RENDER_MAX);
    assert_ptr_equal(pw_render_find("text"), &pw_render_text);
    assert_null(pw_render_find("pdf")); /* a product of the LaTeX, not a format */
    assert_null(pw_render_find("txt"));
}

static void test_text_page(void **state)
{
    (void)state;
    json_t *va = json_pack("[{s:s, s:s, s:[]}]", "claim", "x ≥ 1", "verdict", "PASS", "points");
    json_t *vb = json_pack("[{s:s, s:s, s:[], s:s}]", "claim", "y\tz", "verdict", "FAIL", "points", "reason",
                           "given reason");
    pw_directive a = {0}, bb = {0};
    a.id = "a";
    a.verdicts = va;
    a.nclaims = 1;
    bb.id = "bb";
    bb.verdicts = vb;
    bb.nclaims = 1;
    pw_directive *ds[] = {&a, &bb};
    pw_chapter ch = {0};
    ch.title = "Größen ≥ 2";
    ch.directives = ds;
    ch.ndirectives = 2;
    pw_chapter *chapters[] = {&ch};
    json_t *warnings = json_pack("[s]", "busy\nnow");
    pw_render_page page = {chapters, 1, NULL, warnings, "A title", "2026-01-01 00:00 UTC", NULL, NULL, NULL};
    pw_buf out;
    pw_buf_init(&out);
    assert_int_equal(pw_render_text.page(&page, &out), PW_OK);
    char *want = pw_xasprintf("A title\nGenerated 2026-01-01 00:00 UTC by perfweave %s (commit %s).\n\n"
                              "2 claims: 1 PASS, 0 PARTIAL, 1 FAIL, 0 UNDECIDED, 0 ERROR\n"
                              "warning: busy now\n\n"
                              "Chapter     Id  Claim  Verdict  Evidence\n"
                              "----------  --  -----  -------  --------\n"
                              "Größen ≥ 2  a   x ≥ 1  PASS     no measurement matched the claim\n"
                              "Größen ≥ 2  bb  y z    FAIL     given reason\n",
                              PW_VERSION, pw_commit());
    assert_string_equal(out.data, want);
    free(want);

    /* No claims at all: the counts, and a sentence instead of an empty table. */
    page.nchapters = 0;
    page.env_warnings = NULL;
    pw_buf_reset(&out);
    assert_int_equal(pw_render_text.page(&page, &out), PW_OK);
    assert_non_null(strstr(out.data, "\n\n0 claims: 0 PASS, 0 PARTIAL, 0 FAIL, 0 UNDECIDED, 0 ERROR\n\nNo claims.\n"));
    pw_buf_release(&out);
    json_decref(va);
    json_decref(vb);
    json_decref(warnings);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_text_page),
    };
    return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
