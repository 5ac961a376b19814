#!/bin/sh
# End-to-end tests of the perfweave command: bad input (file:line messages, exit 1, nothing
# written and the previous report intact), crashing experiments (ERROR, report still written,
# exit 2), a real --quick report checked in headless Chromium (the DOM holds the table and the
# SVG chart) and by pdfinfo (the fixture PDF has the expected page count), the plain-text format
# on stdout, and `run --json`.
# Nothing here judges a timing.
set -u
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.." || exit 1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect_status() { # expected actual what
    if [ "$1" -eq "$2" ]; then ok; else fail "$3: exit status $2, expected $1"; fi
}
expect_grep() { # pattern file what
    if grep -q -- "$1" "$2"; then ok; else fail "$3: '$1' not in $2"; sed 's/^/    /' "$2" | head -20 >&2; fi
}

# --- a previous report that bad input must leave intact -----------------------------------
mkdir -p "$tmp/out"
echo "previous report" >"$tmp/out/report.html"
before=$(ls -A "$tmp/out" | sort | tr '\n' ' ')

"$bin" report -q -o "$tmp/out" tests/e2e/bad/misspelled.md 2>"$tmp/err1"; s=$?
expect_status 1 $s "misspelled experiment"
expect_grep "tests/e2e/bad/misspelled.md:3: unknown experiment 'acceleration.matmull' (did you mean 'acceleration.matmul'?)" "$tmp/err1" "misspelled message"

"$bin" report -q -o "$tmp/out" tests/e2e/bad/badvalue.md 2>"$tmp/err2"; s=$?
expect_status 1 $s "malformed values"
expect_grep "badvalue.md:5: 'sizes' expects a number, not 'two'" "$tmp/err2" "non-numeric list element"
expect_grep "badvalue.md:6: unknown key 'spred' for selftest.fixed (did you mean 'spread'?)" "$tmp/err2" "unknown key"
expect_grep "badvalue.md:7: claim" "$tmp/err2" "malformed claim"
expect_grep "badvalue.md:10: unknown result id 'nothing'" "$tmp/err2" "unknown reference id"

"$bin" report -q -o "$tmp/out" tests/e2e/bad/badmetric.md 2>"$tmp/err3"; s=$?
expect_status 1 $s "unknown metric"
expect_grep "badmetric.md:7: result 'fine' has no metric 'valeu.n1' (did you mean 'value.n1'?)" "$tmp/err3" "unknown metric message"

"$bin" report -q -o "$tmp/out" tests/e2e/bad/missing-file.md 2>"$tmp/err4"; s=$?
expect_status 1 $s "missing chapter"
expect_grep "missing-file.md: cannot read chapter" "$tmp/err4" "missing chapter message"

after=$(ls -A "$tmp/out" | sort | tr '\n' ' ')
if [ "$before" = "$after" ] && [ "$(cat "$tmp/out/report.html")" = "previous report" ]; then ok
else fail "bad input changed the output folder: before '$before' after '$after'"; fi

# --- experiments that crash, hang or run out of memory -------------------------------------
"$bin" report -q -f html -o "$tmp/crash" tests/e2e/bad/crash.md 2>"$tmp/err5"; s=$?
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
    -o "$tmp/fixture" tests/golden/chapters/*.md 2>/dev/null
pages=$(pdfinfo "$tmp/fixture/report.pdf" 2>/dev/null | sed -n 's/^Pages: *//p')
if [ "${pages:-0}" -eq 7 ]; then ok; else fail "fixture PDF has ${pages:-no} pages, expected 7"; fi

