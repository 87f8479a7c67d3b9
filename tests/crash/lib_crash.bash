# Helpers shared by the crash suite (tests/crash/*.sh). Source after lib.sh:
#   HERE=$(cd "$(dirname "$0")" && pwd); . "$HERE/../cli/lib.sh"; . "$HERE/lib_crash.bash"
#
# Sample size: MUTX_TEST_SIZE (CTest passes it; 1 in CI). Sanitizer builds
# run several times slower, so when CTest says MUTX_SANITIZED=1 (set for
# MUTX_SANITIZE=ON builds), $MUTX_BUILD_DIR was configured with
# MUTX_SANITIZE=ON, or MUTX_CRASH_QUICK=1 is set, the suites take a smaller
# sample; MUTX_CRASH_QUICK=0 forces the full sample even there.

SIZE=${MUTX_TEST_SIZE:-1}
[[ $SIZE =~ ^[0-9]+$ && $SIZE -ge 1 ]] || SIZE=1

crash_quick() {
  if [[ -n ${MUTX_CRASH_QUICK:-} ]]; then
    [[ $MUTX_CRASH_QUICK == 1 ]]
    return
  fi
  [[ ${MUTX_SANITIZED:-0} == 1 ]] && return 0
  [[ -n ${MUTX_BUILD_DIR:-} && -f $MUTX_BUILD_DIR/CMakeCache.txt ]] &&
    grep -q '^MUTX_SANITIZE:BOOL=ON' "$MUTX_BUILD_DIR/CMakeCache.txt"
}
QUICK=0
if crash_quick; then QUICK=1; fi

# strace with fault injection (signal= and error=) that can follow children.
need_strace_inject() {
  need_cmd strace
  strace -f -o /dev/null -e inject=getppid:error=EPERM true 2>/dev/null ||
    skip "strace cannot trace here (ptrace refused?)"
}

# A FUSE mount without O_TMPFILE, so mutx stages under a name. Sets FUSE to
# the mount point and FUSE_BACK to the directory behind it, or returns 1
# with FUSE_WHY saying why not.
FUSE=
FUSE_BACK=
FUSE_WHY=
mount_bindfs() {
  if ! command -v bindfs >/dev/null 2>&1; then FUSE_WHY="bindfs not installed"; return 1; fi
  if [[ ! -c /dev/fuse ]]; then FUSE_WHY="no /dev/fuse"; return 1; fi
  FUSE_BACK=$T/fuse-back
  FUSE=$T/fuse
  mkdir -p "$FUSE_BACK" "$FUSE"
  if ! bindfs "$FUSE_BACK" "$FUSE" 2>"$T/.bindfs.err"; then
    FUSE_WHY="bindfs failed: $(head -c 200 "$T/.bindfs.err")"
    FUSE=
    return 1
  fi
  on_exit "fusermount -u '$FUSE' || umount -l '$FUSE'"
  return 0
}

# Loop-mounted filesystem images (root only). mount_image TYPE DIR [MOUNT-OPTS]
# creates $T/TYPE.img (300 MiB, sparse), makes the filesystem, mounts it on
# DIR and registers the unmount; returns 1 with IMG_WHY set on failure.
IMG_WHY=
mount_image() {
  local type=$1 dir=$2 opts=${3:-} img=$T/$1.img mkfs
  IMG_WHY=
  mkfs=$(command -v "mkfs.$type") || { IMG_WHY="mkfs.$type not installed"; return 1; }
  truncate -s 300M "$img" || { IMG_WHY="cannot create $img"; return 1; }
  case $type in
    xfs | btrfs) "$mkfs" -q -f "$img" >"$T/.mkfs.err" 2>&1 ;;
    ext4) "$mkfs" -q -F "$img" >"$T/.mkfs.err" 2>&1 ;;
    *) "$mkfs" "$img" >"$T/.mkfs.err" 2>&1 ;;
  esac || { IMG_WHY="mkfs.$type failed: $(head -c 200 "$T/.mkfs.err")"; return 1; }
  mkdir -p "$dir"
  if ! mount -o "loop${opts:+,$opts}" "$img" "$dir" 2>"$T/.mount.err"; then
    IMG_WHY="cannot mount $type image: $(head -c 200 "$T/.mount.err")"
    return 1
  fi
  # umount of a loop mount made with -o loop detaches the loop device too.
  on_exit "umount '$dir' || umount -l '$dir'"
  return 0
}

need_loop_mounts() {
  need_root "loop mounts need root"
  [[ -e /dev/loop-control ]] || skip "no /dev/loop-control (loop devices unavailable)"
  local probe=$T/.probe.img
  truncate -s 16M "$probe" && mkfs.ext4 -q -F "$probe" >/dev/null 2>&1 || skip "cannot make a probe ext4 image"
  mkdir -p "$T/.probe"
  mount -o loop "$probe" "$T/.probe" 2>/dev/null || skip "cannot loop-mount an image here"
  umount "$T/.probe"
  rm -f "$probe"
  rmdir "$T/.probe"
}

# Byte-for-byte equality of a file with one of several reference files.
same_as_any() {  # file ref...
  local f=$1
  shift
  local r
  for r in "$@"; do cmp -s "$f" "$r" && return 0; done
  return 1
}

# A short description of a file for failure messages.
describe_file() {
  if [[ -L $1 ]]; then echo "symlink -> $(readlink "$1")"
  elif [[ -f $1 ]]; then echo "$(stat -c %s "$1") bytes, sha1 $(sha1sum <"$1" | cut -c1-12)"
  elif [[ -e $1 ]]; then echo "not a regular file"
  else echo "missing"
  fi
}

# Clean up after a killed writer the way a user would: the next write, then
# housekeep. Temps of any age go (--older-than 0s); --keep-newest 1 keeps the
# one backup. housekeep_clean DIR
# On the FUSE mount it cleans the directory beneath: housekeep keeps every
# temp on FUSE, which other hosts may mount (issue 21); the host where the
# filesystem is local cleans up.
housekeep_clean() {
  local dir=$1
  if [[ -n ${FUSE:-} && $dir == "$FUSE"/* ]]; then dir=$FUSE_BACK${dir#"$FUSE"}; fi
  "$MUTX" housekeep --all --older-than 0s --keep-newest 1 "$dir" >"$T/.hk.out" 2>"$T/.hk.err"
}

# Which occurrence numbers of each syscall to kill at, from a recorded
# trace (strace -o LOG, with or without -f's pid column): those at or after the first call that touches
# the work directory (before it, the loader and the ring setup run; a kill
# there is a kill before anything). Prints "syscall N" lines.
pick_points() {  # log workdir [per-kind, default $PER_KIND] (0: every occurrence; 1: first and last; N: the first N)
  awk -v dir="$2" -v per="${3:-$PER_KIND}" '
    / resumed>/ || /^([0-9]+ )?\+\+\+/ || /^([0-9]+ )?---/ { next }
    {
      name = ($1 ~ /^[0-9]+$/) ? $2 : $1; sub(/\(.*/, "", name)
      n[name]++
      if (!started && index($0, "\"" dir)) started = 1
      if (started) { if (!(name in first)) first[name] = n[name]; last[name] = n[name] }
    }
    END {
      for (s in first) {
        for (k = first[s]; k <= last[s]; k++)
          if (per == 0 || k < first[s] + per || (per == 1 && k == last[s])) print s, k
      }
    }' "$1" | sort -k1,1 -k2,2n
}
