/* cmd_report.c — `perfweave report [-o DIR] [-f html,latex,pdf] [--quick] [--rerun ID|all]
 * [--frozen] [--replay DIR] [--no-cache] [CHAPTER.md…]`. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/isolate.h"
#include "perfweave/report.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: perfweave report [-o DIR] [-f html,latex,pdf] [--quick] [--rerun ID|all]\n"
            "                        [--frozen] [--replay FILE|DIR] [--cache DIR] [--no-cache] [--archive DIR]\n"
            "                        [--no-archive] [-q] [CHAPTER.md...]\n"
            "  --quick      reduced sizes and time budgets (seconds instead of minutes)\n"
            "  --rerun ID   measure this directive again even when its result is cached ('all': every one)\n"
            "  --frozen     run nothing: render from the result cache, from any machine's results\n"
            "  --replay     render the results of a previous out/results.json (runs nothing)\n"
            "  defaults: cache .cache/results, archive validation_results/\n"
            "  default chapters: chapters/*.md in file-name order; default output: out/\n");
}

static int parse_formats(const char *list, pw_report_options *o)
{
    o->html = o->latex = o->pdf = false;
    char *copy = pw_xstrdup(list), *save = NULL;
    int ok = 1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "html") == 0) o->html = true;
        else if (strcmp(t, "latex") == 0 || strcmp(t, "tex") == 0) o->latex = true;
        else if (strcmp(t, "pdf") == 0) o->pdf = true;
        else {
            fprintf(stderr, "perfweave report: unknown format '%s' (html, latex, pdf)\n", t);
            ok = 0;
        }
    }
    free(copy);
    return ok && (o->html || o->latex || o->pdf);
}

int pw_cmd_report(int argc, char **argv)
{
    pw_report_options o;
    pw_report_options_default(&o);
    char **rerun = pw_xcalloc((size_t)argc, sizeof *rerun);
    char **chapters = pw_xcalloc((size_t)argc, sizeof *chapters);
    size_t nrerun = 0, nchapters = 0;
    glob_t g;
    bool globbed = false;
    int code = PW_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && has_next) o.outdir = argv[++i];
        else if ((strcmp(a, "-f") == 0 || strcmp(a, "--formats") == 0) && has_next) {
            if (!parse_formats(argv[++i], &o)) { code = PW_EXIT_USAGE; goto out; }
        } else if (strcmp(a, "--quick") == 0) o.quick = true;
        else if (strcmp(a, "--frozen") == 0) o.frozen = true;
        else if (strcmp(a, "--no-cache") == 0) o.cache_dir = NULL;
        else if (strcmp(a, "--cache") == 0 && has_next) o.cache_dir = argv[++i];
        else if (strcmp(a, "--archive") == 0 && has_next) o.archive_root = argv[++i];
        else if (strcmp(a, "--no-archive") == 0) o.archive_root = NULL;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) o.progress = false;
        else if (strcmp(a, "--replay") == 0 && has_next) o.replay_dir = argv[++i];
        else if (strcmp(a, "--templates") == 0 && has_next) o.templates_dir = argv[++i];
        else if (strcmp(a, "--rerun") == 0 && has_next) rerun[nrerun++] = argv[++i];
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { usage(stdout); goto out; }
        else if (a[0] == '-') {
            fprintf(stderr, "perfweave report: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            code = PW_EXIT_USAGE;
            goto out;
        } else chapters[nchapters++] = argv[i];
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
    o.rerun = rerun;
    o.nrerun = nrerun;
    o.chapters = chapters;
    o.nchapters = nchapters;
    pw_isolate_catch_signals();
    switch (pw_report_build(&o)) {
    case PW_OK: code = PW_EXIT_OK; break;
    case PW_EINTR: code = 128 + pw_isolate_interrupted(); break;
    case PW_EINVAL: code = PW_EXIT_USAGE; break;
    case PW_ECHILD: code = PW_EXIT_ERROR; break;
    default: code = PW_EXIT_INTERNAL; break;
    }
out:
    if (globbed) globfree(&g);
    free(rerun);
    free(chapters);
    return code;
}
