#!/usr/bin/env bash
# A FUSE directory without O_TMPFILE (bindfs of a temp dir onto another):
# writes go through the named temp `.NAME.mutx-RANDOM`, land byte for byte
# (checked through the underlying directory), and leave nothing behind,
# also on failure after the temp was created. Simple, --stream (O_DIRECT
# may be refused there: splice) and --input. Needs root, bindfs and FUSE.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_root "FUSE mounts need root here"
need_cmd bindfs
[[ -e /dev/fuse ]] || skip "no /dev/fuse"

# hard_remove: an unlinked file that is still open goes at once instead of
# being renamed to .fuse_hidden* until its release, which libfuse handles
# asynchronously after the process has exited. mutx unlinks its lock file
# while holding it (docs/design.md, section 4), so without hard_remove a transient
# .fuse_hidden* (the empty lock) can outlive mutx by a moment; the last case
# below checks that it goes away.
mkdir under over
bindfs -o hard_remove under over 2>"$T/.mount.err" ||
  skip "cannot mount bindfs: $(cat "$T/.mount.err")"
on_exit "fusermount -u '$T/over' || umount -l '$T/over'"
[[ $(stat -f -c %T over) == fuseblk || $(stat -f -c %T over) == fuse* ]] ||
  grep -q " $T/over fuse" /proc/mounts || skip "bindfs mount is not FUSE here"

M=$((1024 * 1024))
printf 'small\n' >small
head -c $((4 * M + 1)) /dev/urandom >big
head -c 4097 /dev/urandom >odd

nothing_left() {  # name...
  expect_only under "$@"
  expect_only over "$@"
}

for src in small odd big; do
  for route in pipe pipe-stream file-stdin input input-stream; do
    case_ "$src, $route, through FUSE"
    rm -f under/out
    case $route in
      pipe) cat "$src" | "$MUTX" -vv over/out 2>"$T/.stderr" ;;
      pipe-stream) cat "$src" | "$MUTX" -vv --stream over/out 2>"$T/.stderr" ;;
      file-stdin) "$MUTX" -vv over/out <"$src" 2>"$T/.stderr" ;;
      input) "$MUTX" -vv -i "$src" over/out 2>"$T/.stderr" ;;
      input-stream) "$MUTX" -vv --stream --input "$src" over/out 2>"$T/.stderr" ;;
    esac
    RC=$? ERR=$(cat "$T/.stderr")
    expect_rc 0
    expect_same_file under/out "$src"
    expect_match "$ERR" "Staged with named temp" "-vv says named temp"
    nothing_left out
    strategy=$(grep -o -E 'bytes by [a-z_/]+' <<<"$ERR" | head -1)
    echo "note: $src $route: ${strategy:-?}" >&2
  done
done

case_ "replacing an existing file through FUSE keeps its mode"
printf 'old\n' >under/out
chmod 0640 under/out
printf 'new\n' | "$MUTX" over/out 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content under/out $'new\n'
expect_mode under/out 640
expect_eq "$ERR" "" "stderr"
nothing_left out

case_ "a file removed beneath FUSE while its attributes are cached is a new file"
# bindfs caches attributes for a second: the stat through the mount still
# shows the file that `rm` removed beneath it, and the open says ENOENT.
printf 'one\n' | "$MUTX" over/out 2>"$T/.stderr"
cat over/out >/dev/null
rm -f under/out
printf 'two\n' | "$MUTX" over/out 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content under/out $'two\n'
expect_eq "$ERR" "" "stderr"
nothing_left out

case_ "a mode changed beneath FUSE a moment ago is the mode kept"
printf 'one\n' | "$MUTX" over/out 2>"$T/.stderr"
stat over/out >/dev/null
chmod 0604 under/out
printf 'two\n' | "$MUTX" over/out 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content under/out $'two\n'
expect_mode under/out 604
nothing_left out

case_ "--no-sync through FUSE"
cat big | "$MUTX" --no-sync --stream over/out 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_same_file under/out big
nothing_left out

case_ "--parents through FUSE"
printf 'deep\n' | "$MUTX" -p over/x/y/out 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content under/x/y/out $'deep\n'
expect_only under/x/y out
rm -rf under/x

