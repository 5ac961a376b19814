/* test_store.c — implementation hashes, the result cache (round trip, corruption, key
 * sensitivity), the archive (round trip, never overwriting, listing), diff on fixture runs and
 * the hardware matrix.  Nothing here is timed. */
#include "support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "perfweave/common.h"
#include "perfweave/env.h"
#include "perfweave/experiment.h"
#include "perfweave/result.h"
#include "perfweave/store.h"

/* A small result document with two metrics and raw samples. */
static json_t *sample_result(const char *id, double gflops)
{
    pw_result *r = pw_result_new("selftest.fixed", id);
    assert_int_equal(pw_result_metric(r, "gflops.naive.n64", gflops, gflops * 0.99, gflops * 1.01,
                                      "GFLOP/s"), PW_OK);
    assert_int_equal(pw_result_exact(r, "bytes.model", 4096, "B"), PW_OK);
    double x[] = {1.0, 1.1, 0.9, 1.05};
    pw_result_samples(r, "naive.n64", x, 4);
    json_t *doc = json_incref(pw_result_json(r));
    pw_result_free(r);
    json_object_set_new(doc, "environment", json_pack("{s:s}", "host", "testhost"));
    return doc;
}

/* --- implementation hash -------------------------------------------------------------------- */

static void test_impl_table(void **state)
{
    (void)state;
    const char *h = pw_impl_file_hash("src/common/util.c");
    assert_non_null(h);
    assert_int_equal(strlen(h), 64);
    assert_null(pw_impl_file_hash("src/common/nonexistent.c"));
    assert_non_null(pw_impl_generated_flags());
    assert_true(pw_impl_is_core("src/common/result.c"));
    assert_true(pw_impl_is_core("src/measure/env.c"));
    assert_true(pw_impl_is_core("include/perfweave/bench.h"));
    assert_false(pw_impl_is_core("include/perfweave/store.h"));
    assert_false(pw_impl_is_core("src/weave/html.c"));
    assert_false(pw_impl_is_core("src/store/cache.c"));
    assert_false(pw_impl_is_core("src/experiments/selftest.c"));
}

static int dummy_run(pw_run *run)
{
    (void)run;
    return PW_OK;
}

