#!/usr/bin/env bash
# Power loss: on loop-mounted xfs, ext4 and ext4 with noauto_da_alloc (the
# mount option that turns off ext4's replace-by-rename heuristic, so only
# mutx's own fsyncs count), write 10 versions with mutx, each acknowledged
# (exit 0), then cut the filesystem off with `xfs_io -x -c shutdown`
# (no log flush: what was not synced is lost, as on power loss), unmount
# and mount again. The last acknowledged version must be there, whole; its
# backup (the version before) too; housekeep then leaves only the two.
# MUTX_TEST_SIZE rounds per filesystem. Needs root and loop devices.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/lib.sh"
. "$HERE/lib_crash.bash"
need_cmd xfs_io
need_loop_mounts

VERSIONS=10
for ((v = 1; v <= VERSIONS; v++)); do
  # Sizes from 3 bytes to ~2 MiB, so both small and streamed writes are cut.
  head -c $(((v * v * v * 2003) % (2 * 1024 * 1024) + 3)) /dev/urandom >"$T/v$v"
done
# How each version is written: simple, stream, backup, file input.
mode_flags() {
  case $(($1 % 4)) in
    0) echo "--backup" ;;
    1) echo "" ;;
    2) echo "--stream --backup" ;;
    3) echo "--input $T/v$1 --backup" ;;
  esac
}

ROUNDS=0
CHECKED=0
for fs in xfs ext4 ext4-noauto_da_alloc; do
  type=${fs%%-*}
  opts=
  [[ $fs == *-* ]] && opts=${fs#*-}
  command -v "mkfs.$type" >/dev/null || { echo "NOTE: $fs skipped: mkfs.$type not installed" >&2; continue; }
  for ((round = 1; round <= SIZE; round++)); do
    case_ "$fs round $round"
    MNT=$T/mnt-$fs
    if ! mount_image "$type" "$MNT" "$opts"; then fail "$IMG_WHY"; continue; fi
    mkdir -p "$MNT/d"
    acked=0
    for ((v = 1; v <= VERSIONS; v++)); do
      # shellcheck disable=SC2046
      if "$MUTX" --no-config $(mode_flags $v) "$MNT/d/t" <"$T/v$v" 2>"$T/.err"; then
        acked=$v
      else
        fail "version $v: $(cat "$T/.err")"
      fi
    done
    if ! xfs_io -x -c shutdown "$MNT" 2>"$T/.err"; then
      echo "NOTE: $fs: shutdown ioctl refused ($(cat "$T/.err")); skipped" >&2
      umount "$MNT"
      break
    fi
    umount "$MNT" || umount -l "$MNT"
    mount -o "loop${opts:+,$opts}" "$T/$type.img" "$MNT" || { fail "remount after shutdown failed"; continue; }
    ROUNDS=$((ROUNDS + 1))
    if [[ $acked -ge 1 ]]; then
      if cmp -s "$MNT/d/t" "$T/v$acked"; then pass; else fail "after power loss: $(describe_file "$MNT/d/t"), expected version $acked ($(stat -c %s "$T/v$acked") bytes)"; fi
      CHECKED=$((CHECKED + 1))
    fi
    if [[ $acked -ge 2 && $(mode_flags $acked) == *--backup* ]]; then
      if cmp -s "$MNT/d/t.backup" "$T/v$((acked - 1))"; then pass; else fail "backup after power loss: $(describe_file "$MNT/d/t.backup")"; fi
    fi
    housekeep_clean "$MNT/d" || fail "housekeep after power loss: $(cat "$T/.hk.err")"
    expect_only "$MNT/d" t t.backup
    umount "$MNT"
    rm -f "$T/$type.img"
  done
done
[[ $ROUNDS -gt 0 ]] || skip "no filesystem could be shut down here"
echo "power-loss rounds: $ROUNDS ($VERSIONS acknowledged writes each; last version intact in $CHECKED)"
finish
