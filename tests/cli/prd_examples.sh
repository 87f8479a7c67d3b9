# The PRD's own examples (seeds/001, where the tool is called atomic-write),
# run as its readers will type them with atomic-write replaced by mutx: the
# user stories (section 3), the usage examples (6.4), the error scenarios
# and their transcripts (7), the messages and output options (5.2, 5.3), and
# the options it lists (4, 6.2, 6.3). Each asserts the exit code, the exact
# words on stderr, the content byte for byte and what is left on disk. Where
# mutx does something else on purpose (docs/design.md wins, or the example
# cannot apply), the comment says why and the case asserts what mutx
# documents instead.
. "$(dirname "$0")/lib.sh"
need_cmd jq
need_cmd flock
# The examples as written, not as a developer's own config file bends them.
export XDG_CONFIG_HOME=$T/no-config
umask 022
# The PRD's helper scripts, by its names, on PATH.
mkdir -p "$T/bin" "$T/w"
export PATH=$T/bin:$PATH
script_() {  # name body
  printf '#!/bin/sh\n%s\n' "$2" >"$T/bin/$1"
  chmod +x "$T/bin/$1"
}
script_ generate_new_config.sh 'printf "listen = 8080\nworkers = 4\n"'
script_ generate_config.sh 'printf "generated = true\n"'
script_ update_config.sh 'printf "{\"updated\": true}\n"'
script_ transform_csv.py 'exec tr "a-z" "A-Z"'
script_ transform_data.py 'exec sed "s/,/;/g"'
# A cron job's report: its name on every line, so two outputs mixed into
# one file would show.
script_ process_logs.sh 'i=0; while [ $i -lt 20000 ]; do echo "process_logs line $i"; i=$((i + 1)); done'
script_ analyze_metrics.sh 'i=0; while [ $i -lt 20000 ]; do echo "analyze_metrics line $i"; i=$((i + 1)); done'
cd "$T/w" || exit 1

# What one invocation did: exit code, stdout, stderr. `sh_ CMD` runs a
# command line in the shell, as the PRD's examples are written.
sh_() {
  OUT=$(bash -c "$1" 2>"$T/.stderr")
  RC=$?
  ERR=$(cat "$T/.stderr")
}
M=$(printf '%q' "$MUTX")

# Root may write anything, so the permission errors of 7.2 are run as
# `nobody` there (setpriv); a user runs them as itself.
AS_USER=()
if [[ $(id -u) -eq 0 ]]; then
  if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; then
    AS_USER=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
    chmod 755 "$T" "$T/w"
    "${AS_USER[@]}" test -x "$MUTX" || AS_USER=(none)
  else
    AS_USER=(none)
  fi
fi

# --- Section 3: user stories ------------------------------------------------

case_ "story 1: jq '.database.max_connections = 100' config.json | mutx config.json"
printf '{"database":{"host":"db","max_connections":10}}\n' >config.json
chmod 640 config.json
sh_ "jq '.database.max_connections = 100' config.json | $M config.json"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content config.json $'{\n  "database": {\n    "host": "db",\n    "max_connections": 100\n  }\n}\n'
expect_mode config.json 640
expect_only . config.json

case_ "story 2: two cron jobs with --wait on one log"
# The PRD's cron lines use --wait so that the jobs' entries "don't overlap
# or get lost". --wait makes them take turns, but each job replaces the
# file with its own output: mutx never mixes two outputs, and the last
# writer's whole report is what stays. Adding to a log is --append (docs/design.md,
# section 1: `report.sh | mutx --append summary.log`), below.
mkdir -p var/log
process_logs.sh >expected.a
analyze_metrics.sh >expected.b
for _ in 1 2 3; do
  process_logs.sh | "$MUTX" --wait var/log/summary.log 2>"$T/err.a" &
  a=$!
  analyze_metrics.sh | "$MUTX" --wait var/log/summary.log 2>"$T/err.b" &
  b=$!
  wait $a; rc_a=$?
  wait $b; rc_b=$?
  expect_eq "$rc_a $rc_b" "0 0" "exit codes"
  # The one that waited says so (FR-5), the other says nothing.
  for e in "$T/err.a" "$T/err.b"; do
    [[ $(cat "$e") == "" || $(cat "$e") == $'Waiting for lock on var/log/summary.log...\nLock acquired' ]] && pass ||
      fail "stderr: $(cat "$e")"
  done
  if cmp -s var/log/summary.log expected.a || cmp -s var/log/summary.log expected.b; then pass
  else fail "summary.log is neither job's whole output ($(wc -l <var/log/summary.log) lines)"; fi
  expect_only var/log summary.log
