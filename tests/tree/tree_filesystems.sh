#!/usr/bin/env bash
# mutx --tree on tmpfs and on loop-mounted ext4, xfs and btrfs images (as
# tests/crash/filesystems.sh mounts them; root only, each part skips with a
# note when unavailable): a new DIR (RENAME_NOREPLACE), a swap
# (RENAME_EXCHANGE) with the old tree kept, --tree-from (reflinks where the
# filesystem shares extents: btrfs and xfs report "clone"), a hostile
# archive refused, housekeep --keep-newest 0 removing the old generation.
# Then a large tree on tmpfs: 20,000 files x MUTX_TEST_SIZE (5: the
# 100,000-file tree) written, replaced and its old generation removed, every
# file checked by a listing and checksums of its content.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/lib.sh"
. "$HERE/../crash/lib_crash.bash"
need_root "mounting filesystems needs root"
need_cmd python3
MK=$MUTX_SOURCE_DIR/tests/tree/make_tar.py
m() { "$MUTX" --no-config "$@"; }
fingerprint() { (cd "$1" && find . -printf '%p %y %m %l\n' | sort && find . -type f -exec sha1sum {} + | sort); }

mkdir -p "$T/src/sub"
for i in $(seq 1 20); do printf 'file %s\n' "$i" >"$T/src/f$i"; done
head -c 1048576 /dev/urandom >"$T/src/sub/big"
ln -s f1 "$T/src/link"
tar -C "$T/src" -c . >"$T/src.tar"
WANT=$(fingerprint "$T/src")
RAN=0

sample() {  # dir label
  local d=$1 where=$2
  RAN=$((RAN + 1))
  case_ "$where: a new DIR"
  run --no-config --tree --input "$T/src.tar" "$d/site"
  expect_rc 0
  expect_eq "$(fingerprint "$d/site")" "$WANT" "$where: site"
  case_ "$where: a swap keeps the old tree"
  printf 'changed\n' >"$d/site/f1"
  run --no-config --tree --input "$T/src.tar" "$d/site"
  expect_rc 0
  expect_eq "$(fingerprint "$d/site")" "$WANT" "$where: site"
  expect_content "$d/.site.mutx-old/f1" $'changed\n'
  case_ "$where: --tree-from"
  cp -a "$T/src" "$d/from"
  OUT=$(m --json --tree-from "$d/from" "$d/copy" 2>&1 | tail -n 1)
  expect_eq "$(fingerprint "$d/copy")" "$WANT" "$where: copy"
  local how
  how=$(jq -r .strategy <<<"$OUT")
  case $where in
    btrfs | xfs) expect_eq "$how" clone "$where: how the files were copied" ;;
    *) expect_match "$how" '^(clone|copy_file_range|read/write)' "$where: how the files were copied" ;;
  esac
  case_ "$where: a hostile archive"
  python3 "$MK" symlink-chain | m --tree "$d/site" 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 1
  expect_has "$ERR" "entry 'esc' refused"
  expect_eq "$(fingerprint "$d/site")" "$WANT" "$where: site"
  case_ "$where: housekeep --keep-newest 0"
  run housekeep --clean-backups --keep-newest 0 "$d"
  expect_rc 0
  expect_out "$d/.site.mutx-old"
  rm -rf "$d/from" "$d/copy" "$d/.copy.mutx-old"
  expect_only "$d" site $( [[ $where == ext4 ]] && echo lost+found )
}

mkdir -p "$T/tmpfs"
if mount -t tmpfs -o size=512m none "$T/tmpfs" 2>/dev/null; then
  on_exit "umount '$T/tmpfs' || umount -l '$T/tmpfs'"
  sample "$T/tmpfs" tmpfs
else
  echo "NOTE: tmpfs part skipped: cannot mount tmpfs" >&2
fi
if [[ -e /dev/loop-control ]]; then
  for fs in ext4 xfs btrfs; do
    if mount_image "$fs" "$T/$fs"; then sample "$T/$fs" "$fs"; else echo "NOTE: $fs part skipped: $IMG_WHY" >&2; fi
  done
else
  echo "NOTE: ext4, xfs and btrfs parts skipped: no /dev/loop-control" >&2
fi
((RAN > 0)) || skip "no filesystem could be mounted"

SIZE=${MUTX_TEST_SIZE:-1}
FILES=$((20000 * SIZE))
if mountpoint -q "$T/tmpfs"; then
  case_ "a $FILES-file tree on tmpfs"
  big=$T/tmpfs/big
  mkdir -p "$big/src"
  python3 - "$big/src" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for d in range((n + 999) // 1000):
    os.mkdir("%s/d%d" % (root, d))
    for f in range(min(1000, n - d * 1000)):
        with open("%s/d%d/f%d" % (root, d, f), "w") as h:
            h.write("%d %d\n" % (d, f))
PY
  tar -C "$big/src" -c . >"$big/src.tar"
  run --no-config --tree --input "$big/src.tar" "$big/site"
  expect_rc 0
  expect_eq "$(find "$big/site" -type f | wc -l)" "$FILES" "files written"
  run --no-config --tree --input "$big/src.tar" "$big/site"
  expect_rc 0
  run --no-config --tree --input "$big/src.tar" "$big/site"   # removes the generation before
  expect_rc 0
  expect_eq "$( (cd "$big/site" && find . -type f -exec cat {} + | sort | sha1sum) )" \
    "$( (cd "$big/src" && find . -type f -exec cat {} + | sort | sha1sum) )" "content of every file"
  run housekeep --clean-backups --keep-newest 0 "$big"
  expect_out "$big/.site.mutx-old"
  rm -rf "$big/src" "$big/src.tar"
  expect_only "$big" site
fi
finish
