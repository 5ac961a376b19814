/* cmd_run_job.c — `perfweave run-job JOB.json OUT.json`, the hidden command a Slurm job runs on
 * its node (slurm.h): a measurement job runs its directive through the local executor exactly as
 * a report does, under the node's measurement lock, and writes the result document with the
 * node's environment; a probe job (which measures nothing and takes no lock) reports
 * the node's environment and which of the submitter's paths are visible there. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "perfweave/common.h"
#include "perfweave/env.h"
#include "perfweave/exec.h"
#include "perfweave/isolate.h"
#include "perfweave/lock.h"
#include "perfweave/slurm.h"

static const char *const usage = "usage: perfweave run-job JOB.json OUT.json   (run by a Slurm job; see docs/slurm.md)\n";

/* The environment of this node now, with the Slurm job it runs in. */
static json_t *node_environment(json_t *slurm)
{
    json_t *env = pw_env_capture();
    if (slurm) json_object_set(env, "slurm", slurm);
    return env;
}

static int write_out(const char *path, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    int status = text ? pw_write_file_atomic(path, text, strlen(text)) : PW_EINTERNAL;
    free(text);
    if (status != PW_OK) fprintf(stderr, "perfweave run-job: cannot write %s\n", path);
    return status;
}

static int run_probe(const json_t *job, const char *out_path, json_t *slurm)
{
    json_t *checks = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(job, "checks"), i, c) {
        const char *what = json_string_value(json_object_get(c, "what"));
        const char *path = json_string_value(json_object_get(c, "path"));
        struct stat st;
        bool visible = path && stat(path, &st) == 0;
        json_array_append_new(checks, json_pack("{s:s, s:s, s:b}", "what", what ? what : "a path",
                                                "path", path ? path : "", "visible", visible));
    }
    const json_t *token = json_object_get(job, "token");
    const char *token_path = json_string_value(json_object_get(token, "path"));
    const char *value = json_string_value(json_object_get(token, "value"));
    char *seen = token_path ? pw_read_file(token_path, NULL) : NULL;
    bool matches = seen && value && strcmp(seen, value) == 0;
    free(seen);
    char hex[65] = "";
    bool have_sha = pw_slurm_file_sha256("/proc/self/exe", hex) == PW_OK;
    json_t *env = node_environment(slurm);
    char *fp = pw_env_fingerprint_hash(env);
    json_t *node = json_object_get(slurm, "node");
    json_t *report = json_pack("{s:i, s:O, s:o, s:s, s:o, s:b, s:o}", "probe_schema",
                               PW_SLURM_PROBE_SCHEMA, "node", node ? node : json_object_get(env, "host"),
                               "environment", env, "fingerprint", fp, "checks", checks,
                               "token_matches", matches, "binary_sha256",
                               have_sha ? json_string(hex) : json_null());
    free(fp);
    int status = write_out(out_path, report);
    json_decref(report);
    return status == PW_OK ? PW_SLURM_EXIT_OK : PW_SLURM_EXIT_NOWRITE;
}

/* What the local executor says about the node's measurement lock: its NOTE sentences (waiting,
 * and who holds it; taken after waiting) and the ERROR sentence when it cannot be had. */
typedef struct {
    json_t *notes;
    char error[1024];
} lock_news;

/* The executor's messages go to the job's log; those about the lock are kept for the result. */
static void job_event(void *ctx, const pw_exec_event *ev)
{
    lock_news *news = ctx;
    if (!ev->message || !(ev->kind == PW_EXEC_NOTE || ev->kind == PW_EXEC_WARNING || ev->kind == PW_EXEC_ERROR))
        return;
    fprintf(stderr, "perfweave run-job: %s\n", ev->message);
    if (ev->kind == PW_EXEC_NOTE && strstr(ev->message, "measurement lock"))
        json_array_append_new(news->notes, json_string(ev->message));
    if (ev->kind == PW_EXEC_ERROR) snprintf(news->error, sizeof news->error, "%s", ev->message);
}

/* The ERROR result of a measurement that could not take the node's measurement lock. */
static int write_locked_out(const pw_slurm_job_spec *spec, const char *out_path, json_t *slurm,
                            const char *why)
{
    pw_result *r = pw_result_new(spec->experiment->name, spec->id);
    pw_result_error(r, "not measured: %s: something measures on node %s outside Slurm", why,
                    json_string_value(json_object_get(slurm, "node")) ? json_string_value(json_object_get(slurm, "node"))
                                                                       : "(unknown)");
    json_t *doc = pw_result_json(r);
    json_object_set(doc, "params", spec->params);
    json_object_set_new(doc, "environment", node_environment(slurm));
    pw_exec_set_source(r, "slurm");
    if (slurm) json_object_set(json_object_get(doc, "run"), "slurm", slurm);
    int code = write_out(out_path, doc) == PW_OK ? PW_SLURM_EXIT_ERROR : PW_SLURM_EXIT_NOWRITE;
    fprintf(stderr, "perfweave run-job: %s: ERROR: %s\n", spec->id, pw_result_error_reason(r));
    pw_result_free(r);
    return code;
}

