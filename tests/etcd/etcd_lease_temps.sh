#!/usr/bin/env bash
# Temps named after the writer's etcd lease (issue 21, Deliver 3). On a
# share other hosts mount, a --lock-url writer stages its new content in
# .NAME.mutx-e<its lease, 16 hex digits> (a --check copy in
# .NAME.mutx-ce<lease>.EXT): no other writer ever has that name, and only
# `mutx housekeep --lock-url` removes one, once etcd says the lease is gone.
# Without --lock-url housekeep keeps them, even on the share's own local
# directory (the server side, where no client's flock shows). Look-alikes
# made by other programs stay. A writer SIGSTOPped past its lease, whose
# temp housekeep removed meanwhile, resumes and fails (exit 2) without
# touching the target. Against the 3-node cluster and two sshfs mounts of
# cluster.sh ($T/h1 and $T/h2 mount $T/share).
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/cluster.sh"
export XDG_CONFIG_HOME=$T/no-config
etcd_and_two_mounts

# wait_for GLOB: until a name in $T/share matches (5 s).
wait_for() {
  local i
  for ((i = 0; i < 100; i++)); do
    compgen -G "$T/share/$1" >/dev/null && return 0
    sleep 0.05
  done
  return 1
}
# s_writer HOST CMD ERR: a --lock-url writer of s through mount HOST,
# its command CMD, its stderr in ERR, in the background (its PID in SPID;
# killed, even if stopped, at exit).
s_writer() {
  "$MUTX" --lock-url "$ETCD_URL" --lock-ttl 2 --lock-name s "$T/$1/s" -- sh -c "$2" 2>"$3" &
  SPID=$!
  on_exit "kill -CONT $SPID; kill -KILL $SPID"
}
# s_temp ERR: the name of s's lease temp once it exists (5 s); ERR, the
# writer's stderr, is shown when it does not.
s_temp() {
  wait_for '.s.mutx-e*' || { echo "no lease temp for s: $(ls -A "$T/share"; cat "$1")" >&2; return 1; }
  (cd "$T/share" && ls -A | grep -E '^\.s\.mutx-e[0-9a-f]{16}$')
}
# lease_gone HEX: until etcd says lease HEX has expired (10 s).
lease_gone() {
  local i
  for ((i = 0; i < 100; i++)); do
    etcdctl_ lease timetolive "$1" 2>/dev/null | grep -q 'already expired' && return 0
    sleep 0.1
  done
  return 1
}
# writer_command PID: the command mutx PID runs (its own process group:
# it outlives a SIGKILLed mutx), once it runs.
writer_command() {
  local i c
  for ((i = 0; i < 100; i++)); do
    c=$(pgrep -P "$1" | head -1)
    [[ -n $c ]] && { echo "$c"; return 0; }
    sleep 0.05
  done
  return 1
}
# lease_temps: the writers' lease temps in $T/share (not the look-alikes
# below, named after $LIVE and $DEAD), one a line.
lease_temps() {
  (cd "$T/share" && ls -A | grep -E '^\.(f\.mutx-e[0-9a-f]{16}|c\.conf\.mutx-c?e[0-9a-f]{16}(\.conf)?)$' |
    grep -v -e "$LIVE" -e "$DEAD" | LC_ALL=C sort)
}
# hk_v ARGS: housekeep's temps pass, verbose, on any age.
hk_v() { run housekeep --clean-temps --older-than 0 -v "$@"; }

# Look-alikes of other programs': a regular file named after a live lease,
# non-regular files named after dead ones (a directory is not even
# listed as a temp), names that are no lease tag.
# Made before the mounts first list the share: sshfs caches a listing (20 s).
LIVE=$(etcdctl_ lease grant 60 | awk '{print $2}')
DEAD=$(etcdctl_ lease grant 60 | awk '{print $2}')
etcdctl_ lease revoke "$DEAD" >/dev/null
printf 'another program\n' >"$T/share/.f.mutx-e$LIVE"
mkdir "$T/share/.g.mutx-e$DEAD"
ln -s f "$T/share/.h.mutx-e$DEAD"
mkfifo "$T/share/.k.mutx-e$DEAD"
UPPER=$(tr a-f A-F <<<"$DEAD")
[[ $UPPER != "$DEAD" ]] || UPPER=${DEAD:0:15}A
looks=(".f.mutx-e${DEAD:0:15}" ".f.mutx-e0$DEAD" ".f.mutx-e$UPPER" ".f.mutx-e$DEAD.bak" ".f.mutx-E$DEAD")
for n in "${looks[@]}"; do printf 'x\n' >"$T/share/$n"; done

