#!/usr/bin/env bash
# Targets mutx cannot replace by a rename, refused before anything is
# created: exit 1, an `Error:` line that says why and a `Hint:`, the target
# (and an older backup of it) byte for byte as it was, and nothing new beside
# it (no .NAME.mutx-* temp, no NAME.lock, no backup).
#  - A descriptor: /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N,
#    /proc/PID/fd/N, and links that lead there, whatever --symlinks says.
#    Followed, they reach the file the shell redirected to and mutx renamed
#    over it, under a shell that kept writing to the old inode.
#  - An append-only or immutable directory (chattr +a/+i), an append-only
#    file, a bind-mounted file (a mount point), and another user's file in a
#    sticky directory: each used to fail only at the rename, after the lock
#    file, a temp or a backup was made. The same for OUTPUT.backup (an
#    immutable, append-only, or another user's one in a sticky directory or
#    --backup-dir) and for a --lock-file's directory (immutable: refused;
#    append-only: a warning that the lock file stays; unreachable: said so).
# The descriptor cases run as any user; the rest need root (chattr, mounts,
# setpriv to nobody). A part that cannot run makes the script exit 77 with
# its reason once the parts that can run have passed.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
SKIPPED=()
not_run() { SKIPPED+=("$*"); echo "NOTE: not run: $*" >&2; }

DESC="is a file descriptor, not a file mutx can replace"

# ---------------------------------------------------------------- descriptors
mkdir "$T/w"
# run_redirected FLAGS OUTPUT: mutx's stdout redirected to w/log between two
# lines of the shell's own, as in `{ echo header; ... | mutx /dev/stdout;
# echo footer; } > log`. If mutx renamed over log, footer would go to the
# unlinked inode and log would hold BODY alone.
run_redirected() {
  local flags=$1 out=$2
  # shellcheck disable=SC2086
  { echo header; echo BODY | "$MUTX" $flags "$out" 2>"$T/.stderr"; echo $? >"$T/.rc"; echo footer; } >"$T/w/log"
  RC=$(cat "$T/.rc") ERR=$(cat "$T/.stderr")
}

for out in /dev/stdout /dev/fd/1 /proc/self/fd/1; do
  for flags in "" "--stream" "--backup" "--append" "--symlinks=replace" "--symlinks=refuse"; do
    # Never the machine's own /dev/stdout link: a build that got it wrong
    # would replace it for everyone (it did, with the code before this
    # test). That case runs below, in a private mount namespace.
    [[ $out == /dev/stdout && $flags == --symlinks=replace ]] && continue
    case_ "$out [$flags]"
    run_redirected "$flags" "$out"
    expect_rc 1
    expect_match "$ERR" "^Error: $out: $DESC"$'\n'"Hint: .*Redirect instead \(COMMAND > FILE\)" "stderr"
    expect_content "$T/w/log" $'header\nfooter\n'
    expect_only "$T/w" log
  done
done

case_ "a link of one's own to /dev/stdout, followed and replaced"
ln -s /dev/stdout "$T/w/out"
ln -s /proc/self/fd/1 "$T/w/direct"
for link in out direct; do
  for flags in "" "--symlinks=replace"; do
    run_redirected "$flags" "$T/w/$link"
    expect_rc 1
    expect_match "$ERR" "^Error: $T/w/$link: $DESC" "stderr [$link $flags]"
    expect_content "$T/w/log" $'header\nfooter\n'
    if [[ -L $T/w/$link ]]; then pass; else fail "$link is no longer a symbolic link"; fi
  done
done
expect_only "$T/w" log out direct
rm "$T/w/out" "$T/w/direct"

case_ "/proc/PID/fd/N: another descriptor of the calling shell"
printf 'kept\n' >"$T/w/other"
exec 7>>"$T/w/other"
echo BODY | "$MUTX" "/proc/$$/fd/7" 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
echo appended >&7
exec 7>&-
expect_rc 1
expect_match "$ERR" "^Error: /proc/$$/fd/7: $DESC" "stderr"
expect_content "$T/w/other" $'kept\nappended\n'
expect_only "$T/w" log other
rm "$T/w/other"

