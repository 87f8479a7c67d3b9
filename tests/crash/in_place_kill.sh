#!/usr/bin/env bash
# --in-place killed at every syscall of the write path (as syscall_kill.sh:
# strace -e inject=SYSCALL:signal=SIGKILL:when=N, for every kind and every
# occurrence, on both I/O paths), on a normal file and, as root, on a
# bind-mounted one. --in-place is not atomic, and mutx(1) (LIMITATIONS)
# says what a kill can leave; this checks exactly that:
#   - the target is the old content, the new content, or the new content's
#     first P bytes followed by the old content from byte P on (the copy
#     goes front to back; the truncate comes after it);
#   - with --backup, whenever the target is not the old content the backup
#     is, byte for byte (it is synced before the first byte is overwritten);
#     otherwise a backup is absent or the old content;
#   - a bind-mounted target is still mounted, on the same inode;
#   - the next write succeeds, and it plus `mutx housekeep --all` leaves
#     only the target (and its backup).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/lib.sh"
. "$HERE/lib_crash.bash"

need_strace_inject

WRITE_PATH_SYSCALLS=openat,close,flock,fcntl,ioctl,write,pwrite64,pwritev,pwritev2,writev,splice,copy_file_range,sendfile,fallocate,ftruncate,fsync,fdatasync,sync_file_range,linkat,renameat,renameat2,unlinkat,fchmod,fchown,fsetxattr,io_uring_enter,mkdirat

head -c 9001 /dev/urandom >"$T/old"
head -c $((200 * 1024 + 13)) /dev/urandom >"$T/new"   # longer than the old content
head -c 3000 /dev/urandom >"$T/short"                 # shorter: the truncate matters
printf 'next write\n' >"$T/next"
# The first 2 and the last 3 occurrences of each kind (size >= 2: all):
# the in-place copy (open, clone, copy_file_range, ftruncate, fsync, close)
# comes last, after the staging's and the backup's calls of the same kinds.
# Sanitizer builds take the first and the last.
PER_KIND=0
EDGE=$((QUICK == 1 ? 1 : 2))
edges() {  # "syscall N" lines, sorted: the first EDGE and the last EDGE+1 of each kind
  if [[ $SIZE -ge 2 && $QUICK -eq 0 ]]; then cat; return; fi
  awk -v e="$EDGE" '{ k[$1] = k[$1] " " $2 } END { for (s in k) { c = split(k[s], a, " "); for (i = 1; i <= c; i++) if (i <= e || i > c - e - 1) print s, a[i] } }' |
    sort -k1,1 -k2,2n
}

# Whether FILE is NEW's first P bytes over OLD from byte P on, for some P
# (P = 0 is OLD itself, P >= both sizes is NEW).
new_over_old() {  # file old new
  local out p
  out=$(cmp "$1" "$3" 2>&1) && return 0
  if [[ $out =~ differ:\ byte\ ([0-9]+) ]]; then p=$((BASH_REMATCH[1] - 1))
  elif [[ $out =~ after\ byte\ ([0-9]+) ]]; then p=${BASH_REMATCH[1]}
  elif [[ $out =~ is\ empty ]]; then p=0
  else return 1
  fi
  cmp -s <(tail -c +$((p + 1)) "$1") <(tail -c +$((p + 1)) "$2")
}

TARGETS=(normal)
if [[ $(id -u) -eq 0 ]] && mkdir -p "$T/bind" && printf 'under\n' >"$T/bind/t" && cp "$T/old" "$T/bindsrc" &&
  mount --bind "$T/bindsrc" "$T/bind/t" 2>/dev/null; then
  on_exit "umount -l '$T/bind/t'"
  TARGETS+=(bind)
  BIND_INODE=$(stat -c %i "$T/bindsrc")
else
  echo "NOTE: bind-mounted part skipped (needs root and mount --bind)" >&2
fi

reset_target() {
  if [[ $TARGET == bind ]]; then
    find "$DIR" -mindepth 1 ! -name t -delete
    cat "$T/old" >"$T/bindsrc"   # in place: the mount stays on this inode
  else
    find "$DIR" -mindepth 1 -delete
    cp "$T/old" "$DIR/t"
  fi
}

POINTS=0
COMPLETED=0
MIXED=0
declare -A KINDS_HIT=()

