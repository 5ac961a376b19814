/* publish.c — where the report's files go: everything is written into a staging folder
 * (results.json, report.tex, pdflatex's PDF, report.html, figures), the run document is
 * archived, and at the end the files are renamed into the output folder, so a failed or
 * interrupted run leaves the previous report whole; staging folders of dead runs are removed. */
#include "report_internal.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/plot.h"

static void remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char *child = pw_xasprintf("%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(child);
            else unlink(child);
            free(child);
        }
        closedir(dir);
    }
    rmdir(path);
}

/* Staging folders of runs that were killed before they could clean up. */
static void remove_stale_staging(const char *outdir)
{
    DIR *dir = opendir(outdir);
    if (!dir) return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, ".staging-", 9) != 0) continue;
        long pid = strtol(e->d_name + 9, NULL, 10);
        if (pid > 0 && kill((pid_t)pid, 0) == 0) continue; /* still running */
        char *path = pw_xasprintf("%s/%s", outdir, e->d_name);
        remove_tree(path);
        free(path);
    }
    closedir(dir);
}

int pw_report_open_staging(pw_report *r)
{
    const char *outdir = r->opt->outdir;
    if (pw_mkdir_p(outdir) != PW_OK) {
        pw_report_tell(r, PW_REPORT_ERROR, NULL, 0, "cannot create %s: %s", outdir, strerror(errno));
        return PW_EIO;
    }
    remove_stale_staging(outdir);
    r->staging = pw_xasprintf("%s/.staging-%ld", outdir, (long)getpid());
    r->figdir = pw_xasprintf("%s/figures", r->staging);
    r->prev_figdir = pw_xasprintf("%s/figures", outdir);
    if (pw_mkdir_p(r->figdir) != PW_OK) {
        pw_report_tell(r, PW_REPORT_ERROR, NULL, 0, "cannot create %s: %s", r->figdir, strerror(errno));
        return PW_EIO;
    }
    return PW_OK;
}

void pw_report_close_staging(pw_report *r)
{
    if (r->staging) remove_tree(r->staging);
}

int pw_report_write_staged(pw_report *r, const char *name, const pw_buf *b)
{
    char *path = pw_xasprintf("%s/%s", r->staging, name);
    int status = pw_write_file_atomic(path, b->data, b->len);
    if (status != PW_OK) pw_report_tell(r, PW_REPORT_ERROR, NULL, 0, "cannot write %s: %s", path, strerror(errno));
    free(path);
    return status;
}

/* LaTeX's own auxiliary files, kept in <outdir>/.latex/ between runs. */
static const char *const latex_aux_files[] = {"report.aux", "report.toc", "report.out"};
#define NLATEX_AUX (sizeof latex_aux_files / sizeof latex_aux_files[0])

/* Copies each auxiliary file that exists from one folder to another; returns how many. */
static size_t copy_latex_aux(const char *from_dir, const char *to_dir)
{
    size_t copied = 0;
    for (size_t i = 0; i < NLATEX_AUX; i++) {
        char *from = pw_xasprintf("%s/%s", from_dir, latex_aux_files[i]);
        char *to = pw_xasprintf("%s/%s", to_dir, latex_aux_files[i]);
        size_t len = 0;
        char *data = pw_read_file(from, &len);
        if (data && pw_write_file_atomic(to, data, len) == PW_OK) copied++;
        free(data);
        free(from);
        free(to);
    }
    return copied;
}

/* The line of templates/report.tex that ends the preamble every report shares. */
#define PRELOAD_END "\\fi % end of the preloadable preamble\n"

/* Removes keep/preamble-*.fmt except the one named current (formats of earlier templates). */
static void remove_old_formats(const char *keep, const char *current)
{
    DIR *dir = opendir(keep);
    if (!dir) return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "preamble-", 9) != 0 || len < 4 || strcmp(e->d_name + len - 4, ".fmt") != 0 ||
            strcmp(e->d_name, current) == 0)
            continue;
        char *path = pw_xasprintf("%s/%s", keep, e->d_name);
        unlink(path);
        free(path);
    }
    closedir(dir);
}

