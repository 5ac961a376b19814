/* preview.c — the preview's main loop: starts the server, renders by running `perfweave report`
 * as a child, watches the inputs, re-renders after a quiet moment, hands the listening socket to
 * a rebuilt binary, and stops cleanly on a signal without leaving the output folder half-written
 * (see preview.h and docs/preview.md).  The only thread that forks; it forks only to exec. */
#include "perfweave/preview.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/plot.h"

/* What a render may print that is kept for its diagnostics; the rest is only relayed. */
#define OUTPUT_KEEP (1u << 20)
/* How long a render that was told to stop may take before it is killed. */
#define STOP_GRACE_MS 20000

typedef struct {
    pid_t pid;        /* 0: not running */
    int fd;           /* read end of its stdout and stderr, or −1 */
    pw_buf out;       /* what it printed, up to OUTPUT_KEEP */
    pw_buf line;      /* the line being read */
    bool interrupted; /* the loop told it to stop */
    double started;   /* monotonic seconds */
    const char *why;  /* what made it start */
} child;

typedef struct {
    const pw_preview_options *o;
    pw_preview_state *state;
    pw_preview_server *server;
    pw_preview_watch *watch;
    int sigfd, devnull;
    char **argv; /* the render command */
    child render;
    int pending;     /* kinds changed and not yet acted on */
    double due;      /* when to act on them */
    char changed[256];
    bool dirty;      /* a change arrived during the render: render again after it */
} loop;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void say(const loop *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const loop *l, const char *fmt, ...)
{
    if (!l->o->log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    l->o->log(l->o->log_ctx, line);
}

/* `SELF report -f html -o OUT --templates DIR [ARGS…] [CHAPTERS…]`; freed with free(). */
static char **render_argv(const pw_preview_options *o)
{
    size_t n = 0, cap = 9 + o->nreport_args + o->nchapters;
    char **argv = pw_xcalloc(cap, sizeof *argv);
    argv[n++] = (char *)o->self;
    argv[n++] = "report";
    argv[n++] = "-f";
    argv[n++] = "html";
    argv[n++] = "-o";
    argv[n++] = (char *)o->outdir;
    argv[n++] = "--templates";
    argv[n++] = (char *)o->templates_dir;
    for (size_t i = 0; i < o->nreport_args; i++) argv[n++] = o->report_args[i];
    for (size_t i = 0; i < o->nchapters; i++) argv[n++] = o->chapters[i];
    argv[n] = NULL;
    return argv;
}

/* Forks and execs argv with stdin from /dev/null and stdout + stderr into a new pipe, whose
 * read end (non-blocking) goes to *fd.  Between fork and exec the child calls only
 * async-signal-safe functions: this process has threads. */
static pid_t spawn(loop *l, char *const argv[], int *fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    sigset_t none;
    sigemptyset(&none);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(l->devnull, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        sigprocmask(SIG_SETMASK, &none, NULL); /* the loop blocks signals to read them from a signalfd */
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    *fd = p[0];
    return pid;
}

static void report_token(const loop *l, char *token, size_t cap)
{
    char *path = pw_xasprintf("%s/report.html", l->o->outdir);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) pw_preview_token(&st, token, cap);
    else token[0] = '\0';
    free(path);
}

static void start_render(loop *l, const char *why)
{
    child *c = &l->render;
    pw_buf_reset(&c->out);
    pw_buf_reset(&c->line);
    c->interrupted = false;
    c->why = why;
    c->started = now_s();
    c->pid = spawn(l, l->argv, &c->fd);
    if (c->pid < 0) {
        c->pid = 0;
        c->fd = -1;
        char msg[256];
        snprintf(msg, sizeof msg, "cannot start the renderer %s: %s", l->o->self, strerror(errno));
        say(l, "preview: %s", msg);
        char token[PW_PREVIEW_TOKEN_MAX];
        report_token(l, token, sizeof token);
        pw_preview_state_render_done(l->state, token, json_pack("[{s:s, s:n, s:n}]", "text", msg, "file", "line"));
        return;
    }
    pw_preview_state_set_job(l->state, PW_PREVIEW_JOB_RENDER, true, NULL);
    say(l, "preview: rendering (%s)", why);
}

/* One complete line of the render's output: progress goes to the page, everything is relayed. */
static void render_line(loop *l, const char *line)
{
    if (pw_preview_is_progress(line)) {
        pw_buf clean;
        pw_buf_init(&clean);
        pw_preview_utf8_clean(&clean, line, strlen(line));
        pw_preview_state_set_job(l->state, PW_PREVIEW_JOB_RENDER, true, clean.data);
        pw_buf_release(&clean);
    }
    say(l, "%s", line);
}

/* Reads what the render printed so far; at the end of its output closes the pipe. */
static void drain(loop *l)
{
    child *c = &l->render;
    char buf[8192];
    while (c->fd >= 0) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return; /* EAGAIN: nothing more for now */
        if (n == 0) {
            if (c->line.len) render_line(l, c->line.data);
            pw_buf_reset(&c->line);
            close(c->fd);
            c->fd = -1;
            return;
        }
        if (c->out.len < OUTPUT_KEEP) pw_buf_put(&c->out, buf, (size_t)n);
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if (c->line.len < 65536) pw_buf_putc(&c->line, buf[i]);
                continue;
            }
            render_line(l, c->line.data);
            pw_buf_reset(&c->line);
        }
    }
}

