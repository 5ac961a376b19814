/* claims.c — parses a directive's `claim:` lines and decides their verdicts from the 95%
 * intervals of the matching metrics, with Holm correction across one call (see claims.h). */
#include "perfweave/claims.h"

#include <ctype.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/stats.h"

#define ALPHA 0.05
#define POWER 0.80
#define Z975 1.959963984540054 /* qnorm(0.975): turns a 95% half-width into a standard error */

/* --- parsing -------------------------------------------------------------------------------- */

typedef struct {
    const char *s, *p; /* whole text, cursor */
    char *msg;
    size_t msgsize;
} parser;

static void skip_space(parser *ps)
{
    while (isspace((unsigned char)*ps->p)) ps->p++;
}

static int fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *ps, const char *fmt, ...)
{
    if (ps->msg && ps->msgsize) {
        int k = snprintf(ps->msg, ps->msgsize, "claim: ");
        va_list ap;
        va_start(ap, fmt);
        if (k >= 0 && (size_t)k < ps->msgsize) vsnprintf(ps->msg + k, ps->msgsize - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return PW_EINVAL;
}

/* The text consumed so far, trimmed, for "after '…'" messages (static-size copy). */
static const char *consumed(const parser *ps, char *buf, size_t size)
{
    size_t n = (size_t)(ps->p - ps->s);
    while (n && isspace((unsigned char)ps->s[n - 1])) n--;
    const char *start = ps->s;
    while (n && isspace((unsigned char)*start)) start++, n--;
    if (n >= size) n = size - 1;
    memcpy(buf, start, n);
    buf[n] = '\0';
    return buf;
}

/* The next token for "unexpected '…'" messages. */
static const char *next_token(const parser *ps, char *buf, size_t size)
{
    size_t n = 0;
    while (ps->p[n] && !isspace((unsigned char)ps->p[n]) && n + 1 < size) n++;
    memcpy(buf, ps->p, n);
    buf[n] = '\0';
    return buf;
}

static int is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* A word of [A-Za-z0-9_], or with dots allowed, a metric name.  Returns its length. */
static size_t scan_word(const char *p, int dots)
{
    size_t n = 0;
    while (is_word_char(p[n]) || (dots && p[n] == '.' && n > 0 && is_word_char(p[n + 1]))) n++;
    return n;
}

static int parse_cmp(parser *ps, pw_cmp *out, int allow_in)
{
    skip_space(ps);
    const char *p = ps->p;
    if (p[0] == '>' && p[1] == '=') *out = PW_CMP_GE, ps->p += 2;
    else if (p[0] == '<' && p[1] == '=') *out = PW_CMP_LE, ps->p += 2;
    else if (p[0] == '=' && p[1] == '=') *out = PW_CMP_EQ, ps->p += 2;
    else if (p[0] == '>') *out = PW_CMP_GT, ps->p += 1;
    else if (p[0] == '<') *out = PW_CMP_LT, ps->p += 1;
    else if (allow_in && p[0] == 'i' && p[1] == 'n' && !is_word_char(p[2])) *out = PW_CMP_IN, ps->p += 2;
    else return 0;
    return 1;
}

static int parse_number(parser *ps, double *out, const char *what)
{
    skip_space(ps);
    char *end, tok[64], after[128];
    double v = strtod(ps->p, &end);
    if (end == ps->p || (*end && !isspace((unsigned char)*end) && *end != ',' && *end != ']'))
        return fail(ps, "expected a number %s after '%s', found '%s'", what,
                    consumed(ps, after, sizeof after),
                    *ps->p ? next_token(ps, tok, sizeof tok) : "end of line");
    if (!isfinite(v)) return fail(ps, "the %s must be a finite number", what);
    ps->p = end;
    *out = v;
    return PW_OK;
}

static int expect_char(parser *ps, char c, const char *what)
{
    skip_space(ps);
    if (*ps->p != c) {
        char tok[64], after[128];
        return fail(ps, "expected '%c' %s after '%s', found '%s'", c, what,
                    consumed(ps, after, sizeof after),
                    *ps->p ? next_token(ps, tok, sizeof tok) : "end of line");
    }
    ps->p++;
    return PW_OK;
}

/* target := func "(" word { "," word } ")" | metric-name; fills *target (new string). */
static int parse_target(parser *ps, char **target)
{
    skip_space(ps);
    size_t n = scan_word(ps->p, 1);
    char tok[64];
    if (n == 0)
        return fail(ps, "expected a metric or function such as speedup(a, b), found '%s'",
                    *ps->p ? next_token(ps, tok, sizeof tok) : "nothing");
    const char *name = ps->p;
    ps->p += n;
    const char *q = ps->p;
    while (isspace((unsigned char)*q)) q++;
    if (*q != '(') {
        *target = pw_xstrndup(name, n);
        return PW_OK;
    }
    if (memchr(name, '.', n))
        return fail(ps, "a function name cannot contain '.': '%.*s'", (int)n, name);
    ps->p = q + 1;
    pw_buf b;
    pw_buf_init(&b);
    int is_speedup = n == 7 && memcmp(name, "speedup", 7) == 0;
    pw_buf_put(&b, name, n);
    size_t nargs = 0;
    int rc = PW_OK;
    for (;;) {
        skip_space(ps);
        size_t w = scan_word(ps->p, 0);
        if (w == 0) {
            rc = fail(ps, "expected a variant name in %.*s(…), found '%s'", (int)n, name,
                      *ps->p ? next_token(ps, tok, sizeof tok) : "end of line");
            goto out;
        }
        if (is_speedup && nargs == 1) pw_buf_puts(&b, "_vs_");
        else pw_buf_putc(&b, '.');
        pw_buf_put(&b, ps->p, w);
        ps->p += w;
        nargs++;
        skip_space(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == ')') {
            ps->p++;
            break;
        }
        rc = fail(ps, "expected ',' or ')' in %.*s(…), found '%s'", (int)n, name,
                  *ps->p ? next_token(ps, tok, sizeof tok) : "end of line");
        goto out;
    }
    if (is_speedup && nargs != 2) {
        rc = fail(ps, "speedup takes two variants, speedup(fast, slow); found %zu", nargs);
        goto out;
    }
    *target = pw_buf_detach(&b);
out:
    pw_buf_release(&b);
    return rc;
}

int pw_claim_parse(const char *text, pw_claim *out, char *msg, size_t msgsize)
{
    parser ps = {text ? text : "", text ? text : "", msg, msgsize};
    pw_claim c;
    memset(&c, 0, sizeof c);
    char after[128], tok[64];
    int rc;
    if (msg && msgsize) msg[0] = '\0';
    skip_space(&ps);
    if (!*ps.p) return fail(&ps, "empty claim");
    if ((rc = parse_target(&ps, &c.target)) != PW_OK) goto fail;
    if (!parse_cmp(&ps, &c.cmp, 1)) {
        rc = fail(&ps, "expected a comparison (>=, >, <=, <, ==, in) after '%s'",
                  consumed(&ps, after, sizeof after));
        goto fail;
    }
    if (c.cmp == PW_CMP_IN) {
        if ((rc = expect_char(&ps, '[', "to open the range")) != PW_OK) goto fail;
        if ((rc = parse_number(&ps, &c.threshold, "(range start)")) != PW_OK) goto fail;
        if ((rc = expect_char(&ps, ',', "between the range's bounds")) != PW_OK) goto fail;
        if ((rc = parse_number(&ps, &c.threshold_hi, "(range end)")) != PW_OK) goto fail;
        if ((rc = expect_char(&ps, ']', "to close the range")) != PW_OK) goto fail;
        if (c.threshold > c.threshold_hi) {
            rc = fail(&ps, "the range [%g, %g] is empty (start above end)", c.threshold,
                      c.threshold_hi);
            goto fail;
        }
    } else {
        if ((rc = parse_number(&ps, &c.threshold, "(threshold)")) != PW_OK) goto fail;
        c.threshold_hi = c.threshold;
    }
    skip_space(&ps);
    if (strncmp(ps.p, "where", 5) == 0 && !is_word_char(ps.p[5])) {
        ps.p += 5;
        c.scoped = true;
        skip_space(&ps);
        size_t n = 0;
        while (isalpha((unsigned char)ps.p[n])) n++;
        if (n == 0 || is_word_char(ps.p[n])) {
            rc = fail(&ps, "expected a size variable (letters, e.g. n) after 'where', found '%s'",
                      *ps.p ? next_token(&ps, tok, sizeof tok) : "end of line");
            goto fail;
        }
        c.scope_var = pw_xstrndup(ps.p, n);
        ps.p += n;
        if (!parse_cmp(&ps, &c.scope_cmp, 0)) {
            rc = fail(&ps, "expected a comparison (>=, >, <=, <, ==) after '%s'",
                      consumed(&ps, after, sizeof after));
            goto fail;
        }
        if ((rc = parse_number(&ps, &c.scope_value, "(scope)")) != PW_OK) goto fail;
    }
    skip_space(&ps);
    if (*ps.p) {
        rc = fail(&ps, "unexpected '%s' after '%s'", next_token(&ps, tok, sizeof tok),
                  consumed(&ps, after, sizeof after));
        goto fail;
    }
    /* The text as written, trimmed. */
    const char *start = text;
    while (isspace((unsigned char)*start)) start++;
    size_t len = strlen(start);
    while (len && isspace((unsigned char)start[len - 1])) len--;
    c.text = pw_xstrndup(start, len);
    *out = c;
    return PW_OK;
fail:
    pw_claim_release(&c);
    return rc;
}

void pw_claim_release(pw_claim *c)
{
    if (!c) return;
    free(c->text);
    free(c->target);
    free(c->scope_var);
    free(c->label);
    c->text = c->target = c->scope_var = c->label = NULL;
}

/* --- verdict names --------------------------------------------------------------------------- */

static const char *const verdict_names[] = {"PASS", "PARTIAL", "FAIL", "UNDECIDED", "ERROR"};

const char *pw_verdict_name(pw_verdict v)
{
    return (unsigned)v < sizeof verdict_names / sizeof verdict_names[0] ? verdict_names[v] : "ERROR";
}

int pw_verdict_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof verdict_names / sizeof verdict_names[0]; i++)
        if (strcmp(name, verdict_names[i]) == 0) return (int)i;
    return -1;
}

