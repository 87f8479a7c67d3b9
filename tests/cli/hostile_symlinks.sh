#!/usr/bin/env bash
# Symlinks planted by another user in a sticky, world-writable directory
# (like /tmp) where mutx makes its lock file, temps and backups. Run as root
# (the user with most to lose), mutx must never follow them: the file they
# point at keeps its content, mode and inode, and a dangling one never makes
# a file appear at its target. Planted names: NAME.lock, a --lock-file,
# NAME.backup, `.NAME.mutx-*` temp names (which the stale-temp sweep and
# housekeep must skip, not follow). Needs root and setpriv (to plant the
# links as user nobody).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
need_root "planting files as another user needs root"
need_cmd setpriv
id nobody >/dev/null 2>&1 || skip "no user nobody"
NOBODY=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups --)
"${NOBODY[@]}" true 2>/dev/null || skip "setpriv cannot switch to nobody"

chmod 711 "$T"
S=$T/sticky
mkdir -m 1777 "$S"
mkdir -m 755 "$T/safe"
printf 'secret\n' >"$T/safe/victim"
chmod 600 "$T/safe/victim"
VICTIM_INODE=$(stat -c %i "$T/safe/victim")

victim_intact() {
  if [[ -f $T/safe/victim && ! -L $T/safe/victim && $(cat "$T/safe/victim") == secret &&
    $(stat -c %a "$T/safe/victim") == 600 && $(stat -c %i "$T/safe/victim") == "$VICTIM_INODE" ]]; then
    pass
  else
    fail "the symlink's target was touched: $(ls -li "$T/safe")"
  fi
  if [[ -e $T/safe/created ]]; then fail "a dangling symlink made $T/safe/created appear"; else pass; fi
}
plant() {  # name target: a symlink owned by nobody
  "${NOBODY[@]}" ln -sfn "$2" "$S/$1" || fail "cannot plant $1"
}
reset() {
  find "$S" -mindepth 1 -delete
  printf 'old\n' >"$S/t"
}

for link_target in "$T/safe/victim" "$T/safe/created"; do
  what=$([[ $link_target == *victim ]] && echo "to a file" || echo "dangling")

  # OUTPUT itself planted: the kernel's protected_symlinks rule, whatever
  # the sysctl says (mutx follows the last link itself).
  for flags in "" "--stream" "--backup" "--append"; do
    case_ "OUTPUT is another user's symlink $what [$flags]"
    reset
    plant out "$link_target"
    # shellcheck disable=SC2086
    run_in "new" --no-config $flags "$S/out"
    expect_rc 1
    expect_match "$ERR" "^Error: refusing to follow $S/out: a symbolic link owned by another user \(uid $(id -u nobody)\) in a sticky, world-writable directory" "message"
    expect_match "$ERR" "Hint: .*--symlinks=replace" "hint"
    if [[ -L $S/out ]]; then pass; else fail "the planted link was replaced"; fi
    victim_intact
  done
  case_ "OUTPUT is another user's symlink $what, --symlinks=replace"
  reset
  plant out "$link_target"
  run_in "new" --no-config --symlinks=replace "$S/out"
  expect_rc 0
  if [[ -f $S/out && ! -L $S/out ]]; then expect_content "$S/out" "new"; else fail "the link was not replaced by a file"; fi
  victim_intact

  case_ "NAME.lock is a symlink $what"
  reset
  plant t.lock "$link_target"
  run_in "new" --no-config "$S/t"
  expect_rc 1
  expect_match "$ERR" "^Error: .*symbolic link" "message"
  expect_content "$S/t" "old"$'\n'
  victim_intact

  case_ "--lock-file is a symlink $what"
  reset
  plant my.lock "$link_target"
  run_in "new" --no-config --lock-file "$S/my.lock" "$S/t"
  expect_rc 1
  expect_content "$S/t" "old"$'\n'
  victim_intact

  case_ "NAME.backup is a symlink $what"
  reset
  plant t.backup "$link_target"
  run_in "new" --no-config --backup "$S/t"
  expect_rc 0
  expect_content "$S/t" "new"
  if [[ -f $S/t.backup && ! -L $S/t.backup ]]; then expect_content "$S/t.backup" "old"$'\n'; else fail "t.backup is not the old content"; fi
  victim_intact
  case_ "timestamped backup beside a planted symlink $what"
  run_in "newer" --no-config --backup-timestamp "$S/t"
  expect_rc 0
  victim_intact

  case_ "temp names are symlinks $what"
  reset
  for suffix in aaaaaaaaaaaa 000000000000 zzzzzzzzzzzz; do plant ".t.mutx-$suffix" "$link_target"; done
  run_in "new" --no-config "$S/t"
  expect_rc 0
  expect_content "$S/t" "new"
  victim_intact
  case_ "housekeep skips planted temp symlinks $what"
  "$MUTX" housekeep --all --older-than 0s "$S" >/dev/null 2>&1
  victim_intact
  if [[ -L $S/.t.mutx-aaaaaaaaaaaa ]]; then pass; else fail "housekeep removed another user's symlink"; fi

  case_ "a planted temp symlink under --backup and --append $what"
  reset
  plant ".t.mutx-bbbbbbbbbbbb" "$link_target"
  run_in "more" --no-config --backup --append "$S/t"
  expect_rc 0
  expect_content "$S/t" "old"$'\n'"more"
  victim_intact
