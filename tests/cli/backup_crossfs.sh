#!/usr/bin/env bash
# --backup-dir on another filesystem (a tmpfs mounted in the test dir): no
# link is possible (EXDEV), so the backup is a copy that keeps the old
# content, mode, owner, mtime, xattrs and ACLs, is synced and renamed into place;
# --backup-mode and --backup-timestamp work the same way. Needs root.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_root "needs root to mount a tmpfs"
mkdir tmpfs
mount -t tmpfs -o size=4m mutx-backup-test tmpfs 2>/dev/null || skip "cannot mount a tmpfs here"
on_exit umount -l "$T/tmpfs"

case_ "--backup-dir on a tmpfs copies: content, mode and owner kept"
mkdir xfs
head -c 300000 /dev/urandom >xfs/f
cp xfs/f expected
chown 65534:65534 xfs/f
chmod 604 xfs/f
touch -d '2021-03-04 05:06:07.5' xfs/f
run_in 'new' --backup --backup-dir tmpfs -v xfs/f
expect_rc 0
expect_match "$ERR" "Backup created: tmpfs/f\.backup" "-v output"
expect_content xfs/f 'new'
expect_same_file tmpfs/f.backup expected
expect_mode tmpfs/f.backup 604
expect_eq "$(stat -c '%u:%g' tmpfs/f.backup)" "65534:65534" "owner of the copy"
expect_eq "$(stat -c %h tmpfs/f.backup)" 1 "link count of the copy"
expect_eq "$(stat -c %Y.%y tmpfs/f.backup)" "$(date -d '2021-03-04 05:06:07.5' +%s).$(date -d '2021-03-04 05:06:07.5' '+%Y-%m-%d %H:%M:%S.%N %z')" "mtime of the copy (as a linked backup keeps it)"
expect_only tmpfs f.backup
expect_only xfs f

case_ "a second copied backup replaces the first"
run_in 'newer' --backup --backup-dir tmpfs xfs/f
expect_rc 0
expect_content tmpfs/f.backup 'new'
expect_only tmpfs f.backup

case_ "--backup-mode applies to the copy, the target keeps its mode"
mkdir xm
printf 'old' >xm/f
chmod 644 xm/f
run_in 'new' --backup --backup-dir tmpfs --backup-mode 0600 xm/f
expect_rc 0
expect_content tmpfs/f.backup 'old'
expect_mode tmpfs/f.backup 600
expect_mode xm/f 644

case_ "--backup-timestamp on a tmpfs: generations are copies that never overwrite"
mkdir -p tmpfs/gen xts
printf 'v0' >xts/f
for v in 1 2 3; do run_in "v$v" --backup-timestamp --backup-dir tmpfs/gen xts/f; done
expect_rc 0
mapfile -t names < <(cd tmpfs/gen && LC_ALL=C ls -A)
expect_eq "${#names[@]}" 3 "generations (${names[*]})"
for i in 0 1 2; do expect_content "tmpfs/gen/${names[i]:-missing}" "v$i"; done

case_ "an unprivileged caller's copied backup is the caller's (uid 1000)"
if command -v setpriv >/dev/null && setpriv --reuid=1000 --regid=1000 --clear-groups true 2>/dev/null; then
  chmod 755 "$T"
  mkdir -m 0777 tmpfs/shared xu
  chmod 0777 xu
  printf 'old' >xu/f
  chown 65534:65534 xu/f
  chmod 666 xu/f
  OUT=$(printf 'new' | setpriv --reuid=1000 --regid=1000 --clear-groups "$MUTX" --backup-dir tmpfs/shared xu/f 2>"$T/.stderr")
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  # The owner changed from nobody to the caller: said, with the way to keep it.
  expect_eq "${ERR%%$'\n'*}" "Warning: xu/f was owned by nobody:nogroup and is now owned by $(stat -c %U:%G xu/f)" "stderr"
  expect_content xu/f 'new'
  expect_content tmpfs/shared/f.backup 'old'
  expect_eq "$(stat -c '%u:%g %a' tmpfs/shared/f.backup)" "1000:1000 666" "owner and mode of the copy"
  expect_only tmpfs/shared f.backup
else
  echo "note: setpriv cannot switch users; unprivileged copy case not run" >&2
fi

case_ "xattrs and ACLs of the old file are kept in a copied backup"
if command -v setfattr >/dev/null && command -v getfacl >/dev/null && setfattr -n user.probe -v 1 tmpfs 2>/dev/null; then
  mkdir xa
  printf 'old' >xa/f
  chmod 640 xa/f
  setfattr -n user.test -v hello xa/f
  setfacl -m u:65534:rw xa/f
  run_in 'new' --backup --backup-dir tmpfs xa/f
  expect_rc 0
  expect_eq "$ERR" "" "stderr"
  expect_eq "$(getfattr --only-values -n user.test tmpfs/f.backup 2>/dev/null)" "hello" "user.test of the copy"
  expect_match "$(getfacl -cpn tmpfs/f.backup 2>/dev/null)" "user:65534:rw-" "ACL of the copy"
  expect_eq "$(getfacl -cpn tmpfs/f.backup 2>/dev/null)" "$(getfacl -cpn xa/f 2>/dev/null)" "ACL of the copy vs the target"
else
  echo "note: tmpfs here takes no user xattrs (or no setfattr/getfacl); xattr copy case not run" >&2
fi

finish
