#!/usr/bin/env bash
# --owner USER[:GROUP] and --group GROUP, as chown(1) and install -o/-g take
# them: names (read from /etc/passwd and /etc/group) or numbers; an unknown
# name is an error before anything is touched; not permitted (run as
# nobody) is `Error: OUTPUT: cannot set owner ...: Operation not
# permitted`, exit 1, target untouched, nothing left; the backup keeps the
# old owner; the owner_changed warning speaks only of what was not asked
# for. Needs root (chown, setpriv to nobody).
. "$(dirname "$0")/../cli/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_root "needs root to give files away and to run as nobody"
need_cmd setpriv
id nobody >/dev/null 2>&1 || skip "no user nobody"
NOGROUP=$(id -gn nobody)
NOBODY_GID=$(id -g nobody)
owner() { stat -c '%U:%G' "$1"; }
ids() { stat -c '%u:%g' "$1"; }
mkdir w

case_ "--owner nobody: the user; the group stays the caller's"
printf 'old' >w/f
run_in new --owner nobody w/f
expect_rc 0
expect_err
expect_content w/f new
expect_eq "$(owner w/f)" "nobody:root" "owner"
expect_only w f

case_ "--owner nobody:$NOGROUP by names"
run_in new2 --owner "nobody:$NOGROUP" w/f
expect_rc 0
expect_err
expect_eq "$(owner w/f)" "nobody:$NOGROUP" "owner"

case_ "--owner 4242:4343 by numbers no file names"
run_in new3 --owner 4242:4343 w/f
expect_rc 0
expect_eq "$(ids w/f)" "4242:4343" "owner"

case_ "--owner +0 is the number 0; --owner nobody: is nobody's login group"
run_in new4 --owner +0 w/f
expect_rc 0
expect_eq "$(ids w/f)" "0:0" "owner (the group is the caller's)"
run_in new5 --owner nobody: w/f
expect_rc 0
expect_eq "$(ids w/f)" "65534:$NOBODY_GID" "owner"

case_ "--owner :GROUP and --group GROUP set the group only"
chown 0:0 w/f
run_in new6 --owner ":$NOGROUP" w/f
expect_rc 0
expect_eq "$(owner w/f)" "root:$NOGROUP" "owner"
run_in new7 --group 4343 w/f
expect_rc 0
expect_eq "$(ids w/f)" "0:4343" "owner"

case_ "a new file gets the owner asked for"
run_in new --owner "nobody:$NOGROUP" -m 640 w/new
expect_rc 0
expect_eq "$(owner w/new)" "nobody:$NOGROUP" "owner"
expect_mode w/new 640
rm w/new

case_ "the owner_changed warning names only what was not asked for"
printf 'old' >w/g
chown "nobody:$NOGROUP" w/g
run_in new --group root w/g
expect_rc 0
expect_eq "$(owner w/g)" "root:root" "owner"
expect_err_has "Warning: w/g was owned by nobody:$NOGROUP and is now owned by root:root"
chown "nobody:$NOGROUP" w/g
run_in new --owner "root:$NOGROUP" w/g
expect_rc 0
expect_err

case_ "--backup: the backup keeps the old owner"
printf 'old' >w/b
chown 4242:4343 w/b
run_in new --backup --owner nobody w/b
expect_rc 0
expect_eq "$(owner w/b)" "nobody:root" "owner"
expect_eq "$(ids w/b.backup)" "4242:4343" "backup's owner"
expect_content w/b.backup old
rm -f w/b w/b.backup

case_ "--json: the committed event has uid and gid"
need_cmd jq
run_in new --json --owner 4242:4343 w/f
expect_rc 0
expect_eq "$(jq -c 'select(.event == "committed") | [.uid, .gid]' <<<"$ERR")" "[4242,4343]" "uid and gid"

case_ "owner from the config file; the command line wins"
mkdir -p "$XDG_CONFIG_HOME/mutx"
printf 'owner = nobody\n' >"$XDG_CONFIG_HOME/mutx/config"
run_in new w/f
expect_rc 0
expect_eq "$(ids w/f)" "65534:0" "owner"
run_in new --preserve-owner w/f
expect_rc 0
expect_eq "$(ids w/f)" "65534:0" "owner kept"
rm "$XDG_CONFIG_HOME/mutx/config"

