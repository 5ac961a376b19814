/* server.c — the preview's HTTP server on libmicrohttpd: serves the regular files inside the
 * output folder (GET and HEAD only, the Host header checked, no listings, nothing outside the
 * folder even through a symlink), report.html with the live-reload script, and the state as
 * Server-Sent Events.  One thread per connection, so an event stream may block (see preview.h). */
#include "perfweave/preview.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* How often an idle event stream sends a comment, which is also how soon its thread notices a
 * page that went away; connections idle this long (×6) are closed. */
#define KEEPALIVE_MS 5000
#define IDLE_TIMEOUT_S 30
#define MAX_CONNECTIONS 64
/* A report bigger than this is not read into memory for the script (served as it is). */
#define MAX_INJECT_BYTES (256u << 20)

struct pw_preview_server {
    struct MHD_Daemon *daemon;
    int fd;        /* the listening socket, −1 once quiesced */
    char *outdir;
    struct sockaddr_storage addr;
    pw_preview_state *state;
    pw_preview_log_fn log;
    void *log_ctx;
};

int pw_preview_listen(const struct sockaddr_storage *addr)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (addr->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
        bind(fd, (const struct sockaddr *)addr, len) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int pw_preview_listen_check(int fd, struct sockaddr_storage *addr)
{
    int listening = 0, type = 0;
    socklen_t n = sizeof listening, t = sizeof type, a = sizeof *addr;
    memset(addr, 0, sizeof *addr);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &n) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &t) != 0 || getsockname(fd, (struct sockaddr *)addr, &a) != 0)
        return -1;
    if (!listening || type != SOCK_STREAM || (addr->ss_family != AF_INET && addr->ss_family != AF_INET6)) {
        errno = ENOTSOCK;
        return -1;
    }
    return fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 ? 0 : -1;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    pw_preview_server *srv = cls;
    if (!srv->log) return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n') line[--n] = '\0';
    /* A page that goes away (a reload, a closed tab) ends its event stream this way: normal. */
    if (strstr(line, "no longer available for sending") || strstr(line, "Connection reset by peer") ||
        strstr(line, "Broken pipe"))
        return;
    char *msg = pw_xasprintf("http: %s", line);
    srv->log(srv->log_ctx, msg);
    free(msg);
}

/* MHD would decode the path's percent-escapes before the handler sees it; pw_preview_resolve
 * decodes them itself, exactly once, so the path is left as it came. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* Headers every response carries. */
static void common_headers(struct MHD_Response *r, const char *nonce)
{
    char csp[512];
    pw_preview_csp(nonce, csp, sizeof csp);
    MHD_add_response_header(r, "Content-Security-Policy", csp);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cache-Control", "no-store");
}

static enum MHD_Result answer_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    common_headers(r, NULL);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer_status(struct MHD_Connection *c, int status)
{
    switch (status) {
    case 400: return answer_text(c, MHD_HTTP_BAD_REQUEST, "400 bad request\n");
    case 403: return answer_text(c, MHD_HTTP_FORBIDDEN, "403 forbidden\n");
    case 404: return answer_text(c, MHD_HTTP_NOT_FOUND, "404 not found\n");
    case 414: return answer_text(c, MHD_HTTP_URI_TOO_LONG, "414 request path too long\n");
    default: return answer_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 internal error\n");
    }
}

/* A fresh nonce for a script: 128 random bits in hexadecimal.  False when the kernel gives no
 * randomness (the page is then refused rather than served with a guessable nonce). */
static bool make_nonce(char out[33])
{
    unsigned char r[16];
    ssize_t got;
    do got = getrandom(r, sizeof r, 0);
    while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof r) return false;
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
    return true;
}

/* Answers with buf (len bytes, malloc'ed; freed by MHD, or here on failure). */
static enum MHD_Result answer_buffer(struct MHD_Connection *c, unsigned status, char *buf, size_t len, const char *type,
                                     const char *nonce)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    common_headers(r, nonce);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer_html(struct MHD_Connection *c, unsigned status, char *html, size_t len, const char *nonce)
{
    return answer_buffer(c, status, html, len, "text/html; charset=utf-8", nonce);
}

/* --- /__preview/events ---------------------------------------------------------------------------- */

