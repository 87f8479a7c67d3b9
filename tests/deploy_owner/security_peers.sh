#!/usr/bin/env bash
# The man page's SECURITY section, measured: a file of mode 0444 in a
# directory the caller may write. As an unprivileged user the shell's `>`
# and mutx refuse it (the file as it was), while sponge and sed -i replace
# it with a new file of mode 0444 (a rename needs only the directory). As
# root all four write it: `>` the same inode, the others a new one, mode
# 0444 kept.
. "$(dirname "$0")/../cli/lib.sh"
need_root "runs the tools as nobody and as root"
need_cmd setpriv
need_cmd sponge
need_cmd sed
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

chmod 755 "$T"
mkdir -m 777 d
fresh() {  # NAME: d/NAME, nobody's, "old", mode 0444
  rm -f "d/$1"
  printf 'old\n' >"d/$1"
  chown 65534:65534 "d/$1"
  chmod 444 "d/$1"
}
ino() { stat -c %i "$1"; }

case_ "as nobody: > fails with Permission denied, the file as it was"
fresh shell
as_nobody sh -c 'printf "new\n" > d/shell' 2>"$T/.err"
RC=$? ERR=$(cat "$T/.err")
expect_rc 2
expect_has "$ERR" "Permission denied" "sh's message"
expect_content d/shell $'old\n'

case_ "as nobody: mutx refuses it too"
fresh m
printf 'new\n' | as_nobody "$MUTX" --no-config d/m 2>"$T/.err"
RC=$? ERR=$(cat "$T/.err")
expect_rc 1
expect_match "$ERR" "^Error: d/m: Permission denied" "stderr"
expect_content d/m $'old\n'
expect_only d m shell

for tool in sponge sed; do
  case_ "as nobody: $tool replaces it with a new file of mode 0444"
  fresh "$tool"
  before=$(ino "d/$tool")
  if [[ $tool == sponge ]]; then
    printf 'new\n' | as_nobody sponge "d/$tool"
  else
    as_nobody sed -i 's/old/new/' "d/$tool"
  fi
  RC=$? ERR=
  expect_rc 0
  expect_content "d/$tool" $'new\n'
  expect_mode "d/$tool" 444
  [[ $(ino "d/$tool") != "$before" ]] && pass || fail "$tool kept the inode"
done

case_ "as root: all four write it; > keeps the inode, the others make a new one, mode 0444 kept"
for tool in shell m sponge sed; do
  fresh "$tool"
  before=$(ino "d/$tool")
  case $tool in
    shell) sh -c 'printf "new\n" > d/shell' ;;
    m) printf 'new\n' | "$MUTX" --no-config d/m 2>/dev/null ;;  # (its owner warning: metadata_owner.sh)
    sponge) printf 'new\n' | sponge d/sponge ;;
    sed) sed -i 's/old/new/' d/sed ;;
  esac
  RC=$? ERR=
  expect_rc 0
  expect_content "d/$tool" $'new\n'
  expect_mode "d/$tool" 444
  if [[ $tool == shell ]]; then
    expect_eq "$(ino d/shell)" "$before" "> writes the same inode"
  else
    [[ $(ino "d/$tool") != "$before" ]] && pass || fail "$tool kept the inode"
  fi
done
finish
