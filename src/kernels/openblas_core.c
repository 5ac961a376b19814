/* openblas_core.c — which OpenBLAS core this CPU deserves, whether perfweave should switch the
 * library to it, the record of the core as used, and the check that cblas_sgemm and friends bind
 * into OpenBLAS and nowhere else (see baselines.h). */
#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "perfweave/baselines.h"
#include "perfweave/common.h"

/* OpenBLAS's corename[] table (driver/others/dynamic.c) with the vector code of each core's
 * sgemm kernels.  The Bulldozer family's FMA3/FMA4 code is counted as 8-wide FMA, an upper bound:
 * the floor's ISA rule must never flag code that might reach it. */
static const pw_openblas_core cores[] = {
    {"Unknown", 0, 0, false},      {"Katmai", 1, 4, false},      {"Coppermine", 1, 4, false},
    {"Northwood", 2, 4, false},    {"Prescott", 3, 4, false},    {"Banias", 2, 4, false},
    {"Atom", 4, 4, false},         {"Core2", 4, 4, false},       {"Penryn", 5, 4, false},
    {"Dunnington", 5, 4, false},   {"Nehalem", 6, 4, false},     {"Athlon", 1, 4, false},
    {"Opteron", 2, 4, false},      {"Opteron_SSE3", 3, 4, false}, {"Barcelona", 3, 4, false},
    {"Nano", 4, 4, false},         {"Sandybridge", 7, 8, false}, {"Bobcat", 3, 4, false},
    {"Bulldozer", 8, 8, true},     {"Piledriver", 8, 8, true},   {"Haswell", 9, 8, true},
    {"Steamroller", 8, 8, true},   {"Excavator", 9, 8, true},    {"Zen", 9, 8, true},
    {"SkylakeX", 10, 16, true},    {"Cooperlake", 11, 16, true}, {"SapphireRapids", 12, 16, true},
};

const pw_openblas_core *pw_openblas_core_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof cores / sizeof cores[0]; i++)
        if (strcasecmp(cores[i].name, name) == 0) return &cores[i];
    return NULL;
}

int pw_openblas_version(const char *config)
{
    int maj, min, pat;
    if (!config || sscanf(config, "OpenBLAS %d.%d.%d", &maj, &min, &pat) != 3) return -1;
    if (maj < 0 || min < 0 || min > 99 || pat < 0 || pat > 99) return -1;
    return maj * 10000 + min * 100 + pat;
}

/* True when the space-separated words of s include word. */
static bool has_word(const char *s, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = s; p && *p;) {
        while (*p == ' ') p++;
        size_t len = strcspn(p, " ");
        if (len == wl && strncmp(p, word, wl) == 0) return true;
        p += len;
    }
    return false;
}

const char *pw_openblas_best_core(const pw_cpu_info *cpu, const char *config)
{
    int v = pw_openblas_version(config);
    if (v < 0 || !has_word(config, "DYNAMIC_ARCH") || !cpu->vendor[0]) return NULL;
    bool amd = strcmp(cpu->vendor, "AuthenticAMD") == 0 || strcmp(cpu->vendor, "HygonGenuine") == 0;
    if (pw_cpu_usable_avx512(cpu)) {
        /* force_coretype() compares names up to index 24 (SkylakeX) in 0.3.21 and up to 25
         * (Cooperlake) from 0.3.22 on. */
        if (cpu->avx512_bf16 && v >= 322) return "Cooperlake";
        return "SkylakeX";
    }
    if (pw_cpu_usable_avx2_fma(cpu)) return amd ? "Zen" : "Haswell";
    if (cpu->avx && cpu->os_ymm) return "Sandybridge";
    if (cpu->sse42) return "Nehalem";
    if (cpu->ssse3) return "Core2";
    if (cpu->sse3) return "Prescott";
    return NULL;
}

void pw_openblas_plan_decide(const pw_cpu_info *cpu, const char *config, const char *detected,
                             const char *user, const char *marker, pw_openblas_plan *out)
{
    out->reexec = false;
    out->core = NULL;
    if (marker || user) return;
    const char *best = pw_openblas_best_core(cpu, config);
    const pw_openblas_core *b = pw_openblas_core_find(best), *d = pw_openblas_core_find(detected);
    if (!b || !d || b->rank <= d->rank) return;
    out->reexec = true;
    out->core = b->name;
}

