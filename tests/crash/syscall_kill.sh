#!/usr/bin/env bash
# Crash at every syscall boundary (ALICE/CrashMonkey style, by brute force):
# for each configuration (I/O path x staging path x flags) record which
# write-path syscalls mutx makes, then rerun it under
#   strace -f -e inject=SYSCALL:signal=SIGKILL:when=N
# for each syscall kind and occurrence N. strace delivers the SIGKILL on
# entry, so the Nth call never runs: every point between two syscalls is a
# crash point. After each kill:
#   - the target is byte-identical to the old or the new content;
#   - a backup is absent or byte-identical to the old content;
#   - the next write succeeds, and it plus `mutx housekeep --all` leaves only
#     the target (and its backup).
# Sample: size 1 takes the first 3 occurrences of each kind on the write path;
# size >= 2 takes every occurrence. Sanitizer builds (see lib_crash.bash)
# take the first and the last.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/lib.sh"
. "$HERE/lib_crash.bash"

need_strace_inject

# What the write path may call. Only kinds that a configuration really makes
# are injected; the rest are listed so a change of strategy is covered.
WRITE_PATH_SYSCALLS=openat,close,flock,fcntl,ioctl,write,pwrite64,pwritev,pwritev2,writev,splice,copy_file_range,sendfile,fallocate,ftruncate,fsync,fdatasync,sync_file_range,linkat,renameat,renameat2,unlinkat,fchmod,fchown,fsetxattr,io_uring_enter,mkdirat

head -c 4099 /dev/urandom >"$T/old"
head -c $((300 * 1024 + 17)) /dev/urandom >"$T/new"         # several writes
# --stream: direct slots + tail. Sizes >= 3 (the long run) stream more, so
# every splice, ring submission and write of a longer stream is a point.
BIG_MIB=$((SIZE >= 3 ? 5 * (SIZE - 1) : 5))
head -c $((BIG_MIB * 1024 * 1024 + 4096 + 5)) /dev/urandom >"$T/big"
printf 'next write\n' >"$T/next"

if mount_bindfs; then
  STAGINGS=(tmpfile named)
else
  STAGINGS=(tmpfile)
  echo "NOTE: named-temp staging (FUSE) part skipped: $FUSE_WHY" >&2
fi

FLAG_SETS=("" "--backup" "--append" "--backup --append" "--stream" "--stream --backup --append")
# The long run adds the page-cache paths (splice for streams).
[[ $SIZE -ge 3 ]] && FLAG_SETS+=("--no-sync" "--append --no-sync" "--stream --no-sync" "--stream --append --no-sync")
if [[ $QUICK -eq 1 ]]; then PER_KIND=1; elif [[ $SIZE -ge 2 ]]; then PER_KIND=0; else PER_KIND=3; fi

POINTS=0
COMPLETED=0
declare -A KINDS_HIT=()

reset_dir() {  # dir
  find "$1" -mindepth 1 -delete
  cp "$T/old" "$1/t"
}

