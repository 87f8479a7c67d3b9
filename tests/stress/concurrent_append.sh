#!/usr/bin/env bash
# Concurrent --append writers lose nothing and tear nothing: 200 x
# MUTX_TEST_SIZE writers (a fifth of that in a sanitized build) started at
# once, each appending one distinct line longer than PIPE_BUF to a file that
# already holds a line, leave that line first and then exactly one whole copy
# of each writer's line. The writers mix simple and --stream mode and the
# io_uring and syscall I/O paths; none fails or says anything, and no lock or
# temp file is left.
. "$(dirname "$0")/../cli/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
mkdir w && cd w || exit 1
SIZE=${MUTX_TEST_SIZE:-1}
[[ $SIZE =~ ^[0-9]+$ && $SIZE -ge 1 ]] || SIZE=1
N=$((200 * SIZE))
[[ ${MUTX_SANITIZED:-0} == 1 ]] && N=$((N / 5))

# Line i: "writer i " and 6000 copies of the letter i picks.
letters=abcdefghijklmnopqrstuvwxyz
fill=()
for ((k = 0; k < 26; k++)); do
  printf -v run '%6000s' ''
  fill+=("${run// /${letters:k:1}}")
done

case_ "$N concurrent --append writers, simple and --stream, on both I/O paths"
printf 'header\n' >log
for ((i = 0; i < N; i++)); do printf 'writer %d %s\n' "$i" "${fill[i % 26]}" >"$T/in.$i"; done
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
expect_eq "$(head -1 log)" "header" "first line"
expect_eq "$(wc -l <log)" "$((N + 1))" "lines"
expect_eq "$(tail -n +2 log | sort | uniq -d | wc -l)" 0 "duplicate lines"
if cmp -s <(tail -n +2 log | sort) <(cat "$T"/in.* | sort); then pass; else fail "lines differ from what was written"; fi
expect_eq "$(cat "$T/errors")" "" "stderr of the writers"
rm -f "$T"/in.*
expect_only . log

finish
