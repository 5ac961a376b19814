/* test_weave.c — directive and reference parsing (good and bad input, line numbers), labelled
 * claims, counterclaims and conditions, conditional text (the `when` block and the `?` span:
 * parsing, validation, which passage each verdict selects, passages' references), escaping of
 * hostile text for HTML, LaTeX and gnuplot, templates, value formatting, chart scripts. */
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

static void test_directive_labels(void **state)
{
    (void)state;
    pw_diag diag;
    pw_diag_init(&diag);
    const char *body = "claim: value >= 1\n"
                       "claim packed-small: value >= 2\n"
                       "counterclaim: value < 3\n"
                       "counterclaim csr-slow: value < 4\n"
                       "condition big-n:  value > 5 where n >= 2\n";
    pw_directive *d = pw_directive_parse("ch.md", 1, "selftest.fixed", body, 1, &diag);
    assert_int_equal(diag.n, 0);
    assert_int_equal(d->nclaims, 4);
    assert_int_equal(d->nconditions, 1);
    assert_int_equal(d->claims[0].kind, PW_CLAIM_CLAIM);
    assert_null(d->claims[0].label);
    assert_string_equal(d->claims[1].label, "packed-small");
    assert_int_equal(d->claims[2].kind, PW_CLAIM_COUNTERCLAIM);
    assert_null(d->claims[2].label);
    assert_int_equal(d->claims[3].kind, PW_CLAIM_COUNTERCLAIM);
    assert_string_equal(d->claims[3].label, "csr-slow");
    assert_int_equal(d->claim_lines[3], 5);
    assert_int_equal(d->conditions[0].kind, PW_CLAIM_CONDITION);
    assert_string_equal(d->conditions[0].label, "big-n");
    assert_string_equal(d->conditions[0].text, "value > 5 where n >= 2");
    assert_int_equal(d->condition_lines[0], 6);
    pw_directive_free(d);
    pw_diag_release(&diag);

    pw_diag_init(&diag);
    body = "claim Big: value >= 1\ncondition: value > 1\ncounterclaim x: value <\nsizes n: [1]\n"
           "clam x: value > 1\ncondition -x: value > 1\n";
    d = pw_directive_parse("ch.md", 1, "selftest.fixed", body, 1, &diag);
    assert_int_equal(diag.n, 6);
    assert_string_equal(diag.lines[0], "ch.md:2: label 'Big' must be lowercase letters, digits and '-', "
                                       "starting with a letter or digit");
    assert_string_equal(diag.lines[1], "ch.md:3: a condition needs a label for prose to refer to "
                                       "(condition LABEL: EXPR)");
    assert_non_null(strstr(diag.lines[2], "ch.md:4: counterclaim: expected a number"));
    assert_string_equal(diag.lines[3], "ch.md:5: malformed key 'sizes n' (only claim, counterclaim and "
                                       "condition take a label)");
    assert_non_null(strstr(diag.lines[4], "ch.md:6: malformed key 'clam x'"));
    assert_non_null(strstr(diag.lines[4], "did you mean 'claim'?"));
    assert_non_null(strstr(diag.lines[5], "ch.md:7: label '-x' must be"));
    assert_int_equal(d->nclaims, 0);
    assert_int_equal(d->nconditions, 0);
    pw_directive_free(d);
    pw_diag_release(&diag);
    assert_true(pw_label_valid("a1-b"));
    assert_true(pw_label_valid("9"));
    assert_false(pw_label_valid(""));
    assert_false(pw_label_valid("a_b"));
    assert_false(pw_label_valid("a.b"));
}

/* The first child's literal text of a passage document ("" when empty). */
static const char *passage_text(const pw_when *w, pw_passage p)
{
    cmark_node *para = w->passage[p] ? cmark_node_first_child(w->passage[p]) : NULL;
    cmark_node *text = para ? cmark_node_first_child(para) : NULL;
    const char *lit = text ? cmark_node_get_literal(text) : NULL;
    return lit ? lit : "";
}

