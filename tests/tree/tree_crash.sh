#!/usr/bin/env bash
# Crash points across the tree writer: each syscall kind it makes on DIR's
# filesystem (mkdirat, openat, pwrite64, symlinkat, linkat, fchmod,
# syncfs, renameat2, unlinkat, fsync, ...), killed by SIGKILL at its first
# occurrences (`strace -f --inject=SYSCALL:signal=KILL:when=N`, as
# tests/crash/ does; -f follows the builder thread). After each kill:
#   - DIR is the old tree or the new one, whole (every file's content);
#   - `mutx housekeep --all --older-than 0s` recognises and removes the
#     killed writer's staged tree (and only that);
#   - the next write succeeds and leaves DIR, .DIR.mutx-old (and the backup
#     with --backup) only.
# Configurations: a tar stream, a tar stream with --backup, --tree-from.
# Sample: the first and the last occurrence of each kind (MUTX_TEST_SIZE >= 2:
# every one, except in sanitized builds).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/lib.sh"
. "$HERE/../crash/lib_crash.bash"
need_strace_inject

TREE_SYSCALLS=openat,close,flock,mkdirat,write,pwrite64,ftruncate,fchmod,fchmodat,fchown,fchownat,utimensat,symlinkat,linkat,sync_file_range,syncfs,fsync,renameat,renameat2,unlinkat,copy_file_range,ioctl
if [[ $SIZE -ge 2 && $QUICK -eq 0 ]]; then PER_KIND=0; else PER_KIND=1; fi

make_tree() {  # dir tag
  local d=$1 i
  mkdir -p "$d/sub/deeper"
  for i in $(seq 1 12); do printf '%s file %s\n' "$2" "$i" >"$d/f$i"; done
  printf '%s deep\n' "$2" >"$d/sub/deeper/x"
  head -c 200000 /dev/urandom >"$d/sub/big"
  ln -sf f1 "$d/link"
  ln -f "$d/f2" "$d/hard"
  chmod 750 "$d/sub"
}
fingerprint() {  # dir: names, types, link targets and contents
  (cd "$1" && find . -printf '%p %y %l\n' | sort && find . -type f -exec sha1sum {} + | sort)
}
make_tree "$T/old" old
make_tree "$T/new" new
make_tree "$T/next" next
tar -C "$T/old" -c . >"$T/old.tar"
tar -C "$T/new" -c . >"$T/new.tar"
tar -C "$T/next" -c . >"$T/next.tar"
OLD=$(fingerprint "$T/old")
NEW=$(fingerprint "$T/new")
NEXT=$(fingerprint "$T/next")
W=$T/w
POINTS=0
COMPLETED=0
declare -A KINDS_HIT=()

reset_work() {
  rm -rf "$W"
  mkdir -p "$W"
  "$MUTX" --no-config --tree --input "$T/old.tar" "$W/site" 2>/dev/null || fatal "cannot write the old tree"
}

writer() {  # strace-prefix...: the write under test, with $FLAGS and $SRC
  if [[ $SRC == tar ]]; then
    # shellcheck disable=SC2086
    "$@" "$MUTX" --no-config --tree $FLAGS --input "$T/new.tar" "$W/site"
  else
    # shellcheck disable=SC2086
    "$@" "$MUTX" --no-config --tree $FLAGS --tree-from "$T/new" "$W/site"
  fi
}

crash_point() {  # syscall n
  local sc=$1 n=$2 rc fp
  case_ "$SRC [$FLAGS] kill at $sc #$n"
  reset_work
  writer strace -f -o /dev/null -e "inject=$sc:signal=SIGKILL:when=$n" >/dev/null 2>"$T/.err"
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
  fp=$(fingerprint "$W/site")
  if [[ $fp == "$OLD" || $fp == "$NEW" ]]; then pass; else fail "site is neither the old tree nor the new"; fi
  # housekeep recognises what the killed writer left: its staged tree.
  local staged
  staged=$(cd "$W" && ls -A | grep -E '^\.site\.mutx-tree-' || true)
  "$MUTX" housekeep --all --older-than 0s --keep-newest 1 "$W" >"$T/.hk.out" 2>"$T/.hk.err" || fail "housekeep: $(head -c 300 "$T/.hk.err")"
  if [[ -n $staged ]]; then
    expect_has "$(cat "$T/.hk.out")" "$W/$staged" "housekeep's output"
    expect_missing "$W/$staged"
  fi
  # The next write.
  "$MUTX" --no-config --tree $FLAGS --input "$T/next.tar" "$W/site" 2>"$T/.err" || { fail "next write: $(head -c 300 "$T/.err")"; return; }
  expect_eq "$(fingerprint "$W/site")" "$NEXT" "site after the next write"
  if [[ $FLAGS == *--backup* ]]; then
    local left
    left=$(cd "$W" && ls -A | grep -vxE 'site|site\.backup|\.site\.mutx-old' || true)
    expect_eq "$left" "" "left beside site"
  else
    local left
    left=$(cd "$W" && ls -A | grep -vxE 'site|\.site\.mutx-old' || true)
    expect_eq "$left" "" "left beside site"
  fi
}

for config in "tar|" "tar|--backup" "dir|"; do
  SRC=${config%%|*}
  FLAGS=${config#*|}
  case_ "$SRC [$FLAGS] recording"
  reset_work
  writer strace -f -qq -o "$T/trace" -e "trace=$TREE_SYSCALLS" 2>"$T/.err" || { fail "recording: $(head -c 300 "$T/.err")"; continue; }
  while read -r sc n; do
    crash_point "$sc" "$n"
  done < <(pick_points "$T/trace" "$W" "$PER_KIND")
done

echo "crash points: $POINTS (runs that finished before the Nth call: $COMPLETED)" >&2
echo "syscall kinds killed at: $(printf '%s\n' "${!KINDS_HIT[@]}" | sort | tr '\n' ' ')" >&2
for must in mkdirat openat pwrite64 symlinkat linkat fchmod syncfs renameat2 unlinkat fsync flock; do
  case_ "coverage of $must"
  if [[ -n ${KINDS_HIT[$must]:-} ]]; then pass; else fail "no crash point at $must"; fi
done
finish
