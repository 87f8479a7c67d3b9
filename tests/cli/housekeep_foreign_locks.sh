#!/usr/bin/env bash
# mutx housekeep --clean-locks leaves other programs' lock files alone
# (issue 17, finding 6): one held by a POSIX (lockf) or OFD lock, which
# flock(2) does not see; git's index.lock, in a work tree's .git, a bare
# repository, or with DIR inside one; rpm's .rpm.lock; one made with
# `set -C; : > x.lock` a moment ago; tools' lock files named by convention.
# Each would look like a mutx orphan to a rule of "empty and not flocked".
source "$(dirname "$0")/housekeep_lib.bash"
cd "$tree"

# Held by fcntl locks, beside their files, empty. --older-than 0: only the
# holder check stands between them and deletion.
touch posix posix.lock ofd ofd.lock
hold_fcntl_bg posix posix.lock
posix_holder=$holder_pid
hold_fcntl_bg ofd ofd.lock
hk --clean-locks --older-than 0 -v
expect_rc 0
expect_out
expect_err_has "Skipped ./posix.lock: held by another process (fcntl lock, pid $posix_holder)"
expect_err_has "Skipped ./ofd.lock: held by another process (open file description lock)"
exists posix.lock ofd.lock
release_lock_bg  # the OFD holder
holder_pid=$posix_holder
release_lock_bg
hk --clean-locks --older-than 0
expect_rc 0
expect_out ./ofd.lock ./posix.lock

# git: index.lock beside index in .git, empty while git works, never
# flocked. Also in a bare repository, and with DIR inside a git directory.
for repo in work/.git bare.git; do
  mkdir -p "$repo/objects" "$repo/refs/heads"
  touch "$repo/HEAD" "$repo/index" "$repo/index.lock" "$repo/config" "$repo/config.lock" \
    "$repo/refs/heads/main" "$repo/refs/heads/main.lock"
done
touch work/file work/file.lock
hk --clean-locks -r --older-than 0 -v
expect_rc 0
expect_out ./work/file.lock
expect_err_has "Skipped ./work/.git: a git directory, not entered"
expect_err_has "Skipped ./bare.git: a git directory, not touched"
for dir in work/.git work/.git/refs/heads bare.git bare.git/refs/heads; do
  hk --clean-locks -r --older-than 0 "$dir"
  expect_rc 0
  expect_out
done
exists work/.git/index.lock work/.git/config.lock work/.git/refs/heads/main.lock \
  bare.git/index.lock bare.git/config.lock bare.git/refs/heads/main.lock

# rpm's database lock: empty, no `.rpm` beside it; and by its name even if
# there were.
mkdir rpm
: >rpm/.rpm.lock
touch rpm/Packages
hk --clean-locks --older-than 0 rpm
expect_out
touch rpm/.rpm
hk --clean-locks --older-than 0 rpm
expect_out
exists rpm/.rpm.lock

# Other tools' lock files by name, even empty and beside a file of their
# NAME.
for n in Gemfile flake composer Pipfile pubspec Podfile mix; do touch "$n" "$n.lock"; done
hk --clean-locks --older-than 0
expect_out
exists Gemfile.lock flake.lock composer.lock Pipfile.lock pubspec.lock Podfile.lock mix.lock

# A lock file a script made a moment ago with `set -C` (noclobber): its
# holder protects it by existing, not by flock. Kept by the default hour.
touch x
(set -C && : >x.lock)
hk --clean-locks
expect_rc 0
expect_out
exists x.lock
echo "ok"
