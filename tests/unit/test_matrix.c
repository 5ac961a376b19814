/* test_matrix.c — the hardware matrix by kind of machine, on the fixture archives written by
 * tests/fixtures/matrix/make-fixtures.py: grouping by hardware identity (not software), older
 * environments joining their column, results placed by the environment that measured them, hosts
 * and Slurm partitions per column, software differences marked, and labels that tell apart what
 * would read the same.  Values are given, nothing is timed. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/store.h"

#define XEON "Fixture Xeon 8480 @ 2.0GHz"

/* Every run under root, oldest first; *n receives the count. */
static json_t **load_all(const char *root, size_t *n)
{
    json_t *list;
    assert_int_equal(pw_archive_list(root, &list), PW_OK);
    json_t **runs = pw_xcalloc(json_array_size(list) + 1, sizeof *runs);
    *n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
        assert_int_equal(pw_archive_load(root, json_string_value(json_object_get(e, "run")), &runs[(*n)++]), PW_OK);
    json_decref(list);
    return runs;
}

static void free_all(json_t **runs, size_t n)
{
    for (size_t i = 0; i < n; i++) json_decref(runs[i]);
    free(runs);
}

/* The strings of an array joined with ',' (caller frees). */
static char *joined(const json_t *arr)
{
    pw_buf b;
    pw_buf_init(&b);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) pw_buf_printf(&b, "%s%s", i ? "," : "", json_string_value(v));
    return pw_buf_detach(&b);
}

static void assert_joined(const json_t *arr, const char *expect)
{
    char *s = joined(arr);
    if (strcmp(s, expect) != 0) fail_msg("got '%s', expected '%s'", s, expect);
    free(s);
}

static const json_t *row_named(const json_t *m, const char *metric)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(m, "rows"), i, r)
        if (strcmp(json_string_value(json_object_get(r, "metric")), metric) == 0) return r;
    fail_msg("no row %s", metric);
    return NULL;
}

static double cell_value(const json_t *row, size_t col)
{
    const json_t *cell = json_array_get(json_object_get(row, "cells"), col);
    assert_true(json_is_object(cell));
    return json_number_value(json_object_get(cell, "value"));
}

static void test_columns_by_hardware(void **state)
{
    (void)state;
    size_t n;
    json_t **runs = load_all("tests/fixtures/matrix/base", &n);
    assert_int_equal(n, 5);
    json_t *m = pw_archive_matrix_hardware(runs, n, NULL);
    const json_t *cols = json_object_get(m, "columns");
    assert_int_equal(json_array_size(cols), 2);
    assert_int_equal(json_array_size(json_object_get(m, "skipped")), 0);

    /* The Xeon kind: the older lab1 record, lab2 with gcc 13 and node1 through two partitions. */
    const json_t *xeon = json_array_get(cols, 0);
    assert_string_equal(json_string_value(json_object_get(xeon, "label")), XEON " · 4 cores · 31 GiB");
    assert_joined(json_object_get(xeon, "hosts"), "lab1,lab2,node1");
    assert_joined(json_object_get(xeon, "partitions"), "fast,slow");
    assert_joined(json_object_get(xeon, "runs"), "20261201T100000Z,20261202T100000Z,20261203T100000Z,20261203T110000Z");
    assert_joined(json_object_get(xeon, "commits"), "c1");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(xeon, "hardware"), "cpu_stepping")), 8);
    assert_true(json_is_true(json_object_get(xeon, "software_differs")));
    const json_t *soft = json_object_get(xeon, "software");
    assert_int_equal(json_array_size(soft), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(soft, 0), "field")), "compiler.version");
    assert_joined(json_object_get(json_array_get(soft, 0), "values"), "12.2.0,13.1.0");

    /* The laptop: its own run, and lab2's q8 result that came from its cache. */
    const json_t *laptop = json_array_get(cols, 1);
    assert_string_equal(json_string_value(json_object_get(laptop, "label")), "Fixture Ryzen 7 · 8 cores · 15 GiB");
    assert_joined(json_object_get(laptop, "hosts"), "laptop");
    assert_joined(json_object_get(laptop, "partitions"), "");
    assert_joined(json_object_get(laptop, "runs"), "20261202T100000Z,20261204T100000Z");
    assert_true(json_is_false(json_object_get(laptop, "software_differs")));

    /* Cells: the newest value of each kind; q8 was never measured on a Xeon. */
    const json_t *mm = row_named(m, "mm.gflops.packed.n256");
    assert_string_equal(json_string_value(json_object_get(mm, "unit")), "GFLOP/s");
    assert_close(cell_value(mm, 0), 121.0, 1e-12);
    assert_close(cell_value(mm, 1), 60.0, 1e-12);
    const json_t *c0 = json_array_get(json_object_get(mm, "cells"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "run")), "20261203T110000Z");
    assert_string_equal(json_string_value(json_object_get(c0, "host")), "node1");
    assert_string_equal(json_string_value(json_object_get(c0, "partition")), "slow");
    assert_close(json_number_value(json_object_get(c0, "lo")), 121.0 * 0.99, 1e-12);
    const json_t *q8 = row_named(m, "q8.accuracy.int8");
    assert_true(json_is_null(json_array_get(json_object_get(q8, "cells"), 0)));
    assert_close(cell_value(q8, 1), 0.84, 1e-12);
    assert_null(json_object_get(json_array_get(json_object_get(q8, "cells"), 1), "partition"));
    json_decref(m);

    /* The glob selects rows as pw_archive_matrix does. */
    m = pw_archive_matrix_hardware(runs, n, "accuracy.*");
    assert_int_equal(json_array_size(json_object_get(m, "rows")), 1);
    json_decref(m);
    m = pw_archive_matrix_hardware(runs, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(m, "columns")), 0);
    assert_int_equal(json_array_size(json_object_get(m, "rows")), 0);
    json_decref(m);
    free_all(runs, n);
}

