/* diag.c — where the command line shows the diagnostics the library collects (weave.h): the
 * library never prints, so every `file:line: message` reaches stderr from here. */
#include <stdio.h>

#include "commands.h"

void pw_cli_print_diag(const pw_diag *d)
{
    for (size_t i = 0; i < d->n; i++) fprintf(stderr, "%s\n", d->lines[i]);
}
