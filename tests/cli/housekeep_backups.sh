#!/usr/bin/env bash
# mutx housekeep --clean-backups: generations per original file, newest by
# when each was made (its ctime; then the _NNN counter); look-alikes and
# symlinks untouched. Timestamped names here are made as mutx makes them:
# the UTC time of the write (utc_stamp), so that they are proven
# generations; housekeep_backup_names.sh has the names that are not.
source "$(dirname "$0")/housekeep_lib.bash"
cd "$tree"

lookalikes=(notes.bakery.txt backup.md x.backup.old a.2024-backup .backup backup a.backup~ a.BACKUP)
reset_tree() {
  rm -rf "$tree" && mkdir "$tree" && cd "$tree"
  touch "${lookalikes[@]}"
  touch -d '1 year ago' "${lookalikes[@]}"
}
# make NAME...: one file after another, each made (ctime) after the last;
# file times tick coarsely (4 ms at HZ=250).
make() {
  local n
  for n in "$@"; do
    echo "$n" >"$n"
    sleep 0.02
  done
}

# --keep-newest 1 keeps the newest generation; _NNN comes after the plain
# stamp of the same second; the plain NAME.backup counts by when it was
# made (or last changed: touch sets the ctime too), whatever its mtime.
reset_tree
T=$(utc_stamp)
make conf.backup
touch -d '2099-01-01' conf.backup
sleep 0.02
make "conf.$T.backup" "conf.${T}_001.backup" "solo.$T.backup"
echo link >"$outside/target"
L=conf.$(utc_stamp '+1 minute').backup
ln -s "$outside/target" "$L"
mkdir sub
make "sub/conf.$T.backup"
hk --clean-backups --keep-newest 1 -n
expect_rc 0
expect_out "would delete ./conf.$T.backup" "would delete ./conf.backup"
exists "conf.$T.backup" conf.backup
hk --clean-backups --keep-newest 1 -v
expect_rc 0
expect_out "./conf.$T.backup" ./conf.backup
expect_err_has "Skipped ./conf.${T}_001.backup: the newest backup of conf"
gone "conf.$T.backup" conf.backup
exists "conf.${T}_001.backup" "solo.$T.backup" "$L" "$outside/target" "sub/conf.$T.backup" "${lookalikes[@]}"
[[ $(<"conf.${T}_001.backup") == "conf.${T}_001.backup" ]] || fail "the newest generation changed"

# With neither option the newest 1 stays; -r groups per directory.
make "sub/conf.${T}_001.backup"
hk --clean-backups -r
expect_rc 0
expect_out "./sub/conf.$T.backup"
exists "sub/conf.${T}_001.backup" "conf.${T}_001.backup"

# --keep-newest N and 0.
reset_tree
T=$(utc_stamp)
make "f.$T.backup" "f.${T}_001.backup" "f.${T}_002.backup" "f.${T}_003.backup" "f.${T}_004.backup"
hk --clean-backups --keep-newest 3
expect_out "./f.${T}_001.backup" "./f.$T.backup"
hk --clean-backups --keep-newest 0
expect_out "./f.${T}_004.backup" "./f.${T}_003.backup" "./f.${T}_002.backup"
exists "${lookalikes[@]}"

# --older-than goes by when each backup was made (a bare number is days);
# the newest of each file stays unless --keep-newest 0 says otherwise.
reset_tree
T=$(utc_stamp)
make "g.$T.backup" old.backup
sleep 2
T2=$(utc_stamp)
make "g.$T2.backup" new.backup
hk --clean-backups --older-than 1
expect_out
hk --clean-backups --older-than 1s -n
expect_out "would delete ./g.$T.backup"
hk --clean-backups --older-than 1s --keep-newest 0
expect_rc 0
expect_out "./g.$T.backup" ./old.backup
exists "g.$T2.backup" new.backup "${lookalikes[@]}"

# With both, a backup goes only when both allow it: the N newest stay.
reset_tree
T=$(utc_stamp)
make "h.$T.backup" "h.${T}_001.backup"
sleep 2
make "h.${T}_002.backup"
hk --clean-backups --older-than 1s --keep-newest 3
expect_out
hk --clean-backups --older-than 1s --keep-newest 2
expect_out "./h.$T.backup"
hk --clean-backups --older-than 1m --keep-newest 0
expect_out
exists "h.${T}_001.backup" "h.${T}_002.backup"

# Look-alikes survive the most aggressive settings.
hk --clean-backups --keep-newest 0 --older-than 0 -r
expect_out "./h.${T}_002.backup" "./h.${T}_001.backup"
exists "${lookalikes[@]}"

# --backup-suffix: only that suffix counts.
reset_tree
T=$(utc_stamp)
make "h.$T.bak" "h.${T}_001.bak" "h.$T.backup" "h.${T}_001.backup"
hk --clean-backups --backup-suffix .bak
expect_out "./h.$T.bak"
exists "h.$T.backup" "h.${T}_001.backup" "h.${T}_001.bak"
echo "ok"
