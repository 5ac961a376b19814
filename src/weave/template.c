/* template.c — `{{name}}` / `{{name|filter}}` expansion (see template.h). */
#include "perfweave/template.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "perfweave/escape.h"

static int line_of(const char *start, const char *at)
{
    int line = 1;
    for (const char *s = start; s < at; s++)
        if (*s == '\n') line++;
    return line;
}

int pw_template_expand(const char *tmpl, const pw_template_var *vars, size_t n, pw_buf *out,
                       char *msg, size_t msgsize)
{
    const char *s = tmpl;
    for (;;) {
        const char *open = strstr(s, "{{");
        if (!open) {
            pw_buf_puts(out, s);
            return PW_OK;
        }
        pw_buf_put(out, s, (size_t)(open - s));
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            snprintf(msg, msgsize, "line %d: '{{' without a closing '}}'", line_of(tmpl, open));
            return PW_EINVAL;
        }
        char name[64] = "", filter[16] = "";
        const char *bar = memchr(open + 2, '|', (size_t)(close - open - 2));
        const char *name_end = bar ? bar : close;
        size_t nlen = (size_t)(name_end - open - 2);
        size_t flen = bar ? (size_t)(close - bar - 1) : 0;
        if (nlen == 0 || nlen >= sizeof name || flen >= sizeof filter) {
            snprintf(msg, msgsize, "line %d: malformed placeholder", line_of(tmpl, open));
            return PW_EINVAL;
        }
        memcpy(name, open + 2, nlen);
        if (bar) memcpy(filter, bar + 1, flen);
        const char *value = NULL;
        for (size_t i = 0; i < n; i++)
            if (strcmp(vars[i].name, name) == 0) value = vars[i].value ? vars[i].value : "";
        if (!value) {
            snprintf(msg, msgsize, "line %d: unknown placeholder '%s'", line_of(tmpl, open), name);
            return PW_EINVAL;
        }
        if (!bar) pw_buf_puts(out, value);
        else if (strcmp(filter, "html") == 0) pw_escape_html(out, value);
        else if (strcmp(filter, "latex") == 0) pw_escape_latex(out, value);
        else {
            snprintf(msg, msgsize, "line %d: unknown filter '%s'", line_of(tmpl, open), filter);
            return PW_EINVAL;
        }
        s = close + 2;
    }
}
