/* slurm.h — one directive as one Slurm job, with Slurm's own commands and no scheduler of
 * perfweave's: the job file (the directive as JSON; no chapter text travels), the batch script
 * written from a fixed template, sbatch / squeue / scontrol / sacct / scancel run with an argv
 * (proc.h; never a shell), job ids and states parsed, a finished job turned into a result document
 * (a failed one into an ERROR naming the Slurm state and the job id), the partition check before
 * anything is submitted, and the probe job that returns a partition's node environment (the
 * machine fingerprint a cache needs before submitting) and checks the shared filesystem.
 *
 * On the node the job runs the submitting perfweave binary: `perfweave run-job JOB.json OUT.json`
 * (src/cli/cmd_run_job.c) measures through the local executor exactly as a report does and
 * writes the result with the node's environment.  docs/slurm.md describes the whole path. */
#ifndef PERFWEAVE_SLURM_H
#define PERFWEAVE_SLURM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "perfweave/experiment.h"
#include "perfweave/result.h"

#define PW_SLURM_JOB_SCHEMA 1
#define PW_SLURM_PROBE_SCHEMA 1
/* Seconds added to a measurement's own limit for the job's --time: start-up, two environment
 * captures and writing the result. */
#define PW_SLURM_MARGIN_S 60.0
/* How long run-job waits on its node for the measurement lock (lock.h) before it gives up with an
 * ERROR result: well inside PW_SLURM_MARGIN_S, so that a node busy with a measurement outside
 * Slurm gives a clear ERROR rather than a TIMEOUT in the middle of the measurement. */
#define PW_SLURM_LOCK_WAIT_S 30.0
/* Megabytes added to a directive's memory: (the child's address-space limit) for --mem: the
 * run-job process itself beside the measuring child. */
#define PW_SLURM_MEM_MARGIN_MB 512.0
/* Exit statuses of the batch script and of run-job that mean something to the collector. */
enum {
    PW_SLURM_EXIT_OK = 0,           /* a result document was written; the experiment ran */
    PW_SLURM_EXIT_BADJOB = 1,       /* the job file was unreadable or invalid (log says why) */
    PW_SLURM_EXIT_ERROR = 2,        /* a result document was written; the experiment is ERROR */
    PW_SLURM_EXIT_NOWRITE = 3,      /* the result could not be written */
    PW_SLURM_EXIT_NOBINARY = 97,    /* the script found no perfweave binary at its path */
    PW_SLURM_EXIT_NOJOBFILE = 98    /* the script found no job file at its path */
};

/* --- job states ----------------------------------------------------------------------------- */
typedef enum {
    PW_SLURM_ACTIVE,     /* queued, starting, running, suspended, requeued, completing */
    PW_SLURM_COMPLETED,  /* ended by itself with exit code 0 */
    PW_SLURM_ENDED,      /* ended otherwise: failed, timed out, cancelled, lost its node, … */
    PW_SLURM_UNKNOWN     /* a word this perfweave does not know */
} pw_slurm_phase;

typedef struct {
    const char *name;     /* "TIMEOUT" */
    const char *code;     /* squeue's short code, "TO" */
    pw_slurm_phase phase;
    const char *meaning;  /* for ERROR reasons: "reached its time limit" */
} pw_slurm_state;

/* The state a word names, as squeue (%T or %t), scontrol (JobState=) or sacct (State, e.g.
 * "CANCELLED by 0") print it; static storage.  An unknown word gives the entry named "UNKNOWN"
 * (phase PW_SLURM_UNKNOWN). */
const pw_slurm_state *pw_slurm_state_parse(const char *text);

/* --- what Slurm says about one job ---------------------------------------------------------- */
typedef struct {
    char job_id[32];
    char state[48];       /* the state word as printed ("" when unknown) */
    char reason[128];     /* squeue/scontrol reason ("None", "TimeLimit", …) */
    char nodes[256];      /* node list */
    char partition[128];
    char exit_code[16];   /* "code:signal" as scontrol/sacct print it, "" when not known */
    char time_limit[32];  /* as printed ("00:02:00", "2", …) */
} pw_slurm_info;

/* Output of `squeue -h -t all -j IDS -o %i|%T|%r|%N|%P|%l` (one line per job): the line of
 * job_id into *out.  PW_OK, or PW_ENOTFOUND when no line is that job's. */
