#!/bin/sh
# The Slurm end-to-end test: starts a real one-node cluster (cluster.sh, as root; skipped with the
# reason otherwise), runs directives through it as a user would (`perfweave run --slurm`,
# `perfweave slurm check`, `perfweave report --slurm`) and stops every daemon it started.
# Checks: a result comes back with its job id and `source: slurm` and the node's environment; two
# partitions on the one node are the same kind of machine; a quick report through Slurm renders
# the same chapters as a local one, and two partitions on the one node make one matrix column
# listing both; the job's perfweave takes the node's measurement lock and the submitting one none
# (the node is this machine: no deadlock); a crashing directive is ERROR with the job state; a
# job past its time limit is ERROR with TIMEOUT; SIGINT cancels the job (run) and every queued job
# (report: none left, exit 130, the previous report whole); an unreachable controller, a missing
# configuration and an unknown partition are clear errors before anything is submitted.
# Nothing here judges a timing.
set -u
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.." || exit 1
tmp=$(mktemp -d)
chmod 0711 "$tmp"  # munged wants the folders above its socket searchable by all
# A private measurement lock (it travels to the node with the job): the suite must neither wait
# for nor block a measurement elsewhere on this machine.
PERFWEAVE_LOCK="$tmp/measure.lock"; export PERFWEAVE_LOCK
. "$here/../lib.sh"
json_get() { # file python-expression-on-d
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}

"$here/cluster.sh" start "$tmp/cluster" >"$tmp/env" 2>"$tmp/start.err"; s=$?
if [ $s -eq 77 ]; then
    sed 's/^/slurm e2e: /' "$tmp/start.err" >&2
    echo "slurm e2e: SKIPPED (no cluster could be started; see the reason above)"
    rm -rf "$tmp"
    exit 0
fi
if [ $s -ne 0 ]; then
    cat "$tmp/start.err" >&2
    echo "slurm e2e: the test cluster did not start" >&2
    rm -rf "$tmp"
    exit 1
fi
. "$tmp/env"
cleanup() {
    "$here/cluster.sh" stop "$tmp/cluster" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
work="$tmp/work"
run() { "$bin" run --slurm-dir "$work" "$@"; }

# --- the cluster itself: a trivial job completes ----------------------------------------------
id=$(sbatch --parsable -p pw-b -o "$tmp/trivial.out" --wrap 'echo hello from $(hostname)' 2>"$tmp/e0")
n=0
while [ "$(squeue -h -t all -j "$id" -o %T 2>/dev/null)" != COMPLETED ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
if [ -n "$id" ] && grep -q "hello from" "$tmp/trivial.out" 2>/dev/null; then ok
else fail "a trivial sbatch job did not complete (job '$id'): $(cat "$tmp/e0")"; fi

# --- before anything is submitted: clear errors ----------------------------------------------
sed 's/^SlurmctldPort=.*/SlurmctldPort=1/' "$SLURM_CONF" >"$tmp/unreachable.conf"
SLURM_CONF="$tmp/unreachable.conf" run --slurm pw-a selftest.fixed >"$tmp/o1" 2>"$tmp/e1"; s=$?
expect_status 1 $s "unreachable controller"
expect_grep "cannot reach the Slurm controller: sinfo failed" "$tmp/e1" "unreachable controller message"
SLURM_CONF="$tmp/none.conf" run --slurm pw-a selftest.fixed 2>"$tmp/e2"; s=$?
expect_status 1 $s "missing configuration"
expect_grep "SLURM_CONF names $tmp/none.conf, which does not exist" "$tmp/e2" "missing configuration message"
run --slurm nope selftest.fixed 2>"$tmp/e3"; s=$?
expect_status 1 $s "unknown partition"
expect_grep "unknown Slurm partition 'nope' (this cluster has: pw-a, pw-b)" "$tmp/e3" "unknown partition message"
PATH=/nonexistent "$bin" run --slurm pw-a selftest.fixed 2>"$tmp/e4"; s=$?
expect_status 1 $s "no Slurm commands"
expect_grep "Slurm's sinfo is not installed here" "$tmp/e4" "no Slurm commands message"
if [ "$(squeue -h -t all -o %i)" = "$id" ]; then ok; else fail "a refused run submitted a job"; fi

# --- a directive through sbatch: the node's result, with its job ------------------------------
run --json --slurm pw-a selftest.fixed values=3,5,7 sizes=1,2,3 >"$tmp/fixed.json" 2>"$tmp/e5"; s=$?
expect_status 0 $s "run --slurm"
[ $s -ne 0 ] && sed 's/^/    /' "$tmp/e5" >&2
if [ "$(json_get "$tmp/fixed.json" "d['run']['source']")" = slurm ]; then ok; else fail "result lacks source: slurm"; fi
job=$(json_get "$tmp/fixed.json" "d['run']['slurm']['job_id']")
case "$job" in ''|*[!0-9]*) fail "result lacks its job id ('$job')" ;; *) ok ;; esac
if [ "$(json_get "$tmp/fixed.json" "d['run']['slurm']['partition']")" = pw-a ]; then ok; else fail "result lacks its partition"; fi
if [ "$(json_get "$tmp/fixed.json" "d['environment']['slurm']['job_id']")" = "$job" ]; then ok; else fail "environment lacks the node's job"; fi
if [ "$(json_get "$tmp/fixed.json" "d['metrics']['value.n2']['value']")" = 5.0 ]; then ok; else fail "metric value.n2 is not 5"; fi
if [ "$(squeue -h -t all -j "$job" -o %T)" = COMPLETED ]; then ok; else fail "job $job did not end COMPLETED"; fi
expect_grep "Slurm job $job on node .* (partition pw-a): COMPLETED" "$tmp/e5" "job reported"
if [ -z "$(ls -A "$work")" ]; then ok; else fail "a completed job left files in the work folder: $(ls "$work")"; fi