/* The fixed preamble of the staged report.tex (everything up to PRELOAD_END) compiled into a
 * pdflatex format, kept in keep/ as preamble-HASH.fmt (HASH: the first 16 hex digits of the
 * preamble's SHA-256) and built here (about 0.5 s), once, when missing.  Loading the format
 * instead of reading a dozen packages took 0.11–0.19 s off each 0.65–1.0 s pass of the 74-page
 * report on the Xeon VM (docs/benchmarks.md).  Returns
 * the format's path without ".fmt" (what -fmt= takes; caller frees), or NULL when report.tex has
 * no such preamble (a template of one's own) or the format cannot be built: pdflatex then reads
 * the whole file as usual, so a format is only ever a shortcut. */
static char *preamble_format(const pw_report *r, const char *keep)
{
    char *tex_path = pw_xasprintf("%s/report.tex", r->staging);
    char *tex = pw_read_file(tex_path, NULL);
    free(tex_path);
    char *end = tex ? strstr(tex, PRELOAD_END) : NULL;
    if (!end) {
        free(tex);
        return NULL;
    }
    size_t len = (size_t)(end - tex) + strlen(PRELOAD_END);
    char hex[65];
    pw_sha256_hex(tex, len, hex);
    hex[16] = '\0';
    /* pdflatex runs in the staging folder: the format's path must not be relative. */
    char *keep_abs = pw_mkdir_p(keep) == PW_OK ? realpath(keep, NULL) : NULL;
    if (!keep_abs) {
        free(tex);
        return NULL;
    }
    char *name = pw_xasprintf("preamble-%s.fmt", hex);
    char *base = pw_xasprintf("%s/preamble-%s", keep_abs, hex);
    char *fmt = pw_xasprintf("%s.fmt", base);
    if (access(fmt, R_OK) != 0) {
        /* -ini on top of LaTeX's own format: the preamble runs, \pwpreloaded is defined (so the
         * report's copy of the preamble is skipped), and \dump writes pwpreamble.fmt. */
        pw_buf src;
        pw_buf_init(&src);
        pw_buf_put(&src, tex, len);
        pw_buf_puts(&src, "\\def\\pwpreloaded{}\n\\dump\n");
        char *src_path = pw_xasprintf("%s/pwpreamble.tex", r->staging);
        char *log = pw_xasprintf("%s/pwpreamble.out", r->staging);
        char *built = pw_xasprintf("%s/pwpreamble.fmt", r->staging);
        char *const argv[] = {"pdflatex", "-ini", "-interaction=nonstopmode", "-halt-on-error",
                              "-jobname=pwpreamble", "&pdflatex", "pwpreamble.tex", NULL};
        bool ok = pw_write_file_atomic(src_path, src.data, src.len) == PW_OK &&
                  pw_spawn(argv, r->staging, log, 120) == 0 && rename(built, fmt) == 0;
        if (ok) remove_old_formats(keep_abs, name);
        unlink(built);
        pw_buf_release(&src);
        free(src_path);
        free(log);
        free(built);
        if (!ok) {
            free(base);
            base = NULL;
        }
    }
    free(fmt);
    free(name);
    free(keep_abs);
    free(tex);
    return base;
}

/* Runs pdflatex in the staging folder.  Each pass loads the preamble's format when there is one
 * (preamble_format); a pass that fails with it is repeated without it, and the format is
 * dropped, to be built again by the next run (another TeX installation cannot load it).  It
 * starts from the previous report's auxiliary files (.aux, .toc, .out), so one pass usually
 * suffices; a second pass runs only when the .aux changed (as latexmk would decide), and a
 * first pass that fails on carried-over files is repeated from scratch. */
