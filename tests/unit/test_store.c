/* test_store.c — implementation hashes, the result cache (round trip, corruption, key
 * sensitivity), the archive (round trip, never overwriting, listing), diff on fixture runs and
 * the hardware matrix.  Nothing here is timed. */
#include "support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "perfweave/common.h"
#include "perfweave/env.h"
#include "perfweave/experiment.h"
#include "perfweave/result.h"
#include "perfweave/store.h"
#include "../../src/cli/commands.h"

#define FIXTURES "tests/fixtures/archive"

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
    assert_false(pw_impl_is_core("src/measure/lock.c"));
    assert_false(pw_impl_is_core("include/perfweave/lock.h"));
    assert_true(pw_impl_is_core("src/measure/isolate.c"));
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
    static const char *const none[] = {NULL};
    const pw_experiment declared_none = {"selftest.w", "", NULL, 0, NULL, dummy_run, none};
    char *a = pw_impl_hash(&plain), *a2 = pw_impl_hash(&plain), *b = pw_impl_hash(&with_src),
         *c = pw_impl_hash(&other_module), *d = pw_impl_hash(&with_missing);
    assert_int_equal(strlen(a), 64);
    assert_string_equal(a, a2);       /* deterministic; the name after '.' does not matter */
    assert_string_not_equal(a, b);    /* extra sources enter the hash */
    assert_string_not_equal(a, c);    /* so does the experiment's own file */
    assert_string_not_equal(a, d);
    /* Undeclared sources (NULL) take every kernel; an empty list takes none.  They differ
     * exactly when the build has kernel files. */
    char *e = pw_impl_hash(&declared_none);
    const char *h;
    bool kernels_exist = false;
    for (size_t i = 0; pw_impl_generated_file(i, &h); i++)
        if (strncmp(pw_impl_generated_file(i, &h), "src/kernels/", 12) == 0) kernels_exist = true;
    if (kernels_exist) assert_string_not_equal(a, e);
    else assert_string_equal(a, e);
    free(e);
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

/* Rewrites the "stored" time of key's entry (not covered by the checksum). */
static void restamp(pw_cache *c, const char *key, const char *stored)
{
    char *path = pw_cache_path(c, key);
    json_t *entry = json_load_file(path, 0, NULL);
    assert_non_null(entry);
    json_object_set_new(entry, "stored", json_string(stored));
    char *text = json_dumps(entry, 0);
    assert_int_equal(pw_write_file_atomic(path, text, strlen(text)), PW_OK);
    free(text);
    json_decref(entry);
    free(path);
}

static void test_cache_family(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    pw_cache *c = pw_cache_open(dir);
    char *fam = pw_cache_family("d", "impl", false);
    char *fam_quick = pw_cache_family("d", "impl", true);
    char *fam_other = pw_cache_family("d2", "impl", false);
    assert_string_not_equal(fam, fam_quick);
    assert_string_not_equal(fam, fam_other);
    /* The same directive measured on two machines. */
    char *k1 = pw_cache_key("d", "impl", "machine1", false), *k2 = pw_cache_key("d", "impl", "machine2", false);
    json_t *d1 = sample_result("r", 10.0), *d2 = sample_result("r", 20.0);
    assert_int_equal(pw_cache_put_family(c, k1, fam, d1), PW_OK);
    assert_int_equal(pw_cache_put_family(c, k2, fam, d2), PW_OK);
    assert_int_equal(pw_cache_put_family(c, k2, "nothex", d2), PW_EINVAL);
    restamp(c, k1, "2026-01-02T00:00:00Z");
    restamp(c, k2, "2026-01-01T00:00:00Z");
    json_t *got;
    char warning[512];
    assert_int_equal(pw_cache_get_family(c, fam, &got, warning, sizeof warning), PW_OK);
    assert_true(json_equal(got, d1));   /* the most recent */
    json_decref(got);
    restamp(c, k2, "2026-01-03T00:00:00Z");
    assert_int_equal(pw_cache_get_family(c, fam, &got, warning, sizeof warning), PW_OK);
    assert_true(json_equal(got, d2));
    json_decref(got);
    /* A corrupt newest entry is skipped with a warning; the older one is used. */
    char *path = pw_cache_path(c, k2);
    json_t *entry = json_load_file(path, 0, NULL);
    json_object_set_new(json_object_get(json_object_get(entry, "result"), "metrics"), "x", json_integer(1));
    char *text = json_dumps(entry, 0);
    assert_int_equal(pw_write_file_atomic(path, text, strlen(text)), PW_OK);
    assert_int_equal(pw_cache_get_family(c, fam, &got, warning, sizeof warning), PW_OK);
    assert_true(json_equal(got, d1));
    assert_non_null(strstr(warning, "checksum"));
    json_decref(got);
    assert_int_equal(pw_cache_get_family(c, fam_quick, &got, warning, sizeof warning), PW_ENOTFOUND);
    assert_null(got);
    free(text), free(path);
    json_decref(entry), json_decref(d1), json_decref(d2);
    free(k1), free(k2), free(fam), free(fam_quick), free(fam_other);
    pw_cache_free(c);
    pw_test_rmtree(dir);
    free(dir);
}

