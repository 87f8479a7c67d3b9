#!/usr/bin/env bash
# Owner and group of the replaced file: kept with --preserve-owner (exit 1,
# target untouched, when not permitted), kept where possible with
# --try-preserve-owner, the caller's otherwise. Set-id bits: fchown comes
# before fchmod so a preserved 4755 stays 4755; a set-id bit is dropped
# (with a warning) when the owner changes; an unprivileged owner keeps it.
# Needs root (chown, setpriv to uid 1000 and 65534).
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_root "needs root to chown files and switch users"
need_cmd setpriv
setpriv --reuid=1000 --regid=1000 --clear-groups true 2>/dev/null || skip "setpriv cannot switch users here"

# as UID GID_OPTS... -- mutx args: run mutx as another user (input in $IN).
as_user() {
  local uid=$1 groups=$2
  shift 2
  OUT=$(printf '%s' "$IN" | setpriv --reuid="$uid" --regid="$uid" $groups "$MUTX" "$@" 2>"$T/.stderr")
  RC=$?
  ERR=$(cat "$T/.stderr")
}
owner() { stat -c '%u:%g' "$1"; }

case_ "root: --preserve-owner keeps uid and gid"
mkdir root
printf 'old' >root/f
chown 65534:65534 root/f
chmod 640 root/f
run_in 'new' --preserve-owner root/f
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content root/f 'new'
expect_eq "$(owner root/f)" "65534:65534" "owner"
expect_mode root/f 640

case_ "root: --try-preserve-owner keeps uid and gid"
run_in 'newer' --try-preserve-owner root/f
expect_rc 0
expect_eq "$(owner root/f)" "65534:65534" "owner"

case_ "root: without it the new file belongs to root, with a warning"
run_in 'newest' root/f
expect_rc 0
expect_eq "$ERR" "Warning: root/f was owned by nobody:nogroup and is now owned by root:root"$'\n'"Hint: Pass --preserve-owner (or --try-preserve-owner), or set preserve-owner = true in the config file, to keep the owner." "stderr"
expect_content root/f 'newest'
expect_eq "$(owner root/f)" "0:0" "owner"
expect_mode root/f 640
expect_only root f

case_ "root: --preserve-owner keeps a setuid 4755 (fchown before fchmod)"
mkdir suid
printf 'old' >suid/f
chown 65534:65534 suid/f
chmod 4755 suid/f
run_in 'new' --preserve-owner suid/f
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_mode suid/f 4755
expect_eq "$(owner suid/f)" "65534:65534" "owner"

case_ "root: a setgid 2775 with its group preserved stays 2775"
printf 'old' >suid/g
chown 65534:65534 suid/g
chmod 2775 suid/g
run_in 'new' --preserve-owner suid/g
expect_rc 0
expect_mode suid/g 2775

case_ "root: a set-id bit is dropped with a warning when the owner changes"
run_in 'newer' suid/f
expect_rc 0
expect_eq "$ERR" "Warning: set-user-ID bit of suid/f was not kept: the owner changed (use --preserve-owner)"$'\n'"Warning: suid/f was owned by nobody:nogroup and is now owned by root:root"$'\n'"Hint: Pass --preserve-owner (or --try-preserve-owner), or set preserve-owner = true in the config file, to keep the owner." "stderr"
expect_content suid/f 'newer'
expect_eq "$(owner suid/f)" "0:0" "owner"
expect_mode suid/f 755
run_in 'newer' suid/g
expect_rc 0
expect_eq "$ERR" "Warning: set-group-ID bit of suid/g was not kept: the group changed (use --preserve-owner)"$'\n'"Warning: suid/g was owned by nobody:nogroup and is now owned by root:root"$'\n'"Hint: Pass --preserve-owner (or --try-preserve-owner), or set preserve-owner = true in the config file, to keep the owner." "stderr"
expect_mode suid/g 775

case_ "root: an explicit --mode 4755 is honoured"
chown 65534:65534 suid/f
chmod 4755 suid/f
run_in 'x' --mode 4755 suid/f
expect_rc 0
expect_eq "$ERR" "Warning: suid/f was owned by nobody:nogroup and is now owned by root:root"$'\n'"Hint: Pass --preserve-owner (or --try-preserve-owner), or set preserve-owner = true in the config file, to keep the owner." "stderr"
expect_eq "$(owner suid/f)" "0:0" "owner"
expect_mode suid/f 4755

case_ "root: a root-owned 4755 keeps its bit"
printf 'old' >suid/r
chmod 4755 suid/r
run_in 'new' suid/r
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_mode suid/r 4755
expect_only suid f g r

