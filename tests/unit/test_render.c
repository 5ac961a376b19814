/* test_render.c — the output formats behind render.h: the registry's contract (every format
 * complete, found by its name, one file each) and the plain-text page (columns aligned by
 * characters, not bytes; control characters made spaces), the template reader (UTF-8 checked,
 * the line of a bad byte).  The HTML and LaTeX markup is
 * checked whole by the golden files (tests/golden). */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/render.h"
#include "perfweave/version.h"

static void test_registry(void **state)
{
    (void)state;
    size_t n = 0;
    for (; pw_renderers[n]; n++) {
        const pw_renderer *R = pw_renderers[n];
        assert_non_null(R->name);
        assert_non_null(R->file);
        assert_non_null(R->page);
        assert_ptr_equal(pw_render_find(R->name), R);
        for (size_t k = 0; k < n; k++) {
            assert_string_not_equal(pw_renderers[k]->name, R->name);
            assert_string_not_equal(pw_renderers[k]->file, R->file);
        }
        if (!R->prose) continue;
        /* A format that shows the chapters gets every fragment. */
        assert_non_null(R->value);
        assert_non_null(R->previous);
        assert_non_null(R->unmeasured);
        assert_non_null(R->missing);
        assert_non_null(R->table);
        assert_non_null(R->figure);
        assert_non_null(R->experiment_open);
        assert_non_null(R->experiment_error);
        assert_non_null(R->items);
        assert_non_null(R->folded);
        assert_non_null(R->experiment_close);
        assert_non_null(R->counts);
        assert_non_null(R->claims_open);
        assert_non_null(R->group);
        assert_non_null(R->claim);
        assert_non_null(R->claims_none);
        assert_non_null(R->claims_close);
        assert_non_null(R->environment_open);
        assert_non_null(R->environment_row);
        assert_non_null(R->environment_close);
    }
    assert_true(n >= 3 && n < PW_RENDER_MAX);
    assert_ptr_equal(pw_render_find("text"), &pw_render_text);
    assert_null(pw_render_find("pdf")); /* a product of the LaTeX, not a format */
    assert_null(pw_render_find("txt"));
}

/* A template is read whole and must be UTF-8 text: the line of an invalid byte or a NUL. */
static void test_template_load(void **state)
{
    (void)state;
    char *dir = pw_test_tmpdir();
    char *good = pw_xasprintf("%s/good.html", dir), *latin = pw_xasprintf("%s/latin.html", dir),
         *nul = pw_xasprintf("%s/nul.html", dir);
    const char g[] = "<p>caf\xc3\xa9" " {{x}}</p>\n", l[] = "one\ntwo\nthr\xe9" "e\n", z[] = "a\nb\0c\n";
    assert_int_equal(pw_write_file_atomic(good, g, sizeof g - 1), PW_OK);
    assert_int_equal(pw_write_file_atomic(latin, l, sizeof l - 1), PW_OK);
    assert_int_equal(pw_write_file_atomic(nul, z, sizeof z - 1), PW_OK);
    char *text, msg[256];
    int line;
    assert_int_equal(pw_render_template_load(dir, "good.html", &text, &line, msg, sizeof msg), PW_OK);
    assert_string_equal(text, g);
    assert_int_equal(line, 0);
    free(text);
    assert_int_equal(pw_render_template_load(dir, "latin.html", &text, &line, msg, sizeof msg), PW_EINVAL);
    assert_null(text);
    assert_int_equal(line, 3);
    assert_string_equal(msg, "invalid UTF-8 (byte 0xE9)");
    assert_int_equal(pw_render_template_load(dir, "nul.html", &text, &line, msg, sizeof msg), PW_EINVAL);
    assert_int_equal(line, 2);
    assert_non_null(strstr(msg, "NUL byte"));
    assert_int_equal(pw_render_template_load(dir, "none.html", &text, &line, msg, sizeof msg), PW_EIO);
    assert_null(text);
    assert_string_equal(msg, "cannot read template: No such file or directory");
    /* The formats that read templates name them. */
    assert_string_equal(pw_render_html.templates[0], "report.html");
    assert_string_equal(pw_render_latex.templates[0], "report.tex");
    assert_null(pw_render_text.templates);
    pw_test_rmtree(dir);
    free(good), free(latin), free(nul), free(dir);
}

