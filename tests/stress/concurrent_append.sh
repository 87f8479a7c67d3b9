#!/usr/bin/env bash
# 200 x MUTX_TEST_SIZE concurrent --append writers, each appending one
# distinct line longer than PIPE_BUF, give exactly that many whole distinct
# lines (simple and --stream mode, both I/O paths). Nothing is left behind.
. "$(dirname "$0")/../cli/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
mkdir w && cd w || exit 1
N=$((200 * ${MUTX_TEST_SIZE:-1}))

letters=abcdefghijklmnopqrstuvwxyz
case_ "$N concurrent --append writers"
: >log
for ((i = 0; i < N; i++)); do
  c=${letters:$((i % 26)):1}
  printf 'writer %d %s\n' "$i" "$(head -c 6000 /dev/zero | tr '\0' "$c")" >"$T/in.$i"
done
pids=()
for ((i = 0; i < N; i++)); do
  io=uring
  ((i % 2)) && io=syscalls
  mode=()
  ((i % 4 >= 2)) && mode=(--stream)
  MUTX_IO=$io "$MUTX" -q --append "${mode[@]}" log <"$T/in.$i" 2>>"$T/errors" &
  pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
expect_eq "$bad" 0 "writers that failed"
expect_eq "$(wc -l <log)" "$N" "lines"
expect_eq "$(sort log | uniq -d | wc -l)" 0 "duplicate lines"
if cmp -s <(sort log) <(cat "$T"/in.* | sort); then pass; else fail "lines differ from what was written"; fi
expect_eq "$(cat "$T/errors")" "" "stderr of the writers"
rm -f "$T"/in.*
expect_only . log

finish
