#!/bin/sh
# Runs perfweave's measurement benchmarks (not part of the test suite): the A/A false-positive
# rate with its exact interval and the power to detect 1% extra work, with at most BUDGET seconds
# of measurement per comparison.  Run on a quiet machine; takes up to 2 × TRIALS × BUDGET seconds
# (about 3 min when comparisons stop early, 13 min at most with the defaults).  Output is printed
# and kept in docs/bench-detect.txt.
#   usage: bench/run.sh PERFWEAVE DETECT   (TRIALS=200 BUDGET=2 EXTRA=0.01 by default)
set -e
detect=${2:?usage: bench/run.sh PERFWEAVE DETECT}
trials=${TRIALS:-200}
budget=${BUDGET:-2}
extra=${EXTRA:-0.01}
{
    echo "perfweave bench/detect — $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n)"
    grep -m1 'model name' /proc/cpuinfo 2>/dev/null || true
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
    # The CPU a quiet machine's report measures on: the last one (ties go to the highest CPU).
    pin=""
    command -v taskset >/dev/null 2>&1 && pin="taskset -c $(($(nproc) - 1))"
    $pin "$detect" --trials "$trials" --budget "$budget" --extra "$extra" 2>&1
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
} | tee docs/bench-detect.txt
