/* test_preview.c — the preview server's pieces: request-path resolution, content types, the Host
 * check, the injected page script, diagnostics from a render's output, the shared state, the
 * file watcher, and the HTTP server itself answering real requests on a loopback socket. */
#include "support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "perfweave/common.h"
#include "perfweave/preview.h"

static void expect_resolve(const char *target, int status, const char *rel)
{
    char out[PW_PREVIEW_PATH_MAX];
    int got = pw_preview_resolve(target, out, sizeof out);
    if (got != status) fail_msg("resolve('%s') = %d, expected %d", target, got, status);
    if (status == 200) assert_string_equal(out, rel);
    else assert_string_equal(out, "");
}

static void test_resolve(void **state)
{
    (void)state;
    expect_resolve("/", 200, "report.html");
    expect_resolve("/report.html", 200, "report.html");
    expect_resolve("/figures/a-values.svg", 200, "figures/a-values.svg");
    expect_resolve("/figures/a%20b.svg", 200, "figures/a b.svg");
    expect_resolve("/%72eport.html", 200, "report.html");
    /* Decoded once: %252e is a file named "%2e", not "..". */
    expect_resolve("/%252e%252e/x", 200, "%2e%2e/x");
    expect_resolve("/a..b", 200, "a..b");
    /* Traversal, plain and encoded, in any position. */
    expect_resolve("/..", 403, NULL);
    expect_resolve("/../etc/passwd", 403, NULL);
    expect_resolve("/figures/../../etc/passwd", 403, NULL);
    expect_resolve("/%2e%2e/etc/passwd", 403, NULL);
    expect_resolve("/%2E%2E/etc/passwd", 403, NULL);
    expect_resolve("/.%2e/x", 403, NULL);
    expect_resolve("/figures/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 403, NULL);
    expect_resolve("/./report.html", 403, NULL);
    expect_resolve("/figures/.", 403, NULL);
    expect_resolve("/../", 403, NULL);
    /* Absolute paths, backslashes, NUL and control characters. */
    expect_resolve("//etc/passwd", 403, NULL);
    expect_resolve("/%2fetc/passwd", 403, NULL);
    expect_resolve("/figures//x", 403, NULL);
    expect_resolve("/..\\..\\etc", 403, NULL);
    expect_resolve("/figures%5c..%5c..%5cetc", 403, NULL);
    expect_resolve("/report.html%00.txt", 403, NULL);
    expect_resolve("/%00", 403, NULL);
    expect_resolve("/a%0ab", 403, NULL);
    expect_resolve("/a%7fb", 403, NULL);
    /* Hidden files: perfweave's own staging and LaTeX folders. */
    expect_resolve("/.staging-123/report.html", 403, NULL);
    expect_resolve("/.latex/report.aux", 403, NULL);
    expect_resolve("/figures/.hidden", 403, NULL);
    /* Directories are never listed. */
    expect_resolve("/figures/", 404, NULL);
    expect_resolve("//", 403, NULL);
    /* Not a path at all, or a malformed escape. */
    expect_resolve("", 400, NULL);
    expect_resolve("report.html", 400, NULL);
    expect_resolve("http://127.0.0.1/report.html", 400, NULL);
    expect_resolve("*", 400, NULL);
    expect_resolve("/%", 400, NULL);
    expect_resolve("/%2", 400, NULL);
    expect_resolve("/%zz", 400, NULL);
    expect_resolve("/a%g0", 400, NULL);
    assert_int_equal(pw_preview_resolve(NULL, NULL, 0), 400);
    /* Too long for the buffer, or for any buffer. */
    char small[8];
    assert_int_equal(pw_preview_resolve("/report.html", small, sizeof small), 414);
    char big[PW_PREVIEW_PATH_MAX + 8];
    char rel[2 * PW_PREVIEW_PATH_MAX];
    big[0] = '/';
    memset(big + 1, 'a', sizeof big - 2);
    big[sizeof big - 1] = '\0';
    assert_int_equal(pw_preview_resolve(big, rel, sizeof rel), 414);
    assert_string_equal(rel, "");
}

static void test_content_type(void **state)
{
    (void)state;
    assert_string_equal(pw_preview_content_type("report.html"), "text/html; charset=utf-8");
    assert_string_equal(pw_preview_content_type("REPORT.HTML"), "text/html; charset=utf-8");
    assert_string_equal(pw_preview_content_type("report.css"), "text/css; charset=utf-8");
    assert_string_equal(pw_preview_content_type("figures/a-b.svg"), "image/svg+xml");
    assert_string_equal(pw_preview_content_type("report.pdf"), "application/pdf");
    assert_string_equal(pw_preview_content_type("results.json"), "application/json");
    assert_string_equal(pw_preview_content_type("x.png"), "image/png");
    assert_string_equal(pw_preview_content_type("notes.txt"), "text/plain; charset=utf-8");
    assert_string_equal(pw_preview_content_type("report.tex"), "text/plain; charset=utf-8");
    assert_string_equal(pw_preview_content_type("figures/a-values-svg.gp"), "text/plain; charset=utf-8");
    assert_string_equal(pw_preview_content_type("figures/a-values.dat"), "text/plain; charset=utf-8");
    assert_string_equal(pw_preview_content_type("report.log"), "text/plain; charset=utf-8");
    assert_string_equal(pw_preview_content_type("archive.tar.gz"), "application/octet-stream");
    assert_string_equal(pw_preview_content_type("Makefile"), "application/octet-stream");
    assert_string_equal(pw_preview_content_type("figures.svg/data"), "application/octet-stream");
    assert_string_equal(pw_preview_content_type(".svg"), "application/octet-stream");
    assert_string_equal(pw_preview_content_type("x."), "application/octet-stream");
}

static struct sockaddr_storage addr_of(const char *host, unsigned port)
{
    struct sockaddr_storage ss;
    assert_int_equal(pw_preview_parse_address(host, port, &ss), 0);
    return ss;
}

static void test_host(void **state)
{
    (void)state;
    struct sockaddr_storage lo = addr_of("127.0.0.1", 8000), lo6 = addr_of("::1", 8000),
                            any = addr_of("0.0.0.0", 8000), any6 = addr_of("::", 8000),
                            lan = addr_of("192.0.2.7", 80), lo2 = addr_of("127.0.0.2", 8000);
    const struct sockaddr *l = (const struct sockaddr *)&lo;
    assert_true(pw_preview_host_allowed("127.0.0.1:8000", l));
    assert_true(pw_preview_host_allowed("localhost:8000", l));
    assert_true(pw_preview_host_allowed("LocalHost:8000", l));
    assert_false(pw_preview_host_allowed("127.0.0.1:8001", l));
    assert_false(pw_preview_host_allowed("127.0.0.1", l)); /* port 80 */
    assert_false(pw_preview_host_allowed("127.0.0.2:8000", l));
    assert_false(pw_preview_host_allowed("evil.example:8000", l));
    assert_false(pw_preview_host_allowed("evil.example", l));
    assert_false(pw_preview_host_allowed("localhost.:8000", l));
    assert_false(pw_preview_host_allowed("localhost.evil.example:8000", l));
    assert_false(pw_preview_host_allowed("127.0.0.1.evil.example:8000", l));
    assert_false(pw_preview_host_allowed("2130706433:8000", l)); /* 127.0.0.1 as one number */
    assert_false(pw_preview_host_allowed("0x7f.0.0.1:8000", l));
    assert_false(pw_preview_host_allowed("127.0.0.1:08000x", l));
    assert_false(pw_preview_host_allowed("127.0.0.1:", l));
    assert_false(pw_preview_host_allowed("127.0.0.1:08000", l));
    assert_false(pw_preview_host_allowed("127.0.0.01:8000", l));
    assert_false(pw_preview_host_allowed("127.0.0.1:+8000", l));
    assert_false(pw_preview_host_allowed(":8000", l));
    assert_false(pw_preview_host_allowed("", l));
    assert_false(pw_preview_host_allowed(NULL, l));
    assert_false(pw_preview_host_allowed("[::1]:8000", l));
    assert_false(pw_preview_host_allowed("[127.0.0.1]:8000", l));
    const struct sockaddr *l6 = (const struct sockaddr *)&lo6;
    assert_true(pw_preview_host_allowed("[::1]:8000", l6));
    assert_true(pw_preview_host_allowed("[0:0:0:0:0:0:0:1]:8000", l6));
    assert_true(pw_preview_host_allowed("localhost:8000", l6));
    assert_false(pw_preview_host_allowed("::1:8000", l6));
    assert_false(pw_preview_host_allowed("[::1]8000", l6));
    assert_false(pw_preview_host_allowed("[::1", l6));
    assert_false(pw_preview_host_allowed("127.0.0.1:8000", l6));
    /* A wildcard answers to any address literal and to localhost, never to a name. */
    const struct sockaddr *a = (const struct sockaddr *)&any;
    assert_true(pw_preview_host_allowed("127.0.0.1:8000", a));
    assert_true(pw_preview_host_allowed("192.0.2.7:8000", a));
    assert_true(pw_preview_host_allowed("localhost:8000", a));
    assert_false(pw_preview_host_allowed("evil.example:8000", a));
    assert_false(pw_preview_host_allowed("192.0.2.7:9000", a));
    assert_true(pw_preview_host_allowed("[fd00::2]:8000", (const struct sockaddr *)&any6));
    /* A LAN address: its literal, port 80 implied; localhost does not reach it. */
    const struct sockaddr *n = (const struct sockaddr *)&lan;
    assert_true(pw_preview_host_allowed("192.0.2.7", n));
    assert_true(pw_preview_host_allowed("192.0.2.7:80", n));
    assert_false(pw_preview_host_allowed("localhost", n));
    assert_false(pw_preview_host_allowed("192.0.2.8", n));
    assert_true(pw_preview_host_allowed("127.0.0.2:8000", (const struct sockaddr *)&lo2));

    assert_true(pw_preview_is_loopback(l));
    assert_true(pw_preview_is_loopback((const struct sockaddr *)&lo2));
    assert_true(pw_preview_is_loopback(l6));
    struct sockaddr_storage mapped = addr_of("::ffff:127.0.0.1", 1);
    assert_true(pw_preview_is_loopback((const struct sockaddr *)&mapped));
    assert_false(pw_preview_is_loopback(a));
    assert_false(pw_preview_is_loopback((const struct sockaddr *)&any6));
    assert_false(pw_preview_is_loopback(n));

    struct sockaddr_storage ss;
    assert_int_equal(pw_preview_parse_address("localhost", 80, &ss), 0);
    assert_true(pw_preview_is_loopback((const struct sockaddr *)&ss));
    assert_int_equal(pw_preview_parse_address("[::1]", 80, &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(pw_preview_parse_address("example.org", 80, &ss), -1);
    assert_int_equal(pw_preview_parse_address("127.0.0.1", 70000, &ss), -1);
    assert_int_equal(pw_preview_parse_address("", 80, &ss), -1);
    char text[80];
    pw_preview_format_address(l, text, sizeof text);
    assert_string_equal(text, "127.0.0.1:8000");
    pw_preview_format_address(l6, text, sizeof text);
    assert_string_equal(text, "[::1]:8000");
}

static void test_page(void **state)
{
    (void)state;
    const char html[] = "<html><body><p>a</p></body>\n<!-- </body> in a comment --></BODY></html>\n";
    size_t len;
    char *page = pw_preview_inject(html, strlen(html), "1f-2.3", "abc123", &len);
    assert_int_equal(len, strlen(page));
    /* Inserted once, before the last </body> whatever its case; the rest kept byte for byte. */
    const char *script = strstr(page, "<script nonce=\"abc123\">");
    assert_non_null(script);
    assert_null(strstr(script + 1, "<script"));
    assert_memory_equal(page, html, (size_t)(strstr(html, "</BODY>") - html));
    assert_string_equal(strstr(page, "</script>\n") + strlen("</script>\n"), "</BODY></html>\n");
    assert_non_null(strstr(page, "var page = \"1f-2.3\";"));
    assert_non_null(strstr(page, "new EventSource(\"/__preview/events\")"));
    assert_non_null(strstr(page, "perfweave-preview-overlay"));
    assert_null(strstr(page, "innerHTML")); /* diagnostics go in as text only */
    free(page);
    /* No body end tag: appended.  A token with foreign characters cannot break out. */
    page = pw_preview_inject("<p>x", 4, "1\"</tr>", "n", &len);
    assert_memory_equal(page, "<p>x<script nonce=\"n\">", 22);
    assert_non_null(strstr(page, "var page = \"1\";"));
    free(page);
    page = pw_preview_placeholder("n0nce", &len);
    assert_non_null(strstr(page, "var page = \"\";"));
    assert_non_null(strstr(page, "<script nonce=\"n0nce\">"));
    assert_non_null(strstr(page, "</html>"));
    free(page);

    char csp[512];
    pw_preview_csp(NULL, csp, sizeof csp);
    assert_non_null(strstr(csp, "script-src 'none'"));
    assert_non_null(strstr(csp, "default-src 'none'"));
    assert_non_null(strstr(csp, "frame-ancestors 'none'"));
    pw_preview_csp("abc", csp, sizeof csp);
    assert_non_null(strstr(csp, "script-src 'nonce-abc';"));
    assert_non_null(strstr(csp, "connect-src 'self'"));

    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = 0x1f;
    st.st_mtim.tv_sec = 2;
    st.st_mtim.tv_nsec = 3;
    char token[PW_PREVIEW_TOKEN_MAX];
    pw_preview_token(&st, token, sizeof token);
    assert_string_equal(token, "1f-2.000000003");
}

static void expect_clean(const char *in, size_t len, const char *out)
{
    pw_buf b;
    pw_buf_init(&b);
    pw_preview_utf8_clean(&b, in, len);
    assert_string_equal(b.data, out);
    assert_int_equal(b.len, strlen(out));
    pw_buf_release(&b);
}

#define FFFD "\xef\xbf\xbd"

static void test_utf8(void **state)
{
    (void)state;
    expect_clean("plain", 5, "plain");
    expect_clean("caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80", 14, "caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80");
    expect_clean("a\xff" "b", 3, "a" FFFD "b");
    expect_clean("\x80", 1, FFFD);                                /* stray continuation */
    expect_clean("\xc0\xaf", 2, FFFD FFFD);                       /* overlong '/' */
    expect_clean("\xe0\x80\xaf", 3, FFFD FFFD FFFD);              /* overlong, 3 bytes */
    expect_clean("\xed\xa0\x80", 3, FFFD FFFD FFFD);              /* a surrogate */
    expect_clean("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD);     /* above U+10FFFF */
    expect_clean("\xe2\x82", 2, FFFD FFFD);                       /* truncated */
    expect_clean("x\xe2\x82", 3, "x" FFFD FFFD);
    expect_clean("a\0b", 3, "a" FFFD "b");
    expect_clean("\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf");      /* U+10FFFF itself */
}

static void test_diagnostics(void **state)
{
    (void)state;
    assert_true(pw_preview_is_progress("[1/3] e2e-matmul (acceleration.matmul)  0s elapsed"));
    assert_true(pw_preview_is_progress("[12/120] x (y)"));
    assert_false(pw_preview_is_progress("[1/3]x"));
    assert_false(pw_preview_is_progress("[/3] x"));
    assert_false(pw_preview_is_progress("[1/] x"));
    assert_false(pw_preview_is_progress("chapters/a.md:3: [1/2] x"));
    const char *id = NULL;
    assert_int_equal(pw_preview_progress_id("[1/3] e2e-matmul (acceleration.matmul)  0s elapsed", &id), 10);
    assert_int_equal(strncmp(id, "e2e-matmul", 10), 0);
    assert_int_equal(pw_preview_progress_id("[2/2] last", &id), 4);
    assert_int_equal(pw_preview_progress_id("x.md:1: [1/2] a", &id), 0);

    const char out[] = "[1/2] a (selftest.fixed)  0s elapsed\n"
                       "chapters/16-acceleration.md:41: unknown experiment 'matmull' (did you mean 'matmul'?)\n"
                       "perfweave: ch a.md:7: 'sizes' expects a number, not '\xff'\n"
                       "perfweave: 2 errors; nothing was run or written\n"
                       "\n";
    json_t *d = pw_preview_diagnostics(out, sizeof out - 1, 1, 0);
    assert_int_equal(json_array_size(d), 3);
    json_t *e = json_array_get(d, 0);
    assert_string_equal(json_string_value(json_object_get(e, "text")),
                        "chapters/16-acceleration.md:41: unknown experiment 'matmull' (did you mean 'matmul'?)");
    assert_string_equal(json_string_value(json_object_get(e, "file")), "chapters/16-acceleration.md");
    assert_int_equal(json_integer_value(json_object_get(e, "line")), 41);
    e = json_array_get(d, 1);
    assert_string_equal(json_string_value(json_object_get(e, "text")), "ch a.md:7: 'sizes' expects a number, not '" FFFD "'");
    assert_string_equal(json_string_value(json_object_get(e, "file")), "ch a.md");
    e = json_array_get(d, 2);
    assert_string_equal(json_string_value(json_object_get(e, "text")), "2 errors; nothing was run or written");
    assert_true(json_is_null(json_object_get(e, "file")));
    assert_true(json_is_null(json_object_get(e, "line")));
    json_decref(d);

    /* Success, with or without an experiment in ERROR: nothing to show. */
    d = pw_preview_diagnostics(out, sizeof out - 1, 0, 0);
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);
    d = pw_preview_diagnostics(out, sizeof out - 1, 2, 0);
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);

    /* A crash says so first, then what it printed. */
    const char crashed[] = "[1/1] a (selftest.fixed)  0s elapsed\nhalf a line";
    d = pw_preview_diagnostics(crashed, sizeof crashed - 1, -1, SIGSEGV);
    assert_int_equal(json_array_size(d), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "text")),
                        "the renderer (perfweave report) crashed with signal 11 (SIGSEGV)");
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 1), "text")), "half a line");
    json_decref(d);
    /* A failure that printed nothing is still never silent. */
    d = pw_preview_diagnostics("", 0, 3, 0);
    assert_int_equal(json_array_size(d), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "text")),
                        "the renderer (perfweave report) failed with exit status 3");
    json_decref(d);
    d = pw_preview_diagnostics("", 0, 1, 0);
    assert_int_equal(json_array_size(d), 1);
    json_decref(d);
    d = pw_preview_diagnostics("x\n", 2, 127, 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "text")),
                        "the renderer (perfweave report) failed with exit status 127 (it could not be started)");
    json_decref(d);
    d = pw_preview_diagnostics("", 0, -1, SIGTERM);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "text")),
                        "the renderer (perfweave report) was stopped by signal 15");
    json_decref(d);

    /* From a --status-json document: its input diagnostics, then its error messages (not its
     * warnings or notes), located; none at all is NULL (the caller reads the output instead). */
    json_t *status = json_pack("{s:[s, s], s:[{s:s, s:s, s:i, s:s}, {s:s, s:n, s:n, s:s}, {s:s, s:n, s:n, s:s}]}",
                               "diagnostics", "ch.md:3: unknown experiment 'x'", "ch.md:9: bad \xef\xbf\xbd",
                               "messages", "kind", "error", "file", "ch.md", "line", 12, "text", "broken template",
                               "kind", "warning", "file", "line", "text", "a warning", "kind", "error", "file", "line",
                               "text", "no chapters given");
    d = pw_preview_status_diagnostics(status);
    assert_int_equal(json_array_size(d), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "file")), "ch.md");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(d, 1), "line")), 9);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 1), "text")), "ch.md:9: bad " FFFD);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 2), "text")), "ch.md:12: broken template");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(d, 2), "line")), 12);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 3), "text")), "no chapters given");
    json_decref(d);
    json_decref(status);
    status = json_pack("{s:[], s:[{s:s, s:n, s:n, s:s}]}", "diagnostics", "messages", "kind", "note", "file", "line",
                       "text", "archived");
    assert_null(pw_preview_status_diagnostics(status));
    json_decref(status);
}

