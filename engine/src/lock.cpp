#include "mutx/lock.hpp"

#include "mutx/inode.hpp"
#include "mutx/names.hpp"
#include "mutx/staging.hpp"
#include "mutx/target.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <unistd.h>

namespace mutx {

namespace asio = boost::asio;

namespace {

// The end of the hints for a lock file's directory that refuses it; the
// command line names its flag in place of the first words (report.cpp).
constexpr const char* choose_lock_elsewhere =
    "; choose a lock file in a directory you may write (the same one for every writer of the file).";

std::string dir_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

[[noreturn]] void refuse_lock(const std::string& display, const char* what) {
  throw error(failure_kind::io, "lock file " + display + " is " + what + "; refusing to use it",
              "Remove it or choose another lock file.")
      .with_reason(failure_reason::lock_file_unusable);
}

void check_lock_stat(const struct stat& st, const std::string& display) {
  if (S_ISLNK(st.st_mode)) refuse_lock(display, "a symbolic link");
  if (S_ISDIR(st.st_mode)) refuse_lock(display, "a directory");
  if (!S_ISREG(st.st_mode)) refuse_lock(display, "not a regular file");
}

// EACCES even read-only: say whose file it is, or that the directory
// refuses new files, and what to do about it. A default lock file's caller
// (job_steps::take_lock) words the second for OUTPUT's directory.
[[noreturn]] void unopenable_lock(int dfd, const std::string& name, const std::string& display) {
  struct stat st;
  if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw error(errno_code(EACCES), "", display)
        .with_hint("The lock file belongs to uid " + std::to_string(st.st_uid) + " with mode " + mode +
                   ", which you may not open. If no writer uses it, its owner or root can remove it.")
        .with_reason(failure_reason::lock_file_unreadable);
  }
  throw error(errno_code(EACCES), "", display)
      .with_hint("You may not create files in " + dir_of(display) + ", the lock file's directory" +
                 choose_lock_elsewhere)
      .with_reason(failure_reason::lock_dir_unwritable);
}

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

namespace {

// The inode check: the name must still point at the inode `fd` refers to. A
// previous holder may have unlinked it (and someone may have created a new
// one) between our open and our flock.
bool name_points_at(int dfd, const std::string& name, int fd) { return name_is_fd(dfd, name, fd); }

// The inotify instance a waiter borrows: one per thread, kept open for the
// thread's life. Closing an inotify descriptor that has had watches waits
// for an SRCU grace period in the kernel (fsnotify_destroy_group): measured
// here at 5-20 ms, spent between "woken: the lock is free" and "acquire_lock
// returns" on every hand-off, which made the median hand-off 15 ms against
// 21 us for a blocking flock. A second waiter on the same thread at the same
// time gets a private instance (and pays that close).
struct inotify_lease {
  int fd = -1;
  int wd = -1;
  bool owned = false;
  inotify_lease() {
    thread_local int shared = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    thread_local bool busy = false;
    busy_flag = &busy;
    if (shared >= 0 && !busy) {
      busy = true;
      fd = shared;
      drain();  // IN_IGNORED and late events of the previous waiter
    } else {
      fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      owned = true;
    }
  }
  ~inotify_lease() {
    if (fd < 0) return;
    if (owned) {
      ::close(fd);
      return;
    }
    if (wd >= 0) ::inotify_rm_watch(fd, wd);
    *busy_flag = false;
  }
  inotify_lease(const inotify_lease&) = delete;
  inotify_lease& operator=(const inotify_lease&) = delete;
  void drain() const {
    char buf[4096];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
  }
  bool* busy_flag = nullptr;
};

// Opens the lock file, creating it where `create` allows. Never follows a
// symlink, and looks before opening a name that exists; the caller checks
// what it opened all the same (fstat), since the name may change between.
unique_fd open_lock(int dfd, const std::string& name, mode_t mode, bool create, const std::string& display,
                    int attempts = 8) {
  const int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
  // Usually the name is free (the last holder unlinked it): a file we
  // create ourselves needs no look first. Saves the fstatat below, 2.5 of
  // the ~20 us an uncontended acquire+release costs on ext4.
  unique_fd lfd;
  if (create) {
    lfd.reset(::openat(dfd, name.c_str(), flags | O_CREAT | O_EXCL, mode));
    if (!lfd && errno == EACCES) unopenable_lock(dfd, name, display);
    if (!lfd && errno == EROFS) throw_error(errno_code(EROFS), "", display);  // as EACCES: PRD 7.2's form
    if (!lfd && errno != EEXIST && !created_elsewhere(dfd, name)) throw_errno("cannot open lock file", display);
  }
  if (!lfd) {
    // Look before opening: opening a device or FIFO can have side effects.
    struct stat pre;
    if (::fstatat(dfd, name.c_str(), &pre, AT_SYMLINK_NOFOLLOW) == 0) {
      check_lock_stat(pre, display);
    } else if (errno != ENOENT || !create) {
      throw_errno("cannot inspect lock file", display);
    }
    lfd.reset(::openat(dfd, name.c_str(), flags | (create ? O_CREAT : 0), mode));
    // Another user's lock file (0644 after their umask): flock needs no
    // write access, so a read-only descriptor takes turns with its owner
    // all the same, and a stale one of theirs does not lock us out.
    if (!lfd && errno == EACCES) {
      lfd.reset(::openat(dfd, name.c_str(), (flags & ~O_ACCMODE) | O_RDONLY));
      if (!lfd) errno = EACCES;
    }
  }
  if (!lfd) {
    int err = errno;
    // The holder on another host unlinked it between our two opens: a FUSE
    // or network filesystem that still had the name cached sends a plain
    // open, which the server answers ENOENT (sshfs: 1 of 200 increments
    // across two mounts failed so). The name is free now: create it again.
    if (err == ENOENT && create && attempts > 1) return open_lock(dfd, name, mode, create, display, attempts - 1);
    if (err == ELOOP) refuse_lock(display, "a symbolic link");
    if (err == EISDIR) refuse_lock(display, "a directory");
    if (err == EACCES) unopenable_lock(dfd, name, display);
    if (err == EROFS) throw_error(errno_code(EROFS), "", display);
    throw_errno("cannot open lock file", display, err);
  }
  return lfd;
}

// inotify on the inode of the lock file a waiter found busy: a holder that
// closes or unlinks it wakes us within microseconds, about as fast as the
// kernel hands a blocked flock(1) its lock. The watch moves when a retry
// opened a different inode (the holder released and unlinked the last).
// Where inotify is unavailable the waiter's timer alone works.
class inode_watch {
 public:
  explicit inode_watch(const asio::any_io_executor& ex) : desc_(ex) {
    if (lease_.fd >= 0) desc_.assign(lease_.fd);
  }
  // Hand the descriptor back unclosed on every way out (see inotify_lease).
  ~inode_watch() {
    if (desc_.is_open()) desc_.release();
  }
  inode_watch(const inode_watch&) = delete;
  inode_watch& operator=(const inode_watch&) = delete;

