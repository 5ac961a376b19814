/* cmd_report.c — `perfweave report [-o DIR] [-f html,latex,text,pdf] [--quick] [--rerun ID|all]
 * [--frozen] [--replay DIR] [--no-cache] [--stale|--measure-only] [--status-json FILE]
 * [--no-wait] [--max-wait S] [--slurm PARTITION[,PARTITION…]] [CHAPTER.md…]`: the options, the
 * executors for --slurm (the first partition measures the report, the others are peers measuring
 * the same directives for the matrix), and the report's messages, progress and outcome
 * (report.h) as lines on stderr — a live progress line with ETA when stderr is a terminal — and,
 * with --status-json, as one JSON document for a program (perfweave preview) to read.  A
 * plain-text document (`-f text`) is the command's primary output, so it is also printed on
 * stdout. */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "perfweave/claims.h"
#include "perfweave/common.h"
#include "perfweave/isolate.h"
#include "perfweave/preview.h"
#include "perfweave/report.h"
#include "perfweave/slurm.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: perfweave report [-o DIR] [-f html,latex,text,pdf] [--quick] [--rerun ID|all]\n"
            "                        [--frozen] [--replay FILE|DIR] [--cache DIR] [--no-cache] [--archive DIR]\n"
            "                        [--no-archive] [--stale [--previous FILE]... | --measure-only]\n"
            "                        [--save-results FILE] [--status-json FILE] [--no-wait] [--max-wait SECONDS]\n"
            "                        [--slurm PARTITION[,PARTITION...] [--slurm-dir DIR] [--slurm-time MIN]]\n"
            "                        [-q] [CHAPTER.md...]\n"
            "  --quick      reduced sizes and time budgets (seconds instead of minutes)\n"
            "  --rerun ID   measure this directive again even when its result is cached ('all': every one)\n"
            "  --frozen     run nothing: render from the result cache, from any machine's results\n"
            "  --replay     render the results of a previous out/results.json (runs nothing)\n"
            "  -f text      also write report.txt (verdict counts, every claim) and print it on stdout\n"
            "  --stale      measure nothing: a directive missing from the cache is shown from its previous\n"
            "               result (in FILE of --previous, DIR/results.json or the cache), marked so and\n"
            "               deciding no claim, or as not measured yet; each is listed as needing measurement\n"
            "  --measure-only  measure what the cache lacks, fill the cache and the archive, write nothing into DIR\n"
            "  --save-results FILE  also write the run document (DIR/results.json's content) to FILE\n"
            "  --status-json FILE   write the outcome as JSON to FILE: exit status, diagnostics, messages,\n"
            "               the directives that need measuring\n"
            "  --no-wait    fail at once (exit 4) when another process holds the measurement lock and\n"
            "               something must be measured; --max-wait S waits at most S seconds (default 30 min)\n"
            "  --slurm P,Q  measure each directive as a Slurm job on partition P's nodes (the report is\n"
            "               P's machine); Q... measure the same directives for the matrix (docs/slurm.md)\n"
            "  defaults: cache .cache/results, archive validation_results/\n"
            "  default chapters: chapters/*.md in file-name order; default output: out/\n");
}

/* How the report's messages and progress are shown. */
typedef struct {
    bool quiet;   /* -q: errors and warnings only */
    bool tty;     /* stderr is a terminal: progress rewrites one line */
    json_t *messages; /* every message, for --status-json; NULL without it */
} view;

static const char *const kind_names[] = {"error", "warning", "failed", "note"};

/* A JSON string of text made valid UTF-8 (a message may quote a chapter's invalid bytes, which
 * JSON cannot hold); NULL text is null. */
static json_t *text_json(const char *text)
{
    if (!text) return json_null();
    pw_buf b;
    pw_buf_init(&b);
    pw_preview_utf8_clean(&b, text, strlen(text));
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    pw_buf_release(&b);
    return j;
}