static json_t *state_doc(pw_preview_state *st, unsigned long *gen)
{
    char *text = pw_preview_state_json(st, gen);
    assert_null(strchr(text, '\n'));
    json_error_t err;
    json_t *doc = json_loads(text, 0, &err);
    assert_non_null(doc);
    free(text);
    return doc;
}

typedef struct {
    pw_preview_state *st;
    unsigned long seen;
    pw_preview_wait_result result;
} waiter;

static void *wait_thread(void *arg)
{
    waiter *w = arg;
    w->result = pw_preview_state_wait(w->st, w->seen, 60000);
    return NULL;
}

static void test_state(void **state)
{
    (void)state;
    pw_preview_state *st = pw_preview_state_new();
    unsigned long g0, g1;
    json_t *doc = state_doc(st, &g0);
    assert_true(json_is_null(json_object_get(doc, "report")));
    assert_true(json_is_true(json_object_get(doc, "ok")));
    assert_int_equal(json_array_size(json_object_get(doc, "diagnostics")), 0);
    assert_true(json_is_false(json_object_get(json_object_get(json_object_get(doc, "jobs"), "render"), "running")));
    assert_true(json_is_false(json_object_get(json_object_get(json_object_get(doc, "jobs"), "measure"), "running")));
    json_decref(doc);
    assert_int_equal(pw_preview_state_wait(st, g0, 0), PW_PREVIEW_TIMEOUT);
    assert_int_equal(pw_preview_state_wait(st, g0 - 1, 0), PW_PREVIEW_CHANGED);

    pw_preview_state_set_job(st, PW_PREVIEW_JOB_RENDER, true, "[1/2] a (selftest.fixed)");
    doc = state_doc(st, &g1);
    assert_true(g1 > g0);
    json_t *render = json_object_get(json_object_get(doc, "jobs"), "render");
    assert_true(json_is_true(json_object_get(render, "running")));
    assert_string_equal(json_string_value(json_object_get(render, "progress")), "[1/2] a (selftest.fixed)");
    json_decref(doc);

    /* A failed render: diagnostics, job finished, identity unchanged; then a good one. */
    pw_preview_state_render_done(st, "1-2.3", pw_preview_diagnostics("a.md:3: bad\n", 12, 1, 0));
    doc = state_doc(st, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "report")), "1-2.3");
    assert_true(json_is_false(json_object_get(doc, "ok")));
    assert_int_equal(json_integer_value(json_object_get(doc, "renders")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(doc, "diagnostics"), 0), "text")),
                        "a.md:3: bad");
    render = json_object_get(json_object_get(doc, "jobs"), "render");
    assert_true(json_is_false(json_object_get(render, "running")));
    assert_true(json_is_null(json_object_get(render, "progress")));
    json_decref(doc);
    pw_preview_state_render_done(st, "4-5.6", NULL);
    doc = state_doc(st, &g1);
    assert_true(json_is_true(json_object_get(doc, "ok")));
    json_decref(doc);
    /* Setting the same identity again is no change. */
    pw_preview_state_set_report(st, "4-5.6");
    assert_int_equal(pw_preview_state_wait(st, g1, 0), PW_PREVIEW_TIMEOUT);
    /* What still needs measuring, and a measurement that failed: said until it runs again. */
    assert_int_equal(json_integer_value(json_object_get(doc = state_doc(st, NULL), "pending")), 0);
    json_decref(doc);
    pw_preview_state_set_pending(st, 2);
    pw_preview_state_job_failed(st, PW_PREVIEW_JOB_MEASURE, "the measurement crashed");
    doc = state_doc(st, &g1);
    assert_int_equal(json_integer_value(json_object_get(doc, "pending")), 2);
    json_t *measure = json_object_get(json_object_get(doc, "jobs"), "measure");
    assert_true(json_is_false(json_object_get(measure, "running")));
    assert_string_equal(json_string_value(json_object_get(measure, "error")), "the measurement crashed");
    assert_true(json_is_null(json_object_get(json_object_get(json_object_get(doc, "jobs"), "render"), "error")));
    json_decref(doc);
    pw_preview_state_set_pending(st, 2); /* no change */
    assert_int_equal(pw_preview_state_wait(st, g1, 0), PW_PREVIEW_TIMEOUT);
    pw_preview_state_set_job(st, PW_PREVIEW_JOB_MEASURE, true, "[1/1] a (selftest.fixed)");
    doc = state_doc(st, NULL);
    assert_true(json_is_null(json_object_get(json_object_get(json_object_get(doc, "jobs"), "measure"), "error")));
    json_decref(doc);
    pw_preview_state_set_job(st, PW_PREVIEW_JOB_MEASURE, false, NULL);
    json_decref(state_doc(st, &g1));

    /* A waiting stream wakes on a change, and every wait ends once the state is stopped. */
    waiter w = {st, g1, PW_PREVIEW_TIMEOUT};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
    pw_preview_state_set_job(st, PW_PREVIEW_JOB_MEASURE, true, NULL);
    pthread_join(t, NULL);
    assert_int_equal(w.result, PW_PREVIEW_CHANGED);
    json_decref(state_doc(st, &w.seen));
    assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
    pw_preview_state_stop(st);
    pthread_join(t, NULL);
    assert_int_equal(w.result, PW_PREVIEW_STOPPED);
    assert_int_equal(pw_preview_state_wait(st, 0, 1000), PW_PREVIEW_STOPPED);
    pw_preview_state_free(st);
    pw_preview_state_free(NULL);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_watch(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *sub = pw_xasprintf("%s/templates", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    char *chapter = pw_xasprintf("%s/ch.md", dir);
    char *other = pw_xasprintf("%s/other.md", dir);
    char *tmp = pw_xasprintf("%s/.ch.md.swp", dir);
    write_text(chapter, "# one\n");
    pw_preview_watch *w = pw_preview_watch_new();
    assert_non_null(w);
    assert_int_equal(pw_preview_watch_file(w, chapter, PW_PREVIEW_CHAPTER), 0);
    assert_int_equal(pw_preview_watch_dir(w, sub, NULL, PW_PREVIEW_TEMPLATE), 0);
    char *missing = pw_xasprintf("%s/missing/x.md", dir);
    assert_int_equal(pw_preview_watch_file(w, missing, PW_PREVIEW_CHAPTER), -1);
    assert_int_equal(pw_preview_watch_read(w, NULL), 0);
    /* A save in place, then a save by rename (what most editors do). */
    write_text(chapter, "# two\n");
    const char *name;
    assert_int_equal(pw_preview_watch_read(w, &name), PW_PREVIEW_CHAPTER);
    assert_string_equal(name, "ch.md");
    write_text(tmp, "# three\n");
    assert_int_equal(pw_preview_watch_read(w, NULL), 0); /* another file of the folder */
    assert_int_equal(rename(tmp, chapter), 0);
    assert_int_equal(pw_preview_watch_read(w, NULL), PW_PREVIEW_CHAPTER);
    write_text(other, "x");
    assert_int_equal(pw_preview_watch_read(w, NULL), 0);
    char *tpl = pw_xasprintf("%s/report.html", sub), *backup = pw_xasprintf("%s/report.html~", sub),
         *hidden = pw_xasprintf("%s/.report.html.swp", sub);
    write_text(backup, "x");
    write_text(hidden, "x");
    assert_int_equal(pw_preview_watch_read(w, NULL), 0);
    write_text(tpl, "x");
    assert_int_equal(pw_preview_watch_read(w, NULL), PW_PREVIEW_TEMPLATE);
    unlink(tpl);
    assert_int_equal(pw_preview_watch_read(w, NULL), PW_PREVIEW_TEMPLATE);
    assert_true(pw_preview_watch_fd(w) >= 0);
    pw_preview_watch_free(w);
    pw_preview_watch_free(NULL);

    /* A suffix filter, as for chapters/: *.md only. */
    w = pw_preview_watch_new();
    assert_int_equal(pw_preview_watch_dir(w, dir, ".md", PW_PREVIEW_CHAPTER), 0);
    write_text(other, "y");
    assert_int_equal(pw_preview_watch_read(w, NULL), PW_PREVIEW_CHAPTER);
    char *txt = pw_xasprintf("%s/notes.txt", dir);
    write_text(txt, "z");
    assert_int_equal(pw_preview_watch_read(w, NULL), 0);
    pw_preview_watch_free(w);
    free(txt);
    free(tpl);
    free(backup);
    free(hidden);
    free(missing);
    free(chapter);
    free(other);
    free(tmp);
    free(sub);
    pw_test_rmtree(dir);
    free(dir);
}

/* --- the server, over a real loopback socket --------------------------------------------------- */

typedef struct {
    char *dir, *outdir, *secret;
    pw_preview_state *st;
    pw_preview_server *srv;
    unsigned port;
} served;

/* One request on a new connection; returns the whole response (caller frees). */
static char *request(const served *s, const char *text)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    size_t len = strlen(text);
    assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
    pw_buf b;
    pw_buf_init(&b);
    char buf[4096];
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        assert_int_equal(poll(&p, 1, 20000), 1); /* a hung server fails the test instead of hanging it */
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        pw_buf_put(&b, buf, (size_t)n);
    }
    close(fd);
    return pw_buf_detach(&b);
}

