# Defaults from $XDG_CONFIG_HOME/mutx/config (else ~/.config/mutx/config):
# `backup = true` there makes a backup, --no-config ignores the file, the
# command line wins (also over an option it excludes, and -v over quiet),
# '#' and ';' start comments, and a bad line (unknown option, a switch not
# true or false, an option set twice) is an error naming the file and the
# line, with the target untouched. Each switch the file can turn on has a
# command-line opposite that turns it off for one run (--no-backup,
# --sync, ...); a switch and its opposite together are refused, on the
# command line and in the file. `verbose = true` (or 2) is -v (or -vv).
. "$(dirname "$0")/lib.sh"

CFG=$T/cfg/mutx/config
mkdir -p "$T/cfg/mutx" "$T/w"
export XDG_CONFIG_HOME=$T/cfg
cd "$T/w" || exit 1

case_ "backup = true makes OUT.backup"
printf '# defaults\n\nbackup = true\n' >"$CFG"
printf 'old\n' >OUT
run_in $'new\n' OUT
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content OUT $'new\n'
expect_content OUT.backup $'old\n'
expect_only . OUT OUT.backup

case_ "--no-config ignores it"
rm -f OUT.backup
printf 'old\n' >OUT
run_in $'new\n' --no-config OUT
expect_rc 0
expect_content OUT $'new\n'
expect_only . OUT

case_ "~/.config/mutx/config when XDG_CONFIG_HOME is unset"
mkdir -p "$T/home/.config/mutx"
printf 'backup = true\n' >"$T/home/.config/mutx/config"
printf 'old\n' >OUT
OUT_=$(printf 'new\n' | env -u XDG_CONFIG_HOME HOME="$T/home" "$MUTX" OUT 2>&1)
RC=$? ERR=$OUT_
expect_rc 0
expect_content OUT.backup $'old\n'
rm -f OUT.backup

case_ "the command line wins"
printf 'mode = 600\n' >"$CFG"
rm -f OUT
run_in x OUT
expect_rc 0
expect_mode OUT 600
run_in y -m 640 OUT
expect_rc 0
expect_mode OUT 640

case_ "the command line wins over an option it excludes"
# timeout = 60 in the file, --no-wait on the command line: fail at once with
# exit 2, not "exclude each other" and not a 60 s wait.
need_cmd flock
printf 'timeout = 60\n' >"$CFG"
run_in z --no-wait OUT
expect_rc 0
expect_content OUT z
# The holder is one process (sleep with the locked fd), so killing it frees
# the lock and no child keeps CTest's output pipe open.
(exec 9>>OUT.lock && flock 9 && exec sleep 120) >/dev/null 2>&1 &
holder=$!
on_exit "kill $holder"
for _ in $(seq 100); do flock -n OUT.lock true 2>/dev/null || break; sleep 0.05; done
OUT_=$(printf 'late' | timeout 30 "$MUTX" --no-wait OUT 2>&1)
RC=$? ERR=$OUT_
expect_rc 2
expect_match "$ERR" 'OUT: File locked by another process' "stderr"
expect_content OUT z
kill $holder 2>/dev/null
wait $holder 2>/dev/null
rm -f OUT.lock
printf 'no-wait = true\n' >"$CFG"
run_in w --timeout 5 OUT
expect_rc 0
expect_content OUT w

case_ "-v on the command line wins over quiet = true"
printf 'quiet = true\n' >"$CFG"
run_in v -v OUT
expect_rc 0
expect_match "$ERR" 'Wrote 1 bytes to OUT' "stderr"
run_in q OUT
expect_rc 0
expect_eq "$ERR" "" "stderr without -v"

case_ "--progress on the command line wins over no-progress = true"
printf 'no-progress = true\n' >"$CFG"
head -c 5000000 /dev/zero >five
"$MUTX" --stream --progress OUT <five 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_match "$ERR" '[0-9.]+ (B|KiB|MiB|GiB)  [0-9.]+ (B|KiB|MiB|GiB)/s  [0-9]+s' "stderr"
expect_same_file OUT five
rm -f five

case_ "; and # comments"
printf '; ini style\n  # indented\nmode = 640\n' >"$CFG"
rm -f OUT
run_in c OUT
expect_rc 0
expect_mode OUT 640
expect_content OUT c

case_ "a bad line: exit 1, file and line named, target untouched"
printf '# defaults\nbackup = true\nbogus = 1\n' >"$CFG"
printf 'old\n' >OUT
rm -f OUT.backup
run_in $'new\n' OUT
expect_rc 1
expect_match "$ERR" "^Error: $CFG:3: unknown option 'bogus'" "stderr"
expect_content OUT $'old\n'
expect_only . OUT

