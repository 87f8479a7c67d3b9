#!/usr/bin/env bash
# Lock benchmarks (issue 4):
#  1. build/.../bench/lock_bench: uncontended acquire+release inside one
#     process (target < 20 us) and the hand-off latency of the engine's
#     waiter against a blocking flock(2);
#  2. end to end, with the binaries: a flock(1) holder lets go; how long
#     until the waiting writer's command runs: `mutx F -- sh -c 'date; cat'`
#     against `flock F.lock sh -c 'date'` (both start a shell under the lock).
#
#   bench/lock.sh [MUTX]
#
# Environment: LOCK_BENCH (default: bench/lock_bench in MUTX's build tree,
# built if missing), BENCH_LOCK_ROUNDS (default 30), BENCH_DIR, BENCH_OUT
# (default bench/results). Writes lock.md there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
mutx=$(realpath "${1:-$repo/build/release/cli/mutx}")
[[ -x $mutx ]] || { echo "bench/lock.sh: no mutx binary at $mutx" >&2; exit 1; }
build=$(cd "$(dirname "$mutx")/.." && pwd)
lock_bench=${LOCK_BENCH:-$build/bench/lock_bench}
if [[ ! -x $lock_bench ]]; then
  cmake --build "$build" --target lock_bench >/dev/null
fi
rounds=${BENCH_LOCK_ROUNDS:-30}
out=$(mkdir -p "${BENCH_OUT:-$here/results}" && cd "${BENCH_OUT:-$here/results}" && pwd)
mkdir -p "${BENCH_DIR:-$repo/build}"
root=$(mktemp -d "${BENCH_DIR:-$repo/build}/mutx-lock.XXXXXX")
trap 'rm -rf "$root"' EXIT
cd "$root"

echo "== lock_bench"
inproc=$("$lock_bench" "$root" 20000 200)
echo "$inproc"

echo "== end-to-end hand-off, $rounds rounds each, interleaved"
# handoff WAITER...: a flock(1) holder stamps t0 and exits (releasing);
# the waiter's command stamps t1 under the lock. Prints t1 - t0 in us.
handoff() {
  echo 0 >F
  rm -f F.lock t0 t1
  flock -o F.lock sh -c 'sleep 0.3; date +%s%N >t0' &
  local h=$!
  sleep 0.1
  "$@"
  wait "$h"
  echo $((($(cat t1) - $(cat t0)) / 1000))
}
m=() f=()
for ((r = 0; r < rounds; r++)); do
  m+=("$(handoff sh -c '"$0" -q --no-sync F -- sh -c "date +%s%N >t1; cat"' "$mutx")")
  f+=("$(handoff flock F.lock sh -c 'date +%s%N >t1')")
done
stats() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1; s += $1 } END { printf "mean %.0f us, median %.0f us, min %.0f us, max %.0f us", s / NR, v[int((NR + 1) / 2)], v[1], v[NR] }'; }
{
  echo "### Lock: in-process (lock_bench, $(df -PT "$root" | awk 'NR == 2 { print $2 }'))"
  echo
  echo '```'
  echo "$inproc"
  echo '```'
  echo
  echo "### Lock hand-off end to end ($rounds rounds, flock(1) holder, load average $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "- waiting \`mutx F -- sh -c 'date; cat'\`: $(stats "${m[@]}")"
  echo "- waiting \`flock F.lock sh -c 'date'\`: $(stats "${f[@]}")"
  echo
} | tee "$out/lock.md"
