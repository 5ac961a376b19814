/* test_common.c — string buffers, atomic writes, suggestions, UTF-8 validation, parameters and
 * the registry. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "perfweave/common.h"
#include "perfweave/experiment.h"
#include "perfweave/result.h"

static void test_buf(void **state)
{
    (void)state;
    pw_buf b;
    pw_buf_init(&b);
    for (int i = 0; i < 1000; i++) pw_buf_printf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data, "0,1,2,", 6);
    char *s = pw_buf_detach(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    pw_buf_release(&b);
}

static void test_atomic_write(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *path = pw_xasprintf("%s/a/b/file.txt", dir);
    char *sub = pw_xasprintf("%s/a/b", dir);
    assert_int_equal(pw_mkdir_p(sub), PW_OK);
    assert_int_equal(pw_write_file_atomic(path, "hello", 5), PW_OK);
    size_t len;
    char *back = pw_read_file(path, &len);
    assert_non_null(back);
    assert_int_equal(len, 5);
    assert_string_equal(back, "hello");
    free(back);
    /* A write into a missing directory fails and leaves nothing behind. */
    char *bad = pw_xasprintf("%s/missing/file.txt", dir);
    assert_int_equal(pw_write_file_atomic(bad, "x", 1), PW_EIO);
    struct stat st;
    assert_int_not_equal(stat(bad, &st), 0);
    free(bad);
    free(path);
    free(sub);
    pw_test_rmtree(dir);
    free(dir);
}

static void test_suggest(void **state)
{
    (void)state;
    static const char *const names[] = {"acceleration.matmul", "caching.generate", "selftest.fixed"};
    assert_int_equal(pw_edit_distance("kitten", "sitting"), 3);
    assert_string_equal(pw_suggest("acceleration.matmull", names, 3), "acceleration.matmul");
    assert_null(pw_suggest("zzzz", names, 3));
}

/* Offsets of the first invalid byte, checked against the well-formed ranges of the Unicode
 * standard (Table 3-7) and Markus Kuhn's UTF-8 decoder stress test cases. */
static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n, bad; /* bad == n: valid */
    } cases[] = {
        {"", 0, 0},
        {"plain ASCII\n", 12, 12},
        {"caf\xc3\xa9 \xe2\x80\x93 \xf0\x9f\x98\x80", 15, 15}, /* é, en dash, U+1F600 */
        {"\xef\xbb\xbf" "BOM", 6, 6},                              /* a BOM is valid UTF-8 */
        {"\xf4\x8f\xbf\xbf", 4, 4},                              /* U+10FFFF, the last */
        {"\xed\x9f\xbf", 3, 3},                                   /* U+D7FF, before surrogates */
        {"caf\xe9 au lait", 13, 3},                                 /* Latin-1 é */
        {"ok\xff", 3, 2},                                           /* never valid */
        {"\x80", 1, 0},                                             /* lone continuation */
        {"\xc0\xaf", 2, 0},                                        /* overlong '/' */
        {"\xc1\xbf", 2, 0},                                        /* overlong */
        {"\xe0\x80\xaf", 3, 0},                                   /* overlong, 3 bytes */
        {"\xf0\x80\x80\xaf", 4, 0},                              /* overlong, 4 bytes */
        {"\xed\xa0\x80", 3, 0},                                   /* U+D800, a surrogate */
        {"\xf4\x90\x80\x80", 4, 0},                              /* U+110000 */
        {"\xf5\x80\x80\x80", 4, 0},                              /* F5 never leads */
        {"ab\xe2\x80", 4, 2},                                      /* truncated at the end */
        {"ab\xe2\x80z", 5, 2},                                     /* cut short by ASCII */
        {"\xc3\xa9\xc3", 3, 2},                                   /* valid, then truncated */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = pw_utf8_check(cases[i].s, cases[i].n);
        if (got != cases[i].bad) fail_msg("case %zu: offset %zu, expected %zu", i, got, cases[i].bad);
    }
    /* Embedded NUL is valid UTF-8 (chapters reject it separately). */
    assert_int_equal(pw_utf8_check("a\0b", 3), 3);
    const char *text = "one\ntwo\nth\xffree\n";
    assert_int_equal(pw_line_of_offset(text, strlen(text), 0), 1);
    assert_int_equal(pw_line_of_offset(text, strlen(text), 4), 2);
    assert_int_equal(pw_line_of_offset(text, strlen(text), pw_utf8_check(text, strlen(text))), 3);
}