# --- the probe: both partitions, one kind of machine, everything shared -----------------------
"$bin" slurm check --dir "$work" pw-a,pw-b README.md >"$tmp/check" 2>&1; s=$?
expect_status 0 $s "slurm check"
expect_grep "partition pw-a: node .*; fingerprint [0-9a-f]\{16\}; binary, work folder and 1 path visible" "$tmp/check" "probe of pw-a"
expect_grep "partitions pw-a and pw-b measure the same kind of machine" "$tmp/check" "one kind of machine"
"$bin" slurm check --dir "$work" pw-a no-such-chapter.md >"$tmp/check2" 2>&1; s=$?
expect_status 1 $s "slurm check with a missing file"
expect_grep "no-such-chapter.md does not exist here" "$tmp/check2" "missing file named"

# --- a quick report through Slurm: the same chapters as a local one -------------------------
cat >"$tmp/matrix.md" <<'MD'
# Machines

```matrix
metric: e2e-fixed.*
```
MD
chapters="tests/e2e/chapters/01-small.md $tmp/matrix.md"
# shellcheck disable=SC2086
"$bin" report -q --quick -f html --no-cache --archive "$tmp/local-archive" -o "$tmp/local" $chapters 2>"$tmp/r0"; s=$?
expect_status 0 $s "the local quick report"
# shellcheck disable=SC2086
"$bin" report --quick -f html --cache "$tmp/rcache" --archive "$tmp/rarchive" --slurm-dir "$work" \
    --slurm pw-a,pw-b -o "$tmp/rep" $chapters 2>"$tmp/r1"; s=$?
expect_status 0 $s "report --slurm pw-a,pw-b"
[ $s -ne 0 ] && sed 's/^/    /' "$tmp/r1" >&2
expect_grep "measuring through Slurm: partition pw-a for the report, and for the matrix pw-b" "$tmp/r1" "partitions announced"
expect_grep "archived the run on Slurm partition pw-b (for the matrix)" "$tmp/r1" "the other partition's run archived"
python3 - "$tmp/local/report.html" "$tmp/rep/report.html" "$tmp/rep/results.json" "$tmp/rarchive" >"$tmp/r2" 2>&1 <<'PY'
import json, os, re, sys
local, rep, results, archive = sys.argv[1:5]
def structure(path):
    html = open(path, encoding="utf-8").read()
    return (re.findall(r'<section class="experiment" id="([^"]*)"', html),
            re.findall(r'<code>(claim[^<]*)</code>', html), re.findall(r'<h1>([^<]*)</h1>', html))
problems = []
if structure(local) != structure(rep):
    problems.append("structure differs: local %s, slurm %s" % (structure(local), structure(rep)))
html = open(rep, encoding="utf-8").read()
for r in json.load(open(results))["results"]:
    run = r.get("run", {})
    sl = run.get("slurm", {})
    if run.get("source") != "slurm" or sl.get("partition") != "pw-a" or not str(sl.get("job_id", "")).isdigit():
        problems.append("%s: source %s, slurm %s" % (r["id"], run.get("source"), sl))
    elif "Slurm job %s, partition pw-a" % sl["job_id"] not in html:
        problems.append("%s: its job %s is not in the HTML" % (r["id"], sl["job_id"]))
    if r.get("environment", {}).get("slurm", {}).get("job_id") != sl.get("job_id"):
        problems.append("%s: environment is not the node's job" % r["id"])
runs = sorted(os.listdir(archive))
parts = []
for name in runs:
    d = json.load(open(os.path.join(archive, name, "results.json")))
    parts.append(sorted({r["run"]["slurm"]["partition"] for r in d["results"]}))
if parts != [["pw-a"], ["pw-b"]]:
    problems.append("archived runs by partition: %s" % parts)
