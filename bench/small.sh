#!/usr/bin/env bash
# A 1 KiB durable write: `mutx f < 1k` against `dd conv=fsync of=f < 1k`
# (issue 3, point 7), plus the --no-sync and syscall-fallback variants and
# bench/protocol_floor (the commit protocol's bare syscalls, no option
# parsing or event loop) for information.
#
#   bench/small.sh [MUTX]
#
# Each run replaces an existing 1 KiB file, as a config edit does; every
# command has a file of its own (fm, fd, fn, fs, fp), so no command frees
# blocks or inodes another one wrote. The commands run without a shell
# (hyperfine -N): a shell's start-up is as long as the write and its noise
# would swamp it, so the redirection `< 1k` is spelled `--input 1k` /
# `if=1k` (the same regular file on the same code path: mutx copies a
# regular-file stdin exactly as it copies --input), and MUTX_IO=syscalls is
# spelled --io=syscalls.
#
# Two tables:
#  - interleaved (the figure for the target): BENCH_SMALL_ROUNDS rounds; in
#    each, every command runs BENCH_SMALL_RUNS / rounds times (after 5
#    warm-up runs), the order rotating from round to round; the times of all
#    rounds are pooled. A 1 KiB write takes about 2 ms here and this
#    machine's speed drifts by 30% over minutes, so commands timed in one
#    block each, one after the other, are compared at different speeds.
#  - back to back: one block of BENCH_SMALL_RUNS runs per command, as
#    hyperfine does by default, for comparison.
#
# Environment: BENCH_DIR (default build/bench-data.XXXXXX in the
# repository, deleted at exit), BENCH_SMALL_RUNS (default 300),
# BENCH_SMALL_ROUNDS (default 10), BENCH_OUT (default bench/results),
# PROTOCOL_FLOOR (default bench/protocol_floor in MUTX's build tree, built
# if missing).
# Writes small.md and the hyperfine JSON (small-*.json) there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/interleave.sh"

mutx=$(realpath "${1:-$repo/build/release/cli/mutx}")
[[ -x $mutx ]] || { echo "bench/small.sh: no mutx binary at $mutx (build it first)" >&2; exit 1; }
for tool in hyperfine jq; do
  command -v "$tool" >/dev/null || { echo "bench/small.sh: $tool is not installed (scripts/bootstrap --deps)" >&2; exit 1; }
done
build=$(cd "$(dirname "$mutx")/.." && pwd)
floor=${PROTOCOL_FLOOR:-$build/bench/protocol_floor}
[[ -x $floor ]] || cmake --build "$build" --target protocol_floor >/dev/null ||
  { echo "bench/small.sh: cannot build protocol_floor in $build (set PROTOCOL_FLOOR)" >&2; exit 1; }
runs=${BENCH_SMALL_RUNS:-300}
rounds=${BENCH_SMALL_ROUNDS:-10}
[[ $runs =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ ]] ||
  { echo "bench/small.sh: BENCH_SMALL_RUNS and BENCH_SMALL_ROUNDS must be positive integers" >&2; exit 1; }
per=$(( (runs + rounds - 1) / rounds ))
out=$(mkdir -p "${BENCH_OUT:-$here/results}" && cd "${BENCH_OUT:-$here/results}" && pwd)
if [[ -n ${BENCH_DIR:-} ]]; then
  mkdir -p "$BENCH_DIR"
  root=$(mktemp -d "$BENCH_DIR/mutx-small.XXXXXX")
else
  mkdir -p "$repo/build"
  root=$(mktemp -d "$repo/build/bench-data.XXXXXX")
fi
trap 'rm -rf "$root"' EXIT
cd "$root"
head -c 1024 /dev/urandom >1k
files=(fm fd fn fs fp)
for f in "${files[@]}"; do cp 1k "$f"; done
sync -f .

names=("mutx f < 1k" "dd conv=fsync of=f < 1k" "mutx --no-sync f < 1k (not durable)"
       "MUTX_IO=syscalls mutx f < 1k" "protocol_floor 1k f (the protocol's syscalls alone)")
cmds=("$mutx --input 1k fm" "dd conv=fsync if=1k of=fd status=none"
      "$mutx --no-sync --input 1k fn" "$mutx --io=syscalls --input 1k fs" "$floor 1k fp")
n=${#cmds[@]}
rm -f "$out"/small-*.json

echo "== 1 KiB write: $rounds interleaved rounds of $per runs each"
interleave "$out" small "$rounds" "$per" || exit 1
echo "== 1 KiB write: back to back, $runs runs each"
for ((i = 0; i < n; i++)); do
  hyperfine -N --style none --warmup 10 --runs "$runs" --export-json "$out/small-block-c$i.json" \
    -n "${names[$i]}" "${cmds[$i]}" >"$out/hyperfine.log" 2>&1 || { cat "$out/hyperfine.log" >&2; exit 1; }
done
for f in "${files[@]}"; do
  cmp -s 1k "$f" || { echo "bench/small.sh: $f does not hold the input" >&2; exit 1; }
done


table() {  # table TITLE PREFIX: PREFIX-cI.json per command I, a glob pools the rounds
  local title=$1 prefix=$2 i m0 d0 med0 m sd med
  echo "### $title"
  echo
  echo "| command | mean ± sd | median | mutx / this (means) | mutx / this (medians) |"
  echo "|---|---|---|---|---|"
  read -r m0 d0 med0 < <(stats "$out"/$prefix-c0.json)
  for ((i = 0; i < n; i++)); do
    read -r m sd med < <(stats "$out"/$prefix-c$i.json)
    echo "| ${names[$i]} | $(ms "$m") ± $(ms "$sd") ms | $(ms "$med") ms | $(ratio "$m0" "$m")x | $(ratio "$med0" "$med")x |"
  done
  echo
}

{
  echo "All commands replace a 1 KiB file of their own in the same directory."
  echo
  table "1 KiB write, interleaved: $rounds rounds × $per runs per command, pooled" 'small-r*'
  table "1 KiB write, back to back: $runs runs per command in one block" small-block
} >"$out/small.md"
cat "$out/small.md"
echo "results in $out"
