/* preview.c — the preview's main loop: starts the server, renders by running `perfweave report
 * --stale` as a child (it measures nothing: a changed directive shows its previous result), measures
 * what a render lists in a second child (`perfweave report --measure-only`) and renders again
 * when that ends, watches the inputs, re-renders after a quiet moment, hands the listening
 * socket to a rebuilt binary, and stops cleanly on a signal without leaving the output folder
 * half-written (see preview.h and docs/preview.md).  The only thread that forks; it forks only
 * to exec. */
#include "perfweave/preview.h"

#include <dirent.h>
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
#include "perfweave/result.h"

/* What a child may print that is kept for its diagnostics; the rest is only relayed. */
#define OUTPUT_KEEP (1u << 20)
/* How long a child that was told to stop may take before it is killed. */
#define STOP_GRACE_MS 20000

typedef struct {
    pw_preview_job job; /* which slot it runs in */
    pid_t pid;          /* 0: not running */
    int fd;             /* read end of its stdout and stderr, or −1 */
    pw_buf out;         /* what it printed, up to OUTPUT_KEEP */
    pw_buf line;        /* the line being read */
    bool interrupted;   /* the loop told it to stop */
    double kill_at;     /* > 0: killed (SIGKILL) if it still runs then */
    double started;     /* monotonic seconds */
    char why[128];      /* what made it start */
    char current[128];  /* the id of its latest progress line ("" before one) */
} child;

/* Directives to measure: id and cache key (the key alone identifies what is measured; the id
 * says which directive a progress line is about). */
typedef struct {
    char **ids, **keys;
    size_t n;
} directives;

typedef struct {
    const pw_preview_options *o;
    pw_preview_state *state;
    pw_preview_server *server;
    pw_preview_watch *watch;
    int sigfd, devnull;
    char *tmpdir;        /* private: what renders and measurements tell each other */
    char *status_path;   /* every render's --status-json */
    char *measured_path; /* every measurement's --save-results, every render's --previous */
    char **argv[PW_PREVIEW_NJOBS]; /* the render and the measuring commands */
    child jobs[PW_PREVIEW_NJOBS];
    int pending;         /* kinds changed and not yet acted on */
    double due;          /* when to act on them */
    char changed[256];
    bool dirty;          /* a change arrived during the render: render again after it */
    directives stale;    /* what the last published render showed from a stand-in */
    directives measuring;/* what the running measurement was started for */
    directives tried;    /* what measurements that ran to their end were started for: the keys
                            are not measured again by this preview (a result that is not cached,
                            such as an ERROR, comes back from the last measurement instead) */
    bool remeasure;      /* the running measurement is being stopped: start the next one after */
    bool stopping;       /* the preview is stopping: start nothing */
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

static const char *const job_words[PW_PREVIEW_NJOBS] = {"render", "measurement"};

/* --- sets of directives ------------------------------------------------------------------------ */

static void directives_clear(directives *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->ids[i]);
        free(s->keys[i]);
    }
    free(s->ids);
    free(s->keys);
    memset(s, 0, sizeof *s);
}

/* The key of id in s, or NULL. */
static const char *key_of(const directives *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0) return s->keys[i];
    return NULL;
}

static bool has_key(const directives *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->keys[i], key) == 0) return true;
    return false;
}

static void directives_add(directives *s, const char *id, const char *key)
{
    if (has_key(s, key)) return;
    s->ids = pw_xrealloc(s->ids, (s->n + 1) * sizeof *s->ids);
    s->keys = pw_xrealloc(s->keys, (s->n + 1) * sizeof *s->keys);
    s->ids[s->n] = pw_xstrdup(id);
    s->keys[s->n++] = pw_xstrdup(key);
}

static void directives_add_all(directives *to, const directives *from)
{
    for (size_t i = 0; i < from->n; i++) directives_add(to, from->ids[i], from->keys[i]);
}

/* --- the children -------------------------------------------------------------------------------- */

/* `SELF report --stale -f html -o OUT --templates DIR --status-json S --previous M [ARGS…]
 * [CHAPTERS…]` for a render, `SELF report --measure-only -o OUT --save-results M [ARGS…]
 * [CHAPTERS…]` for a measurement; freed with free(). */
