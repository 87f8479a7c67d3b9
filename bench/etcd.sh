#!/usr/bin/env bash
# The etcd lock (issue 21) against `etcdctl lock NAME -- sh -c ...` doing
# the same work, on a 3-node etcd cluster on loopback (tests/etcd/cluster.sh):
#  1. one locked replacement, uncontended: `mutx --lock-url` (durable, and
#     --no-sync) against etcdctl lock around `cat F >F.new && mv F.new F`
#     (not durable), with mutx's lock file alone as the floor (hyperfine,
#     interleaved rounds);
#  2. hand-off: a holder stamps t0 and lets go; how long until the
#     waiter's command runs (t1), mutx --no-sync against etcdctl lock;
#  3. 2 x N increments of a counter from two sshfs mounts of one directory
#     (root only: the mounts), both at once; the counter must end at 2N.
#
#   bench/etcd.sh [MUTX]
#
# Environment: BENCH_ETCD_RUNS (hyperfine runs per round, default 10),
# BENCH_ETCD_ROUNDS (default 3), BENCH_ETCD_HANDOFFS (default 20),
# BENCH_ETCD_INCREMENTS (N, default 100), BENCH_ETCD_INC_ROUNDS (default
# 3, the order rotating), BENCH_DIR, BENCH_OUT (default
# bench/results). Writes etcd.md there.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
MUTX=$(realpath "${1:-$repo/build/release/cli/mutx}")
[[ -x $MUTX ]] || { echo "bench/etcd.sh: no mutx binary at $MUTX" >&2; exit 1; }
export MUTX XDG_CONFIG_HOME=/nonexistent
unset MUTX_LOCK_URL
runs=${BENCH_ETCD_RUNS:-10}
rounds=${BENCH_ETCD_ROUNDS:-3}
handoffs=${BENCH_ETCD_HANDOFFS:-20}
incs=${BENCH_ETCD_INCREMENTS:-100}
inc_rounds=${BENCH_ETCD_INC_ROUNDS:-3}
out=$(mkdir -p "${BENCH_OUT:-$here/results}" && cd "${BENCH_OUT:-$here/results}" && pwd)
mkdir -p "${BENCH_DIR:-$repo/build}"
export TMPDIR=$(cd "${BENCH_DIR:-$repo/build}" && pwd)
. "$repo/tests/cli/lib.sh"
. "$repo/tests/etcd/cluster.sh"
. "$here/interleave.sh"
need_cmd hyperfine
need_cmd jq
etcd_cluster
EP=$ETCD_ENDPOINTS
mkdir w && cd w || exit 1
echo 0 >F
key=/mutx/$(printf '%s' "$T/w/F" | sha256sum | cut -d' ' -f1)

echo "== one locked replacement, $rounds rounds x $runs runs each, interleaved"
names=("mutx --lock-url F -- cat"
  "mutx --lock-url --no-sync F -- cat (not durable)"
  "etcdctl lock: cat F >F.new && mv F.new F (not durable)"
  "mutx F -- cat (the lock file alone)")
cmds=("$MUTX -q --lock-url $ETCD_URL F -- cat"
  "$MUTX -q --no-sync --lock-url $ETCD_URL F -- cat"
  "etcdctl --endpoints $EP lock $key -- sh -c 'cat F >F.new && mv F.new F'"
  "$MUTX -q F -- cat")
mkdir "$T/hf"
ETCDCTL_API=3 interleave "$T/hf" one "$rounds" "$runs" || exit 1
rows=()
read -r m0 _ _ <<<"$(stats "$T"/hf/one-r*-c0.json)"
for i in 0 1 2 3; do
  read -r m sd med <<<"$(stats "$T"/hf/one-r*-c$i.json)"
  rows+=("| ${names[i]} | $(ms "$m") ± $(ms "$sd") ms | $(ms "$med") ms | $(ratio "$m0" "$m")x |")
done
printf '%s\n' "${rows[@]}"

echo "== hand-off, $handoffs rounds each, interleaved"
# handoff HOLDER WAITER: the holder's command stamps t0 just before it ends
# (and its lock is released); the waiter's stamps t1 when it runs. us.
handoff() {
  rm -f t0 t1
  eval "$1" &
  local h=$!
  sleep 0.15
  eval "$2"
  wait "$h"
  echo $((($(cat t1) - $(cat t0)) / 1000))
}
mh=() eh=()
for ((r = 0; r < handoffs; r++)); do
  mh+=("$(handoff "\"$MUTX\" -q --no-sync --lock-url $ETCD_URL F -- sh -c 'sleep 0.3; cat; date +%s%N >t0'" \
    "\"$MUTX\" -q --no-sync --lock-url $ETCD_URL F -- sh -c 'date +%s%N >t1; cat'")")
  eh+=("$(handoff "ETCDCTL_API=3 etcdctl --endpoints $EP lock $key -- sh -c 'sleep 0.3; date +%s%N >t0'" \
    "ETCDCTL_API=3 etcdctl --endpoints $EP lock $key -- sh -c 'date +%s%N >t1'")")
done
hstats() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1; s += $1 } END { printf "%.1f ms | %.1f ms | %.1f ms", s / NR / 1000, v[int((NR + 1) / 2)] / 1000, v[int(NR * 0.9 + 0.5)] / 1000 }'; }
hmean() { printf '%s\n' "$@" | awk '{ s += $1 } END { print s / NR }'; }
h_m="| mutx --lock-url --no-sync (waiter's command runs) | $(hstats "${mh[@]}") | 1.00x |"
h_e="| etcdctl lock (waiter's command runs) | $(hstats "${eh[@]}") | $(ratio "$(hmean "${mh[@]}")" "$(hmean "${eh[@]}")")x |"
printf '%s\n%s\n' "$h_m" "$h_e"

