#!/bin/sh
# End-to-end tests of the perfweave command: bad input (file:line messages, exit 1, nothing
# written and the previous report intact), crashing experiments (ERROR, report still written,
# exit 2), a real --quick report checked in headless Chromium (the DOM holds the table and the
# SVG chart) and by pdfinfo (the fixture PDF has the expected page count), the plain-text format
# on stdout, `run --json`, the library baselines, the measurement lock (two runs and two reports
# never measure at once; --no-wait; SIGINT while waiting and while holding; a report from the
# cache never waits) and contention detection (a busy
# co-runner on the measuring CPU makes a result disturbed and its claims UNDECIDED).  Nothing
# here judges a timing.
set -u
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.." || exit 1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# A private measurement lock: the suite must neither wait for nor block a real report elsewhere on
# this machine (its quick report may still disturb one, which contention detection then shows).
PERFWEAVE_LOCK="$tmp/measure.lock"; export PERFWEAVE_LOCK
. "$here/../lib.sh"

lockfile=$PERFWEAVE_LOCK
# Waits (up to 10 s) until the lock record names pid $1.
holds() { i=0; while [ $i -lt 100 ]; do grep -q "^pid: $1\$" "$lockfile" 2>/dev/null && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }
# Waits (up to 10 s) until file $1 contains $2.
says() { i=0; while [ $i -lt 100 ]; do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }
# Succeeds once the lock is free (retrying for up to 5 s).
lock_free() { i=0; while [ $i -lt 50 ]; do "$bin" run --no-wait selftest.fixed >/dev/null 2>&1 && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }
# The listing of a folder with each file's checksum: "untouched" compares two of them.
snapshot() { (cd "$1" && find . -type f | sort | xargs cksum); }

# --- a previous report that bad input must leave intact -----------------------------------
mkdir -p "$tmp/out"
echo "previous report" >"$tmp/out/report.html"
before=$(ls -A "$tmp/out" | sort | tr '\n' ' ')

"$bin" report -q --cache "$tmp/bad-cache" --archive "$tmp/bad-archive" -o "$tmp/out" tests/e2e/bad/misspelled.md 2>"$tmp/err1"; s=$?
expect_status 1 $s "misspelled experiment"
expect_grep "tests/e2e/bad/misspelled.md:3: unknown experiment 'acceleration.matmull' (did you mean 'acceleration.matmul'?)" "$tmp/err1" "misspelled message"

"$bin" report -q --cache "$tmp/bad-cache" --archive "$tmp/bad-archive" -o "$tmp/out" tests/e2e/bad/badvalue.md 2>"$tmp/err2"; s=$?
expect_status 1 $s "malformed values"
expect_grep "badvalue.md:5: 'sizes' expects a number, not 'two'" "$tmp/err2" "non-numeric list element"
expect_grep "badvalue.md:6: unknown key 'spred' for selftest.fixed (did you mean 'spread'?)" "$tmp/err2" "unknown key"
expect_grep "badvalue.md:7: claim" "$tmp/err2" "malformed claim"
expect_grep "badvalue.md:10: unknown result id 'nothing'" "$tmp/err2" "unknown reference id"

"$bin" report -q --cache "$tmp/bad-cache" --archive "$tmp/bad-archive" -o "$tmp/out" tests/e2e/bad/badmetric.md 2>"$tmp/err3"; s=$?
expect_status 1 $s "unknown metric"
expect_grep "badmetric.md:7: result 'fine' has no metric 'valeu.n1' (did you mean 'value.n1'?)" "$tmp/err3" "unknown metric message"

# Labels and conditional text: every mistake at the line of the offending text, before anything runs.
"$bin" report -q --cache "$tmp/bad-cache" --archive "$tmp/bad-archive" -o "$tmp/out" tests/e2e/bad/conditional.md 2>"$tmp/err3c"; s=$?
expect_status 1 $s "bad conditional text"
b=tests/e2e/bad/conditional.md
for msg in \
    "$b:6: label 'Big_One' must be lowercase letters, digits and '-'" \
    "$b:7: a condition needs a label" \
    "$b:10: malformed key 'claims typo' (only claim, counterclaim and condition take a label; did you mean 'claim'?)" \
    "$b:13: conditional text '?big|big|small' has 2 alternatives, not 3" \
    "$b:21: unknown passage 'hold:' (did you mean 'holds:'?)" \
    "$b:26: text before the first passage of a when block" \
    "$b:36: passage 'holds:' given twice (first on line 32)" \
    "$b:46: a passage of a when block cannot hold a \`\`\`experiment block" \
    "$b:9: duplicate label 'big' (also at $b:5)" \
    "$b:13: unknown label 'bigg' (did you mean 'big'?)" \
    "$b:15: unknown label 'smal' (did you mean 'small'?)" \
    "$b:44: unknown result id 'nothing' in \`=nothing.value.n1\`" \
    "nothing was run or written"; do
    expect_grep "$msg" "$tmp/err3c" "conditional-text diagnostic"
done
"$bin" report -q --cache "$tmp/bad-cache" --archive "$tmp/bad-archive" -o "$tmp/out" tests/e2e/bad/badpassage.md 2>"$tmp/err3p"; s=$?
expect_status 1 $s "unknown metric inside a passage"
expect_grep "badpassage.md:12: result 'fine-passage' has no metric 'valeu.n1' (did you mean 'value.n1'?)" "$tmp/err3p" "passage metric message"

"$bin" report -q --cache "$tmp/bad-cache" --archive "$tmp/bad-archive" -o "$tmp/out" tests/e2e/bad/missing-file.md 2>"$tmp/err4"; s=$?
expect_status 1 $s "missing chapter"
expect_grep "missing-file.md: cannot read chapter" "$tmp/err4" "missing chapter message"

printf '# Notes\n\nWritten in UTF-8 up to here.\n\nCaf\351 saved as Latin-1.\n' >"$tmp/latin1.md"
"$bin" report -q --cache "$tmp/bad-cache" --archive "$tmp/bad-archive" -o "$tmp/out" "$tmp/latin1.md" 2>"$tmp/err4b"; s=$?
expect_status 1 $s "invalid UTF-8 chapter"
expect_grep "$tmp/latin1.md:5: invalid UTF-8 (byte 0xE9)" "$tmp/err4b" "invalid UTF-8 message"

# A template with a Latin-1 byte: refused at its line before anything runs (a chapter that would
# measure), with nothing written.
mkdir -p "$tmp/tpl"
cp templates/report.html templates/report.css templates/report.tex "$tmp/tpl/"
sed -i '3s/$/ caf\xe9/' "$tmp/tpl/report.tex"
"$bin" report -q --templates "$tmp/tpl" --cache "$tmp/tpl-cache" --archive "$tmp/tpl-archive" -o "$tmp/out" \
    tests/e2e/chapters/01-small.md 2>"$tmp/err4t"; s=$?
expect_status 1 $s "invalid UTF-8 template"
expect_grep "^$tmp/tpl/report.tex:3: invalid UTF-8 (byte 0xE9)$" "$tmp/err4t" "invalid UTF-8 template message"
if [ -e "$tmp/tpl-cache" ] || [ -e "$tmp/tpl-archive" ]; then fail "a report with a broken template measured something"; else ok; fi

after=$(ls -A "$tmp/out" | sort | tr '\n' ' ')
if [ "$before" = "$after" ] && [ "$(cat "$tmp/out/report.html")" = "previous report" ]; then ok
else fail "bad input changed the output folder: before '$before' after '$after'"; fi

# --- experiments that crash, hang or run out of memory -------------------------------------
"$bin" report -q -f html --cache "$tmp/crash-cache" --archive "$tmp/crash-archive" -o "$tmp/crash" tests/e2e/bad/crash.md 2>"$tmp/err5"; s=$?
expect_status 2 $s "crashing experiments"
expect_grep "crashed with signal 11" "$tmp/crash/report.html" "segfault reported"
expect_grep "timed out after" "$tmp/crash/report.html" "hang reported"
expect_grep "memory limit 256 MB" "$tmp/crash/report.html" "memory limit reported"
expect_grep 'id="result-survivor"' "$tmp/crash/report.html" "the other experiments still ran"
if ls -A "$tmp/crash" | grep -q staging; then fail "a staging folder was left behind"; else ok; fi

# --- a real quick report, checked in a browser -------------------------------------------
"$bin" report -q --quick --cache "$tmp/cache0" --archive "$tmp/archive0" -o "$tmp/quick" tests/e2e/chapters/01-small.md 2>"$tmp/err6"; s=$?
expect_status 0 $s "quick report"
[ -s "$tmp/err6" ] && sed 's/^/    /' "$tmp/err6" >&2
for f in report.html report.tex report.pdf results.json figures/e2e-matmul-gflops.svg figures/e2e-matmul-gflops.gp; do
    case $f in *.gp) f=figures/e2e-matmul-gflops-svg.gp ;; esac
    if [ -s "$tmp/quick/$f" ]; then ok; else fail "quick report lacks $f"; fi
