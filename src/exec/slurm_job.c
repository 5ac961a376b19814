/* slurm_job.c — the parts of a Slurm job that need no cluster: job states, the parsers of
 * sbatch / squeue / scontrol / sacct / sinfo output, the job file, the batch script template, the
 * sbatch argv, the job's limits, and turning a finished job into a result (slurm.h). */
#include "perfweave/slurm.h"

#include <ctype.h>
#include <math.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "perfweave/common.h"
#include "perfweave/isolate.h"

/* --- states --------------------------------------------------------------------------------- */

static const pw_slurm_state states[] = {
    {"PENDING", "PD", PW_SLURM_ACTIVE, "was still waiting in the queue"},
    {"RUNNING", "R", PW_SLURM_ACTIVE, "was still running"},
    {"SUSPENDED", "S", PW_SLURM_ACTIVE, "was suspended"},
    {"COMPLETING", "CG", PW_SLURM_ACTIVE, "was completing"},
    {"CONFIGURING", "CF", PW_SLURM_ACTIVE, "was waiting for its node to be configured"},
    {"REQUEUED", "RQ", PW_SLURM_ACTIVE, "was requeued"},
    {"REQUEUE_HOLD", "RH", PW_SLURM_ACTIVE, "was requeued and held"},
    {"REQUEUE_FED", "RF", PW_SLURM_ACTIVE, "was requeued by its federation"},
    {"RESIZING", "RS", PW_SLURM_ACTIVE, "was being resized"},
    {"RESV_DEL_HOLD", "RD", PW_SLURM_ACTIVE, "was held after its reservation was deleted"},
    {"SIGNALING", "SI", PW_SLURM_ACTIVE, "was being signalled"},
    {"STAGE_OUT", "SO", PW_SLURM_ACTIVE, "was staging out"},
    {"STOPPED", "ST", PW_SLURM_ACTIVE, "was stopped"},
    {"COMPLETED", "CD", PW_SLURM_COMPLETED, "completed"},
    {"CANCELLED", "CA", PW_SLURM_ENDED, "was cancelled (scancel, or by an administrator)"},
    {"FAILED", "F", PW_SLURM_ENDED, "ended with a non-zero exit code or could not start"},
    {"TIMEOUT", "TO", PW_SLURM_ENDED, "reached its time limit"},
    {"OUT_OF_MEMORY", "OOM", PW_SLURM_ENDED, "ran out of memory (its --mem limit)"},
    {"NODE_FAIL", "NF", PW_SLURM_ENDED, "lost its node (node failure)"},
    {"PREEMPTED", "PR", PW_SLURM_ENDED, "was preempted by a job of higher priority"},
    {"BOOT_FAIL", "BF", PW_SLURM_ENDED, "could not start: its node failed to boot"},
    {"DEADLINE", "DL", PW_SLURM_ENDED, "missed its deadline"},
    {"SPECIAL_EXIT", "SE", PW_SLURM_ENDED, "ended in a special exit state (held for an administrator)"},
    {"REVOKED", "RV", PW_SLURM_ENDED, "was revoked (a sibling cluster of its federation ran it)"},
};
static const pw_slurm_state unknown_state = {"UNKNOWN", "", PW_SLURM_UNKNOWN,
                                             "is in a state this perfweave does not know"};

const pw_slurm_state *pw_slurm_state_parse(const char *text)
{
    if (!text) return &unknown_state;
    while (isspace((unsigned char)*text)) text++;
    size_t n = 0;
    while (text[n] && (isalnum((unsigned char)text[n]) || text[n] == '_')) n++;
    if (n == 0) return &unknown_state;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        if ((strlen(states[i].name) == n && strncasecmp(text, states[i].name, n) == 0) ||
            (strlen(states[i].code) == n && strncasecmp(text, states[i].code, n) == 0))
            return &states[i];
    return &unknown_state;
}

/* --- parsers -------------------------------------------------------------------------------- */

/* Copies a field, trimmed, as printable ASCII ('?' for anything else: Slurm prints ASCII, and
 * the fields go into JSON, which must be valid UTF-8). */
static void copy_field(char *dst, size_t size, const char *src, size_t n)
{
    while (n > 0 && isspace((unsigned char)*src)) src++, n--;
    while (n > 0 && isspace((unsigned char)src[n - 1])) n--;
    if (n >= size) n = size - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[n] = '\0';
}

