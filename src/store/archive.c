/* archive.c — the archive of complete runs: one directory per run under the archive root
 * (<UTC stamp>_<host>/results.json), created exclusively and written atomically so that no run
 * is ever overwritten or half-written; listing, summaries and lookup by name or prefix. */
#include "perfweave/store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/common.h"
#include "perfweave/result.h"

int pw_archive_validate(const json_t *run_doc, char *msg, size_t msgsize)
{
    const char *why = NULL;
    char detail[256];
    if (!json_is_object(run_doc)) why = "run document is not a JSON object";
    else if (!json_is_integer(json_object_get(run_doc, "schema")) ||
             json_integer_value(json_object_get(run_doc, "schema")) != PW_ARCHIVE_SCHEMA)
        why = "run document has an unknown schema version";
    else if (!json_is_string(json_object_get(run_doc, "started")))
        why = "run document lacks its start time";
    else if (!json_is_string(json_object_get(run_doc, "finished")))
        why = "run document lacks its finish time";
    else if (!json_is_object(json_object_get(run_doc, "environment")))
        why = "run document lacks its environment";
    else if (!json_is_object(json_object_get(run_doc, "config")))
        why = "run document lacks its configuration";
    else if (!json_is_array(json_object_get(run_doc, "results")))
        why = "run document lacks its results";
    if (!why) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(run_doc, "results"), i, r) {
            const char *err = NULL;
            /* pw_result_from_json only takes a reference; the document is not modified. */
            pw_result *res = pw_result_from_json((json_t *)r, &err);
            if (!res) {
                snprintf(detail, sizeof detail, "result %zu: %s", i + 1, err);
                why = detail;
                break;
            }
            pw_result_free(res);
            json_t *claims = json_object_get(r, "claims");
            if (claims && !json_is_array(claims)) {
                snprintf(detail, sizeof detail, "result %zu: claims is not an array", i + 1);
                why = detail;
                break;
            }
        }
    }
    if (why) {
        if (msg && msgsize) snprintf(msg, msgsize, "%s", why);
        return PW_EINVAL;
    }
    return PW_OK;
}

/* "YYYYmmddTHHMMSSZ" from an ISO 8601 UTC time, or from now when it cannot be parsed. */
static void stamp_of(const char *iso, char out[32])
{
    int y, mo, d, h, mi, s;
    if (iso && sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) == 6 && y >= 1970 &&
        y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h <= 23 && mi >= 0 &&
        mi <= 59 && s >= 0 && s <= 60) {
        snprintf(out, 32, "%04d%02d%02dT%02d%02d%02dZ", y, mo, d, h, mi, s);
        return;
    }
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y%m%dT%H%M%SZ", &tm);
}

/* host reduced to [A-Za-z0-9.-] (others become '-', no leading '.'), at most 64 characters. */
static char *safe_host(const char *host)
{
    if (!host || !*host) host = "unknown";
    size_t n = strlen(host);
    if (n > 64) n = 64;
    char *s = pw_xstrndup(host, n);
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || (s[i] == '.' && i > 0))) s[i] = '-';
    return s;
}

static const char *env_host(const json_t *doc)
{
    return json_string_value(json_object_get(json_object_get(doc, "environment"), "host"));
}

/* Creates root/<base> exclusively (root/<base>-2, -3, … when taken) and writes run_doc into it
 * atomically; *path_out (when non-NULL) receives the file's path. */
static int write_run_dir(const char *root, const char *base, const json_t *run_doc, char **path_out)
{
    if (pw_mkdir_p(root) != PW_OK) return PW_EIO;
    char *dir = NULL;
    int status = PW_EIO;
    for (int k = 1; k < 10000; k++) {
        dir = k == 1 ? pw_xasprintf("%s/%s", root, base) : pw_xasprintf("%s/%s-%d", root, base, k);
        if (mkdir(dir, 0755) == 0) break;
        int err = errno;
        free(dir);
        dir = NULL;
        if (err != EEXIST) return PW_EIO;
    }
    if (!dir) return PW_EIO;
    char *text = json_dumps(run_doc, JSON_INDENT(1));
    char *path = pw_xasprintf("%s/%s", dir, PW_ARCHIVE_FILE);
    status = text ? pw_write_file_atomic(path, text, strlen(text)) : PW_EINTERNAL;
    free(text);
    if (status != PW_OK) rmdir(dir);
    if (status == PW_OK && path_out) *path_out = path;
    else free(path);
    free(dir);
    return status;
}