/* The render ended with wait status ws: publish what it means. */
static void render_finished(loop *l, int ws)
{
    child *c = &l->render;
    drain(l); /* what it wrote last; a grandchild holding the pipe open is not waited for */
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->pid = 0;
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, sig = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
    char token[PW_PREVIEW_TOKEN_MAX];
    report_token(l, token, sizeof token);
    double took = now_s() - c->started;
    if (c->interrupted) {
        /* Stopped by this loop: it published nothing; its diagnostics say nothing new. */
        pw_preview_state_set_job(l->state, PW_PREVIEW_JOB_RENDER, false, NULL);
        pw_preview_state_set_report(l->state, token);
        say(l, "preview: the render was stopped after %.1f s", took);
        return;
    }
    json_t *diags = pw_preview_diagnostics(c->out.data, c->out.len, code, sig);
    size_t nd = json_array_size(diags);
    pw_preview_state_render_done(l->state, token, diags);
    if (code == 0 || code == 2)
        say(l, "preview: rendered in %.1f s%s", took, code == 2 ? " (an experiment ended in ERROR; see the page)" : "");
    else if (code >= 0)
        say(l, "preview: the render failed (exit status %d, %zu diagnostic%s); still serving the last good report", code,
            nd, nd == 1 ? "" : "s");
    else
        say(l, "preview: the renderer crashed (signal %d); still serving the last good report", sig);
}

static void reap(loop *l)
{
    if (!l->render.pid) return;
    int ws;
    pid_t w = waitpid(l->render.pid, &ws, WNOHANG);
    if (w == l->render.pid) {
        render_finished(l, ws);
        if (l->dirty) {
            l->dirty = false;
            start_render(l, "changed during the last render");
        }
    }
}

/* The binary was rebuilt: true when the new one runs (`BINARY --version` exits 0). */
static bool binary_runs(const loop *l)
{
    char *argv[] = {(char *)l->o->self, "--version", NULL};
    int status = pw_spawn(argv, NULL, NULL, 10.0);
    if (status == 0) return true;
    say(l, "preview: the rebuilt %s does not run (`--version` gave status %d); going on with this one", l->o->self,
        status);
    return false;
}

