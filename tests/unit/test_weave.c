/* test_weave.c — directive and reference parsing (good and bad input, line numbers), escaping
 * of hostile text for HTML, LaTeX and gnuplot, templates, value formatting, chart scripts. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/escape.h"
#include "perfweave/plot.h"
#include "perfweave/render.h"
#include "perfweave/template.h"
#include "perfweave/weave.h"

static char *esc_html(const char *s)
{
    pw_buf b;
    pw_buf_init(&b);
    pw_escape_html(&b, s);
    return pw_buf_detach(&b);
}

static char *esc_latex(const char *s)
{
    pw_buf b;
    pw_buf_init(&b);
    pw_escape_latex(&b, s);
    return pw_buf_detach(&b);
}

static char *esc_gnuplot(const char *s)
{
    pw_buf b;
    pw_buf_init(&b);
    pw_escape_gnuplot(&b, s);
    return pw_buf_detach(&b);
}

static void test_escape_html(void **state)
{
    (void)state;
    char *s = esc_html("<script>alert('x & \"y\"')</script>");
    assert_string_equal(s, "&lt;script&gt;alert(&#39;x &amp; &quot;y&quot;&#39;)&lt;/script&gt;");
    free(s);
    s = esc_html("95% CI 1.2–3.4×");
    assert_string_equal(s, "95% CI 1.2–3.4×");
    free(s);
}

static void test_escape_latex(void **state)
{
    (void)state;
    char *s = esc_latex("100% $x_1$ & #2 {a} ~ ^ \\input{/etc/passwd}");
    assert_string_equal(s, "100\\% \\$x\\_1\\$ \\& \\#2 \\{a\\} \\textasciitilde{} \\textasciicircum{} "
                           "\\textbackslash{}input\\{/etc/passwd\\}");
    free(s);
    s = esc_latex("212× (95% CI 205–219×) ≥ 5");
    assert_string_equal(s, "212\\ensuremath{\\times} (95\\% CI 205--219\\ensuremath{\\times}) \\ensuremath{\\geq} 5");
    free(s);
    s = esc_latex("γ=0.5, é, ☃");
    assert_string_equal(s, "\\ensuremath{\\gamma}=0.5, é, ?");
    free(s);
    s = esc_latex("a\x01" "b<c>|d");
    assert_string_equal(s, "ab\\textless{}c\\textgreater{}\\textbar{}d");
    free(s);
}

static void test_escape_gnuplot(void **state)
{
    (void)state;
    char *s = esc_gnuplot("it's `rm -rf /` @m system(\"ls\")\nset output");
    /* Single quotes: no backquote, macro or backslash processing; the quote is doubled; the
     * newline that would start a new command becomes a space. */
    assert_string_equal(s, "'it''s `rm -rf /` @m system(\"ls\") set output'");
    free(s);
}

static void test_template(void **state)
{
    (void)state;
    pw_template_var vars[] = {{"title", "A & B"}, {"body", "<p>x</p>"}};
    pw_buf out;
    char msg[128];
    pw_buf_init(&out);
    assert_int_equal(pw_template_expand("<h1>{{title|html}}</h1>{{body}}\\title{ {{title|latex}} }", vars, 2, &out, msg, sizeof msg), PW_OK);
    assert_string_equal(out.data, "<h1>A &amp; B</h1><p>x</p>\\title{ A \\& B }");
    pw_buf_reset(&out);
    assert_int_equal(pw_template_expand("a\n{{nope}}", vars, 2, &out, msg, sizeof msg), PW_EINVAL);
    assert_string_equal(msg, "line 2: unknown placeholder 'nope'");
    assert_int_equal(pw_template_expand("{{title|shout}}", vars, 2, &out, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "unknown filter"));
    assert_int_equal(pw_template_expand("{{title", vars, 2, &out, msg, sizeof msg), PW_EINVAL);
    pw_buf_release(&out);
}

