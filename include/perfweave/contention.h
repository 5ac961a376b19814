/* contention.h — was one experiment's measurement disturbed?  Readings taken around it (CPU
 * steal and busy time of the measuring CPU and of the whole machine from /proc/stat, other
 * runnable tasks sampled from /proc/loadavg while the child runs, the child's own CPU time and
 * involuntary context switches from wait4), the choice of the measuring CPU, and a documented
 * rule that marks the result disturbed (pw_result_set_disturbed: its claims are UNDECIDED with
 * the reason, and it must not be cached as clean).
 *
 * Use around one isolated child (isolate.c):
 *
 *     pw_contention *ct = pw_contention_begin(requested_cpu);  // chooses the CPU, reads /proc/stat
 *     int cpu = pw_contention_cpu(ct);                         // pin the child there
 *     ... fork; while the child runs: pw_contention_sample(ct, pid) every PW_CONTENTION_SAMPLE_S ...
 *     pw_contention_end(ct, &rusage_from_wait4, wall_seconds);
 *     pw_contention_publish(ct, result);                       // "contention" object + the rule
 *     pw_contention_free(ct);
 *
 * While a measurement runs the parent is kept off the measuring CPU (its affinity is the other
 * CPUs it may use; restored by pw_contention_end), so its own wake-ups never preempt the child.
 *
 * The rule (pw_contention_judge), all shares relative to the measurement's wall time W:
 *   - steal:    the hypervisor ran something else on the measuring CPU for more than
 *               PW_CONTENTION_STEAL_SHARE of W (and at least PW_CONTENTION_MIN_SECONDS);
 *   - foreign:  the measuring CPU was busy for more than PW_CONTENTION_FOREIGN_SHARE of W beyond
 *               the child's own CPU time (and at least PW_CONTENTION_MIN_SECONDS): another task
 *               time-shared the CPU with the measurement;
 *   - preempted: the child was switched out involuntarily more than PW_CONTENTION_PREEMPT_RATE
 *               times per second (and at least PW_CONTENTION_PREEMPT_MIN times): another task kept
 *               taking the CPU, even if each time briefly;
 *   - oversubscribed: on average at least as many other tasks were runnable as the machine has
 *               CPUs (PW_CONTENTION_MIN_SAMPLES samples or more), so the scheduler could not keep
 *               one CPU for the measurement.
 * The absolute minimums keep /proc/stat's 10 ms granularity from condemning a measurement of a
 * few milliseconds.  Load on the other CPUs alone is published (machine shares) but does not
 * mark a result: it would condemn every measurement on a shared machine, and the environment
 * warnings already name a busy machine. */
#ifndef PERFWEAVE_CONTENTION_H
#define PERFWEAVE_CONTENTION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>

#include "perfweave/result.h"

#define PW_CONTENTION_STEAL_SHARE 0.05
#define PW_CONTENTION_FOREIGN_SHARE 0.10
#define PW_CONTENTION_MIN_SECONDS 0.05
#define PW_CONTENTION_PREEMPT_RATE 50.0
#define PW_CONTENTION_PREEMPT_MIN 20
#define PW_CONTENTION_MIN_SAMPLES 5
/* Seconds between samples of the runnable tasks while a child runs. */
#define PW_CONTENTION_SAMPLE_S 0.1
/* Seconds over which the least busy CPU is chosen. */
#define PW_CONTENTION_CHOOSE_S 0.05
/* Overrides the choice of the measuring CPU (a CPU number: an isolated core, a test). */
#define PW_CONTENTION_CPU_ENV "PERFWEAVE_CPU"

/* CPU time of one CPU, or of all, in seconds. */
typedef struct {
    double busy;   /* user + nice + system + irq + softirq (guest time is inside user) */
    double idle;   /* idle + iowait */
    double steal;  /* taken by the hypervisor */
} pw_cpu_times;

/* One reading of /proc/stat. */
typedef struct {
    pw_cpu_times all;    /* the "cpu" line */
    pw_cpu_times *cpu;   /* index = CPU number, ncpu entries; owned */
    bool *present;       /* whether CPU i has a line (offline CPUs have none); owned */
    size_t ncpu;         /* 1 + the highest CPU number seen */
    size_t nonline;      /* CPUs with a line */
    long procs_running;  /* runnable tasks now, -1 when absent */
} pw_cpustat;

/* Parses the text of /proc/stat (ticks_per_s = sysconf(_SC_CLK_TCK)) into *out (release it).
 * Returns PW_OK, or PW_EINVAL when there is no "cpu" line. */
