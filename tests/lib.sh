# tests/lib.sh — the counters and checks the shell suites share (tests/e2e/run.sh,
# tests/e2e/preview/run.sh, tests/slurm/run.sh), sourced after each has made its temporary
# directory.  POSIX sh.
#   ok                               counts a passed check
#   fail MESSAGE...                  counts a failed one and prints FAIL: MESSAGE to stderr
#   expect_status EXPECTED ACTUAL WHAT   an exit status
#   expect_grep PATTERN FILE WHAT        a pattern in a file (prints the file's head when absent)
passed=0 failed=0
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect_status() { # expected actual what
    if [ "$1" -eq "$2" ]; then ok; else fail "$3: exit status $2, expected $1"; fi
}
expect_grep() { # pattern file what
    if grep -q -- "$1" "$2"; then ok; else fail "$3: '$1' not in $2"; sed 's/^/    /' "$2" | head -20 >&2; fi
}

# The suites check perfweave's own choice of OpenBLAS core.  A core forced by the caller's
# environment (OPENBLAS_CORETYPE, which perfweave keeps as the user's) is set aside here; the
# checks about a user's core set one themselves.
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    echo "tests: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE from the environment is unset for these checks" >&2
    unset OPENBLAS_CORETYPE
fi