case_ "/dev/stderr"
printf 'header\n' >"$T/w/log"
echo BODY | "$MUTX" /dev/stderr 2>>"$T/w/log"
RC=$? ERR=$(tail -n +2 "$T/w/log")
expect_rc 1
expect_match "$ERR" "^Error: /dev/stderr: $DESC" "the error, in the redirected file"
expect_eq "$(head -n 1 "$T/w/log")" header "first line of log"
expect_only "$T/w" log

case_ "a file in /proc that is not a descriptor"
run_in "x" /proc/version
expect_rc 1
expect_match "$ERR" "^Error: /proc/version: is in /proc \(a kernel interface\), not a file mutx can replace" "stderr"

# --symlinks=replace /dev/stdout as root would replace the /dev/stdout link
# itself. Run in a private mount namespace over a tmpfs /dev holding the same
# link, so that a regression cannot break the machine's /dev.
case_ "--symlinks=replace /dev/stdout as root"
rm -f "$T/.rc"
if [[ $(id -u) -ne 0 ]]; then
  not_run "--symlinks=replace /dev/stdout needs root"
elif ! command -v unshare >/dev/null; then
  not_run "--symlinks=replace /dev/stdout needs unshare(1)"
else
  # shellcheck disable=SC2016
  unshare --mount --propagation private bash -c '
    mount -t tmpfs mutx-dev /dev && ln -s /proc/self/fd/1 /dev/stdout || exit 99
    { echo header; echo BODY | "$MUTX" --symlinks=replace /dev/stdout 2>"$1/.stderr"; echo $? >"$1/.rc"; echo footer; } >"$1/w/log"
    printf "%s\n" "$(readlink /dev/stdout)" >"$1/.link"
    ls -A /dev >"$1/.dev"' _ "$T" 2>"$T/.unshare.err"
  if [[ ! -f $T/.rc ]]; then
    not_run "cannot mount a tmpfs over /dev in a private mount namespace: $(head -c 200 "$T/.unshare.err")"
  else
    RC=$(cat "$T/.rc") ERR=$(cat "$T/.stderr")
    expect_rc 1
    expect_match "$ERR" "^Error: /dev/stdout: $DESC" "stderr"
    expect_content "$T/w/log" $'header\nfooter\n'
    expect_eq "$(cat "$T/.link")" /proc/self/fd/1 "where /dev/stdout points"
    expect_eq "$(cat "$T/.dev")" stdout "entries of /dev"
  fi
fi

need_root_part() {
  [[ $(id -u) -eq 0 ]] && return 0
  not_run "$1 needs root"
  return 1
}

# ---------------------------------------------- append-only and immutable
# chattr needs a filesystem with inode flags (ext4, xfs, btrfs, tmpfs since
# Linux 6.0); where $T has none, a small loop-mounted ext4 image.
attr_dir() {
  local d=$T/attr probe
  mkdir -p "$d"
  probe=$d/.probe
  : >"$probe"
  if chattr +a "$probe" 2>/dev/null; then
    chattr -a "$probe"
    rm -f "$probe"
    ATTR=$d
    return 0
  fi
  rm -f "$probe"
  command -v mkfs.ext4 >/dev/null || { ATTR_WHY="no chattr on $T's filesystem and no mkfs.ext4"; return 1; }
  [[ -e /dev/loop-control ]] || { ATTR_WHY="no chattr on $T's filesystem and no loop devices"; return 1; }
  truncate -s 16M "$T/attr.img" && mkfs.ext4 -q -F "$T/attr.img" >/dev/null 2>&1 ||
    { ATTR_WHY="cannot make an ext4 image"; return 1; }
  mount -o loop "$T/attr.img" "$d" 2>/dev/null || { ATTR_WHY="cannot loop-mount an ext4 image"; return 1; }
  # umount of a -o loop mount detaches the loop device too.
  on_exit "umount '$d' || umount -l '$d'"
  ATTR=$d/fs
  mkdir "$ATTR"  # not the image's root, which holds lost+found
  return 0
}

