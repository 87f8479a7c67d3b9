#!/usr/bin/env bash
# After taking the lock, a writer removes the stale `.NAME.mutx-*` temps of its
# own target (left by a crashed writer on a filesystem without O_TMPFILE):
# regular files only. A symlink, directory or FIFO with such a name is never
# followed (its target is untouched); other targets' temps are left alone.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
mkdir w && cd w || exit 1

printf 'precious\n' >precious
printf 'old\n' >OUT

case_ "a stale regular temp is removed"
printf 'half-written' >.OUT.mutx-abcdef123456
run_in 'new' OUT
expect_rc 0
expect_content OUT 'new'
expect_only . OUT precious

case_ "several stale temps, every write mode"
for flags in "" --stream --append "--no-sync"; do
  printf 'x' >.OUT.mutx-aaaaaaaaaaaa
  : >.OUT.mutx-bbbbbbbbbbbb
  run_in 'next' $flags OUT
  expect_rc 0
  expect_only . OUT precious
done
printf 'x' >.OUT.mutx-cccccccccccc
run OUT -- cat
expect_rc 0
expect_only . OUT precious

case_ "a symlink named like a temp is not followed"
ln -s precious .OUT.mutx-111111111111
ln -s /nonexistent/dir .OUT.mutx-222222222222
run_in 'again' OUT
expect_rc 0
expect_content OUT 'again'
expect_content precious $'precious\n'
[[ -f precious && ! -L precious ]] && pass || fail "precious replaced"
# The link names themselves may stay or go; nothing else may change.
for l in .OUT.mutx-111111111111 .OUT.mutx-222222222222; do
  if [[ -L $l ]]; then rm "$l"; pass; elif [[ -e $l ]]; then fail "$l is no longer a link"; else pass; fi
done
expect_only . OUT precious

case_ "a directory or FIFO named like a temp is left alone"
mkdir .OUT.mutx-333333333333
printf 'inside\n' >.OUT.mutx-333333333333/file
mkfifo .OUT.mutx-444444444444
OUT=$(printf 'fifo' | timeout 20 "$MUTX" OUT 2>"$T/.stderr")
RC=$?
expect_rc 0
expect_content OUT 'fifo'
expect_content .OUT.mutx-333333333333/file $'inside\n'
[[ -p .OUT.mutx-444444444444 ]] && pass || fail "FIFO removed"
rm -r .OUT.mutx-333333333333 .OUT.mutx-444444444444

case_ "a hard link named like a temp: the other name keeps the data"
ln precious .OUT.mutx-555555555555
run_in 'linked' OUT
expect_rc 0
expect_content precious $'precious\n'
expect_only . OUT precious

case_ "other targets' temps are not touched"
printf 'theirs' >.OTHER.mutx-abcdef123456
printf 'theirs' >.OUT2.mutx-abcdef123456
printf 'theirs' >.OUT.mutx
run_in 'mine' OUT
expect_rc 0
expect_only . .OTHER.mutx-abcdef123456 .OUT2.mutx-abcdef123456 .OUT.mutx OUT precious
rm .OTHER.mutx-abcdef123456 .OUT2.mutx-abcdef123456 .OUT.mutx

case_ "no sweep without the lock: --no-wait against a holder leaves temps"
need_cmd flock
printf 'x' >.OUT.mutx-666666666666
flock -o OUT.lock sleep 30 &
H=$!
on_exit "pkill -P $H; kill $H"
for ((i = 0; i < 200; i++)); do flock -n OUT.lock true || break; sleep 0.05; done
run_in 'locked out' --no-wait OUT
expect_rc 2
[[ -f .OUT.mutx-666666666666 ]] && pass || fail "temp removed without the lock"
pkill -P $H
wait $H
rm -f OUT.lock
run_in 'unlocked' OUT
expect_rc 0
expect_only . OUT precious

finish