/* Splits one line at '|' into at most max fields (pointers and lengths). */
static size_t split_bar(const char *line, size_t len, const char **f, size_t *fl, size_t max)
{
    size_t k = 0;
    const char *start = line, *end = line + len;
    while (k < max) {
        const char *bar = memchr(start, '|', (size_t)(end - start));
        f[k] = start;
        fl[k] = (size_t)((bar ? bar : end) - start);
        k++;
        if (!bar) break;
        start = bar + 1;
    }
    return k;
}

/* Calls fn on each line of text with its fields; stops when fn returns true. */
static bool each_line(const char *text, size_t nfields,
                      bool (*fn)(const char **f, const size_t *fl, size_t n, void *arg), void *arg)
{
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *f[16];
        size_t fl[16];
        size_t n = split_bar(line, len, f, fl, nfields < 16 ? nfields : 16);
        if (len > 0 && fn(f, fl, n, arg)) return true;
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

static bool field_is(const char *f, size_t fl, const char *s)
{
    while (fl > 0 && isspace((unsigned char)*f)) f++, fl--;
    while (fl > 0 && isspace((unsigned char)f[fl - 1])) fl--;
    return strlen(s) == fl && strncmp(f, s, fl) == 0;
}

typedef struct {
    const char *job_id;
    pw_slurm_info *out;
    int kind;  /* 0 squeue, 1 sacct */
} find_arg;

static bool take_line(const char **f, const size_t *fl, size_t n, void *arg)
{
    find_arg *a = arg;
    if (n < 2 || !field_is(f[0], fl[0], a->job_id)) return false;
    pw_slurm_info *o = a->out;
    memset(o, 0, sizeof *o);
    copy_field(o->job_id, sizeof o->job_id, f[0], fl[0]);
    copy_field(o->state, sizeof o->state, f[1], fl[1]);
    if (a->kind == 0) {  /* %i|%T|%r|%N|%P|%l */
        if (n > 2) copy_field(o->reason, sizeof o->reason, f[2], fl[2]);
        if (n > 3) copy_field(o->nodes, sizeof o->nodes, f[3], fl[3]);
        if (n > 4) copy_field(o->partition, sizeof o->partition, f[4], fl[4]);
        if (n > 5) copy_field(o->time_limit, sizeof o->time_limit, f[5], fl[5]);
    } else {             /* JobID|State|ExitCode|NodeList|Partition|Timelimit */
        if (n > 2) copy_field(o->exit_code, sizeof o->exit_code, f[2], fl[2]);
        if (n > 3) copy_field(o->nodes, sizeof o->nodes, f[3], fl[3]);
        if (n > 4) copy_field(o->partition, sizeof o->partition, f[4], fl[4]);
        if (n > 5) copy_field(o->time_limit, sizeof o->time_limit, f[5], fl[5]);
    }
    return true;
}

int pw_slurm_parse_squeue(const char *text, const char *job_id, pw_slurm_info *out)
{
    find_arg a = {job_id, out, 0};
    return text && job_id && each_line(text, 6, take_line, &a) ? PW_OK : PW_ENOTFOUND;
}

int pw_slurm_parse_sacct(const char *text, const char *job_id, pw_slurm_info *out)
{
    find_arg a = {job_id, out, 1};
    return text && job_id && each_line(text, 6, take_line, &a) ? PW_OK : PW_ENOTFOUND;
}

/* The value of KEY= in a line of space-separated Key=Value tokens into dst ("" when absent). */
static bool token_value(const char *text, const char *key, char *dst, size_t size)
{
    size_t kl = strlen(key);
    dst[0] = '\0';
    for (const char *p = text; (p = strstr(p, key)) != NULL; p += kl) {
        if ((p != text && !isspace((unsigned char)p[-1])) || p[kl] != '=') continue;
        const char *v = p + kl + 1;
        copy_field(dst, size, v, strcspn(v, " \t\n"));
        return true;
    }
    return false;
}

int pw_slurm_parse_scontrol(const char *text, pw_slurm_info *out)
{
    memset(out, 0, sizeof *out);
    if (!text || !token_value(text, "JobId", out->job_id, sizeof out->job_id) ||
        !token_value(text, "JobState", out->state, sizeof out->state) || !out->job_id[0] || !out->state[0])
        return PW_ENOTFOUND;
    token_value(text, "Reason", out->reason, sizeof out->reason);
    token_value(text, "NodeList", out->nodes, sizeof out->nodes);
    token_value(text, "Partition", out->partition, sizeof out->partition);
    token_value(text, "ExitCode", out->exit_code, sizeof out->exit_code);
    token_value(text, "TimeLimit", out->time_limit, sizeof out->time_limit);
    if (strcmp(out->nodes, "(null)") == 0) out->nodes[0] = '\0';
    return PW_OK;
}

int pw_slurm_parse_job_id(const char *text, char **job_id)
{
    *job_id = NULL;
    if (!text) return PW_EINVAL;
    while (isspace((unsigned char)*text)) text++;
    size_t n = strcspn(text, ";\n\r \t");
    size_t digits = 0, i = 0;
    while (i < n && isdigit((unsigned char)text[i])) i++, digits++;
    if (digits == 0) return PW_EINVAL;
    if (i < n && text[i] == '_') {
        size_t more = 0;
        for (i++; i < n && isdigit((unsigned char)text[i]); i++) more++;
        if (more == 0) return PW_EINVAL;
    }
    if (i != n || n > 31) return PW_EINVAL;
    *job_id = pw_xstrndup(text, n);
    return PW_OK;
}

/* --- partitions ----------------------------------------------------------------------------- */

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 127) return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-')) return false;
    return true;
}

