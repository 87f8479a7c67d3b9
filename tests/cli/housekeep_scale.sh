#!/usr/bin/env bash
# mutx housekeep at a (small) scale: 2,000 orphaned locks in one directory
# and 200 files x 10 backup generations all handled in one run each. No
# timing here; bench/housekeep.sh measures speed. MUTX_TEST_SIZE scales it.
source "$(dirname "$0")/housekeep_lib.bash"
size=${MUTX_TEST_SIZE:-1}
n_locks=$((2000 * size))
n_files=$((200 * size))
cd "$tree"

mkdir locks
(cd locks && seq -f 'orphan-%06g.lock' 1 "$n_locks" | xargs touch)
touch locks/Cargo.lock.keep && printf 'v' >locks/Cargo.lock
hk --clean-locks locks
expect_rc 0
[[ $(wc -l <<<"$out") == "$n_locks" ]] || fail "want $n_locks lines, got $(wc -l <<<"$out")"
[[ $(head -n1 <<<"$out") == locks/orphan-000001.lock ]] || fail "first line: $(head -n1 <<<"$out")"
[[ $(tail -n1 <<<"$out") == "$(printf 'locks/orphan-%06d.lock' "$n_locks")" ]] || fail "last line: $(tail -n1 <<<"$out")"
[[ $(ls locks) == "$(printf 'Cargo.lock\nCargo.lock.keep')" ]] || fail "left: $(ls locks | head)"

mkdir backups
(cd backups && for f in $(seq -f 'file%04g' 1 "$n_files"); do
  for g in 01 02 03 04 05 06 07 08 09 10; do echo "$f.202401$g-120000.backup"; done
done | xargs touch)
hk --clean-backups --keep-newest 1 --json backups
expect_rc 0
jq -e "select(.summary) | .backups == $((n_files * 9)) and .errors == 0" <<<"$out" >/dev/null ||
  fail "summary: $(tail -n1 <<<"$out")"
[[ $(ls backups | wc -l) == "$n_files" ]] || fail "want $n_files backups left"
[[ -z $(ls backups | grep -v '\.20240110-120000\.backup$') ]] || fail "an older generation stayed"
echo "ok"
