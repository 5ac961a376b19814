/* test_exec.c — the seam where results are obtained (exec.h): the contract on a fake executor
 * (tickets, events, wait when nothing is pending, cancel of queued and running jobs), the cache
 * decorator over it (miss, store, hit, --rerun, --frozen, corrupt entries, failed results not
 * stored, keys recorded) in a temporary cache folder, the replay executor's sources and errors,
 * the stale executor (previous results from run documents and the cache, stand-ins that decide
 * no claim and are never cached), the local executor's real children (selftest experiments) and
 * its measurement lock (private lock files), the report driver over a fake (every job submitted
 * before the first wait; messages, progress and the outcome as data), its peers (every job to
 * each, their runs archived apart) and an executor that is not ready (nothing submitted), the
 * cache refusing to store a result measured on another machine than its key names, and
 * --stale / --measure-only reports end to end in a temporary folder.  Nothing here is timed. */
#include "support.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perfweave/claims.h"
#include "perfweave/common.h"
#include "perfweave/env.h"
#include "perfweave/exec.h"
#include "perfweave/experiment.h"
#include "perfweave/lock.h"
#include "perfweave/report.h"
#include "perfweave/result.h"
#include "perfweave/store.h"

/* Sanitizers reserve their shadow memory at start: a child under a memory limit (RLIMIT_AS)
 * cannot map anything more, so the tests that measure in real children skip that part there. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* --- a fake executor: one job at a time, started by one wait and finished by the next ---------- */

typedef struct {
    json_t *environment;
    pw_exec_ticket queue[16];
    char *ids[16];
    size_t head, n;
    pw_exec_ticket running;      /* 0: none */
    char *running_id;
    size_t submitted;            /* how many jobs reached the fake */
    double value;                /* the value its results carry */
    json_t *result_env;          /* the environment its results carry; NULL: its own */
    const char *refuse;          /* prepare refuses with this sentence; NULL: ready */
    size_t prepared;             /* prepare calls */
    char calls[512];             /* "submit a, start a, …" */
} fake_state;

static void called(fake_state *s, const char *what, const char *id)
{
    size_t len = strlen(s->calls);
    snprintf(s->calls + len, sizeof s->calls - len, "%s%s %s", len ? ", " : "", what, id);
}

static void fake_submit(pw_exec *x, pw_exec_ticket ticket, const pw_exec_job *job)
{
    fake_state *s = pw_exec_state(x);
    assert_true(s->n < 16);
    s->queue[s->n] = ticket;
    s->ids[s->n++] = pw_xstrdup(job->id);
    s->submitted++;
    called(s, "submit", job->id);
}

static pw_result *fake_result(const fake_state *s, const char *id)
{
    pw_result *r = pw_result_new("selftest.fixed", id);
    if (strcmp(id, "bad") == 0) pw_result_error(r, "failed on purpose");
    else pw_result_metric(r, "value.n1", s->value, s->value * 0.9, s->value * 1.1, "x");
    json_t *doc = pw_result_json(r);
    json_object_set_new(doc, "run", json_pack("{s:s}", "host",
                                              json_string_value(json_object_get(s->environment, "host"))));
    json_object_set(doc, "environment", s->result_env ? s->result_env : s->environment);
    pw_exec_set_source(r, "measured");
    return r;
}

static int fake_wait(pw_exec *x, double timeout_s)
{
    (void)timeout_s;
    fake_state *s = pw_exec_state(x);
    if (!s->running && s->head == s->n) return PW_ENOTFOUND;
    if (!s->running) {
        s->running = s->queue[s->head];
        s->running_id = s->ids[s->head++];
        called(s, "start", s->running_id);
        pw_exec_emit(x, PW_EXEC_STARTED, s->running, NULL);
        return PW_EAGAIN;
    }
    pw_exec_ticket t = s->running;
    s->running = 0;
    pw_exec_complete(x, t, fake_result(s, s->running_id));
    free(s->running_id);
    s->running_id = NULL;
    return PW_OK;
}

static void fake_cancel(pw_exec *x, pw_exec_ticket ticket)
{
    fake_state *s = pw_exec_state(x);
    size_t kept = s->head;
    for (size_t i = s->head; i < s->n; i++) {
        if (ticket == 0 || s->queue[i] == ticket) {
            free(s->ids[i]);
        } else {
            s->queue[kept] = s->queue[i];
            s->ids[kept++] = s->ids[i];
        }
    }
    s->n = kept;
    if (s->running && (ticket == 0 || ticket == s->running)) {
        pw_result *r = pw_result_new("selftest.fixed", s->running_id);
        pw_result_error(r, "cancelled");
        pw_exec_complete(x, s->running, r);
        free(s->running_id);
        s->running_id = NULL;
        s->running = 0;
    }
}

static const json_t *fake_environment(pw_exec *x)
{
    const fake_state *s = pw_exec_state(x);
    return s->environment;
}

static void fake_free(void *state)
{
    fake_state *s = state;
    for (size_t i = s->head; i < s->n; i++) free(s->ids[i]);
    free(s->running_id);
    json_decref(s->environment);
    json_decref(s->result_env);
    free(s);
}

static int fake_prepare(pw_exec *x, char *msg, size_t msgsize)
{
    fake_state *s = pw_exec_state(x);
    s->prepared++;
    if (!s->refuse) return PW_OK;
    snprintf(msg, msgsize, "%s", s->refuse);
    return PW_EIO;
}

static const pw_exec_ops fake_ops = {"fake", fake_submit, fake_wait, fake_cancel, fake_environment, fake_free,
                                     fake_prepare};

/* A fake measuring on machine `host` with CPU `cpu`; *state (when non-NULL) sees its state. */
static pw_exec *fake_new(const char *host, const char *cpu, double value, fake_state **state)
{
    fake_state *s = pw_xcalloc(1, sizeof *s);
    s->environment = json_pack("{s:s, s:{s:s}}", "host", host, "cpu", "model", cpu);
    s->value = value;
    if (state) *state = s;
    return pw_exec_new(&fake_ops, s);
}

/* Events seen, as "Q1 S1 F1 W1:..." */
typedef struct {
    char log[2048];
    char said[4096];   /* the messages of NOTE and ERROR events, one a line */
    char warning[512]; /* the last WARNING's message */
} events;

static void record(void *ctx, const pw_exec_event *ev)
{
    events *e = ctx;
    static const char kinds[] = "QSFWNE";
    size_t len = strlen(e->log);
    snprintf(e->log + len, sizeof e->log - len, "%s%c%zu", len ? " " : "", kinds[ev->kind], ev->ticket);
    if (ev->kind == PW_EXEC_FINISHED) assert_non_null(ev->result);
    if (ev->kind == PW_EXEC_WARNING || ev->kind == PW_EXEC_NOTE || ev->kind == PW_EXEC_ERROR)
        assert_non_null(ev->message);
    if (ev->kind == PW_EXEC_WARNING) snprintf(e->warning, sizeof e->warning, "%s", ev->message);
    if (ev->kind == PW_EXEC_NOTE || ev->kind == PW_EXEC_ERROR) {
        size_t used = strlen(e->said);
        snprintf(e->said + used, sizeof e->said - used, "%s\n", ev->message);
    }
    assert_true(ev->at > 0);
}

