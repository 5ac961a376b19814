/* render_env.c — the environment section, decided once for every output format (render.h): a
 * short table a student can read (what the CPU is and which vector instructions it lets us use,
 * cores and SMT, caches, memory, hypervisor, the libraries as the experiments ran them, the
 * compiler, load and steal), then the raw record it was read from.  Every field may be missing
 * (an older or replayed record, another OS): it then reads "unknown", never a guess. */
#include "perfweave/render.h"
#include "perfweave/baselines.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char unknown[] = "unknown";

/* env's member at a dotted path ("cpu.cpuid.family"), or NULL. */
static const json_t *at(const json_t *env, const char *path)
{
    const json_t *v = env;
    char key[64];
    while (v && *path) {
        size_t len = strcspn(path, ".");
        if (len >= sizeof key) return NULL;
        memcpy(key, path, len);
        key[len] = '\0';
        v = json_object_get(v, key);
        path += len + (path[len] == '.');
    }
    return v;
}

static const char *str_at(const json_t *env, const char *path)
{
    const char *s = json_string_value(at(env, path));
    return s && *s ? s : NULL;
}

/* 49152 → "48 KiB", 2097152 → "2 MiB", 25275990016 → "23.5 GiB". */
static void put_bytes(pw_buf *b, double bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) bytes /= 1024, u++;
    if (bytes == floor(bytes)) pw_buf_printf(b, "%.0f %s", bytes, units[u]);
    else pw_buf_printf(b, "%.3g %s", bytes, units[u]);
}

/* The file name of a path: "/lib/x86_64-linux-gnu/libopenblas.so.0" → "libopenblas.so.0". */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* --- the rows -------------------------------------------------------------------------------- */

typedef struct {
    json_t *rows;  /* [[name, value], …] */
    pw_buf v;      /* the value being built */
} rows;

/* Appends the row name with the value built in r->v ("unknown" when empty), and resets it. */
static void row(rows *r, const char *name)
{
    json_array_append_new(r->rows, json_pack("[s, s]", name, r->v.len ? r->v.data : unknown));
    pw_buf_reset(&r->v);
}

static void cpu_row(rows *r, const json_t *env)
{
    const json_t *id = at(env, "cpu.cpuid");
    const char *vendor = str_at(id, "vendor"), *brand = str_at(id, "brand");
    if (!brand) brand = str_at(env, "cpu.model");
    if (vendor) pw_buf_puts(&r->v, vendor);
    if (json_is_integer(json_object_get(id, "family")))
        pw_buf_printf(&r->v, "%sfamily %lld, model %lld, stepping %lld", r->v.len ? ", " : "",
                      (long long)json_integer_value(json_object_get(id, "family")),
                      (long long)json_integer_value(json_object_get(id, "model")),
                      (long long)json_integer_value(json_object_get(id, "stepping")));
    if (brand) pw_buf_printf(&r->v, "%s%s", r->v.len ? ": " : "", brand);
    if (r->v.len && !id) pw_buf_puts(&r->v, " (family, model and stepping not recorded)");
    row(r, "CPU");
}