int pw_slurm_parse_squeue(const char *text, const char *job_id, pw_slurm_info *out);
/* Output of `scontrol -o show job ID` (one line of Key=Value tokens).  PW_OK, or PW_ENOTFOUND
 * when it holds no JobId= or JobState=. */
int pw_slurm_parse_scontrol(const char *text, pw_slurm_info *out);
/* Output of `sacct -n -P -X -j ID -o JobID,State,ExitCode,NodeList,Partition,Timelimit`.  PW_OK
 * or PW_ENOTFOUND. */
int pw_slurm_parse_sacct(const char *text, const char *job_id, pw_slurm_info *out);

/* The job id sbatch --parsable printed ("123" or "123;cluster", a newline): digits, and for an
 * array element "123_4".  PW_OK with the id in *job_id (caller frees), or PW_EINVAL. */
int pw_slurm_parse_job_id(const char *sbatch_stdout, char **job_id);

/* --- partitions ----------------------------------------------------------------------------- */
/* Output of `sinfo -h -N -o %N|%R|%a|%c|%m|%z|%f|%t` (one line per node and partition) as
 *   { PARTITION: { "available": "up"|…, "nodes": [names],
 *                  "kinds": [ { "cpus": n, "memory_mb": n, "sockets_cores_threads": "1:2:1",
 *                               "features": "…", "nodes": [names] } ] } }
 * Nodes of one kind agree in CPUs, memory, sockets:cores:threads and features.  Returns a new
 * reference (an empty object for empty text), or NULL with a message for a malformed line. */
json_t *pw_slurm_parse_sinfo(const char *text, char *msg, size_t msgsize);

/* Checks what must hold before anything is submitted: the Slurm commands exist, the controller
 * answers (sinfo within timeout_s), and each of the n partitions exists, is up and holds nodes
 * of one kind only (perfweave measures one kind of machine per partition; a partition of mixed
 * nodes is refused rather than guessed).  On PW_OK *info (when non-NULL) receives the parsed
 * sinfo document (above).  Otherwise PW_ENOTFOUND (Slurm not installed, unknown partition),
 * PW_EIO (no configuration, the controller does not answer) or PW_EINVAL (partition down or
 * mixed), with a sentence in msg. */
int pw_slurm_check_partitions(const char *const *partitions, size_t n, double timeout_s,
                              json_t **info, char *msg, size_t msgsize);

/* Splits "a,b,c" into a NULL-terminated array of partition names (caller frees with
 * pw_slurm_strv_free); *n receives the count.  Empty names or names with characters other than
 * [A-Za-z0-9._-] make it return NULL. */
char **pw_slurm_split_partitions(const char *list, size_t *n);
void pw_slurm_strv_free(char **v);

/* --- the job file, the script, the sbatch command ------------------------------------------- */
typedef struct {
    const pw_experiment *experiment;
    const char *id;
    const json_t *params;   /* complete parameter object (defaults filled in) */
    bool quick;
    double timeout_s;       /* the measurement's limit inside the job; 0 = isolate.h's default */
    double memory_mb;       /* its memory limit; 0 = isolate.h's default, and no --mem */
} pw_slurm_measure;

/* The job file of a measurement: { "job_schema": 1, "kind": "measure", "experiment", "id",
 * "params", "quick", "timeout_s", "memory_mb" }.  New reference. */
json_t *pw_slurm_job_measure(const pw_slurm_measure *m);

/* The job file of a probe: { "job_schema": 1, "kind": "probe", "checks": [ { "what", "path" } ],
 * "token": { "path", "value" } }: the node reports whether each path is visible and whether the
 * token file holds value (the same folder, not one of the same name).  New reference. */
json_t *pw_slurm_job_probe(const char *const *whats, const char *const *paths, size_t n,
                           const char *token_path, const char *token);

/* On the node: reads a measurement job file.  The experiment must be registered and every
 * parameter valid for it (each value is checked again with pw_param_parse, so a job file can
 * never hand an experiment a value its schema forbids).  On PW_OK fills *out (params is a new
 * reference the caller releases; id borrows from job).  PW_EINVAL with a message otherwise. */
typedef struct {
    const pw_experiment *experiment;
    const char *id;
    json_t *params;
    bool quick;
    double timeout_s, memory_mb;
} pw_slurm_job_spec;
int pw_slurm_job_read(const json_t *job, pw_slurm_job_spec *out, char *msg, size_t msgsize);

