#!/usr/bin/env bash
# mutx housekeep -r as an unprivileged user: a subdirectory it may not open
# is reported, the walk goes on, and the exit code is 1. Needs root to set
# up the tree for another user (uid 65534).
source "$(dirname "$0")/housekeep_lib.bash"

[[ $(id -u) == 0 ]] || skip "needs root to run mutx as uid 65534 (setpriv)"
command -v setpriv >/dev/null || skip "setpriv is not installed"

# The binary and the tree must be reachable by uid 65534.
chmod 755 "$base"
cp "$MUTX" "$base/mutx"
mkdir -p "$tree/closed" "$tree/open/deeper"
touch "$tree/a" "$tree/closed/hidden" "$tree/open/b" "$tree/open/deeper/c"
touch "$tree/a.lock" "$tree/closed/hidden.lock" "$tree/open/b.lock" "$tree/open/deeper/c.lock"
chown -R 65534:65534 "$tree"
chmod 000 "$tree/closed"
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${as_nobody[@]}" true 2>/dev/null || skip "setpriv cannot switch to uid 65534 here"

run_nobody() {
  set +e
  # --older-than 0: the locks were made just now.
  out=$(cd "$base" && "${as_nobody[@]}" "$base/mutx" housekeep --older-than 0 "$@" 2>"$base/stderr")
  rc=$?
  set -e
  err=$(<"$base/stderr")
}

run_nobody --clean-locks -r -n tree
expect_rc 1
expect_out "would delete tree/a.lock" "would delete tree/open/b.lock" "would delete tree/open/deeper/c.lock"
expect_err "Error: cannot open directory tree/closed: Permission denied"

run_nobody --clean-locks -r tree
expect_rc 1
expect_out tree/a.lock tree/open/b.lock tree/open/deeper/c.lock
expect_err "Error: cannot open directory tree/closed: Permission denied"
gone "$tree/a.lock" "$tree/open/b.lock" "$tree/open/deeper/c.lock"
exists "$tree/closed/hidden.lock"

# JSON counts the error, and says it on stderr as a JSON object.
run_nobody --all -r --json tree
expect_rc 1
jq -e '.summary and .errors == 1' <<<"$out" >/dev/null || fail "summary: $out"
[[ $(jq -c . <<<"$err") == '{"level":"error","event":"failed","kind":"directory","path":"tree/closed","message":"cannot open directory tree/closed: Permission denied"}' ]] ||
  fail "stderr under --json: $err"

# A lock file it may not open is an error too, and stays.
chmod 755 "$tree/closed"
chown root:root "$tree/closed/hidden.lock"
chmod 600 "$tree/closed/hidden.lock"
run_nobody --clean-locks tree/closed
expect_rc 1
expect_out
expect_err "Error: cannot open lock file tree/closed/hidden.lock: Permission denied"
exists "$tree/closed/hidden.lock"

# Without -r the closed directory is never looked at: exit 0.
chmod 000 "$tree/closed"
run_nobody --clean-locks tree
expect_rc 0
echo "ok"
