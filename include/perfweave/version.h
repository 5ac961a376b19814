/* version.h — what build this is.  The commit lives in one object (src/common/version.c), which
 * the Makefile rebuilds whenever HEAD changes, so every part of the program agrees on it. */
#ifndef PERFWEAVE_VERSION_H
#define PERFWEAVE_VERSION_H

/* "0.1.0" */
const char *pw_version(void);
/* Short commit hash of the source tree, with "-dirty" when it had uncommitted changes, or
 * "unknown" outside a git checkout. */
const char *pw_commit(void);

#endif
