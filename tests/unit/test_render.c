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
        assert_non_null(R->previous);
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
        assert_non_null(R->group);
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
    /* Verdict objects as pw_claims_evaluate writes them, and one without kind or outcome (a
     * hand-written fixture), whose outcome is derived from its verdict. */
    json_t *va = json_pack("[{s:s, s:s, s:s, s:s, s:[]}]", "claim", "x ≥ 1", "kind", "claim", "verdict", "PASS",
                           "outcome", "helped", "points");
    json_t *vb = json_pack("[{s:s, s:s, s:s, s:s, s:s, s:[], s:s}, {s:s, s:s, s:[]}]", "claim", "y\tz", "kind",
                           "counterclaim", "label", "slow-z", "verdict", "PASS", "outcome", "did not help", "points",
                           "reason", "given reason", "claim", "x ≥ 1", "verdict", "FAIL", "points");
    pw_directive a = {0}, bb = {0};
    pw_claim ca = {0}, cb[2] = {{0}, {0}};
    ca.text = "x ≥ 1";
    cb[0].text = "y\tz";
    cb[1].text = "x ≥ 1";
    a.id = "a";
    a.verdicts = va;
    a.claims = &ca;
    a.nclaims = 1;
    a.params = json_pack("{s:i, s:s}", "batch", 1, "mode", "x");
    bb.id = "bb";
    bb.verdicts = vb;
    bb.claims = cb;
    bb.nclaims = 2;
    bb.params = json_pack("{s:i, s:s}", "batch", 256, "mode", "x");
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
    /* Grouped by outcome; the expression written in both experiments carries the parameter that
     * tells them apart; the counterclaim shows its kind and label. */
    char *want = pw_xasprintf("A title\nGenerated 2026-01-01 00:00 UTC by perfweave %s (commit %s).\n\n"
                              "3 claims: 1 helped, 2 did not help, 0 undecided, 0 could not be measured\n"
                              "verdicts: 2 PASS, 0 PARTIAL, 1 FAIL, 0 UNDECIDED, 0 ERROR\n"
                              "warning: busy now\n\n"
                              "Outcome       Chapter     Experiment     Claim                     Verdict  Evidence\n"
                              "------------  ----------  -------------  ------------------------  -------  --------\n"
                              "helped        Größen ≥ 2  a: batch 1     claim: x ≥ 1              PASS     no measurement matched the claim\n"
                              "did not help  Größen ≥ 2  bb             counterclaim slow-z: y z  PASS     given reason\n"
                              "did not help  Größen ≥ 2  bb: batch 256  claim: x ≥ 1              FAIL     no measurement matched the claim\n",
                              PW_VERSION, pw_commit());
    assert_string_equal(out.data, want);
    free(want);

    /* No claims at all: the counts, and a sentence instead of an empty table. */
    page.nchapters = 0;
    page.env_warnings = NULL;
    pw_buf_reset(&out);
    assert_int_equal(pw_render_text.page(&page, &out), PW_OK);
    assert_non_null(strstr(out.data, "\n\n0 claims: 0 helped, 0 did not help, 0 undecided, 0 could not be measured\n"
                                     "verdicts: 0 PASS, 0 PARTIAL, 0 FAIL, 0 UNDECIDED, 0 ERROR\n\nNo claims.\n"));
    pw_buf_release(&out);
    json_decref(va);
    json_decref(vb);
    json_decref(a.params);
    json_decref(bb.params);
    json_decref(warnings);
}

/* A stand-in (exec.h) says so in every format that shows prose: the box's mark and sentence
 * (escaped where used), a previous value marked beside it, and the evidence's reason. */
