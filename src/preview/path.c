/* path.c — what a preview request may name: the resolution of a request path to a file inside
 * the output folder, and the content type of a file (see preview.h).  Pure functions: the
 * server's first line of defence against path traversal, fuzzed by tests/fuzz/fuzz_preview_path.c. */
#include "perfweave/preview.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Leaves rel empty and returns the refusal. */
static int refuse(char *rel, size_t cap, int status)
{
    if (cap > 0) rel[0] = '\0';
    return status;
}

int pw_preview_resolve(const char *target, char *rel, size_t cap)
{
    if (!target || target[0] != '/') return refuse(rel, cap, 400);
    if (cap > PW_PREVIEW_PATH_MAX) cap = PW_PREVIEW_PATH_MAX;
    if (cap < sizeof "report.html") return refuse(rel, cap, 414);
    if (target[1] == '\0') {
        memcpy(rel, "report.html", sizeof "report.html");
        return 200;
    }
    /* Decode once into rel, checking every decoded byte; the segment rules are applied after
     * decoding, so "%2e%2e" and "%2f" get no further than ".." and "/" would. */
    size_t n = 0;
    for (const char *p = target + 1; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
            if (hi < 0 || lo < 0) return refuse(rel, cap, 400);
            c = (unsigned char)(hi * 16 + lo);
            p += 2;
        }
        if (c < 0x20 || c == 0x7f || c == '\\') return refuse(rel, cap, 403); /* NUL included */
        if (n + 1 >= cap) return refuse(rel, cap, 414);
        rel[n++] = (char)c;
    }
    bool directory = rel[n - 1] == '/';
    if (directory) n--;
    rel[n] = '\0';
    for (const char *seg = rel;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        /* An empty segment (an absolute path), "..", "." or a hidden file. */
        if (len == 0 || seg[0] == '.') return refuse(rel, cap, 403);
        if (!end) break;
        seg = end + 1;
    }
    return directory ? refuse(rel, cap, 404) : 200; /* directories are never listed */
}

static const struct {
    const char *ext, *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"pdf", "application/pdf"},
    {"json", "application/json"},
    {"png", "image/png"},
    {"txt", "text/plain; charset=utf-8"},
    {"log", "text/plain; charset=utf-8"},
    {"tex", "text/plain; charset=utf-8"},
    {"gp", "text/plain; charset=utf-8"},
    {"dat", "text/plain; charset=utf-8"},
};

const char *pw_preview_content_type(const char *name)
{
    const char *slash = name ? strrchr(name, '/') : NULL;
    const char *base = slash ? slash + 1 : name;
    const char *dot = base ? strrchr(base, '.') : NULL;
    if (dot && dot != base)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}