# One crash point. Globals: DIR IO FLAGS INPUT EXPECT (the new content).
crash_point() {  # syscall n
  local sc=$1 n=$2 rc what="$IO ${STAGING} [${FLAGS}] kill at $1 #$2"
  case_ "$what"
  reset_dir "$DIR"
  # shellcheck disable=SC2086
  (cat "$INPUT" | MUTX_IO=$IO strace -f -o /dev/null -e "inject=$sc:signal=SIGKILL:when=$n" \
    "$MUTX" --no-config $FLAGS "$DIR/t") >/dev/null 2>"$T/.err"
  rc=$?
  if [[ $rc -eq 137 ]]; then
    POINTS=$((POINTS + 1))
    KINDS_HIT[$sc]=1
  elif [[ $rc -eq 0 ]]; then
    COMPLETED=$((COMPLETED + 1))  # fewer calls this time: ran to the end
  else
    fail "exit $rc: $(head -c 300 "$T/.err")"
    return
  fi
  if same_as_any "$DIR/t" "$T/old" "$EXPECT"; then pass; else fail "target is neither old nor new: $(describe_file "$DIR/t")"; fi
  if [[ $FLAGS == *--backup* ]]; then
    if [[ ! -e $DIR/t.backup ]] || cmp -s "$DIR/t.backup" "$T/old"; then pass; else fail "backup is not the old content: $(describe_file "$DIR/t.backup")"; fi
  else
    expect_missing "$DIR/t.backup"
  fi

  # The next write and housekeep.
  cp "$DIR/t" "$T/before-next"
  if [[ $FLAGS == *--append* ]]; then cat "$T/before-next" "$T/next" >"$T/want-next"; else cp "$T/next" "$T/want-next"; fi
  # shellcheck disable=SC2086
  MUTX_IO=$IO "$MUTX" --no-config $FLAGS "$DIR/t" <"$T/next" >/dev/null 2>"$T/.err"
  rc=$?
  if [[ $rc -ne 0 ]]; then fail "next write: exit $rc: $(head -c 300 "$T/.err")"; return; fi
  if cmp -s "$DIR/t" "$T/want-next"; then pass; else fail "after the next write: $(describe_file "$DIR/t")"; fi
  if [[ $FLAGS == *--backup* ]]; then
    if cmp -s "$DIR/t.backup" "$T/before-next"; then pass; else fail "next write's backup: $(describe_file "$DIR/t.backup")"; fi
  fi
  if ! housekeep_clean "$DIR"; then fail "housekeep: $(head -c 300 "$T/.hk.err")"; fi
  if [[ $FLAGS == *--backup* ]]; then expect_only "$DIR" t t.backup; else expect_only "$DIR" t; fi
}

for STAGING in "${STAGINGS[@]}"; do
  if [[ $STAGING == tmpfile ]]; then DIR=$T/work; else DIR=$FUSE/work; fi
  mkdir -p "$DIR"
  for IO in syscalls uring; do
    for FLAGS in "${FLAG_SETS[@]}"; do
      INPUT=$T/new
      [[ $FLAGS == *--stream* ]] && INPUT=$T/big
      if [[ $FLAGS == *--append* ]]; then cat "$T/old" "$INPUT" >"$T/expect"; else cp "$INPUT" "$T/expect"; fi
      EXPECT=$T/expect
      # Record this configuration's calls.
      reset_dir "$DIR"
      case_ "$IO $STAGING [$FLAGS] recording"
      # shellcheck disable=SC2086
      cat "$INPUT" | MUTX_IO=$IO strace -f -qq -o "$T/trace" -e "trace=$WRITE_PATH_SYSCALLS" \
        "$MUTX" --no-config $FLAGS "$DIR/t" 2>"$T/.err"
      rc=$?
      if [[ $rc -ne 0 ]]; then fail "recording run: exit $rc: $(head -c 300 "$T/.err")"; continue; fi
      if [[ $STAGING == named ]] && ! grep -q 'O_CREAT|O_EXCL|O_NOFOLLOW' "$T/trace"; then
        fail "expected named-temp staging on the FUSE mount: $(grep -c O_TMPFILE "$T/trace") O_TMPFILE opens"
      fi
      while read -r sc n; do
        crash_point "$sc" "$n"
      done < <(pick_points "$T/trace" "$DIR" "$PER_KIND")
    done
  done
done

echo "crash points: $POINTS (runs that finished before the Nth call: $COMPLETED)"
echo "syscall kinds killed at: $(printf '%s\n' "${!KINDS_HIT[@]}" | sort | tr '\n' ' ')"
echo "configurations: ${#STAGINGS[@]} staging x 2 I/O x ${#FLAG_SETS[@]} flag sets; per kind: $([[ $PER_KIND -eq 0 ]] && echo all || { [[ $PER_KIND -eq 1 ]] && echo "first + last" || echo "first $PER_KIND"; })"
# Every kind the write path is known to make must have been hit.
for must in openat fsync linkat renameat unlinkat fchmod flock close io_uring_enter copy_file_range; do
  case_ "coverage of $must"
  if [[ -n ${KINDS_HIT[$must]:-} ]]; then pass; else fail "no crash point at $must"; fi
done
finish
