#!/usr/bin/env bash
# --check CMD (%s = the staged tree), --compare (-C) and --on-change for a
# tree, on the engine pieces the file writer uses (job_steps: run_check,
# refuse_failed_check, run_on_change; compare.hpp for contents): a failing
# check leaves DIR as it was and removes the staged tree; an identical tree
# changes nothing (same inode, no old generation made, no on-change); a
# different one is written and runs --on-change with %s = DIR.
. "$(dirname "$0")/../cli/lib.sh"
mkdir w && cd w || exit 1
m() { "$MUTX" --no-config "$@"; }
mkdir -p src/conf.d
printf 'server 1\n' >src/conf.d/a.conf
tar -C src -c . | m --tree site 2>/dev/null || fatal "first write"

case_ "--check passes: %s is the staged tree"
printf 'server 2\n' >src/conf.d/a.conf
tar -C src -c . | m --tree --check 'grep -q "server 2" %s/conf.d/a.conf && echo saw %s >&2' site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_match "$ERR" "^saw \.site\.mutx-tree-0$" "stderr"
expect_content site/conf.d/a.conf $'server 2\n'

case_ "--check fails: DIR as it was, nothing left"
ino=$(stat -c %i site)
printf 'server 3\n' >src/conf.d/a.conf
tar -C src -c . | m --tree --check 'test -f %s/missing' site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 1
expect_eq "$ERR" $'Error: site: check failed: \'test -f %s/missing\' exited 1\nHint: The target was left as it was.' "stderr"
expect_eq "$(stat -c %i site)" "$ino" "site's inode"
expect_content site/conf.d/a.conf $'server 2\n'
expect_only . src site .site.mutx-old

case_ "--check output as events under --json"
OUT=$(tar -C src -c . | m --tree --json --check 'echo hello-from-check; false' site 2>&1)
expect_has "$(jq -r 'select(.event == "check_output") | .message' <<<"$OUT")" hello-from-check
expect_eq "$(tail -n 1 <<<"$OUT" | jq -r .exit_code)" 1 "exit code"

case_ "--compare: an identical tree changes nothing"
printf 'server 2\n' >src/conf.d/a.conf
rm -rf .site.mutx-old
ino=$(stat -c %i site)
tar -C src -c . | m --tree -C --on-change 'echo changed >&2' -v site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_has "$ERR" "Unchanged: site"
[[ $ERR == *changed$'\n'* || $ERR == *$'\n'changed ]] && fail "--on-change ran for an unchanged tree"
expect_eq "$(stat -c %i site)" "$ino" "site's inode"
expect_only . src site
OUT=$(tar -C src -c . | m --tree -C --json site 2>&1 | tail -n 1)
expect_eq "$(jq -r '.event + " " + (.changed|tostring)' <<<"$OUT")" "unchanged false" "json"

case_ "--compare: a mode, a link or a byte makes it different"
chmod 700 src/conf.d
tar -C src -c . | m --tree -C --on-change 'echo changed %s >&2' site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_eq "$ERR" "changed site" "stderr"
expect_mode site/conf.d 700
OUT=$(tar -C src -c . | m --tree --json site 2>&1 | tail -n 1)
expect_eq "$(jq -r '.event + " " + (.changed|tostring)' <<<"$OUT")" "committed true" "json of a change"
ln -s conf.d/a.conf src/link
tar -C src -c . | m --tree -C site 2>/dev/null
expect_eq "$(readlink site/link)" conf.d/a.conf "site/link"
printf 'server 4\n' >src/conf.d/a.conf
tar -C src -c . | m --tree -C site 2>/dev/null
expect_content site/conf.d/a.conf $'server 4\n'

case_ "--sha256 names one file's content: refused for a tree"
tar -C src -c . | m --tree --sha256 "$(printf x | sha256sum | cut -c1-64)" site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" '^Error: a tree has no one SHA-256 to check' "stderr"

case_ "--owner and --group are refused for a tree, before anything is touched"
before=$(ls -lAi --time-style=full-iso . site)
for flags in "--owner 0" "--owner 0:0" "--group 0"; do
  # shellcheck disable=SC2086
  m --tree-from src $flags site 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 1
  expect_eq "$ERR" "Error: a tree is not given an owner or group"$'\n'"Hint: A tree's entries belong to the caller, or, as root with --preserve-owner, keep the owners in the archive or SRCDIR; set them there, or run chown -R on DIR after the write. Nothing was touched." "stderr for $flags"
  # shellcheck disable=SC2086
  tar -C src -c . | m --tree $flags site 2>/dev/null
  RC=$?
  expect_rc 1
done
expect_eq "$(ls -lAi --time-style=full-iso . site)" "$before" "listing"
finish
