#!/usr/bin/env bash
# mutx housekeep --clean-temps: a stale .NAME.mutx-* goes only while its
# target's lock can be taken; fresh ones and symlinks stay.
source "$(dirname "$0")/housekeep_lib.bash"
cd "$tree"

printf 'half written' >.data.json.mutx-abc123def456
touch -d '2 hours ago' .data.json.mutx-abc123def456
printf 'also stale' >.free.mutx-zzz999zzz999
touch -d '3 hours ago' .free.mutx-zzz999zzz999
printf 'being written' >.fresh.mutx-aaa111bbb222
printf 'x' >"$outside/secret"
ln -s "$outside/secret" .link.mutx-abc123abc123
touch -h -d '1 day ago' .link.mutx-abc123abc123
touch data.mutx-notatemp
touch -d '1 day ago' data.mutx-notatemp
hold_lock data.json.lock

# The target is locked: its temp survives, even with --older-than 0.
hk --clean-temps -n
expect_rc 0
expect_out ./.free.mutx-zzz999zzz999
hk --clean-temps -v --older-than 0
expect_rc 0
expect_out ./.free.mutx-zzz999zzz999 ./.fresh.mutx-aaa111bbb222
expect_err_has "Skipped ./.data.json.mutx-abc123def456: its target is locked by a writer (./data.json.lock)"
expect_err_has "Skipped ./.link.mutx-abc123abc123: a symbolic link, not followed"
exists .data.json.mutx-abc123def456 .link.mutx-abc123abc123 "$outside/secret" data.mutx-notatemp data.json.lock
# No lock file was left behind for the targets that had none.
gone free.lock fresh.lock .free.mutx-zzz999zzz999 .fresh.mutx-aaa111bbb222

# Released: the temp goes; the (now orphaned) lock file is not a temp.
release_lock
hk --clean-temps
expect_rc 0
expect_out ./.data.json.mutx-abc123def456
gone .data.json.mutx-abc123def456
exists data.json.lock .link.mutx-abc123abc123 data.mutx-notatemp
hk --clean-locks
expect_out ./data.json.lock

# Younger than the default hour: stays; --older-than (bare: hours) decides.
printf 'recent' >.recent.mutx-rrrrrrrrrrrr
touch -d '30 minutes ago' .recent.mutx-rrrrrrrrrrrr
hk --clean-temps
expect_out
hk --clean-temps --older-than 1
expect_out
hk --clean-temps --older-than 15m --json
expect_rc 0
[[ $(head -n1 <<<"$out" | jq -c .) == '{"action":"delete","kind":"temp","path":"./.recent.mutx-rrrrrrrrrrrr","bytes":6}' ]] ||
  fail "json: $out"
gone .recent.mutx-rrrrrrrrrrrr

# Held by a background flock(1) the same way.
printf 'stale' >.bg.mutx-bbbbbbbbbbbb
touch -d '5 hours ago' .bg.mutx-bbbbbbbbbbbb
hold_lock_bg bg.lock
hk --all
expect_rc 0
expect_out
exists .bg.mutx-bbbbbbbbbbbb bg.lock
release_lock_bg
hk --all
expect_rc 0
expect_out ./.bg.mutx-bbbbbbbbbbbb ./bg.lock
gone .bg.mutx-bbbbbbbbbbbb bg.lock

# A dry run creates no lock file and deletes nothing.
printf 'stale' >.dry.mutx-dddddddddddd
touch -d '5 hours ago' .dry.mutx-dddddddddddd
hk --clean-temps --dry-run
expect_out ./.dry.mutx-dddddddddddd
exists .dry.mutx-dddddddddddd
gone dry.lock
echo "ok"