static void test_registry_sorted(void **state)
{
    (void)state;
    size_t n;
    const pw_experiment *const *all = pw_registry_all(&n);
    assert_true(n >= 2);
    for (size_t i = 1; i < n; i++) assert_true(strcmp(all[i - 1]->name, all[i]->name) < 0);
    for (size_t i = 0; i < n; i++) {
        /* Every default parses under its own schema. */
        json_t *p = pw_experiment_params(all[i], NULL);
        assert_int_equal(json_object_size(p), all[i]->nparams);
        json_decref(p);
    }
    assert_non_null(pw_registry_find("selftest.fixed"));
    assert_null(pw_registry_find("selftest.nope"));
}

static void test_param_parse(void **state)
{
    (void)state;
    const pw_experiment *e = pw_registry_find("selftest.fixed");
    const pw_param_spec *sizes = pw_experiment_param(e, "sizes");
    char msg[256];
    json_t *v = NULL;
    assert_int_equal(pw_param_parse(sizes, " [1, 2,3] ", &v, msg, sizeof msg), PW_OK);
    assert_int_equal(json_array_size(v), 3);
    assert_int_equal(json_integer_value(json_array_get(v, 2)), 3);
    json_decref(v);
    assert_int_equal(pw_param_parse(sizes, "[1, 2", &v, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "closing"));
    assert_int_equal(pw_param_parse(sizes, "[1, x]", &v, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "expects a number"));
    assert_int_equal(pw_param_parse(sizes, "[1, 2.5]", &v, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "whole number"));
    assert_int_equal(pw_param_parse(sizes, "[0]", &v, msg, sizeof msg), PW_ERANGE);
    assert_non_null(strstr(msg, "out of range"));
    assert_int_equal(pw_param_parse(sizes, "[]", &v, msg, sizeof msg), PW_EINVAL);
    const pw_experiment *crash = pw_registry_find("selftest.crash");
    const pw_param_spec *mode = pw_experiment_param(crash, "mode");
    assert_int_equal(pw_param_parse(mode, "sgev", &v, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "did you mean 'segv'"));
    assert_int_equal(pw_param_parse(mode, "[segv]", &v, msg, sizeof msg), PW_EINVAL);
}

static void test_result_roundtrip(void **state)
{
    (void)state;
    pw_result *r = pw_result_new("selftest.fixed", "demo");
    assert_int_equal(pw_result_metric(r, "gflops.naive.n64", 2.0, 1.9, 2.1, "GFLOP/s"), PW_OK);
    assert_int_equal(pw_result_metric(r, "bad", 2.0, 2.1, 2.2, ""), PW_EINVAL);
    assert_int_equal(pw_result_metric(r, "nan", NAN, 0, 1, ""), PW_EINVAL);
    assert_int_equal(pw_result_exact(r, "count", 3, ""), PW_OK);
    assert_int_equal(pw_result_metric_basis(r, "count", 10, 0.05), PW_OK);
    char *text = json_dumps(pw_result_json(r), JSON_COMPACT);
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    const char *err = NULL;
    pw_result *back = pw_result_from_json(doc, &err);
    json_decref(doc);
    assert_non_null(back);
    pw_metric m;
    assert_int_equal(pw_result_get_metric(back, "gflops.naive.n64", &m), PW_OK);
    assert_close(m.value, 2.0, 1e-12);
    assert_close(m.lo, 1.9, 1e-12);
    assert_string_equal(m.unit, "GFLOP/s");
    assert_int_equal(pw_result_get_metric(back, "count", &m), PW_OK);
    assert_close(m.n, 10, 0);
    assert_int_equal(pw_result_metric_count(back), 2);
    assert_int_equal(pw_result_metric_at(back, 1, &m), PW_OK);
    assert_string_equal(m.name, "count");
    assert_int_equal(pw_result_get_metric(back, "missing", &m), PW_ENOTFOUND);
    assert_false(pw_result_failed(back));
    pw_result_error(r, "broke at %d", 3);
    assert_true(pw_result_failed(r));
    assert_string_equal(pw_result_error_reason(r), "broke at 3");
    free(text);
    pw_result_free(back);
    pw_result_free(r);
    json_t *junk = json_pack("{s:i}", "schema", 99);
    assert_null(pw_result_from_json(junk, &err));
    assert_non_null(strstr(err, "schema"));
    json_decref(junk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_registry_sorted),
        cmocka_unit_test(test_param_parse),
        cmocka_unit_test(test_result_roundtrip),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