char **pw_slurm_split_partitions(const char *list, size_t *n)
{
    *n = 0;
    if (!list || !*list) return NULL;
    size_t cap = 1;
    for (const char *p = list; *p; p++) cap += *p == ',';
    char **v = pw_xcalloc(cap + 1, sizeof *v);
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        if (!name_ok(p, len)) {
            pw_slurm_strv_free(v);
            *n = 0;
            return NULL;
        }
        v[(*n)++] = pw_xstrndup(p, len);
        if (!p[len]) break;
        p += len + 1;
    }
    return v;
}

void pw_slurm_strv_free(char **v)
{
    if (!v) return;
    for (size_t i = 0; v[i]; i++) free(v[i]);
    free(v);
}

typedef struct {
    json_t *doc;
    bool bad;
    char *msg;
    size_t msgsize;
} sinfo_arg;

static char *field_dup(const char *f, size_t fl)
{
    char tmp[512];
    copy_field(tmp, sizeof tmp, f, fl);
    return pw_xstrdup(tmp);
}

static bool take_sinfo(const char **f, const size_t *fl, size_t n, void *arg)
{
    sinfo_arg *a = arg;
    if (n < 8) {
        snprintf(a->msg, a->msgsize, "sinfo printed a line perfweave cannot read (%zu fields)", n);
        a->bad = true;
        return true;
    }
    char *node = field_dup(f[0], fl[0]), *part = field_dup(f[1], fl[1]), *avail = field_dup(f[2], fl[2]);
    char *cpus = field_dup(f[3], fl[3]), *mem = field_dup(f[4], fl[4]), *sct = field_dup(f[5], fl[5]);
    char *features = field_dup(f[6], fl[6]);
    json_t *p = json_object_get(a->doc, part);
    if (!p) {
        p = json_pack("{s:s, s:[], s:[]}", "available", avail, "nodes", "kinds");
        json_object_set_new(a->doc, part, p);
    }
    json_array_append_new(json_object_get(p, "nodes"), json_string(node));
    json_int_t c = strtoll(cpus, NULL, 10), m = strtoll(mem, NULL, 10);
    json_t *kinds = json_object_get(p, "kinds"), *kind = NULL, *k;
    size_t i;
    json_array_foreach(kinds, i, k)
        if (json_integer_value(json_object_get(k, "cpus")) == c &&
            json_integer_value(json_object_get(k, "memory_mb")) == m &&
            strcmp(json_string_value(json_object_get(k, "sockets_cores_threads")), sct) == 0 &&
            strcmp(json_string_value(json_object_get(k, "features")), features) == 0)
            kind = k;
    if (!kind) {
        kind = json_pack("{s:I, s:I, s:s, s:s, s:[]}", "cpus", c, "memory_mb", m,
                         "sockets_cores_threads", sct, "features", features, "nodes");
        json_array_append_new(kinds, kind);
    }
    json_array_append_new(json_object_get(kind, "nodes"), json_string(node));
    free(node), free(part), free(avail), free(cpus), free(mem), free(sct), free(features);
    return false;
}