int pw_archive_write(const char *root, const json_t *run_doc, char **path_out)
{
    if (path_out) *path_out = NULL;
    if (pw_archive_validate(run_doc, NULL, 0) != PW_OK) return PW_EINVAL;
    char stamp[32];
    stamp_of(json_string_value(json_object_get(run_doc, "started")), stamp);
    char *host = safe_host(env_host(run_doc));
    char *base = pw_xasprintf("%s_%s", stamp, host);
    int status = write_run_dir(root, base, run_doc, path_out);
    free(base);
    free(host);
    return status;
}

bool pw_archive_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 128 || name[0] == '.' || name[0] == '-') return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '-' || name[i] == '_' || name[i] == '.'))
            return false;
    return true;
}

int pw_archive_write_named(const char *root, const char *name, const json_t *run_doc, char **path_out)
{
    if (path_out) *path_out = NULL;
    if (!pw_archive_name_ok(name) || pw_archive_validate(run_doc, NULL, 0) != PW_OK) return PW_EINVAL;
    return write_run_dir(root, name, run_doc, path_out);
}

json_t *pw_archive_summary(const json_t *run_doc)
{
    const json_t *env = json_object_get(run_doc, "environment");
    const char *started = json_string_value(json_object_get(run_doc, "started"));
    const char *finished = json_string_value(json_object_get(run_doc, "finished"));
    const char *commit = json_string_value(json_object_get(json_object_get(env, "perfweave"), "commit"));
    char stamp[32];
    stamp_of(started, stamp);
    /* Verdict names as claims.h spells them; an unknown name counts as ERROR. */
    static const char *const names[] = {"PASS", "PARTIAL", "FAIL", "UNDECIDED", "ERROR"};
    enum { NV = 5, ERR = 4 };
    size_t counts[NV] = {0};
    json_t *results = json_object_get(run_doc, "results");
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        json_t *claims = json_object_get(r, "claims");
        const char *status = json_string_value(json_object_get(r, "status"));
        bool failed = !status || strcmp(status, "ok") != 0;
        if (json_array_size(claims) == 0) {
            if (failed) counts[ERR]++;
            continue;
        }
        size_t k;
        json_t *c;
        json_array_foreach(claims, k, c) {
            const char *v = json_string_value(json_object_get(c, "verdict"));
            size_t idx = ERR;
            for (size_t j = 0; v && j < NV; j++)
                if (strcmp(v, names[j]) == 0) idx = j;
            counts[idx]++;
        }
    }
    json_t *verdicts = json_object();
    for (size_t k = 0; k < NV; k++)
        json_object_set_new(verdicts, names[k], json_integer((json_int_t)counts[k]));
    const char *host = json_string_value(json_object_get(env, "host"));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "stamp", stamp, "host",
                     host ? host : "unknown", "commit", commit ? commit : "unknown", "started",
                     started ? started : "", "finished", finished ? finished : "", "results",
                     (json_int_t)json_array_size(results), "verdicts", verdicts);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The run directory names under root (sorted; hidden entries skipped) into *names (caller frees
 * each and the array).  Returns PW_OK (a missing root gives none) or PW_EIO. */
static int run_names(const char *root, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(root);
    if (!d) return errno == ENOENT ? PW_OK : PW_EIO;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = pw_xasprintf("%s/%s", root, e->d_name);
        struct stat st;
        bool isdir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        free(p);
        if (!isdir) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *names = pw_xrealloc(*names, cap * sizeof **names);
        }
        (*names)[(*n)++] = pw_xstrdup(e->d_name);
    }
    closedir(d);
    if (*n) qsort(*names, *n, sizeof **names, cmp_str);
    return PW_OK;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Reads and validates one results.json; *doc gets a new reference.  msg names the problem. */
