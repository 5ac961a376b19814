#!/bin/sh
# Golden render tests: the fixture chapters in tests/golden/chapters are rendered from the
# fixture results in tests/golden/results.json (--replay: nothing is run or timed) in every
# output format (HTML, LaTeX, plain text) and compared with tests/golden/expected/.  `make regen` (this script with --regen) rewrites the expected
# files on purpose; review the diff before committing it.
set -u
bin=$(realpath "$1"); regen=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
commit=$("$bin" --version | sed -n 's/.*(commit \(.*\))/\1/p')
passed=0 failed=0
check() { # name condition-description command...
    name=$1; shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name" >&2; fi
}
cd "$here/../.." || exit 1
SOURCE_DATE_EPOCH=1767225600 "$bin" report -q -f html,latex,text --replay tests/golden/results.json \
    -o "$tmp/out" tests/golden/chapters/*.md >"$tmp/stdout" 2>"$tmp/stderr"
status=$?
check "replayed fixture with an ERROR result exits 2 (got $status)" [ "$status" -eq 2 ]
check "the text report is printed on stdout as written" cmp -s "$tmp/stdout" "$tmp/out/report.txt"
for f in report.html report.tex report.txt; do
    # The commit and version change with every build; nothing else may.
    sed -e "s/$commit/COMMIT/g" -e 's/perfweave [0-9][0-9.]*/perfweave VERSION/g' "$tmp/out/$f" >"$tmp/$f"
    if [ "$regen" = "--regen" ]; then
        cp "$tmp/$f" "$here/expected/$f"; echo "regenerated tests/golden/expected/$f"
    else
        check "golden $f matches tests/golden/expected/$f" diff -u "$here/expected/$f" "$tmp/$f"
    fi
done
for fig in tricky-values.dat tricky-values-svg.gp demo-values-pdf.gp speedy-speedups-svg.gp; do
    if [ "$regen" = "--regen" ]; then cp "$tmp/out/figures/$fig" "$here/expected/$fig"
    else check "golden figures/$fig" diff -u "$here/expected/$fig" "$tmp/out/figures/$fig"; fi
done
echo "golden: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
