/* archive_io.c — archives that travel: one archived run packed into one gzip'd, self-describing,
 * checksummed file (export), and such a file checked and added to another archive root without
 * ever overwriting a run or accepting the same run twice (import).  Format in store.h. */
#include "perfweave/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "perfweave/common.h"

#define ABOUT "one archived perfweave run (raw samples, results and the environment they were " \
              "measured in); add it to an archive with: perfweave archive import FILE"

/* The canonical text of a document (compact, keys sorted, then a newline); caller frees. */
static char *canonical(const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) return NULL;
    char *line = pw_xasprintf("%s\n", text);
    free(text);
    return line;
}

int pw_archive_content_hash(const json_t *run_doc, char hex[65])
{
    char *text = canonical(run_doc);
    if (!text) return PW_EINTERNAL;
    pw_sha256_hex(text, strlen(text), hex);
    free(text);
    return PW_OK;
}

/* gzip (RFC 1952, no file name, time 0: the same input always gives the same bytes). */
static int gzip_append(pw_buf *out, const char *data, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) return PW_EINTERNAL;
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    unsigned char chunk[65536];
    int rc;
    do {
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        rc = deflate(&z, Z_FINISH);
        pw_buf_put(out, (const char *)chunk, sizeof chunk - z.avail_out);
    } while (rc == Z_OK);
    deflateEnd(&z);
    return rc == Z_STREAM_END ? PW_OK : PW_EINTERNAL;
}

int pw_archive_export(const json_t *run_doc, const char *run, pw_buf *out, char *msg, size_t msgsize)
{
    char why[256];
    if (!pw_archive_name_ok(run)) {
        snprintf(msg, msgsize, "'%.80s' is not a run name", run ? run : "");
        return PW_EINVAL;
    }
    if (pw_archive_validate(run_doc, why, sizeof why) != PW_OK) {
        snprintf(msg, msgsize, "run '%s': %s", run, why);
        return PW_EINVAL;
    }
    char *body = canonical(run_doc);
    if (!body) {
        snprintf(msg, msgsize, "run '%s' cannot be serialised", run);
        return PW_EINTERNAL;
    }
    char hex[65];
    size_t blen = strlen(body);
    pw_sha256_hex(body, blen, hex);
    json_t *header = json_pack("{s:s, s:i, s:s, s:s, s:I, s:s}", "format", PW_ARCHIVE_EXPORT_FORMAT,
                               "version", PW_ARCHIVE_EXPORT_VERSION, "run", run, "sha256", hex,
                               "bytes", (json_int_t)blen, "about", ABOUT);
    char *head = json_dumps(header, JSON_COMPACT);
    json_decref(header);
    pw_buf plain;
    pw_buf_init(&plain);
    pw_buf_puts(&plain, head);
    pw_buf_putc(&plain, '\n');
    pw_buf_put(&plain, body, blen);
    free(head);
    free(body);
    int status = gzip_append(out, plain.data, plain.len);
    pw_buf_release(&plain);
    if (status != PW_OK) snprintf(msg, msgsize, "cannot compress run '%s'", run);
    return status;
}

/* Inflates one gzip member into out; anything after it, a truncated stream or a CRC mismatch is
 * an error (message in why). */
static int gunzip(const void *data, size_t len, pw_buf *out, char *why, size_t whysize)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        snprintf(why, whysize, "zlib cannot start");
        return PW_EINTERNAL;
    }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    unsigned char chunk[65536];
    int rc;
    do {
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) break;
        pw_buf_put(out, (const char *)chunk, sizeof chunk - z.avail_out);
        if (out->len > PW_ARCHIVE_EXPORT_MAX_BYTES) {
            snprintf(why, whysize, "it decompresses to more than %lu bytes", PW_ARCHIVE_EXPORT_MAX_BYTES);
            inflateEnd(&z);
            return PW_EINVAL;
        }
    } while (rc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
    int status = PW_OK;
    if (rc == Z_DATA_ERROR)
        snprintf(why, whysize, "its compressed data is corrupt (%s)", z.msg ? z.msg : "bad data"), status = PW_EINVAL;
    else if (rc != Z_STREAM_END)
        snprintf(why, whysize, "it is truncated"), status = PW_EINVAL;
    else if (z.avail_in > 0)
        snprintf(why, whysize, "it has %u unexpected bytes after its end", z.avail_in), status = PW_EINVAL;
    inflateEnd(&z);
    return status;
}

