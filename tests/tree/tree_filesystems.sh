#!/usr/bin/env bash
# mutx --tree on tmpfs and on loop-mounted ext4, xfs and btrfs images (as
# tests/crash/filesystems.sh mounts them; root only, each part skips with a
# note when unavailable): a new DIR (RENAME_NOREPLACE), a swap
# (RENAME_EXCHANGE) with the old tree kept, --tree-from (reflinks where the
# filesystem shares extents: btrfs and xfs report "clone"), a hostile
# archive refused, housekeep --keep-newest 0 removing the old generation.
# Then a large tree on tmpfs: 100,000 files (the sanitized build: 20,000 x
# MUTX_TEST_SIZE; either: 20,000 x MUTX_TEST_SIZE above 5) written, replaced
# and its old generation removed, every file checked by a listing and
# checksums of its content.
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
if [[ ${MUTX_SANITIZED:-0} == 1 ]]; then FILES=$((20000 * SIZE)); else FILES=$((20000 * (SIZE > 5 ? SIZE : 5))); fi
if mountpoint -q "$T/tmpfs"; then
  case_ "a $FILES-file tree on tmpfs"
  big=$T/tmpfs/big
  # A page per file and directory, for the tar and DIR's three generations
  # at most (DIR, the old one, the staged one): 20 KiB a file.
  mount -o remount,size=$((FILES * 20 / 1024 + 64))m "$T/tmpfs" || fail "cannot grow the tmpfs"
  mkdir -p "$big"
  # The archive written directly (ustar headers by hand: 2 s for 100,000
  # files, where files then tar(1) took 8), and the SHA-1 of its files'
  # contents, sorted.
  want=$(python3 - "$big/src.tar" "$FILES" <<'PY'
import hashlib, sys
out, n = sys.argv[1], int(sys.argv[2])
def header(name, size, typ, mode):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"%07o\0" % mode
    h[108:124] = b"0000000\0" * 2
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % 1700000000
    h[148:156] = b" " * 8
    h[156:157] = typ
    h[257:265] = b"ustar\x0000"
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)
lines = []
parts = [header(b"./", 0, b"5", 0o755)]
for d in range((n + 999) // 1000):
    parts.append(header(b"d%d/" % d, 0, b"5", 0o755))
    for f in range(min(1000, n - d * 1000)):
        line = b"%d %d\n" % (d, f)
        lines.append(line)
        parts.append(header(b"d%d/f%d" % (d, f), len(line), b"0", 0o644))
        parts.append(line + b"\0" * (512 - len(line)))
parts.append(b"\0" * 10240)
with open(out, "wb") as o:
    o.write(b"".join(parts))
print(hashlib.sha1(b"".join(sorted(lines))).hexdigest() + "  -")
PY
)
  run --no-config --tree --input "$big/src.tar" "$big/site"
  expect_rc 0
  expect_eq "$(find "$big/site" -type f | wc -l)" "$FILES" "files written"
  run --no-config --tree --input "$big/src.tar" "$big/site"
  expect_rc 0
  run --no-config --tree --input "$big/src.tar" "$big/site"   # removes the generation before
  expect_rc 0
  expect_eq "$( (cd "$big/site" && find . -type f -exec cat {} + | LC_ALL=C sort | sha1sum) )" "$want" "content of every file"
  run housekeep --clean-backups --keep-newest 0 "$big"
  expect_out "$big/.site.mutx-old"
  rm -f "$big/src.tar"
  expect_only "$big" site
fi
finish
