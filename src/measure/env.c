/* env.c — captures the machine and software environment of a measurement, splits it into what
 * identifies the hardware and what only makes a cached result stale (the software), and names
 * the conditions that make timings noisy (see env.h). */
#include "perfweave/env.h"

#include <cmark.h>
#include <ctype.h>
#include <gsl/gsl_version.h>
#include <nettle/sha2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "perfweave/baselines.h"
#include "perfweave/common.h"
#include "perfweave/cpu.h"
#include "perfweave/version.h"

#if defined(__clang__)
#define COMPILER_NAME "clang"
#elif defined(__GNUC__)
#define COMPILER_NAME "gcc"
#else
#define COMPILER_NAME "unknown"
#endif
#ifndef PW_CFLAGS
#define PW_CFLAGS "unknown"
#endif

/* The first line of a small file with trailing whitespace removed, or NULL (caller frees). */
static char *read_line(const char *path)
{
    char *s = pw_read_file(path, NULL);
    if (!s) return NULL;
    s[strcspn(s, "\n")] = '\0';
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    if (n == 0) {
        free(s);
        return NULL;
    }
    return s;
}

static json_t *string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The value of the first "key : value" line of /proc/cpuinfo text, or NULL (caller frees). */
static char *cpuinfo_value(const char *cpuinfo, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = cpuinfo; line && *line; ) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > klen && strncmp(line, key, klen) == 0 && (line[klen] == '\t' || line[klen] == ' ' ||
                                                            line[klen] == ':')) {
            const char *colon = memchr(line, ':', len);
            if (colon) {
                const char *v = colon + 1;
                while (v < line + len && isspace((unsigned char)*v)) v++;
                const char *e = line + len;
                while (e > v && isspace((unsigned char)e[-1])) e--;
                return pw_xstrndup(v, (size_t)(e - v));
            }
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* True when the space-separated flags contain word exactly. */
static bool has_flag(const char *flags, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = flags; p && *p; ) {
        while (*p == ' ') p++;
        size_t len = strcspn(p, " ");
        if (len == wl && strncmp(p, word, wl) == 0) return true;
        p += len;
    }
    return false;
}

/* Parses a sysfs cache size such as "48K", "1024K", "32M" into bytes; -1 when unreadable. */
static long long parse_size(const char *s)
{
    if (!s) return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0) return -1;
    switch (toupper((unsigned char)*end)) {
    case 'K': v *= 1024; break;
    case 'M': v *= 1024 * 1024; break;
    case 'G': v *= 1024LL * 1024 * 1024; break;
    default: break;
    }
    return v;
}

static json_t *bytes_or_null(long long v)
{
    return v > 0 ? json_integer(v) : json_null();
}

/* Cache sizes from /sys/devices/system/cpu/cpu0/cache/index*, falling back to sysconf. */
static json_t *capture_caches(void)
{
    long long l1d = -1, l1i = -1, l2 = -1, l3 = -1;
    for (int i = 0; i < 16; i++) {
        char *base = pw_xasprintf("/sys/devices/system/cpu/cpu0/cache/index%d", i);
        char *p_level = pw_xasprintf("%s/level", base), *p_type = pw_xasprintf("%s/type", base),
             *p_size = pw_xasprintf("%s/size", base);
        char *level = read_line(p_level), *type = read_line(p_type), *size = read_line(p_size);
        bool found = level != NULL;
        if (level && type && size) {
            long long bytes = parse_size(size);
            if (strcmp(level, "1") == 0 && strcmp(type, "Data") == 0) l1d = bytes;
            else if (strcmp(level, "1") == 0 && strcmp(type, "Instruction") == 0) l1i = bytes;
            else if (strcmp(level, "2") == 0) l2 = bytes;
            else if (strcmp(level, "3") == 0) l3 = bytes;
        }
        free(level), free(type), free(size);
        free(p_level), free(p_type), free(p_size), free(base);
        if (!found) break;
    }
#ifdef _SC_LEVEL1_DCACHE_SIZE
    if (l1d <= 0) l1d = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    if (l1i <= 0) l1i = sysconf(_SC_LEVEL1_ICACHE_SIZE);
    if (l2 <= 0) l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l3 <= 0) l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    return json_pack("{s:o, s:o, s:o, s:o}", "l1d", bytes_or_null(l1d), "l1i", bytes_or_null(l1i),
                     "l2", bytes_or_null(l2), "l3", bytes_or_null(l3));
}