int pw_archive_unpack(const void *data, size_t len, json_t **run_doc, char **run, char *msg,
                      size_t msgsize)
{
    *run_doc = NULL;
    *run = NULL;
    const unsigned char *p = data;
    if (len < 2 || p[0] != 0x1f || p[1] != 0x8b) {
        snprintf(msg, msgsize, "not a perfweave archive (not gzip-compressed; make one with "
                               "perfweave archive export RUN > FILE)");
        return PW_EINVAL;
    }
    pw_buf plain;
    pw_buf_init(&plain);
    json_t *header = NULL, *doc = NULL;
    char why[256];
    int status = gunzip(data, len, &plain, why, sizeof why);
    if (status != PW_OK) {
        snprintf(msg, msgsize, "damaged: %s", why);
        goto out;
    }
    status = PW_EINVAL;
    char *nl = memchr(plain.data, '\n', plain.len);
    json_error_t jerr;
    if (!nl || !(header = json_loadb(plain.data, (size_t)(nl - plain.data), 0, &jerr)) ||
        !json_is_object(header)) {
        snprintf(msg, msgsize, "not a perfweave archive (no header line)");
        goto out;
    }
    const char *format = json_string_value(json_object_get(header, "format"));
    json_t *version = json_object_get(header, "version");
    const char *name = json_string_value(json_object_get(header, "run"));
    const char *sum = json_string_value(json_object_get(header, "sha256"));
    json_t *bytes = json_object_get(header, "bytes");
    if (!format || strcmp(format, PW_ARCHIVE_EXPORT_FORMAT) != 0) {
        snprintf(msg, msgsize, "not a perfweave archive (format '%.40s')", format ? format : "none");
        goto out;
    }
    if (!json_is_integer(version) || json_integer_value(version) < 1) {
        snprintf(msg, msgsize, "damaged: its header has no valid format version");
        goto out;
    }
    if (json_integer_value(version) > PW_ARCHIVE_EXPORT_VERSION) {
        snprintf(msg, msgsize, "archive format version %lld is newer than this perfweave reads "
                               "(%d): update perfweave", (long long)json_integer_value(version),
                 PW_ARCHIVE_EXPORT_VERSION);
        goto out;
    }
    if (!pw_archive_name_ok(name)) {
        snprintf(msg, msgsize, "damaged: its header names no valid run");
        goto out;
    }
    if (!sum || strlen(sum) != 64 || !json_is_integer(bytes)) {
        snprintf(msg, msgsize, "damaged: its header has no checksum");
        goto out;
    }
    const char *body = nl + 1;
    size_t blen = plain.len - (size_t)(body - plain.data);
    char hex[65];
    pw_sha256_hex(body, blen, hex);
    if ((json_int_t)blen != json_integer_value(bytes) || strcmp(hex, sum) != 0) {
        snprintf(msg, msgsize, "modified or damaged: the run does not match the checksum it was "
                               "exported with");
        goto out;
    }
    if (!(doc = json_loadb(body, blen, 0, &jerr))) {
        snprintf(msg, msgsize, "damaged: the run is not valid JSON (line %d: %s)", jerr.line, jerr.text);
        goto out;
    }
    if (pw_archive_validate(doc, why, sizeof why) != PW_OK) {
        snprintf(msg, msgsize, "not a valid run: %s", why);
        goto out;
    }
    *run_doc = json_incref(doc);
    *run = pw_xstrdup(name);
    status = PW_OK;
out:
    json_decref(doc);
    json_decref(header);
    pw_buf_release(&plain);
    return status;
}

int pw_archive_find_content(const char *root, const char *hash, char **run)
{
    *run = NULL;
    json_t *runs;
    if (pw_archive_list(root, &runs) != PW_OK) return PW_EIO;
    int status = PW_ENOTFOUND;
    size_t i;
    json_t *entry;
    json_array_foreach(runs, i, entry) {
        const char *name = json_string_value(json_object_get(entry, "run"));
        json_t *doc;
        char hex[65];
        if (json_object_get(entry, "error") || !name || pw_archive_load(root, name, &doc) != PW_OK)
            continue;
        bool same = pw_archive_content_hash(doc, hex) == PW_OK && strcmp(hex, hash) == 0;
        json_decref(doc);
        if (same) {
            *run = pw_xstrdup(name);
            status = PW_OK;
            break;
        }
    }
    json_decref(runs);
    return status;
}

int pw_archive_import(const char *root, const json_t *run_doc, const char *run, char **path_out,
                      char *msg, size_t msgsize)
{
    if (path_out) *path_out = NULL;
    char hex[65], why[256];
    if (!pw_archive_name_ok(run)) {
        snprintf(msg, msgsize, "'%.80s' is not a run name", run ? run : "");
        return PW_EINVAL;
    }
    if (pw_archive_validate(run_doc, why, sizeof why) != PW_OK) {
        snprintf(msg, msgsize, "not a valid run: %s", why);
        return PW_EINVAL;
    }
    if (pw_archive_content_hash(run_doc, hex) != PW_OK) {
        snprintf(msg, msgsize, "run '%s' cannot be serialised", run);
        return PW_EINTERNAL;
    }
    char *present = NULL;
    int status = pw_archive_find_content(root, hex, &present);
    if (status == PW_EIO) {
        snprintf(msg, msgsize, "cannot read the archive %s", root);
        return PW_EIO;
    }
    if (status == PW_OK) {
        snprintf(msg, msgsize, "run '%s' is already in %s as %s (same content): nothing imported",
                 run, root, present);
        free(present);
        return PW_EINVAL;
    }
    status = pw_archive_write_named(root, run, run_doc, path_out);
    if (status != PW_OK) snprintf(msg, msgsize, "cannot write run '%s' under %s", run, root);
    return status;
}
