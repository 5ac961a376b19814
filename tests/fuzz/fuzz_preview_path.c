/* fuzz_preview_path.c — libFuzzer harness for what a preview request may name
 * (pw_preview_resolve, pw_preview_content_type, pw_preview_host_allowed; preview.h).  The input
 * is a request target as a client sends it.  An accepted path must be one that cannot leave the
 * output folder by its text: relative, no empty, "." or ".." segment, no segment starting with
 * '.', no backslash, NUL or control character, never a directory; a refusal leaves the output
 * empty.  The same text as a Host header must never crash the check, and is accepted only when
 * it names the bound address.  Built and run by `make fuzz`; seeds in
 * tests/fuzz/corpus/preview_path/. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "perfweave/common.h"
#include "perfweave/preview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const char *rel)
{
    size_t n = strlen(rel);
    if (n == 0 || rel[0] == '/' || rel[n - 1] == '/') abort();
    for (const char *seg = rel;;) {
        if (seg[0] == '.' || seg[0] == '/') abort(); /* hidden, ".", "..", or an empty segment */
        const char *end = strchr(seg, '/');
        if (!end) break;
        seg = end + 1;
    }
    for (const unsigned char *p = (const unsigned char *)rel; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\\') abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = pw_xstrndup((const char *)data, size); /* stops at an embedded NUL */
    char rel[PW_PREVIEW_PATH_MAX];
    memset(rel, 'x', sizeof rel);
    int status = pw_preview_resolve(text, rel, sizeof rel);
    if (memchr(rel, '\0', sizeof rel) == NULL) abort();
    if (status == 200) {
        check_path(rel);
        /* Resolving is decoding once: the result is never longer than the target. */
        if (strlen(rel) > strlen(text) && strcmp(text, "/") != 0) abort();
        if (!pw_preview_content_type(rel)) abort();
    } else if ((status != 400 && status != 403 && status != 404 && status != 414) || rel[0] != '\0') {
        abort();
    }
    /* A tiny buffer must be refused, never overrun. */
    char small[4];
    if (pw_preview_resolve(text, small, sizeof small) == 200) abort();

    struct sockaddr_storage lo, any;
    if (pw_preview_parse_address("127.0.0.1", 8000, &lo) != 0 || pw_preview_parse_address("0.0.0.0", 8000, &any) != 0)
        abort();
    bool ok = pw_preview_host_allowed(text, (const struct sockaddr *)&lo);
    if (ok && strcmp(text, "127.0.0.1:8000") != 0 && strcasecmp(text, "localhost:8000") != 0) abort();
    if (ok && !pw_preview_host_allowed(text, (const struct sockaddr *)&any)) abort();
    free(text);
    return 0;
}
