/* memprobe.h — observers of memory that do not depend on the accounting allocator (alloc.h), for
 * checking it and the data structures built on it: glibc's own heap statistics and the kernel's
 * resident-set counters, each with the tolerance that its granularity implies.
 *
 * A check compares what an observer saw with what a formula (or the accountant) says, and is
 * published as a position inside the derived tolerance: pw_memprobe_position maps the allowed
 * range [lo, hi] of the excess onto [−1, 1], so that a claim `… in [-1, 1]` reads "within the
 * derived tolerance" whatever the page size, CPU count or sizes of the machine that ran it.
 *
 * The tolerances, and why (docs/profiling.md gives the derivation in prose):
 *
 *  - Heap statistics (mallinfo2: arena bytes in use plus mmapped bytes).  One block of `size`
 *    bytes handed out by pw_alloc_malloc is aligned_alloc(64, 64 + ⌈size⌉₆₄): glibc holds for it
 *    the accountant's 64-byte header, the rounding of size up to 64 bytes (< 64), aligned_alloc's
 *    slack (at most the alignment, 64, plus glibc's smallest chunk, 32), glibc's size fields and
 *    the rounding of its two requests to 16 bytes (2 · 16 + 8 = 40: glibc 2.36's memalign asks
 *    its allocator for the aligned request plus the slack) and, for a block served by mmap, the
 *    rounding of the mapping up to whole pages (< 1 page).  So the excess of one block lies in
 *    [64, 64 + 63 + 96 + 40 + page − 1].
 *  - Resident set (ru_maxrss, /proc/self/statm).  The kernel counts whole pages and keeps its
 *    per-process counters in per-CPU parts that are folded into the total in batches (Linux ≥ 6.2:
 *    percpu_counter, batch max(32, 2 × online CPUs) pages; older kernels: per-thread caches
 *    synchronised every 64 faults).  A reading can therefore lag the true count by up to one
 *    batch on each CPU that touched the counter since the last fold; a growth measured between
 *    two readings on one CPU (pin the measuring process first) is off by less than two batches,
 *    2 · max(64, 32, 2 × online CPUs) pages.  Touching a block also makes resident the page
 *    that holds its header: up to one page per block above the bytes touched.  The blocks must
 *    be fresh pages (set M_MMAP_THRESHOLD below their size and call malloc_trim(0) first, since
 *    glibc serves a request from a free top chunk before it maps anything): a block carved from
 *    memory that is already resident, or shared with a parent, does not grow the count. */
#ifndef PERFWEAVE_MEMPROBE_H
#define PERFWEAVE_MEMPROBE_H

#include <stddef.h>

/* Bytes glibc holds for live allocations of this process: arena bytes in use plus bytes in
 * mmapped chunks (mallinfo2 uordblks + hblkhd).  It allocates nothing itself.  A freed block
 * small enough for glibc's per-thread cache (up to about 1 KiB) still counts as in use. */
size_t pw_memprobe_heap_in_use(void);

/* The range [*lo, *hi] of the bytes glibc holds for one pw_alloc_malloc block of size bytes
 * beyond size itself, on pages of page bytes (see the file comment). */
void pw_memprobe_block_overhead(size_t size, size_t page, double *lo, double *hi);

/* The largest error, in bytes, of a growth in resident set measured as the difference of two
 * readings taken on one CPU, on a machine with online_cpus CPUs and pages of page bytes:
 * 2 · max(64, 32, 2 · online_cpus) pages (see the file comment). */
double pw_memprobe_rss_tolerance(long online_cpus, size_t page);

/* Where excess lies in the allowed range [lo, hi], mapped linearly onto [−1, 1] (lo → −1,
 * hi → 1; outside the range beyond ±1).  NAN when hi <= lo. */
double pw_memprobe_position(double excess, double lo, double hi);

/* Pins the calling thread to the CPU it is running on, saving its affinity mask into *saved
 * (a cpu_set_t, passed as void * so that callers need not define _GNU_SOURCE's types); returns
 * 0, or −1 when the affinity cannot be read or set (nothing changed then).  Restore with
 * pw_memprobe_unpin.  Both readings of a resident-set growth must be taken while pinned. */
int pw_memprobe_pin(void *saved, size_t saved_size);
void pw_memprobe_unpin(const void *saved, size_t saved_size);

/* Resident set size of this process in bytes, from /proc/self/statm (read without stdio, so
 * nothing is allocated), or 0 when unreadable. */
size_t pw_memprobe_rss_current(void);
/* Peak resident set size of this process in bytes (getrusage ru_maxrss). */
size_t pw_memprobe_rss_peak(void);

#endif
