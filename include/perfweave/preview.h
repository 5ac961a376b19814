/* preview.h — `perfweave preview`: a local HTTP server (libmicrohttpd) that serves a report's
 * output folder while its author writes, re-renders it when a chapter, a template or the
 * perfweave binary changes, measures changed directives in the background, and makes the open
 * page reload itself (Server-Sent Events).
 *
 * The server never renders or measures in its own process: every render is a child running the
 * perfweave binary (`perfweave report --stale -f html …`, fork + exec by path, which measures
 * nothing), whose outcome (--status-json) and output give the diagnostics and the directives
 * still to measure; those are measured by another child (`perfweave report --measure-only`).  The pure pieces (request paths, the Host check, the page
 * script, diagnostics) are separate functions so that unit tests and fuzzers reach them without
 * a socket.  docs/preview.md describes the whole design. */
#ifndef PERFWEAVE_PREVIEW_H
#define PERFWEAVE_PREVIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "perfweave/common.h"

/* --- request paths (path.c; pure) ------------------------------------------------------------ */

/* Longest path (relative to the output folder) that a request may name, NUL included. */
#define PW_PREVIEW_PATH_MAX 1024

/* Resolves an HTTP request target path, exactly as received (percent-escapes not yet decoded,
 * query already removed), to a path relative to the output folder.  Percent-escapes are decoded
 * exactly once (so "%252e" names a file called "%2e").  Refused (403): a decoded NUL, control
 * character or backslash; an empty segment (so "//etc" and "/%2fetc", absolute paths); any
 * segment starting with '.' ("..", ".", and hidden files such as perfweave's own .staging-PID/
 * and .latex/).  "/" names "report.html"; any other path ending in '/' names a directory, and
 * directories are never listed (404).  Returns 200 with the relative path in rel (at most cap − 1
 * bytes and NUL), or the HTTP status to answer: 400 (no leading '/', a malformed escape), 403,
 * 404, 414 (longer than cap − 1 or PW_PREVIEW_PATH_MAX − 1).  rel is always NUL-terminated
 * when cap > 0.  This is a check on the text only: the server still resolves the file with
 * realpath and refuses anything outside the output folder (a symlink out of it). */
int pw_preview_resolve(const char *target, char *rel, size_t cap);

/* The Content-Type header for a file name, by its extension (case-insensitive): html, css, svg,
 * pdf, json, png, and text/plain for txt, log, tex, gp and dat (so that a browser shows a chart's
 * script and data instead of downloading them); "application/octet-stream" for any other.
 * Static storage. */
const char *pw_preview_content_type(const char *name);

/* --- the Host header (host.c; pure) ------------------------------------------------------------ */

/* True when a request's Host header names the server as bound to addr (an AF_INET or AF_INET6
 * address with its port): the same port (an absent port means 80) and either an IP literal equal
 * to the bound address, any IP literal when the server is bound to a wildcard (0.0.0.0, ::), or
 * "localhost" when it is bound to a loopback or wildcard address.  Anything else — another host
 * name, above all a DNS-rebinding attacker's — is refused, as is a NULL or empty header. */
bool pw_preview_host_allowed(const char *host, const struct sockaddr *addr);

/* True when addr is in 127.0.0.0/8 or is ::1 (or ::ffff:127.x.y.z). */
bool pw_preview_is_loopback(const struct sockaddr *addr);

/* Parses --host: an IPv4 or IPv6 literal, or "localhost" (127.0.0.1), with port into *ss.
 * Returns 0, or -1 when host is not such an address. */
int pw_preview_parse_address(const char *host, unsigned port, struct sockaddr_storage *ss);

/* Writes "ADDR:PORT" ("[ADDR]:PORT" for IPv6) of addr into buf (NUL-terminated, truncated). */
void pw_preview_format_address(const struct sockaddr *addr, char *buf, size_t cap);

/* --- the page (page.c; pure) -------------------------------------------------------------------- */

/* Identity of a published report.html: its inode and modification time, as text.  perfweave
 * report publishes by rename, so every render that writes the page gives it a new identity. */
