#!/usr/bin/env bash
# A 1 KiB durable write: `mutx f < 1k` against `dd conv=fsync of=f < 1k`
# (issue 3, point 7), plus the --no-sync and syscall-fallback variants for
# information.
#
#   bench/small.sh [MUTX]
#
# Each run replaces an existing 1 KiB file, as a config edit does. The
# commands run without a shell (hyperfine -N): a shell's start-up is as long
# as the write and its noise would swamp it, so the redirection `< 1k` is
# spelled `--input 1k` / `if=1k` (the same regular file on the same code
# path: mutx copies a regular-file stdin exactly as it copies --input), and
# MUTX_IO=syscalls is spelled --io=syscalls. Environment: BENCH_DIR (default
# build/bench-data.XXXXXX in the repository, deleted at exit),
# BENCH_SMALL_RUNS (default 100), BENCH_OUT (default bench/results). Writes
# small.md and small.json there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

mutx=$(realpath "${1:-$repo/build/release/cli/mutx}")
[[ -x $mutx ]] || { echo "bench/small.sh: no mutx binary at $mutx (build it first)" >&2; exit 1; }
for tool in hyperfine jq; do
  command -v "$tool" >/dev/null || { echo "bench/small.sh: $tool is not installed (scripts/bootstrap --deps)" >&2; exit 1; }
done
runs=${BENCH_SMALL_RUNS:-100}
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
cp 1k f
sync -f .

names=("mutx f < 1k" "dd conv=fsync of=f < 1k" "mutx --no-sync f < 1k (not durable)"
       "MUTX_IO=syscalls mutx f < 1k")
json=$out/small.json
echo "== 1 KiB write, $runs runs each"
hyperfine -N --runs "$runs" --warmup 10 --export-json "$json" \
  -n "${names[0]}" "$mutx --input 1k f" \
  -n "${names[1]}" "dd conv=fsync if=1k of=f status=none" \
  -n "${names[2]}" "$mutx --no-sync --input 1k f" \
  -n "${names[3]}" "$mutx --io=syscalls --input 1k f"
cmp -s 1k f || { echo "bench/small.sh: f does not hold the input" >&2; exit 1; }

read -r m0 _ < <(jq -r '.results[0] | "\(.mean) \(.stddev // 0)"' "$json")
{
  echo "### 1 KiB write replacing a 1 KiB file ($runs runs each)"
  echo
  echo "| command | mean ± sd | median | mutx / this |"
  echo "|---|---|---|---|"
  for i in "${!names[@]}"; do
    jq -r --argjson i "$i" --argjson m0 "$m0" --arg name "${names[$i]}" \
      '.results[$i] | "| \($name) | \(.mean * 1e4 | round / 10) ± \((.stddev // 0) * 1e4 | round / 10) ms | \(.median * 1e4 | round / 10) ms | \($m0 / .mean * 100 | round / 100)x |"' "$json"
  done
  echo
} >"$out/small.md"
echo "results in $out"
