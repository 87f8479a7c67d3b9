#!/usr/bin/env bash
# What a tree write says when it refuses, and that it refuses up front:
#   - --tree-from a directory that holds DIR (`--tree-from .` into ./d2):
#     the copy would hold the staged tree built beside DIR and copy it into
#     itself without end; refused at once, exit 1, nothing left;
#   - an entry's name with a newline, ESC and C1 CSI is escaped (\n, \x1b,
#     \xc2\x9b): it can neither forge an "Error:" line nor send a terminal
#     escape;
#   - a name longer than the filesystem takes, and a path longer than
#     PATH_MAX: the entry is named, with the hint that nothing was published;
#   - a damaged header (a bad checksum) is a damaged archive, not an entry
#     with an empty name.
# DIR stays as it was each time.
. "$(dirname "$0")/../cli/lib.sh"
MK=$MUTX_SOURCE_DIR/tests/tree/make_tar.py
need_cmd python3
mkdir w && cd w || exit 1
mkdir site src && printf 'old\n' >site/a && printf 'new\n' >src/a
tree() {  # ARGS...: mutx --tree ARGS, stdin as given; RC, ERR (30 s at most: the old copy of . into itself never ended)
  timeout 30 "$MUTX" --no-config "$@" 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
}
crafted() {  # KIND: make_tar.py's archive KIND into site
  python3 "$MK" "$1" >"$T/crafted.tar" || fatal "make_tar.py $1"
  tree --tree site <"$T/crafted.tar"
}
kept() {  # DIR as it was, nothing beside it
  expect_content site/a $'old\n'
  expect_only . site src
}

case_ "--tree-from . into a DIR inside it: refused at once"
tree --tree-from . --tree d2
expect_rc 1
expect_has "$ERR" "Error: d2: lies inside ., the source directory" "stderr"
expect_has "$ERR" "Hint: Copy from a directory that does not hold d2" "stderr"
kept

case_ "--tree-from an ancestor of DIR's directory: refused"
mkdir src/deeper
tree --tree-from . --tree src/deeper/d3
expect_rc 1
expect_has "$ERR" "Error: src/deeper/d3: lies inside ., the source directory" "stderr"
expect_only src/deeper
rmdir src/deeper

case_ "--tree-from DIR itself, or a directory beside it: allowed"
tree --tree-from src --tree site
expect_rc 0
expect_content site/a $'new\n'
tree --tree-from site --tree site
expect_rc 0
expect_content site/a $'new\n'
rm -rf site .site.mutx-old && mkdir site && printf 'old\n' >site/a

case_ "a name with control characters is escaped"
crafted control-name
expect_rc 1
expect_eq "$(grep -c '' <<<"$ERR")" 2 "stderr lines (Error and Hint)"
expect_has "$ERR" "Error: site: the archive entry 'x\nError: forged line\x1b[31m\xc2\x9b' refused: a symbolic link to the absolute path '/etc/passwd'" "stderr"
expect_eq "$(tr -d '\n' <<<"$ERR" | LC_ALL=C tr -d '[:print:]' | wc -c)" 0 "unprintable bytes in stderr"
kept

case_ "a name longer than the filesystem takes: the entry is named"
crafted long-name
expect_rc 1
expect_has "$ERR" "Error: site: the archive entry '$(printf 'n%.0s' $(seq 300))' refused: a name of 300 bytes, longer than the 255 this filesystem takes" "stderr"
expect_has "$ERR" "Hint: Nothing was published; site was left as it was." "stderr"
kept

case_ "a path longer than PATH_MAX: the entry is named"
crafted long-path
expect_rc 1
expect_match "$ERR" "^Error: site: the archive entry '(d{200}/){21}' refused: a path of 4221 bytes, longer than the 4095 a path may have" "stderr"
kept

case_ "a damaged header checksum: a damaged archive"
tar -C src -c . >"$T/good.tar"
python3 - "$T/good.tar" "$T/bad.tar" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[512 + 148:512 + 156] = b"0000000\0"  # the second header's checksum
open(sys.argv[2], "wb").write(d)
PY
tree --tree site <"$T/bad.tar"
expect_rc 1
expect_has "$ERR" "Error: standard input: after entry 1: Damaged tar archive" "stderr"
kept
finish