case_ "a switch with a non-boolean value"
printf 'backup = maybe\n' >"$CFG"
run_in $'new\n' OUT
expect_rc 1
expect_match "$ERR" "^Error: $CFG:1: 'backup' takes true or false" "stderr"
expect_content OUT $'old\n'

case_ "switches take true or false only (as the man page says)"
for bad in yes no 1 0 on True; do
  printf 'backup = %s\n' "$bad" >"$CFG"
  run_in $'new\n' OUT
  expect_rc 1
  expect_match "$ERR" "^Error: $CFG:1: 'backup' takes true or false, not '$bad'" "stderr for '$bad'"
done
expect_content OUT $'old\n'

case_ "an option set twice: both lines named"
printf 'timeout = 1\n# x\ntimeout = 2\n' >"$CFG"
run_in $'new\n' OUT
expect_rc 1
expect_match "$ERR" "^Error: $CFG:3: 'timeout' is set again \\(first on line 1\\)" "stderr"
expect_content OUT $'old\n'

case_ "options that make no sense as defaults are refused"
for bad in 'help = true' 'version = true' 'no-config = true' 'input = /etc/passwd'; do
  printf '%s\n' "$bad" >"$CFG"
  run_in $'new\n' OUT
  expect_rc 1
  key=${bad%% *}
  expect_match "$ERR" "^Error: $CFG:1: '$key' cannot be set in the configuration file: (it is not a setting|it says what one run writes)"$'\n'"Hint: " "stderr for '$bad'"
done
expect_content OUT $'old\n'

case_ "log = FILE, --no-log"
printf 'log = %s\n' "$T/audit.log" >"$CFG"
run_in $'new\n' --no-log OUT
expect_rc 0
expect_content OUT $'new\n'
[[ -e $T/audit.log ]] && fail "--no-log wrote the log" || pass
run_in $'newer\n' OUT
expect_rc 0
expect_eq "$(wc -l <"$T/audit.log")" 1 "lines without --no-log"
printf 'log = %s\nno-log = true\n' "$T/audit.log" >"$CFG"
run_in $'x\n' OUT
expect_rc 1
expect_eq "$ERR" "Error: $CFG:2: 'log' and 'no-log' exclude each other (the other is on line 1)" "both in the file"
printf 'old\n' >OUT

case_ "a mistyped key names the nearest option"
printf 'bakup = true\n' >"$CFG"
run_in $'new\n' OUT
expect_rc 1
expect_eq "$ERR" "Error: $CFG:1: unknown option 'bakup'"$'\n'"Hint: did you mean 'backup'?" "stderr"
expect_content OUT $'old\n'

