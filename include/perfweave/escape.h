/* escape.h — escaping text for each output at the point of use: HTML, LaTeX and gnuplot
 * string literals.  Each appends the escaped form of s to b. */
#ifndef PERFWEAVE_ESCAPE_H
#define PERFWEAVE_ESCAPE_H

#include "perfweave/common.h"

/* &, <, >, " and ' become entities; everything else is copied (UTF-8 passes through). */
void pw_escape_html(pw_buf *b, const char *s);

/* LaTeX text mode: # $ % & _ { } get a backslash, \ ^ ~ become \textbackslash{},
 * \textasciicircum{}, \textasciitilde{}; < > | become math-free text commands; the Unicode
 * characters perfweave itself emits (×, –, —, ±, ≥, ≤, μ, ², …) become LaTeX equivalents.
 * Control characters are dropped. */
void pw_escape_latex(pw_buf *b, const char *s);

/* Copies LaTeX text (e.g. cmark's LaTeX output) with its non-ASCII characters made safe for
 * pdflatex: known symbols and Greek letters become commands, Latin-1 letters stay (inputenc),
 * anything else becomes '?'.  pw_escape_latex applies the same mapping. */
void pw_latex_unicode(pw_buf *b, const char *s);

/* A complete gnuplot single-quoted string literal (quotes included).  In single quotes gnuplot
 * performs no backslash processing and no backquote or macro substitution; a quote is doubled.
 * Newlines and other control characters (which would end the command) become spaces.  Use
 * with `noenhanced` text so ^ _ @ { } are not interpreted either. */
void pw_escape_gnuplot(pw_buf *b, const char *s);

#endif
