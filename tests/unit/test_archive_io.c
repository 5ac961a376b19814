/* test_archive_io.c — archives that travel: export and unpack round trip, the checks on files
 * written independently by tests/fixtures/archive-export/make-fixtures.py (Python's json, hashlib
 * and gzip: a correct file, a flipped byte, a truncated file, an edit after export, a newer format,
 * a foreign file), and import into an archive root (never overwriting, refusing duplicates). */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "perfweave/common.h"
#include "perfweave/store.h"

#define RUNS "tests/fixtures/archive"
#define EXPORTS "tests/fixtures/archive-export"
#define RUN_B "20261104T120000Z_hostb"

static json_t *load_run(const char *name)
{
    json_t *doc = NULL;
    assert_int_equal(pw_archive_load(RUNS, name, &doc), PW_OK);
    return doc;
}

/* pw_archive_unpack on a fixture file; returns the status and leaves the message in msg. */
static int unpack_file(const char *name, json_t **doc, char **run, char *msg, size_t msgsize)
{
    char *path = pw_xasprintf("%s/%s", EXPORTS, name);
    size_t len;
    char *data = pw_read_file(path, &len);
    assert_non_null(data);
    int status = pw_archive_unpack(data, len, doc, run, msg, msgsize);
    free(data);
    free(path);
    return status;
}

static void test_name_ok(void **state)
{
    (void)state;
    assert_true(pw_archive_name_ok("20261104T120000Z_hostb"));
    assert_true(pw_archive_name_ok("20261104T120000Z_host.lab-2"));
    assert_false(pw_archive_name_ok(""));
    assert_false(pw_archive_name_ok(NULL));
    assert_false(pw_archive_name_ok(".."));
    assert_false(pw_archive_name_ok(".hidden"));
    assert_false(pw_archive_name_ok("-rf"));
    assert_false(pw_archive_name_ok("a/b"));
    assert_false(pw_archive_name_ok("a b"));
}