done
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$tmp/chromium" --dump-dom "file://$tmp/quick/report.html" >"$tmp/dom.html" 2>/dev/null
expect_grep '<table class="results"' "$tmp/dom.html" "DOM has the results table"
expect_grep '<svg' "$tmp/dom.html" "DOM has the inline SVG chart"
expect_grep 'class="verdict v-' "$tmp/dom.html" "DOM has a verdict badge"
expect_grep 'class="measured"' "$tmp/dom.html" "DOM has an inline measured value"
expect_grep '<title id="figure-1-title">Figure 1. ' "$tmp/dom.html" "the inline SVG has its text alternative"
expect_grep '<summary>Measurement precision: ' "$tmp/dom.html" "one folded precision summary per experiment"
if grep -Eq '±(inf|nan)|(inf|nan)%' "$tmp/quick/report.html" "$tmp/quick/report.tex"; then
    fail "an unreachable precision printed as inf or nan"; else ok; fi

# --- the fixture report's PDF: deterministic content, so a fixed page count --------------
SOURCE_DATE_EPOCH=1767225600 "$bin" report -q -f latex,pdf --replay tests/golden/results.json \
    --archive tests/fixtures/matrix/base -o "$tmp/fixture" tests/golden/chapters/*.md 2>/dev/null
pages=$(pdfinfo "$tmp/fixture/report.pdf" 2>/dev/null | sed -n 's/^Pages: *//p')
if [ "${pages:-0}" -eq 13 ]; then ok; else fail "fixture PDF has ${pages:-no} pages, expected 13"; fi
# The preamble went into a pdflatex format kept beside the aux files; a format pdflatex cannot
# load (another TeX installation, a broken file) costs a plain pass, not the PDF, and is rebuilt;
# report.tex still compiles on its own, without perfweave's format.
fmt=$(ls "$tmp/fixture/.latex"/preamble-*.fmt 2>/dev/null | head -1)
if [ -s "$fmt" ]; then ok; else fail "no preamble format in $tmp/fixture/.latex"; fi
echo "not a format" >"$fmt"
SOURCE_DATE_EPOCH=1767225600 "$bin" report -q -f latex,pdf --replay tests/golden/results.json \
    --archive tests/fixtures/matrix/base -o "$tmp/fixture" tests/golden/chapters/*.md 2>"$tmp/err-fmt"; s=$?
expect_status 2 $s "report with a broken preamble format (the fixture has one ERROR result)"
pages=$(pdfinfo "$tmp/fixture/report.pdf" 2>/dev/null | sed -n 's/^Pages: *//p')
if [ "${pages:-0}" -eq 13 ]; then ok; else fail "with a broken format the PDF has ${pages:-no} pages, expected 13"; fi
if grep -q "pdflatex" "$tmp/err-fmt"; then fail "a broken format was reported as a pdflatex failure"; else ok; fi
SOURCE_DATE_EPOCH=1767225600 "$bin" report -q -f latex,pdf --replay tests/golden/results.json \
    --archive tests/fixtures/matrix/base -o "$tmp/fixture" tests/golden/chapters/*.md 2>/dev/null
if [ "$(head -c 12 "$fmt" 2>/dev/null)" != "not a format" ] && [ -s "$fmt" ]; then ok
else fail "the broken preamble format was not rebuilt"; fi
mkdir -p "$tmp/standalone" && cp -r "$tmp/fixture/report.tex" "$tmp/fixture/figures" "$tmp/standalone/"
(cd "$tmp/standalone" && pdflatex -interaction=nonstopmode -halt-on-error report.tex >/dev/null 2>&1); s=$?
expect_status 0 $s "report.tex compiled by a plain pdflatex"

# --- the real chapters replayed both ways -------------------------------------------------
# chapters/*.md from a cold report's results (tests/fixtures/chapters/results.json) and from the
# same results with every tested metric moved across its claim's threshold
# (results-reversed.json; make-fixtures.py says how): every chapter renders in every format
# without a diagnostic in both directions, and the prose follows the verdicts — the branches a
# report on another machine would print are rendered here too.  A chapter that gains a directive
# needs new fixtures: python3 tests/fixtures/chapters/make-fixtures.py out/results.json after a
# `make report`.
for dir in fwd rev; do
    fx=tests/fixtures/chapters/results.json
    [ $dir = rev ] && fx=tests/fixtures/chapters/results-reversed.json
    SOURCE_DATE_EPOCH=1767225600 "$bin" report -q -f html,latex,pdf,text --replay "$fx" --no-archive \
        -o "$tmp/chapters-$dir" chapters/*.md >"$tmp/chapters-$dir.out" 2>"$tmp/chapters-$dir.err"; s=$?
    expect_status 0 $s "the real chapters replayed ($dir)"
    if [ -s "$tmp/chapters-$dir.err" ]; then fail "diagnostics replaying the real chapters ($dir)"; sed 's/^/    /' "$tmp/chapters-$dir.err" | head >&2
    else ok; fi
    expect_grep "^verdicts: .* 0 ERROR$" "$tmp/chapters-$dir.out" "no claim ERROR in the replayed chapters ($dir)"
    if [ -s "$tmp/chapters-$dir/report.pdf" ]; then ok; else fail "no PDF of the replayed chapters ($dir)"; fi
done
# sentence measured (fwd) | the same sentence when the measurement goes the other way (rev);
# searched in the HTML with its line breaks (the chapters' own) turned into spaces
for dir in fwd rev; do tr '\n' ' ' <"$tmp/chapters-$dir/report.html" >"$tmp/chapters-$dir/flat.html"; done
while IFS='|' read -r fwd rev; do
    if grep -qF -- "$fwd" "$tmp/chapters-fwd/flat.html"; then ok; else fail "the measured report lacks '$fwd'"; fi
    if grep -qF -- "$rev" "$tmp/chapters-rev/flat.html"; then ok; else fail "the reversed report lacks '$rev'"; fi
    if grep -qF -- "$rev" "$tmp/chapters-fwd/flat.html"; then fail "the measured report prints '$rev'"; else ok; fi
    if grep -qF -- "$fwd" "$tmp/chapters-rev/flat.html"; then fail "the reversed report prints '$fwd'"; else ok; fi
done <<'PAIRS'
a profiler that wraps each call distorts what it measures there|does not hold here at its strongest
at least the 0.8× the original asked of its backend|at this size the library gets more out of this core than our kernel does
it holds its own against a tuned integer library here|a tuned integer library is clearly faster here
CSR is smaller than dense at every sparsity measured here|CSR is larger than dense at every sparsity measured here
the cache was faster than recomputation at this length|the cache was not faster than recomputation at this length
the workload really was the same everywhere|at least one process, CPU or offset gave different bits
PAIRS

# --- a history shows each measurement once: results a run took from the cache are not its own --
mkdir -p "$tmp/hist/archive" && cp -r tests/fixtures/archive/2026110* "$tmp/hist/archive/"
rm -f "$tmp/hist/archive"/*/.slim.json
# The third run rendered the second run's results from the cache (as a prose-only re-render does).
sed -i 's/"status": "ok",/"status": "ok", "run": {"source": "from cache"},/' "$tmp/hist/archive/20261103T120000Z_hosta/results.json"
sed -i 's/"status": "ok",/"status": "ok", "run": {"source": "measured"},/' "$tmp/hist/archive/20261102T120000Z_hosta/results.json"
printf '# History\n\n```history\nmetric: matmul.gflops.blocked.n256\nline: 8 a reference line\n```\n' >"$tmp/hist/ch.md"
"$bin" report -q -f html --archive "$tmp/hist/archive" -o "$tmp/hist/out" "$tmp/hist/ch.md" 2>"$tmp/hist/err"; s=$?
expect_status 0 $s "a chapter with a history block"
dat=$(ls "$tmp/hist/out/figures"/history-*.dat 2>/dev/null | head -1)
points=$(grep -c '^[0-9]' "$dat" 2>/dev/null)
if [ "${points:-0}" -eq 3 ] && [ "$(grep '^[0-9]' "$dat" | cut -d' ' -f1 | tr '\n' ' ')" = "1 2 3 " ]; then ok
else fail "history of 4 runs, one of them from the cache: ${points:-no} points in ${dat:-no file}, expected 3 at x = 1 2 3"; fi
expect_grep "across 3 archived runs" "$tmp/hist/out/report.html" "the caption counts the runs that measured it"
expect_grep "^     8 with lines .* title 'a reference line'" "${dat%.dat}-svg.gp" "a history's reference line"
printf '# History\n\n```history\nmetric: matmul.gflops.blocked.n256\nline: high 8\n```\n' >"$tmp/hist/bad.md"
"$bin" report -q -f html --archive "$tmp/hist/archive" -o "$tmp/hist/out2" "$tmp/hist/bad.md" 2>"$tmp/hist/err2"; s=$?
expect_status 1 $s "a history line without a number"
expect_grep "bad.md:5: 'line' needs a number first" "$tmp/hist/err2" "file:line of the bad reference line"