/* The job's context on the node, from the variables slurmd sets (SLURM_JOB_ID,
 * SLURM_JOB_PARTITION, SLURMD_NODENAME, SLURM_CLUSTER_NAME): { "job_id", "partition", "node",
 * "cluster" } (missing ones null), or NULL outside a Slurm job.  New reference. */
json_t *pw_slurm_context(void);

/* The batch script, from a fixed template in which only the three absolute paths vary (each
 * single-quoted for the shell): it checks that the binary and the job file are visible on the node
 * (exit PW_SLURM_EXIT_NOBINARY / NOJOBFILE with a sentence in the log) and execs
 * `BINARY run-job JOB OUT`.  Caller frees. */
char *pw_slurm_script(const char *binary, const char *job_path, const char *out_path);

/* The job's limits: --time in minutes (>= 1) and --mem in MB (0 = none). */
typedef struct {
    int time_min;
    double mem_mb;
    bool exclusive;       /* --exclusive: the node to this job alone (every measurement) */
} pw_slurm_limits;

/* The limits of a measurement: --time = its timeout (isolate's default when 0) plus
 * PW_SLURM_MARGIN_S, rounded up to whole minutes; --mem = memory_mb + PW_SLURM_MEM_MARGIN_MB
 * when the directive sets memory:, else none; exclusive. */
void pw_slurm_limits_for(const pw_slurm_measure *m, pw_slurm_limits *lim);

typedef struct {
    const char *partition;
    const char *job_name;   /* shown by squeue */
    const char *script;     /* absolute path */
    const char *log;        /* --output: stdout and stderr of the job */
    const char *chdir;      /* --chdir */
    pw_slurm_limits limits;
} pw_slurm_submit;

/* The argv of sbatch for s (NULL-terminated; caller frees with pw_slurm_strv_free):
 *   sbatch --parsable --job-name=N --partition=P --nodes=1 --ntasks=1 [--exclusive]
 *          --time=M [--mem=XM] --output=LOG --chdir=DIR --export=PATH,HOME,…,PERFWEAVE_LOCK SCRIPT
 * One node per job; the environment is not exported whole (only what a program needs to start,
 * and PERFWEAVE_LOCK when set: a site's or a test's node-local lock path, lock.h), so the
 * submitting shell's settings do not leak into the measurement. */
char **pw_slurm_sbatch_argv(const pw_slurm_submit *s);

/* --- a finished job's result ---------------------------------------------------------------- */
/* The result of a job that ended (info->state terminal), from the result document at out_path
 * when one exists, is valid and belongs to (experiment, id), else an ERROR:
 *   "Slurm job 17 ended TIMEOUT (it reached its time limit of 00:02:00) on node vm without a
 *    result; its last output: …" (the tail of the job's log at log_path);
 * a result that is itself an ERROR while the job did not complete gains "(Slurm job 17:
 * FAILED, exit code 2:0)".  Every result gets run.source "slurm" and run.slurm
 * { "job_id", "partition", "node", "state", "exit_code" }.  Never NULL; the caller frees it. */
pw_result *pw_slurm_result(const char *experiment, const char *id, const pw_slurm_info *info,
                           const char *out_path, const char *log_path);

/* The last max bytes of a job's log as printable text ("" when unreadable); caller frees. */
char *pw_slurm_log_tail(const char *log_path, size_t max);

/* Checks a probe's output against what the submitter expects: every check visible, the token
 * matching, the binary's SHA-256 equal to binary_sha256, an environment present.  PW_OK, or
 * PW_EINVAL with a sentence naming the node and what is not shared. */
int pw_slurm_probe_verify(const json_t *probe_out, const char *binary_sha256, char *msg,
                          size_t msgsize);

/* SHA-256 of a file's bytes (64 hex digits and NUL into hex).  PW_OK or PW_EIO. */
int pw_slurm_file_sha256(const char *path, char hex[65]);

/* --- talking to Slurm (slurm_client.c) ------------------------------------------------------ */
typedef struct {
    char *binary;          /* this perfweave, absolute (from /proc/self/exe) */
    char *workdir;         /* absolute; job files, scripts, logs and results; must be shared */
    char *binary_sha256;   /* of binary, for the probe's check */
    double poll_s;         /* seconds between squeue calls while waiting (1) */
    double command_s;      /* limit on each Slurm command (30) */
    unsigned long seq;     /* numbers this process's jobs */
} pw_slurm_ctx;

/* Prepares a context over workdir (created when missing; made absolute).  PW_OK, or PW_EIO with
 * a message. */
