/* handicap.c — the comparisons of a result against a handicapped library baseline: marking them,
 * recording which library each side of a comparison is, and carrying a measured judgement from
 * one result into another that ran the same library on the same machine (see handicap.h). */
#include "perfweave/handicap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"
#include "perfweave/env.h"

/* r's extra[key] when it is an object (borrowed), or NULL. */
static json_t *extra_get(const pw_result *r, const char *key)
{
    json_t *o = json_object_get(json_object_get(pw_result_json(r), "extra"), key);
    return json_is_object(o) ? o : NULL;
}

/* r's extra[key] object, created when missing; borrowed. */
static json_t *extra_object(pw_result *r, const char *key)
{
    json_t *o = extra_get(r, key);
    if (o) return o;
    pw_result_set_extra(r, key, json_object());
    return extra_get(r, key);
}

/* Splits "speedup.A_vs_B.SUFFIX" into A, B and SUFFIX (copies); false for other names. */
static bool split_pair(const char *name, char *a, char *b, char *suffix, size_t size)
{
    const char *p = strncmp(name, "speedup.", 8) == 0 ? name + 8 : NULL;
    const char *vs = p ? strstr(p, "_vs_") : NULL;
    const char *dot = vs ? strchr(vs + 4, '.') : NULL;
    if (!vs || (size_t)(vs - p) >= size) return false;
    size_t bl = dot ? (size_t)(dot - (vs + 4)) : strlen(vs + 4);
    if (bl >= size || (dot && strlen(dot + 1) >= size)) return false;
    memcpy(a, p, (size_t)(vs - p));
    a[vs - p] = '\0';
    memcpy(b, vs + 4, bl);
    b[bl] = '\0';
    snprintf(suffix, size, "%s", dot ? dot + 1 : "");
    return true;
}

/* Whether side, at suffix, is variant according to choice (extra[key]: a string for every
 * suffix, or an object suffix → variant). */
static bool side_is(const json_t *choice, const char *suffix, const char *variant)
{
    const char *chosen = json_is_string(choice) ? json_string_value(choice)
                                                : json_string_value(json_object_get(choice, suffix));
    return chosen && strcmp(chosen, variant) == 0;
}

static void add_warning(pw_result *r, const char *sentence)
{
    json_t *doc = pw_result_json(r);
    json_t *warnings = json_object_get(doc, "baseline_warnings");
    if (!json_is_array(warnings)) {
        warnings = json_array();
        json_object_set_new(doc, "baseline_warnings", warnings);
    }
    size_t i;
    json_t *w;
    json_array_foreach(warnings, i, w)
        if (json_is_string(w) && strcmp(json_string_value(w), sentence) == 0) return;
    json_array_append_new(warnings, json_string(sentence));
}

/* The marking itself: sides[0..nsides) are (side, key) pairs; keep leaves metrics that are
 * marked already.  *hits (when not NULL) counts the comparisons against variant, marked or not. */
static int mark(pw_result *r, const char *variant, const char *const (*sides)[2], size_t nsides,
                bool keep, const char *reason, int *hits)
{
    if (hits) *hits = 0;
    const json_t *extra = json_object_get(pw_result_json(r), "extra");
    const json_t *named = json_object_get(extra, "baseline_metrics");
    int marked = 0;
    size_t count = pw_result_metric_count(r);
    for (size_t i = 0; i < count; i++) {
        pw_metric m;
        if (pw_result_metric_at(r, i, &m) != PW_OK) continue;
        char name[160], a[64], b[64], suffix[64];
        snprintf(name, sizeof name, "%s", m.name);
        const char *on = json_string_value(json_object_get(named, name));
        bool pair = split_pair(name, a, b, suffix, sizeof a);
        bool hit = on ? strcmp(on, variant) == 0
                      : pair && (strcmp(a, variant) == 0 || strcmp(b, variant) == 0);
        for (size_t s = 0; pair && s < nsides && !hit; s++) {
            const char *side = sides[s][0];
            if (strcmp(a, side) == 0 || strcmp(b, side) == 0)
                hit = side_is(json_object_get(extra, sides[s][1]), suffix, variant);
        }
        if (!hit) continue;
        if (hits) ++*hits;
        if (keep && m.undecidable_why) continue;
        if (pw_result_metric_undecidable(r, name, "baseline", "%s", reason) == PW_OK) marked++;
    }
    return marked;
}

