#!/usr/bin/env bash
# -C/--compare (as install -C) and --on-change CMD. The same content, mode
# and owner: nothing written (same inode and mtime, no backup, no temp, no
# check, no on-change), exit 0, -v says "Unchanged: OUTPUT", the JSON result
# has "changed": false; any difference (content early or late, length,
# mode) writes, in simple mode, --stream, --append and the command form, on
# both I/O paths. --on-change runs after each commit that changed the file,
# under the lock, %s being OUTPUT; its failure is exit 1 with the new
# content in place.
. "$(dirname "$0")/lib.sh"

mkdir -p d
head -c 5000000 /dev/urandom >big
cp big big.late
printf 'X' | dd of=big.late bs=1 seek=4999990 conv=notrunc status=none
cp big big.early
printf 'X' | dd of=big.early bs=1 seek=3 conv=notrunc status=none
head -c 4999999 big >big.short

for io in uring syscalls; do
  export MUTX_IO=$io
  case_ "$io: identical content: nothing written (simple, --stream, --input, command form)"
  cp big d/t
  before=$(listing d)
  for how in simple stream input command; do
    case $how in
      simple) run -C -v --backup d/t <big ;;
      stream) run -C -v --backup --stream d/t <big ;;
      input) run -C -v --backup --input big d/t ;;
      command) run -C -v --backup d/t -- cat ;;
    esac
    expect_rc 0
    expect_has "$ERR" "Unchanged: d/t" "$how: stderr"
    expect_listing d "$before" "$how: d (same inode, same mtime, no backup, no temp)"
  done

  case_ "$io: a difference early, late, or in length is written"
  for variant in early late short; do
    cp big d/t
    run -C --stream --backup d/t <big.$variant
    expect_rc 0
    expect_same_file d/t big.$variant
    expect_same_file d/t.backup big
    rm -f d/t.backup
  done
  cp big d/t
  cat big big.short >want
  run -C --append d/t <big.short
  expect_rc 0
  expect_same_file d/t want
done
unset MUTX_IO

case_ "identical content: no sync, no link, no rename (strace)"
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null; then
  printf 'same\n' >d/st
  printf 'same\n' | strace -f -qq -o "$T/trace" -e trace=fsync,fdatasync,sync_file_range,linkat,renameat,renameat2,io_uring_enter "$MUTX" --io=syscalls -C d/st
  expect_eq "$(grep -cE '^[0-9]+ +(fsync|fdatasync|sync_file_range|linkat|renameat2?)\(' "$T/trace")" 0 "syncs, links and renames"
  printf 'different\n' | strace -f -qq -o "$T/trace" -e trace=fsync,renameat,renameat2 "$MUTX" --io=syscalls -C d/st
  expect_eq "$(grep -cE '^[0-9]+ +(fsync|renameat2?)\(' "$T/trace")" 3 "file fsync, rename, directory fsync when it differs"
else
  echo "NOTE: strace cannot trace here: the syscall case is not run" >&2
fi

case_ "--append of nothing is no change"
printf 'abc\n' >d/a
before=$(listing d)
run_in '' -C --append --allow-empty -v d/a
expect_rc 0
expect_has "$ERR" "Unchanged: d/a" "stderr"
expect_listing d "$before"

case_ "a mode that would change is a change"
printf 'same\n' >d/m
chmod 600 d/m
ino=$(stat -c %i d/m)
run_in $'same\n' -C -m 644 d/m
expect_rc 0
expect_mode d/m 644
if [[ $(stat -c %i d/m) != "$ino" ]]; then pass; else fail "d/m was not replaced"; fi
before=$(listing d)
run_in $'same\n' -C -m 644 d/m
expect_rc 0
expect_listing d "$before" "d after the same mode again"

case_ "an owner that would change is a change"
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1; then
  printf 'same\n' >d/o
  chown nobody d/o
  run_in $'same\n' -C d/o
  expect_rc 0
  expect_eq "$(stat -c %U d/o)" root "owner (the caller's, as without -C)"
  before=$(listing d)
  run_in $'same\n' -C --preserve-owner d/o
  expect_listing d "$before" "d after the same owner"
else
  echo "NOTE: not root: the owner case is not run" >&2
fi

case_ "a new file is a change"
run_in x -C d/new
expect_rc 0
expect_content d/new x

case_ "--json: changed true or false, and the sha256"
run_in x -C --json d/new
expect_rc 0
expect_eq "$(jq -c 'select(.event == "unchanged") | [.changed, .sha256]' <<<"$ERR")" '[false,"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"]' "unchanged event"
run_in y -C --json d/new
expect_eq "$(jq -c 'select(.event == "committed") | [.changed, .sha256]' <<<"$ERR")" '[true,"a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa"]' "committed event"
run_in z --json d/new
expect_eq "$(jq -c 'select(.event == "committed") | .changed' <<<"$ERR")" 'true' "committed without -C"

case_ "compare = true in the config file; --no-compare writes anyway"
mkdir -p cfg/mutx
printf 'compare = true\n' >cfg/mutx/config
printf 'c\n' >d/cfg
before=$(listing d)
printf 'c\n' | XDG_CONFIG_HOME=$T/cfg "$MUTX" d/cfg
expect_listing d "$before" "d with compare = true"
printf 'c\n' | XDG_CONFIG_HOME=$T/cfg "$MUTX" --no-compare d/cfg
if [[ $(listing d) != "$before" ]]; then pass; else fail "--no-compare wrote nothing"; fi

case_ "--on-change runs after a change only, with %s = OUTPUT, under the lock"
printf 'v1\n' >d/svc.conf
run_in $'v2\n' -C --on-change "echo reload %s \$(cat %s) >>$T/reloads; flock -n d/svc.conf.lock true || echo locked >>$T/reloads" d/svc.conf
expect_rc 0
run_in $'v2\n' -C --on-change "echo reload %s >>$T/reloads" d/svc.conf
expect_rc 0
run_in $'v3\n' --on-change "echo reload %s \$(cat %s) >>$T/reloads" d/svc.conf
expect_rc 0
expect_content reloads $'reload d/svc.conf v2\nlocked\nreload d/svc.conf v3\n'

case_ "--on-change does not run when --check refuses"
run_in $'v4\n' --check false --on-change "echo ran >>$T/reloads" d/svc.conf
expect_rc 1
expect_content d/svc.conf $'v3\n'
expect_content reloads $'reload d/svc.conf v2\nlocked\nreload d/svc.conf v3\n'

case_ "a failing --on-change: exit 1, the new content in place"
run_in $'v5\n' --on-change 'exit 7' d/svc.conf
expect_rc 1
expect_eq "$ERR" "Error: d/svc.conf: the new content is in place, but --on-change 'exit 7' exited 7" "stderr"
expect_content d/svc.conf $'v5\n'
expect_no_temps d
expect_missing d/svc.conf.lock

case_ "the issue's example: -C --check --on-change"
need_cmd jq
printf '{"v": 1}\n' >d/app.json
run_in $'{"v": 2}\n' -C --check 'jq empty %s' --on-change "echo reloaded >>$T/app" d/app.json
expect_rc 0
run_in $'{"v": 2}\n' -C --check 'jq empty %s' --on-change "echo reloaded >>$T/app" d/app.json
expect_rc 0
run_in $'{"v": \n' -C --check 'jq empty %s' --on-change "echo reloaded >>$T/app" d/app.json
expect_rc 1
expect_content app $'reloaded\n'
expect_content d/app.json $'{"v": 2}\n'

finish
