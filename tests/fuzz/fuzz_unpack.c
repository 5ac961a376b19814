/* fuzz_unpack.c — libFuzzer harness for exported archive files (archive_io.c), which arrive by
 * mail, copy or git and may be damaged or hostile: any bytes are either refused with a message or
 * unpack to a valid run that exports and unpacks back to the same run.  Built and run by
 * `make fuzz`; seeds in tests/fuzz/corpus/unpack/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = NULL;
    char *run = NULL, msg[512] = "";
    if (pw_archive_unpack(data, size, &doc, &run, msg, sizeof msg) != PW_OK) {
        if (!msg[0] || doc || run) abort();
        return 0;
    }
    if (!pw_archive_name_ok(run) || pw_archive_validate(doc, NULL, 0) != PW_OK) abort();
    pw_buf out;
    pw_buf_init(&out);
    if (pw_archive_export(doc, run, &out, msg, sizeof msg) != PW_OK) abort();
    json_t *back = NULL;
    char *run2 = NULL;
    if (pw_archive_unpack(out.data, out.len, &back, &run2, msg, sizeof msg) != PW_OK) abort();
    if (strcmp(run, run2) != 0 || !json_equal(doc, back)) abort();
    pw_buf_release(&out);
    json_decref(back);
    json_decref(doc);
    free(run);
    free(run2);
    return 0;
}