static void test_impl_hash(void **state)
{
    (void)state;
    static const char *const kernels[] = {"src/common/util.c", NULL};
    static const char *const missing[] = {"src/kernels/nope.c", NULL};
    const pw_experiment plain = {"selftest.x", "", NULL, 0, NULL, dummy_run, NULL};
    const pw_experiment with_src = {"selftest.y", "", NULL, 0, NULL, dummy_run, kernels};
    const pw_experiment other_module = {"nomodule.x", "", NULL, 0, NULL, dummy_run, NULL};
    const pw_experiment with_missing = {"selftest.z", "", NULL, 0, NULL, dummy_run, missing};
    char *a = pw_impl_hash(&plain), *a2 = pw_impl_hash(&plain), *b = pw_impl_hash(&with_src),
         *c = pw_impl_hash(&other_module), *d = pw_impl_hash(&with_missing);
    assert_int_equal(strlen(a), 64);
    assert_string_equal(a, a2);       /* deterministic; the name after '.' does not matter */
    assert_string_not_equal(a, b);    /* extra sources enter the hash */
    assert_string_not_equal(a, c);    /* so does the experiment's own file */
    assert_string_not_equal(a, d);
    char msg[256];
    assert_int_equal(pw_impl_check(&plain, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_impl_check(&with_src, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_impl_check(&other_module, msg, sizeof msg), PW_ENOTFOUND);
    assert_non_null(strstr(msg, "src/experiments/nomodule.c"));
    assert_int_equal(pw_impl_check(&with_missing, msg, sizeof msg), PW_ENOTFOUND);
    assert_non_null(strstr(msg, "src/kernels/nope.c"));
    free(a), free(a2), free(b), free(c), free(d);
}

static void test_registry_sources_exist(void **state)
{
    (void)state;
    size_t n;
    const pw_experiment *const *all = pw_registry_all(&n);
    for (size_t i = 0; i < n; i++) {
        char msg[256] = "";
        int st = pw_impl_check(all[i], msg, sizeof msg);
        if (st != PW_OK) fail_msg("%s", msg);
    }
}

/* --- cache ---------------------------------------------------------------------------------- */

static void test_cache_keys(void **state)
{
    (void)state;
    char *base = pw_cache_key("experiment x\nsizes: [1]\n", "impl1", "fp1", false);
    char *same = pw_cache_key("experiment x\nsizes: [1]\n", "impl1", "fp1", false);
    char *text = pw_cache_key("experiment x\nsizes: [2]\n", "impl1", "fp1", false);
    char *impl = pw_cache_key("experiment x\nsizes: [1]\n", "impl2", "fp1", false);
    char *fp = pw_cache_key("experiment x\nsizes: [1]\n", "impl1", "fp2", false);
    char *quick = pw_cache_key("experiment x\nsizes: [1]\n", "impl1", "fp1", true);
    /* Field boundaries are unambiguous: moving a character between fields changes the key. */
    char *shift = pw_cache_key("experiment x\nsizes: [1]\ni", "mpl1", "fp1", false);
    assert_int_equal(strlen(base), 64);
    assert_string_equal(base, same);
    const char *const others[] = {text, impl, fp, quick, shift};
    for (size_t i = 0; i < 5; i++) {
        assert_string_not_equal(base, others[i]);
        for (size_t j = i + 1; j < 5; j++) assert_string_not_equal(others[i], others[j]);
    }
    free(base), free(same), free(text), free(impl), free(fp), free(quick), free(shift);
}

static void test_cache_round_trip(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *cdir = pw_xasprintf("%s/.cache/results", dir);
    pw_cache *c = pw_cache_open(cdir);
    assert_non_null(c);
    struct stat st;
    assert_int_equal(stat(cdir, &st), 0);
    char *key = pw_cache_key("d", "i", "f", true);
    char warning[512];
    json_t *got = NULL;
    assert_int_equal(pw_cache_get(c, key, &got, warning, sizeof warning), PW_ENOTFOUND);
    assert_null(got);
    assert_string_equal(warning, "");

    json_t *doc = sample_result("r1", 12.5);
    assert_int_equal(pw_cache_put(c, key, doc), PW_OK);
    assert_int_equal(pw_cache_get(c, key, &got, warning, sizeof warning), PW_OK);
    assert_true(json_equal(got, doc));
    assert_string_equal(warning, "");
    json_decref(got);

    /* The entry records when and where it was stored. */
    char *path = pw_cache_path(c, key);
    json_t *entry = json_load_file(path, 0, NULL);
    assert_non_null(entry);
    assert_string_equal(json_string_value(json_object_get(entry, "host")), "testhost");
    assert_non_null(json_string_value(json_object_get(entry, "stored")));
    json_decref(entry);

    /* Replacing an entry is allowed (a re-run); not a result, or a bad key, is refused. */
    json_t *doc2 = sample_result("r1", 13.5);
    assert_int_equal(pw_cache_put(c, key, doc2), PW_OK);
    assert_int_equal(pw_cache_get(c, key, &got, NULL, 0), PW_OK);
    assert_true(json_equal(got, doc2));
    json_decref(got);
    json_t *junk = json_pack("{s:i}", "x", 1);
    assert_int_equal(pw_cache_put(c, key, junk), PW_EINVAL);
    assert_int_equal(pw_cache_put(c, "../../etc/passwd", doc), PW_EINVAL);
    assert_int_equal(pw_cache_get(c, "../x", &got, NULL, 0), PW_EINVAL);
    json_decref(junk);

    free(path);
    free(key);
    json_decref(doc), json_decref(doc2);
    pw_cache_free(c);
    pw_cache_free(NULL);
    free(cdir);
    pw_test_rmtree(dir);
    free(dir);
}

/* Writes text over key's entry. */
static void clobber(pw_cache *c, const char *key, const char *text)
{
    char *path = pw_cache_path(c, key);
    assert_int_equal(pw_write_file_atomic(path, text, strlen(text)), PW_OK);
    free(path);
}

static void expect_corrupt(pw_cache *c, const char *key, const char *why)
{
    char warning[512];
    json_t *got = (json_t *)1;
    assert_int_equal(pw_cache_get(c, key, &got, warning, sizeof warning), PW_ENOTFOUND);
    assert_null(got);
    if (!strstr(warning, why) || !strstr(warning, key)) fail_msg("warning '%s' lacks '%s'", warning, why);
}

static void test_cache_corrupt(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    pw_cache *c = pw_cache_open(dir);
    char *key = pw_cache_key("d", "i", "f", false);
    json_t *doc = sample_result("r1", 12.5);
    assert_int_equal(pw_cache_put(c, key, doc), PW_OK);
    char *path = pw_cache_path(c, key);
    char *good = pw_read_file(path, NULL);

    /* Truncated (a half-written file from an older tool, a full disk). */
    good[strlen(good) / 2] = '\0';
    clobber(c, key, good);
    expect_corrupt(c, key, "not valid JSON");

    /* A value edited by hand: still valid JSON, the checksum catches it. */
    json_t *entry = json_load_file(path, 0, NULL);
    assert_null(entry);
    assert_int_equal(pw_cache_put(c, key, doc), PW_OK);
    entry = json_load_file(path, 0, NULL);
    json_t *m = json_object_get(json_object_get(json_object_get(entry, "result"), "metrics"),
                                "gflops.naive.n64");
    json_object_set_new(m, "value", json_real(99.0));
    char *text = json_dumps(entry, 0);
    clobber(c, key, text);
    free(text);
    expect_corrupt(c, key, "checksum");

    /* The wrong schema, and an entry copied under another key. */
    json_object_set_new(entry, "cache_schema", json_integer(7));
    text = json_dumps(entry, 0);
    clobber(c, key, text);
    free(text);
    expect_corrupt(c, key, "schema");
    char *other = pw_cache_key("d", "i", "f", true);
    assert_int_equal(pw_cache_put(c, other, doc), PW_OK);
    char *opath = pw_cache_path(c, other);
    char *otext = pw_read_file(opath, NULL);
    clobber(c, key, otext);
    expect_corrupt(c, key, "another key");
    /* A result document that is not one. */
    char *notresult = pw_xasprintf("{\"cache_schema\": 1, \"key\": \"%s\", \"result\": {}}", key);
    clobber(c, key, notresult);
    free(notresult);
    expect_corrupt(c, key, "invalid result");

    /* After a re-run, put replaces the corrupt entry. */
    assert_int_equal(pw_cache_put(c, key, doc), PW_OK);
    json_t *got;
    assert_int_equal(pw_cache_get(c, key, &got, NULL, 0), PW_OK);
    json_decref(got);

    json_decref(entry);
    free(otext), free(opath), free(other), free(good), free(path), free(key);
    json_decref(doc);
    pw_cache_free(c);
    pw_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impl_table),
        cmocka_unit_test(test_impl_hash),
        cmocka_unit_test(test_registry_sources_exist),
        cmocka_unit_test(test_cache_keys),
        cmocka_unit_test(test_cache_round_trip),
        cmocka_unit_test(test_cache_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
