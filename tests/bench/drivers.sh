# The benchmark drivers behind scripts/bench still run, at their smallest
# sizes, and write the tables the README's figures come from: every row of
# every table present with a number in it, and the byte checks the drivers
# make themselves (stream.sh compares what mutx wrote; contention.sh checks
# the counter, housekeep.sh that mutx and find delete the same files)
# passing. No timing is asserted.
. "$(dirname "$0")/../cli/lib.sh"
need_cmd hyperfine
need_cmd jq
need_cmd sponge
need_cmd flock
[[ -x /usr/bin/time ]] || skip "needs /usr/bin/time"
src=${MUTX_SOURCE_DIR:?}
build=${MUTX_BUILD_DIR:?}
for t in direct_floor protocol_floor lock_bench; do
  [[ -x $build/bench/$t ]] || skip "bench/$t is not built in $build"
done
num='[0-9]+(\.[0-9]+)?'

# driver NAME VAR=VALUE...: run bench/NAME.sh on $MUTX with BENCH_OUT=out/NAME
driver() {
  local name=$1
  shift
  mkdir -p "out/$name" scratch
  OUT=$(env "$@" BENCH_OUT="$T/out/$name" BENCH_DIR="$T/scratch" bash "$src/bench/$name.sh" "$MUTX" 2>&1)
  RC=$?
  ERR=$(printf '%s\n' "$OUT" | tail -n 3)  # what expect_rc shows of a failure
  expect_rc 0
  ((RC == 0)) || printf '%s\n' "$OUT" | tail -n 20 >&2
}

case_ "stream.sh: every command of both producers timed, RSS and sweep written"
driver stream BENCH_SIZES=2 BENCH_SWEEP=1 BENCH_RUNS=1
md=out/stream/stream.md
for producer in 'cat random-2' 'head -c 2M /dev/zero'; do
  expect_match "$(cat "$md")" "### 2 MiB from \`$producer\`" "$md"
done
for cmd in 'mutx --stream' 'dd bs=1M conv=fsync' 'dd bs=4M oflag=direct conv=fsync' 'cat > \(not durable\)' \
  'sponge \(not durable\)' 'MUTX_IO=syscalls mutx --stream' 'mutx --stream --no-sync \(not durable\)' \
  "direct_floor \(mutx's durable writes alone, from memory\)"; do
  expect_eq "$(grep -cE "^\| $cmd \| $num ± $num ms \| $num""x \|$" "$md")" 2 "rows of '$cmd' in $md"
done
expect_match "$(cat "$md")" "Peak RSS .* \*\*$num MiB\*\*" "$md"
expect_match "$(cat "$md")" "\| 1 \| $num \| $num \| $num \|" "$md (sweep)"
expect_eq "$(ls scratch)" "" "scratch left by stream.sh"

case_ "deploy.sh: --sha256 and --compare rows, with their floors"
driver deploy BENCH_DEPLOY_MIB=2 BENCH_RUNS=1
md=out/deploy/deploy.md
for cmd in 'mutx --stream' 'mutx --stream --sha256' 'mutx --stream, over the old file' \
  'mutx --stream -C, identical \(nothing written\)' 'mutx --stream -C, differs at 4 KiB' 'sha256sum \(coreutils\)' \
  'openssl dgst -sha256 \(digest floor\)' 'cmp - old \(comparison floor\)' 'cat > \(not durable\)' 'dd bs=1M conv=fsync'; do
  expect_eq "$(grep -cE "^\| $cmd \| $num ± $num ms \| $num""x \|$" "$md")" 1 "row of '$cmd' in $md"
done
expect_eq "$(ls scratch)" "" "scratch left by deploy.sh"

case_ "small.sh: interleaved and back-to-back tables with all five commands"
driver small BENCH_SMALL_RUNS=2 BENCH_SMALL_ROUNDS=1
md=out/small/small.md
for cmd in 'mutx f < 1k' 'dd conv=fsync of=f < 1k' 'mutx --no-sync f < 1k \(not durable\)' \
  'MUTX_IO=syscalls mutx f < 1k' "protocol_floor 1k f \(the protocol's syscalls alone\)"; do
  expect_eq "$(grep -cE "^\| $cmd \| $num ± $num ms \| $num ms \| $num""x \| $num""x \|$" "$md")" 2 "rows of '$cmd' in $md"
done

case_ "dirsize.sh: the 1 KiB write in an empty and in a full directory, and dd beside them"
driver dirsize BENCH_DIRSIZE_ENTRIES=1000 BENCH_DIRSIZE_RUNS=2 BENCH_DIRSIZE_ROUNDS=1
md=out/dirsize/dirsize.md
for cmd in 'mutx f < 1k, empty directory' 'mutx f < 1k, 1000 entries' 'dd conv=fsync of=g < 1k, 1000 entries'; do
  expect_eq "$(grep -cE "^\| $cmd \| $num ± $num ms \| $num ms \| $num""x \| $num""x \|$" "$md")" 1 "rows of '$cmd' in $md"
done
expect_eq "$(ls scratch)" "" "scratch left by dirsize.sh"