/* --- archive -------------------------------------------------------------------------------- */

static json_t *run_doc(const char *started, const char *host)
{
    json_t *res = sample_result("r1", 12.5);
    json_object_set_new(res, "claims", json_pack("[{s:s, s:s}, {s:s, s:s}]", "claim", "x > 1",
                                                 "verdict", "PASS", "claim", "y > 1", "verdict", "FAIL"));
    pw_result *failed = pw_result_new("selftest.crash", "boom");
    pw_result_error(failed, "killed by signal 11");
    json_t *doc = json_pack("{s:i, s:s, s:s, s:{s:s, s:{s:s}}, s:{s:b}, s:[o, O]}", "schema", 1,
                            "started", started, "finished", started, "environment", "host", host,
                            "perfweave", "commit", "abc123", "config", "quick", 1, "results", res,
                            pw_result_json(failed));
    pw_result_free(failed);
    return doc;
}

static void test_archive_round_trip(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *root = pw_xasprintf("%s/validation_results", dir);
    json_t *doc = run_doc("2026-11-29T03:04:05Z", "my host/../x");
    char *p1 = NULL, *p2 = NULL, *p3 = NULL;
    assert_int_equal(pw_archive_write(root, doc, &p1), PW_OK);
    char *want = pw_xasprintf("%s/20261129T030405Z_my-host-..-x/results.json", root);
    assert_string_equal(p1, want);
    /* Never overwritten: the same stamp and host get a suffix. */
    assert_int_equal(pw_archive_write(root, doc, &p2), PW_OK);
    assert_string_not_equal(p1, p2);
    assert_non_null(strstr(p2, "_my-host-..-x-2/results.json"));
    assert_int_equal(pw_archive_write(root, doc, &p3), PW_OK);
    assert_non_null(strstr(p3, "-3/results.json"));

    json_t *back;
    assert_int_equal(pw_archive_load(root, "20261129T030405Z_my-host-..-x", &back), PW_OK);
    assert_true(json_equal(back, doc));
    json_decref(back);
    assert_int_equal(pw_archive_load(root, p2, &back), PW_OK);   /* by path */
    assert_true(json_equal(back, doc));
    json_decref(back);
    char msg[512];
    assert_int_equal(pw_archive_load_msg(root, "2026", &back, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "ambiguous"));
    assert_int_equal(pw_archive_load_msg(root, "1999", &back, msg, sizeof msg), PW_ENOTFOUND);
    assert_non_null(strstr(msg, "unknown run '1999'"));
    assert_null(back);

    /* Listing: oldest first, with verdict counts (the failed result counts one ERROR). */
    json_t *later = run_doc("2026-11-30T00:00:00Z", "other");
    assert_int_equal(pw_archive_write(root, later, NULL), PW_OK);
    json_t *runs;
    assert_int_equal(pw_archive_list(root, &runs), PW_OK);
    assert_int_equal(json_array_size(runs), 4);
    json_t *first = json_array_get(runs, 0), *last = json_array_get(runs, 3);
    assert_string_equal(json_string_value(json_object_get(first, "run")), "20261129T030405Z_my-host-..-x");
    assert_string_equal(json_string_value(json_object_get(last, "host")), "other");
    assert_string_equal(json_string_value(json_object_get(first, "commit")), "abc123");
    assert_int_equal(json_integer_value(json_object_get(first, "results")), 2);
    json_t *v = json_object_get(first, "verdicts");
    assert_int_equal(json_integer_value(json_object_get(v, "PASS")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "FAIL")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "ERROR")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "PARTIAL")), 0);
    json_decref(runs);

    /* latest / previous follow time order. */
    char *lp = NULL;
    assert_int_equal(pw_archive_resolve(root, "latest", &lp, msg, sizeof msg), PW_OK);
    assert_non_null(strstr(lp, "20261130T000000Z_other/results.json"));
    free(lp);
    assert_int_equal(pw_archive_resolve(root, "previous", &lp, msg, sizeof msg), PW_OK);
    assert_non_null(strstr(lp, "_my-host-..-x-3/results.json"));
    free(lp);

    /* An interrupted run (directory without results.json) is listed as unreadable. */
    char *empty = pw_xasprintf("%s/20261231T000000Z_x", root);
    assert_int_equal(pw_mkdir_p(empty), PW_OK);
    assert_int_equal(pw_archive_list(root, &runs), PW_OK);
    assert_int_equal(json_array_size(runs), 5);
    assert_non_null(json_object_get(json_array_get(runs, 4), "error"));
    json_decref(runs);
    /* A missing root is an empty history. */
    char *none = pw_xasprintf("%s/none", dir);
    assert_int_equal(pw_archive_list(none, &runs), PW_OK);
    assert_int_equal(json_array_size(runs), 0);
    json_decref(runs);

    free(none), free(empty), free(want), free(p1), free(p2), free(p3), free(root);
    json_decref(doc), json_decref(later);
    pw_test_rmtree(dir);
    free(dir);
}

