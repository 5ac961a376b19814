/* test_slurm.c — the parts of a Slurm job that need no cluster: states, the parsers (on output
 * captured from a real Slurm 22.05 in tests/fixtures/slurm/), the job file and its validation on
 * the node, the batch script, the sbatch argv and limits, a finished job turned into a result, the
 * probe's verdict, and running a program with an argv (proc.h).  Nothing here is timed. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perfweave/common.h"
#include "perfweave/experiment.h"
#include "perfweave/proc.h"
#include "perfweave/result.h"
#include "perfweave/slurm.h"
#include "perfweave/store.h"

#define FIX "tests/fixtures/slurm"

static char *fixture(const char *name)
{
    char *path = pw_xasprintf("%s/%s", FIX, name);
    char *text = pw_read_file(path, NULL);
    assert_non_null(text);
    free(path);
    return text;
}

static void assert_contains(const char *text, const char *part)
{
    if (!text || !strstr(text, part)) fail_msg("'%s' lacks '%s'", text ? text : "(null)", part);
}

/* Submitting through Slurm is not measuring: editing it must not invalidate cached results.  (What
 * measures on the node is run-job's local executor, src/exec/local.c, which is core.) */
static void test_not_measurement_core(void **state)
{
    (void)state;
    static const char *const files[] = {"include/perfweave/slurm.h", "include/perfweave/proc.h",
                                        "src/exec/slurm_job.c", "src/exec/slurm_client.c",
                                        "src/exec/proc.c", "src/cli/cmd_run_job.c", NULL};
    for (size_t i = 0; files[i]; i++) {
        if (pw_impl_is_core(files[i])) fail_msg("%s counts as measurement core", files[i]);
        assert_non_null(pw_impl_file_hash(files[i]));
    }
    assert_true(pw_impl_is_core("src/exec/local.c"));
}

