#!/usr/bin/env bash
# Modes of the new file: the old target's mode is kept by default, -m/--mode
# sets one, --no-preserve-mode gives 0666 & ~umask, a new file gets
# 0666 & ~umask. Through simple and --stream writes, from stdin and --input.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config

mkdir d
printf 'input\n' >src

# write FLAGS... TARGET, by route $ROUTE
write() {
  case $ROUTE in
    simple) printf 'new\n' | "$MUTX" "$@" 2>"$T/.stderr" ;;
    stream) printf 'new\n' | "$MUTX" --stream "$@" 2>"$T/.stderr" ;;
    input) "$MUTX" -i src "$@" 2>"$T/.stderr" ;;
  esac
  RC=$? ERR=$(cat "$T/.stderr")
}
want_content() {
  if [[ $ROUTE == input ]]; then expect_content "$1" $'input\n'; else expect_content "$1" $'new\n'; fi
}

for ROUTE in simple stream input; do
  for m in 640 600 755 444 700 4755 2750; do
    case_ "$ROUTE: mode $m of the old target is kept"
    rm -f d/f
    printf 'old\n' >d/f
    chmod "$m" d/f
    # 0444 and others are not writable by an unprivileged caller; as root
    # they are (as with `>`), so only run those as root.
    if [[ $m == 444 && $(id -u) -ne 0 ]]; then continue; fi
    write d/f
    expect_rc 0
    want_content d/f
    expect_mode d/f "$m"
    expect_only d f
  done

  for um in 022 077 002; do
    umask "$um"
    case_ "$ROUTE: a new file gets 0666 & ~umask (umask $um)"
    rm -f d/f
    write d/f
    expect_rc 0
    want_content d/f
    expect_mode d/f "$(printf '%o' $((0666 & ~0$um)))"
    expect_only d f

    case_ "$ROUTE: --no-preserve-mode gives 0666 & ~umask (umask $um)"
    rm -f d/f
    printf 'old\n' >d/f
    chmod 0751 d/f
    write --no-preserve-mode d/f
    expect_rc 0
    want_content d/f
    expect_mode d/f "$(printf '%o' $((0666 & ~0$um)))"
    expect_only d f
    umask 022
  done

  for spec in 0600:600 600:600 0755:755 0640:640 0000:0 1777:1777 04711:4711; do
    given=${spec%%:*} shown=${spec##*:}
    case_ "$ROUTE: -m $given over an existing 0644 file"
    rm -f d/f
    printf 'old\n' >d/f
    chmod 0644 d/f
    write -m "$given" d/f
    expect_rc 0
    want_content d/f
    expect_mode d/f "$shown"
    expect_only d f

    case_ "$ROUTE: --mode=$given on a new file (umask 077 does not apply)"
    rm -f d/f
    umask 077
    write --mode="$given" d/f
    umask 022
    expect_rc 0
    want_content d/f
    expect_mode d/f "$shown"
    expect_only d f
  done
done

case_ "the mode is set on the staged file: a 0600 target is never readable by others"
# The old file is 0600; the new one must be 0600 too (preserved), not
# 0644 for a moment. Here: the end state; the strace test checks the order.
rm -f d/f
printf 'secret\n' >d/f
chmod 0600 d/f
printf 'new secret\n' | "$MUTX" d/f 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
expect_mode d/f 600
expect_content d/f $'new secret\n'

case_ "-m and --no-preserve-mode given as invalid values"
run_in 'x' -m 0800 d/f
expect_rc 1
expect_match "$ERR" "^Error: .*mode" "stderr"
expect_content d/f $'new secret\n'
expect_mode d/f 600

finish