# --- the plain-text format: report.txt, printed on stdout too (the output for a CI log) -----
SOURCE_DATE_EPOCH=1767225600 "$bin" report -q -f text --replay tests/golden/results.json \
    -o "$tmp/text" tests/golden/chapters/*.md >"$tmp/text.out" 2>"$tmp/text.err"; s=$?
expect_status 2 $s "text report of the fixture (one ERROR result)"
if cmp -s "$tmp/text.out" "$tmp/text/report.txt"; then ok; else fail "-f text did not print report.txt on stdout"; fi
expect_grep "^18 claims: 7 helped, 2 did not help, 1 mixed, 6 undecided, 2 could not be measured$" "$tmp/text.out" "text outcome counts"
expect_grep "^verdicts: 9 PASS, 2 PARTIAL, 0 FAIL, 5 UNDECIDED, 2 ERROR$" "$tmp/text.out" "text verdict counts"
expect_grep "^could not be measured  *When an experiment fails  *broken: mode segv  *claim: value >= 1  *ERROR  *the experiment failed" "$tmp/text.out" "text claim row"
expect_grep "^baseline: FastLib (core Old) is a handicapped baseline" "$tmp/text.out" "text baseline warning above the claims"
if [ -e "$tmp/text/report.html" ] || [ -e "$tmp/text/report.tex" ]; then fail "-f text wrote another format"; else ok; fi
# A text-only run over a full report adds report.txt and leaves the others and their figures.
# (From the quick report's own results: on a busy machine they are marked disturbed and so are not
# in the cache for --frozen, as they should not be.)
cp "$tmp/quick/results.json" "$tmp/quick-results.json"
"$bin" report -q --quick --replay "$tmp/quick-results.json" -f text -o "$tmp/quick" tests/e2e/chapters/01-small.md \
    >/dev/null 2>"$tmp/text2.err"; s=$?
expect_status 0 $s "text report over the quick report"
for f in report.txt report.html report.tex figures/e2e-matmul-gflops.svg figures/e2e-matmul-gflops.pdf; do
    if [ -s "$tmp/quick/$f" ]; then ok; else fail "after a text-only run the quick report lacks $f"; fi
done
"$bin" report -q -f txt --no-cache --no-archive -o "$tmp/text3" tests/golden/chapters/01-demo.md 2>"$tmp/text3.err"; s=$?
expect_status 1 $s "an unknown format"
expect_grep "unknown format 'txt' (html, latex, text, pdf)" "$tmp/text3.err" "unknown format message"

# --- the result cache: prose edits run nothing, a directive edit runs only that one ---------
mkdir -p "$tmp/c"
cat >"$tmp/c/ch.md" <<'MD'
# Cache test

First `=one.count`.

```experiment selftest.fixed
id: one
values: [1, 2, 3]
```

```experiment selftest.fixed
id: two
values: [4, 5, 6]
```

```history
metric: two.value.n4
```

```matrix
metric: one.*
```
MD
measured() { sed -n 's/.*experiments: \([0-9]*\) measured.*/\1/p' "$1"; }
cache_run() { "$bin" report -f html --cache "$tmp/c/cache" --archive "$tmp/c/archive" -o "$tmp/c/out" "$tmp/c/ch.md" 2>"$1"; }
cache_run "$tmp/c1"; s=$?
expect_status 0 $s "cold cached run"
if [ "$(measured "$tmp/c1")" = 2 ]; then ok; else fail "cold run measured $(measured "$tmp/c1") experiments, expected 2"; fi
if [ "$(ls "$tmp/c/archive" | wc -l)" = 1 ]; then ok; else fail "cold run did not archive exactly one run"; fi
sed -i 's/^First/Edited prose, first/' "$tmp/c/ch.md"
cache_run "$tmp/c2"
if [ "$(measured "$tmp/c2")" = 0 ]; then ok; else fail "prose edit measured $(measured "$tmp/c2") experiments, expected 0"; fi
expect_grep "Edited prose" "$tmp/c/out/report.html" "prose edit rendered"
expect_grep "from cache" "$tmp/c/out/report.html" "cached result labelled"
sed -i 's/values: \[4, 5, 6\]/values: [4, 5, 7]/' "$tmp/c/ch.md"
cache_run "$tmp/c3"
if [ "$(measured "$tmp/c3")" = 1 ]; then ok; else fail "one directive edit measured $(measured "$tmp/c3") experiments, expected 1"; fi
for f in "$tmp"/c/cache/*.json; do printf '{ truncated' >"$f"; done
cache_run "$tmp/c4"
if [ "$(measured "$tmp/c4")" = 2 ]; then ok; else fail "corrupt cache measured $(measured "$tmp/c4") experiments, expected 2"; fi
expect_grep "warning" "$tmp/c4" "corrupt cache entry warned about"
"$bin" report -f html --cache "$tmp/c/cache" --archive "$tmp/c/archive" --rerun two -o "$tmp/c/out" "$tmp/c/ch.md" 2>"$tmp/c5"
if [ "$(measured "$tmp/c5")" = 1 ]; then ok; else fail "--rerun two measured $(measured "$tmp/c5") experiments, expected 1"; fi
"$bin" report -f html --frozen --cache "$tmp/c/cache" -o "$tmp/c/frozen" "$tmp/c/ch.md" 2>"$tmp/c6"; s=$?
expect_status 0 $s "--frozen from a filled cache"
if [ "$(measured "$tmp/c6")" = 0 ]; then ok; else fail "--frozen measured something"; fi
"$bin" report -f html --frozen --cache "$tmp/c/empty" -o "$tmp/c/frozen2" "$tmp/c/ch.md" 2>"$tmp/c7"; s=$?
expect_status 2 $s "--frozen with an empty cache gives ERROR results"
# The history chart follows two.value.n4 over the archived runs (6, 6, 7, 7: two were archived
# before the edit); the matrix has one column per kind of machine: this one, so far.
if [ -s "$tmp/c/out/figures/history-1.svg" ] && [ "$(grep -c . "$tmp/c/out/figures/history-1.dat")" -ge 4 ]; then ok
else fail "history chart missing or short"; fi
expect_grep "on every kind of machine in the archive" "$tmp/c/out/report.html" "hardware matrix table"
# matrix_columns HTML: the matrix table's column headers after "metric", then its "measured on" row.
matrix_columns() {
    python3 - "$1" <<'PY'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
t = re.search(r'<table class="results"[^>]*>\s*<caption>(?:(?!</caption>).)*on every kind of machine.*?</table>', html, re.S).group(0)
print("|".join(re.findall(r"<th>(.*?)</th>", re.search(r"<thead>(.*?)</thead>", t, re.S).group(1))[1:]))
print("|".join(re.findall(r"<td>(.*?)</td>", re.search(r'<tr><th scope="row">measured on</th>(.*?)</tr>', t, re.S).group(1))))
PY
}
matrix_columns "$tmp/c/out/report.html" >"$tmp/c/matrix1"
if [ "$(head -n 1 "$tmp/c/matrix1" | tr '|' '\n' | wc -l)" = 1 ]; then ok; else fail "one machine, yet the matrix has columns: $(head -n 1 "$tmp/c/matrix1")"; fi
# --- archives that travel: export, import into another root, refuse damage and duplicates -----
first=$(ls "$tmp/c/archive" | head -n 1)
"$bin" archive export --root "$tmp/c/archive" "$first" >"$tmp/run.json.gz" 2>"$tmp/x1"; s=$?
expect_status 0 $s "archive export"
# The header's checksum is the SHA-256 of the rest of the file, as sha256sum computes it.
head_sum=$(zcat "$tmp/run.json.gz" | head -n 1 | sed 's/.*"sha256":"\([0-9a-f]*\)".*/\1/')
body_sum=$(zcat "$tmp/run.json.gz" | tail -n +2 | sha256sum | cut -d' ' -f1)
if [ -n "$body_sum" ] && [ "$head_sum" = "$body_sum" ]; then ok; else fail "export checksum '$head_sum' is not sha256sum's '$body_sum'"; fi
"$bin" archive import --root "$tmp/elsewhere" "$tmp/run.json.gz" >"$tmp/x2" 2>&1; s=$?
expect_status 0 $s "archive import"
expect_grep "imported .* as $tmp/elsewhere/$first/results.json" "$tmp/x2" "import names the new run"
"$bin" history --root "$tmp/elsewhere" >"$tmp/x3" 2>&1
expect_grep "^$first " "$tmp/x3" "history lists the imported run"
"$bin" archive import --root "$tmp/elsewhere" "$tmp/run.json.gz" >"$tmp/x4" 2>&1; s=$?
expect_status 1 $s "importing the same run twice"
expect_grep "is already in $tmp/elsewhere as $first (same content)" "$tmp/x4" "duplicate refused"
# A folder of committed archives imported again after a new one arrived: the present one skipped.
second=$(ls "$tmp/c/archive" | sed -n 2p)
"$bin" archive export --root "$tmp/c/archive" "$second" >"$tmp/run2.json.gz" 2>/dev/null
"$bin" archive import --root "$tmp/elsewhere" --skip-present "$tmp/run.json.gz" "$tmp/run2.json.gz" >"$tmp/x4b" 2>&1; s=$?
expect_status 0 $s "import --skip-present"
expect_grep "already in .*: skipped" "$tmp/x4b" "present run skipped"
expect_grep "imported .*run2.json.gz as $tmp/elsewhere/$second/results.json" "$tmp/x4b" "new run imported"
python3 -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[len(d)//2]^=0x20; open(sys.argv[2],'wb').write(d)" \
    "$tmp/run.json.gz" "$tmp/flipped.json.gz"
zcat "$tmp/run.json.gz" | sed '2s/"results"/"resultz"/' | gzip -n >"$tmp/edited.json.gz"
"$bin" archive import --root "$tmp/elsewhere2" "$tmp/flipped.json.gz" >"$tmp/x5" 2>&1; s=$?
expect_status 1 $s "a flipped byte"
expect_grep "flipped.json.gz: damaged" "$tmp/x5" "flipped byte refused"
"$bin" archive import --root "$tmp/elsewhere2" "$tmp/edited.json.gz" >"$tmp/x6" 2>&1; s=$?
expect_status 1 $s "an edited run"
expect_grep "edited.json.gz: modified or damaged" "$tmp/x6" "edit refused"
if [ ! -d "$tmp/elsewhere2" ] || [ -z "$(ls -A "$tmp/elsewhere2")" ]; then ok; else fail "a refused import wrote something"; fi
"$bin" archive export --root "$tmp/c/archive" no-such-run >/dev/null 2>"$tmp/x7"; s=$?
expect_status 1 $s "export of an unknown run"
expect_grep "unknown run 'no-such-run'" "$tmp/x7" "unknown run named"

# --- --stale renders without measuring; --measure-only measures without writing into out/ ----
# (the cache above holds one and two as they are now; one is edited)
entries() { ls "$tmp/c/cache" | wc -l; }
runs() { ls "$tmp/c/archive" | wc -l; }
cached_before=$(entries) runs_before=$(runs)
sed -i 's/values: \[1, 2, 3\]/values: [1, 2, 8]/' "$tmp/c/ch.md"
stale_run() { "$bin" report -f html --stale --cache "$tmp/c/cache" --archive "$tmp/c/archive" \
    --status-json "$tmp/c/status.json" -o "$tmp/c/out" "$tmp/c/ch.md" 2>"$1"; }
stale_run "$tmp/c8"; s=$?
expect_status 0 $s "--stale with a changed directive"
expect_grep 'class="experiment stale" id="result-one"' "$tmp/c/out/report.html" "the changed directive's box is marked stale"
expect_grep "the directive changed: this is its previous result, shown until the new one is measured" "$tmp/c/out/report.html" "the stale sentence"
expect_grep 'class="stale-tag">previous</sup>' "$tmp/c/out/report.html" "an inline value of the previous result is marked"
if grep -q 'class="experiment stale" id="result-two"' "$tmp/c/out/report.html"; then fail "an unchanged directive is marked stale"; else ok; fi
expect_grep "ch.md:5: one needs measuring (shown from its previous result)" "$tmp/c8" "--stale lists what needs measuring"
expect_grep '"state": "stale"' "$tmp/c/status.json" "--status-json lists the stale directive"
expect_grep '"exit": 0' "$tmp/c/status.json" "--status-json has the exit status"
if [ "$(entries)" = "$cached_before" ] && [ "$(runs)" = "$runs_before" ]; then ok
else fail "--stale changed the cache ($cached_before -> $(entries)) or the archive ($runs_before -> $(runs))"; fi
out_sum() { cat "$tmp/c/out/report.html" "$tmp/c/out/results.json" | cksum; }
out_before=$(out_sum)
"$bin" report --measure-only --cache "$tmp/c/cache" --archive "$tmp/c/archive" --save-results "$tmp/c/measured.json" \
    -o "$tmp/c/out" "$tmp/c/ch.md" 2>"$tmp/c9"; s=$?
expect_status 0 $s "--measure-only"
if [ "$(measured "$tmp/c9")" = 1 ]; then ok; else fail "--measure-only measured $(measured "$tmp/c9") experiments, expected 1"; fi
[ "$(out_sum)" = "$out_before" ] && ok || fail "--measure-only changed the output folder"
[ "$(entries)" = $((cached_before + 1)) ] && ok || fail "--measure-only did not add one cache entry"
[ "$(runs)" = $((runs_before + 1)) ] && ok || fail "--measure-only did not archive its run"
expect_grep '"id": "one"' "$tmp/c/measured.json" "--save-results wrote the run document"
stale_run "$tmp/c10"; s=$?
expect_status 0 $s "--stale after the measurement"
if grep -q 'class="experiment stale"' "$tmp/c/out/report.html"; then fail "still stale after the measurement"; else ok; fi
expect_grep '"pending": \[\]' "$tmp/c/status.json" "nothing left to measure"
"$bin" report --stale --measure-only "$tmp/c/ch.md" 2>"$tmp/c11"; s=$?
expect_status 1 $s "--stale with --measure-only"
expect_grep "do not go together" "$tmp/c11" "the clash is named"
"$bin" report -q --status-json "$tmp/c/bad.json" -o "$tmp/c/out" tests/e2e/bad/misspelled.md 2>/dev/null; s=$?
expect_status 1 $s "bad input with --status-json"
expect_grep "misspelled.md:3: unknown experiment 'acceleration.matmull'" "$tmp/c/bad.json" "--status-json holds the diagnostics"

# --- the matrix by kind of machine: an archive imported from another kind of machine is a column
# of its own beside this machine's --------------------------------------------------------------
"$bin" archive import --root "$tmp/c/archive" tests/fixtures/archive-export/other-machine.json.gz >"$tmp/c/imp" 2>&1; s=$?
expect_status 0 $s "importing another machine's archive"
cache_run "$tmp/c8"; s=$?
expect_status 0 $s "report after the import"
if [ "$(measured "$tmp/c8")" = 0 ]; then ok; else fail "the import made the report measure something"; fi
matrix_columns "$tmp/c/out/report.html" >"$tmp/c/matrix2"
if [ "$(head -n 1 "$tmp/c/matrix2" | tr '|' '\n' | wc -l)" = 2 ]; then ok; else fail "the imported machine is not a column of its own: $(cat "$tmp/c/matrix2")"; fi
# Columns come in the order their machines first appear in the archive (by stamp): either way round.
here_col=$(head -n 1 "$tmp/c/matrix1") here_host=$(sed -n 2p "$tmp/c/matrix1")
epyc_col="Fixture EPYC 9654 96-Core Processor · 16 cores · 128 GiB"
case "$(head -n 1 "$tmp/c/matrix2")" in
    "$here_col|$epyc_col"|"$epyc_col|$here_col") ok ;;
    *) fail "matrix columns are not this machine's and the imported one's: $(head -n 1 "$tmp/c/matrix2")" ;;
