#!/usr/bin/env bash
# --check CMD: run on the staged content before it is synced and published.
# The issue's examples on real files (jq, python3 -m json.tool; visudo and
# nginx where installed), %s as a copy beside the target keeping its
# extension (relative includes resolve), the content on stdin without %s,
# a failing check leaving the directory exactly as it was (inode, mtime,
# backups), its output on stderr (check_output events with --json), Ctrl-C
# while it runs (exit 3, the command ended), and check copies a crash left
# (swept by the next write and by housekeep; a look-alike held by another
# program is not touched).
. "$(dirname "$0")/lib.sh"

mkdir -p d
printf '{"a": 1}\n' >d/c.json

case_ "--check 'jq empty %s' passes valid JSON"
need_cmd jq
run_in $'{"a": 2}\n' --check 'jq empty %s' d/c.json
expect_rc 0
expect_err
expect_content d/c.json $'{"a": 2}\n'
expect_only d c.json

case_ "--check 'jq empty %s' refuses broken JSON: everything as it was"
run_in $'{"a": 3}\n' --backup d/c.json
expect_rc 0
before=$(listing d)
run_in $'{"a": \n' --backup --check 'jq empty %s' d/c.json
expect_rc 1
expect_has "$ERR" "Error: d/c.json: check failed: 'jq empty %s' exited " "stderr"
expect_match "$ERR" 'parse error' "jq's own message on stderr"
expect_listing d "$before" "d (target, backup, no temps)"
expect_content d/c.json $'{"a": 3}\n'
expect_content d/c.json.backup $'{"a": 2}\n'

case_ "--check 'python3 -m json.tool >/dev/null' (content on stdin)"
need_cmd python3
run_in $'{"b": [1, 2]}\n' --check 'python3 -m json.tool >/dev/null' d/c.json
expect_rc 0
expect_content d/c.json $'{"b": [1, 2]}\n'
before=$(listing d)
run_in $'{"b": [1, \n' --check 'python3 -m json.tool >/dev/null' d/c.json
expect_rc 1
expect_has "$ERR" "Error: d/c.json: check failed: 'python3 -m json.tool >/dev/null' exited 1" "stderr"
expect_listing d "$before"

case_ "--check 'visudo -cf %s'"
if command -v visudo >/dev/null 2>&1; then
  printf 'root ALL=(ALL:ALL) ALL\n' >d/sudoers
  chmod 440 d/sudoers
  run_in $'root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n' --check 'visudo -cf %s' d/sudoers
  expect_rc 0
  expect_mode d/sudoers 440
  before=$(listing d)
  run_in $'root ALL=(ALL:ALL\n' --check 'visudo -cf %s' d/sudoers
  expect_rc 1
  expect_has "$ERR" "check failed: 'visudo -cf %s' exited 1" "stderr"
  expect_listing d "$before"
  rm -f d/sudoers
else
  echo "NOTE: visudo not installed: the 'visudo -cf %s' example is not run" >&2
fi

case_ "--check 'nginx -t -c %s' (an absolute OUTPUT, as nginx wants)"
if command -v nginx >/dev/null 2>&1; then
  printf 'events {}\nhttp { server { listen 127.0.0.1:18080; } }\n' >d/nginx.conf
  run_in $'events {}\nhttp { include mime.types; server { listen 127.0.0.1:18081; } }\n' --check 'nginx -t -q -c %s' "$T/d/nginx.conf"
  expect_rc 1  # mime.types is not beside it: the include resolves as it will for the real file
  expect_has "$ERR" "mime.types" "nginx's message"
  printf 'types { text/html html; }\n' >d/mime.types
  run_in $'events {}\nhttp { include mime.types; server { listen 127.0.0.1:18081; } }\n' --check 'nginx -t -q -c %s' "$T/d/nginx.conf"
  expect_rc 0
  expect_has "$(cat d/nginx.conf)" "18081" "d/nginx.conf"
  before=$(listing d)
  run_in $'events {\n' --check 'nginx -t -q -c %s' "$T/d/nginx.conf"
  expect_rc 1
  expect_has "$ERR" "check failed: 'nginx -t -q -c %s' exited 1" "stderr"
  expect_listing d "$before"
  rm -f d/nginx.conf d/mime.types
else
  echo "NOTE: nginx not installed: the 'nginx -t -c %s' example is not run" >&2
fi

case_ "%s is a copy beside OUTPUT keeping its extension, with the new content and mode"
printf 'old\n' >d/site.conf
chmod 640 d/site.conf
printf 'included\n' >d/part.inc
run_in $'new content\n' --check 'echo "$0" >'"$T"'/name; cat %s >'"$T"'/seen; stat -c %%a %s >'"$T"'/mode; cat "$(dirname %s)/part.inc" >'"$T"'/inc' d/site.conf
expect_rc 0
expect_match "$(cat name)" '' "sh ran"
expect_content seen $'new content\n'
expect_content mode $'640\n'
expect_content inc $'included\n'
run_in $'newer\n' --check 'basename %s >'"$T"'/base' d/site.conf
expect_content base $'.site.conf.mutx-c0.conf\n'
expect_only d c.json c.json.backup part.inc site.conf