/* Reads the signalfd: returns the stopping signal (SIGINT, SIGTERM, SIGHUP) or 0; reaps on SIGCHLD. */
static int read_signals(loop *l)
{
    struct signalfd_siginfo si;
    int stop = 0;
    while (read(l->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if ((int)si.ssi_signo == SIGCHLD) reap(l);
        else stop = (int)si.ssi_signo;
    }
    return stop;
}

/* Stops a running render (sig first; SIGKILL after STOP_GRACE_MS or a second stopping signal)
 * and waits for it, so that nothing of it is left running or half-published. */
static void stop_render(loop *l, int sig)
{
    child *c = &l->render;
    if (!c->pid) return;
    l->dirty = false;
    c->interrupted = true;
    kill(c->pid, sig);
    say(l, "preview: waiting for the running render to stop");
    double deadline = now_s() + STOP_GRACE_MS / 1000.0;
    bool killed = false;
    while (c->pid) {
        struct pollfd p[2] = {{l->sigfd, POLLIN, 0}, {c->fd, POLLIN, 0}};
        int left = (int)((deadline - now_s()) * 1000);
        if (left <= 0 && !killed) {
            kill(c->pid, SIGKILL);
            killed = true;
        }
        poll(p, c->fd >= 0 ? 2 : 1, left > 0 ? left : 100);
        if (p[1].revents) drain(l);
        struct signalfd_siginfo si;
        while (read(l->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
            if ((int)si.ssi_signo != SIGCHLD && !killed) {
                kill(c->pid, SIGKILL);
                killed = true;
            }
        int ws;
        if (waitpid(c->pid, &ws, WNOHANG) == c->pid) render_finished(l, ws);
    }
}

/* Acts on the changes collected since the last quiet moment.  Returns true to restart. */
static bool act(loop *l)
{
    int kinds = l->pending;
    l->pending = 0;
    if ((kinds & PW_PREVIEW_BINARY) && access(l->o->self, X_OK) == 0 && binary_runs(l)) {
        say(l, "preview: %s was rebuilt; restarting it", l->o->self);
        return true;
    }
    if (kinds & (PW_PREVIEW_CHAPTER | PW_PREVIEW_TEMPLATE)) {
        if (l->render.pid) l->dirty = true;
        else start_render(l, l->changed);
    }
    return false;
}

static int watch_inputs(loop *l)
{
    const pw_preview_options *o = l->o;
    if (o->nchapters == 0 && pw_preview_watch_dir(l->watch, "chapters", ".md", PW_PREVIEW_CHAPTER) != 0) {
        say(l, "preview: cannot watch chapters/: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < o->nchapters; i++)
        if (pw_preview_watch_file(l->watch, o->chapters[i], PW_PREVIEW_CHAPTER) != 0) {
            say(l, "preview: cannot watch the folder of %s: %s", o->chapters[i], strerror(errno));
            return -1;
        }
    if (pw_preview_watch_dir(l->watch, o->templates_dir, NULL, PW_PREVIEW_TEMPLATE) != 0) {
        say(l, "preview: cannot watch the templates in %s: %s", o->templates_dir, strerror(errno));
        return -1;
    }
    if (pw_preview_watch_file(l->watch, o->self, PW_PREVIEW_BINARY) != 0) {
        say(l, "preview: cannot watch the folder of %s: %s", o->self, strerror(errno));
        return -1;
    }
    return 0;
}

/* The signals the loop reads from its signalfd (with SIGPIPE: those it keeps blocked). */
static void loop_signals(sigset_t *set, bool with_pipe)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGCHLD);
    if (with_pipe) sigaddset(set, SIGPIPE);
}

static void log_http(void *ctx, const char *line)
{
    const loop *l = ctx;
    say(l, "preview: %s", line);
}

int pw_preview_run(const pw_preview_options *o, pw_preview_outcome *out)
{
    out->signal = 0;
    out->restart_fd = -1;
    loop l;
    memset(&l, 0, sizeof l);
    l.o = o;
    l.sigfd = l.devnull = -1;
    l.render.fd = -1;
    pw_buf_init(&l.render.out);
    pw_buf_init(&l.render.line);
    int status = PW_EIO;
    /* Blocked before the server's threads exist, so that they inherit the mask and every signal
     * reaches the signalfd; SIGPIPE stays blocked so that a page closing its connection only
     * makes a write fail. */
    sigset_t set, old;
    loop_signals(&set, true);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    loop_signals(&set, false);
    l.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    l.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    l.state = pw_preview_state_new();
    l.watch = pw_preview_watch_new();
    if (l.sigfd < 0 || l.devnull < 0 || !l.watch) {
        say(&l, "preview: cannot set up signals and file watching: %s", strerror(errno));
        close(o->listen_fd);
        goto out;
    }
    if (watch_inputs(&l) != 0) {
        close(o->listen_fd);
        status = PW_EINVAL; /* a chapter's or the templates' folder is missing */
        goto out;
    }
    char token[PW_PREVIEW_TOKEN_MAX];
    report_token(&l, token, sizeof token);
    pw_preview_state_set_report(l.state, token);
    l.server = pw_preview_server_new(o->listen_fd, o->outdir, l.state, log_http, &l);
    if (!l.server) {
        say(&l, "preview: the HTTP server did not start");
        goto out;
    }
    l.argv = render_argv(o);
    start_render(&l, "first render");
    status = PW_OK;
    bool restart = false;
    int debounce = o->debounce_ms > 0 ? o->debounce_ms : 100;
    while (!out->signal && !restart) {
        int timeout = -1;
        if (l.pending) {
            timeout = (int)((l.due - now_s()) * 1000) + 1;
            if (timeout < 0) timeout = 0;
        }
        struct pollfd p[3] = {{l.sigfd, POLLIN, 0}, {pw_preview_watch_fd(l.watch), POLLIN, 0}, {l.render.fd, POLLIN, 0}};
        int np = l.render.fd >= 0 ? 3 : 2;
        if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR) {
            say(&l, "preview: poll: %s", strerror(errno));
            break;
        }
        if (np == 3 && p[2].revents) drain(&l);
        if (p[0].revents) out->signal = read_signals(&l);
        if (p[1].revents) {
            const char *name;
            int kinds = pw_preview_watch_read(l.watch, &name);
            if (kinds) {
                l.pending |= kinds;
                l.due = now_s() + (l.pending & PW_PREVIEW_BINARY ? 4 * debounce : debounce) / 1000.0;
                snprintf(l.changed, sizeof l.changed, "%s changed", name ? name : "a file");
            }
        }
        if (l.pending && now_s() >= l.due) restart = act(&l);
    }
    if (out->signal) say(&l, "preview: stopping (signal %d)", out->signal);
    stop_render(&l, out->signal ? out->signal : SIGINT);
    pw_preview_state_stop(l.state);
    if (restart) out->restart_fd = pw_preview_server_quiesce(l.server);
out:
    pw_preview_server_free(l.server);
    pw_preview_watch_free(l.watch);
    pw_preview_state_free(l.state);
    free(l.argv);
    pw_buf_release(&l.render.out);
    pw_buf_release(&l.render.line);
    if (l.sigfd >= 0) close(l.sigfd);
    if (l.devnull >= 0) close(l.devnull);
    /* Signals that arrived while blocked stay pending; the stopping one is already handled. */
    struct timespec zero = {0, 0};
    loop_signals(&set, true);
    while (sigtimedwait(&set, NULL, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return status;
}