int pw_slurm_ctx_init(pw_slurm_ctx *ctx, const char *workdir, char *msg, size_t msgsize);
void pw_slurm_ctx_release(pw_slurm_ctx *ctx);

typedef struct pw_slurm_job pw_slurm_job;

/* Writes job_doc as a job file and the script into the work folder and submits it to partition
 * (pw_slurm_sbatch_argv).  On PW_OK *job is a new submitted job (free with pw_slurm_job_free).
 * Otherwise PW_ENOTFOUND (no sbatch), PW_EIO (files, or sbatch failed or did not answer: the
 * message quotes its error) or PW_EINVAL (it printed no job id). */
int pw_slurm_job_submit(pw_slurm_ctx *ctx, const char *partition, const char *name,
                        const json_t *job_doc, const pw_slurm_limits *lim, pw_slurm_job **job,
                        char *msg, size_t msgsize);

/* Asks Slurm about the job (squeue; once it ended, scontrol for the exit code; sacct when the
 * controller has forgotten it).  *ended becomes true when it reached a terminal state — or when
 * no command knows the job any more (its state then reads "UNKNOWN").  PW_OK, or PW_EIO when the
 * controller did not answer (the job may still be running: ask again). */
int pw_slurm_job_poll(pw_slurm_ctx *ctx, pw_slurm_job *job, bool *ended, char *msg, size_t msgsize);
/* The same for n jobs with one squeue call (`-j ID,ID,…`: the controller is asked once per round,
 * whatever the number of jobs waited for); jobs that already ended are skipped.  Each job's end is
 * then pw_slurm_job_ended.  PW_OK, or PW_EIO when the controller did not answer (ask again). */
int pw_slurm_jobs_poll(pw_slurm_ctx *ctx, pw_slurm_job *const *jobs, size_t n, char *msg, size_t msgsize);
/* Whether the job reached a terminal state (or is known to no command any more) when last polled. */
bool pw_slurm_job_ended(const pw_slurm_job *job);

const char *pw_slurm_job_id(const pw_slurm_job *job);
const pw_slurm_info *pw_slurm_job_info(const pw_slurm_job *job);
/* The path of the job's output document (its result, or its probe report); borrowed. */
const char *pw_slurm_job_out_path(const pw_slurm_job *job);
const char *pw_slurm_job_log_path(const pw_slurm_job *job);

/* scancel for the job (nothing for a job that already ended).  PW_OK or PW_EIO. */
int pw_slurm_job_cancel(pw_slurm_ctx *ctx, pw_slurm_job *job);
/* One scancel for every one of the n jobs that has not ended.  PW_OK or PW_EIO. */
int pw_slurm_jobs_cancel(pw_slurm_ctx *ctx, pw_slurm_job *const *jobs, size_t n);

/* Frees the job; its files in the work folder are removed when remove_files is true (keep them
 * for a job that failed: its log says why). */
void pw_slurm_job_free(pw_slurm_job *job, bool remove_files);

/* Submits one measurement to partition and waits for it (polling every ctx->poll_s), cancelling
 * it when this process is interrupted (pw_isolate_interrupted).  lim NULL = pw_slurm_limits_for.
 * Returns the result (pw_slurm_result; never NULL once submitted; an ERROR saying so when the
 * controller stayed silent about the job for ten minutes), or NULL with a message when nothing
 * could be submitted.  *interrupted (when non-NULL) says whether it was cancelled. */
pw_result *pw_slurm_run(pw_slurm_ctx *ctx, const char *partition, const pw_slurm_measure *m,
                        const pw_slurm_limits *lim, bool *interrupted, char *msg, size_t msgsize);

/* The probe of one partition: a short job (1 minute, not exclusive, 256 MB) that reports its
 * node's environment and whether the binary, the work folder and each of the n paths (chapters,
 * say) are visible there (pw_slurm_probe_verify).  On PW_OK *env receives the node's environment
 * (its machine fingerprint is pw_env_fingerprint_hash(*env)).  Otherwise a message: PW_EIO (could
 * not submit, or the job ended without a report: its state and log tail are quoted), PW_EINVAL
 * (something not shared), PW_EINTR (interrupted; the probe was cancelled). */
int pw_slurm_probe(pw_slurm_ctx *ctx, const char *partition, const char *const *paths, size_t n,
                   json_t **env, char *msg, size_t msgsize);

#endif