static void show_message(void *ctx, const pw_report_message *m)
{
    const view *v = ctx;
    if (v->messages)
        json_array_append_new(v->messages,
                              json_pack("{s:s, s:o, s:o, s:o}", "kind", kind_names[m->kind], "file", text_json(m->file),
                                        "line", m->line > 0 ? json_integer(m->line) : json_null(), "text",
                                        text_json(m->text)));
    if (m->kind == PW_REPORT_FAILED) {
        if (!v->quiet) fprintf(stderr, "%s%s:%d: %s\n", v->tty ? "\r\033[K" : "", m->file, m->line, m->text);
        return;
    }
    if (m->kind == PW_REPORT_NOTE && v->quiet) return;
    fprintf(stderr, "%sperfweave: ", v->tty ? "\r\033[K" : ""); /* over a progress line */
    if (m->file && m->line > 0) fprintf(stderr, "%s:%d: ", m->file, m->line);
    else if (m->file) fprintf(stderr, "%s: ", m->file);
    if (m->kind == PW_REPORT_WARNING) fputs("warning: ", stderr);
    fprintf(stderr, "%s\n", m->text);
}

static void show_progress(void *ctx, const pw_report_progress *p)
{
    const view *v = ctx;
    if (v->quiet) return;
    if (p->done) {
        if (v->tty) fputs("\r\033[K", stderr);
        return;
    }
    fprintf(stderr, "%s[%zu/%zu] %s (%s%s%s)  %.0fs elapsed", v->tty ? "\r\033[K" : "", p->index, p->total,
            p->id, p->experiment, p->where ? " on " : "", p->where ? p->where : "", p->elapsed_s);
    if (isfinite(p->eta_s)) fprintf(stderr, ", ETA %.0fs", p->eta_s);
    fputs(v->tty ? "" : "\n", stderr);
    fflush(stderr);
}

/* The end of a report: diagnostics, an interruption, or the summary. */
static void show_outcome(const view *v, const pw_report_options *o, const pw_report_outcome *out, int status)
{
    pw_cli_print_diag(&out->diag);
    if (out->diag.n)
        fprintf(stderr, "perfweave: %zu error%s; nothing was %s\n", out->diag.n, out->diag.n == 1 ? "" : "s",
                out->stage == PW_REPORT_LOAD ? "run or written" : "written");
    size_t kept = out->measured_clean;
    if (status == PW_EINTR && out->stage == PW_REPORT_OBTAIN && !o->cache_dir)
        fprintf(stderr, "\nperfweave: interrupted; the previous report is untouched (no result cache: "
                "nothing measured is kept)\n");
    else if (status == PW_EINTR && out->stage == PW_REPORT_OBTAIN && kept == 0)
        fprintf(stderr, "\nperfweave: interrupted; the previous report is untouched, and no measurement "
                "finished cleanly to be cached\n");
    else if (status == PW_EINTR && out->stage == PW_REPORT_OBTAIN)
        fprintf(stderr, "\nperfweave: interrupted; the previous report is untouched, and the %zu result%s "
                "measured so far %s cached for the next run\n", kept, kept == 1 ? "" : "s",
                kept == 1 ? "is" : "are");
    else if (status == PW_EBUSY)
        fprintf(stderr, "perfweave: nothing was measured or written; the previous report is untouched\n");
    else if (status == PW_EINTR)
        fprintf(stderr, "perfweave: interrupted while rendering; the previous report is untouched\n");
    if (out->stage != PW_REPORT_DONE || v->quiet) return;
    for (size_t i = 0; i < out->npending; i++)
        fprintf(stderr, "perfweave: %s:%d: %s needs measuring (%s)\n", out->pending[i].file, out->pending[i].line,
                out->pending[i].id, out->pending[i].unmeasured ? "not measured yet" : "shown from its previous result");
    if (out->npending)
        fprintf(stderr, "perfweave: %zu experiments: %zu from cache, %zu need measuring (perfweave report measures them)\n",
                out->experiments, out->experiments - out->npending, out->npending);
    else
        fprintf(stderr, "perfweave: %zu experiments: %zu measured, %zu from cache or replay\n", out->experiments,
                out->measured, out->experiments - out->measured);
    if (out->failed_peers)
        fprintf(stderr, "perfweave: %zu result%s measured for the matrix on other partitions ended in ERROR\n",
                out->failed_peers, out->failed_peers == 1 ? "" : "s");
    if (o->measure_only) {
        fprintf(stderr, "perfweave: measured only; nothing written into %s (--measure-only)\n", o->outdir);
        return;
    }
    fprintf(stderr, "perfweave: wrote %s/", o->outdir);
    for (size_t i = 0; i < out->ndocuments; i++) fprintf(stderr, "%s ", out->documents[i]->file);
    fprintf(stderr, "%s — %zu claims: %zu PASS, %zu PARTIAL, %zu FAIL, %zu UNDECIDED, %zu ERROR\n",
            out->wrote_pdf ? "report.pdf" : "", out->claims, out->verdicts[0], out->verdicts[1], out->verdicts[2],
            out->verdicts[3], out->verdicts[4]);
}

