#!/usr/bin/env bash
# Concurrent --append writers lose nothing and tear nothing: WRITERS (default
# 30) writers started at once, each appending one distinct line longer than
# PIPE_BUF, give exactly WRITERS whole distinct lines; no lock or temp file
# is left. The long version (200 x MUTX_TEST_SIZE) is
# tests/stress/concurrent_append.sh.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
mkdir w && cd w || exit 1
WRITERS=${WRITERS:-30}

# line N: "writer N " + 5000 copies of a letter picked by N.
line() {
  local letters=abcdefghijklmnopqrstuvwxyz
  printf 'writer %d %s\n' "$1" "$(head -c 5000 /dev/zero | tr '\0' "${letters:$(($1 % 26)):1}")"
}

for mode in "" --stream; do
  case_ "$WRITERS concurrent --append $mode writers"
  rm -f log
  printf 'header\n' >log
  : >want
  pids=()
  for ((i = 0; i < WRITERS; i++)); do
    line "$i" >"$T/in.$i"
    cat "$T/in.$i" >>want
    "$MUTX" -q --append $mode log <"$T/in.$i" &
    pids+=($!)
  done
  bad=0
  for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
  expect_eq "$bad" 0 "writers that failed"
  expect_eq "$(head -1 log)" "header" "first line"
  expect_eq "$(wc -l <log)" "$((WRITERS + 1))" "lines"
  expect_eq "$(tail -n +2 log | sort | uniq -d | wc -l)" 0 "duplicate lines"
  # Same set of whole lines as written.
  if cmp -s <(tail -n +2 log | sort) <(sort want); then pass; else fail "lines differ from what was written"; fi
  rm -f "$T"/in.* want
  expect_only . log
done

finish
