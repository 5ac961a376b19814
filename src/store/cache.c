/* cache.c — the result cache: one JSON file per content key under the cache directory, written
 * atomically and checked (schema, key, checksum) when read back, so that a damaged entry is
 * re-measured instead of rendered (see store.h and docs/store.md). */
#include "perfweave/store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/common.h"
#include "perfweave/result.h"

#define CACHE_SCHEMA 1

struct pw_cache {
    char *dir;
};

static void hex_digest(struct sha256_ctx *ctx, char out[2 * SHA256_DIGEST_SIZE + 1])
{
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(ctx, sizeof digest, digest);
    for (size_t i = 0; i < SHA256_DIGEST_SIZE; i++) snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* SHA-256 (hex) of doc's canonical JSON (compact, keys sorted). */
static void checksum(const json_t *doc, char out[2 * SHA256_DIGEST_SIZE + 1])
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    if (text) sha256_update(&ctx, strlen(text), (const uint8_t *)text);
    hex_digest(&ctx, out);
    free(text);
}

static bool valid_key(const char *key)
{
    size_t n = 0;
    for (; key[n]; n++)
        if (!isxdigit((unsigned char)key[n]) || isupper((unsigned char)key[n])) return false;
    return n == 2 * SHA256_DIGEST_SIZE;
}

pw_cache *pw_cache_open(const char *dir)
{
    if (pw_mkdir_p(dir) != PW_OK) return NULL;
    if (access(dir, W_OK | X_OK) != 0) return NULL;
    pw_cache *c = pw_xcalloc(1, sizeof *c);
    c->dir = pw_xstrdup(dir);
    return c;
}

void pw_cache_free(pw_cache *c)
{
    if (!c) return;
    free(c->dir);
    free(c);
}

const char *pw_cache_dir(const pw_cache *c)
{
    return c->dir;
}

/* Feeds one field as an 8-byte little-endian length followed by its bytes. */
static void feed(struct sha256_ctx *ctx, const char *s)
{
    uint64_t n = s ? strlen(s) : 0;
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(n >> (8 * i));
    sha256_update(ctx, sizeof len, len);
    if (n) sha256_update(ctx, n, (const uint8_t *)s);
}

char *pw_cache_key(const char *canonical_directive, const char *impl_hash,
                   const char *fingerprint_hash, bool quick)
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    feed(&ctx, "perfweave-cache-v1");
    feed(&ctx, canonical_directive);
    feed(&ctx, impl_hash);
    feed(&ctx, fingerprint_hash);
    feed(&ctx, quick ? "quick" : "full");
    char *hex = pw_xmalloc(2 * SHA256_DIGEST_SIZE + 1);
    hex_digest(&ctx, hex);
    return hex;
}

char *pw_cache_family(const char *canonical_directive, const char *impl_hash, bool quick)
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    feed(&ctx, "perfweave-cache-family-v1");
    feed(&ctx, canonical_directive);
    feed(&ctx, impl_hash);
    feed(&ctx, quick ? "quick" : "full");
    char *hex = pw_xmalloc(2 * SHA256_DIGEST_SIZE + 1);
    hex_digest(&ctx, hex);
    return hex;
}

char *pw_cache_path(const pw_cache *c, const char *key)
{
    return pw_xasprintf("%s/%s.json", c->dir, key);
}

int pw_cache_get(pw_cache *c, const char *key, json_t **result, char *warning, size_t wsize)
{
    *result = NULL;
    if (warning && wsize) warning[0] = '\0';
    if (!valid_key(key)) return PW_EINVAL;
    char *path = pw_cache_path(c, key);
    const char *why = NULL;
    char detail[256] = "";
    json_t *entry = NULL;
    size_t len;
    char *text = pw_read_file(path, &len);
    if (!text) {
        if (errno != ENOENT) why = "cannot be read";
        goto out;
    }
    json_error_t jerr;
    entry = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!entry) {
        snprintf(detail, sizeof detail, "is not valid JSON (line %d: %s)", jerr.line, jerr.text);
        why = detail;
        goto out;
    }
    if (json_integer_value(json_object_get(entry, "cache_schema")) != CACHE_SCHEMA) {
        why = "has an unknown cache schema";
        goto out;
    }
    const char *stored_key = json_string_value(json_object_get(entry, "key"));
    if (!stored_key || strcmp(stored_key, key) != 0) {
        why = "belongs to another key";
        goto out;
    }
    json_t *doc = json_object_get(entry, "result");
    const char *err = NULL;
    pw_result *r = pw_result_from_json(doc, &err);
    if (!r) {
        snprintf(detail, sizeof detail, "holds an invalid result (%s)", err);
        why = detail;
        goto out;
    }
    pw_result_free(r);
    const char *sum = json_string_value(json_object_get(entry, "checksum"));
    char actual[2 * SHA256_DIGEST_SIZE + 1];
    checksum(doc, actual);
    if (!sum || strcmp(sum, actual) != 0) {
        why = "fails its checksum";
        goto out;
    }
    *result = json_incref(doc);
