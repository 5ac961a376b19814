/* state.c — what a preview server knows and streams to its pages: the published report's
 * identity, the last render's diagnostics and the jobs running now, behind one mutex, with a
 * generation number that event streams wait on (see preview.h). */
#include "perfweave/preview.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pw_preview_state {
    pthread_mutex_t mu;
    pthread_cond_t changed; /* on CLOCK_MONOTONIC */
    unsigned long generation;
    bool stopped;
    char report[PW_PREVIEW_TOKEN_MAX]; /* "" when out/ has no report.html */
    json_t *diagnostics;               /* of the last finished render; an array */
    unsigned long renders;             /* finished renders */
    size_t pending;                    /* directives shown from a stand-in */
    struct {
        bool running;
        char *progress;
        char *error;                   /* why it last failed, until it runs again */
    } jobs[PW_PREVIEW_NJOBS];
};

static const char *const job_names[PW_PREVIEW_NJOBS] = {"render", "measure"};

pw_preview_state *pw_preview_state_new(void)
{
    pw_preview_state *st = pw_xcalloc(1, sizeof *st);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&st->changed, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&st->mu, NULL);
    st->diagnostics = json_array();
    st->generation = 1;
    return st;
}

void pw_preview_state_free(pw_preview_state *st)
{
    if (!st) return;
    json_decref(st->diagnostics);
    for (int j = 0; j < PW_PREVIEW_NJOBS; j++) {
        free(st->jobs[j].progress);
        free(st->jobs[j].error);
    }
    pthread_cond_destroy(&st->changed);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* With the lock held: publish a change. */
static void bump(pw_preview_state *st)
{
    st->generation++;
    pthread_cond_broadcast(&st->changed);
}

static void set_token(pw_preview_state *st, const char *token)
{
    size_t n = token ? strlen(token) : 0;
    if (n >= sizeof st->report) n = sizeof st->report - 1;
    memcpy(st->report, token ? token : "", n);
    st->report[n] = '\0';
}

void pw_preview_state_set_report(pw_preview_state *st, const char *token)
{
    pthread_mutex_lock(&st->mu);
    if (strcmp(st->report, token ? token : "") != 0) {
        set_token(st, token);
        bump(st);
    }
    pthread_mutex_unlock(&st->mu);
}

void pw_preview_state_set_job(pw_preview_state *st, pw_preview_job job, bool running, const char *progress)
{
    if ((int)job < 0 || job >= PW_PREVIEW_NJOBS) return;
    pthread_mutex_lock(&st->mu);
    st->jobs[job].running = running;
    free(st->jobs[job].progress);
    st->jobs[job].progress = running && progress ? pw_xstrdup(progress) : NULL;
    if (running) {
        free(st->jobs[job].error);
        st->jobs[job].error = NULL;
    }
    bump(st);
    pthread_mutex_unlock(&st->mu);
}

void pw_preview_state_job_failed(pw_preview_state *st, pw_preview_job job, const char *error)
{
    if ((int)job < 0 || job >= PW_PREVIEW_NJOBS) return;
    pthread_mutex_lock(&st->mu);
    st->jobs[job].running = false;
    free(st->jobs[job].progress);
    st->jobs[job].progress = NULL;
    free(st->jobs[job].error);
    st->jobs[job].error = error ? pw_xstrdup(error) : NULL;
    bump(st);
    pthread_mutex_unlock(&st->mu);
}

void pw_preview_state_set_pending(pw_preview_state *st, size_t n)
{
    pthread_mutex_lock(&st->mu);
    if (st->pending != n) {
        st->pending = n;
        bump(st);
    }
    pthread_mutex_unlock(&st->mu);
}

void pw_preview_state_render_done(pw_preview_state *st, const char *token, json_t *diagnostics)
{
    pthread_mutex_lock(&st->mu);
    set_token(st, token);
    json_decref(st->diagnostics);
    if (diagnostics && !json_is_array(diagnostics)) {
        json_decref(diagnostics);
        diagnostics = NULL;
    }
    st->diagnostics = diagnostics ? diagnostics : json_array();
    st->renders++;
    st->jobs[PW_PREVIEW_JOB_RENDER].running = false;
    free(st->jobs[PW_PREVIEW_JOB_RENDER].progress);
    st->jobs[PW_PREVIEW_JOB_RENDER].progress = NULL;
    bump(st);
    pthread_mutex_unlock(&st->mu);
}

char *pw_preview_state_json(pw_preview_state *st, unsigned long *generation)
{
    pthread_mutex_lock(&st->mu);
    json_t *jobs = json_object();
    for (int j = 0; j < PW_PREVIEW_NJOBS; j++)
        json_object_set_new(jobs, job_names[j],
                            json_pack("{s:b, s:o, s:o}", "running", st->jobs[j].running, "progress",
                                      st->jobs[j].progress ? json_string(st->jobs[j].progress) : json_null(),
                                      "error", st->jobs[j].error ? json_string(st->jobs[j].error) : json_null()));
    json_t *doc = json_pack("{s:I, s:o, s:b, s:I, s:I, s:O, s:o}", "generation", (json_int_t)st->generation, "report",
                            st->report[0] ? json_string(st->report) : json_null(), "ok",
                            json_array_size(st->diagnostics) == 0, "renders", (json_int_t)st->renders, "pending",
                            (json_int_t)st->pending, "diagnostics", st->diagnostics, "jobs", jobs);
    if (generation) *generation = st->generation;
    /* Compact: one line, as a Server-Sent Event's data field needs (strings escape newlines). */
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    pthread_mutex_unlock(&st->mu);
    json_decref(doc);
    if (!text) abort(); /* only on exhaustion: the document is built from checked UTF-8 */
    return text;
}

pw_preview_wait_result pw_preview_state_wait(pw_preview_state *st, unsigned long seen, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pw_preview_wait_result r = PW_PREVIEW_TIMEOUT;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        if (st->stopped) { r = PW_PREVIEW_STOPPED; break; }
        if (st->generation != seen) { r = PW_PREVIEW_CHANGED; break; }
        if (pthread_cond_timedwait(&st->changed, &st->mu, &until) == ETIMEDOUT) {
            r = st->stopped ? PW_PREVIEW_STOPPED : st->generation != seen ? PW_PREVIEW_CHANGED : PW_PREVIEW_TIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&st->mu);
    return r;
}

void pw_preview_state_stop(pw_preview_state *st)
{
    pthread_mutex_lock(&st->mu);
    st->stopped = true;
    pthread_cond_broadcast(&st->changed);
    pthread_mutex_unlock(&st->mu);
}
