/* slurm_client.c — talking to a Slurm cluster with its own commands (sinfo, sbatch, squeue,
 * scontrol, sacct, scancel), each run with an argv and a time limit: the partition check, job
 * submission, polling, cancelling, the blocking run of one measurement and the probe (slurm.h). */
#include "perfweave/slurm.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/common.h"
#include "perfweave/isolate.h"
#include "perfweave/proc.h"

struct pw_slurm_job {
    char *job_id;
    char *stem;        /* workdir/<stamp>-<pid>-<seq>-<name> */
    char *job_path, *script_path, *out_path, *log_path;
    pw_slurm_info info;
    bool ended;
};

/* The first line of a command's error output, for messages; caller frees. */
static char *first_line(const pw_buf *b)
{
    const char *s = b->data;
    while (*s == '\n' || *s == ' ') s++;
    size_t n = strcspn(s, "\n");
    if (n > 300) n = 300;
    return pw_xstrndup(s, n);
}

/* Runs a Slurm command; on anything but a zero exit fills msg ("WHAT: its error") and returns
 * PW_ENOTFOUND (not installed), PW_EIO (failed or did not answer in time). */
static int slurm_cmd(char *const argv[], double timeout_s, pw_buf *out, char *msg, size_t msgsize)
{
    pw_buf err;
    pw_buf_init(&err);
    pw_proc_status st;
    int status = pw_proc_run(argv, timeout_s, out, &err, &st);
    if (status == PW_ENOTFOUND)
        snprintf(msg, msgsize, "Slurm's %s is not installed here (not found on PATH: %s)", argv[0],
                 strerror(st.exec_errno));
    else if (status == PW_ECHILD)
        snprintf(msg, msgsize, "%s did not answer within %.0f s (is the Slurm controller reachable?)",
                 argv[0], timeout_s);
    else if (status != PW_OK)
        snprintf(msg, msgsize, "cannot run %s", argv[0]);
    else if (st.exit_code != 0) {
        char *line = first_line(&err);
        snprintf(msg, msgsize, "%s failed (exit status %d)%s%s", argv[0], st.exit_code,
                 *line ? ": " : "", line);
        free(line);
        status = PW_EIO;
    }
    pw_buf_release(&err);
    return status;
}

