#!/usr/bin/env bash
# SIGTERM or SIGHUP while the tree is being built (the producer
# stalls half way through the tar stream): exit 3, "Interrupted", DIR as it
# was, the staged tree removed, no lock file left. The builder runs off the
# loop and waits for input in 100 ms slices, so the signal is seen while the
# producer is silent. (SIGINT is covered by tests/cli/signal_interrupt.sh's
# machinery for files; a background job of this script has it ignored, and
# mutx leaves an ignored signal ignored.)
. "$(dirname "$0")/../cli/lib.sh"
mkdir w && cd w || exit 1
mkdir -p src
for i in $(seq 1 40); do head -c 4096 /dev/urandom >"src/f$i"; done
tar -C src -c . >"$T/new.tar"
printf 'old\n' >"$T/old-a"
mkdir site && cp "$T/old-a" site/a

mkfifo "$T/pipe"
for sig in TERM HUP; do
  case_ "SIG$sig while the producer stalls"
  (head -c 65536 "$T/new.tar"; exec sleep 20) >"$T/pipe" &
  producer=$!
  on_exit "kill $producer"
  "$MUTX" --no-config --tree site <"$T/pipe" 2>"$T/.stderr" &
  pid=$!
  for _ in $(seq 200); do [[ -d .site.mutx-tree-0 ]] && break; sleep 0.02; done
  sleep 0.2
  kill -"$sig" "$pid"
  wait "$pid"
  RC=$? ERR=$(cat "$T/.stderr")
  kill "$producer" 2>/dev/null
  wait "$producer" 2>/dev/null
  expect_rc 3
  expect_eq "$ERR" "Interrupted" "stderr"
  expect_same_file site/a "$T/old-a"
  expect_only . src site
done
finish