/* The usable vector instruction sets, widest first, grouped as a reader names them. */
static void isa_row(rows *r, const json_t *env)
{
    static const struct { const char *name, *group, *label; } sets[] = {
        {"avx512f", "AVX-512", "F"}, {"avx512dq", "AVX-512", "DQ"}, {"avx512cd", "AVX-512", "CD"},
        {"avx512bw", "AVX-512", "BW"}, {"avx512vl", "AVX-512", "VL"},
        {"avx512_vnni", "AVX-512", "VNNI"}, {"avx512_bf16", "AVX-512", "BF16"},
        {"avx512_fp16", "AVX-512", "FP16"}, {"avx_vnni", NULL, "AVX-VNNI"},
        {"avx2", NULL, "AVX2"}, {"fma", NULL, "FMA"}, {"f16c", NULL, "F16C"}, {"avx", NULL, "AVX"},
        {"sse4.2", NULL, "SSE4.2"}, {"sse4.1", NULL, "SSE4.1"}, {"ssse3", NULL, "SSSE3"},
        {"sse3", NULL, "SSE3"}, {"sse2", NULL, "SSE2"},
    };
    const size_t nsets = sizeof sets / sizeof sets[0];
    const json_t *isa = at(env, "cpu.cpuid.isa");
    if (!json_is_array(isa)) {
        /* Older records: the three flags read from /proc/cpuinfo. */
        static const char *const flags[][2] = {{"avx512f", "AVX-512F"}, {"avx2", "AVX2"}, {"fma", "FMA"}};
        bool any = false;
        for (size_t i = 0; i < 3; i++) {
            const json_t *f = at(env, "cpu");
            f = json_object_get(f, flags[i][0]);
            if (!json_is_boolean(f)) continue;
            any = true;
            if (json_is_true(f)) pw_buf_printf(&r->v, "%s%s", r->v.len ? ", " : "", flags[i][1]);
        }
        if (any) pw_buf_printf(&r->v, "%s(from the CPU's flags; whether the OS enables them was not "
                               "recorded)", r->v.len ? " " : "none of AVX-512F, AVX2, FMA ");
        row(r, "Vector instructions");
        return;
    }
    const char *group = NULL;
    bool open = false;
    for (size_t i = 0; i < nsets; i++) {
        bool has = false;
        size_t k;
        json_t *s;
        json_array_foreach(isa, k, s)
            if (json_is_string(s) && strcmp(json_string_value(s), sets[i].name) == 0) has = true;
        if (!has) continue;
        if (sets[i].group && group && strcmp(group, sets[i].group) == 0) {
            pw_buf_printf(&r->v, ", %s", sets[i].label);
            continue;
        }
        if (open) pw_buf_putc(&r->v, ')'), open = false;
        if (r->v.len) pw_buf_puts(&r->v, ", ");
        group = sets[i].group;
        if (group) {
            pw_buf_printf(&r->v, "%s (%s", group, sets[i].label);
            open = true;
        } else {
            pw_buf_puts(&r->v, sets[i].label);
        }
    }
    if (open) pw_buf_putc(&r->v, ')');
    /* Names this table does not know yet, as recorded; the AMX tiles are the matrix row's. */
    size_t k;
    json_t *s;
    json_array_foreach(isa, k, s) {
        const char *name = json_string_value(s);
        size_t i = 0;
        while (name && i < nsets && strcmp(name, sets[i].name) != 0) i++;
        if (name && i == nsets && strncmp(name, "amx_", 4) != 0)
            pw_buf_printf(&r->v, "%s%s", r->v.len ? ", " : "", name);
    }
    if (!r->v.len) pw_buf_puts(&r->v, "none beyond scalar code");
    const char *widest = str_at(env, "cpu.cpuid.widest");
    if (widest && strcmp(widest, "avx512") == 0) pw_buf_puts(&r->v, "; widest: 512-bit vectors (AVX-512)");
    else if (widest && strcmp(widest, "avx2") == 0) pw_buf_puts(&r->v, "; widest: 256-bit vectors with FMA (AVX2)");
    else if (widest) pw_buf_puts(&r->v, "; no usable AVX2+FMA: the portable kernels' level");
    const json_t *only = at(env, "cpu.cpuid.isa_cpu_only");
    bool listed = false;
    json_array_foreach(only, k, s) {
        const char *name = json_string_value(s) ? json_string_value(s) : "?";
        if (strncmp(name, "amx_", 4) == 0) continue;
        pw_buf_printf(&r->v, "%s%s", listed ? ", " : "; the CPU also reports ", name);
        listed = true;
    }
    if (listed) pw_buf_puts(&r->v, ", which the operating system does not enable");
    row(r, "Vector instructions (usable)");
}

/* Whether the CPU's recorded flags (/proc/cpuinfo, space-separated) include flag. */
static bool has_flag(const char *flags, const char *flag)
{
    size_t n = strlen(flag);
    for (const char *p = flags; p && (p = strstr(p, flag)) != NULL; p += n)
        if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
    return false;
}

/* Matrix units beside the vector ones (Intel AMX), shown only where the CPU lists them: oneDNN's
 * int8 and bf16 kernels use them, so does perfweave's amx integer kernel (INT8 tiles), and the
 * vector roofs do not bound them. */
