#!/usr/bin/env bash
# mutx housekeep -r: nested orphans go; symlinked directories (out of the
# tree, or back into it) are never followed.
. "$(dirname "$0")/lib.sh"
hk_tree
stop_on_error
cd "$T"

mkdir -p tree/sub/deep tree/other "$OUTSIDE/private"
touch tree/a tree/sub/b tree/sub/deep/c tree/other/held "$OUTSIDE/victim" "$OUTSIDE/private/victim2"
touch tree/a.lock tree/sub/b.lock tree/sub/deep/c.lock tree/other/held.lock
touch "$OUTSIDE/victim.lock" "$OUTSIDE/private/victim2.lock"
ln -s "$OUTSIDE" tree/escape
ln -s "$OUTSIDE/private" tree/sub/deep/escape2
ln -s .. tree/sub/up
ln -s "$OUTSIDE/victim.lock" tree/sub/victim.lock
hold_lock_here tree/other/held.lock
# Locks made just now stay for an hour: every run below passes --older-than 0.

case_ "without -r, subdirectories are not entered"
hk --older-than 0 --clean-locks -n tree
expect_rc 0
expect_out "would delete tree/a.lock"

case_ "-r: nested orphans go, symlinks are not followed"
hk --older-than 0 --clean-locks -r -n tree
expect_rc 0
expect_out "would delete tree/a.lock" "would delete tree/sub/b.lock" "would delete tree/sub/deep/c.lock"
expect_exists tree/a.lock tree/sub/b.lock tree/sub/deep/c.lock

hk --older-than 0 --clean-locks --recursive -v tree/
expect_rc 0
expect_out tree/a.lock tree/sub/b.lock tree/sub/deep/c.lock
expect_err_has "Skipped tree/other/held.lock: held by another process (flock)"
expect_missing tree/a.lock tree/sub/b.lock tree/sub/deep/c.lock
expect_exists tree/other/held.lock tree/escape tree/sub/up tree/sub/victim.lock tree/sub/deep/escape2 \
  "$OUTSIDE/victim.lock" "$OUTSIDE/private/victim2.lock"

case_ "DIR . inside the tree: paths start with ./"
touch tree/sub/deep/again tree/sub/deep/again.lock
cd tree
hk --older-than 0 --clean-locks -r
expect_rc 0
expect_out ./sub/deep/again.lock

case_ "a tree of only symlinks to directories finds nothing outside"
cd "$T"
mkdir links
ln -s "$OUTSIDE" links/l1
ln -s "$T/tree" links/l2
hk --older-than 0 --all -r links
expect_rc 0
expect_out
expect_exists "$OUTSIDE/victim.lock" "$OUTSIDE/private/victim2.lock" tree/other/held.lock
finish
