/* cmd_preview.c — `perfweave preview [--port N] [--host ADDR] [--quick] [-o DIR] [CHAPTER.md…]`:
 * serves the report while its author writes, re-rendering on every save (src/preview/,
 * docs/preview.md).  Exit status 130 after Ctrl-C (128 + the signal, as `perfweave report`). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/preview.h"
#include "perfweave/report.h"

/* The listening socket a preview hands to the binary that replaces it (exec after a rebuild). */
#define LISTEN_FD_ENV "PERFWEAVE_PREVIEW_LISTEN_FD"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: perfweave preview [--port N] [--host ADDR] [--quick] [-o DIR] [--cache DIR|--no-cache]\n"
            "                         [--archive DIR|--no-archive] [--templates DIR] [CHAPTER.md...]\n"
            "  serves DIR (default out/) at http://ADDR:N/ (default 127.0.0.1:8000; --port 0: any free port),\n"
            "  renders the HTML report with `perfweave report --stale` on every change of a chapter, a\n"
            "  template or the perfweave binary, and reloads the open page; diagnostics appear on the page.\n"
            "  A directive not in the cache shows its previous result, marked stale, while it is measured\n"
            "  in the background (`perfweave report --measure-only`); the page then reloads with it.\n"
            "  --host       listen on this IP address instead of 127.0.0.1 (anything but loopback is\n"
            "               reachable from other machines: a warning says so)\n"
            "  --quick, --cache, --no-cache, --archive, --no-archive, --templates: as for perfweave report\n"
            "  Ctrl-C stops it (exit status 130) and leaves DIR whole.\n");
}

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

/* The absolute path of this program, for renders and for exec after a rebuild. */
static char *self_path(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return NULL;
    buf[n] = '\0';
    static const char deleted[] = " (deleted)"; /* replaced on disk since it started: same path */
    size_t len = (size_t)n, dl = sizeof deleted - 1;
    if (len > dl && strcmp(buf + len - dl, deleted) == 0) buf[len - dl] = '\0';
    return pw_xstrdup(buf);
}

/* The listening socket: the one handed over by the preview this process replaces, or a new one. */
static int open_socket(const char *host, unsigned port, bool *inherited)
{
    const char *env = getenv(LISTEN_FD_ENV);
    *inherited = env != NULL;
    if (env) {
        char *end;
        long fd = strtol(env, &end, 10);
        struct sockaddr_storage ss;
        unsetenv(LISTEN_FD_ENV); /* not for the renders */
        if (*end || fd < 3 || fd > INT_MAX || pw_preview_listen_check((int)fd, &ss) != 0) {
            fprintf(stderr, "perfweave preview: %s=%s is not a listening socket\n", LISTEN_FD_ENV, env);
            return -1;
        }
        return (int)fd;
    }
    struct sockaddr_storage ss;
    if (pw_preview_parse_address(host, port, &ss) != 0) {
        fprintf(stderr, "perfweave preview: --host expects an IP address (127.0.0.1, ::1, 0.0.0.0), not '%s'\n", host);
        return -1;
    }
    int fd = pw_preview_listen(&ss);
    if (fd < 0) {
        char where[80];
        pw_preview_format_address((const struct sockaddr *)&ss, where, sizeof where);
        fprintf(stderr, "perfweave preview: cannot listen on %s: %s%s\n", where, strerror(errno),
                errno == EADDRINUSE ? " (another --port, or --port 0 for any free one)" : "");
    }
    return fd;
}