static pw_exec_job job(const char *id, json_t *params)
{
    pw_exec_job j = {pw_registry_find("selftest.fixed"), id, params, NULL, false, 0, 0};
    assert_non_null(j.experiment);
    return j;
}

static const char *source_of(const pw_result *r)
{
    return json_string_value(json_object_get(json_object_get(pw_result_json(r), "run"), "source"));
}

/* Waits until the next completion (the fake needs two waits per job). */
static int next(pw_exec *x, pw_exec_ticket *t, pw_result **r)
{
    int status;
    while ((status = pw_exec_wait(x, -1, t, r)) == PW_EAGAIN) {}
    return status;
}

/* --- the contract on the fake --------------------------------------------------------------- */

static void test_submit_wait_cancel(void **state)
{
    (void)state;
    events ev = {"", ""};
    pw_exec *x = fake_new("here", "cpu A", 5, NULL);
    pw_exec_observe(x, record, &ev);
    assert_string_equal(pw_exec_name(x), "fake");
    pw_exec_ticket t;
    pw_result *r;
    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_ENOTFOUND); /* nothing pending: at once */
    assert_int_equal(t, 0);
    assert_null(r);

    json_t *params = json_object();
    pw_exec_job a = job("a", params), b = job("b", params), c = job("c", params);
    assert_int_equal(pw_exec_submit(x, &a), 1);
    assert_int_equal(pw_exec_submit(x, &b), 2);
    assert_int_equal(pw_exec_submit(x, &c), 3);
    assert_string_equal(ev.log, "Q1 Q2 Q3");

    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_EAGAIN); /* a started, not finished */
    assert_int_equal(t, 0);
    pw_exec_cancel(x, 3);                                   /* queued: dropped, never answered */
    assert_int_equal(next(x, &t, &r), PW_OK);
    assert_int_equal(t, 1);
    assert_string_equal(pw_result_id(r), "a");
    assert_string_equal(source_of(r), "measured");
    pw_result_free(r);
    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_EAGAIN); /* b started */
    pw_exec_cancel(x, 0);                                   /* running: answered with an ERROR */
    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_OK);
    assert_int_equal(t, 2);
    assert_true(pw_result_failed(r));
    pw_result_free(r);
    assert_int_equal(pw_exec_wait(x, -1, &t, &r), PW_ENOTFOUND);
    assert_string_equal(ev.log, "Q1 Q2 Q3 S1 F1 S2 F2");

    /* Freeing with work pending cancels it and frees what was not collected. */
    pw_exec_job d = job("d", params), e = job("e", params);
    pw_exec_submit(x, &d);
    pw_exec_submit(x, &e);
    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_EAGAIN);
    pw_exec_free(x);
    pw_exec_free(NULL);
    json_decref(params);
}

/* --- the cache decorator -------------------------------------------------------------------- */

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".json")) n++;
    if (d) closedir(d);
    return n;
}

static pw_exec *cached(pw_exec *inner, const char *dir, bool frozen, const char *rerun)
{
    char *const list[] = {(char *)rerun};
    pw_exec_cache_options o = {frozen, list, rerun ? 1 : 0};
    pw_cache *c = dir ? pw_cache_open(dir) : NULL;
    if (dir) assert_non_null(c);
    return pw_exec_cache_new(inner, c, &o);
}

/* Submits one job and returns its result (the caller frees it). */
static pw_result *obtain(pw_exec *x, const char *id, const char *canonical)
{
    json_t *params = json_object();
    pw_exec_job j = job(id, params);
    j.canonical = canonical;
    pw_exec_ticket t = pw_exec_submit(x, &j), got;
    json_decref(params);
    pw_result *r = NULL;
    assert_int_equal(next(x, &got, &r), PW_OK);
    assert_int_equal(got, t);
    return r;
}

/* Job id through a fresh decorator (cache folder dir or none, frozen, one rerun id) over a fake
 * on (host, cpu) whose results carry value; *submitted receives how many jobs reached the fake.
 * The caller frees the result. */
static pw_result *through(const char *host, const char *cpu, double value, const char *dir, bool frozen,
                          const char *rerun, const char *id, size_t *submitted)
{
    fake_state *fs;
    pw_exec *x = cached(fake_new(host, cpu, value, &fs), dir, frozen, rerun);
    char *canonical = pw_xasprintf("selftest.fixed %s", id);
    pw_result *r = obtain(x, id, canonical);
    *submitted = fs->submitted;
    free(canonical);
    pw_exec_free(x);
    return r;
}

static double value_of(const pw_result *r)
{
    pw_metric m;
    assert_int_equal(pw_result_get_metric(r, "value.n1", &m), PW_OK);
    return m.value;
}

