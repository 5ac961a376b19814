/* cli_lock.c — the command line's side of the measurement lock (lock.h): the --no-wait and
 * --max-wait options, the messages about who holds the lock, and the exit status when it cannot
 * be taken (PW_EXIT_BUSY). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/isolate.h"

static void notify(void *arg, pw_lock_event ev, const char *path, const pw_lock_holder *h,
                   double max_wait_s, double waited_s)
{
    char text[1024];
    pw_lock_describe_event(ev, path, h, max_wait_s, waited_s, text, sizeof text);
    fprintf(stderr, "%s: %s\n", (const char *)arg, text);
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
    char msg[512], text[1024];
    int rc = pw_lock_acquire(l, &h, msg, sizeof msg);
    if (rc == PW_OK) return PW_EXIT_OK;
    pw_lock_describe_failure(l, rc, msg, &h, text, sizeof text);
    fprintf(stderr, "%s: %s\n", who, text);
    if (rc == PW_EBUSY) return PW_EXIT_BUSY;
    if (rc == PW_EINTR) return 128 + (pw_isolate_interrupted() ? pw_isolate_interrupted() : 2);
    return PW_EXIT_USAGE;
}