/* The published plain-text documents, on stdout. */
static int print_terminal_documents(const pw_report_options *o, const pw_report_outcome *out)
{
    for (size_t i = 0; i < out->ndocuments; i++) {
        if (!out->documents[i]->terminal) continue;
        char *path = pw_xasprintf("%s/%s", o->outdir, out->documents[i]->file);
        size_t len;
        char *text = pw_read_file(path, &len);
        if (!text || fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
            fprintf(stderr, "perfweave: cannot print %s\n", path);
            free(text);
            free(path);
            return -1;
        }
        free(text);
        free(path);
    }
    return 0;
}

static const char *const stage_names[] = {"load", "obtain", "check", "decide", "render", "publish", "done"};

/* --status-json: the outcome as one document, written atomically (a reader sees the whole of it
 * or the previous one). */
static int write_status(const char *path, const view *v, const pw_report_outcome *out, int code)
{
    json_t *diags = json_array(), *pending = json_array(), *verdicts = json_object(), *wrote = json_array();
    for (size_t i = 0; i < out->diag.n; i++) json_array_append_new(diags, text_json(out->diag.lines[i]));
    for (size_t i = 0; i < out->npending; i++) {
        const pw_report_pending *p = &out->pending[i];
        json_array_append_new(pending, json_pack("{s:o, s:o, s:o, s:i, s:s, s:o}", "id", text_json(p->id), "experiment",
                                                 text_json(p->experiment), "file", text_json(p->file), "line", p->line,
                                                 "state", p->unmeasured ? "unmeasured" : "stale", "key",
                                                 text_json(p->key)));
    }
    for (int i = 0; i < 5; i++) json_object_set_new(verdicts, pw_verdict_name((pw_verdict)i), json_integer((json_int_t)out->verdicts[i]));
    for (size_t i = 0; i < out->ndocuments; i++) json_array_append_new(wrote, json_string(out->documents[i]->file));
    if (out->wrote_pdf) json_array_append_new(wrote, json_string("report.pdf"));
    json_t *doc = json_pack("{s:i, s:i, s:i, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:O, s:o, s:o, s:o}", "schema", 1,
                            "exit", code, "signal", out->signal, "stage", stage_names[out->stage], "experiments",
                            (json_int_t)out->experiments, "measured", (json_int_t)out->measured, "failed",
                            (json_int_t)out->failed, "claims", (json_int_t)out->claims, "verdicts", verdicts,
                            "diagnostics", diags, "messages", v->messages, "pending", pending, "wrote", wrote,
                            "archive", text_json(out->archive));
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    int status = text ? pw_write_file_atomic(path, text, strlen(text)) : PW_EINTERNAL;
    free(text);
    if (status != PW_OK) fprintf(stderr, "perfweave: cannot write %s\n", path);
    return status;
}