#define PW_PREVIEW_TOKEN_MAX 64
void pw_preview_token(const struct stat *st, char *buf, size_t cap);

/* A copy of the page html (len bytes) with the live-reload script inserted before its last
 * "</body>" (or appended when there is none): the script opens /__preview/events, reloads the
 * page when the report's identity differs from token, and shows the last render's diagnostics
 * in an overlay (as text, never as markup).  nonce is the Content-Security-Policy nonce of this
 * response (letters and digits).  The file on disk is never changed.  Sets *out_len; the caller
 * frees the result. */
char *pw_preview_inject(const char *html, size_t len, const char *token, const char *nonce, size_t *out_len);

/* The page served for "/" while the output folder has no report.html yet (the first render
 * failed or is running): the same script, with no identity, so it shows diagnostics and loads
 * the report once one is published.  Sets *out_len; the caller frees the result. */
char *pw_preview_placeholder(const char *nonce, size_t *out_len);

/* The Content-Security-Policy of every response.  nonce NULL: no script may run (a file served
 * as it is, an SVG opened on its own included); otherwise only the script with that nonce.
 * Writes into buf (NUL-terminated). */
void pw_preview_csp(const char *nonce, char *buf, size_t cap);

/* --- diagnostics (diag.c; pure) --------------------------------------------------------------- */

/* Appends text (len bytes) to out as valid UTF-8: every byte sequence that is not well-formed
 * UTF-8 (stray continuation bytes, overlong forms, surrogates, beyond U+10FFFF, truncated
 * sequences) becomes U+FFFD.  NUL bytes become U+FFFD too, so out holds one C string. */
void pw_preview_utf8_clean(pw_buf *out, const char *text, size_t len);

/* True when line (without its newline) is a progress line of `perfweave report`:
 * "[DONE/TOTAL] ID (EXPERIMENT) …". */
bool pw_preview_is_progress(const char *line);
/* The ID of a progress line: its length, with *id pointing into line; 0 when line is not one. */
size_t pw_preview_progress_id(const char *line, const char **id);

/* The diagnostics of a finished `perfweave report` child, for the page: a new JSON array (the
 * caller owns it) of {"text": LINE, "file": PATH|null, "line": N|null}, one per line of output
 * (len bytes: what the child wrote to stdout and stderr) that is not a progress line, with
 * "perfweave: " removed and made valid UTF-8; "file" and "line" are set when the line has the
 * form "PATH:LINE: message".  exit_code is the child's exit status, or −1 when signal killed it.
 * A crash (a signal other than SIGINT/SIGTERM) or an exit status other than 0, 1 or 2 adds a
 * first entry saying so ("the renderer (perfweave report) crashed with signal 11 (...)"), and a
 * failed child that printed nothing gets that entry alone, so a failure is never silent.
 * Returns an empty array for a render that succeeded (exit 0 or 2). */
json_t *pw_preview_diagnostics(const char *output, size_t len, int exit_code, int signal);

/* The same from the document a render wrote with `--status-json` (its input "diagnostics" lines
 * and its "error" messages, as PATH:LINE: message), for a render that exited 1: a new array, or
 * NULL when the document holds none (the caller then reads the render's output instead). */
json_t *pw_preview_status_diagnostics(const json_t *status);

/* --- shared state (state.c) --------------------------------------------------------------------- */

/* What the server knows, shared between the main loop (the only writer) and the connection
 * threads that stream it: the identity of the published report, the diagnostics of the last
 * finished render, and the jobs running now.  Every change bumps a generation number and wakes
 * the waiters.  Thread-safe. */
typedef struct pw_preview_state pw_preview_state;

/* The jobs a preview runs as child processes: renders (`perfweave report --stale`, which measure
 * nothing) and, beside them, one background measurement (`perfweave report --measure-only`) of
 * what a render showed from a stand-in (docs/preview.md). */
typedef enum { PW_PREVIEW_JOB_RENDER = 0, PW_PREVIEW_JOB_MEASURE = 1, PW_PREVIEW_NJOBS = 2 } pw_preview_job;