crash_point() {  # syscall n
  local sc=$1 n=$2 rc
  case_ "$IO $TARGET [$FLAGS] <$(basename "$INPUT")> kill at $sc #$n"
  reset_target
  # shellcheck disable=SC2086
  (cat "$INPUT" | MUTX_IO=$IO strace -f -o /dev/null -e "inject=$sc:signal=SIGKILL:when=$n" \
    "$MUTX" --no-config $FLAGS "$DIR/t") >/dev/null 2>"$T/.err"
  rc=$?
  if [[ $rc -eq 137 ]]; then
    POINTS=$((POINTS + 1))
    KINDS_HIT[$sc]=1
  elif [[ $rc -eq 0 ]]; then
    COMPLETED=$((COMPLETED + 1))
  else
    fail "exit $rc: $(head -c 300 "$T/.err")"
    return
  fi
  if cmp -s "$DIR/t" "$T/old" || cmp -s "$DIR/t" "$INPUT"; then
    pass
  elif new_over_old "$DIR/t" "$T/old" "$INPUT"; then
    pass
    MIXED=$((MIXED + 1))
  else
    fail "target is neither old, new, nor new over old: $(describe_file "$DIR/t")"
  fi
  if [[ $FLAGS == *--backup* ]] && ! cmp -s "$DIR/t" "$T/old"; then
    if cmp -s "$DIR/t.backup" "$T/old"; then pass; else fail "the target changed but the backup is not the old content: $(describe_file "$DIR/t.backup")"; fi
  elif [[ -e $DIR/t.backup ]]; then
    if cmp -s "$DIR/t.backup" "$T/old"; then pass; else fail "backup is not the old content: $(describe_file "$DIR/t.backup")"; fi
  fi
  if [[ $TARGET == bind ]]; then
    if [[ $(findmnt -n -o TARGET "$DIR/t" 2>/dev/null) == "$DIR/t" && $(stat -c %i "$DIR/t") == "$BIND_INODE" ]]; then
      pass
    else
      fail "the bind mount is gone or on another inode"
    fi
  fi

  cp "$DIR/t" "$T/before-next"
  # shellcheck disable=SC2086
  MUTX_IO=$IO "$MUTX" --no-config $FLAGS "$DIR/t" <"$T/next" >/dev/null 2>"$T/.err"
  rc=$?
  if [[ $rc -ne 0 ]]; then fail "next write: exit $rc: $(head -c 300 "$T/.err")"; return; fi
  expect_same_file "$DIR/t" "$T/next"
  [[ $FLAGS == *--backup* ]] && expect_same_file "$DIR/t.backup" "$T/before-next"
  if ! housekeep_clean "$DIR"; then fail "housekeep: $(head -c 300 "$T/.hk.err")"; fi
  if [[ $FLAGS == *--backup* ]]; then expect_only "$DIR" t t.backup; else expect_only "$DIR" t; fi
}

for TARGET in "${TARGETS[@]}"; do
  if [[ $TARGET == bind ]]; then DIR=$T/bind; else DIR=$T/work; fi
  mkdir -p "$DIR"
  for IO in syscalls uring; do
    for FLAGS in "--in-place --backup" "--in-place"; do
      for INPUT in "$T/new" "$T/short"; do
        # In full: a normal file, on the syscalls path, --backup; elsewhere
        # the longer input, and the bind mount and io_uring with --backup.
        [[ ($TARGET == bind || $IO == uring || $FLAGS != *--backup*) && $INPUT == "$T/short" ]] && continue
        [[ ($TARGET == bind || $IO == uring) && $FLAGS != *--backup* ]] && continue
        reset_target
        case_ "$IO $TARGET [$FLAGS] recording"
        # shellcheck disable=SC2086
        cat "$INPUT" | MUTX_IO=$IO strace -f -qq -o "$T/trace" -e "trace=$WRITE_PATH_SYSCALLS" \
          "$MUTX" --no-config $FLAGS "$DIR/t" 2>"$T/.err"
        rc=$?
        if [[ $rc -ne 0 ]]; then fail "recording run: exit $rc: $(head -c 300 "$T/.err")"; continue; fi
        while read -r sc n; do
          crash_point "$sc" "$n"
        done < <(pick_points "$T/trace" "$DIR" | edges)
      done
    done
  done
done

echo "crash points: $POINTS (runs that finished before the Nth call: $COMPLETED); targets left new over old: $MIXED"
echo "syscall kinds killed at: $(printf '%s\n' "${!KINDS_HIT[@]}" | sort | tr '\n' ' ')"
for must in openat fsync ftruncate copy_file_range unlinkat flock close io_uring_enter; do
  case_ "coverage of $must"
  if [[ -n ${KINDS_HIT[$must]:-} ]]; then pass; else fail "no crash point at $must"; fi
done
# The kills inside the copy must have left a mixed target at least once,
# or the check above proves nothing about it.
case_ "some kill landed inside the in-place copy"
if ((MIXED > 0)); then pass; else fail "no target was left new over old: the copy was never interrupted"; fi
finish