static void test_archive_invalid(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char msg[256];
    json_t *doc = run_doc("2026-11-29T03:04:05Z", "h");
    assert_int_equal(pw_archive_validate(doc, msg, sizeof msg), PW_OK);
    json_object_set_new(doc, "schema", json_integer(2));
    assert_int_equal(pw_archive_validate(doc, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "schema"));
    json_object_set_new(doc, "schema", json_integer(1));
    json_array_append_new(json_object_get(doc, "results"), json_pack("{s:i}", "schema", 1));
    assert_int_equal(pw_archive_validate(doc, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "result 3"));
    assert_int_equal(pw_archive_write(dir, doc, NULL), PW_EINVAL);
    json_object_del(doc, "environment");
    assert_int_equal(pw_archive_validate(doc, msg, sizeof msg), PW_EINVAL);
    json_decref(doc);
    pw_test_rmtree(dir);
    free(dir);
}

/* pw_archive_load_runs: each run once, without its raw samples, from a sidecar cut once and
 * rebuilt when results.json changes; a sidecar that does not parse is ignored. */
static void test_archive_slim(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *root = pw_xasprintf("%s/validation_results", dir);
    json_t **docs = (json_t **)1;
    size_t n = 9;
    assert_int_equal(pw_archive_load_runs(root, &docs, &n), PW_OK); /* missing root: none */
    assert_int_equal(n, 0);
    assert_null(docs);

    json_t *doc = run_doc("2026-11-29T03:04:05Z", "h");
    json_t *r0 = json_array_get(json_object_get(doc, "results"), 0);
    assert_non_null(json_object_get(r0, "samples"));
    json_object_set_new(r0, "notes", json_pack("[s]", "a note"));
    char *path = NULL;
    assert_int_equal(pw_archive_write(root, doc, &path), PW_OK);
    char *run = pw_xstrndup(path, strlen(path) - strlen("/results.json"));
    char *side = pw_xasprintf("%s/.slim.json", run);

    assert_int_equal(pw_archive_load_runs(root, &docs, &n), PW_OK);
    assert_int_equal(n, 1);
    json_t *got = json_array_get(json_object_get(docs[0], "results"), 0);
    assert_null(json_object_get(got, "samples"));
    assert_null(json_object_get(got, "notes"));
    assert_true(json_equal(json_object_get(got, "metrics"), json_object_get(r0, "metrics")));
    assert_true(json_equal(json_object_get(got, "claims"), json_object_get(r0, "claims")));
    assert_int_equal(pw_archive_validate(docs[0], NULL, 0), PW_OK);
    json_decref(docs[0]);
    free(docs);

    /* The sidecar is what the next load reads: edit its copy, and the edit comes back. */
    json_t *cut = pw_json_load_file(side, 0, NULL);
    assert_non_null(cut);
    json_object_set_new(json_object_get(json_object_get(cut, "doc"), "environment"), "host",
                        json_string("from the sidecar"));
    char *text = json_dumps(cut, JSON_COMPACT);
    assert_int_equal(pw_write_file_atomic(side, text, strlen(text)), PW_OK);
    free(text);
    json_decref(cut);
    assert_int_equal(pw_archive_load_runs(root, &docs, &n), PW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(docs[0], "environment"), "host")),
                        "from the sidecar");
    json_decref(docs[0]);
    free(docs);

    /* results.json rewritten (another size): the sidecar is cut again from it. */
    json_object_set_new(json_object_get(doc, "environment"), "host", json_string("rewritten host"));
    text = json_dumps(doc, JSON_INDENT(1));
    assert_int_equal(pw_write_file_atomic(path, text, strlen(text)), PW_OK);
    free(text);
    assert_int_equal(pw_archive_load_runs(root, &docs, &n), PW_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(docs[0], "environment"), "host")),
                        "rewritten host");
    json_decref(docs[0]);
    free(docs);

    /* A sidecar that does not parse is cut again; the listing agrees. */
    assert_int_equal(pw_write_file_atomic(side, "{not json", 9), PW_OK);
    assert_int_equal(pw_archive_load_runs(root, &docs, &n), PW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(docs[0], "environment"), "host")),
                        "rewritten host");
    json_decref(docs[0]);
    free(docs);
    json_t *runs;
    assert_int_equal(pw_archive_list(root, &runs), PW_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 0), "host")), "rewritten host");
    json_decref(runs);
    cut = pw_json_load_file(side, 0, NULL);
    assert_non_null(json_object_get(cut, "doc"));
    json_decref(cut);

    free(side), free(run), free(path), free(root);
    json_decref(doc);
    pw_test_rmtree(dir);
    free(dir);
}