static void test_states(void **state)
{
    (void)state;
    static const struct { const char *text, *name; pw_slurm_phase phase; } cases[] = {
        {"PENDING", "PENDING", PW_SLURM_ACTIVE}, {"R", "RUNNING", PW_SLURM_ACTIVE},
        {"COMPLETING", "COMPLETING", PW_SLURM_ACTIVE}, {"completed", "COMPLETED", PW_SLURM_COMPLETED},
        {"CD", "COMPLETED", PW_SLURM_COMPLETED}, {"TIMEOUT", "TIMEOUT", PW_SLURM_ENDED},
        {"TO", "TIMEOUT", PW_SLURM_ENDED}, {"OUT_OF_MEMORY", "OUT_OF_MEMORY", PW_SLURM_ENDED},
        {"OOM", "OUT_OF_MEMORY", PW_SLURM_ENDED}, {"NODE_FAIL", "NODE_FAIL", PW_SLURM_ENDED},
        {"PREEMPTED", "PREEMPTED", PW_SLURM_ENDED}, {"FAILED", "FAILED", PW_SLURM_ENDED},
        {" CANCELLED by 1000", "CANCELLED", PW_SLURM_ENDED}, {"BOOT_FAIL", "BOOT_FAIL", PW_SLURM_ENDED},
        {"DEADLINE", "DEADLINE", PW_SLURM_ENDED}, {"REQUEUED", "REQUEUED", PW_SLURM_ACTIVE},
        {"", "UNKNOWN", PW_SLURM_UNKNOWN}, {"EXPLODED", "UNKNOWN", PW_SLURM_UNKNOWN},
        {"TIMEOUTS", "UNKNOWN", PW_SLURM_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pw_slurm_state *s = pw_slurm_state_parse(cases[i].text);
        if (strcmp(s->name, cases[i].name) != 0 || s->phase != cases[i].phase)
            fail_msg("'%s' parsed as %s (phase %d)", cases[i].text, s->name, (int)s->phase);
        assert_true(strlen(s->meaning) > 0);
    }
    assert_string_equal(pw_slurm_state_parse(NULL)->name, "UNKNOWN");
}

static void test_parse_real_output(void **state)
{
    (void)state;
    pw_slurm_info info;
    char *sq = fixture("squeue.txt");
    assert_int_equal(pw_slurm_parse_squeue(sq, "12", &info), PW_OK);
    assert_string_equal(info.job_id, "12");
    assert_string_equal(info.state, "TIMEOUT");
    assert_string_equal(info.reason, "TimeLimit");
    assert_string_equal(info.nodes, "vm");
    assert_string_equal(info.partition, "pw-b");
    assert_string_equal(info.time_limit, "1:00");
    assert_int_equal(pw_slurm_parse_squeue(sq, "13", &info), PW_OK);
    assert_string_equal(info.state, "FAILED");
    assert_int_equal(pw_slurm_parse_squeue(sq, "1", &info), PW_ENOTFOUND);
    assert_int_equal(pw_slurm_parse_squeue("", "12", &info), PW_ENOTFOUND);
    /* Fields go into JSON: anything but printable ASCII becomes '?' (found by fuzz_slurm). */
    assert_int_equal(pw_slurm_parse_squeue("12|TIME\xffOUT|a\tb|vm|p|1\n", "12", &info), PW_OK);
    assert_string_equal(info.state, "TIME?OUT");
    assert_string_equal(info.reason, "a?b");
    free(sq);

    char *sc = fixture("scontrol-timeout.txt");
    assert_int_equal(pw_slurm_parse_scontrol(sc, &info), PW_OK);
    assert_string_equal(info.job_id, "12");
    assert_string_equal(info.state, "TIMEOUT");
    assert_string_equal(info.reason, "TimeLimit");
    assert_string_equal(info.exit_code, "0:15");
    assert_string_equal(info.nodes, "vm");          /* not ReqNodeList=(null) */
    assert_string_equal(info.partition, "pw-b");
    assert_string_equal(info.time_limit, "00:01:00");  /* not TimeMin=N/A */
    free(sc);
    sc = fixture("scontrol-failed.txt");
    assert_int_equal(pw_slurm_parse_scontrol(sc, &info), PW_OK);
    assert_string_equal(info.state, "FAILED");
    assert_string_equal(info.exit_code, "3:0");
    free(sc);
    assert_int_equal(pw_slurm_parse_scontrol("slurm_load_jobs error: Invalid job id specified", &info), PW_ENOTFOUND);

    /* sacct -n -P -X -o JobID,State,ExitCode,NodeList,Partition,Timelimit (format from its manual). */
    assert_int_equal(pw_slurm_parse_sacct("41|OUT_OF_MEMORY|0:125|node3|big|00:10:00\n"
                                          "42|CANCELLED by 1000|0:0|None assigned|big|00:10:00\n",
                                          "42", &info), PW_OK);
    assert_string_equal(info.state, "CANCELLED by 1000");
    assert_string_equal(pw_slurm_state_parse(info.state)->name, "CANCELLED");
    assert_int_equal(pw_slurm_parse_sacct("41|OUT_OF_MEMORY|0:125|node3|big|00:10:00\n", "41", &info), PW_OK);
    assert_string_equal(info.exit_code, "0:125");
    assert_string_equal(info.nodes, "node3");
    assert_int_equal(pw_slurm_parse_sacct("Slurm accounting storage is disabled\n", "41", &info), PW_ENOTFOUND);
}

static void test_job_id(void **state)
{
    (void)state;
    static const struct { const char *text, *id; } ok[] = {
        {"123\n", "123"}, {"123;cluster\n", "123"}, {"  45_6 \n", "45_6"}, {"7", "7"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *id = NULL;
        assert_int_equal(pw_slurm_parse_job_id(ok[i].text, &id), PW_OK);
        assert_string_equal(id, ok[i].id);
        free(id);
    }
    static const char *const bad[] = {"", "\n", "abc", "12a", "12_", "_3",
                                      "Submitted batch job 12", "123456789012345678901234567890123", NULL};
    for (size_t i = 0; bad[i]; i++) {
        char *id = (char *)1;
        assert_int_equal(pw_slurm_parse_job_id(bad[i], &id), PW_EINVAL);
        assert_null(id);
    }
}

static void test_sinfo_and_partitions(void **state)
{
    (void)state;
    char msg[256];
    char *text = fixture("sinfo.txt");
    json_t *doc = pw_slurm_parse_sinfo(text, msg, sizeof msg);
    free(text);
    assert_non_null(doc);
    assert_int_equal(json_object_size(doc), 2);
    json_t *a = json_object_get(doc, "pw-a");
    assert_string_equal(json_string_value(json_object_get(a, "available")), "up");
    assert_int_equal(json_array_size(json_object_get(a, "kinds")), 1);
    json_t *kind = json_array_get(json_object_get(a, "kinds"), 0);
    assert_int_equal(json_integer_value(json_object_get(kind, "cpus")), 2);
    assert_int_equal(json_integer_value(json_object_get(kind, "memory_mb")), 24105);
    assert_string_equal(json_string_value(json_object_get(kind, "sockets_cores_threads")), "1:2:1");
    json_decref(doc);
    /* A partition of two kinds of node, another of one. */
    doc = pw_slurm_parse_sinfo("n1|mixed|up|64|256000|2:16:2|avx512|idle\n"
                               "n2|mixed|up|64|256000|2:16:2|avx512|alloc\n"
                               "n3|mixed|up|32|128000|1:16:2|avx2|idle\n"
                               "n3|small|down|32|128000|1:16:2|avx2|idle\n", msg, sizeof msg);
    assert_non_null(doc);
    json_t *mixed = json_object_get(doc, "mixed");
    assert_int_equal(json_array_size(json_object_get(mixed, "nodes")), 3);
    assert_int_equal(json_array_size(json_object_get(mixed, "kinds")), 2);
    assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(mixed, "kinds"), 0), "nodes")), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "small"), "available")), "down");
    json_decref(doc);
    assert_null(pw_slurm_parse_sinfo("n1|mixed|up\n", msg, sizeof msg));
    assert_contains(msg, "cannot read");
    doc = pw_slurm_parse_sinfo("", msg, sizeof msg);
    assert_int_equal(json_object_size(doc), 0);
    json_decref(doc);

    size_t n;
    char **v = pw_slurm_split_partitions("fast,slow.2,gpu_a-1", &n);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "fast");
    assert_string_equal(v[2], "gpu_a-1");
    assert_null(v[3]);
    pw_slurm_strv_free(v);
    assert_null(pw_slurm_split_partitions("a,,b", &n));
    assert_null(pw_slurm_split_partitions("a b", &n));
    assert_null(pw_slurm_split_partitions("", &n));
    assert_null(pw_slurm_split_partitions("a;rm", &n));
}

