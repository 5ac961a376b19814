/* test_contention.c — the disturbed rule on fixture readings, /proc/stat parsing, the choice of
 * the measuring CPU, the published object, and that watching a measurement leaves this
 * process's CPU affinity as it found it.  No reading here is timed or judged against the clock. */
#include "support.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perfweave/common.h"
#include "perfweave/contention.h"
#include "perfweave/result.h"

/* Two readings one second apart (USER_HZ 100) of a 4-CPU machine whose CPU 2 is offline:
 * CPU 3 was busy the whole second, CPU 0 and 1 idle, CPU 1 lost 2 ticks to steal. */
static const char stat_before[] =
    "cpu  1000 10 500 40000 100 0 20 30 0 0\n"
    "cpu0 300 5 100 10000 50 0 10 10 0 0\n"
    "cpu1 300 5 100 10000 50 0 10 10 0 0\n"
    "cpu3 400 0 300 20000 0 0 0 10 0 0\n"
    "intr 12345 0 0\n"
    "ctxt 99\n"
    "procs_running 3\n"
    "procs_blocked 0\n";
static const char stat_after[] =
    "cpu  1100 10 500 40198 100 0 20 32 0 0\n"
    "cpu0 300 5 100 10100 50 0 10 10 0 0\n"
    "cpu1 300 5 100 10098 50 0 10 12 0 0\n"
    "cpu3 500 0 300 20000 0 0 0 10 0 0\n"
    "procs_running 1\n";

static void test_parse(void **state)
{
    (void)state;
    pw_cpustat s;
    assert_int_equal(pw_cpustat_parse(stat_before, 100, &s), PW_OK);
    assert_int_equal(s.ncpu, 4);
    assert_int_equal(s.nonline, 3);
    assert_true(s.present[0] && s.present[1] && !s.present[2] && s.present[3]);
    assert_close(s.all.busy, (1000 + 10 + 500 + 0 + 20) / 100.0, 1e-12);
    assert_close(s.all.idle, (40000 + 100) / 100.0, 1e-12);
    assert_close(s.all.steal, 0.30, 1e-12);
    assert_close(s.cpu[3].busy, 7.0, 1e-12);
    assert_int_equal(s.procs_running, 3);
    pw_cpustat_release(&s);
    pw_cpustat_release(&s); /* twice is harmless */
    /* An old kernel without the steal column; a text without a "cpu" line. */
    assert_int_equal(pw_cpustat_parse("cpu  10 0 10 80 0\ncpu0 10 0 10 80 0\n", 100, &s), PW_OK);
    assert_close(s.all.steal, 0, 0);
    assert_close(s.cpu[0].idle, 0.8, 1e-12);
    assert_int_equal(s.procs_running, -1);
    pw_cpustat_release(&s);
    assert_int_equal(pw_cpustat_parse("intr 1\n", 100, &s), PW_EINVAL);
    /* This machine's own /proc/stat reads. */
    if (pw_cpustat_read(&s) == PW_OK) {
        assert_true(s.nonline >= 1);
        pw_cpustat_release(&s);
    }
}

static void test_choose(void **state)
{
    (void)state;
    pw_cpustat a, b;
    assert_int_equal(pw_cpustat_parse(stat_before, 100, &a), PW_OK);
    assert_int_equal(pw_cpustat_parse(stat_after, 100, &b), PW_OK);
    /* CPU 0 was idle throughout, CPU 1 lost 20 ms to steal, CPU 3 was busy, CPU 2 is offline. */
    assert_int_equal(pw_contention_choose_cpu(&a, &b, NULL, 0), 0);
    bool allowed[4] = {false, true, true, true};
    assert_int_equal(pw_contention_choose_cpu(&a, &b, allowed, 4), 1);
    bool only_busy[4] = {false, false, true, true};
    assert_int_equal(pw_contention_choose_cpu(&a, &b, only_busy, 4), 3);
    bool none[4] = {false, false, true, false};
    assert_int_equal(pw_contention_choose_cpu(&a, &b, none, 4), -1);
    /* Ties go to the highest-numbered CPU. */
    assert_int_equal(pw_contention_choose_cpu(&a, &a, NULL, 0), 3);
    pw_cpustat_release(&a);
    pw_cpustat_release(&b);
}