case_ "tree.sh: mutx --tree, tar -x + sync -f, rsync and the swap script timed, new and replaced DIR"
driver tree BENCH_TREE_FILES=50 BENCH_TREE_FILE_KIB=1 BENCH_TREE_ROUNDS=1
md=out/tree/tree.md
for cmd in 'mutx --tree \(new DIR\)' 'tar -x \+ sync -f \(new DIR\)' 'rsync -a --delete \+ sync -f \(new DIR\)' \
  'mutx --tree \(replace DIR\)' 'rsync -a --delete \+ sync -f \(replace DIR\)' \
  'tar -x \+ sync -f \+ mv \+ rm -rf \(replace DIR\)'; do
  expect_eq "$(grep -cE "^\| $cmd \| $num \| $num""x \| $num""x \| $num""x \|$" "$md")" 1 "rows of '$cmd' in $md"
done
expect_eq "$(ls -A scratch)" "" "scratch left by tree.sh"

case_ "etcd.sh: --lock-url against etcdctl lock: one write, hand-off, increments across two sshfs mounts"
if command -v etcd >/dev/null && command -v etcdctl >/dev/null; then
  driver etcd BENCH_ETCD_RUNS=2 BENCH_ETCD_ROUNDS=1 BENCH_ETCD_HANDOFFS=2 BENCH_ETCD_INCREMENTS=3 BENCH_ETCD_INC_ROUNDS=1
  md=out/etcd/etcd.md
  for cmd in 'mutx --lock-url F -- cat' 'etcdctl lock: cat F >F.new && mv F.new F \(not durable\)'; do
    expect_eq "$(grep -cE "^\| $cmd \| $num ± $num ms \| $num ms \| $num""x \|$" "$md")" 1 "one-write row of '$cmd' in $md"
  done
  for cmd in 'mutx --lock-url --no-sync \(waiter.s command runs\)' 'etcdctl lock \(waiter.s command runs\)'; do
    expect_eq "$(grep -cE "^\| $cmd \| $num ms \| $num ms \| $num ms \| $num""x \|$" "$md")" 1 "hand-off row of '$cmd' in $md"
  done
  if [[ $(id -u) -eq 0 ]] && command -v sshfs >/dev/null && [[ -e /dev/fuse ]]; then
    # The locked writers' counters end at exactly 2 x 3; the unlocked row's may not.
    for cmd in "mutx --lock-url --lock-name counter F -- sh -c 'read n; echo \\\$\\(\\(n\\+1\\)\\)'" \
      "etcdctl lock NAME -- sh -c 'n=\\\$\\(cat F\\); echo \\\$\\(\\(n\\+1\\)\\) >F.new && mv F.new F' \\(not durable\\)"; do
      expect_eq "$(grep -cE "^\| $cmd \| $num ± $num s \| 6 \| $num""x \|$" "$md")" 1 "increments row (counter 6) of $cmd"
    done
  else
    echo "NOTE: etcd.sh's increments need root, sshfs and /dev/fuse: their rows not checked" >&2
  fi
  # Only this driver's cluster (data under scratch): the etcd tests may run
  # their own clusters beside this one.
  expect_eq "$(pgrep -f -- "--data-dir $T/scratch/" | wc -l)" 0 "etcd servers left running"
  expect_eq "$(ls -A scratch)" "" "scratch left by etcd.sh"
else
  echo "NOTE: etcd or etcdctl missing: etcd.sh not run" >&2
fi

case_ "lock.sh: in-process figures and the end-to-end hand-off"
driver lock BENCH_LOCK_ROUNDS=2
md=out/lock/lock.md
expect_match "$(cat "$md")" "uncontended try_acquire\+release +n=[0-9]+ +mean +$num us" "$md"
expect_match "$(cat "$md")" "waiting \`mutx F -- sh -c 'date; cat'\`: mean [0-9]+ us" "$md"
expect_match "$(cat "$md")" "waiting \`flock F.lock sh -c 'date'\`: mean [0-9]+ us" "$md"

case_ "contention.sh: every writer's increment lands, all three variants timed"
driver contention BENCH_CONTENTION_ROUNDS=1 BENCH_CONTENTION_WRITERS=5
md=out/contention/contention.md
for cmd in 'mutx \(durable\)' 'mutx --no-sync' 'flock \+ sponge'; do
  expect_match "$(cat "$md")" "\| $cmd \| $num ± $num s \| $num s \| $num""x \| $num""x \|" "$md"
done

case_ "housekeep.sh: mutx and find delete the same files, locks, backups and walk timed"
driver housekeep BENCH_HOUSEKEEP_FILES=1 BENCH_RUNS=2 BENCH_WALK="$src/engine"
expect_match "$OUT" "sanity checks passed" "housekeep.sh's output"
rel="$num( ± $num)?"
for t in "locks:mutx housekeep --clean-locks --older-than 0" "locks:find -name '\*\.lock' -empty -delete" \
  "backups:mutx housekeep --clean-backups --keep-newest 1" \
  "backups:find -name '\*\.backup' ! -name '\*_009\.backup' -delete" \
  "walk:mutx housekeep --all -r -n" "walk:find -xdev -name '\*\.lock' -empty"; do
  md=out/housekeep/housekeep-${t%%:*}.md
  expect_eq "$(grep -cE "^\| \`${t#*:}\` \| $num ± $num \| $num \| $num \| $rel \|$" "$md")" 1 "rows of '${t#*:}' in $md"
done
expect_match "$(cat out/housekeep/housekeep-locks.md)" "^### 1 orphaned locks, each NAME\.lock beside its NAME" "heading"
expect_eq "$(ls scratch)" "" "scratch left by housekeep.sh"

finish