static void test_standin(void **state)
{
    (void)state;
    pw_result *res = pw_result_new("selftest.fixed", "a");
    json_object_set_new(pw_result_json(res), "stale",
                        json_pack("{s:s, s:s}", "state", "stale", "reason", "changed <since> & shown"));
    pw_directive d = {0};
    d.id = "a";
    d.experiment_name = "selftest.fixed";
    d.result = res;
    pw_numbering num = {0, 0};
    pw_buf b;
    pw_buf_init(&b);
    pw_render_directive(&b, &pw_render_html, &num, &d, "figures", "figures");
    assert_non_null(strstr(b.data, "<section class=\"experiment stale\" id=\"result-a\">"));
    assert_non_null(strstr(b.data, "<p class=\"stale-note\">changed &lt;since&gt; &amp; shown</p>"));
    pw_buf_reset(&b);
    pw_render_directive(&b, &pw_render_latex, &num, &d, "figures", "figures");
    assert_non_null(strstr(b.data, "\\pwwarning{changed"));
    json_object_set_new(pw_result_json(res), "stale", json_pack("{s:s}", "state", "unmeasured"));
    pw_buf_reset(&b);
    pw_render_directive(&b, &pw_render_html, &num, &d, "figures", "figures");
    assert_non_null(strstr(b.data, "<section class=\"experiment unmeasured\" id=\"result-a\">"));
    assert_non_null(strstr(b.data, "<p class=\"stale-note\">not measured yet</p>"));
    /* A fresh result: no mark. */
    json_object_del(pw_result_json(res), "stale");
    pw_buf_reset(&b);
    pw_render_directive(&b, &pw_render_html, &num, &d, "figures", "figures");
    assert_non_null(strstr(b.data, "<section class=\"experiment\" id=\"result-a\">"));
    assert_null(strstr(b.data, "stale-note"));

    pw_metric m = {.name = "value.n1", .value = 2, .lo = 1.8, .hi = 2.2, .unit = "x"};
    pw_buf_reset(&b);
    pw_render_inline(&b, &pw_render_html, &m, true);
    assert_non_null(strstr(b.data, "<span class=\"stale\""));
    assert_non_null(strstr(b.data, "<sup class=\"stale-tag\">previous</sup></span>"));
    pw_buf_reset(&b);
    pw_render_inline(&b, &pw_render_latex, &m, true);
    assert_non_null(strstr(b.data, "\\textsuperscript{previous}"));
    pw_buf_reset(&b);
    pw_render_inline(&b, &pw_render_html, &m, false);
    assert_null(strstr(b.data, "stale"));

    json_t *v = json_pack("{s:s, s:s, s:s, s:[{s:s, s:f, s:f, s:f, s:s, s:s, s:s, s:s}]}", "claim", "value >= 1",
                          "verdict", "UNDECIDED", "reason", "no point can decide the claim: it changed", "points",
                          "metric", "value.n1", "value", 2.0, "lo", 1.8, "hi", 2.2, "unit", "x", "state", "undecided",
                          "why", "stale", "reason", "it changed");
    pw_buf_reset(&b);
    pw_render_evidence(&b, v);
    assert_non_null(strstr(b.data, "n1 2.00× (95% CI 1.80–2.20×) undecided (no point can decide the claim: it changed)"));
    json_decref(v);
    pw_buf_release(&b);
    pw_result_free(res);
}

/* What a verdict object says happened to the optimization. */
static void test_outcome(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:s, s:s}", "kind", "counterclaim", "verdict", "FAIL");
    assert_int_equal(pw_render_outcome(v), PW_OUTCOME_HELPED);
    json_object_set_new(v, "outcome", json_string("undecided"));
    assert_int_equal(pw_render_outcome(v), PW_OUTCOME_UNDECIDED); /* recorded wins */
    json_decref(v);
    v = json_pack("{s:s}", "verdict", "nonsense");
    assert_int_equal(pw_render_outcome(v), PW_OUTCOME_UNMEASURED);
    json_decref(v);
    assert_string_equal(pw_render_outcome_kind(PW_OUTCOME_NOT_HELPED), "not-helped");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_text_page),
        cmocka_unit_test(test_standin),
        cmocka_unit_test(test_outcome),
    };
    return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
