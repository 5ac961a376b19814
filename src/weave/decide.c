/* decide.c — what the results decide: every reference, chart and table key checked against
 * the results that came back, then a handicapped library judged in one result carried into
 * every result that ran it the same way, then the claims, chapter by chapter so that Holm's correction
 * spans one module, the conditions, and which passage of conditional text each verdict
 * selects. */
#include "report_internal.h"

#include <stdlib.h>
#include <string.h>

#include "perfweave/claims.h"
#include "perfweave/handicap.h"

/* A stand-in (exec.h) is not the directive's result: its metrics, charts and tables may not be
 * the ones the directive will have, so nothing is checked against it. */
static bool checkable(const pw_directive *d)
{
    return d && d->result && !pw_result_failed(d->result) && pw_exec_standin(d->result, NULL, NULL) == PW_EXEC_FRESH;
}

/* After results exist: every reference names a metric, every chart/table key names one. */
void pw_report_check(pw_report *r)
{
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        for (size_t k = 0; k < ch->nrefs; k++) {
            pw_ref *ref = &ch->refs[k];
            pw_directive *d = pw_report_find_directive(r, ref->id);
            pw_metric m;
            if (!checkable(d)) continue;
            if (pw_result_get_metric(d->result, ref->metric, &m) == PW_OK) continue;
            size_t n = pw_result_metric_count(d->result);
            const char **names = pw_xmalloc((n ? n : 1) * sizeof *names);
            for (size_t i = 0; i < n; i++) {
                pw_result_metric_at(d->result, i, &m);
                names[i] = m.name;
            }
            const char *hint = pw_suggest(ref->metric, names, n);
            if (hint)
                pw_diag_add(&r->diag, ch->path, ref->line, "result '%s' has no metric '%s' (did you mean '%s'?)",
                            ref->id, ref->metric, hint);
            else
                pw_diag_add(&r->diag, ch->path, ref->line, "result '%s' has no metric '%s' (it has %zu; see perfweave run %s --json)",
                            ref->id, ref->metric, n, d->experiment_name);
            free(names);
        }
        for (size_t k = 0; k < ch->ndirectives; k++) {
            pw_directive *d = ch->directives[k];
            if (!checkable(d)) continue;
            json_t *doc = pw_result_json(d->result);
            for (int kind = 0; kind < 2; kind++) {
                char **names = kind ? d->tables : d->charts;
                size_t n = kind ? d->ntables : d->ncharts;
                json_t *items = json_object_get(doc, kind ? "tables" : "charts");
                for (size_t i = 0; i < n; i++) {
                    bool found = false;
                    size_t j;
                    json_t *it;
                    json_array_foreach(items, j, it)
                        if (strcmp(json_string_value(json_object_get(it, "name")), names[i]) == 0) found = true;
                    if (!found) {
                        pw_buf avail;
                        pw_buf_init(&avail);
                        json_array_foreach(items, j, it)
                            pw_buf_printf(&avail, "%s%s", j ? ", " : "", json_string_value(json_object_get(it, "name")));
                        pw_diag_add(&r->diag, d->file, d->line, "%s has no %s named '%s' (it has: %s)",
                                    d->experiment_name, kind ? "table" : "chart", names[i],
                                    avail.len ? avail.data : "none");
                        pw_buf_release(&avail);
                    }
                }
            }
        }
    }
}

/* A directive not measured yet (exec.h: a stand-in with no metrics) decides nothing: its claims
 * and conditions are UNDECIDED with the stand-in's reason, not ERRORs of an experiment. */
static const char *unmeasured(const pw_directive *d)
{
    const char *reason = NULL;
    if (!d->result || pw_exec_standin(d->result, &reason, NULL) != PW_EXEC_UNMEASURED) return NULL;
    return reason ? reason : "not measured yet";
}

/* A library judged handicapped where its speed was measured against the machine's peak (the
 * matmul experiment's floor) is as handicapped in every other result that ran it the same way on
 * the same machine: the judgement is carried into those results (handicap.h), so that their
 * comparisons against it decide no claim either and the top of the report names them too. */
static void carry_handicaps(pw_report *r)
{
    for (size_t c = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            const pw_directive *from = r->chapters[c]->directives[k];
            if (!from->result || pw_result_failed(from->result)) continue;
            for (size_t c2 = 0; c2 < r->nchapters; c2++)
                for (size_t k2 = 0; k2 < r->chapters[c2]->ndirectives; k2++) {
                    pw_directive *to = r->chapters[c2]->directives[k2];
                    if (to->result) pw_handicap_carry(to->result, from->result, from->id);
                }
        }
}

/* Claims are decided per chapter, so Holm's correction spans one module's claims (and
 * counterclaims: a counterclaim is a test like any other).  A condition only chooses prose; it is
 * decided on its own (Holm across its own points), so that adding a sentence to a chapter never
 * moves a badge, and one condition's verdict does not depend on what other conditions exist. */
