# Shared helpers for the end-to-end shell tests. Source it first:
#   . "$(dirname "$0")/lib.sh"
# Each test runs in its own temp directory (removed on exit) and uses
# $MUTX (set by CTest) as the binary. Exit 77 = skipped, with the reason.
set -uo pipefail

MUTX=${MUTX:?MUTX must point at the mutx binary}
TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/mutx-${TEST_NAME}.XXXXXX")
CLEANUPS=()
cleanup() {
  local c
  for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[i]}" >/dev/null 2>&1 || true; done
  rm -rf "$T"
}
trap cleanup EXIT
on_exit() { CLEANUPS+=("$*"); }
cd "$T" || exit 1

FAILS=0
PASSES=0
CASE="(none)"

case_() { CASE=$1; }
pass() { PASSES=$((PASSES + 1)); }
fail() {
  FAILS=$((FAILS + 1))
  echo "FAIL [$CASE]: $*" >&2
}
skip() {
  echo "SKIP: $*" >&2
  exit 77
}
need_root() { [[ $(id -u) -eq 0 ]] || skip "${1:-needs root}"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || skip "needs $1"; }

# Run mutx, capturing stdout/stderr/exit code into OUT, ERR, RC.
run() {
  OUT=$("$MUTX" "$@" 2>"$T/.stderr")
  RC=$?
  ERR=$(cat "$T/.stderr")
}
# Same with stdin from a string: run_in "data" args...
run_in() {
  local data=$1
  shift
  OUT=$(printf '%s' "$data" | "$MUTX" "$@" 2>"$T/.stderr")
  RC=$?
  ERR=$(cat "$T/.stderr")
}

expect_rc() {
  if [[ $RC -eq $1 ]]; then pass; else fail "exit code $RC, expected $1 (stderr: $ERR)"; fi
}
expect_eq() {  # actual expected [what]
  if [[ "$1" == "$2" ]]; then pass; else fail "${3:-value}: got '$1', expected '$2'"; fi
}
expect_match() {  # text pattern(ERE) [what]
  if [[ "$1" =~ $2 ]]; then pass; else fail "${3:-text} '$1' does not match /$2/"; fi
}
expect_content() {  # file expected-content
  local got
  if [[ ! -f $1 ]]; then fail "$1 does not exist"; return; fi
  got=$(cat "$1"; printf x)
  got=${got%x}
  if [[ "$got" == "$2" ]]; then pass; else fail "$1 holds '$got', expected '$2'"; fi
}
expect_same_file() {  # a b: byte for byte
  if cmp -s "$1" "$2"; then pass; else fail "$1 and $2 differ"; fi
}
expect_mode() {  # file octal
  local m
  m=$(stat -c %a "$1" 2>/dev/null)
  expect_eq "$m" "$2" "mode of $1"
}
expect_missing() {
  if [[ -e $1 || -L $1 ]]; then fail "$1 should not exist"; else pass; fi
}
# Nothing but the given names in a directory (no temps, no lock files).
expect_only() {  # dir name...
  local dir=$1
  shift
  local want got
  want=$(printf '%s\n' "$@" | sort)
  got=$(cd "$dir" && ls -A | sort)
  if [[ "$got" == "$want" ]]; then pass; else fail "$dir holds [$(echo $got)], expected [$(echo $want)]"; fi
}

# hold_lock FILE [SECONDS]: flock(1) holds FILE in the background (HOLDER is
# its pid) until release_lock or SECONDS (default 60) pass. -o: the lock is
# flock's own, not inherited by sleep, so ending flock ends the lock.
HOLDER=
hold_lock() {
  flock -o "$1" sleep "${2:-60}" &
  HOLDER=$!
  on_exit "pkill -P $HOLDER; kill $HOLDER"
  local i
  for ((i = 0; i < 200; i++)); do
    flock -n "$1" true 2>/dev/null || return 0
    sleep 0.05
  done
  fail "flock(1) never took $1"
}
release_lock() {
  pkill -P "$HOLDER" 2>/dev/null
  wait "$HOLDER" 2>/dev/null
}

finish() {
  echo "$TEST_NAME: $PASSES passed, $FAILS failed"
  [[ $FAILS -eq 0 ]]
}
