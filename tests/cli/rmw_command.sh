#!/usr/bin/env bash
# Read-modify-write: `mutx OUTPUT -- COMMAND [ARG...]` runs COMMAND under the
# lock with OUTPUT's current content on its stdin (empty when OUTPUT does not
# exist) and commits its stdout only when it exits 0. Otherwise exit 1 with a
# message naming the command and its status, OUTPUT untouched, nothing left.
# The command's stderr passes through; mutx's own stdin is not its input.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
mkdir w && cd w || exit 1

case_ "increment"
printf '41\n' >N
run N -- sh -c 'read n; echo $((n+1))'
expect_rc 0
expect_eq "$OUT" "" "stdout of mutx"
expect_eq "$ERR" "" "stderr of mutx"
expect_content N $'42\n'
run N -- sh -c 'read n; echo $((n+1))'
expect_content N $'43\n'
expect_only . N

case_ "the command sees the old content, not mutx's stdin"
run_in 'from stdin' N -- cat
expect_rc 0
expect_content N $'43\n'

case_ "arguments pass through untouched, options after -- are the command's"
printf 'b\na\nc\n' >L
run L -- sort -r
expect_rc 0
expect_content L $'c\nb\na\n'
run L -- printf '%s|' 'two words' '--backup' '*' ''
expect_rc 0
expect_content L 'two words|--backup|*||'
expect_only . L N

case_ "environment reaches the command"
OUT=$(MUTX_TEST_VAR=seen "$MUTX" L -- sh -c 'echo "$MUTX_TEST_VAR"' 2>"$T/.stderr")
RC=$?
expect_rc 0
expect_content L $'seen\n'

case_ "failing command: exit 1, its status named, target untouched"
printf 'keep\n' >K
run K -- sh -c 'cat >/dev/null; echo partial; exit 3'
expect_rc 1
expect_match "$ERR" "^Error: command 'sh' exited with status 3" "stderr"
expect_match "$ERR" $'\nHint: The target was left as it was' "hint"
expect_content K $'keep\n'
run K -- false
expect_rc 1
expect_match "$ERR" "^Error: command 'false' exited with status 1" "stderr"
expect_content K $'keep\n'
expect_only . K L N

case_ "command killed by a signal"
run K -- sh -c 'echo partial; kill -KILL $$'
expect_rc 1
expect_match "$ERR" "^Error: command 'sh' was killed by signal 9" "stderr"
expect_content K $'keep\n'
expect_only . K L N

case_ "a command that closes stdout early and fails is still a failure"
run K -- sh -c 'exec >&-; sleep 0.1; exit 4'
expect_rc 1
expect_match "$ERR" "exited with status 4" "stderr"
expect_content K $'keep\n'

case_ "the command's stderr passes through"
run K -- sh -c 'echo "note from the command" >&2; cat; echo more'
expect_rc 0
expect_eq "$ERR" "note from the command" "stderr"
expect_content K $'keep\nmore\n'
run K -- sh -c 'echo "why it failed" >&2; exit 2'
expect_rc 1
expect_match "$ERR" "^why it failed"$'\n'"Error: command 'sh' exited with status 2" "stderr"
expect_content K $'keep\nmore\n'

case_ "nonexistent OUTPUT: the command gets empty stdin"
run fresh -- sh -c 'printf "%s bytes\n" "$(wc -c)"'
expect_rc 0
expect_content fresh $'0 bytes\n'
expect_mode fresh 644
expect_only . K L N fresh

case_ "no output: refused unless --allow-empty"
run K -- true
expect_rc 1
expect_match "$ERR" "^Error: command 'true' produced no output" "stderr"
expect_content K $'keep\nmore\n'
run --allow-empty K -- true
expect_rc 0
expect_content K ''
run missing -- true
expect_rc 1
expect_missing missing
expect_only . K L N fresh

case_ "missing command binary"
printf 'keep\n' >K
run K -- no-such-command-mutx-test
expect_rc 1
expect_match "$ERR" "^Error: .*no-such-command-mutx-test.*No such file or directory" "stderr"
expect_content K $'keep\n'
run K -- ./K
expect_rc 1
expect_match "$ERR" "^Error: .*\\./K.*Permission denied" "not executable"
expect_content K $'keep\n'
run K --
expect_rc 1
expect_match "$ERR" "^Error: no command given after --" "stderr"
expect_content K $'keep\n'
expect_only . K L N fresh

case_ "large content round-trips through the command"
head -c 3000000 /dev/urandom >big
cp big big.want
run big -- cat
expect_rc 0
expect_same_file big big.want
run big -- sh -c 'cat; printf tail'
expect_rc 0
{ cat big.want; printf tail; } >big.want2
expect_same_file big big.want2
rm big.want big.want2

