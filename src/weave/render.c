/* render.c — what the report shows, decided once for every output format, and the walks that
 * hand it to a format's callbacks (see render.h).  No markup lives here: the formats are
 * format_html.c, format_latex.c and format_text.c. */
#include "perfweave/render.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/exec.h"

/* --- the registry -------------------------------------------------------------------------- */

const pw_renderer *const pw_renderers[] = {&pw_render_html, &pw_render_latex, &pw_render_text, NULL};

const pw_renderer *pw_render_find(const char *name)
{
    for (size_t i = 0; pw_renderers[i]; i++)
        if (strcmp(pw_renderers[i]->name, name) == 0) return pw_renderers[i];
    return NULL;
}

/* --- verdicts ------------------------------------------------------------------------------ */

const char *const pw_render_verdicts[5] = {"PASS", "PARTIAL", "FAIL", "UNDECIDED", "ERROR"};

const char *pw_render_verdict_kind(const char *v)
{
    if (!v) return "error";
    if (strcmp(v, "PASS") == 0) return "pass";
    if (strcmp(v, "PARTIAL") == 0) return "partial";
    if (strcmp(v, "FAIL") == 0) return "fail";
    if (strcmp(v, "UNDECIDED") == 0) return "undecided";
    return "error";
}

static int verdict_index(const char *v)
{
    for (int i = 0; i < 5; i++)
        if (v && strcmp(v, pw_render_verdicts[i]) == 0) return i;
    return 4;
}

const char *pw_render_outcome_kind(pw_outcome o)
{
    static const char *const kinds[PW_OUTCOMES] = {"helped", "not-helped", "mixed", "undecided",
                                                   "unmeasured"};
    return (unsigned)o < PW_OUTCOMES ? kinds[o] : "unmeasured";
}

pw_outcome pw_render_outcome(const json_t *v)
{
    int o = pw_outcome_parse(json_string_value(json_object_get(v, "outcome")));
    if (o >= 0) return (pw_outcome)o;
    const char *kind = json_string_value(json_object_get(v, "kind"));
    int verdict = pw_verdict_parse(json_string_value(json_object_get(v, "verdict")));
    return pw_claim_outcome(kind && strcmp(kind, "counterclaim") == 0 ? PW_CLAIM_COUNTERCLAIM : PW_CLAIM_CLAIM,
                            verdict < 0 ? PW_VERDICT_ERROR : (pw_verdict)verdict);
}

/* --- what a directive shows ---------------------------------------------------------------- */