printf 'old f\n' >"$T/share/f"
printf 'old conf\n' >"$T/share/c.conf"

case_ "a --lock-url writer on the share stages in .f.mutx-e<its lease>"
# Command form, killed while its command runs; and a --check writer,
# killed while its check runs on the copy.
"$MUTX" --lock-url "$ETCD_URL" --lock-ttl 2 "$T/h1/f" -- sh -c 'cat; exec sleep 30' 2>"$T/w1.err" &
W1=$!
on_exit "kill -KILL $W1"
"$MUTX" --lock-url "$ETCD_URL" --lock-ttl 2 --check 'test -s %s && exec sleep 30' "$T/h1/c.conf" -- \
  sh -c 'cat; echo new' 2>"$T/w2.err" &
W2=$!
on_exit "kill -KILL $W2"
wait_for '.f.mutx-e*' && wait_for '.c.conf.mutx-ce*' || fatal "no lease-named temps appeared: $(ls -A "$T/share"; cat "$T/w1.err" "$T/w2.err")"
C1=$(writer_command "$W1") && C2=$(writer_command "$W2") || fatal "the writers' commands did not start"
on_exit "kill -KILL $C1 $C2"
temps=$(lease_temps)
expect_match "$temps" "^\.c\.conf\.mutx-ce[0-9a-f]{16}\.conf"$'\n'"\.c\.conf\.mutx-e[0-9a-f]{16}"$'\n'"\.f\.mutx-e[0-9a-f]{16}$" "the temps"
F_TEMP=$(grep '^\.f\.' <<<"$temps")
F_LEASE=${F_TEMP#.f.mutx-e}
C_TEMP=$(grep '^\.c\.conf\.mutx-e' <<<"$temps")
C_LEASE=${C_TEMP#.c.conf.mutx-e}
C_COPY=.c.conf.mutx-ce$C_LEASE.conf
expect_exists "$T/share/$C_COPY"
# The names hold the writers' own leases, alive while they run.
expect_match "$(etcdctl_ lease timetolive "$F_LEASE")" "^lease $F_LEASE granted with TTL\(2s\)" "f's lease in etcd"
expect_match "$(etcdctl_ lease timetolive "$C_LEASE")" "^lease $C_LEASE granted with TTL\(2s\)" "c.conf's lease in etcd"
[[ $F_LEASE != "$C_LEASE" ]] && pass || fail "two writers, one lease $F_LEASE"

case_ "housekeep without --lock-url keeps them, on the mount and on the share's own directory"
hk_v "$T/h2"
expect_rc 0
expect_out
expect_has "$ERR" "Skipped $T/h2/$F_TEMP: named after etcd lease $F_LEASE: a writer on any host that mounts this directory may own it; pass --lock-url to ask etcd whether that lease is gone"
expect_has "$ERR" "Skipped $T/h2/$C_COPY: named after etcd lease $C_LEASE"
# The server's side: a local filesystem, where the sshfs clients' flocks
# do not show: the flock claim would succeed on a live writer's temp.
hk_v "$T/share"
expect_rc 0
expect_out
expect_has "$ERR" "Skipped $T/share/$F_TEMP: named after etcd lease $F_LEASE"
expect_eq "$(lease_temps)" "$temps" "the lease temps"

case_ "housekeep --lock-url keeps them while their leases are alive"
hk_v --lock-url "$ETCD_URL" "$T/h2"
expect_rc 0
expect_out
expect_has "$ERR" "Skipped $T/h2/$F_TEMP: its etcd lease $F_LEASE is alive"
expect_has "$ERR" "Skipped $T/h2/$C_TEMP: its etcd lease $C_LEASE is alive"
expect_has "$ERR" "Skipped $T/h2/$C_COPY: its etcd lease $C_LEASE is alive"
hk_v --lock-url "$ETCD_URL" "$T/share"
expect_rc 0
expect_out
expect_has "$ERR" "Skipped $T/share/$F_TEMP: its etcd lease $F_LEASE is alive"
expect_eq "$(lease_temps)" "$temps" "the lease temps"

case_ "SIGKILLed writers leave their lease temps, and the targets as they were"
kill -KILL "$W1" "$W2"
wait "$W1" "$W2" 2>/dev/null
kill -KILL "$C1" "$C2" 2>/dev/null
expect_content "$T/share/f" $'old f\n'
expect_content "$T/share/c.conf" $'old conf\n'
expect_eq "$(lease_temps)" "$temps" "the lease temps"

case_ "etcd unreachable: housekeep --lock-url reports an error for each lease temp and removes nothing"
lease_gone "$F_LEASE" && lease_gone "$C_LEASE" || fail "the killed writers' leases did not expire"
before=$(ls -A "$T/share" | LC_ALL=C sort)
hk_v --lock-url "etcd://127.0.0.1:$(free_port)" "$T/h2"
expect_rc 1
expect_out
expect_match "$ERR" "Error: cannot reach etcd at 127\.0\.0\.1:[0-9]+: [^;]+; $T/h2/$F_TEMP \(named after etcd lease $F_LEASE\) was kept"
expect_has "$ERR" "$T/h2/$C_TEMP (named after etcd lease $C_LEASE) was kept"
expect_eq "$(ls -A "$T/share" | LC_ALL=C sort)" "$before" "the share's names"

case_ "housekeep --lock-url removes the temps whose leases are gone, and nothing else"
hk_v --lock-url "$ETCD_URL" "$T/h2"
expect_rc 0
expect_out "$T/h2/$C_COPY" "$T/h2/$C_TEMP" "$T/h2/$F_TEMP"
expect_has "$ERR" "Skipped $T/h2/.f.mutx-e$LIVE: its etcd lease $LIVE is alive"
expect_has "$ERR" "Skipped $T/h2/.h.mutx-e$DEAD: a symbolic link, not followed"
expect_has "$ERR" "Skipped $T/h2/.k.mutx-e$DEAD: not a regular file"
expect_has "$ERR" "Deleted 0 locks, 3 temps, 0 backups"
# (and the killed writers' lock files, which --clean-temps leaves)
expect_only "$T/share" f f.lock c.conf c.conf.lock ".f.mutx-e$LIVE" ".g.mutx-e$DEAD" ".h.mutx-e$DEAD" ".k.mutx-e$DEAD" "${looks[@]}"
expect_content "$T/share/f" $'old f\n'
expect_content "$T/share/.f.mutx-e$LIVE" $'another program\n'
# Removed only on proof: again, nothing more goes.
hk_v --lock-url "$ETCD_URL" "$T/share"
expect_rc 0
expect_out
rm -rf "$T/share"/.*mutx*
etcdctl_ lease revoke "$LIVE" >/dev/null

case_ "a writer SIGSTOPped past its lease: housekeep removes its temp, and it resumes to fail, changing nothing"
printf '0\n' >"$T/share/s"
s_writer h1 'cat >/dev/null; sleep 0.5; echo h1' "$T/s1.err"
S1=$SPID
# Stopped once its temp exists: the command may be running, or done.
S_TEMP=$(s_temp "$T/s1.err") || fatal "the stalled writer made no lease temp"
kill -STOP "$S1"
S_LEASE=${S_TEMP#.s.mutx-e}
# Another host's writer waits for the lock, then commits.
OUT=$(echo h2 | "$MUTX" --lock-url "$ETCD_URL" --lock-ttl 2 --lock-name s --timeout 15 "$T/h2/s" 2>"$T/s2.err")
RC=$? ERR=$(<"$T/s2.err")
expect_rc 0
expect_content "$T/share/s" $'h2\n'
lease_gone "$S_LEASE" || fail "the stopped writer's lease $S_LEASE did not expire"
hk_v --lock-url "$ETCD_URL" "$T/h2"
expect_rc 0
expect_out "$T/h2/$S_TEMP"
kill -CONT "$S1"
wait "$S1"
RC=$? ERR=$(<"$T/s1.err")
expect_rc 2
expect_has "$ERR" "Error: $T/h1/s: lost the etcd lock before the commit; nothing was changed"
# The etcd lock's own hint, not the lock file's.
expect_match "$ERR" $'\nHint: The lock ended before this write could prove it still held it \\(.+\\); another writer may have the file now\\. Run again\\.$'
expect_content "$T/share/s" $'h2\n'
expect_only "$T/share" f f.lock c.conf c.conf.lock s

case_ "a resumed writer never removes the temp of the writer now in flight"
# With slot names the stalled writer's .s.mutx-0, once removed, was the
# next writer's name too, and the resumed writer's cleanup unlinked it
# under that writer ("cannot rename temporary file"). Named after leases,
# the two temps never share a name.
s_writer h1 'cat >/dev/null; sleep 0.5; echo h1' "$T/s1.err"
S1=$SPID
S_TEMP=$(s_temp "$T/s1.err") || fatal "the stalled writer made no lease temp"
kill -STOP "$S1"
lease_gone "${S_TEMP#.s.mutx-e}" || fail "the stopped writer's lease did not expire"
# Cleaned on the share's server, a local directory: the lease decides.
hk_v --lock-url "$ETCD_URL" "$T/share"
expect_rc 0
expect_out "$T/share/$S_TEMP"
s_writer h2 'cat; sleep 1.5; echo h2' "$T/s2.err"
S2=$SPID
S2_TEMP=$(s_temp "$T/s2.err") || fatal "the second writer made no lease temp"
[[ $S2_TEMP != "$S_TEMP" ]] && pass || fail "the second writer's temp has the stalled one's name $S_TEMP"
kill -CONT "$S1"
wait "$S1"
RC=$? ERR=$(<"$T/s1.err")
expect_rc 2
expect_has "$ERR" "Error: $T/h1/s: lost the etcd lock before the commit; nothing was changed"
expect_exists "$T/share/$S2_TEMP"
wait "$S2"
RC=$? ERR=$(<"$T/s2.err")
expect_rc 0
expect_content "$T/share/s" $'h2\nh2\n'
expect_only "$T/share" f f.lock c.conf c.conf.lock s

case_ "housekeep --lock-url refuses a bad URL before looking at anything"
run housekeep --clean-temps --lock-url http://127.0.0.1:2379 "$T/h2"
expect_rc 1
expect_err "Error: invalid lock URL 'http://127.0.0.1:2379': it does not start with etcd://" \
  "Hint: Give etcd://HOST:PORT[,HOST:PORT...][/PREFIX], such as etcd://10.0.0.1:2379,10.0.0.2:2379/mutx."
run housekeep --clean-temps --lock-url '' "$T/h2"
expect_rc 1
expect_err "Error: --lock-url needs a URL"
expect_only "$T/share" f f.lock c.conf c.conf.lock s

case_ "a lease-named temp is 5 bytes longer: NAME may have 231 bytes under --lock-url on the share"
mkdir "$T/share/long"
long=$(printf 'n%.0s' {1..232})
run_in x --lock-url "$ETCD_URL" "$T/h1/long/$long"
expect_rc 1
expect_err "Error: $T/h1/long/$long: File name too long" \
  "Hint: mutx stages the new content as .NAME.mutx-eLEASE (its etcd lease, 16 hex digits) beside it, and this directory takes names of at most 255 bytes: NAME can have 231 at most."
expect_only "$T/share/long"
run_in x --lock-url "$ETCD_URL" "$T/h1/long/${long:1}"
expect_rc 0
expect_only "$T/share/long" "${long:1}"
finish
