#!/usr/bin/env bash
# A signal that lands while mutx asks whether its input is readable (the
# zero-timeout poll(2) before it waits on the loop) must still end the
# write with exit 3. Before the fix, poll's -1 (EINTR) was taken for
# "readable": mutx then blocked in read(2) on an input that never came,
# while the signal it had already taken waited for a loop that no longer
# ran (stress.signal_commit caught it once under load: "still running 30 s
# after the signal"; a loop of 600 early signals caught it once more, in
# read(0) under ring::start_syscall). strace makes the instant exact: the
# first poll fails with EINTR and SIGTERM is delivered with it. The poll is
# the system-call path's (io_uring reads a pipe without one): forced here,
# and run once per build.
. "$(dirname "$0")/../cli/lib.sh"
export MUTX_IO=syscalls
export XDG_CONFIG_HOME=$T/no-config
need_cmd strace
need_cmd timeout
strace -f -o /dev/null -e inject=getppid:error=EPERM true 2>/dev/null || skip "strace cannot trace here"
mkdir w && cd w || exit 1
DFL=(env --default-signal=INT,HUP,TERM)

for sig in TERM INT HUP; do
  case_ "SIG$sig as the first poll of the input fails with EINTR: exit 3, the old content"
  echo old >OUT
  mkfifo in
  # The FIFO's writer stays open and writes nothing: the input never ends.
  "${DFL[@]}" timeout -s KILL 8 strace -f -qq -o /dev/null \
    -e trace=poll -e "inject=poll:error=EINTR:signal=SIG$sig:when=1" \
    "$MUTX" OUT <in 2>"$T/err" &
  pid=$!
  exec {W}>in
  wait "$pid"
  RC=$? ERR=$(<"$T/err")
  exec {W}>&-
  rm -f in
  # 137: still blocked 8 s later, killed by timeout(1).
  expect_rc 3
  expect_err_has "Interrupted"
  expect_eq "$(<OUT)" old "OUT after SIG$sig"
  expect_only . OUT
done

finish
