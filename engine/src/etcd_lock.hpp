// A lock held in an etcd v3 cluster, for writers on several hosts that share
// a filesystem where flock(2) is not shared (FUSE mounts such as sshfs, NFS
// without a working lock manager, CephFS, GlusterFS). docs/design.md,
// section 4a.
//
// The client speaks HTTP/1.1 + JSON to etcd's gateway (/v3/...) on the
// write's own io_context, one connection per request:
//
//   attempt:  lease/grant {TTL}                  (a new lease every attempt)
//             keepalive loop: lease/keepalive every TTL/3, failing over
//               between endpoints; deadline = send time of the last
//               answered keepalive + TTL - margin
//             kv/txn: put KEY/<lease hex> if absent; the oldest key under
//               KEY/ (by create_revision) is the holder
//             busy: --no-wait -> revoke, exit 2; else wait in line as
//               etcd's own Mutex does (etcdctl lock queues in the same
//               line): the newest key created before ours, watched from
//               now until it is deleted (not lock/lock: its watch starts
//               at an old revision and waits for etcd's 100 ms sync of
//               unsynced watchers), until none is left
//             kv/range (linearizable) on our key: count 1, our lease
//               (a lease that expired while waiting took the key with it)
//   any stall or error while waiting: revoke, grant a new lease, queue again
//   confirm (before the rename): deadline not passed, a fresh keepalive
//             answered, a linearizable range shows our key with the same
//             create_revision and lease
//   release:  lease/revoke (never lock/unlock, which deletes by name)
//
// KEY = PREFIX + "/" + hex SHA-256 of the lock name: names never nest.
// The key's create_revision is the fencing token.
#pragma once

#include "mutx/lock.hpp"
#include "mutx/stop.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mutx::detail {

struct etcd_endpoint {
  std::string host;
  std::string port;
};

struct etcd_url {
  std::vector<etcd_endpoint> endpoints;
  std::string prefix = "/mutx";
  std::string hosts;  // "HOST:PORT,HOST:PORT", for messages
};

// etcd://HOST:PORT[,HOST:PORT...][/PREFIX]. Throws mutx::error (exit 1).
etcd_url parse_etcd_url(const std::string& url);

// Lowercase hex SHA-256 of `data` (OpenSSL libcrypto).
std::string sha256_hex(const std::string& data);

// Whether `ttl` seconds is a lease length etcd can keep: 2 to 86400 whole seconds.
void check_etcd_ttl(long ttl);

struct etcd_lock_settings {
  etcd_url url;
  std::string name;  // what is hashed into the key
  long ttl = 10;     // seconds
  lock_wait wait;
  std::string target;  // OUTPUT as the user knows it, for messages
};

struct etcd_state;

class etcd_lock {
 public:
  etcd_lock() = default;
  etcd_lock(etcd_lock&&) noexcept = default;
  etcd_lock& operator=(etcd_lock&&) noexcept;
  // Revokes the lease (on the loop, bounded: a second or so) unless released.
  ~etcd_lock();

  // Acquire as `s.wait` says; `on_wait` once when it first has to wait,
  // `on_debug` for each lease granted. Throws mutx::error: locked (busy,
  // timeout), interrupted (stop), io ("cannot reach etcd at ...").
  static boost::asio::awaitable<etcd_lock> acquire(etcd_lock_settings s, stop_source& stop,
                                                   std::function<void()> on_wait,
                                                   std::function<void(const std::string&)> on_debug);

  // Just before the commit: the deadline has not passed, a keepalive sent
  // now is answered, and a linearizable range shows our key with its
  // create_revision and lease. Throws mutx::error (locked, etcd_lock_lost)
  // naming `display` when it cannot prove the lock is still ours.
  boost::asio::awaitable<void> confirm(const std::string& display, stop_source& stop);
  // The last check, with no co_await after it: the deadline has not passed.
  void check_deadline(const std::string& display) const;

  bool held() const noexcept { return static_cast<bool>(st_); }
  std::int64_t fence() const noexcept;     // the key's create_revision
  const std::string& key() const noexcept;  // the key in etcd
  std::string lease_hex() const;
  std::int64_t lease() const noexcept;  // the lease held, 0 when none

 private:
  std::shared_ptr<etcd_state> st_;
};

// Whether etcd still has lease `id` (housekeep --lock-url, for a temp named
// after a writer's lease): lease/timetolive, which a follower forwards to
// the leader, and the leader answers after applying what is committed.
// False only when etcd says the lease is gone (expired, revoked, never
// granted); nullopt, with the reason in `why`, when no endpoint answered
// within a few seconds or the answer is not one. Runs an io_context of its
// own: a blocking call.
std::optional<bool> etcd_lease_alive(const etcd_url& url, std::int64_t id, std::string& why);

// The error for a lock that can no longer be proven ours before the commit.
[[noreturn]] void lost_etcd_lock(const std::string& display, const std::string& why);

}  // namespace mutx::detail