static bool isalnum_ascii(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

char *pw_render_chart_stem(const char *id, const char *chart_name)
{
    pw_buf b;
    pw_buf_init(&b);
    pw_buf_printf(&b, "%s-", id);
    for (const char *s = chart_name; *s; s++)
        pw_buf_putc(&b, (isalnum_ascii(*s) || *s == '-' || *s == '_') ? *s : '_');
    return pw_buf_detach(&b);
}

static bool listed(char *const *names, size_t n, const char *name)
{
    if (!names) return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return true;
    return false;
}

bool pw_render_shows_chart(const pw_directive *d, const char *name)
{
    return listed(d->charts, d->ncharts, name);
}

bool pw_render_shows_table(const pw_directive *d, const char *name)
{
    return listed(d->tables, d->ntables, name);
}

void pw_render_run_line(pw_buf *b, const pw_directive *d)
{
    json_t *doc = pw_result_json(d->result);
    json_t *run = json_object_get(doc, "run");
    const char *when = json_string_value(json_object_get(run, "measured_at"));
    const char *host = json_string_value(json_object_get(run, "host"));
    pw_buf_printf(b, "%s", d->experiment_name);
    if (when) pw_buf_printf(b, ", measured %s", when);
    if (host) pw_buf_printf(b, " on %s", host);
    json_t *secs = json_object_get(run, "seconds");
    if (json_is_number(secs)) pw_buf_printf(b, " in %.1f s", json_number_value(secs));
    json_t *rss = json_object_get(run, "peak_rss_kib");
    if (json_is_integer(rss) && json_integer_value(rss) > 0)
        pw_buf_printf(b, ", peak RSS %.1f MiB", (double)json_integer_value(rss) / 1024.0);
    if (json_is_true(json_object_get(run, "quick"))) pw_buf_puts(b, ", quick mode");
    const char *source = json_string_value(json_object_get(run, "source"));
    const json_t *slurm = json_object_get(run, "slurm");
    const char *job = json_string_value(json_object_get(slurm, "job_id"));
    const char *part = json_string_value(json_object_get(slurm, "partition"));
    bool other = source && strcmp(source, "measured") != 0 && strcmp(source, "slurm") != 0;
    if (job) /* measured as a Slurm job, now or in the run it was cached from */
        pw_buf_printf(b, " (%s%sSlurm job %s%s%s)", other ? source : "", other ? ": " : "", job,
                      part ? ", partition " : "", part ? part : "");
    else if (source && strcmp(source, "measured") != 0)
        pw_buf_printf(b, " (%s)", source);
}

/* --- claims -------------------------------------------------------------------------------- */

/* The short label of what blocks a point (a code of result.h), for the evidence beside it. */
static const char *block_label(const char *why)
{
    static const struct { const char *why, *label; } labels[] = {
        {"baseline", "handicapped baseline"},
        {"too_few_samples", "too few samples"},
        {"disturbed", "disturbed measurement"},
        {"stale", "stale result"},
        {"extreme", "an observed extreme, not an estimate"},
        {"not_established", "not established by the measurements"},
        {"single_cpu", "one CPU only"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(why, labels[i].why) == 0) return labels[i].label;
    return why;
}

/* What would decide an undecided point, or what blocks it: " undecided, detectable effect 4.1%,
 * about 80 samples would decide" / "; more samples cannot decide it: …" / " undecided
 * (handicapped baseline)".  A blocked point's reason sentence joins reasons (once each). */
static void undecided_point(pw_buf *b, const json_t *p, json_t *reasons)
{
    const char *why = json_string_value(json_object_get(p, "why"));
    if (why && strcmp(why, "interval") != 0 && strcmp(why, "holm") != 0) {
        pw_buf_printf(b, " undecided (%s)", block_label(why));
        const char *reason = json_string_value(json_object_get(p, "reason"));
        if (!reason) return;
        size_t i;
        json_t *seen;
        json_array_foreach(reasons, i, seen)
            if (strcmp(json_string_value(seen), reason) == 0) return;
        json_array_append_new(reasons, json_string(reason));
        return;
    }
    pw_buf_puts(b, why && strcmp(why, "holm") == 0 ? " undecided after Holm correction" : " undecided");
    json_t *mde = json_object_get(p, "mde");
    if (json_is_number(mde)) pw_buf_printf(b, ", detectable effect %.1f%%", 100 * json_number_value(mde));
    const char *fixed = json_string_value(json_object_get(p, "fixed_sample"));
    json_t *need = json_object_get(p, "samples_needed");
    if (fixed) pw_buf_printf(b, "; more samples cannot decide it: %s", fixed);
    else if (json_is_number(need)) pw_buf_printf(b, ", about %.0f samples would decide", json_number_value(need));
    else if (json_is_true(json_object_get(p, "on_threshold")))
        pw_buf_puts(b, "; the estimate sits on the threshold, so no practical number of samples would decide it");
}

void pw_render_evidence(pw_buf *b, const json_t *v)
{
    json_t *points = json_object_get(v, "points");
    size_t holds = 0, fails = 0, undecided = 0, i;
    json_t *p;
    json_array_foreach(points, i, p) {
        const char *st = json_string_value(json_object_get(p, "state"));
        if (!st) continue;
        if (strcmp(st, "holds") == 0) holds++;
        else if (strcmp(st, "fails") == 0) fails++;
        else undecided++;
    }
    const char *reason = json_string_value(json_object_get(v, "reason"));
    if (json_array_size(points) == 0) {
        pw_buf_puts(b, reason ? reason : "no measurement matched the claim");
        return;
    }
    pw_buf_printf(b, "%zu of %zu point%s hold", holds, json_array_size(points),
                  json_array_size(points) == 1 ? "" : "s");
    if (fails) pw_buf_printf(b, ", %zu fail", fails);
    if (undecided) pw_buf_printf(b, ", %zu undecided", undecided);
    pw_buf_puts(b, ": ");
    json_t *reasons = json_array();
    json_array_foreach(points, i, p) {
        const char *st = json_string_value(json_object_get(p, "state"));
        bool open = st && strcmp(st, "undecided") == 0;
        if (i >= 6) {
            /* Points not shown still say what blocks them. */
            if (open) {
                pw_buf scratch;
                pw_buf_init(&scratch);
                undecided_point(&scratch, p, reasons);
                pw_buf_release(&scratch);
            }
            continue;
        }
        if (i) pw_buf_puts(b, "; ");
        pw_metric m = {0};
        m.name = json_string_value(json_object_get(p, "metric"));
        m.value = json_number_value(json_object_get(p, "value"));
        m.lo = json_number_value(json_object_get(p, "lo"));
        m.hi = json_number_value(json_object_get(p, "hi"));
        m.unit = json_string_value(json_object_get(p, "unit"));
        if (!m.unit) m.unit = "";
        const char *dotted = m.name ? strrchr(m.name, '.') : NULL;
        pw_buf_printf(b, "%s ", dotted ? dotted + 1 : (m.name ? m.name : "?"));
        pw_format_metric(b, &m);
        if (open) undecided_point(b, p, reasons);
    }
    if (json_array_size(points) > 6) pw_buf_printf(b, "; … (%zu more)", json_array_size(points) - 6);
    json_t *r;
    json_array_foreach(reasons, i, r) pw_buf_printf(b, "%s%s", i ? "; " : ". Blocked: ", json_string_value(r));
    json_decref(reasons);
}

/* A parameter value as a reader writes it: strings bare, lists in brackets. */
static void put_param(pw_buf *b, const json_t *v)
{
    if (json_is_string(v)) {
        pw_buf_puts(b, json_string_value(v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        pw_buf_putc(b, '[');
        json_array_foreach(v, i, e) {
            if (i) pw_buf_puts(b, ", ");
            put_param(b, e);
        }
        pw_buf_putc(b, ']');
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        pw_buf_puts(b, t ? t : "?");
        free(t);
    }
}

/* True when directive e writes a claim (or counterclaim) whose expression is text. */
static bool writes(const pw_directive *e, const char *text)
{
    for (size_t j = 0; j < e->nclaims; j++)
        if (e->claims[j].text && strcmp(e->claims[j].text, text) == 0) return true;
    return false;
}

/* The context of expression text in directive d when other directives of the report write it
 * too: "id: key value, …" over the parameters in which d differs from one of them (just the id
 * when it differs in none).  Nothing when the text is written once. */
static void claim_context(pw_buf *b, pw_chapter *const *chapters, size_t n, const pw_directive *d,
                          const char *text)
{
    bool shared = false;
    for (size_t c = 0; c < n && !shared; c++)
        for (size_t k = 0; k < chapters[c]->ndirectives && !shared; k++)
            shared = chapters[c]->directives[k] != d && writes(chapters[c]->directives[k], text);
    if (!shared) return;
    pw_buf_puts(b, d->id);
    const char *key;
    json_t *v;
    size_t shown = 0;
    json_object_foreach(d->params, key, v) {
        bool differs = false;
        for (size_t c = 0; c < n && !differs; c++)
            for (size_t k = 0; k < chapters[c]->ndirectives && !differs; k++) {
                const pw_directive *e = chapters[c]->directives[k];
                differs = e != d && writes(e, text) && !json_equal(v, json_object_get(e->params, key));
            }
        if (!differs) continue;
        pw_buf_puts(b, shown++ ? ", " : ": ");
        pw_buf_printf(b, "%s ", key);
        put_param(b, v);
    }
}

/* Hands every verdict object of d to fn as a claim of chapter ch (NULL: the experiment's own,
 * without context); all: the report's chapters, for the context; outcome < 0 for every claim. */
static void each_claim_of(const pw_chapter *ch, const pw_directive *d, pw_chapter *const *all, size_t nall,
                          int outcome, void (*fn)(void *ctx, const pw_render_claim *c), void *ctx)
{
    size_t i;
    json_t *v;
    pw_buf evidence, statement, context;
    pw_buf_init(&evidence);
    pw_buf_init(&statement);
    pw_buf_init(&context);
    json_array_foreach(d->verdicts, i, v) {
        pw_outcome o = pw_render_outcome(v);
        if (outcome >= 0 && (int)o != outcome) continue;
        const char *text = json_string_value(json_object_get(v, "claim"));
        const char *kind = json_string_value(json_object_get(v, "kind"));
        const char *label = json_string_value(json_object_get(v, "label"));
        pw_buf_reset(&evidence);
        pw_buf_reset(&statement);
        pw_buf_reset(&context);
        pw_render_evidence(&evidence, v);
        pw_buf_printf(&statement, "%s%s%s: %s", kind ? kind : "claim", label ? " " : "", label ? label : "",
                      text ? text : "");
        if (ch && text) claim_context(&context, all, nall, d, text);
        pw_render_claim c = {ch, d, text, statement.data, json_string_value(json_object_get(v, "verdict")), o,
                             context.len ? context.data : NULL, evidence.data};
        fn(ctx, &c);
    }
    pw_buf_release(&evidence);
    pw_buf_release(&statement);
    pw_buf_release(&context);
}

void pw_render_each_claim(pw_chapter *const *chapters, size_t n, int outcome,
                          void (*fn)(void *ctx, const pw_render_claim *c), void *ctx)
{
    for (size_t c = 0; c < n; c++)
        for (size_t k = 0; k < chapters[c]->ndirectives; k++)
            each_claim_of(chapters[c], chapters[c]->directives[k], chapters, n, outcome, fn, ctx);
}

/* Every claim of the report counted by verdict (pw_render_verdicts order) and by outcome; an
 * experiment in ERROR without claims counts as one ERROR that could not be measured.  Returns
 * the total. */
static size_t count_claims(pw_chapter *const *chapters, size_t n, size_t verdicts[5],
                           size_t outcomes[PW_OUTCOMES])
{
    size_t total = 0;
    for (int i = 0; i < 5; i++) verdicts[i] = 0;
    for (int i = 0; i < PW_OUTCOMES; i++) outcomes[i] = 0;
    for (size_t c = 0; c < n; c++)
        for (size_t k = 0; k < chapters[c]->ndirectives; k++) {
            const pw_directive *d = chapters[c]->directives[k];
            if (d->result && pw_result_failed(d->result) && d->nclaims == 0) {
                verdicts[4]++;
                outcomes[PW_OUTCOME_UNMEASURED]++;
                total++;
            }
            size_t i;
            json_t *v;
            json_array_foreach(d->verdicts, i, v) {
                verdicts[verdict_index(json_string_value(json_object_get(v, "verdict")))]++;
                outcomes[pw_render_outcome(v)]++;
                total++;
            }
        }
    return total;
}

size_t pw_render_count_verdicts(pw_chapter *const *chapters, size_t n, size_t counts[5])
{
    size_t outcomes[PW_OUTCOMES];
    return count_claims(chapters, n, counts, outcomes);
}

size_t pw_render_count_outcomes(pw_chapter *const *chapters, size_t n, size_t counts[PW_OUTCOMES])
{
    size_t verdicts[5];
    return count_claims(chapters, n, verdicts, counts);
}

/* --- the experiment box -------------------------------------------------------------------- */

void pw_render_table(pw_buf *b, const pw_renderer *R, pw_numbering *num, const json_t *table)
{
    R->table(b, table, ++num->table);
}

void pw_render_figure(pw_buf *b, const pw_renderer *R, pw_numbering *num, const json_t *chart,
                      const char *stem, const char *figdir, const char *figrel)
{
    R->figure(b, chart, stem, ++num->figure, figdir, figrel);
}

void pw_render_inline(pw_buf *b, const pw_renderer *R, const pw_metric *m, bool previous)
{
    pw_buf value, ci;
    pw_buf_init(&value);
    pw_buf_init(&ci);
    pw_format_value(&value, m);
    if (m->lo != m->hi) {
        pw_buf_puts(&ci, "95% CI ");
        pw_format_interval(&ci, m);
    }
    (previous ? R->previous : R->value)(b, m->name, value.data, ci.len ? ci.data : "", m->method);
    pw_buf_release(&value);
    pw_buf_release(&ci);
}

/* A claim list's callbacks as a pw_render_each_claim function. */
typedef struct {
    pw_buf *b;
    const pw_renderer *R;
    pw_claim_list kind;
    size_t count;                 /* claims shown */
} claim_list;

static void count_claim(void *ctx, const pw_render_claim *c)
{
    (void)c;
    ((claim_list *)ctx)->count++;
}

static void list_claim(void *ctx, const pw_render_claim *c)
{
    claim_list *l = ctx;
    l->count++;
    l->R->claim(l->b, l->kind, c);
}

static void render_items(pw_buf *b, const pw_renderer *R, pw_item_list kind, const json_t *items)
{
    if (json_array_size(items)) R->items(b, kind, items);
}

/* A result's warnings: a few as a list, many folded behind one line. */
enum { FOLD_WARNINGS_ABOVE = 3 };
static void render_warnings(pw_buf *b, const pw_renderer *R, const json_t *warnings)
{
    size_t n = json_array_size(warnings);
    if (n <= FOLD_WARNINGS_ABOVE) {
        render_items(b, R, PW_ITEMS_WARNINGS, warnings);
        return;
    }
    char *summary = pw_xasprintf("%zu warnings about this measurement", n);
    R->folded(b, PW_FOLD_WARNINGS, summary, warnings);
    free(summary);
}

/* What blocks the experiment's claims, shown right above them: the disturbed sentence and the
 * handicapped baselines. */
static void render_blockers(pw_buf *b, const pw_renderer *R, json_t *doc)
{
    const char *disturbed = json_string_value(json_object_get(doc, "disturbed"));
    if (disturbed) {
        json_t *one = json_pack("[s]", disturbed);
        R->items(b, PW_ITEMS_DISTURBED, one);
        json_decref(one);
    }
    render_items(b, R, PW_ITEMS_BASELINE, json_object_get(doc, "baseline_warnings"));
}

void pw_render_directive(pw_buf *b, const pw_renderer *R, pw_numbering *num, const pw_directive *d,
                         const char *figdir, const char *figrel)
{
    json_t *doc = d->result ? pw_result_json(d->result) : NULL;
    pw_buf info;
    pw_buf_init(&info);
    if (d->result) pw_render_run_line(&info, d);
    const char *reason = NULL;
    pw_exec_standin_kind standin = d->result ? pw_exec_standin(d->result, &reason, NULL) : PW_EXEC_FRESH;
    const char *kind = standin == PW_EXEC_STALE ? "stale" : standin == PW_EXEC_UNMEASURED ? "unmeasured" : NULL;
    if (kind && !reason) reason = standin == PW_EXEC_STALE ? "this is the previous result" : "not measured yet";
    R->experiment_open(b, d->id, info.len ? info.data : "", d->caption, kind, reason);
    pw_buf_release(&info);
    if (!d->result || pw_result_failed(d->result))
        R->experiment_error(b, d->result ? pw_result_error_reason(d->result) : "the experiment did not run");
    size_t i;
    json_t *item;
    if (doc) {
        json_array_foreach(json_object_get(doc, "charts"), i, item) {
            const char *name = json_string_value(json_object_get(item, "name"));
            if (!name || !pw_render_shows_chart(d, name)) continue;
            char *stem = pw_render_chart_stem(d->id, name);
            pw_render_figure(b, R, num, item, stem, figdir, figrel);
            free(stem);
        }
        json_array_foreach(json_object_get(doc, "tables"), i, item) {
            const char *name = json_string_value(json_object_get(item, "name"));
            if (name && pw_render_shows_table(d, name)) pw_render_table(b, R, num, item);
        }
    }
    if (doc) render_blockers(b, R, doc);
    if (json_array_size(d->verdicts)) {
        claim_list l = {b, R, PW_CLAIMS_EXPERIMENT, 0};
        R->claims_open(b, PW_CLAIMS_EXPERIMENT, NULL);
        each_claim_of(NULL, d, NULL, 0, -1, list_claim, &l);
        R->claims_close(b, PW_CLAIMS_EXPERIMENT);
    }
    if (doc) {
        pw_buf summary;
        pw_buf_init(&summary);
        json_t *details = NULL;
        if (pw_render_precision(doc, &summary, &details)) R->folded(b, PW_FOLD_PRECISION, summary.data, details);
        json_decref(details);
        pw_buf_release(&summary);
        render_warnings(b, R, json_object_get(doc, "warnings"));
        render_items(b, R, PW_ITEMS_NOTES, json_object_get(doc, "notes"));
    }
    R->experiment_close(b);
}

/* --- measurement quality ------------------------------------------------------------------ */

/* A relative precision or CV as a percentage with two significant digits: "1.5%", "35%",
 * "160%". */
static void put_percent(pw_buf *b, double fraction)
{
    pw_format_number(b, 100 * fraction, 2);
    pw_buf_putc(b, '%');
}

/* How a set's sampling ended, for a reader. */
static const char *stop_phrase(const char *stop)
{
    if (!stop) return "stopped for an unknown reason";
    if (strcmp(stop, "converged") == 0) return "reached the target";
    if (strcmp(stop, "budget") == 0) return "stopped on the time budget";
    if (strcmp(stop, "max_samples") == 0) return "stopped at the sample cap";
    if (strcmp(stop, "rounds") == 0) return "ended when each timing had its rounds";
    return stop;
}

/* The timing's precision, or NAN when no interval could be formed. */
static double rel_ci_of(const json_t *t)
{
    json_t *v = json_object_get(t, "rel_ci");
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A timing's variant name ("?" when the record lacks it). */
static const char *timing_name(const json_t *t)
{
    const char *name = json_string_value(json_object_get(t, "name"));
    return name ? name : "?";
}

static bool missed(const json_t *t, double target)
{
    double rel = rel_ci_of(t);
    return !(rel <= target);
}

/* One detail line: "Set 2 — 5 timings, 12 rounds, stopped on the time budget (0.3 s); missed
 * ±1%: naive.n32 ±3.5%, ikj.n32 no stable interval; CV above 5%: blocked.n32 6%". */
static char *set_line(size_t no, const json_t *set)
{
    pw_buf b;
    pw_buf_init(&b);
    json_t *timings = json_object_get(set, "timings");
    double target = json_number_value(json_object_get(set, "target"));
    double limit = json_number_value(json_object_get(set, "cv_limit"));
    const char *stop = json_string_value(json_object_get(set, "stop"));
    json_int_t rounds = json_integer_value(json_object_get(set, "rounds"));
    size_t i, k = 0;
    json_t *t;
    /* Timings that left the rotation early (pw_bench_limit_rounds) are not what "reached the
     * target" speaks of: the stopping rule only looked at the others. */
    bool early = false;
    json_array_foreach(timings, i, t) {
        json_int_t n = json_integer_value(json_object_get(t, "n"));
        if (n > 0 && n < rounds) early = true;
    }
    pw_buf_printf(&b, "Set %zu — %zu timing%s, %lld round%s, %s", no, json_array_size(timings),
                  json_array_size(timings) == 1 ? "" : "s", (long long)rounds, rounds == 1 ? "" : "s",
                  early && stop && strcmp(stop, "converged") == 0
                      ? "the timings still in rotation reached the target" : stop_phrase(stop));
    json_t *budget = json_object_get(set, "budget_s");
    if (stop && strcmp(stop, "budget") == 0 && json_is_number(budget))
        pw_buf_printf(&b, " (%.3g s)", json_number_value(budget));
    /* The early ones, each with its own count. */
    json_array_foreach(timings, i, t) {
        json_int_t n = json_integer_value(json_object_get(t, "n"));
        if (n <= 0 || n >= rounds) continue;
        pw_buf_printf(&b, "%s %s %lld", k++ ? "," : "; fewer rounds:", timing_name(t), (long long)n);
    }
    k = 0;
    json_array_foreach(timings, i, t) {
        if (!missed(t, target)) continue;
        if (k++ == 0) {
            pw_buf_puts(&b, "; missed ±");
            pw_buf_printf(&b, "%.3g%%:", 100 * target);
        } else {
            pw_buf_putc(&b, ',');
        }
        pw_buf_printf(&b, " %s ", timing_name(t));
        double rel = rel_ci_of(t);
        if (isfinite(rel)) {
            pw_buf_puts(&b, "±");
            put_percent(&b, rel);
        } else {
            pw_buf_puts(&b, "no stable interval");
        }
    }
    if (k == 0) pw_buf_printf(&b, "; every median within ±%.3g%%", 100 * target);
    k = 0;
    json_array_foreach(timings, i, t) {
        json_t *cv = json_object_get(t, "cv");
        if (!json_is_number(cv) || !(json_number_value(cv) > limit)) continue;
        if (k++ == 0) pw_buf_printf(&b, "; CV above %.3g%%:", 100 * limit);
        else pw_buf_putc(&b, ',');
        pw_buf_printf(&b, " %s ", timing_name(t));
        put_percent(&b, json_number_value(cv));
    }
    return pw_buf_detach(&b);
}

/* " resolution 20 ns" or " resolution 20–25 ns" (seconds in, as they print). */
static void put_ns_range(pw_buf *b, const char *what, double lo, double hi)
{
    char a[32], z[32];
    snprintf(a, sizeof a, "%.3g", 1e9 * lo);
    snprintf(z, sizeof z, "%.3g", 1e9 * hi);
    pw_buf_printf(b, "%s %s%s%s ns", what, a, strcmp(a, z) ? "–" : "", strcmp(a, z) ? z : "");
}

bool pw_render_precision(const json_t *result, pw_buf *summary, json_t **details)
{
    json_t *sets = json_object_get(result, "bench_sets");
    if (!json_array_size(sets)) return false;
    size_t total = 0, nmissed = 0, unstable = 0, noisy = 0, converged = 0, nsets = json_array_size(sets);
    double worst = -1, tmin = INFINITY, tmax = -INFINITY, lmax = -INFINITY;
    double res_lo = INFINITY, res_hi = -INFINITY, ov_lo = INFINITY, ov_hi = -INFINITY;
    const char *worst_name = NULL;
    /* Stop reasons other than "converged", each with its count, in the order first seen. */
    const char *reasons[8];
    size_t rcount[8], nreasons = 0;
    *details = json_array();
    size_t i, k;
    json_t *set, *t;
    json_array_foreach(sets, i, set) {
        double target = json_number_value(json_object_get(set, "target"));
        double limit = json_number_value(json_object_get(set, "cv_limit"));
        tmin = fmin(tmin, target), tmax = fmax(tmax, target);
        lmax = fmax(lmax, limit);
        json_t *res = json_object_get(set, "resolution_s"), *ov = json_object_get(set, "overhead_s");
        if (json_is_number(res)) res_lo = fmin(res_lo, json_number_value(res)), res_hi = fmax(res_hi, json_number_value(res));
        if (json_is_number(ov)) ov_lo = fmin(ov_lo, json_number_value(ov)), ov_hi = fmax(ov_hi, json_number_value(ov));
        const char *stop = json_string_value(json_object_get(set, "stop"));
        if (stop && strcmp(stop, "converged") == 0) {
            converged++;
        } else {
            size_t r = 0;
            while (r < nreasons && strcmp(reasons[r], stop_phrase(stop)) != 0) r++;
            if (r == nreasons && nreasons < 8) reasons[nreasons] = stop_phrase(stop), rcount[nreasons++] = 0;
            if (r < nreasons) rcount[r]++;
        }
        json_array_foreach(json_object_get(set, "timings"), k, t) {
            total++;
            if (missed(t, target)) {
                nmissed++;
                if (!isfinite(rel_ci_of(t))) unstable++;
            }
            json_t *cv = json_object_get(t, "cv");
            if (!json_is_number(cv)) continue;
            if (json_number_value(cv) > limit) noisy++;
            if (json_number_value(cv) > worst) {
                worst = json_number_value(cv);
                worst_name = timing_name(t);
            }
        }
        char *line = set_line(i + 1, set);
        json_array_append_new(*details, json_string(line));
        free(line);
    }
    pw_buf_puts(summary, "Measurement precision: ");
    char target[48];
    if (tmin == tmax) snprintf(target, sizeof target, "the ±%.3g%% target", 100 * tmin);
    else snprintf(target, sizeof target, "their ±%.3g–%.3g%% targets", 100 * tmin, 100 * tmax);
    if (nmissed == 0)
        pw_buf_printf(summary, "%s%zu timing%s reached %s", total == 1 ? "the " : "all ", total,
                      total == 1 ? "" : "s", target);
    else
        pw_buf_printf(summary, "%zu of %zu timings missed %s", nmissed, total, target);
    if (unstable) pw_buf_printf(summary, " (%zu with no stable interval)", unstable);
    if (worst >= 0) {
        pw_buf_puts(summary, "; ");
        if (noisy) pw_buf_printf(summary, "%zu varied by more than %.3g%%, ", noisy, 100 * lmax);
        pw_buf_puts(summary, "worst CV ");
        put_percent(summary, worst);
        if (worst_name) pw_buf_printf(summary, " (%s)", worst_name);
    }
    if (converged == nsets) {
        pw_buf_puts(summary, nsets == 1 ? "; the set converged" : "; every set converged");
    } else {
        pw_buf_puts(summary, "; ");
        for (size_t r = 0; r < nreasons; r++)
            pw_buf_printf(summary, "%s%zu of %zu set%s %s", r ? ", " : "", rcount[r], nsets,
                          nsets == 1 ? "" : "s", reasons[r]);
    }
    if (isfinite(res_lo) || isfinite(ov_lo)) {
        pw_buf clock;
        pw_buf_init(&clock);
        pw_buf_puts(&clock, "Clock:");
        if (isfinite(res_lo)) put_ns_range(&clock, " resolution", res_lo, res_hi);
        if (isfinite(ov_lo)) put_ns_range(&clock, isfinite(res_lo) ? ", read overhead" : " read overhead", ov_lo, ov_hi);
        json_array_append_new(*details, json_string(clock.data));
        pw_buf_release(&clock);
    }
    return true;
}

/* --- baseline warnings, collected for the top of the report ------------------------------- */

size_t pw_render_baseline_notices(pw_chapter *const *chapters, size_t n, pw_render_notice **out)
{
    pw_render_notice *list = NULL;
    size_t count = 0;
    for (size_t c = 0; c < n; c++)
        for (size_t k = 0; k < chapters[c]->ndirectives; k++) {
            const pw_directive *d = chapters[c]->directives[k];
            if (!d->result) continue;
            size_t i;
            json_t *w;
            json_array_foreach(json_object_get(pw_result_json(d->result), "baseline_warnings"), i, w) {
                const char *text = json_string_value(w);
                if (!text) continue;
                size_t j = 0;
                while (j < count && !pw_same_but_numbers(list[j].text, text)) j++;
                if (j == count) {
                    list = pw_xrealloc(list, (count + 1) * sizeof *list);
                    list[count++] = (pw_render_notice){text, NULL, 0};
                }
                pw_render_notice *nt = &list[j];
                if (nt->n && nt->directives[nt->n - 1] == d) continue;
                nt->directives = pw_xrealloc(nt->directives, (nt->n + 1) * sizeof *nt->directives);
                nt->directives[nt->n++] = d;
            }
        }
    *out = list;
    return count;
}

void pw_render_notices_free(pw_render_notice *notices, size_t n)
{
    for (size_t i = 0; i < n; i++) free(notices[i].directives);
    free(notices);
}

/* --- the summary and the assessment -------------------------------------------------------- */

/* The groups of the summary and the assessment, in pw_outcome order: what happened to the
 * optimization, not whether an inequality held (a counterclaim that holds did not help). */
static const char *const summary_heading[PW_OUTCOMES] = {
    "Helped", "Did not help", "Mixed: held at some points, failed at others", "Undecided",
    "Could not be measured"};
static const char *const assessment_heading[PW_OUTCOMES] = {
    "What helped: a claim held, or a counterclaim failed",
    "What did not help: a claim failed, or a counterclaim held",
    "What helped at some sizes and decidedly not at others",
    "What we could not decide, in whole or in part",
    "What could not be measured",
};
static const char *const assessment_none[PW_OUTCOMES] = {
    "No optimization was shown to help.",
    "No optimization was shown not to help.",
    "No claim held at some points and failed at others.",
    "Every claim was decided at every point it covers.",
    "Every experiment ran and passed its correctness checks.",
};

void pw_render_claim_summary(pw_buf *b, const pw_renderer *R, pw_chapter *const *chapters, size_t n)
{
    size_t counts[PW_OUTCOMES];
    size_t total = pw_render_count_outcomes(chapters, n, counts);
    R->counts(b, counts, total);
    R->claims_open(b, PW_CLAIMS_SUMMARY, NULL);
    for (int o = 0; o < PW_OUTCOMES; o++) {
        claim_list probe = {NULL, NULL, PW_CLAIMS_SUMMARY, 0};
        pw_render_each_claim(chapters, n, o, count_claim, &probe);
        if (!probe.count) continue;
        R->group(b, (pw_outcome)o, summary_heading[o], probe.count);
        claim_list l = {b, R, PW_CLAIMS_SUMMARY, 0};
        pw_render_each_claim(chapters, n, o, list_claim, &l);
    }
    R->claims_close(b, PW_CLAIMS_SUMMARY);
}

void pw_render_assessment(pw_buf *b, const pw_renderer *R, pw_chapter *const *chapters, size_t n)
{
    for (int o = 0; o < PW_OUTCOMES; o++) {
        claim_list l = {b, R, PW_CLAIMS_ASSESSMENT, 0};
        R->claims_open(b, PW_CLAIMS_ASSESSMENT, assessment_heading[o]);
        pw_render_each_claim(chapters, n, o, list_claim, &l);
        if (l.count == 0) R->claims_none(b, PW_CLAIMS_ASSESSMENT, assessment_none[o]);
        R->claims_close(b, PW_CLAIMS_ASSESSMENT);
    }
}

/* --- templates ------------------------------------------------------------------------------ */

/* Hands a page's error to its caller (owns msg). */
static void page_error(const pw_render_page *p, char *msg)
{
    if (p->error) p->error(p->ctx, msg);
    free(msg);
}

int pw_render_template_load(const char *dir, const char *name, char **text, int *line, char *msg,
                            size_t msgsize)
{
    *text = NULL;
    *line = 0;
    char *path = pw_xasprintf("%s/%s", dir, name);
    size_t len = 0;
    char *t = pw_read_file(path, &len);
    int status = PW_OK;
    size_t bad;
    if (!t) {
        snprintf(msg, msgsize, "cannot read template: %s", strerror(errno));
        status = PW_EIO;
    } else if (strlen(t) != len) {
        *line = pw_line_of_offset(t, len, strlen(t));
        snprintf(msg, msgsize, "template contains a NUL byte; is it a text file?");
        status = PW_EINVAL;
    } else if ((bad = pw_utf8_check(t, len)) < len) {
        /* Templates are UTF-8 like the chapters: a Latin-1 file would put invalid bytes into
         * every document written from it. */
        *line = pw_line_of_offset(t, len, bad);
        snprintf(msg, msgsize, "invalid UTF-8 (byte 0x%02X)", (unsigned)(unsigned char)t[bad]);
        status = PW_EINVAL;
    }
    if (status == PW_OK) *text = t;
    else free(t);
    free(path);
    return status;
}

int pw_render_template_read(const pw_render_page *p, const char *name, char **text)
{
    char msg[512];
    int line;
    int status = pw_render_template_load(p->templates_dir, name, text, &line, msg, sizeof msg);
    if (status != PW_OK && line > 0)
        page_error(p, pw_xasprintf("%s/%s:%d: %s", p->templates_dir, name, line, msg));
    else if (status != PW_OK)
        page_error(p, pw_xasprintf("%s/%s: %s", p->templates_dir, name, msg));
    return status;
}

int pw_render_template_fill(const pw_render_page *p, const char *name, const char *tmpl,
                            const pw_template_var *vars, size_t n, pw_buf *out)
{
    char msg[256];
    int status = pw_template_expand(tmpl, vars, n, out, msg, sizeof msg);
    /* msg is "line N: message"; the file takes the place of "line". */
    if (status != PW_OK) page_error(p, pw_xasprintf("%s/%s:%s", p->templates_dir, name, msg + 4));
    return status;
}
