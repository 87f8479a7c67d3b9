#!/usr/bin/env bash
# --log FILE (config key log): one JSON line per attempt, with time, user,
# host, pid, target, outcome (written, unchanged, failed with its reason,
# interrupted), bytes, sha256 of the new and the old content, backup and
# duration; 200 concurrent writers give 200 lines that all parse; a log
# that cannot be opened or is no regular file (/dev/full, a FIFO) stops the
# write before anything happens; a commit whose --on-change failed is
# logged "written" with the failure as its reason; --no-log turns a config
# file's log off. (A full filesystem: tests/deploy_owner/log_full.sh.)
. "$(dirname "$0")/lib.sh"
need_cmd jq

mkdir -p d
printf 'old\n' >d/t
OLD=$(printf 'old\n' | sha256sum | cut -c1-64)
NEW=$(printf 'new\n' | sha256sum | cut -c1-64)

case_ "a written line"
run_in $'new\n' --log audit.log --backup d/t
expect_rc 0
expect_eq "$(wc -l <audit.log)" 1 "lines"
line=$(tail -1 audit.log)
expect_eq "$(jq -c '[.user, .host, .pid > 0, .target, .outcome, .bytes, .sha256, .old_sha256, .backup, (.duration_ms | type)]' <<<"$line")" \
  "[\"$(id -un)\",\"$(hostname)\",true,\"$PWD/d/t\",\"written\",4,\"$NEW\",\"$OLD\",\"$PWD/d/t.backup\",\"number\"]" "fields"
expect_match "$(jq -r .time <<<"$line")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' "time"
expect_mode audit.log 640

case_ "unchanged, failed (with reason), a new file (old_sha256 null)"
run_in $'new\n' --log audit.log -C d/t
expect_rc 0
expect_eq "$(tail -1 audit.log | jq -c '[.outcome, .sha256, .old_sha256, .backup]')" "[\"unchanged\",\"$NEW\",\"$NEW\",null]" "unchanged"
run_in $'bad\n' --log audit.log --check 'exit 2' d/t
expect_rc 1
expect_eq "$(tail -1 audit.log | jq -c '[.outcome, .reason]')" "[\"failed\",\"d/t: check failed: 'exit 2' exited 2\"]" "failed"
run_in '' --log audit.log d/t
expect_eq "$(tail -1 audit.log | jq -c '[.outcome, .reason]')" '["failed","No input provided"]' "empty input"
run_in $'n\n' --log audit.log d/fresh
expect_eq "$(tail -1 audit.log | jq -c '[.outcome, .old_sha256, .target]')" "[\"written\",null,\"$PWD/d/fresh\"]" "new file"
expect_eq "$(wc -l <audit.log)" 5 "lines"
expect_content d/t $'new\n'

case_ "--on-change fails after the commit: logged written, with the reason"
run_in $'changed\n' --log audit.log --on-change 'exit 5' d/t
expect_rc 1
expect_eq "$ERR" "Error: d/t: the new content is in place, but --on-change 'exit 5' exited 5" "stderr"
expect_eq "$(tail -1 audit.log | jq -c '[.outcome, .reason, .bytes]')" \
  "[\"written\",\"d/t: the new content is in place, but --on-change 'exit 5' exited 5\",8]" "line"
expect_content d/t $'changed\n'
run_in $'new\n' --log audit.log d/t
expect_content d/t $'new\n'

case_ "interrupted"
env --default-signal=INT "$MUTX" --log audit.log --check "exec sleep 20.$$" d/t < <(printf 'late\n') 2>/dev/null &
pid=$!
for _ in $(seq 200); do pgrep -f "^sleep 20.$$" >/dev/null && break; sleep 0.02; done
kill -INT $pid
wait $pid
RC=$?
expect_rc 3
expect_eq "$(tail -1 audit.log | jq -c '[.outcome, .target]')" "[\"interrupted\",\"$PWD/d/t\"]" "interrupted"

case_ "log = FILE in the config file"
mkdir -p cfg/mutx
printf 'log = %s\n' "$T/cfg.log" >cfg/mutx/config
printf 'c\n' | XDG_CONFIG_HOME=$T/cfg "$MUTX" d/c
expect_eq "$(jq -r .outcome cfg.log)" written "outcome"
printf 'c2\n' | XDG_CONFIG_HOME=$T/cfg "$MUTX" --no-log d/c 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content d/c $'c2\n'
expect_eq "$(wc -l <cfg.log)" 1 "lines after --no-log"
OUT_=$(printf 'c3\n' | XDG_CONFIG_HOME=$T/cfg "$MUTX" --no-log --log other.log d/c 2>&1)
RC=$? ERR=$OUT_
expect_rc 1
expect_match "$ERR" "^Error: --(log and --no-log|no-log and --log) exclude each other" "stderr"

case_ "a log that cannot be opened: error, nothing written"
before=$(listing d)
run_in $'never\n' --log "$T/no/such/dir/log" --backup d/t
expect_rc 1
expect_eq "$ERR" $'Error: cannot open log '"$T"$'/no/such/dir/log: No such file or directory\nHint: The target was left as it was.' "stderr"
expect_listing d "$before"
mkdir logdir
run_in $'never\n' --log logdir --backup d/t
expect_rc 1
expect_listing d "$before"

case_ "a log that is no regular file: refused before anything, not opened"
before=$(listing d)
if [[ -w /dev/full ]]; then
  run_in $'never\n' --log /dev/full --backup d/t
  expect_rc 1
  expect_eq "$ERR" $'Error: cannot use log /dev/full: not a regular file\nHint: The log must be a regular file; the target was left as it was.' "stderr"
  expect_listing d "$before"
else
  echo "note: no writable /dev/full; not checked" >&2
fi
# A FIFO: refused, not opened (an open would wait for a reader).
mkfifo fifo.log
OUT_=$(printf 'never\n' | timeout 10 "$MUTX" --log fifo.log --backup d/t 2>&1)
RC=$? ERR=$OUT_
expect_rc 1
expect_eq "$ERR" $'Error: cannot use log fifo.log: not a regular file\nHint: The log must be a regular file; the target was left as it was.' "stderr"
expect_listing d "$before"
rm fifo.log

case_ "concurrent writers: one whole line each"
# 200 (sanitized builds: 50, each a slow start).
N=${DEPLOY_LOG_WRITERS:-$([[ ${MUTX_SANITIZED:-0} == 1 ]] && echo 50 || echo 200)}
rm -f many.log
for i in $(seq "$N"); do
  printf 'writer %d\n' "$i" | "$MUTX" -q --log many.log "d/w$((i % 10))" 2>>errs &
done
wait
expect_eq "$(cat errs)" "" "writers' stderr"
expect_eq "$(wc -l <many.log)" "$N" "lines"
expect_eq "$(jq -c . many.log 2>&1 | wc -l)" "$N" "lines that parse"
expect_eq "$(jq -r .outcome many.log | sort | uniq -c | awk '{print $1, $2}')" "$N written" "outcomes"
expect_eq "$(jq -r .pid many.log | sort -u | wc -l)" "$N" "distinct pids"

finish
