#!/usr/bin/env bash
# mutx housekeep -r never crosses into another filesystem (a tmpfs mounted
# inside the tree), nor into a bind mount of the same one (by mount ID). Needs root and permission to mount; skips otherwise.
. "$(dirname "$0")/lib.sh"
need_root "needs root to mount a tmpfs"
hk_tree
stop_on_error
mkdir -p "$TREE/mnt"
mount -t tmpfs -o size=1m mutx-housekeep-test "$TREE/mnt" 2>/dev/null || skip "cannot mount a tmpfs here"
on_exit "umount '$TREE/mnt' 2>/dev/null || umount -l '$TREE/mnt'"

touch "$TREE/a" "$TREE/a.lock" "$TREE/mnt/other-fs" "$TREE/mnt/other-fs.lock"
mkdir "$TREE/mnt/sub"
touch "$TREE/mnt/sub/deeper" "$TREE/mnt/sub/deeper.lock"

case_ "-r does not enter a mount inside the tree"
hk --clean-locks -r -v --older-than 0 "$TREE"
expect_rc 0
expect_out "$TREE/a.lock"
expect_err_has "Skipped $TREE/mnt: on another filesystem, not crossed"
expect_exists "$TREE/mnt/other-fs.lock" "$TREE/mnt/sub/deeper.lock"

case_ "given as DIR itself, the mount is the tree: cleaned, but not left"
hk --clean-locks -r --older-than 0 "$TREE/mnt"
expect_rc 0
expect_out "$TREE/mnt/other-fs.lock" "$TREE/mnt/sub/deeper.lock"

case_ "-r does not enter a bind mount of the same filesystem either"
mkdir -p "$OUTSIDE/bound" "$TREE/bound"
touch "$OUTSIDE/bound/x" "$OUTSIDE/bound/x.lock"
mount --bind "$OUTSIDE/bound" "$TREE/bound" || skip "cannot bind-mount here"
on_exit "umount '$TREE/bound' 2>/dev/null || umount -l '$TREE/bound'"
hk --clean-locks -r -v --older-than 0 "$TREE"
expect_rc 0
expect_out
expect_err_has "Skipped $TREE/bound: a mount point (a bind mount), not crossed"
expect_exists "$OUTSIDE/bound/x.lock"
finish
