# What README.md promises, run as written: the jq config edit keeps the mode
# and survives a failing producer; concurrent --append writers and concurrent
# read-modify-write commands lose no update; --no-wait exits 2 while another
# writer holds the lock; and the comparison table's cells about sponge,
# sed -i, install and flock(1) hold on this system.
. "$(dirname "$0")/lib.sh"
need_cmd jq

case_ "jq config edit"
printf '{"db":{"max_connections":10}}\n' >config.json
chmod 640 config.json
jq '.db.max_connections = 100' config.json | "$MUTX" config.json
expect_eq "$(jq -c . config.json)" '{"db":{"max_connections":100}}' "config.json"
expect_mode config.json 640
expect_only . config.json

case_ "a producer that prints nothing leaves the file as it was"
before=$(cat config.json)
OUT=$(jq '.db.' config.json 2>/dev/null | "$MUTX" config.json 2>&1)
RC=$? ERR=$OUT
expect_rc 1
expect_match "$ERR" '^Error: No input provided' "stderr"
expect_eq "$(cat config.json)" "$before" "config.json"

case_ "concurrent --append writers lose no line"
writers=6 each=10
for w in $(seq $writers); do
  (for i in $(seq $each); do printf 'w%s-%s\n' "$w" "$i" | "$MUTX" -q --append summary.log || echo "append failed" >&2; done) &
done
wait
expect_eq "$(wc -l <summary.log)" "$((writers * each))" "lines in summary.log"
expect_eq "$(sort -u summary.log | wc -l)" "$((writers * each))" "distinct lines"
# Each writer's lines stay in its own order.
ok=1
for w in $(seq $writers); do
  [[ $(grep "^w$w-" summary.log | cut -d- -f2 | tr '\n' ' ') == "$(seq -s ' ' $each) " ]] || ok=0
done
((ok)) && pass || fail "a writer's lines are out of order"
expect_only . config.json summary.log

case_ "concurrent read-modify-write commands lose no increment"
echo 0 >counter
for w in $(seq $writers); do
  (for i in $(seq $each); do "$MUTX" -q counter -- sh -c 'read n; echo $((n + 1))' || echo "command failed" >&2; done) &
done
wait
expect_content counter "$((writers * each))"$'\n'
expect_only . config.json summary.log counter

case_ "--no-wait exits 2 while another writer holds the lock"
printf 'v1\n' >state.json
"$MUTX" state.json -- sh -c 'sleep 3; cat' &
holder=$!
on_exit "kill $holder"
for _ in $(seq 200); do [[ -e state.json.lock ]] && ! flock -n state.json.lock true 2>/dev/null && break; sleep 0.02; done
run_in 'v2' --no-wait state.json
expect_rc 2
expect_match "$ERR" 'state.json: File locked by another process' "stderr"
wait $holder
expect_content state.json $'v1\n'
run_in $'v3\n' --no-wait state.json
expect_rc 0
expect_content state.json $'v3\n'

case_ "housekeep --dry-run lists and keeps; a lock touched within the hour stays"
mkdir app
printf 'data\n' >app/orphan
: >app/orphan.lock
: >app/stray.lock
printf 'content\n' >app/Cargo.lock
OUT=$("$MUTX" housekeep --all --recursive --dry-run app 2>&1)
expect_eq "$OUT" "" "dry-run output (the lock was touched within the hour)"
# --older-than 0s drops the hour: NAME.lock beside NAME goes; a lock with
# no file beside it, and Cargo.lock, are not mutx's to judge.
OUT=$("$MUTX" housekeep --all --recursive --dry-run --older-than 0s app 2>&1)
expect_eq "$OUT" "would delete app/orphan.lock" "dry-run output with --older-than 0s"
expect_only app orphan orphan.lock stray.lock Cargo.lock

# The comparison table: the other tools' cells.
mkdir cmp && cd cmp || exit 1
if command -v sponge >/dev/null 2>&1; then
  case_ "sponge: keeps the mode, empties the file on empty input, never syncs"
  printf 'old\n' >s && chmod 640 s
  printf 'new\n' | sponge s
  expect_mode s 640
  : | sponge s
  expect_eq "$(wc -c <s)" "0" "size after empty input to sponge"
  if command -v strace >/dev/null 2>&1; then
    syncs=$(printf 'x\n' | strace -f -e trace=fsync,fdatasync,sync,syncfs sponge s 2>&1 >/dev/null | grep -c 'sync')
    expect_eq "$syncs" "0" "sync calls by sponge"
  fi
fi
case_ "sed -i: replaces a symlink with a regular file, keeps the mode"
printf 'x\n' >real && chmod 640 real && ln -s real link
sed -i 's/x/y/' link
[[ ! -L link && -f link ]] && pass || fail "sed -i kept the symlink"
expect_mode link 640
case_ "install: 0755 unless -m"
(umask 022 && printf 'a\n' >src && install src dst)
expect_mode dst 755
if command -v strace >/dev/null 2>&1; then
  case_ "sed -i and install never sync"
  syncs=$(strace -f -e trace=fsync,fdatasync,sync,syncfs sed -i 's/y/z/' real 2>&1 >/dev/null | grep -c 'sync')
  expect_eq "$syncs" "0" "sync calls by sed -i"
  syncs=$(strace -f -e trace=fsync,fdatasync,sync,syncfs install src dst2 2>&1 >/dev/null | grep -c 'sync')
  expect_eq "$syncs" "0" "sync calls by install"
  # With io_uring the file's fsync is a ring operation strace cannot see.
  syncs=$(printf 'a\n' | strace -f -e trace=fsync,fdatasync "$MUTX" --io=syscalls synced 2>&1 >/dev/null | grep -c 'fsync(')
  ((syncs >= 2)) && pass || fail "mutx made $syncs fsync calls, expected the file's and the directory's"
fi
if command -v flock >/dev/null 2>&1; then
  case_ "flock(1) leaves its lock file; mutx does not"
  flock f.lock true
  [[ -f f.lock ]] && pass || fail "flock(1) removed its lock file"
  printf 'a\n' | "$MUTX" m
  expect_missing m.lock
fi

finish