# Each switch the file turns on, and its opposite on the command line: the
# file's line works (so the opposite has something to undo), the opposite
# undoes it for this run.
umask 022
fresh() { rm -rf "$T/w"/* "$T/w"/.[!.]* 2>/dev/null; printf 'old\n' >OUT; }

case_ "backup = true, --no-backup"
fresh
printf 'backup = true\n' >"$CFG"
run_in $'new\n' --no-backup OUT
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content OUT $'new\n'
expect_only . OUT
run_in $'newer\n' OUT
expect_only . OUT OUT.backup

case_ "backup-timestamp = true, --no-backup and --no-backup-timestamp"
fresh
printf 'backup-timestamp = true\n' >"$CFG"
run_in $'new\n' --no-backup OUT
expect_rc 0
expect_only . OUT
printf 'backup = true\nbackup-timestamp = true\n' >"$CFG"
run_in $'newer\n' --no-backup-timestamp OUT
expect_rc 0
expect_only . OUT OUT.backup
expect_content OUT.backup $'new\n'
run_in $'newest\n' OUT
expect_rc 0
expect_eq "$(ls | grep -cE '^OUT\.[0-9]{8}-[0-9]{6}\.backup$')" 1 "timestamped backups without the opposite"

case_ "append = true, --no-append"
fresh
printf 'append = true\n' >"$CFG"
run_in $'new\n' --no-append OUT
expect_rc 0
expect_content OUT $'new\n'
run_in $'more\n' OUT
expect_content OUT $'new\nmore\n'

case_ "allow-empty = true, --no-allow-empty"
fresh
printf 'allow-empty = true\n' >"$CFG"
run_in '' --no-allow-empty OUT
expect_rc 1
expect_match "$ERR" '^Error: No input provided' "stderr"
expect_content OUT $'old\n'
run_in '' OUT
expect_rc 0
expect_content OUT ''

case_ "parents = true, --no-parents"
fresh
printf 'parents = true\n' >"$CFG"
run_in x --no-parents sub/dir/OUT
expect_rc 1
expect_match "$ERR" '^Error: cannot open directory sub/dir: No such file or directory' "stderr"
expect_missing sub
run_in x sub/dir/OUT
expect_rc 0
expect_content sub/dir/OUT x

case_ "keep-lock-file = true, --no-keep-lock-file"
fresh
printf 'keep-lock-file = true\n' >"$CFG"
run_in x --no-keep-lock-file OUT
expect_rc 0
expect_only . OUT
run_in y OUT
expect_only . OUT OUT.lock

case_ "json = true, --no-json"
fresh
printf 'json = true\n' >"$CFG"
run_in x --no-json OUT
expect_rc 0
expect_eq "$ERR" "" "stderr"
run_in y OUT
expect_match "$ERR" '^\{"level":"info","event":"lock_acquired"' "stderr with json = true"

case_ "quiet = true, --no-quiet"
fresh
printf 'quiet = true\n' >"$CFG"
run_in '' OUT
expect_eq "$ERR" "Error: No input provided" "stderr with quiet = true (no hint)"
run_in '' --no-quiet OUT
expect_rc 1
expect_eq "$ERR" $'Error: No input provided\nHint: The target was left as it was; pass --allow-empty to write an empty file.' "stderr"

case_ "verbose = true is -v, verbose = 2 is -vv; --no-verbose and -q undo it"
fresh
printf 'verbose = true\n' >"$CFG"
run_in x OUT
expect_rc 0
expect_eq "$ERR" $'Lock acquired\nWrote 1 bytes to OUT' "stderr with verbose = true"
run_in x --no-verbose OUT
expect_eq "$ERR" "" "stderr with --no-verbose"
run_in '' -q OUT
expect_eq "$ERR" "Error: No input provided" "stderr with -q"
printf 'verbose = 2\n' >"$CFG"
run_in x OUT
expect_match "$ERR" $'\nStaged with [^\n]+\n' "stderr with verbose = 2 (a debug line)"
run_in x -v OUT
expect_eq "$ERR" $'Lock acquired\nWrote 1 bytes to OUT' "stderr with verbose = 2 and -v"
printf 'verbose = false\n' >"$CFG"
run_in x OUT
expect_eq "$ERR" "" "stderr with verbose = false"
printf 'verbose = yes\n' >"$CFG"
run_in x OUT
expect_rc 1
expect_match "$ERR" "^Error: $CFG:1: 'verbose' takes true, false, 1 or 2, not 'yes'" "stderr"

case_ "no-preserve-mode = true, --preserve-mode; mode = 600, --preserve-mode"
fresh
chmod 640 OUT
printf 'no-preserve-mode = true\n' >"$CFG"
run_in x --preserve-mode OUT
expect_rc 0
expect_mode OUT 640
run_in y OUT
expect_mode OUT 644
chmod 640 OUT
printf 'mode = 600\n' >"$CFG"
run_in z --preserve-mode OUT
expect_rc 0
expect_mode OUT 640

case_ "no-sync = true, --sync"
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null; then
  fresh
  printf 'no-sync = true\n' >"$CFG"
  syncs() { printf x | strace -f -e trace=fsync,fdatasync -o "$T/strace" "$MUTX" --io=syscalls "$@" OUT; grep -c 'sync(' "$T/strace"; }
  expect_eq "$(syncs)" 0 "fsync calls with no-sync = true"
  expect_eq "$(syncs --sync)" 2 "fsync calls with --sync (the file and its directory)"
else
  echo "note: strace cannot run here; --sync not checked" >&2
fi

case_ "stream = true, --no-stream"
# Stream mode takes the lock before it reads: against a held lock with
# --no-wait it fails at once, while the producer still runs; simple mode
# reads all input first, so it fails only after the producer ends (2 s).
need_cmd flock
fresh
printf 'stream = true\n' >"$CFG"
exec 8>OUT.lock
flock 8
took() {  # seconds mutx took against a 2 s producer
  local start=$SECONDS
  { printf x; sleep 2; } | { "$MUTX" --no-wait "$@" OUT 2>/dev/null; echo "$? $((SECONDS - start))" >"$T/took"; }
  cat "$T/took"
}
expect_match "$(took)" '^2 [01]$' "exit code and seconds with stream = true"
expect_match "$(took --no-stream)" '^2 [2-9]$' "exit code and seconds with --no-stream"
exec 8>&-
expect_content OUT $'old\n'

case_ "no-wait = true, --wait"
fresh
printf 'no-wait = true\n' >"$CFG"
(exec 9>>OUT.lock && flock 9 && exec sleep 1) >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do flock -n OUT.lock true 2>/dev/null || break; sleep 0.05; done
run_in w --wait OUT
expect_rc 0
expect_eq "$ERR" $'Waiting for lock on OUT...\nLock acquired' "stderr"
expect_content OUT w
wait $holder

case_ "progress = true, --no-progress"
fresh
printf 'progress = true\n' >"$CFG"
run_in x --stream --no-progress OUT
expect_rc 0
expect_eq "$ERR" "" "stderr"
run_in x --stream OUT
# The summary, after the line drawn for the byte when it arrived (erased).
expect_match "${ERR##*$'\e[K'}" '^1 B in [0-9.]+s \(' "stderr with progress = true (the summary)"

if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1; then
  case_ "preserve-owner = true and try-preserve-owner = true, --no-preserve-owner"
  for key in preserve-owner try-preserve-owner; do
    fresh
    chown nobody OUT
    printf '%s = true\n' "$key" >"$CFG"
    run_in x OUT
    expect_eq "$(stat -c %U OUT)" nobody "owner with $key = true"
    run_in y --no-preserve-owner OUT
    expect_rc 0
    expect_eq "$(stat -c %U OUT)" root "owner with $key = true and --no-preserve-owner"
    expect_match "$ERR" "^Warning: OUT was owned by nobody:" "stderr"
  done
else
  echo "note: not root; --no-preserve-owner not checked" >&2
fi

case_ "a switch and its opposite on the command line are refused"
fresh
printf '# empty\n' >"$CFG"
for pair in "--backup --no-backup" "--no-stream --stream" "--append --no-append" "--sync --no-sync" \
  "--preserve-mode --no-preserve-mode" "--keep-lock-file --no-keep-lock-file" "-v --no-verbose" \
  "-q --no-quiet" "--parents --no-parents" "--allow-empty --no-allow-empty" \
  "--preserve-owner --no-preserve-owner" "--backup-timestamp --no-backup-timestamp"; do
  # shellcheck disable=SC2086
  run_in $'new\n' $pair OUT
  expect_rc 1
  a=${pair% *} b=${pair#* }
  [[ $a == -v ]] && a=--verbose
  [[ $a == -q ]] && a=--quiet
  # The error names them in the order of its table, not of the command line.
  expect_match "$ERR" "^Error: ($a and $b|$b and $a) exclude each other$" "stderr for $pair"
done
# --json asks for its errors as JSON.
run_in $'new\n' --json --no-json OUT
expect_rc 1
expect_eq "$(jq -r .message <<<"$ERR")" "--json and --no-json exclude each other" "stderr for --json --no-json"
run_in $'new\n' --backup-dir . --no-backup OUT
expect_eq "$ERR" "Error: --no-backup and --backup-dir exclude each other" "stderr for --backup-dir --no-backup"
run_in $'new\n' -m 600 --preserve-mode OUT
expect_eq "$ERR" "Error: --mode and --preserve-mode exclude each other" "stderr for -m --preserve-mode"
expect_content OUT $'old\n'
expect_only . OUT

case_ "a switch and its opposite both on in the file are refused"
printf 'backup = true\n# x\nno-backup = true\n' >"$CFG"
run_in $'new\n' OUT
expect_rc 1
expect_eq "$ERR" "Error: $CFG:3: 'backup' and 'no-backup' exclude each other (the other is on line 1)" "stderr"
printf 'verbose = true\nquiet = true\n' >"$CFG"
run_in $'new\n' OUT
expect_eq "$ERR" "Error: $CFG:2: 'quiet' and 'verbose' exclude each other (the other is on line 1)" "stderr"
# One of them off is no contradiction.
printf 'backup = true\nno-backup = false\n' >"$CFG"
run_in $'new\n' OUT
expect_rc 0
expect_only . OUT OUT.backup

case_ "a line without '='"
printf 'backup\n' >"$CFG"
run_in $'new\n' OUT
expect_rc 1
expect_match "$ERR" "^Error: $CFG:1: expected 'name = value'" "stderr"

case_ "--no-config skips a bad file; --help does not read it"
run_in $'new\n' --no-config OUT
expect_rc 0
expect_content OUT $'new\n'
run --help
expect_rc 0

finish