static json_t *fixed_params(const char *values)
{
    const pw_experiment *e = pw_registry_find("selftest.fixed");
    const pw_param_spec *spec = pw_experiment_param(e, "values");
    json_t *v, *given = json_object();
    char msg[128];
    assert_int_equal(pw_param_parse(spec, values, &v, msg, sizeof msg), PW_OK);
    json_object_set_new(given, "values", v);
    json_t *params = pw_experiment_params(e, given);
    json_decref(given);
    return params;
}

static void test_job_file_round_trip(void **state)
{
    (void)state;
    const pw_experiment *e = pw_registry_find("selftest.fixed");
    json_t *params = fixed_params("[1, 2, 3]");
    pw_slurm_measure m = {e, "fixed-1", params, true, 30, 512};
    json_t *job = pw_slurm_job_measure(&m);
    assert_string_equal(json_string_value(json_object_get(job, "kind")), "measure");
    assert_int_equal(json_integer_value(json_object_get(job, "job_schema")), PW_SLURM_JOB_SCHEMA);
    /* Through text, as it travels. */
    char *text = json_dumps(job, 0);
    json_t *back = json_loads(text, 0, NULL);
    free(text);
    pw_slurm_job_spec spec;
    char msg[256];
    assert_int_equal(pw_slurm_job_read(back, &spec, msg, sizeof msg), PW_OK);
    assert_ptr_equal(spec.experiment, e);
    assert_string_equal(spec.id, "fixed-1");
    assert_true(spec.quick);
    assert_close(spec.timeout_s, 30, 0);
    assert_close(spec.memory_mb, 512, 0);
    assert_true(json_equal(spec.params, params));
    json_decref(spec.params);

    /* A value its schema forbids, a parameter it does not have, a wrong type, an unknown
     * experiment, another kind: all refused with a reason. */
    json_t *bad = json_deep_copy(back);
    json_object_set_new(json_object_get(bad, "params"), "spread", json_real(5.0));
    assert_int_equal(pw_slurm_job_read(bad, &spec, msg, sizeof msg), PW_EINVAL);
    assert_contains(msg, "spread");
    json_decref(bad);
    bad = json_deep_copy(back);
    json_object_set_new(json_object_get(bad, "params"), "mode", json_string("segv"));
    assert_int_equal(pw_slurm_job_read(bad, &spec, msg, sizeof msg), PW_EINVAL);
    assert_contains(msg, "unknown parameter 'mode'");
    json_decref(bad);
    bad = json_deep_copy(back);
    json_object_set_new(json_object_get(bad, "params"), "values", json_string("1,2"));
    assert_int_equal(pw_slurm_job_read(bad, &spec, msg, sizeof msg), PW_EINVAL);
    assert_contains(msg, "wrong JSON type");
    json_decref(bad);
    bad = json_deep_copy(back);
    json_object_set_new(bad, "experiment", json_string("selftest.nothing"));
    assert_int_equal(pw_slurm_job_read(bad, &spec, msg, sizeof msg), PW_EINVAL);
    assert_contains(msg, "unknown experiment");
    json_decref(bad);
    bad = json_deep_copy(back);
    json_object_set_new(bad, "kind", json_string("probe"));
    assert_int_equal(pw_slurm_job_read(bad, &spec, msg, sizeof msg), PW_EINVAL);
    json_decref(bad);
    bad = json_deep_copy(back);
    json_object_del(bad, "timeout_s");
    assert_int_equal(pw_slurm_job_read(bad, &spec, msg, sizeof msg), PW_EINVAL);
    json_decref(bad);
    bad = json_pack("{s:i}", "job_schema", 2);
    assert_int_equal(pw_slurm_job_read(bad, &spec, msg, sizeof msg), PW_EINVAL);
    json_decref(bad);

    const char *whats[] = {"the binary"}, *paths[] = {"/x/perfweave"};
    json_t *probe = pw_slurm_job_probe(whats, paths, 1, "/w/t.token", "abc");
    assert_string_equal(json_string_value(json_object_get(probe, "kind")), "probe");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(probe, "checks"), 0), "path")), "/x/perfweave");
    assert_string_equal(json_string_value(json_object_get(json_object_get(probe, "token"), "value")), "abc");
    json_decref(probe);
    json_decref(back);
    json_decref(job);
    json_decref(params);
}

