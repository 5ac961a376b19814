/* fuzz_claim.c — libFuzzer harness for the claim parser (pw_claim_parse, claims.h): any input
 * must parse or be rejected with a message, never crash, leak or read out of bounds.
 * Built and run by `make fuzz`; seeds in tests/fuzz/corpus/claim/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/claims.h"
#include "perfweave/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = pw_xstrndup((const char *)data, size);  /* stops at an embedded NUL */
    pw_claim c;
    char msg[256];
    msg[0] = '\0';
    if (pw_claim_parse(text, &c, msg, sizeof msg) == PW_OK) {
        /* A parsed claim names a target and keeps its text. */
        if (!c.target || !c.text || !*c.target) abort();
        if (c.cmp == PW_CMP_IN && !(c.threshold <= c.threshold_hi)) abort();
        if (c.scoped && !c.scope_var) abort();
        pw_claim_release(&c);
    } else if (msg[0] == '\0') {
        abort();  /* a rejection always says why */
    }
    free(text);
    return 0;
}
