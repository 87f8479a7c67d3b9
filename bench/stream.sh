#!/usr/bin/env bash
# Durable `mutx --stream` from a pipe against the usual ways to write a big
# file, all in one run on the same disk (issue 3, point 7).
#
#   bench/stream.sh [MUTX]
#
# For each size (BENCH_SIZES, MiB, default "512 1024") and each producer
# (`cat` of a random file already in the page cache, `head -c N /dev/zero`):
#   mutx --stream              durable: O_DIRECT ring writes, fsync, rename
#   dd bs=1M conv=fsync        durable: page cache, one fsync at the end
#   dd bs=4M oflag=direct      durable: O_DIRECT, one write at a time
#   cat >                      NOT durable (no fsync), for scale
#   sponge                     NOT durable (rename, no fsync), for scale
#   MUTX_IO=syscalls mutx      the fallback path, for information
#   mutx --stream --no-sync    splice into the page cache, for information
#   direct_floor               the disk's floor: mutx's durable writes alone,
#                              from memory (bench/direct_floor.cpp)
# then peak RSS of `mutx --stream` on the largest size (/usr/bin/time -f %M),
# then the throughput sweep for bench/stream.png (BENCH_SWEEP, MiB, default
# "16 64 256 1024"; mutx, dd conv=fsync, sponge).
#
# Every timed run starts from `rm -f out; sync` (hyperfine --prepare): no
# old file to free, no dirty pages of the previous run still in writeback.
# Environment: BENCH_DIR (scratch directory on the disk under test; default
# build/bench-data.XXXXXX in the repository, deleted at exit), BENCH_RUNS
# (default 5), BENCH_OUT (default bench/results), DIRECT_FLOOR (default
# bench/direct_floor in MUTX's build tree, built if missing). Writes stream.md (tables),
# stream-*.json (hyperfine) and stream-sweep.dat there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

mutx=$(realpath "${1:-$repo/build/release/cli/mutx}")
[[ -x $mutx ]] || { echo "bench/stream.sh: no mutx binary at $mutx (build it first)" >&2; exit 1; }
for tool in hyperfine jq sponge /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench/stream.sh: $tool is not installed (scripts/bootstrap --deps)" >&2; exit 1; }
done
build=$(cd "$(dirname "$mutx")/.." && pwd)
floor=${DIRECT_FLOOR:-$build/bench/direct_floor}
[[ -x $floor ]] || cmake --build "$build" --target direct_floor >/dev/null ||
  { echo "bench/stream.sh: cannot build direct_floor in $build (set DIRECT_FLOOR)" >&2; exit 1; }
floor=$(realpath "$floor")
runs=${BENCH_RUNS:-5}
sizes=${BENCH_SIZES:-512 1024}
sweep=${BENCH_SWEEP:-16 64 256 1024}
out=$(mkdir -p "${BENCH_OUT:-$here/results}" && cd "${BENCH_OUT:-$here/results}" && pwd)
if [[ -n ${BENCH_DIR:-} ]]; then
  mkdir -p "$BENCH_DIR"
  root=$(mktemp -d "$BENCH_DIR/mutx-stream.XXXXXX")
else
  mkdir -p "$repo/build"
  root=$(mktemp -d "$repo/build/bench-data.XXXXXX")
fi
trap 'rm -rf "$root"' EXIT
cd "$root"

# One random file per size, read once so it sits in the page cache: the
# producer `cat random-N` then runs at memory speed.
largest=0
for s in $(printf '%s\n' $sizes $sweep | sort -nu); do
  echo "== generating $s MiB of random input in $root"
  head -c "${s}M" /dev/urandom >"random-$s"
  cat "random-$s" >/dev/null
  ((s > largest)) && largest=$s
done

md=$out/stream.md
: >"$md"

