#!/usr/bin/env bash
# mutx housekeep at a (small) scale: 2,000 orphaned locks in one directory
# and 200 files x 10 backup generations all handled in one run each. No
# timing here; bench/housekeep.sh measures speed. MUTX_TEST_SIZE scales it.
. "$(dirname "$0")/lib.sh"
hk_tree
stop_on_error
size=${MUTX_TEST_SIZE:-1}
n_locks=$((2000 * size))
n_files=$((200 * size))

case_ "$n_locks orphaned locks in one directory"
mkdir locks
(cd locks && seq -f 'orphan-%06g' 1 "$n_locks" | sed 'p; s/$/.lock/' | xargs touch)
touch locks/Cargo.lock.keep && printf 'v' >locks/Cargo.lock
hk --clean-locks --older-than 0 locks
expect_rc 0
[[ $(wc -l <<<"$OUT") == "$n_locks" ]] && pass || fail "want $n_locks lines, got $(wc -l <<<"$OUT")"
[[ $(head -n1 <<<"$OUT") == locks/orphan-000001.lock ]] && pass || fail "first line: $(head -n1 <<<"$OUT")"
[[ $(tail -n1 <<<"$OUT") == "$(printf 'locks/orphan-%06d.lock' "$n_locks")" ]] && pass || fail "last line: $(tail -n1 <<<"$OUT")"
[[ $(ls locks | grep -v '^orphan-[0-9]*$') == "$(printf 'Cargo.lock\nCargo.lock.keep')" ]] && pass || fail "left: $(ls locks | head)"
[[ $(ls locks | wc -l) == $((n_locks + 2)) ]] && pass || fail "a lock's file went too"

case_ "$n_files files x 10 backup generations"
# Ten generations of each, named as mutx names them (the UTC time of the
# write, then _001.._009 within one second), made in that order.
mkdir backups
S=$(utc_stamp)
(cd backups && for g in '' _001 _002 _003 _004 _005 _006 _007 _008 _009; do
  seq -f "file%04g.$S$g.backup" 1 "$n_files" | xargs touch
  sleep 0.02  # file times tick coarsely (4 ms at HZ=250)
done)
hk --clean-backups --keep-newest 1 --json backups
expect_rc 0
jq -e "select(.summary) | .backups == $((n_files * 9)) and .errors == 0" <<<"$OUT" >/dev/null &&
  pass || fail "summary: $(tail -n1 <<<"$OUT")"
[[ $(ls backups | wc -l) == "$n_files" ]] && pass || fail "want $n_files backups left"
[[ -z $(ls backups | grep -v "\.${S}_009\.backup\$") ]] && pass || fail "an older generation stayed"
finish