/* pw_json_load_file: json_load_file's contract, read whole. */
static void test_json_load_file(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *good = pw_xasprintf("%s/good.json", dir), *bad = pw_xasprintf("%s/bad.json", dir);
    char *none = pw_xasprintf("%s/none.json", dir);
    assert_int_equal(pw_write_file_atomic(good, "{\"a\": [1, 2.5, \"x\"]}", 20), PW_OK);
    assert_int_equal(pw_write_file_atomic(bad, "{\"a\": 1,\n \"b\": }", 17), PW_OK);
    json_error_t err;
    json_t *doc = pw_json_load_file(good, 0, &err);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "a")), 3);
    assert_true(json_real_value(json_array_get(json_object_get(doc, "a"), 1)) == 2.5);
    json_decref(doc);
    assert_null(pw_json_load_file(bad, 0, &err));
    assert_int_equal(err.line, 2);
    assert_string_equal(err.source, bad);
    assert_null(pw_json_load_file(none, 0, &err));
    assert_int_equal(err.line, -1);
    assert_non_null(strstr(err.text, "unable to open"));
    assert_non_null(strstr(err.text, "none.json"));
    assert_null(pw_json_load_file(none, 0, NULL));
    free(good), free(bad), free(none);
    pw_test_rmtree(dir);
    free(dir);
}

/* --- diff ----------------------------------------------------------------------------------- */

static void test_direction(void **state)
{
    (void)state;
    assert_int_equal(pw_metric_direction("gflops.naive.n256", "GFLOP/s"), 1);
    assert_int_equal(pw_metric_direction("speedup.openblas_vs_naive.n1024", "\xc3\x97"), 1);
    assert_int_equal(pw_metric_direction("accuracy.int8", "%"), 1);
    assert_int_equal(pw_metric_direction("time.naive.n64", "ms"), -1);
    assert_int_equal(pw_metric_direction("time_per_token.cached.t512", "ms"), -1);
    assert_int_equal(pw_metric_direction("latency.p99", ""), -1);
    assert_int_equal(pw_metric_direction("bytes.model", "B"), -1);
    assert_int_equal(pw_metric_direction("error.int8", ""), -1);
    /* Unknown family: the unit decides. */
    assert_int_equal(pw_metric_direction("foo.bar", "MiB"), -1);
    assert_int_equal(pw_metric_direction("foo.bar", "tokens/s"), 1);
    assert_int_equal(pw_metric_direction("foo.bar", "%"), 0);
    assert_int_equal(pw_metric_direction("sparsity.l1", ""), 0);
    assert_int_equal(pw_metric_direction("samples:naive.n256", "s"), -1);
}

