#!/usr/bin/env bash
# mutx housekeep -r never crosses into another filesystem (a tmpfs mounted
# inside the tree). Needs root and permission to mount; skips otherwise.
source "$(dirname "$0")/housekeep_lib.bash"

[[ $(id -u) == 0 ]] || skip "needs root to mount a tmpfs"
mkdir -p "$tree/mnt"
mount -t tmpfs -o size=1m mutx-housekeep-test "$tree/mnt" 2>/dev/null || skip "cannot mount a tmpfs here"
trap 'umount "$tree/mnt" 2>/dev/null || umount -l "$tree/mnt" 2>/dev/null; housekeep_cleanup' EXIT

touch "$tree/a" "$tree/a.lock" "$tree/mnt/other-fs" "$tree/mnt/other-fs.lock"
mkdir "$tree/mnt/sub"
touch "$tree/mnt/sub/deeper" "$tree/mnt/sub/deeper.lock"

hk --clean-locks -r -v --older-than 0 "$tree"
expect_rc 0
expect_out "$tree/a.lock"
expect_err_has "Skipped $tree/mnt: on another filesystem, not crossed"
exists "$tree/mnt/other-fs.lock" "$tree/mnt/sub/deeper.lock"

# Given as DIR itself, the mount is the tree: it is cleaned, but not left.
hk --clean-locks -r --older-than 0 "$tree/mnt"
expect_rc 0
expect_out "$tree/mnt/other-fs.lock" "$tree/mnt/sub/deeper.lock"
echo "ok"
