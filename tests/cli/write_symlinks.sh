#!/usr/bin/env bash
# A symlinked OUTPUT. --symlinks=follow (default): the link stays a link and
# the file it points to gets the new content (relative and absolute links,
# links into another directory, a chain, a dangling link creates its
# target). --symlinks=replace: the link becomes a regular file, the old
# pointed-to file is untouched. --symlinks=refuse: exit 1, nothing changed.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config

mkdir d e
reset() {
  rm -rf d e
  mkdir d e
  printf 'old\n' >d/real
  chmod 0640 d/real
  printf 'other\n' >e/real2
}
expect_link() {  # link target
  if [[ -L $1 ]]; then pass; else fail "$1 is no longer a symlink"; return; fi
  expect_eq "$(readlink "$1")" "$2" "target of $1"
}

# write FLAGS... OUTPUT, by route $ROUTE; the new content is "new\n".
write() {
  case $ROUTE in
    simple) printf 'new\n' | "$MUTX" "$@" 2>"$T/.stderr" ;;
    stream) printf 'new\n' | "$MUTX" --stream "$@" 2>"$T/.stderr" ;;
    input) printf 'new\n' >"$T/in"; "$MUTX" -i "$T/in" "$@" 2>"$T/.stderr" ;;
  esac
  RC=$? ERR=$(cat "$T/.stderr")
}

for ROUTE in simple stream input; do
  for policy in "" "--symlinks=follow" "--symlinks follow"; do
    case_ "$ROUTE [$policy]: relative link"
    reset
    ln -s real d/link
    # shellcheck disable=SC2086
    write $policy d/link
    expect_rc 0
    expect_link d/link real
    expect_content d/real $'new\n'
    expect_mode d/real 640
    expect_only d real link
  done

  case_ "$ROUTE: absolute link"
  reset
  ln -s "$T/d/real" d/alink
  write d/alink
  expect_rc 0
  expect_link d/alink "$T/d/real"
  expect_content d/real $'new\n'
  expect_only d real alink

  case_ "$ROUTE: link into another directory"
  reset
  ln -s ../e/real2 d/link
  write d/link
  expect_rc 0
  expect_link d/link ../e/real2
  expect_content e/real2 $'new\n'
  expect_content d/real $'old\n'
  expect_only d real link
  expect_only e real2

  case_ "$ROUTE: a chain of two links (each relative to its own directory)"
  reset
  ln -s ../e/c2 d/c1
  ln -s ../d/real e/c2
  write d/c1
  expect_rc 0
  expect_link d/c1 ../e/c2
  expect_link e/c2 ../d/real
  expect_content d/real $'new\n'
  expect_mode d/real 640
  expect_only d real c1
  expect_only e real2 c2

  case_ "$ROUTE: a chain of two links in one directory"
  reset
  ln -s c2 d/c1
  ln -s real d/c2
  write d/c1
  expect_rc 0
  expect_link d/c1 c2
  expect_link d/c2 real
  expect_content d/real $'new\n'
  expect_only d real c1 c2

  case_ "$ROUTE: a dangling link creates its target"
  reset
  ln -s fresh d/dang
  write d/dang
  expect_rc 0
  expect_link d/dang fresh
  expect_content d/fresh $'new\n'
  expect_mode d/fresh 644
  expect_only d real dang fresh

  case_ "$ROUTE: a dangling link into a missing directory"
  reset
  ln -s nodir/fresh d/dang
  write d/dang
  expect_rc 1
  expect_match "$ERR" "^Error: " "stderr"
  expect_link d/dang nodir/fresh
  expect_only d real dang

  case_ "$ROUTE: --symlinks=replace"
  reset
  ln -s real d/link
  write --symlinks=replace d/link
  expect_rc 0
  if [[ -f d/link && ! -L d/link ]]; then pass; else fail "d/link is not a regular file"; fi
  expect_content d/link $'new\n'
  expect_content d/real $'old\n'
  expect_mode d/real 640
  expect_only d real link

  case_ "$ROUTE: --symlinks=replace on a dangling link"
  reset
  ln -s nowhere d/dang
  write --symlinks=replace d/dang
  expect_rc 0
  if [[ -f d/dang && ! -L d/dang ]]; then pass; else fail "d/dang is not a regular file"; fi
  expect_content d/dang $'new\n'
  expect_only d real dang

  case_ "$ROUTE: --symlinks=replace on a regular file"
  reset
  write --symlinks=replace d/real
  expect_rc 0
  expect_content d/real $'new\n'
  expect_mode d/real 640
  expect_only d real

  for link in real nowhere c2; do
    case_ "$ROUTE: --symlinks=refuse on a link to $link"
    reset
    ln -s real d/c2
    [[ $link == c2 ]] || rm d/c2
    ln -s "$link" d/link
    write --symlinks=refuse d/link
    expect_rc 1
    expect_match "$ERR" "^Error: .*symbolic link" "stderr"
    expect_link d/link "$link"
    expect_content d/real $'old\n'
    if [[ $link == c2 ]]; then expect_only d real link c2; else expect_only d real link; fi
  done

  case_ "$ROUTE: --symlinks=refuse on a regular file writes it"
  reset
  write --symlinks=refuse d/real
  expect_rc 0
  expect_content d/real $'new\n'
  expect_only d real

  case_ "$ROUTE: a symlink loop"
  reset
  ln -s l2 d/l1
  ln -s l1 d/l2
  write d/l1
  expect_rc 1
  expect_match "$ERR" "^Error: .*([Ss]ymbolic link|loop)" "stderr"
  expect_link d/l1 l2
  expect_only d real l1 l2
done

case_ "a symlinked directory in OUTPUT's path"
reset
ln -s ../e d/edir
run_in 'via dir link' d/edir/real2
expect_rc 0
expect_content e/real2 'via dir link'
if [[ -L d/edir ]]; then pass; else fail "d/edir is no longer a link"; fi
expect_only e real2

finish
