/* test_env.c — environment capture: documented keys, a stable fingerprint, and the warnings
 * derived from synthetic environments. */
#include "support.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/env.h"
#include "perfweave/version.h"

static void test_capture_keys(void **state)
{
    (void)state;
    json_t *env = pw_env_capture();
    assert_non_null(env);
    assert_int_equal(json_integer_value(json_object_get(env, "schema")), PW_ENV_SCHEMA);
    static const char *const top[] = {"captured", "host", "cpu", "hypervisor", "memory_bytes",
                                      "load", "kernel", "compiler", "openblas", "libraries",
                                      "perfweave", NULL};
    for (const char *const *k = top; *k; k++) assert_non_null(json_object_get(env, *k));
    json_t *cpu = json_object_get(env, "cpu");
    static const char *const cpukeys[] = {"model", "flags", "avx2", "fma", "avx512f", "cores_online",
                                          "cores_configured", "caches", "governor",
                                          "scaling_driver", "frequency_scaling", NULL};
    for (const char *const *k = cpukeys; *k; k++) assert_non_null(json_object_get(cpu, *k));
    assert_true(json_is_boolean(json_object_get(cpu, "avx2")));
    assert_true(json_integer_value(json_object_get(cpu, "cores_online")) >= 1);
    json_t *caches = json_object_get(cpu, "caches");
    assert_non_null(json_object_get(caches, "l1d"));
    assert_non_null(json_object_get(caches, "l2"));
    assert_non_null(json_object_get(caches, "l3"));
    /* "captured" is ISO 8601 UTC: 2026-11-29T02:40:18Z */
    const char *when = json_string_value(json_object_get(env, "captured"));
    assert_non_null(when);
    assert_int_equal(strlen(when), 20);
    assert_int_equal(when[10], 'T');
    assert_int_equal(when[19], 'Z');
    assert_non_null(json_string_value(json_object_get(json_object_get(env, "kernel"), "release")));
    assert_non_null(json_string_value(json_object_get(json_object_get(env, "compiler"), "version")));
    assert_non_null(json_string_value(json_object_get(json_object_get(env, "compiler"), "flags")));
    json_t *ob = json_object_get(env, "openblas");
    assert_true(json_is_integer(json_object_get(ob, "threads")));
    json_t *libs = json_object_get(env, "libraries");
    assert_string_equal(json_string_value(json_object_get(libs, "jansson")), JANSSON_VERSION);
    assert_non_null(json_string_value(json_object_get(libs, "gsl")));
    assert_non_null(json_string_value(json_object_get(libs, "cmark")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(env, "perfweave"), "commit")),
                        pw_commit());
    assert_true(json_is_boolean(json_object_get(json_object_get(env, "hypervisor"), "present")));
    json_decref(env);
}

static void test_fingerprint_stable(void **state)
{
    (void)state;
    json_t *a = pw_env_capture(), *b = pw_env_capture();
    char *ha = pw_env_fingerprint_hash(a), *hb = pw_env_fingerprint_hash(b);
    assert_int_equal(strlen(ha), 16);
    assert_string_equal(ha, hb);
    /* Volatile members do not enter the fingerprint... */
    json_object_set_new(b, "captured", json_string("1999-01-01T00:00:00Z"));
    json_object_set_new(b, "load", json_pack("[f,f,f]", 9.0, 9.0, 9.0));
    json_object_set_new(b, "host", json_string("elsewhere"));
    char *hc = pw_env_fingerprint_hash(b);
    assert_string_equal(ha, hc);
    /* ...but the machine does. */
    json_object_set_new(json_object_get(b, "cpu"), "model", json_string("Another CPU"));
    char *hd = pw_env_fingerprint_hash(b);
    assert_string_not_equal(ha, hd);
    json_t *fp = pw_env_fingerprint(a);
    json_t *hw = json_object_get(fp, "hardware"), *sw = json_object_get(fp, "software");
    assert_non_null(json_object_get(hw, "cpu_model"));
    assert_non_null(json_object_get(sw, "openblas_core"));
    assert_null(json_object_get(fp, "load"));
    json_decref(fp);
    free(ha), free(hb), free(hc), free(hd);
    json_decref(a), json_decref(b);
}