static void matrix_row(rows *r, const json_t *env)
{
    const char *flags = str_at(env, "cpu.flags");
    if (!flags || !has_flag(flags, "amx_tile")) return;
    pw_buf_puts(&r->v, "AMX tiles");
    bool i8 = has_flag(flags, "amx_int8"), bf = has_flag(flags, "amx_bf16");
    if (i8 || bf) pw_buf_printf(&r->v, " (%s%s%s)", i8 ? "INT8" : "", i8 && bf ? ", " : "", bf ? "BF16" : "");
    /* Whether the OS enabled the tile state (XCR0), where the record says (cpu.cpuid). */
    const char *state = "";
    if (json_is_array(at(env, "cpu.cpuid.isa"))) {
        size_t k;
        json_t *s;
        state = ", the operating system has not enabled their state (XCR0): nothing here can use "
                "them";
        json_array_foreach(at(env, "cpu.cpuid.isa"), k, s)
            if (json_is_string(s) && strcmp(json_string_value(s), "amx_tile") == 0)
                state = ", their state enabled by the operating system";
    }
    pw_buf_printf(&r->v, ", as the CPU's flags list them%s: a library may use them, and "
                  "perfweave's amx integer kernel uses the INT8 tiles where the operating system "
                  "grants this process their state (the notes name what each experiment ran); the "
                  "vector peaks do not bound them", state);
    /* This run's own grant (cpu.amx), where it was refused or switched off. */
    const json_t *granted = at(env, "cpu.amx.granted");
    if (json_is_false(granted)) {
        const char *why = str_at(env, "cpu.amx.why");
        pw_buf_printf(&r->v, "; this run did not use them: %s", why ? why : "the grant was refused");
    }
    row(r, "Matrix units");
}

static void cores_row(rows *r, const json_t *env)
{
    const json_t *online = at(env, "cpu.cores_online");
    if (!json_is_integer(online)) online = json_object_get(env, "cores");
    const json_t *conf = at(env, "cpu.cores_configured");
    const json_t *tpc = at(env, "cpu.smt.threads_per_core");
    if (json_is_integer(online)) {
        long long n = json_integer_value(online);
        pw_buf_printf(&r->v, "%lld online", n);
        if (json_is_integer(conf) && json_integer_value(conf) != n)
            pw_buf_printf(&r->v, " of %lld", (long long)json_integer_value(conf));
    }
    if (json_is_integer(tpc)) {
        long long t = json_integer_value(tpc);
        if (r->v.len) pw_buf_puts(&r->v, "; ");
        if (t <= 1) pw_buf_puts(&r->v, "1 hardware thread per core: no two of them are SMT siblings");
        else pw_buf_printf(&r->v, "%lld hardware threads per core (SMT): siblings share one core's "
                           "execution units", t);
    } else if (r->v.len) {
        pw_buf_puts(&r->v, "; whether they are SMT siblings was not recorded");
    }
    if (r->v.len && json_is_true(at(env, "hypervisor.present")))
        pw_buf_puts(&r->v, " (as the virtual machine presents them)");
    row(r, "Cores");
}

static void caches_row(rows *r, const json_t *env)
{
    static const char *const keys[][2] = {{"l1d", "L1d"}, {"l1i", "L1i"}, {"l2", "L2"}, {"l3", "L3"}};
    const json_t *caches = at(env, "cpu.caches");
    for (size_t i = 0; i < 4; i++) {
        const json_t *v = json_object_get(caches, keys[i][0]);
        if (!json_is_integer(v) || json_integer_value(v) <= 0) continue;
        pw_buf_printf(&r->v, "%s%s ", r->v.len ? ", " : "", keys[i][1]);
        put_bytes(&r->v, (double)json_integer_value(v));
    }
    if (r->v.len) pw_buf_puts(&r->v, " (as CPU 0 reports them)");
    row(r, "Caches");
}

static void memory_row(rows *r, const json_t *env)
{
    const json_t *m = json_object_get(env, "memory_bytes");
    if (json_is_integer(m) && json_integer_value(m) > 0) put_bytes(&r->v, (double)json_integer_value(m));
    row(r, "Memory");
}

