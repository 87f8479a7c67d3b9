#!/usr/bin/env bash
# A 1 KiB durable write into an empty directory against the same write into
# a directory of 100,000 entries (issue 19, point 5): the writer's stale-temp
# sweep must not list the directory. mutx looks up its target's four temp
# slots by name instead, so the cost does not grow with the directory.
# `dd conv=fsync` into the big directory is timed beside them as the floor
# of a durable 1 KiB write there.
#
#   bench/dirsize.sh [MUTX]
#
# Interleaved rounds, pooled, as bench/small.sh does (a 1 KiB write takes
# about 2 ms and this machine's speed drifts over minutes).
# Environment: BENCH_DIR (scratch parent, default build/), BENCH_OUT
# (default bench/results), BENCH_DIRSIZE_ENTRIES (default 100000),
# BENCH_DIRSIZE_RUNS (default 200), BENCH_DIRSIZE_ROUNDS (default 10).
# Writes dirsize.md and the hyperfine JSON (dirsize-*.json) to BENCH_OUT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/interleave.sh"
mutx=$(realpath "${1:-$repo/build/release/cli/mutx}")
[[ -x $mutx ]] || { echo "bench/dirsize.sh: no mutx binary at $mutx (build it first)" >&2; exit 1; }
for tool in hyperfine jq; do
  command -v "$tool" >/dev/null || { echo "bench/dirsize.sh: $tool is not installed (scripts/bootstrap --deps)" >&2; exit 1; }
done
entries=${BENCH_DIRSIZE_ENTRIES:-100000}
runs=${BENCH_DIRSIZE_RUNS:-200}
rounds=${BENCH_DIRSIZE_ROUNDS:-10}
for v in "$entries" "$runs" "$rounds"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench/dirsize.sh: sizes must be positive integers" >&2; exit 1; }
done
per=$(( (runs + rounds - 1) / rounds ))
out=$(mkdir -p "${BENCH_OUT:-$here/results}" && cd "${BENCH_OUT:-$here/results}" && pwd)
parent=${BENCH_DIR:-$repo/build}
mkdir -p "$parent"
root=$(mktemp -d "$parent/mutx-dirsize.XXXXXX")
trap 'rm -rf "$root"' EXIT
cd "$root"
head -c 1024 /dev/urandom >1k
mkdir empty big
# Names like a real directory's: other files, and other targets' temps and
# lock files, none of them this target's.
(cd big && seq -f 'entry-%06g.dat' 1 "$entries" | xargs touch)
cp 1k empty/f
cp 1k big/f
cp 1k big/g
sync -f .

names=("mutx f < 1k, empty directory" "mutx f < 1k, $entries entries" "dd conv=fsync of=g < 1k, $entries entries")
cmds=("$mutx --input 1k empty/f" "$mutx --input 1k big/f" "dd conv=fsync if=1k of=big/g status=none")
n=${#cmds[@]}
rm -f "$out"/dirsize-*.json
echo "== 1 KiB write, empty vs $entries entries: $rounds interleaved rounds of $per runs"
interleave "$out" dirsize "$rounds" "$per" || exit 1
for f in empty/f big/f big/g; do
  cmp -s 1k "$f" || { echo "bench/dirsize.sh: $f does not hold the input" >&2; exit 1; }
done
extra=$(find big -maxdepth 1 -name '.*' ! -name . | wc -l)
((extra == 0)) || { echo "bench/dirsize.sh: mutx left $extra hidden files in big/" >&2; exit 1; }

{
  echo "### 1 KiB write, empty directory vs $entries entries: $rounds rounds × $per runs, pooled"
  echo
  echo "| command | mean ± sd | median | this / empty (means) | this / empty (medians) |"
  echo "|---|---|---|---|---|"
  read -r m0 d0 med0 < <(stats "$out"/dirsize-r*-c0.json)
  for ((i = 0; i < n; i++)); do
    read -r m sd med < <(stats "$out"/dirsize-r*-c$i.json)
    echo "| ${names[$i]} | $(ms "$m") ± $(ms "$sd") ms | $(ms "$med") ms | $(ratio "$m" "$m0")x | $(ratio "$med" "$med0")x |"
  done
  echo
} >"$out/dirsize.md"
cat "$out/dirsize.md"
echo "results in $out"
