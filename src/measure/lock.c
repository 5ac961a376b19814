/* lock.c — the machine-wide measurement lock (see lock.h): an flock on a node-local file that
 * also carries a record of its holder, opened in the order protected_regular allows. */
#include "perfweave/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/common.h"

#define RECORD_MAX 1024

struct pw_lock {
    char *path;
    double max_wait_s;
    char *command;  /* NULL: read /proc/self/cmdline when recording */
    pw_lock_notify_fn notify;
    void *notify_arg;
    int (*interrupted)(void);
    int fd;         /* -1 when not held */
    bool writable;  /* the record can be written */
    /* A wait in progress across calls of pw_lock_acquire_within (wait_fd -1: none). */
    int wait_fd;
    bool wait_writable;
    double wait_start;       /* CLOCK_MONOTONIC seconds of its first attempt */
    bool waiting;            /* PW_LOCK_WAITING was sent */
    pw_lock_holder last;     /* the holder last seen */
};

void pw_lock_options_default(pw_lock_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_wait_s = PW_LOCK_MAX_WAIT_S;
}

char *pw_lock_default_path(void)
{
    const char *env = getenv(PW_LOCK_ENV);
    if (env && *env) return pw_xstrdup(env);
    struct stat st;
    if (stat("/run/lock", &st) == 0 && S_ISDIR(st.st_mode))
        return pw_xstrdup("/run/lock/" PW_LOCK_NAME);
    return pw_xstrdup("/tmp/" PW_LOCK_NAME);
}

pw_lock *pw_lock_new(const pw_lock_options *o)
{
    pw_lock_options def;
    if (!o) {
        pw_lock_options_default(&def);
        o = &def;
    }
    pw_lock *l = pw_xcalloc(1, sizeof *l);
    l->path = o->path ? pw_xstrdup(o->path) : pw_lock_default_path();
    l->max_wait_s = o->max_wait_s > 0 ? o->max_wait_s : 0;
    l->command = o->command ? pw_xstrdup(o->command) : NULL;
    l->notify = o->notify;
    l->notify_arg = o->notify_arg;
    l->interrupted = o->interrupted;
    l->fd = -1;
    l->wait_fd = -1;
    return l;
}

void pw_lock_free(pw_lock *l)
{
    if (!l) return;
    pw_lock_release(l);
    if (l->wait_fd >= 0) close(l->wait_fd);
    free(l->path);
    free(l->command);
    free(l);
}

bool pw_lock_held(const pw_lock *l)
{
    return l->fd >= 0;
}

