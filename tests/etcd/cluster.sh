# The etcd suites' harness, sourced after tests/cli/lib.sh (bench/etcd.sh
# sources it too). Not a test itself (the suites glob skips it).
#
#   etcd_cluster          start a 3-node etcd on loopback (random free
#                         ports, data under $T/etcd), wait until healthy;
#                         stopped by PID at exit. Sets ETCD_URL
#                         (etcd://A,B,C), ETCD_ENDPOINTS (http://A,...),
#                         ETCD_CLIENT[1..3] (HOST:PORT), ETCD_PID[1..3]
#   etcd_kill N / etcd_start N   SIGKILL member N / start it again
#   etcd_leader           the member number (1-3) that leads now
#   etcdctl_ ARGS         etcdctl against the live members
#   two_mounts            an sshd on a loopback port (throwaway keys in $T),
#                         and two sshfs mounts of $T/share: $T/h1 and $T/h2
#                         ("two hosts": flock is not shared between them);
#                         unmounted and stopped at exit
#   free_port             a TCP port nobody listens on now
#
# Skips (exit 77, with the reason) when etcd, etcdctl, sshd or sshfs is
# missing, or not root (FUSE mounts need root here).

need_etcd() {
  need_cmd etcd
  need_cmd etcdctl
}

free_port() {
  python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
EOF
}

ETCD_PID=()
ETCD_CLIENT=()
ETCD_PEER=()
ETCD_CLUSTER=""

etcd_start() {  # N (1-3)
  local n=$1
  (
    export ETCD_UNSUPPORTED_ARCH=${ETCD_UNSUPPORTED_ARCH:-}
    exec etcd --name "m$n" --data-dir "$T/etcd/m$n" \
      --listen-client-urls "http://${ETCD_CLIENT[n]}" --advertise-client-urls "http://${ETCD_CLIENT[n]}" \
      --listen-peer-urls "http://${ETCD_PEER[n]}" --initial-advertise-peer-urls "http://${ETCD_PEER[n]}" \
      --initial-cluster "$ETCD_CLUSTER" --initial-cluster-state new --initial-cluster-token "mutx-$$" \
      --heartbeat-interval 100 --election-timeout 1000 --log-level error \
      >>"$T/etcd/m$n.log" 2>&1
  ) &
  ETCD_PID[n]=$!
}

etcd_kill() {  # N
  local n=$1
  [[ -n ${ETCD_PID[n]:-} ]] || return 0
  kill -KILL "${ETCD_PID[n]}" 2>/dev/null
  wait "${ETCD_PID[n]}" 2>/dev/null
  ETCD_PID[n]=""
}

etcd_stop_all() {
  local n
  for n in 1 2 3; do
    [[ -n ${ETCD_PID[n]:-} ]] && kill -CONT "${ETCD_PID[n]}" 2>/dev/null
    etcd_kill "$n"
  done
}

etcdctl_() {
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --dial-timeout 2s --command-timeout 5s "$@"
}

etcd_cluster() {
  need_etcd
  mkdir -p "$T/etcd"
  local n ports=()
  for n in 1 2 3 4 5 6; do ports+=("$(free_port)"); done
  ETCD_CLUSTER=""
  for n in 1 2 3; do
    ETCD_CLIENT[n]=127.0.0.1:${ports[n - 1]}
    ETCD_PEER[n]=127.0.0.1:${ports[n + 2]}
    ETCD_CLUSTER+="${ETCD_CLUSTER:+,}m$n=http://${ETCD_PEER[n]}"
  done
  ETCD_URL="etcd://${ETCD_CLIENT[1]},${ETCD_CLIENT[2]},${ETCD_CLIENT[3]}"
  ETCD_ENDPOINTS="http://${ETCD_CLIENT[1]},http://${ETCD_CLIENT[2]},http://${ETCD_CLIENT[3]}"
  on_exit etcd_stop_all
  for n in 1 2 3; do etcd_start "$n"; done
  local i
  for ((i = 0; i < 100; i++)); do
    etcdctl_ endpoint health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  skip "the 3-node etcd cluster did not become healthy in 10 s: $(tail -3 "$T/etcd/m1.log")"
}

etcd_leader() {
  local n
  for n in 1 2 3; do
    [[ -n ${ETCD_PID[n]:-} ]] || continue
    ETCDCTL_API=3 etcdctl --endpoints "http://${ETCD_CLIENT[n]}" endpoint status -w json 2>/dev/null |
      python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["Status"]; sys.exit(0 if s["header"]["member_id"]==s["leader"] else 1)' &&
      { echo "$n"; return 0; }
  done
  return 1
}

# etcd_and_two_mounts: what the suites across "hosts" need (skipping
# without it): the cluster and the two mounts, and no MUTX_LOCK_URL of the
# caller's.
etcd_and_two_mounts() {
  unset MUTX_LOCK_URL
  need_etcd
  two_mounts
  etcd_cluster
}

two_mounts() {
  need_root "the sshfs mounts need root here"
  need_cmd sshfs
  [[ -x /usr/sbin/sshd ]] || skip "needs sshd (openssh-server)"
  need_cmd ssh-keygen
  [[ -e /dev/fuse ]] || skip "no /dev/fuse"
  mkdir -p "$T/ssh" "$T/share" "$T/h1" "$T/h2" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host_key" || skip "ssh-keygen failed"
  ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/client_key" || skip "ssh-keygen failed"
  cp "$T/ssh/client_key.pub" "$T/ssh/authorized_keys"
  chmod 600 "$T/ssh/authorized_keys"
  SSH_PORT=$(free_port)
  cat >"$T/ssh/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $T/ssh/host_key
AuthorizedKeysFile $T/ssh/authorized_keys
PidFile $T/ssh/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
EOF
  /usr/sbin/sshd -f "$T/ssh/sshd_config" -E "$T/ssh/sshd.log" || skip "cannot start sshd: $(tail -2 "$T/ssh/sshd.log")"
  local i
  for ((i = 0; i < 50; i++)); do [[ -s $T/ssh/sshd.pid ]] && break; sleep 0.05; done
  SSHD_PID=$(cat "$T/ssh/sshd.pid")
  on_exit "kill $SSHD_PID"
  local h
  for h in h1 h2; do
    sshfs -o "IdentityFile=$T/ssh/client_key,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,port=$SSH_PORT,LogLevel=ERROR" \
      "root@127.0.0.1:$T/share" "$T/$h" 2>"$T/ssh/$h.err" || skip "cannot mount sshfs: $(cat "$T/ssh/$h.err")"
    on_exit "fusermount -u '$T/$h' || umount -l '$T/$h'"
  done
}