if need_root_part "chattr +a/+i" && command -v chattr >/dev/null; then
  if attr_dir; then
    A=$ATTR/dir
    mkdir "$A"
    printf 'old\n' >"$A/t"
    printf 'prev\n' >"$A/t.backup"
    # Cleanups run last-registered first: the flags go before the umount.
    on_exit "chattr -a -i '$A' '$A/t'"
    intact() {
      expect_content "$A/t" $'old\n'
      expect_content "$A/t.backup" $'prev\n'
      expect_only "$A" t t.backup
    }
    for attr in a i; do
      what=$([[ $attr == a ]] && echo append-only || echo immutable)
      chattr +$attr "$A"
      for flags in "" "--stream" "--backup" "--append" "--no-wait"; do
        for name in t new; do
          case_ "$what directory, $name [$flags]"
          # shellcheck disable=SC2086
          run_in "new" $flags "$A/$name"
          expect_rc 1
          expect_match "$ERR" "^Error: $A/$name: its directory $A is $what \(chattr \+$attr\): no name in it can be" "stderr"
          expect_match "$ERR" $'\n'"Hint: .*'chattr -$attr $A' as root \('lsattr -d $A' shows it\)" "hint"
          intact
        done
      done
      chattr -$attr "$A"
    done

    chattr +a "$A/t"
    for flags in "" "--stream" "--backup" "--append" "--backup-timestamp"; do
      case_ "append-only file [$flags]"
      # shellcheck disable=SC2086
      run_in "new" $flags "$A/t"
      expect_rc 1
      expect_match "$ERR" "^Error: $A/t: Operation not permitted"$'\n'"Hint: The file is append-only \('lsattr' shows a\).*'chattr -a $A/t'" "stderr"
      intact
    done
    chattr -a "$A/t"

    # An immutable or append-only OUTPUT.backup: no link or rename moves it,
    # so the plain backup that would replace it is refused up front (it used
    # to fail at the link, leaving the target's temp link behind).
    on_exit "chattr -a -i '$A/t.backup'"
    for attr in a i; do
      what=$([[ $attr == a ]] && echo append-only || echo immutable)
      chattr +$attr "$A/t.backup"
      for flags in "--backup" "--backup --stream"; do
        case_ "$what OUTPUT.backup [$flags]"
        # shellcheck disable=SC2086
        run_in "new" $flags "$A/t"
        expect_rc 1
        expect_match "$ERR" "^Error: cannot replace $A/t.backup: Operation not permitted"$'\n'"Hint: The file is $what \('lsattr' shows $attr\).*'chattr -$attr $A/t.backup'" "stderr"
        intact
      done
      chattr -$attr "$A/t.backup"
    done

    # A --lock-file in an append-only directory gets in and can never be
    # removed: the write goes on and says so. An immutable one takes none.
    L=$ATTR/ldir
    mkdir "$L"
    on_exit "chattr -a -i '$L'"
    chattr +a "$L"
    case_ "--lock-file in an append-only directory"
    run_in "new" --lock-file "$L/x.lock" "$A/t"
    expect_rc 0
    expect_content "$A/t" "new"
    expect_err_has "Warning: lock file $L/x.lock will be left behind: its directory is append-only (chattr +a)"
    expect_exists "$L/x.lock"
    printf 'old\n' >"$A/t"
    chattr -a "$L" && rm -f "$L/x.lock" && chattr +i "$L"
    case_ "--lock-file in an immutable directory"
    run_in "new" --lock-file "$L/x.lock" "$A/t"
    expect_rc 1
    expect_match "$ERR" "^Error: cannot use lock file $L/x.lock: its directory $L is immutable \(chattr \+i\): no file in it can be created"$'\n'"Hint: Root can remove the flag with 'chattr -i $L'.*; pass --lock-file PATH in a directory you may write" "stderr"
    intact
    chattr -i "$L"

    # An append-only --backup-dir: the backup's temp link would get in and
    # never out again, and the rename onto the backup fail after it.
    B=$ATTR/bdir
    mkdir "$B"
    printf 'older\n' >"$B/t.backup"
    on_exit "chattr -a -i '$B'"
    for attr in a i; do
      chattr +$attr "$B"
      for flags in "--backup-dir $B" "--backup-dir $B --backup-timestamp" "--backup-dir $B --stream"; do
        case_ "$attr backup directory [$flags]"
        # shellcheck disable=SC2086
        run_in "new" $flags "$A/t"
        expect_rc 1
        expect_match "$ERR" "^Error: cannot use backup directory $B: its directory $B is" "stderr"
        intact
        expect_content "$B/t.backup" $'older\n'
        expect_only "$B" t.backup
      done
      chattr -$attr "$B"
    done
    case_ "the same directory and file without the flags"
    run_in "new" "$A/t"
    expect_rc 0
    expect_content "$A/t" "new"
    printf 'old\n' >"$A/t"
  else
    not_run "chattr cases: $ATTR_WHY"
  fi
