/* watch.c — which of a preview's inputs changed, from inotify: chapters, templates and the
 * perfweave binary, each watched through its directory so that a save by rename (most editors)
 * or a relink (the linker writes a new file) is seen like a save in place (see preview.h). */
#include "perfweave/preview.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

typedef struct {
    int wd;
    char *name;   /* a file's name, or NULL: every file of the directory ... */
    char *suffix; /* ... whose name ends with this (NULL: any name but editors' temporary files) */
    int kind;
} target;

struct pw_preview_watch {
    int fd;
    target *targets;
    size_t n;
    char last[256]; /* the name pw_preview_watch_read reports */
};

/* Writes, creations, renames into and out of the folder, removals; the folder itself going. */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB)

pw_preview_watch *pw_preview_watch_new(void)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return NULL;
    pw_preview_watch *w = pw_xcalloc(1, sizeof *w);
    w->fd = fd;
    return w;
}

void pw_preview_watch_free(pw_preview_watch *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->targets[i].name);
        free(w->targets[i].suffix);
    }
    free(w->targets);
    close(w->fd);
    free(w);
}

static int add(pw_preview_watch *w, const char *dir, const char *name, const char *suffix, int kind)
{
    int wd = inotify_add_watch(w->fd, dir, WATCH_MASK | IN_ONLYDIR);
    if (wd < 0) return -1;
    w->targets = pw_xrealloc(w->targets, (w->n + 1) * sizeof *w->targets);
    w->targets[w->n++] = (target){wd, name ? pw_xstrdup(name) : NULL, suffix ? pw_xstrdup(suffix) : NULL, kind};
    return 0;
}

int pw_preview_watch_file(pw_preview_watch *w, const char *path, int kind)
{
    char *a = pw_xstrdup(path), *b = pw_xstrdup(path);
    int status = add(w, dirname(a), basename(b), NULL, kind);
    free(a);
    free(b);
    return status;
}

int pw_preview_watch_dir(pw_preview_watch *w, const char *dir, const char *suffix, int kind)
{
    return add(w, dir, NULL, suffix, kind);
}

int pw_preview_watch_fd(const pw_preview_watch *w)
{
    return w->fd;
}

static bool matches(const target *t, const char *name)
{
    if (t->name) return strcmp(t->name, name) == 0;
    size_t n = strlen(name);
    if (t->suffix) {
        size_t k = strlen(t->suffix);
        return n > k && strcmp(name + n - k, t->suffix) == 0 && name[0] != '.';
    }
    /* Not the swap, backup and probe files editors write beside the file they save. */
    return n > 0 && name[0] != '.' && name[n - 1] != '~' && strcmp(name, "4913") != 0;
}

int pw_preview_watch_read(pw_preview_watch *w, const char **name)
{
    int kinds = 0;
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    if (name) *name = NULL;
    for (;;) {
        ssize_t got = read(w->fd, buf, sizeof buf);
        if (got <= 0) break; /* EAGAIN: all read */
        for (char *p = buf; p < buf + got;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                for (size_t i = 0; i < w->n; i++) kinds |= w->targets[i].kind; /* lost events: all */
                continue;
            }
            if (!ev->len) continue;
            for (size_t i = 0; i < w->n; i++)
                if (w->targets[i].wd == ev->wd && matches(&w->targets[i], ev->name)) {
                    kinds |= w->targets[i].kind;
                    size_t n = strlen(ev->name);
                    if (n >= sizeof w->last) n = sizeof w->last - 1;
                    memcpy(w->last, ev->name, n);
                    w->last[n] = '\0';
                    if (name) *name = w->last;
                }
        }
    }
    return kinds;
}
