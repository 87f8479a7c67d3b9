#!/usr/bin/env bash
# A read-only mount: exit 1, a message that says read-only, the target
# untouched and nothing created. A read-only bind mount of a writable
# directory (the case users hit with containers) and a tmpfs remounted
# read-only. Needs root for the mounts.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
need_root "mounts need root"

mkdir -p "$T/rw" "$T/ro" "$T/fs"
printf 'old' >"$T/rw/t"
mount --bind "$T/rw" "$T/ro" 2>"$T/.mount.err" || skip "cannot bind-mount: $(cat "$T/.mount.err")"
on_exit "umount -l '$T/ro'"
mount -o remount,bind,ro "$T/ro" 2>"$T/.mount.err" || skip "cannot remount read-only: $(cat "$T/.mount.err")"
mount -t tmpfs -o size=4m mutx-ro "$T/fs" || skip "cannot mount a tmpfs"
on_exit "umount -l '$T/fs'"
printf 'old' >"$T/fs/t"
mount -o remount,ro "$T/fs" || skip "cannot remount the tmpfs read-only"

for dir in "$T/ro" "$T/fs"; do
  for flags in "" "--stream" "--append" "--backup" "--no-wait" "--lock-file $T/outside.lock" "-p"; do
    case_ "read-only $(basename "$dir") [$flags]"
    # shellcheck disable=SC2086
    run_in "new content" --no-config $flags "$dir/t"
    expect_rc 1
    expect_match "$ERR" "^Error: " "stderr"
    expect_match "$ERR" "[Rr]ead-only" "message says read-only"
    expect_content "$dir/t" "old"
    expect_only "$dir" t
  done
  case_ "read-only $(basename "$dir"): new file"
  run_in "x" --no-config "$dir/new"
  expect_rc 1
  expect_match "$ERR" "[Rr]ead-only" "message says read-only"
  expect_only "$dir" t
done
rm -f "$T/outside.lock"

# An immutable file (chattr +i): refused up front with its own reason, not
# "not writable by you", even for root; nothing left. Append-only (+a) lets
# the check pass and fails at the rename: also exit 1, nothing left.
mkdir "$T/attr"
printf 'old' >"$T/attr/t"
if chattr +i "$T/attr/t" 2>/dev/null; then
  on_exit "chattr -i -a '$T/attr/t'"
  case_ "immutable target"
  run_in "new" --no-config "$T/attr/t"
  expect_rc 1
  expect_eq "$ERR" "Error: $T/attr/t: Operation not permitted"$'\n'"Hint: The file is immutable or append-only ('lsattr' shows i or a); mutx refuses it as > would." "stderr"
  expect_content "$T/attr/t" "old"
  expect_only "$T/attr" t
  chattr -i "$T/attr/t"
  chattr +a "$T/attr/t"
  case_ "append-only target"
  run_in "new" --no-config "$T/attr/t"
  expect_rc 1
  expect_match "$ERR" "^Error: .*Operation not permitted" "stderr"
  expect_content "$T/attr/t" "old"
  expect_only "$T/attr" t
  chattr -a "$T/attr/t"
else
  echo "NOTE: chattr +i not possible here (needs root and a filesystem with attributes): immutable target not checked" >&2
fi
finish
