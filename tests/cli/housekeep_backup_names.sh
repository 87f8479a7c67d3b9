#!/usr/bin/env bash
# mutx housekeep --clean-backups reads a timestamped name as a generation
# only where that is proven (issue 17, findings 1 and 2). The plain backups
# of date-named files (dump.20250101-120000 -> dump.20250101-120000.backup)
# are those files' own, not generations of `dump` to thin; and generations
# are ordered by when they were made: the time in their names as proven
# (UTC, or the local time of earlier mutx), which a later chmod or hard
# link does not move as it moves a ctime. The writer keeps the readings
# apart too: a plain backup never replaces what may be another file's
# generation.
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

case_ "a plain backup never replaces another file's generation"
# The plain backup of a file named like dump's generation has that
# generation's name: refused, before anything is created, while that name
# may be dump's generation (its ctime is the time in its name, or dump is
# there); housekeep keeps it too.
mkdir g1 && cd g1
w v1 dump
w v2 --backup-timestamp dump
gen=$(ls dump.*.backup)
x=${gen%.backup}
printf 'daily\n' >"$x"
for flags in --backup "--backup --stream"; do
  # shellcheck disable=SC2086
  run_in "daily2" $flags "$x"
  expect_rc 1
  expect_match "$ERR" "^Error: cannot back up $x: $gen may be a timestamped backup of dump \(its ctime is the time in its name\), which a plain backup would replace"$'\n'"Hint: .*pass --backup-timestamp, or another --backup-suffix or --backup-dir; if $gen is $x's own backup, move it away first" "stderr [$flags]"
  expect_content "$gen" $'v1\n'
  expect_content "$x" $'daily\n'
  expect_only . dump "$gen" "$x"
done
# With dump beside it, a ctime far from the name does not make it x's
# either (a generation chmod-ed since, say).
printf 'old\n' >dump.20250101-120000
printf 'v0\n' >dump.20250101-120000.backup
run_in "old2" --backup dump.20250101-120000
expect_rc 1
expect_err_has "may be a timestamped backup of dump (dump is there)"
expect_content dump.20250101-120000.backup $'v0\n'
hk --clean-backups -n
expect_rc 0
expect_out
# Timestamped backups of x are names of x's own.
run_in "daily2" --backup-timestamp "$x"
expect_rc 0
expect_content "$x" "daily2"
cd ..

case_ "a date-named file's plain backup is replaced when no generation can be there"
# No `notes` beside it, and its backup was made long after the time in its
# name: the backup is notes.20250101-120000's own, replaced as usual.
mkdir g2 && cd g2
for v in v1 v2 v3; do w "$v" --backup notes.20250101-120000; done
expect_content notes.20250101-120000.backup $'v2\n'
expect_only . notes.20250101-120000 notes.20250101-120000.backup
cd ..

case_ "generations are ordered by their names, not by a ctime moved later"
# A chmod (or a hard link: a snapshot) moves a generation's ctime but not
# when it was made: the newest by name stays. Made newest-name first, so
# their ctimes are in the opposite order too.
mkdir g3 && cd g3
s0=$(utc_stamp "-40 sec") s1=$(utc_stamp "-20 sec")
printf 'g2\n' >"g.$s1.backup"
printf 'g3\n' >"g.${s1}_001.backup"
printf 'g1\n' >"g.$s0.backup"
chmod 600 "g.$s1.backup"
ln "g.$s0.backup" "$T/snapshot"
hk --clean-backups --keep-newest 1 -n
expect_rc 0
expect_out "would delete ./g.$s1.backup" "would delete ./g.$s0.backup"
hk --clean-backups --keep-newest 2
expect_rc 0
expect_out "./g.$s0.backup"
expect_content "g.${s1}_001.backup" $'g3\n'
expect_content "g.$s1.backup" $'g2\n'
cd ..

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
