/* isolate.c — one experiment per child process: fork, pin, limit, collect the JSON result from
 * a pipe and the stderr tail from another, classify how the child ended (see isolate.h).  A run
 * is three steps (start, poll, finish) so that an executor can wait for it without blocking;
 * pw_isolate_run chains them. */
#include "perfweave/isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/common.h"
#include "perfweave/contention.h"

#define STDERR_TAIL 4000
_Static_assert(PW_ISOLATE_CPU_AUTO == PW_CONTENTION_AUTO, "one value for 'choose the CPU'");

/* The one piece of process state here: the signal handler can only set a flag. */
static volatile sig_atomic_t interrupted_by;

static void on_signal(int sig)
{
    interrupted_by = sig;
}

void pw_isolate_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: poll() returns EINTR at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int pw_isolate_interrupted(void)
{
    return interrupted_by;
}

void pw_isolate_limits_default(pw_isolate_limits *lim, bool quick)
{
    lim->timeout_s = quick ? 60 : 900;
    lim->memory_mb = 16384;
    lim->cpu = PW_ISOLATE_CPU_AUTO;
    lim->quick = quick;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds since the epoch: when a measurement started and ended, comparable across processes. */
static double epoch_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

pw_result *pw_isolate_run_inline(const pw_experiment *e, const char *id, json_t *params, bool quick)
{
    pw_result *r = pw_result_new(e->name, id);
    pw_run *run = pw_run_new(e, params, r, quick);
    int status = e->run(run);
    if (status != PW_OK && !pw_result_failed(r))
        pw_result_error(r, "experiment returned status %d (%s) without a reason", status,
                        pw_strerror(status));
    pw_run_free(run);
    return r;
}

/* The child: limits, affinity, run, write the JSON document to fd, exit. */
static void child_main(const pw_experiment *e, const char *id, json_t *params,
                       const pw_isolate_limits *lim, int fd)
{
    if (lim->memory_mb > 0) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)(lim->memory_mb * 1024.0 * 1024.0);
        setrlimit(RLIMIT_AS, &rl);
    }
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    if (lim->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(lim->cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    pw_result *r = pw_isolate_run_inline(e, id, params, lim->quick);
    char *text = json_dumps(pw_result_json(r), JSON_COMPACT);
    int ok = text != NULL;
    size_t len = text ? strlen(text) : 0, done = 0;
    while (ok && done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) ok = 0;
        else done += (size_t)w;
    }
    close(fd);
    fflush(NULL);
    _exit(ok ? 0 : 3);
}

/* Keeps the last STDERR_TAIL bytes of the child's output, as ASCII (a cut could split a UTF-8
 * sequence, and the tail goes into JSON). */
static void keep_tail(pw_buf *tail, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)data[i];
        pw_buf_putc(tail, (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\t')) ? '?' : (char)c);
    }
    if (tail->len > 2 * STDERR_TAIL) {
        size_t cut = tail->len - STDERR_TAIL;
        memmove(tail->data, tail->data + cut, tail->len - cut + 1);
        tail->len -= cut;
    }
}

static const char *tail_text(pw_buf *tail)
{
    if (tail->len > STDERR_TAIL) return tail->data + tail->len - STDERR_TAIL;
    return tail->data;
}

/* One child in flight.  A start that failed before the child existed (no pipe, no fork) carries
 * its ERROR result in `early` and no process. */
struct pw_isolate_child {
    pid_t pid;                 /* 0 when the start failed */
    struct pollfd fds[2];      /* the result pipe and the stderr/stdout pipe; fd -1 once closed */
    int open_fds;
    pw_buf doc, tail;
    double start;
    bool timed_out;
    bool killed;               /* by pw_isolate_kill */
    pw_isolate_limits lim;
    char *experiment, *id;
    pw_result *early;
    pw_contention *ct;         /* readings around the measurement (contention.h) */
    double started_at;         /* epoch seconds */
};

static pw_isolate_child *child_failed(const pw_experiment *e, const char *id, const char *what, int err)
{
    pw_isolate_child *c = pw_xcalloc(1, sizeof *c);
    c->early = pw_result_new(e->name, id);
    pw_result_error(c->early, "%s: %s", what, strerror(err));
    return c;
}

pw_isolate_child *pw_isolate_start(const pw_experiment *e, const char *id, json_t *params,
                                   const pw_isolate_limits *lim)
{
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0) return child_failed(e, id, "cannot create a pipe", errno);
    if (pipe2(err, O_CLOEXEC) != 0) {
        int saved = errno;
        close(out[0]);
        close(out[1]);
        return child_failed(e, id, "cannot create a pipe", saved);
    }
    /* Contention (contention.h): choose the measuring CPU and watch the measurement. */
    pw_contention *ct = pw_contention_begin(lim->cpu);
    pw_isolate_limits pinned = *lim;
    pinned.cpu = pw_contention_cpu(ct);
    lim = &pinned;

    fflush(NULL);
    double start = now_s(), started_at = epoch_s();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        pw_contention_free(ct);
        close(out[0]); close(out[1]); close(err[0]); close(err[1]);
        return child_failed(e, id, "cannot fork", saved);
    }
    if (pid == 0) {
        /* Dies with the parent: an orphan would go on measuring (and holding the measurement
         * lock it inherited) with nobody to enforce its time limit. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(3);
        close(out[0]);
        close(err[0]);
        dup2(err[1], STDERR_FILENO);
        dup2(err[1], STDOUT_FILENO);
        close(err[1]);
        signal(SIGINT, SIG_IGN); /* the parent decides what an interrupt means */
        signal(SIGTERM, SIG_DFL);
        child_main(e, id, params, lim, out[1]);
    }
    close(out[1]);
    close(err[1]);
    pw_isolate_child *c = pw_xcalloc(1, sizeof *c);
    c->pid = pid;
    c->fds[0] = (struct pollfd){out[0], POLLIN, 0};
    c->fds[1] = (struct pollfd){err[0], POLLIN, 0};
    c->open_fds = 2;
    pw_buf_init(&c->doc);
    pw_buf_init(&c->tail);
    c->start = start;
    c->lim = *lim;
    c->experiment = pw_xstrdup(e->name);
    c->id = pw_xstrdup(id);
    c->ct = ct;
    c->started_at = started_at;
    return c;
}