static char *get(const served *s, const char *method, const char *path, const char *host)
{
    char host_line[128] = "";
    if (host) snprintf(host_line, sizeof host_line, "Host: %s\r\n", host);
    char *req = pw_xasprintf("%s %s HTTP/1.1\r\n%sConnection: close\r\n\r\n", method, path, host_line);
    char *resp = request(s, req);
    free(req);
    return resp;
}

static int status_of(const char *resp)
{
    int code = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1) return -1;
    return code;
}

static void expect_status(const served *s, const char *method, const char *path, int status)
{
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%u", s->port);
    char *resp = get(s, method, path, host);
    if (status_of(resp) != status) fail_msg("%s %s: %d, expected %d", method, path, status_of(resp), status);
    free(resp);
}

static void serve(served *s)
{
    s->dir = pw_test_tmpdir();
    s->outdir = pw_xasprintf("%s/out", s->dir);
    s->secret = pw_xasprintf("%s/secret.txt", s->dir);
    char *figs = pw_xasprintf("%s/figures", s->outdir), *staging = pw_xasprintf("%s/.staging-1", s->outdir);
    assert_int_equal(pw_mkdir_p(figs), PW_OK);
    assert_int_equal(pw_mkdir_p(staging), PW_OK);
    char *p = pw_xasprintf("%s/report.html", s->outdir);
    write_text(p, "<html><body><p>the report</p></body></html>\n");
    free(p);
    p = pw_xasprintf("%s/a.svg", figs);
    write_text(p, "<svg/>");
    free(p);
    p = pw_xasprintf("%s/report.html", staging);
    write_text(p, "half-written");
    free(p);
    write_text(s->secret, "outside the output folder");
    p = pw_xasprintf("%s/leak.txt", s->outdir);
    assert_int_equal(symlink(s->secret, p), 0);
    free(p);
    p = pw_xasprintf("%s/up", s->outdir);
    assert_int_equal(symlink("..", p), 0);
    free(p);
    p = pw_xasprintf("%s/inside.svg", s->outdir);
    assert_int_equal(symlink("figures/a.svg", p), 0);
    free(p);
    p = pw_xasprintf("%s/fifo.txt", s->outdir);
    assert_int_equal(mkfifo(p, 0644), 0);
    free(p);
    free(figs);
    free(staging);

    struct sockaddr_storage ss;
    assert_int_equal(pw_preview_parse_address("127.0.0.1", 0, &ss), 0);
    int fd = pw_preview_listen(&ss);
    assert_true(fd >= 0);
    assert_int_equal(pw_preview_listen_check(fd, &ss), 0);
    s->port = ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
    s->st = pw_preview_state_new();
    s->srv = pw_preview_server_new(fd, s->outdir, s->st, NULL, NULL);
    assert_non_null(s->srv);
}

