#!/usr/bin/env bash
# Mounts inside trees mutx removes, and DIR itself a mount point (root
# only: mount --bind). A bind mount of a directory of the SAME filesystem
# shares its st_dev, so only the mount ID tells it apart; what it shows is
# not the tree's and must survive:
#   - inside a stale staged tree, removed by housekeep --clean-temps;
#   - inside the old generation .DIR.mutx-old, removed by the next write;
#   - inside a tree backup (DIR.YYYYMMDD-HHMMSS.backup), thinned by
#     housekeep --clean-backups;
# each time the rest goes, the mount point is kept and named. And DIR a
# mount point is refused before anything is built (rename(2) cannot move
# it).
. "$(dirname "$0")/../cli/lib.sh"
need_root "needs root (mount --bind)"
hk_tree
mkdir -p src site
[[ $(stat -c %d "$OUTSIDE") == $(stat -c %d .) ]] || skip "the test tree and its outside are on two filesystems"
bind() {  # DIR: mount $OUTSIDE/bound (its file made anew) on DIR (made), unmounted at exit
  mkdir -p "$OUTSIDE/bound/deep" && printf 'precious\n' >"$OUTSIDE/bound/deep/p"
  mkdir -p "$1" && mount --bind "$OUTSIDE/bound" "$1" || fatal "mount --bind $OUTSIDE/bound $1 failed"
  on_exit "umount -l '$PWD/$1' 2>/dev/null"
}
survived() {  # what the bind mount shows, outside every tree
  expect_content "$OUTSIDE/bound/deep/p" $'precious\n'
}
write() {  # TAG [ARGS]: a tree write of site whose file a holds TAG
  printf '%s\n' "$1" >src/a
  shift
  tar -C src -c . | "$MUTX" --no-config --tree "$@" site 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
}

case_ "housekeep --clean-temps: a bind mount inside a stale staged tree is not entered"
mkdir -p .site.mutx-tree-3/sub && printf 'x\n' >.site.mutx-tree-3/sub/f
bind .site.mutx-tree-3/sub/bound
hk --clean-temps --older-than 0s .
expect_rc 1
expect_has "$ERR" "cannot delete all of ./.site.mutx-tree-3: the mount point ./.site.mutx-tree-3/sub/bound kept" "stderr"
survived
expect_missing .site.mutx-tree-3/sub/f
umount .site.mutx-tree-3/sub/bound && rm -r .site.mutx-tree-3

case_ "the next write: a bind mount inside the old generation is not entered"
write v1 && write v2
expect_content .site.mutx-old/a $'v1\n'
bind .site.mutx-old/bound
write v3 -v
expect_rc 0
expect_has "$ERR" "an old tree could not be removed whole (.site.mutx-tree-0): the mount point .site.mutx-tree-0/bound kept" "stderr"
survived
expect_content site/a $'v3\n'
expect_content .site.mutx-old/a $'v2\n'
expect_missing .site.mutx-tree-0/a
umount .site.mutx-tree-0/bound && rm -r .site.mutx-tree-0

case_ "housekeep --clean-backups: a bind mount inside a tree backup is not entered"
write v4 --backup-timestamp
expect_rc 0
backup=$(ls -d site.*.backup)
bind "$backup/bound"
hk --clean-backups --keep-newest 0 .
expect_rc 1
expect_has "$ERR" "cannot delete all of ./$backup: the mount point ./$backup/bound kept" "stderr"
survived
expect_missing "$backup/a"
umount "$backup/bound" && rm -r "$backup"

case_ "DIR a mount point: refused before anything is built"
bind mnt
tar -C src -c . | "$MUTX" --no-config --tree mnt 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 1
expect_has "$ERR" "Error: mnt: is a mount point; a tree cannot be swapped with it" "stderr"
expect_has "$ERR" "Hint: rename(2) cannot move a mount point" "stderr"
survived
expect_only mnt deep
umount mnt && rmdir mnt

expect_only . site src
finish
