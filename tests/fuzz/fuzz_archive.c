/* fuzz_archive.c — libFuzzer harness for reading archived runs, which may be edited by hand or
 * damaged: any JSON document either fails pw_archive_validate or survives summarising, diffing
 * (against itself and against a run without results) and both hardware matrices without a crash
 * or leak.  Built and run by `make fuzz`; seeds in tests/fuzz/corpus/archive/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!doc) return 0;
    char msg[256];
    if (pw_archive_validate(doc, msg, sizeof msg) != PW_OK) {
        if (!msg[0]) abort();
        /* The matrix tolerates invalid runs (an empty column). */
        json_t *m = pw_archive_matrix(&doc, 1, NULL);
        if (!m) abort();
        json_decref(m);
        json_decref(doc);
        return 0;
    }
    json_decref(pw_archive_summary(doc));
    json_t *empty = json_deep_copy(doc);
    json_object_set_new(empty, "results", json_array());
    json_t *d = NULL;
    pw_diff_options opt;
    pw_diff_options_default(&opt);
    if (pw_archive_diff(doc, doc, &opt, &d, msg, sizeof msg) != PW_OK) abort();
    /* A run compared with itself has no regression and no improvement. */
    if (json_integer_value(json_object_get(d, "regressions")) != 0 ||
        json_integer_value(json_object_get(d, "improvements")) != 0)
        abort();
    json_decref(d);
    if (pw_archive_diff(doc, empty, &opt, &d, msg, sizeof msg) != PW_OK) abort();
    json_decref(d);
    if (pw_archive_diff(empty, doc, &opt, &d, msg, sizeof msg) != PW_OK) abort();
    json_decref(d);
    json_t *runs[2] = {doc, empty};
    json_t *m = pw_archive_matrix(runs, 2, "*.n*");
    if (!m) abort();
    json_decref(m);
    /* By kind of machine: the run and its copy share one column. */
    m = pw_archive_matrix_hardware(runs, 2, NULL);
    if (!m || json_array_size(json_object_get(m, "columns")) > json_array_size(json_object_get(doc, "results")))
        abort();
    json_decref(m);
    json_decref(empty);
    json_decref(doc);
    return 0;
}