case_ "mode and backup with the command form"
printf '1\n' >M
chmod 600 M
run --backup M -- sh -c 'read n; echo $((n*10))'
expect_rc 0
expect_content M $'10\n'
expect_content M.backup $'1\n'
expect_mode M 600

case_ "the command runs once, under the lock"
: >runs
run M -- sh -c 'echo x >>runs; test -e M.lock && cat'
expect_rc 0
expect_content runs $'x\n'
expect_content M $'10\n'
expect_missing M.lock

case_ "--json: the command's stderr arrives as JSON events, every line of it"
printf '{"n":1}\n' >J
run --json J -- sh -c 'echo "jq: error (at <stdin>:1): boom" >&2; printf "last line without newline" >&2; exit 5'
expect_rc 1
while IFS= read -r line; do
  jq -e . >/dev/null 2>&1 <<<"$line" && pass || fail "stderr line is not JSON: $line"
done <<<"$ERR"
expect_match "$ERR" '"event":"command_stderr","message":"jq: error \(at <stdin>:1\): boom","command":"sh"' "first line"
expect_match "$ERR" '"message":"last line without newline"' "unterminated last line"
expect_eq "$(grep -c '"reason":""' <<<"$ERR")" 0 "empty fields"
expect_content J $'{"n":1}\n'
case_ "--json with a command that leaves a background child holding stderr: no hang"
# Durations unique to this run: the uring and syscalls variants of this
# script run at once, and a pattern both match found (and killed) the other's.
BG_SLEEP="30.$$"
OUT=$(timeout 20 "$MUTX" --json J -- sh -c "sleep $BG_SLEEP >/dev/null 2>&1 & echo early >&2; cat" 2>"$T/.stderr")
RC=$?
expect_rc 0
expect_match "$(cat "$T/.stderr")" '"message":"early"' "line before exit"
pkill -f "^sleep $BG_SLEEP\$" 2>/dev/null

case_ "SIGTERM ends the command's whole process group, not only the command"
TERM_SLEEP="41.$$"
"$MUTX" J -- sh -c "sleep $TERM_SLEEP; cat" 2>"$T/.term" &
W=$!
for ((i = 0; i < 100; i++)); do pgrep -f "^sleep $TERM_SLEEP\$" >/dev/null && break; sleep 0.05; done
kill -TERM "$W"
wait "$W"
RC=$?
expect_rc 3
sleep 0.2
if pgrep -f "^sleep $TERM_SLEEP\$" >/dev/null; then fail "the command's child still runs"; pkill -f "^sleep $TERM_SLEEP\$"; else pass; fi
expect_content J $'{"n":1}\n'
expect_missing J.lock

case_ "a command on a file that does not exist yet reads empty input: the hint says so"
run new.json -- jq '.n += 1'
expect_rc 1
expect_match "$ERR" "^Error: command 'jq' produced no output" "stderr"
expect_match "$ERR" $'\nHint: new.json did not exist, so the command read empty input' "hint"
expect_missing new.json

case_ "a command on an existing empty file reads empty input: the hint says so, not --allow-empty"
: >empty.json
run empty.json -- jq .
expect_rc 1
expect_eq "$ERR" "Error: command 'jq' produced no output"$'\n'"Hint: empty.json was empty, so the command read empty input (jq, for one, prints nothing then). Put content in it first, or give the command input it handles." "stderr"
expect_content empty.json ''
expect_missing empty.json.lock

case_ "the man page's counter: mutx counter.json -- jq -s '.[0] | .n += 1', three times from no file"
for _ in 1 2 3; do run counter.json -- jq -s '.[0] | .n += 1'; expect_rc 0; done
expect_content counter.json $'{\n  "n": 3\n}\n'
expect_missing counter.json.lock

case_ "the pipe form commits what a failing producer printed (as documented); the command form does not"
printf '{"new":true}\n' >c.json
# As a shell without pipefail runs it: the pipeline's status is mutx's.
OUT=$(bash -c 'jq ".new, error(\"boom\")" c.json 2>/dev/null | "$0" c.json' "$MUTX" 2>"$T/.stderr")
RC=$?
expect_rc 0
expect_content c.json $'true\n'
printf '{"new":true}\n' >c.json
run c.json -- jq '.new, error("boom")'
expect_rc 1
expect_match "$ERR" "^jq: error \\(at <stdin>:1\\): boom"$'\n'"Error: command 'jq' exited with status 5" "stderr"
expect_content c.json $'{"new":true}\n'
expect_missing c.json.lock

finish