case_ "empty --stream input after the temp exists: nothing left"
cp small under/out
printf '' | "$MUTX" --stream over/out 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" "^Error: No input provided" "stderr"
expect_same_file under/out small
nothing_left out

case_ "a failing command after the temp exists: nothing left"
"$MUTX" over/out -- sh -c 'cat; echo more; exit 3' 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" "^Error: " "stderr"
expect_same_file under/out small
nothing_left out

case_ "--symlinks=follow through FUSE"
ln -s out under/link
printf 'via link\n' | "$MUTX" over/link 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content under/out $'via link\n'
if [[ -L under/link ]]; then pass; else fail "under/link is no longer a link"; fi
nothing_left out link
rm -f under/link

case_ "default FUSE options (no hard_remove): nothing left once released"
mkdir under2 over2
if bindfs under2 over2 2>"$T/.mount.err"; then
  on_exit "fusermount -u '$T/over2' || umount -l '$T/over2'"
  for i in 1 2 3 4 5 6 7 8; do
    cat odd | "$MUTX" --stream over2/out 2>"$T/.stderr"
    RC=$? ERR=$(cat "$T/.stderr")
    expect_rc 0
    expect_same_file under2/out odd
  done
  # libfuse deletes a hidden file when the kernel's asynchronous release
  # reaches it; wait for that (bounded), then nothing but out may remain.
  for i in $(seq 100); do
    compgen -G "under2/.fuse_hidden*" >/dev/null || break
    sleep 0.1
  done
  expect_only under2 out
else
  echo "note: second bindfs mount failed: $(cat "$T/.mount.err")" >&2
fi

if command -v strace >/dev/null && strace -f -o /dev/null true 2>/dev/null; then
  case_ "named temp order: created exclusively, fsynced, renamed, directory fsynced"
  cat big | strace -f -o "$T/trace" -e trace=openat,fsync,fdatasync,linkat,renameat,renameat2 \
    "$MUTX" --io=syscalls over/out 2>"$T/.stderr"
  RC=${PIPESTATUS[1]} ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_same_file under/out big
  nothing_left out
  create=$(grep -n -E 'openat\([0-9]+, "\.out\.mutx-[a-z0-9]+", [^)]*O_CREAT\|O_EXCL|openat\([0-9]+, "\.out\.mutx-[a-z0-9]+", [^)]*O_EXCL' "$T/trace" | head -1)
  cline=${create%%:*}
  if [[ -n $create ]]; then pass; else fail "no exclusive openat of .out.mutx-* in the trace"; fi
  if [[ $create == *O_NOFOLLOW* ]]; then pass; else fail "the named temp is opened without O_NOFOLLOW"; fi
  sfd=$(sed -E 's/.*\) += ([0-9]+)$/\1/' <<<"$create")
  tmp=$(sed -E 's/.*openat\([0-9]+, "([^"]+)".*/\1/' <<<"$create")
  dfd=$(sed -E 's/.*openat\(([0-9]+), .*/\1/' <<<"$create")
  ren=$(grep -n -E "renameat2?\($dfd, \"$tmp\", $dfd, \"out\"" "$T/trace" | head -1 | cut -d: -f1)
  if [[ -n $ren ]]; then pass; else fail "no rename of $tmp onto out"; ren=0; fi
  ssync=$(awk -v a="${cline:-0}" -v b="$ren" -v fd="$sfd" 'NR > a && NR < b && $0 ~ ("fsync\\(" fd "\\)[ ]*= 0")' "$T/trace" | wc -l)
  if ((ssync >= 1)); then pass; else fail "the named temp (fd $sfd) is not fsynced before its rename"; fi
  dsync=$(awk -v b="$ren" -v fd="$dfd" 'NR > b && $0 ~ ("fsync\\(" fd "\\)[ ]*= 0")' "$T/trace" | wc -l)
  if ((dsync >= 1)); then pass; else fail "the directory (fd $dfd) is not fsynced after the rename"; fi
  expect_eq "$(grep -c 'linkat(' "$T/trace")" 0 "linkat calls for a named temp"
else
  echo "note: strace unavailable; named temp order not checked" >&2
fi

finish