json_t *pw_slurm_parse_sinfo(const char *text, char *msg, size_t msgsize)
{
    sinfo_arg a = {json_object(), false, msg, msgsize};
    if (text) each_line(text, 8, take_sinfo, &a);
    if (a.bad) {
        json_decref(a.doc);
        return NULL;
    }
    return a.doc;
}

/* --- job files ------------------------------------------------------------------------------ */

json_t *pw_slurm_job_measure(const pw_slurm_measure *m)
{
    return json_pack("{s:i, s:s, s:s, s:s, s:O, s:b, s:f, s:f}", "job_schema", PW_SLURM_JOB_SCHEMA,
                     "kind", "measure", "experiment", m->experiment->name, "id", m->id, "params",
                     m->params, "quick", m->quick, "timeout_s", m->timeout_s, "memory_mb", m->memory_mb);
}

json_t *pw_slurm_job_probe(const char *const *whats, const char *const *paths, size_t n,
                           const char *token_path, const char *token)
{
    json_t *checks = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(checks, json_pack("{s:s, s:s}", "what", whats[i], "path", paths[i]));
    return json_pack("{s:i, s:s, s:o, s:{s:s, s:s}}", "job_schema", PW_SLURM_JOB_SCHEMA, "kind",
                     "probe", "checks", checks, "token", "path", token_path, "value", token);
}

/* A parameter value from JSON back into directive syntax, so pw_param_parse checks it again.
 * NULL when the JSON type cannot be that parameter's. */
static char *directive_text(const pw_param_spec *spec, const json_t *v)
{
    pw_buf b;
    pw_buf_init(&b);
    bool ok = true;
    switch (spec->type) {
    case PW_PARAM_INT: ok = json_is_integer(v); if (ok) pw_buf_printf(&b, "%lld", (long long)json_integer_value(v)); break;
    case PW_PARAM_REAL: ok = json_is_number(v); if (ok) pw_buf_printf(&b, "%.17g", json_number_value(v)); break;
    case PW_PARAM_BOOL: ok = json_is_boolean(v); if (ok) pw_buf_puts(&b, json_is_true(v) ? "true" : "false"); break;
    case PW_PARAM_STRING: ok = json_is_string(v); if (ok) pw_buf_puts(&b, json_string_value(v)); break;
    case PW_PARAM_INT_LIST:
    case PW_PARAM_STRING_LIST: {
        ok = json_is_array(v);
        pw_buf_putc(&b, '[');
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (i) pw_buf_puts(&b, ", ");
            if (spec->type == PW_PARAM_INT_LIST && json_is_integer(x))
                pw_buf_printf(&b, "%lld", (long long)json_integer_value(x));
            else if (spec->type == PW_PARAM_STRING_LIST && json_is_string(x))
                pw_buf_puts(&b, json_string_value(x));
            else ok = false;
        }
        pw_buf_putc(&b, ']');
        break;
    }
    }
    if (!ok) {
        pw_buf_release(&b);
        return NULL;
    }
    return pw_buf_detach(&b);
}