# --- the plain-text format: report.txt, printed on stdout too (the output for a CI log) -----
SOURCE_DATE_EPOCH=1767225600 "$bin" report -q -f text --replay tests/golden/results.json \
    -o "$tmp/text" tests/golden/chapters/*.md >"$tmp/text.out" 2>"$tmp/text.err"; s=$?
expect_status 2 $s "text report of the fixture (one ERROR result)"
if cmp -s "$tmp/text.out" "$tmp/text/report.txt"; then ok; else fail "-f text did not print report.txt on stdout"; fi
expect_grep "^9 claims: 3 PASS, 2 PARTIAL, 0 FAIL, 3 UNDECIDED, 1 ERROR$" "$tmp/text.out" "text verdict counts"
expect_grep "^baseline: FastLib (core Old) is a handicapped baseline" "$tmp/text.out" "text baseline warning above the claims"
expect_grep "^When an experiment fails  broken  value >= 1  *ERROR  *the experiment failed" "$tmp/text.out" "text claim row"
if [ -e "$tmp/text/report.html" ] || [ -e "$tmp/text/report.tex" ]; then fail "-f text wrote another format"; else ok; fi
# A text-only run over a full report adds report.txt and leaves the others and their figures.
"$bin" report -q --quick --frozen -f text --cache "$tmp/cache0" -o "$tmp/quick" tests/e2e/chapters/01-small.md \
    >/dev/null 2>"$tmp/text2.err"; s=$?
expect_status 0 $s "text report over the quick report"
for f in report.txt report.html report.tex figures/e2e-matmul-gflops.svg figures/e2e-matmul-gflops.pdf; do
    if [ -s "$tmp/quick/$f" ]; then ok; else fail "after a text-only run the quick report lacks $f"; fi
done
"$bin" report -q -f txt -o "$tmp/text3" tests/golden/chapters/01-demo.md 2>"$tmp/text3.err"; s=$?
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
# before the edit); the matrix shows the newest run of each machine.
if [ -s "$tmp/c/out/figures/history-1.svg" ] && [ "$(grep -c . "$tmp/c/out/figures/history-1.dat")" -ge 4 ]; then ok
else fail "history chart missing or short"; fi
expect_grep "on every machine in the archive" "$tmp/c/out/report.html" "hardware matrix table"

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
sleep 2
kill -INT $pid
wait $pid; s=$?
expect_status 130 $s "report interrupted by SIGINT"
expect_grep "interrupted" "$tmp/i1" "interruption reported"
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

"$bin" run --quick --json acceleration.matmul sizes=1024 variants=packed,openblas,blis,onednn >"$tmp/libs.json" 2>"$tmp/libs.err"; s=$?
expect_status 0 $s "matmul with every library"
for v in packed openblas blis onednn library; do
    expect_grep "\"gflops.$v.n1024\"" "$tmp/libs.json" "gflops.$v.n1024 published"
done
expect_grep '"speedup.packed_vs_library.n1024"' "$tmp/libs.json" "packed against the fastest library"
expect_grep '"arch": "' "$tmp/libs.json" "BLIS kernel set recorded"
expect_grep '"isa": "' "$tmp/libs.json" "oneDNN ISA recorded"

if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    OPENBLAS_CORETYPE=Prescott "$bin" run --quick --json acceleration.matmul sizes=256 variants=packed,openblas \
        'claim=speedup(packed, openblas) >= 1' >"$tmp/weak.json" 2>"$tmp/weak.err"; s=$?
    expect_status 0 $s "matmul on a forced weak core"
    if [ "$(jval chosen_by "$tmp/weak.json")" = user ] && [ "$(jval core "$tmp/weak.json")" = Prescott ]; then ok
    else fail "the user's OPENBLAS_CORETYPE=Prescott was not kept and reported (chosen_by $(jval chosen_by "$tmp/weak.json"), core $(jval core "$tmp/weak.json"))"; fi
    expect_grep "OPENBLAS_CORETYPE=Prescott from the environment is kept" "$tmp/weak.err" "user's core reported"
    expect_grep '"baseline_warnings"' "$tmp/weak.json" "baseline warning on a weak core"
    expect_grep 'OpenBLAS (core Prescott) is a handicapped baseline' "$tmp/weak.json" "warning names the library and core"
    expect_grep '"verdict": "UNDECIDED"' "$tmp/weak.json" "claim against the weak library undecided"
    expect_grep '"why": "baseline"' "$tmp/weak.json" "undecided for the baseline reason"
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
MD
    OPENBLAS_CORETYPE=Prescott "$bin" report -q --quick --no-cache --no-archive -f html,latex,text \
        -o "$tmp/weak/out" "$tmp/weak/ch.md" >"$tmp/weak/stdout" 2>"$tmp/weak/stderr"; s=$?
    expect_status 0 $s "report on a forced weak core"
    head=$(sed -n '1,/<nav class="toc"/p' "$tmp/weak/out/report.html")
    if printf '%s' "$head" | grep -q 'class="baseline-box"' && printf '%s' "$head" | grep -q 'OpenBLAS (core Prescott) is a handicapped baseline' \
        && printf '%s' "$head" | grep -q 'href="#result-weak"'; then ok
    else fail "the HTML has no baseline box above the contents linking to the experiment"; fi
    expect_grep 'class="warnings blocking baseline"' "$tmp/weak/out/report.html" "baseline warning in the experiment box"
    expect_grep 'undecided (handicapped baseline)' "$tmp/weak/out/report.html" "the reason beside the claim"
    expect_grep '^\\begin{pwbaselines}' "$tmp/weak/out/report.tex" "LaTeX baseline box after the title"
    expect_grep '^baseline: OpenBLAS (core Prescott) is a handicapped baseline' "$tmp/weak/stdout" "text baseline line"
fi

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
