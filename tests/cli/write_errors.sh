#!/usr/bin/env bash
# Failures of the write path: exit 1, an `Error:` line (and a `Hint:` where
# one helps), the target untouched and nothing left beside it (no temp, no
# lock file). Missing input file, missing directory (and --parents), a
# directory as OUTPUT, empty input and --allow-empty, a read-only file as
# an unprivileged user, a read-only mount, invalid options.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config

mkdir d
printf 'old\n' >d/t

# untouched: d holds only t, with its old content.
untouched() {
  expect_content d/t $'old\n'
  expect_only d t
}

case_ "missing input file"
run -i "$T/no-such-input" d/t
expect_rc 1
expect_match "$ERR" "^Error: .*no-such-input.*No such file or directory" "stderr"
untouched
run --stream --input "$T/no-such-input" d/new
expect_rc 1
expect_match "$ERR" "^Error: .*no-such-input" "stderr"
untouched

case_ "input is a directory"
run -i d d/t
expect_rc 1
expect_match "$ERR" "^Error: .*Is a directory" "stderr"
untouched

case_ "missing directory"
for flags in "" "--stream"; do
  # shellcheck disable=SC2086
  run_in 'data' $flags nodir/sub/out
  expect_rc 1
  expect_match "$ERR" "^Error: .*nodir" "error names the directory"
  expect_match "$ERR" $'\nHint: .*--parents' "hint names --parents"
  expect_missing nodir
done
run -i d/t nodir/out
expect_rc 1
expect_match "$ERR" "^Error: " "stderr"
expect_match "$ERR" "Hint: .*--parents" "hint names --parents"
expect_missing nodir

case_ "--parents creates nested directories"
run_in 'deep' --parents a/b/c/out
expect_rc 0
expect_content a/b/c/out 'deep'
expect_only a b
expect_only a/b c
expect_only a/b/c out
expect_mode a/b 755
run_in 'deeper' -p a/b/c/x/y/out
expect_rc 0
expect_content a/b/c/x/y/out 'deeper'
expect_content a/b/c/out 'deep'
run -p --stream -i d/t "$T/abs/one/two/out"
expect_rc 0
expect_content abs/one/two/out $'old\n'
expect_only abs/one/two out
untouched

case_ "--parents with umask 077"
umask 077
run_in 'p' -p u/v/out
umask 022
expect_rc 0
expect_mode u 700
expect_mode u/v 700
expect_mode u/v/out 600

case_ "--parents through a file is an error"
run_in 'x' -p d/t/sub/out
expect_rc 1
expect_match "$ERR" "^Error: .*Not a directory" "stderr"
untouched

case_ "OUTPUT is a directory"
mkdir d/sub
run_in 'data' d/sub
expect_rc 1
expect_match "$ERR" "^Error: d/sub: Is a directory" "stderr"
expect_only d t sub
expect_only d/sub
run_in 'data' --stream d/sub
expect_rc 1
expect_match "$ERR" "^Error: .*Is a directory" "stderr"
run_in 'data' d/
expect_rc 1
expect_match "$ERR" "^Error: .*Is a directory" "stderr"
run_in 'data' .
expect_rc 1
expect_match "$ERR" "^Error: .*Is a directory" "stderr"
rmdir d/sub
untouched

case_ "OUTPUT that is not a regular file"
mkfifo d/fifo
run_in 'data' d/fifo
expect_rc 1
expect_match "$ERR" "^Error: d/fifo: not a regular file" "stderr"
if [[ -p d/fifo ]]; then pass; else fail "d/fifo is no longer a FIFO"; fi
rm d/fifo
run_in 'data' /dev/null
expect_rc 1
expect_match "$ERR" "^Error: /dev/null: not a regular file" "stderr"
if [[ -c /dev/null ]]; then pass; else fail "/dev/null is no longer a device"; fi
untouched

case_ "stdin is a directory"
"$MUTX" d/t <d 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" "^Error: .*standard input: Is a directory" "stderr"
untouched

