#!/usr/bin/env bash
# A new file gets what the kernel gives `>`: the directory's default ACL
# (setfacl -d), or 0666 less the umask. mutx used to fchmod a new file to
# 0666 & ~umask, which widened a default ACL's other::--- to other::r--: a
# private file became world readable.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_cmd setfacl
need_cmd getfacl
mkdir D
setfacl -d -m u:nobody:rw,g::r,o::- D 2>/dev/null || skip "this filesystem has no POSIX ACLs"

acl_of() { getfacl -cp "$1" 2>/dev/null | sort; }

for flags in "" "--stream" "--append" "--no-sync" "--backup"; do
  case_ "[$flags] a new file in a directory with a default ACL gets the ACL > gives"
  rm -f D/new D/ref D/*.backup
  echo x >D/ref
  # shellcheck disable=SC2086
  run_in 'x' $flags D/new
  expect_rc 0
  expect_content D/new 'x'
  expect_eq "$(acl_of D/new)" "$(acl_of D/ref)" "ACL of the new file"
  expect_eq "$(stat -c %a D/new)" "$(stat -c %a D/ref)" "mode"
  expect_match "$(acl_of D/new)" "other::---" "other's entry"
done

case_ "the command form too"
rm -f D/new
run D/new -- printf 'x'
expect_rc 0
expect_eq "$(acl_of D/new)" "$(acl_of D/ref)" "ACL of the new file"

case_ "--mode still wins"
rm -f D/new
run_in 'x' --mode 0640 D/new
expect_rc 0
expect_eq "$(stat -c %a D/new)" 640 "mode"

case_ "no default ACL: 0666 less the umask, as before"
mkdir P
for mask in 022 077 002; do
  rm -f P/new
  OUT=$(umask "$mask" && printf 'x' | "$MUTX" P/new 2>"$T/.stderr")
  RC=$?
  ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_eq "$(stat -c %a P/new)" "$(printf '%o' $((0666 & ~0$mask)))" "mode under umask $mask"
done

case_ "an existing file keeps its own mode and ACL"
echo old >D/old && chmod 600 D/old && setfacl -m u:nobody:r D/old
before=$(acl_of D/old)
run_in 'new' D/old
expect_rc 0
expect_eq "$(acl_of D/old)" "$before" "ACL of the replaced file"

finish
