/* contention.c — readings around one measurement and the rule that marks it disturbed (see
 * contention.h): /proc/stat before and after, /proc/loadavg while the child runs, the child's
 * rusage, and the choice of the measuring CPU. */
#include "perfweave/contention.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perfweave/common.h"

/* The number of threads of process pid (field 20 of /proc/PID/stat), or 1 when unreadable. */
static long thread_count(long pid)
{
    if (pid <= 0) return 1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    char *text = pw_read_file(path, NULL);
    if (!text) return 1;
    long n = 1;
    const char *s = strrchr(text, ')'); /* the command name may hold spaces and parentheses */
    if (s) {
        s++;
        for (int field = 3; field <= 20 && *s; field++) {
            while (*s == ' ') s++;
            if (field == 20) n = strtol(s, NULL, 10);
            while (*s && *s != ' ') s++;
        }
    }
    free(text);
    return n > 0 ? n : 1;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --- /proc/stat ------------------------------------------------------------------------------ */

/* Parses the numbers after "cpu" or "cpuN" (older kernels have fewer columns: missing ones are 0). */
static void parse_times(const char *s, double tick, pw_cpu_times *t)
{
    unsigned long long v[8] = {0};
    char *end;
    for (int k = 0; k < 8; k++) {
        v[k] = strtoull(s, &end, 10);
        if (end == s) break;
        s = end;
    }
    t->busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / tick;
    t->idle = (double)(v[3] + v[4]) / tick;
    t->steal = (double)v[7] / tick;
}

int pw_cpustat_parse(const char *text, double ticks_per_s, pw_cpustat *out)
{
    memset(out, 0, sizeof *out);
    out->procs_running = -1;
    double tick = ticks_per_s > 0 ? ticks_per_s : 100;
    bool have_all = false;
    for (const char *line = text; line && *line; ) {
        const char *nl = strchr(line, '\n');
        if (strncmp(line, "cpu ", 4) == 0) {
            parse_times(line + 4, tick, &out->all);
            have_all = true;
        } else if (strncmp(line, "cpu", 3) == 0 && line[3] >= '0' && line[3] <= '9') {
            char *end;
            unsigned long n = strtoul(line + 3, &end, 10);
            if (n < 65536 && *end == ' ') {
                if (n >= out->ncpu) {
                    size_t grow = n + 1;
                    out->cpu = pw_xrealloc(out->cpu, grow * sizeof *out->cpu);
                    out->present = pw_xrealloc(out->present, grow * sizeof *out->present);
                    for (size_t k = out->ncpu; k < grow; k++) {
                        memset(&out->cpu[k], 0, sizeof out->cpu[k]);
                        out->present[k] = false;
                    }
                    out->ncpu = grow;
                }
                parse_times(end, tick, &out->cpu[n]);
                if (!out->present[n]) out->nonline++;
                out->present[n] = true;
            }
        } else if (strncmp(line, "procs_running ", 14) == 0) {
            out->procs_running = strtol(line + 14, NULL, 10);
        }
        line = nl ? nl + 1 : NULL;
    }
    if (!have_all) {
        pw_cpustat_release(out);
        return PW_EINVAL;
    }
    return PW_OK;
}

int pw_cpustat_read(pw_cpustat *out)
{
    memset(out, 0, sizeof *out);
    out->procs_running = -1;
    char *text = pw_read_file("/proc/stat", NULL);
    if (!text) return PW_EIO;
    long tck = sysconf(_SC_CLK_TCK);
    int rc = pw_cpustat_parse(text, tck > 0 ? (double)tck : 100, out);
    free(text);
    return rc == PW_OK ? PW_OK : PW_EIO;
}

void pw_cpustat_release(pw_cpustat *s)
{
    if (!s) return;
    free(s->cpu);
    free(s->present);
    s->cpu = NULL;
    s->present = NULL;
    s->ncpu = s->nonline = 0;
}

int pw_contention_choose_cpu(const pw_cpustat *before, const pw_cpustat *after,
                             const bool *allowed, size_t nallowed)
{
    int best = -1;
    double best_used = INFINITY;
    size_t n = before->ncpu < after->ncpu ? before->ncpu : after->ncpu;
    for (size_t i = 0; i < n; i++) {
        if (!before->present[i] || !after->present[i]) continue;
        if (allowed && (i >= nallowed || !allowed[i])) continue;
        double used = (after->cpu[i].busy - before->cpu[i].busy) +
                      (after->cpu[i].steal - before->cpu[i].steal);
        if (used <= best_used) { /* <=: ties go to the higher CPU number */
            best_used = used;
            best = (int)i;
        }
    }
    return best;
}

/* --- the rule -------------------------------------------------------------------------------- */

static double share(double part, double whole)
{
    return whole > 0 ? part / whole : 0;
}

bool pw_contention_judge(const pw_contention_readings *r, char *why, size_t whysize)
{
    pw_buf b;
    pw_buf_init(&b);
    double w = r->window_s > 0 ? r->window_s : r->wall_s;
    if (r->cpu >= 0 && w > 0) {
        double steal = r->cpu_steal_s, foreign = r->cpu_busy_s - r->child_cpu_s;
        if (steal >= PW_CONTENTION_MIN_SECONDS && share(steal, w) > PW_CONTENTION_STEAL_SHARE)
            pw_buf_printf(&b, "%sthe hypervisor took %.0f%% of CPU %d (%.2f s of %.2f s; limit "
                          "%.0f%%)", b.len ? "; " : "", 100 * share(steal, w), r->cpu, steal, w,
                          100 * PW_CONTENTION_STEAL_SHARE);
        if (foreign >= PW_CONTENTION_MIN_SECONDS && share(foreign, w) > PW_CONTENTION_FOREIGN_SHARE)
            pw_buf_printf(&b, "%sother tasks used %.0f%% of CPU %d beside the experiment (%.2f s "
                          "of %.2f s; limit %.0f%%)", b.len ? "; " : "", 100 * share(foreign, w),
                          r->cpu, foreign, w, 100 * PW_CONTENTION_FOREIGN_SHARE);
    }
    if (r->wall_s > 0 && r->nivcsw >= PW_CONTENTION_PREEMPT_MIN &&
        (double)r->nivcsw / r->wall_s > PW_CONTENTION_PREEMPT_RATE)
        pw_buf_printf(&b, "%sthe experiment was preempted %ld times (%.0f per second; limit %.0f)",
                      b.len ? "; " : "", r->nivcsw, (double)r->nivcsw / r->wall_s,
                      PW_CONTENTION_PREEMPT_RATE);
    if (r->samples >= PW_CONTENTION_MIN_SAMPLES && r->ncpu > 0 &&
        r->others_mean >= (double)r->ncpu)
        pw_buf_printf(&b, "%s%.1f other tasks were runnable on average on %zu CPU%s (limit: as "
                      "many as CPUs)", b.len ? "; " : "", r->others_mean, r->ncpu,
                      r->ncpu == 1 ? "" : "s");
    bool disturbed = b.len > 0;
    if (why && whysize) snprintf(why, whysize, "%s", b.data);
    pw_buf_release(&b);
    return disturbed;
}

json_t *pw_contention_json(const pw_contention_readings *r, const char *choice)
{
    char why[1024];
    bool disturbed = pw_contention_judge(r, why, sizeof why);
    double w = r->window_s > 0 ? r->window_s : r->wall_s;
    double mw = w * (double)(r->ncpu ? r->ncpu : 1);
    double foreign = r->cpu_busy_s - r->child_cpu_s;
    json_t *o = json_object();
    json_object_set_new(o, "cpu", json_integer(r->cpu));
    json_object_set_new(o, "cpu_choice", choice ? json_string(choice) : json_null());
    json_object_set_new(o, "window_s", json_real(r->window_s));
    json_object_set_new(o, "wall_s", json_real(r->wall_s));
    json_object_set_new(o, "child_cpu_s", json_real(r->child_cpu_s));
    json_object_set_new(o, "cpu_busy_share", json_real(share(r->cpu_busy_s, w)));
    json_object_set_new(o, "cpu_steal_share", json_real(share(r->cpu_steal_s, w)));
    json_object_set_new(o, "cpu_foreign_share", json_real(foreign > 0 ? share(foreign, w) : 0));
    json_object_set_new(o, "machine_busy_share", json_real(share(r->machine_busy_s, mw)));
    json_object_set_new(o, "machine_steal_share", json_real(share(r->machine_steal_s, mw)));
    json_object_set_new(o, "cpus", json_integer((json_int_t)r->ncpu));
    json_object_set_new(o, "others_runnable",
                        json_pack("{s:f, s:f, s:i}", "mean", r->others_mean, "max", r->others_max,
                                  "samples", (json_int_t)r->samples));
    json_object_set_new(o, "involuntary_switches", json_integer(r->nivcsw));
    json_object_set_new(o, "voluntary_switches", json_integer(r->nvcsw));
    json_object_set_new(o, "involuntary_per_s",
                        json_real(r->wall_s > 0 ? (double)r->nivcsw / r->wall_s : 0));
    json_object_set_new(o, "disturbed", json_boolean(disturbed));
    json_object_set_new(o, "why", json_string(why));
    json_object_set_new(o, "thresholds",
                        json_pack("{s:f, s:f, s:f, s:f, s:i}", "steal_share",
                                  PW_CONTENTION_STEAL_SHARE, "foreign_share",
                                  PW_CONTENTION_FOREIGN_SHARE, "min_seconds",
                                  PW_CONTENTION_MIN_SECONDS, "preempt_rate",
                                  PW_CONTENTION_PREEMPT_RATE, "preempt_min",
                                  (json_int_t)PW_CONTENTION_PREEMPT_MIN));
    return o;
}

/* --- around one child ------------------------------------------------------------------------ */

struct pw_contention {
    int cpu;
    char choice[128];
    pw_cpustat before;
    bool have_before;
    double t_before;
    cpu_set_t saved;
    bool restricted;
    double others_sum, others_max;
    size_t samples;
    double last_sample;
    pw_contention_readings rd;
};

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* The CPU named by $PERFWEAVE_CPU when it is allowed, else -1. */
static int env_cpu(const cpu_set_t *allowed)
{
    const char *s = getenv(PW_CONTENTION_CPU_ENV);
    if (!s || !*s) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0 || v >= CPU_SETSIZE || !CPU_ISSET((int)v, allowed)) return -1;
    return (int)v;
}

