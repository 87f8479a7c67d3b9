#!/usr/bin/env bash
# --append: new content = old content + input, published atomically under
# the lock (the old bytes copied in the kernel, FICLONE or copy_file_range).
# A missing OUTPUT is created; empty input is refused unless --allow-empty;
# every input form (stdin, --stream, --input) appends; mode is kept.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
mkdir w && cd w || exit 1

case_ "old + input"
printf 'one\n' >A
run_in $'two\n' --append A
expect_rc 0
expect_content A $'one\ntwo\n'
run_in 'no newline' --append A
run_in $'\nthree\n' --append A
expect_content A $'one\ntwo\nno newline\nthree\n'
expect_only . A

case_ "appending to a nonexistent file creates it"
run_in 'first' --append fresh
expect_rc 0
expect_content fresh 'first'
expect_mode fresh 644
expect_only . A fresh

case_ "every input form appends"
printf 'from file\n' >in
run --append -i in A
expect_rc 0
run_in $'streamed\n' --append --stream A
expect_rc 0
expect_content A $'one\ntwo\nno newline\nthree\nfrom file\nstreamed\n'
rm in

case_ "empty input: refused, or nothing added with --allow-empty"
cp A A.want
run_in '' --append A
expect_rc 1
expect_match "$ERR" "^Error: No input provided" "stderr"
expect_same_file A A.want
run_in '' --append --allow-empty A
expect_rc 0
expect_same_file A A.want
rm A.want
expect_only . A fresh

case_ "mode kept, backup holds the old content"
chmod 640 A
printf 'base\n' >B
run_in $'more\n' --append --backup B
expect_rc 0
expect_content B $'base\nmore\n'
expect_content B.backup $'base\n'
run_in $'x\n' --append A
expect_mode A 640

case_ "large old content, binary safe"
head -c 4000000 /dev/urandom >big
cp big big.want
head -c 100000 /dev/urandom >tail
cat tail >>big.want
run --append -i tail big
expect_rc 0
expect_same_file big big.want
run --append --stream big <tail
cat tail >>big.want
expect_same_file big big.want
rm big.want tail

case_ "the old bytes are copied in the kernel, not through user space"
run --append -vv --json big <<<'end'
expect_rc 0
expect_match "$ERR" '"event":"append"[^}]*"strategy":"(FICLONE|copy_file_range)"' "append strategy"

case_ "--append with the command form: the command's output is appended"
printf '1\n' >C
run --append C -- sh -c 'read n; echo $((n+1))'
expect_rc 0
expect_content C $'1\n2\n'

case_ "--append on a file the caller may not replace is refused"
if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null 2>&1; then
  echo "note: needs root and setpriv; permission case not run" >&2
else
  mkdir open && chmod 777 open
  printf 'root only\n' >open/R
  chmod 644 open/R
  OUT=$(printf 'x' | setpriv --reuid=65534 --regid=65534 --clear-groups "$MUTX" --append open/R 2>"$T/.stderr")
  RC=$?
  ERR=$(cat "$T/.stderr")
  expect_rc 1
  expect_match "$ERR" "Permission denied" "stderr"
  expect_content open/R $'root only\n'
  expect_only open R
fi

finish