out:
    if (why && warning && wsize)
        snprintf(warning, wsize, "cache entry %s %s; ignoring it and measuring again", path, why);
    json_decref(entry);
    free(path);
    return *result ? PW_OK : PW_ENOTFOUND;
}

int pw_cache_put(pw_cache *c, const char *key, const json_t *result)
{
    return pw_cache_put_family(c, key, NULL, result);
}

int pw_cache_put_family(pw_cache *c, const char *key, const char *family, const json_t *result)
{
    if (!valid_key(key) || (family && !valid_key(family))) return PW_EINVAL;
    /* Validate through a copy: pw_result_from_json takes a reference, and result is const. */
    json_t *copy = json_deep_copy(result);
    const char *err = NULL;
    pw_result *r = copy ? pw_result_from_json(copy, &err) : NULL;
    if (!r) {
        json_decref(copy);
        return PW_EINVAL;
    }
    pw_result_free(r);

    char stored[32], sum[2 * SHA256_DIGEST_SIZE + 1];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stored, sizeof stored, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *host = json_string_value(json_object_get(json_object_get(copy, "environment"), "host"));
    char hostbuf[256] = "";
    if (!host) {
        if (gethostname(hostbuf, sizeof hostbuf - 1) != 0) snprintf(hostbuf, sizeof hostbuf, "unknown");
        host = hostbuf;
    }
    checksum(copy, sum);
    json_t *entry = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o}", "cache_schema", CACHE_SCHEMA,
                              "key", key, "stored", stored, "host", host, "checksum", sum,
                              "result", copy);
    if (family) json_object_set_new(entry, "family", json_string(family));
    char *text = json_dumps(entry, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(entry);
    char *path = pw_cache_path(c, key);
    int status = text ? pw_write_file_atomic(path, text, strlen(text)) : PW_EINTERNAL;
    free(path);
    free(text);
    return status;
}

/* Which entries a scan of the whole cache looks for: those of a family, or those whose result
 * has an experiment and id. */
typedef struct {
    const char *family;
    const char *experiment, *id;
} scan_match;

static bool entry_matches(const json_t *entry, const scan_match *m)
{
    if (m->family) {
        const char *fam = json_string_value(json_object_get(entry, "family"));
        return fam && strcmp(fam, m->family) == 0;
    }
    const json_t *doc = json_object_get(entry, "result");
    const char *exp = json_string_value(json_object_get(doc, "experiment"));
    const char *id = json_string_value(json_object_get(doc, "id"));
    return exp && id && strcmp(exp, m->experiment) == 0 && strcmp(id, m->id) == 0;
}

/* The most recently stored valid entry that matches m (see pw_cache_get_family). */
static int get_newest(pw_cache *c, const scan_match *m, json_t **result, char *warning, size_t wsize)
{
    *result = NULL;
    if (warning && wsize) warning[0] = '\0';
    DIR *d = opendir(c->dir);
    if (!d) return PW_ENOTFOUND;
    char best_stored[32] = "";
    char *best_key = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n != 2 * SHA256_DIGEST_SIZE + 5 || strcmp(e->d_name + n - 5, ".json") != 0) continue;
        char *key = pw_xstrndup(e->d_name, n - 5);
        char *path = pw_cache_path(c, key);
        json_t *entry = pw_json_load_file(path, 0, NULL);
        const char *stored = json_string_value(json_object_get(entry, "stored"));
        /* ISO 8601 UTC stamps order as strings; ties go to the larger key (deterministic). */
        if (entry_matches(entry, m) && stored && strlen(stored) < sizeof best_stored) {
            int cmp = strcmp(stored, best_stored);
            json_t *doc = NULL;
            char why[512] = "";
            if ((cmp > 0 || (cmp == 0 && best_key && strcmp(key, best_key) > 0)) &&
                pw_cache_get(c, key, &doc, why, sizeof why) == PW_OK) {
                snprintf(best_stored, sizeof best_stored, "%s", stored);
                free(best_key);
                best_key = pw_xstrdup(key);
                json_decref(*result);
                *result = doc;
            } else if (why[0] && warning && wsize && cmp >= 0) {
                snprintf(warning, wsize, "%s", why);
            }
        }
        json_decref(entry);
        free(path);
        free(key);
    }
    closedir(d);
    free(best_key);
    return *result ? PW_OK : PW_ENOTFOUND;
}

int pw_cache_get_family(pw_cache *c, const char *family, json_t **result, char *warning,
                        size_t wsize)
{
    *result = NULL;
    if (warning && wsize) warning[0] = '\0';
    if (!valid_key(family)) return PW_EINVAL;
    scan_match m = {family, NULL, NULL};
    return get_newest(c, &m, result, warning, wsize);
}

int pw_cache_get_latest(pw_cache *c, const char *experiment, const char *id, json_t **result)
{
    *result = NULL;
    if (!experiment || !id) return PW_ENOTFOUND;
    scan_match m = {NULL, experiment, id};
    return get_newest(c, &m, result, NULL, 0);
}