static void test_directive_good(void **state)
{
    (void)state;
    pw_diag diag;
    pw_diag_init(&diag);
    const char *body = "id: demo\n# a comment\n\nsizes: [1, 2]\nvalues: [3, 4]\ncaption: A caption: with colon\n"
                       "chart: values\ntable: [values]\nclaim: value >= 1\nclaim: value < 100 where n >= 2\ntimeout: 30\n";
    pw_directive *d = pw_directive_parse("ch.md", 10, "selftest.fixed", body, 1, &diag);
    assert_int_equal(diag.n, 0);
    assert_non_null(d->experiment);
    assert_string_equal(d->id, "demo");
    assert_string_equal(d->caption, "A caption: with colon");
    assert_int_equal(d->ncharts, 1);
    assert_string_equal(d->tables[0], "values");
    assert_int_equal(d->nclaims, 2);
    assert_int_equal(d->claim_lines[1], 20);
    assert_true(d->timeout_s == 30);
    assert_int_equal(json_array_size(json_object_get(d->params, "sizes")), 2);
    /* Defaults fill parameters the directive does not give. */
    assert_true(json_real_value(json_object_get(d->params, "spread")) == 0.1);
    char *canon = pw_directive_canonical(d);
    assert_non_null(strstr(canon, "\"experiment\":\"selftest.fixed\""));
    assert_null(strstr(canon, "caption"));  /* prose does not change what is measured */
    free(canon);
    pw_directive_free(d);
    pw_diag_release(&diag);
}

static void test_directive_errors(void **state)
{
    (void)state;
    pw_diag diag;
    pw_diag_init(&diag);
    const char *body = "sizes: [1, x]\nspred: 1\nno colon here\nsizes: [2]\nid: a.b\nclaim: value >=\nvalues:\n";
    pw_directive *d = pw_directive_parse("ch.md", 4, "selftest.fixed", body, 1, &diag);
    assert_int_equal(diag.n, 7);
    assert_string_equal(diag.lines[0], "ch.md:5: 'sizes' expects a number, not 'x'");
    assert_string_equal(diag.lines[1], "ch.md:6: unknown key 'spred' for selftest.fixed (did you mean 'spread'?)");
    assert_string_equal(diag.lines[2], "ch.md:7: expected 'key: value', got 'no colon here'");
    assert_string_equal(diag.lines[3], "ch.md:8: key 'sizes' given twice (first on line 5)");
    assert_non_null(strstr(diag.lines[4], "ch.md:9: id 'a.b' must be"));
    assert_non_null(strstr(diag.lines[5], "ch.md:10: claim"));
    assert_string_equal(diag.lines[6], "ch.md:11: key 'values' has no value");
    pw_directive_free(d);
    pw_diag_release(&diag);

    pw_diag_init(&diag);
    d = pw_directive_parse("ch.md", 3, "selftest.fixd", "id: x\n", 1, &diag);
    assert_int_equal(diag.n, 1);
    assert_string_equal(diag.lines[0], "ch.md:3: unknown experiment 'selftest.fixd' (did you mean 'selftest.fixed'?)");
    pw_directive_free(d);
    pw_diag_release(&diag);
}

static void test_chapter_refs(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *path = pw_xasprintf("%s/ch.md", dir);
    const char *text = "# Title *here*\n\nValue `=demo.value.n1` and `plain code`,\nthen `=bad` and `=x.y z`.\n\n"
                       "```experiment selftest.fixed\nid: demo\n```\n\n```python\nprint(1)\n```\n";
    assert_int_equal(pw_write_file_atomic(path, text, strlen(text)), PW_OK);
    pw_diag diag;
    pw_diag_init(&diag);
    pw_chapter *c = pw_chapter_load(path, 1, &diag);
    assert_non_null(c);
    assert_string_equal(c->title, "Title here");
    assert_int_equal(c->ndirectives, 1);
    assert_int_equal(c->directives[0]->line, 6);
    assert_int_equal(c->nrefs, 1);
    assert_string_equal(c->refs[0].id, "demo");
    assert_string_equal(c->refs[0].metric, "value.n1");
    assert_int_equal(c->refs[0].line, 3);
    assert_int_equal(diag.n, 2);
    assert_non_null(strstr(diag.lines[0], ":4: inline reference '=bad' must be `=ID.METRIC`"));
    assert_non_null(strstr(diag.lines[1], ":4: inline reference '=x.y z' contains a space"));
    pw_chapter_free(c);
    pw_diag_release(&diag);
    pw_test_rmtree(dir);
    free(path);
    free(dir);
}

/* A chapter saved as Latin-1 is refused with the line of the first bad byte; nothing loads. */
static void test_chapter_invalid_utf8(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *path = pw_xasprintf("%s/latin1.md", dir);
    const char *text = "# Caf\xc3\xa9\n\nfine so far\n\ncaf\xe9 in Latin-1\n";
    assert_int_equal(pw_write_file_atomic(path, text, strlen(text)), PW_OK);
    pw_diag diag;
    pw_diag_init(&diag);
    assert_null(pw_chapter_load(path, 1, &diag));
    assert_int_equal(diag.n, 1);
    char *want = pw_xasprintf("%s:5: invalid UTF-8 (byte 0xE9)", path);
    assert_string_equal(diag.lines[0], want);
    free(want);
    pw_diag_release(&diag);
    pw_test_rmtree(dir);
    free(path);
    free(dir);
}