static void unserve(served *s)
{
    pw_preview_state_stop(s->st);
    pw_preview_server_free(s->srv);
    pw_preview_state_free(s->st);
    pw_test_rmtree(s->dir);
    free(s->dir);
    free(s->outdir);
    free(s->secret);
}

static void test_server(void **state)
{
    (void)state;
    served s;
    serve(&s);
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%u", s.port);

    char *resp = get(&s, "GET", "/", host);
    assert_int_equal(status_of(resp), 200);
    assert_non_null(strstr(resp, "Content-Type: text/html; charset=utf-8"));
    assert_non_null(strstr(resp, "X-Content-Type-Options: nosniff"));
    assert_non_null(strstr(resp, "<p>the report</p>"));
    /* The script carries the nonce the policy names. */
    const char *csp = strstr(resp, "script-src 'nonce-");
    assert_non_null(csp);
    char nonce[33];
    memcpy(nonce, csp + strlen("script-src 'nonce-"), 32);
    nonce[32] = '\0';
    char *tag = pw_xasprintf("<script nonce=\"%s\">", nonce);
    assert_non_null(strstr(resp, tag));
    free(tag);
    free(resp);

    resp = get(&s, "GET", "/figures/a.svg", host);
    assert_int_equal(status_of(resp), 200);
    assert_non_null(strstr(resp, "Content-Type: image/svg+xml"));
    assert_non_null(strstr(resp, "script-src 'none'"));
    assert_null(strstr(resp, "<script"));
    free(resp);
    resp = get(&s, "HEAD", "/report.html", host);
    assert_int_equal(status_of(resp), 200);
    assert_null(strstr(resp, "the report"));
    free(resp);
    expect_status(&s, "GET", "/inside.svg", 200); /* a symlink that stays inside is fine */

    /* Traversal, hidden folders, symlinks out, listings, special files. */
    expect_status(&s, "GET", "/../secret.txt", 403);
    expect_status(&s, "GET", "/%2e%2e/secret.txt", 403);
    expect_status(&s, "GET", "/figures/..%2f..%2fsecret.txt", 403);
    expect_status(&s, "GET", "/%2f%2fetc/passwd", 403);
    expect_status(&s, "GET", "/.staging-1/report.html", 403);
    expect_status(&s, "GET", "/leak.txt", 403);
    expect_status(&s, "GET", "/up/secret.txt", 403);
    expect_status(&s, "GET", "/figures", 404);
    expect_status(&s, "GET", "/figures/", 404);
    expect_status(&s, "GET", "/fifo.txt", 404);
    expect_status(&s, "GET", "/missing.html", 404);
    expect_status(&s, "GET", "/a%zz", 400);
    expect_status(&s, "GET", "/__preview/nothing", 404);

    /* Methods and hosts. */
    resp = get(&s, "POST", "/", host);
    assert_int_equal(status_of(resp), 405);
    assert_non_null(strstr(resp, "Allow: GET, HEAD"));
    free(resp);
    expect_status(&s, "PUT", "/report.html", 405);
    expect_status(&s, "DELETE", "/report.html", 405);
    expect_status(&s, "OPTIONS", "/", 405);
    resp = get(&s, "GET", "/", "evil.example");
    assert_int_equal(status_of(resp), 403);
    free(resp);
    char other[64];
    snprintf(other, sizeof other, "localhost:%u", s.port);
    resp = get(&s, "GET", "/", other);
    assert_int_equal(status_of(resp), 200);
    free(resp);
    snprintf(other, sizeof other, "127.0.0.1:%u", s.port == 65535 ? 1 : s.port + 1);
    resp = get(&s, "GET", "/", other);
    assert_int_equal(status_of(resp), 403);
    free(resp);
    resp = request(&s, "GET / HTTP/1.0\r\n\r\n");
    assert_int_equal(status_of(resp), 400);
    free(resp);

    /* The state, as JSON and as an event stream (ended by stopping the state). */
    pw_preview_state_render_done(s.st, "ab-1.2", pw_preview_diagnostics("x.md:2: wrong\n", 14, 1, 0));
    resp = get(&s, "GET", "/__preview/state", host);
    assert_int_equal(status_of(resp), 200);
    assert_non_null(strstr(resp, "Content-Type: application/json"));
    assert_non_null(strstr(resp, "\"text\":\"x.md:2: wrong\""));
    free(resp);

    /* With no report.html: the waiting page, which loads the report once there is one. */
    char *p = pw_xasprintf("%s/report.html", s.outdir);
    unlink(p);
    free(p);
    resp = get(&s, "GET", "/", host);
    assert_int_equal(status_of(resp), 503);
    assert_non_null(strstr(resp, "perfweave-preview-waiting"));
    assert_non_null(strstr(resp, "var page = \"\";"));
    free(resp);

    unserve(&s);
}

