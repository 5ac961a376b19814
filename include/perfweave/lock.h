/* lock.h — the machine-wide measurement lock: only one perfweave process measures at a time on a
 * machine, across users and working trees, so that no two measurements time-share a CPU.
 *
 * The lock is an flock(2) on a well-known node-local file (pw_lock_default_path):
 *   $PERFWEAVE_LOCK when set and not empty (tests; a site with its own convention), else
 *   /run/lock/perfweave-measure.lock when /run/lock is a directory (tmpfs on Debian and most
 *   distributions: node-local, world-writable and sticky), else /tmp/perfweave-measure.lock.
 * The file must be node-local: the point is one measurement per machine, not per cluster.
 *
 * The file is opened with O_CLOEXEC (gnuplot, pdflatex and other programs perfweave executes do
 * not inherit it; forked experiment children do, which keeps the lock held while they run) and
 * works with Linux's protected_regular rule in sticky directories such as /tmp: an existing file
 * is opened without O_CREAT first (O_CREAT on another user's file there fails with EACCES even
 * when the file exists), and a new one is created with O_EXCL and mode 0666 so that every user
 * can open it later.  When the file exists but is not writable for this user it is opened
 * read-only: flock still works, only the holder record below is not written.
 *
 * The holder writes a record into the file (pid, user id, host, since when, command line) that a
 * process finding the lock busy reads to say who holds it.  The kernel releases an flock when its
 * last descriptor closes, so a holder that crashes, is killed or is interrupted releases it
 * without any clean-up; a stale record in a free lock file is simply overwritten by the next
 * holder.
 *
 * Who takes it: the code that actually measures on this machine (the `run` command around its
 * isolated child; in a report, the local executor before its first job that must really be
 * measured).  Validation, replay, rendering from cache, and a process that only submits work to
 * other machines (a Slurm submitter) never take it.  pw_lock_new therefore does not lock: it
 * only records how to, so an executor can be set up early and lock lazily.
 *
 * The library never prints: waiting and acquisition are reported through a callback, and the
 * sentences that `run`, `report` and the local executor show are made here (pw_lock_describe_*). */
#ifndef PERFWEAVE_LOCK_H
#define PERFWEAVE_LOCK_H

#include <stdbool.h>
#include <stddef.h>

#define PW_LOCK_ENV "PERFWEAVE_LOCK"
#define PW_LOCK_NAME "perfweave-measure.lock"
/* The longest a process waits for the lock by default: 30 minutes, a cold full report on a slow
 * machine with room to spare; a holder hung longer than that needs a person, not a queue. */
#define PW_LOCK_MAX_WAIT_S 1800.0
/* How often a waiting process retries (seconds): the hand-over delay at most. */
#define PW_LOCK_POLL_S 0.1

/* The holder of a lock as its record says (fields empty or 0 when the record is missing, was
 * not writable, or is being written). */
typedef struct {
    long pid;            /* 0 when unknown */
    long uid;            /* -1 when unknown */
    char host[64];       /* "" when unknown */
    char since[32];      /* "2026-12-01T10:00:00Z" (UTC), "" when unknown */
    double since_epoch;  /* seconds since the epoch, 0 when unknown */
    char command[256];   /* the holder's command line, "" when unknown */
    bool alive;          /* pid is known and kill(pid, 0) finds it here (it may be a forked
                            child of a dead holder that still runs when false) */
} pw_lock_holder;

typedef enum {
    PW_LOCK_WAITING,   /* the lock is busy and we wait: sent once, and again when the holder changes */
    PW_LOCK_ACQUIRED   /* acquired after waiting (not sent when it was free at once) */
} pw_lock_event;

/* holder is the record read (PW_LOCK_WAITING) or the last holder seen (PW_LOCK_ACQUIRED);
 * waited_s the seconds waited so far. */
typedef void (*pw_lock_notify_fn)(void *arg, pw_lock_event ev, const char *path,
                                  const pw_lock_holder *holder, double max_wait_s,
                                  double waited_s);