static int load_path(const char *path, json_t **doc, char *msg, size_t msgsize)
{
    *doc = NULL;
    json_error_t jerr;
    json_t *d = pw_json_load_file(path, 0, &jerr);
    if (!d) {
        struct stat st;
        if (stat(path, &st) != 0) {
            snprintf(msg, msgsize, "%s does not exist (an interrupted run?)", path);
            return PW_ENOTFOUND;
        }
        snprintf(msg, msgsize, "%s is not valid JSON (line %d: %s)", path, jerr.line, jerr.text);
        return PW_EINVAL;
    }
    char why[256];
    if (pw_archive_validate(d, why, sizeof why) != PW_OK) {
        snprintf(msg, msgsize, "%s: %s", path, why);
        json_decref(d);
        return PW_EINVAL;
    }
    *doc = d;
    return PW_OK;
}

/* The archived run without what the history, the matrix and `perfweave history` never read:
 * each result's raw samples, charts, tables, notes, bench sets and contention readings (about
 * two thirds of a run document).  Kept beside the run as .slim.json, stamped with the size and
 * modification time of the results.json it was cut from, and rebuilt when those differ, so a
 * report that reads the whole archive (every prose-only re-render does) parses a third of it. */
#define SLIM_FILE ".slim.json"
static const char *const slim_dropped[] = {"samples", "charts", "tables", "notes", "bench_sets", "contention"};

static json_t *source_stamp(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return NULL;
    return json_pack("{s:I, s:I, s:I}", "size", (json_int_t)st.st_size, "mtime_s", (json_int_t)st.st_mtim.tv_sec,
                     "mtime_ns", (json_int_t)st.st_mtim.tv_nsec);
}

/* Loads run name's document as load_path does, the slim cut of it (see SLIM_FILE): from the
 * sidecar when it matches results.json, else from results.json, writing the sidecar for next
 * time (a read-only archive just goes without).  The same statuses and messages as load_path. */
static int load_slim(const char *root, const char *name, json_t **doc, char *msg, size_t msgsize)
{
    char *path = pw_xasprintf("%s/%s/%s", root, name, PW_ARCHIVE_FILE);
    char *side = pw_xasprintf("%s/%s/%s", root, name, SLIM_FILE);
    json_t *stamp = source_stamp(path);
    json_t *cached = stamp ? pw_json_load_file(side, 0, NULL) : NULL;
    int status = PW_OK;
    *doc = NULL;
    if (cached && json_equal(json_object_get(cached, "source"), stamp) &&
        pw_archive_validate(json_object_get(cached, "doc"), NULL, 0) == PW_OK) {
        *doc = json_incref(json_object_get(cached, "doc"));
    } else if ((status = load_path(path, doc, msg, msgsize)) == PW_OK) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(*doc, "results"), i, r)
            for (size_t k = 0; k < sizeof slim_dropped / sizeof slim_dropped[0]; k++)
                json_object_del(r, slim_dropped[k]);
        if (stamp) {
            json_t *out = json_pack("{s:O, s:O}", "source", stamp, "doc", *doc);
            char *text = json_dumps(out, JSON_COMPACT);
            if (text) (void)pw_write_file_atomic(side, text, strlen(text));
            free(text);
            json_decref(out);
        }
    }
    json_decref(cached);
    json_decref(stamp);
    free(side);
    free(path);
    return status;
}

int pw_archive_list(const char *root, json_t **runs)
{
    char **names;
    size_t n;
    *runs = NULL;
    int status = run_names(root, &names, &n);
    if (status != PW_OK) return status;
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        char *path = pw_xasprintf("%s/%s/%s", root, names[i], PW_ARCHIVE_FILE);
        json_t *doc;
        char msg[512];
        json_t *entry;
        if (load_slim(root, names[i], &doc, msg, sizeof msg) == PW_OK) {
            entry = pw_archive_summary(doc);
            json_decref(doc);
        } else {
            entry = json_pack("{s:s}", "error", msg);
        }
        json_object_set_new(entry, "run", json_string(names[i]));
        json_object_set_new(entry, "path", json_string(path));
        json_array_append_new(out, entry);
        free(path);
    }
    free_names(names, n);
    *runs = out;
    return PW_OK;
}