static void test_text_page(void **state)
{
    (void)state;
    /* Verdict objects as pw_claims_evaluate writes them, and one without kind or outcome (a
     * hand-written fixture), whose outcome is derived from its verdict. */
    json_t *va = json_pack("[{s:s, s:s, s:s, s:s, s:[]}]", "claim", "x ≥ 1", "kind", "claim", "verdict", "PASS",
                           "outcome", "helped", "points");
    json_t *vb = json_pack("[{s:s, s:s, s:s, s:s, s:s, s:[], s:s}, {s:s, s:s, s:[]}]", "claim", "y\tz", "kind",
                           "counterclaim", "label", "slow-z", "verdict", "PASS", "outcome", "did not help", "points",
                           "reason", "given reason", "claim", "x ≥ 1", "verdict", "FAIL", "points");
    pw_directive a = {0}, bb = {0};
    pw_claim ca = {0}, cb[2] = {{0}, {0}};
    ca.text = "x ≥ 1";
    cb[0].text = "y\tz";
    cb[1].text = "x ≥ 1";
    a.id = "a";
    a.verdicts = va;
    a.claims = &ca;
    a.nclaims = 1;
    a.params = json_pack("{s:i, s:s}", "batch", 1, "mode", "x");
    bb.id = "bb";
    bb.verdicts = vb;
    bb.claims = cb;
    bb.nclaims = 2;
    bb.params = json_pack("{s:i, s:s}", "batch", 256, "mode", "x");
    pw_directive *ds[] = {&a, &bb};
    pw_chapter ch = {0};
    ch.title = "Größen ≥ 2";
    ch.directives = ds;
    ch.ndirectives = 2;
    pw_chapter *chapters[] = {&ch};
    json_t *warnings = json_pack("[s]", "busy\nnow");
    pw_render_page page = {.chapters = chapters, .nchapters = 1, .env_warnings = warnings, .title = "A title",
                           .generated = "2026-01-01 00:00 UTC"};
    pw_buf out;
    pw_buf_init(&out);
    assert_int_equal(pw_render_text.page(&page, &out), PW_OK);
    /* Grouped by outcome; the expression written in both experiments carries the parameter that
     * tells them apart; the counterclaim shows its kind and label. */
    char *want = pw_xasprintf("A title\nGenerated 2026-01-01 00:00 UTC by perfweave %s (commit %s).\n\n"
                              "3 claims: 1 helped, 2 did not help, 0 mixed, 0 undecided, 0 could not be measured\n"
                              "verdicts: 2 PASS, 0 PARTIAL, 1 FAIL, 0 UNDECIDED, 0 ERROR\n"
                              "warning: busy now\n\n"
                              "Outcome       Chapter     Experiment     Claim                     Verdict  Evidence\n"
                              "------------  ----------  -------------  ------------------------  -------  --------\n"
                              "helped        Größen ≥ 2  a: batch 1     claim: x ≥ 1              PASS     no measurement matched the claim\n"
                              "did not help  Größen ≥ 2  bb             counterclaim slow-z: y z  PASS     given reason\n"
                              "did not help  Größen ≥ 2  bb: batch 256  claim: x ≥ 1              FAIL     no measurement matched the claim\n",
                              PW_VERSION, pw_commit());
    assert_string_equal(out.data, want);
    free(want);

    /* No claims at all: the counts, and a sentence instead of an empty table. */
    page.nchapters = 0;
    page.env_warnings = NULL;
    pw_buf_reset(&out);
    assert_int_equal(pw_render_text.page(&page, &out), PW_OK);
    assert_non_null(strstr(out.data, "\n\n0 claims: 0 helped, 0 did not help, 0 mixed, 0 undecided, 0 could not be measured\n"
                                     "verdicts: 0 PASS, 0 PARTIAL, 0 FAIL, 0 UNDECIDED, 0 ERROR\n\nNo claims.\n"));
    pw_buf_release(&out);
    json_decref(va);
    json_decref(vb);
    json_decref(a.params);
    json_decref(bb.params);
    json_decref(warnings);
}

/* A stand-in (exec.h) says so in every format that shows prose: the box's mark and sentence
 * (escaped where used), a previous value marked beside it, and the evidence's blocked reason. */