esac
case "$(sed -n 2p "$tmp/c/matrix2")" in
    "$here_host|epyc-lab"|"epyc-lab|$here_host") ok ;;
    *) fail "matrix hosts are not this machine's and epyc-lab: $(sed -n 2p "$tmp/c/matrix2")" ;;
esac

# --- SIGINT during a report: the previous report stays whole, finished results stay cached ----
mkdir -p "$tmp/i"
cat >"$tmp/i/ch.md" <<'MD'
# Interrupted

```experiment selftest.fixed
id: first
```

```experiment selftest.crash
id: stuck
mode: hang
timeout: 60
```
MD
mkdir -p "$tmp/i/out"; echo "previous report" >"$tmp/i/out/report.html"
"$bin" report -f html --cache "$tmp/i/cache" --archive "$tmp/i/archive" -o "$tmp/i/out" "$tmp/i/ch.md" 2>"$tmp/i1" &
pid=$!
# Interrupted while it holds the measurement lock, measuring the second (hanging) experiment.
says "$tmp/i1" "\[2/2\] stuck" || fail "the interrupted report never started its second experiment"
holds $pid || fail "the report measuring never held the measurement lock"
kill -INT $pid
wait $pid; s=$?
expect_status 130 $s "report interrupted by SIGINT"
expect_grep "interrupted; the previous report is untouched, and the 1 result measured so far is cached for the next run" \
    "$tmp/i1" "interruption reported, counting the one finished result (not the killed one)"