const char *pw_claim_kind_name(pw_claim_kind k)
{
    static const char *const names[] = {"claim", "counterclaim", "condition"};
    return (unsigned)k < 3 ? names[k] : "claim";
}

static const char *const outcome_names[PW_OUTCOMES] = {"helped", "did not help", "mixed",
                                                        "undecided", "could not be measured"};

const char *pw_outcome_name(pw_outcome o)
{
    return (unsigned)o < PW_OUTCOMES ? outcome_names[o] : outcome_names[PW_OUTCOME_UNMEASURED];
}

int pw_outcome_parse(const char *name)
{
    for (int i = 0; name && i < PW_OUTCOMES; i++)
        if (strcmp(name, outcome_names[i]) == 0) return i;
    return -1;
}

pw_outcome pw_claim_outcome(pw_claim_kind k, pw_verdict v)
{
    bool counter = k == PW_CLAIM_COUNTERCLAIM;
    switch (v) {
    case PW_VERDICT_PASS: return counter ? PW_OUTCOME_NOT_HELPED : PW_OUTCOME_HELPED;
    case PW_VERDICT_FAIL: return counter ? PW_OUTCOME_HELPED : PW_OUTCOME_NOT_HELPED;
    case PW_VERDICT_PARTIAL:
    case PW_VERDICT_UNDECIDED: return PW_OUTCOME_UNDECIDED;
    case PW_VERDICT_ERROR: break;
    }
    return PW_OUTCOME_UNMEASURED;
}