m = re.search(r'<tr><th scope="row">measured on</th>(.*?)</tr>', html)
cells = re.findall(r"<td>(.*?)</td>", m.group(1)) if m else []
if len(cells) != 1 or not cells[0].endswith("(Slurm partitions pw-a, pw-b)"):
    problems.append("matrix columns: %s (expected one listing both partitions)" % cells)
print("\n".join(problems) if problems else "same")
PY
expect_grep "^same$" "$tmp/r2" "report through Slurm against the local one"
if [ -z "$(ls -A "$work")" ]; then ok; else fail "report --slurm left files in the work folder: $(ls "$work")"; fi
# Run again: the cache keys by the probe's machine, so the fixed result comes from it (the real
# measurement may be measured again: on a busy machine it is disturbed, and those are not cached).
# shellcheck disable=SC2086
"$bin" report --quick -f html --cache "$tmp/rcache" --archive "$tmp/rarchive" --slurm-dir "$work" \
    --slurm pw-a,pw-b -o "$tmp/rep" $chapters 2>"$tmp/r3"; s=$?
expect_status 0 $s "report --slurm from the cache"
src=$(json_get "$tmp/rep/results.json" "[r for r in d['results'] if r['id'] == 'e2e-fixed'][0]['run']['source']")
if [ "$src" = "from cache" ]; then ok; else fail "the second report --slurm measured e2e-fixed again (source '$src')"; fi

# --- the node's measurement lock: the job waits for a measurement outside Slurm, the submitter ---
# --- holds none (the node is this machine, so it would deadlock if it did) --------------------
cat >"$tmp/lock.md" <<'MD'
# Lock

