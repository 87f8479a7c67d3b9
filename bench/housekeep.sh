#!/usr/bin/env bash
# Benchmark `mutx housekeep` against `find -delete` on identical fresh trees,
# each built to be exactly what housekeep's rules delete (see HOUSEKEEP in
# cli/mutx.1.scd).
#
#   bench/housekeep.sh [MUTX]                 run the benchmarks (hyperfine)
#   bench/housekeep.sh --prepare locks DIR    DIR := N files NAME, each with
#                                             an orphaned NAME.lock beside it
#   bench/housekeep.sh --prepare backups DIR  DIR := N files x 10 timestamped
#                                             backups (10 N)
#
# N is BENCH_HOUSEKEEP_FILES (default 10000: 10,000 orphaned locks; 100,000
# backups of 10,000 files). MUTX defaults to build/release/cli/mutx.
# BENCH_DIR (default /tmp) holds the trees (put it on the filesystem you
# care about); BENCH_RUNS (default 10) is hyperfine's run count; with
# BENCH_OUT=DIR hyperfine's markdown and JSON exports go there. Every timed
# run starts from a freshly prepared tree (hyperfine --prepare, which also
# syncs it), so each run deletes the same files. BENCH_WALK (default /usr)
# is the tree for the read-only walk. Figures and notes: bench/housekeep.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${BENCH_HOUSEKEEP_FILES:-10000}
[[ $n =~ ^[1-9][0-9]{0,4}$ ]] || { echo "bench/housekeep.sh: BENCH_HOUSEKEEP_FILES must be 1..99999" >&2; exit 1; }
export BENCH_HOUSEKEEP_FILES=$n

prepare() {
  local kind=$1 dir=$2
  rm -rf "$dir"
  mkdir -p "$dir"
  cd "$dir"
  case $kind in
    locks)
      # mutx's lock of NAME is NAME.lock beside NAME; a lock with no NAME
      # stays. Both are empty. The lock's ctime cannot be set back an hour,
      # so the timed commands pass --older-than 0.
      seq -f 'file%05g' 1 "$n" | xargs touch
      seq -f 'file%05g.lock' 1 "$n" | xargs touch
      ;;
    backups)
      # Ten generations of each file as mutx names them within one second:
      # NAME.STAMP.backup, then NAME.STAMP_001.backup .. _009, made in that
      # order (one generation across all files at a time), so each ctime is
      # seconds after the UTC STAMP in its name (housekeep requires within
      # -60 s .. +600 s) and the _009 is the newest of its file, the one
      # --keep-newest 1 keeps. No file NAME.STAMP exists, which would make
      # these its plain backups.
      local stamp g
      stamp=$(date -u +%Y%m%d-%H%M%S)
      for g in '' _001 _002 _003 _004 _005 _006 _007 _008 _009; do
        seq -f "file%05g.$stamp$g.backup" 1 "$n"
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
root=$(mktemp -d "${BENCH_DIR:-/tmp}/mutx-housekeep-bench.XXXXXX")
trap 'rm -rf "$root"' EXIT
self=$(realpath "$0")
tree=$root/tree
# 10000 -> 10,000
count() { sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta' <<<"$1"; }

locks_title="$(count "$n") orphaned locks, each NAME.lock beside its NAME, in one directory, --older-than 0"
backups_title="$(count $((n * 10))) timestamped backups of $(count "$n") files, --keep-newest 1, which deletes $(count $((n * 9)))"
mutx_locks="$mutx housekeep --clean-locks --older-than 0 $tree"
find_locks="find $tree -name '*.lock' -empty -delete"
mutx_backups="$mutx housekeep --clean-backups --keep-newest 1 $tree"
# The find line deletes exactly the same files (it knows which generation is
# newest because the tree is synthetic): the cost of the unlinks alone.
find_backups="find $tree -name '*.backup' ! -name '*_009.backup' -delete"

# sanity KIND WHO COMMAND: on a fresh KIND tree, COMMAND deletes exactly
# what housekeep's rules delete and keeps the rest; mutx (WHO) also prints
# each deleted path once.
sanity() {
  local kind=$1 who=$2 cmd=$3 before keep gone left
  "$self" --prepare "$kind" "$tree"
  before=$(cd "$tree" && LC_ALL=C ls -A)
  case $kind in
    # What stays: every NAME; the newest backup (_009) of each file.
    locks) keep=$(grep -v '\.lock$' <<<"$before" || true) ;;
    backups) keep=$(grep -E '\.[0-9]{8}-[0-9]{6}_009\.backup$' <<<"$before" || true) ;;
  esac
  # Each file NAME (file00001 ..) once among what stays.
  [[ $(sed 's/\..*//' <<<"$keep") == "$(seq -f 'file%05g' 1 "$n")" ]] ||
    { echo "bench/housekeep.sh: the $kind tree is not as built (no one NAME per file to keep)" >&2; exit 1; }
  gone=$(LC_ALL=C comm -23 <(printf '%s\n' "$before") <(printf '%s\n' "$keep") | sed "s|^|$tree/|")
  bash -c "$cmd" >"$root/printed"
  left=$(cd "$tree" && LC_ALL=C ls -A)
  [[ $left == "$keep" ]] || {
    echo "bench/housekeep.sh: $who on the $kind tree did not leave exactly the $n files it should;" \
      "kept or deleted wrongly, e.g.: $(LC_ALL=C comm -3 <(printf '%s\n' "$left") <(printf '%s\n' "$keep") | head -1 | tr -d '\t')" >&2
    exit 1
  }
  if [[ $who == mutx ]]; then
    [[ $(LC_ALL=C sort "$root/printed") == "$gone" ]] ||
      { echo "bench/housekeep.sh: mutx did not print each deleted $kind path once" >&2; exit 1; }
  fi
}