pw_outcome pw_claim_outcome_of(pw_claim_kind k, pw_verdict v, size_t holds, size_t fails)
{
    if (v == PW_VERDICT_PARTIAL && holds > 0 && fails > 0) return PW_OUTCOME_MIXED;
    return pw_claim_outcome(k, v);
}

pw_verdict pw_verdict_aggregate(const pw_verdict *v, size_t n)
{
    if (n == 0) return PW_VERDICT_UNDECIDED;
    size_t count[5] = {0};
    for (size_t i = 0; i < n; i++) count[(unsigned)v[i] < 5 ? v[i] : PW_VERDICT_ERROR]++;
    if (count[PW_VERDICT_ERROR]) return PW_VERDICT_ERROR;
    if (count[PW_VERDICT_PASS] == n) return PW_VERDICT_PASS;
    if (count[PW_VERDICT_FAIL] == n) return PW_VERDICT_FAIL;
    if (count[PW_VERDICT_UNDECIDED] == n) return PW_VERDICT_UNDECIDED;
    return PW_VERDICT_PARTIAL;
}

/* --- evaluation ------------------------------------------------------------------------------ */

typedef enum { HOLDS, FAILS, UNDECIDED } state;
static const char *const state_names[] = {"holds", "fails", "undecided"};

typedef struct {
    size_t claim;
    pw_metric m;
    state st;       /* from the interval alone (UNDECIDED when blocked) */
    double p;       /* one-sided p in the direction the interval points */
    double p_holm;
    const char *why;    /* NULL, or the code of the reason this point may not decide (result.h) */
    const char *reason; /* the sentence that goes with why; borrowed from the result */
} point;