/* The automatic choice: $PERFWEAVE_CPU, else the least busy allowed CPU over a short window. */
static void choose(pw_contention *c, const cpu_set_t *allowed)
{
    int n = CPU_COUNT(allowed);
    int e = env_cpu(allowed);
    if (e >= 0) {
        c->cpu = e;
        snprintf(c->choice, sizeof c->choice, "%s=%d", PW_CONTENTION_CPU_ENV, e);
        return;
    }
    int last = -1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, allowed)) last = i;
    c->cpu = last;
    if (n <= 1) {
        snprintf(c->choice, sizeof c->choice, "the only CPU this process may use");
        return;
    }
    pw_cpustat s0, s1;
    if (pw_cpustat_read(&s0) != PW_OK) {
        snprintf(c->choice, sizeof c->choice, "the last allowed CPU (/proc/stat unreadable)");
        return;
    }
    nap(PW_CONTENTION_CHOOSE_S);
    if (pw_cpustat_read(&s1) == PW_OK) {
        bool *ok = pw_xcalloc(s1.ncpu ? s1.ncpu : 1, sizeof *ok);
        for (size_t i = 0; i < s1.ncpu && i < CPU_SETSIZE; i++) ok[i] = CPU_ISSET((int)i, allowed);
        int best = pw_contention_choose_cpu(&s0, &s1, ok, s1.ncpu);
        free(ok);
        if (best >= 0) {
            c->cpu = best;
            snprintf(c->choice, sizeof c->choice, "the least busy of %d CPUs over %.0f ms", n,
                     1e3 * PW_CONTENTION_CHOOSE_S);
        }
        pw_cpustat_release(&s1);
    }
    pw_cpustat_release(&s0);
}

