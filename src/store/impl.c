/* impl.c — the implementation hash of an experiment: which built source files its results
 * depend on, combined from the table scripts/impl-hashes.sh generates at build time. */
#include "perfweave/store.h"

#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfweave/common.h"

/* Headers under include/perfweave/ that belong to rendering, storage or the command line and so
 * do not affect what an experiment measures. */
static const char *const non_core_headers[] = {
    "include/perfweave/store.h", "include/perfweave/weave.h", "include/perfweave/render.h",
    "include/perfweave/report.h", "include/perfweave/plot.h", "include/perfweave/template.h",
    "include/perfweave/escape.h", "include/perfweave/chapter.h", "include/perfweave/directive.h",
    "include/perfweave/html.h", "include/perfweave/latex.h", "include/perfweave/claims.h",
    "include/perfweave/exec.h", "include/perfweave/lock.h", "include/perfweave/slurm.h",
    "include/perfweave/proc.h", NULL,
};

/* Files under src/measure/ that decide or render rather than measure: claims are evaluated in
 * the parent on every render, from cached results too, so changing them re-runs nothing; the
 * measurement lock only decides when a measurement runs, not what it measures. */
static const char *const non_core_measure[] = {"src/measure/claims.c", "src/measure/lock.c", NULL};

/* Files outside src/common/ and src/measure/ that are part of how a result is measured: the
 * local executor chooses the limits its child runs under and what a measured result carries
 * (environment, noise warnings).  The rest of src/exec/ (the seam, the cache decorator, replay)
 * only moves results around and is left out like the store. */
static const char *const core_elsewhere[] = {"src/exec/local.c", NULL};

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool pw_impl_is_core(const char *path)
{
    for (const char *const *f = non_core_measure; *f; f++)
        if (strcmp(path, *f) == 0) return false;
    for (const char *const *f = core_elsewhere; *f; f++)
        if (strcmp(path, *f) == 0) return true;
    if (has_prefix(path, "src/common/") || has_prefix(path, "src/measure/")) return true;
    if (!has_prefix(path, "include/perfweave/")) return false;
    for (const char *const *h = non_core_headers; *h; h++)
        if (strcmp(path, *h) == 0) return false;
    return true;
}

const char *pw_impl_file_hash(const char *path)
{
    const char *hash;
    for (size_t i = 0; ; i++) {
        const char *p = pw_impl_generated_file(i, &hash);
        if (!p) return NULL;
        if (strcmp(p, path) == 0) return hash;
    }
}

/* "src/experiments/<module>.c" for e (caller frees). */
static char *own_file(const pw_experiment *e)
{
    size_t len = strcspn(e->name, ".");
    return pw_xasprintf("src/experiments/%.*s.c", (int)len, e->name);
}

/* Feeds "path\0hash\0" (hash "missing" when the file is not in the table). */
static void feed_file(struct sha256_ctx *ctx, const char *path)
{
    const char *hash = pw_impl_file_hash(path);
    if (!hash) hash = "missing";
    sha256_update(ctx, strlen(path) + 1, (const uint8_t *)path);
    sha256_update(ctx, strlen(hash) + 1, (const uint8_t *)hash);
}

char *pw_impl_hash(const pw_experiment *e)
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    static const char tag[] = "perfweave-impl-v1";
    sha256_update(&ctx, sizeof tag, (const uint8_t *)tag);
    const char *flags = pw_impl_generated_flags();
    sha256_update(&ctx, strlen(flags) + 1, (const uint8_t *)flags);
    const char *hash;
    for (size_t i = 0; ; i++) {
        const char *p = pw_impl_generated_file(i, &hash);
        if (!p) break;
        if (pw_impl_is_core(p)) feed_file(&ctx, p);
    }
    char *own = own_file(e);
    static const char sep[] = "experiment";
    sha256_update(&ctx, sizeof sep, (const uint8_t *)sep);
    feed_file(&ctx, own);
    free(own);
    if (e->sources) {
        for (const char *const *s = e->sources; *s; s++) feed_file(&ctx, *s);
    } else {
        /* Undeclared dependencies: assume every kernel, so a kernel change is never missed. */
        for (size_t i = 0; ; i++) {
            const char *p = pw_impl_generated_file(i, &hash);
            if (!p) break;
            if (strncmp(p, "src/kernels/", 12) == 0) feed_file(&ctx, p);
        }
    }

    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    char *hex = pw_xmalloc(2 * SHA256_DIGEST_SIZE + 1);
    for (size_t i = 0; i < SHA256_DIGEST_SIZE; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return hex;
}

int pw_impl_check(const pw_experiment *e, char *msg, size_t msgsize)
{
    char *own = own_file(e);
    int status = PW_OK;
    if (!pw_impl_file_hash(own)) {
        snprintf(msg, msgsize, "experiment '%s': its file %s is not part of the build", e->name, own);
        status = PW_ENOTFOUND;
        goto out;
    }
    for (const char *const *s = e->sources; s && *s; s++) {
        if (!pw_impl_file_hash(*s)) {
            snprintf(msg, msgsize, "experiment '%s': source %s is not part of the build", e->name, *s);
            status = PW_ENOTFOUND;
            goto out;
        }
    }
out:
    free(own);
    return status;
}
