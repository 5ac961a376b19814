/* escape.c — HTML, LaTeX and gnuplot escaping (see escape.h). */
#include "perfweave/escape.h"

#include <string.h>

void pw_escape_html(pw_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': pw_buf_puts(b, "&amp;"); break;
        case '<': pw_buf_puts(b, "&lt;"); break;
        case '>': pw_buf_puts(b, "&gt;"); break;
        case '"': pw_buf_puts(b, "&quot;"); break;
        case '\'': pw_buf_puts(b, "&#39;"); break;
        default: pw_buf_putc(b, *s);
        }
    }
}

/* UTF-8 sequences perfweave's own text uses, and their LaTeX forms. */
static const struct { const char *utf8, *latex; } latex_unicode[] = {
    {"\xc3\x97", "\\ensuremath{\\times}"},   /* × */
    {"\xe2\x80\x93", "--"},                   /* – */
    {"\xe2\x80\x94", "---"},                  /* — */
    {"\xc2\xb1", "\\ensuremath{\\pm}"},      /* ± */
    {"\xe2\x89\xa5", "\\ensuremath{\\geq}"}, /* ≥ */
    {"\xe2\x89\xa4", "\\ensuremath{\\leq}"}, /* ≤ */
    {"\xe2\x89\x88", "\\ensuremath{\\approx}"}, /* ≈ */
    {"\xce\xbc", "\\ensuremath{\\mu}"},      /* μ */
    {"\xc2\xb5", "\\ensuremath{\\mu}"},      /* µ */
    {"\xc2\xb2", "\\textsuperscript{2}"},    /* ² */
    {"\xc2\xb3", "\\textsuperscript{3}"},    /* ³ */
    {"\xe2\x86\x92", "\\ensuremath{\\rightarrow}"}, /* → */
    {"\xe2\x80\xa6", "\\ldots{}"},           /* … */
    {"\xe2\x80\x98", "`"}, {"\xe2\x80\x99", "'"}, {"\xe2\x80\x9c", "``"}, {"\xe2\x80\x9d", "''"},
    {"\xc2\xa0", "~"},                        /* no-break space */
    {"\xe2\x9c\x93", "\\ensuremath{\\checkmark}"},
};

void pw_escape_latex(pw_buf *b, const char *s)
{
    while (*s) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80) {
            size_t i, n = sizeof latex_unicode / sizeof latex_unicode[0];
            for (i = 0; i < n; i++) {
                size_t len = strlen(latex_unicode[i].utf8);
                if (strncmp(s, latex_unicode[i].utf8, len) == 0) {
                    pw_buf_puts(b, latex_unicode[i].latex);
                    s += len;
                    break;
                }
            }
            if (i == n) pw_buf_putc(b, *s++); /* left to inputenc */
            continue;
        }
        switch (c) {
        case '#': case '$': case '%': case '&': case '_': case '{': case '}':
            pw_buf_putc(b, '\\');
            pw_buf_putc(b, (char)c);
            break;
        case '\\': pw_buf_puts(b, "\\textbackslash{}"); break;
        case '^': pw_buf_puts(b, "\\textasciicircum{}"); break;
        case '~': pw_buf_puts(b, "\\textasciitilde{}"); break;
        case '<': pw_buf_puts(b, "\\textless{}"); break;
        case '>': pw_buf_puts(b, "\\textgreater{}"); break;
        case '|': pw_buf_puts(b, "\\textbar{}"); break;
        case '\n': case '\t': pw_buf_putc(b, ' '); break;
        default:
            if (c >= 0x20 && c != 0x7f) pw_buf_putc(b, (char)c);
        }
        s++;
    }
}

void pw_escape_gnuplot(pw_buf *b, const char *s)
{
    pw_buf_putc(b, '\'');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'') pw_buf_puts(b, "''");
        else if (c < 0x20 || c == 0x7f) pw_buf_putc(b, ' ');
        else pw_buf_putc(b, (char)c);
    }
    pw_buf_putc(b, '\'');
}
