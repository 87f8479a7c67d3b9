#!/usr/bin/env bash
# mutx housekeep --clean-temps: a .NAME.mutx-* temp goes once untouched for
# an hour (or --older-than) and claimed by no writer; claimed ones, fresh
# ones, look-alikes and symlinks stay, and no lock file is made to decide.
source "$(dirname "$0")/housekeep_lib.bash"
cd "$tree"

printf 'half written' >.data.json.mutx-abc123def456
touch -d '2 hours ago' .data.json.mutx-abc123def456
printf 'also stale' >.free.mutx-zzz999zzz999
touch -d '3 hours ago' .free.mutx-zzz999zzz999
printf 'being written' >.fresh.mutx-2
printf 'x' >"$outside/secret"
ln -s "$outside/secret" .link.mutx-abc123abc123
touch -h -d '1 day ago' .link.mutx-abc123abc123
touch data.mutx-notatemp .data.mutx-abc123 .data.mutx-7
touch -d '1 day ago' data.mutx-notatemp .data.mutx-abc123 .data.mutx-7
# A live writer holds a shared flock on its temp (staging.hpp).
hold_shared_bg .data.json.mutx-abc123def456

# Made (ctime) just now, whatever their mtime: the default hour keeps all.
hk --clean-temps -v
expect_rc 0
expect_out
expect_err_has "Skipped ./.free.mutx-zzz999zzz999: touched within the last hour"

# The claimed temp survives even --older-than 0.
hk --clean-temps --older-than 0 -n
expect_rc 0
expect_out "would delete ./.free.mutx-zzz999zzz999" "would delete ./.fresh.mutx-2"
hk --clean-temps -v --older-than 0
expect_rc 0
expect_out ./.free.mutx-zzz999zzz999 ./.fresh.mutx-2
expect_err_has "Skipped ./.data.json.mutx-abc123def456: held by a live writer"
expect_err_has "Skipped ./.link.mutx-abc123abc123: a symbolic link, not followed"
exists .data.json.mutx-abc123def456 .link.mutx-abc123abc123 "$outside/secret" data.mutx-notatemp \
  .data.mutx-abc123 .data.mutx-7
# No lock file was made to decide.
gone data.json.lock free.lock fresh.lock .free.mutx-zzz999zzz999 .fresh.mutx-2

# Its writer gone, the temp goes.
release_lock_bg
hk --clean-temps --older-than 0
expect_rc 0
expect_out ./.data.json.mutx-abc123def456
gone .data.json.mutx-abc123def456 data.json.lock
exists .link.mutx-abc123abc123 data.mutx-notatemp

# --older-than decides, by the last change (a bare number is hours).
printf 'recent' >.recent.mutx-rrrrrrrrrrrr
sleep 2
hk --clean-temps
expect_out
hk --clean-temps --older-than 1
expect_out
hk --clean-temps --older-than 1s --json
expect_rc 0
[[ $(head -n1 <<<"$out" | jq -c .) == '{"action":"delete","kind":"temp","path":"./.recent.mutx-rrrrrrrrrrrr","bytes":6}' ]] ||
  fail "json: $out"
gone .recent.mutx-rrrrrrrrrrrr

# A held NAME.lock is no claim on a temp, and housekeep leaves it be.
printf 'stale' >.bg.mutx-bbbbbbbbbbbb
printf 'claimed' >.bg.mutx-0
touch bg
hold_lock_bg bg.lock
hold_shared_bg .bg.mutx-0
hk --all --older-than 0
expect_rc 0
expect_out ./.bg.mutx-bbbbbbbbbbbb
exists .bg.mutx-0 bg.lock
release_lock_bg
hk --all --older-than 0
expect_rc 0
expect_out ./.bg.mutx-0
exists bg.lock

# A dry run creates no lock file and deletes nothing.
printf 'stale' >.dry.mutx-dddddddddddd
hk --clean-temps --older-than 0 --dry-run
expect_out "would delete ./.dry.mutx-dddddddddddd"
exists .dry.mutx-dddddddddddd
gone dry.lock
echo "ok"