bool pw_isolate_poll(pw_isolate_child *c, double timeout_s)
{
    if (c->early || c->killed) return true;
    double until = timeout_s >= 0 ? now_s() + timeout_s : INFINITY;
    while (c->open_fds > 0) {
        if (interrupted_by) return false;
        double now = now_s();
        double left = c->lim.timeout_s > 0 ? c->lim.timeout_s - (now - c->start) : 1e9;
        if (left <= 0) {
            c->timed_out = true;
            kill(c->pid, SIGKILL);
            return true;
        }
        double span = until - now < left ? until - now : left;
        if (span < 0) return false;
        int ms = span > 1e6 ? 1000000000 : (int)(span * 1000) + 1;
        if (ms > (int)(PW_CONTENTION_SAMPLE_S * 1000)) ms = (int)(PW_CONTENTION_SAMPLE_S * 1000);
        int n = poll(c->fds, 2, ms);
        pw_contention_sample(c->ct, (long)c->pid);
        if (n < 0) {
            if (errno == EINTR) continue;
            return true; /* poll itself failed: finish with what was read */
        }
        if (n == 0 && now_s() >= until) return false;
        for (int i = 0; i < 2; i++) {
            if (c->fds[i].fd < 0 || !(c->fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char chunk[65536];
            ssize_t got = read(c->fds[i].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                close(c->fds[i].fd);
                c->fds[i].fd = -1;
                c->open_fds--;
                continue;
            }
            if (i == 0) pw_buf_put(&c->doc, chunk, (size_t)got);
            else keep_tail(&c->tail, chunk, (size_t)got);
        }
    }
    return true;
}

void pw_isolate_kill(pw_isolate_child *c)
{
    if (c->early || c->killed) return;
    c->killed = true;
    kill(c->pid, SIGKILL);
}

pw_result *pw_isolate_finish(pw_isolate_child *c)
{
    if (c->early) {
        pw_result *r = c->early;
        free(c);
        return r;
    }
    for (int i = 0; i < 2; i++)
        if (c->fds[i].fd >= 0) close(c->fds[i].fd);

    int wstatus = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(c->pid, &wstatus, 0, &ru) < 0 && errno == EINTR) {}
    double seconds = now_s() - c->start, finished_at = epoch_s();
    pw_contention_end(c->ct, &ru, seconds);

    pw_result *r = NULL;
    const pw_isolate_limits *lim = &c->lim;
    pw_buf *doc = &c->doc, *tail = &c->tail;
    if (interrupted_by) {
        r = pw_result_new(c->experiment, c->id);
        pw_result_error(r, "interrupted by signal %d before it finished", (int)interrupted_by);
    } else if (c->killed) {
        r = pw_result_new(c->experiment, c->id);
        pw_result_error(r, "cancelled after %.0f s, before it finished", seconds);
    } else if (!c->timed_out && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && doc->len > 0) {
        json_error_t jerr;
        json_t *parsed = json_loads(doc->data, 0, &jerr);
        const char *why = NULL;
        if (parsed) r = pw_result_from_json(parsed, &why);
        json_decref(parsed);
        if (!r) {
            r = pw_result_new(c->experiment, c->id);
            pw_result_error(r, "the experiment wrote an unreadable result (%s)",
                            why ? why : jerr.text);
        }
    } else {
        r = pw_result_new(c->experiment, c->id);
        const char *t = tail_text(tail);
        if (c->timed_out)
            pw_result_error(r, "timed out after %.0f s (limit %.0f s; raise it with 'timeout:')",
                            seconds, lim->timeout_s);
        else if (WIFSIGNALED(wstatus))
            pw_result_error(r, "crashed with signal %d (%s)%s%s", WTERMSIG(wstatus),
                            strsignal(WTERMSIG(wstatus)), *t ? "; its last output: " : "", t);
        else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0)
            pw_result_error(r, "exited with status %d without a result (memory limit %.0f MB)%s%s",
                            WEXITSTATUS(wstatus), lim->memory_mb, *t ? "; its last output: " : "", t);
        else
            pw_result_error(r, "ended without writing a result%s%s", *t ? "; its last output: " : "", t);
    }
    json_t *runinfo = json_pack("{s:f, s:i, s:b, s:i, s:f, s:f}", "seconds", seconds,
                                "peak_rss_kib", (json_int_t)ru.ru_maxrss, "quick", lim->quick,
                                "cpu", lim->cpu, "started_at", c->started_at, "finished_at",
                                finished_at);
    if (tail->len) json_object_set_new(runinfo, "stderr_tail", json_string(tail_text(tail)));
    json_object_set_new(pw_result_json(r), "run", runinfo);
    pw_contention_publish(c->ct, r);
    pw_contention_free(c->ct);
    pw_buf_release(doc);
    pw_buf_release(tail);
    free(c->experiment);
    free(c->id);
    free(c);
    return r;
}

pw_result *pw_isolate_run(const pw_experiment *e, const char *id, json_t *params,
                          const pw_isolate_limits *lim)
{
    pw_isolate_child *c = pw_isolate_start(e, id, params, lim);
    while (!pw_isolate_poll(c, -1))
        if (interrupted_by) pw_isolate_kill(c);
    return pw_isolate_finish(c);
}