# mean and sd (seconds) of command number $2 in hyperfine JSON $1
stat() { jq -r ".results[$2] | \"\(.mean) \(.stddev // 0)\"" "$1"; }
fmt_ms() { awk -v m="$1" -v s="$2" 'BEGIN { printf "%.0f ± %.0f ms", m * 1000, s * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

names=("mutx --stream" "dd bs=1M conv=fsync" "dd bs=4M oflag=direct conv=fsync" "cat > (not durable)"
       "sponge (not durable)" "MUTX_IO=syscalls mutx --stream" "mutx --stream --no-sync (not durable)"
       "direct_floor (mutx's durable writes alone, from memory)")
for size in $sizes; do
  for producer in cat zero; do
    src="cat random-$size"
    [[ $producer == zero ]] && src="head -c ${size}M /dev/zero"
    label="\`$src\`"
    json=$out/stream-$size-$producer.json
    echo "== $size MiB from $src"
    hyperfine --runs "$runs" --warmup 1 --prepare 'rm -f out; sync' --export-json "$json" \
      -n "${names[0]}" "$src | $mutx --stream out" \
      -n "${names[1]}" "$src | dd bs=1M conv=fsync of=out status=none" \
      -n "${names[2]}" "$src | dd bs=4M iflag=fullblock oflag=direct conv=fsync of=out status=none" \
      -n "${names[3]}" "$src | cat > out" \
      -n "${names[4]}" "$src | sponge out" \
      -n "${names[5]}" "$src | MUTX_IO=syscalls $mutx --stream out" \
      -n "${names[6]}" "$src | $mutx --stream --no-sync out" \
      -n "${names[7]}" "$floor $size out"
    read -r m0 s0 < <(stat "$json" 0)
    {
      echo "### $size MiB from $label ($runs runs each)"
      echo
      echo "| command | mean ± sd | mutx --stream / this |"
      echo "|---|---|---|"
      for i in "${!names[@]}"; do
        read -r m s < <(stat "$json" "$i")
        echo "| ${names[$i]} | $(fmt_ms "$m" "$s") | $(ratio "$m0" "$m") |"
      done
      echo
    } >>"$md"
  done
done

echo "== peak RSS of mutx --stream, $largest MiB"
rss=0
for _ in 1 2 3; do
  rm -f out
  r=$({ cat "random-$largest" | /usr/bin/time -f %M "$mutx" --stream out; } 2>&1 | tail -n 1)
  ((r > rss)) && rss=$r
done
cmp -s "random-$largest" out || { echo "bench/stream.sh: mutx --stream wrote different bytes" >&2; exit 1; }
awk -v k="$rss" -v n="$largest" 'BEGIN { printf "Peak RSS of `cat random-N | mutx --stream out` (%d MiB, worst of 3, /usr/bin/time -f %%M): **%.1f MiB** (target: under 32 MiB)\n\n", n, k / 1024 }' >>"$md"

echo "== throughput sweep: $sweep MiB"
dat=$out/stream-sweep.dat
echo "# MiB mutx_MiB/s dd_fsync_MiB/s sponge_MiB/s (from the mean wall time of $runs runs; producer: cat of a cached random file)" >"$dat"
for size in $sweep; do
  src="cat random-$size"
  json=$out/stream-sweep-$size.json
  hyperfine --runs "$runs" --warmup 1 --prepare 'rm -f out; sync' --export-json "$json" \
    -n mutx "$src | $mutx --stream out" \
    -n "dd conv=fsync" "$src | dd bs=1M conv=fsync of=out status=none" \
    -n sponge "$src | sponge out" >/dev/null
  jq -r --argjson n "$size" '[$n] + [.results[].mean | $n / .] | map(tostring) | join(" ")' "$json" >>"$dat"
done
{
  echo "### --stream throughput by input size (MiB/s, from mean wall time; plotted in bench/stream.png)"
  echo
  echo "| MiB | mutx --stream | dd bs=1M conv=fsync | sponge (not durable) |"
  echo "|---|---|---|---|"
  awk '!/^#/ { printf "| %d | %.0f | %.0f | %.0f |\n", $1, $2, $3, $4 }' "$dat"
  echo
} >>"$md"
if command -v gnuplot >/dev/null; then
  gnuplot -e "datafile='$dat'; outfile='$out/stream.png'" "$here/plot.gnuplot"
else
  echo "bench/stream.sh: gnuplot is not installed; no plot" >&2
fi
echo "results in $out"