/* -f: a comma-separated list of registered formats ("tex" is "latex") and "pdf", into formats
 * (room for every registered one and a NULL); each listed once. */
static int parse_formats(const char *list, pw_report_options *o, const pw_renderer **formats)
{
    size_t n = 0;
    o->pdf = false;
    char *copy = pw_xstrdup(list), *save = NULL;
    int ok = 1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "pdf") == 0) {
            o->pdf = true;
            continue;
        }
        const pw_renderer *R = pw_render_find(strcmp(t, "tex") == 0 ? "latex" : t);
        if (!R) {
            fprintf(stderr, "perfweave report: unknown format '%s' (", t);
            for (size_t i = 0; pw_renderers[i]; i++) fprintf(stderr, "%s, ", pw_renderers[i]->name);
            fprintf(stderr, "pdf)\n");
            ok = 0;
            continue;
        }
        bool listed = false;
        for (size_t i = 0; i < n; i++) listed = listed || formats[i] == R;
        if (!listed) formats[n++] = R; /* the registry holds fewer than PW_RENDER_MAX */
    }
    free(copy);
    formats[n] = NULL;
    o->formats = formats;
    return ok && (n || o->pdf);
}

/* The executors of `--slurm A,B,…`: cache over Slurm for each partition (partitions of one kind
 * of machine share cache entries, keyed by the probe's fingerprint); the first is the report's,
 * the others its peers.  Nothing is submitted here: construction only checks the controller and
 * the partitions, the probes run when the report prepares its executors (after validation). */
typedef struct {
    char **partitions;
    size_t n;
    pw_exec **executors;      /* n, cache decorators over the Slurm executors */
    pw_report_peer *peers;    /* n - 1 */
    char **names;             /* "Slurm partition B" */
} slurm_setup;

static void slurm_release(slurm_setup *ss)
{
    for (size_t i = 0; i < ss->n; i++) {
        if (ss->executors) pw_exec_free(ss->executors[i]);
        if (ss->names) free(ss->names[i]);
    }
    free(ss->executors);
    free(ss->peers);
    free(ss->names);
    pw_slurm_strv_free(ss->partitions);
    memset(ss, 0, sizeof *ss);
}

static int slurm_prepare(slurm_setup *ss, const char *list, const char *dir, int time_min,
                         pw_report_options *o, const view *v)
{
    if (!(ss->partitions = pw_slurm_split_partitions(list, &ss->n))) {
        fprintf(stderr, "perfweave report: --slurm takes partition names separated by commas, not '%s'\n", list);
        return PW_EXIT_USAGE;
    }
    for (size_t i = 0; i < ss->n; i++)
        for (size_t k = i + 1; k < ss->n; k++)
            if (strcmp(ss->partitions[i], ss->partitions[k]) == 0) {
                fprintf(stderr, "perfweave report: --slurm lists partition '%s' twice\n", ss->partitions[i]);
                return PW_EXIT_USAGE;
            }
    if (o->replay_dir || o->frozen || o->stale) {
        fprintf(stderr, "perfweave report: --slurm measures; it cannot be combined with %s\n",
                o->replay_dir ? "--replay" : o->frozen ? "--frozen" : "--stale");
        return PW_EXIT_USAGE;
    }
    ss->executors = pw_xcalloc(ss->n, sizeof *ss->executors);
    ss->names = pw_xcalloc(ss->n, sizeof *ss->names);
    ss->peers = pw_xcalloc(ss->n, sizeof *ss->peers);
    pw_exec_cache_options co = {false, o->rerun, o->nrerun};
    for (size_t i = 0; i < ss->n; i++) {
        char msg[1024];
        pw_exec_slurm_options so = {ss->partitions[i], dir, (const char *const *)o->chapters, o->nchapters, time_min};
        pw_exec *x = pw_exec_slurm_new(&so, msg, sizeof msg);
        if (!x) {
            fprintf(stderr, "perfweave report: %s\n", msg);
            return PW_EXIT_USAGE;
        }
        pw_cache *cache = NULL;
        if (o->cache_dir && !(cache = pw_cache_open(o->cache_dir)))
            fprintf(stderr, "perfweave report: warning: cannot open the result cache %s; running without it\n",
                    o->cache_dir);
        ss->executors[i] = pw_exec_cache_new(x, cache, &co);
        ss->names[i] = pw_xasprintf("Slurm partition %s", ss->partitions[i]);
        if (i > 0) ss->peers[i - 1] = (pw_report_peer){ss->executors[i], ss->names[i]};
    }
    o->executor = ss->executors[0];
    o->peers = ss->peers;
    o->npeers = ss->n - 1;
    if (!v->quiet) {
        fprintf(stderr, "perfweave: measuring through Slurm: partition %s for the report", ss->partitions[0]);
        for (size_t i = 1; i < ss->n; i++) fprintf(stderr, "%s%s", i == 1 ? ", and for the matrix " : ", ", ss->partitions[i]);
        fputc('\n', stderr);
    }
    return PW_EXIT_OK;
}

