#!/usr/bin/env bash
# mutx --tree against its peers (issue 22): a tree of 10,000 files (200 MiB,
# 20 KiB each, in 100 directories) written durably.
#
#   new:      mutx --tree --input A.tar DIR (DIR new)
#             vs  mkdir DIR && tar -x -C DIR -f A.tar && sync -f DIR
#             vs  rsync -a --delete A/ DIR/ && sync -f DIR (DIR new)
#   replace:  mutx --tree --input X.tar DIR, X alternating A and B (every
#             file changes; the generation before is removed each time)
#             vs  rsync -a --delete X/ DIR/ && sync -f DIR (not atomic)
#             vs  the deploy script's swap: tar -x into a fresh NEXT,
#                 sync -f, mv DIR OLD && mv NEXT DIR, rm -rf OLD, sync -f
#                 (two renames: not atomic; it removes the generation it
#                 swapped out, where mutx keeps that one and removes the
#                 one before it)
#
# rsync alone is not durable; its sync -f is timed with it so that all
# commands end with the tree on disk. Runs are interleaved (one of each in
# turn per round) and the median of each is reported, as this machine's
# speed drifts. The scratch tree is removed between runs (not timed).
#
# Environment: BENCH_DIR (scratch parent, default build/), BENCH_OUT
# (default bench/results), BENCH_TREE_FILES (default 10000),
# BENCH_TREE_FILE_KIB (default 20), BENCH_TREE_ROUNDS (default 5).
# Writes tree.md to BENCH_OUT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
mutx=$(realpath "${1:-$repo/build/release/cli/mutx}")
[[ -x $mutx ]] || { echo "bench/tree.sh: no mutx binary at $mutx (build it first)" >&2; exit 1; }
for tool in tar rsync python3; do
  command -v "$tool" >/dev/null || { echo "bench/tree.sh: $tool is not installed (scripts/bootstrap --deps)" >&2; exit 1; }
done
files=${BENCH_TREE_FILES:-10000}
kib=${BENCH_TREE_FILE_KIB:-20}
rounds=${BENCH_TREE_ROUNDS:-5}
for v in "$files" "$kib" "$rounds"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench/tree.sh: sizes must be positive integers" >&2; exit 1; }
done
out=$(mkdir -p "${BENCH_OUT:-$here/results}" && cd "${BENCH_OUT:-$here/results}" && pwd)
parent=${BENCH_DIR:-$repo/build}
mkdir -p "$parent"
root=$(mktemp -d "$parent/mutx-tree.XXXXXX")
trap 'rm -rf "$root"' EXIT
cd "$root"

for tag in A B; do
  python3 - "$tag" "$files" "$kib" <<'PY'
import os, sys
tag, n, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
dirs = max(1, min(100, n // 10))
for i in range(n):
    d = "%s/d%03d" % (tag, i % dirs)
    if i < dirs:
        os.makedirs(d)
    with open("%s/f%05d" % (d, i), "wb") as f:
        f.write(os.urandom(kib * 1024))
PY
  tar -C "$tag" -cf "$tag.tar" .
done
sync -f .
mb=$(du -sm A.tar | cut -f1)

now_ns() { date +%s%N; }
declare -A times=()
timed() {  # name command...
  local name=$1 t0 t1
  shift
  t0=$(now_ns)
  "$@" >/dev/null
  t1=$(now_ns)
  times[$name]+="$(((t1 - t0) / 1000000)) "
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

tar_x() { mkdir "$1" && tar -x -C "$1" -f A.tar && sync -f "$1"; }
rsync_sync() { rsync -a --delete "$1/" "$2/" && sync -f "$2"; }
tar_swap() {  # X.tar: the deploy script's replace of t-replace
  mkdir t-next && tar -x -C t-next -f "$1.tar" && sync -f t-next &&
    mv t-replace t-old && mv t-next t-replace && rm -rf t-old && sync -f .
}

# The replace case's starting point: DIR written twice (an old generation
# kept), and rsync's copy holding B.
"$mutx" --no-config --tree --input A.tar m-replace
"$mutx" --no-config --tree --input B.tar m-replace
mkdir r-replace && rsync -a B/ r-replace/
mkdir t-replace && tar -x -C t-replace -f B.tar
sync -f .
echo "== $files files ($mb MiB): $rounds interleaved rounds"
for ((round = 1; round <= rounds; round++)); do
  x=$([[ $((round % 2)) -eq 1 ]] && echo A || echo B)
  rm -rf m-new .m-new.mutx-old t-new r-new
  sync -f .
  timed "mutx --tree (new DIR)" "$mutx" --no-config --tree --input A.tar m-new
  timed "tar -x + sync -f (new DIR)" tar_x t-new
  mkdir r-new
  timed "rsync -a --delete + sync -f (new DIR)" rsync_sync A r-new
  timed "mutx --tree (replace DIR)" "$mutx" --no-config --tree --input "$x.tar" m-replace
  timed "rsync -a --delete + sync -f (replace DIR)" rsync_sync "$x" r-replace
  timed "tar -x + sync -f + mv + rm -rf (replace DIR)" tar_swap "$x"
  echo "   round $round done" >&2
done
# What was written is the input.
diff -r A m-new >/dev/null || { echo "bench/tree.sh: m-new differs from A" >&2; exit 1; }
diff -r "$x" m-replace >/dev/null || { echo "bench/tree.sh: m-replace differs from $x" >&2; exit 1; }
diff -r "$x" t-replace >/dev/null || { echo "bench/tree.sh: t-replace differs from $x" >&2; exit 1; }

tar_new=$(median <<<"${times["tar -x + sync -f (new DIR)"]}")
rsync_replace=$(median <<<"${times["rsync -a --delete + sync -f (replace DIR)"]}")
swap_replace=$(median <<<"${times["tar -x + sync -f + mv + rm -rf (replace DIR)"]}")
{
  echo "# mutx --tree: $files files, $mb MiB"
  echo
  echo "$(date -u +%Y-%m-%d), $(uname -r), $(df -T . | awk 'NR==2 {print $2}') on $(df . | awk 'NR==2 {print $1}'),"
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg), median of $rounds interleaved runs."
  echo
  echo "| command | median ms | vs tar -x + sync -f | vs rsync (replace) | vs tar -x + mv + rm -rf (replace) |"
  echo "|---|---:|---:|---:|---:|"
  for name in "mutx --tree (new DIR)" "tar -x + sync -f (new DIR)" "rsync -a --delete + sync -f (new DIR)" \
    "mutx --tree (replace DIR)" "rsync -a --delete + sync -f (replace DIR)" \
    "tar -x + sync -f + mv + rm -rf (replace DIR)"; do
    med=$(median <<<"${times[$name]}")
    printf '| %s | %s | %.2fx | %.2fx | %.2fx |\n' "$name" "$med" "$(echo "$med / $tar_new" | bc -l)" \
      "$(echo "$med / $rsync_replace" | bc -l)" "$(echo "$med / $swap_replace" | bc -l)"
  done
  echo
  echo "Runs (ms):"
  for name in "${!times[@]}"; do echo "- $name: ${times[$name]}"; done | sort
} >"$out/tree.md"
cat "$out/tree.md"