done

# Links the rule allows: the caller's own link in the sticky directory, a
# link owned by the sticky directory's owner, and another user's link in a
# directory that is not sticky.
case_ "the caller's own symlink in a sticky directory is followed"
reset
printf 'mine\n' >"$T/safe/mine"
ln -s "$T/safe/mine" "$S/own"
run_in "new" --no-config "$S/own"
expect_rc 0
expect_content "$T/safe/mine" "new"
if [[ -L $S/own ]]; then pass; else fail "the link itself was replaced"; fi
case_ "a symlink owned by the sticky directory's owner is followed"
mkdir -m 1777 "$T/theirs"
chown nobody "$T/theirs"
printf 'mine\n' >"$T/safe/mine"
"${NOBODY[@]}" ln -s "$T/safe/mine" "$T/theirs/link"
run_in "new" --no-config "$T/theirs/link"
expect_rc 0
expect_content "$T/safe/mine" "new"
case_ "another user's symlink in a directory that is not sticky is followed"
mkdir -m 0777 "$T/open"
printf 'mine\n' >"$T/safe/mine"
"${NOBODY[@]}" ln -s "$T/safe/mine" "$T/open/link"
run_in "new" --no-config "$T/open/link"
expect_rc 0
expect_content "$T/safe/mine" "new"

# The named-temp path (no O_TMPFILE) on a FUSE mount of a sticky directory:
# there the temp name really is created, with O_CREAT|O_EXCL|O_NOFOLLOW.
if command -v bindfs >/dev/null && [[ -c /dev/fuse ]]; then
  mkdir -m 1777 "$T/fback"
  mkdir "$T/fuse"
  if bindfs -o allow_other "$T/fback" "$T/fuse" 2>/dev/null || bindfs "$T/fback" "$T/fuse" 2>/dev/null; then
    on_exit "fusermount -u '$T/fuse' || umount -l '$T/fuse'"
    chmod 1777 "$T/fuse" 2>/dev/null
    case_ "named temps on FUSE beside planted symlinks"
    printf 'old\n' >"$T/fuse/t"
    for suffix in aaaaaaaaaaaa 000000000000; do ln -s "$T/safe/victim" "$T/fback/.t.mutx-$suffix"; done
    ln -s "$T/safe/victim" "$T/fback/t.lock.target" 2>/dev/null
    for i in 1 2 3; do
      run_in "new $i" --no-config --backup "$T/fuse/t"
      expect_rc 0
      expect_content "$T/fuse/t" "new $i"
    done
    victim_intact
  else
    echo "NOTE: FUSE part skipped: bindfs failed" >&2
  fi
else
  echo "NOTE: FUSE part skipped: no bindfs or /dev/fuse" >&2
fi
finish
