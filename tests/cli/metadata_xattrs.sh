#!/usr/bin/env bash
# Extended attributes and POSIX ACLs of the old target survive a plain
# write. A filesystem that takes no user xattrs (ramfs) is no error when
# the old file had none; when the old file had some and they are refused
# (injected EOPNOTSUPP on fsetxattr), stderr warns and the write succeeds.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_cmd setfattr
need_cmd getfattr
mkdir probe
touch probe/p
setfattr -n user.probe -v 1 probe/p 2>/dev/null || skip "this filesystem ($(stat -f -c %T .)) takes no user xattrs"

case_ "user xattrs survive a plain write"
mkdir x
printf 'old' >x/f
setfattr -n user.test -v hello x/f
setfattr -n user.other -v 0sAAECAwQ= x/f
ino=$(stat -c %i x/f)
run_in 'new' x/f
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content x/f 'new'
if [[ $(stat -c %i x/f) != "$ino" ]]; then pass; else fail "the target was rewritten in place"; fi
expect_eq "$(getfattr --only-values -n user.test x/f 2>/dev/null)" "hello" "user.test"
expect_eq "$(getfattr -e base64 -n user.other x/f 2>/dev/null | grep '^user\.other=')" "user.other=0sAAECAwQ=" "user.other (binary)"
expect_only x f

case_ "user xattrs survive --stream, --append and the command form"
run_in 'streamed' --stream x/f
expect_rc 0
run_in '+' --append x/f
expect_rc 0
run x/f -- tr a-z A-Z
expect_rc 0
expect_content x/f 'STREAMED+'
expect_eq "$(getfattr --only-values -n user.test x/f 2>/dev/null)" "hello" "user.test"

if [[ $(id -u) -eq 0 ]]; then
  case_ "trusted xattrs survive as root"
  setfattr -n trusted.test -v secret x/f
  run_in 'again' x/f
  expect_rc 0
  expect_eq "$ERR" "" "stderr"
  expect_eq "$(getfattr --only-values -n trusted.test x/f 2>/dev/null)" "secret" "trusted.test"
fi

# File capabilities: the kernel drops security.capability on any write to
# the file, so they are put back after the data (as set-id bits are).
if [[ $(id -u) -eq 0 ]] && command -v setcap >/dev/null && command -v getcap >/dev/null; then
  for flags in "" "--stream" "--append" "--backup --backup-mode 0700"; do
    case_ "file capabilities survive [$flags]"
    printf 'cap' >x/cap
    setcap cap_net_raw+ep x/cap
    # shellcheck disable=SC2086
    run_in 'new' $flags x/cap
    expect_rc 0
    expect_eq "$ERR" "" "stderr"
    expect_match "$(getcap x/cap)" 'cap_net_raw[=+]ep' "capabilities of x/cap"
    if [[ $flags == *--backup* ]]; then
      expect_match "$(getcap x/cap.backup)" 'cap_net_raw[=+]ep' "capabilities of the copied backup"
      rm -f x/cap.backup
    fi
  done
  rm -f x/cap
else
  echo "NOTE: file capabilities not checked (needs root and setcap/getcap from libcap2-bin)" >&2
fi

if command -v setfacl >/dev/null && command -v getfacl >/dev/null && setfacl -m u:65534:r probe/p 2>/dev/null; then
  case_ "an ACL entry survives a plain write"
  mkdir acl
  printf 'old' >acl/f
  chmod 640 acl/f
  setfacl -m u:65534:rw acl/f
  before=$(getfacl -cpn acl/f)
  mode=$(stat -c %a acl/f)
  run_in 'new' acl/f
  expect_rc 0
  expect_eq "$ERR" "" "stderr"
  expect_content acl/f 'new'
  expect_match "$(getfacl -cpn acl/f)" "user:65534:rw-" "getfacl"
  expect_eq "$(getfacl -cpn acl/f)" "$before" "the whole ACL"
  expect_mode acl/f "$mode"

  case_ "an explicit --mode wins over the copied ACL's mask"
  run_in 'newer' --mode 0600 acl/f
  expect_rc 0
  expect_mode acl/f 600
  expect_match "$(getfacl -cpn acl/f)" "user:65534:rw-" "the entry is kept"
  expect_match "$(getfacl -cpn acl/f)" "mask::---" "the mask follows --mode"
else
  echo "note: no setfacl/getfacl or no ACL support here; ACL cases not run" >&2
fi

case_ "refused attributes of the old file: a warning, exit 0"
if command -v strace >/dev/null && strace -f -o /dev/null -e inject=fsetxattr:error=EOPNOTSUPP true 2>/dev/null; then
  mkdir inj
  printf 'old' >inj/f
  setfattr -n user.test -v hello inj/f
  printf 'new' | strace -f -o /dev/null -e inject=fsetxattr:error=EOPNOTSUPP "$MUTX" inj/f 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_eq "$ERR" "Warning: attribute user.test of inj/f was not kept: Operation not supported" "stderr"
  expect_content inj/f 'new'
  expect_eq "$(getfattr -d --absolute-names inj/f 2>/dev/null | grep -c user.test)" "0" "user.test after the refused copy"
  expect_only inj f
  case_ "the warning in --json"
  setfattr -n user.test -v hello inj/f
  printf 'new' | strace -f -o /dev/null -e inject=fsetxattr:error=EOPNOTSUPP "$MUTX" --json inj/f 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_match "$ERR" '"level":"warning","event":"metadata","message":"attribute user.test of inj/f was not kept: Operation not supported"' "json"
  case_ "-q prints nothing but errors: no warning"
  setfattr -n user.test -v hello inj/f
  printf 'quiet' | strace -f -o /dev/null -e inject=fsetxattr:error=EOPNOTSUPP "$MUTX" -q inj/f 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_eq "$ERR" "" "stderr"
  expect_content inj/f 'quiet'
else
  echo "note: strace fault injection unavailable; refused-xattr case not run" >&2
fi

# ramfs refuses user xattrs: nothing to carry, nothing to warn about.
if [[ $(id -u) -eq 0 ]] && mkdir ramfs && mount -t ramfs mutx-xattr-test ramfs 2>/dev/null; then
  on_exit umount -l "$T/ramfs"
  touch ramfs/p
  if setfattr -n user.probe -v 1 ramfs/p 2>/dev/null; then
    echo "note: ramfs takes user xattrs on this kernel; no-xattr filesystem case not run" >&2
  else
    rm -f ramfs/p
    case_ "a filesystem without user xattrs: no warning when the old file had none"
    run_in 'first' ramfs/f
    expect_rc 0
    expect_eq "$ERR" "" "stderr"
    run_in 'second' --backup ramfs/f
    expect_rc 0
    expect_eq "$ERR" "" "stderr"
    expect_content ramfs/f 'second'
    expect_content ramfs/f.backup 'first'
    expect_only ramfs f f.backup
  fi
else
  echo "note: no ramfs mount (needs root); no-xattr filesystem case not run" >&2
fi

finish
