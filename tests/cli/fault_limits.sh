#!/usr/bin/env bash
# Resource limits of the caller. A file size limit (ulimit -f) must give
# exit 1 with "File too large" (not death by SIGXFSZ with the lock file left
# behind), in every mode and on both I/O paths; a command run with -- gets
# the default SIGXFSZ back. A low limit on open files (prlimit --nofile)
# must give exit 1 with an `Error: CONTEXT: REASON` line in mutx's words,
# never asio's raw text. In all cases the target keeps its content and
# nothing is left beside it.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
mkdir d
printf 'old\n' >d/f
head -c 300000 /dev/zero >big

for flags in "" "--stream" "--append" "--input big" "--backup"; do
  case_ "ulimit -f 100, 300 kB [$flags]"
  # shellcheck disable=SC2086
  (ulimit -f 100; exec "$MUTX" $flags d/f <big 2>"$T/.stderr")
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 1
  expect_match "$ERR" "^Error: cannot (write|copy from .+ to) d/f: File too large"$'\n'"Hint: The file size limit \(ulimit -f\)" "stderr"
  expect_content d/f $'old\n'
  expect_only d f  # no backup either: it is made only once the new content is synced
done

case_ "ulimit -f 100: a command's output that does not fit"
(ulimit -f 100; exec "$MUTX" d/f -- head -c 300000 /dev/zero 2>"$T/.stderr")
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" "^Error: cannot write d/f: File too large" "stderr"
expect_content d/f $'old\n'
expect_only d f

case_ "the command gets the default SIGXFSZ back"
# head dies by SIGXFSZ (status 128 + 25) inside the command; the shell
# around it goes on and prints what it saw.
(ulimit -f 1; exec "$MUTX" d/f -- sh -c 'head -c 5000 /dev/zero >"$1"; echo "status $?"' sh "$T/fsz" 2>"$T/.stderr")
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content d/f $'status 153\n'
printf 'old\n' >d/f

case_ "ulimit -f: a write that fits still works"
(ulimit -f 100; printf 'small\n' | exec "$MUTX" d/f 2>"$T/.stderr")
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content d/f $'small\n'
printf 'old\n' >d/f

need_cmd prlimit
# A sanitized build cannot take part: its runtime needs descriptors of its
# own (libasan.so does not even load at 3 or 4, and UBSan's type checks
# then report errors inside Boost that are not there).
if [[ ${MUTX_SANITIZED:-0} == 1 ]]; then
  echo "NOTE: low open-file limits not checked in the sanitized build (the sanitizer runtime needs descriptors)" >&2
  finish
  exit
fi
for n in 3 4 5 6 7 8 9 10 11 12; do
  case_ "prlimit --nofile=$n"
  printf 'new\n' | prlimit --nofile=$n "$MUTX" d/f 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  # Enough descriptors for the whole write is fine too; too few is exit 1.
  if [[ $RC -eq 0 ]]; then
    expect_content d/f $'new\n'
    printf 'old\n' >d/f
  else
    expect_rc 1
    # In mutx's words: CONTEXT: REASON and a hint (with --io=uring forced,
    # the ring's own setup can be what fails: "io_uring is unavailable").
    expect_match "$ERR" "^Error: [^"$'\n'"]+: Too many open files"$'\n'"Hint: " "stderr"
    if [[ $ERR == *"[system:"* || $ERR == *"Bad file descriptor"* ]]; then fail "raw or misleading text: $ERR"; else pass; fi
    expect_content d/f $'old\n'
  fi
  expect_only d f
done

finish
