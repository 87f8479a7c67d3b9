#!/usr/bin/env bash
# mutx housekeep: argument checking, --help, durations, counts, bad DIRs.
. "$(dirname "$0")/lib.sh"
hk_tree
stop_on_error
touch a a.lock

case_ "no operation named"
hk
expect_rc 1
expect_out
expect_err "Error: Specify at least one operation (--clean-locks, --clean-backups, --clean-temps or --all)"
hk -r -n "$TREE"
expect_rc 1
expect_err "Error: Specify at least one operation (--clean-locks, --clean-backups, --clean-temps or --all)"
expect_exists a.lock

case_ "--help lists every long option and exits 0; -h is the same"
for h in --help -h; do
  hk "$h"
  expect_rc 0
  for opt in --clean-locks --clean-backups --clean-temps --all --recursive --older-than --keep-newest \
    --dry-run --verbose --json --backup-suffix --help; do
    expect_has "$OUT" "$opt" "$h output"
  done
done

case_ "bad durations, as a separate word and after '='"
for bad in abc -5 5x '' 99999999999999999999 106751991167301d 1.5h 2H ' 5' 5hh; do
  hk --clean-locks --older-than "$bad"
  expect_rc 1
  expect_out
  [[ $ERR == "Error: invalid duration '$bad' "* ]] && pass || fail "--older-than '$bad': $ERR"
  hk --clean-locks "--older-than=$bad"
  expect_rc 1
done
expect_exists a.lock

case_ "good durations (the lock is new, so nothing goes)"
for good in 30s 15m 2h 7d 1w 3; do
  hk --all --older-than "$good"
  expect_rc 0
  expect_out
done
expect_exists a.lock

case_ "--keep-newest wants a non-negative integer"
for bad in abc -1 1.5 '' 1e3 99999999999999999999; do
  hk --clean-backups --keep-newest "$bad"
  expect_rc 1
  expect_out
  expect_err "Error: invalid --keep-newest '$bad' (expected a non-negative integer)"
done
hk --clean-backups --keep-newest 0
expect_rc 0

case_ "DIR: missing, a file, a symlink to a directory, two of them"
hk --clean-locks "$T/missing"
expect_rc 1
expect_err "Error: cannot open directory $T/missing: No such file or directory"
hk --clean-locks a.lock
expect_rc 1
expect_err "Error: a.lock is not a directory"
ln -s "$OUTSIDE" "$T/link"
touch "$OUTSIDE/o.lock"
hk --clean-locks "$T/link"
expect_rc 1
expect_err_has "Error: $T/link is a symbolic link; housekeep never follows links"
expect_exists "$OUTSIDE/o.lock"
hk --clean-locks . "$OUTSIDE"
expect_rc 1
expect_err "Error: housekeep takes one DIR, got 2"
expect_exists a.lock "$OUTSIDE/o.lock"

case_ "unknown and abbreviated options are refused"
hk --clean-locks --frobnicate
expect_rc 1
expect_err_has "Error: unrecognised option '--frobnicate'"
hk --clean-lock
expect_rc 1
hk --clean-backups --backup-suffix ''
expect_rc 1
expect_exists a.lock

case_ "a slip of the keyboard: the hint names the option meant, as the write command's do"
hk --dryrun --clean-locks .
expect_rc 1
expect_err $'Error: unrecognised option \'--dryrun\'\nHint: did you mean --dry-run?'
hk --clean-lock .
expect_rc 1
expect_err $'Error: unrecognised option \'--clean-lock\'\nHint: did you mean --clean-locks?'
hk --clean-locks --older-then=2h .
expect_rc 1
expect_err $'Error: unrecognised option \'--older-then=2h\'\nHint: did you mean --older-than?'
expect_exists a.lock

case_ "housekeep's options without the word housekeep (or with it mistyped): the hint gives the command meant"
run --clean-locks --older-than 0 "$TREE"
expect_rc 1
expect_err $'Error: unrecognised option \'--clean-locks\'\nHint: --clean-locks is an option of housekeep: did you mean mutx housekeep --clean-locks --older-than 0 '"$TREE"'?'
run housekep --all -n .
expect_rc 1
expect_err $'Error: unrecognised option \'--all\'\nHint: --all is an option of housekeep: did you mean mutx housekeep --all -n .?'
run --dry-run "my dir"
expect_rc 1
expect_err $'Error: unrecognised option \'--dry-run\'\nHint: --dry-run is an option of housekeep: did you mean mutx housekeep --dry-run \'my dir\'?'
expect_exists a.lock

case_ "a DIR that starts with a dash, after --"
mkdir -- -d
touch -- -d/x -d/x.lock
hk --clean-locks --older-than 0 -- -d
expect_rc 0
expect_out "-d/x.lock"
finish
