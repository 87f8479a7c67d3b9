#!/usr/bin/env bash
# After taking the lock, a writer removes the stale temps in its own target's
# four slots, `.NAME.mutx-0` to `-3` (left by a crashed writer on a
# filesystem without O_TMPFILE, or killed between link and rename): regular
# files that no live writer claims (the claim is a flock on the temp, held
# whatever lock file its writer used). A symlink, directory or FIFO with
# such a name is never followed (its target is untouched); other targets'
# temps, and random-named ones (housekeep's), are left alone.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
mkdir w && cd w || exit 1

printf 'precious\n' >precious
printf 'old\n' >OUT

case_ "a stale regular temp is removed"
printf 'half-written' >.OUT.mutx-0
run_in 'new' OUT
expect_rc 0
expect_content OUT 'new'
expect_only . OUT precious

case_ "several stale temps, every write mode"
for flags in "" --stream --append "--no-sync"; do
  printf 'x' >.OUT.mutx-1
  : >.OUT.mutx-3
  run_in 'next' $flags OUT
  expect_rc 0
  expect_only . OUT precious
done
printf 'x' >.OUT.mutx-2
run OUT -- cat
expect_rc 0
expect_only . OUT precious

case_ "a symlink named like a temp is not followed"
ln -s precious .OUT.mutx-1
ln -s /nonexistent/dir .OUT.mutx-2
run_in 'again' OUT
expect_rc 0
expect_content OUT 'again'
expect_content precious $'precious\n'
[[ -f precious && ! -L precious ]] && pass || fail "precious replaced"
# The link names themselves may stay or go; nothing else may change.
for l in .OUT.mutx-1 .OUT.mutx-2; do
  if [[ -L $l ]]; then rm "$l"; pass; elif [[ -e $l ]]; then fail "$l is no longer a link"; else pass; fi
done
expect_only . OUT precious

case_ "a directory or FIFO named like a temp is left alone"
mkdir .OUT.mutx-0
printf 'inside\n' >.OUT.mutx-0/file
mkfifo .OUT.mutx-1
OUT=$(printf 'fifo' | timeout 20 "$MUTX" OUT 2>"$T/.stderr")
RC=$?
expect_rc 0
expect_content OUT 'fifo'
expect_content .OUT.mutx-0/file $'inside\n'
[[ -p .OUT.mutx-1 ]] && pass || fail "FIFO removed"
rm -r .OUT.mutx-0 .OUT.mutx-1

case_ "a hard link named like a temp: the other name keeps the data"
ln precious .OUT.mutx-2
run_in 'linked' OUT
expect_rc 0
expect_content precious $'precious\n'
expect_only . OUT precious

case_ "other targets' temps are not touched, nor names that only look like a slot"
# .OUT.mutx-b.mutx-0 is slot 0 of OUT.mutx-b, not a temp of OUT: the old
# prefix match deleted a live writer's temp of OUT.mutx-b.
printf 'theirs' >.OTHER.mutx-0
printf 'theirs' >.OUT2.mutx-0
printf 'theirs' >.OUT.mutx-b.mutx-0
printf 'theirs' >.OUT.mutx
printf 'theirs' >.OUT.mutx-4
printf 'theirs' >.OUT.mutx-01
run_in 'mine' OUT
expect_rc 0
expect_only . .OTHER.mutx-0 .OUT2.mutx-0 .OUT.mutx-b.mutx-0 .OUT.mutx .OUT.mutx-4 .OUT.mutx-01 OUT precious
expect_content .OUT.mutx-b.mutx-0 'theirs'
rm .OTHER.mutx-0 .OUT2.mutx-0 .OUT.mutx-b.mutx-0 .OUT.mutx .OUT.mutx-4 .OUT.mutx-01

case_ "random-named temps are housekeep's, not the writer's"
printf 'x' >.OUT.mutx-abcdef123456
run_in 'mine' OUT
expect_rc 0
expect_only . .OUT.mutx-abcdef123456 OUT precious
rm .OUT.mutx-abcdef123456

case_ "a temp claimed by a live writer (another lock file, another host's sweep) is kept"
need_cmd flock
printf 'streaming' >.OUT.mutx-1
flock -s -o .OUT.mutx-1 sleep 30 &
C=$!
on_exit "pkill -P $C; kill $C"
for ((i = 0; i < 200; i++)); do flock -n -x .OUT.mutx-1 true || break; sleep 0.05; done
run_in 'other lock' OUT
expect_rc 0
expect_content .OUT.mutx-1 'streaming'
pkill -P $C
wait $C 2>/dev/null
run_in 'after' OUT
expect_rc 0
expect_only . OUT precious

case_ "no sweep without the lock: --no-wait against a holder leaves temps"
printf 'x' >.OUT.mutx-3
flock -o OUT.lock sleep 30 &
H=$!
on_exit "pkill -P $H; kill $H"
for ((i = 0; i < 200; i++)); do flock -n OUT.lock true || break; sleep 0.05; done
run_in 'locked out' --no-wait OUT
expect_rc 2
[[ -f .OUT.mutx-3 ]] && pass || fail "temp removed without the lock"
pkill -P $H
wait $H
rm -f OUT.lock
run_in 'unlocked' OUT
expect_rc 0
expect_only . OUT precious

finish