/* A measurement of 1 s on CPU 1 of a 2-CPU machine, alone: the CPU was busy only with it. */
static pw_contention_readings quiet(void)
{
    pw_contention_readings r;
    memset(&r, 0, sizeof r);
    r.cpu = 1;
    r.window_s = 1.0;
    r.wall_s = 0.99;
    r.child_cpu_s = 0.98;
    r.cpu_busy_s = 1.0;
    r.cpu_steal_s = 0.0;
    r.machine_busy_s = 1.3;
    r.ncpu = 2;
    r.nivcsw = 3;
    r.nvcsw = 2;
    r.others_mean = 0.4;
    r.others_max = 2;
    r.samples = 10;
    return r;
}

static void test_rule(void **state)
{
    (void)state;
    char why[512];
    pw_contention_readings r = quiet();
    assert_false(pw_contention_judge(&r, why, sizeof why));
    assert_string_equal(why, "");

    /* A co-runner on the measuring CPU: half the CPU and ~130 preemptions a second (as measured
     * with a pinned busy loop and a second one beside it: 1.00 of 2.00 s, 254 switches). */
    r = quiet();
    r.child_cpu_s = 0.50;
    r.nivcsw = 127;
    assert_true(pw_contention_judge(&r, why, sizeof why));
    assert_non_null(strstr(why, "other tasks used 50% of CPU 1 beside the experiment (0.50 s of 1.00 s"));
    assert_non_null(strstr(why, "preempted 127 times"));

    /* Just below and just above each threshold: quiet, then disturbed, the reason naming it. */
#define EDGE(field, below, above, says)                                                         \
    do {                                                                                        \
        r = quiet();                                                                            \
        r.field = (below);                                                                      \
        assert_false(pw_contention_judge(&r, NULL, 0));                                         \
        r.field = (above);                                                                      \
        assert_true(pw_contention_judge(&r, why, sizeof why));                                  \
        assert_non_null(strstr(why, says));                                                     \
    } while (0)
    EDGE(child_cpu_s, quiet().cpu_busy_s - 0.095, quiet().cpu_busy_s - 0.105, "beside the experiment");
    EDGE(cpu_steal_s, 0.049, 0.08, "the hypervisor took 8% of CPU 1");
    EDGE(nivcsw, 49, 60, "preempted 60 times");
    EDGE(others_mean, 1.9, 2.4, "2.4 other tasks were runnable on average on 2 CPUs");
#undef EDGE
    r.samples = PW_CONTENTION_MIN_SAMPLES - 1; /* too few samples to say */
    assert_false(pw_contention_judge(&r, NULL, 0));

    /* A measurement of 20 ms is not condemned by /proc/stat's 10 ms ticks: one stray tick is half
     * its window, but below the absolute minimum; and a short burst of preemptions is too few. */
    r = quiet();
    r.window_s = r.wall_s = 0.02;
    r.child_cpu_s = 0.01;
    r.cpu_busy_s = 0.02;
    r.nivcsw = 5;
    r.samples = 1;
    assert_false(pw_contention_judge(&r, NULL, 0));

    /* Not pinned: the CPU shares say nothing, preemptions still count. */
    r = quiet();
    r.cpu = -1;
    r.child_cpu_s = 0.2;
    assert_false(pw_contention_judge(&r, NULL, 0));
    r.nivcsw = 300;
    assert_true(pw_contention_judge(&r, NULL, 0));
}