static void test_cache_decorator(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *cdir = pw_xasprintf("%s/cache", dir);
    fake_state *fs;
    events ev = {"", ""};

    /* A miss goes to the inner executor; the clean result is stored. */
    pw_exec *x = cached(fake_new("here", "cpu A", 7, &fs), cdir, false, NULL);
    pw_exec_observe(x, record, &ev);
    assert_string_equal(pw_exec_name(x), "cache");
    assert_string_equal(json_string_value(json_object_get(pw_exec_environment(x), "host")), "here");
    pw_result *r = obtain(x, "a", "selftest.fixed a");
    assert_int_equal(fs->submitted, 1);
    assert_string_equal(source_of(r), "measured");
    assert_int_equal(count_entries(cdir), 1);
    assert_string_equal(ev.log, "Q1 S1 F1");
    pw_result_free(r);
    /* A failed result is not stored. */
    r = obtain(x, "bad", "selftest.fixed bad");
    assert_true(pw_result_failed(r));
    assert_int_equal(count_entries(cdir), 1);
    pw_result_free(r);
    pw_exec_free(x);

    /* The same job on the same machine is a hit, answered at submit: the inner sees nothing. */
    ev.log[0] = '\0';
    x = cached(fake_new("here", "cpu A", 99, &fs), cdir, false, NULL);
    pw_exec_observe(x, record, &ev);
    r = obtain(x, "a", "selftest.fixed a");
    assert_int_equal(fs->submitted, 0);
    assert_string_equal(source_of(r), "from cache");
    assert_close(value_of(r), 7, 0);
    assert_string_equal(ev.log, "Q1 S1 F1");
    pw_result_free(r);
    /* Another directive text, or the failed one, is a miss. */
    r = obtain(x, "a", "selftest.fixed a, edited");
    assert_int_equal(fs->submitted, 1);
    assert_close(value_of(r), 99, 0);
    pw_result_free(r);
    r = obtain(x, "bad", "selftest.fixed bad");
    assert_int_equal(fs->submitted, 2);
    pw_result_free(r);
    pw_exec_free(x);

    /* --rerun: named (or all) ids go to the inner executor despite their entry. */
    size_t submitted;
    const char *reruns[] = {"a", "all"};
    for (int i = 0; i < 2; i++) {
        r = through("here", "cpu A", 8, cdir, false, reruns[i], "a", &submitted);
        assert_int_equal(submitted, 1);
        assert_string_equal(source_of(r), "measured");
        assert_close(value_of(r), 8, 0);
        pw_result_free(r);
    }

    /* Another machine (fingerprint) misses; --frozen takes any machine's entry, labelled, never
     * forwards (and ignores --rerun). */
    r = through("there", "cpu B", 50, cdir, false, NULL, "a", &submitted);
    assert_int_equal(submitted, 1);
    pw_result_free(r);
    r = through("elsewhere", "cpu C", 1, cdir, true, "a", "a", &submitted);
    assert_int_equal(submitted, 0);
    assert_string_equal(source_of(r), "frozen: measured on another machine");
    pw_result_free(r);
    r = through("elsewhere", "cpu C", 1, cdir, true, NULL, "never", &submitted);
    assert_true(pw_result_failed(r));
    assert_string_equal(source_of(r), "frozen");
    assert_non_null(strstr(pw_result_error_reason(r), "--frozen: no stored result"));
    pw_result_free(r);
    r = through("here", "cpu A", 1, cdir, true, NULL, "a", &submitted);
    assert_string_equal(source_of(r), "frozen from cache");
    pw_result_free(r);
    r = through("here", "cpu A", 1, NULL, true, NULL, "a", &submitted);
    assert_string_equal(pw_result_error_reason(r), "--frozen without a result cache: nothing to render from");
    pw_result_free(r);
    /* No cache and not frozen: everything goes through. */
    r = through("here", "cpu A", 3, NULL, false, NULL, "a", &submitted);
    assert_int_equal(submitted, 1);
    pw_result_free(r);

    /* A corrupt entry is a WARNING about that job, then a miss that replaces the entry. */
    DIR *d = opendir(cdir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".json")) continue;
        char *path = pw_xasprintf("%s/%s", cdir, e->d_name);
        assert_int_equal(pw_write_file_atomic(path, "{ truncated", 11), PW_OK);
        free(path);
    }
    closedir(d);
    ev.log[0] = '\0';
    x = cached(fake_new("here", "cpu A", 4, &fs), cdir, false, NULL);
    pw_exec_observe(x, record, &ev);
    r = obtain(x, "a", "selftest.fixed a");
    assert_int_equal(fs->submitted, 1);
    assert_string_equal(ev.log, "Q1 W1 S1 F1");
    pw_result_free(r);
    pw_exec_free(x);
    x = cached(fake_new("here", "cpu A", 5, &fs), cdir, false, NULL);
    r = obtain(x, "a", "selftest.fixed a");
    assert_int_equal(fs->submitted, 0);
    assert_close(value_of(r), 4, 0);
    pw_result_free(r);

    /* Cancel through the decorator reaches the inner job. */
    json_t *params = json_object();
    pw_exec_job j = job("b", params);
    j.canonical = "selftest.fixed b";
    pw_exec_ticket t = pw_exec_submit(x, &j), got;
    assert_int_equal(pw_exec_wait(x, 0, &got, &r), PW_EAGAIN); /* started in the fake */
    pw_exec_cancel(x, t);
    assert_int_equal(pw_exec_wait(x, 0, &got, &r), PW_OK);
    assert_int_equal(got, t);
    assert_true(pw_result_failed(r));
    pw_result_free(r);
    assert_int_equal(pw_exec_wait(x, 0, &got, &r), PW_ENOTFOUND);
    json_decref(params);
    pw_exec_free(x);

    free(cdir);
    pw_test_rmtree(dir);
    free(dir);
}

/* --- replay ----------------------------------------------------------------------------------- */

/* A result whose own environment is another machine than the one the key names (a Slurm node of
 * another kind in a partition) is answered, with a WARNING, and never stored under that key;
 * prepare goes through the decorator to the inner executor. */
static void test_cache_other_machine(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *cdir = pw_xasprintf("%s/cache", dir);
    fake_state *fs;
    events ev = {""};
    pw_exec *x = cached(fake_new("node1", "cpu A", 7, &fs), cdir, false, NULL);
    fs->result_env = json_pack("{s:s, s:{s:s}}", "host", "node2", "cpu", "model", "cpu B");
    pw_exec_observe(x, record, &ev);
    char msg[256];
    assert_int_equal(pw_exec_prepare(x, msg, sizeof msg), PW_OK);
    assert_int_equal(fs->prepared, 1);
    pw_result *r = obtain(x, "a", "selftest.fixed a");
    assert_false(pw_result_failed(r));
    assert_int_equal(count_entries(cdir), 0);
    assert_non_null(strstr(ev.log, "W1"));
    assert_non_null(strstr(ev.warning, "a was measured on another kind of machine"));
    assert_non_null(strstr(ev.warning, "not cached"));
    pw_result_free(r);
    /* The same machine after all: stored. */
    json_decref(fs->result_env);
    fs->result_env = json_pack("{s:s, s:{s:s}}", "host", "node1b", "cpu", "model", "cpu A");
    r = obtain(x, "b", "selftest.fixed b");
    assert_int_equal(count_entries(cdir), 1);
    pw_result_free(r);
    fs->refuse = "the probe failed";
    assert_int_equal(pw_exec_prepare(x, msg, sizeof msg), PW_EIO);
    assert_string_equal(msg, "the probe failed");
    pw_exec_free(x);
    /* Executors with nothing to set up are ready. */
    char *empty = pw_xasprintf("%s/none", dir);
    x = pw_exec_replay_new(empty);
    assert_int_equal(pw_exec_prepare(x, msg, sizeof msg), PW_OK);
    pw_exec_free(x);
    free(empty);
    /* What counts as measured by this run. */
    pw_result *m = pw_result_new("selftest.fixed", "m");
    pw_exec_set_source(m, "measured");
    assert_true(pw_exec_measured_now(m));
    pw_exec_set_source(m, "slurm");
    assert_true(pw_exec_measured_now(m));
    pw_exec_set_source(m, "from cache");
    assert_false(pw_exec_measured_now(m));
    pw_result_free(m);
    free(cdir);
    pw_test_rmtree(dir);
    free(dir);
}

