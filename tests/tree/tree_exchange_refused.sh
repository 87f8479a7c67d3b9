#!/usr/bin/env bash
# A filesystem that refuses renameat2(RENAME_EXCHANGE) (replacing DIR) or
# RENAME_NOREPLACE (a new DIR) with EINVAL, as some FUSE and network
# filesystems do, injected by strace: exit 1, the error and the hint that
# mutx never swaps a directory in two steps, DIR as it was (or still
# absent), and nothing left beside it (staged tree, lock file).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/lib.sh"
. "$HERE/../crash/lib_crash.bash"
need_strace_inject
mkdir w && cd w || exit 1
mkdir src && printf 'new\n' >src/a
tar -C src -c . >"$T/new.tar"
mkdir site && printf 'old\n' >site/a

refused() {  # DIR: a tree write with every renameat2 failing EINVAL
  strace -f -qq -o /dev/null -e inject=renameat2:error=EINVAL \
    "$MUTX" --no-config --tree "$1" <"$T/new.tar" 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
}

case_ "RENAME_EXCHANGE refused: DIR is kept"
refused site
expect_rc 1
expect_has "$ERR" "Error: cannot swap the new tree with site: Invalid argument" "stderr"
expect_has "$ERR" "Hint: This filesystem does not offer renameat2(RENAME_EXCHANGE)" "stderr"
expect_has "$ERR" "never replaces a directory in two steps" "stderr"
expect_content site/a $'old\n'
expect_only . src site

case_ "RENAME_NOREPLACE refused: no DIR appears"
refused fresh
expect_rc 1
expect_has "$ERR" "Error: cannot name the new tree fresh: Invalid argument" "stderr"
expect_has "$ERR" "Hint: This filesystem does not offer renameat2(RENAME_NOREPLACE)" "stderr"
expect_missing fresh
expect_only . src site
finish