int pw_cmd_preview(int argc, char **argv)
{
    pw_report_options defaults;
    pw_report_options_default(&defaults);
    const char *host = "127.0.0.1", *outdir = defaults.outdir, *templates = defaults.templates_dir;
    unsigned port = 8000;
    char **report_args = pw_xcalloc((size_t)argc * 2 + 1, sizeof *report_args);
    char **chapters = pw_xcalloc((size_t)argc + 1, sizeof *chapters);
    size_t nargs = 0, nchapters = 0;
    char *self = NULL;
    int code = PW_EXIT_USAGE, fd = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if (strcmp(a, "--port") == 0 && has_next) {
            char *end;
            unsigned long p = strtoul(argv[++i], &end, 10);
            if (*end || !*argv[i] || p > 65535) {
                fprintf(stderr, "perfweave preview: --port expects 0 to 65535, not '%s'\n", argv[i]);
                goto out;
            }
            port = (unsigned)p;
        } else if (strcmp(a, "--host") == 0 && has_next) host = argv[++i];
        else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && has_next) outdir = argv[++i];
        else if (strcmp(a, "--templates") == 0 && has_next) templates = argv[++i];
        else if (strcmp(a, "--quick") == 0 || strcmp(a, "--no-cache") == 0 || strcmp(a, "--no-archive") == 0)
            report_args[nargs++] = argv[i];
        else if ((strcmp(a, "--cache") == 0 || strcmp(a, "--archive") == 0) && has_next) {
            report_args[nargs++] = argv[i];
            report_args[nargs++] = argv[++i];
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            code = PW_EXIT_OK;
            goto out;
        } else if (a[0] == '-') {
            fprintf(stderr, "perfweave preview: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            goto out;
        } else chapters[nchapters++] = argv[i];
    }
    for (size_t i = 0; i < nchapters; i++)
        if (access(chapters[i], R_OK) != 0) {
            fprintf(stderr, "perfweave preview: %s: cannot read chapter: %s\n", chapters[i], strerror(errno));
            goto out;
        }
    /* The folders to watch, before anything is served. */
    struct stat st;
    if (nchapters == 0 && (stat("chapters", &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "perfweave preview: no chapters given and no chapters/ folder here\n");
        goto out;
    }
    if (stat(templates, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "perfweave preview: %s: not a templates folder\n", templates);
        goto out;
    }
    self = self_path();
    if (!self) {
        fprintf(stderr, "perfweave preview: cannot find this program's own path: %s\n", strerror(errno));
        code = PW_EXIT_INTERNAL;
        goto out;
    }
    bool inherited;
    fd = open_socket(host, port, &inherited);
    if (fd < 0) goto out;
    struct sockaddr_storage ss;
    pw_preview_listen_check(fd, &ss);
    char where[80];
    pw_preview_format_address((const struct sockaddr *)&ss, where, sizeof where);
    if (!pw_preview_is_loopback((const struct sockaddr *)&ss))
        fprintf(stderr,
                "perfweave preview: warning: listening on %s, which other machines may reach: anyone who can "
                "connect can read %s/\n",
                where, outdir);
    /* The address to open here: a wildcard is reached through loopback. */
    struct sockaddr_in *in4 = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&ss;
    if (ss.ss_family == AF_INET && in4->sin_addr.s_addr == htonl(INADDR_ANY))
        in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
        in6->sin6_addr = in6addr_loopback;
    char url[96];
    pw_preview_format_address((const struct sockaddr *)&ss, url, sizeof url);
    printf("perfweave preview: %s %s/ at http://%s/ (Ctrl-C stops)\n", inherited ? "restarted: serving" : "serving",
           outdir, url);
    fflush(stdout);

    pw_preview_options o = {
        .self = self,
        .outdir = outdir,
        .chapters = chapters,
        .nchapters = nchapters,
        .templates_dir = templates,
        .report_args = report_args,
        .nreport_args = nargs,
        .listen_fd = fd,
        .debounce_ms = 100,
        .log = log_line,
    };
    pw_preview_outcome outcome;
    fd = -1; /* the preview owns it now */
    int status = pw_preview_run(&o, &outcome);
    if (status != PW_OK) {
        code = status == PW_EINVAL ? PW_EXIT_USAGE : PW_EXIT_INTERNAL;
        goto out;
    }
    if (outcome.restart_fd >= 0) {
        /* The same arguments, the new binary, the same socket: open pages reconnect to it. */
        char **args = pw_xcalloc((size_t)argc + 2, sizeof *args);
        args[0] = self;
        for (int i = 0; i < argc; i++) args[i + 1] = argv[i];
        char num[16];
        snprintf(num, sizeof num, "%d", outcome.restart_fd);
        int flags = fcntl(outcome.restart_fd, F_GETFD);
        if (flags >= 0) fcntl(outcome.restart_fd, F_SETFD, flags & ~FD_CLOEXEC);
        setenv(LISTEN_FD_ENV, num, 1);
        fflush(NULL);
        execv(self, args);
        fprintf(stderr, "perfweave preview: cannot run the rebuilt %s: %s\n", self, strerror(errno));
        free(args);
        close(outcome.restart_fd);
        code = PW_EXIT_INTERNAL;
        goto out;
    }
    code = outcome.signal ? 128 + outcome.signal : PW_EXIT_OK;
out:
    if (fd >= 0) close(fd);
    free(self);
    free(report_args);
    free(chapters);
    return code;
}