static void test_replay(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    pw_result *ok = pw_result_new("selftest.fixed", "a");
    pw_result_exact(ok, "value.n1", 3, "x");
    json_t *results = json_pack("[O, {s:s, s:s}]", pw_result_json(ok), "id", "b", "schema", "nonsense");
    json_t *doc = json_pack("{s:i, s:{s:s}, s:o}", "schema", 1, "environment", "host", "recorded", "results", results);
    char *file = pw_xasprintf("%s/results.json", dir);
    assert_int_equal(json_dump_file(doc, file, 0), 0);

    pw_exec *x = pw_exec_replay_new(file);
    assert_string_equal(pw_exec_name(x), "replay");
    assert_string_equal(json_string_value(json_object_get(pw_exec_environment(x), "host")), "recorded");
    pw_result *r = obtain(x, "a", NULL);
    assert_false(pw_result_failed(r));
    assert_string_equal(source_of(r), "replayed");
    pw_result_free(r);
    r = obtain(x, "b", NULL);
    assert_non_null(strstr(pw_result_error_reason(r), "replayed result is unreadable"));
    pw_result_free(r);
    r = obtain(x, "c", NULL);
    char *want = pw_xasprintf("%s holds no result with id 'c'", file);
    assert_string_equal(pw_result_error_reason(r), want);
    assert_string_equal(source_of(r), "replayed");
    free(want);
    pw_result_free(r);
    pw_exec_ticket t;
    assert_int_equal(pw_exec_wait(x, -1, &t, &r), PW_ENOTFOUND);
    pw_exec_free(x);

    /* A folder of <id>.json documents, with environment.json. */
    char *a = pw_xasprintf("%s/a.json", dir), *env = pw_xasprintf("%s/environment.json", dir);
    assert_int_equal(json_dump_file(pw_result_json(ok), a, 0), 0);
    x = pw_exec_replay_new(dir);
    assert_int_equal(json_object_size(pw_exec_environment(x)), 0); /* none yet: empty, not NULL */
    r = obtain(x, "a", NULL);
    assert_false(pw_result_failed(r));
    pw_result_free(r);
    r = obtain(x, "zz", NULL);
    assert_non_null(strstr(pw_result_error_reason(r), "no replayable result at "));
    assert_non_null(strstr(pw_result_error_reason(r), "/zz.json"));
    pw_result_free(r);
    pw_exec_free(x);
    json_t *e = json_pack("{s:s}", "host", "folder");
    assert_int_equal(json_dump_file(e, env, 0), 0);
    json_decref(e);
    x = pw_exec_replay_new(dir);
    assert_string_equal(json_string_value(json_object_get(pw_exec_environment(x), "host")), "folder");
    pw_exec_free(x);
    /* A path that does not exist: every job is an ERROR naming it. */
    char *missing = pw_xasprintf("%s/nothing", dir);
    x = pw_exec_replay_new(missing);
    r = obtain(x, "a", NULL);
    assert_non_null(strstr(pw_result_error_reason(r), missing));
    pw_result_free(r);
    pw_exec_free(x);

    free(missing), free(a), free(env), free(file);
    json_decref(doc);
    pw_result_free(ok);
    pw_test_rmtree(dir);
    free(dir);
}

/* --- local: real children --------------------------------------------------------------------- */

/* The memory limit (RLIMIT_AS) of the local executor's children here: none to speak of.  Under
 * ASan a process's address space is the shadow's terabytes, so a child limited to the default
 * 16 GiB can map nothing more, and whether it needs one more mapping (ASan's stack depot) depends
 * on what the test process allocated before it forked. */
#define NO_AS_LIMIT 1e9

static void test_local(void **state)
{
    (void)state;
    events ev = {"", ""};
    pw_exec *x = pw_exec_local_new("2026-01-01 00:00 UTC");
    pw_exec_observe(x, record, &ev);
    const json_t *env = pw_exec_environment(x);
    assert_true(json_is_object(env));
    assert_non_null(json_object_get(env, "host"));

    const pw_experiment *fixed = pw_registry_find("selftest.fixed"), *crash = pw_registry_find("selftest.crash");
    json_t *p1 = json_pack("{s:[i], s:[i], s:f, s:s}", "sizes", 1, "values", 42, "spread", 0.1, "label", "l");
    json_t *hang = json_pack("{s:s}", "mode", "hang");
    json_t *fails = json_pack("{s:s}", "mode", "error");
    pw_exec_job j1 = {fixed, "one", p1, "c1", true, 0, NO_AS_LIMIT};
    pw_exec_job j2 = {crash, "stuck", hang, "c2", true, 30, NO_AS_LIMIT};
    pw_exec_job j3 = {crash, "never", fails, "c3", true, 0, NO_AS_LIMIT};
    assert_int_equal(pw_exec_submit(x, &j1), 1);
    assert_int_equal(pw_exec_submit(x, &j2), 2);
    assert_int_equal(pw_exec_submit(x, &j3), 3);
    assert_string_equal(ev.log, "Q1 Q2 Q3"); /* nothing starts before the caller waits */

    pw_exec_ticket t;
    pw_result *r;
    int status;
    while ((status = pw_exec_wait(x, -1, &t, &r)) == PW_EAGAIN) {}
    assert_int_equal(status, PW_OK);
    assert_int_equal(t, 1);
    assert_false(pw_result_failed(r));
    json_t *doc = pw_result_json(r), *run = json_object_get(doc, "run");
    assert_string_equal(json_string_value(json_object_get(run, "source")), "measured");
    assert_string_equal(json_string_value(json_object_get(run, "measured_at")), "2026-01-01 00:00 UTC");
    assert_true(json_equal(json_object_get(run, "host"), json_object_get(env, "host")));
    assert_true(json_is_number(json_object_get(run, "seconds")));
    assert_true(json_equal(json_object_get(doc, "environment"), (json_t *)env));
    assert_true(json_equal(json_object_get(doc, "params"), p1));
    assert_true(json_is_array(json_object_get(doc, "environment_warnings")));
    pw_metric m;
    assert_int_equal(pw_result_get_metric(r, "value.n1", &m), PW_OK);
    assert_close(m.value, 42, 0);
    pw_result_free(r);

    /* The hanging child is running after a wait that only looks; cancelling it answers it with
     * an ERROR, and the queued job behind it is dropped. */
    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_EAGAIN);
    pw_exec_cancel(x, 0);
    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_OK);
    assert_int_equal(t, 2);
    assert_true(pw_result_failed(r));
    assert_non_null(strstr(pw_result_error_reason(r), "cancelled"));
    pw_result_free(r);
    assert_int_equal(pw_exec_wait(x, -1, &t, &r), PW_ENOTFOUND);
    assert_string_equal(ev.log, "Q1 Q2 Q3 S1 F1 S2 F2");

    /* An experiment that fails is an ERROR result like pw_isolate_run's (mode 'error': a crash
     * or exit() would meet cmocka's signal handlers and LeakSanitizer, inherited by the child). */
    pw_exec_submit(x, &j3);
    while ((status = pw_exec_wait(x, -1, &t, &r)) == PW_EAGAIN) {}
    assert_int_equal(status, PW_OK);
    assert_string_equal(pw_result_error_reason(r), "failed on purpose (mode 'error')");
    pw_result_free(r);
    pw_exec_free(x);
    json_decref(p1), json_decref(hang), json_decref(fails);
}

/* The local executor and the measurement lock: taken only when a job starts (not at submit, not
 * for a cache hit), held while a child runs, given back when nothing is left; a busy lock is NOTE
 * events while waiting (honouring the wait's timeout), then an ERROR event and PW_EBUSY with the
 * job still queued. */
