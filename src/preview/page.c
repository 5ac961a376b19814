/* page.c — what the preview adds to the page it serves: the live-reload script (inserted into
 * the response, never into the file in out/), the page shown before the first report exists,
 * the Content-Security-Policy that lets only that script run, and the identity of a published
 * report.html that tells the page whether it is out of date (see preview.h). */
#include "perfweave/preview.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void pw_preview_token(const struct stat *st, char *buf, size_t cap)
{
    snprintf(buf, cap, "%llx-%lld.%09ld", (unsigned long long)st->st_ino, (long long)st->st_mtim.tv_sec,
             (long)st->st_mtim.tv_nsec);
}

/* The script, split where the page's identity goes.  It only ever sets textContent, so a
 * diagnostic that quotes a chapter (with "<script>" in it, say) stays text.  EventSource
 * reconnects by itself (the stream asks for 500 ms), which also carries the page across a
 * restart of the server after a rebuild. */
static const char script_head[] = "<script nonce=\"";
static const char script_mid[] = "\">\n/* perfweave preview: live reload (not part of the report) */\n"
                                 "(function () {\n"
                                 "  \"use strict\";\n"
                                 "  var page = \"";
static const char script_tail[] =
    "\";\n"
    "  var overlay = null, pill = null;\n"
    "  function make(tag, css, text) {\n"
    "    var e = document.createElement(tag);\n"
    "    e.style.cssText = css;\n"
    "    if (text !== undefined) e.textContent = text;\n"
    "    return e;\n"
    "  }\n"
    "  function showDiagnostics(list) {\n"
    "    if (!list.length) { if (overlay) { overlay.remove(); overlay = null; } return; }\n"
    "    if (!overlay) {\n"
    "      overlay = make(\"div\", \"position:fixed;left:0;right:0;top:0;max-height:60vh;overflow:auto;"
    "z-index:2147483647;background:#fff4f4;color:#5a0000;border-bottom:3px solid #b00;"
    "box-shadow:0 2px 10px rgba(0,0,0,.3);padding:12px 18px;font:14px/1.45 monospace\");\n"
    "      overlay.id = \"perfweave-preview-overlay\";\n"
    "      overlay.setAttribute(\"role\", \"alert\");\n"
    "      document.body.appendChild(overlay);\n"
    "    }\n"
    "    overlay.textContent = \"\";\n"
    "    overlay.appendChild(make(\"div\", \"font-weight:bold;margin-bottom:6px\",\n"
    "      page ? \"perfweave preview: the last render failed; below it is the last good report\"\n"
    "           : \"perfweave preview: the report could not be rendered\"));\n"
    "    list.forEach(function (d) {\n"
    "      var line = make(\"div\", \"white-space:pre-wrap;margin:2px 0\", d.text);\n"
    "      line.className = \"perfweave-preview-diagnostic\";\n"
    "      overlay.appendChild(line);\n"
    "    });\n"
    "  }\n"
    "  function showStatus(text) {\n"
    "    if (!text) { if (pill) { pill.remove(); pill = null; } return; }\n"
    "    if (!pill) {\n"
    "      pill = make(\"div\", \"position:fixed;right:12px;bottom:12px;z-index:2147483647;max-width:60vw;"
    "background:#222;color:#fff;border-radius:6px;padding:6px 10px;font:13px/1.4 sans-serif;opacity:.9\");\n"
    "      pill.id = \"perfweave-preview-status\";\n"
    "      document.body.appendChild(pill);\n"
    "    }\n"
    "    pill.textContent = text;\n"
    "  }\n"
    "  function job(name, j) {\n"
    "    if (j && j.running) return name + (j.progress ? \": \" + j.progress : \"\\u2026\");\n"
    "    return j && j.error ? j.error : \"\";\n"
    "  }\n"
    "  var events = new EventSource(\"/__preview/events\");\n"
    "  events.addEventListener(\"state\", function (e) {\n"
    "    var s = JSON.parse(e.data);\n"
    "    if (s.report && s.report !== page) { location.reload(); return; }\n"
    "    showDiagnostics(s.diagnostics || []);\n"
    "    var jobs = s.jobs || {};\n"
    "    showStatus([job(\"rendering\", jobs.render), job(\"measuring\", jobs.measure)]\n"
    "      .filter(Boolean).join(\" \\u00b7 \"));\n"
    "  });\n"
    "  events.onerror = function () { showStatus(\"preview server unreachable; retrying\\u2026\"); };\n"
    "})();\n"
    "</script>\n";

static void put_script(pw_buf *b, const char *token, const char *nonce)
{
    pw_buf_puts(b, script_head);
    pw_buf_puts(b, nonce);
    pw_buf_puts(b, script_mid);
    /* Tokens are hexadecimal digits, '-' and '.' (pw_preview_token): nothing to escape. */
    for (const char *p = token; *p; p++)
        if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == '-' || *p == '.') pw_buf_putc(b, *p);
    pw_buf_puts(b, script_tail);
}

char *pw_preview_inject(const char *html, size_t len, const char *token, const char *nonce, size_t *out_len)
{
    /* The last "</body" (any case); the script goes just before it. */
    size_t at = len;
    for (size_t i = len; i >= 6; i--)
        if (html[i - 6] == '<' && strncasecmp(html + i - 5, "/body", 5) == 0) {
            at = i - 6;
            break;
        }
    pw_buf b;
    pw_buf_init(&b);
    pw_buf_put(&b, html, at);
    put_script(&b, token, nonce);
    pw_buf_put(&b, html + at, len - at);
    *out_len = b.len;
    return pw_buf_detach(&b);
}

char *pw_preview_placeholder(const char *nonce, size_t *out_len)
{
    pw_buf b;
    pw_buf_init(&b);
    pw_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<title>perfweave preview</title>\n</head>\n<body>\n"
                    "<p id=\"perfweave-preview-waiting\">perfweave preview: there is no report yet; this page "
                    "loads it as soon as a render publishes one.</p>\n");
    put_script(&b, "", nonce);
    pw_buf_puts(&b, "</body>\n</html>\n");
    *out_len = b.len;
    return pw_buf_detach(&b);
}

void pw_preview_csp(const char *nonce, char *buf, size_t cap)
{
    /* The report is self-contained: inline CSS and SVG, no script of its own, no network. */
    snprintf(buf, cap,
             "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
             "script-src %s%s%s; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
             nonce ? "'nonce-" : "'none'", nonce ? nonce : "", nonce ? "'" : "");
}
