#!/usr/bin/env bash
# mutx housekeep --clean-temps never deletes a live writer's temp (issue 17,
# finding 8): not when the writer locks another file (--lock-file), so that
# NAME.lock is free; not a backup copied into a --backup-dir on another
# filesystem, which carries the old file's mtime. The writer's claim (a
# shared flock on the temp) decides, and a fresh ctime keeps a temp with an
# old mtime for the hour's margin. The real writers need a directory
# without O_TMPFILE, where temps have names: a FUSE (bindfs) mount, as root.
source "$(dirname "$0")/housekeep_lib.bash"
cd "$tree"

# What such a writer leaves on disk, without FUSE: its temp, claimed, and
# no NAME.lock (its lock is elsewhere).
printf 'streamed so far' >.out.mutx-0
touch -d '2 hours ago' .out.mutx-0
hold_shared_bg .out.mutx-0
hk --clean-temps --older-than 0 -v
expect_rc 0
expect_out
expect_err_has "Skipped ./.out.mutx-0: held by a live writer"
exists .out.mutx-0
gone out.lock
release_lock_bg

# A copied backup temp: the old file's times, a ctime of now, one link.
printf 'old content' >.conf.mutx-abcdefghij12
touch -d '10 days ago' .conf.mutx-abcdefghij12
hk --clean-temps
expect_rc 0
expect_out
exists .conf.mutx-abcdefghij12

[[ $(id -u) == 0 ]] || skip "the real writers need root for a FUSE mount"
command -v bindfs >/dev/null || skip "bindfs is not installed"
[[ -e /dev/fuse ]] || skip "no /dev/fuse"
[[ -r /proc/locks ]] || skip "no /proc/locks to see the writers' claims"
mkdir "$base/under" "$base/over"
bindfs -o hard_remove "$base/under" "$base/over" 2>"$base/mount.err" || skip "cannot mount bindfs: $(<"$base/mount.err")"
trap 'fusermount -u "$base/over" 2>/dev/null || umount -l "$base/over"; housekeep_cleanup' EXIT
over=$base/over

# wait_for GLOB: until a file matches and its writer has claimed it (a
# shared flock, seen in /proc/locks: probing with flock(1) would take the
# lock itself), 10 s at most; sets $found. On FUSE the name is visible while
# the writer is still inside openat, before its flock: stopped or judged in
# that instant, the temp is not yet a live writer's (the writer moves on to
# the next name if a sweeper takes it; the hour's margin keeps it otherwise).
wait_for() {
  local i f ino
  for ((i = 0; i < 200; i++)); do
    for f in $(compgen -G "$1" || true); do
      ino=$(stat -c %i "$f" 2>/dev/null) || continue
      if grep -Eq "FLOCK +ADVISORY +READ +[0-9]+ [0-9a-f]+:[0-9a-f]+:$ino " /proc/locks; then
        found=$f
        return 0
      fi
    done
    sleep 0.05
  done
  fail "no claimed file matched $1"
}

# until CONDITION...: poll it (10 s at most). housekeep must judge a file
# after its writer's last write: --older-than 0 still keeps one written
# after housekeep started, which is not what these cases test.
until_true() {
  local i
  for ((i = 0; i < 200; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  fail "never true: $*"
}
# The stop has taken effect (state T): a syscall in flight when SIGSTOP
# came (a copy_file_range of the whole file) has returned.
stopped() { [[ $(awk '{print $3}' "/proc/$1/stat") == T ]]; }

# A streaming writer with --lock-file elsewhere: its named temp in $over
# survives housekeep in the middle of the stream, and the write completes.
mkfifo "$base/feed"
"$MUTX" --stream --lock-file "$base/elsewhere.lock" "$over/out" <"$base/feed" 2>"$base/writer.err" &
writer=$!
exec {feed}>"$base/feed"
printf 'first half\n' >&"$feed"
wait_for "$over/.out.mutx-*"
hk --clean-temps --older-than 0 -v "$over"
expect_rc 0
expect_out
expect_err_has "held by a live writer"
exists "$found"
printf 'second half\n' >&"$feed"
exec {feed}>&-
wait "$writer" || fail "the writer failed: $(<"$base/writer.err")"
[[ $(<"$over/out") == $'first half\nsecond half' ]] || fail "out: $(<"$over/out")"

# A backup copied into a --backup-dir on another filesystem ($over): the
# writer is stopped while its copy sits under a temp name there. 256 MiB
# takes about 2.5 s to copy through bindfs here: the poll finds it.
head -c $((256 * 1024 * 1024)) /dev/zero >conf
touch -d '10 days ago' conf
echo new | "$MUTX" --backup-dir "$over" conf 2>"$base/writer.err" &
writer=$!
wait_for "$over/.conf.mutx-*"
kill -STOP "$writer"
until_true stopped "$writer"
hk --clean-temps --older-than 0 -v "$over"
kill -CONT "$writer"
expect_rc 0
expect_out
expect_err_has "held by a live writer"
wait "$writer" || fail "the writer failed: $(<"$base/writer.err")"
[[ $(<conf) == new ]] || fail "conf was not written"
[[ $(stat -c %s "$over/conf.backup") == $((256 * 1024 * 1024)) ]] || fail "the backup is not whole"
[[ -z $(compgen -G "$over/.conf.mutx-*") ]] || fail "a temp was left behind"
echo "ok"
