#!/usr/bin/env bash
# mutx housekeep --json: one object per path, then a summary; errors as JSON
# objects on stderr; parses with jq.
. "$(dirname "$0")/lib.sh"
need_cmd jq
hk_tree
stop_on_error

case_ "a dry run: one object per path, in order, then the summary"
# Backup generations named as mutx names them (UTC, the time of the write).
S=$(utc_stamp)
touch orphan orphan.lock held held.lock
printf '12345' >.data.mutx-abcdefabcdef
printf 'old' >"data.$S.backup"
mkdir sub
printf 'x' >"sub/s.$S.backup"
sleep 0.02  # the newer generations are made (ctime) a tick later
printf 'newer' >"data.${S}_001.backup"
printf 'xy' >"sub/s.${S}_001.backup"
: >'sub/we"ird	name'
: >'sub/we"ird	name.lock'
hold_lock_here held.lock

# --older-than 0: the locks and temps were made just now.
hk --all --json --dry-run -r --older-than 0
expect_rc 0
jq -e . <<<"$OUT" >/dev/null && pass || fail "not JSON: $OUT"
[[ $(jq -s length <<<"$OUT") == 6 ]] && pass || fail "want 6 objects: $OUT"
# Compact (jq -c) form of each line, in order: per directory temps, locks,
# backups, then subdirectories.
want=(
  '{"action":"would_delete","kind":"temp","path":"./.data.mutx-abcdefabcdef","bytes":5}'
  '{"action":"would_delete","kind":"lock","path":"./orphan.lock","bytes":0}'
  '{"action":"would_delete","kind":"backup","path":"./data.'$S'.backup","bytes":3}'
  '{"action":"would_delete","kind":"lock","path":"./sub/we\"ird\tname.lock","bytes":0}'
  '{"action":"would_delete","kind":"backup","path":"./sub/s.'$S'.backup","bytes":1}'
)
got=$(jq -c . <<<"$OUT")
mapfile -t lines <<<"$got"
for i in "${!want[@]}"; do
  [[ ${lines[i]-} == "${want[i]}" ]] && pass || fail "line $i: ${lines[i]-(none)}"$'\n'"want ${want[i]}"
done
summary=$(tail -n1 <<<"$OUT")
jq -e '.summary == true and .locks == 2 and .temps == 1 and .backups == 2 and .bytes_freed == 9
       and .errors == 0 and .dry_run == true and (.duration_ms | type) == "number"' <<<"$summary" >/dev/null &&
  pass || fail "summary: $summary"
expect_exists orphan.lock .data.mutx-abcdefabcdef "data.$S.backup" "sub/s.$S.backup"

case_ "the real run says delete and the same summary, dry_run false"
hk --all --json -r --older-than 0
expect_rc 0
[[ $(jq -r 'select(.action) | .action' <<<"$OUT" | sort -u) == delete ]] && pass || fail "actions: $OUT"
jq -e 'select(.summary) | .locks == 2 and .temps == 1 and .backups == 2 and .bytes_freed == 9 and .dry_run == false' \
  <<<"$OUT" >/dev/null && pass || fail "summary: $OUT"
expect_missing orphan.lock .data.mutx-abcdefabcdef "data.$S.backup" "sub/s.$S.backup"
expect_exists orphan held.lock "data.${S}_001.backup" "sub/s.${S}_001.backup"

case_ "nothing to do: only the summary"
hk --all --json
expect_rc 0
jq -e '.summary and .locks == 0 and .temps == 0 and .backups == 0 and .errors == 0' <<<"$OUT" >/dev/null &&
  pass || fail "summary: $OUT"
[[ $(wc -l <<<"$OUT") == 1 ]] && pass || fail "want only the summary: $OUT"

case_ "errors under --json are JSON objects on stderr, with the exit code"
hk --json
expect_rc 1
expect_out
[[ $(jq -c . <<<"$ERR") == '{"level":"error","event":"error","message":"Specify at least one operation (--clean-locks, --clean-backups, --clean-temps or --all)","exit_code":1}' ]] &&
  pass || fail "stderr: $ERR"
hk --all --older-than 3x --json
expect_rc 1
jq -e '.level == "error" and .exit_code == 1 and (.message | startswith("invalid duration '"'"'3x'"'"' for --older-than"))' <<<"$ERR" >/dev/null &&
  pass || fail "stderr: $ERR"
finish
