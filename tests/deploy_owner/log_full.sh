#!/usr/bin/env bash
# --log on a full filesystem (a tiny tmpfs): a log with no room for its
# line is an error before anything is published (the target, its directory
# and backups exactly as they were), also when it fills up during the write
# (checked again just before the commit); a log that fills up after the commit
# (here: by the --on-change command) is an error that says the new content
# is in place, not that the target was left as it was. Needs root (mount).
. "$(dirname "$0")/../deploy/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_root "mounting a tmpfs needs root"
need_cmd jq
mkdir m d
mount -t tmpfs -o size=64k,mode=0755 tmpfs m 2>"$T/.mount.err" || skip "cannot mount a tmpfs: $(<"$T/.mount.err")"
on_exit "umount -l '$T/m'"
# Fill it to the last block.
fill() { dd if=/dev/zero of="m/fill$1" bs=4k 2>/dev/null; true; }
printf 'old\n' >d/t

case_ "a full filesystem: no room for the line, nothing published"
: >m/a.log
fill 1
before=$(listing d)
run_in $'new\n' --log m/a.log --backup d/t
expect_rc 1
expect_eq "$ERR" $'Error: no room for a line in log m/a.log: No space left on device\nHint: Free some space on that filesystem; the target was left as it was.' "stderr"
expect_listing d "$before"
expect_eq "$(stat -c %s m/a.log)" 0 "log size"
rm m/fill1

case_ "the log fills up before the commit (here: by --check): nothing published"
: >m/a.log
run_in $'new\n' --log m/a.log --backup --check "dd if=/dev/zero of=$T/m/fill3 bs=4k 2>/dev/null; true" d/t
expect_rc 1
expect_eq "$ERR" $'Error: no room for a line in log m/a.log: No space left on device\nHint: Free some space on that filesystem; the target was left as it was.' "stderr"
expect_listing d "$before"
rm m/fill3

case_ "the log fills up after the commit: the error says the content is in place"
: >m/a.log
run_in $'new\n' --log m/a.log --backup --on-change "dd if=/dev/zero of=$T/m/fill2 bs=4k 2>/dev/null; true" d/t
expect_rc 1
expect_eq "$ERR" $'Error: d/t: the new content is in place, but the log m/a.log could not be written: No space left on device\nHint: This change is missing from the log; free some space on the log\'s filesystem.' "stderr"
expect_content d/t $'new\n'
expect_content d/t.backup $'old\n'
expect_no_temps d
expect_eq "$(stat -c %s m/a.log)" 0 "log size"
rm m/fill2

case_ "room again: logged"
run_in $'newer\n' --log m/a.log d/t
expect_rc 0
expect_eq "$(jq -r .outcome m/a.log)" written "outcome"

finish
