#!/usr/bin/env bash
# SIGTERM, SIGINT or SIGHUP while the tree is being built (the producer
# stalls half way through the tar stream): exit 3, "Interrupted", DIR as it
# was, the staged tree removed, no lock file left. The builder runs off the
# loop and waits for input in 100 ms slices, so the signal is seen while the
# producer is silent. (A script's background jobs start with SIGINT ignored,
# and mutx keeps an ignored signal ignored: env --default-signal restores it.)
# Then DIR.lock held by another writer: --no-wait and --timeout give exit 2,
# DIR as it was, nothing staged.
. "$(dirname "$0")/../cli/lib.sh"
mkdir w && cd w || exit 1
mkdir -p src
for i in $(seq 1 40); do head -c 4096 /dev/urandom >"src/f$i"; done
tar -C src -c . >"$T/new.tar"
printf 'old\n' >"$T/old-a"
mkdir site && cp "$T/old-a" site/a

mkfifo "$T/pipe"
for sig in TERM INT HUP; do
  case_ "SIG$sig while the producer stalls"
  (head -c 65536 "$T/new.tar"; exec sleep 20) >"$T/pipe" &
  producer=$!
  on_exit "kill $producer"
  env --default-signal=INT,HUP,TERM "$MUTX" --no-config --tree site <"$T/pipe" 2>"$T/.stderr" &
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

need_cmd flock
hold_lock site.lock
for wait in --no-wait "--timeout 0.3"; do
  case_ "DIR.lock held by another writer: $wait gives exit 2"
  # shellcheck disable=SC2086
  "$MUTX" --no-config --tree $wait site <"$T/new.tar" 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 2
  expect_match "$ERR" "(^|"$'\n'")Error: site: (File locked by another process|Lock acquisition timeout after 0.3s)"$'\n' "stderr"
  expect_has "$ERR" "Hint: The lock file is site.lock" "stderr"
  expect_same_file site/a "$T/old-a"
  expect_only . src site site.lock
done
release_lock
rm -f site.lock
finish