static void test_script(void **state)
{
    (void)state;
    char *s = pw_slurm_script("/opt/pw/build/perfweave", "/shared/w/a.job.json", "/shared/w/a.out.json");
    const char *expect =
        "#!/bin/sh\n"
        "# A perfweave job, written from a fixed template: it runs one directive, which\n"
        "# the job file describes as JSON, with the perfweave binary that submitted it.\n"
        "# Nothing of the chapters is in this script.\n"
        "binary='/opt/pw/build/perfweave'\n"
        "job='/shared/w/a.job.json'\n"
        "out='/shared/w/a.out.json'\n"
        "if [ ! -x \"$binary\" ]; then\n"
        "    echo \"perfweave: the binary $binary is not visible on node $(hostname) (is it on a filesystem shared with the node?)\" >&2\n"
        "    exit 97\n"
        "fi\n"
        "if [ ! -r \"$job\" ]; then\n"
        "    echo \"perfweave: the job file $job is not visible on node $(hostname) (is the work folder on a filesystem shared with the node?)\" >&2\n"
        "    exit 98\n"
        "fi\n"
        "exec \"$binary\" run-job \"$job\" \"$out\"\n";
    assert_string_equal(s, expect);
    free(s);
    /* Paths are data, never shell: a quote, a $, a backquote and a newline stay inside quotes. */
    s = pw_slurm_script("/it's $(here)/`x`\nrm", "/j", "/o");
    assert_contains(s, "binary='/it'\\''s $(here)/`x`\nrm'\n");
    free(s);
}

