#!/usr/bin/env bash
# mutx --tree DIR: a tar stream (stdin or --input) or a directory
# (--tree-from) replaces DIR as a whole. Content, links, modes (a read-only
# directory too) and mtimes as in the archive; the old generation kept as
# .DIR.mutx-old until the next write, which removes it; --backup,
# --backup-timestamp and --backup-dir keep it as the backup instead; the top
# directory's mode from --mode, else the old DIR's, else the archive's;
# owners only with --preserve-owner (root); the lock file gone afterwards;
# -v and --json events; what is refused before anything changes (a file at
# DIR, empty input, a terminal, option clashes).
. "$(dirname "$0")/../cli/lib.sh"
need_cmd python3
MK=$MUTX_SOURCE_DIR/tests/tree/make_tar.py
m() { "$MUTX" --no-config "$@"; }
mkdir w && cd w || exit 1
mkdir -p src/sub
printf 'one\n' >src/a
printf 'two\n' >src/sub/b
ln -s a src/l
chmod 750 src/sub

case_ "a tar stream makes a new DIR"
tar -C src -c . | m --tree site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content site/a $'one\n'
expect_content site/sub/b $'two\n'
expect_eq "$(readlink site/l)" a "site/l"
expect_mode site/sub 750
expect_only . src site

case_ "a second write swaps; the old tree is kept as .site.mutx-old"
printf 'ONE\n' >src/a
tar -C src -c . | m --tree site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content site/a $'ONE\n'
expect_content .site.mutx-old/a $'one\n'
expect_only . src site .site.mutx-old

case_ "the next write removes the generation before"
printf 'uno\n' >src/a
rm src/sub/b
tar -C src -c . | m --tree site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content site/a $'uno\n'
expect_missing site/sub/b
expect_content .site.mutx-old/a $'ONE\n'
expect_only . src site .site.mutx-old

case_ "--input FILE.tar; modes, links and a read-only directory as archived"
python3 "$MK" good >"$T/good.tar"
run --tree --input "$T/good.tar" --no-config g
expect_rc 0
expect_content g/a $'a\n'
expect_content g/sub/b $'b\n'
expect_content g/ro/f $'r\n'
expect_mode g/ro 555
expect_eq "$(stat -c %h g/a)" 2 "links of g/a (hard link h)"
expect_eq "$(readlink g/sub/up)" ../a "g/sub/up"
expect_eq "$(stat -c %Y g/a)" 1700000000 "mtime of g/a"
expect_eq "$(stat -c %Y g/ro)" 1700000000 "mtime of g/ro"
run --tree --input "$T/good.tar" --no-config g   # replaces a tree holding a read-only directory
expect_rc 0
run --tree --input "$T/good.tar" --no-config g   # and removes one
expect_rc 0
expect_only . src site .site.mutx-old g .g.mutx-old

case_ "directories the archive names only by their entries"
python3 "$MK" no-top | m --tree deep 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content deep/a/b/c $'deep\n'
expect_mode deep/a $(printf '%o' $((0777 & ~$(umask))))

case_ "--tree-from SRCDIR copies a directory, hard links kept"
ln src/a src/a2
run --tree-from src copy
expect_rc 0
expect_content copy/a $'uno\n'
expect_eq "$(stat -c %h copy/a)" 2 "links of copy/a"
expect_eq "$(readlink copy/l)" a "copy/l"
expect_mode copy/sub 750
rm src/a2

case_ "top directory: --mode, else the old DIR's mode, else the archive's"
chmod 711 site
tar -C src -c . | m --tree site 2>/dev/null
expect_mode site 711
tar -C src -c . | m --tree -m 700 site 2>/dev/null
expect_mode site 700
chmod 705 src
tar -C src -c . | m --tree fresh 2>/dev/null
expect_mode fresh 705
tar -C src -c . | m --tree --no-preserve-mode site 2>/dev/null
expect_mode site 705
chmod 755 src
rm -rf fresh .fresh.mutx-old

case_ "--backup: the old tree becomes site.backup, the one before goes"
tar -C src -c . | m --tree --backup site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_exists site.backup/a
expect_missing .site.mutx-old
printf 'new\n' >src/a
tar -C src -c . | m --tree --backup site 2>/dev/null
expect_content site.backup/a $'uno\n'
expect_content site/a $'new\n'
expect_only . src site site.backup g .g.mutx-old deep copy

case_ "--backup-timestamp and --backup-dir"
mkdir bk
tar -C src -c . | m --tree --backup-timestamp --backup-dir bk site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_eq "$(ls bk | grep -cE '^site\.[0-9]{8}-[0-9]{6}\.backup$')" 1 "timestamped backups in bk"
tar -C src -c . | m --tree --backup-timestamp --backup-dir bk site 2>/dev/null
expect_eq "$(ls bk | grep -cE '^site\.[0-9]{8}-[0-9]{6}(_[0-9]{3})?\.backup$')" 2 "timestamped backups in bk"
rm -rf bk site.backup