static json_t *load_fixture(const char *run)
{
    json_t *doc = NULL;
    char msg[512];
    if (pw_archive_load_msg(FIXTURES, run, &doc, msg, sizeof msg) != PW_OK) fail_msg("%s", msg);
    return doc;
}

static json_t *find_row(const json_t *d, const char *id, const char *metric)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(d, "metrics"), i, r) {
        const char *m = json_string_value(json_object_get(r, "metric"));
        if (strcmp(json_string_value(json_object_get(r, "id")), id) == 0 &&
            ((!m && !metric) || (m && metric && strcmp(m, metric) == 0)))
            return r;
    }
    return NULL;
}

static const char *status_of(const json_t *d, const char *id, const char *metric)
{
    json_t *r = find_row(d, id, metric);
    if (!r) fail_msg("no row %s.%s", id, metric ? metric : "");
    return json_string_value(json_object_get(r, "status"));
}

static void test_diff_fixtures(void **state)
{
    (void)state;
    json_t *base = load_fixture("20261101T120000Z_hosta");
    json_t *noise = load_fixture("20261102T120000Z_hosta");
    json_t *slow = load_fixture("20261103T120000Z_hosta");
    json_t *d;
    char msg[256];

    /* Noise only: nothing significant beyond the threshold. */
    assert_int_equal(pw_archive_diff(base, noise, NULL, &d, msg, sizeof msg), PW_OK);
    assert_int_equal(json_integer_value(json_object_get(d, "regressions")), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "improvements")), 0);
    assert_true(json_is_true(json_object_get(d, "same_machine")));
    assert_string_equal(status_of(d, "matmul", "bytes.workspace.n256"), "same");
    assert_string_equal(json_string_value(json_object_get(find_row(d, "matmul", "bytes.workspace.n256"),
                                                          "method")), "exact");
    assert_string_equal(json_string_value(json_object_get(find_row(d, "matmul", "samples:blocked.n256"),
                                                          "method")), "samples");
    json_decref(d);

    /* Blocked matmul 10% slower: regressions in its rate, its speedup and its raw times; the
     * naive kernel and the accuracy are unchanged. */
    assert_int_equal(pw_archive_diff(base, slow, NULL, &d, msg, sizeof msg), PW_OK);
    assert_int_equal(json_integer_value(json_object_get(d, "regressions")), 3);
    assert_string_equal(status_of(d, "matmul", "gflops.blocked.n256"), "regression");
    assert_string_equal(status_of(d, "matmul", "speedup.blocked_vs_naive.n256"), "regression");
    assert_string_equal(status_of(d, "matmul", "samples:blocked.n256"), "regression");
    assert_string_equal(status_of(d, "matmul", "gflops.naive.n256"), "same");
    assert_string_equal(status_of(d, "int8", "accuracy.int8"), "same");
    json_t *row = find_row(d, "matmul", "gflops.blocked.n256");
    assert_true(json_number_value(json_object_get(row, "change")) < -0.05);
    assert_true(json_number_value(json_object_get(row, "p_holm")) < 0.05);
    json_decref(d);

    /* The other way round it is an improvement; a threshold above the change hides it. */
    assert_int_equal(pw_archive_diff(slow, base, NULL, &d, msg, sizeof msg), PW_OK);
    assert_int_equal(json_integer_value(json_object_get(d, "regressions")), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "improvements")), 3);
    json_decref(d);
    pw_diff_options opt;
    pw_diff_options_default(&opt);
    opt.threshold = 0.15;
    assert_int_equal(pw_archive_diff(base, slow, &opt, &d, msg, sizeof msg), PW_OK);
    assert_int_equal(json_integer_value(json_object_get(d, "regressions")), 0);
    json_decref(d);

    /* A result that ran before and fails now is a regression; metrics that disappear are
     * listed. */
    json_t *broken = json_deep_copy(noise);
    json_t *mm = json_array_get(json_object_get(broken, "results"), 0);
    json_object_set_new(mm, "status", json_string("error"));
    json_object_set_new(mm, "error", json_string("killed by signal 11"));
    json_object_del(json_object_get(json_array_get(json_object_get(broken, "results"), 1), "metrics"),
                    "accuracy.int8");
    assert_int_equal(pw_archive_diff(base, broken, NULL, &d, msg, sizeof msg), PW_OK);
    assert_int_equal(json_integer_value(json_object_get(d, "regressions")), 1);
    assert_string_equal(status_of(d, "matmul", NULL), "regression");
    assert_string_equal(json_string_value(json_object_get(find_row(d, "matmul", NULL), "reason")),
                        "killed by signal 11");
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "only_a"), 0)),
                        "int8.accuracy.int8");
    json_decref(d);

    /* Invalid input. */
    /* A repeated id: the k-th occurrence is matched with the k-th, so a run equals itself. */
    json_t *dup = json_deep_copy(base);
    json_t *second = json_deep_copy(json_array_get(json_object_get(dup, "results"), 0));
    json_object_set_new(json_object_get(json_object_get(second, "metrics"), "gflops.naive.n256"),
                        "value", json_real(1.0));
    json_object_set_new(json_object_get(json_object_get(second, "metrics"), "gflops.naive.n256"),
                        "ci95", json_pack("[f, f]", 0.99, 1.01));
    json_array_append_new(json_object_get(dup, "results"), second);
    assert_int_equal(pw_archive_diff(dup, dup, NULL, &d, msg, sizeof msg), PW_OK);
    assert_int_equal(json_integer_value(json_object_get(d, "regressions")), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "improvements")), 0);
    json_decref(d);
    json_decref(dup);

    json_t *other = load_fixture("20261104T120000Z_hostb");
    assert_int_equal(pw_archive_diff(base, other, NULL, &d, msg, sizeof msg), PW_OK);
    assert_true(json_is_false(json_object_get(d, "same_machine")));
    assert_true(json_is_false(json_object_get(d, "same_software")));
    json_decref(d);
    assert_int_equal(pw_archive_diff(base, noise, NULL, &d, msg, sizeof msg), PW_OK);
    assert_true(json_is_true(json_object_get(d, "same_software")));
    json_decref(d);
    /* Another compiler on the same hardware: the same machine, other software. */
    json_t *rebuilt = json_deep_copy(noise);
    json_t *env = json_object_get(rebuilt, "environment");
    json_object_set_new(env, "compiler", json_pack("{s:s, s:s}", "name", "gcc", "version", "14.2.0"));
    assert_int_equal(pw_archive_diff(base, rebuilt, NULL, &d, msg, sizeof msg), PW_OK);
    assert_true(json_is_true(json_object_get(d, "same_machine")));
    assert_true(json_is_false(json_object_get(d, "same_software")));
    json_decref(d);
    json_decref(rebuilt);
    json_decref(other);
    json_t *junk = json_pack("{s:i}", "schema", 9);
    assert_int_equal(pw_archive_diff(base, junk, NULL, &d, msg, sizeof msg), PW_EINVAL);
    assert_non_null(strstr(msg, "second run"));
    assert_null(d);
    json_decref(junk);
    json_decref(broken), json_decref(base), json_decref(noise), json_decref(slow);
}