static void test_standin(void **state)
{
    (void)state;
    pw_result *res = pw_result_new("selftest.fixed", "a");
    json_object_set_new(pw_result_json(res), "stale",
                        json_pack("{s:s, s:s}", "state", "stale", "reason", "changed <since> & shown"));
    pw_directive d = {0};
    d.id = "a";
    d.experiment_name = "selftest.fixed";
    d.result = res;
    pw_numbering num = {0, 0};
    pw_buf b;
    pw_buf_init(&b);
    pw_render_directive(&b, &pw_render_html, &num, &d, "figures", "figures");
    assert_non_null(strstr(b.data, "<section class=\"experiment stale\" id=\"result-a\">"));
    assert_non_null(strstr(b.data, "<p class=\"stale-note\">changed &lt;since&gt; &amp; shown</p>"));
    pw_buf_reset(&b);
    pw_render_directive(&b, &pw_render_latex, &num, &d, "figures", "figures");
    assert_non_null(strstr(b.data, "\\pwwarning{changed"));
    json_object_set_new(pw_result_json(res), "stale", json_pack("{s:s}", "state", "unmeasured"));
    pw_buf_reset(&b);
    pw_render_directive(&b, &pw_render_html, &num, &d, "figures", "figures");
    assert_non_null(strstr(b.data, "<section class=\"experiment unmeasured\" id=\"result-a\">"));
    assert_non_null(strstr(b.data, "<p class=\"stale-note\">not measured yet</p>"));
    /* A fresh result: no mark. */
    json_object_del(pw_result_json(res), "stale");
    pw_buf_reset(&b);
    pw_render_directive(&b, &pw_render_html, &num, &d, "figures", "figures");
    assert_non_null(strstr(b.data, "<section class=\"experiment\" id=\"result-a\">"));
    assert_null(strstr(b.data, "stale-note"));

    pw_metric m = {.name = "value.n1", .value = 2, .lo = 1.8, .hi = 2.2, .unit = "x"};
    pw_buf_reset(&b);
    pw_render_inline(&b, &pw_render_html, &m, true);
    assert_non_null(strstr(b.data, "<span class=\"stale\""));
    assert_non_null(strstr(b.data, "<sup class=\"stale-tag\">previous</sup></span>"));
    pw_buf_reset(&b);
    pw_render_inline(&b, &pw_render_latex, &m, true);
    assert_non_null(strstr(b.data, "\\textsuperscript{previous}"));
    pw_buf_reset(&b);
    pw_render_inline(&b, &pw_render_html, &m, false);
    assert_null(strstr(b.data, "stale"));

    json_t *v = json_pack("{s:s, s:s, s:s, s:[{s:s, s:f, s:f, s:f, s:s, s:s, s:s, s:s}]}", "claim", "value >= 1",
                          "verdict", "UNDECIDED", "reason", "no point can decide the claim: it changed", "points",
                          "metric", "value.n1", "value", 2.0, "lo", 1.8, "hi", 2.2, "unit", "x", "state", "undecided",
                          "why", "stale", "reason", "it changed");
    pw_buf_reset(&b);
    pw_render_evidence(&b, v);
    assert_non_null(strstr(b.data, "n1 2.00× (95% CI 1.80–2.20×) undecided (stale result). Blocked: it changed"));
    json_decref(v);
    pw_buf_release(&b);
    pw_result_free(res);
}

/* Whether the table has a row called name. */
static bool env_has(const json_t *rows, const char *name)
{
    size_t i;
    json_t *pair;
    json_array_foreach(rows, i, pair)
        if (strcmp(json_string_value(json_array_get(pair, 0)), name) == 0) return true;
    return false;
}

/* The value of row name in a table from pw_render_environment_rows. */
static const char *env_value(const json_t *rows, const char *name)
{
    size_t i;
    json_t *pair;
    json_array_foreach(rows, i, pair)
        if (strcmp(json_string_value(json_array_get(pair, 0)), name) == 0) return json_string_value(json_array_get(pair, 1));
    fail_msg("no row %s", name);
    return NULL;
}