if lock_free; then ok; else fail "the measurement lock stayed held after SIGINT of a report"; fi
if [ "$(cat "$tmp/i/out/report.html")" = "previous report" ]; then ok; else fail "SIGINT changed the previous report"; fi
if ls -A "$tmp/i/out" | grep -q staging; then fail "SIGINT left a staging folder"; else ok; fi
if [ ! -d "$tmp/i/archive" ] || [ -z "$(ls -A "$tmp/i/archive")" ]; then ok; else fail "an interrupted run was archived"; fi
if pgrep -f "perfweave report -f html --cache $tmp/i/cache" >/dev/null; then fail "a process of the interrupted run survived"; else ok; fi
sed -i 's/mode: hang/mode: error/' "$tmp/i/ch.md"
"$bin" report -f html --cache "$tmp/i/cache" --archive "$tmp/i/archive" -o "$tmp/i/out" "$tmp/i/ch.md" 2>"$tmp/i2"
if [ "$(measured "$tmp/i2")" = 1 ]; then ok; else fail "re-run after SIGINT measured $(measured "$tmp/i2"), expected 1 (first was cached)"; fi

# --- perfweave run --json ---------------------------------------------------------------
"$bin" run selftest.fixed --json values=1,2,3 'claim=value >= 1' >"$tmp/run.json" 2>"$tmp/err7"; s=$?
expect_status 0 $s "run --json"
for key in '"experiment"' '"environment"' '"params"' '"metrics"' '"claims"' '"value.n4"' '"ci95"' '"unit"'; do
    expect_grep "$key" "$tmp/run.json" "run --json key $key"
done
"$bin" run selftest.fixd 2>"$tmp/err8"; s=$?
expect_status 1 $s "run with an unknown experiment"
expect_grep "did you mean 'selftest.fixed'" "$tmp/err8" "run suggestion"

# --- library baselines: the OpenBLAS core, BLIS, oneDNN, the sanity floor --------------------
# Nothing here depends on a timing: the weak core is forced, and a core without FMA on a CPU
# with AVX2 can never reach the floor whatever the clock does.
jval() { sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$2" | head -1; }
"$bin" run --json selftest.fixed values=1,2,3 >"$tmp/env.json" 2>"$tmp/env.err"; s=$?
expect_status 0 $s "run for the environment"
by=$(jval chosen_by "$tmp/env.json"); core=$(jval core "$tmp/env.json"); best=$(jval best "$tmp/env.json")
case "$by" in
    perfweave) if [ "$(jval took "$tmp/env.json")" = true ] && [ "$core" = "$best" ] && [ "$(jval detected "$tmp/env.json")" != "$core" ]; then ok
               else fail "perfweave chose core '$best' but OpenBLAS runs '$core' (took: $(jval took "$tmp/env.json"))"; fi ;;
    library) if [ "$(jval took "$tmp/env.json")" = true ]; then ok; else fail "the library's own core did not take"; fi ;;
    *) fail "OpenBLAS core chosen by '$by', expected perfweave or library (no OPENBLAS_CORETYPE set)" ;;
esac
if grep -q "warning" "$tmp/env.err"; then fail "core choice warned: $(cat "$tmp/env.err")"; else ok; fi
expect_grep '"cblas_sgemm": ".*openblas' "$tmp/env.json" "cblas_sgemm binds into OpenBLAS"
# OpenBLAS's other tuning variables are part of its record (and of the results' cache key)
OPENBLAS_L2_SIZE=4096 GOTO_NUM_THREADS=1 "$bin" run --json selftest.fixed values=1,2,3 >"$tmp/env-l2.json" 2>/dev/null
expect_grep '"OPENBLAS_L2_SIZE": "4096"' "$tmp/env-l2.json" "OPENBLAS_L2_SIZE recorded"
expect_grep '"GOTO_NUM_THREADS": "1"' "$tmp/env-l2.json" "GOTO_NUM_THREADS recorded"

"$bin" run --quick --json acceleration.matmul sizes=1024 variants=packed,openblas,blis,onednn >"$tmp/libs.json" 2>"$tmp/libs.err"; s=$?
expect_status 0 $s "matmul with every library"
for v in packed openblas blis onednn library; do
    expect_grep "\"gflops.$v.n1024\"" "$tmp/libs.json" "gflops.$v.n1024 published"
done
expect_grep '"speedup.packed_vs_library.n1024"' "$tmp/libs.json" "packed against the fastest library"
expect_grep '"arch": "' "$tmp/libs.json" "BLIS kernel set recorded"

# The library's speedup over the C loops (the promises are stated that way), its fraction of the
# roof, and the C loops against the scalar peak: each consistent with the metrics it derives from.
"$bin" run --quick --json acceleration.matmul sizes=64 variants=naive,blocked,openblas \
    >"$tmp/lib64.json" 2>"$tmp/lib64.err"; s=$?
expect_status 0 $s "matmul with the C loops and a library"
if python3 - "$tmp/lib64.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
def near(a, b): return abs(a - b) <= 1e-9 * max(abs(a), abs(b))
ok = True
for loop in ("naive", "blocked"):
    fwd, rev = m["speedup.library_vs_%s.n64" % loop], m["speedup.%s_vs_library.n64" % loop]
    # the same paired samples in the other direction: each estimate inside the other's reciprocal interval
    ok &= 1 / rev["ci95"][1] <= fwd["value"] * (1 + 1e-9) and fwd["value"] <= (1 + 1e-9) / rev["ci95"][0]
    g, s = m["gflops.%s.n64" % loop], m["peak.fma.scalar"]
    f = m["fraction_of_scalar_peak.%s.n64" % loop]
    ok &= near(f["value"], g["value"] / s["value"]) and near(f["ci95"][0], g["ci95"][0] / s["ci95"][1])
lib, pk, f = m["gflops.library.n64"], m["peak.fma"], m["fraction_of_peak.library.n64"]
ok &= near(f["value"], lib["value"] / pk["value"]) and near(f["ci95"][1], lib["ci95"][1] / pk["ci95"][0])
sys.exit(0 if ok else 1)
PY
then ok; else fail "library_vs_*, fraction_of_peak.library or fraction_of_scalar_peak inconsistent ($tmp/lib64.json)"; fi
# The roof was timed before and after the products; every fraction divides by the one kept.
expect_grep 'was timed twice, before and after the timed products' "$tmp/lib64.json" "the roof's two windows in a note"
expect_grep '"isa": "' "$tmp/libs.json" "oneDNN ISA recorded"

if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    OPENBLAS_CORETYPE=Prescott "$bin" run --quick --json acceleration.matmul sizes=256 variants=packed,openblas \
        'claim=speedup(packed, openblas) >= 1' >"$tmp/weak.json" 2>"$tmp/weak.err"; s=$?
    expect_status 0 $s "matmul on a forced weak core"
    if [ "$(jval chosen_by "$tmp/weak.json")" = user ] && [ "$(jval core "$tmp/weak.json")" = Prescott ]; then ok
    else fail "the user's OPENBLAS_CORETYPE=Prescott was not kept and reported (chosen_by $(jval chosen_by "$tmp/weak.json"), core $(jval core "$tmp/weak.json"))"; fi
    expect_grep "OPENBLAS_CORETYPE=Prescott from the environment is kept" "$tmp/weak.err" "user's core reported"
    # ...told only by commands that may time the library
    printf "1\n2\n" | OPENBLAS_CORETYPE=Prescott "$bin" stats >/dev/null 2>"$tmp/weak-stats.err"
    if [ -s "$tmp/weak-stats.err" ]; then fail "perfweave stats printed: $(cat "$tmp/weak-stats.err")"; else ok; fi
    expect_grep '"baseline_warnings"' "$tmp/weak.json" "baseline warning on a weak core"
    expect_grep 'OpenBLAS (core Prescott) is a handicapped baseline' "$tmp/weak.json" "warning names the library and core"
    expect_grep '"verdict": "UNDECIDED"' "$tmp/weak.json" "claim against the weak library undecided"
    expect_grep '"why": "baseline"' "$tmp/weak.json" "undecided for the baseline reason"
    # Pruning's dense passes are that library too: CSR against them decides nothing either.
    OPENBLAS_CORETYPE=Prescott "$bin" run --quick --json compression.prune parts=time sparsities=50,95 \
        methods=layer finetune_epochs=0 >"$tmp/weak-prune.json" 2>/dev/null; s=$?
    expect_status 0 $s "pruning on a forced weak core"
    if python3 - "$tmp/weak-prune.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["metrics"]
ok = (any("OpenBLAS (core Prescott) is a handicapped" in w for w in r.get("baseline_warnings", []))
      and all(m[k].get("undecidable", {}).get("why") == "baseline" for k in m if k.startswith("speedup.csr_vs_dense."))
      and not any("undecidable" in m[k] for k in m if k.startswith("speedup.structured_vs_dense.")))
sys.exit(0 if ok else 1)
PY
    then ok; else fail "CSR against a Prescott OpenBLAS not marked (or structured marked) in $tmp/weak-prune.json"; fi
    # ...and so is the matmul event's OpenBLAS submission: its speedup and score decide nothing.
    OPENBLAS_CORETYPE=Prescott "$bin" run --quick --json benchmarking.events event=matmul n=64 runs=2 \
        >"$tmp/weak-event.json" 2>/dev/null; s=$?
    expect_status 0 $s "the matmul event on a forced weak core"
    if python3 - "$tmp/weak-event.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
