#!/usr/bin/env bash
# --lock-url against a real 3-node etcd cluster on loopback (cluster.sh):
# a commit carries the fencing token (xattr user.mutx.fence, --json) and
# leaves no lease; --no-wait, --timeout and an etcdctl holder; Ctrl-C while
# waiting (exit 3, its lease revoked); an unreachable or malformed URL; a
# holder SIGSTOPped past its TTL never renames; a waiter SIGSTOPped past
# its TTL, and a waiter whose etcd node is SIGSTOPped, queue again and lose
# nothing; a target with a newer token is refused; a follower and then the
# leader killed under two writers lose no update; without a majority a
# write fails within a bounded time. MUTX_TEST_SIZE scales the writers.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/cluster.sh"
export XDG_CONFIG_HOME=$T/no-config
unset MUTX_LOCK_URL
need_etcd
need_cmd getfattr
need_cmd setfattr
etcd_cluster
SIZE=${MUTX_TEST_SIZE:-1}
INC=(sh -c 'read n; echo $((n + 1))')
# The writes' directory: nothing else lives there.
mkdir "$T/w" && cd "$T/w" || exit 1

# until_has FILE TEXT: poll until FILE contains TEXT (10 s at most).
until_has() {
  local i
  for ((i = 0; i < 200; i++)); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  fatal "never found '$2' in $1: $(cat "$1" 2>/dev/null)"
}
# lease_of FILE: the lease a -vv run granted last (hex), from its stderr.
lease_of() { grep -o 'etcd lease [0-9a-f]*' "$1" | tail -1 | awk '{print $3}'; }
revoke_all() {
  local l
  for l in $(leases); do etcdctl_ lease revoke "$l" >/dev/null 2>&1; done
}
leases() { etcdctl_ lease list 2>/dev/null | tail -n +2 | tr -d ' ' | sed 's/^0*//'; }
counter_is() { expect_eq "$(<f)" "$1" "the counter"; }
elapsed_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
no_temps() {  # dir
  [[ -z $(compgen -G "$1/.*.mutx-*") ]] && pass || fail "temps left: $(ls -A "$1")"
}

case_ "a commit under the etcd lock carries its fencing token"
echo 1 >f
run --json --lock-url "$ETCD_URL" f -- "${INC[@]}"
expect_rc 0
counter_is 2
fence=$(grep '"event":"committed"' <<<"$ERR" | grep -o '"fence":[0-9]*' | cut -d: -f2)
[[ $fence =~ ^[0-9]+$ && $fence -gt 0 ]] && pass || fail "no fence in --json: $ERR"
expect_eq "$(getfattr --only-values -n user.mutx.fence f 2>/dev/null)" "$fence" "xattr user.mutx.fence"
key=$(grep -o '"etcd_key":"[^"]*"' <<<"$ERR" | head -1 | cut -d'"' -f4)
name_hash=$(printf '%s' "$T/w/f" | sha256sum | cut -d' ' -f1)
expect_match "$key" "^/mutx/$name_hash/[0-9a-f]+$" "key = /mutx/ + SHA-256 of the absolute path"
expect_eq "$(leases)" "" "leases left after the write"
expect_only . f
expect_eq "$(etcdctl_ get --prefix /mutx/ --keys-only | grep -c .)" 0 "keys left in etcd"

case_ "a second commit gets a greater token; --lock-name and a /PREFIX name the key"
run --json --lock-url "$ETCD_URL/team/a" --lock-name shared-name f -- "${INC[@]}"
expect_rc 0
counter_is 3
fence2=$(grep -o '"fence":[0-9]*' <<<"$ERR" | tail -1 | cut -d: -f2)
[[ $fence2 -gt $fence ]] && pass || fail "token $fence2 not above $fence"
expect_has "$ERR" "\"etcd_key\":\"/team/a/$(printf '%s' shared-name | sha256sum | cut -d' ' -f1)/"

case_ "MUTX_LOCK_URL and the config key lock-url; --no-lock-url"
MUTX_LOCK_URL=$ETCD_URL run -v f -- "${INC[@]}"
expect_rc 0
expect_err_has "etcd lock acquired"
mkdir -p "$T/cfg/mutx"
printf 'lock-url = %s\n' "$ETCD_URL" >"$T/cfg/mutx/config"
XDG_CONFIG_HOME=$T/cfg run -v f -- "${INC[@]}"
expect_rc 0
expect_err_has "etcd lock acquired"
XDG_CONFIG_HOME=$T/cfg run -v --no-lock-url f -- "${INC[@]}"
expect_rc 0
[[ $ERR != *"etcd lock"* ]] && pass || fail "--no-lock-url still took the etcd lock: $ERR"
counter_is 6