static void test_environment_rows(void **state)
{
    (void)state;
    /* Nothing recorded at all (another OS, a hand-made replay): every row reads "unknown". */
    json_t *rows = pw_render_environment_rows(NULL, NULL, NULL, 0);
    assert_true(json_array_size(rows) >= 15);
    size_t i;
    json_t *pair;
    json_array_foreach(rows, i, pair) {
        const char *v = json_string_value(json_array_get(pair, 1));
        if (strcmp(json_string_value(json_array_get(pair, 0)), "Steal during the measurements") == 0)
            assert_string_equal(v, "not recorded by these results");
        else
            assert_string_equal(v, "unknown");
    }
    json_decref(rows);

    /* An older record (before cpuid, SMT and the library records): what it has, "unknown" for
     * the rest, never a guess. */
    json_t *old = json_pack("{s:s, s:s, s:i, s:s, s:s, s:[f, f, f]}", "host", "h", "kernel", "Linux 6.1.0 x86_64",
                            "cores", 2, "commit", "abc", "compiler", "cc -O2", "loadavg", 0.5, 0.25, 0.125);
    rows = pw_render_environment_rows(old, NULL, NULL, 0);
    assert_string_equal(env_value(rows, "Host"), "h");
    assert_string_equal(env_value(rows, "CPU"), "unknown");
    assert_string_equal(env_value(rows, "Vector instructions"), "unknown");
    assert_string_equal(env_value(rows, "Cores"), "2 online; whether they are SMT siblings was not recorded");
    assert_string_equal(env_value(rows, "Operating system"), "Linux 6.1.0 x86_64");
    assert_string_equal(env_value(rows, "Compiler"), "flags: cc -O2");
    assert_string_equal(env_value(rows, "OpenBLAS"), "unknown");
    assert_string_equal(env_value(rows, "Other software"), "perfweave (commit abc)");
    assert_string_equal(env_value(rows, "Load"), "1-minute average on 2 cores: 0.50 before the measurements; after "
                                                 "them not recorded (nothing was measured in this run)");
    json_decref(rows);
    json_decref(old);

    /* A current record: the ISAs widest first and grouped, SMT siblings, the library's core and
     * who chose it, and the threads each experiment ran it with. */
    json_t *env = json_pack(
        "{s:{s:i, s:{s:s, s:s, s:i, s:i, s:i, s:[s, s, s, s, s, s, s, s], s:[s], s:s}, s:{s:i},"
        "     s:{s:I, s:I}},"
        " s:{s:b, s:s}, s:I, s:[f, f, f],"
        " s:{s:s, s:s, s:s, s:s, s:b, s:i, s:s},"
        " s:{s:b, s:s}}",
        "cpu", "cores_online", 4, "cpuid", "vendor", "AuthenticAMD", "brand", "AMD EPYC", "family", 25, "model", 1,
        "stepping", 1, "isa", "sse2", "sse4.2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni",
        "isa_cpu_only", "avx512_bf16", "widest", "avx512", "smt", "threads_per_core", 2, "caches", "l1d",
        (json_int_t)32768, "l2", (json_int_t)(1 << 20),
        "hypervisor", "present", 0, "vendor", "x", "memory_bytes", (json_int_t)1 << 34, "load", 1.0, 0.5, 0.25,
        "openblas", "version", "0.3.21", "core", "Haswell", "chosen_by", "perfweave", "detected", "Prescott", "took",
        1, "threads", 4, "library", "/usr/lib/libopenblas.so.0",
        "blis", "available", 0, "error", "cannot open libblis.so.4");
    json_t *after = json_pack("{s:[f]}", "load", 2.0);
    json_t *ra = json_pack("{s:{s:{s:{s:i}}}}", "extra", "libraries", "openblas", "threads", 1);
    json_t *rb = json_pack("{s:{s:{s:{s:i}}}}", "extra", "libraries", "openblas", "threads", 4);
    pw_result *res_a = pw_result_new("x", "a"), *res_b = pw_result_new("x", "b");
    json_object_update(pw_result_json(res_a), ra);
    json_object_update(pw_result_json(res_b), rb);
    pw_directive da = {0}, db = {0};
    da.id = "a", da.result = res_a;
    db.id = "b", db.result = res_b;
    pw_directive *ds[] = {&da, &db};
    pw_chapter ch = {0};
    ch.directives = ds;
    ch.ndirectives = 2;
    pw_chapter *chapters[] = {&ch};
    rows = pw_render_environment_rows(env, after, chapters, 1);
    assert_string_equal(env_value(rows, "CPU"), "AuthenticAMD, family 25, model 1, stepping 1: AMD EPYC");
    assert_string_equal(env_value(rows, "Vector instructions (usable)"),
                        "AVX-512 (F, BW, VNNI), AVX2, FMA, AVX, SSE4.2, SSE2; widest: 512-bit vectors (AVX-512); "
                        "the CPU also reports avx512_bf16, which the operating system does not enable");
    assert_string_equal(env_value(rows, "Cores"), "4 online; 2 hardware threads per core (SMT): siblings share one "
                                                  "core's execution units");
    assert_string_equal(env_value(rows, "Caches"), "L1d 32 KiB, L2 1 MiB (as CPU 0 reports them)");
    assert_string_equal(env_value(rows, "Memory"), "16 GiB");
    assert_string_equal(env_value(rows, "Hypervisor"), "none detected");
    assert_string_equal(env_value(rows, "OpenBLAS"), "0.3.21 (libopenblas.so.0): core Haswell, chosen by perfweave "
                                                     "(the library detected Prescott on this CPU); as the experiments "
                                                     "ran it: 1 thread in a; 4 threads in b");
    assert_string_equal(env_value(rows, "BLIS"), "not available: cannot open libblis.so.4");
    assert_string_equal(env_value(rows, "Load"), "1-minute average on 4 cores: 1.00 before the measurements, 2.00 after");
    /* No matrix unit in the flags: no row; AMX tiles listed: a row naming them. */
    assert_false(env_has(rows, "Matrix units"));
    json_decref(rows);
    json_object_set_new(json_object_get(env, "cpu"), "flags", json_string("fpu avx2 amx_bf16 amx_tile amx_int8"));
    rows = pw_render_environment_rows(env, after, chapters, 1);
    assert_non_null(strstr(env_value(rows, "Matrix units"), "AMX tiles (INT8, BF16)"));
    /* The record's usable ISA list has no amx_tile: the OS has not enabled the tile state. */
    assert_non_null(strstr(env_value(rows, "Matrix units"), "has not enabled their state"));
    json_decref(rows);
    /* Enabled, the tiles are named in the matrix row only, never among the vector sets (usable
     * or CPU-only). */
    json_t *cpuid = json_object_get(json_object_get(env, "cpu"), "cpuid");
    json_array_append_new(json_object_get(cpuid, "isa"), json_string("amx_tile"));
    json_array_append_new(json_object_get(cpuid, "isa_cpu_only"), json_string("amx_int8"));
    rows = pw_render_environment_rows(env, after, chapters, 1);
    assert_non_null(strstr(env_value(rows, "Matrix units"), "their state enabled by the operating system"));
    assert_null(strstr(env_value(rows, "Vector instructions (usable)"), "amx"));
    json_decref(rows);
    json_object_set_new(json_object_get(env, "cpu"), "flags", json_string("fpu xamx_tile avx2"));
    rows = pw_render_environment_rows(env, after, chapters, 1);
    assert_false(env_has(rows, "Matrix units"));
    json_decref(rows);
    pw_result_free(res_a);
    pw_result_free(res_b);
    json_decref(ra);
    json_decref(rb);
    json_decref(env);
    json_decref(after);
}