static void test_local_lock(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *path = pw_xasprintf("%s/measure.lock", dir), *cache = pw_xasprintf("%s/cache", dir);
    pw_lock_options lo;
    pw_lock_options_default(&lo);
    lo.path = path;
    lo.max_wait_s = 0.3;
    lo.command = "the executor";
    pw_lock_options other_o = lo;
    other_o.max_wait_s = 0;
    other_o.command = "someone else";
    pw_lock *other = pw_lock_new(&other_o);
    char msg[256];
    pw_lock_holder h;

    events ev = {"", ""};
    pw_exec *x = pw_exec_cache_new(pw_exec_local_new_lock("2026-01-01 00:00 UTC", &lo), pw_cache_open(cache), NULL);
    pw_exec_observe(x, record, &ev);
    const pw_experiment *fixed = pw_registry_find("selftest.fixed"), *crash = pw_registry_find("selftest.crash");
    json_t *p1 = json_pack("{s:[i], s:[i], s:f, s:s}", "sizes", 1, "values", 7, "spread", 0.1, "label", "l");
    json_t *hang = json_pack("{s:s}", "mode", "hang");
    pw_exec_job j1 = {fixed, "one", p1, "lock-c1", true, 0, NO_AS_LIMIT};
    pw_exec_job j2 = {crash, "stuck", hang, "lock-c2", true, 30, NO_AS_LIMIT};

    /* Someone else holds the lock: submitting takes nothing, a look waits no longer than asked. */
    assert_int_equal(pw_lock_acquire(other, NULL, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_exec_submit(x, &j1), 1);
    pw_exec_ticket t;
    pw_result *r;
    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_EAGAIN);
    assert_string_equal(ev.log, "Q1 N0");
    assert_non_null(strstr(ev.said, "waiting for the measurement lock "));
    assert_non_null(strstr(ev.said, "(someone else, user "));
    int status;
    while ((status = pw_exec_wait(x, 0.05, &t, &r)) == PW_EAGAIN) {}
    assert_int_equal(status, PW_EBUSY);
    assert_string_equal(ev.log, "Q1 N0 E0"); /* nothing started */
    assert_non_null(strstr(ev.said, "still held after waiting"));
    assert_non_null(strstr(ev.said, "; giving up (--max-wait SECONDS waits longer)"));

    /* Free again: the queued job runs; afterwards the lock is free for anyone. */
    pw_lock_release(other);
    while ((status = pw_exec_wait(x, -1, &t, &r)) == PW_EAGAIN) {}
    assert_int_equal(status, PW_OK);
    assert_int_equal(t, 1);
    assert_false(pw_result_failed(r));
    pw_result_free(r);
    assert_int_equal(pw_lock_acquire(other, NULL, msg, sizeof msg), PW_OK);
    pw_lock_release(other);

    /* Held while a child runs, with this process's record; given back when it is cancelled. */
    pw_exec_submit(x, &j2);
    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_EAGAIN); /* started */
    assert_int_equal(pw_lock_acquire(other, &h, msg, sizeof msg), PW_EBUSY);
    assert_int_equal(h.pid, (long)getpid());
    assert_string_equal(h.command, "the executor");
    pw_exec_cancel(x, 0);
    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_OK);
    assert_true(pw_result_failed(r));
    pw_result_free(r);
    assert_int_equal(pw_lock_acquire(other, NULL, msg, sizeof msg), PW_OK);
    pw_exec_free(x);

    /* While someone else holds it, a job in the cache (selftest.fixed: never disturbed) is
     * answered without waiting: the lock is not touched. */
    ev.log[0] = ev.said[0] = '\0';
    x = pw_exec_cache_new(pw_exec_local_new_lock("2026-01-01 00:00 UTC", &lo), pw_cache_open(cache), NULL);
    pw_exec_observe(x, record, &ev);
    pw_exec_submit(x, &j1);
    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_OK);
    assert_string_equal(source_of(r), "from cache");
    pw_result_free(r);
    assert_int_equal(pw_exec_wait(x, 0, &t, &r), PW_ENOTFOUND);
    assert_string_equal(ev.log, "Q1 S1 F1");
    assert_string_equal(ev.said, "");
    pw_exec_free(x);
    pw_lock_free(other);
    json_decref(p1), json_decref(hang);
    pw_test_rmtree(dir);
    free(path), free(cache), free(dir);
}

/* --- the stale executor ----------------------------------------------------------------------- */

static const char *key_of(const pw_result *r)
{
    return json_string_value(json_object_get(json_object_get(pw_result_json(r), "run"), "cache_key"));
}

/* A previous result document of selftest.fixed: value.n1 = value, measured under key. */
static json_t *previous_doc(const char *id, double value, const char *key, json_t *params)
{
    return json_pack("{s:i, s:s, s:s, s:s, s:{s:{s:f, s:[f, f], s:s}}, s:O, s:{s:s, s:s, s:s}, s:[], s:s, s:i}",
                     "schema", 1, "experiment", "selftest.fixed", "id", id, "status", "ok", "metrics", "value.n1",
                     "value", value, "ci95", value * 0.9, value * 1.1, "unit", "x", "params", params, "run", "source",
                     "measured", "cache_key", key, "measured_at", "2026-01-01 00:00 UTC", "claims", "chapter", "old.md",
                     "line", 3);
}

static void write_run(const char *path, json_t *results)
{
    json_t *doc = json_pack("{s:i, s:o}", "schema", 1, "results", results);
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
}

/* The job's answer from x (which answers at submit). */
static pw_result *ask(pw_exec *x, const char *experiment, const char *id, json_t *params, const char *key)
{
    pw_exec_job j = {pw_registry_find(experiment), id, params, "canonical", false, 0, 0, key};
    assert_non_null(j.experiment);
    pw_exec_ticket t = pw_exec_submit(x, &j), got;
    pw_result *r = NULL;
    assert_int_equal(pw_exec_wait(x, 0, &got, &r), PW_OK);
    assert_int_equal(got, t);
    return r;
}

