/* fuzz_preview_diag.c — libFuzzer harness for the diagnostics a preview page shows
 * (pw_preview_diagnostics, pw_preview_utf8_clean, pw_preview_status_diagnostics,
 * pw_preview_progress_id; preview.h).  The input is what a render child printed, any bytes at all
 * (a chapter may hold invalid UTF-8, and its messages quote it): the cleaned text must be valid
 * UTF-8 without NUL, and the diagnostics must serialize as JSON (which jansson refuses for invalid
 * UTF-8) with text, file and line of the right types.  The first byte picks the exit status.  The
 * same bytes, when they parse as JSON, are a --status-json document whose diagnostics must obey
 * the same rules.  Built and run by `make fuzz`; seeds in tests/fuzz/corpus/preview_diag/. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/preview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every entry has a text, and a file and a line together or neither. */
static void check(const json_t *d)
{
    if (!json_is_array(d)) abort();
    for (size_t i = 0; i < json_array_size(d); i++) {
        json_t *e = json_array_get(d, i);
        if (!json_is_string(json_object_get(e, "text"))) abort();
        json_t *file = json_object_get(e, "file"), *line = json_object_get(e, "line");
        if (json_is_null(file) != json_is_null(line)) abort();
        if (!json_is_null(file) && (!json_is_string(file) || !json_is_integer(line))) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    static const int codes[] = {0, 1, 2, 3, 127, -1};
    int code = codes[data[0] % (sizeof codes / sizeof codes[0])];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    pw_buf b;
    pw_buf_init(&b);
    pw_preview_utf8_clean(&b, text, len);
    if (strlen(b.data) != b.len) abort();
    json_t *s = json_stringn(b.data, b.len); /* NULL for invalid UTF-8 */
    if (!s) abort();
    json_decref(s);

    json_t *d = pw_preview_diagnostics(text, len, code, code < 0 ? SIGSEGV : 0);
    if (!json_is_array(d)) abort();
    if ((code == 0 || code == 2) != (json_array_size(d) == 0)) abort();
    check(d);
    char *dump = json_dumps(d, JSON_COMPACT);
    if (!dump || strchr(dump, '\n')) abort();
    free(dump);
    json_decref(d);

    json_t *status = json_loadb(text, len, 0, NULL);
    json_t *sd = status ? pw_preview_status_diagnostics(status) : NULL;
    if (sd) check(sd);
    json_decref(sd);
    json_decref(status);

    const char *id = NULL;
    size_t n = pw_preview_progress_id(b.data ? b.data : "", &id);
    if (n && (id < b.data || id + n > b.data + b.len)) abort();
    pw_buf_release(&b);
    return 0;
}
