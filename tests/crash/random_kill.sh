#!/usr/bin/env bash
# SIGKILL at random instants during `--stream` of a few MiB on the default
# (io_uring) path: 60 x MUTX_TEST_SIZE kills (20 on sanitizer builds), the
# flags cycling through none, --backup, --append and both. After each kill
# the same checks as syscall_kill.sh: the target is old or new, byte for
# byte; a backup is absent or the old content; the next write and housekeep
# leave only the target (and backup).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/lib.sh"
. "$HERE/lib_crash.bash"

export MUTX_IO=${MUTX_IO:-auto}
[[ $MUTX_IO == auto ]] || [[ $MUTX_IO == uring ]] || MUTX_IO=auto
KILLS=$((60 * SIZE))
[[ $QUICK -eq 1 ]] && KILLS=20

head -c 4099 /dev/urandom >"$T/old"
head -c $((4 * 1024 * 1024 + 777)) /dev/urandom >"$T/new"
printf 'next\n' >"$T/next"
DIR=$T/work
mkdir -p "$DIR"
FLAG_SETS=("" "--backup" "--append" "--backup --append")

reset_dir() {
  find "$DIR" -mindepth 1 -delete
  cp "$T/old" "$DIR/t"
}

# How long one write takes here, so the kills spread over all of it
# (lock, staging, the stream, fsync, backup, rename, directory sync).
reset_dir
start=$(date +%s%N)
for _ in 1 2 3; do "$MUTX" --no-config --stream --backup "$DIR/t" <"$T/new" || fail "timing run failed"; done
span_us=$((($(date +%s%N) - start) / 3000))
[[ $span_us -lt 2000 ]] && span_us=2000
echo "one write: ${span_us} us; kills spread over 0..$((span_us * 5 / 4)) us"

OLD_SEEN=0
NEW_SEEN=0
FINISHED=0
for ((i = 0; i < KILLS; i++)); do
  FLAGS=${FLAG_SETS[i % ${#FLAG_SETS[@]}]}
  case_ "kill $i [$FLAGS]"
  reset_dir
  if [[ $FLAGS == *--append* ]]; then cat "$T/old" "$T/new" >"$T/expect"; else cp "$T/new" "$T/expect"; fi
  delay_us=$((((RANDOM << 15) | RANDOM) % (span_us * 5 / 4)))
  # shellcheck disable=SC2086
  cat "$T/new" | "$MUTX" --no-config --stream $FLAGS "$DIR/t" 2>"$T/.err" &
  pid=$!
  sleep "$(printf '0.%06d' "$delay_us")"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rc=$?
  if [[ $rc -eq 0 ]]; then
    FINISHED=$((FINISHED + 1))
  elif [[ $rc -ne 137 ]]; then
    fail "exit $rc: $(head -c 300 "$T/.err")"
  fi
  if cmp -s "$DIR/t" "$T/old"; then
    OLD_SEEN=$((OLD_SEEN + 1))
    pass
  elif cmp -s "$DIR/t" "$T/expect"; then
    NEW_SEEN=$((NEW_SEEN + 1))
    pass
  else
    fail "target is neither old nor new: $(describe_file "$DIR/t")"
  fi
  if [[ $FLAGS == *--backup* ]]; then
    if [[ ! -e $DIR/t.backup ]] || cmp -s "$DIR/t.backup" "$T/old"; then pass; else fail "backup: $(describe_file "$DIR/t.backup")"; fi
  else
    expect_missing "$DIR/t.backup"
  fi
  cp "$DIR/t" "$T/before-next"
  if [[ $FLAGS == *--append* ]]; then cat "$T/before-next" "$T/next" >"$T/want"; else cp "$T/next" "$T/want"; fi
  # shellcheck disable=SC2086
  if ! "$MUTX" --no-config --stream $FLAGS "$DIR/t" <"$T/next" 2>"$T/.err"; then
    fail "next write: $(head -c 300 "$T/.err")"
    continue
  fi
  if cmp -s "$DIR/t" "$T/want"; then pass; else fail "after the next write: $(describe_file "$DIR/t")"; fi
  housekeep_clean "$DIR" || fail "housekeep: $(head -c 300 "$T/.hk.err")"
  if [[ $FLAGS == *--backup* ]]; then expect_only "$DIR" t t.backup; else expect_only "$DIR" t; fi
done

echo "random kills: $KILLS (old content after: $OLD_SEEN, new content after: $NEW_SEEN, finished before the kill: $FINISHED)"
finish
