/* support.h — helpers shared by the cmocka unit tests (fixture paths, temporary folders). */
#ifndef PERFWEAVE_TESTS_SUPPORT_H
#define PERFWEAVE_TESTS_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh empty directory under $TMPDIR (or /tmp); the caller frees the returned path. */
char *pw_test_tmpdir(void);
/* Removes a directory tree made by pw_test_tmpdir (no-op for NULL). */
void pw_test_rmtree(const char *path);
/* Asserts |a − b| <= tol × max(1, |b|) with a message naming both values. */
#define assert_close(a, b, tol) pw_test_assert_close((a), (b), (tol), #a, __FILE__, __LINE__)
void pw_test_assert_close(double a, double b, double tol, const char *expr, const char *file, int line);

#endif
