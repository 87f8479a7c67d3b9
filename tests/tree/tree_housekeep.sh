#!/usr/bin/env bash
# What tree writes leave behind, and housekeep's proof before it removes a
# directory (engine/src/housekeep.cpp, clean_tree):
#   - a killed writer's staged tree .NAME.mutx-tree-S (or a random tag) is
#     removed whole by --clean-temps once untouched for --older-than and
#     held by nobody, and by the next tree write of NAME (its slots);
#   - a live writer's (a shared flock on the directory) stays, and so does
#     one touched within the hour;
#   - the old generation .NAME.mutx-old stays by default (--keep-newest 1)
#     and goes with --clean-backups --keep-newest 0, only beside the
#     directory NAME;
#   - look-alikes made by other programs stay: other tags, upper case, no
#     leading dot, a regular file or a symbolic link of the name, an old
#     generation with no directory NAME beside it;
#   - removal never follows a symbolic link inside the tree, never crosses
#     into a mount inside it, and empties read-only directories.
. "$(dirname "$0")/../cli/lib.sh"
need_cmd flock
hk_tree
mkdir -p site
stale() {  # name: a staged tree as a killed writer leaves it
  mkdir -p "$1/sub/ro" && printf 'x\n' >"$1/sub/f" && printf 'y\n' >"$1/sub/ro/g"
  ln -s "$OUTSIDE" "$1/out"
  chmod 555 "$1/sub/ro"
}
printf 'keep me\n' >"$OUTSIDE/precious"

case_ "a stale staged tree goes (temps); the walk does not follow its links"
stale .site.mutx-tree-0
stale .site.mutx-tree-abcdefghij12
hk --clean-temps --older-than 0s .
expect_rc 0
expect_out "./.site.mutx-tree-0" "./.site.mutx-tree-abcdefghij12"
expect_missing .site.mutx-tree-0 .site.mutx-tree-abcdefghij12
expect_content "$OUTSIDE/precious" $'keep me\n'

case_ "--dry-run lists it and keeps it"
stale .site.mutx-tree-1
hk --clean-temps --older-than 0s --dry-run .
expect_out "would delete ./.site.mutx-tree-1"
expect_exists .site.mutx-tree-1/sub/f

case_ "touched within the hour: kept"
hk --clean-temps -v .
expect_out ""
expect_has "$ERR" "./.site.mutx-tree-1" "stderr"
expect_exists .site.mutx-tree-1/sub/f

case_ "a live writer's (a shared flock on the directory) stays"
hold_shared_lock .site.mutx-tree-1
hk --clean-temps --older-than 0s -v .
expect_out ""
expect_has "$ERR" "held by a live writer" "stderr"
expect_exists .site.mutx-tree-1/sub/f
release_lock

case_ "look-alikes stay"
mkdir .site.mutx-tree-ABCDEFGHIJKL .site.mutx-tree-4 site.mutx-tree-0 .site.mutx-tree-01 .site.mutx-trees-0
printf 'file\n' >.other.mutx-tree-0
mkdir "$OUTSIDE/target" && printf 'keep\n' >"$OUTSIDE/target/f"
ln -s "$OUTSIDE/target" .link.mutx-tree-2
mkdir .lonely.mutx-old   # no directory "lonely" beside it
printf 'file\n' >plain && mkdir .plain.mutx-old   # "plain" is no directory
hk --all --older-than 0s --keep-newest 0 .
expect_rc 0
expect_out "./.site.mutx-tree-1"
expect_exists .site.mutx-tree-ABCDEFGHIJKL .site.mutx-tree-4 site.mutx-tree-0 .site.mutx-tree-01 .site.mutx-trees-0 \
  .other.mutx-tree-0 .link.mutx-tree-2 .lonely.mutx-old .plain.mutx-old "$OUTSIDE/target/f"
rm -rf .site.mutx-tree-ABCDEFGHIJKL .site.mutx-tree-4 site.mutx-tree-0 .site.mutx-tree-01 .site.mutx-trees-0 \
  .other.mutx-tree-0 .link.mutx-tree-2 .lonely.mutx-old .plain.mutx-old plain