/* Runs a subcommand with stdout and stderr sent to /dev/null; returns its exit status. */
static int quiet_cmd(int (*fn)(int, char **), int argc, const char **argv)
{
    fflush(stdout);
    fflush(stderr);
    int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    int code = fn(argc, (char **)argv);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(err, 2);
    close(out), close(err), close(null);
    return code;
}

static void test_diff_command(void **state)
{
    (void)state;
    const char *same[] = {"diff", "--root", FIXTURES, "20261101", "20261102", NULL};
    const char *regr[] = {"diff", "--root", FIXTURES, "20261101", "20261103", NULL};
    const char *json[] = {"diff", "--json", "--root", FIXTURES, "20261101", "20261103", NULL};
    const char *loose[] = {"diff", "--threshold", "0.5", "--root", FIXTURES, "20261101", "20261103", NULL};
    const char *unknown[] = {"diff", "--root", FIXTURES, "20261101", "nope", NULL};
    const char *one[] = {"diff", "--root", FIXTURES, "20261101", NULL};
    const char *badthr[] = {"diff", "--threshold", "abc", "a", "b", NULL};
    const char *hist[] = {"history", "--root", FIXTURES, NULL};
    const char *histj[] = {"history", "--json", "--root", FIXTURES, NULL};
    assert_int_equal(quiet_cmd(pw_cmd_diff, 5, same), PW_EXIT_OK);
    assert_int_equal(quiet_cmd(pw_cmd_diff, 5, regr), PW_EXIT_ERROR);
    assert_int_equal(quiet_cmd(pw_cmd_diff, 6, json), PW_EXIT_ERROR);
    assert_int_equal(quiet_cmd(pw_cmd_diff, 7, loose), PW_EXIT_OK);
    assert_int_equal(quiet_cmd(pw_cmd_diff, 5, unknown), PW_EXIT_USAGE);
    assert_int_equal(quiet_cmd(pw_cmd_diff, 4, one), PW_EXIT_USAGE);
    assert_int_equal(quiet_cmd(pw_cmd_diff, 5, badthr), PW_EXIT_USAGE);
    assert_int_equal(quiet_cmd(pw_cmd_history, 3, hist), PW_EXIT_OK);
    assert_int_equal(quiet_cmd(pw_cmd_history, 4, histj), PW_EXIT_OK);
}

