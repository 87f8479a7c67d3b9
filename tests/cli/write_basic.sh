#!/usr/bin/env bash
# The write path byte for byte: stdin text and binary, --input, --stream
# from a pipe and from a regular file on stdin, simple mode below and above
# 1 MiB (the O_DIRECT path), sizes around the 4096 alignment and 4 MiB
# buffers, both I/O paths forced with --io, a target that is its own input.
# Every write leaves the target and nothing else (no temp, no lock file).
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config

mkdir d

case_ "stdin text"
run_in $'hello\nworld\n' d/out
expect_rc 0
expect_content d/out $'hello\nworld\n'
expect_eq "$ERR" "" "stderr"
expect_only d out

case_ "no trailing newline"
run_in 'no newline at the end' d/out
expect_rc 0
expect_content d/out 'no newline at the end'
expect_eq "$(stat -c %s d/out)" 21 "size"
expect_only d out

case_ "shorter content replaces a longer file entirely"
head -c 100000 /dev/urandom >d/out
ino_before=$(stat -c %i d/out)
run_in 'short' d/out
expect_rc 0
expect_content d/out 'short'
# A new inode: the old file was replaced, not rewritten in place.
if [[ $(stat -c %i d/out) != "$ino_before" ]]; then pass; else fail "the target kept its inode (written in place?)"; fi
expect_only d out

# All 256 byte values, NULs among them, twice, no trailing newline.
for i in $(seq 0 255); do printf "\\$(printf %03o "$i")"; done >all256
cat all256 all256 >bin
printf '\0\0\0a\0b\0' >>bin
expect_eq "$(stat -c %s bin)" $((512 + 7)) "size of the binary reference"

case_ "binary stdin from a regular file (simple)"
"$MUTX" d/bin <bin 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_same_file d/bin bin
expect_only d out bin

case_ "binary stdin from a pipe (simple)"
rm -f d/bin
cat bin | "$MUTX" d/bin 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_same_file d/bin bin
expect_only d out bin

case_ "binary stdin from a pipe (--stream)"
rm -f d/bin
cat bin | "$MUTX" --stream d/bin 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_same_file d/bin bin
expect_only d out bin

case_ "binary --input"
rm -f d/bin
run -i bin d/bin
expect_rc 0
expect_same_file d/bin bin
expect_only d out bin

case_ "binary --input=FILE --stream"
rm -f d/bin
run --input=bin --stream d/bin
expect_rc 0
expect_same_file d/bin bin
expect_only d out bin

case_ "NUL bytes only"
head -c 3000 /dev/zero >zeros
head -c 3000 /dev/zero | "$MUTX" d/zeros 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_same_file d/zeros zeros
rm -f d/zeros d/bin

# Sizes around the 4096 alignment, the 1 MiB simple/direct boundary and the
# 4 MiB buffers, through every input route.
M=$((1024 * 1024))
for size in 1 4095 4096 4097 $((M - 1)) $M $((M + 1)) $((4 * M - 1)) $((4 * M)) $((4 * M + 1)) $((9 * M + 4097)); do
  head -c "$size" /dev/urandom >src
  for route in pipe pipe-stream file-stdin file-stdin-stream input input-stream; do
    case_ "$size bytes, $route"
    rm -f d/out
    case $route in
      pipe) cat src | "$MUTX" d/out 2>"$T/.stderr" ;;
      pipe-stream) cat src | "$MUTX" --stream d/out 2>"$T/.stderr" ;;
      file-stdin) "$MUTX" d/out <src 2>"$T/.stderr" ;;
      file-stdin-stream) "$MUTX" --stream d/out <src 2>"$T/.stderr" ;;
      input) "$MUTX" -i src d/out 2>"$T/.stderr" ;;
      input-stream) "$MUTX" --stream --input src d/out 2>"$T/.stderr" ;;
    esac
    RC=$? ERR=$(cat "$T/.stderr")
    expect_rc 0
    expect_same_file d/out src
    expect_eq "$ERR" "" "stderr"
    expect_only d out
  done
done

case_ "replacing an existing file through a pipe, 2 MiB over 5 MiB"
head -c $((5 * M)) /dev/urandom >d/out
head -c $((2 * M)) /dev/urandom >src
cat src | "$MUTX" d/out 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_same_file d/out src
expect_only d out

# A write larger than 1 MiB from a pipe in simple mode takes the direct path
# when the filesystem accepts O_DIRECT; a small one does not need to.
case_ "simple mode above 1 MiB names its strategy"
head -c $((3 * M + 123)) /dev/urandom >src
cat src | "$MUTX" -vv d/out 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_same_file d/out src
expect_match "$ERR" "Wrote $((3 * M + 123)) bytes by [a-z_/]+" "-vv names the strategy"
expect_only d out

