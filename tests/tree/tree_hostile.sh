#!/usr/bin/env bash
# Hostile archives are refused before anything is published, each naming the
# entry and why: absolute names, '..', symbolic and hard links out of the
# tree (also through a chain of links the kernel resolves), entries written
# through a symbolic link, device nodes, FIFOs, set-id bits (allowed by
# --tree-keep-special), duplicates, a top that is no directory, and input
# that is no tar archive (garbage, truncated). After each: exit 1, DIR is
# byte for byte as it was, nothing but DIR is left beside it (no staged
# tree, no lock file), and nothing was created outside.
. "$(dirname "$0")/../cli/lib.sh"
need_cmd python3
MK=$MUTX_SOURCE_DIR/tests/tree/make_tar.py

mkdir -p w/site/sub
printf 'old a\n' >w/site/a
printf 'old b\n' >w/site/sub/b
snapshot() { (cd w/site && find . -printf '%p %y %m %s %l\n' | sort && find . -type f -exec sha1sum {} + | sort); }
BEFORE=$(snapshot)

refused() {  # kind entry why-pattern
  local kind=$1 entry=$2 why=$3
  case_ "hostile: $kind"
  OUT=$(python3 "$MK" "$kind" | "$MUTX" --no-config --tree w/site 2>"$T/.stderr")
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 1
  expect_match "$ERR" "^Error: w/site: the archive entry '$entry' refused: $why" "stderr"
  expect_has "$ERR" "Hint: " "stderr"
  expect_eq "$(snapshot)" "$BEFORE" "w/site after $kind"
  expect_only w site
  expect_missing /tmp/mutx-evil "$T/evil" "$T/outside"
}

refused absolute '/tmp/mutx-evil' 'an absolute path'
refused dotdot '../evil' "a '\.\.' component leads out of the tree"
refused dotdot-inner 'a/\.\./\.\./evil' "a '\.\.' component"
refused symlink-absolute 'passwd' "a symbolic link to the absolute path '/etc/passwd'"
refused symlink-up 'a/up' "a symbolic link pointing out of the tree \('\.\./\.\./etc'\)"
refused symlink-chain 'esc' 'a symbolic link that leads out of the tree through other links'
refused hardlink-absolute 'passwd' "a hard link to the absolute path '/etc/passwd'"
refused hardlink-up 'evil' "a hard link out of the tree"
refused hardlink-missing 'evil' "a hard link to 'nothere', which is not a regular file before it"
refused hardlink-directory 'evil' "a hard link to 'sub', which is not a regular file"
refused through-symlink 'l/f' "it lies beyond the symbolic link 'l'"
refused through-symlink-out 'l/f' "it lies beyond the symbolic link 'l'"
refused char-device 'tty' 'a character device node \(allowed only on request\)'
refused block-device 'sda' 'a block device node \(allowed only on request\)'
refused fifo 'pipe' 'a FIFO \(named pipe\) \(allowed only on request\)'
refused setuid 'bin/su' 'the set-user-ID bit, mode 04755 \(allowed only on request\)'
refused setgid 'bin/wall' 'the set-group-ID bit, mode 02755 \(allowed only on request\)'
refused duplicate 'conf' 'a second entry of the same name'
refused top-not-directory '\.' 'the top of the tree must be a directory'
refused empty-name '' 'an empty name'

case_ "the CLI names the flag for special files"
python3 "$MK" fifo | "$MUTX" --no-config --tree w/site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 1
expect_has "$ERR" "Hint: Pass --tree-keep-special to accept FIFOs, device nodes and set-id bits"

case_ "not a tar archive"
run_in "$(head -c 3000 /dev/zero | tr '\0' 'x')" --no-config --tree w/site
expect_rc 1
expect_match "$ERR" '^Error: standard input: not a tar archive' "stderr"
expect_eq "$(snapshot)" "$BEFORE" "w/site"
expect_only w site

case_ "a truncated archive"
python3 "$MK" good | head -c 2000 >"$T/trunc.tar"
run --no-config --tree --input "$T/trunc.tar" w/site
expect_rc 1
expect_match "$ERR" "^Error: $T/trunc.tar: " "stderr"
expect_eq "$(snapshot)" "$BEFORE" "w/site"
expect_only w site

case_ "--json: the refusal as one error object"
OUT=$(python3 "$MK" dotdot | "$MUTX" --no-config --json --tree w/site 2>&1 | tail -n 1)
expect_eq "$(jq -r '.event + " " + (.exit_code|tostring)' <<<"$OUT")" "error 1" "json event"
expect_has "$(jq -r .message <<<"$OUT")" "the archive entry '../evil' refused"

case_ "--tree-keep-special accepts FIFOs and set-id bits"
python3 "$MK" special-ok | "$MUTX" --no-config --tree --tree-keep-special w/special 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
if [[ -p w/special/pipe ]]; then pass; else fail "w/special/pipe is not a FIFO"; fi
expect_mode w/special/su 4755

case_ "a set-group-ID directory is no privilege: accepted"
python3 "$MK" setgid-dir | "$MUTX" --no-config --tree w/sgid 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_mode w/sgid/shared 2775

finish