static int cmp_holds(pw_cmp c, double v, double t)
{
    switch (c) {
    case PW_CMP_GE: return v >= t;
    case PW_CMP_GT: return v > t;
    case PW_CMP_LE: return v <= t;
    case PW_CMP_LT: return v < t;
    case PW_CMP_EQ: return v == t;
    case PW_CMP_IN: return 0;
    }
    return 0;
}

/* Splits a final component "<letters><number>" (e.g. "n1024"); returns 0 when it is not one. */
static int split_size(const char *comp, char *letters, size_t size, double *number)
{
    size_t n = 0;
    while (isalpha((unsigned char)comp[n])) n++;
    if (n == 0 || n >= size || !isdigit((unsigned char)comp[n])) return 0;
    char *end;
    double v = strtod(comp + n, &end);
    if (*end || !isfinite(v)) return 0;
    memcpy(letters, comp, n);
    letters[n] = '\0';
    *number = v;
    return 1;
}

/* Whether metric name belongs to claim c (by the family rule and the scope). */
static int matches(const pw_claim *c, const char *name)
{
    size_t tl = strlen(c->target);
    if (strncmp(name, c->target, tl) != 0) return 0;
    const char *comp;
    if (name[tl] == '\0') {
        if (!c->scoped) return 1;
        /* A full metric name with a scope: the scope applies to its own final component. */
        comp = strrchr(name, '.');
        if (!comp) return 0;
        comp++;
    } else {
        if (name[tl] != '.' || strchr(name + tl + 1, '.')) return 0;
        comp = name + tl + 1;
    }
    char letters[32];
    double num;
    if (!split_size(comp, letters, sizeof letters, &num)) return 0;
    if (!c->scoped) return 1;
    return strcmp(letters, c->scope_var) == 0 && cmp_holds(c->scope_cmp, num, c->scope_value);
}

/* State of one interval [lo, hi] against the claim. */
static state interval_state(const pw_claim *c, double lo, double hi)
{
    double t = c->threshold, u = c->threshold_hi;
    switch (c->cmp) {
    case PW_CMP_GE: return lo >= t ? HOLDS : hi < t ? FAILS : UNDECIDED;
    case PW_CMP_GT: return lo > t ? HOLDS : hi <= t ? FAILS : UNDECIDED;
    case PW_CMP_LE: return hi <= t ? HOLDS : lo > t ? FAILS : UNDECIDED;
    case PW_CMP_LT: return hi < t ? HOLDS : lo >= t ? FAILS : UNDECIDED;
    /* Equality can only be shown by an exact metric; a noisy one is at best undecided (use
     * `in [a, b]` to claim equivalence within a margin). */
    case PW_CMP_EQ: return (lo == t && hi == t) ? HOLDS : (hi < t || lo > t) ? FAILS : UNDECIDED;
    case PW_CMP_IN: return (lo >= t && hi <= u) ? HOLDS : (hi < t || lo > u) ? FAILS : UNDECIDED;
    }
    return UNDECIDED;
}