case_ "empty input"
for src in pipe devnull emptyfile; do
  for flags in "" "--stream"; do
    case $src in
      pipe) printf '' | "$MUTX" $flags d/t 2>"$T/.stderr" ;;
      devnull) "$MUTX" $flags d/t </dev/null 2>"$T/.stderr" ;;
      emptyfile) : >"$T/empty"; "$MUTX" $flags -i "$T/empty" d/t 2>"$T/.stderr" ;;
    esac
    RC=$? ERR=$(cat "$T/.stderr")
    CASE="empty input ($src $flags)"
    expect_rc 1
    expect_match "$ERR" "^Error: No input provided" "stderr"
    untouched
    printf '' | "$MUTX" $flags d/new 2>"$T/.stderr"
    RC=$? ERR=$(cat "$T/.stderr")
    expect_rc 1
    expect_match "$ERR" "^Error: No input provided" "stderr"
    untouched
  done
done

case_ "--allow-empty writes an empty file"
for flags in "" "--stream"; do
  cp d/t d/e
  # shellcheck disable=SC2086
  printf '' | "$MUTX" --allow-empty $flags d/e 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_eq "$(stat -c %s d/e)" 0 "size of d/e"
  # shellcheck disable=SC2086
  "$MUTX" --allow-empty $flags d/e2 </dev/null 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_eq "$(stat -c %s d/e2)" 0 "size of d/e2"
  : >"$T/empty"
  # shellcheck disable=SC2086
  run --allow-empty $flags -i "$T/empty" d/e3
  expect_rc 0
  expect_eq "$(stat -c %s d/e3)" 0 "size of d/e3"
  expect_only d t e e2 e3
  rm -f d/e d/e2 d/e3
done
untouched

case_ "invalid options"
for args in "--mode=abc" "--mode=99999" "-m 8" "--io=bogus" "--io" "--symlinks=sometimes" "--frobnicate" "-Z" "--backup-mode=x" "--timeout=soon"; do
  CASE="invalid option [$args]"
  # shellcheck disable=SC2086
  run_in 'data' $args d/t
  expect_rc 1
  expect_match "$ERR" "^Error: " "stderr"
  untouched
done
case_ "missing OUTPUT"
run_in 'data'
expect_rc 1
expect_match "$ERR" "^Error: .*OUTPUT" "stderr"
case_ "two OUTPUTs"
run_in 'data' d/t d/u
expect_rc 1
expect_match "$ERR" "^Error: " "stderr"
untouched

# Closed standard descriptors (cron, daemons): the engine's first open must
# not take their numbers and be mistaken for them. timeout only guards
# against a hang; it asserts no speed.
case_ "closed stdin: empty input, no hang"
timeout 60 "$MUTX" d/t <&- 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" "^Error: No input provided" "stderr"
untouched
timeout 60 "$MUTX" --stream d/t <&- 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 1
expect_match "$ERR" "^Error: No input provided" "stderr"
untouched
case_ "closed stderr and stdout: the content is exact"
for flags in "-vv" "-vv --stream" "--json -vv"; do
  # shellcheck disable=SC2086
  printf 'exact\n' | timeout 60 "$MUTX" $flags d/c 2>&-
  RC=$? ERR=
  expect_rc 0
  expect_content d/c $'exact\n'
  # shellcheck disable=SC2086
  printf 'exact too\n' | timeout 60 "$MUTX" $flags d/c >&- 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_content d/c $'exact too\n'
  rm -f d/c
done
untouched