static void test_limits_and_argv(void **state)
{
    (void)state;
    const pw_experiment *e = pw_registry_find("selftest.fixed");
    pw_slurm_measure m = {e, "x", NULL, true, 0, 0};
    pw_slurm_limits lim;
    pw_slurm_limits_for(&m, &lim);
    assert_int_equal(lim.time_min, 2);     /* quick default 60 s + 60 s margin */
    assert_close(lim.mem_mb, 0, 0);
    assert_true(lim.exclusive);
    m.quick = false;
    pw_slurm_limits_for(&m, &lim);
    assert_int_equal(lim.time_min, 16);    /* 900 s + 60 s */
    m.timeout_s = 61;
    m.memory_mb = 256;
    pw_slurm_limits_for(&m, &lim);
    assert_int_equal(lim.time_min, 3);     /* ceil(121 / 60) */
    assert_close(lim.mem_mb, 768, 0);

    pw_slurm_submit s = {"fast", "pw-matmul", "/w/a.sh", "/w/a.log", "/w", lim};
    char **argv = pw_slurm_sbatch_argv(&s);
    static const char *const expect[] = {
        "sbatch", "--parsable", "--job-name=pw-matmul", "--partition=fast", "--nodes=1",
        "--ntasks=1", "--exclusive", "--time=3", "--mem=768M", "--output=/w/a.log", "--chdir=/w",
        "--export=PATH,HOME,LANG,LC_ALL,TMPDIR,LD_LIBRARY_PATH,PERFWEAVE_LOCK", "/w/a.sh", NULL};
    size_t i = 0;
    for (; expect[i]; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], expect[i]);
    }
    assert_null(argv[i]);
    pw_slurm_strv_free(argv);
    /* A probe: no --exclusive, and no --mem when none is asked. */
    s.limits = (pw_slurm_limits){1, 0, false};
    argv = pw_slurm_sbatch_argv(&s);
    for (i = 0; argv[i]; i++) {
        assert_string_not_equal(argv[i], "--exclusive");
        assert_null(strstr(argv[i], "--mem"));
    }
    pw_slurm_strv_free(argv);
}

/* Writes text to dir/name; returns the path (caller frees). */
static char *write_in(const char *dir, const char *name, const char *text)
{
    char *path = pw_xasprintf("%s/%s", dir, name);
    assert_int_equal(pw_write_file_atomic(path, text, strlen(text)), PW_OK);
    return path;
}

static pw_slurm_info info_of(const char *id, const char *state, const char *exit_code)
{
    pw_slurm_info i;
    memset(&i, 0, sizeof i);
    snprintf(i.job_id, sizeof i.job_id, "%s", id);
    snprintf(i.state, sizeof i.state, "%s", state);
    snprintf(i.exit_code, sizeof i.exit_code, "%s", exit_code);
    snprintf(i.nodes, sizeof i.nodes, "node7");
    snprintf(i.partition, sizeof i.partition, "fast");
    snprintf(i.time_limit, sizeof i.time_limit, "00:02:00");
    return i;
}

