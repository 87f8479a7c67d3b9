#!/usr/bin/env bash
# mutx housekeep --clean-locks leaves other programs' lock files alone
# (issue 17, finding 6): one held by a POSIX (lockf) or OFD lock, which
# flock(2) does not see; git's index.lock, in a work tree's .git, a bare
# repository, or with DIR inside one; rpm's .rpm.lock; one made with
# `set -C; : > x.lock` a moment ago; tools' lock files named by convention.
# Each would look like a mutx orphan to a rule of "empty and not flocked".
. "$(dirname "$0")/lib.sh"
hk_tree
stop_on_error

case_ "held by fcntl locks"
# Held by fcntl locks, beside their files, empty. --older-than 0: only the
# holder check stands between them and deletion.
touch posix posix.lock ofd ofd.lock
hold_fcntl_lock posix posix.lock
posix_holder=$HOLDER
hold_fcntl_lock ofd ofd.lock
hk --clean-locks --older-than 0 -v
expect_rc 0
expect_out
expect_err_has "Skipped ./posix.lock: held by another process (fcntl lock, pid $posix_holder)"
expect_err_has "Skipped ./ofd.lock: held by another process (open file description lock)"
expect_exists posix.lock ofd.lock
release_lock  # the OFD holder
release_lock "$posix_holder"
hk --clean-locks --older-than 0
expect_rc 0
expect_out ./ofd.lock ./posix.lock

case_ "git directories"
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
expect_exists work/.git/index.lock work/.git/config.lock work/.git/refs/heads/main.lock \
  bare.git/index.lock bare.git/config.lock bare.git/refs/heads/main.lock

case_ "rpm's database lock"
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
expect_exists rpm/.rpm.lock

case_ "other tools' lock files by name"
# Other tools' lock files by name, even empty and beside a file of their
# NAME.
for n in Gemfile flake composer Pipfile pubspec Podfile mix; do touch "$n" "$n.lock"; done
hk --clean-locks --older-than 0
expect_out
expect_exists Gemfile.lock flake.lock composer.lock Pipfile.lock pubspec.lock Podfile.lock mix.lock

case_ "a lock file made with set -C a moment ago"
# A lock file a script made a moment ago with `set -C` (noclobber): its
# holder protects it by existing, not by flock. Kept by the default hour.
touch x
(set -C && : >x.lock)
hk --clean-locks
expect_rc 0
expect_out
expect_exists x.lock
finish