json_t *pw_openblas_describe(const pw_cpu_info *cpu, const char *config, const char *core,
                             const char *user, const char *marker, int threads)
{
    const char *best = pw_openblas_best_core(cpu, config);
    const pw_openblas_core *in_use = pw_openblas_core_find(core), *b = pw_openblas_core_find(best);
    const char *requested = user && *user ? user : NULL;
    bool took = !requested || (core && strcasecmp(core, requested) == 0);
    const char *by = marker ? "perfweave" : requested ? "user" : "library";
    const char *detected = marker ? marker : requested ? NULL : core;
    const char *cname = core ? core : "unknown";

    pw_buf s;
    pw_buf_init(&s);
    if (marker && took)
        pw_buf_printf(&s, "OpenBLAS core %s, chosen by perfweave: the library detected %s on this "
                      "CPU", cname, marker);
    else if (marker)
        pw_buf_printf(&s, "OpenBLAS core %s: perfweave asked for %s (the library detected %s on "
                      "this CPU) but the choice did not take", cname, requested ? requested : "?",
                      marker);
    else if (requested) {
        pw_buf_printf(&s, "OpenBLAS core %s, set by the user (OPENBLAS_CORETYPE=%s)", cname,
                      requested);
        if (!took) pw_buf_printf(&s, ", which the library did not take");
        if (b && (!in_use || b->rank > in_use->rank))
            pw_buf_printf(&s, "; the best core for this CPU would be %s", b->name);
    } else {
        pw_buf_printf(&s, "OpenBLAS core %s, as the library detected it", cname);
        if (b && in_use && b->rank > in_use->rank)
            pw_buf_printf(&s, " (this CPU could run %s, but %s)", b->name,
                          pw_openblas_version(config) < 0 || !has_word(config, "DYNAMIC_ARCH")
                              ? "this OpenBLAS is not a DYNAMIC_ARCH build"
                              : "perfweave did not switch it");
        else if (!best && (pw_openblas_version(config) < 0 || !has_word(config, "DYNAMIC_ARCH")))
            pw_buf_printf(&s, " (a build for one core: it cannot be switched)");
    }

    char version[32] = "";
    int v = pw_openblas_version(config);
    if (v >= 0) snprintf(version, sizeof version, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    json_t *vector = in_use && in_use->floats
                         ? json_pack("{s:i, s:b}", "floats", in_use->floats, "fma", in_use->fma)
                         : json_null();
    json_t *doc = json_pack("{s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:b, s:i, s:o, s:s}",
                            "version", v >= 0 ? json_string(version) : json_null(),
                            "config", config ? json_string(config) : json_null(),
                            "core", core ? json_string(core) : json_null(),
                            "detected", detected ? json_string(detected) : json_null(),
                            "best", best ? json_string(best) : json_null(), "chosen_by", by,
                            "requested", requested ? json_string(requested) : json_null(),
                            "took", took, "threads", threads, "vector", vector, "summary", s.data);
    pw_buf_release(&s);
    return doc;
}

/* The file the dynamic linker loaded addr's object from, or NULL. */
static const char *object_of(const void *addr)
{
    Dl_info info;
    if (!addr || !dladdr(addr, &info) || !info.dli_fname) return NULL;
    return info.dli_fname;
}

/* Where the dynamic linker binds name for the program and every library: the first definition
 * in the global lookup order after the program itself.  This code is linked into the program
 * (libperfweave.a), so that is dlsym(RTLD_NEXT); RTLD_DEFAULT would return the program's own PLT
 * stub in a non-PIE build. */
static void *bound(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

/* The file exporting openblas_get_config: OpenBLAS itself. */
static const char *openblas_file(void)
{
    return object_of(bound("openblas_get_config"));
}

extern char **environ;

/* Whether an environment variable named so (the text before '=') tunes OpenBLAS: OPENBLAS_*
 * and the GotoBLAS names 0.3.x still reads, except OPENBLAS_CORETYPE, which the record
 * describes as "requested". */
static bool tunes_openblas(const char *entry)
{
    if (strncmp(entry, "OPENBLAS_CORETYPE=", 18) == 0) return false;
    return strncmp(entry, "OPENBLAS_", 9) == 0 || strncmp(entry, "GOTO_", 5) == 0 ||
           strncmp(entry, "GOTOBLAS_", 9) == 0;
}

json_t *pw_openblas_environment(char *const *envp)
{
    json_t *doc = json_object();
    for (char *const *e = envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || !tunes_openblas(*e)) continue;
        char *name = pw_xstrndup(*e, (size_t)(eq - *e));
        json_object_set_new(doc, name, json_string(eq + 1));
        free(name);
    }
    return doc;
}

json_t *pw_openblas_json(void)
{
    pw_cpu_info cpu;
    pw_cpu_detect(&cpu);
    json_t *doc = pw_openblas_describe(&cpu, openblas_get_config(), openblas_get_corename(),
                                       getenv("OPENBLAS_CORETYPE"), getenv(PW_OPENBLAS_MARKER),
                                       openblas_get_num_threads());
    const char *file = openblas_file();
    json_object_set_new(doc, "library", file ? json_string(file) : json_null());
    /* Only where something is set, so every other record keeps the keys it had. */
    json_t *vars = pw_openblas_environment(environ);
    if (json_object_size(vars)) json_object_set_new(doc, "environment", vars);
    else json_decref(vars);
    return doc;
}

/* --- one CBLAS ------------------------------------------------------------------------------- */

static const char *const cblas_symbols[] = {"cblas_sgemm", "cblas_sdot", "sgemm_", NULL};

const char *const *pw_cblas_symbols(void)
{
    return cblas_symbols;
}

int pw_cblas_check_paths(const char *const *symbols, const char *const *paths, size_t n,
                         const char *expected, char *msg, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        if (paths[i] && expected && strcmp(paths[i], expected) == 0) continue;
        if (msg && size)
            snprintf(msg, size, "%s %s%s, not OpenBLAS (%s): the report's baseline would not be "
                     "the library it names", symbols[i], paths[i] ? "resolves into " : "does not resolve",
                     paths[i] ? paths[i] : "", expected ? expected : "not found");
        return PW_ERANGE;
    }
    return PW_OK;
}

int pw_cblas_check(char *msg, size_t size)
{
    const char *paths[8];
    size_t n = 0;
    for (; cblas_symbols[n]; n++) paths[n] = object_of(bound(cblas_symbols[n]));
    return pw_cblas_check_paths(cblas_symbols, paths, n, openblas_file(), msg, size);
}

json_t *pw_cblas_json(void)
{
    json_t *doc = json_object();
    for (size_t i = 0; cblas_symbols[i]; i++) {
        const char *f = object_of(bound(cblas_symbols[i]));
        json_object_set_new(doc, cblas_symbols[i], f ? json_string(f) : json_null());
    }
    return doc;
}