static void test_stale(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *first = pw_xasprintf("%s/measured.json", dir), *second = pw_xasprintf("%s/results.json", dir);
    char *cdir = pw_xasprintf("%s/cache", dir);
    json_t *p1 = json_pack("{s:[i]}", "values", 1), *p2 = json_pack("{s:[i]}", "values", 2);
    /* The first document wins over the second; a failed result and a placeholder are in it too. */
    json_t *failed = previous_doc("failedbefore", 1, "K2", p1);
    json_object_set_new(failed, "status", json_string("error"));
    json_object_set_new(failed, "error", json_string("crashed on purpose"));
    json_t *placeholder = json_pack("{s:i, s:s, s:s, s:s, s:{}, s:{s:s, s:s}}", "schema", 1, "experiment",
                                    "selftest.fixed", "id", "placeholder", "status", "ok", "metrics", "stale", "state",
                                    "unmeasured", "reason", "not measured yet");
    write_run(first, json_pack("[o, o, o]", previous_doc("kept", 3, "K1", p1), failed, placeholder));
    write_run(second, json_pack("[o, o]", previous_doc("kept", 5, "K1", p1), previous_doc("placeholder", 8, "K8", p1)));
    /* Two cache entries of id incache (the same second: the larger key is the newer). */
    pw_cache *c = pw_cache_open(cdir);
    assert_non_null(c);
    char k1[65], k2[65];
    memset(k1, '1', 64), memset(k2, '2', 64);
    k1[64] = k2[64] = '\0';
    json_t *e1 = previous_doc("incache", 10, k1, p1), *e2 = previous_doc("incache", 20, k2, p1);
    assert_int_equal(pw_cache_put(c, k2, e2), PW_OK);
    assert_int_equal(pw_cache_put(c, k1, e1), PW_OK);
    json_decref(e1), json_decref(e2);
    pw_cache_free(c);

    char *const docs[] = {first, second, "/nonexistent/results.json"};
    pw_exec *x = pw_exec_stale_new(docs, 3, cdir);
    assert_string_equal(pw_exec_name(x), "stale");
    assert_non_null(json_object_get(pw_exec_environment(x), "host"));
    const char *reason = NULL, *key = NULL;
    pw_metric m;

    /* The same key: the job's own result, as it was (what the run that wrote it added removed). */
    pw_result *r = ask(x, "selftest.fixed", "kept", p1, "K1");
    assert_int_equal(pw_exec_standin(r, &reason, &key), PW_EXEC_FRESH);
    assert_string_equal(source_of(r), "from the previous run");
    assert_close(value_of(r), 3, 0);
    assert_int_equal(pw_result_get_metric(r, "value.n1", &m), PW_OK);
    assert_null(m.undecidable_why);
    assert_null(json_object_get(pw_result_json(r), "claims"));
    assert_null(json_object_get(pw_result_json(r), "chapter"));
    pw_result_free(r);
    /* Another key, the same parameters: a stand-in whose metrics decide nothing. */
    r = ask(x, "selftest.fixed", "kept", p1, "K9");
    assert_int_equal(pw_exec_standin(r, &reason, &key), PW_EXEC_STALE);
    assert_string_equal(key, "K9");
    assert_non_null(strstr(reason, "perfweave, the machine or the mode changed"));
    assert_string_equal(source_of(r), "previous result");
    assert_string_equal(key_of(r), "K1"); /* the key it was measured under stays */
    assert_int_equal(pw_result_get_metric(r, "value.n1", &m), PW_OK);
    assert_string_equal(m.undecidable_why, "stale");
    assert_string_equal(m.undecidable_reason, reason);
    pw_claim claim;
    char msg[128];
    assert_int_equal(pw_claim_parse("value >= 1", &claim, msg, sizeof msg), PW_OK);
    const pw_result *results[] = {r};
    json_t *verdicts = pw_claims_evaluate(&claim, results, 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(verdicts, 0), "verdict")), "UNDECIDED");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(verdicts, 0), "reason")), reason));
    json_decref(verdicts);
    pw_claim_release(&claim);
    pw_result_free(r);
    /* Other parameters: the directive changed. */
    r = ask(x, "selftest.fixed", "kept", p2, "K9");
    assert_int_equal(pw_exec_standin(r, &reason, NULL), PW_EXEC_STALE);
    assert_string_equal(reason, "the directive changed: this is its previous result, shown until the new one is measured");
    pw_result_free(r);
    /* A previous ERROR: the job's own (same key), or not measured yet. */
    r = ask(x, "selftest.fixed", "failedbefore", p1, "K2");
    assert_int_equal(pw_exec_standin(r, NULL, NULL), PW_EXEC_FRESH);
    assert_true(pw_result_failed(r));
    pw_result_free(r);
    r = ask(x, "selftest.fixed", "failedbefore", p2, "K3");
    assert_int_equal(pw_exec_standin(r, &reason, &key), PW_EXEC_UNMEASURED);
    assert_false(pw_result_failed(r));
    assert_non_null(strstr(reason, "ended in ERROR: crashed on purpose"));
    assert_int_equal(pw_result_metric_count(r), 0);
    pw_result_free(r);
    /* A placeholder is passed over for the next document's result. */
    r = ask(x, "selftest.fixed", "placeholder", p1, "K9");
    assert_int_equal(pw_exec_standin(r, NULL, NULL), PW_EXEC_STALE);
    assert_close(value_of(r), 8, 0);
    pw_result_free(r);
    /* Not in any document: the newest cache entry of the id. */
    r = ask(x, "selftest.fixed", "incache", p1, "K9");
    assert_int_equal(pw_exec_standin(r, NULL, NULL), PW_EXEC_STALE);
    assert_close(value_of(r), 20, 0);
    pw_result_free(r);
    /* Nowhere, or only as another experiment: not measured yet. */
    r = ask(x, "selftest.fixed", "nothing", p1, NULL);
    assert_int_equal(pw_exec_standin(r, &reason, &key), PW_EXEC_UNMEASURED);
    assert_string_equal(reason, "not measured yet");
    assert_null(key);
    assert_string_equal(source_of(r), "not measured yet");
    pw_result_free(r);
    json_t *hang = json_pack("{s:s}", "mode", "hang");
    r = ask(x, "selftest.crash", "kept", hang, "K1");
    assert_int_equal(pw_exec_standin(r, NULL, NULL), PW_EXEC_UNMEASURED);
    pw_result_free(r);
    json_decref(hang);
    pw_exec_free(x);

    /* Under the cache decorator: the stand-in carries the job's key and is never stored; a
     * measured result and a hit carry their key in run.cache_key. */
    size_t before = count_entries(cdir);
    x = cached(pw_exec_stale_new(docs, 1, cdir), cdir, false, NULL);
    r = obtain(x, "kept", "selftest.fixed kept, edited");
    assert_int_equal(pw_exec_standin(r, NULL, &key), PW_EXEC_STALE);
    assert_non_null(key);
    assert_int_equal(strlen(key), 64);
    assert_string_equal(key_of(r), "K1");
    assert_int_equal(count_entries(cdir), before);
    pw_result_free(r);
    pw_exec_free(x);
    /* A previous run's result of exactly this job's key is returned as it is, and not stored. */
    x = pw_exec_stale_new(NULL, 0, NULL);
    char *impl = pw_impl_hash(pw_registry_find("selftest.fixed"));
    char *fp = pw_env_fingerprint_hash(pw_exec_environment(x));
    char *own = pw_cache_key("selftest.fixed same", impl, fp, false);
    pw_exec_free(x);
    char *third = pw_xasprintf("%s/own.json", dir);
    write_run(third, json_pack("[o]", previous_doc("same", 6, own, p1)));
    char *const mine[] = {third};
    x = cached(pw_exec_stale_new(mine, 1, NULL), cdir, false, NULL);
    r = obtain(x, "same", "selftest.fixed same");
    assert_int_equal(pw_exec_standin(r, NULL, NULL), PW_EXEC_FRESH);
    assert_string_equal(source_of(r), "from the previous run");
    assert_string_equal(key_of(r), own);
    assert_int_equal(count_entries(cdir), before);
    pw_result_free(r);
    pw_exec_free(x);
    free(impl), free(fp), free(own), free(third);
    fake_state *fs;
    x = cached(fake_new("here", "cpu A", 4, &fs), cdir, false, NULL);
    r = obtain(x, "a", "selftest.fixed a");
    char *measured_key = pw_xstrdup(key_of(r));
    assert_int_equal(strlen(measured_key), 64);
    assert_int_equal(count_entries(cdir), before + 1);
    pw_result_free(r);
    r = obtain(x, "a", "selftest.fixed a");
    assert_string_equal(source_of(r), "from cache");
    assert_string_equal(key_of(r), measured_key);
    pw_result_free(r);
    pw_exec_free(x);
    free(measured_key);

    json_decref(p1), json_decref(p2);
    free(first), free(second), free(cdir);
    pw_test_rmtree(dir);
    free(dir);
}

/* --- the report driver over the seam ---------------------------------------------------------- */

typedef struct {
    char text[2048];
} said;

static void on_message(void *ctx, const pw_report_message *m)
{
    said *s = ctx;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof s->text - len, "%d %s:%d %s\n", (int)m->kind, m->file ? m->file : "-", m->line, m->text);
}