int pw_cmd_report(int argc, char **argv)
{
    pw_report_options o;
    pw_report_options_default(&o);
    char **rerun = pw_xcalloc((size_t)argc, sizeof *rerun);
    char **chapters = pw_xcalloc((size_t)argc, sizeof *chapters);
    char **previous = pw_xcalloc((size_t)argc, sizeof *previous);
    size_t nrerun = 0, nchapters = 0, nprevious = 0;
    const char *status_path = NULL;
    glob_t g;
    bool globbed = false;
    int code = PW_EXIT_OK;
    view v = {false, isatty(STDERR_FILENO) != 0, NULL};
    bool no_wait = false;     /* the measurement lock: --no-wait, --max-wait S */
    double max_wait = -1;
    const char *slurm_list = NULL, *slurm_dir = ".cache/slurm";
    int slurm_time = 0;
    slurm_setup ss;
    memset(&ss, 0, sizeof ss);
    const pw_renderer *formats[PW_RENDER_MAX];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && has_next) o.outdir = argv[++i];
        else if ((strcmp(a, "-f") == 0 || strcmp(a, "--formats") == 0) && has_next) {
            if (!parse_formats(argv[++i], &o, formats)) { code = PW_EXIT_USAGE; goto out; }
        } else if (strcmp(a, "--quick") == 0) o.quick = true;
        else if (strcmp(a, "--frozen") == 0) o.frozen = true;
        else if (strcmp(a, "--no-cache") == 0) o.cache_dir = NULL;
        else if (strcmp(a, "--cache") == 0 && has_next) o.cache_dir = argv[++i];
        else if (strcmp(a, "--archive") == 0 && has_next) o.archive_root = argv[++i];
        else if (strcmp(a, "--no-archive") == 0) o.archive_root = NULL;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) v.quiet = true;
        else if (strcmp(a, "--replay") == 0 && has_next) o.replay_dir = argv[++i];
        else if (strcmp(a, "--templates") == 0 && has_next) o.templates_dir = argv[++i];
        else if (strcmp(a, "--rerun") == 0 && has_next) rerun[nrerun++] = argv[++i];
        else if (strcmp(a, "--stale") == 0) o.stale = true;
        else if (strcmp(a, "--previous") == 0 && has_next) previous[nprevious++] = argv[++i];
        else if (strcmp(a, "--measure-only") == 0) o.measure_only = true;
        else if (strcmp(a, "--save-results") == 0 && has_next) o.results_path = argv[++i];
        else if (strcmp(a, "--status-json") == 0 && has_next) status_path = argv[++i];
        else if (strcmp(a, "--slurm") == 0 && has_next) slurm_list = argv[++i];
        else if (strcmp(a, "--slurm-dir") == 0 && has_next) slurm_dir = argv[++i];
        else if (strcmp(a, "--slurm-time") == 0 && has_next) {
            if ((slurm_time = atoi(argv[++i])) < 1) {
                fprintf(stderr, "perfweave report: --slurm-time takes whole minutes, not '%s'\n", argv[i]);
                code = PW_EXIT_USAGE;
                goto out;
            }
        }
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { usage(stdout); goto out; }
        else if (strcmp(a, "--no-wait") == 0 || strcmp(a, "--max-wait") == 0) {
            if (pw_cli_lock_option((const char *const *)argv, argc, &i, &no_wait, &max_wait) < 0) {
                fprintf(stderr, "perfweave report: --max-wait needs a number of seconds\n");
                usage(stderr);
                code = PW_EXIT_USAGE;
                goto out;
            }
        }
        else if (a[0] == '-') {
            fprintf(stderr, "perfweave report: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            code = PW_EXIT_USAGE;
            goto out;
        } else chapters[nchapters++] = argv[i];
    }
    const char *clash = o.stale && o.measure_only ? "--stale and --measure-only"
                        : o.stale && o.replay_dir ? "--stale and --replay"
                        : o.stale && o.frozen     ? "--stale and --frozen"
                        : o.stale && nrerun       ? "--stale and --rerun"
                        : o.measure_only && o.replay_dir ? "--measure-only and --replay"
                        : o.measure_only && o.frozen     ? "--measure-only and --frozen"
                        : nprevious && !o.stale          ? "--previous without --stale"
                                                         : NULL;
    if (clash) {
        fprintf(stderr, "perfweave report: %s do not go together\n", clash);
        code = PW_EXIT_USAGE;
        goto out;
    }
    if (nchapters == 0) {
        if (glob("chapters/*.md", 0, NULL, &g) == 0) {
            globbed = true;
            for (size_t i = 0; i < g.gl_pathc; i++) {
                chapters = pw_xrealloc(chapters, (nchapters + 1) * sizeof *chapters);
                chapters[nchapters++] = g.gl_pathv[i];
            }
        }
    }
    o.max_wait_s = no_wait ? 0 : max_wait;
    o.rerun = rerun;
    o.nrerun = nrerun;
    o.chapters = chapters;
    o.nchapters = nchapters;
    o.previous = previous;
    o.nprevious = nprevious;
    o.on_message = show_message;
    o.on_progress = show_progress;
    o.ctx = &v;
    if (status_path) v.messages = json_array();
    if (slurm_list && (code = slurm_prepare(&ss, slurm_list, slurm_dir, slurm_time, &o, &v)) != PW_EXIT_OK)
        goto out;
    pw_isolate_catch_signals();
    pw_report_outcome out;
    int status = pw_report_build(&o, &out);
    show_outcome(&v, &o, &out, status);
    int printed = out.stage == PW_REPORT_DONE ? print_terminal_documents(&o, &out) : 0;
    switch (status) {
    case PW_OK: code = PW_EXIT_OK; break;
    case PW_EINTR: code = 128 + out.signal; break;
    case PW_EBUSY: code = PW_EXIT_BUSY; break;
    case PW_EINVAL: code = PW_EXIT_USAGE; break;
    case PW_ECHILD: code = PW_EXIT_ERROR; break;
    default: code = PW_EXIT_INTERNAL; break;
    }
    if (printed != 0 && code == PW_EXIT_OK) code = PW_EXIT_INTERNAL;
    if (status_path && write_status(status_path, &v, &out, code) != PW_OK && code == PW_EXIT_OK) code = PW_EXIT_INTERNAL;
    pw_report_outcome_release(&out);
out:
    slurm_release(&ss);
    if (globbed) globfree(&g);
    json_decref(v.messages);
    free(rerun);
    free(chapters);
    free(previous);
    return code;
}