done
# With --append both reports land, each whole, one after the other.
rm var/log/summary.log
process_logs.sh | "$MUTX" --wait --append var/log/summary.log 2>/dev/null &
a=$!
analyze_metrics.sh | "$MUTX" --wait --append var/log/summary.log 2>/dev/null &
b=$!
wait $a
wait $b
if cmp -s var/log/summary.log <(cat expected.a expected.b) || cmp -s var/log/summary.log <(cat expected.b expected.a); then pass
else fail "summary.log does not hold both reports whole ($(wc -l <var/log/summary.log) lines)"; fi
expect_only var/log summary.log
rm -r var expected.a expected.b

case_ "story 3: transform_csv.py < huge_input.csv | mutx --stream huge_output.csv"
# 10 GB in the PRD; 8 MiB here, beyond one of the stream's 4 MiB buffers.
for i in $(seq 1 80000); do printf 'row%d,name%d,value,%d\n' "$i" "$i" $((i * 7)); done | head -c 8388608 >huge_input.csv
sh_ "transform_csv.py < huge_input.csv | $M --stream huge_output.csv"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_same_file huge_output.csv <(tr a-z A-Z <huge_input.csv)
expect_only . config.json huge_input.csv huge_output.csv
rm huge_input.csv huge_output.csv

case_ "story 5: generate_new_config.sh | mutx --backup config.json"
rm -f config.json
printf 'listen = 80\n' >config.json
chmod 600 config.json
sh_ "generate_new_config.sh | $M --backup config.json"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content config.json $'listen = 8080\nworkers = 4\n'
expect_content config.json.backup $'listen = 80\n'
# The backup keeps the old file's mode (PRD 8.5).
expect_mode config.json.backup 600
expect_mode config.json 600
expect_only . config.json config.json.backup
rm config.json.backup

case_ "story 6: update_config.sh | mutx --no-wait config.json || exit 1"
printf 'old\n' >config.json
hold_lock config.json.lock 30
sh_ "update_config.sh | $M --no-wait config.json || exit 1; echo reached"
expect_rc 1
expect_eq "$OUT" "" "stdout (the script stopped at exit 1)"
expect_eq "$ERR" $'Error: config.json: File locked by another process\nHint: The lock file is config.json.lock; see who holds it with: fuser -v config.json.lock' "stderr"
expect_content config.json $'old\n'
# mutx's own exit code is 2 (TR-4), which `|| exit 1` turns into 1.
sh_ "update_config.sh | $M --no-wait config.json; echo \"\${PIPESTATUS[1]}\""
expect_eq "$OUT" 2 "mutx's exit code"
release_lock
# flock(1) made config.json.lock and keeps it; mutx neither removes nor
# replaces a lock file it did not hold.
expect_only . config.json config.json.lock
rm config.json.lock
sh_ "update_config.sh | $M --no-wait config.json || exit 1; echo reached"
expect_rc 0
expect_eq "$OUT" reached "stdout"
expect_content config.json $'{"updated": true}\n'
expect_only . config.json

# --- Section 6.4: usage examples --------------------------------------------

case_ '6.4: echo "data" | mutx config.json'
sh_ "echo \"data\" | $M config.json"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content config.json $'data\n'
expect_only . config.json

case_ "6.4: mutx --input source.txt output.txt"
printf 'from source\0binary\n' >source.txt
sh_ "$M --input source.txt output.txt"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_same_file output.txt source.txt
expect_only . config.json output.txt source.txt
rm output.txt source.txt

case_ "6.4: transform_data.py < input.csv | mutx --stream output.csv"
printf 'a,b,c\n1,2,3\n' >input.csv
sh_ "transform_data.py < input.csv | $M --stream output.csv"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content output.csv $'a;b;c\n1;2;3\n'
rm input.csv output.csv

