/* diag.c — turning what a `perfweave report` child printed, or the outcome it wrote with
 * --status-json, into the diagnostics the preview page shows: one entry per line, file and line
 * number picked out of "PATH:LINE: message", made valid UTF-8 for JSON, and a crash or an
 * unexpected exit status said in words (see preview.h). */
#include "perfweave/preview.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0 when it is not one
 * (Unicode 15, table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c >= 0x01 && c <= 0x7f) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) { len = 3; lo = 0xa0; }
    else if (c >= 0xe1 && c <= 0xec) len = 3;
    else if (c == 0xed) { len = 3; hi = 0x9f; }
    else if (c >= 0xee && c <= 0xef) len = 3;
    else if (c == 0xf0) { len = 4; lo = 0x90; }
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else if (c == 0xf4) { len = 4; hi = 0x8f; }
    else return 0; /* NUL, a continuation byte, 0xc0, 0xc1, 0xf5.. */
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

void pw_preview_utf8_clean(pw_buf *out, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        size_t k = utf8_sequence(s + i, len - i);
        if (k) {
            pw_buf_put(out, text + i, k);
            i += k;
        } else {
            pw_buf_puts(out, "\xef\xbf\xbd"); /* U+FFFD for one bad byte */
            i++;
        }
    }
}

size_t pw_preview_progress_id(const char *line, const char **id)
{
    if (!pw_preview_is_progress(line)) return 0;
    const char *p = strchr(line, ']') + 2;
    size_t n = strcspn(p, " ");
    *id = p;
    return n;
}

bool pw_preview_is_progress(const char *line)
{
    /* "[DONE/TOTAL] ID (EXPERIMENT)  Ns elapsed" — report.c's progress(). */
    const char *p = line;
    if (*p++ != '[') return false;
    size_t d = strspn(p, "0123456789");
    if (d == 0 || p[d] != '/') return false;
    p += d + 1;
    d = strspn(p, "0123456789");
    return d > 0 && p[d] == ']' && p[d + 1] == ' ';
}

/* Splits "PATH:LINE: message" into its path and line: the first ":DIGITS: " in the line. */
static bool located(const char *line, size_t *path_len, long *lineno)
{
    for (const char *p = strchr(line, ':'); p; p = strchr(p + 1, ':')) {
        size_t d = strspn(p + 1, "0123456789");
        if (p > line && d > 0 && d < 10 && p[1 + d] == ':' && p[2 + d] == ' ') {
            *path_len = (size_t)(p - line);
            *lineno = strtol(p + 1, NULL, 10);
            return true;
        }
    }
    return false;
}

static void add_line(json_t *list, const char *text, size_t len)
{
    static const char prefix[] = "perfweave: ";
    if (len >= sizeof prefix - 1 && memcmp(text, prefix, sizeof prefix - 1) == 0) {
        text += sizeof prefix - 1;
        len -= sizeof prefix - 1;
    }
    while (len && (text[len - 1] == '\r' || text[len - 1] == ' ')) len--;
    if (len == 0) return;
    pw_buf clean;
    pw_buf_init(&clean);
    pw_preview_utf8_clean(&clean, text, len);
    if (pw_preview_is_progress(clean.data)) {
        pw_buf_release(&clean);
        return;
    }
    size_t path_len;
    long lineno;
    json_t *entry = json_object();
    if (located(clean.data, &path_len, &lineno)) {
        json_object_set_new(entry, "file", json_stringn(clean.data, path_len));
        json_object_set_new(entry, "line", json_integer(lineno));
    } else {
        json_object_set_new(entry, "file", json_null());
        json_object_set_new(entry, "line", json_null());
    }
    json_object_set_new(entry, "text", json_stringn(clean.data, clean.len));
    json_array_append_new(list, entry);
    pw_buf_release(&clean);
}

static void add_note(json_t *list, const char *text)
{
    json_t *entry = json_pack("{s:s, s:n, s:n}", "text", text, "file", "line");
    json_array_insert_new(list, 0, entry);
}

json_t *pw_preview_diagnostics(const char *output, size_t len, int exit_code, int signal)
{
    json_t *list = json_array();
    if (exit_code == 0 || exit_code == 2) return list; /* written (2: with an experiment in ERROR) */
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(output + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - output) : len;
        add_line(list, output + i, end - i);
        i = end + 1;
    }
    char note[160];
    note[0] = '\0';
    if (exit_code < 0 && signal != SIGINT && signal != SIGTERM) {
        const char *name = sigabbrev_np(signal);
        snprintf(note, sizeof note, "the renderer (perfweave report) crashed with signal %d%s%s%s", signal,
                 name ? " (SIG" : "", name ? name : "", name ? ")" : "");
    } else if (exit_code < 0) {
        snprintf(note, sizeof note, "the renderer (perfweave report) was stopped by signal %d", signal);
    } else if (exit_code != 1) {
        snprintf(note, sizeof note, "the renderer (perfweave report) failed with exit status %d%s", exit_code,
                 exit_code == 127 ? " (it could not be started)" : "");
    }
    if (note[0] || json_array_size(list) == 0) {
        if (!note[0]) snprintf(note, sizeof note, "the renderer (perfweave report) failed with exit status %d", exit_code);
        add_note(list, note);
    }
    return list;
}

json_t *pw_preview_status_diagnostics(const json_t *status)
{
    json_t *list = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(status, "diagnostics"), i, v)
        if (json_is_string(v)) add_line(list, json_string_value(v), json_string_length(v));
    json_array_foreach(json_object_get(status, "messages"), i, v) {
        const char *kind = json_string_value(json_object_get(v, "kind"));
        const char *text = json_string_value(json_object_get(v, "text"));
        const char *file = json_string_value(json_object_get(v, "file"));
        json_t *line = json_object_get(v, "line");
        if (!kind || strcmp(kind, "error") != 0 || !text) continue;
        pw_buf b;
        pw_buf_init(&b);
        if (file && json_is_integer(line)) pw_buf_printf(&b, "%s:%lld: ", file, (long long)json_integer_value(line));
        else if (file) pw_buf_printf(&b, "%s: ", file);
        pw_buf_puts(&b, text);
        add_line(list, b.data, b.len);
        pw_buf_release(&b);
    }
    if (json_array_size(list) == 0) {
        json_decref(list);
        return NULL;
    }
    return list;
}
