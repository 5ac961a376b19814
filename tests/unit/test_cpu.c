/* test_cpu.c — CPU identity and usable instruction sets: detection checked against the
 * kernel's own reading (/proc/cpuinfo, an independent source), and the usability rules on
 * hand-built descriptions (a CPU feature without its OS-enabled register state is not usable). */
#include "support.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/cpu.h"

/* The value of the first "key : value" line of /proc/cpuinfo, or NULL (caller frees). */
static char *cpuinfo(const char *key)
{
    char *text = pw_read_file("/proc/cpuinfo", NULL);
    if (!text) return NULL;
    char *out = NULL;
    size_t klen = strlen(key);
    for (char *line = text; line && *line && !out;) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        if (strncmp(line, key, klen) == 0 && (line[klen] == '\t' || line[klen] == ' ' || line[klen] == ':')) {
            char *colon = strchr(line, ':');
            if (colon) out = pw_xstrdup(colon + 1 + (colon[1] == ' '));
        }
        line = end ? end + 1 : NULL;
    }
    free(text);
    return out;
}

static bool has_flag(const char *flags, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = flags; p && *p;) {
        while (*p == ' ') p++;
        size_t len = strcspn(p, " ");
        if (len == wl && strncmp(p, word, wl) == 0) return true;
        p += len;
    }
    return false;
}

static void test_detect_matches_kernel(void **state)
{
    (void)state;
    pw_cpu_info c;
    pw_cpu_detect(&c);
    char *family = cpuinfo("cpu family"), *model = cpuinfo("model"), *stepping = cpuinfo("stepping");
    char *flags = cpuinfo("flags"), *vendor = cpuinfo("vendor_id");
    if (!family || !flags) {
        /* Not an x86 kernel: detection reports nothing usable. */
        assert_string_equal(pw_cpu_widest_isa(&c), "scalar");
        skip();
    }
    assert_int_equal(c.family, (unsigned)atoi(family));
    assert_int_equal(c.model, (unsigned)atoi(model));
    assert_int_equal(c.stepping, (unsigned)atoi(stepping));
    assert_string_equal(c.vendor, vendor);
    /* Linux lists a flag only when the CPU has it and, for AVX state, the kernel enabled it. */
    assert_int_equal(c.avx2, has_flag(flags, "avx2"));
    assert_int_equal(c.fma, has_flag(flags, "fma"));
    assert_int_equal(c.avx512f, has_flag(flags, "avx512f"));
    assert_int_equal(c.avx512bw, has_flag(flags, "avx512bw"));
    assert_int_equal(c.avx512_vnni, has_flag(flags, "avx512_vnni"));
    assert_int_equal(c.avx_vnni, has_flag(flags, "avx_vnni"));
    assert_int_equal(c.hypervisor, has_flag(flags, "hypervisor"));
    if (has_flag(flags, "avx2")) assert_true(c.os_ymm);
    if (has_flag(flags, "avx512f")) assert_true(c.os_zmm);
    assert_int_equal(c.amx_tile, has_flag(flags, "amx_tile"));
    assert_int_equal(c.amx_int8, has_flag(flags, "amx_int8"));
    if (has_flag(flags, "amx_tile")) assert_true(c.os_tile);
    /* The tile-state request succeeds wherever Linux lists AMX and enabled its state. */
    if (pw_cpu_usable_amx_int8(&c)) assert_true(pw_cpu_request_amx(NULL, 0));
    free(family), free(model), free(stepping), free(flags), free(vendor);
}

static void test_usability_rules(void **state)
{
    (void)state;
    pw_cpu_info c;
    memset(&c, 0, sizeof c);
    assert_string_equal(pw_cpu_widest_isa(&c), "scalar");
    assert_int_equal(pw_cpu_widest_floats(&c), 1);
    c.avx = c.avx2 = c.fma = true;
    assert_false(pw_cpu_usable_avx2_fma(&c)); /* the OS has not enabled YMM state */
    c.osxsave = c.os_ymm = true;
    assert_true(pw_cpu_usable_avx2_fma(&c));
    assert_string_equal(pw_cpu_widest_isa(&c), "avx2");
    c.avx512f = c.avx512dq = c.avx512bw = c.avx512vl = c.avx512_vnni = true;
    assert_false(pw_cpu_usable_avx512(&c)); /* ZMM state not enabled */
    assert_false(pw_cpu_usable_avx512_vnni(&c));
    assert_string_equal(pw_cpu_widest_isa(&c), "avx2");
    json_t *j = pw_cpu_json(&c);
    json_t *cpu_only = json_object_get(j, "isa_cpu_only");
    bool listed = false;
    size_t i;
    json_t *v;
    json_array_foreach(cpu_only, i, v) listed |= strcmp(json_string_value(v), "avx512f") == 0;
    assert_true(listed);
    json_decref(j);
    c.os_zmm = true;
    assert_true(pw_cpu_usable_avx512_vnni(&c));
    assert_string_equal(pw_cpu_widest_isa(&c), "avx512");
    assert_int_equal(pw_cpu_widest_floats(&c), 16);
    c.avx512vl = false; /* the kernels need VL: F alone is not enough */
    assert_false(pw_cpu_usable_avx512(&c));
    c.avx_vnni = true;
    assert_true(pw_cpu_usable_avx_vnni(&c));
    c.os_ymm = false;
    assert_false(pw_cpu_usable_avx_vnni(&c));
    /* AMX: both CPU bits and the OS's tile state (XCR0 bits 17, 18); listed apart until then. */
    c.amx_tile = c.amx_int8 = true;
    assert_false(pw_cpu_usable_amx_int8(&c));
    j = pw_cpu_json(&c);
    listed = false;
    json_array_foreach(json_object_get(j, "isa_cpu_only"), i, v)
        listed |= strcmp(json_string_value(v), "amx_int8") == 0;
    assert_true(listed);
    json_decref(j);
    c.os_tile = true;
    assert_true(pw_cpu_usable_amx_int8(&c));
    c.amx_int8 = false;
    assert_false(pw_cpu_usable_amx_int8(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_matches_kernel),
        cmocka_unit_test(test_usability_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