static char **job_argv(const loop *l, pw_preview_job job)
{
    const pw_preview_options *o = l->o;
    size_t n = 0, cap = 16 + o->nreport_args + o->nchapters;
    char **argv = pw_xcalloc(cap, sizeof *argv);
    argv[n++] = (char *)o->self;
    argv[n++] = "report";
    if (job == PW_PREVIEW_JOB_RENDER) {
        argv[n++] = "--stale";
        argv[n++] = "-f";
        argv[n++] = "html";
        argv[n++] = "--templates";
        argv[n++] = (char *)o->templates_dir;
        argv[n++] = "--status-json";
        argv[n++] = l->status_path;
        argv[n++] = "--previous";
        argv[n++] = l->measured_path;
    } else {
        argv[n++] = "--measure-only";
        argv[n++] = "--save-results";
        argv[n++] = l->measured_path;
    }
    argv[n++] = "-o";
    argv[n++] = (char *)o->outdir;
    for (size_t i = 0; i < o->nreport_args; i++) argv[n++] = o->report_args[i];
    for (size_t i = 0; i < o->nchapters; i++) argv[n++] = o->chapters[i];
    argv[n] = NULL;
    return argv;
}

/* Forks and execs argv with stdin from /dev/null and stdout + stderr into a new pipe, whose
 * read end (non-blocking) goes to *fd.  The child leads a process group of its own (so that a
 * SIGKILL reaches the experiment it runs too) and gets the default action for the signals that
 * stop it, whatever this process inherited (a shell's `&` ignores SIGINT): a stop that arrives
 * before `perfweave report` catches it ends it instead of being lost.  Between fork and exec the
 * child calls only async-signal-safe functions: this process has threads. */
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
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL); /* the loop blocks signals to read them from a signalfd */
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid); /* as the child does: the group exists before either of them goes on */
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

static void start_job(loop *l, pw_preview_job job, const char *why)
{
    child *c = &l->jobs[job];
    if (l->stopping || c->pid) return;
    pw_buf_reset(&c->out);
    pw_buf_reset(&c->line);
    c->interrupted = false;
    c->kill_at = 0;
    c->current[0] = '\0';
    snprintf(c->why, sizeof c->why, "%s", why);
    c->started = now_s();
    /* What it writes, or nothing (a render reads the last measurement's document only until
     * the next measurement starts: by then a render has published its results). */
    unlink(job == PW_PREVIEW_JOB_RENDER ? l->status_path : l->measured_path);
    c->pid = spawn(l, l->argv[job], &c->fd);
    if (c->pid < 0) {
        c->pid = 0;
        c->fd = -1;
        char msg[256];
        snprintf(msg, sizeof msg, "cannot start the %s %s: %s", job == PW_PREVIEW_JOB_RENDER ? "renderer" : "measurement",
                 l->o->self, strerror(errno));
        say(l, "preview: %s", msg);
        if (job == PW_PREVIEW_JOB_MEASURE) {
            pw_preview_state_job_failed(l->state, job, msg);
            return;
        }
        char token[PW_PREVIEW_TOKEN_MAX];
        report_token(l, token, sizeof token);
        pw_preview_state_render_done(l->state, token, json_pack("[{s:s, s:n, s:n}]", "text", msg, "file", "line"));
        return;
    }
    pw_preview_state_set_job(l->state, job, true, NULL);
    say(l, "preview: %s (%s)", job == PW_PREVIEW_JOB_RENDER ? "rendering" : "measuring", why);
}

/* A render now, or right after the one running. */
static void request_render(loop *l, const char *why)
{
    if (l->jobs[PW_PREVIEW_JOB_RENDER].pid) l->dirty = true;
    else start_job(l, PW_PREVIEW_JOB_RENDER, why);
}

/* Tells a child to stop without waiting for it; killed if it has not ended STOP_GRACE_MS later. */
static void stop_soon(loop *l, pw_preview_job job, int sig)
{
    child *c = &l->jobs[job];
    if (!c->pid || c->interrupted) return;
    c->interrupted = true;
    c->kill_at = now_s() + STOP_GRACE_MS / 1000.0;
    kill(c->pid, sig);
}

/* One complete line of a child's output: progress goes to the page, everything is relayed. */
static void child_line(loop *l, child *c, const char *line)
{
    if (pw_preview_is_progress(line)) {
        pw_buf clean;
        pw_buf_init(&clean);
        pw_preview_utf8_clean(&clean, line, strlen(line));
        pw_preview_state_set_job(l->state, c->job, true, clean.data);
        pw_buf_release(&clean);
        const char *id;
        size_t n = pw_preview_progress_id(line, &id);
        if (n < sizeof c->current) {
            memcpy(c->current, id, n);
            c->current[n] = '\0';
        }
    }
    say(l, "%s", line);
}

