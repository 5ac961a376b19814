/* render.c — what the report shows, decided once for every output format, and the walks that
 * hand it to a format's callbacks (see render.h).  No markup lives here: the formats are
 * format_html.c, format_latex.c and format_text.c. */
#include "perfweave/render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    static const char *const kinds[] = {"helped", "not-helped", "undecided", "unmeasured"};
    return (unsigned)o < 4 ? kinds[o] : "unmeasured";
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
    json_array_foreach(points, i, p) {
        if (i) pw_buf_puts(b, "; ");
        if (i >= 6) {
            pw_buf_printf(b, "… (%zu more)", json_array_size(points) - i);
            break;
        }
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
        const char *st = json_string_value(json_object_get(p, "state"));
        if (st && strcmp(st, "undecided") == 0) {
            pw_buf_puts(b, " undecided");
            json_t *mde = json_object_get(p, "mde");
            if (json_is_number(mde)) pw_buf_printf(b, ", detectable effect %.1f%%", 100 * json_number_value(mde));
            json_t *need = json_object_get(p, "samples_needed");
            if (json_is_number(need)) pw_buf_printf(b, ", about %.0f samples would decide", json_number_value(need));
        }
    }
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
static size_t count_claims(pw_chapter *const *chapters, size_t n, size_t verdicts[5], size_t outcomes[4])
{
    size_t total = 0;
    for (int i = 0; i < 5; i++) verdicts[i] = 0;
    for (int i = 0; i < 4; i++) outcomes[i] = 0;
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
    size_t outcomes[4];
    return count_claims(chapters, n, counts, outcomes);
}

size_t pw_render_count_outcomes(pw_chapter *const *chapters, size_t n, size_t counts[4])
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

void pw_render_inline(pw_buf *b, const pw_renderer *R, const pw_metric *m)
{
    pw_buf value, ci;
    pw_buf_init(&value);
    pw_buf_init(&ci);
    pw_format_value(&value, m);
    if (m->lo != m->hi) {
        pw_buf_puts(&ci, "95% CI ");
        pw_format_interval(&ci, m);
    }
    R->value(b, m->name, value.data, ci.len ? ci.data : "");
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

void pw_render_directive(pw_buf *b, const pw_renderer *R, pw_numbering *num, const pw_directive *d,
                         const char *figdir, const char *figrel)
{
    json_t *doc = d->result ? pw_result_json(d->result) : NULL;
    pw_buf info;
    pw_buf_init(&info);
    if (d->result) pw_render_run_line(&info, d);
    R->experiment_open(b, d->id, info.len ? info.data : "", d->caption);
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
    if (json_array_size(d->verdicts)) {
        claim_list l = {b, R, PW_CLAIMS_EXPERIMENT, 0};
        R->claims_open(b, PW_CLAIMS_EXPERIMENT, NULL);
        each_claim_of(NULL, d, NULL, 0, -1, list_claim, &l);
        R->claims_close(b, PW_CLAIMS_EXPERIMENT);
    }
    if (doc) {
        render_items(b, R, PW_ITEMS_WARNINGS, json_object_get(doc, "warnings"));
        render_items(b, R, PW_ITEMS_NOTES, json_object_get(doc, "notes"));
    }
    R->experiment_close(b);
}

/* --- the summary and the assessment -------------------------------------------------------- */

/* The groups of the summary and the assessment, in pw_outcome order: what happened to the
 * optimization, not whether an inequality held (a counterclaim that holds did not help). */
static const char *const summary_heading[4] = {"Helped", "Did not help", "Undecided", "Could not be measured"};
static const char *const assessment_heading[4] = {
    "What helped: a claim held, or a counterclaim failed",
    "What did not help: a claim failed, or a counterclaim held",
    "What we could not decide, or what helped only in part",
    "What could not be measured",
};
static const char *const assessment_none[4] = {
    "No optimization was shown to help.",
    "No optimization was shown not to help.",
    "Every claim was decided one way.",
    "Every experiment ran and passed its correctness checks.",
};

void pw_render_claim_summary(pw_buf *b, const pw_renderer *R, pw_chapter *const *chapters, size_t n)
{
    size_t counts[4];
    size_t total = pw_render_count_outcomes(chapters, n, counts);
    R->counts(b, counts, total);
    R->claims_open(b, PW_CLAIMS_SUMMARY, NULL);
    for (int o = 0; o < 4; o++) {
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
    for (int o = 0; o < 4; o++) {
        claim_list l = {b, R, PW_CLAIMS_ASSESSMENT, 0};
        R->claims_open(b, PW_CLAIMS_ASSESSMENT, assessment_heading[o]);
        pw_render_each_claim(chapters, n, o, list_claim, &l);
        if (l.count == 0) R->claims_none(b, PW_CLAIMS_ASSESSMENT, assessment_none[o]);
        R->claims_close(b, PW_CLAIMS_ASSESSMENT);
    }
}

/* --- the environment ----------------------------------------------------------------------- */

/* One row per leaf of obj, nested keys dotted ("cpu.model"). */
static void environment_rows(pw_buf *b, const pw_renderer *R, const char *prefix, const json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        char *name = prefix ? pw_xasprintf("%s.%s", prefix, key) : pw_xstrdup(key);
        if (json_is_object(v)) {
            environment_rows(b, R, name, v);
            free(name);
            continue;
        }
        char *text = json_is_string(v) ? pw_xstrdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        R->environment_row(b, name, text ? text : "");
        free(text);
        free(name);
    }
}

void pw_render_environment(pw_buf *b, const pw_renderer *R, const json_t *env, const json_t *warnings)
{
    R->environment_open(b, warnings);
    environment_rows(b, R, NULL, env);
    R->environment_close(b);
}

/* --- templates ------------------------------------------------------------------------------ */

/* Hands a page's error to its caller (owns msg). */
static void page_error(const pw_render_page *p, char *msg)
{
    if (p->error) p->error(p->ctx, msg);
    free(msg);
}

char *pw_render_template_read(const pw_render_page *p, const char *name)
{
    char *path = pw_xasprintf("%s/%s", p->templates_dir, name);
    char *text = pw_read_file(path, NULL);
    if (!text) page_error(p, pw_xasprintf("cannot read template %s: %s", path, strerror(errno)));
    free(path);
    return text;
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
