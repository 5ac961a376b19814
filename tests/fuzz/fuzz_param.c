/* fuzz_param.c — libFuzzer harness for directive parameter values (pw_param_parse,
 * experiment.h) over one spec of each type: the first input byte picks the spec, the rest is
 * the value text.  Any input must parse into a value of the spec's type within its bounds and
 * choices, or be rejected with a message.  Built and run by `make fuzz`; seeds in
 * tests/fuzz/corpus/param/. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/experiment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const words[] = {"naive", "blocked", "openblas", NULL};
static const pw_param_spec specs[] = {
    {"n", PW_PARAM_INT, "8", 1, 4096, NULL, "an int"},
    {"x", PW_PARAM_REAL, "0.5", -1e6, 1e6, NULL, "a real"},
    {"flag", PW_PARAM_BOOL, "true", 0, 0, NULL, "a bool"},
    {"variant", PW_PARAM_STRING, "naive", 0, 0, words, "a word with choices"},
    {"label", PW_PARAM_STRING, "x", 0, 0, NULL, "any word"},
    {"sizes", PW_PARAM_INT_LIST, "[1, 2]", 1, 1 << 20, NULL, "ints"},
    {"variants", PW_PARAM_STRING_LIST, "[naive]", 0, 0, words, "words with choices"},
    {"tags", PW_PARAM_STRING_LIST, "[a]", 0, 0, NULL, "any words"},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static void check_value(const pw_param_spec *s, pw_param_type type, const json_t *v)
{
    switch (type) {
    case PW_PARAM_INT:
    case PW_PARAM_REAL: {
        if (!json_is_number(v)) abort();
        double x = json_number_value(v);
        if (!isfinite(x) || x < s->min || x > s->max) abort();
        break;
    }
    case PW_PARAM_BOOL:
        if (!json_is_boolean(v)) abort();
        break;
    case PW_PARAM_STRING:
        if (!json_is_string(v)) abort();
        if (s->choices) {
            bool found = false;
            for (const char *const *c = s->choices; *c; c++)
                if (strcmp(*c, json_string_value(v)) == 0) found = true;
            if (!found) abort();
        }
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const pw_param_spec *s = &specs[data[0] % NSPECS];
    char *text = pw_xstrndup((const char *)data + 1, size - 1);
    json_t *out = NULL;
    char msg[256];
    msg[0] = '\0';
    if (pw_param_parse(s, text, &out, msg, sizeof msg) == PW_OK) {
        if (!out) abort();
        if (s->type == PW_PARAM_INT_LIST || s->type == PW_PARAM_STRING_LIST) {
            if (!json_is_array(out)) abort();
            size_t i;
            json_t *v;
            json_array_foreach(out, i, v)
                check_value(s, s->type == PW_PARAM_INT_LIST ? PW_PARAM_INT : PW_PARAM_STRING, v);
        } else {
            check_value(s, s->type, out);
        }
        json_decref(out);
    } else if (msg[0] == '\0') {
        abort();
    }
    free(text);
    return 0;
}