/* Ratios (unit "×", or speedup/ratio families) are judged on log scale, where their bootstrap
 * intervals are close to symmetric. */
static int use_log(const pw_claim *c, const pw_metric *m)
{
    int ratio = strcmp(m->unit, "×") == 0 || strcmp(m->unit, "x") == 0 ||
                strncmp(c->target, "speedup.", 8) == 0 || strncmp(c->target, "ratio.", 6) == 0;
    return ratio && m->lo > 0 && c->threshold > 0 && c->threshold_hi > 0;
}

/* P(true value on the far side of b) under a normal approximation centred on v with standard
 * error se: "upper" asks P(value > b) is small, i.e. evidence that value <= b. */
static double p_below(double v, double se, double b)
{
    /* one-sided p of H0: value >= b (evidence for value < b) */
    if (se <= 0) return v < b ? 0 : 1;
    return gsl_cdf_ugaussian_P((v - b) / se);
}

static double p_above(double v, double se, double b)
{
    /* one-sided p of H0: value <= b (evidence for value > b) */
    if (se <= 0) return v > b ? 0 : 1;
    return gsl_cdf_ugaussian_Q((v - b) / se);
}

static double max2(double a, double b) { return a > b ? a : b; }
static double min2(double a, double b) { return a < b ? a : b; }

/* One-sided p-value of the point in the direction its interval indicates (for an undecided
 * point, the smaller of the two directions, which cannot decide it anyway). */
static double point_p(const pw_claim *c, const pw_metric *m, state st)
{
    /* An exact value (a count, a byte size, a rank correlation) has no sampling error: its state
     * is certain, including a value sitting exactly on a >= or <= threshold. */
    if (m->lo == m->hi) return st == UNDECIDED ? 1 : 0;
    int lg = use_log(c, m);
    double v = lg ? log(m->value) : m->value;
    double lo = lg ? log(m->lo) : m->lo, hi = lg ? log(m->hi) : m->hi;
    double t = lg ? log(c->threshold) : c->threshold;
    double u = lg ? log(c->threshold_hi) : c->threshold_hi;
    double se = (hi - lo) / (2 * Z975);
    double p_hold, p_fail;
    switch (c->cmp) {
    case PW_CMP_GE:
    case PW_CMP_GT:
        p_hold = p_above(v, se, t);
        p_fail = p_below(v, se, t);
        break;
    case PW_CMP_LE:
    case PW_CMP_LT:
        p_hold = p_below(v, se, t);
        p_fail = p_above(v, se, t);
        break;
    case PW_CMP_EQ:
        p_hold = (se == 0 && v == t) ? 0 : 1;
        p_fail = min2(p_below(v, se, t), p_above(v, se, t));
        break;
    case PW_CMP_IN:
    default:
        /* inside: both one-sided tests must reject (intersection–union) */
        p_hold = max2(p_above(v, se, t), p_below(v, se, u));
        p_fail = min2(p_below(v, se, t), p_above(v, se, u));
        break;
    }
    if (st == HOLDS) return p_hold;
    if (st == FAILS) return p_fail;
    return min2(p_hold, p_fail);
}

/* Distance from the value to the threshold the claim turns on (the nearer bound for ranges). */
static double gap(const pw_claim *c, double v)
{
    if (c->cmp == PW_CMP_IN) return min2(fabs(v - c->threshold), fabs(v - c->threshold_hi));
    return fabs(v - c->threshold);
}

