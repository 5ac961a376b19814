/* ceilings.h — measuring the machine's ceilings inside an experiment, for the experiments that
 * draw them or divide by them (acceleration.matmul, acceleration.threads, machine.ceilings):
 * the arithmetic peak of every vector width the CPU runs, and the triad bandwidth one core
 * sustains from DRAM and from L2.  Each ceiling is its own interleaving-free bench run, so one
 * width's clock never leaks into another's rate (machine.ceilings measures that effect on
 * purpose). */
#ifndef PERFWEAVE_EXPERIMENTS_CEILINGS_H
#define PERFWEAVE_EXPERIMENTS_CEILINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "perfweave/experiment.h"
#include "perfweave/matmul.h"

/* What to measure. */
enum {
    PW_CEIL_ROOF = 1u << 0,      /* the widest usable fp32 FMA width only */
    PW_CEIL_FMA = 1u << 1,       /* every usable fp32 width: scalar, avx2, avx512 */
    PW_CEIL_INT8 = 1u << 2,      /* every usable int8 dot-product width: vnni256, vnni512 */
    PW_CEIL_BANDWIDTH = 1u << 3  /* the triad from DRAM and from L2 */
};

typedef struct {
    double peak[PW_PEAK_KINDS];   /* median GFLOP/s (fp32) or GOP/s (int8); NAN when not run */
    pw_peak_kind roof;            /* the widest usable fp32 kind */
    double roof_value;            /* peak[roof] (NAN when not measured) */
    double bw_dram, bw_l2;        /* GB/s (NAN when not measured) */
    size_t dram_bytes, l2_bytes;  /* the triads' working sets (three arrays together) */
} pw_ceilings;

/* Measures what `what` asks for on the running CPU and publishes, into the run's result:
 *   peak.fma.scalar / .avx2 / .avx512, peak.int8.vnni256 / .vnni512  (each usable width asked)
 *   peak.fma       the widest measured fp32 width: the machine's roof, which fraction_of_peak
 *                  divides by and the charts draw
 *   bandwidth.triad.dram, bandwidth.triad.l2  (GB/s, STREAM's 24 bytes per element)
 * plus a note naming what ran (widths not usable here and why; the working sets).  triad_mib
 * overrides the DRAM working set (0: 4 × the last-level cache, at least 64 MiB, at most a
 * quarter of physical memory).  Fills *out; returns PW_OK (a ceiling that could not be
 * measured stays NAN and is said in a warning). */
int pw_ceilings_measure(pw_run *run, unsigned what, long triad_mib, pw_ceilings *out);

/* Times the roof (c->roof, peak.fma's width) a second time, alone, and keeps the faster of the
 * two windows: a loop that touches no memory can only be slowed by other work on the host,
 * never sped up, and on a shared host one 0.5 s window can fall in a busy stretch (128 against
 * 158–167 GFLOP/s in one cold report on the Xeon VM).  Call it after an experiment's timed work,
 * so the windows are that far apart, and before anything divides by the roof.  When the second
 * is faster it replaces peak.<roof> and peak.fma and c->roof_value / c->peak[c->roof]; a note
 * gives both windows either way.  No-op when the roof was not measured. */
void pw_ceilings_recheck_roof(pw_run *run, pw_ceilings *c);
/* The same for the roof when what has PW_CEIL_ROOF and for every int8 peak measured when it has
 * PW_CEIL_INT8 (peak.int8.vnni256 / .vnni512 / .amx): each is timed again and the faster window
 * kept, in c->peak[] and in the result, with a note for each. */
void pw_ceilings_recheck(pw_run *run, pw_ceilings *c, unsigned what);

/* Times the triad over three arrays of `bytes` in all (one core, the widest vectors, 24 bytes per
 * element as above) and publishes `metric` in GB/s: the rate a streaming kernel sustains over a
 * working set of that size, from wherever the machine serves it.  Returns the median, or NAN
 * (with a warning) when the arrays cannot be allocated. */
double pw_ceilings_triad(pw_run *run, const char *metric, size_t bytes);

/* Adds the machine's roofs to a roofline chart (x: flop per byte of traffic, y: GFLOP/s): for
 * each measured bandwidth a series min(bandwidth × x, roof) over [xlo, xhi], and the roof (and
 * the AVX2 peak where it differs) as horizontal lines. */
void pw_ceilings_roofline(const pw_ceilings *c, pw_chart *chart, double xlo, double xhi);

/* "AVX-512", "AVX2", "scalar" for a chart label of an fp32 kind. */
const char *pw_ceilings_label(pw_peak_kind kind);

#endif
