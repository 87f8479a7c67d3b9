#!/usr/bin/env bash
# A real full filesystem: a 1 MiB tmpfs. Writing more than fits must give
# exit 1 with a message about space, leave the old content, leave nothing
# behind (no temp, no lock file) and give the space back (`df` shows the
# same use as before the write). Simple mode, --stream, --append,
# --backup and a command's output (which must not hang). Needs root for the mount.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
need_root "mounting a tmpfs needs root"

MNT=$T/small
mkdir -p "$MNT"
mount -t tmpfs -o size=1m,mode=0755 mutx-enospc "$MNT" 2>"$T/.mount.err" || skip "cannot mount a tmpfs: $(cat "$T/.mount.err")"
on_exit "umount -l '$MNT'"

head -c $((200 * 1024)) /dev/urandom >"$T/old"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$T/big"
cp "$T/old" "$MNT/t"
used() { df --output=used -B1 "$MNT" | tail -1 | tr -d ' '; }

for flags in "" "--stream" "--append" "--stream --append" "--backup" "--input $T/big"; do
  case_ "ENOSPC [$flags]"
  before=$(used)
  # shellcheck disable=SC2086
  "$MUTX" --no-config $flags "$MNT/t" <"$T/big" >/dev/null 2>"$T/.err"
  RC=$?
  ERR=$(cat "$T/.err")
  expect_rc 1
  expect_match "$ERR" "^Error: " "stderr"
  expect_match "$ERR" "[Ss]pace" "message mentions space"
  expect_same_file "$MNT/t" "$T/old"
  if [[ $flags == *--backup* && -e $MNT/t.backup ]]; then
    expect_same_file "$MNT/t.backup" "$T/old"
    rm -f "$MNT/t.backup"
    before=$(used)
  fi
  expect_only "$MNT" t
  expect_eq "$(used)" "$before" "bytes used on the tmpfs after the failed write"
done

# A command whose output does not fit: exit 1 in bounded time (the read end
# of its pipe is closed and the command ended, on both I/O paths and in the
# lazy syscall start of auto), never a hang, target untouched.
for io in auto syscalls uring; do
  case_ "ENOSPC from a command, --io=$io"
  before=$(used)
  timeout -s KILL 20 "$MUTX" --no-config --io=$io "$MNT/t" -- head -c 20000000 /dev/zero >/dev/null 2>"$T/.err"
  RC=$?
  ERR=$(cat "$T/.err")
  expect_rc 1
  expect_match "$ERR" "^Error: $MNT/t: No space left on device" "stderr (PRD 7.3's words)"
  expect_same_file "$MNT/t" "$T/old"
  expect_only "$MNT" t
  expect_eq "$(used)" "$before" "bytes used on the tmpfs after the failed write"
  case_ "ENOSPC from a command that ignores SIGPIPE and sleeps, --io=$io"
  SECONDS=0
  timeout -s KILL 20 "$MUTX" --no-config --io=$io "$MNT/t" -- \
    sh -c 'trap "" PIPE; head -c 20000000 /dev/zero; exec sleep 30' >/dev/null 2>"$T/.err"
  RC=$?
  expect_rc 1
  ((SECONDS < 15)) && pass || fail "took ${SECONDS}s: the command was awaited, not ended"
  expect_same_file "$MNT/t" "$T/old"
  expect_only "$MNT" t
done

# And the filesystem is still usable: a write that fits succeeds.
case_ "write after ENOSPC"
run_in "fits" --no-config "$MNT/t"
expect_rc 0
expect_content "$MNT/t" "fits"
expect_only "$MNT" t
finish