static void test_results(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    /* A result the node wrote. */
    pw_result *ok = pw_result_new("selftest.fixed", "f1");
    pw_result_exact(ok, "count", 3, "");
    char *text = json_dumps(pw_result_json(ok), 0);
    char *out = write_in(dir, "f1.out.json", text);
    free(text);
    pw_result_free(ok);
    char *log = write_in(dir, "f1.log", "starting\nslurmstepd: error: *** JOB 8 ON node7 CANCELLED AT 2026-12-01T09:25:03 DUE TO TIME LIMIT ***\n");

    pw_slurm_info info = info_of("8", "COMPLETED", "0:0");
    pw_result *r = pw_slurm_result("selftest.fixed", "f1", &info, out, log);
    assert_false(pw_result_failed(r));
    json_t *run = json_object_get(pw_result_json(r), "run");
    assert_string_equal(json_string_value(json_object_get(run, "source")), "slurm");
    assert_string_equal(json_string_value(json_object_get(json_object_get(run, "slurm"), "job_id")), "8");
    assert_string_equal(json_string_value(json_object_get(json_object_get(run, "slurm"), "partition")), "fast");
    assert_string_equal(json_string_value(json_object_get(json_object_get(run, "slurm"), "state")), "COMPLETED");
    pw_result_free(r);
    /* The result belongs to another directive: not taken. */
    r = pw_slurm_result("selftest.fixed", "other", &info, out, log);
    assert_true(pw_result_failed(r));
    assert_contains(pw_result_error_reason(r), "Slurm job 8 completed on node node7 but wrote no result");
    pw_result_free(r);

    /* Every failure state without a result names the state, its meaning and the job id. */
    static const char *const failed[] = {"TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "FAILED",
                                         "CANCELLED by 0", "BOOT_FAIL", "DEADLINE", NULL};
    for (size_t i = 0; failed[i]; i++) {
        pw_slurm_info fi = info_of("17", failed[i], "0:15");
        r = pw_slurm_result("selftest.fixed", "f2", &fi, "/nonexistent/out.json", log);
        assert_true(pw_result_failed(r));
        const pw_slurm_state *st = pw_slurm_state_parse(failed[i]);
        char *head = pw_xasprintf("Slurm job 17 ended %s (it %s", st->name, st->meaning);
        assert_contains(pw_result_error_reason(r), head);
        assert_contains(pw_result_error_reason(r), "on node node7 without a result");
        assert_contains(pw_result_error_reason(r), "its last output: starting");
        free(head);
        pw_result_free(r);
    }
    pw_slurm_info ti = info_of("17", "TIMEOUT", "0:15");
    r = pw_slurm_result("selftest.fixed", "f2", &ti, NULL, log);
    assert_contains(pw_result_error_reason(r), "reached its time limit of 00:02:00; exit code 0:15");
    assert_contains(pw_result_error_reason(r), "DUE TO TIME LIMIT");
    pw_result_free(r);

    /* The experiment's own ERROR, and the job's state beside it. */
    pw_result *err = pw_result_new("selftest.crash", "c1");
    pw_result_error(err, "crashed with signal 11 (Segmentation fault)");
    text = json_dumps(pw_result_json(err), 0);
    char *errout = write_in(dir, "c1.out.json", text);
    free(text);
    pw_result_free(err);
    pw_slurm_info fi = info_of("18", "FAILED", "2:0");
    r = pw_slurm_result("selftest.crash", "c1", &fi, errout, log);
    assert_string_equal(pw_result_error_reason(r), "crashed with signal 11 (Segmentation fault); Slurm job 18 on node node7 ended FAILED (exit code 2:0)");
    pw_result_free(r);

    /* The script's own exit codes, a log that is not here, a job Slurm forgot. */
    fi = info_of("19", "FAILED", "97:0");
    r = pw_slurm_result("selftest.fixed", "f3", &fi, NULL, "/nonexistent/f3.log");
    assert_contains(pw_result_error_reason(r), "the perfweave binary was not visible on the node");
    assert_contains(pw_result_error_reason(r), "its log /nonexistent/f3.log is not visible here");
    pw_result_free(r);
    fi = info_of("20", "FAILED", "98:0");
    r = pw_slurm_result("selftest.fixed", "f3", &fi, NULL, NULL);
    assert_contains(pw_result_error_reason(r), "the job file was not visible on the node");
    pw_result_free(r);
    fi = info_of("21", "", "");
    r = pw_slurm_result("selftest.fixed", "f3", &fi, NULL, NULL);
    assert_contains(pw_result_error_reason(r), "Slurm job 21 is no longer known to Slurm");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(pw_result_json(r), "run"), "slurm"), "state")), "UNKNOWN");
    pw_result_free(r);
    /* A result written, then the job killed: kept, with a warning. */
    fi = info_of("22", "TIMEOUT", "0:15");
    r = pw_slurm_result("selftest.fixed", "f1", &fi, out, log);
    assert_false(pw_result_failed(r));
    assert_contains(json_string_value(json_array_get(json_object_get(pw_result_json(r), "warnings"), 0)),
                    "the Slurm job 22 ended TIMEOUT");
    pw_result_free(r);

    char *tail = pw_slurm_log_tail(log, 10);
    assert_string_equal(tail, "LIMIT ***");  /* the last 10 bytes, final newline trimmed */
    free(tail);
    tail = pw_slurm_log_tail("/nonexistent", 10);
    assert_string_equal(tail, "");
    free(tail);
    free(out);
    free(errout);
    free(log);
    pw_test_rmtree(dir);
    free(dir);
}