```experiment selftest.fixed
id: locked
values: [2, 4, 8]
```
MD
# A local run holds the lock (its child hangs) until the job is seen waiting for it, then lets go.
"$bin" run selftest.crash mode=hang timeout=60 >/dev/null 2>"$tmp/hold.err" &
holder=$!
n=0
while ! grep -q "selftest.crash" "$PERFWEAVE_LOCK" 2>/dev/null && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
"$bin" report -q -f html --no-cache --no-archive --slurm-dir "$work" --slurm pw-a -o "$tmp/lock" "$tmp/lock.md" 2>"$tmp/l1" &
rep=$!
n=0
while ! grep -q "waiting for the measurement lock" "$work"/*-locked.log 2>/dev/null && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
if grep -q "held by pid $holder" "$work"/*-locked.log 2>/dev/null; then ok; else fail "the job did not wait for the local run's lock: $(cat "$work"/*-locked.log 2>/dev/null)"; fi
kill -INT $holder
wait $holder
wait $rep; s=$?
expect_status 0 $s "report --slurm after the local run let the lock go"
held=$(json_get "$tmp/lock/results.json" "' | '.join(d['results'][0]['run']['lock_notes'])")
case "$held" in *"run selftest.crash"*) ok ;; *) fail "the result does not name the lock's holder (lock_notes: '$held')" ;; esac

# --- a crashing directive: ERROR with the job's state -----------------------------------------
run --slurm pw-b selftest.crash mode=segv >"$tmp/o6" 2>"$tmp/e6"; s=$?
expect_status 2 $s "crashing directive"
expect_grep "crashed with signal 11 (Segmentation fault); Slurm job [0-9]* on node .* ended FAILED (exit code 2:0)" "$tmp/e6" "crash reported with the job state"

# --- SIGINT cancels the job -------------------------------------------------------------------
"$bin" run --slurm-dir "$work" --slurm pw-a selftest.crash mode=hang timeout=600 >"$tmp/o7" 2>"$tmp/e7" &
pid=$!  # perfweave itself, not a subshell: a signal must reach it
n=0
while [ -z "$(squeue -h -t running -n pw-selftest-crash-1 -o %i)" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
hung=$(squeue -h -t running -n pw-selftest-crash-1 -o %i)
kill -INT $pid
n=0
while kill -0 $pid 2>/dev/null && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
kill -0 $pid 2>/dev/null && { fail "SIGINT did not stop run --slurm"; kill -KILL $pid; }
wait $pid; s=$?
expect_status 130 $s "SIGINT during run --slurm"
expect_grep "interrupted: Slurm job cancelled" "$tmp/e7" "interruption reported"
if [ -n "$hung" ] && [ "$(squeue -h -t all -j "$hung" -o %T)" = CANCELLED ]; then ok; else fail "SIGINT did not cancel job '$hung'"; fi

# --- a report whose directives fail: ERROR with the job state, TIMEOUT past the time limit ----
# --- (Slurm's limits are whole minutes, so this part takes one to two minutes) ----------------
cat >"$tmp/fail.md" <<'MD'
# Failures

```experiment selftest.fixed
id: fine
```

```experiment selftest.crash
id: crash
mode: segv
```

```experiment selftest.crash
id: hang
mode: hang
timeout: 600
```
MD
"$bin" report -f html --no-cache --no-archive --slurm-dir "$work" --slurm pw-b --slurm-time 1 \
    -o "$tmp/fail" "$tmp/fail.md" >"$tmp/o8" 2>"$tmp/e8"; s=$?
expect_status 2 $s "report with failing directives"
expect_grep "crash ERROR: crashed with signal 11 (Segmentation fault); Slurm job [0-9]* on node .* ended FAILED (exit code 2:0)" "$tmp/e8" "crash reported with the job state"
expect_grep "hang ERROR: Slurm job [0-9]* ended TIMEOUT (it reached its time limit of 00:01:00" "$tmp/e8" "TIMEOUT reported"
expect_grep "DUE TO TIME LIMIT" "$tmp/e8" "the job's log quoted"
expect_grep "ended TIMEOUT" "$tmp/fail/report.html" "TIMEOUT in the report"
if [ "$(json_get "$tmp/fail/results.json" "d['results'][0]['status']")" = ok ]; then ok; else fail "the fine directive is not ok"; fi

# --- SIGINT during report --slurm: every queued job cancelled, exit 130, previous report whole ---
cat >"$tmp/hang.md" <<'MD'
# Hanging

```experiment selftest.crash
id: h1
mode: hang
timeout: 600
```

```experiment selftest.crash
id: h2
mode: hang
timeout: 600
```
MD
before=$(sha256sum "$tmp/rep/report.html")
"$bin" report -f html --no-cache --archive "$tmp/rarchive" --slurm-dir "$work" --slurm pw-a,pw-b \
    -o "$tmp/rep" "$tmp/hang.md" >"$tmp/o9" 2>"$tmp/e9" &
pid=$!
n=0
while [ -z "$(squeue -h -t running -n pw-h1 -o %i)" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
queued=$(squeue -h -t pending -o %i | wc -l)
kill -INT $pid
n=0
while kill -0 $pid 2>/dev/null && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
kill -0 $pid 2>/dev/null && { fail "SIGINT did not stop report --slurm"; kill -KILL $pid; }
wait $pid; s=$?
expect_status 130 $s "SIGINT during report --slurm"
if [ "$queued" -ge 1 ]; then ok; else fail "no job was queued when SIGINT came"; fi
if [ -z "$(squeue -h -o %i)" ]; then ok; else fail "jobs left after SIGINT: $(squeue -h -o '%i %T %j')"; fi
if [ "$(squeue -h -t all -n pw-h1,pw-h2 -o %T | sort -u)" = CANCELLED ]; then ok
else fail "not every job was cancelled: $(squeue -h -t all -n pw-h1,pw-h2 -o '%i %T')"; fi
if [ "$(sha256sum "$tmp/rep/report.html")" = "$before" ]; then ok; else fail "SIGINT changed the previous report"; fi
expect_grep "interrupted; the previous report is untouched" "$tmp/e9" "interruption reported"

# --- report --slurm before anything is submitted: clear errors --------------------------------
jobs_before=$(squeue -h -t all -o %i | wc -l)
SLURM_CONF="$tmp/unreachable.conf" "$bin" report -f html --slurm pw-a -o "$tmp/never" "$tmp/lock.md" 2>"$tmp/e10"; s=$?
expect_status 1 $s "report --slurm, unreachable controller"
expect_grep "cannot reach the Slurm controller: sinfo failed" "$tmp/e10" "unreachable controller message (report)"
"$bin" report -f html --slurm pw-a,nope -o "$tmp/never" "$tmp/lock.md" 2>"$tmp/e11"; s=$?
expect_status 1 $s "report --slurm, unknown partition"
expect_grep "unknown Slurm partition 'nope'" "$tmp/e11" "unknown partition message (report)"
"$bin" report -f html --slurm pw-a tests/e2e/bad/misspelled.md -o "$tmp/never" 2>"$tmp/e12"; s=$?
expect_status 1 $s "report --slurm, bad input"
expect_grep "unknown experiment 'acceleration.matmull'" "$tmp/e12" "bad input found before the probe"
if [ "$(squeue -h -t all -o %i | wc -l)" = "$jobs_before" ]; then ok; else fail "a refused report submitted a job"; fi
if [ ! -e "$tmp/never" ]; then ok; else fail "a refused report wrote $tmp/never"; fi

# --- stopping: every daemon it started is gone ------------------------------------------------
pids=$(cat "$tmp/cluster/run/"*.pid 2>/dev/null)
"$here/cluster.sh" stop --keep "$tmp/cluster" 2>/dev/null
alive=""
for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
if [ -n "$pids" ] && [ -z "$alive" ]; then ok; else fail "daemons still alive after stop:$alive"; fi

echo "slurm e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
