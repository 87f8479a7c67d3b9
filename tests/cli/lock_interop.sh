#!/usr/bin/env bash
# The lock file and other programs: a lock file removed or replaced while a
# writer holds it makes that write fail (exit 2, target unchanged) instead
# of committing beside the next writer; --keep-lock-file lets flock(1)
# users of OUTPUT.lock take turns with mutx; a lock file that cannot be
# opened or created gets a hint saying why and what to do.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
mkdir w && cd w || exit 1

case_ "lock file removed while held: no commit, exit 2"
printf 'old\n' >f
run f -- sh -c 'rm f.lock; cat; echo new'
expect_rc 2
expect_match "$ERR" "^Error: lock file f\\.lock was removed or replaced while this write held it; f was not changed" "stderr"
expect_match "$ERR" $'\nHint: .*--keep-lock-file' "hint"
expect_content f $'old\n'
expect_only . f

case_ "lock file replaced while held (the next writer's): no commit"
run f -- sh -c 'rm f.lock; : >f.lock; cat; echo new'
expect_rc 2
expect_content f $'old\n'
expect_only . f f.lock
rm -f f.lock

case_ "the same with --backup: no backup is left either"
run --backup f -- sh -c 'rm f.lock; echo new'
expect_rc 2
expect_content f $'old\n'
expect_only . f

case_ "--keep-lock-file: the lock file stays, empty"
run_in 'v2' --keep-lock-file f
expect_rc 0
expect_content f 'v2'
expect_only . f f.lock
expect_eq "$(stat -c %s f.lock)" 0 "size of f.lock"
printf 'keep-lock-file = true\n' >"$T/cfg"
mkdir -p "$XDG_CONFIG_HOME/mutx" && cp "$T/cfg" "$XDG_CONFIG_HOME/mutx/config"
rm f.lock
run_in 'v3' f
expect_rc 0
expect_only . f f.lock
rm "$XDG_CONFIG_HOME/mutx/config" f.lock

need_cmd flock
# A mutx writer holds the lock; flock(1) blocks on f.lock behind it; when
# mutx is done, flock(1) holds the lock and a third writer must wait.
interop() {  # keep-flag
  rm -f f.lock got-it
  "$MUTX" $1 f -- sh -c 'sleep 0.6; echo A' &
  local a=$!
  sleep 0.2
  flock f.lock sh -c 'touch got-it; sleep 1.5' &
  local b=$!
  wait "$a"
  local i
  for ((i = 0; i < 100; i++)); do [[ -e got-it ]] && break; sleep 0.02; done
  [[ -e got-it ]] || fail "flock(1) never got the lock"
  run_in 'C' $1 --no-wait f
  wait "$b"
}
case_ "--keep-lock-file: a flock(1) that waited behind mutx keeps the next mutx writer out"
interop --keep-lock-file
expect_rc 2
expect_match "$ERR" "^Error: f: File locked by another process" "stderr"
expect_content f $'A\n'
case_ "without it the next writer goes in beside flock(1) (the LIMITATIONS case)"
interop ""
expect_rc 0
expect_content f 'C'
rm -f got-it f.lock

if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null 2>&1; then
  echo "NOTE: needs root and setpriv: the unprivileged lock file cases were not run" >&2
  finish
  exit
fi
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

case_ "a planted mode-000 lock file: the error says whose it is and what to do"
mkdir -m 777 shared
printf 'report\n' >shared/report && chmod 666 shared/report
: >shared/report.lock && chmod 000 shared/report.lock
OUT=$(printf 'new' | as_nobody "$MUTX" shared/report 2>"$T/.stderr")
RC=$?
ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" "^Error: shared/report\\.lock: Permission denied" "stderr"
expect_match "$ERR" $'\nHint: The lock file belongs to uid 0 with mode 0000, which you may not open.*--lock-file' "hint"
expect_content shared/report $'report\n'

case_ "a directory where the lock file cannot be created: the hint names the directory, not --lock-file"
# Replacing ro/f needs ro writable anyway (the new content is made beside
# it and renamed over it): another lock file would not help, so the hint
# says what does (PRD 7.2: sudo, or the directory's permissions).
mkdir -m 755 ro
printf 'data\n' >ro/f && chmod 666 ro/f
hint_ro="Hint: You may not create files in ro, and replacing a file there needs that: its new content (and its lock file) is created beside it and renamed over it. Run with sudo, or check the directory's permissions (ls -ld ro)."
OUT=$(printf 'new' | as_nobody "$MUTX" ro/f 2>"$T/.stderr")
RC=$?
ERR=$(cat "$T/.stderr")
expect_rc 1
expect_eq "$ERR" "Error: ro/f.lock: Permission denied"$'\n'"$hint_ro" "stderr"
expect_content ro/f $'data\n'
expect_only ro f
# And indeed a lock file elsewhere does not help: the staged file says the same.
OUT=$(printf 'new' | as_nobody "$MUTX" --lock-file shared/f.lock ro/f 2>"$T/.stderr")
RC=$?
ERR=$(cat "$T/.stderr")
expect_rc 1
expect_eq "$ERR" "Error: cannot create a temporary file in ro: Permission denied"$'\n'"$hint_ro" "stderr with --lock-file elsewhere"
expect_content ro/f $'data\n'
expect_only ro f

case_ "--lock-file in a directory that refuses it: the hint names that directory and --lock-file"
OUT=$(printf 'new' | as_nobody "$MUTX" --lock-file ro/x.lock shared/g 2>"$T/.stderr")
RC=$?
ERR=$(cat "$T/.stderr")
expect_rc 1
expect_eq "$ERR" "Error: ro/x.lock: Permission denied"$'\n'"Hint: You may not create files in ro, the lock file's directory; pass --lock-file PATH in a directory you may write (the same PATH for every writer of the file)." "stderr"
expect_missing shared/g
mkdir -m 700 closed
OUT=$(printf 'new' | as_nobody "$MUTX" --lock-file closed/x.lock shared/g 2>"$T/.stderr")
RC=$?
ERR=$(cat "$T/.stderr")
expect_rc 1
expect_eq "$ERR" "Error: cannot open the directory of lock file closed/x.lock: Permission denied"$'\n'"Hint: You may not open closed, the lock file's directory; pass --lock-file PATH in a directory you may write (the same PATH for every writer of the file)." "stderr, a directory it may not open"
expect_missing shared/g
expect_only ro f
expect_only closed

finish