/* --- hardware matrix ------------------------------------------------------------------------ */

static void test_matrix(void **state)
{
    (void)state;
    json_t *runs[4] = {load_fixture("20261101T120000Z_hosta"), load_fixture("20261104T120000Z_hostb"),
                       load_fixture("20261103T120000Z_hosta"), json_pack("{s:i}", "schema", 5)};
    json_t *m = pw_archive_matrix(runs, 4, "gflops.*");
    json_t *cols = json_object_get(m, "columns"), *rows = json_object_get(m, "rows");
    assert_int_equal(json_array_size(cols), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "label")),
                        "hosta (20261101T120000Z)");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "label")), "hostb");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "cpu")), "Fixture CPU B");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 3), "label")), "invalid run");
    /* Rows: the two gflops metrics, in name order; the invalid run's cells are null. */
    assert_int_equal(json_array_size(rows), 2);
    json_t *r0 = json_array_get(rows, 0), *r1 = json_array_get(rows, 1);
    assert_string_equal(json_string_value(json_object_get(r0, "metric")), "matmul.gflops.blocked.n256");
    assert_string_equal(json_string_value(json_object_get(r1, "metric")), "matmul.gflops.naive.n256");
    assert_string_equal(json_string_value(json_object_get(r0, "unit")), "GFLOP/s");
    json_t *cells = json_object_get(r0, "cells");
    assert_int_equal(json_array_size(cells), 4);
    assert_true(json_is_null(json_array_get(cells, 3)));
    /* Cells carry the archived values: hostb's blocked kernel is twice as fast by construction. */
    json_t *met = json_object_get(json_object_get(json_array_get(json_object_get(runs[1], "results"), 0),
                                                  "metrics"), "gflops.blocked.n256");
    assert_close(json_number_value(json_object_get(json_array_get(cells, 1), "value")),
                 json_number_value(json_object_get(met, "value")), 1e-12);
    assert_true(json_number_value(json_object_get(json_array_get(cells, 1), "value")) >
                1.8 * json_number_value(json_object_get(json_array_get(cells, 0), "value")));
    double lo = json_number_value(json_object_get(json_array_get(cells, 0), "lo"));
    double hi = json_number_value(json_object_get(json_array_get(cells, 0), "hi"));
    assert_true(lo < hi);
    json_decref(m);

    /* The full name matches too, and NULL selects everything. */
    m = pw_archive_matrix(runs, 2, "int8.*");
    assert_int_equal(json_array_size(json_object_get(m, "rows")), 1);
    json_decref(m);
    m = pw_archive_matrix(runs, 2, NULL);
    assert_int_equal(json_array_size(json_object_get(m, "rows")), 5);
    json_decref(m);
    m = pw_archive_matrix(runs, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(m, "rows")), 0);
    json_decref(m);
    for (int i = 0; i < 4; i++) json_decref(runs[i]);
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
        cmocka_unit_test(test_cache_family),
        cmocka_unit_test(test_archive_round_trip),
        cmocka_unit_test(test_archive_invalid),
        cmocka_unit_test(test_archive_slim),
        cmocka_unit_test(test_json_load_file),
        cmocka_unit_test(test_direction),
        cmocka_unit_test(test_diff_fixtures),
        cmocka_unit_test(test_diff_command),
        cmocka_unit_test(test_matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
