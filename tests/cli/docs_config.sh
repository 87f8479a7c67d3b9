# Defaults from $XDG_CONFIG_HOME/mutx/config (else ~/.config/mutx/config):
# `backup = true` there makes a backup, --no-config ignores the file, the
# command line wins (also over an option it excludes, and -v over quiet),
# '#' and ';' start comments, and a bad line (unknown option, a switch not
# true or false, an option set twice) is an error naming the file and the
# line, with the target untouched.
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
  expect_match "$ERR" "^Error: $CFG:1: unknown option" "stderr for '$bad'"
done
expect_content OUT $'old\n'

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