static void test_precision(void **state)
{
    (void)state;
    json_t *none = json_object(), *details = NULL;
    pw_buf b;
    pw_buf_init(&b);
    assert_false(pw_render_precision(none, &b, &details));
    assert_int_equal(b.len, 0);
    assert_null(details);
    /* Two sets: one stopped on the budget with a timing that never formed an interval (shown as
     * a phrase, never "inf") and a noisy one; one converged. */
    json_t *doc = json_pack(
        "{s:[{s:i, s:s, s:f, s:f, s:f, s:f, s:f, s:[{s:s, s:i, s:f, s:f}, {s:s, s:i, s:f, s:n}]},"
        "    {s:i, s:s, s:f, s:f, s:f, s:f, s:f, s:[{s:s, s:i, s:f, s:f}]}]}",
        "bench_sets", "rounds", 5, "stop", "budget", "target", 0.01, "budget_s", 0.3, "cv_limit", 0.05,
        "resolution_s", 2e-8, "overhead_s", 3e-8, "timings", "name", "a.n1", "n", 5, "cv", 0.5, "rel_ci", 0.25, "name",
        "b.n1", "n", 5, "cv", 0.01, "rel_ci", "rounds", 30, "stop", "converged", "target", 0.01, "budget_s", 0.3, "cv_limit",
        0.05, "resolution_s", 2e-8, "overhead_s", 3e-8, "timings", "name", "c.n2", "n", 30, "cv", 0.02, "rel_ci", 0.004);
    assert_true(pw_render_precision(doc, &b, &details));
    assert_string_equal(b.data, "Measurement precision: 2 of 3 timings missed the ±1% target (1 with no stable "
                                "interval); 1 varied by more than 5%, worst CV 50% (a.n1); 1 of 2 sets stopped on "
                                "the time budget");
    assert_int_equal(json_array_size(details), 3);
    assert_string_equal(json_string_value(json_array_get(details, 0)),
                        "Set 1 — 2 timings, 5 rounds, stopped on the time budget (0.3 s); missed ±1%: a.n1 ±25%, "
                        "b.n1 no stable interval; CV above 5%: a.n1 50%");
    assert_string_equal(json_string_value(json_array_get(details, 1)),
                        "Set 2 — 1 timing, 30 rounds, reached the target; every median within ±1%");
    assert_string_equal(json_string_value(json_array_get(details, 2)), "Clock: resolution 20 ns, read overhead 30 ns");
    assert_null(strstr(b.data, "inf"));
    pw_buf_release(&b);
    json_decref(details);
    json_decref(doc);
    json_decref(none);

    /* A set whose slow timings left after the floor of rounds names them with their count. */
    doc = json_pack("{s:[{s:i, s:s, s:f, s:f, s:f, s:[{s:s, s:i, s:f, s:f}, {s:s, s:i, s:f, s:f}]}]}",
                    "bench_sets", "rounds", 40, "stop", "rounds", "target", 0.01, "budget_s", 4.0,
                    "cv_limit", 0.05, "timings", "name", "ikj.n1024", "n", 20, "cv", 0.01, "rel_ci",
                    0.004, "name", "packed.n1024", "n", 40, "cv", 0.01, "rel_ci", 0.003);
    pw_buf_init(&b);
    assert_true(pw_render_precision(doc, &b, &details));
    assert_string_equal(json_string_value(json_array_get(details, 0)),
                        "Set 1 — 2 timings, 40 rounds, ended when each timing had its rounds; fewer "
                        "rounds: ikj.n1024 20; every median within ±1%");
    pw_buf_release(&b);
    json_decref(details);
    /* Converged with an early timing above the target: "reached the target" is not said of it. */
    json_object_set_new(json_array_get(json_object_get(doc, "bench_sets"), 0), "stop",
                        json_string("converged"));
    json_object_set_new(json_array_get(json_object_get(json_array_get(json_object_get(doc, "bench_sets"), 0),
                                                       "timings"), 0),
                        "rel_ci", json_real(0.02));
    pw_buf_init(&b);
    assert_true(pw_render_precision(doc, &b, &details));
    assert_string_equal(json_string_value(json_array_get(details, 0)),
                        "Set 1 — 2 timings, 40 rounds, the timings still in rotation reached the "
                        "target; fewer rounds: ikj.n1024 20; missed ±1%: ikj.n1024 ±2.0%");
    pw_buf_release(&b);
    json_decref(details);
    json_decref(doc);
}

