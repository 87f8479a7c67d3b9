#!/usr/bin/env bash
# Waiting for the lock (docs/design.md, section 4, issue 4): --no-wait and --timeout
# against a flock(1) holder exit 2 with their messages and leave the target
# alone; the default waits, says so once on stderr (not with -q), writes once
# the holder lets go and leaves no lock file; flock(1) and mutx exclude each
# other both ways.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_cmd flock
# run() keeps its stderr in $T; the files under test live in their own dir.
mkdir w && cd w || exit 1

printf 'old\n' >OUT

case_ "--no-wait against a flock(1) holder"
hold_lock OUT.lock 30
run_in 'new' --no-wait OUT
expect_rc 2
expect_match "$ERR" "^Error: OUT: File locked by another process" "stderr"
expect_match "$ERR" $'\nHint: .*OUT\\.lock' "hint names the lock file"
expect_content OUT $'old\n'
# flock(1) made OUT.lock; mutx must neither remove nor replace it.
expect_only . OUT OUT.lock
run --no-wait -i OUT OUT
expect_rc 2
run --no-wait --stream OUT </dev/null
expect_rc 2
expect_match "$ERR" "^Error: OUT: File locked by another process" "--stream takes the lock before reading"
run --no-wait OUT -- cat
expect_rc 2
expect_content OUT $'old\n'

case_ "--no-wait --json names the lock file"
run_in 'new' --no-wait --json OUT
expect_rc 2
expect_match "$ERR" '"level":"error"' "json error line"
expect_match "$ERR" '"message":"OUT: File locked by another process"' "json message"

case_ "--timeout 1 runs out"
run_in 'new' --timeout 1 OUT
expect_rc 2
expect_eq "${ERR%%$'\n'*}" "Waiting for lock on OUT (1s timeout)..." "waiting line first"
expect_match "$ERR" $'\nError: OUT: Lock acquisition timeout after 1s\n' "timeout message"
expect_match "$ERR" $'\nHint: .*OUT\\.lock' "hint names the lock file"
expect_content OUT $'old\n'
expect_only . OUT OUT.lock

case_ "--timeout 0.3 (fractions)"
run_in 'new' -t 0.3 OUT
expect_rc 2
expect_match "$ERR" "^Waiting for lock on OUT \\(0\\.3s timeout\\)\\.\\.\\."$'\n'"Error: OUT: Lock acquisition timeout after 0\\.3s" "timeout message"
expect_content OUT $'old\n'

case_ "-q: no waiting line, the error stays"
run_in 'new' -q --timeout 0.2 OUT
expect_rc 2
expect_eq "$(grep -c 'Waiting for lock' <<<"$ERR")" 0 "waiting lines with -q"
expect_match "$ERR" "^Error: OUT: Lock acquisition timeout" "error with -q"

case_ "bad timeout values exit 1"
for v in abc -1 '' 1s nan inf 1e400; do
  run_in 'new' --timeout "$v" OUT
  expect_rc 1
  expect_match "$ERR" "^Error: invalid timeout" "stderr for '$v'"
done
run_in 'new' --timeout 1 --no-wait OUT
expect_rc 1
expect_match "$ERR" "^Error: --no-wait and --timeout exclude each other" "--timeout with --no-wait"
run_in 'new' --wait --no-wait OUT
expect_rc 1
expect_match "$ERR" "^Error: --wait and --no-wait exclude each other" "--wait with --no-wait"
expect_content OUT $'old\n'

case_ "--wait --timeout SECONDS, the PRD's form, means --timeout"
run_in 'new' --wait --timeout 1 OUT
expect_rc 2
expect_eq "$ERR" "Waiting for lock on OUT (1s timeout)..."$'\n'"Error: OUT: Lock acquisition timeout after 1s"$'\n'"Hint: The lock file is OUT.lock; see who holds it with: fuser -v OUT.lock" "stderr"
expect_content OUT $'old\n'

case_ "--timeout 0 is --no-wait: no waiting line"
run_in 'new' --timeout 0 OUT
expect_rc 2
expect_match "$ERR" "^Error: OUT: File locked by another process" "stderr"
expect_eq "$(grep -c Waiting <<<"$ERR")" 0 "waiting lines"
release_lock

case_ "default waits, then writes"
hold_lock OUT.lock 30
printf 'new\n' >input
"$MUTX" OUT <input 2>err &
W=$!
# Let it start waiting, then let go.
for ((i = 0; i < 100; i++)); do
  grep -q Waiting err 2>/dev/null && break
  sleep 0.05
done
expect_content OUT $'old\n'
release_lock
wait "$W"
RC=$?
ERR=$(cat err)
expect_rc 0
expect_content OUT $'new\n'
expect_eq "$(cat err)" "Waiting for lock on OUT..."$'\n'"Lock acquired" "stderr (the PRD's two lines)"
rm -f err
expect_only . OUT input

case_ "default wait with -q prints nothing"
hold_lock OUT.lock 30
"$MUTX" -q OUT <input 2>err &
W=$!
sleep 0.5
release_lock
wait "$W"
RC=$?
expect_rc 0
expect_eq "$(cat err)" "" "stderr with -q"
rm -f err
expect_only . OUT input

case_ "--timeout long enough succeeds"
hold_lock OUT.lock 30
printf 'timed\n' | "$MUTX" --timeout 30 OUT 2>err &
W=$!
sleep 0.3
release_lock
wait "$W"
RC=$?
expect_rc 0
expect_content OUT $'timed\n'
rm -f err
expect_only . OUT input

case_ "flock(1) cannot take the lock while mutx holds it"
rm -f started
"$MUTX" OUT -- sh -c 'touch started; sleep 2; cat' 2>err &
W=$!
for ((i = 0; i < 100; i++)); do
  [[ -e started ]] && break
  sleep 0.05
done
flock -n OUT.lock true
RC=$?
expect_rc 1
# A second mutx is refused too, and the holder finishes normally.
run_in 'other' --no-wait OUT
expect_rc 2
wait "$W"
RC=$?
expect_rc 0
expect_content OUT $'timed\n'
rm -f started err
expect_only . OUT input

case_ "a blocked flock(1) gets the lock after mutx"
"$MUTX" OUT -- sh -c 'touch started; sleep 1; echo mutx' 2>err &
W=$!
for ((i = 0; i < 100; i++)); do
  [[ -e started ]] && break
  sleep 0.05
done
flock -w 20 OUT.lock cat OUT >seen
RC=$?
expect_rc 0
expect_eq "$(cat seen)" "mutx" "what flock(1) saw under the lock"
wait "$W"
RC=$?
expect_rc 0

finish