int pw_slurm_job_read(const json_t *job, pw_slurm_job_spec *out, char *msg, size_t msgsize)
{
    memset(out, 0, sizeof *out);
    const char *kind = json_string_value(json_object_get(job, "kind"));
    const char *name = json_string_value(json_object_get(job, "experiment"));
    const char *id = json_string_value(json_object_get(job, "id"));
    json_t *params = json_object_get(job, "params");
    json_t *quick = json_object_get(job, "quick");
    json_t *timeout = json_object_get(job, "timeout_s"), *memory = json_object_get(job, "memory_mb");
    if (!json_is_object(job) || json_integer_value(json_object_get(job, "job_schema")) != PW_SLURM_JOB_SCHEMA) {
        snprintf(msg, msgsize, "not a perfweave job file (job_schema %d expected)", PW_SLURM_JOB_SCHEMA);
        return PW_EINVAL;
    }
    if (!kind || strcmp(kind, "measure") != 0) {
        snprintf(msg, msgsize, "not a measurement job (kind '%s')", kind ? kind : "none");
        return PW_EINVAL;
    }
    const pw_experiment *e = name ? pw_registry_find(name) : NULL;
    if (!e) {
        snprintf(msg, msgsize, "unknown experiment '%.80s' (is the node's perfweave another build?)",
                 name ? name : "");
        return PW_EINVAL;
    }
    if (!id || !*id || !json_is_object(params) || !json_is_boolean(quick) || !json_is_number(timeout) ||
        !json_is_number(memory) || json_number_value(timeout) < 0 || json_number_value(memory) < 0) {
        snprintf(msg, msgsize, "the job file lacks its id, params, quick, timeout_s or memory_mb");
        return PW_EINVAL;
    }
    json_t *given = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v) {
        const pw_param_spec *spec = pw_experiment_param(e, key);
        char *text = spec ? directive_text(spec, v) : NULL;
        json_t *parsed = NULL;
        char why[256] = "";
        if (!spec) snprintf(msg, msgsize, "unknown parameter '%.60s' for %s", key, e->name);
        else if (!text) snprintf(msg, msgsize, "parameter '%.60s' has the wrong JSON type", key);
        else if (pw_param_parse(spec, text, &parsed, why, sizeof why) != PW_OK)
            snprintf(msg, msgsize, "parameter '%.60s': %s", key, why);
        free(text);
        if (!parsed) {
            json_decref(given);
            return PW_EINVAL;
        }
        json_object_set_new(given, key, parsed);
    }
    out->experiment = e;
    out->id = id;
    out->params = pw_experiment_params(e, given);
    json_decref(given);
    out->quick = json_is_true(quick);
    out->timeout_s = json_number_value(timeout);
    out->memory_mb = json_number_value(memory);
    return PW_OK;
}

static json_t *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? json_string(v) : json_null();
}

json_t *pw_slurm_context(void)
{
    if (!getenv("SLURM_JOB_ID")) return NULL;
    return json_pack("{s:o, s:o, s:o, s:o}", "job_id", env_or_null("SLURM_JOB_ID"), "partition",
                     env_or_null("SLURM_JOB_PARTITION"), "node", env_or_null("SLURMD_NODENAME"),
                     "cluster", env_or_null("SLURM_CLUSTER_NAME"));
}

/* --- the script and sbatch ------------------------------------------------------------------ */

/* s in single quotes for the shell ('\'' for each quote inside). */
static void shell_quote(pw_buf *b, const char *s)
{
    pw_buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') pw_buf_puts(b, "'\\''");
        else pw_buf_putc(b, *s);
    }
    pw_buf_putc(b, '\'');
}

char *pw_slurm_script(const char *binary, const char *job_path, const char *out_path)
{
    pw_buf b;
    pw_buf_init(&b);
    pw_buf_puts(&b, "#!/bin/sh\n"
                    "# A perfweave job, written from a fixed template: it runs one directive, which\n"
                    "# the job file describes as JSON, with the perfweave binary that submitted it.\n"
                    "# Nothing of the chapters is in this script.\n"
                    "binary=");
    shell_quote(&b, binary);
    pw_buf_puts(&b, "\njob=");
    shell_quote(&b, job_path);
    pw_buf_puts(&b, "\nout=");
    shell_quote(&b, out_path);
    pw_buf_printf(&b, "\n"
                      "if [ ! -x \"$binary\" ]; then\n"
                      "    echo \"perfweave: the binary $binary is not visible on node $(hostname)"
                      " (is it on a filesystem shared with the node?)\" >&2\n"
                      "    exit %d\n"
                      "fi\n"
                      "if [ ! -r \"$job\" ]; then\n"
                      "    echo \"perfweave: the job file $job is not visible on node $(hostname)"
                      " (is the work folder on a filesystem shared with the node?)\" >&2\n"
                      "    exit %d\n"
                      "fi\n"
                      "exec \"$binary\" run-job \"$job\" \"$out\"\n",
                  PW_SLURM_EXIT_NOBINARY, PW_SLURM_EXIT_NOJOBFILE);
    return pw_buf_detach(&b);
}

void pw_slurm_limits_for(const pw_slurm_measure *m, pw_slurm_limits *lim)
{
    pw_isolate_limits il;
    pw_isolate_limits_default(&il, m->quick);
    double timeout = m->timeout_s > 0 ? m->timeout_s : il.timeout_s;
    lim->time_min = (int)ceil((timeout + PW_SLURM_MARGIN_S) / 60.0);
    if (lim->time_min < 1) lim->time_min = 1;
    lim->mem_mb = m->memory_mb > 0 ? ceil(m->memory_mb + PW_SLURM_MEM_MARGIN_MB) : 0;
    lim->exclusive = true;
}