int pw_slurm_check_partitions(const char *const *partitions, size_t n, double timeout_s,
                              json_t **info, char *msg, size_t msgsize)
{
    if (info) *info = NULL;
    const char *conf = getenv("SLURM_CONF");
    struct stat st;
    if (conf && *conf && stat(conf, &st) != 0) {
        snprintf(msg, msgsize, "SLURM_CONF names %s, which does not exist: no Slurm cluster to "
                               "submit to", conf);
        return PW_EIO;
    }
    char *argv[] = {"sinfo", "-h", "-N", "-o", "%N|%R|%a|%c|%m|%z|%f|%t", NULL};
    pw_buf out;
    pw_buf_init(&out);
    char why[512];
    int status = slurm_cmd(argv, timeout_s, &out, why, sizeof why);
    if (status != PW_OK) {
        if (status == PW_ENOTFOUND) snprintf(msg, msgsize, "%s", why);
        else snprintf(msg, msgsize, "cannot reach the Slurm controller: %s", why);
        pw_buf_release(&out);
        return status == PW_ENOTFOUND ? PW_ENOTFOUND : PW_EIO;
    }
    json_t *doc = pw_slurm_parse_sinfo(out.data, why, sizeof why);
    pw_buf_release(&out);
    if (!doc) {
        snprintf(msg, msgsize, "%s", why);
        return PW_EIO;
    }
    status = PW_OK;
    for (size_t i = 0; i < n && status == PW_OK; i++) {
        json_t *p = json_object_get(doc, partitions[i]);
        if (!p) {
            pw_buf known;
            pw_buf_init(&known);
            const char *key;
            json_t *v;
            json_object_foreach(doc, key, v) pw_buf_printf(&known, "%s%s", known.len ? ", " : "", key);
            snprintf(msg, msgsize, "unknown Slurm partition '%s' (this cluster has: %s)", partitions[i],
                     known.len ? known.data : "none");
            pw_buf_release(&known);
            status = PW_ENOTFOUND;
            break;
        }
        const char *avail = json_string_value(json_object_get(p, "available"));
        if (!avail || strcmp(avail, "up") != 0) {
            snprintf(msg, msgsize, "Slurm partition '%s' is %s, not up", partitions[i], avail ? avail : "unavailable");
            status = PW_EINVAL;
            break;
        }
        json_t *kinds = json_object_get(p, "kinds");
        if (json_array_size(kinds) > 1) {
            pw_buf b;
            pw_buf_init(&b);
            size_t k;
            json_t *kind;
            json_array_foreach(kinds, k, kind) {
                json_t *nodes = json_object_get(kind, "nodes");
                pw_buf_printf(&b, "%s%s%s (%lld CPUs, %lld MB%s%s)", k ? "; " : "",
                              json_string_value(json_array_get(nodes, 0)),
                              json_array_size(nodes) > 1 ? " and others" : "",
                              (long long)json_integer_value(json_object_get(kind, "cpus")),
                              (long long)json_integer_value(json_object_get(kind, "memory_mb")),
                              strcmp(json_string_value(json_object_get(kind, "features")), "(null)") ? ", features " : "",
                              strcmp(json_string_value(json_object_get(kind, "features")), "(null)")
                                  ? json_string_value(json_object_get(kind, "features")) : "");
            }
            snprintf(msg, msgsize, "Slurm partition '%s' has %zu kinds of node: %s; perfweave "
                                   "measures one kind of machine per partition, so name a partition "
                                   "of identical nodes", partitions[i], json_array_size(kinds), b.data);
            pw_buf_release(&b);
            status = PW_EINVAL;
        }
    }
    if (status == PW_OK && info) *info = doc;
    else json_decref(doc);
    return status;
}

int pw_slurm_ctx_init(pw_slurm_ctx *ctx, const char *workdir, char *msg, size_t msgsize)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->poll_s = 1.0;
    ctx->command_s = 30.0;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(msg, msgsize, "cannot find this perfweave binary (/proc/self/exe)");
        return PW_EIO;
    }
    exe[n] = '\0';
    if (pw_mkdir_p(workdir) != PW_OK) {
        snprintf(msg, msgsize, "cannot create the Slurm work folder %s: %s", workdir, strerror(errno));
        return PW_EIO;
    }
    char *abs = realpath(workdir, NULL);
    char hex[65];
    if (!abs || pw_slurm_file_sha256(exe, hex) != PW_OK) {
        snprintf(msg, msgsize, "cannot read %s", abs ? exe : workdir);
        free(abs);
        return PW_EIO;
    }
    ctx->binary = pw_xstrdup(exe);
    ctx->workdir = abs;
    ctx->binary_sha256 = pw_xstrdup(hex);
    return PW_OK;
}

void pw_slurm_ctx_release(pw_slurm_ctx *ctx)
{
    free(ctx->binary);
    free(ctx->workdir);
    free(ctx->binary_sha256);
    memset(ctx, 0, sizeof *ctx);
}

/* name reduced to [A-Za-z0-9._-], at most 40 characters. */
static char *safe_name(const char *name)
{
    size_t n = strlen(name);
    if (n > 40) n = 40;
    char *s = pw_xstrndup(name, n);
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-')) s[i] = '-';
    return s;
}

void pw_slurm_job_free(pw_slurm_job *job, bool remove_files)
{
    if (!job) return;
    if (remove_files) {
        const char *files[] = {job->job_path, job->script_path, job->out_path, job->log_path};
        for (size_t i = 0; i < 4; i++)
            if (files[i]) unlink(files[i]);
    }
    free(job->job_id);
    free(job->stem);
    free(job->job_path);
    free(job->script_path);
    free(job->out_path);
    free(job->log_path);
    free(job);
}