/* Another stepping of the same model is another kind of hardware, and leaves the older lab1
 * record (no CPUID) matching two columns: it keeps one of its own. */
static void test_stepping_and_ambiguity(void **state)
{
    (void)state;
    size_t n;
    json_t **runs = load_all("tests/fixtures/matrix/stepping6", &n);
    assert_int_equal(n, 6);
    json_t *m = pw_archive_matrix_hardware(runs, n, "mm.*");
    const json_t *cols = json_object_get(m, "columns");
    assert_int_equal(json_array_size(cols), 4);
    const char *l0 = json_string_value(json_object_get(json_array_get(cols, 0), "label"));
    const char *l1 = json_string_value(json_object_get(json_array_get(cols, 1), "label"));
    const char *l2 = json_string_value(json_object_get(json_array_get(cols, 2), "label"));
    const char *l3 = json_string_value(json_object_get(json_array_get(cols, 3), "label"));
    assert_string_equal(l0, XEON " · 4 cores · 31 GiB · CPUID not recorded · 14 instruction sets");
    assert_string_equal(l1, XEON " · 4 cores · 31 GiB · family 6 model 143 stepping 8 · 14 instruction sets");
    assert_string_equal(l2, "Fixture Ryzen 7 · 8 cores · 15 GiB");
    assert_string_equal(l3, XEON " · 4 cores · 31 GiB · family 6 model 143 stepping 6 · 14 instruction sets");
    assert_joined(json_object_get(json_array_get(cols, 0), "hosts"), "lab1");
    assert_joined(json_object_get(json_array_get(cols, 3), "hosts"), "lab3");
    const json_t *mm = row_named(m, "mm.gflops.packed.n256");
    assert_close(cell_value(mm, 0), 100.0, 1e-12);
    assert_close(cell_value(mm, 1), 121.0, 1e-12);
    assert_close(cell_value(mm, 3), 130.0, 1e-12);
    json_decref(m);
    free_all(runs, n);
}

/* The original fixture archive (model name and cores only) and an invalid document. */
static void test_sparse_and_invalid(void **state)
{
    (void)state;
    size_t n;
    json_t **runs = load_all("tests/fixtures/archive", &n);
    assert_int_equal(n, 4);
    runs = pw_xrealloc(runs, (n + 1) * sizeof *runs);
    runs[n++] = json_pack("{s:i}", "schema", 1);
    json_t *m = pw_archive_matrix_hardware(runs, n, "gflops.*");
    const json_t *cols = json_object_get(m, "columns");
    assert_int_equal(json_array_size(cols), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "label")), "Fixture CPU A · 2 cores");
    assert_joined(json_object_get(json_array_get(cols, 0), "runs"), "20261101T120000Z,20261102T120000Z,20261103T120000Z");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "label")), "Fixture CPU B · 2 cores");
    /* Only the commit differs between hosta's runs: that is not a software difference. */
    assert_true(json_is_false(json_object_get(json_array_get(cols, 0), "software_differs")));
    assert_joined(json_object_get(json_array_get(cols, 0), "commits"), "fixture1,fixture2,fixture3");
    const json_t *skipped = json_object_get(m, "skipped");
    assert_int_equal(json_array_size(skipped), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(skipped, 0), "index")), 4);
    assert_int_equal(json_array_size(json_object_get(m, "rows")), 2);
    json_decref(m);
    free_all(runs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns_by_hardware),
        cmocka_unit_test(test_stepping_and_ambiguity),
        cmocka_unit_test(test_sparse_and_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
