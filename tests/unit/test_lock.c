/* test_lock.c — the measurement lock: where it lives, the holder record, busy and waiting
 * outcomes, release on exit and on crash, O_CLOEXEC, another user opening the file in a sticky
 * directory; a wait in slices; the sentences for messages.  Nothing here asserts on a duration;
 * waits are bounded by a few tenths of a second. */
#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perfweave/common.h"
#include "perfweave/lock.h"

typedef struct {
    int waiting, acquired;
    pw_lock_holder last;
} events;

static void on_event(void *arg, pw_lock_event ev, const char *path, const pw_lock_holder *h,
                     double max_wait_s, double waited_s)
{
    events *e = arg;
    (void)path, (void)max_wait_s, (void)waited_s;
    if (ev == PW_LOCK_WAITING) e->waiting++;
    else e->acquired++;
    e->last = *h;
}

static pw_lock *make(const char *path, double wait, const char *cmd, events *ev)
{
    pw_lock_options o;
    pw_lock_options_default(&o);
    o.path = path;
    o.max_wait_s = wait;
    o.command = cmd;
    o.notify = ev ? on_event : NULL;
    o.notify_arg = ev;
    return pw_lock_new(&o);
}

static void test_default_path(void **state)
{
    (void)state;
    char *saved = getenv(PW_LOCK_ENV) ? pw_xstrdup(getenv(PW_LOCK_ENV)) : NULL;
    setenv(PW_LOCK_ENV, "/somewhere/else.lock", 1);
    char *p = pw_lock_default_path();
    assert_string_equal(p, "/somewhere/else.lock");
    free(p);
    unsetenv(PW_LOCK_ENV);
    p = pw_lock_default_path();
    struct stat st;
    bool run_lock = stat("/run/lock", &st) == 0 && S_ISDIR(st.st_mode);
    assert_string_equal(p, run_lock ? "/run/lock/perfweave-measure.lock" : "/tmp/perfweave-measure.lock");
    free(p);
    setenv(PW_LOCK_ENV, "", 1); /* empty counts as unset */
    p = pw_lock_default_path();
    assert_non_null(strstr(p, "perfweave-measure.lock"));
    free(p);
    if (saved) setenv(PW_LOCK_ENV, saved, 1);
    else unsetenv(PW_LOCK_ENV);
    free(saved);
    pw_lock_options o;
    pw_lock_options_default(&o);
    assert_close(o.max_wait_s, PW_LOCK_MAX_WAIT_S, 0);
    assert_null(o.path);
}

static void test_parse_holder(void **state)
{
    (void)state;
    pw_lock_holder h;
    assert_int_equal(pw_lock_parse_holder("perfweave measurement lock\npid: 4242\nuid: 1000\n"
                                          "host: node7\nsince: 2026-12-01T10:00:00Z\n"
                                          "since_epoch: 1796119200.5\ncommand: perfweave report --quick\n", &h),
                     PW_OK);
    assert_int_equal(h.pid, 4242);
    assert_int_equal(h.uid, 1000);
    assert_string_equal(h.host, "node7");
    assert_string_equal(h.since, "2026-12-01T10:00:00Z");
    assert_close(h.since_epoch, 1796119200.5, 0);
    assert_string_equal(h.command, "perfweave report --quick");
    /* Empty, partial and garbage records leave the fields unknown. */
    assert_int_equal(pw_lock_parse_holder("", &h), PW_ENOTFOUND);
    assert_int_equal(h.pid, 0);
    assert_int_equal(h.uid, -1);
    assert_int_equal(pw_lock_parse_holder("pid: 12x\ncommand: a\n", &h), PW_ENOTFOUND);
    assert_string_equal(h.command, "a");
    assert_int_equal(pw_lock_parse_holder(NULL, &h), PW_ENOTFOUND);
}

/* The descriptor of path among this process's open files, or -1. */
static int fd_of(const char *path)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int found = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        char link[300], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        if (strcmp(target, path) == 0) found = atoi(e->d_name);
    }
    closedir(d);
    return found;
}