/* Reads what a child printed so far; at the end of its output closes the pipe. */
static void drain(loop *l, child *c)
{
    char buf[8192];
    while (c->fd >= 0) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return; /* EAGAIN: nothing more for now */
        if (n == 0) {
            if (c->line.len) child_line(l, c, c->line.data);
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
            child_line(l, c, c->line.data);
            pw_buf_reset(&c->line);
        }
    }
}

/* --- measuring in the background ------------------------------------------------------------- */

/* What the last render listed and no measurement has tried yet. */
static size_t untried(const loop *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->stale.n; i++) n += !has_key(&l->tried, l->stale.keys[i]);
    return n;
}

/* After a render listed what it showed from stand-ins: start measuring it, or, when the
 * directive being measured now is no longer the one the chapter holds (edited again, or back to
 * a cached version), stop that measurement — what it finished stays cached — and start another. */
static void plan_measurement(loop *l)
{
    child *m = &l->jobs[PW_PREVIEW_JOB_MEASURE];
    if (l->stopping) return;
    if (m->pid) {
        if (m->interrupted) return; /* stopping already; remeasure says whether another follows */
        const char *was = m->current[0] ? key_of(&l->measuring, m->current) : NULL;
        const char *now = was ? key_of(&l->stale, m->current) : NULL;
        if (was && (!now || strcmp(was, now) != 0)) {
            say(l, "preview: %s changed while it was being measured; measuring again", m->current);
            stop_soon(l, PW_PREVIEW_JOB_MEASURE, SIGINT);
            l->remeasure = true;
        }
        return;
    }
    size_t n = untried(l);
    if (n == 0) return;
    directives_clear(&l->measuring);
    directives_add_all(&l->measuring, &l->stale);
    char why[64];
    snprintf(why, sizeof why, "%zu directive%s to measure", n, n == 1 ? "" : "s");
    start_job(l, PW_PREVIEW_JOB_MEASURE, why);
}

/* The measurement ended with wait status ws: render what it measured. */
static void measure_finished(loop *l, int ws)
{
    child *c = &l->jobs[PW_PREVIEW_JOB_MEASURE];
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, sig = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
    double took = now_s() - c->started;
    if (c->interrupted) {
        pw_preview_state_set_job(l->state, PW_PREVIEW_JOB_MEASURE, false, NULL);
        say(l, "preview: the measurement was stopped after %.1f s", took);
        directives_clear(&l->measuring);
        if (l->stopping) return;
        request_render(l, "a measurement was stopped"); /* shows what it finished */
        if (l->remeasure) {
            l->remeasure = false;
            plan_measurement(l);
        }
        return;
    }
    /* Tried: what it saved (each result with the key it was measured under), or — when it saved
     * nothing, having crashed — what it was started for, so that it is not started again and again. */
    json_t *doc = pw_json_load_file(l->measured_path, 0, NULL);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "results"), i, r) {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *key = json_string_value(json_object_get(json_object_get(r, "run"), "cache_key"));
        if (id && key) directives_add(&l->tried, id, key);
    }
    if (!doc) directives_add_all(&l->tried, &l->measuring);
    json_decref(doc);
    directives_clear(&l->measuring);
    if (code == 0 || code == 2) {
        pw_preview_state_set_job(l->state, PW_PREVIEW_JOB_MEASURE, false, NULL);
        say(l, "preview: measured in %.1f s%s", took, code == 2 ? " (an experiment ended in ERROR; see the page)" : "");
    } else {
        char msg[200];
        const char *name = sig ? sigabbrev_np(sig) : NULL;
        if (sig)
            snprintf(msg, sizeof msg, "the measurement (perfweave report --measure-only) crashed with signal %d%s%s%s", sig,
                     name ? " (SIG" : "", name ? name : "", name ? ")" : "");
        else
            snprintf(msg, sizeof msg, "the measurement (perfweave report --measure-only) failed with exit status %d", code);
        pw_preview_state_job_failed(l->state, PW_PREVIEW_JOB_MEASURE, msg);
        say(l, "preview: %s; its output is above", msg);
    }
    request_render(l, "measured");
}

/* --- rendering ----------------------------------------------------------------------------------- */