static void test_probe_verify(void **state)
{
    (void)state;
    const char *sha = "aaaa";
    json_t *p = json_pack("{s:i, s:s, s:{s:s}, s:[{s:s, s:s, s:b}], s:b, s:s}", "probe_schema", 1,
                          "node", "node7", "environment", "host", "node7", "checks", "what", "the file",
                          "path", "/c/ch.md", "visible", 1, "token_matches", 1, "binary_sha256", sha);
    char msg[512];
    assert_int_equal(pw_slurm_probe_verify(p, sha, msg, sizeof msg), PW_OK);
    assert_int_equal(pw_slurm_probe_verify(p, "bbbb", msg, sizeof msg), PW_EINVAL);
    assert_contains(msg, "the perfweave binary on node node7 is not this build");
    json_object_set_new(p, "token_matches", json_false());
    assert_int_equal(pw_slurm_probe_verify(p, sha, msg, sizeof msg), PW_EINVAL);
    assert_contains(msg, "another folder of the same name");
    json_object_set_new(json_array_get(json_object_get(p, "checks"), 0), "visible", json_false());
    assert_int_equal(pw_slurm_probe_verify(p, sha, msg, sizeof msg), PW_EINVAL);
    assert_contains(msg, "the file /c/ch.md is not visible on node node7");
    json_object_set_new(p, "probe_schema", json_integer(9));
    assert_int_equal(pw_slurm_probe_verify(p, sha, msg, sizeof msg), PW_EINVAL);
    assert_contains(msg, "unreadable report");
    json_decref(p);
}

static void test_context(void **state)
{
    (void)state;
    unsetenv("SLURM_JOB_ID");
    assert_null(pw_slurm_context());
    setenv("SLURM_JOB_ID", "77", 1);
    setenv("SLURM_JOB_PARTITION", "fast", 1);
    setenv("SLURMD_NODENAME", "node7", 1);
    unsetenv("SLURM_CLUSTER_NAME");
    json_t *c = pw_slurm_context();
    assert_string_equal(json_string_value(json_object_get(c, "job_id")), "77");
    assert_string_equal(json_string_value(json_object_get(c, "partition")), "fast");
    assert_string_equal(json_string_value(json_object_get(c, "node")), "node7");
    assert_true(json_is_null(json_object_get(c, "cluster")));
    json_decref(c);
    unsetenv("SLURM_JOB_ID");
    unsetenv("SLURM_JOB_PARTITION");
    unsetenv("SLURMD_NODENAME");
}

static void test_proc(void **state)
{
    (void)state;
    pw_buf out, err;
    pw_buf_init(&out);
    pw_buf_init(&err);
    pw_proc_status st;
    char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    assert_int_equal(pw_proc_run(argv, 30, &out, &err, &st), PW_OK);
    assert_int_equal(st.exit_code, 3);
    assert_string_equal(out.data, "out\n");
    assert_string_equal(err.data, "err\n");
    /* An argument is one argument: no shell sees it. */
    pw_buf_reset(&out);
    char *echo[] = {"echo", "$(id); rm -rf /", NULL};
    assert_int_equal(pw_proc_run(echo, 30, &out, NULL, &st), PW_OK);
    assert_string_equal(out.data, "$(id); rm -rf /\n");
    char *missing[] = {"/nonexistent/sbatch", NULL};
    assert_int_equal(pw_proc_run(missing, 30, NULL, NULL, &st), PW_ENOTFOUND);
    assert_true(st.not_found);
    char *slow[] = {"sleep", "30", NULL};
    assert_int_equal(pw_proc_run(slow, 0.2, NULL, NULL, &st), PW_ECHILD);
    assert_true(st.timed_out);
    pw_buf_release(&out);
    pw_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_measurement_core),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_parse_real_output),
        cmocka_unit_test(test_job_id),
        cmocka_unit_test(test_sinfo_and_partitions),
        cmocka_unit_test(test_job_file_round_trip),
        cmocka_unit_test(test_script),
        cmocka_unit_test(test_limits_and_argv),
        cmocka_unit_test(test_results),
        cmocka_unit_test(test_probe_verify),
        cmocka_unit_test(test_context),
        cmocka_unit_test(test_proc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