static void test_acquire_busy_release(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *path = pw_xasprintf("%s/measure.lock", dir);
    pw_lock *a = make(path, 0, "perfweave run selftest.spin", NULL);
    char msg[256];
    assert_false(pw_lock_held(a));
    assert_int_equal(pw_lock_acquire(a, NULL, msg, sizeof msg), PW_OK);
    assert_true(pw_lock_held(a));
    assert_int_equal(pw_lock_acquire(a, NULL, msg, sizeof msg), PW_OK); /* twice is harmless */
    assert_string_equal(pw_lock_path(a), path);
    /* Created with a mode every user can open, and closed on exec. */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0666);
    int fd = fd_of(path);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    /* The record names this process. */
    char *text = pw_read_file(path, NULL);
    pw_lock_holder h;
    assert_int_equal(pw_lock_parse_holder(text, &h), PW_OK);
    free(text);
    assert_int_equal(h.pid, (long)getpid());
    assert_string_equal(h.command, "perfweave run selftest.spin");
    assert_non_null(strchr(h.since, 'T'));

    /* A second handle (another open file description) finds it busy: at once with no wait, with
     * the holder's record; after a short wait with one WAITING event; or when interrupted. */
    events ev = {0};
    pw_lock *b = make(path, 0, NULL, &ev);
    memset(&h, 0, sizeof h);
    assert_int_equal(pw_lock_acquire(b, &h, msg, sizeof msg), PW_EBUSY);
    assert_false(pw_lock_held(b));
    assert_int_equal(h.pid, (long)getpid());
    assert_true(h.alive);
    assert_string_equal(h.command, "perfweave run selftest.spin");
    assert_non_null(strstr(msg, "held by another process"));
    assert_int_equal(ev.waiting, 0); /* no wait, no waiting message */
    pw_lock_free(b);
    b = make(path, 0.25, NULL, &ev);
    assert_int_equal(pw_lock_acquire(b, &h, msg, sizeof msg), PW_EBUSY);
    assert_int_equal(ev.waiting, 1);
    assert_int_equal(ev.last.pid, (long)getpid());
    assert_non_null(strstr(msg, "still held after waiting"));
    pw_lock_free(b);

    /* Released: the record is cleared and the next handle takes it at once. */
    pw_lock_release(a);
    assert_false(pw_lock_held(a));
    text = pw_read_file(path, NULL);
    assert_string_equal(text, "");
    free(text);
    memset(&ev, 0, sizeof ev);
    b = make(path, 0, "second", &ev);
    assert_int_equal(pw_lock_acquire(b, NULL, msg, sizeof msg), PW_OK);
    assert_int_equal(ev.waiting + ev.acquired, 0);
    pw_lock_free(b); /* frees and releases */
    pw_lock_free(a);
    pw_lock_free(NULL);
    pw_test_rmtree(dir);
    free(path);
    free(dir);
}

/* A wait in slices (an executor with its own timeout): PW_EAGAIN while the wait goes on, one
 * WAITING event for the whole wait, the maximum counted from its first call; then PW_EBUSY, or the
 * lock once it is free.  And the sentences the commands and the executor show. */