/* The render ended with wait status ws: publish what it means, and measure what it lists. */
static void render_finished(loop *l, int ws)
{
    child *c = &l->jobs[PW_PREVIEW_JOB_RENDER];
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
    /* Its outcome as data, when it wrote one and it is this render's (the file was removed
     * before it started). */
    json_t *status = code >= 0 ? pw_json_load_file(l->status_path, 0, NULL) : NULL;
    if (status && json_integer_value(json_object_get(status, "exit")) != code) {
        json_decref(status);
        status = NULL;
    }
    json_t *diags = code == 1 && status ? pw_preview_status_diagnostics(status) : NULL;
    if (!diags) diags = pw_preview_diagnostics(c->out.data, c->out.len, code, sig);
    size_t nd = json_array_size(diags);
    bool published = code == 0 || code == 2;
    if (published) {
        directives_clear(&l->stale);
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(status, "pending"), i, p) {
            const char *id = json_string_value(json_object_get(p, "id"));
            const char *key = json_string_value(json_object_get(p, "key"));
            if (id) directives_add(&l->stale, id, key ? key : id);
        }
    }
    json_decref(status);
    pw_preview_state_render_done(l->state, token, diags);
    if (published) pw_preview_state_set_pending(l->state, l->stale.n);
    if (published)
        say(l, "preview: rendered in %.1f s%s%s", took, code == 2 ? " (an experiment ended in ERROR; see the page)" : "",
            l->stale.n ? "; some results are not measured yet" : "");
    else if (code >= 0)
        say(l, "preview: the render failed (exit status %d, %zu diagnostic%s); still serving the last good report", code,
            nd, nd == 1 ? "" : "s");
    else
        say(l, "preview: the renderer crashed (signal %d); still serving the last good report", sig);
    if (published) plan_measurement(l);
}

static void finished(loop *l, pw_preview_job job, int ws)
{
    child *c = &l->jobs[job];
    drain(l, c); /* what it wrote last; a grandchild holding the pipe open is not waited for */
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->pid = 0;
    c->kill_at = 0;
    if (job == PW_PREVIEW_JOB_RENDER) render_finished(l, ws);
    else measure_finished(l, ws);
}