static void on_progress(void *ctx, const pw_report_progress *p)
{
    said *s = ctx;
    size_t len = strlen(s->text);
    if (p->done) snprintf(s->text + len, sizeof s->text - len, "done\n");
    else snprintf(s->text + len, sizeof s->text - len, "[%zu/%zu] %s\n", p->index, p->total, p->id);
}

/* The options the driver tests share: the one chapter *chapter, rendered to HTML alone (no PDF)
 * into outdir, messages collected in s; each test sets what it is about on top. */
static void html_only_options(pw_report_options *o, char **chapter, const char *outdir, said *s)
{
    static const pw_renderer *const html_only[] = {&pw_render_html, NULL};
    pw_report_options_default(o);
    o->chapters = chapter;
    o->nchapters = 1;
    o->outdir = outdir;
    o->formats = html_only;
    o->pdf = false;
    o->on_message = on_message;
    o->ctx = s;
}

static void test_report_driver(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *chapter = pw_xasprintf("%s/ch.md", dir), *outdir = pw_xasprintf("%s/out", dir);
    const char *text = "# Driver\n\n`=a.value.n1`\n\n```experiment selftest.fixed\nid: a\n```\n\n"
                       "```experiment selftest.fixed\nid: bad\n```\n";
    assert_int_equal(pw_write_file_atomic(chapter, text, strlen(text)), PW_OK);
    fake_state *fs;
    pw_exec *x = fake_new("here", "cpu A", 6, &fs);
    said s = {""};
    pw_report_options o;
    char *chapters[] = {chapter};
    html_only_options(&o, chapters, outdir, &s);
    o.archive_root = NULL;
    o.executor = x;
    o.on_progress = on_progress;
    pw_report_outcome out;
    assert_int_equal(pw_report_build(&o, &out), PW_ECHILD); /* written, one result in ERROR */
    /* Every job is submitted before the first waits; results attach by ticket. */
    assert_string_equal(fs->calls, "submit a, submit bad, start a, start bad");
    char *want = pw_xasprintf("[1/2] a\n[2/2] bad\n%d %s:9 bad ERROR: failed on purpose\ndone\n",
                              (int)PW_REPORT_FAILED, chapter);
    assert_string_equal(s.text, want);
    free(want);
    assert_int_equal(out.stage, PW_REPORT_DONE);
    assert_int_equal(out.diag.n, 0);
    assert_int_equal(out.experiments, 2);
    assert_int_equal(out.measured, 2);
    assert_int_equal(out.failed, 1);
    assert_int_equal(out.ndocuments, 1); /* the HTML only */
    assert_ptr_equal(out.documents[0], &pw_render_html);
    assert_false(out.wrote_pdf);
    assert_null(out.archive);
    char *html = pw_xasprintf("%s/report.html", outdir);
    char *page = pw_read_file(html, NULL);
    assert_non_null(page);
    assert_non_null(strstr(page, "id=\"result-a\""));
    assert_non_null(strstr(page, "<span class=\"measured\""));
    free(page);
    free(html);
    pw_report_outcome_release(&out);

    /* Bad input: diagnostics in the outcome, nothing submitted, nothing said. */
    const char *bad = "# Bad\n\n```experiment selftest.fixd\nid: z\n```\n";
    assert_int_equal(pw_write_file_atomic(chapter, bad, strlen(bad)), PW_OK);
    fs->calls[0] = '\0';
    s.text[0] = '\0';
    assert_int_equal(pw_report_build(&o, &out), PW_EINVAL);
    assert_int_equal(out.stage, PW_REPORT_LOAD);
    assert_int_equal(out.diag.n, 1);
    assert_non_null(strstr(out.diag.lines[0], "ch.md:3: unknown experiment 'selftest.fixd' (did you mean 'selftest.fixed'?)"));
    assert_string_equal(fs->calls, "");
    assert_string_equal(s.text, "");
    pw_report_outcome_release(&out);

    /* No chapters: an ERROR message, no diagnostics. */
    o.nchapters = 0;
    assert_int_equal(pw_report_build(&o, NULL), PW_EINVAL);
    assert_non_null(strstr(s.text, "no chapters given"));

    pw_exec_free(x);
    free(chapter), free(outdir);
    pw_test_rmtree(dir);
    free(dir);
}

/* --stale and --measure-only through pw_report_build, with the default executors (the local one
 * runs real selftest children), in a temporary folder. */
static void test_report_stale_and_measure(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *chapter = pw_xasprintf("%s/ch.md", dir), *outdir = pw_xasprintf("%s/out", dir);
    char *cdir = pw_xasprintf("%s/cache", dir), *adir = pw_xasprintf("%s/archive", dir);
    char *saved = pw_xasprintf("%s/measured.json", dir), *html = pw_xasprintf("%s/report.html", outdir);
    char *prev = pw_xasprintf("%s/results.json", outdir);
    const char *text = "# Stale\n\nA `=a.value.n1`, B `=b.count`.\n\n```experiment selftest.fixed\nid: a\n"
                       "sizes: [1]\nvalues: [3]\nclaim: value >= 1\n```\n\n"
                       "```experiment selftest.fixed\nid: b\nclaim: count >= 1\n```\n";
    assert_int_equal(pw_write_file_atomic(chapter, text, strlen(text)), PW_OK);
    assert_int_equal(pw_mkdir_p(outdir), PW_OK);
    json_t *p = json_pack("{s:[i]}", "values", 2);
    write_run(prev, json_pack("[o]", previous_doc("a", 2, "old", p)));
    json_decref(p);

    said s = {""};
    pw_report_options o;
    char *chapters[] = {chapter};
    html_only_options(&o, chapters, outdir, &s);
    o.cache_dir = cdir;
    o.archive_root = adir;
    o.stale = true;
    pw_report_outcome out;
    assert_int_equal(pw_report_build(&o, &out), PW_OK);
    assert_int_equal(out.measured, 0);
    assert_int_equal(out.npending, 2);
    assert_string_equal(out.pending[0].id, "a");
    assert_false(out.pending[0].unmeasured);
    assert_string_equal(out.pending[0].file, chapter);
    assert_int_equal(out.pending[0].line, 5);
    assert_non_null(out.pending[0].key);
    assert_string_equal(out.pending[1].id, "b");
    assert_true(out.pending[1].unmeasured);
    assert_int_equal(out.verdicts[PW_VERDICT_UNDECIDED], 2); /* stand-ins decide nothing */
    assert_int_equal(out.claims, 2);
    assert_null(out.archive);
    pw_report_outcome_release(&out);
    assert_int_equal(count_entries(cdir), 0);
    char *page = pw_read_file(html, NULL);
    assert_non_null(page);
    assert_non_null(strstr(page, "class=\"experiment stale\" id=\"result-a\""));
    assert_non_null(strstr(page, "class=\"experiment unmeasured\" id=\"result-b\""));
    assert_non_null(strstr(page, "[not measured yet]"));
    assert_non_null(strstr(page, "<sup class=\"stale-tag\">previous</sup>"));
    free(page);

    /* Measuring only: the cache and the archive fill, the output folder stays as it is.  The
     * selftest children measure under the memory limit (RLIMIT_AS), which a sanitizer's shadow
     * memory exceeds from the start: under ASan that half cannot run. */
    if (SANITIZED) goto done;
    char *before = pw_read_file(html, NULL);
    o.stale = false;
    o.measure_only = true;
    o.results_path = saved;
    assert_int_equal(pw_report_build(&o, &out), PW_OK);
    assert_int_equal(out.measured, 2);
    assert_int_equal(out.npending, 0);
    assert_int_equal(out.stage, PW_REPORT_DONE);
    assert_int_equal(out.ndocuments, 0);
    assert_non_null(out.archive);
    pw_report_outcome_release(&out);
    assert_int_equal(count_entries(cdir), 2);
    page = pw_read_file(html, NULL);
    assert_string_equal(page, before);
    free(page), free(before);
    json_t *doc = json_load_file(saved, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(doc, "results")), 2);
    json_decref(doc);

    /* Rendering again without measuring: everything from the cache, decided. */
    o.measure_only = false;
    o.results_path = NULL;
    o.stale = true;
    assert_int_equal(pw_report_build(&o, &out), PW_OK);
    assert_int_equal(out.npending, 0);
    assert_int_equal(out.verdicts[PW_VERDICT_PASS], 2);
    pw_report_outcome_release(&out);
    page = pw_read_file(html, NULL);
    assert_null(strstr(page, "class=\"experiment stale\""));
    free(page);