inc_rows=()
if [[ $(id -u) -eq 0 ]] && command -v sshfs >/dev/null && [[ -e /dev/fuse ]]; then
  echo "== 2 x $incs increments across two sshfs mounts"
  two_mounts
  # race NAME CMD-PREFIX: both mounts at once, $incs each; "seconds counter"
  race() {
    echo 0 >"$T/share/counter"
    local start=$(date +%s%N) a b
    (for ((i = 0; i < incs; i++)); do eval "$2 $T/h1"; done) &
    a=$!
    (for ((i = 0; i < incs; i++)); do eval "$2 $T/h2"; done) &
    b=$!
    wait "$a" "$b"
    echo "$(awk -v n=$(($(date +%s%N) - start)) 'BEGIN { printf "%.2f", n / 1e9 }') $(<"$T/share/counter")"
  }
  m_cmd() { "$MUTX" -q --lock-url "$ETCD_URL" --lock-name counter "$1/counter" -- sh -c 'read n; echo $((n + 1))'; }
  mn_cmd() { "$MUTX" -q --no-sync --lock-url "$ETCD_URL" --lock-name counter "$1/counter" -- sh -c 'read n; echo $((n + 1))'; }
  e_cmd() {
    ETCDCTL_API=3 etcdctl --endpoints "$EP" lock /mutx-bench/counter -- \
      sh -c 'n=$(cat "$0/counter"); echo $((n + 1)) >"$0/counter.new" && mv "$0/counter.new" "$0/counter"' "$1" >/dev/null
  }
  f_cmd() { "$MUTX" -q "$1/counter" -- sh -c 'read n; echo $((n + 1))'; }
  # inc_rounds rounds, the order rotating; mean and sd of the wall times.
  variants=(m_cmd mn_cmd e_cmd f_cmd)
  declare -A times=() counts=()
  for ((r = 0; r < inc_rounds; r++)); do
    for ((k = 0; k < 4; k++)); do
      v=${variants[(k + r) % 4]}
      read -r secs count <<<"$(race "$v" "$v")"
      times[$v]+="$secs "
      counts[$v]+="$count "
    done
  done
  msd() { printf '%s\n' $1 | awk '{ v[NR] = $1; s += $1 } END { m = s / NR; for (i = 1; i <= NR; i++) q += (v[i] - m) ^ 2; printf "%.2f %.2f", m, (NR > 1 ? sqrt(q / (NR - 1)) : 0) }'; }
  read -r t_m sd_m <<<"$(msd "${times[m_cmd]}")"
  read -r t_mn sd_mn <<<"$(msd "${times[mn_cmd]}")"
  read -r t_e sd_e <<<"$(msd "${times[e_cmd]}")"
  read -r t_f sd_f <<<"$(msd "${times[f_cmd]}")"
  inc_rows=("| mutx --lock-url --lock-name counter F -- sh -c 'read n; echo \$((n+1))' | $t_m ± $sd_m s | ${counts[m_cmd]}| 1.00x |"
    "| the same, --no-sync (not durable) | $t_mn ± $sd_mn s | ${counts[mn_cmd]}| $(ratio "$t_m" "$t_mn")x |"
    "| etcdctl lock NAME -- sh -c 'n=\$(cat F); echo \$((n+1)) >F.new && mv F.new F' (not durable) | $t_e ± $sd_e s | ${counts[e_cmd]}| $(ratio "$t_m" "$t_e")x |"
    "| mutx F -- ... without --lock-url (flock is not shared between the mounts) | $t_f ± $sd_f s | ${counts[f_cmd]}| $(ratio "$t_m" "$t_f")x |")
  printf '%s\n' "${inc_rows[@]}"
  for v in m_cmd mn_cmd e_cmd; do
    for c in ${counts[$v]}; do
      [[ $c == $((2 * incs)) ]] || { echo "bench/etcd.sh: $v's counter ended at $c, not $((2 * incs))" >&2; exit 1; }
    done
  done
else
  echo "NOTE: the increments across two sshfs mounts need root, sshfs and /dev/fuse: skipped" >&2
fi

{
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "### etcd lock (3-node etcd $(etcd --version | awk 'NR == 1 { print $3 }') on loopback, $(df -PT "$T" | awk 'NR == 2 { print $2 }'))"
  echo
  echo "One locked replacement of a 2-byte file, uncontended ($rounds rounds x $runs runs, interleaved):"
  echo
  echo "| command | mean ± sd | median | mutx --lock-url / this |"
  echo "|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Hand-off, $handoffs rounds each: the holder stamps t0 as its command ends, the waiter's command stamps t1:"
  echo
  echo "| waiter | mean | median | p90 | mutx / this |"
  echo "|---|---|---|---|---|"
  printf '%s\n%s\n' "$h_m" "$h_e"
  if ((${#inc_rows[@]})); then
    echo
    echo "2 x $incs increments, one writer per sshfs mount of one directory, both at once ($inc_rounds rounds, the order rotating; the counter at the end of each):"
    echo
    echo "| writers | wall time, mean ± sd | counters | mutx --lock-url / this |"
    echo "|---|---|---|---|"
    printf '%s\n' "${inc_rows[@]}"
  fi
} >"$out/etcd.md"
echo "wrote $out/etcd.md"
cd "$T" || true
