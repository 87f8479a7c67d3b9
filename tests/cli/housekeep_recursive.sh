#!/usr/bin/env bash
# mutx housekeep -r: nested orphans go; symlinked directories (out of the
# tree, or back into it) are never followed.
source "$(dirname "$0")/housekeep_lib.bash"
cd "$base"

mkdir -p tree/sub/deep tree/other "$outside/private"
touch tree/a tree/sub/b tree/sub/deep/c tree/other/held "$outside/victim" "$outside/private/victim2"
touch tree/a.lock tree/sub/b.lock tree/sub/deep/c.lock tree/other/held.lock
touch "$outside/victim.lock" "$outside/private/victim2.lock"
# Locks made just now stay for an hour; --older-than 0 lifts that here.
hk() {
  set +e
  out=$("$MUTX" housekeep --older-than 0 "$@" 2>"$base/stderr")
  rc=$?
  set -e
  err=$(<"$base/stderr")
}
ln -s "$outside" tree/escape
ln -s "$outside/private" tree/sub/deep/escape2
ln -s .. tree/sub/up
ln -s "$outside/victim.lock" tree/sub/victim.lock
hold_lock tree/other/held.lock

# Without -r, subdirectories are not entered.
hk --clean-locks -n tree
expect_rc 0
expect_out "would delete tree/a.lock"

hk --clean-locks -r -n tree
expect_rc 0
expect_out "would delete tree/a.lock" "would delete tree/sub/b.lock" "would delete tree/sub/deep/c.lock"
exists tree/a.lock tree/sub/b.lock tree/sub/deep/c.lock

hk --clean-locks --recursive -v tree/
expect_rc 0
expect_out tree/a.lock tree/sub/b.lock tree/sub/deep/c.lock
expect_err_has "Skipped tree/other/held.lock: held by another process (flock)"
gone tree/a.lock tree/sub/b.lock tree/sub/deep/c.lock
exists tree/other/held.lock tree/escape tree/sub/up tree/sub/victim.lock tree/sub/deep/escape2 \
  "$outside/victim.lock" "$outside/private/victim2.lock"

# DIR "." inside the tree: paths start with "./".
touch tree/sub/deep/again tree/sub/deep/again.lock
cd tree
hk --clean-locks -r
expect_rc 0
expect_out ./sub/deep/again.lock

# A tree of only symlinks to directories finds nothing outside.
cd "$base"
mkdir links
ln -s "$outside" links/l1
ln -s "$base/tree" links/l2
hk --all -r links
expect_rc 0
expect_out
exists "$outside/victim.lock" "$outside/private/victim2.lock" tree/other/held.lock
echo "ok"
