/* report.c — `perfweave report` from chapters to published outputs (see report.h), as the
 * sequence of its stages (report_internal.h).  The order matters: everything that can be wrong
 * with the input is found before anything runs or is written; outputs are built in a staging
 * folder and renamed into place at the end, so an interrupted or failed run leaves the previous
 * report whole. */
#include "report_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/env.h"
#include "perfweave/isolate.h"
#include "perfweave/render.h"

/* Where the templates are: $PERFWEAVE_TEMPLATES, ./templates, or the templates/ folder beside
 * the build folder of the running executable (build/perfweave → templates/). */
static const char *default_templates_dir(void)
{
    const char *t = getenv("PERFWEAVE_TEMPLATES");
    if (t && *t) return t;
    if (access("templates/report.html", R_OK) == 0) return "templates";
    static char beside[4096]; /* written once, then only read: a path, not state */
    ssize_t n = readlink("/proc/self/exe", beside, sizeof beside - 32);
    if (n > 0) {
        beside[n] = '\0';
        char *slash = strrchr(beside, '/');
        if (slash) {
            strcpy(slash, "/../templates");
            char probe[4096 + 16];
            snprintf(probe, sizeof probe, "%s/report.html", beside);
            if (access(probe, R_OK) == 0) return beside;
        }
    }
    return "templates";
}

void pw_report_options_default(pw_report_options *o)
{
    memset(o, 0, sizeof *o);
    o->outdir = "out";
    o->formats = NULL;
    o->pdf = true;
    o->cache_dir = ".cache/results";
    o->archive_root = "validation_results";
    o->templates_dir = default_templates_dir();
    o->max_wait_s = -1;
}

/* --- time and environment ------------------------------------------------------------------ */

/* The report's clock: SOURCE_DATE_EPOCH when set (reproducible output), else now. */
static time_t report_time(void)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (s && *s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (*end == '\0' && v >= 0) return (time_t)v;
    }
    return time(NULL);
}

static char *iso_time(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return pw_xstrdup(buf);
}

void pw_report_tell(pw_report *r, pw_report_message_kind kind, const char *file, int line, const char *fmt, ...)
{
    if (!r->opt->on_message) return;
    pw_buf b;
    pw_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    pw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    pw_report_message m = {kind, file, file ? line : 0, b.data};
    r->opt->on_message(r->opt->ctx, &m);
    pw_buf_release(&b);
}

static char *utc_now(void)
{
    time_t now = time(NULL);
    struct tm tm;
    char buf[32];
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return pw_xstrdup(buf);
}

/* True when the NULL-terminated list holds R. */
static bool lists(const pw_renderer *const *list, const pw_renderer *R)
{
    for (; *list; list++)
        if (*list == R) return true;
    return false;
}

/* The documents to write, in registry order: the options' formats (HTML and LaTeX when none
 * are given), and the LaTeX that pdflatex typesets when a PDF is asked for. */
static void choose_renderers(pw_report *r)
{
    static const pw_renderer *const defaults[] = {&pw_render_html, &pw_render_latex, NULL};
    const pw_renderer *const *asked = r->opt->formats ? r->opt->formats : defaults;
    for (size_t i = 0; pw_renderers[i] && r->nrenderers < PW_RENDER_MAX; i++)
        if (lists(asked, pw_renderers[i]) || (r->opt->pdf && pw_renderers[i] == &pw_render_latex))
            r->renderers[r->nrenderers++] = pw_renderers[i];
}

/* Renders the documents into the staging folder, one per renderer, then the PDF. */
static int render(pw_report *r)
{
    pw_buf doc;
    pw_buf_init(&doc);
    int status = pw_report_render_charts(r);
    if (status != PW_OK) goto out;
    pw_report_install_custom_nodes(r);
    for (size_t i = 0; i < r->nrenderers; i++) {
        pw_buf_reset(&doc);
        if ((status = pw_report_render_document(r, r->renderers[i], &doc)) != PW_OK) goto out;
        if ((status = pw_report_write_staged(r, r->renderers[i]->file, &doc)) != PW_OK) goto out;
    }
    if (r->opt->pdf) pw_report_run_pdflatex(r);
out:
    pw_buf_release(&doc);
    return status;
}

static void report_release(pw_report *r)
{
    pw_report_close_staging(r);
    for (size_t i = 0; i < r->npeers; i++) { /* their results are in directive order */
        size_t n = 0;
        for (size_t c = 0; c < r->nchapters; c++) n += r->chapters[c]->ndirectives;
        for (size_t k = 0; k < n; k++) pw_result_free(r->peers[i].results[k]);
        free(r->peers[i].results);
        json_decref(r->peers[i].environment);
        free(r->peers[i].archived);
    }
    free(r->peers);
    for (size_t c = 0; c < r->nchapters; c++) pw_chapter_free(r->chapters[c]);
    free(r->chapters);
    pw_diag_release(&r->diag);
    json_decref(r->environment);
    json_decref(r->env_warnings);
    json_decref(r->environment_after);
    for (size_t k = 0; k < r->nspecials; k++) {
        free(r->specials[k].metric);
        free(r->specials[k].caption);
        json_decref(r->specials[k].lines);
        free(r->specials[k].stem);
        free(r->specials[k].empty);
        json_decref(r->specials[k].object);
        json_decref(r->specials[k].notes);
    }
    free(r->specials);
    free(r->archived);
    free(r->started);
    free(r->staging);
    free(r->figdir);
    free(r->prev_figdir);
    free(r->stamp);
}

