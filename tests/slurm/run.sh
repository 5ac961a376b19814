#!/bin/sh
# The Slurm end-to-end test: starts a real one-node cluster (cluster.sh, as root; skipped with the
# reason otherwise), runs directives through it as a user would (`perfweave run --slurm`,
# `perfweave slurm check`) and stops every daemon it started.  Checks: a result comes back with
# its job id and `source: slurm` and the node's environment; two partitions on the one node are
# the same kind of machine; a crashing directive is ERROR with the job state; SIGINT cancels the
# job; a job past its time limit is ERROR with TIMEOUT; an unreachable controller, a missing
# configuration and an unknown partition are clear errors before anything is submitted.
# Nothing here judges a timing.
set -u
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.." || exit 1
tmp=$(mktemp -d)
chmod 0711 "$tmp"  # munged wants the folders above its socket searchable by all
passed=0 failed=0
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect_status() { # expected actual what
    if [ "$1" -eq "$2" ]; then ok; else fail "$3: exit status $2, expected $1"; fi
}
expect_grep() { # pattern file what
    if grep -q -- "$1" "$2"; then ok; else fail "$3: '$1' not in $2"; sed 's/^/    /' "$2" | head -20 >&2; fi
}
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

# --- past its time limit: ERROR with TIMEOUT (Slurm's limits are whole minutes: ~1-2 minutes) --
run --slurm pw-b --slurm-time 1 selftest.crash mode=hang timeout=600 >"$tmp/o8" 2>"$tmp/e8"; s=$?
expect_status 2 $s "job past its time limit"
expect_grep "Slurm job [0-9]* ended TIMEOUT (it reached its time limit of 00:01:00" "$tmp/e8" "TIMEOUT reported"
expect_grep "DUE TO TIME LIMIT" "$tmp/e8" "the job's log quoted"

# --- stopping: every daemon it started is gone ------------------------------------------------
pids=$(cat "$tmp/cluster/run/"*.pid 2>/dev/null)
"$here/cluster.sh" stop --keep "$tmp/cluster" 2>/dev/null
alive=""
for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
if [ -n "$pids" ] && [ -z "$alive" ]; then ok; else fail "daemons still alive after stop:$alive"; fi

echo "slurm e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
