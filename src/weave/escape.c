/* escape.c — HTML, LaTeX and gnuplot escaping (see escape.h). */
#include "perfweave/escape.h"

#include <stdbool.h>
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
    {"\xc2\xb7", "\\ensuremath{\\cdot}"},   /* · */
    {"\xe2\x80\xa0", "\\dag{}"},             /* † */
    {"\xe2\x88\x92", "\\ensuremath{-}"},     /* − */
    {"\xe2\x88\x9e", "\\ensuremath{\\infty}"},
    {"\xe2\x88\x9a", "\\ensuremath{\\surd}"},
    {"\xe2\x88\x91", "\\ensuremath{\\sum}"},
    {"\xe2\x86\x90", "\\ensuremath{\\leftarrow}"},
    {"\xe2\x89\xa0", "\\ensuremath{\\neq}"},
    {"\xe2\x80\xb2", "\\ensuremath{'}"},
    {"\xe2\x9a\xa0", "(!)"},
    {"\xe2\x80\x89", "\\,"}, {"\xe2\x80\xaf", "\\,"},
    {"\xce\xb1", "\\ensuremath{\\alpha}"}, {"\xce\xb2", "\\ensuremath{\\beta}"},
    {"\xce\xb3", "\\ensuremath{\\gamma}"}, {"\xce\xb4", "\\ensuremath{\\delta}"},
    {"\xce\xb5", "\\ensuremath{\\epsilon}"}, {"\xce\xb8", "\\ensuremath{\\theta}"},
    {"\xce\xbb", "\\ensuremath{\\lambda}"}, {"\xcf\x80", "\\ensuremath{\\pi}"},
    {"\xcf\x81", "\\ensuremath{\\rho}"}, {"\xcf\x83", "\\ensuremath{\\sigma}"},
    {"\xcf\x84", "\\ensuremath{\\tau}"}, {"\xcf\x86", "\\ensuremath{\\phi}"},
    {"\xcf\x87", "\\ensuremath{\\chi}"}, {"\xcf\x89", "\\ensuremath{\\omega}"},
    {"\xce\x94", "\\ensuremath{\\Delta}"}, {"\xce\xa3", "\\ensuremath{\\Sigma}"},
    {"\xce\xa9", "\\ensuremath{\\Omega}"},
};

/* Length of the UTF-8 sequence starting with byte c (1 for invalid lead bytes). */
static size_t utf8_len(unsigned char c)
{
    if (c >= 0xf0) return 4;
    if (c >= 0xe0) return 3;
    if (c >= 0xc0) return 2;
    return 1;
}

/* Writes the LaTeX form of the non-ASCII character at s and returns its byte length: a known
 * symbol, a Latin-1 letter as is (inputenc handles those), anything else as '?'. */
static size_t latex_non_ascii(pw_buf *b, const char *s)
{
    size_t n = sizeof latex_unicode / sizeof latex_unicode[0];
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(latex_unicode[i].utf8);
        if (strncmp(s, latex_unicode[i].utf8, len) == 0) {
            pw_buf_puts(b, latex_unicode[i].latex);
            return len;
        }
    }
    size_t len = utf8_len((unsigned char)s[0]);
    for (size_t i = 1; i < len; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80) len = i;
    unsigned char c0 = (unsigned char)s[0], c1 = (unsigned char)s[1];
    bool latin1 = len == 2 && (c0 == 0xc3 || (c0 == 0xc2 && c1 >= 0xa0));
    if (latin1) pw_buf_put(b, s, len);
    else pw_buf_putc(b, '?');
    return len;
}

void pw_latex_unicode(pw_buf *b, const char *s)
{
    while (*s) {
        if ((unsigned char)*s < 0x80) pw_buf_putc(b, *s++);
        else s += latex_non_ascii(b, s);
    }
}

void pw_escape_latex(pw_buf *b, const char *s)
{
    while (*s) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80) {
            s += latex_non_ascii(b, s);
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