/* The hypervisor vendor signature from CPUID leaf 0x40000000 when the CPUID "hypervisor" bit
 * (leaf 1, ECX bit 31) is set; NULL otherwise (caller frees). */
static char *cpuid_hypervisor(bool *bit)
{
    *bit = false;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return NULL;
    if (!(c & (1u << 31))) return NULL;
    *bit = true;
    __cpuid(0x40000000, a, b, c, d);
    char sig[13];
    memcpy(sig, &b, 4);
    memcpy(sig + 4, &c, 4);
    memcpy(sig + 8, &d, 4);
    sig[12] = '\0';
    for (int i = 0; i < 12; i++)
        if (!isprint((unsigned char)sig[i])) sig[i] = '\0';
    for (size_t n = strlen(sig); n > 0 && sig[n - 1] == ' '; n--) sig[n - 1] = '\0';
    return sig[0] ? pw_xstrdup(sig) : NULL;
#else
    return NULL;
#endif
}

/* Number of CPUs in a sysfs CPU list such as "0-1,4,6-7"; 0 when unreadable. */
static int list_count(const char *list)
{
    int count = 0;
    for (const char *p = list; p && *p;) {
        char *end;
        long a = strtol(p, &end, 10);
        if (end == p) return 0;
        long b = a;
        if (*end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p || b < a) return 0;
        }
        count += (int)(b - a + 1);
        p = *end == ',' ? end + 1 : end;
        if (*p && *p != ',' && !isdigit((unsigned char)*p)) break;
    }
    return count;
}

/* Simultaneous multithreading as the kernel shows it: the most hardware threads sharing one core
 * among the configured CPUs (thread_siblings_list), cpu0's siblings, and whether SMT is active
 * (/sys/devices/system/cpu/smt/active); null where unreadable. */
static json_t *capture_smt(void)
{
    int most = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    for (long i = 0; i < ncpu && i < 1024; i++) {
        char *path = pw_xasprintf("/sys/devices/system/cpu/cpu%ld/topology/thread_siblings_list", i);
        char *list = read_line(path);
        int c = list_count(list);
        if (c > most) most = c;
        free(list);
        free(path);
    }
    char *cpu0 = read_line("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list");
    char *active = read_line("/sys/devices/system/cpu/smt/active");
    json_t *smt = json_pack("{s:o, s:o, s:o}", "threads_per_core", most > 0 ? json_integer(most) : json_null(),
                            "cpu0_siblings", string_or_null(cpu0),
                            "active", active ? json_boolean(strcmp(active, "1") == 0) : json_null());
    free(cpu0);
    free(active);
    return smt;
}

static json_t *capture_cpu(const char *cpuinfo, bool *hv_flag)
{
    char *model = cpuinfo ? cpuinfo_value(cpuinfo, "model name") : NULL;
    if (!model && cpuinfo) model = cpuinfo_value(cpuinfo, "Processor");  /* some ARM kernels */
    char *flags = cpuinfo ? cpuinfo_value(cpuinfo, "flags") : NULL;
    if (!flags && cpuinfo) flags = cpuinfo_value(cpuinfo, "Features");
    char *governor = read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
    char *driver = read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_driver");
    *hv_flag = flags && has_flag(flags, "hypervisor");
    json_t *cpu = json_pack("{s:o, s:o, s:b, s:b, s:b, s:I, s:I, s:o, s:o, s:o, s:s}",
                            "model", string_or_null(model), "flags", string_or_null(flags),
                            "avx2", flags && has_flag(flags, "avx2"),
                            "fma", flags && has_flag(flags, "fma"),
                            "avx512f", flags && has_flag(flags, "avx512f"),
                            "cores_online", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
                            "cores_configured", (json_int_t)sysconf(_SC_NPROCESSORS_CONF),
                            "caches", capture_caches(), "governor", string_or_null(governor),
                            "scaling_driver", string_or_null(driver),
                            "frequency_scaling", governor ? "known" : "unknown");
    free(model), free(flags), free(governor), free(driver);
    pw_cpu_info id;
    pw_cpu_detect(&id);
    json_object_set_new(cpu, "cpuid", pw_cpu_json(&id));
    json_object_set_new(cpu, "amx", pw_cpu_amx_json(&id));
    json_object_set_new(cpu, "smt", capture_smt());
    return cpu;
}

