#!/usr/bin/env bash
# --mode as chmod(1) takes it, checked against chmod itself: each spec in
# the table is applied by mutx (-m SPEC, to a file of each starting mode,
# and to a new file) and by chmod (to a scratch file of the same mode, or
# of the mode a new file gets); the modes must agree. Specs with a clause
# that names no class (which the umask masks) run under a second umask.
# Specs chmod refuses, mutx refuses too (exit 1, target untouched, nothing
# left). Octal still sets the mode whatever the old one was.
. "$(dirname "$0")/../cli/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_cmd chmod

SPECS=(
  u=rw,go=r a+x g-w u+s g+s ug+s a-s u-s =r +x -w -x +r =rw go=u o=g u=g
  a+X u+X =X +X u=rwX,go=rX u=rwx,g=rx,o= o-rwx ug+rw a= = + a+rwx a-x
  o+t +t u+t =s +s a=r,u+w go-w,u+x g=u-w u+w,g+w,o+w a+rw-x u=w+x-w
  =rwx,g=,o= =644 +020 -022 u=rw,+x
)
OCTALS=(640 4755 0)
START=(644 600 755 0 777 4755 2750 1711)
UMASKS=(022 027)

mkdir w
checked=0
saved_umask=$(umask)
for um in "${UMASKS[@]}"; do
  umask "$um"
  for spec in "${SPECS[@]}" "${OCTALS[@]}"; do
    # The second umask matters only where a clause names no class.
    [[ $um != "${UMASKS[0]}" && ! $spec =~ (^|,)[-+=] ]] && continue
    for start in "${START[@]}" new; do
      case_ "umask $um, mode $start, -m $spec"
      if [[ $start == new ]]; then
        rm -f w/t w/ref
        : >w/ref
      else
        : >w/ref
        chmod "$start" w/ref
        printf 'old' >w/t
        chmod "$start" w/t
      fi
      chmod "$spec" w/ref 2>/dev/null
      want=$(stat -c %a w/ref)
      printf 'new' | "$MUTX" --no-sync -m "$spec" w/t 2>"$T/.stderr"
      RC=$?
      ERR=$(<"$T/.stderr")
      expect_rc 0
      expect_eq "$(stat -c %a w/t 2>/dev/null)" "$want" "mode after -m $spec (chmod gives $want)"
      checked=$((checked + 1))
    done
  done
done
umask "$saved_umask"
echo "compared with chmod: ${#SPECS[@]} symbolic and ${#OCTALS[@]} octal specs x ${#START[@]} starting modes and a new file, those without a class under ${#UMASKS[@]} umasks: $checked"

BAD=(u x u=rwx, ,u+x g+z 8 0788 77777 u=r,,g=r "a+r u" ug=rwxq u+=r,x ua)
for spec in "${BAD[@]}"; do
  case_ "-m '$spec' is refused as chmod refuses it"
  : >w/ref
  if chmod "$spec" w/ref 2>/dev/null; then fail "chmod takes '$spec': the table is wrong"; continue; fi
  rm -f w/t w/ref
  printf 'old' >w/t
  chmod 640 w/t
  run_in new -m "$spec" w/t
  expect_rc 1
  expect_match "$ERR" "^Error: invalid mode '.*' for --mode"$'\n'"Hint: Give an octal mode" "stderr"
  expect_content w/t old
  expect_mode w/t 640
  expect_only w t
done

case_ "a symbolic mode from the config file"
mkdir -p "$XDG_CONFIG_HOME/mutx"
printf 'mode = g-r,o=\n' >"$XDG_CONFIG_HOME/mutx/config"
printf 'old' >w/c
chmod 644 w/c
run_in new w/c
expect_rc 0
expect_mode w/c 600
rm "$XDG_CONFIG_HOME/mutx/config"

case_ "a set-user-ID bit kept from the old mode goes when the owner changes; one the mode sets stays"
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1; then
  printf 'old' >w/s
  chown nobody w/s
  chmod 4755 w/s
  run_in new -m g-w w/s
  expect_rc 0
  expect_mode w/s 755
  expect_err_has "Warning: set-user-ID bit of w/s was not kept: the owner changed"
  chown nobody w/s
  chmod 755 w/s
  run_in new -m u+s w/s
  expect_rc 0
  expect_mode w/s 4755
else
  echo "note: set-id part needs root" >&2
fi

case_ "--json: the committed event names the mode"
rm -f w/j
run_in new --json -m u=rw,go= w/j
expect_rc 0
need_cmd jq
expect_eq "$(jq -r 'select(.event == "committed") | .mode' <<<"$ERR")" 0600 "committed mode"
finish