/* The caller frees the state with pw_preview_state_free (NULL is a no-op). */
pw_preview_state *pw_preview_state_new(void);
void pw_preview_state_free(pw_preview_state *st);

/* Sets the identity of the report being served (token from pw_preview_token; NULL or "" when
 * the output folder has no report.html). */
void pw_preview_state_set_report(pw_preview_state *st, const char *token);
/* Marks a job running (progress: its latest progress line, or NULL) or finished (running false
 * clears its progress).  Running clears the job's error. */
void pw_preview_state_set_job(pw_preview_state *st, pw_preview_job job, bool running, const char *progress);
/* Marks a job finished with an error (a sentence, copied) that stays until it runs again. */
void pw_preview_state_job_failed(pw_preview_state *st, pw_preview_job job, const char *error);
/* How many directives the last published render showed from a stand-in (still to be measured). */
void pw_preview_state_set_pending(pw_preview_state *st, size_t n);
/* Records a finished render in one change: the report's identity now, its diagnostics (stolen;
 * NULL or an empty array for none) and the render job as finished.  The diagnostics stay until
 * the next finished render. */
void pw_preview_state_render_done(pw_preview_state *st, const char *token, json_t *diagnostics);

/* The state as one line of JSON (no newline inside), for /__preview/events and
 * /__preview/state: {"generation", "report": TOKEN|null, "ok": bool, "renders": N,
 * "pending": N, "diagnostics": [...], "jobs": {"render": {"running", "progress", "error"},
 * "measure": {...}}}.
 * Sets *generation to the generation it describes.  The caller frees the string. */
char *pw_preview_state_json(pw_preview_state *st, unsigned long *generation);

typedef enum { PW_PREVIEW_CHANGED, PW_PREVIEW_TIMEOUT, PW_PREVIEW_STOPPED } pw_preview_wait_result;
/* Waits until the generation differs from seen (CHANGED), timeout_ms passed (TIMEOUT) or
 * pw_preview_state_stop was called (STOPPED, at once and from then on). */
pw_preview_wait_result pw_preview_state_wait(pw_preview_state *st, unsigned long seen, int timeout_ms);
/* Wakes every waiter for good: event streams end, so the server can stop. */
void pw_preview_state_stop(pw_preview_state *st);

/* --- the HTTP server (server.c) ------------------------------------------------------------------ */

typedef void (*pw_preview_log_fn)(void *ctx, const char *line);

/* Opens a listening TCP socket on addr (SO_REUSEADDR, close-on-exec).  Returns the descriptor,
 * or −1 with errno set. */
int pw_preview_listen(const struct sockaddr_storage *addr);
/* Checks that fd is a listening TCP socket (one handed over through exec) and stores its address
 * in *addr.  Returns 0, or −1 with errno set. */
int pw_preview_listen_check(int fd, struct sockaddr_storage *addr);

typedef struct pw_preview_server pw_preview_server;

/* Starts serving outdir on the listening socket fd (which the server takes over, and closes
 * when it cannot start) from threads
 * of its own: GET and HEAD of the regular files inside outdir only (405 for other methods,
 * 403 for a Host header that does not name the server, see pw_preview_host_allowed),
 * /__preview/events (the state as Server-Sent Events) and /__preview/state (the state as JSON).
 * report.html is served with the live-reload script injected.  log receives the HTTP library's
 * error messages (may be NULL).  Returns NULL when the server cannot start.  The caller frees it
 * with pw_preview_server_free. */
pw_preview_server *pw_preview_server_new(int fd, const char *outdir, pw_preview_state *st, pw_preview_log_fn log,
                                         void *log_ctx);
/* Stops accepting connections and returns the listening socket (still open and listening,
 * close-on-exec set) so that a new process can go on serving on it, or −1.  Call
 * pw_preview_state_stop first so that event streams end. */
int pw_preview_server_quiesce(pw_preview_server *srv);
/* Stops the server (waiting for its threads; call pw_preview_state_stop first) and closes the
 * listening socket unless it was quiesced.  NULL is a no-op. */
