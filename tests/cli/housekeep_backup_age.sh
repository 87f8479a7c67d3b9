#!/usr/bin/env bash
# mutx housekeep --clean-backups ages a backup by when it was made, and
# keeps the newest of each file unless --keep-newest says otherwise (issue
# 17, finding 12). A --backup is the old file itself (a hard link), so its
# mtime is the old content's: `echo v2 | mutx --backup app.conf` on a
# 10-day-old file must not make a backup that --older-than 7d deletes
# seconds later.
. "$(dirname "$0")/lib.sh"
hk_tree
stop_on_error
export XDG_CONFIG_HOME=$T/no-config

case_ "a linked backup keeps the old mtime and is not aged by it"
echo v1 >app.conf
touch -d '10 days ago' app.conf
# The checks below depend on the write and on the backup's old mtime: if
# either fails, they could pass for nothing, so the script stops there.
run_in $'v2\n' --backup app.conf
[[ $RC == 0 ]] && pass || fatal "the write failed (exit $RC): $ERR"
[[ $(stat -c %Y app.conf.backup) -lt $(date -d '9 days ago' +%s) ]] && pass || fatal "the backup should carry the old mtime"

hk --clean-backups --older-than 7d
expect_rc 0
expect_out
hk --clean-backups --older-than 7d --keep-newest 0
expect_rc 0
expect_out
expect_exists app.conf.backup
[[ $(<app.conf.backup) == v1 ]] && pass || fail "the backup changed"

case_ "a copied backup (--backup-mode) keeps the old times too"
touch -d '10 days ago' app.conf
run_in $'v3\n' --backup --backup-mode 600 app.conf
[[ $RC == 0 ]] && pass || fatal "the write failed (exit $RC): $ERR"
[[ $(stat -c %Y app.conf.backup) -lt $(date -d '9 days ago' +%s) ]] && pass || fatal "the copy should carry the old mtime"
hk --clean-backups --older-than 7d --keep-newest 0
expect_out
[[ $(<app.conf.backup) == v2 ]] && pass || fail "the backup is not the last replaced content"

case_ "--older-than alone keeps the newest backup of each file, however old"
sleep 2
hk --clean-backups --older-than 1s -v
expect_rc 0
expect_out
expect_err_has "Skipped ./app.conf.backup: the newest backup of app.conf"
expect_exists app.conf.backup
# ... and goes when --keep-newest 0 asks for it.
hk --clean-backups --older-than 1s --keep-newest 0
expect_rc 0
expect_out ./app.conf.backup
expect_missing app.conf.backup
finish
