#!/usr/bin/env bash
# mutx housekeep -r as an unprivileged user: a subdirectory it may not open
# is reported, the walk goes on, and the exit code is 1. Needs root to set
# up the tree for another user (uid 65534).
. "$(dirname "$0")/lib.sh"
need_root "needs root to run mutx as uid 65534 (setpriv)"
command -v setpriv >/dev/null || skip "setpriv is not installed"
hk_tree
stop_on_error

# The binary and the tree must be reachable by uid 65534.
chmod 755 "$T"
cp "$MUTX" "$T/mutx"
mkdir -p "$TREE/closed" "$TREE/open/deeper"
touch "$TREE/a" "$TREE/closed/hidden" "$TREE/open/b" "$TREE/open/deeper/c"
touch "$TREE/a.lock" "$TREE/closed/hidden.lock" "$TREE/open/b.lock" "$TREE/open/deeper/c.lock"
chown -R 65534:65534 "$TREE"
chmod 000 "$TREE/closed"
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${as_nobody[@]}" true 2>/dev/null || skip "setpriv cannot switch to uid 65534 here"

# run_nobody ARGS...: `mutx housekeep --older-than 0 ARGS` as uid 65534,
# from $T (OUT, ERR, RC as run sets them). --older-than 0: the locks were
# made just now.
run_nobody() {
  OUT=$(cd "$T" && "${as_nobody[@]}" "$T/mutx" housekeep --older-than 0 "$@" 2>"$T/.stderr")
  RC=$?
  ERR=$(cat "$T/.stderr")
}

case_ "a directory it may not open: reported, the walk goes on, exit 1"
run_nobody --clean-locks -r -n tree
expect_rc 1
expect_out "would delete tree/a.lock" "would delete tree/open/b.lock" "would delete tree/open/deeper/c.lock"
expect_err "Error: cannot open directory tree/closed: Permission denied"

run_nobody --clean-locks -r tree
expect_rc 1
expect_out tree/a.lock tree/open/b.lock tree/open/deeper/c.lock
expect_err "Error: cannot open directory tree/closed: Permission denied"
expect_missing "$TREE/a.lock" "$TREE/open/b.lock" "$TREE/open/deeper/c.lock"
expect_exists "$TREE/closed/hidden.lock"

case_ "JSON counts the error, and says it on stderr as a JSON object"
run_nobody --all -r --json tree
expect_rc 1
jq -e '.summary and .errors == 1' <<<"$OUT" >/dev/null && pass || fail "summary: $OUT"
[[ $(jq -c . <<<"$ERR") == '{"level":"error","event":"failed","kind":"directory","path":"tree/closed","message":"cannot open directory tree/closed: Permission denied"}' ]] &&
  pass || fail "stderr under --json: $ERR"

case_ "a lock file it may not open is an error too, and stays"
chmod 755 "$TREE/closed"
chown root:root "$TREE/closed/hidden.lock"
chmod 600 "$TREE/closed/hidden.lock"
run_nobody --clean-locks tree/closed
expect_rc 1
expect_out
expect_err "Error: cannot open lock file tree/closed/hidden.lock: Permission denied"
expect_exists "$TREE/closed/hidden.lock"

case_ "without -r the closed directory is never looked at: exit 0"
chmod 000 "$TREE/closed"
run_nobody --clean-locks tree
expect_rc 0
finish