case_ "6.4: generate_config.sh | mutx --wait --timeout 30 config.json"
sh_ "generate_config.sh | $M --wait --timeout 30 config.json"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content config.json $'generated = true\n'
expect_only . config.json

case_ "6.4: mutx --no-wait config.json < data.txt"
printf 'from data.txt\n' >data.txt
sh_ "$M --no-wait config.json < data.txt"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content config.json $'from data.txt\n'
expect_only . config.json data.txt

case_ "6.4: mutx --backup config.json <<EOF"
sh_ "$M --backup config.json <<EOF
new configuration
EOF"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content config.json $'new configuration\n'
expect_content config.json.backup $'from data.txt\n'
expect_only . config.json config.json.backup data.txt
rm config.json.backup

case_ "6.4: mutx --mode 0600 secrets.json < credentials.txt"
printf 'user:secret\n' >credentials.txt
chmod 644 credentials.txt
sh_ "$M --mode 0600 secrets.json < credentials.txt"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content secrets.json $'user:secret\n'
expect_mode secrets.json 600
# An existing file gets the mode too.
sh_ "$M --mode 0640 secrets.json < credentials.txt"
expect_mode secrets.json 640
rm secrets.json credentials.txt

case_ "6.4: mutx --backup --backup-dir /backups config.json < new_config.txt"
# /backups is $T/w/backups here: the example's shape, not the root's.
mkdir backups
printf 'new config\n' >new_config.txt
before=$(cat config.json)
sh_ "$M --backup --backup-dir backups config.json < new_config.txt"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content config.json $'new config\n'
expect_content backups/config.json.backup "$before"$'\n'
expect_only backups config.json.backup
expect_only . backups config.json data.txt new_config.txt
rm -r backups