static json_t *capture_memory(void)
{
    char *meminfo = pw_read_file("/proc/meminfo", NULL);
    json_t *v = json_null();
    if (meminfo) {
        char *total = cpuinfo_value(meminfo, "MemTotal");
        long long kb = total ? strtoll(total, NULL, 10) : 0;
        if (kb > 0) {
            json_decref(v);
            v = json_integer(kb * 1024);
        }
        free(total);
        free(meminfo);
    }
    return v;
}

static json_t *capture_hypervisor(bool flag)
{
    bool bit;
    char *vendor = cpuid_hypervisor(&bit);
    char *sys_type = read_line("/sys/hypervisor/type");
    json_t *hv = json_pack("{s:b, s:o, s:o}", "present", flag || bit || sys_type != NULL,
                           "vendor", string_or_null(vendor), "sys_type", string_or_null(sys_type));
    free(vendor), free(sys_type);
    return hv;
}

static void utc_now(char *out, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *pw_env_capture(void)
{
    char captured[32], host[256] = "";
    utc_now(captured, sizeof captured);
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';

    char *cpuinfo = pw_read_file("/proc/cpuinfo", NULL);
    bool hv_flag;
    json_t *cpu = capture_cpu(cpuinfo, &hv_flag);
    free(cpuinfo);

    double load[3];
    json_t *loadj = getloadavg(load, 3) == 3 ? json_pack("[f, f, f]", load[0], load[1], load[2])
                                             : json_null();
    struct utsname u;
    json_t *kernel = uname(&u) == 0 ? json_pack("{s:s, s:s, s:s, s:s}", "sysname", u.sysname,
                                                "release", u.release, "version", u.version,
                                                "machine", u.machine)
                                    : json_null();
    json_t *libraries = json_pack("{s:s, s:s, s:s}", "gsl", GSL_VERSION, "cmark",
                                  cmark_version_string(), "jansson", JANSSON_VERSION);
    /* BLIS and oneDNN are described by a forked child: this process must not load oneDNN. */
    json_t *probe = pw_baselines_probe();

    json_t *env = json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:{s:s, s:s, s:s}, s:o, s:O, s:O, s:o, s:o, s:{s:s, s:s}}",
                     "schema", PW_ENV_SCHEMA, "captured", captured, "host", host, "cpu", cpu,
                     "hypervisor", capture_hypervisor(hv_flag), "memory_bytes", capture_memory(),
                     "load", loadj, "kernel", kernel,
                     "compiler", "name", COMPILER_NAME, "version", __VERSION__, "flags", PW_CFLAGS,
                     "openblas", pw_openblas_json(), "blis", json_object_get(probe, "blis"),
                     "onednn", json_object_get(probe, "onednn"), "cblas", pw_cblas_json(),
                     "libraries", libraries,
                     "perfweave", "version", pw_version(), "commit", pw_commit());
    json_decref(probe);
    return env;
}

/* A deep copy of env's member at path (a.b), or null when absent. */
static json_t *pick(const json_t *env, const char *a, const char *b)
{
    json_t *v = json_object_get(env, a);
    if (v && b) v = json_object_get(v, b);
    return v ? json_deep_copy(v) : json_null();
}

/* memory_bytes rounded to whole GiB: MemTotal moves by a few MiB with the kernel's reservations. */
static json_t *memory_gib(const json_t *env)
{
    json_t *m = json_object_get(env, "memory_bytes");
    if (!json_is_integer(m)) return json_null();
    return json_integer((json_integer_value(m) + (1LL << 29)) >> 30);
}

/* The CPUID description (pw_cpu_json's shape: vendor, family, model, stepping, isa) wherever an
 * environment record keeps it: env.cpu.cpuid as pw_env_capture writes it, env.cpu itself, another
 * member object of env.cpu, or a member object of env with a family and a stepping.  NULL for
 * environments recorded before it existed. */