/* The hardware identity and the software that only makes a result stale are kept apart: a
 * library upgrade or another OpenBLAS core changes the fingerprint (so the cache re-measures) but
 * not the hardware hash (so the hardware matrix still groups the runs as one machine). */
static void test_hardware_software_split(void **state)
{
    (void)state;
    json_t *a = pw_env_capture();
    json_t *hw = pw_env_hardware(a), *sw = pw_env_software(a);
    static const char *const hwkeys[] = {"cpu_vendor", "cpu_family", "cpu_model_number",
                                         "cpu_stepping", "isa", "cores_online",
                                         "threads_per_core", "memory_gib", "caches", NULL};
    for (const char *const *k = hwkeys; *k; k++) assert_non_null(json_object_get(hw, *k));
#if defined(__x86_64__) || defined(__i386__)
    assert_true(json_is_integer(json_object_get(hw, "cpu_family")));
    assert_true(json_is_array(json_object_get(hw, "isa")));
#endif
    static const char *const swkeys[] = {"compiler_version", "openblas_version", "openblas_config",
                                         "openblas_core", "blis_version", "blis_arch",
                                         "onednn_version", "onednn_isa", "gsl", "cblas", NULL};
    for (const char *const *k = swkeys; *k; k++) assert_non_null(json_object_get(sw, *k));
    assert_null(json_object_get(hw, "openblas_core"));
    assert_null(json_object_get(sw, "cpu_model"));
    json_decref(hw);
    json_decref(sw);

    char *fa = pw_env_fingerprint_hash(a), *ha = pw_env_hardware_hash(a);
    /* Another OpenBLAS core, another oneDNN: a stale result, the same hardware. */
    json_t *b = json_deep_copy(a);
    json_object_set_new(json_object_get(b, "openblas"), "core", json_string("Haswell"));
    json_object_set_new(json_object_get(b, "onednn"), "version", json_string("3.0.0"));
    char *fb = pw_env_fingerprint_hash(b), *hb = pw_env_hardware_hash(b);
    assert_string_not_equal(fa, fb);
    assert_string_equal(ha, hb);
    /* Another stepping: another machine. */
    json_t *c = json_deep_copy(a);
    json_t *id = json_object_get(json_object_get(c, "cpu"), "cpuid");
    json_object_set_new(id, "stepping", json_integer(json_integer_value(json_object_get(id, "stepping")) + 1));
    char *hc = pw_env_hardware_hash(c);
    assert_string_not_equal(ha, hc);
    free(fa), free(ha), free(fb), free(hb), free(hc);
    json_decref(a), json_decref(b), json_decref(c);
}

/* The one definition of the hardware, on records of every age: an older environment (model name
 * and flags only) is described from its flags line and marked legacy; the CPUID description is
 * found wherever a record keeps it; nothing readable gives nulls, never a guess. */