case_ "6.4: mutx --backup-timestamp config.json < new_config.txt"
printf 'before timestamp\n' >config.json
start=$(date -u +%Y%m%d-%H%M%S)
sh_ "$M --backup-timestamp config.json < new_config.txt"
end=$(date -u +%Y%m%d-%H%M%S)
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content config.json $'new config\n'
# FR-8: {target}.{YYYYMMDD-HHMMSS}.backup, in UTC (see the man page).
stamped=$(ls | grep -E '^config\.json\.[0-9]{8}-[0-9]{6}\.backup$')
expect_eq "$(wc -l <<<"$stamped")" 1 "timestamped backups"
stamp=${stamped#config.json.}
stamp=${stamp%.backup}
[[ ! $stamp < $start && ! $stamp > $end ]] && pass || fail "stamp $stamp is not between $start and $end"
expect_content "$stamped" $'before timestamp\n'
# A second generation never replaces the first (FR-8: multiple generations).
printf 'second\n' | "$MUTX" --backup-timestamp config.json
expect_eq "$(ls | grep -cE '^config\.json\.[0-9]{8}-[0-9]{6}(_[0-9]{3})?\.backup$')" 2 "timestamped backups after a second write"
expect_content "$stamped" $'before timestamp\n'
rm config.json.*.backup new_config.txt

case_ "6.4: mutx --json config.json < data.txt 2> result.json"
sh_ "$M --json config.json < data.txt 2> result.json"
expect_rc 0
expect_eq "$OUT" "" "stdout"
expect_eq "$ERR" "" "stderr (all of it went to result.json)"
# One JSON object a line; TR-7's lock event with plain numbers.
expect_eq "$(jq -s length result.json 2>/dev/null)" "$(wc -l <result.json)" "JSON objects, one a line"
expect_eq "$(jq -c 'select(.message == "Lock acquired") | [.level, .lock_file, (.wait_time_ms | type)]' result.json)" \
  '["info","config.json.lock","number"]' "the lock event (TR-7)"
expect_match "$(grep '"Lock acquired"' result.json)" '"wait_time_ms":[0-9]+(\.[0-9]+)?[,}]' "wait_time_ms as a plain number"
expect_eq "$(jq -c 'select(.event == "committed") | [.level, .bytes]' result.json)" '["info",14]' "the committed event"
expect_content config.json $'from data.txt\n'
expect_only . config.json data.txt result.json
rm result.json

# --- Section 7: error scenarios, as the transcripts show them ---------------

case_ '7.1: echo "data" | mutx config.json, while another process holds the lock'
printf 'old\n' >config.json
hold_lock config.json.lock 30
bash -c "echo \"data\" | $M config.json" 2>"$T/err71" &
writer=$!
for _ in $(seq 200); do [[ -s $T/err71 ]] && break; sleep 0.05; done
expect_eq "$(cat "$T/err71")" "Waiting for lock on config.json..." "stderr while it waits"
expect_content config.json $'old\n'
release_lock
wait $writer
RC=$?
expect_rc 0
expect_eq "$(cat "$T/err71")" $'Waiting for lock on config.json...\nLock acquired' "stderr"
expect_content config.json $'data\n'
# The lock file flock(1) made was the one mutx locked, and it deletes the
# lock file it held (FR-6).
expect_only . config.json data.txt

case_ 'TR-7 after a wait: echo "data" | mutx --json config.json, while another process holds the lock'
# TR-7's own example waited 1523 ms: the lock event is "info" after a wait
# too (it was "notice"), with the lock file and the time waited.
hold_lock config.json.lock 30
bash -c "echo \"json\" | $M --json config.json" 2>"$T/err71j" &
writer=$!
for _ in $(seq 200); do grep -q lock_wait "$T/err71j" 2>/dev/null && break; sleep 0.05; done
sleep 0.2
release_lock
wait $writer
RC=$?
expect_rc 0
expect_eq "$(jq -c 'select(.event == "lock_wait") | [.level, .message]' "$T/err71j")" '["notice","Waiting for lock on config.json..."]' "the wait event"
expect_eq "$(jq -c 'select(.event == "lock_acquired") | [.level, .message, .lock_file, (.wait_time_ms | type), (.wait_time_ms >= 200)]' "$T/err71j")" \
  '["info","Lock acquired","config.json.lock","number",true]' "the lock event after the wait"
expect_content config.json $'json\n'
expect_only . config.json data.txt
printf 'data\n' >config.json

case_ '7.1: echo "data" | mutx --no-wait config.json'
hold_lock config.json.lock 30
sh_ "echo \"data\" | $M --no-wait config.json"
expect_rc 2
# The PRD's line, then mutx's hint (docs/design.md, section 2: Hint: where one helps).
expect_eq "$ERR" $'Error: config.json: File locked by another process\nHint: The lock file is config.json.lock; see who holds it with: fuser -v config.json.lock' "stderr"
expect_content config.json $'data\n'

case_ '7.1: echo "data" | mutx --wait --timeout 5 config.json'
started=$SECONDS
sh_ "echo \"data\" | $M --wait --timeout 5 config.json"
took=$((SECONDS - started))
expect_rc 2
expect_eq "$ERR" $'Waiting for lock on config.json (5s timeout)...\nError: config.json: Lock acquisition timeout after 5s\nHint: The lock file is config.json.lock; see who holds it with: fuser -v config.json.lock' "stderr"
((took >= 4 && took <= 15)) && pass || fail "the wait took ${took}s, not about 5"
expect_content config.json $'data\n'
release_lock
expect_only . config.json config.json.lock data.txt
rm config.json.lock

if [[ ${AS_USER[0]-} == none ]]; then
  echo "note: root without nobody/setpriv, or $MUTX not reachable as nobody: 7.2 not run" >&2
else
  case_ "7.2: mutx /etc/system/config.json < data.txt, the lock file cannot be created"
  # A directory the user may not write, holding a file the user may.
  mkdir -p etc/system
  printf 'system\n' >etc/system/config.json
  [[ ${#AS_USER[@]} -gt 0 ]] && chown nobody etc/system/config.json || chmod 555 etc/system
  chmod 644 data.txt
  dir=$PWD/etc/system
  "${AS_USER[@]}" "$MUTX" "$dir/config.json" <data.txt >/dev/null 2>"$T/err72"
  RC=$? ERR=$(cat "$T/err72")
  expect_rc 1
  # The PRD's hint (sudo, or the directory's permissions), naming the
  # directory and why it must be writable: the new content is made beside
  # the file and renamed over it, so no other lock file would help.
  expect_eq "$ERR" "Error: $dir/config.json.lock: Permission denied"$'\n'"Hint: You may not create files in $dir, and replacing a file there needs that: its new content (and its lock file) is created beside it and renamed over it. Run with sudo, or check the directory's permissions (ls -ld $dir)." "stderr"
  expect_content etc/system/config.json $'system\n'
  expect_only etc/system config.json
  chmod 755 etc/system
  rm -r etc

  case_ "7.2: mutx readonly.txt < data.txt, the file is not writable"
  mkdir ro-dir
  printf 'read only\n' >ro-dir/readonly.txt
  chmod 444 ro-dir/readonly.txt
  [[ ${#AS_USER[@]} -gt 0 ]] && chown -R nobody ro-dir
  (cd ro-dir && "${AS_USER[@]}" "$MUTX" readonly.txt <../data.txt >/dev/null 2>"$T/err72b")
  RC=$? ERR=$(cat "$T/err72b")
  expect_rc 1
  # Even though the directory is writable (docs/design.md, section 2, Safety).
  expect_eq "${ERR%%$'\n'*}" "Error: readonly.txt: Permission denied" "first line of stderr"
  expect_match "$ERR" $'\nHint: [^\n]+$' "a hint follows"
  expect_content ro-dir/readonly.txt $'read only\n'
  expect_only ro-dir readonly.txt
  rm -rf ro-dir
fi

if [[ $(id -u) -eq 0 ]] && mkdir -p "$T/mnt/full" "$T/mnt/ro" &&
  mount -t tmpfs -o size=64k,mode=0755 mutx-prd-full "$T/mnt/full" 2>/dev/null; then
  on_exit "umount -l '$T/mnt/full'"
  case_ '7.3: echo "data" | mutx /mnt/full/file.txt'
  head -c 60k /dev/zero >"$T/mnt/full/filler" 2>/dev/null
  head -c 64k /dev/zero >>"$T/mnt/full/filler" 2>/dev/null
  sh_ "echo \"data\" | $M $(printf '%q' "$T/mnt/full/file.txt")"
  expect_rc 1
  # The PRD's line. Its hint, "Temp file written but cannot be renamed",
  # does not apply: the data is written to the staged file before the
  # rename, so no space fails the write, and the staged file goes with the
  # failure (docs/design.md, section 3); nothing is left to rename. mutx's
  # hint says what does apply.
  expect_eq "$ERR" "Error: $T/mnt/full/file.txt: No space left on device"$'\n'"Hint: Free some space on that filesystem; the target was left as it was." "stderr"
  expect_missing "$T/mnt/full/file.txt"
  expect_only "$T/mnt/full" filler

  if mount -t tmpfs -o ro,mode=0755 mutx-prd-ro "$T/mnt/ro" 2>/dev/null; then
    on_exit "umount -l '$T/mnt/ro'"
    case_ "7.3: mutx /mnt/ro/file.txt < data.txt"
    # The PRD's transcript fails on a named temp file. mutx takes the lock
    # first (docs/design.md, sections 3 and 4), so the read-only filesystem stops it
    # at the lock file, before any temp (which has no name anyway:
    # O_TMPFILE); this is TR-5's third example, "Cannot create lock file
    # (read-only filesystem)", in the form of 7.2's lock file error.
    sh_ "$M $(printf '%q' "$T/mnt/ro/file.txt") < data.txt"
    expect_rc 1
    expect_eq "$ERR" "Error: $T/mnt/ro/file.txt.lock: Read-only file system"$'\n'"Hint: The filesystem is mounted read-only." "stderr"
    expect_only "$T/mnt/ro"
  fi
else
  echo "note: not root, or no tmpfs mount: 7.3 not run" >&2
fi

case_ "7.4: mutx --input missing.txt output.txt"
sh_ "$M --input missing.txt output.txt"
expect_rc 1
# The PRD's words, and a hint naming the operation (TR-5's context).
expect_eq "$ERR" "Error: missing.txt: No such file or directory"$'\n'"Hint: --input FILE names the file whose content replaces OUTPUT." "stderr"
expect_missing output.txt
expect_only . config.json data.txt

case_ "7.4: mutx output.txt < /dev/null"
sh_ "$M output.txt < /dev/null"
expect_rc 1
expect_eq "$ERR" $'Error: No input provided\nHint: The target was left as it was; pass --allow-empty to write an empty file.' "stderr"
expect_only . config.json data.txt
# An existing file is left as it was.
sh_ "$M config.json < /dev/null"
expect_rc 1
expect_content config.json $'data\n'

case_ "7.5: large_stream | mutx output.txt, then Ctrl+C"
# Ctrl+C is SIGINT to the foreground job: timeout(1) sends it after 1 s,
# while mutx is still reading. The PRD's "Cleaning up temporary files..."
# is not printed: the staged file has no name (O_TMPFILE) and goes with
# the process; docs/design.md, section 5 says "exits 3 with Interrupted".
mkfifo large_stream
(head -c 1M /dev/zero; exec sleep 30) >large_stream &
producer=$!
on_exit "kill $producer"
timeout -s INT --preserve-status 1 "$MUTX" output.txt <large_stream 2>"$T/err75"
RC=$? ERR=$(cat "$T/err75")
kill $producer 2>/dev/null
expect_rc 3
expect_eq "$ERR" "Interrupted" "stderr"
# No output, temp or lock file left (FR-6: the lock file goes on error too).
expect_only . config.json data.txt large_stream
rm large_stream

# --- Section 5: exit codes, messages, verbosity, JSON -----------------------

case_ "TR-6: -v, -vv and --quiet"
sh_ "echo v | $M -v config.json"
expect_rc 0
expect_eq "$ERR" $'Lock acquired\nWrote 2 bytes to config.json' "stderr with -v"
sh_ "echo v | $M -v --backup config.json"
expect_eq "$ERR" $'Lock acquired\nBackup created: config.json.backup\nWrote 2 bytes to config.json' "stderr with -v --backup"
rm config.json.backup
# -vv adds debug lines: the I/O path and where the file is staged.
sh_ "echo v | $M -vv config.json"
expect_match "$ERR" $'^I/O backend: [^\n]+\nLock acquired\nStaged with [^\n]+ in \\.\n' "stderr with -vv"
sh_ "echo v | $M --quiet config.json"
expect_eq "$ERR" "" "stderr with --quiet"
sh_ "$M --quiet config.json < /dev/null"
expect_rc 1
expect_eq "$ERR" "Error: No input provided" "an error with --quiet (no hint)"
expect_only . config.json data.txt

case_ "TR-4: exit codes 0, 1, 2 (3 is 7.5's)"
sh_ "echo ok | $M config.json"
expect_rc 0
sh_ "$M --mode 999 config.json < data.txt"
expect_rc 1
expect_eq "$ERR" $'Error: invalid mode \'999\' for --mode\nHint: Give an octal mode such as 0644 or 600.' "stderr for a bad argument"
hold_lock config.json.lock 30
sh_ "$M --wait --timeout 0.2 config.json < data.txt"
expect_rc 2
release_lock
expect_content config.json $'ok\n'
rm config.json.lock

# --- Sections 4 and 6.2: the options the PRD lists --------------------------

case_ "6.2: every write option of the PRD is accepted"
# -t "requires --wait" in the PRD; in mutx -t alone is the same (docs/design.md,
# section 2), so both forms are run.
printf 'old\n' >f
printf 'x\n' >in.txt
for opts in "-i in.txt" "--input in.txt" "--stream" "--wait" "--no-wait" "-t 5" "--wait -t 5" "--timeout 5" \
  "--lock-file f.custom-lock" "-b" "--backup" "--backup-suffix .bak" "--backup-dir ." "--backup-timestamp" \
  "-m 0644" "--mode 0644" "--preserve-mode" "--no-preserve-mode" "--preserve-owner" "--try-preserve-owner" \
  "-v" "-vv" "-q" "--quiet" "--json"; do
  # shellcheck disable=SC2086
  printf 'x\n' | "$MUTX" $opts f >/dev/null 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  CASE="6.2: $opts"
  expect_rc 0
  expect_content f $'x\n'
  rm -f f.backup f.bak f.*.backup
  printf 'old\n' >f
done
CASE="6.2: -h, --help, -V, --version"
for opts in -h --help -V --version; do
  run $opts
  expect_rc 0
done
expect_only . config.json data.txt f in.txt
rm f in.txt

case_ "FR-7: --backup-suffix .bak, one generation, none for a new file"
sh_ "printf 'one\n' | $M --backup --backup-suffix .bak new.txt"
expect_rc 0
expect_only . config.json data.txt new.txt
sh_ "printf 'two\n' | $M --backup --backup-suffix .bak new.txt"
expect_content new.txt.bak $'one\n'
sh_ "printf 'three\n' | $M --backup --backup-suffix .old new.txt"
sh_ "printf 'four\n' | $M --backup --backup-suffix .bak new.txt"
# Single generation: the .bak was replaced, not kept beside a new one.
expect_content new.txt.bak $'three\n'
expect_content new.txt.old $'two\n'
expect_content new.txt $'four\n'
expect_only . config.json data.txt new.txt new.txt.bak new.txt.old
rm new.txt*

case_ "FR-6: a killed writer leaves its lock file; the next writer is not stopped by it"
# --stream takes the lock before reading, so the writer holds it while it
# waits for input; SIGKILL leaves the lock file (the PRD's documented
# limitation), empty and unheld.
mkfifo slow
(exec sleep 30) >slow &
producer=$!
on_exit "kill $producer"
"$MUTX" --stream killed.txt <slow 2>/dev/null &
writer=$!
for _ in $(seq 200); do [[ -e killed.txt.lock ]] && break; sleep 0.05; done
kill -9 $writer
wait $writer 2>/dev/null
kill $producer 2>/dev/null
expect_only . config.json data.txt killed.txt.lock slow
expect_eq "$(stat -c %s killed.txt.lock)" 0 "size of the left lock file"
sh_ "echo after | $M --no-wait killed.txt"
expect_rc 0
expect_content killed.txt $'after\n'
expect_only . config.json data.txt killed.txt slow
rm slow killed.txt

# --- Housekeeping: story 4, FR-11 to FR-13, 6.3 and 6.4 ----------------------
# As `mutx housekeep --help` and the man page say: a lock file goes only as
# NAME.lock beside NAME, empty, unheld and untouched for an hour (or
# --older-than); other tools' lock files and held ones never. Unlike the
# PRD's FR-11, which deletes any lock file nobody holds, a fresh one stays
# by default: a writer may be about to lock it. Ages go by the last change
# (ctime), which a test cannot set back, so the examples that name an age
# show what stays, and --older-than 0 what goes.

# One line per path on stdout (FR-11: "Report deleted lock files to
# stdout"), in no promised order; with --dry-run the line may say more than
# the path (the path is its last word).
paths() { awk '{ print $NF }' <<<"$1" | sort; }

case_ "story 4: mutx housekeep --clean-locks /var/lib/myapp"
mkdir -p var/lib/myapp && cd var/lib/myapp || exit 1
printf 'a\n' >app.json
: >app.json.lock          # left by a killed writer
printf 'h\n' >held.json
: >held.json.lock         # a live writer's
printf 'deps\n' >Cargo.lock  # another tool's
hold_lock held.json.lock 30
cd "$T/w" || exit 1
sh_ "$M housekeep --clean-locks var/lib/myapp"
expect_rc 0
expect_eq "$OUT" "" "stdout: the orphan is younger than an hour"
expect_eq "$ERR" "" "stderr"
expect_only var/lib/myapp Cargo.lock app.json app.json.lock held.json held.json.lock
# -v says what it keeps and why (6.3: "Show detailed information").
sh_ "$M housekeep --clean-locks -v var/lib/myapp"
expect_rc 0
expect_eq "$(grep -c '^Skipped var/lib/myapp/app.json.lock: ' <<<"$ERR")" 1 "-v line for the young orphan"
expect_eq "$(grep -c '^Skipped var/lib/myapp/Cargo.lock: ' <<<"$ERR")" 1 "-v line for Cargo.lock"
expect_only var/lib/myapp Cargo.lock app.json app.json.lock held.json held.json.lock
# FR-11's --dry-run: what would go, and nothing goes.
sh_ "$M housekeep --clean-locks --older-than 0 --dry-run var/lib/myapp"
expect_rc 0
expect_eq "$(paths "$OUT")" var/lib/myapp/app.json.lock "--dry-run lists"
expect_only var/lib/myapp Cargo.lock app.json app.json.lock held.json held.json.lock
sh_ "$M housekeep --clean-locks --older-than 0 var/lib/myapp"
expect_rc 0
expect_eq "$OUT" var/lib/myapp/app.json.lock "stdout"
expect_eq "$ERR" "" "stderr"
# The held lock, its file and the other tool's lock file stay.
expect_only var/lib/myapp Cargo.lock app.json held.json held.json.lock
release_lock

case_ "6.4: mutx housekeep --clean-locks --older-than 1h /var/lib/app"
mkdir -p var/lib/app
printf 'x\n' >var/lib/app/state.json
: >var/lib/app/state.json.lock
sh_ "$M housekeep --clean-locks --older-than 1h var/lib/app"
expect_rc 0
expect_eq "$OUT" "" "stdout: a lock file made now is not an hour old"
expect_only var/lib/app state.json state.json.lock
sh_ "$M housekeep --clean-locks --older-than 0 var/lib/app"
expect_eq "$OUT" var/lib/app/state.json.lock "stdout with --older-than 0"
expect_only var/lib/app state.json

case_ "6.4: mutx housekeep --clean-backups --keep-newest 3 --recursive /data"
mkdir -p data/a data/b/c
for i in 1 2 3 4 5 6; do printf 'v%s\n' "$i" | "$MUTX" --backup-timestamp data/a/report.csv; done
for i in 1 2 3; do printf 'v%s\n' "$i" | "$MUTX" --backup data/b/c/x.json; done
# Five generations of report.csv (the oldest first, by when they were
# made); x.json has its one backup.
mapfile -t gens < <(cd data/a && ls -1 --time=ctime -tr | grep -v '^report\.csv$')
expect_eq "${#gens[@]}" 5 "backups of report.csv"
sh_ "$M housekeep --clean-backups --keep-newest 3 --recursive data"
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_eq "$(paths "$OUT")" "$(printf 'data/a/%s\n' "${gens[0]}" "${gens[1]}" | sort)" "stdout: the two oldest"
expect_only data/a report.csv "${gens[2]}" "${gens[3]}" "${gens[4]}"
expect_content "data/a/${gens[4]}" $'v5\n'
expect_only data/b/c x.json x.json.backup
expect_content data/b/c/x.json.backup $'v2\n'

case_ "6.4: mutx housekeep --all --dry-run --recursive /var/lib/app"
# A fresh orphaned lock, a backup generation beyond the newest, a held lock.
printf 'v1\n' | "$MUTX" --backup-timestamp var/lib/app/state.json
printf 'v2\n' | "$MUTX" --backup-timestamp var/lib/app/state.json
: >var/lib/app/state.json.lock
mapfile -t gens < <(cd var/lib/app && ls -1 --time=ctime -tr | grep '\.backup$')
expect_eq "${#gens[@]}" 2 "backups of state.json"
before=$(cd var/lib/app && ls -A | sort)
sh_ "$M housekeep --all --dry-run --recursive var/lib/app"
expect_rc 0
expect_eq "$ERR" "" "stderr"
# Without --keep-newest the newest backup of each file stays (FR-12's
# default here: docs/design.md, section 2); the young lock file stays.
expect_eq "$(paths "$OUT")" "var/lib/app/${gens[0]}" "what would be deleted"
expect_eq "$(cd var/lib/app && ls -A | sort)" "$before" "var/lib/app after --dry-run"

case_ "FR-13: mutx housekeep --all [DIR], DIR defaulting to the current directory (6.3)"
sh_ "cd var/lib/app && $M housekeep --all"
expect_rc 0
expect_eq "$OUT" "./${gens[0]}" "stdout"
expect_only var/lib/app state.json state.json.lock "${gens[1]}"

case_ "6.3: mutx housekeep --json"
printf 'v3\n' | "$MUTX" --backup-timestamp var/lib/app/state.json
sh_ "$M housekeep --clean-backups --json var/lib/app"
expect_rc 0
# One object a line: what went, then the summary.
expect_eq "$(jq -c 'select(.summary | not)' <<<"$OUT")" \
  "{\"action\":\"delete\",\"kind\":\"backup\",\"path\":\"var/lib/app/${gens[1]}\",\"bytes\":3}" "the deletion"
expect_eq "$(tail -1 <<<"$OUT" | jq -c '[.summary, .backups, .bytes_freed, .errors, .dry_run]')" "[true,1,3,0,false]" "the summary, last"
expect_eq "$(wc -l <<<"$OUT")" 2 "lines on stdout"
rm -r var data

finish
