/* template.h — logic-free templates: `{{name}}` inserts a value as it is (an already rendered
 * fragment), `{{name|html}}` and `{{name|latex}}` escape it for the output where it is used. */
#ifndef PERFWEAVE_TEMPLATE_H
#define PERFWEAVE_TEMPLATE_H

#include <stddef.h>

#include "perfweave/common.h"

typedef struct {
    const char *name;
    const char *value;
} pw_template_var;

/* Expands tmpl into out with the n variables.  An unknown variable, an unknown filter or an
 * unclosed `{{` is an error: returns PW_EINVAL with "line N: message" in msg. */
int pw_template_expand(const char *tmpl, const pw_template_var *vars, size_t n, pw_buf *out,
                       char *msg, size_t msgsize);

#endif