case_ "--no-wait against an etcdctl holder of the same key: exit 2 at once"
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" lock "/mutx/$name_hash" >"$T/holder.out" 2>&1 &
holder=$!
on_exit "kill $holder"
until_has "$T/holder.out" "/mutx/$name_hash"
start=$(date +%s%N)
run --no-wait --lock-url "$ETCD_URL" f -- "${INC[@]}"
expect_rc 2
expect_err_has "Error: f: File locked by another writer (etcd)"
(($(elapsed_ms "$start") < 2000)) && pass || fail "--no-wait took $(elapsed_ms "$start") ms"
counter_is 6
expect_only . f

case_ "--timeout 0.5 against the holder: exit 2 after the wait"
start=$(date +%s%N)
run --timeout 0.5 --lock-url "$ETCD_URL" f -- "${INC[@]}"
expect_rc 2
expect_err_has "Error: f: Lock acquisition timeout after 0.5s"
ms=$(elapsed_ms "$start")
((ms >= 450 && ms < 3000)) && pass || fail "--timeout 0.5 took $ms ms"
counter_is 6

case_ "Ctrl-C while waiting on etcd: exit 3, its lease revoked"
# Background jobs of a script start with SIGINT ignored, which mutx keeps.
env --default-signal=INT "$MUTX" -vv --lock-url "$ETCD_URL" f -- "${INC[@]}" 2>"$T/waiter.err" &
waiter=$!
until_has "$T/waiter.err" "Waiting for the etcd lock"
wl=$(lease_of "$T/waiter.err")
[[ -n $wl ]] && leases | grep -qx "$wl" && pass || fail "the waiter's lease $wl is not live: $(leases)"
kill -INT "$waiter"
wait "$waiter"
RC=$?
expect_rc 3
leases | grep -qx "$wl" && fail "the waiter's lease $wl is still there after exit 3" || pass
counter_is 6
expect_only . f
kill "$holder"
wait "$holder" 2>/dev/null
revoke_all  # etcdctl killed may leave its session's lease (TTL 60 s)

case_ "unreachable cluster: exit 1 within a bounded time, nothing touched"
dead=$(free_port)
start=$(date +%s%N)
run --lock-url "etcd://127.0.0.1:$dead" f -- "${INC[@]}"
expect_rc 1
expect_err_has "Error: cannot reach etcd at 127.0.0.1:$dead: Connection refused"
(($(elapsed_ms "$start") < 6000)) && pass || fail "took $(elapsed_ms "$start") ms"
counter_is 6
expect_only . f

case_ "a malformed URL or TTL: exit 1 before anything"
for bad in "http://127.0.0.1:2379" "etcd://" "etcd://host" "etcd://h:99999"; do
  run --lock-url "$bad" f -- "${INC[@]}"
  expect_rc 1
  expect_err_has "invalid lock URL '$bad'"
done
run --lock-url "$ETCD_URL" --lock-ttl 1 f -- "${INC[@]}"
expect_rc 1
expect_err_has "invalid lock TTL 1"
run --lock-name x f -- "${INC[@]}"
expect_rc 1
counter_is 6
expect_only . f

case_ "a target carrying a newer fencing token is not overwritten"
setfattr -n user.mutx.fence -v 999999999 f
run --lock-url "$ETCD_URL" f -- "${INC[@]}"
expect_rc 2
expect_err_has "a writer with a newer etcd lock (fencing token 999999999 >"
counter_is 6
expect_only . f
setfattr -x user.mutx.fence f

# Writers that stand for two hosts take lock files of their own ($T/host-*):
# flock is not shared between hosts on a share such as sshfs.
case_ "a holder SIGSTOPped past its TTL never renames; the next writer's update stands"
# The holder's command takes 0.5 s; it is stopped for 4 s (TTL 2) meanwhile.
"$MUTX" -v --lock-file "$T/host-a" --lock-ttl 2 --lock-url "$ETCD_URL" f -- sh -c 'read n; sleep 0.5; echo $((n + 100))' 2>"$T/stopped.err" &
stopped=$!
until_has "$T/stopped.err" "etcd lock acquired"
kill -STOP "$stopped"
"$MUTX" --lock-file "$T/host-b" --lock-ttl 2 --lock-url "$ETCD_URL" f -- "${INC[@]}" 2>"$T/next.err"
RC=$?
expect_rc 0
counter_is 7
sleep 1.5
kill -CONT "$stopped"
wait "$stopped"
RC=$? ERR=$(<"$T/stopped.err")
expect_rc 2
expect_err_has "Error: f: lost the etcd lock before the commit; nothing was changed"
counter_is 7
expect_only . f