static const char *cmp_text(pw_cmp c)
{
    static const char *const t[] = {">=", ">", "<=", "<", "==", "in"};
    return (unsigned)c < 6 ? t[c] : "?";
}

/* "… (did you mean 'x'?)" for a claim that matched nothing: the closest metric family. */
static char *no_match_reason(const pw_claim *c, const pw_result *r)
{
    size_t n = pw_result_metric_count(r);
    const char **fam = pw_xcalloc(n ? n : 1, sizeof *fam);
    char **own = pw_xcalloc(n ? n : 1, sizeof *own);
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        pw_metric m;
        memset(&m, 0, sizeof m);
        pw_result_metric_at(r, i, &m);
        if (!m.name) continue;
        const char *dot = strrchr(m.name, '.');
        char letters[32];
        double num;
        own[nf] = (dot && split_size(dot + 1, letters, sizeof letters, &num))
                      ? pw_xstrndup(m.name, (size_t)(dot - m.name)) : pw_xstrdup(m.name);
        fam[nf] = own[nf];
        nf++;
    }
    const char *best = nf ? pw_suggest(c->target, fam, nf) : NULL;
    char *s;
    if (c->scoped)
        s = pw_xasprintf("no metric matches '%s' where %s %s %g%s%s%s", c->target, c->scope_var,
                         cmp_text(c->scope_cmp), c->scope_value, best ? " (did you mean '" : "",
                         best ? best : "", best ? "'?)" : "");
    else
        s = pw_xasprintf("no metric matches '%s'%s%s%s", c->target, best ? " (did you mean '" : "",
                         best ? best : "", best ? "'?)" : "");
    for (size_t i = 0; i < nf; i++) free(own[i]);
    free(own);
    free(fam);
    return s;
}

/* Points in a stable order whatever order the metrics were stored in (a result read back from
 * the cache has its keys sorted): by claim, then name up to the final component, then that
 * component's letters and its number as a number (n64 before n128). */
static int point_order(const void *a, const void *b)
{
    const point *x = a, *y = b;
    if (x->claim != y->claim) return x->claim < y->claim ? -1 : 1;
    const char *dx = strrchr(x->m.name, '.'), *dy = strrchr(y->m.name, '.');
    size_t lx = dx ? (size_t)(dx - x->m.name) : strlen(x->m.name);
    size_t ly = dy ? (size_t)(dy - y->m.name) : strlen(y->m.name);
    int c = strncmp(x->m.name, y->m.name, lx < ly ? lx : ly);
    if (c != 0 || lx != ly) return c != 0 ? c : (lx < ly ? -1 : 1);
    char la[32], lb[32];
    double na, nb;
    if (dx && dy && split_size(dx + 1, la, sizeof la, &na) && split_size(dy + 1, lb, sizeof lb, &nb)) {
        c = strcmp(la, lb);
        if (c != 0) return c;
        if (na != nb) return na < nb ? -1 : 1;
        return 0;
    }
    return strcmp(x->m.name, y->m.name);
}

/* The verdict of claim c and, unless it is a condition, its outcome for the optimization, from
 * the counts of its points that hold and fail. */
static void set_verdict_of(json_t *obj, const pw_claim *c, pw_verdict v, size_t holds, size_t fails)
{
    json_object_set_new(obj, "verdict", json_string(pw_verdict_name(v)));
    if (c->kind != PW_CLAIM_CONDITION)
        json_object_set_new(obj, "outcome", json_string(pw_outcome_name(
                                                pw_claim_outcome_of(c->kind, v, holds, fails))));
}

static void set_verdict(json_t *obj, const pw_claim *c, pw_verdict v)
{
    set_verdict_of(obj, c, v, 0, 0);
}

json_t *pw_claim_undecided(const pw_claim *c, const char *reason)
{
    json_t *obj = json_object();
    json_object_set_new(obj, "claim", json_string(c->text ? c->text : ""));
    json_object_set_new(obj, "kind", json_string(pw_claim_kind_name(c->kind)));
    if (c->label) json_object_set_new(obj, "label", json_string(c->label));
    set_verdict(obj, c, PW_VERDICT_UNDECIDED);
    json_object_set_new(obj, "reason", json_string(reason ? reason : "nothing to decide from yet"));
    json_object_set_new(obj, "points", json_array());
    return obj;
}