static void test_when_block(void **state)
{
    (void)state;
    pw_diag diag;
    pw_diag_init(&diag);
    pw_when w;
    const char *body = "\nholds:\nIt holds.\n  fails:  \nIt fails.\n\nSecond paragraph.\notherwise:\n"
                       "partial:\n";
    assert_true(pw_when_parse_block("ch.md", 10, "when packed-small", body, &w, &diag));
    assert_int_equal(diag.n, 0);
    assert_string_equal(w.label, "packed-small");
    assert_false(w.is_inline);
    assert_int_equal(w.line, 10);
    /* Fence on line 10: the blank line is 11, "holds:" 12, its text from 13. */
    assert_int_equal(w.passage_line[PW_PASSAGE_HOLDS], 13);
    assert_int_equal(w.passage_line[PW_PASSAGE_FAILS], 15);
    assert_string_equal(passage_text(&w, PW_PASSAGE_HOLDS), "It holds.");
    assert_string_equal(passage_text(&w, PW_PASSAGE_FAILS), "It fails.");
    assert_non_null(cmark_node_next(cmark_node_first_child(w.passage[PW_PASSAGE_FAILS])));
    assert_null(w.passage[PW_PASSAGE_UNDECIDED]);
    /* An empty passage is present (it says nothing on purpose). */
    assert_non_null(w.passage[PW_PASSAGE_OTHERWISE]);
    assert_null(cmark_node_first_child(w.passage[PW_PASSAGE_OTHERWISE]));
    assert_int_equal(pw_when_choose(&w, PW_VERDICT_PASS), PW_PASSAGE_HOLDS);
    assert_int_equal(pw_when_choose(&w, PW_VERDICT_FAIL), PW_PASSAGE_FAILS);
    assert_int_equal(pw_when_choose(&w, PW_VERDICT_PARTIAL), PW_PASSAGE_PARTIAL);
    assert_int_equal(pw_when_choose(&w, PW_VERDICT_UNDECIDED), PW_PASSAGE_OTHERWISE);
    assert_int_equal(pw_when_choose(&w, PW_VERDICT_ERROR), PW_PASSAGE_OTHERWISE);
    pw_when_release(&w);

    /* PARTIAL falls back to undecided; without otherwise a verdict may select nothing. */
    assert_true(pw_when_parse_block("ch.md", 1, "when x", "holds:\na\nundecided:\nb\n", &w, &diag));
    assert_int_equal(pw_when_choose(&w, PW_VERDICT_PARTIAL), PW_PASSAGE_UNDECIDED);
    assert_int_equal(pw_when_choose(&w, PW_VERDICT_UNDECIDED), PW_PASSAGE_UNDECIDED);
    assert_int_equal(pw_when_choose(&w, PW_VERDICT_FAIL), PW_PASSAGE_NONE);
    assert_int_equal(pw_when_choose(&w, PW_VERDICT_ERROR), PW_PASSAGE_NONE);
    pw_when_release(&w);
    assert_true(pw_when_parse_block("ch.md", 1, "when x", "error:\nbroken\n", &w, &diag));
    assert_int_equal(pw_when_choose(&w, PW_VERDICT_ERROR), PW_PASSAGE_ERROR);
    assert_int_equal(pw_when_choose(&w, PW_VERDICT_PASS), PW_PASSAGE_NONE);
    pw_when_release(&w);
    /* A prose line that only looks like a keyword: capitals, two words, an escaped colon. */
    assert_true(pw_when_parse_block("ch.md", 1, "when x", "holds:\nNote:\nfor example:\nnote\\:\n", &w, &diag));
    assert_null(w.passage[PW_PASSAGE_FAILS]);
    pw_when_release(&w);
    assert_int_equal(diag.n, 0);

    static const struct { const char *info, *body, *msg; } bad[] = {
        {"when", "holds:\nx\n", "ch.md:20: when block without a label"},
        {"when X", "holds:\nx\n", "ch.md:20: label 'X' must be lowercase"},
        {"when x y", "holds:\nx\n", "ch.md:20: unexpected 'y' after the label of a when block"},
        {"when x", "holds:\nx\nfail:\ny\n", "ch.md:23: unknown passage 'fail:' (did you mean 'fails:'?)"},
        {"when x", "holds:\nx\nbecause:\ny\n", "ch.md:23: unknown passage 'because:' (holds, fails"},
        {"when x", "\nSome text.\nholds:\nx\n", "ch.md:22: text before the first passage of a when block"},
        {"when x", "holds:\nx\nfails:\ny\nholds:\nz\n", "ch.md:25: passage 'holds:' given twice (first on line 21)"},
        {"when x", "\n\n", "ch.md:20: when block without a passage"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pw_diag_init(&diag);
        assert_false(pw_when_parse_block("ch.md", 20, bad[i].info, bad[i].body, &w, &diag));
        assert_int_equal(diag.n, 1);
        if (!strstr(diag.lines[0], bad[i].msg)) fail_msg("got '%s', expected '%s'", diag.lines[0], bad[i].msg);
        assert_null(w.label);
        pw_diag_release(&diag);
    }
}

static void test_when_inline(void **state)
{
    (void)state;
    pw_diag diag;
    pw_diag_init(&diag);
    pw_when w;
    assert_true(pw_when_parse_inline("ch.md", 3, "?int8-fast| faster |slower|", &w, &diag));
    assert_true(w.is_inline);
    assert_string_equal(w.label, "int8-fast");
    assert_string_equal(pw_when_choose_inline(&w, PW_VERDICT_PASS), "faster");
    assert_string_equal(pw_when_choose_inline(&w, PW_VERDICT_FAIL), "slower");
    assert_string_equal(pw_when_choose_inline(&w, PW_VERDICT_PARTIAL), "");
    assert_string_equal(pw_when_choose_inline(&w, PW_VERDICT_UNDECIDED), "");
    assert_null(pw_when_choose_inline(&w, PW_VERDICT_ERROR));
    pw_when_release(&w);
    static const struct { const char *lit, *msg; } bad[] = {
        {"?|a|b|c", "ch.md:3: conditional text '?|a|b|c' needs a label"},
        {"?", "ch.md:3: conditional text '?' needs a label"},
        {"?Fast|a|b|c", "ch.md:3: label 'Fast' in '?Fast|a|b|c' must be"},
        {"?x|a|b", "ch.md:3: conditional text '?x|a|b' has 2 alternatives, not 3"},
        {"?x", "ch.md:3: conditional text '?x' has 0 alternatives, not 3"},
        {"?x|a|b|c|d", "ch.md:3: conditional text '?x|a|b|c|d' has 4 alternatives, not 3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(pw_when_parse_inline("ch.md", 3, bad[i].lit, &w, &diag));
        assert_int_equal(diag.n, i + 1);
        if (!strstr(diag.lines[i], bad[i].msg)) fail_msg("got '%s', expected '%s'", diag.lines[i], bad[i].msg);
    }
    pw_diag_release(&diag);
}

/* A chapter's conditional text: blocks and spans collected, the passages' references and spans
 * too, at their chapter lines; interpreted blocks refused inside passages. */
static void test_chapter_conditional(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *path = pw_xasprintf("%s/ch.md", dir);
    const char *text =
        "# Is it `?fast|faster|slower|unclear`?\n"          /* 1 */
        "\n"                                               /* 2 */
        "````when fast\n"                                  /* 3 */
        "holds:\n"                                         /* 4 */
        "It is, by `=demo.value.n1`.\n"                    /* 5 */
        "fails:\n"                                         /* 6 */
        "It is not:\n"                                     /* 7 */
        "\n"                                               /* 8 */
        "- by `=demo.value.n2`, `?fast|x|y|z`\n"           /* 9 */
        "```python\n"                                      /* 10 */
        "print(1)\n"                                       /* 11 */
        "```\n"                                            /* 12 */
        "````\n"                                           /* 13 */
        "\n"                                               /* 14 */
        "> ````when fast\n"                                /* 15 */
        "> otherwise:\n"                                   /* 16 */
        "> ```summary\n"                                   /* 17 */
        "> ```\n"                                          /* 18 */
        "> ````\n";                                        /* 19 */
    assert_int_equal(pw_write_file_atomic(path, text, strlen(text)), PW_OK);
    pw_diag diag;
    pw_diag_init(&diag);
    pw_chapter *c = pw_chapter_load(path, 1, &diag);
    assert_non_null(c);
    assert_int_equal(diag.n, 1);
    assert_non_null(strstr(diag.lines[0], ":17: a passage of a when block cannot hold a ```summary block"));
    assert_int_equal(c->nrefs, 2);
    assert_string_equal(c->refs[0].metric, "value.n1");
    assert_int_equal(c->refs[0].line, 5);
    assert_string_equal(c->refs[1].metric, "value.n2");
    assert_int_equal(c->refs[1].line, 9);
    /* The heading's span, the first block, the span inside its fails passage, the second block. */
    assert_int_equal(c->nwhens, 4);
    assert_true(c->whens[0].is_inline);
    assert_int_equal(c->whens[0].line, 1);
    assert_false(c->whens[1].is_inline);
    assert_int_equal(c->whens[1].line, 3);
    assert_true(c->whens[2].is_inline);
    assert_int_equal(c->whens[2].line, 9);
    assert_int_equal(c->whens[3].line, 15);
    assert_string_equal(c->title, "Is it ?fast|faster|slower|unclear?");
    /* What the report does once the claim is decided: the span's words replace it. */
    cmark_node *t = cmark_node_new(CMARK_NODE_TEXT);
    cmark_node_set_literal(t, pw_when_choose_inline(&c->whens[0], PW_VERDICT_FAIL));
    cmark_node_replace(c->whens[0].node, t);
    cmark_node_free(c->whens[0].node);
    c->whens[0].node = NULL;
    pw_chapter_retitle(c);
    assert_string_equal(c->title, "Is it slower?");
    pw_chapter_free(c);
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
    /* A position on a grid of whole numbers is written as one; a whole ratio keeps its digits. */
    pw_metric grid = {"crossover.tokens", 2, 1, 2, "tokens", 0, 0};
    pw_format_metric(&b, &grid);
    assert_string_equal(b.data, "2 tokens (95% CI 1–2)");
    pw_buf_reset(&b);
    pw_metric ratio = {"speedup.y", 10, 9, 11, "×", 0, 0};
    pw_format_metric(&b, &ratio);
    assert_string_equal(b.data, "10.0× (95% CI 9.00–11.0×)");
    pw_buf_reset(&b);
    pw_format_number(&b, 0.000012345, 3);
    assert_string_equal(b.data, "1.23e-05");
    pw_buf_reset(&b);
    /* A small negative bound has the same minus sign as every other number. */
    pw_format_number(&b, -0.000432, 3);
    assert_string_equal(b.data, "−0.000432");
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
    assert_null(strstr(b.data, "set xrange"));
    pw_buf_release(&b);
    pw_result_free(r);
}

/* A whole-number x axis (history charts): whole ticks, half a step of room at each end, at most
 * about a dozen ticks. */
static void test_plot_intx(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("selftest.fixed", "p");
    pw_chart *c = pw_result_chart(r, "h", "cap", "run", "×", PW_CHART_INTX);
    pw_series_point(pw_chart_series(c, "a"), 1, 1.0, 0.9, 1.1);
    json_t *chart = json_array_get(json_object_get(pw_result_json(r), "charts"), 0);
    pw_buf b;
    pw_buf_init(&b);
    pw_plot_script(&b, chart, "p-h", "svg");
    assert_non_null(strstr(b.data, "set xtics 1\n"));
    assert_non_null(strstr(b.data, "set xrange [0.5:1.5]\n"));
    pw_series *more = pw_chart_series(c, "b");
    for (int x = 2; x <= 30; x++) pw_series_point(more, x, 1.0, NAN, NAN);
    pw_buf_reset(&b);
    pw_plot_script(&b, chart, "p-h", "svg");
    assert_non_null(strstr(b.data, "set xtics 3\n"));
    assert_non_null(strstr(b.data, "set xrange [0.5:30.5]\n"));
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
        cmocka_unit_test(test_plot_script),   cmocka_unit_test(test_plot_intx),
        cmocka_unit_test(test_directive_labels),
        cmocka_unit_test(test_when_block),    cmocka_unit_test(test_when_inline),
        cmocka_unit_test(test_chapter_conditional),
    };
    return cmocka_run_group_tests_name("weave", tests, NULL, NULL);
}
