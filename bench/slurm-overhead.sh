#!/bin/sh
# The cost of running a directive as a Slurm job instead of a local child (not part of the test
# suite): starts the one-node test cluster (tests/slurm/cluster.sh; needs root), then runs the
# same directive ROUNDS times locally and ROUNDS times through sbatch, alternating, and prints
# each wall time and the median of the differences: the per-job submission overhead (sbatch,
# scheduling, job start on the node, polling at perfweave's 1 s interval, collection).  The
# directive (selftest.fixed) measures nothing, so the difference is all overhead.  Run on a
# quiet machine; docs/slurm.md uses it to estimate how a report's wall time scales with nodes.
#   usage: bench/slurm-overhead.sh PERFWEAVE   (ROUNDS=10)
set -eu
bin=$(realpath "${1:?usage: bench/slurm-overhead.sh PERFWEAVE}")
rounds=${ROUNDS:-10}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
chmod 0711 "$tmp"
"$here/../tests/slurm/cluster.sh" start "$tmp/cluster" >"$tmp/env"
. "$tmp/env"
trap '"$here/../tests/slurm/cluster.sh" stop "$tmp/cluster"; rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
echo "perfweave bench/slurm-overhead — $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
i=0
while [ $i -lt "$rounds" ]; do
    t0=$(now); "$bin" run selftest.fixed >/dev/null 2>&1; t1=$(now)
    "$bin" run --slurm pw-a --slurm-dir "$tmp/work" selftest.fixed >/dev/null 2>&1; t2=$(now)
    echo "$t0 $t1 $t2" | awk '{printf "round: local %.3f s, slurm %.3f s, difference %.3f s\n", $2-$1, $3-$2, ($3-$2)-($2-$1)}'
    i=$((i + 1))
done | tee "$tmp/rounds"
sed 's/.*difference \([0-9.-]*\) s/\1/' "$tmp/rounds" | "$bin" stats
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
