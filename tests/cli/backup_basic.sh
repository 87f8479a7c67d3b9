#!/usr/bin/env bash
# --backup keeps the old target as OUTPUT.backup: the old inode itself
# (linked, no bytes copied), with its content and mode; a second backup
# replaces the first; no backup when OUTPUT is new; --backup-suffix;
# --backup-mode (a copy with that mode, the target keeps its own);
# --symlinks follow backs up the file the link points to.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config

case_ "backup keeps old content, mode and inode"
mkdir plain
cd plain || exit 1
printf 'old\n' >out
chmod 640 out
ino=$(stat -c %i out)
run_in $'new\n' --backup out
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content out $'new\n'
expect_content out.backup $'old\n'
expect_mode out.backup 640
expect_mode out 640
expect_eq "$(stat -c %i out.backup)" "$ino" "inode of out.backup (old inode of out)"
expect_eq "$(stat -c %h out.backup)" "1" "link count of out.backup"
if [[ $(stat -c %i out) != "$ino" ]]; then pass; else fail "out kept its old inode"; fi
expect_only . out out.backup

case_ "a second backup replaces the first"
ino=$(stat -c %i out)
run_in $'newer\n' -b out
expect_rc 0
expect_content out $'newer\n'
expect_content out.backup $'new\n'
expect_eq "$(stat -c %i out.backup)" "$ino" "inode of out.backup after the second write"
expect_only . out out.backup
cd "$T" || exit 1

case_ "no backup when OUTPUT does not exist"
mkdir fresh
run_in 'first' --backup fresh/out
expect_rc 0
expect_content fresh/out 'first'
expect_only fresh out

case_ "--backup-suffix .orig"
mkdir suffix
printf 'one' >suffix/f
run_in 'two' --backup --backup-suffix .orig suffix/f
expect_rc 0
expect_content suffix/f 'two'
expect_content suffix/f.orig 'one'
expect_only suffix f f.orig

case_ "--backup-suffix .lock is refused: it would replace the lock file"
run_in 'three' --backup --backup-suffix .lock suffix/f
expect_rc 1
expect_eq "$ERR" $'Error: invalid backup suffix \'.lock\': OUTPUT.lock is the lock file\nHint: Choose another suffix, such as .backup or .orig.' "stderr"
expect_content suffix/f 'two'
expect_only suffix f f.orig

case_ "--backup-mode 0600: backup gets 0600, target keeps its mode"
mkdir bmode
printf 'old' >bmode/f
chmod 644 bmode/f
touch -d '2020-01-02 03:04:05.123456789' bmode/f
ino=$(stat -c %i bmode/f)
run_in 'new' --backup --backup-mode 0600 -v bmode/f
expect_rc 0
expect_match "$ERR" "Backup created: bmode/f\.backup" "-v output"
expect_content bmode/f 'new'
expect_content bmode/f.backup 'old'
expect_mode bmode/f.backup 600
expect_mode bmode/f 644
# The copy keeps the old file's mtime, as a linked backup does.
expect_eq "$(stat -c %y bmode/f.backup)" "$(date -d '2020-01-02 03:04:05.123456789' '+%Y-%m-%d %H:%M:%S.%N %z')" "mtime of the copy"
# Another mode cannot be given to the old inode while it is still the
# visible target, so the backup is a copy.
if [[ $(stat -c %i bmode/f.backup) != "$ino" ]]; then pass; else fail "backup with another mode shares the target's inode"; fi
expect_only bmode f f.backup

case_ "--backup-mode equal to the old mode still links"
mkdir bsame
printf 'old' >bsame/f
chmod 600 bsame/f
ino=$(stat -c %i bsame/f)
run_in 'new' --backup --backup-mode 600 -v bsame/f
expect_rc 0
expect_match "$ERR" "Backup created: bsame/f\.backup" "-v output"
expect_eq "$(stat -c %i bsame/f.backup)" "$ino" "inode of the backup"

case_ "--symlinks follow backs up the pointed-to file"
mkdir real links
printf 'real old' >real/data
chmod 604 real/data
ino=$(stat -c %i real/data)
ln -s ../real/data links/data
run_in 'real new' --backup --symlinks follow links/data
expect_rc 0
expect_content real/data 'real new'
expect_content real/data.backup 'real old'
expect_mode real/data.backup 604
expect_eq "$(stat -c %i real/data.backup)" "$ino" "inode of the backup"
expect_eq "$(readlink links/data)" "../real/data" "the link"
expect_only links data
expect_only real data data.backup

case_ "a stale backup that is still the target's inode is replaced cleanly"
# A write interrupted after its backup leaves OUT.backup as a second link of
# OUT; rename() between two links of one inode does nothing, which must not
# leave the temp link behind.
mkdir stale
printf 'old' >stale/f
ln stale/f stale/f.backup
run_in 'new' --backup stale/f
expect_rc 0
expect_content stale/f 'new'
expect_content stale/f.backup 'old'
expect_only stale f f.backup

case_ "--json reports the backup path"
mkdir js
printf 'old' >js/f
run_in 'new' --backup --json js/f
expect_rc 0
expect_match "$ERR" '"event":"backup"' "json"
expect_match "$ERR" '"backup":"js/f\.backup"' "json"
expect_match "$ERR" '"copied":false' "json"

case_ "a failed write leaves no backup and the target untouched"
mkdir failed
printf 'old' >failed/f
run_in '' --backup failed/f
expect_rc 1
expect_match "$ERR" "^Error: No input provided" "stderr"
expect_content failed/f 'old'
expect_only failed f

case_ "a failed command makes no backup"
run --backup failed/f -- false
expect_rc 1
expect_match "$ERR" "^Error: command 'false' " "stderr"
expect_content failed/f 'old'
expect_only failed f

finish
