#!/usr/bin/env bash
# The core end-to-end sample (binary data, --stream, --backup, --append,
# --input file, a symlinked OUTPUT followed, the command form) on tmpfs and
# on loop-mounted ext4, xfs and btrfs images, and as an unprivileged user
# (setpriv) in a directory that user owns. Each filesystem differs in what
# mutx meets: O_TMPFILE, O_DIRECT, reflinks (btrfs, xfs), splice. Needs root
# for the mounts and setpriv; each part skips with a note when unavailable,
# the whole test only when none can run.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/lib.sh"
. "$HERE/lib_crash.bash"
need_root "mounting filesystems and switching users need root"

head -c $((64 * 1024 + 5)) /dev/urandom >"$T/bin"       # binary, NULs included
head -c $((3 * 1024 * 1024 + 11)) /dev/urandom >"$T/big"  # --stream
printf 'old content\n' >"$T/old"
chmod 644 "$T"/bin "$T"/big "$T"/old
AS=()     # command prefix for mutx (setpriv for the unprivileged run)
OWNER=    # chown files the sample prepares to this user

prep() {  # file content-file [mode]
  cp "$T/$2" "$1"
  chmod "${3:-644}" "$1"
  [[ -z $OWNER ]] || chown "$OWNER" "$1"
}
m() { "${AS[@]}" "$MUTX" --no-config "$@"; }

sample() {  # dir label
  local d=$1 where=$2
  case_ "$where: binary, mode kept"
  prep "$d/t" old 640
  if m "$d/t" <"$T/bin" 2>"$T/.err"; then pass; else fail "$(cat "$T/.err")"; fi
  expect_same_file "$d/t" "$T/bin"
  expect_mode "$d/t" 640
  expect_only "$d" t

  case_ "$where: --stream"
  if cat "$T/big" | m --stream "$d/t" 2>"$T/.err"; then pass; else fail "$(cat "$T/.err")"; fi
  expect_same_file "$d/t" "$T/big"
  expect_only "$d" t

  case_ "$where: --backup"
  prep "$d/t" old
  if m --backup "$d/t" <"$T/bin" 2>"$T/.err"; then pass; else fail "$(cat "$T/.err")"; fi
  expect_same_file "$d/t" "$T/bin"
  expect_same_file "$d/t.backup" "$T/old"
  rm -f "$d/t.backup"

  case_ "$where: --append"
  prep "$d/t" old
  if m --append "$d/t" <"$T/bin" 2>"$T/.err"; then pass; else fail "$(cat "$T/.err")"; fi
  cat "$T/old" "$T/bin" >"$T/want"
  expect_same_file "$d/t" "$T/want"
  if cat "$T/big" | m --append --stream "$d/t" 2>"$T/.err"; then pass; else fail "$(cat "$T/.err")"; fi
  cat "$T/want" "$T/big" >"$T/want2"
  expect_same_file "$d/t" "$T/want2"
  expect_only "$d" t

  case_ "$where: --input (clone or copy_file_range)"
  prep "$d/src" big
  if m --input "$d/src" "$d/t" 2>"$T/.err"; then pass; else fail "$(cat "$T/.err")"; fi
  expect_same_file "$d/t" "$T/big"
  rm -f "$d/src"

  case_ "$where: symlink followed"
  prep "$d/real" old
  ln -s real "$d/link"
  [[ -z $OWNER ]] || chown -h "$OWNER" "$d/link"
  if m "$d/link" <"$T/bin" 2>"$T/.err"; then pass; else fail "$(cat "$T/.err")"; fi
  if [[ -L $d/link && $(readlink "$d/link") == real ]]; then pass; else fail "the symlink was not kept"; fi
  expect_same_file "$d/real" "$T/bin"
  rm -f "$d/link" "$d/real"

  case_ "$where: command form"
  prep "$d/t" old
  if m "$d/t" -- tr a-z A-Z 2>"$T/.err"; then pass; else fail "$(cat "$T/.err")"; fi
  expect_content "$d/t" "OLD CONTENT"$'\n'
  expect_only "$d" t
  rm -f "$d/t"
}

PARTS=0
case_ "tmpfs"
mkdir -p "$T/tmpfs"
if mount -t tmpfs -o size=64m mutx-fs "$T/tmpfs" 2>/dev/null; then
  on_exit "umount -l '$T/tmpfs'"
  sample "$T/tmpfs" tmpfs
  PARTS=$((PARTS + 1))
else
  echo "NOTE: tmpfs part skipped: cannot mount tmpfs" >&2
fi

if [[ -e /dev/loop-control ]]; then
  for fs in ext4 xfs btrfs; do
    if mount_image "$fs" "$T/$fs"; then
      mkdir "$T/$fs/d"  # ext4 has lost+found at its root
      sample "$T/$fs/d" "$fs"
      PARTS=$((PARTS + 1))
    else
      echo "NOTE: $fs part skipped: $IMG_WHY" >&2
    fi
  done
else
  echo "NOTE: loop-mounted filesystems skipped: no /dev/loop-control" >&2
fi

if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
  USER_ID=$(id -u nobody)
  GROUP_ID=$(id -g nobody)
  # The binary and $T must be reachable by that user.
  if setpriv --reuid="$USER_ID" --regid="$GROUP_ID" --clear-groups -- test -x "$MUTX"; then
    chmod 711 "$T"
    mkdir -p "$T/user"
    chown "$USER_ID:$GROUP_ID" "$T/user"
    AS=(setpriv --reuid="$USER_ID" --regid="$GROUP_ID" --clear-groups --)
    OWNER=$USER_ID:$GROUP_ID
    sample "$T/user" "unprivileged"
    case_ "unprivileged: a file the user may not write is refused"
    cp "$T/old" "$T/user/rootfile"
    chmod 644 "$T/user/rootfile"
    m "$T/user/rootfile" <"$T/bin" >/dev/null 2>"$T/.err"
    RC=$?
    ERR=$(cat "$T/.err")
    expect_rc 1
    expect_match "$ERR" "Permission denied" "message"
    expect_same_file "$T/user/rootfile" "$T/old"
    expect_only "$T/user" rootfile
    AS=()
    OWNER=
    PARTS=$((PARTS + 1))
  else
    echo "NOTE: unprivileged part skipped: user nobody cannot run $MUTX" >&2
  fi
else
  echo "NOTE: unprivileged part skipped: no setpriv or no user nobody" >&2
fi

[[ $PARTS -gt 0 ]] || skip "no filesystem or user could be set up"
echo "filesystems and users covered: $PARTS"
finish
