#!/bin/sh
# Runs every cmocka unit-test binary given as arguments; prints a closing count and fails when
# any test binary fails.
passed=0 failed=0
for t in "$@"; do
    if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t" >&2; fi
done
echo "unit test binaries: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
