/* tensor_alloc.c — the memory-accounting allocator of alloc.h: aligned blocks with a hidden
 * header that records the requested size and tag, linked into their accountant so that every
 * block can be checked on the way back and released with the accountant. */
#include "perfweave/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"

#define ALIGN 64
#define MAGIC_LIVE 0x70776c6976650a01ull  /* "pwlive" */
#define MAGIC_DEAD 0x7077646561640a02ull  /* "pwdead" */

/* Sits in the ALIGN bytes just before every block handed out. */
typedef struct header {
    uint64_t magic;
    size_t size;
    size_t tag;
    struct header *prev, *next;
} header;

_Static_assert(sizeof(header) <= ALIGN, "block header must fit in one alignment unit");

typedef struct {
    char *name;
    size_t current, peak, allocs, frees, live;
} tag_stats;

struct pw_alloc {
    tag_stats *tags;
    size_t ntags, cap;
    tag_stats total;
    header *blocks;  /* doubly linked list of live blocks */
};

pw_alloc *pw_alloc_new(void)
{
    pw_alloc *a = pw_xcalloc(1, sizeof *a);
    a->total.name = pw_xstrdup("");
    return a;
}

void pw_alloc_free(pw_alloc *a)
{
    if (!a) return;
    header *h = a->blocks;
    while (h) {
        header *next = h->next;
        h->magic = MAGIC_DEAD;
        free(h);
        h = next;
    }
    for (size_t i = 0; i < a->ntags; i++) free(a->tags[i].name);
    free(a->tags);
    free(a->total.name);
    free(a);
}

static long find_tag(const pw_alloc *a, const char *tag)
{
    for (size_t i = 0; i < a->ntags; i++)
        if (strcmp(a->tags[i].name, tag) == 0) return (long)i;
    return -1;
}

static size_t intern_tag(pw_alloc *a, const char *tag)
{
    long i = find_tag(a, tag);
    if (i >= 0) return (size_t)i;
    if (a->ntags == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 8;
        a->tags = pw_xrealloc(a->tags, a->cap * sizeof *a->tags);
    }
    tag_stats *t = &a->tags[a->ntags];
    memset(t, 0, sizeof *t);
    t->name = pw_xstrdup(tag);
    return a->ntags++;
}

static void charge(tag_stats *t, size_t size)
{
    t->current += size;
    t->allocs++;
    t->live++;
    if (t->current > t->peak) t->peak = t->current;
}

static void uncharge(tag_stats *t, size_t size)
{
    t->current -= size;
    t->frees++;
    t->live--;
}

void *pw_alloc_malloc(pw_alloc *a, const char *tag, size_t size)
{
    if (size > SIZE_MAX - 2 * ALIGN) return NULL;
    size_t rounded = (size + ALIGN - 1) / ALIGN * ALIGN;
    header *h = aligned_alloc(ALIGN, ALIGN + rounded);
    if (!h) return NULL;
    h->magic = MAGIC_LIVE;
    h->size = size;
    h->tag = intern_tag(a, tag ? tag : "untagged");
    h->prev = NULL;
    h->next = a->blocks;
    if (a->blocks) a->blocks->prev = h;
    a->blocks = h;
    charge(&a->tags[h->tag], size);
    charge(&a->total, size);
    return (char *)h + ALIGN;
}

void *pw_alloc_calloc(pw_alloc *a, const char *tag, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = pw_alloc_malloc(a, tag, count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

/* The header of a block this accountant handed out and still holds, or NULL. */
static header *live_header(const pw_alloc *a, const void *p)
{
    if (!p || ((uintptr_t)p % ALIGN) != 0) return NULL;
    /* Walk the list rather than trusting memory before p: a foreign pointer is then reported
     * instead of read out of bounds.  Accountants hold tens of blocks, so this is cheap. */
    for (header *h = a->blocks; h; h = h->next)
        if ((const char *)h + ALIGN == (const char *)p) return h->magic == MAGIC_LIVE ? h : NULL;
    return NULL;
}

int pw_alloc_dealloc(pw_alloc *a, void *p)
{
    if (!p) return PW_OK;
    header *h = live_header(a, p);
    if (!h) return PW_EINVAL;
    if (h->prev) h->prev->next = h->next;
    else a->blocks = h->next;
    if (h->next) h->next->prev = h->prev;
    uncharge(&a->tags[h->tag], h->size);
    uncharge(&a->total, h->size);
    h->magic = MAGIC_DEAD;
    free(h);
    return PW_OK;
}

size_t pw_alloc_size(const pw_alloc *a, const void *p)
{
    const header *h = live_header(a, p);
    return h ? h->size : 0;
}

static const tag_stats *lookup(const pw_alloc *a, const char *tag)
{
    if (!tag) return &a->total;
    long i = find_tag(a, tag);
    return i >= 0 ? &a->tags[i] : NULL;
}

size_t pw_alloc_current(const pw_alloc *a, const char *tag)
{
    const tag_stats *t = lookup(a, tag);
    return t ? t->current : 0;
}

size_t pw_alloc_peak(const pw_alloc *a, const char *tag)
{
    const tag_stats *t = lookup(a, tag);
    return t ? t->peak : 0;
}

static void reset_one(tag_stats *t)
{
    t->peak = t->current;
    t->allocs = t->frees = 0;
}

void pw_alloc_reset(pw_alloc *a)
{
    for (size_t i = 0; i < a->ntags; i++) reset_one(&a->tags[i]);
    reset_one(&a->total);
}

size_t pw_alloc_ntags(const pw_alloc *a)
{
    return a->ntags;
}

static void fill(const tag_stats *t, pw_alloc_stats *out)
{
    out->tag = t->name;
    out->current = t->current;
    out->peak = t->peak;
    out->allocs = t->allocs;
    out->frees = t->frees;
    out->live = t->live;
}

int pw_alloc_stats_at(const pw_alloc *a, size_t i, pw_alloc_stats *out)
{
    if (i >= a->ntags) return PW_ENOTFOUND;
    fill(&a->tags[i], out);
    return PW_OK;
}

int pw_alloc_stats_of(const pw_alloc *a, const char *tag, pw_alloc_stats *out)
{
    const tag_stats *t = lookup(a, tag);
    if (!t) return PW_ENOTFOUND;
    fill(t, out);
    return PW_OK;
}