elif [[ $(id -u) -eq 0 ]]; then
  not_run "chattr cases need chattr"
fi

# ------------------------------------------------------- a bind-mounted file
if need_root_part "a bind-mounted file"; then
  B=$T/bind
  mkdir "$B"
  printf 'under\n' >"$B/t"
  printf 'prev\n' >"$B/t.backup"
  printf 'mounted\n' >"$T/source"
  if mount --bind "$T/source" "$B/t" 2>/dev/null; then
    on_exit "umount -l '$B/t'"
    for flags in "" "--stream" "--backup" "--append"; do
      case_ "bind-mounted file [$flags]"
      # shellcheck disable=SC2086
      run_in "new" $flags "$B/t"
      expect_rc 1
      expect_match "$ERR" "^Error: $B/t: is a mount point \(a bind-mounted file\); it cannot be replaced atomically"$'\n'"Hint: " "stderr"
      expect_content "$B/t" $'mounted\n'
      expect_content "$T/source" $'mounted\n'
      expect_content "$B/t.backup" $'prev\n'
      expect_only "$B" t t.backup
    done
    umount "$B/t"
    case_ "the same file once unmounted"
    run_in "new" "$B/t"
    expect_rc 0
    expect_content "$B/t" "new"
  else
    not_run "cannot bind-mount a file"
  fi
  # A file at the root of a mount is no mount point itself.
  case_ "a file in a directory that is a mount point"
  mkdir "$T/mnt"
  if mount -t tmpfs -o size=1m mutx-hostile "$T/mnt" 2>/dev/null; then
    on_exit "umount -l '$T/mnt'"
    printf 'old\n' >"$T/mnt/f"
    run_in "new" "$T/mnt/f"
    expect_rc 0
    expect_content "$T/mnt/f" "new"
    expect_only "$T/mnt" f
  else
    not_run "cannot mount a tmpfs"
  fi
fi

