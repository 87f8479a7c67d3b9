#!/usr/bin/env bash
# Kills during --check and --compare (issue 20). Two parts:
#  1. SIGKILL at syscall boundaries (strace inject, as syscall_kill.sh) of
#     mutx itself (not -f: the check command is not the one killed), for
#     --check with %s (a check copy beside the target), --check with the
#     content on stdin, -C with different and with identical content, and
#     -C --stream; on both I/O paths (sanitized builds: io_uring, and only
#     --check with %s and -C both ways), the first and the last occurrence of
#     each write-path syscall kind (all of them with MUTX_TEST_SIZE >= 2).
#  2. SIGKILL at random instants while a slow check command runs.
# After each kill: the target is the old or the new content, byte for byte;
# the next write of the target removes a check copy left behind (its
# sweep), and it plus `mutx housekeep --all` leaves only the target: no
# stray files.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/lib.sh"
. "$HERE/lib_crash.bash"

need_strace_inject

WRITE_PATH_SYSCALLS=openat,close,flock,fcntl,ioctl,write,pwrite64,pwritev,splice,copy_file_range,fallocate,ftruncate,fsync,fdatasync,sync_file_range,linkat,renameat,renameat2,unlinkat,fchmod,fchown,fsetxattr,io_uring_enter,pread64,read,clone,clone3,vfork,pidfd_open,wait4
head -c 70000 /dev/urandom >"$T/old"
head -c 300017 /dev/urandom >"$T/new"
printf 'next write\n' >"$T/next"
DIR=$T/work
mkdir -p "$DIR"
if [[ $QUICK -eq 1 ]]; then PER_KIND=1; elif [[ $SIZE -ge 2 ]]; then PER_KIND=0; else PER_KIND=1; fi

# pick_points (lib_crash.bash) reads this trace of mutx alone (no pid column).

reset_dir() {
  find "$DIR" -mindepth 1 -delete
  cp "$T/old" "$DIR/t"
}

# After a kill (or a run to the end): old or new, then the next write and
# housekeep leave only the target.
after_kill() {
  if same_as_any "$DIR/t" "$T/old" "$EXPECT"; then pass; else fail "target is neither old nor new: $(describe_file "$DIR/t")"; fi
  if MUTX_IO=$IO "$MUTX" --no-config "$DIR/t" <"$T/next" 2>"$T/.err"; then pass; else fail "next write: $(head -c 300 "$T/.err")"; return; fi
  local left
  left=$(cd "$DIR" && ls -A | grep -E '^\.t\.mutx-' || true)
  if [[ -z $left ]]; then pass; else fail "the next write left temps: $left"; fi
  if ! housekeep_clean "$DIR"; then fail "housekeep: $(head -c 300 "$T/.hk.err")"; fi
  expect_only "$DIR" t
}

POINTS=0
declare -A KINDS_HIT=()
CONFIGS=(
  "check-path|--check 'cmp -s %s $T/new'|new"
  "check-stdin|--check 'cmp -s - $T/new'|new"
  "compare-differs|-C|new"
  "compare-same|-C|old"
  "compare-stream|-C --stream|new"
)
# Sanitized builds (QUICK): the io_uring path only.
IOS=(uring syscalls)
[[ $QUICK -eq 1 ]] && IOS=(uring)
for IO in "${IOS[@]}"; do
  for config in "${CONFIGS[@]}"; do
    IFS='|' read -r name FLAGS input <<<"$config"
    [[ $QUICK -eq 1 && $name != check-path && $name != compare-differs && $name != compare-same ]] && continue
    INPUT=$T/$input
    EXPECT=$INPUT
    reset_dir
    case_ "$IO $name: recording"
    eval "set -- $FLAGS"
    MUTX_IO=$IO strace -qq -o "$T/trace" -e "trace=$WRITE_PATH_SYSCALLS" "$MUTX" --no-config "$@" "$DIR/t" <"$INPUT" 2>"$T/.err"
    rc=$?
    if [[ $rc -ne 0 ]]; then fail "recording run: exit $rc: $(head -c 300 "$T/.err")"; continue; fi
    if [[ $name == check-path ]] && ! grep -q '\.t\.mutx-c0"' "$T/trace"; then fail "no check copy .t.mutx-c0 in the trace"; fi
    while read -r sc n; do
      case_ "$IO $name: kill at $sc #$n"
      reset_dir
      (MUTX_IO=$IO strace -o /dev/null -e "inject=$sc:signal=SIGKILL:when=$n" "$MUTX" --no-config "$@" "$DIR/t" <"$INPUT") >/dev/null 2>"$T/.err"
      rc=$?
      if [[ $rc -eq 137 ]]; then
        POINTS=$((POINTS + 1))
        KINDS_HIT[$sc]=1
      elif [[ $rc -ne 0 ]]; then
        fail "exit $rc: $(head -c 300 "$T/.err")"
      fi
      after_kill
    done < <(pick_points "$T/trace" "$DIR")
  done
done
echo "syscall crash points: $POINTS; kinds: $(printf '%s\n' "${!KINDS_HIT[@]}" | sort | tr '\n' ' ')"
for must in openat linkat unlinkat fsync renameat flock; do
  case_ "coverage of $must"
  if [[ -n ${KINDS_HIT[$must]:-} ]]; then pass; else fail "no crash point at $must"; fi
done

# Part 2: random kills while the check runs (its copy exists then).
IO=auto
EXPECT=$T/new
KILLS=$((QUICK == 1 ? 5 : 20 * SIZE))
OLD_SEEN=0 NEW_SEEN=0
for ((i = 0; i < KILLS; i++)); do
  case_ "random kill $i during a slow check"
  reset_dir
  "$MUTX" --no-config --check "sleep 0.1; cmp -s %s $T/new" "$DIR/t" <"$T/new" 2>"$T/.err" &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 200)))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  cmp -s "$DIR/t" "$T/old" && OLD_SEEN=$((OLD_SEEN + 1))
  cmp -s "$DIR/t" "$T/new" && NEW_SEEN=$((NEW_SEEN + 1))
  sleep 0.12  # the orphaned check ends
  after_kill
done
echo "random kills during the check: $KILLS (old after: $OLD_SEEN, new after: $NEW_SEEN)"
finish
