#!/usr/bin/env bash
# mutx housekeep --clean-backups: generations per original file, newest by
# the name's timestamp (then counter), else mtime; look-alikes untouched.
source "$(dirname "$0")/housekeep_lib.bash"
cd "$tree"

ts() { date -d "$1" +%Y%m%d-%H%M%S; }
lookalikes=(notes.bakery.txt backup.md x.backup.old a.2024-backup .backup backup a.backup~ a.BACKUP)
reset_tree() {
  rm -rf "$tree" && mkdir "$tree" && cd "$tree"
  touch "${lookalikes[@]}"
  touch -d '1 year ago' "${lookalikes[@]}"
}

# --keep-newest 1 keeps the newest timestamped generation; _NNN sorts after
# the plain timestamp of the same second; the plain NAME.backup counts by
# mtime.
reset_tree
echo 1 >conf.20240101-120000.backup
echo 22 >conf.20240101-120000_001.backup
echo 333 >conf.20231231-235959.backup
echo 4444 >conf.backup
touch -d '2020-01-01' conf.backup
echo only >solo.20240101-000000.backup
echo link >"$outside/target"
ln -s "$outside/target" conf.20991231-000000.backup
mkdir sub
touch sub/conf.20200101-000000.backup
hk --clean-backups --keep-newest 1 -n
expect_rc 0
expect_out ./conf.20240101-120000.backup ./conf.20231231-235959.backup ./conf.backup
exists conf.20240101-120000.backup conf.20231231-235959.backup conf.backup
hk --clean-backups --keep-newest 1
expect_rc 0
expect_out ./conf.20240101-120000.backup ./conf.20231231-235959.backup ./conf.backup
gone conf.20240101-120000.backup conf.20231231-235959.backup conf.backup
exists conf.20240101-120000_001.backup solo.20240101-000000.backup conf.20991231-000000.backup \
  "$outside/target" sub/conf.20200101-000000.backup "${lookalikes[@]}"
[[ $(<conf.20240101-120000_001.backup) == 22 ]] || fail "the newest generation changed"

# With neither option the newest 1 stays; -r groups per directory.
touch sub/conf.20210101-000000.backup
hk --clean-backups -r
expect_rc 0
expect_out ./sub/conf.20200101-000000.backup
exists sub/conf.20210101-000000.backup conf.20240101-120000_001.backup

# --keep-newest N and 0.
reset_tree
for d in 01 02 03 04 05; do touch "f.202401${d}-000000.backup"; done
hk --clean-backups --keep-newest 3
expect_out ./f.20240102-000000.backup ./f.20240101-000000.backup
hk --clean-backups --keep-newest 0
expect_out ./f.20240105-000000.backup ./f.20240104-000000.backup ./f.20240103-000000.backup
exists "${lookalikes[@]}"

# --older-than 7d removes a 30-day-old backup (by mtime for plain names).
reset_tree
touch old.backup new.backup
touch -d '30 days ago' old.backup
touch -d '2 days ago' new.backup
hk --clean-backups --older-than 7d
expect_rc 0
expect_out ./old.backup
gone old.backup
exists new.backup "${lookalikes[@]}"

# ... and by the name's timestamp when there is one, whatever the mtime.
reset_tree
t30=$(ts '30 days ago') t10=$(ts '10 days ago') t2=$(ts '2 days ago')
touch "g.$t30.backup" "g.$t10.backup" "g.$t2.backup"
touch -d '1 year ago' "g.$t2.backup"
hk --clean-backups --older-than 7d -n
expect_out "./g.$t10.backup" "./g.$t30.backup"
# A bare number is days.
hk --clean-backups --older-than 20
expect_out "./g.$t30.backup"
# With both, a backup goes only when both allow it: the N newest stay.
hk --clean-backups --older-than 7d --keep-newest 2
expect_out
hk --clean-backups --older-than 7d --keep-newest 1
expect_out "./g.$t10.backup"
exists "g.$t2.backup"
touch -d '30 days ago' lonely.backup
hk --clean-backups --older-than 7d --keep-newest 1
expect_out
exists lonely.backup

# Look-alikes survive the most aggressive settings.
hk --clean-backups --keep-newest 0 --older-than 0 -r
expect_out "./g.$t2.backup" ./lonely.backup
exists "${lookalikes[@]}"

# --backup-suffix: only that suffix counts.
reset_tree
touch h.20240101-000000.bak h.20240102-000000.bak h.20240101-000000.backup h.20240102-000000.backup
hk --clean-backups --backup-suffix .bak
expect_out ./h.20240101-000000.bak
exists h.20240101-000000.backup h.20240102-000000.backup h.20240102-000000.bak
echo "ok"
