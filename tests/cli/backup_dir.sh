#!/usr/bin/env bash
# --backup-dir DIR on the target's filesystem: the backup is the old inode
# (linked). A missing, non-directory or unwritable DIR is an error (exit 1)
# before anything changes. The backup options imply --backup on the command
# line. (Another filesystem: backup_crossfs.sh.)
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config

case_ "--backup-dir on the same filesystem links the old inode"
mkdir same same/bak
printf 'old' >same/f
chmod 640 same/f
ino=$(stat -c %i same/f)
run_in 'new' --backup --backup-dir same/bak -v same/f
expect_rc 0
expect_match "$ERR" "Backup created: same/bak/f\.backup" "-v output"
expect_content same/f 'new'
expect_content same/bak/f.backup 'old'
expect_mode same/bak/f.backup 640
expect_eq "$(stat -c %i same/bak/f.backup)" "$ino" "inode of the backup"
expect_only same bak f
expect_only same/bak f.backup

case_ "a relative --backup-dir is relative to the working directory, not to OUTPUT"
mkdir rel rel/sub bak2
printf 'old' >rel/sub/f
run_in 'new' --backup --backup-dir bak2 rel/sub/f
expect_rc 0
expect_content bak2/f.backup 'old'
expect_only rel/sub f

case_ "a missing --backup-dir fails before anything changes"
mkdir miss
printf 'old' >miss/f
chmod 600 miss/f
ino=$(stat -c %i miss/f)
run_in 'new' --backup --backup-dir miss/nodir miss/f
expect_rc 1
expect_eq "$ERR" $'Error: cannot use backup directory miss/nodir: No such file or directory\nHint: --backup-dir must exist; create it first.' "stderr"
expect_content miss/f 'old'
expect_mode miss/f 600
expect_eq "$(stat -c %i miss/f)" "$ino" "inode of the target"
expect_only miss f

case_ "--backup-dir alone on the command line implies --backup"
run_in 'new' --backup-dir miss/nodir miss/f
expect_rc 1
expect_match "$ERR" "^Error: cannot use backup directory miss/nodir: No such file or directory" "stderr"
expect_content miss/f 'old'
expect_only miss f
mkdir alone alone/bak
printf 'old' >alone/f
run_in 'new' --backup-dir alone/bak alone/f
expect_rc 0
expect_content alone/f 'new'
expect_content alone/bak/f.backup 'old'
run_in 'newer' --backup-suffix .orig alone/f
expect_rc 0
expect_content alone/f.orig 'new'
run_in 'newest' --backup-mode 0600 alone/f
expect_rc 0
expect_content alone/f.backup 'newer'
expect_mode alone/f.backup 600
expect_only alone bak f f.backup f.orig

case_ "backup-dir in the config file only says where backups go"
mkdir -p cfg/mutx conf conf/bak
printf 'backup-dir = conf/bak\n' >cfg/mutx/config
printf 'old' >conf/f
OUT=$(printf 'new' | XDG_CONFIG_HOME=$T/cfg "$MUTX" conf/f 2>"$T/.stderr"); RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_only conf/bak
OUT=$(printf 'newer' | XDG_CONFIG_HOME=$T/cfg "$MUTX" -b conf/f 2>"$T/.stderr"); RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content conf/bak/f.backup 'new'
expect_only conf bak f

case_ "a --backup-dir that is a file fails before anything changes"
mkdir notdir
printf 'old' >notdir/f
printf 'x' >notdir/file
run_in 'new' --backup --backup-dir notdir/file notdir/f
expect_rc 1
expect_match "$ERR" "^Error: cannot use backup directory notdir/file: Not a directory" "stderr"
expect_content notdir/f 'old'
expect_only notdir f file

if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  case_ "an unwritable --backup-dir fails before anything changes (uid 65534)"
  chmod 755 "$T"
  mkdir -m 0777 shared
  mkdir -m 0755 shared/bak
  printf 'old' >shared/f
  chmod 666 shared/f
  ino=$(stat -c %i shared/f)
  OUT=$(printf 'new' | setpriv --reuid=65534 --regid=65534 --clear-groups "$MUTX" --backup --backup-dir shared/bak shared/f 2>"$T/.stderr")
  RC=$?
  ERR=$(cat "$T/.stderr")
  expect_rc 1
  expect_match "$ERR" "^Error: cannot use backup directory shared/bak: Permission denied" "stderr"
  expect_content shared/f 'old'
  expect_eq "$(stat -c '%i %u %a' shared/f)" "$ino 0 666" "inode, owner and mode of the target"
  expect_only shared bak f
  expect_only shared/bak
else
  echo "note: unwritable --backup-dir case needs root and setpriv; not run" >&2
fi

finish
