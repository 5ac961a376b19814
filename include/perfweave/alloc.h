/* alloc.h — a memory-accounting allocator: every block is charged to a named tag ("weights",
 * "kv_cache", …) so that an experiment can report how many bytes a data structure really holds,
 * currently and at its peak, instead of estimating them from element counts.
 *
 * The accountant (pw_alloc) is an explicit context object, not a global: create one per
 * experiment or per model, allocate through it, read its counters, free it.  Bytes counted are
 * the bytes requested by the caller (the block's usable size), exactly; the per-block header and
 * alignment padding are not charged, so `2 · layers · positions · d_model · sizeof(float)`
 * requested reads back as exactly that number.  Blocks are 64-byte aligned (cache line, AVX-512).
 *
 * Not thread-safe: one accountant is used by one thread at a time. */
#ifndef PERFWEAVE_ALLOC_H
#define PERFWEAVE_ALLOC_H

#include <stddef.h>

typedef struct pw_alloc pw_alloc;

/* The counters of one tag (or of all tags together). */
typedef struct {
    const char *tag;   /* borrowed from the accountant; "" for the all-tags total */
    size_t current;    /* bytes in live blocks */
    size_t peak;       /* highest value current reached since creation or the last reset */
    size_t allocs;     /* blocks handed out since creation or the last reset */
    size_t frees;      /* blocks given back since creation or the last reset */
    size_t live;       /* blocks currently live */
} pw_alloc_stats;

/* A new, empty accountant; the caller frees it with pw_alloc_free. */
pw_alloc *pw_alloc_new(void);
/* Frees the accountant and every block still live in it (so that a failed experiment cannot
 * leak); pointers into those blocks become invalid.  NULL is a no-op. */
void pw_alloc_free(pw_alloc *a);

/* A block of size bytes (size 0 is allowed and charges 0), 64-byte aligned, charged to tag
 * (copied on first use).  pw_alloc_malloc leaves the contents undefined; pw_alloc_calloc
 * zero-fills count × size bytes and refuses a product that overflows.  Both return NULL when
 * the system refuses the memory (nothing is charged then).  Give the block back with
 * pw_alloc_dealloc on the same accountant. */
void *pw_alloc_malloc(pw_alloc *a, const char *tag, size_t size);
void *pw_alloc_calloc(pw_alloc *a, const char *tag, size_t count, size_t size);

/* Gives a block back and uncharges its tag.  NULL is a no-op (PW_OK).  Returns PW_EINVAL, and
 * frees nothing, for a pointer this accountant did not hand out or already took back. */
int pw_alloc_dealloc(pw_alloc *a, void *p);

/* The bytes charged to a block handed out by a (its requested size), or 0 for NULL. */
size_t pw_alloc_size(const pw_alloc *a, const void *p);

/* Current and peak bytes of tag, or of all tags together when tag is NULL; 0 for a tag never
 * used.  The all-tags peak is the peak of the sum, not the sum of the tags' peaks. */
size_t pw_alloc_current(const pw_alloc *a, const char *tag);
size_t pw_alloc_peak(const pw_alloc *a, const char *tag);

/* Starts a new observation window: every peak becomes the current value and the alloc/free
 * counts return to 0 (live blocks and current bytes are unchanged). */
void pw_alloc_reset(pw_alloc *a);

/* Tags in order of first use: their number, and the counters of the i-th; pw_alloc_stats_of
 * fills the counters of one tag (NULL: the all-tags total).  Return PW_OK, or PW_ENOTFOUND for
 * an index out of range or a tag never used. */
size_t pw_alloc_ntags(const pw_alloc *a);
int pw_alloc_stats_at(const pw_alloc *a, size_t i, pw_alloc_stats *out);
int pw_alloc_stats_of(const pw_alloc *a, const char *tag, pw_alloc_stats *out);

#endif
