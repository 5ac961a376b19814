/* version.c — the version and commit baked in at build time (see version.h). */
#include "perfweave/version.h"

#ifndef PW_COMMIT
#define PW_COMMIT "unknown"
#endif

const char *pw_version(void)
{
    return PW_VERSION;
}

const char *pw_commit(void)
{
    return PW_COMMIT;
}