int pw_archive_load_runs(const char *root, json_t ***docs, size_t *n)
{
    char **names;
    size_t count;
    *docs = NULL;
    *n = 0;
    int status = run_names(root, &names, &count);
    if (status != PW_OK) return status;
    for (size_t i = 0; i < count; i++) {
        json_t *doc;
        char msg[512];
        if (load_slim(root, names[i], &doc, msg, sizeof msg) == PW_OK) {
            if (!*docs) *docs = pw_xcalloc(count, sizeof **docs);
            (*docs)[(*n)++] = doc;
        }
    }
    free_names(names, count);
    return PW_OK;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int pw_archive_resolve(const char *root, const char *run, char **path, char *msg, size_t msgsize)
{
    *path = NULL;
    if (!run || !*run) {
        snprintf(msg, msgsize, "empty run name");
        return PW_EINVAL;
    }
    /* 1. A directory name under root. */
    if (!strchr(run, '/') && strcmp(run, ".") != 0 && strcmp(run, "..") != 0) {
        char *dir = pw_xasprintf("%s/%s", root, run);
        if (is_dir(dir)) {
            *path = pw_xasprintf("%s/%s", dir, PW_ARCHIVE_FILE);
            free(dir);
            return PW_OK;
        }
        free(dir);
    }
    /* 2. A path to a run directory or to its results file. */
    if (is_file(run)) {
        *path = pw_xstrdup(run);
        return PW_OK;
    }
    if (is_dir(run)) {
        *path = pw_xasprintf("%s/%s", run, PW_ARCHIVE_FILE);
        return PW_OK;
    }
    /* 3. "latest" / "previous", or a unique prefix of a directory name under root. */
    char **names;
    size_t n, hits = 0, first = 0;
    if (strchr(run, '/') || run_names(root, &names, &n) != PW_OK) {
        snprintf(msg, msgsize, "unknown run '%s' (not in %s)", run, root);
        return PW_ENOTFOUND;
    }
    bool latest = strcmp(run, "latest") == 0, previous = strcmp(run, "previous") == 0;
    if (latest || previous) {
        size_t need = latest ? 1 : 2;
        int status = PW_OK;
        if (n >= need) {
            *path = pw_xasprintf("%s/%s/%s", root, names[n - need], PW_ARCHIVE_FILE);
        } else {
            snprintf(msg, msgsize, "no %s run in %s (%zu archived)", run, root, n);
            status = PW_ENOTFOUND;
        }
        free_names(names, n);
        return status;
    }
    pw_buf all;
    pw_buf_init(&all);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], run, strlen(run)) != 0) continue;
        if (hits++ == 0) first = i;
        if (hits <= 4) pw_buf_printf(&all, "%s%s", hits > 1 ? ", " : "", names[i]);
    }
    int status;
    if (hits == 1) {
        *path = pw_xasprintf("%s/%s/%s", root, names[first], PW_ARCHIVE_FILE);
        status = PW_OK;
    } else if (hits == 0) {
        snprintf(msg, msgsize, "unknown run '%s' (not in %s; see perfweave history)", run, root);
        status = PW_ENOTFOUND;
    } else {
        snprintf(msg, msgsize, "run '%s' is ambiguous: %s%s", run, all.data, hits > 4 ? ", …" : "");
        status = PW_EINVAL;
    }
    pw_buf_release(&all);
    free_names(names, n);
    return status;
}

int pw_archive_load_msg(const char *root, const char *run, json_t **doc, char *msg, size_t msgsize)
{
    char *path;
    *doc = NULL;
    int status = pw_archive_resolve(root, run, &path, msg, msgsize);
    if (status != PW_OK) return status;
    char why[400];
    status = load_path(path, doc, why, sizeof why);
    if (status != PW_OK) snprintf(msg, msgsize, "run '%.80s': %s", run, why);
    free(path);
    return status;
}

int pw_archive_load(const char *root, const char *run, json_t **doc)
{
    char msg[512];
    return pw_archive_load_msg(root, run, doc, msg, sizeof msg);
}
