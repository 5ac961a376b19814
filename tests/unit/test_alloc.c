/* test_alloc.c — the accounting allocator: current and peak bytes per tag and in total over a
 * known sequence of allocations and frees, reset, alignment, zero-fill and bad pointers. */
#include "support.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/alloc.h"
#include "perfweave/common.h"

static void test_sequence(void **state)
{
    (void)state;
    pw_alloc *a = pw_alloc_new();
    /* step                      a: cur/peak     b: cur/peak     total: cur/peak */
    void *a1 = pw_alloc_malloc(a, "a", 100);   /* 100/100        -               100/100  */
    void *b1 = pw_alloc_malloc(a, "b", 200);   /*                200/200         300/300  */
    void *a2 = pw_alloc_malloc(a, "a", 50);    /* 150/150                        350/350  */
    assert_non_null(a1);
    assert_non_null(b1);
    assert_non_null(a2);
    assert_int_equal(pw_alloc_current(a, "a"), 150);
    assert_int_equal(pw_alloc_current(a, "b"), 200);
    assert_int_equal(pw_alloc_current(a, NULL), 350);
    assert_int_equal(pw_alloc_peak(a, NULL), 350);
    assert_int_equal(pw_alloc_dealloc(a, b1), PW_OK);  /* b: 0/200, total 150/350 */
    assert_int_equal(pw_alloc_current(a, "b"), 0);
    assert_int_equal(pw_alloc_peak(a, "b"), 200);
    assert_int_equal(pw_alloc_current(a, NULL), 150);
    assert_int_equal(pw_alloc_peak(a, NULL), 350);
    void *a3 = pw_alloc_malloc(a, "a", 1000);  /* a: 1150/1150, total 1150/1150 */
    assert_int_equal(pw_alloc_peak(a, "a"), 1150);
    assert_int_equal(pw_alloc_peak(a, NULL), 1150);
    assert_int_equal(pw_alloc_size(a, a3), 1000);
    assert_int_equal(pw_alloc_dealloc(a, a1), PW_OK);  /* a: 1050/1150 */
    assert_int_equal(pw_alloc_dealloc(a, a3), PW_OK);  /* a: 50/1150 */
    assert_int_equal(pw_alloc_current(a, "a"), 50);
    assert_int_equal(pw_alloc_peak(a, "a"), 1150);

    pw_alloc_stats st;
    assert_int_equal(pw_alloc_stats_of(a, "a", &st), PW_OK);
    assert_string_equal(st.tag, "a");
    assert_int_equal(st.allocs, 3);
    assert_int_equal(st.frees, 2);
    assert_int_equal(st.live, 1);
    assert_int_equal(pw_alloc_ntags(a), 2);
    assert_int_equal(pw_alloc_stats_at(a, 1, &st), PW_OK);
    assert_string_equal(st.tag, "b");
    assert_int_equal(pw_alloc_stats_at(a, 2, &st), PW_ENOTFOUND);
    assert_int_equal(pw_alloc_stats_of(a, "never", &st), PW_ENOTFOUND);
    assert_int_equal(pw_alloc_current(a, "never"), 0);

    /* A reset starts a new window: peaks fall to the current bytes, counts to zero. */
    pw_alloc_reset(a);
    assert_int_equal(pw_alloc_peak(a, "a"), 50);
    assert_int_equal(pw_alloc_peak(a, "b"), 0);
    assert_int_equal(pw_alloc_peak(a, NULL), 50);
    assert_int_equal(pw_alloc_stats_of(a, NULL, &st), PW_OK);
    assert_int_equal(st.allocs, 0);
    assert_int_equal(st.live, 1);
    void *b2 = pw_alloc_malloc(a, "b", 30);
    assert_int_equal(pw_alloc_peak(a, NULL), 80);
    assert_int_equal(pw_alloc_dealloc(a, b2), PW_OK);
    assert_int_equal(pw_alloc_peak(a, NULL), 80);
    /* a2 is still live: freeing the accountant releases it too (ASan checks the leak). */
    pw_alloc_free(a);
}

static void test_blocks(void **state)
{
    (void)state;
    pw_alloc *a = pw_alloc_new();
    float *z = pw_alloc_calloc(a, "z", 1000, sizeof(float));
    assert_non_null(z);
    assert_int_equal((uintptr_t)z % 64, 0);
    for (int i = 0; i < 1000; i++) assert_true(z[i] == 0.0f);
    assert_int_equal(pw_alloc_current(a, "z"), 4000);
    void *empty = pw_alloc_malloc(a, "z", 0);
    assert_non_null(empty);
    assert_int_equal(pw_alloc_current(a, "z"), 4000);
    /* An overflowing product is refused and charges nothing. */
    assert_null(pw_alloc_calloc(a, "z", SIZE_MAX / 2, 4));
    assert_int_equal(pw_alloc_current(a, NULL), 4000);
    /* Foreign and repeated frees are reported, not performed. */
    int local = 0;
    assert_int_equal(pw_alloc_dealloc(a, &local), PW_EINVAL);
    char *foreign = malloc(128);
    assert_int_equal(pw_alloc_dealloc(a, foreign), PW_EINVAL);
    free(foreign);
    assert_int_equal(pw_alloc_dealloc(a, NULL), PW_OK);
    assert_int_equal(pw_alloc_dealloc(a, empty), PW_OK);
    assert_int_equal(pw_alloc_dealloc(a, empty), PW_EINVAL);
    assert_int_equal(pw_alloc_size(a, z), 4000);
    /* Another accountant does not accept this one's blocks. */
    pw_alloc *b = pw_alloc_new();
    assert_int_equal(pw_alloc_dealloc(b, z), PW_EINVAL);
    pw_alloc_free(b);
    assert_int_equal(pw_alloc_dealloc(a, z), PW_OK);
    assert_int_equal(pw_alloc_current(a, NULL), 0);
    assert_int_equal(pw_alloc_peak(a, NULL), 4000);
    void *u = pw_alloc_malloc(a, NULL, 10);
    assert_int_equal(pw_alloc_current(a, "untagged"), 10);
    assert_int_equal(pw_alloc_dealloc(a, u), PW_OK);
    pw_alloc_free(a);
    pw_alloc_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_blocks),
    };
    return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