static void hypervisor_row(rows *r, const json_t *env)
{
    const json_t *hv = json_object_get(env, "hypervisor");
    if (json_is_boolean(json_object_get(hv, "present"))) {
        if (!json_is_true(json_object_get(hv, "present"))) {
            pw_buf_puts(&r->v, "none detected");
        } else {
            const char *vendor = str_at(hv, "vendor"), *type = str_at(hv, "sys_type");
            pw_buf_puts(&r->v, "yes");
            if (vendor || type) pw_buf_printf(&r->v, " (%s)", vendor ? vendor : type);
            pw_buf_puts(&r->v, ": other guests can take CPU time (steal) and share caches");
        }
    }
    row(r, "Hypervisor");
}

static void governor_row(rows *r, const json_t *env)
{
    const char *g = str_at(env, "cpu.governor");
    if (g) pw_buf_puts(&r->v, g);
    else if (json_is_object(at(env, "cpu"))) pw_buf_puts(&r->v, "cannot be read (frequency scaling unknown)");
    row(r, "Frequency governor");
}

static void os_row(rows *r, const json_t *env)
{
    const json_t *k = json_object_get(env, "kernel");
    if (json_is_string(k)) {
        pw_buf_puts(&r->v, json_string_value(k));
    } else if (json_is_object(k)) {
        const char *parts[] = {str_at(k, "sysname"), str_at(k, "release"), str_at(k, "machine")};
        for (size_t i = 0; i < 3; i++)
            if (parts[i]) pw_buf_printf(&r->v, "%s%s", r->v.len ? " " : "", parts[i]);
    }
    row(r, "Operating system");
}

static void compiler_row(rows *r, const json_t *env)
{
    const json_t *c = json_object_get(env, "compiler");
    if (json_is_string(c)) {
        pw_buf_printf(&r->v, "flags: %s", json_string_value(c));
    } else if (json_is_object(c)) {
        const char *name = str_at(c, "name"), *version = str_at(c, "version"), *flags = str_at(c, "flags");
        if (name) pw_buf_puts(&r->v, name);
        if (version) pw_buf_printf(&r->v, "%s%s", r->v.len ? " " : "", version);
        if (flags) pw_buf_printf(&r->v, "%sflags: %s", r->v.len ? ", " : "", flags);
    }
    row(r, "Compiler");
}

/* --- the libraries as the experiments used them -------------------------------------------- */

/* Groups the experiments by a text: an object text → array of ids, in the order first seen. */
static void group_add(json_t *groups, const char *text, const char *id)
{
    json_t *ids = json_object_get(groups, text);
    if (!ids) {
        ids = json_array();
        json_object_set_new(groups, text, ids);
    }
    json_array_append_new(ids, json_string(id));
}

/* "A in x, y; B in z" from a group object. */
static void put_groups(pw_buf *b, const json_t *groups)
{
    const char *text;
    json_t *ids;
    size_t g = 0;
    json_object_foreach((json_t *)groups, text, ids) {
        pw_buf_printf(b, "%s%s in ", g++ ? "; " : "", text);
        size_t i;
        json_t *id;
        json_array_foreach(ids, i, id) pw_buf_printf(b, "%s%s", i ? ", " : "", json_string_value(id));
    }
}

/* Calls fn for every result of the chapters with the result's document and its directive's id. */
static void each_result(pw_chapter *const *chapters, size_t n,
                        void (*fn)(void *ctx, const json_t *doc, const char *id), void *ctx)
{
    for (size_t c = 0; c < n; c++)
        for (size_t k = 0; k < chapters[c]->ndirectives; k++) {
            const pw_directive *d = chapters[c]->directives[k];
            if (d->result) fn(ctx, pw_result_json(d->result), d->id);
        }
}

/* How OpenBLAS's core came to be: "core SkylakeX, chosen by perfweave (the library detected
 * Prescott on this CPU)". */