char **pw_slurm_sbatch_argv(const pw_slurm_submit *s)
{
    char **v = pw_xcalloc(16, sizeof *v);
    size_t k = 0;
    v[k++] = pw_xstrdup("sbatch");
    v[k++] = pw_xstrdup("--parsable");
    v[k++] = pw_xasprintf("--job-name=%s", s->job_name);
    v[k++] = pw_xasprintf("--partition=%s", s->partition);
    v[k++] = pw_xstrdup("--nodes=1");
    v[k++] = pw_xstrdup("--ntasks=1");
    if (s->limits.exclusive) v[k++] = pw_xstrdup("--exclusive");
    v[k++] = pw_xasprintf("--time=%d", s->limits.time_min > 0 ? s->limits.time_min : 1);
    if (s->limits.mem_mb > 0) v[k++] = pw_xasprintf("--mem=%.0fM", ceil(s->limits.mem_mb));
    v[k++] = pw_xasprintf("--output=%s", s->log);
    v[k++] = pw_xasprintf("--chdir=%s", s->chdir);
    v[k++] = pw_xstrdup("--export=PATH,HOME,LANG,LC_ALL,TMPDIR,LD_LIBRARY_PATH,PERFWEAVE_LOCK");
    v[k++] = pw_xstrdup(s->script);
    v[k] = NULL;
    return v;
}

/* --- results -------------------------------------------------------------------------------- */