why = lambda k: m[k].get("undecidable", {}).get("why")
sys.exit(0 if why("score.openblas") == why("speedup.openblas_vs_naive") == "baseline" and why("score.packed") is None else 1)
PY
    then ok; else fail "the event's Prescott OpenBLAS score or speedup not marked, or packed's marked ($tmp/weak-event.json)"; fi
    # The same in a report: the warning at the top (HTML box above the contents, LaTeX after the
    # title, text before the claim table), in the experiment's box and in the claim's evidence.
    mkdir -p "$tmp/weak"
    cat >"$tmp/weak/ch.md" <<'MD'
# Weak baseline

```experiment acceleration.matmul
id: weak
sizes: [256]
variants: [packed, openblas]
claim: speedup(packed, openblas) >= 1
```

```experiment compression.prune
id: weak-prune
parts: [time]
sparsities: [50, 95]
methods: [layer]
finetune_epochs: 0
claim: speedup(csr, dense) > 1 where s >= 95
```
MD
    OPENBLAS_CORETYPE=Prescott "$bin" report -q --quick --no-cache --no-archive -f html,latex,text \
        -o "$tmp/weak/out" "$tmp/weak/ch.md" >"$tmp/weak/stdout" 2>"$tmp/weak/stderr"; s=$?
    expect_status 0 $s "report on a forced weak core"
    head=$(sed -n '1,/<nav class="toc"/p' "$tmp/weak/out/report.html")
    if printf '%s' "$head" | grep -q 'class="baseline-box"' && printf '%s' "$head" | grep -q 'OpenBLAS (core Prescott) is a handicapped baseline' \
        && printf '%s' "$head" | grep -q 'href="#result-weak"' && printf '%s' "$head" | grep -q 'href="#result-weak-prune"'; then ok
    else fail "the HTML has no baseline box above the contents linking to the experiment"; fi
    expect_grep 'class="warnings blocking baseline"' "$tmp/weak/out/report.html" "baseline warning in the experiment box"
    # A disturbed measurement (a busy shared machine) blocks the point first; either reason is
    # beside the claim, and the baseline box above it regardless.
    if grep -Eq 'undecided \((handicapped baseline|disturbed measurement)\)' "$tmp/weak/out/report.html"; then ok
    else fail "no blocking reason beside the claim in $tmp/weak/out/report.html"; fi
    if python3 - "$tmp/weak/out/results.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
r = next(x for x in doc["results"] if x["id"] == "weak-prune")
sys.exit(0 if r["claims"][0]["verdict"] == "UNDECIDED" else 1)
PY
    then ok; else fail "the pruning claim against a Prescott OpenBLAS was decided ($tmp/weak/out/results.json)"; fi
    expect_grep '^\\begin{pwbaselines}' "$tmp/weak/out/report.tex" "LaTeX baseline box after the title"
    expect_grep '^baseline: OpenBLAS (core Prescott) is a handicapped baseline' "$tmp/weak/stdout" "text baseline line"
fi

# --- the kernels this CPU runs, side by side, and the machine's ceilings --------------------
"$bin" run --quick --json acceleration.matmul sizes=64 variants=packed,openblas microkernels=portable \
    >"$tmp/mk.json" 2>"$tmp/err9"; s=$?
expect_status 0 $s "packed beside packed_portable"
for key in '"gflops.packed.n64"' '"gflops.packed_portable.n64"' '"peak.fma"' '"peak.fma.scalar"' \
    '"fraction_of_peak.packed_portable.n64"' 'portable: portable_6x16 microkernel' 'OpenBLAS core '; do
    expect_grep "$key" "$tmp/mk.json" "matmul --json has $key"
done
# A forced microkernel this CPU cannot run is an ERROR naming the reason, never a fallback
# under the forced name.  Which case applies depends on the machine the tests run on.
"$bin" run --quick --json acceleration.matmul sizes=16 variants=packed microkernel=avx512 \
    >"$tmp/mk5.json" 2>"$tmp/err10"; s=$?
if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && grep -qw avx512dq /proc/cpuinfo \
    && grep -qw avx512vl /proc/cpuinfo; then
    expect_status 0 $s "forced avx512 on an AVX-512 CPU"
    expect_grep 'avx512: avx512_[0-9]*x[0-9]* microkernel' "$tmp/mk5.json" "forced avx512 runs the avx512 kernel"
else
    expect_status 2 $s "forced avx512 on a CPU without it"
    expect_grep 'the avx512 microkernel cannot run here' "$tmp/mk5.json" "forced avx512 refused with the reason"
fi
"$bin" run --quick --json machine.ceilings parts=fma,bandwidth triad_mib=64 >"$tmp/ceil.json" 2>"$tmp/err11"; s=$?
expect_status 0 $s "machine.ceilings"
for key in '"peak.fma"' '"peak.fma.scalar"' '"bandwidth.triad.dram"' '"bandwidth.triad.l2"' \
    '"ridge.dram"' '"cpus.cores"' '"roofline"'; do
    expect_grep "$key" "$tmp/ceil.json" "machine.ceilings has $key"
done

# --- quantization.mlp and compression.prune: what chapters 17 and 18 read ------------------
# Values are checked against what they derive from or against the int8 format's own bound, never
# against a timing.  Which integer kernels and roofs exist depends on the CPU.
"$bin" run --quick --json quantization.mlp batches=1,32 >"$tmp/quant.json" 2>"$tmp/err12"; s=$?
expect_status 0 $s "quantization.mlp"
python3 - "$tmp/quant.json" >"$tmp/quant.check" 2>&1 <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
r = doc["results"][0] if "results" in doc else doc
m = r["metrics"]
def need(name):
    if name not in m: print("missing", name); return None
    return m[name]
def close(a, b): return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-30)
for l in (1, 2, 3):
    x = need("roundtrip.weights.l%d" % l)
    # round to nearest with a row scale of max|w|/127: |error| <= max|w|/254 <= range/254
    if x and not (x["ci95"] == [x["value"], x["value"]] and 0 < x["value"] <= 1 / 254):
        print("roundtrip.weights.l%d outside (0, 1/254] or not exact: %r" % (l, x))
for name in ("roundtrip.logits", "roundtrip.act_minmax.l2", "roundtrip.act_percentile.l3"):
    need(name)
peak = need("peak.fma")
# the int8 roof is the widest int8 unit (AMX tiles, else the widest vpdpbusd); the vector roof
# is kept apart for fraction_of_vector_peak
vec8 = m.get("peak.int8.vnni512") or m.get("peak.int8.vnni256")
int8 = m.get("peak.int8.amx") or vec8
for b in (1, 32):
    g, f = need("gops.sgemm.b%d" % b), need("fraction_of_peak.sgemm.b%d" % b)
    if peak and g and f and not (close(f["value"], g["value"] / peak["value"])
                                 and close(f["ci95"][0], g["ci95"][0] / peak["ci95"][1])
                                 and close(f["ci95"][1], g["ci95"][1] / peak["ci95"][0])):
        print("fraction_of_peak.sgemm.b%d is not gops.sgemm over peak.fma" % b)
    for k in ("portable", "avx2", "avxvnni", "avx512vnni", "amx"):
        g, f = m.get("gops.qgemm_%s.b%d" % (k, b)), m.get("fraction_of_peak.qgemm_%s.b%d" % (k, b))
        if g and int8 and not (f and close(f["value"], g["value"] / int8["value"])):
            print("fraction_of_peak.qgemm_%s.b%d is not its gops over the int8 peak" % (k, b))
        if f and not int8: print("fraction_of_peak.qgemm_%s.b%d without an int8 peak" % (k, b))
    if bool(int8) != ("fraction_of_peak.qgemm.b%d" % b in m):
        print("fraction_of_peak.qgemm.b%d %s" % (b, "missing beside an int8 peak" if int8 else "published without an int8 peak"))
    g, f = m.get("gops.onednn_int8.b%d" % b), m.get("fraction_of_vector_peak.onednn_int8.b%d" % b)
    if g and vec8 and not (f and close(f["value"], g["value"] / vec8["value"])):
        print("fraction_of_vector_peak.onednn_int8.b%d is not its gops over the vector int8 peak" % b)
    vnni = any("gops.qgemm_%s.b%d" % (k, b) in m for k in ("avxvnni", "avx512vnni"))
    want = vnni and "gops.qgemm_avx2.b%d" % b in m
    if want != ("speedup.qgemm_vnni_vs_qgemm_avx2.b%d" % b in m):
        print("speedup.qgemm_vnni_vs_qgemm_avx2.b%d: published %s, expected %s" % (b, not want, want))
    want = vnni and "gops.qgemm_amx.b%d" % b in m
    if want != ("speedup.qgemm_amx_vs_qgemm_vnni.b%d" % b in m):
        print("speedup.qgemm_amx_vs_qgemm_vnni.b%d: published %s, expected %s" % (b, not want, want))
