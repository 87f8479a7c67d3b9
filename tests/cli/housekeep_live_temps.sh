#!/usr/bin/env bash
# mutx housekeep --clean-temps never deletes a live writer's temp (issue 17,
# finding 8): not when the writer locks another file (--lock-file), so that
# NAME.lock is free; not a backup copied into a --backup-dir on another
# filesystem, which carries the old file's mtime. The writer's claim (a
# shared flock on the temp) decides, and a fresh ctime keeps a temp with an
# old mtime for the hour's margin. The real writers need a directory
# without O_TMPFILE, where temps have names: a FUSE (bindfs) mount, as root.
. "$(dirname "$0")/lib.sh"
hk_tree
stop_on_error

case_ "a claimed temp with no NAME.lock"
# What such a writer leaves on disk, without FUSE: its temp, claimed, and
# no NAME.lock (its lock is elsewhere).
printf 'streamed so far' >.out.mutx-0
touch -d '2 hours ago' .out.mutx-0
hold_shared_lock .out.mutx-0
hk --clean-temps --older-than 0 -v
expect_rc 0
expect_out
expect_err_has "Skipped ./.out.mutx-0: held by a live writer"
expect_exists .out.mutx-0
expect_missing out.lock
release_lock

case_ "a copied backup temp: old times, a ctime of now"
# A copied backup temp: the old file's times, a ctime of now, one link.
printf 'old content' >.conf.mutx-abcdefghij12
touch -d '10 days ago' .conf.mutx-abcdefghij12
hk --clean-temps
expect_rc 0
expect_out
expect_exists .conf.mutx-abcdefghij12

need_root "the real writers need root for a FUSE mount"
command -v bindfs >/dev/null || skip "bindfs is not installed"
[[ -e /dev/fuse ]] || skip "no /dev/fuse"
[[ -r /proc/locks ]] || skip "no /proc/locks to see the writers' claims"
mkdir "$T/under" "$T/over"
bindfs -o hard_remove "$T/under" "$T/over" 2>"$T/mount.err" || skip "cannot mount bindfs: $(<"$T/mount.err")"
on_exit "fusermount -u '$T/over' 2>/dev/null || umount -l '$T/over'"
over=$T/over

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
  fatal "no claimed file matched $1"
}

# until_true CONDITION...: poll it (10 s at most). housekeep must judge a
# file after its writer's last write: --older-than 0 still keeps one written
# after housekeep started, which is not what these cases test.
until_true() {
  local i
  for ((i = 0; i < 200; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  fatal "never true: $*"
}
# The stop has taken effect (state T): a syscall in flight when SIGSTOP
# came (a copy_file_range of the whole file) has returned.
stopped() { [[ $(awk '{print $3}' "/proc/$1/stat") == T ]]; }

case_ "a streaming writer with --lock-file elsewhere"
# A streaming writer with --lock-file elsewhere: its named temp in $over
# survives housekeep in the middle of the stream, and the write completes.
mkfifo "$T/feed"
"$MUTX" --stream --lock-file "$T/elsewhere.lock" "$over/out" <"$T/feed" 2>"$T/writer.err" &
writer=$!
exec {feed}>"$T/feed"
printf 'first half\n' >&"$feed"
wait_for "$over/.out.mutx-*"
hk --clean-temps --older-than 0 -v "$over"
expect_rc 0
expect_out
expect_err_has "held by a live writer"
expect_exists "$found"
printf 'second half\n' >&"$feed"
exec {feed}>&-
wait "$writer" && pass || fail "the writer failed: $(<"$T/writer.err")"
[[ $(<"$over/out") == $'first half\nsecond half' ]] && pass || fail "out: $(<"$over/out")"

case_ "a backup copied into a --backup-dir on another filesystem"
# A backup copied into a --backup-dir on another filesystem ($over): the
# writer is stopped while its copy sits under a temp name there. 256 MiB
# takes about 2.5 s to copy through bindfs here: the poll finds it.
head -c $((256 * 1024 * 1024)) /dev/zero >conf
touch -d '10 days ago' conf
echo new | "$MUTX" --backup-dir "$over" conf 2>"$T/writer.err" &
writer=$!
wait_for "$over/.conf.mutx-*"
kill -STOP "$writer"
until_true stopped "$writer"
hk --clean-temps --older-than 0 -v "$over"
kill -CONT "$writer"
expect_rc 0
expect_out
expect_err_has "held by a live writer"
wait "$writer" && pass || fail "the writer failed: $(<"$T/writer.err")"
[[ $(<conf) == new ]] && pass || fail "conf was not written"
[[ $(stat -c %s "$over/conf.backup") == $((256 * 1024 * 1024)) ]] && pass || fail "the backup is not whole"
[[ -z $(compgen -G "$over/.conf.mutx-*") ]] && pass || fail "a temp was left behind"
finish