static const json_t *cpuid_of(const json_t *env)
{
    const json_t *cpu = json_object_get(env, "cpu");
    const json_t *id = json_object_get(cpu, "cpuid");
    if (json_is_integer(json_object_get(id, "family"))) return id;
    if (json_is_integer(json_object_get(cpu, "family"))) return cpu;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)cpu, key, v)
        if (json_is_object(v) && json_is_integer(json_object_get(v, "family")) &&
            json_is_integer(json_object_get(v, "model")))
            return v;
    json_object_foreach((json_t *)env, key, v)
        if (json_is_object(v) && json_is_integer(json_object_get(v, "family")) &&
            json_is_integer(json_object_get(v, "stepping")))
            return v;
    return NULL;
}

/* /proc/cpuinfo flag → the instruction-set name pw_cpu_json uses (in its order), for records that
 * kept only the flags line.  The kernel lists a flag only when it enabled the state it needs. */
static const char *const flag_isa[][2] = {
    {"sse2", "sse2"}, {"pni", "sse3"}, {"ssse3", "ssse3"}, {"sse4_1", "sse4.1"},
    {"sse4_2", "sse4.2"}, {"avx", "avx"}, {"avx2", "avx2"}, {"fma", "fma"}, {"f16c", "f16c"},
    {"avx_vnni", "avx_vnni"}, {"avx512f", "avx512f"}, {"avx512dq", "avx512dq"},
    {"avx512cd", "avx512cd"}, {"avx512bw", "avx512bw"}, {"avx512vl", "avx512vl"},
    {"avx512_vnni", "avx512_vnni"}, {"avx512_bf16", "avx512_bf16"}, {"avx512_fp16", "avx512_fp16"},
};

static bool has_word(const char *words, const char *w)
{
    size_t wl = strlen(w);
    for (const char *p = words; p && *p;) {
        while (*p == ' ') p++;
        size_t len = strcspn(p, " ");
        if (len == wl && strncmp(p, w, wl) == 0) return true;
        p += len;
    }
    return false;
}

/* The usable instruction sets: the CPUID description's list, else derived from the flags line. */
static json_t *isa_of(const json_t *env, const json_t *id)
{
    if (id) return pick(id, "isa", NULL);
    const char *flags = json_string_value(json_object_get(json_object_get(env, "cpu"), "flags"));
    if (!flags) return json_null();
    json_t *names = json_array();
    for (size_t i = 0; i < sizeof flag_isa / sizeof flag_isa[0]; i++)
        if (has_word(flags, flag_isa[i][0])) json_array_append_new(names, json_string(flag_isa[i][1]));
    return names;
}

json_t *pw_env_hardware(const json_t *env)
{
    const json_t *id = cpuid_of(env);
    json_t *model = pick(env, "cpu", "model");
    if (!json_is_string(model) || !*json_string_value(model)) {
        json_decref(model);
        model = id && json_is_string(json_object_get(id, "brand")) ? pick(id, "brand", NULL) : json_null();
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "cpu_vendor", id ? pick(id, "vendor", NULL) : json_null(),
                     "cpu_family", id ? pick(id, "family", NULL) : json_null(),
                     "cpu_model_number", id ? pick(id, "model", NULL) : json_null(),
                     "cpu_stepping", id ? pick(id, "stepping", NULL) : json_null(),
                     "cpu_model", model, "isa", isa_of(env, id),
                     "caches", pick(env, "cpu", "caches"),
                     "cores_online", pick(env, "cpu", "cores_online"),
                     "threads_per_core", pick(json_object_get(env, "cpu"), "smt", "threads_per_core"),
                     "memory_gib", memory_gib(env),
                     "hypervisor", pick(env, "hypervisor", "present"),
                     "hypervisor_vendor", pick(env, "hypervisor", "vendor"),
                     "machine", pick(env, "kernel", "machine"),
                     /* Records without the CPUID description keep their flags line: with no
                      * family, model and stepping it is the closest thing to an identity. */
                     "cpu_flags", id ? json_null() : pick(env, "cpu", "flags"));
}

bool pw_env_hardware_is_legacy(const json_t *hardware)
{
    return !json_is_integer(json_object_get(hardware, "cpu_family"));
}