case_ "--backup-dir on another filesystem: refused before anything changes"
if [[ $(id -u) -eq 0 ]] && mkdir -p other && mount -t tmpfs none other 2>/dev/null; then
  on_exit "umount '$T/w/other'"
  before=$(ls -i -d site)
  tar -C src -c . | m --tree --backup-dir other site 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 1
  expect_has "$ERR" "Error: cannot keep the old tree as a backup in other: "
  expect_eq "$(ls -i -d site)" "$before" "site"
else
  echo "NOTE: --backup-dir across filesystems skipped (needs root for a tmpfs mount)" >&2
fi

case_ "owners: the caller's unless --preserve-owner (root)"
if [[ $(id -u) -eq 0 ]]; then
  python3 "$MK" owners | m --tree own 2>/dev/null
  expect_eq "$(stat -c %u:%g own/owned)" "0:0" "owner by default"
  python3 "$MK" owners | m --tree --preserve-owner own 2>/dev/null
  expect_eq "$(stat -c %u:%g own/owned)" "1234:2345" "owner with --preserve-owner"
  if command -v setpriv >/dev/null; then
    mkdir -p np && chown 65534 np
    python3 "$MK" owners | setpriv --reuid=65534 --regid=65534 --clear-groups "$MUTX" --no-config --tree --preserve-owner np/t 2>"$T/.stderr"
    RC=$? ERR=$(cat "$T/.stderr")
    expect_rc 1
    expect_has "$ERR" "Error: cannot give 0:0 the entry np/t: Operation not permitted"
    expect_only np
  fi
  rm -rf own .own.mutx-old np
fi

case_ "root replacing another user's tree is warned of, as a file is"
if [[ $(id -u) -eq 0 ]]; then
  mkdir theirs && chown 65534:65534 theirs
  tar -C src -c . | m --tree theirs 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_eq "$ERR" $'Warning: theirs was owned by nobody:nogroup and is now owned by root:root\nHint: Pass --preserve-owner (or --try-preserve-owner), or set preserve-owner = true in the config file, to keep the owner.' "stderr"
  expect_eq "$(stat -c %U theirs)" root "theirs's owner"
  tar -C src -c . | m --tree theirs 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_eq "$ERR" "" "stderr of the next write (root's tree now)"
  rm -rf theirs .theirs.mutx-old
fi

case_ "-v and --json events"
tar -C src -c . | m --tree -v site 2>"$T/.stderr"
ERR=$(cat "$T/.stderr")
expect_match "$ERR" $'Lock acquired\nOld tree kept as \\.site\\.mutx-old\nWrote [0-9]+ entries \\([0-9]+ bytes\\) to site' "-v"
OUT=$(tar -C src -c . | m --tree --json site 2>&1 | tail -n 1)
expect_eq "$(jq -r '[.event, .strategy, .staging, (.entries > 3)] | join(" ")' <<<"$OUT")" "committed tar staged tree true" "json"

case_ "refused before anything changes"
printf 'file\n' >plain
run_in "" --no-config --tree plain
expect_rc 1
expect_match "$ERR" $'^Error: plain: Not a directory.*\nHint: A tree write replaces a directory; plain is another kind of file.$' "stderr"
run_in "" --no-config --tree site
expect_rc 1
expect_eq "$ERR" $'Error: No input provided\nHint: The directory was left as it was; give a tar stream, such as tar -C SRC -c .' "stderr"
tar -c -T /dev/null | m --tree site 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 1
expect_eq "$ERR" $'Error: the archive holds no entries\nHint: The directory was left as it was; pass --allow-empty to make it an empty directory.' "stderr"
tar -c -T /dev/null | m --tree --allow-empty empty 2>/dev/null
expect_only empty
rm -rf empty .empty.mutx-old
run --no-config --tree site -- cat
expect_rc 1
expect_match "$ERR" '^Error: --tree cannot be combined with a command' "stderr"
run_in x --no-config --tree --append site
expect_match "$ERR" '^Error: --tree cannot be combined with --append' "stderr"
run --no-config --tree-from src --input x.tar site
expect_match "$ERR" '^Error: --tree cannot be combined with both --tree-from and --input' "stderr"
run --no-config --tree-from "$T/missing" site
expect_rc 1
expect_eq "$ERR" $'Error: '"$T"$'/missing: No such file or directory\nHint: --tree-from SRCDIR names the directory whose copy replaces DIR.' "stderr"
if command -v script >/dev/null; then
  OUT=$(script -qec "'$MUTX' --no-config --tree site" /dev/null </dev/null 2>&1)
  expect_has "$OUT" "Error: --tree reads a tar stream, and standard input is a terminal"
fi
expect_only . src site .site.mutx-old g .g.mutx-old deep copy plain other

case_ "a symbolic link to DIR is followed: the directory it names is replaced"
ln -s site link
tar -C src -c . | m --tree link 2>/dev/null
expect_eq "$(readlink link)" site "link"
expect_content site/a $'new\n'
rm link

finish
