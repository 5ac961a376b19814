#!/bin/sh
# The cost of running directives as Slurm jobs instead of local children (not part of the test
# suite): starts the one-node test cluster (tests/slurm/cluster.sh; needs root), then measures
#   1. one directive at a time: the same directive ROUNDS times locally (`perfweave run`) and
#      ROUNDS times through sbatch (`perfweave run --slurm`), alternating; the median difference
#      is the overhead of one job waited for on its own (sbatch, scheduling, start on the node,
#      polling at perfweave's 1 s interval, collection);
#   2. sbatch alone, ROUNDS times (`sbatch --wrap true`, which returns once the job is queued):
#      what a job array would save per job, since an array is one sbatch call for many jobs;
#   3. a report of ROUNDS directives, locally and through `report --slurm` (every job submitted at
#      once, run one after another on the one node): (slurm − local) / ROUNDS is the overhead per
#      job inside a report, the o of docs/slurm.md's wall-time formula.
# The directive (selftest.fixed) measures nothing, so every difference is overhead.  Run on a
# quiet machine; docs/slurm.md uses the figures to estimate how a report's wall time scales with
# nodes.
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
# A private measurement lock (it travels to the node): nothing else on the machine delays a job.
PERFWEAVE_LOCK="$tmp/measure.lock"; export PERFWEAVE_LOCK
now() { date +%s.%N; }
echo "perfweave bench/slurm-overhead — $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "1. one job at a time (perfweave run --slurm against perfweave run):"
i=0
while [ $i -lt "$rounds" ]; do
    t0=$(now); "$bin" run selftest.fixed >/dev/null 2>&1; t1=$(now)
    "$bin" run --slurm pw-a --slurm-dir "$tmp/work" selftest.fixed >/dev/null 2>&1; t2=$(now)
    echo "$t0 $t1 $t2" | awk '{printf "round: local %.3f s, slurm %.3f s, difference %.3f s\n", $2-$1, $3-$2, ($3-$2)-($2-$1)}'
    i=$((i + 1))
done | tee "$tmp/rounds"
sed 's/.*difference \([0-9.-]*\) s/\1/' "$tmp/rounds" | "$bin" stats

echo "2. sbatch alone (what a job array saves per job):"
i=0
while [ $i -lt "$rounds" ]; do
    t0=$(now); sbatch --parsable -p pw-b -o /dev/null --wrap true >/dev/null; t1=$(now)
    echo "$t0 $t1" | awk '{printf "%.4f\n", $2-$1}'
    i=$((i + 1))
done | tee "$tmp/sbatch"
"$bin" stats "$tmp/sbatch"

echo "3. a report of $rounds directives, locally and through report --slurm:"
{
    echo "# Overhead"
    i=0
    while [ $i -lt "$rounds" ]; do
        printf '\n```experiment selftest.fixed\nid: f%d\nvalues: [%d, 2, 3]\n```\n' $i $((i + 1))
        i=$((i + 1))
    done
} >"$tmp/ch.md"
t0=$(now); "$bin" report -q -f html --no-cache --no-archive -o "$tmp/local" "$tmp/ch.md" >/dev/null 2>&1; t1=$(now)
"$bin" report -q -f html --no-cache --no-archive --slurm-dir "$tmp/work" --slurm pw-a -o "$tmp/slurm" "$tmp/ch.md" >/dev/null 2>&1; t2=$(now)
"$bin" slurm check --dir "$tmp/work" pw-a >/dev/null 2>&1; t3=$(now)
echo "$t0 $t1 $t2 $t3 $rounds" | awk '{printf "report: local %.3f s, slurm %.3f s; the probe (slurm check) %.3f s = p; overhead per job in a report (slurm - local - p) / %d = %.3f s = o\n", $2-$1, $3-$2, $4-$3, $5, (($3-$2)-($2-$1)-($4-$3))/$5}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