char *pw_slurm_log_tail(const char *log_path, size_t max)
{
    size_t len;
    char *text = log_path ? pw_read_file(log_path, &len) : NULL;
    if (!text) return pw_xstrdup("");
    size_t start = len > max ? len - max : 0;
    pw_buf b;
    pw_buf_init(&b);
    for (size_t i = start; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        pw_buf_putc(&b, (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\t')) ? '?' : (char)c);
    }
    free(text);
    while (b.len > 0 && isspace((unsigned char)b.data[b.len - 1])) b.data[--b.len] = '\0';
    return pw_buf_detach(&b);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0;
}

/* What an exit code of the script or of run-job means, or NULL. */
static const char *exit_meaning(const char *exit_code)
{
    int code = exit_code && *exit_code ? atoi(exit_code) : -1;
    switch (code) {
    case PW_SLURM_EXIT_NOBINARY: return "the perfweave binary was not visible on the node (is it on a filesystem shared with the node?)";
    case PW_SLURM_EXIT_NOJOBFILE: return "the job file was not visible on the node (is the work folder on a filesystem shared with the node?)";
    case PW_SLURM_EXIT_BADJOB: return "perfweave on the node refused the job file (another build?)";
    case PW_SLURM_EXIT_NOWRITE: return "perfweave on the node could not write the result";
    default: return NULL;
    }
}

/* The result document at path when it is valid and is (experiment, id)'s; NULL otherwise. */
static pw_result *read_result(const char *path, const char *experiment, const char *id)
{
    json_t *doc = path ? pw_json_load_file(path, 0, NULL) : NULL;
    const char *err = NULL;
    pw_result *r = doc ? pw_result_from_json(doc, &err) : NULL;
    json_decref(doc);
    if (r && (strcmp(pw_result_experiment(r), experiment) != 0 || strcmp(pw_result_id(r), id) != 0)) {
        pw_result_free(r);
        r = NULL;
    }
    return r;
}

pw_result *pw_slurm_result(const char *experiment, const char *id, const pw_slurm_info *info,
                           const char *out_path, const char *log_path)
{
    const pw_slurm_state *st = pw_slurm_state_parse(info->state);
    const char *node = info->nodes[0] ? info->nodes : "(none)";
    pw_result *r = read_result(out_path, experiment, id);
    if (r && st->phase != PW_SLURM_COMPLETED) {
        if (pw_result_failed(r)) {
            char *reason = pw_xstrdup(pw_result_error_reason(r) ? pw_result_error_reason(r) : "failed");
            pw_result_error(r, "%s; Slurm job %s on node %s ended %s%s%s%s", reason, info->job_id, node,
                            st->name, info->exit_code[0] ? " (exit code " : "", info->exit_code,
                            info->exit_code[0] ? ")" : "");
            free(reason);
        } else {
            pw_result_warning(r, "the Slurm job %s ended %s (it %s) after it wrote this result",
                              info->job_id, st->name, st->meaning);
        }
    }
    if (!r) {
        r = pw_result_new(experiment, id);
        char *tail = pw_slurm_log_tail(log_path, 2000);
        const char *why = exit_meaning(info->exit_code);
        pw_buf b;
        pw_buf_init(&b);
        if (st->phase == PW_SLURM_UNKNOWN && !info->state[0])
            pw_buf_printf(&b, "Slurm job %s is no longer known to Slurm (it left the queue, and job "
                              "accounting does not know it) and wrote no result", info->job_id);
        else if (st->phase == PW_SLURM_COMPLETED)
            pw_buf_printf(&b, "Slurm job %s completed on node %s but wrote no result", info->job_id, node);
        else {
            pw_buf_printf(&b, "Slurm job %s ended %s (it %s", info->job_id, st->phase == PW_SLURM_UNKNOWN ? info->state : st->name,
                          st->meaning);
            if (strcmp(st->name, "TIMEOUT") == 0 && info->time_limit[0])
                pw_buf_printf(&b, " of %s", info->time_limit);
            if (info->exit_code[0]) pw_buf_printf(&b, "; exit code %s", info->exit_code);
            pw_buf_printf(&b, ") on node %s without a result", node);
        }
        if (why) pw_buf_printf(&b, ": %s", why);
        if (log_path && !file_exists(log_path))
            pw_buf_printf(&b, "; its log %s is not visible here (is the work folder on a filesystem "
                              "shared with the node?)", log_path);
        else if (*tail) pw_buf_printf(&b, "; its last output: %s", tail);
        pw_result_error(r, "%s", b.data);
        pw_buf_release(&b);
        free(tail);
    }
    json_t *doc = pw_result_json(r);
    json_t *run = json_object_get(doc, "run");
    if (!json_is_object(run)) {
        run = json_object();
        json_object_set_new(doc, "run", run);
    }
    json_object_set_new(run, "source", json_string("slurm"));
    json_object_set_new(run, "slurm", json_pack("{s:s, s:s, s:s, s:s, s:s}", "job_id", info->job_id,
                                                "partition", info->partition, "node", info->nodes,
                                                "state", info->state[0] ? info->state : "UNKNOWN",
                                                "exit_code", info->exit_code));
    return r;
}

int pw_slurm_file_sha256(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) return PW_EIO;
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sha256_update(&ctx, n, chunk);
    bool bad = ferror(f);
    fclose(f);
    if (bad) return PW_EIO;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    for (size_t i = 0; i < sizeof digest; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return PW_OK;
}

int pw_slurm_probe_verify(const json_t *p, const char *binary_sha256, char *msg, size_t msgsize)
{
    const char *node = json_string_value(json_object_get(p, "node"));
    if (!node) node = json_string_value(json_object_get(json_object_get(p, "environment"), "host"));
    if (!node) node = "(unknown)";
    if (!json_is_object(p) || json_integer_value(json_object_get(p, "probe_schema")) != PW_SLURM_PROBE_SCHEMA ||
        !json_is_object(json_object_get(p, "environment"))) {
        snprintf(msg, msgsize, "the probe on node %s wrote an unreadable report", node);
        return PW_EINVAL;
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(p, "checks"), i, c) {
        if (json_is_true(json_object_get(c, "visible"))) continue;
        snprintf(msg, msgsize, "%s %s is not visible on node %s (is it on a filesystem shared with "
                               "the node?)", json_string_value(json_object_get(c, "what")),
                 json_string_value(json_object_get(c, "path")), node);
        return PW_EINVAL;
    }
    if (!json_is_true(json_object_get(p, "token_matches"))) {
        snprintf(msg, msgsize, "the work folder on node %s is another folder of the same name, not "
                               "this one: it is not on a filesystem shared with the node", node);
        return PW_EINVAL;
    }
    const char *sha = json_string_value(json_object_get(p, "binary_sha256"));
    if (!sha || !binary_sha256 || strcmp(sha, binary_sha256) != 0) {
        snprintf(msg, msgsize, "the perfweave binary on node %s is not this build (rebuilt while "
                               "jobs were queued, or a different file at the same path)", node);
        return PW_EINVAL;
    }
    return PW_OK;
}
