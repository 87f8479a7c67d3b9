#!/usr/bin/env bash
# Signals (issue 4): SIGTERM, SIGINT or SIGHUP before the commit point give
# exit 3 and `Interrupted`, the old content, and no temp or lock file left:
# in the middle of a --stream, while waiting for the lock, while the command
# of `mutx OUT -- CMD` runs (the command gets the signal too). After the
# rename a signal does not turn success into failure. A signal the caller
# ignores (nohup) stays ignored. A closed or broken stderr never kills mutx
# silently: the exit code still says what happened.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_cmd flock
mkdir w && cd w || exit 1

# A script's background jobs start with SIGINT ignored (and mutx keeps an
# ignored signal ignored); start them with the default disposition instead,
# as an interactive shell or a service manager would.
DFL=(env --default-signal=INT,HUP,TERM)

# wait_gone PID: wait (bounded, ~20 s) for a background job; RC = its status.
wait_gone() {
  local i
  for ((i = 0; i < 400; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$1" 2>/dev/null; then
    fail "pid $1 still running long after the signal"
    kill -KILL "$1"
  fi
  wait "$1"
  RC=$?
}
# until_file PATH: wait (bounded) until PATH exists.
until_file() {
  local i
  for ((i = 0; i < 400; i++)); do
    [[ -e $1 ]] && return 0
    sleep 0.05
  done
  fail "$1 never appeared"
}
printf 'old\n' >OUT

for sig in TERM INT HUP; do
  case_ "SIG$sig in the middle of --stream"
  mkfifo producer
  "${DFL[@]}" "$MUTX" --stream OUT <producer 2>err &
  W=$!
  exec 3>producer
  printf 'first half' >&3
  # --stream takes the lock before reading: once OUT.lock is there, mutx is
  # reading from the pipe.
  until_file OUT.lock
  sleep 0.2
  kill -s "$sig" "$W"
  wait_gone "$W"
  exec 3>&-
  expect_rc 3
  expect_eq "$(cat err)" "Interrupted" "stderr"
  expect_content OUT $'old\n'
  rm -f producer err
  expect_only . OUT
done

case_ "SIGTERM during a --stream that has written a lot"
mkfifo producer
"${DFL[@]}" "$MUTX" --stream OUT <producer 2>err &
W=$!
exec 3>producer
head -c 8M /dev/zero >&3
until_file OUT.lock
kill -TERM "$W"
wait_gone "$W"
exec 3>&-
expect_rc 3
expect_eq "$(cat err)" "Interrupted" "stderr"
expect_content OUT $'old\n'
rm -f producer err
expect_only . OUT

for sig in INT HUP TERM; do
  case_ "SIG$sig while waiting for the lock"
  hold_lock OUT.lock
  printf 'new\n' >input
  "${DFL[@]}" "$MUTX" OUT <input 2>err &
  W=$!
  for ((i = 0; i < 200; i++)); do
    grep -q Waiting err 2>/dev/null && break
    sleep 0.05
  done
  kill -s "$sig" "$W"
  wait_gone "$W"
  expect_rc 3
  expect_eq "$(cat err)" $'Waiting for lock on OUT...\nInterrupted' "stderr"
  expect_content OUT $'old\n'
  release_lock
  rm -f err input
  expect_only . OUT OUT.lock
  rm OUT.lock
done

case_ "SIGINT while waiting in --stream and in the command form"
hold_lock OUT.lock
mkfifo producer
"${DFL[@]}" "$MUTX" --stream OUT <producer 2>err &
W=$!
exec 3>producer
printf 'never read' >&3
for ((i = 0; i < 200; i++)); do grep -q Waiting err 2>/dev/null && break; sleep 0.05; done
kill -INT "$W"
wait_gone "$W"
exec 3>&-
expect_rc 3
expect_eq "$(cat err)" $'Waiting for lock on OUT...\nInterrupted' "stderr"
rm -f producer err
"${DFL[@]}" "$MUTX" OUT -- sh -c 'echo ran >ran; cat' 2>err &
W=$!
for ((i = 0; i < 200; i++)); do grep -q Waiting err 2>/dev/null && break; sleep 0.05; done
kill -INT "$W"
wait_gone "$W"
expect_rc 3
expect_missing ran
expect_content OUT $'old\n'
release_lock
rm -f err OUT.lock
expect_only . OUT

for sig in TERM INT HUP; do
  case_ "SIG$sig while the command runs: the child gets it too"
  "${DFL[@]}" "$MUTX" OUT -- sh -c 'echo $$ >child.pid; exec sleep 60' 2>err &
  W=$!
  until_file child.pid
  sleep 0.1
  CHILD=$(cat child.pid)
  kill -s "$sig" "$W"
  wait_gone "$W"
  expect_rc 3
  expect_match "$(cat err)" "Interrupted" "stderr"
  # Reaped by mutx: no such process any more.
  if kill -0 "$CHILD" 2>/dev/null; then
    fail "the command (pid $CHILD) survived SIG$sig"
    kill -KILL "$CHILD"
  else
    pass
  fi
  expect_content OUT $'old\n'
  rm -f err child.pid
  expect_only . OUT
done

case_ "SIGINT while a shell command waits for its own job: mutx still ends"
# sh waits for its foreground sleep on SIGINT; mutx gives it a grace period,
# then kills it, so the lock is not held for the rest of the sleep.
"${DFL[@]}" "$MUTX" OUT -- sh -c 'echo $$ >child.pid; sleep 60; cat' 2>err &
W=$!
until_file child.pid
CHILD=$(cat child.pid)
for ((i = 0; i < 100; i++)); do
  GRANDCHILD=$(pgrep -P "$CHILD")
  [[ -n $GRANDCHILD ]] && break
  sleep 0.05
done
[[ -n $GRANDCHILD ]] && on_exit "kill $GRANDCHILD"
kill -INT "$W"
wait_gone "$W"
expect_rc 3
expect_match "$(cat err)" "Interrupted" "stderr"
if kill -0 "$CHILD" 2>/dev/null; then fail "the command (pid $CHILD) survived"; kill -KILL "$CHILD"; else pass; fi
expect_content OUT $'old\n'
# Another writer gets the lock at once.
run_in 'next' --no-wait OUT
expect_rc 0
printf 'old\n' >OUT
rm -f err child.pid
expect_only . OUT

case_ "a signal after the commit point: exit 0, the new content"
if command -v strace >/dev/null 2>&1 && strace -o /dev/null -e inject=renameat:delay_exit=1 true 2>/dev/null; then
  # Hold mutx for a while right after its rename (the commit point).
  printf 'committed\n' >input
  env --default-signal=INT,HUP,TERM strace -f -o /dev/null -e trace=renameat,renameat2 \
    -e inject=renameat,renameat2:delay_exit=1500000 "$MUTX" OUT <input 2>err &
  S=$!
  for ((i = 0; i < 400; i++)); do
    [[ $(cat OUT) == committed ]] && break
    sleep 0.02
  done
  M=$(pgrep -P "$S" | head -1)
  [[ -n $M ]] && kill -TERM "$M"
  wait_gone "$S"
  expect_rc 0
  expect_content OUT $'committed\n'
  expect_eq "$(cat err)" "" "stderr"
  rm -f input err
  expect_only . OUT
  printf 'old\n' >OUT
else
  echo "note: strace --inject unavailable; commit-point case not run" >&2
fi

case_ "an ignored SIGHUP (nohup) stays ignored"
hold_lock OUT.lock
printf 'after hangup\n' >input
env --ignore-signal=HUP "$MUTX" OUT <input 2>err &
W=$!
for ((i = 0; i < 200; i++)); do grep -q Waiting err 2>/dev/null && break; sleep 0.05; done
kill -HUP "$W"
sleep 0.3
if kill -0 "$W" 2>/dev/null; then pass; else fail "mutx died of an ignored SIGHUP"; fi
release_lock
wait_gone "$W"
expect_rc 0
expect_content OUT $'after hangup\n'
rm -f input err
expect_only . OUT
printf 'old\n' >OUT

case_ "closed stderr: exit codes still defined"
OUT=$(printf 'new\n' | "$MUTX" OUT 2>&-)
RC=$?
expect_rc 0
expect_content OUT $'new\n'
hold_lock OUT.lock
printf 'x' | "$MUTX" --no-wait OUT 2>&-
RC=$?
expect_rc 2
printf 'x' | "$MUTX" --timeout 0.2 -v OUT 2>&-
RC=$?
expect_rc 2
"$MUTX" --no-wait OUT 2>&- <&-
RC=$?
expect_rc 1
expect_content OUT $'new\n'
expect_content OUT.lock ''

case_ "stderr into a pipe nobody reads: EPIPE, not a silent SIGPIPE death"
# The reader (true) is gone before mutx writes its error.
{
  sleep 1
  printf 'x' | "$MUTX" --no-wait OUT
  echo $? >rc
} 2>&1 | true
RC=$(cat rc)
expect_rc 2
rm -f rc
release_lock
rm -f OUT.lock
{
  sleep 1
  printf 'piped\n' | "$MUTX" -v OUT
  echo $? >rc
} 2>&1 | true
RC=$(cat rc)
expect_rc 0
expect_content OUT $'piped\n'
rm -f rc

case_ "closed stdin: no input, not a hang"
OUT=$(timeout 20 "$MUTX" OUT <&- 2>"$T/.stderr")
RC=$?
ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" "^Error: No input provided" "stderr"
OUT=$(timeout 20 "$MUTX" --stream OUT <&- 2>"$T/.stderr")
RC=$?
ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" "^Error: No input provided" "stderr"
expect_content OUT $'piped\n'
expect_only . OUT

finish
