#!/usr/bin/env bash
# mutx housekeep --clean-temps: a .NAME.mutx-* temp goes once untouched for
# an hour (or --older-than) and claimed by no writer; claimed ones, fresh
# ones, look-alikes and symlinks stay, and no lock file is made to decide.
. "$(dirname "$0")/lib.sh"
hk_tree
stop_on_error

printf 'half written' >.data.json.mutx-abc123def456
touch -d '2 hours ago' .data.json.mutx-abc123def456
printf 'also stale' >.free.mutx-zzz999zzz999
touch -d '3 hours ago' .free.mutx-zzz999zzz999
printf 'being written' >.fresh.mutx-2
printf 'x' >"$OUTSIDE/secret"
ln -s "$OUTSIDE/secret" .link.mutx-abc123abc123
touch -h -d '1 day ago' .link.mutx-abc123abc123
touch data.mutx-notatemp .data.mutx-abc123 .data.mutx-7
touch -d '1 day ago' data.mutx-notatemp .data.mutx-abc123 .data.mutx-7
# A live writer holds a shared flock on its temp (staging.hpp).
hold_shared_lock .data.json.mutx-abc123def456

case_ "made (ctime) just now, whatever their mtime: the default hour keeps all"
hk --clean-temps -v
expect_rc 0
expect_out
expect_err_has "Skipped ./.free.mutx-zzz999zzz999: touched within the last hour"

case_ "the claimed temp survives even --older-than 0"
hk --clean-temps --older-than 0 -n
expect_rc 0
expect_out "would delete ./.free.mutx-zzz999zzz999" "would delete ./.fresh.mutx-2"
hk --clean-temps -v --older-than 0
expect_rc 0
expect_out ./.free.mutx-zzz999zzz999 ./.fresh.mutx-2
expect_err_has "Skipped ./.data.json.mutx-abc123def456: held by a live writer"
expect_err_has "Skipped ./.link.mutx-abc123abc123: a symbolic link, not followed"
expect_exists .data.json.mutx-abc123def456 .link.mutx-abc123abc123 "$OUTSIDE/secret" data.mutx-notatemp \
  .data.mutx-abc123 .data.mutx-7
# No lock file was made to decide.
expect_missing data.json.lock free.lock fresh.lock .free.mutx-zzz999zzz999 .fresh.mutx-2

case_ "its writer gone, the temp goes"
release_lock
hk --clean-temps --older-than 0
expect_rc 0
expect_out ./.data.json.mutx-abc123def456
expect_missing .data.json.mutx-abc123def456 data.json.lock
expect_exists .link.mutx-abc123abc123 data.mutx-notatemp

case_ "--older-than decides, by the last change (a bare number is hours)"
printf 'recent' >.recent.mutx-rrrrrrrrrrrr
sleep 2
hk --clean-temps
expect_out
hk --clean-temps --older-than 1
expect_out
hk --clean-temps --older-than 1s --json
expect_rc 0
[[ $(head -n1 <<<"$OUT" | jq -c .) == '{"action":"delete","kind":"temp","path":"./.recent.mutx-rrrrrrrrrrrr","bytes":6}' ]] &&
  pass || fail "json: $OUT"
expect_missing .recent.mutx-rrrrrrrrrrrr

case_ "a held NAME.lock is no claim on a temp, and housekeep leaves it be"
printf 'stale' >.bg.mutx-bbbbbbbbbbbb
printf 'claimed' >.bg.mutx-0
touch bg
hold_lock bg.lock
hold_shared_lock .bg.mutx-0
hk --all --older-than 0
expect_rc 0
expect_out ./.bg.mutx-bbbbbbbbbbbb
expect_exists .bg.mutx-0 bg.lock
release_lock  # the claim on .bg.mutx-0; bg.lock stays held
hk --all --older-than 0
expect_rc 0
expect_out ./.bg.mutx-0
expect_exists bg.lock

case_ "a dry run creates no lock file and deletes nothing"
printf 'stale' >.dry.mutx-dddddddddddd
hk --clean-temps --older-than 0 --dry-run
expect_out "would delete ./.dry.mutx-dddddddddddd"
expect_exists .dry.mutx-dddddddddddd
expect_missing dry.lock
finish