static void test_json_and_publish(void **state)
{
    (void)state;
    pw_contention_readings r = quiet();
    json_t *o = pw_contention_json(&r, "the least busy of 2 CPUs over 50 ms");
    assert_int_equal(json_integer_value(json_object_get(o, "cpu")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "cpu_choice")), "the least busy of 2 CPUs over 50 ms");
    assert_close(json_number_value(json_object_get(o, "cpu_busy_share")), 1.0, 1e-12);
    assert_close(json_number_value(json_object_get(o, "cpu_foreign_share")), 0.02, 1e-9);
    assert_close(json_number_value(json_object_get(o, "machine_busy_share")), 0.65, 1e-12);
    assert_close(json_number_value(json_object_get(o, "involuntary_per_s")), 3 / 0.99, 1e-12);
    assert_false(json_boolean_value(json_object_get(o, "disturbed")));
    assert_close(json_number_value(json_object_get(json_object_get(o, "thresholds"), "foreign_share")),
                 PW_CONTENTION_FOREIGN_SHARE, 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "others_runnable"), "samples")), 10);
    json_decref(o);

    /* Watching a real (trivial) measurement on CPU 0: the readings are published, and the
     * caller's affinity is back to what it was. */
    cpu_set_t before, after;
    assert_int_equal(sched_getaffinity(0, sizeof before, &before), 0);
    int cpu0 = -1;
    for (int i = 0; i < CPU_SETSIZE && cpu0 < 0; i++)
        if (CPU_ISSET(i, &before)) cpu0 = i;
    pw_contention *c = pw_contention_begin(cpu0);
    assert_int_equal(pw_contention_cpu(c), cpu0);
    if (CPU_COUNT(&before) > 1) { /* kept off the measuring CPU meanwhile */
        cpu_set_t during;
        assert_int_equal(sched_getaffinity(0, sizeof during, &during), 0);
        assert_false(CPU_ISSET(cpu0, &during));
    }
    pw_contention_sample(c, (long)getpid()); /* this test process stands for the child */
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    pw_contention_end(c, &ru, 0.001);
    assert_int_equal(sched_getaffinity(0, sizeof after, &after), 0);
    assert_true(CPU_EQUAL(&before, &after));
    const pw_contention_readings *got = pw_contention_readings_of(c);
    assert_int_equal(got->cpu, cpu0);
    assert_int_equal(got->samples, 1);
    pw_result *res = pw_result_new("test.contention", "t");
    pw_contention_publish(c, res);
    assert_non_null(json_object_get(pw_result_json(res), "contention"));
    pw_result_free(res);
    pw_contention_free(c);
    c = pw_contention_begin(-1);
    assert_int_equal(pw_contention_cpu(c), -1);
    pw_contention_free(c); /* without end: still restores nothing, frees everything */
    pw_contention_free(NULL);
}

/* Applying readings marks a result disturbed only when the rule says so and the result ran: an
 * ERROR stays an ERROR. */
static void test_apply_marks(void **state)
{
    (void)state;
    pw_contention_readings busy = quiet(), calm = quiet();
    busy.child_cpu_s = 0.5;
    pw_result *ok = pw_result_new("test.contention", "ok");
    pw_result_exact(ok, "x", 1, "");
    pw_contention_apply(&calm, "given", ok);
    assert_null(pw_result_disturbed(ok));
    assert_non_null(json_object_get(pw_result_json(ok), "contention"));
    pw_contention_apply(&busy, "given", ok);
    assert_non_null(pw_result_disturbed(ok));
    assert_non_null(strstr(pw_result_disturbed(ok), "contention during the measurement: other tasks used 50% of CPU 1"));
    assert_true(json_boolean_value(json_object_get(json_object_get(pw_result_json(ok), "contention"), "disturbed")));
    pw_result_free(ok);
    pw_result *bad = pw_result_new("test.contention", "bad");
    pw_result_error(bad, "crashed");
    pw_contention_apply(&busy, "given", bad);
    assert_null(pw_result_disturbed(bad));
    pw_result_free(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_choose),
        cmocka_unit_test(test_rule),
        cmocka_unit_test(test_json_and_publish),
        cmocka_unit_test(test_apply_marks),
    };
    return cmocka_run_group_tests_name("contention", tests, NULL, NULL);
}
