#!/bin/sh
# Runs perfweave's measurement benchmarks (not part of the test suite): the A/A false-positive
# rate and the power to detect 5% extra work.  Run on a quiet machine; takes several minutes
# (2 × TRIALS comparisons of up to BUDGET seconds each).  Output is printed and kept in
# docs/bench-detect.txt.
#   usage: bench/run.sh PERFWEAVE DETECT   (TRIALS=100 BUDGET=2 by default)
set -e
detect=${2:?usage: bench/run.sh PERFWEAVE DETECT}
trials=${TRIALS:-100}
budget=${BUDGET:-2}
{
    echo "perfweave bench/detect — $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n)"
    grep -m1 'model name' /proc/cpuinfo 2>/dev/null || true
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
    pin=""
    command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"
    $pin "$detect" --trials "$trials" --budget "$budget" 2>&1
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
} | tee docs/bench-detect.txt