void pw_preview_server_free(pw_preview_server *srv);

/* --- watching files (watch.c) --------------------------------------------------------------------- */

/* What changed: bits of a mask. */
enum { PW_PREVIEW_CHAPTER = 1, PW_PREVIEW_TEMPLATE = 2, PW_PREVIEW_BINARY = 4 };

typedef struct pw_preview_watch pw_preview_watch;

/* An inotify watcher.  Files are watched through their directories (editors save by writing a
 * new file and renaming it over the old one, which a watch on the file itself would miss).
 * The caller frees it with pw_preview_watch_free (NULL is a no-op). */
pw_preview_watch *pw_preview_watch_new(void);
void pw_preview_watch_free(pw_preview_watch *w);
/* Watches the file path (kind: one PW_PREVIEW_* bit); a file written, created, renamed into
 * place or removed there reports kind.  Returns 0, or −1 with errno set (a missing directory). */
int pw_preview_watch_file(pw_preview_watch *w, const char *path, int kind);
/* Watches every file in dir whose name ends with suffix (NULL: every file whose name does not
 * start with '.' or end with '~', the temporary files of editors). */
int pw_preview_watch_dir(pw_preview_watch *w, const char *dir, const char *suffix, int kind);
/* The descriptor to poll for input. */
int pw_preview_watch_fd(const pw_preview_watch *w);
/* Reads the pending events (without blocking) and returns the kinds they touched (0: none).
 * When name is non-NULL, the name of one file that changed is stored there (borrowed until the
 * next call). */
int pw_preview_watch_read(pw_preview_watch *w, const char **name);

/* --- the preview loop (preview.c) --------------------------------------------------------------- */

typedef struct {
    const char *self;              /* absolute path of the perfweave binary: renders run it, and a
                                      rebuild of it restarts the preview */
    const char *outdir;            /* the folder rendered into and served */
    char *const *chapters;         /* chapters given on the command line, or none (nchapters 0):
                                      the .md files of chapters/, as `perfweave report` takes them */
    size_t nchapters;
    const char *templates_dir;     /* watched; passed to the renders */
    char *const *report_args;      /* more arguments for every `perfweave report` child, render
                                      or measurement (--quick, --cache DIR, --no-archive, …) */
    size_t nreport_args;
    int listen_fd;                 /* listening socket (pw_preview_listen); the loop takes it over */
    int debounce_ms;               /* quiet time after a change before rendering (binary: ×4) */
    pw_preview_log_fn log;         /* progress and the children's output, one line at a time */
    void *log_ctx;
} pw_preview_options;

typedef struct {
    int signal;     /* SIGINT/SIGTERM/SIGHUP that stopped the preview, or 0 */
    int restart_fd; /* ≥ 0: the binary was rebuilt; the listening socket to hand to it over exec */
} pw_preview_outcome;

/* Renders once, serves, watches and re-renders until a signal (SIGINT, SIGTERM, SIGHUP) or a
 * rebuilt binary that runs (`BINARY --version` exits 0) ends it.  A change while a render runs is
 * rendered after it.  When a published render showed directives from stand-ins (exec.h) that no
 * measurement of this run has tried, and none runs, a measurement starts; when it ends, a render
 * follows; one whose current directive changes under it is stopped (SIGINT) and started again
 * (docs/preview.md, "Measuring in the background").  At the end, a render or measurement still
 * running is stopped with the same signal (SIGINT for a rebuild) and waited for — `perfweave
 * report` publishes nothing once interrupted, so the output folder stays whole — and killed if
 * it has not ended 20 s later.  Renders and measurements share a private temporary folder,
 * removed on return.  The signals are
 * blocked in every thread while it runs (the loop reads them from a signalfd) and the caller's
 * mask is restored on return.  Returns PW_OK with *out filled; PW_EINVAL when an input cannot be
 * watched (a missing folder) or PW_EIO when the server or the watcher cannot start, after logging
 * why.  The listening socket is closed on failure. */
int pw_preview_run(const pw_preview_options *o, pw_preview_outcome *out);

#endif
