# Shared helpers for the end-to-end shell tests (the one toolkit: cli,
# stress, crash, bench). Source it first:
#   . "$(dirname "$0")/lib.sh"
# Each test runs in its own temp directory $T (its cwd at first, removed on
# exit) and uses $MUTX (set by CTest) as the binary. Exit 77 = skipped, with
# the reason.
#
# A check counts a pass or a failure and the script goes on; `finish`, the
# last line of every script, prints "NAME: N passed, N failed" and fails the
# script if any check failed. When later checks cannot mean anything after a
# failure, stop instead: `fatal`, `stop_on_error`.
#
#   case_ NAME               label the following checks (in FAIL lines)
#   pass / fail MSG          count a passed / failed check (fail goes on)
#   skip MSG                 stop here, skipped (exit 77); after a failed
#                            check it stops as fatal instead
#   need_root [MSG], need_cmd CMD      skip unless so
#   on_exit CMD              run CMD at exit (last registered first)
#   run ARGS / run_in DATA ARGS        run mutx: OUT, ERR, RC
#
#   expect_rc N              RC is N
#   expect_eq A B [WHAT]     A is B
#   expect_match TEXT ERE [WHAT]       TEXT matches the ERE
#   expect_has TEXT PART [WHAT]        TEXT contains PART (a fixed string)
#   expect_out [LINE...]     OUT is exactly these lines, in order (none: empty)
#   expect_err [LINE...]     ERR is exactly these lines, in order (none: empty)
#   expect_err_has PART      ERR contains PART (a fixed string)
#   expect_content F TEXT    file F holds exactly TEXT
#   expect_same_file A B     byte for byte
#   expect_mode F OCTAL      F's permission bits
#   expect_exists PATH...    each PATH exists (a dangling symlink does); one check each
#   expect_missing PATH...   no PATH exists, not even as a symlink; one check each
#   expect_only DIR NAME...  DIR holds these names and nothing else
#
#   fatal MSG                a failure after which nothing can be checked:
#                            FAIL line, closing line, exit 1. For a check
#                            that later ones depend on: COND && pass || fatal MSG
#   stop_on_error            from here on, a command outside a check that
#                            fails (where set -e would stop) is fatal
#   finish                   the closing line; fails if any check failed
#
# Locks held by other processes (see the section below): hold_lock,
# hold_shared_lock, hold_fcntl_lock, release_lock; hold_lock_here,
# release_lock_here. For mutx housekeep: hk, hk_tree, utc_stamp.
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
  ((FAILS == 0)) || fatal "cannot skip the rest ($*): $FAILS check(s) already failed"
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

# ---- Checks: each counts one pass or one failure, and the script goes on.

