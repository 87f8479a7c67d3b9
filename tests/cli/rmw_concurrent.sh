#!/usr/bin/env bash
# Concurrent read-modify-write through the command form loses no update:
# WRITERS (default 30) increments started at once end at exactly WRITERS,
# every writer exits 0, and no lock or temp file is left. The long version
# (200 x MUTX_TEST_SIZE) is tests/stress/concurrent_rmw.sh.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
mkdir w && cd w || exit 1
WRITERS=${WRITERS:-30}

case_ "$WRITERS concurrent increments"
printf '0\n' >counter
pids=()
for ((i = 0; i < WRITERS; i++)); do
  "$MUTX" counter -- sh -c 'read n; echo $((n+1))' 2>"$T/err.$i" &
  pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
expect_eq "$bad" 0 "writers that failed"
expect_content counter "$WRITERS"$'\n'
# Each waiter says it waited at most once.
expect_eq "$(cat "$T"/err.* | grep -v '^Waiting for lock on counter\.\.\.$' | wc -l)" 0 "other stderr lines"
expect_eq "$(cat "$T"/err.* | sort | uniq -c | awk '$1 > '"$WRITERS"'' | wc -l)" 0 "duplicate waiting lines"
rm -f "$T"/err.*
expect_only . counter

case_ "concurrent increments mixed with --no-wait and --timeout writers"
printf '0\n' >counter
pids=()
for ((i = 0; i < WRITERS; i++)); do
  "$MUTX" -q counter -- sh -c 'read n; echo $((n+1))' &
  pids+=($!)
done
# These may or may not get the lock; they must never corrupt the count.
nowait=0
for ((i = 0; i < 10; i++)); do
  "$MUTX" -q --no-wait counter -- sh -c 'read n; echo $((n+1))' 2>/dev/null
  rc=$?
  if [[ $rc -eq 0 ]]; then nowait=$((nowait + 1)); elif [[ $rc -ne 2 ]]; then fail "--no-wait writer exit $rc"; fi
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
expect_eq "$bad" 0 "writers that failed"
expect_content counter "$((WRITERS + nowait))"$'\n'
expect_only . counter

finish