static void openblas_core(pw_buf *b, const json_t *o)
{
    const char *core = str_at(o, "core"), *by = str_at(o, "chosen_by"), *det = str_at(o, "detected"),
               *req = str_at(o, "requested");
    pw_buf_printf(b, "core %s", core ? core : unknown);
    if (!by) return;
    if (strcmp(by, "library") == 0) pw_buf_puts(b, ", as the library detected it");
    else if (strcmp(by, "perfweave") == 0) {
        pw_buf_puts(b, ", chosen by perfweave");
        if (det) pw_buf_printf(b, " (the library detected %s on this CPU)", det);
    } else if (strcmp(by, "user") == 0) {
        pw_buf_printf(b, ", set by the user (OPENBLAS_CORETYPE=%s)", req ? req : "?");
        const char *best = str_at(o, "best");
        const pw_openblas_core *bc = pw_openblas_core_find(best), *in = pw_openblas_core_find(core);
        if (bc && (!in || bc->rank > in->rank))
            pw_buf_printf(b, "; perfweave would have chosen %s on this CPU", best);
    } else {
        pw_buf_printf(b, ", chosen by %s", by);
    }
    if (json_is_false(json_object_get(o, "took")) && req)
        pw_buf_printf(b, "; the requested core %s did not take", req);
    const json_t *vars = json_object_get(o, "environment");
    const char *name;
    const json_t *value;
    bool first = true;
    json_object_foreach((json_t *)vars, name, value) {
        if (!json_is_string(value)) continue;
        pw_buf_printf(b, "%s%s=%s", first ? "; from the environment " : ", ", name,
                      json_string_value(value));
        first = false;
    }
}

typedef struct {
    const char *variant;   /* "openblas", "blis", "onednn" */
    json_t *threads;       /* "1 thread" → ids, from the experiments' extra.libraries */
    json_t *cores;         /* OpenBLAS core text → ids, from the results' own environments */
} lib_use;

static void collect_use(void *ctx, const json_t *doc, const char *id)
{
    lib_use *u = ctx;
    const json_t *lib = json_object_get(at(doc, "extra.libraries"), u->variant);
    if (json_is_object(lib)) {
        const json_t *t = json_object_get(lib, "threads");
        char *text = json_is_integer(t) ? pw_xasprintf("%lld thread%s", (long long)json_integer_value(t),
                                                       json_integer_value(t) == 1 ? "" : "s")
                                        : pw_xstrdup("used");
        group_add(u->threads, text, id);
        free(text);
    }
    if (u->cores && json_is_object(at(doc, "environment.openblas"))) {
        pw_buf b;
        pw_buf_init(&b);
        openblas_core(&b, at(doc, "environment.openblas"));
        group_add(u->cores, b.data, id);
        pw_buf_release(&b);
    }
}

/* One library: its version and code as the report's process describes it, then how the
 * experiments ran it.  lib is env's record (may be NULL). */
static void library_row(rows *r, const char *name, const char *variant, const json_t *lib,
                        pw_chapter *const *chapters, size_t n)
{
    lib_use u = {variant, json_object(), strcmp(variant, "openblas") == 0 ? json_object() : NULL};
    each_result(chapters, n, collect_use, &u);
    if (json_is_false(json_object_get(lib, "available"))) {
        const char *why = str_at(lib, "error");
        pw_buf_printf(&r->v, "not available%s%s", why ? ": " : "", why ? why : "");
    } else if (json_is_object(lib)) {
        const char *version = str_at(lib, "version"), *file = str_at(lib, "library");
        pw_buf_puts(&r->v, version ? version : "version unknown");
        if (file) pw_buf_printf(&r->v, " (%s)", base_name(file));
        if (strcmp(variant, "openblas") == 0) {
            pw_buf_puts(&r->v, ": ");
            openblas_core(&r->v, lib);
        } else if (strcmp(variant, "blis") == 0) {
            const char *arch = str_at(lib, "arch"), *th = str_at(lib, "threading");
            pw_buf_printf(&r->v, ": kernel set %s", arch ? arch : unknown);
            if (th) pw_buf_printf(&r->v, ", threading %s", th);
        } else {
            const char *isa = str_at(lib, "isa"), *rt = str_at(lib, "runtime");
            pw_buf_printf(&r->v, ": ISA %s", isa ? isa : unknown);
            if (rt) pw_buf_printf(&r->v, ", %s runtime", rt);
        }
    }
    /* The core each result was measured with, when some differ from the report's own. */
    if (u.cores && json_object_size(u.cores) > 1) {
        pw_buf_puts(&r->v, r->v.len ? "; measured with " : "measured with ");
        put_groups(&r->v, u.cores);
    }
    if (json_object_size(u.threads)) {
        pw_buf_puts(&r->v, r->v.len ? "; as the experiments ran it: " : "as the experiments ran it: ");
        put_groups(&r->v, u.threads);
    } else if (json_is_integer(json_object_get(lib, "threads"))) {
        long long t = json_integer_value(json_object_get(lib, "threads"));
        pw_buf_printf(&r->v, "; %lld thread%s by default (no experiment recorded its own use)", t,
                      t == 1 ? "" : "s");
    }
    json_decref(u.threads);
    json_decref(u.cores);
    row(r, name);
}