for name in ("accuracy.fp32", "accuracy.int8", "drop.accuracy.int8_vs_fp32", "agreement.int8_vs_fp32"):
    if name in m and "fixed_sample" not in m[name]: print(name, "not marked fixed_sample")
cols = {t["name"]: t["columns"] for t in r["tables"]}
if "fraction of roof" not in cols.get("gemm", []): print("gemm table lacks 'fraction of roof'")
if "mean |error| / range" not in cols.get("roundtrip", []): print("roundtrip table lacks the mean error over the range")
PY
if [ -s "$tmp/quant.check" ]; then fail "quantization.mlp metrics: $(cat "$tmp/quant.check")"; else ok; fi
# Where this CPU has AMX tiles, the model's kernel is amx, and a oneDNN kept off them
# (ONEDNN_MAX_CPU_ISA) is a handicapped int8 anchor: named, and deciding no claim.
if grep -qw amx_int8 /proc/cpuinfo && grep -q '"gops.qgemm_amx.b32"' "$tmp/quant.json"; then
    expect_grep 'amx GEMM kernel' "$tmp/quant.json" "the model's kernel is amx on an AMX CPU"
    ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI "$bin" run --quick --json quantization.mlp batches=32 \
        'claim=speedup(qgemm, onednn) >= 0.8' >"$tmp/quant-noamx.json" 2>"$tmp/err12b"; s=$?
    expect_status 0 $s "quantization.mlp with oneDNN kept off AMX"
    expect_grep "not the AMX tiles this CPU has" "$tmp/quant-noamx.json" "a oneDNN kept off AMX is named handicapped"
    expect_grep '"why": "baseline"' "$tmp/quant-noamx.json" "claim against it undecided for the baseline reason"
    # PERFWEAVE_NO_AMX: the same CPU measured as one without AMX (the path of every other CPU):
    # the model's kernel is a vector one, no AMX peak or kernel, the grant recorded as refused.
    PERFWEAVE_NO_AMX=1 "$bin" run --quick --json quantization.mlp batches=32 >"$tmp/quant-offamx.json" \
        2>"$tmp/err12c"; s=$?
    expect_status 0 $s "quantization.mlp with PERFWEAVE_NO_AMX"
    expect_grep 'avx512vnni GEMM kernel' "$tmp/quant-offamx.json" "the model's kernel is avx512vnni without AMX"
    expect_grep 'Integer kernels not run here: amx (PERFWEAVE_NO_AMX is set' "$tmp/quant-offamx.json" "the amx kernel named as not run, with why"
    if grep -q '"peak.int8.amx"\|"gops.qgemm_amx' "$tmp/quant-offamx.json"; then
        fail "an AMX peak or kernel was measured with PERFWEAVE_NO_AMX"
    else ok; fi
    expect_grep '"granted": false' "$tmp/quant-offamx.json" "the environment records the grant as refused"
fi

"$bin" run --quick --json compression.prune parts=accuracy,time finetune_epochs=0 sparsities=50 \
    neurons=25 batch=1 >"$tmp/prune.json" 2>"$tmp/err13"; s=$?
expect_status 0 $s "compression.prune at batch 1"
expect_grep 'dense is one OpenBLAS sgemv per layer (core ' "$tmp/prune.json" "prune note names the dense call and the OpenBLAS core"
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    expect_grep 'CSR × dense kernel (its AVX2/FMA path)' "$tmp/prune.json" "prune note names the CSR path"
else
    expect_grep 'CSR × dense kernel (its portable C path' "$tmp/prune.json" "prune note names the CSR path"
fi
expect_grep '"dense sgemv"' "$tmp/prune.json" "batch-1 dense row named sgemv"
python3 - "$tmp/prune.json" >"$tmp/prune.check" 2>&1 <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
r = doc["results"][0] if "results" in doc else doc
for name in ("accuracy.dense", "accuracy.layer.s50", "drop.accuracy.layer_vs_dense.s50"):
    if "fixed_sample" not in r["metrics"].get(name, {}): print(name, "missing or not marked fixed_sample")
PY
if [ -s "$tmp/prune.check" ]; then fail "compression.prune metrics: $(cat "$tmp/prune.check")"; else ok; fi

# --- the measurement lock: one measurement at a time ---------------------------------------
json_num() { sed -n "s/.*\"$1\": \([0-9.e+-]*\).*/\1/p" "$2" | head -1; }

"$bin" run --json selftest.spin seconds=1.5 >"$tmp/l1.json" 2>"$tmp/l1.err" &
p1=$!
if holds $p1; then ok; else fail "the first run never recorded itself in the lock"; fi
"$bin" run --json selftest.spin seconds=0.3 >"$tmp/l2.json" 2>"$tmp/l2.err"; s2=$?
wait $p1; s1=$?
expect_status 0 $s1 "first of two concurrent runs"
expect_status 0 $s2 "second of two concurrent runs"
expect_grep "waiting for the measurement lock $lockfile, held by pid $p1 (.*selftest.spin seconds=1.5" "$tmp/l2.err" "the waiting run names the holder"
expect_grep "measurement lock taken after waiting" "$tmp/l2.err" "the waiting run says when it got the lock"
for f in l1 l2; do expect_grep '"rate.spin"' "$tmp/$f.json" "$f measured its metric"; done
end1=$(json_num finished_at "$tmp/l1.json"); start2=$(json_num started_at "$tmp/l2.json")
if [ -n "$end1" ] && [ -n "$start2" ] && awk "BEGIN { exit !($end1 <= $start2) }"; then ok
else fail "the two measurements overlap (first ended at '$end1', second started at '$start2')"; fi

# --no-wait fails at once with exit status 4 and names the holder; SIGINT while waiting ends the
# waiter with 130 and prints nothing on stdout.
"$bin" run selftest.spin seconds=3 >/dev/null 2>&1 &
p3=$!
holds $p3 || fail "the holder never recorded itself in the lock"
"$bin" run --no-wait selftest.fixed >"$tmp/nw.out" 2>"$tmp/nw.err"; s=$?
expect_status 4 $s "run --no-wait while the lock is held"
expect_grep "the measurement lock $lockfile is held by pid $p3 (.*selftest.spin seconds=3.*; not waiting (--no-wait)" "$tmp/nw.err" "--no-wait message"
if [ -s "$tmp/nw.out" ]; then fail "--no-wait printed results"; else ok; fi
"$bin" run --max-wait 0.3 selftest.fixed >/dev/null 2>"$tmp/mw.err"; s=$?
expect_status 4 $s "run --max-wait 0.3 while the lock is held"
expect_grep "still held after waiting 0\.[0-9] s, held by pid $p3 .*; giving up" "$tmp/mw.err" "--max-wait message"
"$bin" run selftest.fixed >"$tmp/w.out" 2>"$tmp/w.err" &
p4=$!
says "$tmp/w.err" "waiting for the measurement lock" || fail "the second run never said it waits"
kill -INT $p4
wait $p4; s=$?
expect_status 130 $s "SIGINT while waiting for the lock"
expect_grep "interrupted while waiting for the measurement lock" "$tmp/w.err" "SIGINT while waiting: message"
if [ -s "$tmp/w.out" ]; then fail "an interrupted waiter printed results"; else ok; fi
wait $p3

# SIGINT while holding: exit 130, nothing printed, the lock free at once (and no child left);
# SIGKILL of a holder frees it too (flock; its child dies with it).
for sig in INT KILL; do
    "$bin" run selftest.spin seconds=20 >"$tmp/h.out" 2>/dev/null &
    p5=$!
    holds $p5 || fail "the holder never recorded itself in the lock ($sig)"
    kill -$sig $p5
    wait $p5 2>/dev/null; s=$?
    [ $sig = INT ] && expect_status 130 $s "SIGINT while holding the lock"
    [ $sig = KILL ] && expect_status 137 $s "SIGKILL while holding the lock"
    if [ -s "$tmp/h.out" ]; then fail "an interrupted holder printed results"; else ok; fi
    i=0; while [ $i -lt 50 ] && ! "$bin" run --no-wait selftest.fixed >/dev/null 2>"$tmp/after.err"; do sleep 0.1; i=$((i + 1)); done
    if [ $i -lt 50 ]; then ok; else fail "the lock stayed held after SIG$sig of its holder: $(cat "$tmp/after.err")"; fi
done

# --- the measurement lock in reports --------------------------------------------------------
# Two reports at once, each with its own cache so that both must measure: the second waits and
# names the first; both are complete, and no two measurements overlap in time.
mkdir -p "$tmp/r"
for n in a b; do
    cat >"$tmp/r/$n.md" <<MD
# Lock $n