static void test_evidence(void **state)
{
    (void)state;
    /* An undecided point says what would decide it, or why more samples cannot; a blocked one
     * names its reason once however many points it blocks. */
    json_t *v = json_pack(
        "{s:s, s:s, s:[{s:s, s:f, s:f, s:f, s:s, s:s, s:s, s:f, s:f},"
        "              {s:s, s:f, s:f, s:f, s:s, s:s, s:s, s:s},"
        "              {s:s, s:f, s:f, s:f, s:s, s:s, s:s, s:s},"
        "              {s:s, s:f, s:f, s:f, s:s, s:s, s:s, s:f, s:s},"
        "              {s:s, s:f, s:f, s:f, s:s, s:s}]}",
        "claim", "x > 1", "verdict", "PARTIAL", "points",
        "metric", "speedup.a_vs_b.n1", "value", 1.2, "lo", 0.9, "hi", 1.5, "unit", "×", "state", "undecided", "why",
        "interval", "mde", 0.25, "samples_needed", 40.0,
        "metric", "speedup.a_vs_b.n2", "value", 1.2, "lo", 1.1, "hi", 1.3, "unit", "×", "state", "undecided", "why",
        "baseline", "reason", "lib is handicapped",
        "metric", "speedup.a_vs_b.n3", "value", 1.2, "lo", 1.1, "hi", 1.3, "unit", "×", "state", "undecided", "why",
        "baseline", "reason", "lib is handicapped",
        "metric", "acc", "value", 0.9, "lo", 0.8, "hi", 1.0, "unit", "", "state", "undecided", "why", "interval",
        "mde", 0.05, "fixed_sample", "the test set is all there is",
        "metric", "speedup.a_vs_b.n5", "value", 2.0, "lo", 1.9, "hi", 2.1, "unit", "×", "state", "holds");
    pw_buf b;
    pw_buf_init(&b);
    pw_render_evidence(&b, v);
    assert_string_equal(b.data,
                        "1 of 5 points hold, 4 undecided: n1 1.20× (95% CI 0.900–1.50×) undecided, detectable effect "
                        "25.0%, about 40 samples would decide; n2 1.20× (95% CI 1.10–1.30×) undecided (handicapped "
                        "baseline); n3 1.20× (95% CI 1.10–1.30×) undecided (handicapped baseline); acc 0.900 (95% CI "
                        "0.800–1.00) undecided, detectable effect 5.0%; more samples cannot decide it: the test set is "
                        "all there is; n5 2.00× (95% CI 1.90–2.10×). Blocked: lib is handicapped");
    pw_buf_release(&b);
    json_decref(v);
}