# Sanity first: timing the wrong deletions would be worthless.
sanity locks mutx "$mutx_locks"
sanity locks find "$find_locks"
sanity backups mutx "$mutx_backups"
sanity backups find "$find_backups"
echo "sanity checks passed: mutx and find delete the same $(count "$n") locks and $(count $((n * 9))) backups"

# timed NAME TITLE HYPERFINE-ARGS...: run hyperfine; with BENCH_OUT, its
# markdown export gets TITLE as a heading (scripts/bench gathers it).
timed() {
  local name=$1 title=$2
  shift 2
  echo "== $title"
  if [[ -z ${BENCH_OUT:-} ]]; then
    hyperfine "$@"
    return
  fi
  mkdir -p "$BENCH_OUT"
  local md=$BENCH_OUT/housekeep-$name.md
  hyperfine --export-markdown "$md" --export-json "$BENCH_OUT/housekeep-$name.json" "$@"
  { printf '### %s; %s runs each\n\n' "$title" "$runs"; cat "$md"; } >"$md.new"
  mv "$md.new" "$md"
}

timed locks "$locks_title" --runs "$runs" --warmup 1 --prepare "$self --prepare locks $tree" \
  -n "mutx housekeep --clean-locks --older-than 0" "$mutx_locks" \
  -n "find -name '*.lock' -empty -delete" "$find_locks"

timed backups "$backups_title" --runs "$runs" --warmup 1 --prepare "$self --prepare backups $tree" \
  -n "mutx housekeep --clean-backups --keep-newest 1" "$mutx_backups" \
  -n "find -name '*.backup' ! -name '*_009.backup' -delete" "$find_backups"

walk=${BENCH_WALK:-/usr}
timed walk "read-only walk: --all -r --dry-run over $walk (warm cache)" -N --runs "$runs" --warmup 2 \
  -n "mutx housekeep --all -r -n" "$mutx housekeep --all -r -n $walk" \
  -n "find -xdev -name '*.lock' -empty" "find $walk -xdev -name '*.lock' -empty"