  // Watch the inode `fd` refers to, unless it is the one watched already.
  void follow(const unique_fd& fd) {
    struct stat st;
    if (!desc_.is_open() || !fd || ::fstat(fd.get(), &st) != 0) return;
    if (lease_.wd >= 0 && st.st_dev == dev_ && st.st_ino == ino_) return;
    if (lease_.wd >= 0) ::inotify_rm_watch(desc_.native_handle(), lease_.wd);
    lease_.wd = -1;
    std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
    lease_.wd = ::inotify_add_watch(desc_.native_handle(), proc.c_str(),
                                    IN_CLOSE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }

  // Until `timer` expires or, while an inode is watched, an event on it.
  asio::awaitable<void> wait(asio::steady_timer& timer) {
    using namespace asio::experimental::awaitable_operators;
    constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
    if (lease_.wd < 0) {
      co_await timer.async_wait(use_tuple);
      co_return;
    }
    co_await (timer.async_wait(use_tuple) || desc_.async_wait(asio::posix::descriptor_base::wait_read, use_tuple));
    // Drain the events; which one it was does not matter.
    lease_.drain();
  }

  void cancel() {
    if (desc_.is_open()) desc_.cancel();
  }

 private:
  inotify_lease lease_;  // declared first: outlives desc_
  asio::posix::stream_descriptor desc_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace

lock_file::attempt lock_file::try_acquire(int dfd, const std::string& name, mode_t mode, bool create,
                                          const std::string& display, unique_fd* busy_fd) {
  release();
  // A waiter keeps the descriptor of its last busy attempt and retries the
  // flock on it while the name still points at that inode: no open/close per
  // retry, so waiters do not wake each other through inotify (each close is an
  // IN_CLOSE event for every watcher).
  if (busy_fd && *busy_fd) {
    if (std::optional<attempt> a = retry_kept(dfd, name, display, *busy_fd)) return *a;
    // The name moved on (released and unlinked, or replaced): open it again.
  }
  for (;;) {
    unique_fd lfd = open_lock(dfd, name, mode, create, display);
    struct stat held;
    if (::fstat(lfd.get(), &held) != 0) throw_errno("cannot inspect lock file", display);
    check_lock_stat(held, display);

    if (::flock(lfd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK || errno == EINTR) {
        if (busy_fd) *busy_fd = std::move(lfd);
        return attempt::busy;
      }
      throw_errno("cannot lock", display);
    }
    if (name_is(dfd, name, held)) return hold(dfd, name, std::move(lfd));
    // Stale: not a wait, just go round the loop again at once.
  }
}

std::optional<lock_file::attempt> lock_file::retry_kept(int dfd, const std::string& name,
                                                        const std::string& display, unique_fd& busy_fd) {
  unique_fd kept = std::move(busy_fd);
  if (!name_points_at(dfd, name, kept.get())) return std::nullopt;
  if (::flock(kept.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) throw_errno("cannot lock", display);
    busy_fd = std::move(kept);
    return attempt::busy;
  }
  // Unlinked or replaced between the check and the flock: start afresh.
  if (!name_points_at(dfd, name, kept.get())) return std::nullopt;
  return hold(dfd, name, std::move(kept));
}

lock_file::attempt lock_file::hold(int dfd, const std::string& name, unique_fd fd) {
  dfd_ = dfd;
  name_ = name;
  fd_ = std::move(fd);
  return attempt::acquired;
}

bool lock_file::intact() const noexcept { return fd_ && name_points_at(dfd_, name_, fd_.get()); }

void lock_file::release() noexcept {
  if (!fd_) return;
  if (keep_name_) {
    fd_.reset();
    return;
  }
  // Unlink only our own empty lock file. A --lock-file naming a file with
  // data (even the target itself, which the commit has just replaced under
  // that name) must never be deleted: the crash suite found `mutx
  // --lock-file t t` losing t, and a non-empty --lock-file being removed.
  struct stat held;
  if (::fstat(fd_.get(), &held) == 0 && S_ISREG(held.st_mode) && held.st_size == 0 && name_is(dfd_, name_, held) &&
      ::unlinkat(dfd_, name_.c_str(), 0) != 0 && errno != ENOENT && on_unlink_failed_) {
    const int err = errno;
    try {
      on_unlink_failed_(err);
    } catch (...) {
    }
  }
  fd_.reset();
}

lock_location locate_lock(const std::optional<std::string>& lock_file, const target& t) {
  lock_location at;
  at.target_dir = t.dir.get();
  at.name = lock_name(t.name);
  at.display = join_path(t.dir_display, at.name);
  if (!lock_file) return at;
  const std::string& p = *lock_file;
  const std::size_t slash = p.rfind('/');
  at.name = slash == std::string::npos ? p : p.substr(slash + 1);
  if (at.name.empty() || at.name == "." || at.name == "..")
    throw error(failure_kind::io, "invalid lock file path '" + p + "'", "Name a file, not a directory.");
  const std::string dir = slash == std::string::npos ? "" : (slash == 0 ? "/" : p.substr(0, slash));
  try {
    at.own_dir = open_directory(dir, false, false);
  } catch (const error& e) {
    // open_directory's hint names --parents, which creates OUTPUT's
    // directories, not the lock file's.
    if (e.code() == errno_code(EACCES) || e.code() == errno_code(EPERM))
      throw error(e.code(), "cannot open the directory of lock file", p)
          .with_hint("You may not open " + dir_of(p) + ", the lock file's directory" + choose_lock_elsewhere)
          .with_reason(failure_reason::lock_dir_unwritable);
    if (e.code() == errno_code(ENOENT) || e.code() == errno_code(ENOTDIR))
      throw error(e.code(), "cannot open the directory of lock file", p)
          .with_hint("The lock file's directory must exist.")
          .with_reason(failure_reason::lock_dir_missing);
    throw error(e.code(), "cannot open the directory of lock file", p)
        .with_hint("You may not reach " + dir_of(p) + ", the lock file's directory" + choose_lock_elsewhere)
        .with_reason(failure_reason::lock_dir_unwritable);
  }
  // An immutable directory takes no lock file; an append-only one takes
  // it and never lets it go (take_lock warns).
  const auto [append_only, immutable] = append_immutable_flags(at.dir());
  if (immutable) {
    const std::string shown = dir.empty() ? "." : dir;
    throw error(failure_kind::io,
                "cannot use lock file " + p + ": its directory " + shown +
                    " is immutable (chattr +i): no file in it can be created",
                "Root can remove the flag with 'chattr -i " + shown + "' ('lsattr -d " + shown + "' shows it)" +
                    choose_lock_elsewhere)
        .with_reason(failure_reason::lock_dir_unwritable);
  }
  at.dir_append_only = append_only;
  at.display = p;
  struct stat ld, td, ls;
  const bool same_dir = ::fstat(at.dir(), &ld) == 0 && ::fstat(t.dir.get(), &td) == 0 && same_inode(ld, td);
  // A hard link to the target has two links. Requiring that keeps a lock
  // file that merely reuses the inode number of a target another writer has
  // just replaced (t.existing is from before the lock) from being taken for
  // the target: seen under load in concurrent_rmw.
  const bool same_file = t.existing && ::fstatat(at.dir(), at.name.c_str(), &ls, AT_SYMLINK_NOFOLLOW) == 0 &&
                         ls.st_nlink > 1 && same_inode(ls, *t.existing);
  if ((same_dir && at.name == t.name) || same_file)
    throw error(failure_kind::io, "lock file " + p + " is the file being written",
                "Choose another lock file, or use the default, " + lock_name(t.name) + ".")
        .with_reason(failure_reason::lock_file_is_target);
  return at;
}

asio::awaitable<lock_file> acquire_lock(int dfd, std::string name, mode_t mode, std::string display,
                                        std::string target, lock_wait wait, stop_source& stop,
                                        std::function<void()> on_wait) {
  using clock = std::chrono::steady_clock;

  auto ex = co_await asio::this_coro::executor;
  lock_file lock;
  unique_fd watched;
  if (lock.try_acquire(dfd, name, mode, true, display, &watched) == lock_file::attempt::acquired)
    co_return lock;

  auto locked_error = [&](std::string why, failure_reason reason) {
    return error(failure_kind::locked, why, "The lock file is " + display + "; see who holds it with: fuser -v " + display)
        .with_reason(reason);
  };
  // --timeout 0 is --no-wait: no waiting line for a wait that cannot happen.
  if (wait.how == lock_wait::policy::no_wait ||
      (wait.how == lock_wait::policy::timeout && wait.timeout.count() <= 0))
    throw locked_error(target + ": File locked by another process", failure_reason::lock_busy);
  if (stop.stop_requested()) throw error(failure_kind::interrupted, "Interrupted");

  const auto start = clock::now();
  const auto deadline = wait.how == lock_wait::policy::timeout
                            ? start + std::chrono::duration_cast<clock::duration>(wait.timeout)
                            : clock::time_point::max();
  if (on_wait) on_wait();

  inode_watch watch(ex);
  asio::steady_timer timer(ex);
  auto cancel_all = stop.on_stop([&] {
    timer.cancel();
    watch.cancel();
  });

  auto backoff = std::chrono::milliseconds(1);
  for (;;) {
    watch.follow(watched);
    auto now = clock::now();
    if (now >= deadline)
      throw locked_error(target + ": Lock acquisition timeout after " + format_seconds(wait.timeout.count()) + "s",
                         failure_reason::lock_timeout);
    timer.expires_at(std::min(deadline, now + backoff));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
    co_await watch.wait(timer);
    if (stop.stop_requested()) throw error(failure_kind::interrupted, "Interrupted");
    if (lock.try_acquire(dfd, name, mode, true, display, &watched) == lock_file::attempt::acquired) {
      co_return lock;
    }
  }
}

}  // namespace mutx
