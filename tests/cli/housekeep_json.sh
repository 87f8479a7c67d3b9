#!/usr/bin/env bash
# mutx housekeep --json: one object per path, then a summary; errors as JSON
# objects on stderr; parses with jq.
source "$(dirname "$0")/housekeep_lib.bash"
command -v jq >/dev/null || skip "jq is not installed"
cd "$tree"

# Backup generations named as mutx names them (UTC, the time of the write).
T=$(date -u +%Y%m%d-%H%M%S)
touch orphan orphan.lock held held.lock
printf '12345' >.data.mutx-abcdefabcdef
printf 'old' >"data.$T.backup"
mkdir sub
printf 'x' >"sub/s.$T.backup"
sleep 0.02  # the newer generations are made (ctime) a tick later
printf 'newer' >"data.${T}_001.backup"
printf 'xy' >"sub/s.${T}_001.backup"
: >'sub/we"ird	name'
: >'sub/we"ird	name.lock'
hold_lock held.lock

# --older-than 0: the locks and temps were made just now.
hk --all --json --dry-run -r --older-than 0
expect_rc 0
jq -e . <<<"$out" >/dev/null || fail "not JSON: $out"
[[ $(jq -s length <<<"$out") == 6 ]] || fail "want 6 objects: $out"
# Compact (jq -c) form of each line, in order: per directory temps, locks,
# backups, then subdirectories.
want=(
  '{"action":"would_delete","kind":"temp","path":"./.data.mutx-abcdefabcdef","bytes":5}'
  '{"action":"would_delete","kind":"lock","path":"./orphan.lock","bytes":0}'
  '{"action":"would_delete","kind":"backup","path":"./data.'$T'.backup","bytes":3}'
  '{"action":"would_delete","kind":"lock","path":"./sub/we\"ird\tname.lock","bytes":0}'
  '{"action":"would_delete","kind":"backup","path":"./sub/s.'$T'.backup","bytes":1}'
)
got=$(jq -c . <<<"$out")
mapfile -t lines <<<"$got"
for i in "${!want[@]}"; do
  [[ ${lines[$i]} == "${want[$i]}" ]] || fail "line $i: ${lines[$i]}"$'\n'"want ${want[$i]}"
done
summary=$(tail -n1 <<<"$out")
jq -e '.summary == true and .locks == 2 and .temps == 1 and .backups == 2 and .bytes_freed == 9
       and .errors == 0 and .dry_run == true and (.duration_ms | type) == "number"' <<<"$summary" >/dev/null ||
  fail "summary: $summary"
exists orphan.lock .data.mutx-abcdefabcdef "data.$T.backup" "sub/s.$T.backup"

# The real run says "delete" and the same summary, dry_run false.
hk --all --json -r --older-than 0
expect_rc 0
[[ $(jq -r 'select(.action) | .action' <<<"$out" | sort -u) == delete ]] || fail "actions: $out"
jq -e 'select(.summary) | .locks == 2 and .temps == 1 and .backups == 2 and .bytes_freed == 9 and .dry_run == false' \
  <<<"$out" >/dev/null || fail "summary: $out"
gone orphan.lock .data.mutx-abcdefabcdef "data.$T.backup" "sub/s.$T.backup"
exists orphan held.lock "data.${T}_001.backup" "sub/s.${T}_001.backup"

# Nothing to do: only the summary.
hk --all --json
expect_rc 0
jq -e '.summary and .locks == 0 and .temps == 0 and .backups == 0 and .errors == 0' <<<"$out" >/dev/null ||
  fail "summary: $out"
[[ $(wc -l <<<"$out") == 1 ]] || fail "want only the summary: $out"
# Errors under --json are JSON objects on stderr too, with the exit code.
hk --json
expect_rc 1
[[ -z $out ]] || fail "stdout: $out"
[[ $(jq -c . <<<"$err") == '{"level":"error","event":"error","message":"Specify at least one operation (--clean-locks, --clean-backups, --clean-temps or --all)","exit_code":1}' ]] ||
  fail "stderr: $err"
hk --all --older-than 3x --json
expect_rc 1
jq -e '.level == "error" and .exit_code == 1 and (.message | startswith("invalid duration '"'"'3x'"'"' for --older-than"))' <<<"$err" >/dev/null ||
  fail "stderr: $err"
echo "ok"