json_t *pw_claims_evaluate(const pw_claim *claims, const pw_result *const *results, size_t m)
{
    json_t *out = json_array();
    point *pts = NULL;
    size_t npts = 0, cap = 0;
    char **errors = pw_xcalloc(m ? m : 1, sizeof *errors);

    /* 1. collect the points of every claim */
    for (size_t i = 0; i < m; i++) {
        const pw_result *r = results ? results[i] : NULL;
        if (!r) {
            errors[i] = pw_xstrdup("no result for this claim");
            continue;
        }
        if (pw_result_failed(r)) {
            errors[i] = pw_xasprintf("the experiment failed: %s", pw_result_error_reason(r));
            continue;
        }
        size_t before = npts, nm = pw_result_metric_count(r);
        for (size_t k = 0; k < nm; k++) {
            pw_metric met;
            if (pw_result_metric_at(r, k, &met) != PW_OK) continue;
            if (!matches(&claims[i], met.name)) continue;
            if (!isfinite(met.lo) || !isfinite(met.hi)) continue;
            if (npts == cap) {
                cap = cap ? 2 * cap : 16;
                pts = pw_xrealloc(pts, cap * sizeof *pts);
            }
            point *p = &pts[npts++];
            p->claim = i;
            p->m = met;
            /* A disturbed measurement, or a metric marked undecidable, shows its interval but
             * decides nothing; such points stay out of the Holm family below.  Contention
             * distorts what was timed, not what was counted: an exact value (a count, a size, a
             * FLOP formula: lo == hi) of a disturbed result still decides. */
            p->reason = met.lo != met.hi ? pw_result_disturbed(r) : NULL;
            p->why = p->reason ? "disturbed" : met.undecidable_why;
            if (!p->reason) p->reason = met.undecidable_reason;
            p->st = p->why ? UNDECIDED : interval_state(&claims[i], met.lo, met.hi);
            p->p = p->why ? 1 : point_p(&claims[i], &met, p->st);
            p->p_holm = p->p;
        }
        if (npts == before) errors[i] = no_match_reason(&claims[i], r);
    }

    if (npts > 1) qsort(pts, npts, sizeof *pts, point_order);

    /* 2. Holm across every decidable point of every claim in this call */
    size_t nfamily = 0;
    for (size_t k = 0; k < npts; k++) nfamily += pts[k].why == NULL;
    if (nfamily) {
        double *p = pw_xmalloc(nfamily * sizeof *p), *adj = pw_xmalloc(nfamily * sizeof *adj);
        for (size_t k = 0, j = 0; k < npts; k++)
            if (!pts[k].why) p[j++] = pts[k].p;
        if (pw_stats_holm(p, nfamily, adj) == PW_OK)
            for (size_t k = 0, j = 0; k < npts; k++)
                if (!pts[k].why) pts[k].p_holm = adj[j++];
        free(adj);
        free(p);
    }

    /* 3. per claim: final point states and the verdict */
    for (size_t i = 0; i < m; i++) {
        const pw_claim *c = &claims[i];
        json_t *obj = json_object(), *jp = json_array();
        json_object_set_new(obj, "claim", json_string(c->text ? c->text : ""));
        json_object_set_new(obj, "kind", json_string(pw_claim_kind_name(c->kind)));
        if (c->label) json_object_set_new(obj, "label", json_string(c->label));
        if (errors[i]) {
            set_verdict(obj, c, PW_VERDICT_ERROR);
            json_object_set_new(obj, "reason", json_string(errors[i]));
            json_object_set_new(obj, "points", jp);
            json_array_append_new(out, obj);
            continue;
        }
        size_t count[3] = {0}, total = 0, demoted = 0, blocked = 0;
        const char *first_reason = NULL;
        for (size_t k = 0; k < npts; k++) {
            if (pts[k].claim != i) continue;
            const point *pt = &pts[k];
            state st = pt->st;
            const char *why = pt->why;
            if (why) {
                blocked++;
                if (!first_reason) first_reason = pt->reason;
            } else if (st != UNDECIDED && !(pt->p_holm < ALPHA)) {
                st = UNDECIDED; /* the interval alone said so, but not after correction */
                why = "holm";
                demoted++;
            } else if (st == UNDECIDED) {
                why = "interval";
            }
            count[st]++;
            total++;
            json_t *o = json_pack("{s:s, s:f, s:f, s:f, s:s, s:s, s:f, s:f}", "metric",
                                  pt->m.name, "value", pt->m.value, "lo", pt->m.lo, "hi",
                                  pt->m.hi, "unit", pt->m.unit, "state", state_names[st], "p",
                                  pt->p, "p_holm", pt->p_holm);
            if (st == UNDECIDED) json_object_set_new(o, "why", json_string(why));
            if (pt->why) json_object_set_new(o, "reason", json_string(pt->reason ? pt->reason : pt->why));
            if (!pt->why && pt->m.n >= 2) {
                if (isfinite(pt->m.cv)) {
                    double mde = pw_stats_mde(pt->m.cv, (size_t)pt->m.n, ALPHA, POWER);
                    if (isfinite(mde)) json_object_set_new(o, "mde", json_real(mde));
                }
                double g = gap(c, pt->m.value);
                if (st == UNDECIDED && g > 0 && !pt->m.fixed_sample) {
                    double ratio = (pt->m.hi - pt->m.lo) / 2 / g;
                    double need = ceil(pt->m.n * ratio * ratio);
                    /* An estimate within a tenth of its half-width of the threshold would need
                     * over a hundred times the samples: no practical count decides it, and the
                     * extrapolation would be a fiction, so it is said instead of computed. */
                    if (ratio > 10) json_object_set_new(o, "on_threshold", json_true());
                    else if (isfinite(need)) json_object_set_new(o, "samples_needed", json_real(need));
                }
            }
            /* Why more samples cannot decide it (a fixed test set, a fit's residuals). */
            if (st == UNDECIDED && !pt->why && pt->m.fixed_sample)
                json_object_set_new(o, "fixed_sample", json_string(pt->m.fixed_sample));
            json_array_append_new(jp, o);
        }
        pw_verdict v;
        if (count[HOLDS] == total) v = PW_VERDICT_PASS;
        else if (count[FAILS] == total) v = PW_VERDICT_FAIL;
        else if (count[UNDECIDED] == total) v = PW_VERDICT_UNDECIDED;
        else v = PW_VERDICT_PARTIAL;
        set_verdict_of(obj, c, v, count[HOLDS], count[FAILS]);
        if (blocked && v != PW_VERDICT_PASS && v != PW_VERDICT_FAIL) {
            char *why = blocked == total
                ? pw_xasprintf("no point can decide the claim: %s", first_reason ? first_reason : "not decidable")
                : pw_xasprintf("%zu of %zu point%s cannot decide the claim: %s", blocked, total,
                               total == 1 ? "" : "s", first_reason ? first_reason : "not decidable");
            json_object_set_new(obj, "reason", json_string(why));
            free(why);
        } else if (v == PW_VERDICT_UNDECIDED) {
            char *why = demoted
                ? pw_xasprintf("%zu of %zu point%s straddle the threshold; %zu more lose "
                               "significance after Holm correction across %zu points",
                               total - demoted, total, total == 1 ? "" : "s", demoted, npts)
                : pw_xasprintf("every point's 95%% interval straddles the threshold (%zu point%s)",
                               total, total == 1 ? "" : "s");
            json_object_set_new(obj, "reason", json_string(why));
            free(why);
        }
        json_object_set_new(obj, "points", jp);
        json_array_append_new(out, obj);
    }

    for (size_t i = 0; i < m; i++) free(errors[i]);
    free(errors);
    free(pts);
    return out;
}