static void test_baseline_notices(void **state)
{
    (void)state;
    /* The same sentence with other figures is one notice naming both experiments; another
     * sentence is its own. */
    const char *err = NULL;
    pw_result *ra = pw_result_from_json(json_pack("{s:i, s:s, s:s, s:{}, s:[s, s]}", "schema", 1, "experiment", "x", "id",
                                                  "a", "metrics", "baseline_warnings", "L reached 10% of the peak",
                                                  "M runs SSE code"), &err);
    pw_result *rb = pw_result_from_json(json_pack("{s:i, s:s, s:s, s:{}, s:[s]}", "schema", 1, "experiment", "x", "id",
                                                  "b", "metrics", "baseline_warnings", "L reached 12.5% of the peak"), &err);
    assert_non_null(ra);
    assert_non_null(rb);
    json_decref(pw_result_json(ra)); /* from_json took its own reference */
    json_decref(pw_result_json(rb));
    pw_directive da = {0}, db = {0}, dc = {0};
    da.id = "a", da.result = ra;
    db.id = "b", db.result = rb;
    dc.id = "c"; /* no result */
    pw_directive *ds[] = {&da, &dc, &db};
    pw_chapter ch = {0};
    ch.directives = ds;
    ch.ndirectives = 3;
    pw_chapter *chapters[] = {&ch};
    pw_render_notice *notices;
    size_t n = pw_render_baseline_notices(chapters, 1, &notices);
    assert_int_equal(n, 2);
    assert_string_equal(notices[0].text, "L reached 10% of the peak");
    assert_int_equal(notices[0].n, 2);
    assert_ptr_equal(notices[0].directives[0], &da);
    assert_ptr_equal(notices[0].directives[1], &db);
    assert_string_equal(notices[1].text, "M runs SSE code");
    assert_int_equal(notices[1].n, 1);
    pw_render_notices_free(notices, n);
    ch.ndirectives = 0;
    assert_int_equal(pw_render_baseline_notices(chapters, 1, &notices), 0);
    assert_null(notices);
    pw_result_free(ra);
    pw_result_free(rb);
}

/* What a verdict object says happened to the optimization. */
static void test_outcome(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:s, s:s}", "kind", "counterclaim", "verdict", "FAIL");
    assert_int_equal(pw_render_outcome(v), PW_OUTCOME_HELPED);
    json_object_set_new(v, "outcome", json_string("undecided"));
    assert_int_equal(pw_render_outcome(v), PW_OUTCOME_UNDECIDED); /* recorded wins */
    json_decref(v);
    v = json_pack("{s:s}", "verdict", "nonsense");
    assert_int_equal(pw_render_outcome(v), PW_OUTCOME_UNMEASURED);
    json_decref(v);
    assert_string_equal(pw_render_outcome_kind(PW_OUTCOME_NOT_HELPED), "not-helped");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_template_load),
        cmocka_unit_test(test_text_page),
        cmocka_unit_test(test_standin),
        cmocka_unit_test(test_environment_rows),
        cmocka_unit_test(test_precision),
        cmocka_unit_test(test_evidence),
        cmocka_unit_test(test_baseline_notices),
        cmocka_unit_test(test_outcome),
    };
    return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