# A read-only target, written by an unprivileged user in a directory anyone
# may write: refused like `>` would refuse it, even though the directory
# would allow the rename.
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  chmod 0755 "$T"
  mkdir open
  chmod 0777 open
  printf 'root file\n' >open/rootfile
  chmod 0644 open/rootfile
  printf 'ro file\n' >open/ro
  chown 65534:65534 open/ro
  chmod 0444 open/ro
  nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  if nobody test -x "$MUTX" && nobody test -w open; then
    for f in rootfile ro; do
      for flags in "" "--stream"; do
        case_ "read-only target $f as uid 65534 [$flags]"
        before=$(cat open/$f)
        # shellcheck disable=SC2086
        printf 'new' | nobody "$MUTX" $flags "$T/open/$f" 2>"$T/.stderr"
        RC=$? ERR=$(cat "$T/.stderr")
        expect_rc 1
        expect_match "$ERR" "^Error: $T/open/$f: Permission denied" "stderr"
        expect_content open/$f "$before"$'\n'
        expect_only open rootfile ro
      done
    done
    case_ "a writable file of its own as uid 65534"
    printf 'mine\n' >open/mine
    chown 65534:65534 open/mine
    printf 'new' | nobody "$MUTX" "$T/open/mine" 2>"$T/.stderr"
    RC=$? ERR=$(cat "$T/.stderr")
    expect_rc 0
    expect_content open/mine 'new'
    expect_eq "$(stat -c %u:%g open/mine)" 65534:65534 "owner"
    expect_only open rootfile ro mine
    case_ "a write-only file of its own as uid 65534: replaced, xattrs not copied, said"
    printf 'secret\n' >open/wo
    chown 65534:65534 open/wo
    chmod 0200 open/wo
    has_xattr=""
    setfattr -n user.note -v kept open/wo 2>/dev/null && has_xattr=yes
    for flags in "" "--stream"; do
      # shellcheck disable=SC2086
      printf 'new' | nobody "$MUTX" $flags "$T/open/wo" 2>"$T/.stderr"
      RC=$? ERR=$(cat "$T/.stderr")
      expect_rc 0
      expect_content open/wo 'new'
      expect_mode open/wo 200
      expect_eq "$(stat -c %u:%g open/wo)" 65534:65534 "owner"
      expect_match "$ERR" "^Warning: .*extended attributes and ACL of .*wo were not copied: cannot read it \(Permission denied\)" "stderr [$flags]"
      expect_only open rootfile ro mine wo
    done
    if [[ -n $has_xattr ]]; then
      expect_eq "$(getfattr --only-values -n user.note open/wo 2>/dev/null)" "" "xattr of the replaced file"
    fi
    for flags in "--backup" "--append"; do
      case_ "a write-only file of its own as uid 65534 [$flags]: refused, untouched"
      chmod 0600 open/wo && printf 'old\n' >open/wo && chmod 0200 open/wo
      # shellcheck disable=SC2086
      printf 'new' | nobody "$MUTX" $flags "$T/open/wo" 2>"$T/.stderr"
      RC=$? ERR=$(cat "$T/.stderr")
      expect_rc 1
      expect_match "$ERR" "^Error: cannot read current content of .*wo: Permission denied" "stderr"
      chmod 0600 open/wo
      expect_content open/wo $'old\n'
      chmod 0200 open/wo
      expect_only open rootfile ro mine wo
    done
    case_ "a writable file in a directory uid 65534 may not write"
    mkdir closed
    printf 'shared\n' >closed/f
    chmod 0666 closed/f
    for flags in "" "--stream" "--lock-file $T/open/outside.lock"; do
      # shellcheck disable=SC2086
      printf 'new' | nobody "$MUTX" $flags "$T/closed/f" 2>"$T/.stderr"
      RC=$? ERR=$(cat "$T/.stderr")
      expect_rc 1
      expect_match "$ERR" "^Error: .*$T/closed.*Permission denied" "stderr [$flags]"
      expect_content closed/f $'shared\n'
      expect_only closed f
    done
    expect_missing open/outside.lock
    case_ "a new file in a directory uid 65534 may not write"
    printf 'new' | nobody "$MUTX" "$T/d/other" 2>"$T/.stderr"
    RC=$? ERR=$(cat "$T/.stderr")
    expect_rc 1
    expect_match "$ERR" "^Error: .*Permission denied" "stderr"
    untouched
  else
    echo "note: uid 65534 cannot reach $MUTX or $T/open; unprivileged cases not run" >&2
  fi
else
  echo "note: unprivileged read-only target needs root and setpriv; not run" >&2
fi

# A read-only mount (fault_readonly.sh covers more flag combinations).
if [[ $(id -u) -eq 0 ]] && mkdir rofs && mount -t tmpfs -o size=1m mutx-write-errors rofs 2>/dev/null; then
  on_exit umount -l "$T/rofs"
  printf 'old\n' >rofs/t
  if mount -o remount,ro rofs 2>/dev/null; then
    for flags in "" "--stream" "-p"; do
      case_ "read-only mount [$flags]"
      # shellcheck disable=SC2086
      run_in 'new' $flags rofs/t
      expect_rc 1
      expect_match "$ERR" "^Error: .*[Rr]ead-only" "message says read-only"
      expect_content rofs/t $'old\n'
      expect_only rofs t
      # shellcheck disable=SC2086
      run_in 'new' $flags rofs/new
      expect_rc 1
      expect_match "$ERR" "^Error: .*[Rr]ead-only" "message says read-only"
      expect_only rofs t
    done
  else
    echo "note: cannot remount a tmpfs read-only; not run" >&2
  fi
else
  echo "note: read-only mount needs root and a tmpfs; not run" >&2
fi

finish
