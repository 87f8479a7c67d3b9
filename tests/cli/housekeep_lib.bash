# Shared helpers for tests/cli/housekeep_*.sh (sourced, not run).
#
# Each script gets a fresh $base (removed on exit) holding the tree under
# test in $tree and anything that must stay outside it in $outside. Run
# mutx with `hk ARGS...` (after the word "housekeep"); it sets $out, $err
# and $rc and never stops the script.
set -euo pipefail

: "${MUTX:?set MUTX to the mutx binary}"

base=$(mktemp -d "${TMPDIR:-/tmp}/mutx-housekeep.XXXXXX")
tree=$base/tree
outside=$base/outside
mkdir "$tree" "$outside"
holder_pids=()

housekeep_cleanup() {
  local pid
  for pid in "${holder_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  chmod -R u+rwx "$base" 2>/dev/null || true
  rm -rf "$base"
}
trap housekeep_cleanup EXIT

# The line is the test script's, also when a helper here failed.
fail() {
  echo "FAIL (line ${BASH_LINENO[${#BASH_LINENO[@]} - 2]}): $*" >&2
  exit 1
}

skip() {
  echo "SKIP: $*" >&2
  exit 77
}

hk() {
  set +e
  out=$("$MUTX" housekeep "$@" 2>"$base/stderr")
  rc=$?
  set -e
  err=$(<"$base/stderr")
}

# expect_out LINE... : stdout is exactly these lines, in this order.
expect_out() {
  local want
  want=$(printf '%s\n' "$@")
  [[ $out == "$want" ]] || fail "stdout differs"$'\n'"--- want:"$'\n'"$want"$'\n'"--- got:"$'\n'"$out"$'\n'"--- stderr:"$'\n'"$err"
}

expect_err() {
  local want
  want=$(printf '%s\n' "$@")
  [[ $err == "$want" ]] || fail "stderr differs"$'\n'"--- want:"$'\n'"$want"$'\n'"--- got:"$'\n'"$err"
}

expect_err_has() {
  [[ $err == *"$1"* ]] || fail "stderr lacks '$1'"$'\n'"--- got:"$'\n'"$err"
}

expect_rc() {
  [[ $rc == "$1" ]] || fail "exit code $rc, want $1"$'\n'"--- stdout:"$'\n'"$out"$'\n'"--- stderr:"$'\n'"$err"
}

exists() {
  local p
  for p in "$@"; do [[ -e $p || -L $p ]] || fail "$p is gone"; done
}

gone() {
  local p
  for p in "$@"; do [[ ! -e $p && ! -L $p ]] || fail "$p is still there"; done
}

# hold_lock FILE: hold an flock on FILE from this shell (fd in $held_fd)
# until release_lock. mutx opens its own descriptor, so the lock conflicts
# even though mutx inherits this one.
hold_lock() {
  exec {held_fd}>>"$1"
  flock -n "$held_fd" || fail "could not lock $1"
}

release_lock() {
  exec {held_fd}>&-
}

# hold_lock_bg FILE: hold FILE with `flock -F FILE sleep` in the background
# (-F: no fork, so $holder_pid is the process holding it; a lock held with
# hold_lock is not inherited), returning once it is held. Blocking flock,
# not -n: our own probe below may hold the lock for a moment.
hold_lock_bg() {
  if [[ -n ${held_fd:-} ]]; then
    flock -F "$1" sleep 60 {held_fd}>&- &
  else
    flock -F "$1" sleep 60 &
  fi
  holder_pid=$!
  holder_pids+=("$holder_pid")
  local i
  for ((i = 0; i < 200; i++)); do
    flock -n "$1" true || return 0
    sleep 0.05
  done
  fail "background flock on $1 never took the lock"
}

release_lock_bg() {
  kill "$holder_pid"
  wait "$holder_pid" 2>/dev/null || true
}

# hold_shared_bg FILE: a shared flock on FILE from a background process, as
# a live writer holds on its temps (staging.hpp), until release_lock_bg.
hold_shared_bg() {
  flock -s -F "$1" sleep 60 &
  holder_pid=$!
  holder_pids+=("$holder_pid")
  local i
  for ((i = 0; i < 200; i++)); do
    flock -n "$1" true || return 0
    sleep 0.05
  done
  fail "background shared flock on $1 never took the lock"
}

# hold_fcntl_bg KIND FILE: a write lock on FILE held by a background python3,
# KIND posix (lockf(3), as most C programs and rpm use) or ofd (F_OFD_SETLK),
# until release_lock_bg. flock(2) does not see either.
hold_fcntl_bg() {
  command -v python3 >/dev/null || skip "python3 is not installed (needed to hold fcntl locks)"
  local ready=$base/.held.$RANDOM
  python3 - "$1" "$2" "$ready" <<'PY' &
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
  holder_pid=$!
  holder_pids+=("$holder_pid")
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -e $ready ]] && return 0
    kill -0 "$holder_pid" 2>/dev/null || fail "python3 could not take a $1 lock on $2"
    sleep 0.05
  done
  fail "background $1 lock on $2 never taken"
}

# utc_stamp [DATE]: the time in a timestamped backup name, as mutx writes it
# (UTC; DATE as date -d takes it, default now).
utc_stamp() { date -u -d "${1:-now}" +%Y%m%d-%H%M%S; }
