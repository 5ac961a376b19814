/* memprobe.c — glibc's heap statistics and the kernel's resident-set counters as observers
 * independent of the accounting allocator, with the tolerances of memprobe.h. */
#include "perfweave/memprobe.h"

#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

size_t pw_memprobe_heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

void pw_memprobe_block_overhead(size_t size, size_t page, double *lo, double *hi)
{
    enum { HEADER = 64, ALIGN = 64, MINCHUNK = 32, CHUNK_FIELDS = 2 * 16 + 8 };
    /* The accountant charges size; glibc holds at least its header besides. */
    *lo = HEADER;
    double round = (double)((size + ALIGN - 1) / ALIGN * ALIGN - size);
    *hi = HEADER + round + (ALIGN + MINCHUNK) + CHUNK_FIELDS + (double)(page ? page - 1 : 0);
}

double pw_memprobe_rss_tolerance(long online_cpus, size_t page)
{
    long batch = 2 * (online_cpus > 0 ? online_cpus : 1);
    if (batch < 32) batch = 32;  /* percpu_counter_batch, Linux >= 6.2 */
    if (batch < 64) batch = 64;  /* per-thread RSS caches, synchronised every 64 faults */
    return 2.0 * (double)batch * (double)page;
}

double pw_memprobe_position(double excess, double lo, double hi)
{
    if (!(hi > lo) || !isfinite(excess)) return NAN;
    return (2 * excess - lo - hi) / (hi - lo);
}

int pw_memprobe_pin(void *saved, size_t saved_size)
{
    if (!saved || saved_size < sizeof(cpu_set_t)) return -1;
    cpu_set_t *old = saved;
    if (sched_getaffinity(0, sizeof *old, old) != 0) return -1;
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE) return -1;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof one, &one) == 0 ? 0 : -1;
}

void pw_memprobe_unpin(const void *saved, size_t saved_size)
{
    if (saved && saved_size >= sizeof(cpu_set_t))
        sched_setaffinity(0, sizeof(cpu_set_t), (const cpu_set_t *)saved);
}

size_t pw_memprobe_rss_current(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *p = buf, *end;
    strtoul(p, &end, 10);  /* total program size */
    if (end == p) return 0;
    unsigned long rss = strtoul(end, &p, 10);
    if (p == end) return 0;
    long pg = sysconf(_SC_PAGESIZE);
    return (size_t)rss * (size_t)(pg > 0 ? pg : 4096);
}

size_t pw_memprobe_rss_peak(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024;
}