# --------------------------------------------------------- sticky directory
if need_root_part "another user's file in a sticky directory" && command -v setpriv >/dev/null &&
  id nobody >/dev/null 2>&1; then
  NOBODY=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups --)
  chmod 711 "$T"
  S=$T/sticky
  mkdir -m 1777 "$S"
  if "${NOBODY[@]}" test -x "$MUTX" && "${NOBODY[@]}" test -w "$S"; then
    printf 'old\n' >"$S/f"
    chmod 666 "$S/f"
    printf 'prev\n' >"$S/f.backup"
    chmod 666 "$S/f.backup"
    for flags in "" "--stream" "--backup" "--append" "--backup-timestamp"; do
      case_ "root's 0666 file in a sticky directory, as nobody [$flags]"
      # shellcheck disable=SC2086
      printf 'new' | "${NOBODY[@]}" "$MUTX" $flags "$S/f" 2>"$T/.stderr"
      RC=$? ERR=$(cat "$T/.stderr")
      expect_rc 1
      expect_match "$ERR" "^Error: cannot replace $S/f: it belongs to uid 0 and its directory is sticky"$'\n'"Hint: In a sticky directory" "stderr"
      expect_content "$S/f" $'old\n'
      expect_content "$S/f.backup" $'prev\n'
      expect_only "$S" f f.backup
    done
    # What the rule allows: one's own file; any file for root (CAP_FOWNER);
    # any file for the directory's owner.
    case_ "nobody's own file in a sticky directory"
    printf 'mine\n' >"$S/mine"
    chown nobody "$S/mine"
    printf 'new' | "${NOBODY[@]}" "$MUTX" "$S/mine" 2>"$T/.stderr"
    RC=$? ERR=$(cat "$T/.stderr")
    expect_rc 0
    expect_content "$S/mine" "new"
    case_ "nobody's file in a sticky directory, as root"
    run_in "root" "$S/mine"
    expect_rc 0
    expect_content "$S/mine" "root"
    case_ "root's file in a sticky directory nobody owns"
    chown nobody "$S"
    printf 'owner' | "${NOBODY[@]}" "$MUTX" "$S/f" 2>"$T/.stderr"
    RC=$? ERR=$(cat "$T/.stderr")
    expect_rc 0
    expect_content "$S/f" "owner"
    expect_only "$S" f f.backup mine

    # The plain backup's name obeys the same rule: root's 0666 OUTPUT.backup
    # beside nobody's own file, in a sticky directory or a sticky
    # --backup-dir, is refused up front (it failed after staging and left a
    # link to it that nobody could remove).
    S2=$T/sticky2 BK=$T/sticky-bk W=$T/open
    mkdir -m 1777 "$S2" "$BK"
    mkdir -m 0777 "$W"
    for dir in "$S2" "$W"; do
      printf 'old\n' >"$dir/t"
      chown nobody "$dir/t"
    done
    printf 'prev\n' >"$S2/t.backup"
    printf 'prev\n' >"$BK/t.backup"
    chmod 666 "$S2/t.backup" "$BK/t.backup"
    for args in "--backup $S2/t" "--backup --stream $S2/t" "--backup-dir $BK $W/t"; do
      out=${args##* } backup=$S2/t.backup
      [[ $args == *$BK* ]] && backup=$BK/t.backup
      case_ "root's 0666 OUTPUT.backup in a sticky directory, as nobody [$args]"
      # shellcheck disable=SC2086
      printf 'new' | "${NOBODY[@]}" "$MUTX" $args 2>"$T/.stderr"
      RC=$? ERR=$(cat "$T/.stderr")
      expect_rc 1
      expect_match "$ERR" "^Error: cannot replace $backup: it belongs to uid 0 and its directory is sticky"$'\n'"Hint: In a sticky directory" "stderr"
      expect_content "$out" $'old\n'
      expect_content "$backup" $'prev\n'
      expect_only "$S2" t t.backup
      expect_only "$BK" t.backup
      expect_only "$W" t
    done
    # A --lock-file in a directory nobody may not reach: not "must exist".
    case_ "--lock-file in a directory nobody may not reach, as nobody"
    mkdir -m 700 "$T/private"
    printf 'new' | "${NOBODY[@]}" "$MUTX" --lock-file "$T/private/x.lock" "$W/t" 2>"$T/.stderr"
    RC=$? ERR=$(cat "$T/.stderr")
    expect_rc 1
    expect_match "$ERR" "^Error: cannot open the directory of lock file $T/private/x.lock: Permission denied"$'\n'"Hint: You may not open $T/private, the lock file's directory; pass --lock-file PATH in a directory you may write" "stderr"
    expect_content "$W/t" $'old\n'
    # Root's 0666 file in an open directory, backed up by nobody into a
    # sticky --backup-dir: a link to root's file there could be neither
    # renamed nor removed by nobody, so the backup is a copy of nobody's.
    case_ "root's 0666 file backed up into a sticky --backup-dir, as nobody"
    printf 'old\n' >"$W/u"
    chmod 666 "$W/u"
    printf 'new' | "${NOBODY[@]}" "$MUTX" --backup-dir "$BK" "$W/u" 2>"$T/.stderr"
    RC=$? ERR=$(cat "$T/.stderr")
    expect_rc 0
    expect_content "$W/u" "new"
    expect_content "$BK/u.backup" $'old\n'
    expect_eq "$(stat -c %U "$BK/u.backup")" nobody "the backup's owner"
    expect_only "$BK" t.backup u.backup
    expect_only "$W" t u
  else
    not_run "nobody cannot reach $MUTX or write $S"
  fi
elif [[ $(id -u) -eq 0 ]]; then
  not_run "the sticky directory cases need setpriv and a user nobody"
fi

if [[ $FAILS -eq 0 && ${#SKIPPED[@]} -gt 0 ]]; then
  echo "$TEST_NAME: $PASSES passed; parts not run: ${SKIPPED[*]}" >&2
  exit 77
fi
finish
