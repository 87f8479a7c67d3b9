#!/usr/bin/env bash
# What the lock file may be (docs/design.md, section 4): a symlink, a directory or a
# FIFO named OUT.lock is refused with exit 1 and a clear error, never
# followed, opened blocking or truncated; --lock-file PATH and --lock-mode
# OCTAL; the lock file sits beside the real target of a symlinked OUTPUT;
# a stale lock file left by a crash (empty, unheld) is simply reused.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
mkdir w && cd w || exit 1

printf 'old\n' >OUT
printf 'precious\n' >other

case_ "symlinked lock file is refused"
ln -s other OUT.lock
run_in 'new' OUT
expect_rc 1
expect_match "$ERR" "^Error: lock file OUT\\.lock is a symbolic link" "stderr"
expect_match "$ERR" $'\nHint: ' "hint"
expect_content OUT $'old\n'
expect_content other $'precious\n'
expect_eq "$(readlink OUT.lock)" other "the symlink"
for flags in --stream --append --no-wait; do
  run_in 'new' $flags OUT
  expect_rc 1
  expect_match "$ERR" "^Error: lock file OUT\\.lock is a symbolic link" "stderr with $flags"
done
run OUT -- sh -c 'echo ran >ran; cat'
expect_rc 1
expect_missing ran
expect_content OUT $'old\n'
expect_content other $'precious\n'
expect_only . OUT OUT.lock other

case_ "dangling symlink as lock file: nothing created at its target"
rm OUT.lock
ln -s made-by-mutx OUT.lock
run_in 'new' OUT
expect_rc 1
expect_match "$ERR" "^Error: lock file OUT\\.lock is a symbolic link" "stderr"
expect_missing made-by-mutx
expect_content OUT $'old\n'
rm OUT.lock

case_ "directory as lock file is refused"
mkdir OUT.lock
run_in 'new' OUT
expect_rc 1
expect_match "$ERR" "^Error: lock file OUT\\.lock is a directory" "stderr"
expect_content OUT $'old\n'
[[ -d OUT.lock ]] && pass || fail "OUT.lock directory gone"
rmdir OUT.lock

case_ "FIFO as lock file is refused, never opened blocking"
mkfifo OUT.lock
# A blocking open of a FIFO with no writer would hang: bound it.
OUT=$(printf 'new' | timeout 20 "$MUTX" OUT 2>"$T/.stderr")
RC=$?
ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" "^Error: lock file OUT\\.lock is not a regular file" "stderr"
expect_content OUT $'old\n'
[[ -p OUT.lock ]] && pass || fail "OUT.lock FIFO gone"
rm OUT.lock

case_ "a leftover empty lock file (crashed writer) is reused and removed"
: >OUT.lock
run_in 'new' OUT
expect_rc 0
expect_content OUT 'new'
expect_only . OUT other

case_ "a non-empty OUT.lock that is not held is used but never deleted"
printf 'keep me\n' >OUT.lock
run_in 'newer' OUT
expect_rc 0
expect_content OUT 'newer'
expect_content OUT.lock $'keep me\n'
rm OUT.lock

case_ "--lock-mode: the mode of the lock file while held"
printf 'old\n' >OUT
run --lock-mode 0600 OUT -- sh -c 'stat -c %a OUT.lock >&2; cat'
expect_rc 0
expect_eq "$ERR" "600" "lock file mode"
run --lock-mode 640 OUT -- sh -c 'stat -c %a OUT.lock >&2; cat'
expect_rc 0
expect_eq "$ERR" "640" "lock file mode"
run OUT -- sh -c 'stat -c %a OUT.lock >&2; cat'
expect_rc 0
expect_eq "$ERR" "644" "default lock file mode"
OUT=$(umask 077; "$MUTX" OUT -- sh -c 'stat -c %a OUT.lock >&2; cat' 2>"$T/.stderr")
RC=$?
ERR=$(cat "$T/.stderr")
expect_rc 0
expect_eq "$ERR" "600" "default lock mode under umask 077"
expect_content OUT $'old\n'
expect_only . OUT other
for bad in 999 abc 0x644 ''; do
  run_in 'new' --lock-mode "$bad" OUT
  expect_rc 1
  expect_match "$ERR" "^Error: .*lock-mode" "stderr for '$bad'"