static void test_hardware_records_of_every_age(void **state)
{
    (void)state;
    json_t *legacy = json_loads("{\"host\": \"h\", \"cpu\": {\"model\": \"X\", \"cores_online\": 4, "
                                "\"flags\": \"fpu pni sse4_2 avx2 fma avx512f hypervisor\"}, "
                                "\"memory_bytes\": 25275990016, "
                                "\"compiler\": {\"version\": \"12\"}}", 0, NULL);
    json_t *h = pw_env_hardware(legacy);
    assert_true(pw_env_hardware_is_legacy(h));
    assert_string_equal(json_string_value(json_object_get(h, "cpu_model")), "X");
    /* In pw_cpu_json's order: sse3 (pni), sse4.2, avx2, fma, avx512f. */
    char *isa = json_dumps(json_object_get(h, "isa"), JSON_COMPACT);
    assert_string_equal(isa, "[\"sse3\",\"sse4.2\",\"avx2\",\"fma\",\"avx512f\"]");
    free(isa);
    assert_int_equal(json_integer_value(json_object_get(h, "cores_online")), 4);
    /* 25275990016 B = 23.54 GiB → 24 */
    assert_int_equal(json_integer_value(json_object_get(h, "memory_gib")), 24);
    assert_true(json_is_null(json_object_get(h, "cpu_family")));
    assert_string_equal(json_string_value(json_object_get(h, "cpu_flags")), "fpu pni sse4_2 avx2 fma avx512f hypervisor");
    assert_null(json_object_get(h, "compiler"));
    json_decref(h);

    /* The CPUID description in another member of env.cpu: its ISA list wins over the flags, the
     * flags line is no longer part of the identity, the brand names a CPU without a model name. */
    json_t *cpuid = json_loads("{\"cpu\": {\"cores_online\": 4, \"flags\": \"avx2\", "
                               "\"id\": {\"vendor\": \"GenuineIntel\", \"brand\": \"B\", \"family\": 6, "
                               "\"model\": 207, \"stepping\": 2, \"isa\": [\"avx2\", \"amx\"]}}}", 0, NULL);
    h = pw_env_hardware(cpuid);
    assert_false(pw_env_hardware_is_legacy(h));
    assert_string_equal(json_string_value(json_object_get(h, "cpu_vendor")), "GenuineIntel");
    assert_string_equal(json_string_value(json_object_get(h, "cpu_model")), "B");
    assert_int_equal(json_integer_value(json_object_get(h, "cpu_family")), 6);
    assert_int_equal(json_integer_value(json_object_get(h, "cpu_model_number")), 207);
    assert_int_equal(json_integer_value(json_object_get(h, "cpu_stepping")), 2);
    assert_int_equal(json_array_size(json_object_get(h, "isa")), 2);
    assert_true(json_is_null(json_object_get(h, "cpu_flags")));
    assert_true(json_is_null(json_object_get(h, "memory_gib")));
    json_decref(h);
    /* The description may also sit in env.cpu itself. */
    json_object_set_new(json_object_get(legacy, "cpu"), "family", json_integer(6));
    h = pw_env_hardware(legacy);
    assert_false(pw_env_hardware_is_legacy(h));
    json_decref(h);
    /* Nothing readable. */
    h = pw_env_hardware(NULL);
    assert_true(pw_env_hardware_is_legacy(h));
    assert_true(json_is_null(json_object_get(h, "cpu_model")));
    assert_true(json_is_null(json_object_get(h, "isa")));
    json_decref(h);
    json_decref(legacy);
    json_decref(cpuid);
}

/* The libraries as used: OpenBLAS's record says who chose its core and whether it took; BLIS and
 * oneDNN are described by a forked child (this process never loads oneDNN for it); the CBLAS
 * symbols bind into OpenBLAS. */
