/* tune.h — what the tuning programs in bench/ (ukernels.c, qgemm.c) share: their list options
 * and the cells of their tables (header-only; each program is one translation unit). */
#ifndef PERFWEAVE_BENCH_TUNE_H
#define PERFWEAVE_BENCH_TUNE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/bench.h"
#include "perfweave/common.h"
#include "perfweave/result.h"

enum { BENCH_MAXL = 16 };

/* Parses a comma-separated list of integers ("64,256,1024") into out (at most BENCH_MAXL);
 * returns how many were read. */
static inline size_t bench_parse_list(const char *s, long *out)
{
    size_t n = 0;
    while (*s && n < BENCH_MAXL) {
        out[n++] = strtol(s, (char **)&s, 10);
        if (*s == ',') s++;
        else break;
    }
    return n;
}

/* Whether name is one of the comma-separated names (NULL or "all": every name). */
static inline bool bench_listed(const char *names, const char *name)
{
    if (!names || strcmp(names, "all") == 0) return true;
    size_t len = strlen(name);
    for (const char *p = names; (p = strstr(p, name)); p += len)
        if ((p == names || p[-1] == ',') && (p[len] == ',' || p[len] == '\0')) return true;
    return false;
}

/* Publishes bench variant i's rate (work units per call, in unit) into r and writes it as
 * "median (lo-hi)" with rate_fmt's precision ("%.1f") into rate; when ref is not i, its speedup
 * over ref as "median (lo-hi)" into ratio (else ratio is ""); the scratch metrics are named
 * after i.  Returns false, writing nothing, when the rate could not be published. */
static inline bool bench_cells(const pw_bench *b, size_t i, size_t ref, pw_result *r,
                               double work, const char *unit, int digits, char *rate,
                               size_t ratesize, char *ratio, size_t ratiosize)
{
    char name[32], sp[32];
    pw_metric g, q;
    snprintf(name, sizeof name, "g%zu", i);
    snprintf(sp, sizeof sp, "s%zu", i);
    if (pw_bench_publish_rate(b, i, r, name, work, unit) != PW_OK ||
        pw_result_get_metric(r, name, &g) != PW_OK)
        return false;
    snprintf(rate, ratesize, "%.*f (%.*f-%.*f)", digits, g.value, digits, g.lo, digits, g.hi);
    ratio[0] = '\0';
    if (ref != i && pw_bench_publish_speedup(b, i, ref, r, sp) == PW_OK &&
        pw_result_get_metric(r, sp, &q) == PW_OK)
        snprintf(ratio, ratiosize, "%.3f (%.3f-%.3f)", q.value, q.lo, q.hi);
    return true;
}

#endif
