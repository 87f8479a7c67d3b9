#!/usr/bin/env bash
# Hostile command lines. Directed cases (OUTPUT that is a directory, a FIFO,
# a device, /dev/null, a /proc file, a 4,096-byte path, names with newlines
# and non-UTF-8 bytes, a --lock-file that is the target or holds data), then
# argv fuzzing: random soups of the real options (parsed from --help, for
# both `mutx` and `mutx housekeep`) with valid, malformed, huge, negative,
# non-octal and non-UTF-8 values, and hostile config files. Every run must:
#   - end in time (timeout: nothing may hang on a FIFO or a device);
#   - exit 0, 1 or 2, never 3 and never a signal (>= 128);
#   - print `Error: ...` on stderr when it fails (a JSON error line with
#     --json), and no sanitizer report or C++ exception text, ever.
# All paths stay inside the test directory: nothing here may touch the
# system. 300 x MUTX_TEST_SIZE fuzz cases; MUTX_FUZZ_SEED replays a run.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
need_cmd timeout

SIZE=${MUTX_TEST_SIZE:-1}
SEED=${MUTX_FUZZ_SEED:-$(((RANDOM << 15) | RANDOM))}
FUZZ_CASES=$((300 * SIZE))
echo "fuzz seed: $SEED (MUTX_FUZZ_SEED=$SEED replays it)"
RANDOM=$SEED
export XDG_CONFIG_HOME=$T/xdg HOME=$T/home
mkdir -p "$XDG_CONFIG_HOME/mutx" "$HOME"