static void test_capture_libraries(void **state)
{
    (void)state;
    json_t *env = pw_env_capture();
    json_t *ob = json_object_get(env, "openblas");
    static const char *const obkeys[] = {"version", "config", "core", "detected", "best",
                                         "chosen_by", "requested", "took", "threads", "vector",
                                         "summary", "library", NULL};
    for (const char *const *k = obkeys; *k; k++) assert_non_null(json_object_get(ob, *k));
    const char *by = json_string_value(json_object_get(ob, "chosen_by"));
    assert_true(strcmp(by, "library") == 0 || strcmp(by, "perfweave") == 0 || strcmp(by, "user") == 0);
    for (const char *lib = "blis"; lib; lib = strcmp(lib, "blis") == 0 ? "onednn" : NULL) {
        json_t *d = json_object_get(env, lib);
        assert_true(json_is_object(d));
        if (!json_is_true(json_object_get(d, "available")))
            fail_msg("%s not available: %s", lib, json_string_value(json_object_get(d, "error")));
        assert_non_null(json_string_value(json_object_get(d, "version")));
        assert_int_equal(json_integer_value(json_object_get(d, "threads")), 1);
    }
    assert_non_null(json_string_value(json_object_get(json_object_get(env, "blis"), "arch")));
    assert_non_null(json_string_value(json_object_get(json_object_get(env, "onednn"), "isa")));
    json_t *cb = json_object_get(env, "cblas");
    const char *lib = json_string_value(json_object_get(ob, "library"));
    assert_non_null(lib);
    assert_string_equal(json_string_value(json_object_get(cb, "cblas_sgemm")), lib);
    assert_string_equal(json_string_value(json_object_get(cb, "sgemm_")), lib);
    assert_true(json_is_integer(json_object_get(json_object_get(json_object_get(env, "cpu"), "smt"),
                                                "threads_per_core")));
    json_decref(env);
}

/* A synthetic environment with the members pw_env_warnings reads. */
static json_t *fake_env(double load1, int cores, const char *governor, int hv)
{
    return json_pack("{s:[f,f,f], s:{s:i, s:o}, s:{s:b, s:s}}", "load", load1, load1, load1,
                     "cpu", "cores_online", cores, "governor",
                     governor ? json_string(governor) : json_null(),
                     "hypervisor", "present", hv, "vendor", "KVMKVMKVM");
}

static bool any_contains(const json_t *arr, const char *word)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (strstr(json_string_value(v), word)) return true;
    return false;
}

static void test_warnings(void **state)
{
    (void)state;
    json_t *quiet = fake_env(0.1, 4, "performance", 0);
    json_t *w = pw_env_warnings(quiet, quiet);
    assert_int_equal(json_array_size(w), 0);
    json_decref(w);

    /* After a measurement the load still holds the measurement itself (1.0): 3.5 on 4 cores is
     * (3.5 − 1) / 4 = 0.625 per core of other work, above 0.5. */
    json_t *busy = fake_env(3.5, 4, "performance", 0);
    w = pw_env_warnings(quiet, busy);
    assert_int_equal(json_array_size(w), 1);
    assert_true(any_contains(w, "busy after"));
    json_decref(w);
    /* 1.1 on 2 cores right after measuring is the measurement's own load: no warning; the same
     * load before it is someone else's: (1.1 − 0) / 2 = 0.55, a warning. */
    json_t *own = fake_env(1.1, 2, "performance", 0);
    json_t *quiet2 = fake_env(0.1, 2, "performance", 0);
    w = pw_env_warnings(quiet2, own);
    assert_int_equal(json_array_size(w), 0);
    json_decref(w);
    w = pw_env_warnings(own, quiet2);
    assert_true(any_contains(w, "busy before"));
    json_decref(w);
    json_decref(own);
    json_decref(quiet2);

    json_t *noisy = fake_env(0.0, 2, "powersave", 1);
    w = pw_env_warnings(noisy, NULL);
    assert_int_equal(json_array_size(w), 2);
    assert_true(any_contains(w, "powersave"));
    assert_true(any_contains(w, "hypervisor (KVMKVMKVM)"));
    json_decref(w);

    json_t *unknown = fake_env(0.0, 2, NULL, 0);
    w = pw_env_warnings(unknown, unknown);
    assert_int_equal(json_array_size(w), 1);
    assert_true(any_contains(w, "unknown"));
    json_decref(w);
    json_decref(quiet), json_decref(busy), json_decref(noisy), json_decref(unknown);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_keys),
        cmocka_unit_test(test_fingerprint_stable),
        cmocka_unit_test(test_hardware_software_split),
        cmocka_unit_test(test_hardware_records_of_every_age),
        cmocka_unit_test(test_capture_libraries),
        cmocka_unit_test(test_warnings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
