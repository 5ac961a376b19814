/* cli_lock.c — the command line's side of the measurement lock (lock.h): the --no-wait and
 * --max-wait options, the messages about who holds the lock, and the exit status when it cannot
 * be taken (PW_EXIT_BUSY). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/isolate.h"

/* "pid 1234 (perfweave report --quick) since 2026-12-01T10:00:00Z", or what is known of it. */
static void describe(char *buf, size_t size, const pw_lock_holder *h)
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

static void wait_text(char *buf, size_t size, double s)
{
    if (s >= 120) snprintf(buf, size, "%.0f min", s / 60);
    else snprintf(buf, size, "%.*f s", s < 10 ? 1 : 0, s);
}

static void notify(void *arg, pw_lock_event ev, const char *path, const pw_lock_holder *h,
                   double max_wait_s, double waited_s)
{
    const char *who = arg;
    char desc[512], limit[32];
    if (ev == PW_LOCK_WAITING) {
        describe(desc, sizeof desc, h);
        wait_text(limit, sizeof limit, max_wait_s);
        fprintf(stderr, "%s: waiting for the measurement lock %s, held by %s; waiting up to %s "
                "(--no-wait fails at once)\n", who, path, desc, limit);
    } else {
        fprintf(stderr, "%s: measurement lock taken after waiting %.1f s\n", who, waited_s);
    }
}

int pw_cli_lock_option(const char *const *argv, int argc, int *i, bool *no_wait, double *max_wait)
{
    const char *a = argv[*i];
    if (strcmp(a, "--no-wait") == 0) {
        *no_wait = true;
        return 1;
    }
    if (strcmp(a, "--max-wait") != 0) return 0;
    char *end = NULL;
    double v = *i + 1 < argc ? strtod(argv[*i + 1], &end) : -1;
    if (*i + 1 >= argc || !end || *end || !(v >= 0) || v > 1e7) return -1;
    *max_wait = v;
    (*i)++;
    return 1;
}

pw_lock *pw_cli_lock_new(const char *who, bool no_wait, double max_wait)
{
    pw_lock_options o;
    pw_lock_options_default(&o);
    if (max_wait >= 0) o.max_wait_s = max_wait;
    if (no_wait) o.max_wait_s = 0;
    o.notify = notify;
    o.notify_arg = (void *)who;
    o.interrupted = pw_isolate_interrupted;
    return pw_lock_new(&o);
}

int pw_cli_lock_acquire(pw_lock *l, const char *who)
{
    pw_lock_holder h;
    char msg[512], desc[512];
    int rc = pw_lock_acquire(l, &h, msg, sizeof msg);
    switch (rc) {
    case PW_OK:
        return PW_EXIT_OK;
    case PW_EBUSY:
        describe(desc, sizeof desc, &h);
        if (strstr(msg, "after waiting"))
            fprintf(stderr, "%s: %s, held by %s; giving up (--max-wait SECONDS waits longer)\n",
                    who, msg, desc);
        else
            fprintf(stderr, "%s: the measurement lock %s is held by %s; not waiting (--no-wait)\n",
                    who, pw_lock_path(l), desc);
        return PW_EXIT_BUSY;
    case PW_EINTR:
        fprintf(stderr, "%s: %s\n", who, msg);
        return 128 + (pw_isolate_interrupted() ? pw_isolate_interrupted() : 2);
    default:
        fprintf(stderr, "%s: %s\n", who, msg);
        return PW_EXIT_USAGE;
    }
}