O=$T/o      # outputs live here
V=$T/vals   # paths used as option values
mkdir -p "$O" "$V/dir"
printf 'keep me\n' >"$V/file"
printf 'input data\n' >"$V/input"
LONG4096=$O/$(printf 'd%.0s' {1..200})
mkdir -p "$LONG4096"
while [[ ${#LONG4096} -lt 4000 ]]; do LONG4096=$LONG4096/$(printf 'e%.0s' {1..200}); mkdir -p "$LONG4096"; done
LONG4096=$LONG4096/$(printf 'f%.0s' $(seq 1 $((4096 - ${#LONG4096} - 1))))
[[ ${#LONG4096} -eq 4096 ]] || echo "NOTE: long path is ${#LONG4096} bytes" >&2

reset_outputs() {
  find "$O" -mindepth 1 -maxdepth 1 ! -name "$(basename "${LONG4096%%/e*}")" -exec rm -rf {} +
  printf 'old\n' >"$O/t"
  mkdir -p "$O/dir"
  mkfifo "$O/fifo"
  mknod "$O/null" c 1 3 2>/dev/null || true
  ln -s t "$O/link"
  ln -s missing "$O/dangling"
}

# check [args...]: run, then apply the rules above. Stdin: $STDIN_FILE.
STDIN_FILE=$V/input
RUNS=0
check() {
  local json=0 verbose=0 a first
  for a in "$@"; do
    [[ $a == --json ]] && json=1
    [[ $a == -v* || $a == --verbose ]] && verbose=1
  done
  RUNS=$((RUNS + 1))
  timeout -k 2 20 "$MUTX" "$@" <"$STDIN_FILE" >"$T/.out" 2>"$T/.err"
  RC=$?
  ERR=$(tr -d '\0' <"$T/.err")
  if [[ $RC -eq 124 || $RC -eq 137 ]]; then fail "hung (killed by timeout): $(printf '%q ' "$@")"; return; fi
  if [[ $RC -ge 128 ]]; then fail "died by signal $((RC - 128)): $(printf '%q ' "$@"): ${ERR:0:300}"; return; fi
  if [[ $RC -gt 2 ]]; then fail "exit $RC: $(printf '%q ' "$@"): ${ERR:0:300}"; return; fi
  pass
  if grep -qE 'Sanitizer|runtime error:|terminate called|std::|what\(\)|Assertion|core dumped' <<<"$ERR"; then
    fail "crash text on stderr: $(printf '%q ' "$@"): ${ERR:0:400}"
  fi
  [[ $RC -eq 0 ]] && return
  first=${ERR%%$'\n'*}
  if [[ $json -eq 1 ]] && grep -q '"level":"error"' <<<"$ERR"; then pass
  elif [[ $verbose -eq 0 && $first == "Error: "* ]]; then pass
  elif [[ $verbose -eq 1 ]] && grep -q '^Error: ' <<<"$ERR"; then pass
  else fail "exit $RC without 'Error:' first: $(printf '%q ' "$@"): ${ERR:0:300}"
  fi
}

# ---- directed cases ----
reset_outputs
declare -a DIRECTED_OUTPUTS=("$O/dir" "$O/fifo" "$O/null" /dev/null /proc/self/status /proc/version "$LONG4096"
  "$O/"$'new\nline' "$O/"$'\xff\xfe\xfd' "$O/$(printf 'n%.0s' {1..256})" "" "-" "$O/missing/t" "$O/t/" "$O/dangling" "/" "." "..")
for out in "${DIRECTED_OUTPUTS[@]}"; do
  for flags in "" "--stream" "--append --backup" "--symlinks=replace" "--json"; do
    case_ "directed: $(printf '%q' "$out") [$flags]"
    # shellcheck disable=SC2086
    check --no-config $flags -- "$out"
  done
done
case_ "directed: /dev/null is still the null device"
if [[ -c /dev/null ]]; then pass; else fail "/dev/null is no longer a character device"; fi
case_ "directed: a FIFO OUTPUT is left a FIFO"
if [[ -p $O/fifo ]]; then pass; else fail "the FIFO was replaced"; fi
case_ "directed: names with a newline and non-UTF-8 bytes are written"
for name in $'new\nline' $'\xff\xfe\xfd'; do
  check --no-config "$O/$name"
  expect_rc 0
  expect_content "$O/$name" "input data"$'\n'
done
case_ "directed: --json stays valid JSON for a non-UTF-8 name"
check --no-config --json -v "$O/"$'\xff\xfe\xfd'
if command -v python3 >/dev/null; then
  if python3 -c 'import json,sys
for line in open(sys.argv[1], "rb").read().split(b"\n"):
    if line: json.loads(line.decode("utf-8"))' "$T/.err" 2>"$T/.py.err"; then pass; else fail "invalid JSON on stderr: $(head -c 300 "$T/.py.err")"; fi
fi
case_ "directed: --lock-file naming the target is refused, target untouched"
printf 'old\n' >"$O/t"
check --no-config --lock-file "$O/t" "$O/t"
expect_rc 1
expect_match "$ERR" "is the file being written" "stderr"
expect_content "$O/t" "old"$'\n'
ln -f "$O/t" "$O/t-link"
check --no-config --lock-file "$O/t-link" "$O/t"
expect_rc 1
expect_content "$O/t" "old"$'\n'
rm -f "$O/t-link"
case_ "directed: --lock-file naming a file with data never deletes it"
check --no-config --lock-file "$V/file" "$O/t"
expect_rc 0
expect_content "$V/file" "keep me"$'\n'
case_ "directed: 4,096-byte paths as option values"
check --no-config --lock-file "$LONG4096" "$O/t"
check --no-config --backup-dir "$LONG4096" "$O/t"
check --no-config -i "$LONG4096" "$O/t"
check housekeep --all "$LONG4096"

case_ "directed: a bad MUTX_IO is named as the environment's; --io overrides it"
printf 'old\n' >"$O/io"
OUT_=$(printf 'new\n' | MUTX_IO=bogus "$MUTX" --no-config "$O/io" 2>&1)
RC=$? ERR=$OUT_
expect_rc 1
expect_match "$ERR" "^Error: invalid MUTX_IO value 'bogus' in the environment" "stderr"
expect_content "$O/io" "old"$'\n'
for io in syscalls auto; do
  OUT_=$(printf 'new\n' | MUTX_IO=bogus "$MUTX" --no-config --io=$io "$O/io" 2>&1)
  RC=$? ERR=$OUT_
  expect_rc 0
  expect_content "$O/io" "new"$'\n'
  printf 'old\n' >"$O/io"
done
case_ "directed: a file named like an option: the hint names ./NAME"
check --no-config -- -f
expect_rc 1
expect_match "$ERR" "^Error: missing OUTPUT"$'\n'"Hint: Everything after -- is the command: mutx OUTPUT -- COMMAND \\[ARG...\\]\\. A file whose name starts with '-' is named as \\./-f\\." "stderr"
check --no-config -f
expect_rc 1
expect_match "$ERR" "^Error: unrecognised option '-f'"$'\n'"Hint: See 'mutx --help'; a file whose name starts with '-' is named as \\./-f\\." "stderr"
OUT_=$(cd "$O" && printf 'dash\n' | "$MUTX" --no-config ./-f 2>&1)
RC=$? ERR=$OUT_
expect_rc 0
expect_content "$O/-f" "dash"$'\n'
rm -f "$O/io" "$O/-f"

# ---- fuzzing ----
# Options from the real help text: NAME and whether it takes a value.
options_of() {  # help text on stdin
  sed -nE 's/^  (-[A-Za-z] \[ )?--([a-z][a-z-]*)( \])?( ([A-Z]+|[a-z|]+))?( .*)?$/\2 \5/p'
}
mapfile -t WRITE_OPTS < <("$MUTX" --help | options_of)
mapfile -t HK_OPTS < <("$MUTX" housekeep --help | options_of)
[[ ${#WRITE_OPTS[@]} -gt 20 ]] || fail "parsed only ${#WRITE_OPTS[@]} options from mutx --help"
[[ ${#HK_OPTS[@]} -gt 8 ]] || fail "parsed only ${#HK_OPTS[@]} options from mutx housekeep --help"
VALUES=("" 0 -1 -0 1 0.5 644 0644 0o644 0x1ff 07777 017777 8 9 0999 999999999999999999999999 -99999999999999999999
  1e308 1e-308 inf -inf nan 0x 1s 30x 2h 7d 1w " 5" "5 " $'5\n' abc follow replace refuse uring syscalls auto true false
  yes -- - = "$V/file" "$V/dir" "$V/missing/x" "$V/"$'a\nb' "$V/"$'\xff\xfe' $'\xff\xfe' "$(printf 'x%.0s' {1..5000})"
  .backup "" "%s%n%x" "\${HOME}" "$LONG4096")
OUTPUTS=("$O/t" "$O/t" "$O/t" "$O/new" "$O/link" "$O/dangling" "$O/dir" "$O/fifo" "$O/null" /proc/self/status
  "$O/"$'nl\nname' "$O/"$'\xff' "$LONG4096" "" "$O/missing/t" "$O/t/")
HK_DIRS=("$O" "$O" "$O/dir" "$O/t" "$O/fifo" "$O/missing" "" "$LONG4096" "$O/link")
CONFIGS=("backup = true" "stream = yes" "mode = 99999" "timeout = -5" "no-such-option = 1" "garbage line"
  $'\xff\xfe = \x01' "[section]" "lock-file = $V/file" "io = bogus" "=" "backup-dir = $V/missing")
STDINS=("$V/input" "$V/input" /dev/null)
# A value after an option that takes none is a positional argument, so it may
# become OUTPUT and be written, as it should: strays never name the files
# whose content the last check below guards.
STRAYS=()
for v in "${VALUES[@]}"; do [[ $v == "$V/file" || $v == "$V/input" ]] || STRAYS+=("$v"); done

pick() { local -n arr=$1; printf '%s' "${arr[RANDOM % ${#arr[@]}]}"; }
soup() {  # option-table-name: fills ARGS
  local -n table=$1
  local count=$((RANDOM % 6)) i entry name takes
  ARGS=()
  for ((i = 0; i < count; i++)); do
    entry=$(pick "$1")
    name=${entry%% *}
    takes=${entry#* }
    [[ $entry == *" "* ]] || takes=
    # Values that are shell commands to run (--check, --on-change) or a
    # file to append to (--log) do what they say with any value (`yes`
    # runs for ever, a file named is appended to): tests/deploy has them.
    [[ $name == check || $name == on-change || $name == log ]] && continue
    # help and version print and exit 0: keep them rare.
    [[ ($name == help || $name == version) && $((RANDOM % 8)) -ne 0 ]] && continue
    case $((RANDOM % 10)) in
      0) ARGS+=("--$name=$(pick VALUES)") ;;
      1) ARGS+=("--${name:0:$((1 + RANDOM % ${#name}))}") ;;  # abbreviations
      2) ARGS+=("-$(printf '\\x%02x' $((33 + RANDOM % 90)) | xargs -0 printf '%b')") ;;  # a stray short option
      *) ARGS+=("--$name")
         if [[ -n $takes ]]; then
           if [[ $takes == *"|"* && $((RANDOM % 2)) -eq 0 ]]; then ARGS+=("$(tr '|' '\n' <<<"$takes" | shuf -n1 --random-source=<(yes $RANDOM))")
           else ARGS+=("$(pick VALUES)")
           fi
         elif [[ $((RANDOM % 7)) -eq 0 ]]; then ARGS+=("$(pick STRAYS)")  # a value it does not take
         fi ;;
    esac
  done
}

for ((c = 0; c < FUZZ_CASES; c++)); do
  [[ $((c % 25)) -eq 0 ]] && reset_outputs
  if [[ $((RANDOM % 5)) -eq 0 ]]; then printf '%s\n' "$(pick CONFIGS)" >"$XDG_CONFIG_HOME/mutx/config"; else rm -f "$XDG_CONFIG_HOME/mutx/config"; fi
  STDIN_FILE=$(pick STDINS)
  if [[ $((RANDOM % 4)) -eq 0 ]]; then
    soup HK_OPTS
    case_ "fuzz $c: housekeep $(printf '%q ' "${ARGS[@]}")"
    if [[ $((RANDOM % 5)) -eq 0 ]]; then check housekeep "${ARGS[@]}"; else check housekeep "${ARGS[@]}" "$(pick HK_DIRS)"; fi
  else
    soup WRITE_OPTS
    case_ "fuzz $c: $(printf '%q ' "${ARGS[@]}")"
    case $((RANDOM % 8)) in
      0) check "${ARGS[@]}" ;;                                  # no OUTPUT
      1) check "${ARGS[@]}" "$(pick OUTPUTS)" "$(pick OUTPUTS)" ;;  # two
      2) check "${ARGS[@]}" "$(pick OUTPUTS)" -- true ;;
      3) check "${ARGS[@]}" "$(pick OUTPUTS)" -- false ;;
      *) check "${ARGS[@]}" "$(pick OUTPUTS)" ;;
    esac
  fi
  # The system is never touched, and a file given only as a value keeps its
  # data (it may be read, used as a lock or as a backup directory's file).
  if [[ ! -c /dev/null ]]; then fail "/dev/null was replaced"; break; fi
done
case_ "values never written"
expect_content "$V/file" "keep me"$'\n'
expect_content "$V/input" "input data"$'\n'
echo "hostile command lines run: $RUNS"
finish
