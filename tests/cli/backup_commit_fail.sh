#!/usr/bin/env bash
# A write that fails at the commit rename (EBUSY, EPERM, EIO, ...) after its
# backup step costs no backup: the previous OUTPUT.backup, every timestamped
# generation and the target stay exactly as they were, and no temp is left.
# The failure is injected into the rename onto the target with strace.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_cmd strace
strace -f -o /dev/null -e inject=getppid:error=EPERM true 2>/dev/null || skip "strace cannot trace here"

RENAMES=rename,renameat,renameat2
mkdir d bdir
reset() {
  rm -rf d bdir && mkdir d bdir
  printf 'current\n' >d/t
  printf 'previous generation\n' >d/t.backup
  printf 'previous generation\n' >bdir/t.backup
  printf 'older generation\n' >d/t.20240101-000000.backup
}

# The rename call that puts the new content onto d/t: "SYSCALL N", N
# counted per syscall as strace's when= counts.
commit_rename() {  # flags...
  reset
  printf 'new\n' | strace -f -qq -o "$T/trace" -e "trace=$RENAMES" "$MUTX" "$@" d/t 2>/dev/null || return 1
  awk '/ resumed>/ { next } $2 ~ /^rename/ { sc = $2; sub(/\(.*/, "", sc); n[sc]++; if ($0 ~ /"t"[,)]|"d\/t"[,)]/ && $0 !~ /RENAME_NOREPLACE/) { print sc, n[sc]; exit } }' "$T/trace"
}

for flags in "--backup" "--backup --stream" "--backup-timestamp" "--backup-dir bdir" "--backup --backup-mode 0600"; do
  # shellcheck disable=SC2086
  for err in EIO EBUSY EPERM; do
    case_ "[$flags] the commit rename fails with $err"
    # shellcheck disable=SC2086
    read -r sc n < <(commit_rename $flags)
    if [[ -z $n ]]; then fail "no rename onto d/t in the recording run"; continue; fi
    reset
    before_d=$(cd d && ls -A | sort | tr '\n' ' ')
    before_b=$(cd bdir && ls -A | sort | tr '\n' ' ')
    # shellcheck disable=SC2086
    OUT=$(printf 'new\n' | strace -f -qq -o "$T/inject" -e "trace=$RENAMES" -e "inject=$sc:error=$err:when=$n" \
      "$MUTX" $flags d/t 2>"$T/.stderr")
    RC=$?
    ERR=$(cat "$T/.stderr")
    grep -q INJECTED "$T/inject" || { fail "nothing injected"; continue; }
    expect_rc 1
    expect_match "$ERR" "^Error: cannot rename temporary file onto d/t" "stderr"
    expect_content d/t $'current\n'
    expect_content d/t.backup $'previous generation\n'
    expect_content bdir/t.backup $'previous generation\n'
    expect_content d/t.20240101-000000.backup $'older generation\n'
    expect_eq "$(cd d && ls -A | sort | tr '\n' ' ')" "$before_d" "what d holds"
    expect_eq "$(cd bdir && ls -A | sort | tr '\n' ' ')" "$before_b" "what bdir holds"
  done
done

case_ "when putting the previous backup back fails too, the error says where it is"
# Every rename from the commit on fails: the previous generation stays
# under its temp name, which the next write would sweep as stale, so the
# error names it.
read -r sc n < <(commit_rename --backup)
reset
printf 'new\n' | strace -f -qq -o "$T/inject" -e "trace=$RENAMES" -e "inject=$sc:error=EIO:when=$n+" \
  "$MUTX" --backup d/t 2>"$T/.stderr"
RC=$?
ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" "^Error: cannot rename temporary file onto d/t" "stderr"
expect_match "$ERR" $'\n'"Hint: The previous backup could not be put back either: it is left as d/(\.t\.mutx-[0-9]), which the next write of d/t removes as a stale temp; copy it out first" "hint"
left=$(grep -o 'd/\.t\.mutx-[0-9]' <<<"$ERR" | head -n 1)
expect_content "${left:-d/none}" $'previous generation\n'
expect_content d/t $'current\n'

case_ "and when it succeeds the backup is the replaced content, with nothing else left"
for flags in "--backup" "--backup-dir bdir"; do
  reset
  # shellcheck disable=SC2086
  printf 'new\n' | "$MUTX" $flags d/t
  expect_content d/t $'new\n'
  if [[ $flags == *bdir* ]]; then expect_content bdir/t.backup $'current\n'; else expect_content d/t.backup $'current\n'; fi
  expect_only d t t.backup t.20240101-000000.backup
  expect_only bdir t.backup
done

finish
