#!/usr/bin/env bash
# mutx housekeep --clean-backups ages a backup by when it was made, and
# keeps the newest of each file unless --keep-newest says otherwise (issue
# 17, finding 12). A --backup is the old file itself (a hard link), so its
# mtime is the old content's: `echo v2 | mutx --backup app.conf` on a
# 10-day-old file must not make a backup that --older-than 7d deletes
# seconds later.
source "$(dirname "$0")/housekeep_lib.bash"
cd "$tree"
export XDG_CONFIG_HOME=$base/no-config

echo v1 >app.conf
touch -d '10 days ago' app.conf
echo v2 | "$MUTX" --backup app.conf || fail "the write failed"
[[ $(stat -c %Y app.conf.backup) -lt $(date -d '9 days ago' +%s) ]] || fail "the backup should carry the old mtime"

hk --clean-backups --older-than 7d
expect_rc 0
expect_out
hk --clean-backups --older-than 7d --keep-newest 0
expect_rc 0
expect_out
exists app.conf.backup
[[ $(<app.conf.backup) == v1 ]] || fail "the backup changed"

# The same for a copy (--backup-mode makes one), which keeps the old times too.
touch -d '10 days ago' app.conf
echo v3 | "$MUTX" --backup --backup-mode 600 app.conf || fail "the write failed"
[[ $(stat -c %Y app.conf.backup) -lt $(date -d '9 days ago' +%s) ]] || fail "the copy should carry the old mtime"
hk --clean-backups --older-than 7d --keep-newest 0
expect_out
[[ $(<app.conf.backup) == v2 ]] || fail "the backup is not the last replaced content"

# --older-than alone keeps the newest backup of each file, however old.
sleep 2
hk --clean-backups --older-than 1s -v
expect_rc 0
expect_out
expect_err_has "Skipped ./app.conf.backup: the newest backup of app.conf"
exists app.conf.backup
# ... and goes when --keep-newest 0 asks for it.
hk --clean-backups --older-than 1s --keep-newest 0
expect_rc 0
expect_out ./app.conf.backup
gone app.conf.backup
echo "ok"