static void test_acquire_within(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *path = pw_xasprintf("%s/measure.lock", dir);
    pw_lock *a = make(path, 0, "perfweave report --quick", NULL);
    char msg[256], text[1024];
    assert_int_equal(pw_lock_acquire_within(a, 0, NULL, msg, sizeof msg), PW_OK); /* free: at once */
    events ev = {0};
    pw_lock *b = make(path, 0.3, NULL, &ev);
    pw_lock_holder h;
    assert_int_equal(pw_lock_acquire_within(b, 0, &h, msg, sizeof msg), PW_EAGAIN);
    assert_int_equal(h.pid, (long)getpid());
    assert_int_equal(pw_lock_acquire_within(b, 0.01, &h, msg, sizeof msg), PW_EAGAIN);
    assert_int_equal(ev.waiting, 1); /* one wait, one message */
    int st;
    while ((st = pw_lock_acquire_within(b, 0.05, &h, msg, sizeof msg)) == PW_EAGAIN) {}
    assert_int_equal(st, PW_EBUSY);
    assert_non_null(strstr(msg, "still held after waiting"));
    pw_lock_describe_failure(b, st, msg, &h, text, sizeof text);
    assert_non_null(strstr(text, "(perfweave report --quick, user "));
    assert_non_null(strstr(text, "; giving up (--max-wait SECONDS waits longer)"));
    assert_false(pw_lock_held(b));

    /* A new wait (a new WAITING), and the lock as soon as the holder gives it back. */
    assert_int_equal(pw_lock_acquire_within(b, 0, &h, msg, sizeof msg), PW_EAGAIN);
    assert_int_equal(ev.waiting, 2);
    pw_lock_release(a);
    assert_int_equal(pw_lock_acquire_within(b, -1, &h, msg, sizeof msg), PW_OK);
    assert_true(pw_lock_held(b));
    assert_int_equal(ev.acquired, 1);
    /* A wait that pw_lock_release ends before it got anywhere. */
    events ev2 = {0};
    pw_lock *c = make(path, 10, NULL, &ev2);
    assert_int_equal(pw_lock_acquire_within(c, 0, &h, msg, sizeof msg), PW_EAGAIN);
    pw_lock_release(c);
    assert_false(pw_lock_held(c));
    pw_lock_free(c);

    /* The sentences. */
    pw_lock_holder none;
    memset(&none, 0, sizeof none);
    none.uid = -1;
    pw_lock_describe_holder(&none, text, sizeof text);
    assert_string_equal(text, "another process (its record is missing or not readable)");
    pw_lock_holder who = {42, 1000, "node1", "2026-12-01T10:00:00Z", 1.0, "perfweave run x", false};
    pw_lock_describe_holder(&who, text, sizeof text);
    assert_string_equal(text, "pid 42 (perfweave run x, user 1000 on node1) since 2026-12-01T10:00:00Z; "
                              "that process is gone, a measurement it started may still run");
    pw_lock_describe_event(PW_LOCK_WAITING, "/run/lock/x", &none, 1800, 0, text, sizeof text);
    assert_string_equal(text, "waiting for the measurement lock /run/lock/x, held by another process "
                              "(its record is missing or not readable); waiting up to 30 min (--no-wait fails at once)");
    pw_lock_describe_event(PW_LOCK_ACQUIRED, "/run/lock/x", &none, 1800, 2.5, text, sizeof text);
    assert_string_equal(text, "measurement lock taken after waiting 2.5 s");
    pw_lock *d = make(path, 0, NULL, NULL);
    pw_lock_describe_failure(d, PW_EBUSY, "held", &who, text, sizeof text);
    assert_non_null(strstr(text, "the measurement lock "));
    assert_non_null(strstr(text, " is held by pid 42 (perfweave run x"));
    assert_non_null(strstr(text, "; not waiting (--no-wait)"));
    pw_lock_describe_failure(d, PW_EIO, "cannot open the measurement lock", &who, text, sizeof text);
    assert_string_equal(text, "cannot open the measurement lock");
    pw_lock_free(d);
    pw_lock_free(b);
    pw_lock_free(a);
    pw_test_rmtree(dir);
    free(path);
    free(dir);
}

static int always(void)
{
    return 1;
}

static void test_interrupted_and_errors(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *path = pw_xasprintf("%s/measure.lock", dir);
    pw_lock *a = make(path, 0, "holder", NULL);
    char msg[256];
    assert_int_equal(pw_lock_acquire(a, NULL, msg, sizeof msg), PW_OK);
    pw_lock_options o;
    pw_lock_options_default(&o);
    o.path = path;
    o.interrupted = always;
    pw_lock *b = pw_lock_new(&o); /* would wait 30 min, but is interrupted */
    assert_int_equal(pw_lock_acquire(b, NULL, msg, sizeof msg), PW_EINTR);
    assert_non_null(strstr(msg, "interrupted"));
    pw_lock_free(b);
    pw_lock_free(a);
    /* A path that cannot be created, and one that is not a regular file. */
    char *bad = pw_xasprintf("%s/no/such/dir/x.lock", dir);
    a = make(bad, 0, NULL, NULL);
    assert_int_equal(pw_lock_acquire(a, NULL, msg, sizeof msg), PW_EIO);
    assert_non_null(strstr(msg, "cannot open the measurement lock"));
    assert_non_null(strstr(msg, PW_LOCK_ENV));
    pw_lock_free(a);
    a = make(dir, 0, NULL, NULL);
    assert_int_equal(pw_lock_acquire(a, NULL, msg, sizeof msg), PW_EIO);
    pw_lock_free(a);
    pw_test_rmtree(dir);
    free(bad);
    free(path);
    free(dir);
}