void pw_report_decide(pw_report *r)
{
    carry_handicaps(r);
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        for (size_t k = 0; k < ch->ndirectives; k++) {
            pw_directive *d = ch->directives[k];
            if (!d->nconditions) continue;
            d->condition_verdicts = json_array();
            const pw_result *res = d->result;
            const char *pending = unmeasured(d);
            for (size_t j = 0; j < d->nconditions; j++) {
                if (pending) {
                    json_array_append_new(d->condition_verdicts, pw_claim_undecided(&d->conditions[j], pending));
                    continue;
                }
                json_t *one = pw_claims_evaluate(&d->conditions[j], &res, 1);
                json_array_append(d->condition_verdicts, json_array_get(one, 0));
                json_decref(one);
            }
            if (d->result) json_object_set(pw_result_json(d->result), "conditions", d->condition_verdicts);
        }
        size_t m = 0;
        for (size_t k = 0; k < ch->ndirectives; k++) m += ch->directives[k]->nclaims;
        if (m == 0) continue;
        pw_claim *claims = pw_xmalloc(m * sizeof *claims);
        const pw_result **results = pw_xmalloc(m * sizeof *results);
        size_t i = 0;
        for (size_t k = 0; k < ch->ndirectives; k++)
            for (size_t j = 0; j < ch->directives[k]->nclaims; j++) {
                claims[i] = ch->directives[k]->claims[j];
                results[i++] = ch->directives[k]->result;
            }
        json_t *verdicts = pw_claims_evaluate(claims, results, m);
        i = 0;
        for (size_t k = 0; k < ch->ndirectives; k++) {
            pw_directive *d = ch->directives[k];
            const char *pending = unmeasured(d);
            d->verdicts = json_array();
            for (size_t j = 0; j < d->nclaims; j++, i++) {
                if (pending) json_array_append_new(d->verdicts, pw_claim_undecided(&d->claims[j], pending));
                else json_array_append(d->verdicts, json_array_get(verdicts, i));
            }
            if (d->result) json_object_set(pw_result_json(d->result), "claims", d->verdicts);
        }
        json_decref(verdicts);
        free(claims);
        free(results);
    }
}

/* The verdict object of a label: the very object the directive's badge is drawn from. */
static const json_t *label_verdict(pw_report *r, const char *label)
{
    bool condition;
    size_t index;
    pw_directive *d = pw_report_find_label(r, label, &condition, &index);
    if (!d) return NULL;
    return json_array_get(condition ? d->condition_verdicts : d->verdicts, index);
}

/* Replaces a `?` span by the chosen words: a text node (cmark escapes it for each format), or
 * a strong "[not measured]" when the experiment behind the label ended in ERROR. */
static void choose_inline(pw_when *w, pw_verdict v)
{
    const char *text = pw_when_choose_inline(w, v);
    cmark_node *repl = cmark_node_new(text ? CMARK_NODE_TEXT : CMARK_NODE_STRONG);
    if (text) {
        cmark_node_set_literal(repl, text);
    } else {
        cmark_node *t = cmark_node_new(CMARK_NODE_TEXT);
        cmark_node_set_literal(t, "[not measured]");
        cmark_node_append_child(repl, t);
    }
    cmark_node_replace(w->node, repl);
    cmark_node_free(w->node);
    w->node = NULL;
}

/* Moves the chosen passage's blocks where the `when` block was, and drops the block. */
static void choose_block(pw_when *w, pw_verdict v)
{
    pw_passage p = pw_when_choose(w, v);
    if (p != PW_PASSAGE_NONE && w->passage[p]) {
        cmark_node *child;
        while ((child = cmark_node_first_child(w->passage[p])))
            cmark_node_insert_before(w->node, child);
    }
    cmark_node_unlink(w->node);
    cmark_node_free(w->node);
    w->node = NULL;
}

void pw_report_choose(pw_report *r)
{
    for (size_t c = 0; c < r->nchapters; c++) {
        pw_chapter *ch = r->chapters[c];
        bool changed = false;
        for (size_t k = 0; k < ch->nwhens; k++) {
            pw_when *w = &ch->whens[k];
            if (!w->node) continue;
            const json_t *v = label_verdict(r, w->label);
            int verdict = pw_verdict_parse(json_string_value(json_object_get(v, "verdict")));
            if (verdict < 0) verdict = PW_VERDICT_ERROR; /* not decided: nothing to say it held */
            if (w->is_inline) choose_inline(w, (pw_verdict)verdict);
            else choose_block(w, (pw_verdict)verdict);
            changed = true;
        }
        if (changed) pw_chapter_retitle(ch);
    }
}
