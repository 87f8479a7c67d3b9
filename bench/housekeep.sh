#!/usr/bin/env bash
# Benchmark `mutx housekeep` against `find -delete` on identical fresh trees.
#
#   bench/housekeep.sh [MUTX]                 run the benchmarks (hyperfine)
#   bench/housekeep.sh --prepare locks DIR    DIR := 10,000 orphaned locks
#   bench/housekeep.sh --prepare backups DIR  DIR := 10,000 files x 10
#                                             timestamped backups (100,000)
#
# MUTX defaults to build/release/cli/mutx. BENCH_DIR (default /tmp) holds the
# trees (put it on the filesystem you care about); BENCH_RUNS (default 10) is
# hyperfine's run count; with BENCH_OUT=DIR hyperfine's markdown and JSON
# exports go there. Every timed run starts from a freshly prepared tree
# (hyperfine --prepare, which also syncs it), so each run deletes the same
# files. BENCH_WALK (default /usr) is the tree for the read-only walk.
# Figures and notes: bench/housekeep.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

prepare() {
  local kind=$1 dir=$2
  rm -rf "$dir"
  mkdir -p "$dir"
  cd "$dir"
  case $kind in
    locks)
      seq -f 'orphan-%05g.lock' 1 10000 | xargs touch
      ;;
    backups)
      # Generations 1..10 of each file, a day apart; the newest (the 10th)
      # is the one --keep-newest 1 keeps.
      local g
      for g in 01 02 03 04 05 06 07 08 09 10; do
        seq -f "file%05g.202401$g-120000.backup" 1 10000
      done | xargs touch
      ;;
    *)
      echo "bench/housekeep.sh: unknown tree kind '$kind'" >&2
      exit 1
      ;;
  esac
  sync -f .
}

if [[ ${1:-} == --prepare ]]; then
  prepare "$2" "$3"
  exit 0
fi

mutx=$(realpath "${1:-$here/../build/release/cli/mutx}")
[[ -x $mutx ]] || { echo "bench/housekeep.sh: no mutx binary at $mutx (build it first)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench/housekeep.sh: hyperfine is not installed" >&2; exit 1; }
runs=${BENCH_RUNS:-10}
export_args() { :; }
if [[ -n ${BENCH_OUT:-} ]]; then
  mkdir -p "$BENCH_OUT"
  export_args() { echo "--export-markdown $BENCH_OUT/housekeep-$1.md --export-json $BENCH_OUT/housekeep-$1.json"; }
fi
root=$(mktemp -d "${BENCH_DIR:-/tmp}/mutx-housekeep-bench.XXXXXX")
trap 'rm -rf "$root"' EXIT
self=$(realpath "$0")
tree=$root/tree

echo "== 10,000 orphaned locks in one directory"
hyperfine --runs "$runs" --warmup 1 --prepare "$self --prepare locks $tree" \
  $(export_args locks) \
  -n "mutx housekeep --clean-locks" "$mutx housekeep --clean-locks $tree" \
  -n "find -name '*.lock' -empty -delete" "find $tree -name '*.lock' -empty -delete"

echo "== 100,000 timestamped backups of 10,000 files, --keep-newest 1 (deletes 90,000)"
# The find line deletes exactly the same 90,000 files (it knows which
# generation is newest because the tree is synthetic): the cost of the
# unlinks alone.
hyperfine --runs "$runs" --warmup 1 --prepare "$self --prepare backups $tree" \
  $(export_args backups) \
  -n "mutx housekeep --clean-backups --keep-newest 1" "$mutx housekeep --clean-backups --keep-newest 1 $tree" \
  -n "find -name '*.backup' ! -name '*.20240110-*' -delete" \
  "find $tree -name '*.backup' ! -name '*.20240110-*' -delete"

walk=${BENCH_WALK:-/usr}
echo "== read-only walk: --all -r --dry-run over $walk (warm cache)"
hyperfine -N --runs "$runs" --warmup 2 $(export_args walk) \
  -n "mutx housekeep --all -r -n" "$mutx housekeep --all -r -n $walk" \
  -n "find -xdev -name '*.lock' -empty" "find $walk -xdev -name '*.lock' -empty"

# Sanity: one real run of each leaves what it should.
"$self" --prepare locks "$tree"
"$mutx" housekeep --clean-locks "$tree" >/dev/null
[[ -z $(ls -A "$tree") ]] || { echo "locks left behind" >&2; exit 1; }
"$self" --prepare backups "$tree"
"$mutx" housekeep --clean-backups --keep-newest 1 "$tree" >/dev/null
[[ $(ls "$tree" | wc -l) == 10000 ]] || { echo "wrong number of backups left" >&2; exit 1; }
echo "sanity checks passed"