pw_contention *pw_contention_begin(int requested)
{
    pw_contention *c = pw_xcalloc(1, sizeof *c);
    c->cpu = -1;
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    bool have_mask = sched_getaffinity(0, sizeof allowed, &allowed) == 0;
    if (requested == PW_CONTENTION_AUTO && have_mask) {
        choose(c, &allowed);
    } else if (requested >= 0) {
        c->cpu = requested;
        snprintf(c->choice, sizeof c->choice, "given");
    } else {
        snprintf(c->choice, sizeof c->choice, "not pinned");
    }
    /* Keep this process off the measuring CPU while the child measures. */
    if (c->cpu >= 0 && have_mask && c->cpu < CPU_SETSIZE && CPU_ISSET(c->cpu, &allowed) &&
        CPU_COUNT(&allowed) > 1) {
        cpu_set_t rest = allowed;
        CPU_CLR(c->cpu, &rest);
        if (sched_setaffinity(0, sizeof rest, &rest) == 0) {
            c->saved = allowed;
            c->restricted = true;
        }
    }
    c->have_before = pw_cpustat_read(&c->before) == PW_OK;
    c->t_before = mono_now();
    return c;
}

int pw_contention_cpu(const pw_contention *c)
{
    return c->cpu;
}

void pw_contention_sample(pw_contention *c, long child_pid)
{
    double now = mono_now();
    if (c->samples && now - c->last_sample < 0.9 * PW_CONTENTION_SAMPLE_S) return;
    c->last_sample = now;
    char *text = pw_read_file("/proc/loadavg", NULL);
    if (!text) return;
    /* "0.87 0.87 0.56 3/91 22004": the fourth field is runnable/total. */
    double l1, l5, l15;
    long running, total;
    if (sscanf(text, "%lf %lf %lf %ld/%ld", &l1, &l5, &l15, &running, &total) == 5) {
        /* Ours: this process (it is running while it reads) and every thread of the child. */
        long own = 1 + thread_count(child_pid);
        double others = running > own ? (double)(running - own) : 0;
        c->others_sum += others;
        if (others > c->others_max) c->others_max = others;
        c->samples++;
    }
    free(text);
}