typedef struct {
    pw_preview_state *state;
    unsigned long seen; /* generation last sent (0: none yet) */
    pw_buf pending;     /* bytes not yet handed to MHD */
    size_t off;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    while (s->off == s->pending.len) {
        pw_buf_reset(&s->pending);
        s->off = 0;
        switch (pw_preview_state_wait(s->state, s->seen, KEEPALIVE_MS)) {
        case PW_PREVIEW_STOPPED: return MHD_CONTENT_READER_END_OF_STREAM;
        case PW_PREVIEW_TIMEOUT: pw_buf_puts(&s->pending, ": keepalive\n\n"); break;
        case PW_PREVIEW_CHANGED: {
            char *json = pw_preview_state_json(s->state, &s->seen);
            pw_buf_printf(&s->pending, "retry: 500\nevent: state\ndata: %s\n\n", json);
            free(json);
            break;
        }
        }
    }
    size_t n = s->pending.len - s->off;
    if (n > max) n = max;
    memcpy(buf, s->pending.data + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *s = cls;
    pw_buf_release(&s->pending);
    free(s);
}

static enum MHD_Result answer_events(pw_preview_server *srv, struct MHD_Connection *c)
{
    stream *s = pw_xcalloc(1, sizeof *s);
    s->state = srv->state;
    pw_buf_init(&s->pending);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s, stream_free);
    if (!r) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    common_headers(r, NULL);
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer_state(pw_preview_server *srv, struct MHD_Connection *c)
{
    char *json = pw_preview_state_json(srv->state, NULL);
    return answer_buffer(c, MHD_HTTP_OK, json, strlen(json), "application/json", NULL);
}

/* --- files ---------------------------------------------------------------------------------------- */

/* Opens outdir/rel for reading when it is a regular file whose real path lies inside the real
 * path of outdir.  Returns the descriptor, or −(HTTP status): −404 (missing, not a regular file),
 * −403 (outside the folder: a symlink leading out). */
static int open_inside(const char *outdir, const char *rel, struct stat *st)
{
    char root[PATH_MAX], real[PATH_MAX];
    if (!realpath(outdir, root)) return -404;
    char *full = pw_xasprintf("%s/%s", root, rel);
    char *got = realpath(full, real);
    free(full);
    if (!got) return -404;
    size_t n = strlen(root);
    bool inside = n == 1 ? real[0] == '/' && real[1] != '\0' : strncmp(real, root, n) == 0 && real[n] == '/';
    if (!inside) return -403;
    /* real has no symlink left; O_NOFOLLOW refuses one swapped in at the last step since. */
    int fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return errno == ELOOP ? -403 : -404;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -404; /* a directory (never listed), a FIFO, a device */
    }
    return fd;
}

static enum MHD_Result answer_report(struct MHD_Connection *c, int fd, const struct stat *st)
{
    char nonce[33], token[PW_PREVIEW_TOKEN_MAX];
    if (!make_nonce(nonce)) {
        close(fd);
        return answer_status(c, 500);
    }
    pw_preview_token(st, token, sizeof token);
    size_t len = (size_t)st->st_size, got = 0;
    char *html = pw_xmalloc(len + 1);
    while (got < len) {
        ssize_t n = read(fd, html + got, len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    size_t out_len;
    char *page = pw_preview_inject(html, got, token, nonce, &out_len);
    free(html);
    return answer_html(c, MHD_HTTP_OK, page, out_len, nonce);
}

static enum MHD_Result answer_file(pw_preview_server *srv, struct MHD_Connection *c, const char *rel)
{
    struct stat st;
    int fd = open_inside(srv->outdir, rel, &st);
    if (fd < 0) {
        if (fd == -404 && strcmp(rel, "report.html") == 0) {
            char nonce[33];
            if (!make_nonce(nonce)) return answer_status(c, 500);
            size_t len;
            char *page = pw_preview_placeholder(nonce, &len);
            return answer_html(c, MHD_HTTP_SERVICE_UNAVAILABLE, page, len, nonce);
        }
        return answer_status(c, -fd);
    }
    if (strcmp(rel, "report.html") == 0 && (uint64_t)st.st_size <= MAX_INJECT_BYTES)
        return answer_report(c, fd, &st);
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    struct MHD_Response *r = MHD_create_response_from_fd((size_t)st.st_size, fd); /* MHD closes fd */
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", pw_preview_content_type(rel));
    common_headers(r, NULL);
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    static int seen; /* marks a request whose headers were checked (its address, not its value) */
    (void)version;
    (void)upload_data;
    pw_preview_server *srv = cls;
    if (!*con_cls) {
        /* First call, headers only.  A refusal is answered now (MHD then closes the connection,
         * without reading a body); an accepted request is answered on the call after its body,
         * which keeps the connection alive for the page's next request. */
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        if (!host || !*host) return answer_text(c, MHD_HTTP_BAD_REQUEST, "400 a Host header is required\n");
        if (!pw_preview_host_allowed(host, (const struct sockaddr *)&srv->addr))
            return answer_text(c, MHD_HTTP_FORBIDDEN, "403 this server answers only to the address it listens on\n");
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
            return answer_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "405 only GET and HEAD\n");
        *con_cls = &seen;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* a GET with a body: ignored */
        return MHD_YES;
    }
    if (strncmp(url, "/__preview/", 11) == 0) {
        if (strcmp(url + 11, "events") == 0) return answer_events(srv, c);
        if (strcmp(url + 11, "state") == 0) return answer_state(srv, c);
        return answer_status(c, 404);
    }
    char rel[PW_PREVIEW_PATH_MAX];
    int status = pw_preview_resolve(url, rel, sizeof rel);
    if (status != 200) return answer_status(c, status);
    return answer_file(srv, c, rel);
}

pw_preview_server *pw_preview_server_new(int fd, const char *outdir, pw_preview_state *st, pw_preview_log_fn log,
                                         void *log_ctx)
{
    pw_preview_server *srv = pw_xcalloc(1, sizeof *srv);
    srv->fd = fd;
    srv->outdir = pw_xstrdup(outdir);
    srv->state = st;
    srv->log = log;
    srv->log_ctx = log_ctx;
    if (pw_preview_listen_check(fd, &srv->addr) != 0) goto fail;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (srv->addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
                                   MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_END);
    if (!srv->daemon) goto fail;
    return srv;
fail:
    close(fd);
    free(srv->outdir);
    free(srv);
    return NULL;
}

int pw_preview_server_quiesce(pw_preview_server *srv)
{
    if (!srv || srv->fd < 0) return -1;
    int fd = MHD_quiesce_daemon(srv->daemon);
    srv->fd = -1;
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

void pw_preview_server_free(pw_preview_server *srv)
{
    if (!srv) return;
    MHD_stop_daemon(srv->daemon); /* closes the listening socket unless quiesced */
    free(srv->outdir);
    free(srv);
}