static void test_content_hash(void **state)
{
    (void)state;
    json_t *a = json_loads("{\"x\": 1, \"y\": [1.5, \"z\"]}", 0, NULL);
    json_t *b = json_loads("{\"y\":[1.5,\"z\"],\"x\":1}", 0, NULL);
    json_t *c = json_loads("{\"x\": 2, \"y\": [1.5, \"z\"]}", 0, NULL);
    char ha[65], hb[65], hc[65];
    assert_int_equal(pw_archive_content_hash(a, ha), PW_OK);
    assert_int_equal(pw_archive_content_hash(b, hb), PW_OK);
    assert_int_equal(pw_archive_content_hash(c, hc), PW_OK);
    assert_int_equal(strlen(ha), 64);
    assert_string_equal(ha, hb);
    assert_string_not_equal(ha, hc);
    /* SHA-256 of the canonical text {"x":1,"y":[1.5,"z"]} and a newline, by sha256sum. */
    assert_string_equal(ha, "586505c70ceb10009b0722df3b7e1794e52f322ae29dc459ebbad38ac8813897");
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_export_round_trip(void **state)
{
    (void)state;
    json_t *doc = load_run(RUN_B);
    pw_buf one, two;
    pw_buf_init(&one);
    pw_buf_init(&two);
    char msg[512];
    assert_int_equal(pw_archive_export(doc, RUN_B, &one, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_archive_export(doc, RUN_B, &two, msg, sizeof msg), PW_OK);
    /* gzip magic; the same run always packs to the same bytes (no time stamp inside). */
    assert_true(one.len > 20);
    assert_int_equal((unsigned char)one.data[0], 0x1f);
    assert_int_equal((unsigned char)one.data[1], 0x8b);
    assert_int_equal(one.len, two.len);
    assert_memory_equal(one.data, two.data, one.len);
    json_t *back = NULL;
    char *run = NULL;
    assert_int_equal(pw_archive_unpack(one.data, one.len, &back, &run, msg, sizeof msg), PW_OK);
    assert_string_equal(run, RUN_B);
    assert_true(json_equal(back, doc));
    free(run);
    json_decref(back);
    /* Not a run, or not a name: refused before anything is packed. */
    json_t *bad = json_pack("{s:i}", "schema", 1);
    pw_buf_reset(&two);
    assert_int_equal(pw_archive_export(bad, RUN_B, &two, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, RUN_B));
    assert_int_equal(pw_archive_export(doc, "../escape", &two, msg, sizeof msg), PW_EINVAL);
    json_decref(bad);
    pw_buf_release(&one);
    pw_buf_release(&two);
    json_decref(doc);
}

/* A file written by Python (its own JSON formatting and SHA-256) is accepted and holds the run. */
static void test_unpack_independent_file(void **state)
{
    (void)state;
    json_t *doc = NULL, *ref = load_run(RUN_B);
    char *run = NULL, msg[512];
    assert_int_equal(unpack_file("good.json.gz", &doc, &run, msg, sizeof msg), PW_OK);
    assert_string_equal(run, RUN_B);
    assert_true(json_equal(doc, ref));
    char h1[65], h2[65];
    pw_archive_content_hash(doc, h1);
    pw_archive_content_hash(ref, h2);
    assert_string_equal(h1, h2);
    free(run);
    json_decref(doc);
    json_decref(ref);
}

static void expect_refused(const char *file, const char *words)
{
    json_t *doc = (json_t *)1;
    char *run = (char *)1, msg[512] = "";
    assert_int_equal(unpack_file(file, &doc, &run, msg, sizeof msg), PW_EINVAL);
    assert_null(doc);
    assert_null(run);
    if (!strstr(msg, words)) fail_msg("%s: message '%s' lacks '%s'", file, msg, words);
}

static void test_unpack_refuses(void **state)
{
    (void)state;
    expect_refused("flipped.json.gz", "damaged");
    expect_refused("truncated.json.gz", "truncated");
    expect_refused("modified.json.gz", "modified");
    expect_refused("newer.json.gz", "version 2 is newer");
    expect_refused("foreign.json.gz", "not a perfweave archive");
    expect_refused("plain.json", "not gzip-compressed");
    json_t *doc;
    char *run, msg[256];
    assert_int_equal(pw_archive_unpack("", 0, &doc, &run, msg, sizeof msg), PW_EINVAL);
}

static void test_import(void **state)
{
    (void)state;
    char *root = pw_test_tmpdir();
    json_t *doc = NULL;
    char *run = NULL, *path = NULL, msg[512];
    assert_int_equal(unpack_file("good.json.gz", &doc, &run, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_archive_import(root, doc, run, &path, msg, sizeof msg), PW_OK);
    char *expect = pw_xasprintf("%s/%s/results.json", root, RUN_B);
    assert_string_equal(path, expect);
    free(path);
    free(expect);
    json_t *list;
    assert_int_equal(pw_archive_list(root, &list), PW_OK);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "run")), RUN_B);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "host")), "hostb");
    json_decref(list);
    char hex[65], *found = NULL;
    pw_archive_content_hash(doc, hex);
    assert_int_equal(pw_archive_find_content(root, hex, &found), PW_OK);
    assert_string_equal(found, RUN_B);
    free(found);

    /* The same content again: refused, and the archive is unchanged. */
    path = (char *)1;
    assert_int_equal(pw_archive_import(root, doc, run, &path, msg, sizeof msg), PW_EINVAL);
    assert_null(path);
    assert_non_null(strstr(msg, "already in"));
    assert_int_equal(pw_archive_list(root, &list), PW_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);

    /* Another run that happens to have the same name: kept beside it, never over it. */
    json_t *other = json_deep_copy(doc);
    json_object_set_new(other, "finished", json_string("2026-11-04T12:00:10Z"));
    assert_int_equal(pw_archive_import(root, other, run, &path, msg, sizeof msg), PW_OK);
    assert_non_null(strstr(path, RUN_B "-2/results.json"));
    free(path);
    json_t *first;
    assert_int_equal(pw_archive_load(root, RUN_B, &first), PW_OK);
    assert_true(json_equal(first, doc));
    json_decref(first);
    /* An invalid run or name is refused. */
    json_t *bad = json_pack("{s:i}", "schema", 1);
    assert_int_equal(pw_archive_import(root, bad, "x", NULL, msg, sizeof msg), PW_EINVAL);
    assert_int_equal(pw_archive_import(root, doc, "../x", NULL, msg, sizeof msg), PW_EINVAL);
    json_decref(bad);
    json_decref(other);
    json_decref(doc);
    free(run);
    pw_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_ok),
        cmocka_unit_test(test_content_hash),
        cmocka_unit_test(test_export_round_trip),
        cmocka_unit_test(test_unpack_independent_file),
        cmocka_unit_test(test_unpack_refuses),
        cmocka_unit_test(test_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
