// The lock protocol (docs/design.md, section 4).
//
//   loop:
//     lfd = openat(dfd, "NAME.lock", O_RDWR|O_CREAT|O_CLOEXEC|O_NOFOLLOW, mode)
//     flock(lfd, LOCK_EX|LOCK_NB)
//     fstat(lfd) vs fstatat(dfd, "NAME.lock", AT_SYMLINK_NOFOLLOW)
//     same dev and inode -> held; else close and loop
//   release: unlinkat(dfd, "NAME.lock") while still holding, then close
//
// Without the inode check, unlinking on release lets two processes hold
// "the" lock at once: one locks the unlinked inode, the next creates a new
// file under the name (measured: 100 writers x 50 increments lost 3,784 of
// 5,000 updates).
#pragma once

#include "mutx/error.hpp"
#include "mutx/fd.hpp"
#include "mutx/stop.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace mutx {

class lock_file {
 public:
  lock_file() = default;
  lock_file(lock_file&&) noexcept = default;
  lock_file& operator=(lock_file&& other) noexcept {
    if (this != &other) {
      release();
      dfd_ = std::exchange(other.dfd_, -1);
      name_ = std::move(other.name_);
      keep_name_ = other.keep_name_;
      on_unlink_failed_ = std::move(other.on_unlink_failed_);
      fd_ = std::move(other.fd_);
    }
    return *this;
  }
  ~lock_file() { release(); }

  enum class attempt { acquired, busy };

  // One try of the loop body above. `create` is false for housekeep, which
  // must never make a lock file. Throws mutx::error for a lock file that is a
  // symlink, a directory or not a regular file (never followed or truncated),
  // and for I/O errors. On busy, *this stays empty; with `keep_fd_on_busy`
  // the opened descriptor is handed back in `busy_fd` so a waiter can watch it.
  attempt try_acquire(int dfd, const std::string& name, mode_t mode, bool create,
                      const std::string& display, unique_fd* busy_fd = nullptr);

  bool held() const noexcept { return static_cast<bool>(fd_); }
  // Held, and the name still points at the locked inode. False when
  // someone removed or replaced the lock file while we held it: a writer
  // that then opens the name locks another inode and goes in beside us, so
  // a write must not commit (checked just before the rename).
  bool intact() const noexcept;
  // Never unlink the name on release (--keep-lock-file): for sites whose
  // other programs block in flock(1) on the same file, which would
  // otherwise hold an unlinked inode while the next mutx writer goes in.
  void keep_name(bool keep) noexcept { keep_name_ = keep; }
  int fd() const noexcept { return fd_.get(); }
  // Told the errno when release() could not unlink the name (FR-6: the
  // failure is said, not fatal). It must not throw.
  void on_unlink_failed(std::function<void(int)> f) { on_unlink_failed_ = std::move(f); }

  // Unlink the name while still holding the lock, then close. Idempotent;
  // a failed unlink is only reported through on_unlink_failed (a leftover
  // empty lock file is harmless and housekeep removes it).
  void release() noexcept;
  // Close without unlinking: the lock ends, the file stays (a test uses it
  // to leave an unheld lock file behind for housekeep).
  void close_only() noexcept { fd_.reset(); }

 private:
  // The retry on a waiter's kept descriptor (see try_acquire): busy (the
  // descriptor goes back into `busy_fd`), acquired, or nullopt when the
  // name no longer points at that inode and must be opened again.
  std::optional<attempt> retry_kept(int dfd, const std::string& name, const std::string& display,
                                    unique_fd& busy_fd);
  // Takes `fd`, locked and checked, as the held lock.
  attempt hold(int dfd, const std::string& name, unique_fd fd);

  int dfd_ = -1;
  std::string name_;
  unique_fd fd_;
  bool keep_name_ = false;
  std::function<void(int)> on_unlink_failed_;
};

// Where a target's lock file is: NAME.lock beside the real target, or the
// user's --lock-file PATH, checked: a PATH names a file (not "", "." or
// ".."), its directory exists, and it is not the target itself (or a hard
// link to it), whose rename would swap the locked inode out from under the
// holder and let the next writer in beside it.
struct lock_location {
  unique_fd own_dir;    // the --lock-file's directory
  int target_dir = -1;  // else the target's (borrowed)
  std::string name;     // the lock file's name in its directory
  std::string display;  // the path as the user knows it
  // The --lock-file's directory is append-only (chattr +a): the lock file
  // gets in and can never be removed again (an immutable one is refused).
  bool dir_append_only = false;
  int dir() const noexcept { return own_dir ? own_dir.get() : target_dir; }
};
struct target;
lock_location locate_lock(const std::optional<std::string>& lock_file, const target& t);

struct lock_wait {
  enum class policy { forever, no_wait, timeout };
  policy how = policy::forever;
  std::chrono::duration<double> timeout{0};
};

// Acquire the lock, waiting on the io_context as `wait` says. Calls
// `on_wait()` once, when it first has to wait. Throws mutx::error with kind
// locked (no-wait or timeout) or interrupted (stop requested).
//
// The waiter watches the lock file with inotify (a release closes or unlinks
// it, which wakes us at once) and also retries on a backoff timer (1 ms
// doubling to 50 ms), since a holder may also unlock without closing.
// `display` names the lock file in messages, `target` the file it guards.
boost::asio::awaitable<lock_file> acquire_lock(int dfd, std::string name, mode_t mode,
                                               std::string display, std::string target,
                                               lock_wait wait,
                                               stop_source& stop, std::function<void()> on_wait);

}  // namespace mutx
