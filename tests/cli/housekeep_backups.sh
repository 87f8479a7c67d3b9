#!/usr/bin/env bash
# mutx housekeep --clean-backups: generations per original file, newest by
# when each was made (its ctime; then the _NNN counter); look-alikes and
# symlinks untouched. Timestamped names here are made as mutx makes them:
# the UTC time of the write (utc_stamp), so that they are proven
# generations; housekeep_backup_names.sh has the names that are not.
. "$(dirname "$0")/lib.sh"
hk_tree
stop_on_error

lookalikes=(notes.bakery.txt backup.md x.backup.old a.2024-backup .backup backup a.backup~ a.BACKUP)
reset_tree() {
  rm -rf "$TREE" && mkdir "$TREE" && cd "$TREE" &&
    touch "${lookalikes[@]}" && touch -d '1 year ago' "${lookalikes[@]}"
}
# make_in_order NAME...: one file after another, each made (ctime) after the
# last; file times tick coarsely (4 ms at HZ=250).
make_in_order() {
  local n
  for n in "$@"; do
    echo "$n" >"$n" || return
    sleep 0.02
  done
}

case_ "--keep-newest 1 keeps the newest generation"
# --keep-newest 1 keeps the newest generation; _NNN comes after the plain
# stamp of the same second; the plain NAME.backup counts by when it was
# made (or last changed: touch sets the ctime too), whatever its mtime.
reset_tree
S=$(utc_stamp)
make_in_order conf.backup
touch -d '2099-01-01' conf.backup
sleep 0.02
make_in_order "conf.$S.backup" "conf.${S}_001.backup" "solo.$S.backup"
echo link >"$OUTSIDE/target"
L=conf.$(utc_stamp '+1 minute').backup
ln -s "$OUTSIDE/target" "$L"
mkdir sub
make_in_order "sub/conf.$S.backup"
hk --clean-backups --keep-newest 1 -n
expect_rc 0
expect_out "would delete ./conf.$S.backup" "would delete ./conf.backup"
expect_exists "conf.$S.backup" conf.backup
hk --clean-backups --keep-newest 1 -v
expect_rc 0
expect_out "./conf.$S.backup" ./conf.backup
expect_err_has "Skipped ./conf.${S}_001.backup: the newest backup of conf"
expect_missing "conf.$S.backup" conf.backup
expect_exists "conf.${S}_001.backup" "solo.$S.backup" "$L" "$OUTSIDE/target" "sub/conf.$S.backup" "${lookalikes[@]}"
[[ $(<"conf.${S}_001.backup") == "conf.${S}_001.backup" ]] && pass || fail "the newest generation changed"

case_ "with neither option the newest 1 stays; -r groups per directory"
make_in_order "sub/conf.${S}_001.backup"
hk --clean-backups -r
expect_rc 0
expect_out "./sub/conf.$S.backup"
expect_exists "sub/conf.${S}_001.backup" "conf.${S}_001.backup"

case_ "--keep-newest N and 0"
reset_tree
S=$(utc_stamp)
make_in_order "f.$S.backup" "f.${S}_001.backup" "f.${S}_002.backup" "f.${S}_003.backup" "f.${S}_004.backup"
hk --clean-backups --keep-newest 3
expect_out "./f.${S}_001.backup" "./f.$S.backup"
hk --clean-backups --keep-newest 0
expect_out "./f.${S}_004.backup" "./f.${S}_003.backup" "./f.${S}_002.backup"
expect_exists "${lookalikes[@]}"

case_ "--older-than goes by when each backup was made"
# --older-than goes by when each backup was made (a bare number is days);
# the newest of each file stays unless --keep-newest 0 says otherwise.
reset_tree
S=$(utc_stamp)
make_in_order "g.$S.backup" old.backup
sleep 2
S2=$(utc_stamp)
make_in_order "g.$S2.backup" new.backup
hk --clean-backups --older-than 1
expect_out
hk --clean-backups --older-than 1s -n
expect_out "would delete ./g.$S.backup"
hk --clean-backups --older-than 1s --keep-newest 0
expect_rc 0
expect_out "./g.$S.backup" ./old.backup
expect_exists "g.$S2.backup" new.backup "${lookalikes[@]}"

case_ "with both, a backup goes only when both allow it"
# With both, a backup goes only when both allow it: the N newest stay.
reset_tree
S=$(utc_stamp)
make_in_order "h.$S.backup" "h.${S}_001.backup"
sleep 2
make_in_order "h.${S}_002.backup"
hk --clean-backups --older-than 1s --keep-newest 3
expect_out
hk --clean-backups --older-than 1s --keep-newest 2
expect_out "./h.$S.backup"
hk --clean-backups --older-than 1m --keep-newest 0
expect_out
expect_exists "h.${S}_001.backup" "h.${S}_002.backup"

case_ "look-alikes survive the most aggressive settings"
hk --clean-backups --keep-newest 0 --older-than 0 -r
expect_out "./h.${S}_002.backup" "./h.${S}_001.backup"
expect_exists "${lookalikes[@]}"

case_ "--backup-suffix: only that suffix counts"
reset_tree
S=$(utc_stamp)
make_in_order "h.$S.bak" "h.${S}_001.bak" "h.$S.backup" "h.${S}_001.backup"
hk --clean-backups --backup-suffix .bak
expect_out "./h.$S.bak"
expect_exists "h.$S.backup" "h.${S}_001.backup" "h.${S}_001.bak"
finish