case_ "the old generation: kept by default, removed with --keep-newest 0"
mkdir -p src && printf 'v1\n' >src/a
tar -C src -c . | "$MUTX" --no-config --tree site 2>/dev/null
printf 'v2\n' >src/a
tar -C src -c . | "$MUTX" --no-config --tree site 2>/dev/null
expect_content .site.mutx-old/a $'v1\n'
hk --clean-backups .
expect_out ""
expect_exists .site.mutx-old/a
hk --clean-backups --keep-newest 0 --older-than 1d .
expect_out ""
expect_exists .site.mutx-old/a
hk --clean-backups --keep-newest 0 .
expect_out "./.site.mutx-old"
expect_missing .site.mutx-old
expect_content site/a $'v2\n'

case_ "the next tree write sweeps a stale staged tree in its slots"
stale .site.mutx-tree-0
tar -C src -c . | "$MUTX" --no-config --tree -v site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_has "$ERR" "Removed stale staged tree .site.mutx-tree-0" "stderr"
expect_missing .site.mutx-tree-0

case_ "... and leaves a live writer's, staging in the next slot"
stale .site.mutx-tree-0
hold_shared_lock .site.mutx-tree-0
tar -C src -c . | strace -f -qq -e trace=mkdirat -o "$T/trace" "$MUTX" --no-config --tree site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_has "$(cat "$T/trace")" '".site.mutx-tree-1"' "the writer's mkdirat"
expect_exists .site.mutx-tree-0/sub/f
release_lock
rm -rf .site.mutx-tree-0

case_ "tree backups: kept by --older-than, thinned to --keep-newest"
for v in b1 b2 b3; do
  printf '%s\n' "$v" >src/a
  tar -C src -c . | "$MUTX" --no-config --tree --backup-timestamp site 2>/dev/null || fail "tree write $v"
done
mapfile -t made < <(LC_ALL=C ls -d site.*.backup)
expect_eq "${#made[@]}" 3 "tree backups made"
expect_missing .site.mutx-old
# Look-alikes: a backup-like directory beside a regular file NAME, one with
# no NAME, a regular file beside the directory.
printf 'file\n' >plain && mkdir "plain.$(utc_stamp).backup" lonely.backup
hk --clean-backups --keep-newest 0 --older-than 1d -v .
expect_rc 0
expect_out ""
hk --clean-backups -v .
expect_rc 0
expect_eq "$(LC_ALL=C sort <<<"$OUT")" "./${made[0]}"$'\n'"./${made[1]}" "deleted (stdout)"
expect_has "$ERR" "./${made[2]}: the newest backup of site" "stderr"
expect_has "$ERR" "a directory with no directory plain beside it, so not a mutx tree's backup" "stderr"
expect_has "$ERR" "a directory with no directory lonely beside it" "stderr"
expect_missing "${made[0]}" "${made[1]}"
expect_content "${made[2]}/a" $'b2\n'
expect_exists plain.*.backup lonely.backup
hold_shared_lock "${made[2]}"
hk --clean-backups --keep-newest 0 -v .
expect_out ""
expect_has "$ERR" "./${made[2]}: held by a live writer" "stderr"
release_lock
hk --clean-backups --keep-newest 0 .
expect_out "./${made[2]}"
expect_content site/a $'b3\n'
rm -rf plain plain.*.backup lonely.backup

case_ "a mount inside a stale staged tree is not crossed"
if [[ $(id -u) -eq 0 ]]; then
  stale .site.mutx-tree-2
  mkdir .site.mutx-tree-2/mnt
  if mount -t tmpfs none .site.mutx-tree-2/mnt 2>/dev/null; then
    on_exit "umount '$TREE/.site.mutx-tree-2/mnt'"
    printf 'mounted\n' >.site.mutx-tree-2/mnt/m
    hk --clean-temps --older-than 0s .
    expect_rc 1
    expect_has "$ERR" "cannot delete all of ./.site.mutx-tree-2" "stderr"
    expect_content .site.mutx-tree-2/mnt/m $'mounted\n'
    umount .site.mutx-tree-2/mnt
  fi
  rm -rf .site.mutx-tree-2
fi

expect_only . site src
finish