void pw_report_run_pdflatex(pw_report *r)
{
    char *log = pw_xasprintf("%s/pdflatex.out", r->staging);
    char *keep = pw_xasprintf("%s/.latex", r->opt->outdir);
    char *aux = pw_xasprintf("%s/report.aux", r->staging);
    char *format = preamble_format(r, keep);
    char *fmt_arg = format ? pw_xasprintf("-fmt=%s", format) : NULL;
    char *const plain[] = {"pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex", NULL};
    char *const preloaded[] = {"pdflatex", fmt_arg, "-interaction=nonstopmode", "-halt-on-error", "report.tex", NULL};
    char *const *argv = format ? preloaded : plain;
    size_t carried = copy_latex_aux(keep, r->staging);
    size_t before_len = 0;
    char *before = pw_read_file(aux, &before_len);
    int rc = pw_spawn(argv, r->staging, log, 300);
    if (rc > 0 && format) {
        char *fmt = pw_xasprintf("%s.fmt", format);
        unlink(fmt);
        free(fmt);
        argv = plain;
        rc = pw_spawn(argv, r->staging, log, 300);
    }
    if (rc > 0 && carried) {
        for (size_t i = 0; i < NLATEX_AUX; i++) {
            char *path = pw_xasprintf("%s/%s", r->staging, latex_aux_files[i]);
            unlink(path);
            free(path);
        }
        free(before);
        before = NULL;
        rc = pw_spawn(argv, r->staging, log, 300);
    }
    size_t after_len = 0;
    char *after = rc == 0 ? pw_read_file(aux, &after_len) : NULL;
    if (rc == 0 && (!before || !after || before_len != after_len || memcmp(before, after, after_len) != 0))
        rc = pw_spawn(argv, r->staging, log, 300);
    if (rc == 0 && pw_mkdir_p(keep) == PW_OK) copy_latex_aux(r->staging, keep);
    free(before);
    free(after);
    free(keep);
    free(aux);
    free(format);
    free(fmt_arg);
    if (rc < 0)
        pw_report_tell(r, PW_REPORT_WARNING, NULL, 0, "pdflatex is not installed; wrote HTML and LaTeX only (make setup installs it)");
    else if (rc != 0)
        pw_report_tell(r, PW_REPORT_WARNING, NULL, 0, "pdflatex failed (status %d); see %s/report.log after the run; no PDF written",
                       rc, r->opt->outdir);
    free(log);
    r->pdf_ok = rc == 0;
}

/* True when every registered format that refers to figure files is being written. */
static bool every_figure_format(const pw_report *r)
{
    for (size_t i = 0; pw_renderers[i]; i++) {
        if (!pw_renderers[i]->figures) continue;
        bool written = false;
        for (size_t k = 0; k < r->nrenderers; k++)
            if (r->renderers[k] == pw_renderers[i]) written = true;
        if (!written) return false;
    }
    return true;
}

/* Moves every staged file into the output folder (rename: each file appears whole). */
int pw_report_publish(pw_report *r)
{
    char *outfig = pw_xasprintf("%s/figures", r->opt->outdir);
    int status = pw_mkdir_p(outfig);
    /* Figures of charts that are no longer in the report go, so out/ matches this run; only when
     * every format that refers to figures was written (an HTML-only run must not strip the PDFs
     * report.tex uses). */
    DIR *old = every_figure_format(r) ? opendir(outfig) : NULL;
    if (old) {
        struct dirent *e;
        while ((e = readdir(old))) {
            if (e->d_name[0] == '.') continue;
            char *staged = pw_xasprintf("%s/%s", r->figdir, e->d_name);
            if (access(staged, F_OK) != 0) {
                char *stale = pw_xasprintf("%s/%s", outfig, e->d_name);
                unlink(stale);
                free(stale);
            }
            free(staged);
        }
        closedir(old);
    }
    DIR *dir = opendir(r->figdir);
    if (status == PW_OK && dir) {
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.') continue;
            char *from = pw_xasprintf("%s/%s", r->figdir, e->d_name);
            char *to = pw_xasprintf("%s/%s", outfig, e->d_name);
            if (rename(from, to) != 0) status = PW_EIO;
            free(from);
            free(to);
        }
    }
    if (dir) closedir(dir);
    free(outfig);
    const char *files[PW_RENDER_MAX + 3] = {"results.json"};
    size_t nfiles = 1;
    for (size_t i = 0; i < r->nrenderers; i++) files[nfiles++] = r->renderers[i]->file;
    files[nfiles++] = "report.log";
    files[nfiles++] = r->pdf_ok ? "report.pdf" : NULL;
    for (size_t i = 0; i < nfiles && status == PW_OK; i++) {
        if (!files[i]) continue;
        char *from = pw_xasprintf("%s/%s", r->staging, files[i]);
        char *to = pw_xasprintf("%s/%s", r->opt->outdir, files[i]);
        if (access(from, F_OK) == 0 && rename(from, to) != 0) {
            pw_report_tell(r, PW_REPORT_ERROR, NULL, 0, "cannot move %s to %s: %s", from, to, strerror(errno));
            status = PW_EIO;
        }
        free(from);
        free(to);
    }
    return status;
}

