/* report.c — `perfweave report` from chapters to published outputs (see report.h), as the
 * sequence of its stages (report_internal.h).  The order matters: everything that can be wrong
 * with the input is found before anything runs or is written; outputs are built in a staging
 * folder and renamed into place at the end, so an interrupted or failed run leaves the previous
 * report whole. */
#include "report_internal.h"

#include <errno.h>
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
    o->html = o->latex = o->pdf = true;
    o->cache_dir = ".cache/results";
    o->archive_root = "validation_results";
    o->templates_dir = default_templates_dir();
    o->progress = true;
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

int pw_report_build(const pw_report_options *o)
{
    pw_report r;
    memset(&r, 0, sizeof r);
    r.opt = o;
    pw_diag_init(&r.diag);
    r.stamp = iso_time(report_time());
    {
        time_t now = time(NULL);
        struct tm tm;
        char buf[32];
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        r.started = pw_xstrdup(buf);
    }
    int status = PW_OK;
    pw_buf html, tex;
    pw_buf_init(&html);
    pw_buf_init(&tex);

    if (o->nchapters == 0) {
        fprintf(stderr, "perfweave: no chapters given (and none in chapters/)\n");
        status = PW_EINVAL;
        goto out;
    }
    pw_report_load_chapters(&r);
    pw_report_load_specials(&r);
    if (r.diag.n) {
        pw_diag_print(&r.diag);
        fprintf(stderr, "perfweave: %zu error%s; nothing was run or written\n", r.diag.n, r.diag.n == 1 ? "" : "s");
        status = PW_EINVAL;
        goto out;
    }
    if (o->replay_dir) {
        r.replay = pw_report_replay_document(o->replay_dir);
        if (!r.replay) {
            char *path = pw_xasprintf("%s/environment.json", o->replay_dir);
            json_error_t jerr;
            r.environment = json_load_file(path, 0, &jerr);
            free(path);
        } else {
            r.environment = json_incref(json_object_get(r.replay, "environment"));
        }
        if (!json_is_object(r.environment)) {
            json_decref(r.environment);
            r.environment = json_object();
        }
    } else {
        r.environment = pw_env_capture();
        r.fingerprint = pw_env_fingerprint_hash(r.environment);
        if (o->cache_dir && !(r.cache = pw_cache_open(o->cache_dir)))
            fprintf(stderr, "perfweave: warning: cannot open the result cache %s: %s; running without it\n",
                    o->cache_dir, strerror(errno));
    }
    pw_report_obtain(&r);
    if (pw_isolate_interrupted()) {
        fprintf(stderr, "\nperfweave: interrupted; the previous report is untouched, and the %zu result%s "
                "measured so far are cached for the next run\n", r.measured, r.measured == 1 ? "" : "s");
        status = PW_EINTR;
        goto out;
    }
    if (!o->replay_dir && r.measured) r.environment_after = pw_env_capture();
    r.env_warnings = pw_report_env_warnings(&r);
    pw_report_check(&r);
    if (r.diag.n) {
        pw_diag_print(&r.diag);
        fprintf(stderr, "perfweave: %zu error%s; nothing was written\n", r.diag.n, r.diag.n == 1 ? "" : "s");
        status = PW_EINVAL;
        goto out;
    }
    pw_report_decide(&r);

    if (pw_mkdir_p(o->outdir) != PW_OK) {
        fprintf(stderr, "perfweave: cannot create %s: %s\n", o->outdir, strerror(errno));
        status = PW_EIO;
        goto out;
    }
    pw_report_remove_stale_staging(o->outdir);
    r.staging = pw_xasprintf("%s/.staging-%ld", o->outdir, (long)getpid());
    r.figdir = pw_xasprintf("%s/figures", r.staging);
    r.prev_figdir = pw_xasprintf("%s/figures", o->outdir);
    if (pw_mkdir_p(r.figdir) != PW_OK) {
        fprintf(stderr, "perfweave: cannot create %s: %s\n", r.figdir, strerror(errno));
        status = PW_EIO;
        goto out;
    }
    json_t *all = pw_report_results_document(&r);
    char *text = json_dumps(all, JSON_INDENT(1));
    pw_buf jb = {text, strlen(text), strlen(text) + 1};
    status = pw_report_write_staged(&r, "results.json", &jb);
    free(text);
    if (status != PW_OK) {
        json_decref(all);
        goto out;
    }
    /* Fresh measurements are archived (never overwritten); a render from cache adds nothing. */
    if (o->archive_root && r.measured) {
        char *path = NULL;
        if (pw_archive_write(o->archive_root, all, &path) == PW_OK) {
            if (o->progress) fprintf(stderr, "perfweave: archived this run as %s\n", path);
        } else {
            fprintf(stderr, "perfweave: warning: cannot archive this run under %s\n", o->archive_root);
        }
        free(path);
    }
    json_decref(all);
    pw_report_build_specials(&r);
    if ((status = pw_report_render_charts(&r)) != PW_OK) goto out;
    pw_report_install_custom_nodes(&r);
    if (o->latex || o->pdf) {
        if ((status = pw_report_render_latex(&r, &tex)) != PW_OK) goto out;
        if ((status = pw_report_write_staged(&r, "report.tex", &tex)) != PW_OK) goto out;
    }
    bool pdf_ok = false;
    if (o->pdf) pdf_ok = pw_report_run_pdflatex(&r) == 0;
    if (o->html) {
        if ((status = pw_report_render_html(&r, &html)) != PW_OK) goto out;
        if ((status = pw_report_write_staged(&r, "report.html", &html)) != PW_OK) goto out;
    }
    if (pw_isolate_interrupted()) {
        fprintf(stderr, "perfweave: interrupted while rendering; the previous report is untouched\n");
        status = PW_EINTR;
        goto out;
    }
    if ((status = pw_report_publish(&r, pdf_ok)) != PW_OK) goto out;
    if (o->progress) {
        size_t counts[5];
        size_t total = pw_render_count_verdicts(r.chapters, r.nchapters, counts);
        size_t ndirectives = 0;
        for (size_t c = 0; c < r.nchapters; c++) ndirectives += r.chapters[c]->ndirectives;
        fprintf(stderr, "perfweave: %zu experiments: %zu measured, %zu from cache or replay\n", ndirectives,
                r.measured, ndirectives - r.measured);
        fprintf(stderr, "perfweave: wrote %s/%s%s%s — %zu claims: %zu PASS, %zu PARTIAL, %zu FAIL, %zu UNDECIDED, %zu ERROR\n",
                o->outdir, o->html ? "report.html " : "", o->latex ? "report.tex " : "", pdf_ok ? "report.pdf" : "",
                total, counts[0], counts[1], counts[2], counts[3], counts[4]);
    }
    if (r.failed) status = PW_ECHILD;
out:
    if (r.staging) pw_report_remove_tree(r.staging);
    for (size_t c = 0; c < r.nchapters; c++) pw_chapter_free(r.chapters[c]);
    free(r.chapters);
    pw_diag_release(&r.diag);
    json_decref(r.environment);
    json_decref(r.replay);
    json_decref(r.env_warnings);
    json_decref(r.environment_after);
    for (size_t k = 0; k < r.nspecials; k++) {
        free(r.specials[k].metric);
        free(r.specials[k].caption);
        free(r.specials[k].stem);
        free(r.specials[k].empty);
        json_decref(r.specials[k].object);
    }
    free(r.specials);
    pw_cache_free(r.cache);
    free(r.fingerprint);
    free(r.started);
    free(r.staging);
    free(r.figdir);
    free(r.prev_figdir);
    free(r.stamp);
    pw_buf_release(&html);
    pw_buf_release(&tex);
    return status;
}