expect_rc() {
  if [[ $RC -eq $1 ]]; then pass; else fail "exit code $RC, expected $1 (stderr: $ERR)"; fi
}
expect_eq() {  # actual expected [what]
  if [[ "$1" == "$2" ]]; then pass; else fail "${3:-value}: got '$1', expected '$2'"; fi
}
expect_match() {  # text pattern(ERE) [what]
  if [[ "$1" =~ $2 ]]; then pass; else fail "${3:-text} '$1' does not match /$2/"; fi
}
expect_has() {  # text part [what]: part is a fixed string, not a pattern
  if [[ "$1" == *"$2"* ]]; then pass; else fail "${3:-text} lacks '$2'"$'\n'"--- got:"$'\n'"$1"; fi
}
# expect_out LINE...: OUT is exactly these lines, in this order; with no
# LINE, OUT is empty. (OUT, as run captures it, has no final newline.)
expect_out() {
  local want
  want=$(printf '%s\n' "$@")
  if [[ $OUT == "$want" ]]; then
    pass
  else
    fail "stdout differs"$'\n'"--- want:"$'\n'"$want"$'\n'"--- got:"$'\n'"$OUT"$'\n'"--- stderr:"$'\n'"$ERR"
  fi
}
# expect_err LINE...: the same for ERR.
expect_err() {
  local want
  want=$(printf '%s\n' "$@")
  if [[ $ERR == "$want" ]]; then pass; else fail "stderr differs"$'\n'"--- want:"$'\n'"$want"$'\n'"--- got:"$'\n'"$ERR"; fi
}
expect_err_has() { expect_has "$ERR" "$1" "stderr"; }
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
expect_exists() {  # path...: one check each
  local p
  for p in "$@"; do
    if [[ -e $p || -L $p ]]; then pass; else fail "$p should exist"; fi
  done
}
expect_missing() {  # path...: one check each
  local p
  for p in "$@"; do
    if [[ -e $p || -L $p ]]; then fail "$p should not exist"; else pass; fi
  done
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

# ---- Stopping: when what follows cannot be checked any more.

# fatal MSG: count a failure and end the script now, with the closing line.
fatal() {
  fail "$@"
  finish
  exit 1
}
# stop_on_error: from here on, a command that fails outside a check (where
# set -e would stop: not in an if, a while, a && or || list, or under !)
# ends the script as fatal does. For setup steps the checks rely on: the set
# -e of a script that counts its checks. Checks never trip it (they return
# 0); a function of the script trips it by returning non-zero.
stop_on_error() {
  trap '_stop_on_error $? $LINENO "$BASH_COMMAND"' ERR
}
_stop_on_error() {  # status line command
  [[ -z $FINISHED ]] || return 0  # finish's own status: the script's end
  fatal "line $2: \`$3\` failed (exit $1)"
}

FINISHED=
finish() {
  FINISHED=1
  echo "$TEST_NAME: $PASSES passed, $FAILS failed"
  [[ $FAILS -eq 0 ]]
}

# ---- Locks held by another process, for as long as a case needs them.
# Each hold_* starts a background holder (its pid in HOLDER), returns once
# the lock is held (or fails the check and returns 1), and is ended by
# release_lock [PID] (default: the last HOLDER) or at exit. A lock taken
# with hold_lock_here is not handed down to these holders.

# hold_lock FILE [SECONDS]: an exclusive flock(2) on FILE, by flock(1), for
# SECONDS (default 60) at most. -o: the lock is flock's own, not inherited
# by sleep, so ending flock ends the lock.
HOLDER=
hold_lock() { _hold_flock -x "$@"; }
# hold_shared_lock FILE [SECONDS]: a shared flock(2) on FILE, as a live
# writer holds on its temps (staging.hpp).
hold_shared_lock() { _hold_flock -s "$@"; }
_hold_flock() {  # -x|-s FILE [SECONDS]
  if [[ -n ${HELD_FD:-} ]]; then
    flock "$1" -o "$2" sleep "${3:-60}" {HELD_FD}>&- &
  else
    flock "$1" -o "$2" sleep "${3:-60}" &
  fi
  HOLDER=$!
  on_exit "pkill -P $HOLDER; kill $HOLDER"
  local i
  for ((i = 0; i < 200; i++)); do
    flock -n "$2" true 2>/dev/null || return 0
    sleep 0.05
  done
  fail "flock(1) never took $2"
  return 1
}
# hold_fcntl_lock KIND FILE: a write lock on all of FILE (which must exist)
# held by python3, KIND posix (lockf(3), as most C programs and rpm use) or
# ofd (F_OFD_SETLK); flock(2) sees neither. Skips without python3.
hold_fcntl_lock() {
  command -v python3 >/dev/null || skip "python3 is not installed (needed to hold fcntl locks)"
  local ready=$T/.held.$RANDOM
  if [[ -n ${HELD_FD:-} ]]; then
    _fcntl_holder "$1" "$2" "$ready" {HELD_FD}>&- &
  else
    _fcntl_holder "$1" "$2" "$ready" &
  fi
  HOLDER=$!
  on_exit "kill $HOLDER"
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -e $ready ]] && return 0
    if ! kill -0 "$HOLDER" 2>/dev/null; then
      fail "python3 could not take a $1 lock on $2"
      return 1
    fi
    sleep 0.05
  done
  fail "the $1 lock on $2 was never taken"
  return 1
}
_fcntl_holder() {  # KIND FILE READY: exec, so that the holder is python3 itself
  exec python3 - "$@" <<'PY'
import fcntl, os, struct, sys, time
kind, path, ready = sys.argv[1:]
fd = os.open(path, os.O_RDWR)
if kind == "posix":
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
else:
    # struct flock on Linux: short l_type, l_whence; off_t l_start, l_len; pid_t l_pid (0 for OFD)
    fcntl.fcntl(fd, 37, struct.pack("hh4xqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))  # 37: F_OFD_SETLK
open(ready, "w").close()
time.sleep(60)
PY
}
# release_lock [PID]: end a holder (default: the last, HOLDER); its lock is
# free when this returns.
release_lock() {
  local pid=${1:-$HOLDER}
  pkill -P "$pid" 2>/dev/null
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# hold_lock_here FILE: an exclusive flock on FILE from this shell (the
# descriptor in HELD_FD), until release_lock_here. The mutx this shell runs
# inherits the descriptor and still finds FILE locked: it opens its own.
HELD_FD=
hold_lock_here() {
  exec {HELD_FD}>>"$1"
  flock -n "$HELD_FD" && return 0
  fail "could not lock $1"
  return 1
}
release_lock_here() {
  [[ -z $HELD_FD ]] || exec {HELD_FD}>&-
  HELD_FD=
}

# ---- mutx housekeep

# hk ARGS...: run `mutx housekeep ARGS` (OUT, ERR, RC as run sets them).
hk() { run housekeep "$@"; }
# hk_tree: TREE, the tree under test (made the cwd), and OUTSIDE, for what
# must stay outside it, both in $T. Whatever a script makes unreadable in
# $T is made removable again at exit.
hk_tree() {
  TREE=$T/tree
  OUTSIDE=$T/outside
  mkdir "$TREE" "$OUTSIDE" && cd "$TREE" || fatal "cannot make the test tree in $T"
  on_exit "chmod -R u+rwx '$T'"
}
# utc_stamp [DATE]: the time in a timestamped backup name, as mutx writes it
# (UTC; DATE as date -d takes it, default now).
utc_stamp() { date -u -d "${1:-now}" +%Y%m%d-%H%M%S; }