case_ "a waiter SIGSTOPped past its TTL queues again and loses nothing"
# Its lease expires while it waits (etcd #9921: lock/lock may still answer
# 200 with a key that is gone); the holder ends meanwhile.
"$MUTX" --lock-ttl 2 --lock-url "$ETCD_URL" f -- sh -c 'read n; sleep 1; echo $((n + 1))' 2>"$T/holder2.err" &
holder2=$!
sleep 0.3
"$MUTX" -vv --lock-ttl 2 --lock-url "$ETCD_URL" f -- "${INC[@]}" 2>"$T/waiter2.err" &
waiter2=$!
until_has "$T/waiter2.err" "Waiting for the etcd lock"
kill -STOP "$waiter2"
sleep 3.5
kill -CONT "$waiter2"
wait "$holder2"; RC=$?
expect_rc 0
wait "$waiter2"; RC=$? ERR=$(<"$T/waiter2.err")
expect_rc 0
counter_is 9
expect_err_has "queueing again with a new lease"
expect_eq "$(leases)" "" "leases left"

case_ "a waiter whose etcd node is SIGSTOPped queues again on another and loses nothing"
# The waiter's node is a follower (a stopped leader would also stall the
# holder's keepalives until a new election: the leader's death is below).
leader=$(etcd_leader) || fatal "no leader"
x=$((leader % 3 + 1)) y=$(((leader + 1) % 3 + 1))
"$MUTX" --lock-ttl 2 --lock-url "etcd://${ETCD_CLIENT[leader]},${ETCD_CLIENT[y]}" f -- \
  sh -c 'read n; sleep 2; echo $((n + 1))' 2>"$T/holder3.err" &
holder3=$!
sleep 0.3
"$MUTX" -vv --lock-ttl 2 --lock-url "etcd://${ETCD_CLIENT[x]},${ETCD_CLIENT[leader]},${ETCD_CLIENT[y]}" f -- "${INC[@]}" \
  2>"$T/waiter3.err" &
waiter3=$!
until_has "$T/waiter3.err" "Waiting for the etcd lock"
kill -STOP "${ETCD_PID[x]}"
wait "$holder3"; RC=$? ERR=$(<"$T/holder3.err")
expect_rc 0
wait "$waiter3"; RC=$? ERR=$(<"$T/waiter3.err")
expect_rc 0
expect_err_has "queueing again with a new lease"
kill -CONT "${ETCD_PID[x]}"
counter_is 11
expect_only . f
sleep 1  # the stopped node catches up

# Two writers of up to N increments each, until $T/stop appears, retrying
# a write that lost its lock (exit 2): every write that exits 0 must be in
# the count.
writer() {  # name url n
  local i ok=0
  for ((i = 0; i < $3; i++)); do
    [[ -e $T/stop ]] && break
    "$MUTX" --lock-file "$T/host-$1" --lock-ttl 2 --lock-url "$2" f -- "${INC[@]}" 2>>"$T/$1.err" && ok=$((ok + 1))
  done
  echo "$ok" >"$T/$1.ok"
}

case_ "a follower and then the leader killed under two writers: no update lost"
N=$((2000 * SIZE))
rm -f "$T/stop"
echo 0 >f
writer w1 "etcd://${ETCD_CLIENT[1]},${ETCD_CLIENT[2]},${ETCD_CLIENT[3]}" "$N" &
p1=$!
writer w2 "etcd://${ETCD_CLIENT[3]},${ETCD_CLIENT[2]},${ETCD_CLIENT[1]}" "$N" &
p2=$!
sleep 0.3
leader=$(etcd_leader) || fatal "no leader"
follower=$(( leader % 3 + 1 ))
etcd_kill "$follower"
sleep 0.5
etcd_start "$follower"
sleep 0.5
leader=$(etcd_leader) || fatal "no leader after the follower's return"
kill -0 "$p1" 2>/dev/null && kill -0 "$p2" 2>/dev/null && pass || fail "the writers ended before the leader's death: raise MUTX_TEST_SIZE"
etcd_kill "$leader"
sleep 1.5  # writes across the election (about a second: --election-timeout 1000)
touch "$T/stop"
wait "$p1" "$p2"
ok=$(( $(<"$T/w1.ok") + $(<"$T/w2.ok") ))
expect_eq "$(<f)" "$ok" "the counter against the writes that exited 0"
((ok > 0)) && pass || fail "no write succeeded"
echo "note: $ok of $((2 * N)) writes committed across a follower's and the leader's death" >&2
bad=$(grep -h '^Error' "$T/w1.err" "$T/w2.err" | grep -v 'lost the etcd lock' | head -3)
expect_eq "$bad" "" "errors other than a lost lock"
etcd_start "$leader"

case_ "without a majority a write fails within a bounded time"
sleep 1
etcd_kill 1
etcd_kill 2
start=$(date +%s%N)
run --lock-url "$ETCD_URL" f -- "${INC[@]}"
expect_rc 1
expect_err_has "Error: cannot reach etcd at ${ETCD_URL#etcd://}: "
ms=$(elapsed_ms "$start")
((ms < 8000)) && pass || fail "took $ms ms"
expect_eq "$(<f)" "$ok"
expect_only . f
finish
