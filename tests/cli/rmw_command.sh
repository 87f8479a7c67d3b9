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

finish
