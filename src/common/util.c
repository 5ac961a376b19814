/* util.c — allocation, string buffers, whole-file I/O with atomic replacement, and the edit
 * distance behind "did you mean" suggestions, UTF-8 validation. */
#include "perfweave/common.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *pw_strerror(int status)
{
    switch (status) {
    case PW_OK: return "success";
    case PW_EINVAL: return "invalid input";
    case PW_EIO: return "input/output error";
    case PW_ERANGE: return "value out of range";
    case PW_ENOTFOUND: return "not found";
    case PW_ECHILD: return "experiment process failed";
    case PW_EINTERNAL: return "internal error";
    case PW_EINTR: return "interrupted";
    case PW_EAGAIN: return "not finished yet";
    case PW_EBUSY: return "held by another process";
    default: return "unknown error";
    }
}

static void oom(size_t size)
{
    fprintf(stderr, "perfweave: out of memory allocating %zu bytes\n", size);
    abort();
}

void *pw_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) oom(size);
    return p;
}

void *pw_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *pw_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p) oom(size);
    return p;
}

char *pw_xstrdup(const char *s)
{
    return pw_xstrndup(s, strlen(s));
}

char *pw_xstrndup(const char *s, size_t n)
{
    char *p = pw_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *pw_xasprintf(const char *fmt, ...)
{
    pw_buf b;
    va_list ap;
    pw_buf_init(&b);
    va_start(ap, fmt);
    pw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return pw_buf_detach(&b);
}

void pw_buf_init(pw_buf *b)
{
    b->cap = 64;
    b->len = 0;
    b->data = pw_xmalloc(b->cap);
    b->data[0] = '\0';
}

void pw_buf_release(pw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *pw_buf_detach(pw_buf *b)
{
    char *s = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void pw_buf_reset(pw_buf *b)
{
    b->len = 0;
    b->data[0] = '\0';
}

static void reserve(pw_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    while (b->len + extra + 1 > b->cap) b->cap *= 2;
    b->data = pw_xrealloc(b->data, b->cap);
}

void pw_buf_put(pw_buf *b, const char *s, size_t n)
{
    reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void pw_buf_puts(pw_buf *b, const char *s)
{
    pw_buf_put(b, s, strlen(s));
}

void pw_buf_putc(pw_buf *b, char c)
{
    pw_buf_put(b, &c, 1);
}

void pw_buf_vprintf(pw_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void pw_buf_printf(pw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pw_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *pw_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    pw_buf b;
    pw_buf_init(&b);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) pw_buf_put(&b, chunk, got);
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        pw_buf_release(&b);
        errno = saved ? saved : EIO;
        return NULL;
    }
    if (len) *len = b.len;
    return pw_buf_detach(&b);
}

int pw_write_file_atomic(const char *path, const char *data, size_t len)
{
    char *tmp = pw_xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int status = PW_EIO;
    if (fd < 0) goto out_free;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            goto out_close;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0) goto out_close;
    if (close(fd) != 0) { fd = -1; goto out_unlink; }
    fd = -1;
    if (rename(tmp, path) != 0) goto out_unlink;
    status = PW_OK;
    goto out_free;
out_close:
    {
        int saved = errno;
        close(fd);
        errno = saved;
    }
out_unlink:
    {
        int saved = errno;
        unlink(tmp);
        errno = saved;
    }
out_free:
    free(tmp);
    return status;
}

void pw_sha256_hex(const void *data, size_t len, char hex[65])
{
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, len, data);
    sha256_digest(&ctx, sizeof digest, digest);
    for (size_t i = 0; i < sizeof digest; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

int pw_mkdir_p(const char *path)
{
    char *p = pw_xstrdup(path);
    int status = PW_OK;
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) { status = PW_EIO; break; }
            *s = c;
            if (c == '\0') break;
        }
    }
    free(p);
    return status;
}

bool pw_same_but_numbers(const char *a, const char *b)
{
    for (;;) {
        while (*a && ((*a >= '0' && *a <= '9') || *a == '.')) a++;
        while (*b && ((*b >= '0' && *b <= '9') || *b == '.')) b++;
        if (*a != *b) return false;
        if (!*a) return true;
        a++;
        b++;
    }
}

size_t pw_utf8_check(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* Length of the sequence and the range its second byte must fall in (Table 3-7 of the
         * Unicode standard), which excludes overlongs, surrogates and code points > U+10FFFF. */
        size_t len;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return i; /* a continuation byte without a lead, C0, C1 or F5..FF */
        }
        if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
        i += len;
    }
    return n;
}

int pw_line_of_offset(const char *s, size_t n, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off && i < n; i++)
        if (s[i] == '\n') line++;
    return line;
}

size_t pw_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = pw_xcalloc(lb + 1, sizeof *row);
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

const char *pw_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t limit = strlen(word) / 3 + 1;
    if (limit > 3) limit = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = pw_edit_distance(word, candidates[i]);
        if (d < best_d) { best_d = d; best = candidates[i]; }
    }
    return best_d <= limit ? best : NULL;
}