static void reap(loop *l)
{
    for (int j = 0; j < PW_PREVIEW_NJOBS; j++) {
        child *c = &l->jobs[j];
        int ws;
        if (c->pid && waitpid(c->pid, &ws, WNOHANG) == c->pid) finished(l, (pw_preview_job)j, ws);
    }
    if (l->dirty && !l->jobs[PW_PREVIEW_JOB_RENDER].pid && !l->stopping) {
        l->dirty = false;
        start_job(l, PW_PREVIEW_JOB_RENDER, "changed during the last render");
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

/* Stops every running child (sig first; SIGKILL after STOP_GRACE_MS or a second stopping
 * signal) and waits for them, so that nothing of them is left running or half-published; starts
 * nothing from then on. */
static void stop_all(loop *l, int sig)
{
    l->stopping = true;
    l->dirty = false;
    bool any = false;
    for (int j = 0; j < PW_PREVIEW_NJOBS; j++) {
        child *c = &l->jobs[j];
        if (!c->pid) continue;
        any = true;
        c->interrupted = true;
        kill(c->pid, sig);
        say(l, "preview: waiting for the running %s to stop", job_words[j]);
    }
    if (!any) return;
    double deadline = now_s() + STOP_GRACE_MS / 1000.0;
    bool killed = false;
    for (;;) {
        struct pollfd p[1 + PW_PREVIEW_NJOBS];
        child *of[1 + PW_PREVIEW_NJOBS];
        nfds_t np = 0;
        bool running = false;
        p[np++] = (struct pollfd){l->sigfd, POLLIN, 0};
        for (int j = 0; j < PW_PREVIEW_NJOBS; j++) {
            child *c = &l->jobs[j];
            running = running || c->pid;
            if (c->fd >= 0) {
                of[np] = c;
                p[np++] = (struct pollfd){c->fd, POLLIN, 0};
            }
        }
        if (!running) break;
        int left = (int)((deadline - now_s()) * 1000);
        if (left <= 0) killed = true;
        struct signalfd_siginfo si;
        while (read(l->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
            if ((int)si.ssi_signo != SIGCHLD) killed = true; /* a second Ctrl-C: no more waiting */
        for (int j = 0; j < PW_PREVIEW_NJOBS; j++) {
            child *c = &l->jobs[j];
            int ws;
            if (c->pid && killed) kill(-c->pid, SIGKILL); /* its group: the experiment it runs too */
            if (c->pid && waitpid(c->pid, &ws, WNOHANG) == c->pid) finished(l, (pw_preview_job)j, ws);
        }
        poll(p, np, left > 0 ? (left < 100 ? left : 100) : 100);
        for (nfds_t i = 1; i < np; i++)
            if (p[i].revents) drain(l, of[i]);
    }
}

/* Children told to stop that did not within the grace period are killed. */
static void kill_overdue(loop *l)
{
    double t = now_s();
    for (int j = 0; j < PW_PREVIEW_NJOBS; j++) {
        child *c = &l->jobs[j];
        if (c->pid && c->kill_at > 0 && t >= c->kill_at) {
            kill(-c->pid, SIGKILL); /* its group: the experiment it runs too */
            c->kill_at = 0;
        }
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
    if (kinds & (PW_PREVIEW_CHAPTER | PW_PREVIEW_TEMPLATE)) request_render(l, l->changed);
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

/* The private folder where renders and measurements leave what the loop reads. */
static int make_tmpdir(loop *l)
{
    const char *tmp = getenv("TMPDIR");
    char *templ = pw_xasprintf("%s/perfweave-preview-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(templ)) {
        free(templ);
        return -1;
    }
    l->tmpdir = templ;
    l->status_path = pw_xasprintf("%s/render-status.json", templ);
    l->measured_path = pw_xasprintf("%s/measured.json", templ);
    return 0;
}

static void remove_tmpdir(loop *l)
{
    if (!l->tmpdir) return;
    DIR *d = opendir(l->tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char *path = pw_xasprintf("%s/%s", l->tmpdir, e->d_name);
        unlink(path);
        free(path);
    }
    if (d) closedir(d);
    rmdir(l->tmpdir);
    free(l->tmpdir);
    free(l->status_path);
    free(l->measured_path);
}

int pw_preview_run(const pw_preview_options *o, pw_preview_outcome *out)
{
    out->signal = 0;
    out->restart_fd = -1;
    loop l;
    memset(&l, 0, sizeof l);
    l.o = o;
    l.sigfd = l.devnull = -1;
    for (int j = 0; j < PW_PREVIEW_NJOBS; j++) {
        l.jobs[j].job = (pw_preview_job)j;
        l.jobs[j].fd = -1;
        pw_buf_init(&l.jobs[j].out);
        pw_buf_init(&l.jobs[j].line);
    }
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
    if (l.sigfd < 0 || l.devnull < 0 || !l.watch || make_tmpdir(&l) != 0) {
        say(&l, "preview: cannot set up signals, file watching and a temporary folder: %s", strerror(errno));
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
    for (int j = 0; j < PW_PREVIEW_NJOBS; j++) l.argv[j] = job_argv(&l, (pw_preview_job)j);
    start_job(&l, PW_PREVIEW_JOB_RENDER, "first render");
    status = PW_OK;
    bool restart = false;
    int debounce = o->debounce_ms > 0 ? o->debounce_ms : 100;
    while (!out->signal && !restart) {
        double wake = l.pending ? l.due : 0;
        for (int j = 0; j < PW_PREVIEW_NJOBS; j++)
            if (l.jobs[j].pid && l.jobs[j].kill_at > 0 && (wake == 0 || l.jobs[j].kill_at < wake)) wake = l.jobs[j].kill_at;
        int timeout = -1;
        if (wake > 0) {
            timeout = (int)((wake - now_s()) * 1000) + 1;
            if (timeout < 0) timeout = 0;
        }
        struct pollfd p[2 + PW_PREVIEW_NJOBS] = {{l.sigfd, POLLIN, 0}, {pw_preview_watch_fd(l.watch), POLLIN, 0}};
        child *of[2 + PW_PREVIEW_NJOBS];
        nfds_t np = 2;
        for (int j = 0; j < PW_PREVIEW_NJOBS; j++)
            if (l.jobs[j].fd >= 0) {
                of[np] = &l.jobs[j];
                p[np++] = (struct pollfd){l.jobs[j].fd, POLLIN, 0};
            }
        if (poll(p, np, timeout) < 0 && errno != EINTR) {
            say(&l, "preview: poll: %s", strerror(errno));
            break;
        }
        for (nfds_t i = 2; i < np; i++)
            if (p[i].revents) drain(&l, of[i]);
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
        kill_overdue(&l);
        if (l.pending && now_s() >= l.due) restart = act(&l);
    }
    if (out->signal) say(&l, "preview: stopping (signal %d)", out->signal);
    stop_all(&l, out->signal ? out->signal : SIGINT);
    pw_preview_state_stop(l.state);
    if (restart) out->restart_fd = pw_preview_server_quiesce(l.server);
out:
    pw_preview_server_free(l.server);
    pw_preview_watch_free(l.watch);
    pw_preview_state_free(l.state);
    remove_tmpdir(&l);
    for (int j = 0; j < PW_PREVIEW_NJOBS; j++) {
        free(l.argv[j]);
        pw_buf_release(&l.jobs[j].out);
        pw_buf_release(&l.jobs[j].line);
    }
    directives_clear(&l.stale);
    directives_clear(&l.measuring);
    directives_clear(&l.tried);
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
