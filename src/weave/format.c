/* format.c — measured values as text: significant digits, units, 95% intervals. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "perfweave/weave.h"

/* A whole number with its digits grouped by thousands: 133,632,000. */
static void group_digits(pw_buf *b, double v)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", fabs(v));
    if (v < 0) pw_buf_puts(b, "−");
    size_t len = strlen(digits);
    for (size_t i = 0; i < len; i++) {
        pw_buf_putc(b, digits[i]);
        if ((len - 1 - i) % 3 == 0 && i + 1 < len) pw_buf_putc(b, ',');
    }
}

void pw_format_number(pw_buf *b, double v, int sig)
{
    if (!isfinite(v)) {
        pw_buf_puts(b, isnan(v) ? "n/a" : (v > 0 ? "∞" : "−∞"));
        return;
    }
    double a = fabs(v);
    if (a == 0) {
        pw_buf_puts(b, "0");
        return;
    }
    if (a >= 1e-3 && a < 1e7) {
        int mag = (int)floor(log10(a));
        int decimals = sig - 1 - mag;
        if (decimals < 0) decimals = 0;
        /* Large values get digits grouped for reading: 1,048,576. */
        if (decimals == 0 && a >= 10000 && v == floor(v)) {
            group_digits(b, v);
            return;
        }
        if (v < 0) pw_buf_puts(b, "−");
        pw_buf_printf(b, "%.*f", decimals, fabs(v));
        return;
    }
    /* Very small or large magnitudes in exponent form, with the same minus sign as the rest. */
    if (v < 0) pw_buf_puts(b, "−");
    pw_buf_printf(b, "%.*g", sig, fabs(v));
}

/* Units written without a space after the number. */
static bool unit_is_suffix(const char *unit)
{
    return strcmp(unit, "×") == 0 || strcmp(unit, "%") == 0 || strcmp(unit, "x") == 0;
}

static void put_unit(pw_buf *b, const char *unit)
{
    if (!unit || !*unit) return;
    if (strcmp(unit, "x") == 0) unit = "×";
    if (!unit_is_suffix(unit)) pw_buf_putc(b, ' ');
    pw_buf_puts(b, unit);
}

/* Enough digits that value and interval bounds are told apart (3 to 6). */
static int digits_for(const pw_metric *m)
{
    int sig = 3;
    if (m->lo == m->hi) return 4;
    for (; sig < 6; sig++) {
        pw_buf a, v, h;
        pw_buf_init(&a);
        pw_buf_init(&v);
        pw_buf_init(&h);
        pw_format_number(&a, m->lo, sig);
        pw_format_number(&v, m->value, sig);
        pw_format_number(&h, m->hi, sig);
        /* A bound equal to the value (an interval touching 100%, say) needs no more digits. */
        bool distinct = (m->lo == m->value || strcmp(a.data, v.data) != 0) &&
                        (m->hi == m->value || strcmp(v.data, h.data) != 0);
        pw_buf_release(&a);
        pw_buf_release(&v);
        pw_buf_release(&h);
        if (distinct) break;
    }
    return sig;
}

/* A whole number small enough to print exactly. */
static bool is_whole(double v)
{
    return v == floor(v) && fabs(v) < 1e15;
}

static bool unit_is_suffix(const char *unit);

/* Value and bounds all whole numbers, in a unit that is not a ratio: a count, or a position on
 * a grid of whole numbers (the first length at which something holds, with the lengths its
 * interval allows), written without decimals ("2 tokens (95% CI 1–2)", not "2.00 tokens").
 * A ratio (× or %) keeps its significant digits even when it happens to be whole. */
static bool whole_numbers(const pw_metric *m)
{
    if (m->unit && unit_is_suffix(m->unit) && m->lo != m->hi) return false;
    return is_whole(m->value) && is_whole(m->lo) && is_whole(m->hi);
}

static void put_whole(pw_buf *b, double v)
{
    if (fabs(v) >= 10000) group_digits(b, v);
    else if (v < 0) pw_buf_printf(b, "−%.0f", -v);
    else pw_buf_printf(b, "%.0f", v);
}

void pw_format_value(pw_buf *b, const pw_metric *m)
{
    /* Exact whole numbers (counts, bytes) are printed in full. */
    if (whole_numbers(m)) {
        put_whole(b, m->value);
        put_unit(b, m->unit);
        return;
    }
    pw_format_number(b, m->value, digits_for(m));
    put_unit(b, m->unit);
}

void pw_format_interval(pw_buf *b, const pw_metric *m)
{
    if (whole_numbers(m)) {
        put_whole(b, m->lo);
        pw_buf_puts(b, m->lo < 0 ? " to " : "–");
        put_whole(b, m->hi);
        return;
    }
    int sig = digits_for(m);
    pw_format_number(b, m->lo, sig);
    /* "−0.013 to −0.005" reads better than a dash between two minus signs. */
    pw_buf_puts(b, m->lo < 0 ? " to " : "–");
    pw_format_number(b, m->hi, sig);
}

void pw_format_metric(pw_buf *b, const pw_metric *m)
{
    pw_format_value(b, m);
    if (m->lo == m->hi) return;
    pw_buf_puts(b, " (95% CI ");
    pw_format_interval(b, m);
    if (m->unit && unit_is_suffix(m->unit)) put_unit(b, m->unit);
    pw_buf_putc(b, ')');
}