for io in uring syscalls; do
  case_ "--io=$io, pipe, simple"
  head -c $((2 * M + 7)) /dev/urandom >src
  rm -f d/out
  cat src | "$MUTX" --io="$io" -vv d/out 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_same_file d/out src
  if [[ $io == uring ]]; then
    expect_match "$ERR" "I/O backend: io_uring" "-vv names the backend"
  else
    expect_match "$ERR" "I/O backend: syscalls" "-vv names the backend"
  fi
  expect_only d out

  case_ "--io $io, pipe, --stream"
  rm -f d/out
  cat src | "$MUTX" --io "$io" --stream d/out 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_same_file d/out src
  expect_only d out

  case_ "--io=$io, --input, --no-sync"
  rm -f d/out
  run --io="$io" --no-sync -i src d/out
  expect_rc 0
  expect_same_file d/out src
  expect_only d out
done

# /proc and sysfs files report a size of 0 and have content: not "empty".
for flags in "" "--stream" "--append"; do
  case_ "--input /proc/sys/kernel/ostype $flags (size 0, has content)"
  rm -f d/proc
  # shellcheck disable=SC2086
  run -i /proc/sys/kernel/ostype $flags d/proc
  expect_rc 0
  expect_content d/proc $'Linux\n'  # cmp would go by the size and say they differ
done
case_ "stdin from /proc/sys/kernel/ostype"
"$MUTX" d/proc2 </proc/sys/kernel/ostype 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content d/proc2 $'Linux\n'
rm -f d/proc d/proc2

# The temp name is NAME plus 19 bytes: a NAME that leaves no room for them
# is refused before any input is read, with nothing left and nothing lost.
long=$(printf 'n%.0s' {1..236})
case_ "a 236-byte name (the longest that leaves room for the temp name)"
run_in 'fits' "d/$long"
expect_rc 0
expect_content "d/$long" 'fits'
rm -f "d/$long"
for flags in "" "--stream"; do
  case_ "a 237-byte name $flags"
  printf 'old' >"d/${long}m"
  # shellcheck disable=SC2086
  run_in 'new' $flags "d/${long}m"
  expect_rc 1
  expect_match "$ERR" "^Error: d/${long}m: File name too long" "stderr"
  expect_match "$ERR" 'Hint: mutx stages the new content as \.NAME\.mutx-X+ beside it, and this directory takes names of at most 255 bytes: NAME can have 236 at most\.' "hint"
  expect_content "d/${long}m" 'old'
  expect_only d out "${long}m"
  rm -f "d/${long}m"
done

# Waiting for a slow pipe never leaves the caller's file description
# O_NONBLOCK: the shell's pipe (or terminal) is shared with what runs next.
for flags in "" "--stream" "--io=syscalls" "--io=syscalls --stream"; do
  case_ "stdin stays blocking after a wait for input [$flags]"
  # shellcheck disable=SC2086
  flags_after=$( (sleep 0.3; printf 'late') | { "$MUTX" $flags d/nb 2>"$T/.stderr"; echo "rc=$?"; grep '^flags:' /proc/self/fdinfo/0; })
  expect_match "$flags_after" '^rc=0' "mutx exit code"
  oct=$(sed -n 's/^flags:[[:space:]]*//p' <<<"$flags_after")
  if [[ -n $oct && $((8#$oct & 8#4000)) -eq 0 ]]; then pass; else fail "stdin flags after mutx: '$oct' (O_NONBLOCK is 04000)"; fi
  expect_content d/nb 'late'
  rm -f d/nb
done

# `cat f | mutx f`: mutx replaces the file with a new inode, so cat keeps
# reading the old one and the content stays whole.
for flags in "" "--stream"; do
  case_ "cat f | mutx $flags f (its own input)"
  head -c $((3 * M + 5)) /dev/urandom >d/self
  cp d/self self.ref
  # shellcheck disable=SC2086
  cat d/self | "$MUTX" $flags d/self 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_same_file d/self self.ref
  expect_only d out self
  rm -f d/self
done

case_ "a transform of its own target"
printf 'a\nb\nc\n' >d/self
tr a-z A-Z <d/self | "$MUTX" d/self 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content d/self $'A\nB\nC\n'
expect_only d out self

case_ "stdin as a regular file read from the middle"
printf '0123456789' >ten
{ dd bs=4 count=1 of=/dev/null status=none; "$MUTX" d/mid 2>"$T/.stderr"; } <ten
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content d/mid '456789'

finish