int pw_cpustat_parse(const char *text, double ticks_per_s, pw_cpustat *out);
/* Reads /proc/stat now; PW_EIO when it cannot be read. */
int pw_cpustat_read(pw_cpustat *out);
void pw_cpustat_release(pw_cpustat *s);

/* The least busy CPU between two readings among the allowed ones (allowed[i] for i < nallowed;
 * NULL: every present CPU): least busy + steal time, ties to the highest-numbered CPU (CPU 0
 * usually takes more interrupts and housekeeping).  -1 when none is allowed and present. */
int pw_contention_choose_cpu(const pw_cpustat *before, const pw_cpustat *after,
                             const bool *allowed, size_t nallowed);

/* What was seen around one measurement. */
typedef struct {
    int cpu;                 /* the measuring CPU, -1 when not pinned */
    double window_s;         /* seconds between the /proc/stat readings */
    double wall_s;           /* the child's wall-clock seconds */
    double child_cpu_s;      /* the child's user + system seconds (with its reaped children) */
    long nivcsw, nvcsw;      /* the child's involuntary / voluntary context switches */
    double cpu_busy_s, cpu_steal_s;          /* the measuring CPU over the window */
    double machine_busy_s, machine_steal_s;  /* every CPU together */
    size_t ncpu;             /* CPUs online in the readings */
    double others_mean, others_max;  /* other runnable tasks while the child ran */
    size_t samples;          /* how many times they were sampled */
} pw_contention_readings;

/* The rule above.  Returns true when disturbed and writes the reasons as one sentence (no final
 * period) into why (may be NULL); false with why "" otherwise. */
bool pw_contention_judge(const pw_contention_readings *r, char *why, size_t whysize);

/* The readings and the rule's outcome as a JSON object (new reference):
 *   { "cpu", "cpu_choice", "window_s", "wall_s", "child_cpu_s",
 *     "cpu_busy_share", "cpu_steal_share", "cpu_foreign_share",
 *     "machine_busy_share", "machine_steal_share", "cpus",
 *     "others_runnable": { "mean", "max", "samples" },
 *     "involuntary_switches", "voluntary_switches", "involuntary_per_s",
 *     "disturbed": bool, "why": sentence or "",
 *     "thresholds": { "steal_share", "foreign_share", "min_seconds", "preempt_rate",
 *                     "preempt_min" } }
 * Shares are fractions of the window (machine shares of window × cpus); choice may be NULL. */
json_t *pw_contention_json(const pw_contention_readings *r, const char *choice);

/* Adds the "contention" object (pw_contention_json) to res's document and, when the rule says so
 * and res did not fail, marks res disturbed: "contention during the measurement: <reasons>". */
void pw_contention_apply(const pw_contention_readings *r, const char *choice, pw_result *res);

/* --- around one child -------------------------------------------------------------------- */
typedef struct pw_contention pw_contention;

/* Starts watching a measurement.  requested is the CPU to measure on (>= 0), -1 for none (no
 * pinning), or PW_CONTENTION_AUTO: $PERFWEAVE_CPU when it names an allowed CPU, else the least
 * busy allowed CPU over PW_CONTENTION_CHOOSE_S (this call sleeps that long).  Keeps the calling
 * process off the chosen CPU until pw_contention_end.  Never NULL; without /proc the readings
 * are empty and nothing is ever judged disturbed. */
#define PW_CONTENTION_AUTO (-2)
pw_contention *pw_contention_begin(int requested);
/* The CPU chosen (pin the child to it), or -1. */
int pw_contention_cpu(const pw_contention *c);
/* Samples the runnable tasks other than this process and the threads of the child child_pid
 * (call while the child runs, every PW_CONTENTION_SAMPLE_S; calls closer together than that are
 * ignored, so a busy poll loop does not over-sample).  A multithreaded child (a threaded BLAS
 * with its affinity widened) counts all its threads as its own. */
void pw_contention_sample(pw_contention *c, long child_pid);
/* Ends the watch: the after reading, the child's rusage (from wait4; NULL when unknown) and wall
 * seconds; restores the caller's CPU affinity. */
void pw_contention_end(pw_contention *c, const struct rusage *child, double wall_s);
/* The readings (valid after pw_contention_end); borrowed. */
const pw_contention_readings *pw_contention_readings_of(const pw_contention *c);
/* pw_contention_apply with c's readings and choice of CPU. */
void pw_contention_publish(const pw_contention *c, pw_result *r);
void pw_contention_free(pw_contention *c);

#endif