case_ "a quote in the path is quoted"
mkdir -p "q'd"
printf 'x\n' >"q'd/a b.txt"
run_in $'y\n' --check 'test "$(cat %s)" = y' "q'd/a b.txt"
expect_rc 0
expect_content "q'd/a b.txt" $'y\n'

case_ "without %s the content is on stdin, whole"
head -c 300000 /dev/urandom >big
cksum=$(sha256sum <big | cut -c1-64)
run --check "test \"\$(sha256sum | cut -c1-64)\" = $cksum" --input big d/big.bin
expect_rc 0
expect_same_file d/big.bin big

case_ "--stream and the command form are checked too"
printf 'bad\n' | "$MUTX" --stream --check 'grep -q good' d/s.txt 2>"$T/err"
RC=$? ERR=$(cat "$T/err")
expect_rc 1
expect_missing d/s.txt
printf 'good\n' | "$MUTX" --stream --check 'grep -q good' d/s.txt
expect_content d/s.txt $'good\n'
run d/s.txt --check 'grep -q better %s' -- sed s/good/better/
expect_rc 0
expect_content d/s.txt $'better\n'
run d/s.txt --check 'grep -q best %s' -- sed s/better/worse/
expect_rc 1
expect_content d/s.txt $'better\n'

case_ "a check killed by a signal says so"
run_in x --check 'kill -9 $$' d/k.txt
expect_rc 1
expect_has "$ERR" "Error: d/k.txt: check failed: 'kill -9 \$\$' was killed by signal 9" "stderr"
expect_missing d/k.txt
expect_no_temps d

case_ "its stdout goes to stderr; with --json as check_output events"
run_in x --check 'echo to-stdout; echo to-stderr >&2' d/o.txt
expect_rc 0
expect_eq "$OUT" "" "stdout"
expect_has "$ERR" "to-stdout" "stderr"
expect_has "$ERR" "to-stderr" "stderr"
run_in y --json --check 'echo to-stdout; echo to-stderr >&2; exit 3' d/o.txt
expect_rc 1
expect_eq "$(jq -r 'select(.event == "check_output") | .message' <<<"$ERR" | sort | tr '\n' ' ')" "to-stderr to-stdout " "check_output events"
expect_eq "$(jq -r 'select(.level == "error") | .message' <<<"$ERR")" "d/o.txt: check failed: 'echo to-stdout; echo to-stderr >&2; exit 3' exited 3" "error event"
expect_content d/o.txt x

case_ "the check runs under the lock"
run_in z --check 'flock -n d/o.txt.lock true' d/o.txt
expect_rc 1
expect_content d/o.txt x

case_ "SIGINT while the check runs: it ends, exit 3, nothing left"
printf 'old\n' >d/i.txt
before=$(listing d)
# A script's background jobs start with SIGINT ignored: give it back, as a
# terminal's foreground job has it.
printf 'new\n' | env --default-signal=INT "$MUTX" --check "echo \$\$ >$T/check.pid; exec sleep 30.$$" d/i.txt 2>"$T/err" &
pid=$!
for _ in $(seq 200); do [[ -s $T/check.pid ]] && break; sleep 0.02; done
sleep 0.1
kill -INT $pid
wait $pid
RC=$? ERR=$(cat "$T/err")
expect_rc 3
expect_eq "$ERR" "Interrupted" "stderr"
if kill -0 "$(cat "$T/check.pid")" 2>/dev/null; then fail "the check command still runs"; else pass; fi
expect_listing d "$before"

case_ "a check copy left by a crash goes with the next write and with housekeep"
printf 'crashed\n' >d/.c.json.mutx-c0.json
printf 'crashed\n' >d/.c.json.mutx-c2.json
run_in $'{}\n' d/c.json
expect_rc 0
expect_missing d/.c.json.mutx-c0.json d/.c.json.mutx-c2.json
printf 'crashed\n' >d/.other.conf.mutx-c1.conf
printf 'x' >d/other.conf
touch -d '2 days ago' d/.other.conf.mutx-c1.conf
run housekeep --clean-temps --older-than 0s d
expect_rc 0
expect_missing d/.other.conf.mutx-c1.conf

case_ "a look-alike another program holds is not removed"
printf 'theirs\n' >d/.c.json.mutx-c1.json
hold_shared_lock d/.c.json.mutx-c1.json
run_in $'{"z": 1}\n' --check 'jq empty %s' d/c.json
expect_rc 0
expect_content d/.c.json.mutx-c1.json $'theirs\n'
release_lock
rm -f d/.c.json.mutx-c1.json
expect_no_temps d

finish