# Refused before anything is touched: no lock file, no temp, no backup.
printf 'old' >w/u
chown 4242:4343 w/u
for args in "--owner no-such-user-mutx" "--owner nobody:no-such-group-mutx" "--group no-such-group-mutx" \
  "--owner :" "--owner 4294967295" "--owner nobody --preserve-owner" "--owner nobody --try-preserve-owner" \
  "--owner nobody:root --group root"; do
  case_ "refused: $args"
  # shellcheck disable=SC2086
  run_in new --backup $args w/u
  expect_rc 1
  case $args in
    *no-such-user*) expect_err "Error: unknown user 'no-such-user-mutx' for --owner" \
      "Hint: Users are looked up in /etc/passwd (mutx is linked statically and asks no directory service such as LDAP); give the user's number instead." ;;
    "--owner nobody:no-such"*) expect_match "$ERR" "^Error: unknown group 'no-such-group-mutx' for --owner"$'\n'"Hint: Groups are looked up in /etc/group" ;;
    "--group no-such"*) expect_match "$ERR" "^Error: unknown group 'no-such-group-mutx' for --group"$'\n'"Hint: " ;;
    "--owner :") expect_match "$ERR" "^Error: invalid owner ':' for --owner"$'\n'"Hint: Give USER, USER:GROUP" ;;
    "--owner 4294967295") expect_match "$ERR" "^Error: unknown user '4294967295' for --owner" ;;
    *--preserve-owner) expect_err_has "Error: --owner and --preserve-owner exclude each other" ;;
    *--try-preserve-owner) expect_err_has "Error: --owner and --try-preserve-owner exclude each other" ;;
    *) expect_err_has "Error: --owner USER:GROUP and --group exclude each other" ;;
  esac
  expect_content w/u old
  expect_eq "$(ids w/u)" "4242:4343" "owner"
  expect_only w f g u
done

# Not permitted: nobody may not give a file away, nor pick a group it is
# not in. The target is untouched and nothing is left behind.
chmod 711 "$T"
N=$T/w/nob
mkdir "$N"
chown nobody "$N"
printf 'old' >"$N/f"
chown "nobody:$NOGROUP" "$N/f"
AS_NOBODY=(setpriv --reuid=65534 --regid="$NOBODY_GID" --clear-groups --)
"${AS_NOBODY[@]}" test -x "$MUTX" || skip "nobody cannot run $MUTX"
for args in "--owner root" "--owner nobody:root" "--group root" "--owner root --stream" "--owner root --in-place"; do
  case_ "as nobody: $args --backup"
  # shellcheck disable=SC2086
  OUT=$(printf 'new' | "${AS_NOBODY[@]}" "$MUTX" --backup $args "$N/f" 2>"$T/.stderr")
  RC=$?
  ERR=$(<"$T/.stderr")
  expect_rc 1
  case $args in
    "--owner root"*) want="cannot set owner root" ;;
    "--owner nobody:root") want="cannot set owner nobody:root" ;;
    *) want="cannot set group root" ;;
  esac
  expect_err "Error: $N/f: $want: Operation not permitted" \
    "Hint: Only root may give a file to another user; others may choose only a group they belong to. The target was left as it was."
  expect_content "$N/f" old
  expect_eq "$(owner "$N/f")" "nobody:$NOGROUP" "owner"
  expect_only "$N" f
done

case_ "as nobody: --owner nobody (its own) is fine"
OUT=$(printf 'new' | "${AS_NOBODY[@]}" "$MUTX" --owner "nobody:$NOGROUP" "$N/f" 2>"$T/.stderr")
RC=$?
ERR=$(<"$T/.stderr")
expect_rc 0
expect_content "$N/f" new
expect_only "$N" f
case_ "a write that fails does not say the owner changed"
printf 'old\n' >gave
chown 4242:4343 gave
run gave -- true
expect_rc 1
expect_eq "$ERR" $'Error: command \'true\' produced no output\nHint: The target was left as it was; pass --allow-empty to write an empty file.' "stderr: the error alone"
run gave --check 'exit 3' -- echo x
expect_rc 1
expect_eq "$ERR" $'Error: gave: check failed: \'exit 3\' exited 3\nHint: The target was left as it was.' "stderr of a failed check: the error alone"
expect_eq "$(stat -c %u:%g gave)" 4242:4343 "owner of gave"
run_in $'new\n' gave
expect_rc 0
expect_match "$ERR" 'gave was owned by 4242:4343 and is now owned by root:root' "the warning of a write that happened"
expect_content gave $'new\n'

finish
