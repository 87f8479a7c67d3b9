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
finish