done

case_ "--lock-file PATH"
mkdir locks
run --lock-file locks/my.lock OUT -- sh -c 'ls locks >&2; ls >&2; cat'
expect_rc 0
expect_eq "$ERR" $'my.lock\nOUT\nlocks\nother' "lock file while held, and no OUT.lock"
expect_only locks
# Another writer with the same --lock-file is excluded.
need_cmd flock
flock -o locks/my.lock sleep 30 &
H=$!
on_exit "pkill -P $H; kill $H"
for ((i = 0; i < 200; i++)); do flock -n locks/my.lock true || break; sleep 0.05; done
run_in 'new' --no-wait --lock-file locks/my.lock OUT
expect_rc 2
expect_match "$ERR" "^Error: OUT: File locked by another process" "stderr"
expect_match "$ERR" "Hint: .*locks/my\\.lock" "hint names --lock-file"
# OUT.lock is not what guards OUT now: a writer using the default lock is
# not excluded by it (that is the user's choice of --lock-file).
run_in 'default' --no-wait OUT
expect_rc 0
pkill -P $H
wait $H
run_in 'abs' --lock-file "$PWD/locks/abs.lock" OUT
expect_rc 0
expect_content OUT 'abs'
# my.lock was made by flock(1), which never removes it.
expect_only locks my.lock
rm locks/my.lock
run_in 'x' --lock-file "$PWD/no-such-dir/x.lock" OUT
expect_rc 1
expect_match "$ERR" "^Error: .*no-such-dir" "missing lock directory"
run_in 'x' --lock-file locks/ OUT
expect_rc 1
expect_match "$ERR" "^Error: " "directory as --lock-file"
run_in 'x' --lock-file other OUT
expect_rc 0
expect_content other $'precious\n'
expect_content OUT 'x'
expect_only . OUT locks other

case_ "symlinked OUTPUT: the lock sits beside the real file"
mkdir real
printf 'r\n' >real/data
ln -s real/data link
run link -- sh -c 'ls real >&2; cat; echo more'
expect_rc 0
expect_eq "$ERR" $'data\ndata.lock' "lock file beside the target"
expect_content real/data $'r\nmore\n'
expect_only real data

# Another user's lock file (0644): flock needs no write access, so writers
# of a shared file take turns through it instead of failing, and a stale one
# of theirs does not lock the file's owner out. Needs root for setpriv.
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
  as() { local uid=$1; shift; setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"; }
  mkdir -m 0777 shared
  cp "$MUTX" "$T/mutx-copy" && chmod 755 "$T/mutx-copy" "$T"
  printf '0\n' >shared/n
  chmod 666 shared/n

  case_ "another user's held lock file: a wait, then the turn"
  as 65534 "$T/mutx-copy" shared/n -- sh -c 'sleep 1; cat; echo A' 2>"$T/.holder" &
  holder=$!
  # Held, not only created: the name exists an instant before the flock,
  # and a writer starting in that instant would not have to wait.
  for _ in $(seq 100); do [[ -e shared/n.lock ]] && ! flock -n shared/n.lock true 2>/dev/null && break; sleep 0.02; done
  expect_eq "$(stat -c %U shared/n.lock 2>/dev/null)" nobody "owner of the held lock file"
  OUT_=$(as 1234 "$T/mutx-copy" --timeout 20 shared/n -- sh -c 'cat; echo B' 2>&1)
  RC=$? ERR=$OUT_
  wait $holder
  expect_rc 0
  expect_match "$ERR" '^Waiting for lock on shared/n \(20s timeout\)\.\.\.' "stderr"
  expect_content shared/n $'0\nA\nB\n'
  expect_only shared n

  case_ "a stale lock file of another user does not lock the owner out"
  : >shared/n.lock
  chown 65534:65534 shared/n.lock
  chmod 644 shared/n.lock
  OUT_=$(printf 'mine\n' | as 1234 "$T/mutx-copy" --no-wait shared/n 2>&1)
  RC=$? ERR=$OUT_
  expect_rc 0
  expect_content shared/n $'mine\n'
  expect_only shared n
else
  echo "NOTE: another user's lock file not checked (needs root and setpriv)" >&2
fi

finish
