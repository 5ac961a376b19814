/* common.h — status codes, allocation that aborts on exhaustion, and a growable string buffer
 * shared by every perfweave module. */
#ifndef PERFWEAVE_COMMON_H
#define PERFWEAVE_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Status codes: library functions return PW_OK or one of these; only src/cli/ picks exit codes. */
enum {
    PW_OK = 0,
    PW_EINVAL = 1,    /* bad input: a malformed directive, value, file */
    PW_EIO = 2,       /* a file or pipe could not be read or written */
    PW_ERANGE = 3,    /* a value outside what the operation accepts */
    PW_ENOTFOUND = 4, /* a name (experiment, metric, id, file) that does not exist */
    PW_ECHILD = 5,    /* a child process crashed, hung or failed */
    PW_EINTERNAL = 6, /* a broken invariant: a bug in perfweave */
    PW_EINTR = 7,     /* interrupted by SIGINT or SIGTERM */
    PW_EAGAIN = 8,    /* nothing finished yet: ask again (a wait that timed out) */
    PW_EBUSY = 9      /* a resource (the measurement lock) is held by another process */
};

/* A short lowercase description of a status code; static storage. */
const char *pw_strerror(int status);

/* malloc/calloc/realloc/strdup that abort with a message on exhaustion (as git's xmalloc).
 * The caller frees the result with free(). */
void *pw_xmalloc(size_t size);
void *pw_xcalloc(size_t count, size_t size);
void *pw_xrealloc(void *ptr, size_t size);
char *pw_xstrdup(const char *s);
char *pw_xstrndup(const char *s, size_t n);
/* printf into a new string; the caller frees it. */
char *pw_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable, always NUL-terminated byte buffer.  Embed it, pw_buf_init() it, append, and
 * pw_buf_release() it (or pw_buf_detach() to take ownership of the bytes). */
typedef struct {
    char *data;  /* NUL-terminated; never NULL after init */
    size_t len;
    size_t cap;
} pw_buf;

void pw_buf_init(pw_buf *b);
void pw_buf_release(pw_buf *b);
/* Returns the bytes (caller frees) and leaves b released: pw_buf_init it again to reuse it
 * (pw_buf_release on it is a harmless no-op). */
char *pw_buf_detach(pw_buf *b);
void pw_buf_reset(pw_buf *b);
void pw_buf_put(pw_buf *b, const char *s, size_t n);
void pw_buf_puts(pw_buf *b, const char *s);
void pw_buf_putc(pw_buf *b, char c);
void pw_buf_printf(pw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pw_buf_vprintf(pw_buf *b, const char *fmt, va_list ap);

/* Reads a whole file into a new NUL-terminated string (caller frees); sets *len when non-NULL.
 * Returns NULL with errno set when the file cannot be read. */
char *pw_read_file(const char *path, size_t *len);

/* Writes data to path atomically: a temporary file beside it, fsync, rename.  On failure nothing
 * at path changes and the temporary is removed.  Returns PW_OK or PW_EIO (errno set). */
int pw_write_file_atomic(const char *path, const char *data, size_t len);

/* Creates a directory and its parents (like mkdir -p).  Returns PW_OK or PW_EIO. */
int pw_mkdir_p(const char *path);

/* The SHA-256 of the len bytes at data (nettle), as 64 lowercase hex digits and a NUL in hex. */
void pw_sha256_hex(const void *data, size_t len, char hex[65]);

/* True when a and b differ only in their numbers (runs of digits and dots): the same warning
 * with other figures. */
bool pw_same_but_numbers(const char *a, const char *b);

/* Checks that the n bytes at s are well-formed UTF-8 (RFC 3629: no overlong forms, no UTF-16
 * surrogates, nothing above U+10FFFF, no truncated sequence).  Returns n when they are, else the
 * offset of the first byte that cannot start or continue a valid sequence (for a sequence cut
 * short, its lead byte).  For chapters and templates: `FILE:LINE: invalid UTF-8 (byte 0xFF)`. */
size_t pw_utf8_check(const char *s, size_t n);

/* The 1-based line of byte offset off in the n bytes at s (1 + the newlines before it). */
int pw_line_of_offset(const char *s, size_t n, size_t off);

/* Levenshtein distance, for "did you mean" suggestions. */
size_t pw_edit_distance(const char *a, const char *b);

/* The candidate closest to word within a small distance, or NULL (borrowed from candidates). */
const char *pw_suggest(const char *word, const char *const *candidates, size_t n);

#endif