typedef struct {
    const char *path;           /* NULL: pw_lock_default_path() */
    double max_wait_s;          /* how long to wait for a busy lock; 0: not at all (--no-wait) */
    const char *command;        /* recorded as the holder's command; NULL: /proc/self/cmdline */
    pw_lock_notify_fn notify;   /* may be NULL */
    void *notify_arg;
    int (*interrupted)(void);   /* polled while waiting (may be NULL): nonzero gives up with
                                   PW_EINTR, e.g. pw_isolate_interrupted with its handlers */
} pw_lock_options;

/* Defaults: the default path, PW_LOCK_MAX_WAIT_S, this process's command line, no callbacks. */
void pw_lock_options_default(pw_lock_options *o);

/* The lock file's path as described above; the caller frees it. */
char *pw_lock_default_path(void);

typedef struct pw_lock pw_lock;

/* A lock handle with a copy of o (strings copied); nothing is opened or locked yet.  Free it with
 * pw_lock_free. */
pw_lock *pw_lock_new(const pw_lock_options *o);
/* Releases the lock when held and frees l (NULL is a no-op). */
void pw_lock_free(pw_lock *l);

/* Takes the lock, waiting up to max_wait_s while another process holds it (retrying every
 * PW_LOCK_POLL_S; the wait ends early when interrupted() says so).  Returns
 *   PW_OK        held now (also when it already was: acquiring twice is harmless),
 *   PW_EBUSY     another process still holds it (at once with max_wait_s 0, else after the
 *                wait); *holder (when non-NULL) receives its record,
 *   PW_EINTR     interrupted while waiting,
 *   PW_EIO       the lock file cannot be opened, created or locked; msg says why.
 * msg (may be NULL) receives a lowercase sentence for every status but PW_OK. */
int pw_lock_acquire(pw_lock *l, pw_lock_holder *holder, char *msg, size_t msgsize);

/* pw_lock_acquire for a caller with its own loop (an executor whose wait has a timeout): as
 * pw_lock_acquire, but it waits at most slice_s seconds in this call (slice_s < 0: no limit of its
 * own; 0: one look) and returns PW_EAGAIN when the lock is still busy and max_wait_s has not run
 * out yet.  The wait goes on at the next call: max_wait_s counts from the first call of the wait,
 * and PW_LOCK_WAITING is not sent again for the same holder.  Any other status ends the wait;
 * pw_lock_release ends one too (the next call starts a new wait). */
int pw_lock_acquire_within(pw_lock *l, double slice_s, pw_lock_holder *holder, char *msg,
                           size_t msgsize);

/* True while l holds the lock. */
bool pw_lock_held(const pw_lock *l);
/* The path l locks; borrowed. */
const char *pw_lock_path(const pw_lock *l);

/* Clears the holder record and releases the lock (a no-op when not held); ends a wait in
 * progress. */
void pw_lock_release(pw_lock *l);

/* --- sentences for messages (lowercase, no final period; the library prints none of them) --- */
/* What is known of a holder: "pid 1234 (perfweave report --quick, user 1000 on vm since
 * 2026-12-01T10:00:00Z)", or "another process (…)" when its record is missing. */
void pw_lock_describe_holder(const pw_lock_holder *h, char *buf, size_t size);
/* The sentence for a notification (the arguments of pw_lock_notify_fn): "waiting for the
 * measurement lock PATH, held by HOLDER; waiting up to 30 min (--no-wait fails at once)" or
 * "measurement lock taken after waiting 2.5 s". */
void pw_lock_describe_event(pw_lock_event ev, const char *path, const pw_lock_holder *h,
                            double max_wait_s, double waited_s, char *buf, size_t size);
/* The sentence for a failed acquire of l (its status, msg and holder): for PW_EBUSY it names the
 * holder and how to wait longer or why it did not wait ("… held by HOLDER; not waiting
 * (--no-wait)"); otherwise msg itself. */
void pw_lock_describe_failure(const pw_lock *l, int status, const char *msg,
                              const pw_lock_holder *h, char *buf, size_t size);

/* Parses a holder record (the text of a lock file) into *h; missing fields stay unknown.
 * Returns PW_OK when at least the pid was found, else PW_ENOTFOUND. */
int pw_lock_parse_holder(const char *text, pw_lock_holder *h);

#endif
