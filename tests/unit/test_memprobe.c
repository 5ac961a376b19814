/* test_memprobe.c — the tolerances of the memory observers (glibc's per-block overhead, the
 * kernel's resident-set counting error, the position inside a tolerance) against hand
 * arithmetic, and glibc's statistics against real blocks of the accounting allocator (exact
 * byte counts, no timing). */
#include "support.h"

#include <malloc.h>
#include <math.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "perfweave/alloc.h"
#include "perfweave/common.h"
#include "perfweave/experiment.h"
#include "perfweave/memprobe.h"
#include "perfweave/result.h"

/* Sanitizers replace malloc, so glibc's statistics do not see the blocks, and their shadow
 * memory changes the resident set: the checks against real memory are skipped there. */
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

/* One block of size bytes: glibc holds at least the 64-byte header; at most the header, the
 * rounding of size up to 64, aligned_alloc's slack (64 + 32), glibc's size fields and chunk
 * rounding (40) and a
 * page less one byte. */
static void test_block_overhead(void **state)
{
    (void)state;
    double lo, hi;
    pw_memprobe_block_overhead(1 << 20, 4096, &lo, &hi);
    assert_close(lo, 64, 0);
    assert_close(hi, 64 + 0 + 96 + 40 + 4095, 0);
    pw_memprobe_block_overhead(100, 4096, &lo, &hi);  /* rounded up to 128: 28 more */
    assert_close(hi, 64 + 28 + 96 + 40 + 4095, 0);
    pw_memprobe_block_overhead(1 << 20, 65536, &lo, &hi);  /* 64 KiB pages */
    assert_close(hi, 64 + 96 + 40 + 65535, 0);
}

/* Two readings on one CPU: 2 · max(64, 32, 2 · CPUs) pages. */
static void test_rss_tolerance(void **state)
{
    (void)state;
    assert_close(pw_memprobe_rss_tolerance(1, 4096), 2 * 64 * 4096.0, 0);
    assert_close(pw_memprobe_rss_tolerance(2, 4096), 2 * 64 * 4096.0, 0);
    assert_close(pw_memprobe_rss_tolerance(32, 4096), 2 * 64 * 4096.0, 0);
    assert_close(pw_memprobe_rss_tolerance(64, 4096), 2 * 128 * 4096.0, 0);
    assert_close(pw_memprobe_rss_tolerance(2, 16384), 2 * 64 * 16384.0, 0);
    assert_close(pw_memprobe_rss_tolerance(0, 4096), 2 * 64 * 4096.0, 0);
}

/* [lo, hi] maps onto [−1, 1]; beyond the ends beyond ±1; an empty range is NAN. */
static void test_position(void **state)
{
    (void)state;
    assert_close(pw_memprobe_position(64, 64, 4271), -1, 1e-15);
    assert_close(pw_memprobe_position(4271, 64, 4271), 1, 1e-15);
    assert_close(pw_memprobe_position(0, -100, 100), 0, 0);
    assert_close(pw_memprobe_position(150, -100, 100), 1.5, 1e-15);
    assert_close(pw_memprobe_position(4096, 64, 4271), (2 * 4096.0 - 64 - 4271) / (4271 - 64), 1e-15);
    assert_true(isnan(pw_memprobe_position(1, 5, 5)));
    assert_true(isnan(pw_memprobe_position(NAN, 0, 1)));
}

/* glibc's bytes in use around real accountant blocks, small (arena) and large (mmap): each
 * excess within the derived range; and for mapped blocks, back to the start once they are
 * freed. */
static void test_heap_against_blocks(void **state)
{
    (void)state;
    if (SANITIZED) skip();
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    pw_alloc *a = pw_alloc_new();
    pw_alloc_dealloc(a, pw_alloc_malloc(a, "t", 0));  /* intern the tag first */
    static const size_t sizes[] = {1100, 5000, 200000, 3u << 20};
    void *blocks[4];
    size_t grown[4];
    for (size_t i = 0; i < 4; i++) {
        size_t h = pw_memprobe_heap_in_use();
        blocks[i] = pw_alloc_malloc(a, "t", sizes[i]);
        grown[i] = pw_memprobe_heap_in_use() - h;
        assert_non_null(blocks[i]);
    }
    for (size_t i = 0; i < 4; i++) pw_alloc_dealloc(a, blocks[i]);
    for (size_t i = 0; i < 4; i++) {
        double lo, hi, excess = (double)grown[i] - (double)sizes[i];
        pw_memprobe_block_overhead(sizes[i], page, &lo, &hi);
        if (!(excess >= lo && excess <= hi))
            fail_msg("block of %zu bytes: glibc holds %zu, excess %.0f outside [%.0f, %.0f]",
                     sizes[i], grown[i], excess, lo, hi);
    }
    /* Mapped blocks go back whole: the bytes in use return to where they were.  (An arena block
     * may leave a split-off remainder in glibc's per-thread cache, which still counts.) */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    malloc_trim(0);
    size_t start = pw_memprobe_heap_in_use();
    void *big[2] = {pw_alloc_malloc(a, "t", 200000), pw_alloc_malloc(a, "t", 3u << 20)};
    assert_true(pw_memprobe_heap_in_use() - start >= 200000 + (3u << 20));
    pw_alloc_dealloc(a, big[0]);
    pw_alloc_dealloc(a, big[1]);
    assert_int_equal(pw_memprobe_heap_in_use(), start);
    pw_alloc_free(a);
}

/* profiling.memory in-process on small sizes: glibc agrees with the profiler within the
 * tolerance, the heap returns to where it started, and the fresh children's peak RSS agrees too
 * (these are counts of bytes and pages, not timings). */
static void test_memory_experiment(void **state)
{
    (void)state;
    if (SANITIZED) skip();
    const pw_experiment *e = pw_registry_find("profiling.memory");
    assert_non_null(e);
    json_t *given = json_pack("{s:[i,i], s:[i], s:i}", "sizes", 1, 3, "rss_sizes", 8, "repeats", 2);
    json_t *params = pw_experiment_params(e, given);
    assert_non_null(params);
    pw_result *r = pw_result_new("profiling.memory", "test");
    pw_run *run = pw_run_new(e, params, r, true);
    assert_int_equal(e->run(run), PW_OK);
    assert_false(pw_result_failed(r));
    static const char *const inside[] = {"heap_check.alloc.mb1", "heap_check.alloc.mb3",
                                         "heap_check.all", "rss_check.touched.mb8",
                                         "rss_check.peak"};
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        pw_metric m;
        assert_int_equal(pw_result_get_metric(r, inside[i], &m), PW_OK);
        if (!(m.lo >= -1 && m.hi <= 1)) fail_msg("%s = %g (%g–%g)", inside[i], m.value, m.lo, m.hi);
    }
    pw_metric m;
    assert_int_equal(pw_result_get_metric(r, "heap.after_free", &m), PW_OK);
    assert_close(m.value, 0, 0);
    assert_int_equal(pw_result_get_metric(r, "tracked.peak", &m), PW_OK);
    assert_close(m.value, 4, 0);
    pw_run_free(run);
    pw_result_free(r);
    json_decref(params);
    json_decref(given);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_overhead),
        cmocka_unit_test(test_rss_tolerance),
        cmocka_unit_test(test_position),
        cmocka_unit_test(test_heap_against_blocks),
        cmocka_unit_test(test_memory_experiment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