void pw_contention_end(pw_contention *c, const struct rusage *child, double wall_s)
{
    pw_contention_readings *r = &c->rd;
    memset(r, 0, sizeof *r);
    r->cpu = c->cpu;
    r->wall_s = wall_s;
    r->window_s = mono_now() - c->t_before;
    if (child) {
        r->child_cpu_s = (double)child->ru_utime.tv_sec + 1e-6 * (double)child->ru_utime.tv_usec +
                         (double)child->ru_stime.tv_sec + 1e-6 * (double)child->ru_stime.tv_usec;
        r->nivcsw = child->ru_nivcsw;
        r->nvcsw = child->ru_nvcsw;
    }
    pw_cpustat after;
    if (c->have_before && pw_cpustat_read(&after) == PW_OK) {
        r->machine_busy_s = after.all.busy - c->before.all.busy;
        r->machine_steal_s = after.all.steal - c->before.all.steal;
        r->ncpu = after.nonline;
        size_t k = (size_t)c->cpu;
        if (c->cpu >= 0 && k < after.ncpu && k < c->before.ncpu && after.present[k] &&
            c->before.present[k]) {
            r->cpu_busy_s = after.cpu[k].busy - c->before.cpu[k].busy;
            r->cpu_steal_s = after.cpu[k].steal - c->before.cpu[k].steal;
        }
        pw_cpustat_release(&after);
    }
    r->samples = c->samples;
    r->others_mean = c->samples ? c->others_sum / (double)c->samples : 0;
    r->others_max = c->others_max;
    if (c->restricted) {
        sched_setaffinity(0, sizeof c->saved, &c->saved);
        c->restricted = false;
    }
}

const pw_contention_readings *pw_contention_readings_of(const pw_contention *c)
{
    return &c->rd;
}

void pw_contention_apply(const pw_contention_readings *rd, const char *choice, pw_result *r)
{
    json_object_set_new(pw_result_json(r), "contention", pw_contention_json(rd, choice));
    char why[1024];
    if (!pw_result_failed(r) && pw_contention_judge(rd, why, sizeof why))
        pw_result_set_disturbed(r, "contention during the measurement: %s", why);
}

void pw_contention_publish(const pw_contention *c, pw_result *r)
{
    pw_contention_apply(&c->rd, c->choice, r);
}

void pw_contention_free(pw_contention *c)
{
    if (!c) return;
    if (c->restricted) sched_setaffinity(0, sizeof c->saved, &c->saved);
    pw_cpustat_release(&c->before);
    free(c);
}