json_t *pw_env_software(const json_t *env)
{
    json_t *sw = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "compiler", pick(env, "compiler", "name"),
                     "compiler_version", pick(env, "compiler", "version"),
                     "compiler_flags", pick(env, "compiler", "flags"),
                     "openblas_version", pick(env, "openblas", "version"),
                     "openblas_config", pick(env, "openblas", "config"),
                     "openblas_core", pick(env, "openblas", "core"),
                     "blis_version", pick(env, "blis", "version"),
                     "blis_arch", pick(env, "blis", "arch"),
                     "onednn_version", pick(env, "onednn", "version"),
                     "onednn_isa", pick(env, "onednn", "isa"),
                     "gsl", pick(env, "libraries", "gsl"),
                     "cblas", pick(env, "cblas", NULL));
    /* OpenBLAS's tuning variables (OPENBLAS_L2_SIZE and the like change its blocking), only
     * where some are set, for the same reason as the AMX grant below. */
    json_t *tuning = pick(env, "openblas", "environment");
    if (json_is_null(tuning)) json_decref(tuning);
    else json_object_set_new(sw, "openblas_environment", tuning);
    /* Whether this process may use the AMX tiles: a refused or switched-off grant runs other
     * kernels on the same hardware.  Only where the record says (CPUs with AMX), so the keys of
     * every other record stay what they were. */
    json_t *amx = pick(json_object_get(env, "cpu"), "amx", "granted");
    if (json_is_null(amx)) json_decref(amx);
    else json_object_set_new(sw, "amx_granted", amx);
    return sw;
}

json_t *pw_env_fingerprint(const json_t *env)
{
    return json_pack("{s:o, s:o}", "hardware", pw_env_hardware(env), "software",
                     pw_env_software(env));
}

/* The first 64 bits of the SHA-256 of doc's canonical JSON as 16 hex digits; consumes doc. */
static char *short_hash(json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(text), (const uint8_t *)text);
    sha256_digest(&ctx, sizeof digest, digest);
    free(text);
    char *hex = pw_xmalloc(17);
    for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return hex;
}

char *pw_env_hardware_hash(const json_t *env)
{
    return short_hash(pw_env_hardware(env));
}

char *pw_env_fingerprint_hash(const json_t *env)
{
    return short_hash(pw_env_fingerprint(env));
}

/* Appends a load warning when env's 1-minute load per online core, less own (the load the
 * measurement itself put there), is above the limit. */
static void check_load(json_t *out, const json_t *env, const char *when, double own)
{
    json_t *load = json_object_get(env, "load");
    json_int_t cores = json_integer_value(json_object_get(json_object_get(env, "cpu"), "cores_online"));
    if (!json_is_array(load) || cores <= 0) return;
    double l1 = json_number_value(json_array_get(load, 0));
    if ((l1 - own) / (double)cores > PW_ENV_LOAD_PER_CORE)
        json_array_append_new(out, json_sprintf("the machine was busy %s the measurement "
                                                "(load average %.2f on %lld cores): timings may be "
                                                "noisy and slower than on a quiet machine",
                                                when, l1, (long long)cores));
}

json_t *pw_env_warnings(const json_t *before, const json_t *after)
{
    json_t *out = json_array();
    if (before) check_load(out, before, "before", 0);
    /* Just after a measurement the 1-minute average still holds the measurement's own process:
     * one runnable task on one pinned core. */
    if (after) check_load(out, after, "after", 1.0);
    const json_t *env = before ? before : after;
    if (!env) return out;
    const json_t *cpu = json_object_get(env, "cpu");
    const char *governor = json_string_value(json_object_get(cpu, "governor"));
    if (governor && strcmp(governor, "performance") != 0)
        json_array_append_new(out, json_sprintf("the CPU frequency governor is '%s', not "
                                                "'performance': clock speed may change during "
                                                "the measurement", governor));
    if (!governor)
        json_array_append_new(out, json_string("the CPU frequency governor cannot be read: "
                                               "frequency scaling during the measurement is "
                                               "unknown"));
    const json_t *hv = json_object_get(env, "hypervisor");
    if (json_is_true(json_object_get(hv, "present"))) {
        const char *vendor = json_string_value(json_object_get(hv, "vendor"));
        if (!vendor) vendor = json_string_value(json_object_get(hv, "sys_type"));
        json_array_append_new(out, vendor ? json_sprintf("running under a hypervisor (%s): other "
                                                         "guests can steal CPU time and caches",
                                                         vendor)
                                          : json_string("running under a hypervisor: other guests "
                                                        "can steal CPU time and caches"));
    }
    return out;
}
