#!/usr/bin/env bash
# mutx housekeep --clean-backups reads a timestamped name as a generation
# only where that is proven (issue 17, findings 1 and 2). The plain backups
# of date-named files (dump.20250101-120000 -> dump.20250101-120000.backup)
# are those files' own, not generations of `dump` to thin; and generations
# are ordered by when they were made, not by their names, which writers in
# different time zones (and earlier mutx, which wrote local time) disagree
# on.
. "$(dirname "$0")/lib.sh"
hk_tree
stop_on_error
export XDG_CONFIG_HOME=$T/no-config

w() {  # w CONTENT MUTX-ARGS...: write CONTENT through mutx; what follows depends on it
  local content=$1
  shift
  run_in "$content"$'\n' "$@"
  [[ $RC == 0 ]] && pass || fatal "mutx $* failed (exit $RC): $ERR"
}

case_ "date-named files keep their own plain backups"
# Date-named files, each written twice with --backup: each has its own
# backup, and keeps it.
for d in 20250101 20250102 20250103; do
  w "$d v1" "dump.$d-120000"
  w "$d v2" --backup "dump.$d-120000"
done
# And `dump` itself, with three real generations.
w v1 dump
for v in v2 v3 v4; do w "$v" --backup-timestamp dump; done
mapfile -t gens < <(LC_ALL=C ls | grep -E '^dump\.[0-9]{8}-[0-9]{6}(_[0-9]{3})?\.backup$' |
  grep -vE '^dump\.2025010[123]-120000\.backup$')
[[ ${#gens[@]} == 3 ]] && pass || fatal "want 3 generations of dump: ${gens[*]}"
hk --clean-backups --keep-newest 1 -v
expect_rc 0
expect_out "./${gens[1]}" "./${gens[0]}"
expect_err_has "Skipped ./dump.20250101-120000.backup: the newest backup of dump.20250101-120000 (a plain backup: that file exists)"
expect_err_has "Skipped ./${gens[2]}: the newest backup of dump"
expect_exists dump.20250101-120000.backup dump.20250102-120000.backup dump.20250103-120000.backup "${gens[2]}"
[[ $(<dump.20250101-120000.backup) == "20250101 v1" ]] && pass || fail "a date-named file's backup changed"
[[ $(<"${gens[2]}") == v3 ]] && pass || fail "the newest generation is not the newest: $(<"${gens[2]}")"

case_ "with its file gone, a date-named backup stays a plain backup"
# With the file gone, its backup's name still does not match when it was
# made (today, named 2025): it stays the plain backup of that name.
rm dump.20250102-120000
hk --clean-backups --keep-newest 0 --older-than 1w
expect_out
expect_exists dump.20250102-120000.backup

case_ "writers in different zones: the later write's backup is the newest"
# Writers in different zones (a login shell in Tokyo, cron in UTC): the
# later write's backup is the newest, whatever its name says.
w v1 conf
TZ=Asia/Tokyo w v2 --backup-timestamp conf  # keeps v1
sleep 1.1
TZ=UTC w v3 --backup-timestamp conf         # keeps v2
for tz in UTC Asia/Tokyo America/New_York; do
  TZ=$tz hk --clean-backups --keep-newest 1 -n
  expect_rc 0
  [[ $(wc -l <<<"$OUT") == 1 ]] && pass || fail "TZ=$tz: want one backup of conf to go: $OUT"
  doomed=${OUT#would delete ./}
  [[ $(<"$doomed") == v1 ]] && pass || fail "TZ=$tz would delete the newest backup (holding $(<"$doomed"))"
done

case_ "a generation named in local time by earlier mutx"
# A generation that earlier mutx named in local time (here Asia/Tokyo, 9
# hours ahead of UTC) and a newer one named in UTC: run in that zone,
# housekeep proves the local name a generation and keeps the newer.
mkdir tz && cd tz
w v1 conf
old_name=conf.$(TZ=Asia/Tokyo date +%Y%m%d-%H%M%S).backup
echo v0 >"$old_name"
sleep 1.1
w v2 --backup-timestamp conf
new_name=$(ls conf.*.backup | grep -vx "$old_name")
# Else the case proves nothing: by name alone housekeep would keep the newer.
[[ $old_name > $new_name ]] && pass || fatal "the local name should sort after the UTC one: $old_name $new_name"
TZ=Asia/Tokyo hk --clean-backups --keep-newest 1
expect_rc 0
expect_out "./$old_name"
expect_exists "$new_name"
finish
