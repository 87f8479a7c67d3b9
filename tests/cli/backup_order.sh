#!/usr/bin/env bash
# Crash safety of the backup: the rename that gives the backup its name and
# the fsync of the backup's directory happen before the rename that
# publishes the new content. A crash before the publish leaves the old
# target (and at most a whole backup); after it, the backup is durable.
# Traced with strace; skips without it.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_cmd strace
strace -f -o /dev/null true 2>/dev/null || skip "strace cannot trace here"

# check_order TRACE BACKUP_NAME TARGET_NAME
check_order() {
  local trace=$1 bname=$2 tname=$3
  local bline bfd pline sline
  # renameat(FD, ".NAME.mutx-...", FD, "NAME.backup") or renameat2(...)
  bline=$(grep -n -E "renameat2?\([0-9]+, \"\.[^\"]*\.mutx-[a-z0-9]+\", [0-9]+, \"$bname\"" "$trace" | head -1 | cut -d: -f1)
  pline=$(grep -n -E "renameat2?\([0-9]+, \"\.[^\"]*\.mutx-[a-z0-9]+\", [0-9]+, \"$tname\"" "$trace" | head -1 | cut -d: -f1)
  if [[ -n $bline ]]; then pass; else fail "no rename onto $bname in the trace"; return; fi
  if [[ -n $pline ]]; then pass; else fail "no rename onto $tname in the trace"; return; fi
  bfd=$(sed -n "${bline}p" "$trace" | sed -E 's/.*renameat2?\([0-9]+, "[^"]*", ([0-9]+),.*/\1/')
  if ((bline < pline)); then pass; else fail "the backup rename (line $bline) comes after the publish (line $pline)"; fi
  # The backup directory's fsync, between the two renames.
  sline=$(awk -v b="$bline" -v p="$pline" -v fd="$bfd" \
    'NR > b && NR < p && $0 ~ ("fsync\\(" fd "\\)[ ]*= 0") { print NR; exit }' "$trace")
  if [[ -n $sline ]]; then pass; else fail "no fsync($bfd) of the backup directory between line $bline and $pline"; fi
  # The staged data is in the backup's temp link before its rename.
  if grep -q -E "linkat\(.*\"\.[^\"]*\.mutx-[a-z0-9]+\"" <(head -n "$bline" "$trace"); then pass; else fail "no linkat before the backup rename"; fi
}

case_ "linked backup: rename and directory fsync before the publish"
mkdir same
printf 'old' >same/f
printf 'new' | strace -f -o "$T/trace1" -e trace=linkat,renameat,renameat2,fsync "$MUTX" --backup same/f 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_content same/f 'new'
expect_content same/f.backup 'old'
check_order "$T/trace1" 'f\.backup' 'f'

case_ "timestamped backup: the same order"
printf 'newer' | strace -f -o "$T/trace2" -e trace=linkat,renameat,renameat2,fsync "$MUTX" --backup-timestamp same/f 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
check_order "$T/trace2" 'f\.[0-9]{8}-[0-9]{6}(_[0-9]{3})?\.backup' 'f'

if [[ $(id -u) -eq 0 ]] && mkdir tmpfs && mount -t tmpfs -o size=1m mutx-order-test tmpfs 2>/dev/null; then
  on_exit umount -l "$T/tmpfs"
  case_ "copied backup on a tmpfs: file fsync, rename and directory fsync before the publish"
  printf 'new' | strace -f -o "$T/trace3" -e trace=linkat,renameat,renameat2,fsync "$MUTX" --io=syscalls --backup --backup-dir tmpfs same/f 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_content tmpfs/f.backup 'newer'
  check_order "$T/trace3" 'f\.backup' 'f'
  # The copy itself is synced before it gets its temp name (the first
  # link that succeeds: linking the old file itself fails with EXDEV).
  link=$(grep -n -E "linkat\([0-9]+, \"\", [0-9]+, \"\.f\.mutx-.*= 0" "$T/trace3" | head -1)
  first_link=${link%%:*}
  copy_fd=$(sed -E 's/^[0-9]+:([0-9]+ +)?linkat\(([0-9]+),.*/\2/' <<<"$link")
  if [[ -n $first_link ]] && head -n "$first_link" "$T/trace3" | grep -q -E "fsync\($copy_fd\) += 0"; then pass
  else fail "the copied backup (fd ${copy_fd:-?}) is not fsynced before it is linked"; fi
else
  echo "note: copied-backup order needs root and a tmpfs; not run" >&2
fi

finish