int pw_slurm_job_submit(pw_slurm_ctx *ctx, const char *partition, const char *name,
                        const json_t *job_doc, const pw_slurm_limits *lim, pw_slurm_job **out,
                        char *msg, size_t msgsize)
{
    *out = NULL;
    pw_slurm_job *job = pw_xcalloc(1, sizeof *job);
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    char *safe = safe_name(name);
    /* The partition keeps apart the jobs of two contexts of one process (a report on several
     * partitions numbers each one's jobs from 1). */
    char *part = safe_name(partition);
    job->stem = pw_xasprintf("%s/%s-%ld-%s-%lu-%s", ctx->workdir, stamp, (long)getpid(), part, ++ctx->seq, safe);
    free(part);
    free(safe);
    job->job_path = pw_xasprintf("%s.job.json", job->stem);
    job->script_path = pw_xasprintf("%s.sh", job->stem);
    job->out_path = pw_xasprintf("%s.out.json", job->stem);
    job->log_path = pw_xasprintf("%s.log", job->stem);
    char *text = json_dumps(job_doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    char *script = pw_slurm_script(ctx->binary, job->job_path, job->out_path);
    int status = text && pw_write_file_atomic(job->job_path, text, strlen(text)) == PW_OK &&
                         pw_write_file_atomic(job->script_path, script, strlen(script)) == PW_OK
                     ? PW_OK : PW_EIO;
    free(text);
    free(script);
    if (status != PW_OK) {
        snprintf(msg, msgsize, "cannot write the job files in %s", ctx->workdir);
        pw_slurm_job_free(job, true);
        return PW_EIO;
    }
    chmod(job->script_path, 0755);
    char *jobname = pw_xasprintf("pw-%s", name);
    char *jobname_safe = safe_name(jobname);
    pw_slurm_submit s = {partition, jobname_safe, job->script_path, job->log_path, ctx->workdir, *lim};
    char **argv = pw_slurm_sbatch_argv(&s);
    pw_buf sout;
    pw_buf_init(&sout);
    char why[512];
    status = slurm_cmd(argv, ctx->command_s, &sout, why, sizeof why);
    pw_slurm_strv_free(argv);
    free(jobname);
    free(jobname_safe);
    if (status == PW_OK && pw_slurm_parse_job_id(sout.data, &job->job_id) != PW_OK) {
        snprintf(why, sizeof why, "sbatch printed no job id ('%.60s')", sout.data);
        status = PW_EINVAL;
    }
    pw_buf_release(&sout);
    if (status != PW_OK) {
        snprintf(msg, msgsize, "cannot submit to partition '%s': %s", partition, why);
        pw_slurm_job_free(job, true);
        return status == PW_ENOTFOUND ? PW_ENOTFOUND : status == PW_EINVAL ? PW_EINVAL : PW_EIO;
    }
    snprintf(job->info.job_id, sizeof job->info.job_id, "%s", job->job_id);
    snprintf(job->info.partition, sizeof job->info.partition, "%s", partition);
    snprintf(job->info.state, sizeof job->info.state, "PENDING");
    *out = job;
    return PW_OK;
}

/* What is left to learn about one job after squeue spoke (seen: its line, or NULL when squeue no
 * longer lists it): once it ended, scontrol for the exit code, node and time limit; when the
 * controller has forgotten it, job accounting (sacct); when nothing knows it, it ended UNKNOWN. */
static void settle(pw_slurm_ctx *ctx, pw_slurm_job *job, const pw_slurm_info *seen, pw_buf *out)
{
    char why[512];
    pw_slurm_info info;
    if (seen) {
        info = *seen;
        /* Keep what squeue does not print (the partition asked for, nodes seen earlier). */
        if (!info.nodes[0]) snprintf(info.nodes, sizeof info.nodes, "%s", job->info.nodes);
        job->info = info;
        if (pw_slurm_state_parse(info.state)->phase != PW_SLURM_ACTIVE) {
            char *sc[] = {"scontrol", "-o", "show", "job", job->job_id, NULL};
            pw_buf_reset(out);
            pw_slurm_info more;
            if (slurm_cmd(sc, ctx->command_s, out, why, sizeof why) == PW_OK &&
                pw_slurm_parse_scontrol(out->data, &more) == PW_OK) {
                snprintf(job->info.exit_code, sizeof job->info.exit_code, "%s", more.exit_code);
                if (more.nodes[0]) snprintf(job->info.nodes, sizeof job->info.nodes, "%s", more.nodes);
                if (more.time_limit[0])
                    snprintf(job->info.time_limit, sizeof job->info.time_limit, "%s", more.time_limit);
            }
            job->ended = true;
        }
        return;
    }
    char *sa[] = {"sacct", "-n", "-P", "-X", "-j", job->job_id, "-o",
                  "JobID,State,ExitCode,NodeList,Partition,Timelimit", NULL};
    pw_buf_reset(out);
    if (slurm_cmd(sa, ctx->command_s, out, why, sizeof why) == PW_OK &&
        pw_slurm_parse_sacct(out->data, job->job_id, &info) == PW_OK) {
        job->info = info;
        job->ended = pw_slurm_state_parse(info.state)->phase != PW_SLURM_ACTIVE;
    } else {
        job->info.state[0] = '\0';  /* reads UNKNOWN */
        job->ended = true;
    }
}

int pw_slurm_jobs_poll(pw_slurm_ctx *ctx, pw_slurm_job *const *jobs, size_t n, char *msg, size_t msgsize)
{
    pw_buf ids;
    pw_buf_init(&ids);
    for (size_t i = 0; i < n; i++)
        if (!jobs[i]->ended) pw_buf_printf(&ids, "%s%s", ids.len ? "," : "", jobs[i]->job_id);
    if (!ids.len) {
        pw_buf_release(&ids);
        return PW_OK;
    }
    char *sq[] = {"squeue", "-h", "-t", "all", "-j", ids.data, "-o", "%i|%T|%r|%N|%P|%l", NULL};
    pw_buf out;
    pw_buf_init(&out);
    char why[512];
    int status = slurm_cmd(sq, ctx->command_s, &out, why, sizeof why);
    /* squeue fails with "Invalid job id" once the controller has purged a job asked for alone;
     * anything else (no answer) means: ask again later. */
    if (status != PW_OK && !strstr(why, "Invalid job id")) {
        snprintf(msg, msgsize, "cannot ask Slurm about job%s %s: %s", strchr(ids.data, ',') ? "s" : "",
                 ids.data, why);
        pw_buf_release(&out);
        pw_buf_release(&ids);
        return PW_EIO;
    }
    char *listing = pw_xstrdup(status == PW_OK ? out.data : "");
    for (size_t i = 0; i < n; i++) {
        if (jobs[i]->ended) continue;
        pw_slurm_info info;
        bool known = pw_slurm_parse_squeue(listing, jobs[i]->job_id, &info) == PW_OK;
        settle(ctx, jobs[i], known ? &info : NULL, &out);
    }
    free(listing);
    pw_buf_release(&out);
    pw_buf_release(&ids);
    return PW_OK;
}

int pw_slurm_job_poll(pw_slurm_ctx *ctx, pw_slurm_job *job, bool *ended, char *msg, size_t msgsize)
{
    int status = pw_slurm_jobs_poll(ctx, &job, 1, msg, msgsize);
    *ended = job->ended;
    return status;
}

bool pw_slurm_job_ended(const pw_slurm_job *job)
{
    return job->ended;
}

const char *pw_slurm_job_id(const pw_slurm_job *job)
{
    return job->job_id;
}

const pw_slurm_info *pw_slurm_job_info(const pw_slurm_job *job)
{
    return &job->info;
}

const char *pw_slurm_job_out_path(const pw_slurm_job *job)
{
    return job->out_path;
}

const char *pw_slurm_job_log_path(const pw_slurm_job *job)
{
    return job->log_path;
}

int pw_slurm_jobs_cancel(pw_slurm_ctx *ctx, pw_slurm_job *const *jobs, size_t n)
{
    char **argv = pw_xcalloc(n + 2, sizeof *argv);
    size_t k = 0;
    argv[k++] = "scancel";
    for (size_t i = 0; i < n; i++)
        if (!jobs[i]->ended) argv[k++] = jobs[i]->job_id;
    char why[512];
    int status = k == 1 || slurm_cmd(argv, ctx->command_s, NULL, why, sizeof why) == PW_OK ? PW_OK : PW_EIO;
    free(argv);
    return status;
}

int pw_slurm_job_cancel(pw_slurm_ctx *ctx, pw_slurm_job *job)
{
    return pw_slurm_jobs_cancel(ctx, &job, 1);
}

/* Sleeps s seconds or until a signal arrives. */
static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* How long the controller may stay silent about a job before perfweave stops waiting for it. */
#define LOST_CONTACT_S 600.0

/* Waits for job to end, polling; on interruption cancels it and waits for its end (bounded).
 * Returns true when it was interrupted.  *lost (when the controller did not answer for
 * LOST_CONTACT_S) receives the last error, else "". */
static bool wait_job(pw_slurm_ctx *ctx, pw_slurm_job *job, char *lost, size_t lostsize)
{
    bool ended = false, cancelled = false;
    double waited_after_cancel = 0, silent = 0;
    char msg[512];
    lost[0] = '\0';
    while (!ended) {
        if (pw_isolate_interrupted() && !cancelled) {
            pw_slurm_job_cancel(ctx, job);
            cancelled = true;
        }
        if (pw_slurm_job_poll(ctx, job, &ended, msg, sizeof msg) == PW_OK) silent = 0;
        else if ((silent += ctx->poll_s) > LOST_CONTACT_S) {
            snprintf(lost, lostsize, "%s", msg);
            break;
        }
        if (ended) break;
        if (cancelled && (waited_after_cancel += ctx->poll_s) > 30) break;
        nap(ctx->poll_s);
    }
    return cancelled;
}

pw_result *pw_slurm_run(pw_slurm_ctx *ctx, const char *partition, const pw_slurm_measure *m,
                        const pw_slurm_limits *lim, bool *interrupted, char *msg, size_t msgsize)
{
    if (interrupted) *interrupted = false;
    pw_slurm_limits l;
    if (lim) l = *lim;
    else pw_slurm_limits_for(m, &l);
    json_t *doc = pw_slurm_job_measure(m);
    pw_slurm_job *job;
    int status = pw_slurm_job_submit(ctx, partition, m->id, doc, &l, &job, msg, msgsize);
    json_decref(doc);
    if (status != PW_OK) return NULL;
    char lost[512];
    bool cancelled = wait_job(ctx, job, lost, sizeof lost);
    if (interrupted) *interrupted = cancelled;
    pw_result *r = pw_slurm_result(m->experiment->name, m->id, &job->info, job->out_path, job->log_path);
    if (cancelled) pw_result_error(r, "interrupted: Slurm job %s was cancelled", job->job_id);
    else if (lost[0])
        pw_result_error(r, "Slurm did not answer about job %s for %.0f s, so perfweave stopped waiting "
                           "(the job may still run: scancel %s): %s", job->job_id, LOST_CONTACT_S,
                        job->job_id, lost);
    bool clean = !cancelled && !lost[0] && !pw_result_failed(r) &&
                 pw_slurm_state_parse(job->info.state)->phase == PW_SLURM_COMPLETED;
    pw_slurm_job_free(job, clean);
    return r;
}

int pw_slurm_probe(pw_slurm_ctx *ctx, const char *partition, const char *const *paths, size_t n,
                   json_t **env, char *msg, size_t msgsize)
{
    *env = NULL;
    /* A token only this folder holds: the node must read it back through the same folder. */
    unsigned char raw[16];
    FILE *ur = fopen("/dev/urandom", "rb");
    size_t got = ur ? fread(raw, 1, sizeof raw, ur) : 0;
    if (ur) fclose(ur);
    char token[33];
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(token + 2 * i, 3, "%02x", got == sizeof raw ? raw[i] : (unsigned char)(rand() & 0xff));
    char *part = safe_name(partition);
    char *token_path = pw_xasprintf("%s/probe-%ld-%s-%lu.token", ctx->workdir, (long)getpid(), part, ctx->seq + 1);
    free(part);
    if (pw_write_file_atomic(token_path, token, strlen(token)) != PW_OK) {
        snprintf(msg, msgsize, "cannot write in the Slurm work folder %s", ctx->workdir);
        free(token_path);
        return PW_EIO;
    }
    /* The node starts in the work folder: every path is made absolute here. */
    const char **whats = pw_xcalloc(n + 2, sizeof *whats);
    char **all = pw_xcalloc(n + 2, sizeof *all);
    whats[0] = "the perfweave binary", all[0] = pw_xstrdup(ctx->binary);
    whats[1] = "the work folder", all[1] = pw_xstrdup(ctx->workdir);
    int missing = -1;
    for (size_t i = 0; i < n; i++) {
        whats[i + 2] = "the file";
        all[i + 2] = realpath(paths[i], NULL);
        if (!all[i + 2] && missing < 0) missing = (int)i;
    }
    json_t *doc = missing < 0 ? pw_slurm_job_probe(whats, (const char *const *)all, n + 2, token_path, token) : NULL;
    free(whats);
    for (size_t i = 0; i < n + 2; i++) free(all[i]);
    free(all);
    if (!doc) {
        snprintf(msg, msgsize, "%s does not exist here", paths[missing]);
        unlink(token_path);
        free(token_path);
        return PW_ENOTFOUND;
    }
    pw_slurm_limits lim = {1, 256, false};
    pw_slurm_job *job;
    int status = pw_slurm_job_submit(ctx, partition, "probe", doc, &lim, &job, msg, msgsize);
    json_decref(doc);
    if (status != PW_OK) {
        unlink(token_path);
        free(token_path);
        return PW_EIO;
    }
    char lost[512];
    bool cancelled = wait_job(ctx, job, lost, sizeof lost);
    json_t *report = cancelled || lost[0] ? NULL : pw_json_load_file(job->out_path, 0, NULL);
    bool keep = true;
    if (lost[0]) {
        snprintf(msg, msgsize, "Slurm did not answer about the probe job %s for %.0f s: %s",
                 job->job_id, LOST_CONTACT_S, lost);
        status = PW_EIO;
    } else if (cancelled) {
        snprintf(msg, msgsize, "interrupted: the probe job %s was cancelled", job->job_id);
        status = PW_EINTR;
        keep = false; /* its end is known: nothing to look into */
    } else if (!report) {
        pw_result *r = pw_slurm_result("probe", "probe", &job->info, NULL, job->log_path);
        snprintf(msg, msgsize, "the probe of partition '%s' failed: %s", partition, pw_result_error_reason(r));
        pw_result_free(r);
        status = PW_EIO;
    } else if ((status = pw_slurm_probe_verify(report, ctx->binary_sha256, msg, msgsize)) == PW_OK) {
        *env = json_incref(json_object_get(report, "environment"));
        keep = false;
    }
    json_decref(report);
    pw_slurm_job_free(job, !keep);
    unlink(token_path);
    free(token_path);
    return status;
}
