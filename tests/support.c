/* support.c — helpers shared by the cmocka unit tests (see support.h). */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perfweave/common.h"

char *pw_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path = pw_xasprintf("%s/perfweave-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        abort();
    }
    return path;
}

void pw_test_rmtree(const char *path)
{
    if (!path || strncmp(path, "/tmp/", 5) != 0) return;
    char *cmd = pw_xasprintf("rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
    free(cmd);
}

void pw_test_assert_close(double a, double b, double tol, const char *expr, const char *file, int line)
{
    double scale = fabs(b) > 1 ? fabs(b) : 1;
    if (!(fabs(a - b) <= tol * scale)) {
        print_error("%s = %.17g, expected %.17g (tolerance %g)\n", expr, a, b, tol);
        _fail(file, line);
    }
}