typedef struct {
    const served *s;
    char *resp;
} stream_reader;

static void *read_events(void *arg)
{
    stream_reader *r = arg;
    char req[128];
    snprintf(req, sizeof req, "GET /__preview/events HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n", r->s->port);
    r->resp = request(r->s, req);
    return NULL;
}

static void test_server_events(void **state)
{
    (void)state;
    served s;
    serve(&s);
    pw_preview_state_set_job(s.st, PW_PREVIEW_JOB_RENDER, true, "[1/1] a (selftest.fixed)");
    stream_reader r = {&s, NULL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_events, &r), 0);
    /* The stream sends the state now; stopping the state ends it, and the server stops. */
    unsigned long g;
    free(pw_preview_state_json(s.st, &g));
    pw_preview_state_stop(s.st);
    pthread_join(t, NULL);
    /* The stream may have been opened after the stop: then it ends at once, without an event. */
    assert_int_equal(status_of(r.resp), 200);
    assert_non_null(strstr(r.resp, "Content-Type: text/event-stream"));
    free(r.resp);
    unserve(&s);

    /* Again, with the event read before stopping. */
    serve(&s);
    pw_preview_state_set_job(s.st, PW_PREVIEW_JOB_RENDER, true, "[1/1] a (selftest.fixed)");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[128];
    snprintf(req, sizeof req, "GET /__preview/events HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", s.port);
    assert_true(send(fd, req, strlen(req), MSG_NOSIGNAL) > 0);
    pw_buf b;
    pw_buf_init(&b);
    char buf[4096];
    while (!strstr(b.data, "\n\n") || !strstr(b.data, "event: state")) {
        struct pollfd p = {fd, POLLIN, 0};
        assert_int_equal(poll(&p, 1, 20000), 1);
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        assert_true(n > 0);
        pw_buf_put(&b, buf, (size_t)n);
    }
    assert_non_null(strstr(b.data, "retry: 500"));
    assert_non_null(strstr(b.data, "\"progress\":\"[1/1] a (selftest.fixed)\""));
    pw_buf_release(&b);
    close(fd);
    unserve(&s);
}

static void test_listen(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    assert_int_equal(pw_preview_parse_address("127.0.0.1", 0, &ss), 0);
    int fd = pw_preview_listen(&ss);
    assert_true(fd >= 0);
    struct sockaddr_storage back;
    assert_int_equal(pw_preview_listen_check(fd, &back), 0);
    assert_int_equal(back.ss_family, AF_INET);
    assert_true(pw_preview_is_loopback((const struct sockaddr *)&back));
    /* The same port again is taken. */
    int again = pw_preview_listen(&back);
    assert_int_equal(again, -1);
    close(fd);
    int plain = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(pw_preview_listen_check(plain, &back), -1); /* not listening */
    close(plain);
    assert_int_equal(pw_preview_listen_check(0x7ffffff, &back), -1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_diagnostics),
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_server),
        cmocka_unit_test(test_server_events),
    };
    return cmocka_run_group_tests_name("preview", tests, NULL, NULL);
}