# Unprivileged callers work in a 0777 directory they can reach.
chmod 755 "$T"
mkdir -m 0777 shared

case_ "uid 1000: --try-preserve-owner succeeds, the owner becomes the caller"
printf 'old' >shared/f
chown 65534:65534 shared/f
chmod 666 shared/f
IN='new'
as_user 1000 --clear-groups --try-preserve-owner shared/f
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content shared/f 'new'
expect_eq "$(owner shared/f)" "1000:1000" "owner"
expect_mode shared/f 666
expect_only shared f

case_ "uid 1000: --preserve-owner fails with exit 1 and the target untouched"
printf 'old' >shared/f
chown 65534:65534 shared/f
chmod 666 shared/f
ino=$(stat -c %i shared/f)
IN='new'
as_user 1000 --clear-groups --preserve-owner shared/f
expect_rc 1
expect_eq "$ERR" $'Error: cannot preserve the owner of shared/f: Operation not permitted\nHint: Only root may give a file to another user; use --try-preserve-owner to go on without it.' "stderr"
expect_content shared/f 'old'
expect_eq "$(stat -c '%i %u:%g %a' shared/f)" "$ino 65534:65534 666" "inode, owner and mode"
expect_only shared f

case_ "uid 65534 writing a file of uid 1000: the same refusal"
printf 'old' >shared/h
chown 1000:1000 shared/h
chmod 666 shared/h
IN='new'
as_user 65534 --clear-groups --preserve-owner shared/h
expect_rc 1
expect_match "$ERR" "^Error: cannot preserve the owner of shared/h: Operation not permitted" "stderr"
expect_content shared/h 'old'
expect_eq "$(owner shared/h)" "1000:1000" "owner"
as_user 65534 --clear-groups --try-preserve-owner shared/h
expect_rc 0
expect_content shared/h 'new'
expect_eq "$(owner shared/h)" "65534:65534" "owner"
rm -f shared/h

case_ "uid 1000 in the file's group: --try-preserve-owner keeps the group"
printf 'old' >shared/f
chown 65534:65534 shared/f
chmod 666 shared/f
IN='new'
as_user 1000 --groups=65534 --try-preserve-owner shared/f
expect_rc 0
expect_content shared/f 'new'
expect_eq "$(owner shared/f)" "1000:65534" "owner"

case_ "uid 1000: without either option the file becomes the caller's"
chown 65534:65534 shared/f
IN='plain'
as_user 1000 --clear-groups shared/f
expect_rc 0
expect_content shared/f 'plain'
expect_eq "$(owner shared/f)" "1000:1000" "owner"

case_ "uid 1000 owning a 4755 file keeps the bit (the kernel clears it on write)"
printf 'old' >shared/s
chown 1000:1000 shared/s
chmod 4755 shared/s
IN='new'
as_user 1000 --clear-groups shared/s
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content shared/s 'new'
expect_mode shared/s 4755
expect_eq "$(owner shared/s)" "1000:1000" "owner"
IN='streamed'
as_user 1000 --clear-groups --stream shared/s
expect_rc 0
expect_mode shared/s 4755
IN='appended'
as_user 1000 --clear-groups --append shared/s
expect_rc 0
expect_content shared/s 'streamedappended'
expect_mode shared/s 4755

case_ "uid 1000 owning a 2775 file of its group keeps the bit"
printf 'old' >shared/g
chown 1000:1000 shared/g
chmod 2775 shared/g
IN='new'
as_user 1000 --clear-groups shared/g
expect_rc 0
expect_mode shared/g 2775
expect_only shared f g s

case_ "root replacing another user's file: a warning naming both owners, and the way to keep it"
printf 'app config\n' >shared/app.conf
chown nobody:nogroup shared/app.conf
chmod 600 shared/app.conf
run_in 'new config' shared/app.conf
expect_rc 0
expect_eq "$ERR" "Warning: shared/app.conf was owned by nobody:nogroup and is now owned by root:root"$'\n'"Hint: Pass --preserve-owner (or --try-preserve-owner), or set preserve-owner = true in the config file, to keep the owner." "stderr"
expect_eq "$(stat -c %U:%G shared/app.conf)" root:root "owner (opt-in preservation, as the PRD says)"
chown nobody:nogroup shared/app.conf
run_in 'kept' --preserve-owner shared/app.conf
expect_rc 0
expect_eq "$ERR" "" "stderr with --preserve-owner"
expect_eq "$(stat -c %U:%G shared/app.conf)" nobody:nogroup "owner"
run_in 'mine' shared/f2
expect_eq "$ERR" "" "no warning for a new file"
rm -f shared/app.conf shared/f2

finish