static void cblas_row(rows *r, const json_t *env)
{
    const json_t *cb = json_object_get(env, "cblas");
    const char *sym;
    json_t *file;
    const char *first = NULL;
    bool same = true;
    json_object_foreach((json_t *)cb, sym, file) {
        const char *f = json_string_value(file);
        if (!first) first = f ? f : "";
        if (!f || strcmp(f, first) != 0) same = false;
    }
    if (first && same && *first) {
        json_object_foreach((json_t *)cb, sym, file) pw_buf_printf(&r->v, "%s%s", r->v.len ? ", " : "", sym);
        pw_buf_printf(&r->v, " bind to %s", base_name(first));
    } else if (first) {
        json_object_foreach((json_t *)cb, sym, file) {
            const char *f = json_string_value(file);
            pw_buf_printf(&r->v, "%s%s → %s", r->v.len ? "; " : "", sym, f ? base_name(f) : "unresolved");
        }
    }
    row(r, "CBLAS symbols");
}

static void others_row(rows *r, const json_t *env)
{
    static const char *const libs[][2] = {{"gsl", "GSL"}, {"cmark", "cmark"}, {"jansson", "jansson"}};
    for (size_t i = 0; i < 3; i++) {
        const char *v = str_at(json_object_get(env, "libraries"), libs[i][0]);
        if (v) pw_buf_printf(&r->v, "%s%s %s", r->v.len ? ", " : "", libs[i][1], v);
    }
    const char *version = str_at(env, "perfweave.version"), *commit = str_at(env, "perfweave.commit");
    if (!commit) commit = str_at(env, "commit");
    if (version || commit) {
        pw_buf_printf(&r->v, "%sperfweave", r->v.len ? "; " : "");
        if (version) pw_buf_printf(&r->v, " %s", version);
        if (commit) pw_buf_printf(&r->v, " (commit %s)", commit);
    }
    row(r, "Other software");
}

