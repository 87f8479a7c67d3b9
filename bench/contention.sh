#!/usr/bin/env bash
# 100 contending read-modify-write writers (issue 4): each round starts 100
# increments of one counter at once and waits for all of them, with
#   mutx F -- sh -c 'read n; echo $((n+1))'                     (durable)
#   mutx --no-sync F -- sh -c 'read n; echo $((n+1))'           (as durable as sponge)
#   flock F.lock sh -c 'n=$(cat F); echo $((n+1)) | sponge F'   (the usual glue)
# The variants alternate within each round (order rotated), so load drift
# from other work on the machine hits all of them alike. Every round checks
# that the counter ends at exactly WRITERS.
#
#   bench/contention.sh [MUTX]
#
# Environment: BENCH_CONTENTION_ROUNDS (default 7), BENCH_CONTENTION_WRITERS
# (default 100), BENCH_DIR (scratch parent; default build/ of the repository),
# BENCH_OUT (default bench/results). Writes contention.md there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
mutx=$(realpath "${1:-$repo/build/release/cli/mutx}")
[[ -x $mutx ]] || { echo "bench/contention.sh: no mutx binary at $mutx" >&2; exit 1; }
for tool in flock sponge; do
  command -v "$tool" >/dev/null || { echo "bench/contention.sh: $tool is not installed" >&2; exit 1; }
done
rounds=${BENCH_CONTENTION_ROUNDS:-7}
writers=${BENCH_CONTENTION_WRITERS:-100}
out=$(mkdir -p "${BENCH_OUT:-$here/results}" && cd "${BENCH_OUT:-$here/results}" && pwd)
mkdir -p "${BENCH_DIR:-$repo/build}"
root=$(mktemp -d "${BENCH_DIR:-$repo/build}/mutx-contention.XXXXXX")
trap 'rm -rf "$root"' EXIT
cd "$root"
export MUTX=$mutx

names=("mutx (durable)" "mutx --no-sync" "flock + sponge")
cmds=(
  '"$MUTX" -q F -- sh -c '\''read n; echo $((n+1))'\'''
  '"$MUTX" -q --no-sync F -- sh -c '\''read n; echo $((n+1))'\'''
  'flock F.lock sh -c '\''n=$(cat F); echo $((n+1)) | sponge F'\'''
)
declare -A times
one() {  # variant index -> seconds on stdout
  local i=$1 t0 t1
  echo 0 >F
  rm -f F.lock
  sync -f .
  t0=$(date +%s%N)
  for ((w = 0; w < writers; w++)); do eval "${cmds[$i]}" & done
  wait
  t1=$(date +%s%N)
  [[ $(cat F) == "$writers" ]] || { echo "bench/contention.sh: ${names[$i]} ended at $(cat F), not $writers" >&2; exit 1; }
  echo "scale=4; ($t1 - $t0) / 1000000000" | bc
}
for ((r = 0; r < rounds; r++)); do
  for ((k = 0; k < ${#cmds[@]}; k++)); do
    i=$(((k + r) % ${#cmds[@]}))
    t=$(one "$i")
    times[$i]+="$t "
    echo "round $((r + 1)): ${names[$i]}: ${t} s"
  done
done

stats() {  # numbers -> "mean sd median"
  tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1; s += $1; q += $1 * $1 }
    END { m = s / NR; sd = sqrt((q / NR - m * m) > 0 ? q / NR - m * m : 0);
          med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
          printf "%.3f %.3f %.3f\n", m, sd, med }'
}
read -r fm _ fmed < <(stats <<<"${times[2]}")
{
  echo "### $writers contending read-modify-write writers ($rounds rounds, interleaved)"
  echo
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). Filesystem: $(df -PT . | awk 'NR == 2 { print $2 }')."
  echo
  echo "| command | mean ± sd | median | mean / flock+sponge | median / flock+sponge |"
  echo "|---|---|---|---|---|"
  for i in "${!names[@]}"; do
    read -r m sd med < <(stats <<<"${times[$i]}")
    printf '| %s | %.3f ± %.3f s | %.3f s | %.2fx | %.2fx |\n' "${names[$i]}" "$m" "$sd" "$med" \
      "$(echo "$m / $fm" | bc -l)" "$(echo "$med / $fmed" | bc -l)"
  done
  echo
  echo "Per round (s): "
  for i in "${!names[@]}"; do echo "- ${names[$i]}: ${times[$i]}"; done
  echo
} | tee "$out/contention.md"