/* A run document: every result (of the report's directives, or of a peer's: peer NULL or not)
 * with its chapter and line, the environment it was measured in, the config. */
static json_t *run_document(pw_report *r, const peer_run *peer)
{
    json_t *results = json_array();
    for (size_t c = 0, i = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++, i++) {
            pw_directive *d = r->chapters[c]->directives[k];
            const pw_result *res = peer ? peer->results[i] : d->result;
            if (!res) continue;
            json_t *doc = json_deep_copy(pw_result_json(res));
            json_object_set_new(doc, "chapter", json_string(d->file));
            json_object_set_new(doc, "line", json_integer(d->line));
            json_array_append_new(results, doc);
        }
    json_t *chapters = json_array();
    for (size_t c = 0; c < r->nchapters; c++) json_array_append_new(chapters, json_string(r->chapters[c]->path));
    char finished[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(finished, sizeof finished, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const json_t *env = peer ? peer->environment : r->environment;
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:o, s:{s:b, s:b, s:o}, s:o}", "schema", 1,
                            "generated", r->stamp, "started", r->started, "finished", finished,
                            "environment", env ? json_deep_copy(env) : json_object(), "config", "quick", r->opt->quick,
                            "frozen", r->opt->frozen, "chapters", chapters, "results", results);
    if (peer) {
        /* Measured beside the rendered report, for the matrix. */
        json_object_set_new(doc, "measured_for", json_string("matrix"));
        json_object_set_new(doc, "measured_on", json_string(peer->name));
    } else {
        if (r->env_warnings) json_object_set(doc, "environment_warnings", r->env_warnings);
        if (r->environment_after) json_object_set(doc, "environment_after", r->environment_after);
    }
    return doc;
}

/* True when some directive's result is a stand-in of the stale executor (exec.h). */
static bool holds_standins(const pw_report *r)
{
    for (size_t c = 0; c < r->nchapters; c++)
        for (size_t k = 0; k < r->chapters[c]->ndirectives; k++) {
            const pw_directive *d = r->chapters[c]->directives[k];
            if (d->result && pw_exec_standin(d->result, NULL, NULL) != PW_EXEC_FRESH) return true;
        }
    return false;
}

int pw_report_write_results(pw_report *r)
{
    json_t *all = run_document(r, NULL);
    char *text = json_dumps(all, JSON_INDENT(1));
    pw_buf jb = {text, strlen(text), strlen(text) + 1};
    int status = r->opt->measure_only ? PW_OK : pw_report_write_staged(r, "results.json", &jb);
    if (status == PW_OK && r->opt->results_path &&
        (status = pw_write_file_atomic(r->opt->results_path, jb.data, jb.len)) != PW_OK)
        pw_report_tell(r, PW_REPORT_ERROR, NULL, 0, "cannot write %s: %s", r->opt->results_path, strerror(errno));
    free(text);
    /* Fresh measurements are archived (never overwritten); a render from cache adds nothing, and
     * a run document with stand-ins in it (which a stale run measures nothing for anyway) is
     * not a measured run. */
    if (status == PW_OK && r->opt->archive_root && r->measured && !holds_standins(r)) {
        if (pw_archive_write(r->opt->archive_root, all, &r->archived) == PW_OK)
            pw_report_tell(r, PW_REPORT_NOTE, NULL, 0, "archived this run as %s", r->archived);
        else
            pw_report_tell(r, PW_REPORT_WARNING, NULL, 0, "cannot archive this run under %s", r->opt->archive_root);
    }
    json_decref(all);
    /* Each peer's measurements are a run of their own: the matrix groups results by the machine
     * that measured them, and the history shows one machine's runs. */
    for (size_t i = 0; status == PW_OK && r->opt->archive_root && i < r->npeers; i++) {
        peer_run *p = &r->peers[i];
        if (!p->measured) continue;
        json_t *doc = run_document(r, p);
        if (pw_archive_write(r->opt->archive_root, doc, &p->archived) == PW_OK)
            pw_report_tell(r, PW_REPORT_NOTE, NULL, 0, "archived the run on %s (for the matrix) as %s", p->name, p->archived);
        else
            pw_report_tell(r, PW_REPORT_WARNING, NULL, 0, "cannot archive the run on %s under %s", p->name, r->opt->archive_root);
        json_decref(doc);
    }
    return status;
}