done:
    free(chapter), free(outdir), free(cdir), free(adir), free(saved), free(html), free(prev);
    pw_test_rmtree(dir);
    free(dir);
}

/* Peers: every job goes to each of them too; their results are archived as runs of their own
 * with their environment and are not rendered; their failures count apart.  An executor that is
 * not ready stops the report before anything is submitted anywhere. */
static void test_report_peers(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *chapter = pw_xasprintf("%s/ch.md", dir), *outdir = pw_xasprintf("%s/out", dir);
    char *archive = pw_xasprintf("%s/archive", dir);
    const char *text = "# Peers\n\n`=a.value.n1`\n\n```experiment selftest.fixed\nid: a\n```\n\n"
                       "```experiment selftest.fixed\nid: bad\n```\n";
    assert_int_equal(pw_write_file_atomic(chapter, text, strlen(text)), PW_OK);
    fake_state *fs, *ps;
    pw_exec *x = fake_new("here", "cpu A", 6, &fs);
    pw_exec *peer = fake_new("there", "cpu B", 9, &ps);
    pw_report_peer peers[] = {{peer, "partition b"}};
    said s = {""};
    pw_report_options o;
    char *chapters[] = {chapter};
    html_only_options(&o, chapters, outdir, &s);
    o.archive_root = archive;
    o.executor = x;
    o.peers = peers;
    o.npeers = 1;
    o.on_progress = on_progress;
    pw_report_outcome out;
    assert_int_equal(pw_report_build(&o, &out), PW_ECHILD);
    assert_int_equal(fs->prepared, 1);
    assert_int_equal(ps->prepared, 1);
    assert_string_equal(fs->calls, "submit a, submit bad, start a, start bad");
    assert_string_equal(ps->calls, "submit a, submit bad, start a, start bad");
    assert_int_equal(out.failed, 1);
    assert_int_equal(out.failed_peers, 1);
    assert_non_null(strstr(s.text, "[4/4]"));
    assert_non_null(strstr(s.text, "bad ERROR on partition b (for the matrix): failed on purpose"));
    /* The report is the first executor's; the peer's value is in its own archived run only. */
    char *html = pw_xasprintf("%s/report.html", outdir);
    char *page = pw_read_file(html, NULL);
    assert_non_null(page);
    assert_non_null(strstr(page, ">6.00"));
    assert_null(strstr(page, ">9.00"));
    free(page);
    free(html);
    json_t *list;
    assert_int_equal(pw_archive_list(archive, &list), PW_OK);
    assert_int_equal(json_array_size(list), 2);
    size_t i;
    json_t *e;
    int seen = 0;
    json_array_foreach(list, i, e) {
        json_t *doc;
        assert_int_equal(pw_archive_load(archive, json_string_value(json_object_get(e, "run")), &doc), PW_OK);
        const char *host = json_string_value(json_object_get(json_object_get(doc, "environment"), "host"));
        json_t *first = json_array_get(json_object_get(doc, "results"), 0);
        double v = json_number_value(json_object_get(json_object_get(json_object_get(first, "metrics"), "value.n1"), "value"));
        if (strcmp(host, "there") == 0) {
            seen |= 2;
            assert_string_equal(json_string_value(json_object_get(doc, "measured_on")), "partition b");
            assert_true(v == 9);
        } else {
            seen |= 1;
            assert_null(json_object_get(doc, "measured_on"));
            assert_true(v == 6);
        }
        json_decref(doc);
    }
    assert_int_equal(seen, 3);
    json_decref(list);
    pw_report_outcome_release(&out);

    /* A peer that is not ready: an ERROR with its sentence, nothing submitted, nothing written. */
    ps->refuse = "cannot measure on Slurm partition 'b': the probe failed";
    fs->calls[0] = ps->calls[0] = '\0';
    s.text[0] = '\0';
    pw_test_rmtree(outdir);
    assert_int_equal(pw_report_build(&o, &out), PW_EINVAL);
    assert_int_equal(out.stage, PW_REPORT_OBTAIN);
    assert_string_equal(fs->calls, "");
    assert_string_equal(ps->calls, "");
    assert_non_null(strstr(s.text, "cannot measure on Slurm partition 'b': the probe failed"));
    DIR *d = opendir(outdir);
    assert_null(d);
    pw_report_outcome_release(&out);

    pw_exec_free(x);
    pw_exec_free(peer);
    free(chapter), free(outdir), free(archive);
    pw_test_rmtree(dir);
    free(dir);
}

static void test_impl_core(void **state)
{
    (void)state;
    assert_true(pw_impl_is_core("src/exec/local.c"));
    assert_false(pw_impl_is_core("src/exec/exec.c"));
    assert_false(pw_impl_is_core("src/exec/cache.c"));
    assert_false(pw_impl_is_core("src/exec/replay.c"));
    assert_false(pw_impl_is_core("src/exec/slurm.c")); /* submits; the node measures through local.c */
    assert_false(pw_impl_is_core("src/exec/stale.c"));
    assert_false(pw_impl_is_core("include/perfweave/exec.h"));
    assert_false(pw_impl_is_core("src/weave/obtain.c"));
}

int main(void)
{
    /* The local executor takes the machine-wide measurement lock: a private one here, so that
     * the tests neither wait for nor block a real measurement on this machine. */
    char *lockdir = pw_test_tmpdir(), *lock = pw_xasprintf("%s/measure.lock", lockdir);
    setenv(PW_LOCK_ENV, lock, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_wait_cancel),
        cmocka_unit_test(test_cache_decorator),
        cmocka_unit_test(test_cache_other_machine),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_local),
        cmocka_unit_test(test_local_lock),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_report_driver),
        cmocka_unit_test(test_report_peers),
        cmocka_unit_test(test_report_stale_and_measure),
        cmocka_unit_test(test_impl_core),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    pw_test_rmtree(lockdir);
    free(lock), free(lockdir);
    return failed;
}
