#!/bin/sh
# Golden render tests: the fixture chapters in tests/golden/chapters are rendered from the
# fixture results in tests/golden/results.json (--replay: nothing is run or timed) in every
# output format (HTML, LaTeX, plain text) and compared with tests/golden/expected/.  The
# conditional-text chapter (03-conditional.md, with the summary) is rendered a second time from
# tests/golden/results-reversed.json, whose speedups are reversed (tests/golden/make-reversed.py),
# into tests/golden/expected/reversed/; and the two renders must say the opposite where the
# measurements do, checked sentence by sentence below.  The matrix chapter (05-matrix.md) reads the
# fixture archive tests/fixtures/matrix/base (a replay archives nothing, so it is only read).  `make regen` (this script with --regen)
# rewrites the expected files on purpose; review the diff before committing it.
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
# render RESULTS NAME EXPECTED CHAPTER...: replays RESULTS into $tmp/NAME in every format,
# normalizes each document into $tmp/NAME-report.{html,tex,txt} and compares it with EXPECTED/
# (or rewrites it).
render() {
    r_results=$1 r_name=$2 r_expected=$3; shift 3  # (not $name: check sets it)
    SOURCE_DATE_EPOCH=1767225600 "$bin" report -q -f html,latex,text --replay "$r_results" \
        --archive tests/fixtures/matrix/base -o "$tmp/$r_name" "$@" >"$tmp/$r_name-stdout" 2>"$tmp/$r_name-stderr"
    status=$?
    check "$r_name: replayed fixture with an ERROR result exits 2 (got $status)" [ "$status" -eq 2 ]
    check "$r_name: the text report is printed on stdout as written" cmp -s "$tmp/$r_name-stdout" "$tmp/$r_name/report.txt"
    mkdir -p "$here/$r_expected"
    for f in report.html report.tex report.txt; do
        # The commit and version change with every build; nothing else may.
        sed -e "s/$commit/COMMIT/g" -e 's/perfweave [0-9][0-9.]*/perfweave VERSION/g' "$tmp/$r_name/$f" >"$tmp/$r_name-$f"
        if [ "$regen" = "--regen" ]; then
            cp "$tmp/$r_name-$f" "$here/$r_expected/$f"; echo "regenerated tests/golden/$r_expected/$f"
        else
            check "golden $f matches tests/golden/$r_expected/$f" diff -u "$here/$r_expected/$f" "$tmp/$r_name-$f"
        fi
    done
}
render tests/golden/results.json fwd expected tests/golden/chapters/*.md
for fig in tricky-values.dat tricky-values-svg.gp demo-values-pdf.gp speedy-speedups-svg.gp; do
    if [ "$regen" = "--regen" ]; then cp "$tmp/fwd/figures/$fig" "$here/expected/$fig"
    else check "golden figures/$fig" diff -u "$here/expected/$fig" "$tmp/fwd/figures/$fig"; fi
done

# --- the same prose from reversed measurements -----------------------------------------------
render tests/golden/results-reversed.json rev expected/reversed \
    tests/golden/chapters/00-summary.md tests/golden/chapters/03-conditional.md
# Each pair: what the forward measurements make the chapter say, and what the reversed ones do.
# Each text must be in its own render and not in the other, in HTML and in LaTeX alike (so the
# texts avoid characters the two formats escape differently).
has() { grep -qF -- "$2" "$1"; }
lacks() { ! grep -qF -- "$2" "$1"; }
opposite() { # forward-text reversed-text
    for f in report.html report.tex; do
        check "forward $f says '$1'" has "$tmp/fwd-$f" "$1"
        check "forward $f does not say '$2'" lacks "$tmp/fwd-$f" "$2"
        check "reversed $f says '$2'" has "$tmp/rev-$f" "$2"
        check "reversed $f does not say '$1'" lacks "$tmp/rev-$f" "$1"
    done
}
same() { # text that no reversal touches
    for f in report.html report.tex; do
        check "forward $f says '$1'" has "$tmp/fwd-$f" "$1"
        check "reversed $f says '$1'" has "$tmp/rev-$f" "$1"
    done
}
opposite "Is the packed kernel faster than the library?" "Is the packed kernel slower than the library?"
opposite "the packed kernel is faster than OpenBLAS" "the packed kernel is slower than OpenBLAS"
opposite "At n = 256 the library is faster than the packed kernel" "At n = 256 the packed kernel is"
opposite "the packed kernel falls behind" "the packed kernel keeps up"
opposite "Int8 inference is faster than fp32" "Int8 inference is slower than fp32"
opposite "the CSR kernel is slower than the dense one" "the CSR kernel is already faster than the dense one"
opposite "sparsity CSR is faster than dense." "sparsity CSR is slower than dense."
check "forward report.html says nothing when csr-fast-sparse holds" lacks "$tmp/fwd-report.html" "Not even at 90"
check "reversed report.html says why when csr-fast-sparse fails" has "$tmp/rev-report.html" "Not even at 90"
same "Which of the two is faster depends on the size"
same "Whether int8 loses less than one point of accuracy is undecided"
same "ended in ERROR, so it says nothing about it"
for out in "$tmp/fwd-report" "$tmp/rev-report"; do
    check "$out: the claim of an ERROR experiment reads as not measured (HTML)" \
        has "$out.html" "broken experiment <strong>[not measured]</strong>"
    check "$out: the claim of an ERROR experiment reads as not measured (LaTeX)" \
        has "$out.tex" "broken experiment \\textbf{{[}not measured{]}}"
done
# The summary groups by what happened to the optimization: a counterclaim that holds did not help.
grouped() { grep -q -- "^$2  *Prose decided by the measurements  *$3  *$4" "$1"; } # file outcome experiment statement
check "forward text: packed-large helped" grouped "$tmp/fwd-report.txt" helped cond-matmul "claim packed-large:"
check "reversed text: packed-large did not help" grouped "$tmp/rev-report.txt" "did not help" cond-matmul "claim packed-large:"
check "forward text: the counterclaim held, so CSR did not help" grouped "$tmp/fwd-report.txt" "did not help" "cond-prune: batch 32" "counterclaim csr-slow-half:"
check "reversed text: the counterclaim failed, so CSR helped" grouped "$tmp/rev-report.txt" helped "cond-prune: batch 32" "counterclaim csr-slow-half:"
check "forward text: the same counterclaim at batch 1 is told apart" grouped "$tmp/fwd-report.txt" "did not help" "cond-prune-b1: batch 1" "counterclaim:"
check "both directions: int8-accurate is a condition, not in the summary" lacks "$tmp/fwd-report.txt" "int8-accurate"
check "reversed: no condition in the summary" lacks "$tmp/rev-report.txt" "condition"
for f in report.html report.tex; do
    for out in "$tmp/fwd-$f" "$tmp/rev-$f"; do
        check "$f: no conditional text is left unchosen" lacks "$out" "?packed-"
        check "$f: no when block is left in the output" lacks "$out" "holds:"
    done
done
echo "golden: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