/* The 1-minute load average of a record, or NAN. */
static double load1(const json_t *env)
{
    const json_t *l = json_object_get(env, "load");
    if (!json_is_array(l)) l = json_object_get(env, "loadavg");
    const json_t *v = json_array_get(l, 0);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void load_row(rows *r, const json_t *env, const json_t *after)
{
    double before = load1(env), late = load1(after);
    if (isfinite(before) || isfinite(late)) {
        const json_t *cores = at(env, "cpu.cores_online");
        if (!json_is_integer(cores)) cores = json_object_get(env, "cores");
        pw_buf_puts(&r->v, "1-minute average");
        if (json_is_integer(cores)) pw_buf_printf(&r->v, " on %lld cores", (long long)json_integer_value(cores));
        pw_buf_puts(&r->v, ": ");
        if (isfinite(before)) pw_buf_printf(&r->v, "%.2f before the measurements", before);
        else pw_buf_puts(&r->v, "before the measurements not recorded");
        if (isfinite(late)) pw_buf_printf(&r->v, ", %.2f after", late);
        else pw_buf_puts(&r->v, "; after them not recorded (nothing was measured in this run)");
    }
    row(r, "Load");
}

typedef struct {
    double cpu, machine;       /* the largest shares seen */
    const char *cpu_id, *machine_id;
    size_t n;                  /* results with a contention record */
} steal_seen;

static void collect_steal(void *ctx, const json_t *doc, const char *id)
{
    steal_seen *s = ctx;
    const json_t *c = json_object_get(doc, "contention");
    if (!json_is_object(c)) return;
    s->n++;
    const json_t *cpu = json_object_get(c, "cpu_steal_share"), *mach = json_object_get(c, "machine_steal_share");
    if (json_is_number(cpu) && json_number_value(cpu) > s->cpu) s->cpu = json_number_value(cpu), s->cpu_id = id;
    if (json_is_number(mach) && json_number_value(mach) > s->machine)
        s->machine = json_number_value(mach), s->machine_id = id;
}

/* Steal as the results' contention readings saw it, when they carry any. */
static void steal_row(rows *r, pw_chapter *const *chapters, size_t n)
{
    steal_seen s = {-1, -1, NULL, NULL, 0};
    each_result(chapters, n, collect_steal, &s);
    if (s.n == 0) {
        pw_buf_puts(&r->v, "not recorded by these results");
    } else {
        if (s.cpu >= 0)
            pw_buf_printf(&r->v, "at most %.2g%% of the measuring CPU's time (%s)", 100 * s.cpu, s.cpu_id);
        if (s.machine >= 0)
            pw_buf_printf(&r->v, "%sat most %.2g%% machine-wide (%s)", r->v.len ? "; " : "", 100 * s.machine,
                          s.machine_id);
        pw_buf_printf(&r->v, "%sover %zu measurement%s", r->v.len ? ", " : "", s.n, s.n == 1 ? "" : "s");
    }
    row(r, "Steal during the measurements");
}

json_t *pw_render_environment_rows(const json_t *env, const json_t *after,
                                   pw_chapter *const *chapters, size_t n)
{
    rows r = {json_array(), {0}};
    pw_buf_init(&r.v);
    const char *host = str_at(env, "host");
    if (host) pw_buf_puts(&r.v, host);
    const char *captured = str_at(env, "captured");
    if (captured) pw_buf_printf(&r.v, "%srecorded %s", host ? ", " : "", captured);
    row(&r, "Host");
    cpu_row(&r, env);
    isa_row(&r, env);
    matrix_row(&r, env);
    cores_row(&r, env);
    caches_row(&r, env);
    memory_row(&r, env);
    hypervisor_row(&r, env);
    governor_row(&r, env);
    os_row(&r, env);
    compiler_row(&r, env);
    library_row(&r, "OpenBLAS", "openblas", json_object_get(env, "openblas"), chapters, n);
    library_row(&r, "BLIS", "blis", json_object_get(env, "blis"), chapters, n);
    library_row(&r, "oneDNN", "onednn", json_object_get(env, "onednn"), chapters, n);
    cblas_row(&r, env);
    others_row(&r, env);
    load_row(&r, env, after);
    steal_row(&r, chapters, n);
    pw_buf_release(&r.v);
    return r.rows;
}

/* --- the section ----------------------------------------------------------------------------- */

/* One row per leaf of obj, nested keys dotted ("cpu.model"). */
static void raw_rows(pw_buf *b, const pw_renderer *R, const char *prefix, const json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        char *name = prefix ? pw_xasprintf("%s.%s", prefix, key) : pw_xstrdup(key);
        if (json_is_object(v)) {
            raw_rows(b, R, name, v);
            free(name);
            continue;
        }
        char *text = json_is_string(v) ? pw_xstrdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        R->environment_row(b, PW_ENV_RAW, name, text ? text : "");
        free(text);
        free(name);
    }
}

void pw_render_environment(pw_buf *b, const pw_renderer *R, const pw_render_page *p)
{
    json_t *table = pw_render_environment_rows(p->environment, p->environment_after, p->chapters, p->nchapters);
    R->environment_open(b, PW_ENV_SUMMARY, p->env_warnings);
    size_t i;
    json_t *pair;
    json_array_foreach(table, i, pair)
        R->environment_row(b, PW_ENV_SUMMARY, json_string_value(json_array_get(pair, 0)),
                           json_string_value(json_array_get(pair, 1)));
    R->environment_close(b, PW_ENV_SUMMARY);
    json_decref(table);
    R->environment_open(b, PW_ENV_RAW, NULL);
    if (json_is_object(p->environment)) raw_rows(b, R, NULL, p->environment);
    R->environment_close(b, PW_ENV_RAW);
}