int pw_handicap_mark(pw_result *r, const char *variant, const char *side, const char *key,
                     const char *reason)
{
    const char *pair[1][2] = {{side, key ? key : side}};
    int marked = mark(r, variant, (const char *const (*)[2])pair, side ? 1 : 0, false, reason, NULL);
    add_warning(r, reason);
    return marked;
}

void pw_handicap_add_side(pw_result *r, const char *side, const char *key)
{
    json_object_set_new(extra_object(r, "baseline_sides"), side, json_string(key ? key : side));
}

void pw_handicap_add_metric(pw_result *r, const char *metric, const char *variant)
{
    json_object_set_new(extra_object(r, "baseline_metrics"), metric, json_string(variant));
}

void pw_handicap_judged(pw_result *r, const char *variant, const char *sentence)
{
    json_object_set_new(extra_object(r, "handicapped"), variant, json_string(sentence));
}

bool pw_handicap_same_library(const pw_result *a, const pw_result *b, const char *variant)
{
    const json_t *da = json_object_get(extra_get(a, "libraries"), variant);
    const json_t *db = json_object_get(extra_get(b, "libraries"), variant);
    if (!json_is_object(da) || !json_is_object(db)) return false;
    static const char *const openblas[] = {"version", "library", "core", "environment", NULL};
    static const char *const blis[] = {"version", "library", "arch", NULL};
    static const char *const onednn[] = {"version", "library", "isa", NULL};
    const char *const *fields = strcmp(variant, "openblas") == 0 ? openblas
                                : strcmp(variant, "blis") == 0   ? blis
                                : strcmp(variant, "onednn") == 0 ? onednn
                                                                 : NULL;
    if (!fields) return false;
    for (size_t i = 0; fields[i]; i++) {
        const json_t *x = json_object_get(da, fields[i]), *y = json_object_get(db, fields[i]);
        if ((x || y) && !(x && y && json_equal(x, y))) return false;
    }
    char *ha = pw_env_hardware_hash(json_object_get(pw_result_json(a), "environment"));
    char *hb = pw_env_hardware_hash(json_object_get(pw_result_json(b), "environment"));
    bool same = strcmp(ha, hb) == 0;
    free(ha);
    free(hb);
    return same;
}

int pw_handicap_carry(pw_result *to, const pw_result *from, const char *from_id)
{
    const json_t *judged = extra_get(from, "handicapped");
    if (to == from || !judged || pw_result_failed(to)) return 0;
    const json_t *own = extra_get(to, "handicapped");
    /* The sides recorded in to, as (side, key) pairs. */
    const json_t *sides = extra_get(to, "baseline_sides");
    size_t nsides = 0;
    const char *(*pairs)[2] = pw_xmalloc((json_object_size(sides) + 1) * sizeof *pairs);
    const char *side;
    json_t *key;
    json_object_foreach((json_t *)sides, side, key)
        if (json_is_string(key)) {
            pairs[nsides][0] = side;
            pairs[nsides++][1] = json_string_value(key);
        }
    int marked = 0;
    const char *variant;
    json_t *sentence;
    json_object_foreach((json_t *)judged, variant, sentence) {
        if (!json_is_string(sentence) || json_object_get(own, variant) ||
            !pw_handicap_same_library(to, from, variant))
            continue;
        char *reason = pw_xasprintf("%s (measured in experiment %s; this one ran the same "
                                    "library the same way on the same machine)",
                                    json_string_value(sentence),
                                    from_id && *from_id ? from_id : "another");
        int hits;
        marked += mark(to, variant, (const char *const (*)[2])pairs, nsides, true, reason, &hits);
        free(reason);
        /* A result that only measured the library as a candidate it did not choose has no
         * comparison against it: nothing to warn about there. */
        if (hits) add_warning(to, json_string_value(sentence));
    }
    free(pairs);
    return marked;
}