const char *pw_lock_path(const pw_lock *l)
{
    return l->path;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void set_msg(char *msg, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_msg(char *msg, size_t size, const char *fmt, ...)
{
    if (!msg || !size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
}

/* Opens the lock file: an existing one without O_CREAT first (protected_regular), read-only when
 * it is not writable for us, else a new one with O_EXCL and mode 0666.  Returns the descriptor or
 * -1 with errno set; *writable says whether the record can be written. */
static int open_lock_file(const char *path, bool *writable)
{
    const int common = O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
    for (int attempt = 0; attempt < 5; attempt++) {
        int fd = open(path, O_RDWR | common);
        *writable = fd >= 0;
        if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
            fd = open(path, O_RDONLY | common);
        if (fd >= 0) return fd;
        if (errno != ENOENT) return -1;
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | common, 0666);
        if (fd >= 0) {
            fchmod(fd, 0666); /* whatever the umask: every user must be able to open it */
            *writable = true;
            return fd;
        }
        if (errno != EEXIST) return -1;
        /* Another process created it between the two opens: open it as an existing file. */
    }
    errno = EAGAIN;
    return -1;
}

/* This process's command line from /proc/self/cmdline, arguments joined by spaces, unprintable
 * bytes as '?', into buf. */
static void own_command(char *buf, size_t size)
{
    buf[0] = '\0';
    size_t len = 0;
    char *text = pw_read_file("/proc/self/cmdline", &len);
    if (!text) return;
    while (len > 0 && text[len - 1] == '\0') len--;
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        buf[k++] = c == '\0' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    buf[k] = '\0';
    free(text);
}

/* One line of the record without control characters (the command line may hold anything). */
static void clean_line(char *dst, size_t size, const char *src)
{
    size_t k = 0;
    for (; *src && k + 1 < size; src++)
        dst[k++] = ((unsigned char)*src < 0x20 || *src == 0x7f) ? '?' : *src;
    dst[k] = '\0';
}

/* Writes the holder record into the locked file (best effort: a record is information only). */
static void write_record(pw_lock *l)
{
    if (!l->writable) return;
    char cmd[256], host[64] = "", since[32] = "";
    if (l->command) clean_line(cmd, sizeof cmd, l->command);
    else own_command(cmd, sizeof cmd);
    if (gethostname(host, sizeof host) != 0) host[0] = '\0';
    host[sizeof host - 1] = '\0';
    double now = wall_now();
    time_t t = (time_t)now;
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char rec[RECORD_MAX];
    int n = snprintf(rec, sizeof rec,
                     "perfweave measurement lock\npid: %ld\nuid: %ld\nhost: %s\nsince: %s\n"
                     "since_epoch: %.6f\ncommand: %s\n",
                     (long)getpid(), (long)getuid(), host, since, now, cmd);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof rec ? (size_t)n : sizeof rec - 1;
    if (ftruncate(l->fd, 0) != 0) return;
    ssize_t w = pwrite(l->fd, rec, len, 0);
    (void)w;
}

/* Copies the value of "key: value" from the record into dst (size bytes), or leaves it empty. */
static void record_field(const char *text, const char *key, char *dst, size_t size)
{
    dst[0] = '\0';
    size_t klen = strlen(key);
    for (const char *line = text; line && *line; ) {
        const char *end = strchr(line, '\n');
        size_t llen = end ? (size_t)(end - line) : strlen(line);
        if (llen > klen + 1 && strncmp(line, key, klen) == 0 && line[klen] == ':') {
            const char *v = line + klen + 1;
            while (*v == ' ') v++;
            size_t vlen = llen - (size_t)(v - line);
            if (vlen >= size) vlen = size - 1;
            memcpy(dst, v, vlen);
            dst[vlen] = '\0';
            return;
        }
        line = end ? end + 1 : NULL;
    }
}

int pw_lock_parse_holder(const char *text, pw_lock_holder *h)
{
    memset(h, 0, sizeof *h);
    h->uid = -1;
    if (!text) return PW_ENOTFOUND;
    char num[64];
    char *end;
    record_field(text, "pid", num, sizeof num);
    long pid = strtol(num, &end, 10);
    if (num[0] && *end == '\0' && pid > 0) h->pid = pid;
    record_field(text, "uid", num, sizeof num);
    long uid = strtol(num, &end, 10);
    if (num[0] && *end == '\0' && uid >= 0) h->uid = uid;
    record_field(text, "since_epoch", num, sizeof num);
    double se = strtod(num, &end);
    if (num[0] && *end == '\0' && isfinite(se) && se > 0) h->since_epoch = se;
    record_field(text, "host", h->host, sizeof h->host);
    record_field(text, "since", h->since, sizeof h->since);
    record_field(text, "command", h->command, sizeof h->command);
    return h->pid ? PW_OK : PW_ENOTFOUND;
}

/* Reads the current holder's record through fd (a record being written may read as empty). */
static void read_holder(int fd, pw_lock_holder *h)
{
    char text[RECORD_MAX + 1];
    ssize_t got = pread(fd, text, RECORD_MAX, 0);
    text[got > 0 ? got : 0] = '\0';
    pw_lock_parse_holder(text, h);
    h->alive = h->pid > 0 && (kill((pid_t)h->pid, 0) == 0 || errno == EPERM);
}

static bool same_holder(const pw_lock_holder *a, const pw_lock_holder *b)
{
    return a->pid == b->pid && a->since_epoch == b->since_epoch;
}

/* Sleeps up to s seconds; a signal ends the sleep early (the caller checks interrupted). */
static void nap(double s)
{
    if (!(s > 0)) return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Ends the wait in progress (closing its descriptor unless it became the lock's). */
static void end_wait(pw_lock *l)
{
    if (l->wait_fd >= 0 && l->wait_fd != l->fd) close(l->wait_fd);
    l->wait_fd = -1;
    l->waiting = false;
}

int pw_lock_acquire_within(pw_lock *l, double slice_s, pw_lock_holder *holder, char *msg,
                           size_t msgsize)
{
    if (l->fd >= 0) return PW_OK;
    if (l->wait_fd < 0) { /* a new wait */
        bool writable = false;
        int fd = open_lock_file(l->path, &writable);
        if (fd < 0) {
            set_msg(msg, msgsize, "cannot open the measurement lock %s: %s (set %s to a node-local "
                    "file every user can open)", l->path, strerror(errno), PW_LOCK_ENV);
            return PW_EIO;
        }
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            set_msg(msg, msgsize, "the measurement lock %s is not a regular file", l->path);
            close(fd);
            return PW_EIO;
        }
        l->wait_fd = fd;
        l->wait_writable = writable;
        l->wait_start = mono_now();
        l->waiting = false;
        memset(&l->last, 0, sizeof l->last);
        l->last.uid = -1;
    }
    const double slice_start = mono_now();
    pw_lock_holder seen;
    int status;
    for (;;) {
        if (flock(l->wait_fd, LOCK_EX | LOCK_NB) == 0) {
            l->fd = l->wait_fd;
            l->writable = l->wait_writable;
            write_record(l);
            if (l->waiting && l->notify)
                l->notify(l->notify_arg, PW_LOCK_ACQUIRED, l->path, &l->last, l->max_wait_s,
                          mono_now() - l->wait_start);
            end_wait(l);
            return PW_OK;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            set_msg(msg, msgsize, "cannot lock %s: %s", l->path, strerror(errno));
            status = PW_EIO;
            goto fail;
        }
        read_holder(l->wait_fd, &seen);
        if (!seen.pid) { /* the holder may be writing its record right now: look once more */
            nap(0.02);
            read_holder(l->wait_fd, &seen);
        }
        double waited = mono_now() - l->wait_start;
        if (!(waited < l->max_wait_s)) {
            l->last = seen;
            if (l->max_wait_s > 0)
                set_msg(msg, msgsize, "the measurement lock %s is still held after waiting %.*f s",
                        l->path, waited < 10 ? 1 : 0, waited);
            else
                set_msg(msg, msgsize, "the measurement lock %s is held by another process",
                        l->path);
            status = PW_EBUSY;
            goto fail;
        }
        if (!l->waiting || !same_holder(&seen, &l->last)) {
            l->last = seen;
            if (l->notify)
                l->notify(l->notify_arg, PW_LOCK_WAITING, l->path, &l->last, l->max_wait_s, waited);
        }
        l->waiting = true;
        if (l->interrupted && l->interrupted()) {
            set_msg(msg, msgsize, "interrupted while waiting for the measurement lock %s", l->path);
            status = PW_EINTR;
            goto fail;
        }
        double left = l->max_wait_s - waited, nap_s = left < PW_LOCK_POLL_S ? left : PW_LOCK_POLL_S;
        if (slice_s >= 0) {
            double slice_left = slice_s - (mono_now() - slice_start);
            if (!(slice_left > 0)) {
                if (holder) *holder = l->last;
                set_msg(msg, msgsize, "still waiting for the measurement lock %s", l->path);
                return PW_EAGAIN; /* the wait goes on at the next call */
            }
            if (slice_left < nap_s) nap_s = slice_left;
        }
        nap(nap_s);
        if (l->interrupted && l->interrupted()) {
            set_msg(msg, msgsize, "interrupted while waiting for the measurement lock %s", l->path);
            status = PW_EINTR;
            goto fail;
        }
    }
fail:
    if (holder) *holder = l->last;
    end_wait(l);
    return status;
}

int pw_lock_acquire(pw_lock *l, pw_lock_holder *holder, char *msg, size_t msgsize)
{
    return pw_lock_acquire_within(l, -1, holder, msg, msgsize);
}

void pw_lock_release(pw_lock *l)
{
    if (!l) return;
    end_wait(l);
    if (l->fd < 0) return;
    if (l->writable && ftruncate(l->fd, 0) != 0) {
        /* a stale record in a free lock is harmless: the next holder overwrites it */
    }
    flock(l->fd, LOCK_UN);
    close(l->fd);
    l->fd = -1;
}

/* --- sentences ------------------------------------------------------------------------------ */

void pw_lock_describe_holder(const pw_lock_holder *h, char *buf, size_t size)
{
    if (!h->pid) {
        snprintf(buf, size, "another process (its record is missing or not readable)");
        return;
    }
    char user[48] = "";
    if (h->uid >= 0) snprintf(user, sizeof user, ", user %ld", h->uid);
    snprintf(buf, size, "pid %ld (%s%s%s%s)%s%s%s", h->pid, h->command[0] ? h->command : "command unknown",
             user, h->host[0] ? " on " : "", h->host, h->since[0] ? " since " : "", h->since,
             h->alive ? "" : "; that process is gone, a measurement it started may still run");
}

/* "12.5 s", "3 min": a duration as a person reads it. */
static void duration_text(char *buf, size_t size, double s)
{
    if (s >= 120) snprintf(buf, size, "%.0f min", s / 60);
    else snprintf(buf, size, "%.*f s", s < 10 ? 1 : 0, s);
}

void pw_lock_describe_event(pw_lock_event ev, const char *path, const pw_lock_holder *h,
                            double max_wait_s, double waited_s, char *buf, size_t size)
{
    if (ev == PW_LOCK_ACQUIRED) {
        snprintf(buf, size, "measurement lock taken after waiting %.1f s", waited_s);
        return;
    }
    char desc[512], limit[32];
    pw_lock_describe_holder(h, desc, sizeof desc);
    duration_text(limit, sizeof limit, max_wait_s);
    snprintf(buf, size, "waiting for the measurement lock %s, held by %s; waiting up to %s "
             "(--no-wait fails at once)", path, desc, limit);
}

void pw_lock_describe_failure(const pw_lock *l, int status, const char *msg,
                              const pw_lock_holder *h, char *buf, size_t size)
{
    char desc[512];
    if (status != PW_EBUSY) {
        snprintf(buf, size, "%s", msg);
        return;
    }
    pw_lock_describe_holder(h, desc, sizeof desc);
    if (l->max_wait_s > 0)
        snprintf(buf, size, "%s, held by %s; giving up (--max-wait SECONDS waits longer)", msg, desc);
    else
        snprintf(buf, size, "the measurement lock %s is held by %s; not waiting (--no-wait)",
                 l->path, desc);
}