/* The directives whose result is a stand-in (the stale executor's), into the outcome. */
static void list_pending(const pw_report *r, pw_report_outcome *out)
{
    for (size_t c = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            const pw_directive *d = r->chapters[c]->directives[k];
            const char *key = NULL;
            pw_exec_standin_kind kind = d->result ? pw_exec_standin(d->result, NULL, &key) : PW_EXEC_FRESH;
            if (kind == PW_EXEC_FRESH) continue;
            out->pending = pw_xrealloc(out->pending, (out->npending + 1) * sizeof *out->pending);
            pw_report_pending *p = &out->pending[out->npending++];
            p->id = pw_xstrdup(d->id);
            p->experiment = pw_xstrdup(d->experiment_name);
            p->file = pw_xstrdup(d->file);
            p->line = d->line;
            p->unmeasured = kind == PW_EXEC_UNMEASURED;
            p->key = key ? pw_xstrdup(key) : NULL;
        }
}

int pw_report_build(const pw_report_options *o, pw_report_outcome *out)
{
    pw_report r;
    memset(&r, 0, sizeof r);
    r.opt = o;
    choose_renderers(&r);
    pw_diag_init(&r.diag);
    r.stamp = iso_time(report_time());
    r.started = utc_now();
    pw_report_stage stage = PW_REPORT_LOAD;
    int status = PW_OK;

    if (o->nchapters == 0) {
        pw_report_tell(&r, PW_REPORT_ERROR, NULL, 0, "no chapters given (and none in chapters/)");
        status = PW_EINVAL;
        goto out;
    }
    pw_report_load_chapters(&r);
    pw_report_load_specials(&r);
    if (!o->measure_only) pw_report_load_templates(&r); /* measure_only renders nothing */
    if (r.diag.n) {
        status = PW_EINVAL;
        goto out;
    }

    stage = PW_REPORT_OBTAIN;
    status = pw_report_obtain(&r);
    if (status == PW_OK && pw_isolate_interrupted()) status = PW_EINTR;
    if (status != PW_OK) goto out;
    if (r.blocked) { /* the measurement lock: busy past the wait, or its file unusable */
        status = r.blocked == PW_EBUSY ? PW_EBUSY : PW_EINVAL;
        goto out;
    }
    /* After measuring here; a Slurm node's conditions travel with its results. */
    if (r.measured_here) r.environment_after = pw_env_capture();
    r.env_warnings = pw_report_env_warnings(&r);

    stage = PW_REPORT_CHECK;
    pw_report_check(&r);
    if (r.diag.n) {
        status = PW_EINVAL;
        goto out;
    }

    stage = PW_REPORT_DECIDE;
    pw_report_decide(&r);
    pw_report_choose(&r);

    if (o->measure_only) { /* the run document goes to the archive (and results_path) only */
        stage = PW_REPORT_RENDER;
        if ((status = pw_report_write_results(&r)) != PW_OK) goto out;
        stage = PW_REPORT_DONE;
        if (r.failed || r.failed_peers) status = PW_ECHILD;
        goto out;
    }

    stage = PW_REPORT_RENDER;
    if ((status = pw_report_open_staging(&r)) != PW_OK) goto out;
    if ((status = pw_report_write_results(&r)) != PW_OK) goto out;
    pw_report_build_specials(&r);
    if ((status = render(&r)) != PW_OK) goto out;
    if (pw_isolate_interrupted()) {
        status = PW_EINTR;
        goto out;
    }

    stage = PW_REPORT_PUBLISH;
    if ((status = pw_report_publish(&r)) != PW_OK) goto out;
    stage = PW_REPORT_DONE;
    if (r.failed || r.failed_peers) status = PW_ECHILD;
out:
    if (out) {
        memset(out, 0, sizeof *out);
        out->stage = stage;
        out->diag = r.diag; /* handed over */
        pw_diag_init(&r.diag);
        for (size_t c = 0; c < r.nchapters; c++) out->experiments += r.chapters[c]->ndirectives;
        out->measured = r.measured;
        out->measured_clean = r.measured_clean;
        out->failed = r.failed;
        out->failed_peers = r.failed_peers;
        if (stage >= PW_REPORT_RENDER)
            out->claims = pw_render_count_verdicts(r.chapters, r.nchapters, out->verdicts);
        if (stage == PW_REPORT_DONE && !o->measure_only) {
            for (size_t i = 0; i < r.nrenderers; i++) out->documents[out->ndocuments++] = r.renderers[i];
            out->wrote_pdf = r.pdf_ok;
        }
        out->archive = r.archived;
        r.archived = NULL;
        out->signal = status == PW_EINTR ? pw_isolate_interrupted() : 0;
        if (stage >= PW_REPORT_CHECK) list_pending(&r, out);
    }
    report_release(&r);
    return status;
}

void pw_report_outcome_release(pw_report_outcome *out)
{
    pw_diag_release(&out->diag);
    free(out->archive);
    out->archive = NULL;
    for (size_t i = 0; i < out->npending; i++) {
        free(out->pending[i].id);
        free(out->pending[i].experiment);
        free(out->pending[i].file);
        free(out->pending[i].key);
    }
    free(out->pending);
    out->pending = NULL;
    out->npending = 0;
}