Measured: \`=$n-one.rate.spin\`.

\`\`\`experiment selftest.spin
id: $n-one
seconds: $([ $n = a ] && echo 2 || echo 0.5)
\`\`\`

\`\`\`experiment selftest.spin
id: $n-two
seconds: 0.3
\`\`\`

\`\`\`experiment selftest.fixed
id: $n-three
\`\`\`
MD
done
# Only selftest.fixed, which a measurement of milliseconds never marks disturbed: always cached.
cat >"$tmp/r/c.md" <<'MD'
# From the cache

```experiment selftest.fixed
id: c-one
```

```experiment selftest.fixed
id: c-two
values: [3, 4, 5]
```
MD
lrep() { # chapter name [options…]: a report in that chapter's own cache, archive and output
    n=$1; shift
    "$bin" report -f html --cache "$tmp/r/cache-$n" --archive "$tmp/r/arch-$n" -o "$tmp/r/out-$n" "$@" "$tmp/r/$n.md"
}
lrep_bg() { # stderr-file chapter [options…]: lrep in the background, $! the report's own pid
    e=$1 n=$2; shift 2
    "$bin" report -f html --cache "$tmp/r/cache-$n" --archive "$tmp/r/arch-$n" -o "$tmp/r/out-$n" "$@" "$tmp/r/$n.md" 2>"$e" &
}
lrep_bg "$tmp/r/a.err" a
pa=$!
holds $pa || fail "the first report never took the measurement lock"
lrep b 2>"$tmp/r/b.err"; sb=$?
wait $pa; sa=$?
expect_status 0 $sa "first of two concurrent reports"
expect_status 0 $sb "second of two concurrent reports"
expect_grep "waiting for the measurement lock $lockfile, held by pid $pa (.*report -f html .*a\.md" "$tmp/r/b.err" "the waiting report names the holder"
expect_grep "measurement lock taken after waiting" "$tmp/r/b.err" "the waiting report says when it got the lock"
if grep -q "waiting for the measurement lock" "$tmp/r/a.err"; then fail "the first report waited"; else ok; fi
for n in a b; do
    if [ "$(measured "$tmp/r/$n.err")" = 3 ]; then ok; else fail "report $n measured $(measured "$tmp/r/$n.err") experiments, expected 3"; fi
    for id in one two three; do expect_grep "id=\"result-$n-$id\"" "$tmp/r/out-$n/report.html" "report $n shows $n-$id"; done
    expect_grep '<span class="measured"' "$tmp/r/out-$n/report.html" "report $n has its inline value"
done
# Every measured interval [started_at, finished_at] of one report against every one of the other.
intervals() { awk -v tag="$2" '
    /"started_at":/  { v = $2; sub(/,$/, "", v); s = v }
    /"finished_at":/ { v = $2; sub(/,$/, "", v); f = v }
    s != "" && f != "" { print tag, s, f; s = ""; f = "" }' "$1"; }
{ intervals "$tmp/r/out-a/results.json" a; intervals "$tmp/r/out-b/results.json" b; } >"$tmp/r/intervals"
if [ "$(awk '$1 == "a"' "$tmp/r/intervals" | wc -l)" = 3 ] && [ "$(awk '$1 == "b"' "$tmp/r/intervals" | wc -l)" = 3 ]; then ok
else fail "expected 3 measured intervals per report: $(cat "$tmp/r/intervals")"; fi
overlaps=$(awk '{ tag[NR] = $1; s[NR] = $2; f[NR] = $3 }
    END { for (i = 1; i <= NR; i++) for (j = 1; j <= NR; j++)
              if (tag[i] == "a" && tag[j] == "b" && s[i] < f[j] && s[j] < f[i]) print tag[i], s[i], f[i], "overlaps", tag[j], s[j], f[j] }' "$tmp/r/intervals")
if [ -z "$overlaps" ]; then ok; else fail "measurements of two reports overlap: $overlaps"; fi

# A report rendered entirely from the cache never waits for the lock: filled first, then run
# with --no-wait (which would fail at once if it wanted the lock) while another process holds it.
lrep c 2>"$tmp/r/c1.err"; s=$?
expect_status 0 $s "cold report of selftest.fixed experiments"
"$bin" run selftest.spin seconds=30 >/dev/null 2>&1 &
ph=$!
holds $ph || fail "the holder run never recorded itself in the lock"
lrep c --no-wait 2>"$tmp/r/c2.err"; s=$?
expect_status 0 $s "report from the cache while another process holds the lock"
if [ "$(measured "$tmp/r/c2.err")" = 0 ]; then ok; else fail "the cached report measured $(measured "$tmp/r/c2.err")"; fi
if grep -q "measurement lock" "$tmp/r/c2.err"; then fail "the cached report mentioned the lock: $(cat "$tmp/r/c2.err")"; else ok; fi

# --no-wait with something to measure: exit 4, the holder named, nothing written, the previous
# report whole.
before_a=$(snapshot "$tmp/r/out-a")
lrep a --no-wait --rerun a-two 2>"$tmp/r/nw.err"; s=$?
expect_status 4 $s "report --no-wait while the lock is held"
expect_grep "the measurement lock $lockfile is held by pid $ph (.*selftest.spin seconds=30.*; not waiting (--no-wait)" "$tmp/r/nw.err" "report --no-wait names the holder"
expect_grep "nothing was measured or written; the previous report is untouched" "$tmp/r/nw.err" "report --no-wait says nothing was written"
if [ "$(snapshot "$tmp/r/out-a")" = "$before_a" ]; then ok; else fail "report --no-wait changed the previous report"; fi
if ls -A "$tmp/r/out-a" | grep -q staging; then fail "report --no-wait left a staging folder"; else ok; fi
lrep a --max-wait 0.3 --rerun a-two 2>"$tmp/r/mw.err"; s=$?
expect_status 4 $s "report --max-wait 0.3 while the lock is held"
expect_grep "still held after waiting 0\.[0-9] s, held by pid $ph .*; giving up" "$tmp/r/mw.err" "report --max-wait message"

# SIGINT while waiting: exit 130, the previous report whole, no staging folder, no process left.
lrep_bg "$tmp/r/wi.err" a --rerun all
pw=$!
says "$tmp/r/wi.err" "waiting for the measurement lock" || fail "the second report never said it waits"
kill -INT $pw
wait $pw; s=$?
expect_status 130 $s "SIGINT while a report waits for the lock"
expect_grep "interrupted while waiting for the measurement lock" "$tmp/r/wi.err" "SIGINT while waiting: message"
if [ "$(snapshot "$tmp/r/out-a")" = "$before_a" ]; then ok; else fail "SIGINT while waiting changed the previous report"; fi
if ls -A "$tmp/r/out-a" | grep -q staging; then fail "SIGINT while waiting left a staging folder"; else ok; fi
if pgrep -f "report -f html --cache $tmp/r/cache-a" >/dev/null; then fail "a process of the interrupted waiter survived"; else ok; fi
kill -INT $ph; wait $ph

# SIGINT while holding: exit 130, the previous report whole, no staging folder, no process (nor
# experiment child) left, and the lock free at once.
sed -i 's/^seconds: 2$/seconds: 30/' "$tmp/r/a.md"
lrep_bg "$tmp/r/hi.err" a
pw=$!
holds $pw || fail "the report never took the lock"
says "$tmp/r/hi.err" "\] a-one (selftest.spin)" || fail "the report never started measuring"
kill -INT $pw
wait $pw; s=$?
expect_status 130 $s "SIGINT while a report holds the lock"
if [ "$(snapshot "$tmp/r/out-a")" = "$before_a" ]; then ok; else fail "SIGINT while holding changed the previous report"; fi
if ls -A "$tmp/r/out-a" | grep -q staging; then fail "SIGINT while holding left a staging folder"; else ok; fi
if pgrep -f "report -f html --cache $tmp/r/cache-a" >/dev/null; then fail "a process of the interrupted holder survived"; else ok; fi
if lock_free; then ok; else fail "the lock stayed held after SIGINT of the report holding it"; fi

# --- contention: a busy co-runner on the measuring CPU -------------------------------------
cpu=$(($(nproc) - 1))
taskset -c $cpu sh -c 'while :; do :; done' &
spinner=$!
PERFWEAVE_CPU=$cpu "$bin" run --quick --json selftest.spin seconds=1 'claim=rate.spin > 0' >"$tmp/busy.json" 2>"$tmp/busy.err"; s=$?
kill $spinner; wait $spinner 2>/dev/null
expect_status 0 $s "run with a co-runner on the measuring CPU"
expect_grep "\"cpu\": $cpu," "$tmp/busy.json" "measured on the CPU named by PERFWEAVE_CPU"
expect_grep '"disturbed": "contention during the measurement: .*other tasks used' "$tmp/busy.json" "result marked disturbed"
expect_grep '"contention": {' "$tmp/busy.json" "contention readings published"
expect_grep '"verdict": "UNDECIDED"' "$tmp/busy.json" "its claim is undecided"
expect_grep '"why": "disturbed"' "$tmp/busy.json" "undecided because disturbed"

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