static void test_format(void **state)
{
    (void)state;
    pw_buf b;
    pw_buf_init(&b);
    pw_metric m = {"speedup.x", 212.3, 205.1, 219.9, "×", 0, 0};
    pw_format_metric(&b, &m);
    assert_string_equal(b.data, "212× (95% CI 205–220×)");
    pw_buf_reset(&b);
    pw_metric g = {"gflops.x", 80.12, 79.51, 80.64, "GFLOP/s", 0, 0};
    pw_format_metric(&b, &g);
    assert_string_equal(b.data, "80.1 GFLOP/s (95% CI 79.5–80.6)");
    pw_buf_reset(&b);
    /* Tight intervals get more digits so the bounds stay distinct. */
    pw_metric t = {"t", 1.0012, 1.0008, 1.0016, "ms", 0, 0};
    pw_format_metric(&b, &t);
    assert_string_equal(b.data, "1.0012 ms (95% CI 1.0008–1.0016)");
    pw_buf_reset(&b);
    pw_metric bytes = {"bytes", 1048576, 1048576, 1048576, "B", 0, 0};
    pw_format_metric(&b, &bytes);
    assert_string_equal(b.data, "1,048,576 B");
    pw_buf_reset(&b);
    pw_metric big = {"flops", 133632000, 133632000, 133632000, "FLOP", 0, 0};
    pw_format_metric(&b, &big);
    assert_string_equal(b.data, "133,632,000 FLOP");
    pw_buf_reset(&b);
    pw_metric touch = {"rate", 100, 39.76, 100, "%", 0, 0};
    pw_format_metric(&b, &touch);
    assert_string_equal(b.data, "100% (95% CI 39.8–100%)");
    pw_buf_reset(&b);
    pw_metric d = {"drop", -0.0092, -0.0135, -0.0048, "", 0, 0};
    pw_format_metric(&b, &d);
    assert_string_equal(b.data, "−0.00920 (95% CI −0.0135 to −0.00480)");
    pw_buf_reset(&b);
    pw_format_number(&b, 0.000012345, 3);
    assert_string_equal(b.data, "1.23e-05");
    pw_buf_release(&b);
}

static void test_plot_script(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("selftest.fixed", "p");
    pw_chart *c = pw_result_chart(r, "g", "cap", "size n", "it's `x`", PW_CHART_LOGX | PW_CHART_LOGY);
    pw_series *s = pw_chart_series(c, "naive'; system('ls')");
    pw_series_point(s, 64, 1.5, 1.4, 1.6);
    pw_series_point(s, 128, 2.5, NAN, NAN);
    pw_chart_hline(c, "peak", 100);
    pw_chart_vline(c, "L1", 32);
    json_t *chart = json_array_get(json_object_get(pw_result_json(r), "charts"), 0);
    pw_buf b;
    pw_buf_init(&b);
    pw_plot_data(&b, chart);
    assert_string_equal(b.data, "# series 0: x y lo hi\n64 1.5 1.4 1.6\n128 2.5 2.5 2.5\n");
    pw_buf_reset(&b);
    pw_plot_script(&b, chart, "p-g", "svg");
    assert_non_null(strstr(b.data, "set ylabel 'it''s `x`'\n"));
    assert_non_null(strstr(b.data, "title 'naive''; system(''ls'')'"));
    assert_non_null(strstr(b.data, "set logscale x 2\n"));
    assert_non_null(strstr(b.data, "set logscale y 10\n"));
    assert_non_null(strstr(b.data, "noenhanced"));
    assert_non_null(strstr(b.data, "100 with lines"));
    assert_non_null(strstr(b.data, "set output 'p-g.svg'"));
    pw_buf_release(&b);
    pw_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_html),   cmocka_unit_test(test_escape_latex),
        cmocka_unit_test(test_escape_gnuplot), cmocka_unit_test(test_template),
        cmocka_unit_test(test_directive_good), cmocka_unit_test(test_directive_errors),
        cmocka_unit_test(test_chapter_refs),   cmocka_unit_test(test_chapter_invalid_utf8),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_plot_script),
    };
    return cmocka_run_group_tests_name("weave", tests, NULL, NULL);
}
