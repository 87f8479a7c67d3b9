#!/usr/bin/env bash
# The cost of --sha256 and --compare on a durable `--stream` (issue 20):
# one run, same disk, same input (`cat` of a random file in the page cache).
#
#   bench/deploy.sh [MUTX]
#
#   mutx --stream                      the write alone (no old file)
#   mutx --stream --sha256 HEX         + SHA-256 as the data flows
#   mutx --stream (over the old file)  the write alone, replacing a file
#   mutx --stream -C, identical        compared all the way, nothing written
#   mutx --stream -C, differs early    compared up to byte 4096, then written
#   sha256sum                          a digest (coreutils)
#   openssl dgst -sha256               floor of the digest (libcrypto, as mutx)
#   cmp - old                          floor of the comparison
#   cat > (not durable)                floor of the copy
#   dd bs=1M conv=fsync                a durable write, for scale
# Size BENCH_DEPLOY_MIB (default 512). Every timed run starts from the same
# state (hyperfine --prepare: the old file made again, or removed, then
# sync). BENCH_DIR (scratch directory on the disk under test; default
# build/bench-data.XXXXXX), BENCH_RUNS (default 5), BENCH_OUT (default
# bench/results): writes deploy.md and deploy.json there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
mutx=$(realpath "${1:-$repo/build/release/cli/mutx}")
[[ -x $mutx ]] || { echo "bench/deploy.sh: no mutx binary at $mutx (build it first)" >&2; exit 1; }
for tool in hyperfine jq sha256sum cmp openssl; do
  command -v "$tool" >/dev/null || { echo "bench/deploy.sh: $tool is not installed" >&2; exit 1; }
done
size=${BENCH_DEPLOY_MIB:-512}
[[ $size =~ ^[1-9][0-9]*$ ]] || { echo "bench/deploy.sh: BENCH_DEPLOY_MIB must be a number of MiB" >&2; exit 1; }
runs=${BENCH_RUNS:-5}
out=$(mkdir -p "${BENCH_OUT:-$here/results}" && cd "${BENCH_OUT:-$here/results}" && pwd)
if [[ -n ${BENCH_DIR:-} ]]; then
  mkdir -p "$BENCH_DIR"
  root=$(mktemp -d "$BENCH_DIR/mutx-deploy.XXXXXX")
else
  mkdir -p "$repo/build"
  root=$(mktemp -d "$repo/build/bench-data.XXXXXX")
fi
trap 'rm -rf "$root"' EXIT
cd "$root"

echo "== generating $size MiB of random input in $root"
head -c "${size}M" /dev/urandom >random
cp random early
printf 'X' | dd of=early bs=1 seek=4096 conv=notrunc status=none
cat random early >/dev/null
sum=$(sha256sum random | cut -c1-64)

# Sanity: each mutx form writes (or keeps) the right bytes.
cat random | "$mutx" --stream --sha256 "$sum" out && cmp -s random out
ino=$(stat -c %i out)
cat random | "$mutx" --stream -C out && [[ $(stat -c %i out) == "$ino" ]]
cp early out && cat random | "$mutx" --stream -C out && cmp -s random out
rm -f out

json=$out/deploy.json
src="cat random"
names=("mutx --stream" "mutx --stream --sha256" "mutx --stream, over the old file" "mutx --stream -C, identical (nothing written)"
       "mutx --stream -C, differs at 4 KiB" "sha256sum (coreutils)" "openssl dgst -sha256 (digest floor)"
       "cmp - old (comparison floor)"
       "cat > (not durable)" "dd bs=1M conv=fsync")
hyperfine --runs "$runs" --warmup 1 --export-json "$json" \
  -n "${names[0]}" --prepare 'rm -f out; sync' "$src | $mutx --stream out" \
  -n "${names[1]}" --prepare 'rm -f out; sync' "$src | $mutx --stream --sha256 $sum out" \
  -n "${names[2]}" --prepare 'rm -f out; cp early out; sync' "$src | $mutx --stream out" \
  -n "${names[3]}" --prepare 'rm -f out; cp random out; sync' "$src | $mutx --stream -C out" \
  -n "${names[4]}" --prepare 'rm -f out; cp early out; sync' "$src | $mutx --stream -C out" \
  -n "${names[5]}" --prepare 'sync' "$src | sha256sum" \
  -n "${names[6]}" --prepare 'sync' "$src | openssl dgst -sha256" \
  -n "${names[7]}" --prepare 'rm -f out; cp random out; sync' "$src | cmp - out" \
  -n "${names[8]}" --prepare 'rm -f out; sync' "$src | cat > out" \
  -n "${names[9]}" --prepare 'rm -f out; sync' "$src | dd bs=1M conv=fsync of=out status=none"

stat() { jq -r ".results[$1] | \"\(.mean) \(.stddev // 0)\"" "$json"; }
read -r m0 _ < <(stat 0)
md=$out/deploy.md
{
  echo "### $size MiB from \`cat random-$size | COMMAND\`: the cost of --sha256 and --compare on \`--stream\` ($runs runs each)"
  echo
  echo "| command | mean ± sd | this / mutx --stream |"
  echo "|---|---|---|"
  for i in "${!names[@]}"; do
    read -r m s < <(stat "$i")
    awk -v n="${names[$i]}" -v m="$m" -v s="$s" -v b="$m0" 'BEGIN { printf "| %s | %.0f ± %.0f ms | %.2fx |\n", n, m * 1000, s * 1000, m / b }'
  done
  echo
} >"$md"
cat "$md"