/* The measurement runs through the local executor (exec.h), as a report's would: the same
 * limits, the same isolated child, the same environment and noise warnings on the result, and
 * the node's measurement lock (lock.h) around it — waiting at most PW_SLURM_LOCK_WAIT_S, so that
 * a node busy with a measurement outside Slurm gives an ERROR rather than a TIMEOUT mid-way.  The
 * submitting perfweave holds no lock, so a node that is also the submitting machine (the
 * one-node test cluster) does not deadlock. */
static int run_measure(const json_t *job, const char *job_path, const char *out_path, json_t *slurm)
{
    pw_slurm_job_spec spec;
    char msg[512];
    if (pw_slurm_job_read(job, &spec, msg, sizeof msg) != PW_OK) {
        fprintf(stderr, "perfweave run-job: %s: %s\n", job_path, msg);
        return PW_SLURM_EXIT_BADJOB;
    }
    /* TIMEOUT and scancel arrive as SIGTERM: the child is killed and nothing is written, so the
     * submitter reports the job's Slurm state. */
    pw_isolate_catch_signals();
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    pw_lock_options lo;
    pw_lock_options_default(&lo);
    lo.max_wait_s = PW_SLURM_LOCK_WAIT_S;
    pw_exec *x = pw_exec_local_new_lock(now, &lo);
    lock_news news = {json_array(), ""};
    pw_exec_observe(x, job_event, &news);
    pw_exec_job ej = {spec.experiment, spec.id, spec.params, "", spec.quick, spec.timeout_s, spec.memory_mb};
    pw_exec_submit(x, &ej);
    pw_exec_ticket ticket;
    pw_result *r = NULL;
    int st;
    while ((st = pw_exec_wait(x, -1, &ticket, &r)) == PW_EAGAIN && !pw_isolate_interrupted()) {}
    int code;
    if (pw_isolate_interrupted()) {
        fprintf(stderr, "perfweave run-job: interrupted by signal %d: no result written\n",
                pw_isolate_interrupted());
        code = 128 + pw_isolate_interrupted();
    } else if (!r && (st == PW_EBUSY || st == PW_EIO)) {
        code = write_locked_out(&spec, out_path, slurm, news.error[0] ? news.error : "the measurement lock cannot be taken");
    } else if (!r) {
        fprintf(stderr, "perfweave run-job: the local executor answered nothing\n");
        code = PW_SLURM_EXIT_NOWRITE;
    } else {
        json_t *doc = pw_result_json(r);
        pw_exec_set_source(r, "slurm");
        if (slurm) {
            json_t *env = json_deep_copy(json_object_get(doc, "environment"));
            if (!env) env = json_object();
            json_object_set(env, "slurm", slurm);
            json_object_set_new(doc, "environment", env);
            json_object_set(json_object_get(doc, "run"), "slurm", slurm);
        }
        /* A wait for the node's lock says for whom: something measured there outside Slurm. */
        if (json_array_size(news.notes)) json_object_set(json_object_get(doc, "run"), "lock_notes", news.notes);
        if (write_out(out_path, doc) != PW_OK) code = PW_SLURM_EXIT_NOWRITE;
        else code = pw_result_failed(r) ? PW_SLURM_EXIT_ERROR : PW_SLURM_EXIT_OK;
        if (pw_result_failed(r))
            fprintf(stderr, "perfweave run-job: %s: ERROR: %s\n", spec.id, pw_result_error_reason(r));
    }
    pw_result_free(r);
    pw_exec_free(x);
    json_decref(news.notes);
    json_decref(spec.params);
    return code;
}

int pw_cmd_run_job(int argc, char **argv)
{
    if (argc != 3) {
        fputs(usage, stderr);
        return PW_SLURM_EXIT_BADJOB;
    }
    json_error_t jerr;
    json_t *job = pw_json_load_file(argv[1], 0, &jerr);
    if (!job) {
        fprintf(stderr, "perfweave run-job: %s: not a job file (%s)\n", argv[1], jerr.text);
        return PW_SLURM_EXIT_BADJOB;
    }
    json_t *slurm = pw_slurm_context();
    const char *kind = json_string_value(json_object_get(job, "kind"));
    int code;
    if (kind && strcmp(kind, "probe") == 0) code = run_probe(job, argv[2], slurm);
    else code = run_measure(job, argv[1], argv[2], slurm);
    json_decref(slurm);
    json_decref(job);
    return code;
}