/* A holder that dies (killed, no clean-up) releases the lock; a waiter is told when it gets it. */
static void test_released_on_death(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *path = pw_xasprintf("%s/measure.lock", dir);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        pw_lock *l = make(path, 0, "doomed holder", NULL);
        if (pw_lock_acquire(l, NULL, NULL, 0) != PW_OK) _exit(1);
        if (write(ready[1], "x", 1) != 1) _exit(1);
        for (;;) pause(); /* until killed */
    }
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    events ev = {0};
    pw_lock *b = make(path, 0, NULL, &ev);
    pw_lock_holder h;
    char msg[256];
    assert_int_equal(pw_lock_acquire(b, &h, msg, sizeof msg), PW_EBUSY);
    assert_int_equal(h.pid, (long)pid);
    assert_string_equal(h.command, "doomed holder");
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    assert_int_equal(pw_lock_acquire(b, &h, msg, sizeof msg), PW_OK);
    pw_lock_release(b);

    /* A waiter gets an ACQUIRED event after the holder exits. */
    assert_int_equal(pipe(ready), 0);
    pid = fork();
    if (pid == 0) {
        close(ready[0]);
        pw_lock *l = make(path, 0, "brief holder", NULL);
        if (pw_lock_acquire(l, NULL, NULL, 0) != PW_OK) _exit(1);
        if (write(ready[1], "x", 1) != 1) _exit(1);
        usleep(200000);
        _exit(0); /* without releasing: exit closes the descriptor */
    }
    close(ready[1]);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    pw_lock_free(b);
    b = make(path, 60, NULL, &ev);
    assert_int_equal(pw_lock_acquire(b, NULL, msg, sizeof msg), PW_OK);
    assert_int_equal(ev.waiting, 1);
    assert_int_equal(ev.acquired, 1);
    assert_string_equal(ev.last.command, "brief holder");
    waitpid(pid, &st, 0);
    pw_lock_free(b);
    pw_test_rmtree(dir);
    free(path);
    free(dir);
}

/* Another user opens the file in a sticky world-writable directory: read-write when it was
 * created by perfweave (mode 0666), read-only (lock, no record) when it is 0644.  Needs root to
 * become another user; skipped otherwise. */
static void test_other_user(void **state)
{
    (void)state;
    if (geteuid() != 0) skip();
    char *dir = pw_test_tmpdir();
    assert_int_equal(chmod(dir, 01777), 0);
    char *path = pw_xasprintf("%s/measure.lock", dir);
    pw_lock *a = make(path, 0, "root's", NULL);
    char msg[256];
    assert_int_equal(pw_lock_acquire(a, NULL, msg, sizeof msg), PW_OK);
    pw_lock_release(a); /* the file stays, owned by root */
    for (int ro = 0; ro < 2; ro++) {
        if (ro) assert_int_equal(chmod(path, 0644), 0);
        pid_t pid = fork();
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
            pw_lock *l = make(path, 0, "nobody's", NULL);
            int rc = pw_lock_acquire(l, NULL, NULL, 0);
            if (rc != PW_OK) _exit(20 + rc);
            char *text = pw_read_file(path, NULL);
            pw_lock_holder h;
            int has = text && pw_lock_parse_holder(text, &h) == PW_OK;
            free(text);
            pw_lock_free(l);
            _exit(has == !ro ? 0 : 30);
        }
        int st;
        waitpid(pid, &st, 0);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) == 10) {
            pw_lock_free(a);
            pw_test_rmtree(dir);
            free(path);
            free(dir);
            skip();
        }
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    pw_lock_free(a);
    pw_test_rmtree(dir);
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_parse_holder),
        cmocka_unit_test(test_acquire_busy_release),
        cmocka_unit_test(test_acquire_within),
        cmocka_unit_test(test_interrupted_and_errors),
        cmocka_unit_test(test_released_on_death),
        cmocka_unit_test(test_other_user),
    };
    return cmocka_run_group_tests_name("lock", tests, NULL, NULL);
}
