#include "mutx/tree_staging.hpp"

#include "mutx/error.hpp"
#include "mutx/inode.hpp"
#include "mutx/names.hpp"
#include "mutx/staging.hpp"
#include "mutx/target.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <iterator>
#include <memory>
#include <system_error>
#include <thread>

namespace mutx {

namespace {

constexpr int random_attempts = 16;
std::string candidate_name(std::string_view target, int attempt) {
  return attempt < temp_slots ? tree_slot_name(target, attempt) : random_tree_name(target);
}

std::string dir_name(const std::string& display) { return display.empty() ? "." : display; }

struct child {
  std::string name;
  unsigned char type;
};

// The names in directory `fd` (read through a duplicate, so `fd` keeps its
// offset for nobody: it is only used for *at calls).
bool list(int fd, std::vector<child>& out) {
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return false;
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return false;
  }
  ::rewinddir(d);
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") out.push_back({std::string(n), e->d_type});
  }
  const bool ok = errno == 0;
  ::closedir(d);
  return ok;
}

void note(removed_tree& r, int err) {
  if (!r.error) r.error = err;
}

// A directory open as `fd` (its stat `st`) and the mount it lies on.
struct place {
  int fd;
  const struct stat& st;
  std::uint64_t mount;
};

// Whether directory `sub` (`sst`), opened as `name` in `parent`, lies on
// another mount (target.hpp's crosses_mount).
bool crosses_mount(const place& parent, const std::string& name, int sub, const struct stat& sst) {
  return mutx::crosses_mount(parent.fd, parent.st.st_dev, parent.mount, name, sub, sst.st_dev);
}

void keep_mount(removed_tree& r, const std::string& path) {
  note(r, EXDEV);
  if (r.mounts.size() < removed_tree::mounts_listed) r.mounts.push_back(path);
  ++r.mounts_kept;
}

std::string below(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "/" + name;
}

// Unlink `files` in directory `fd`; the names that turn out to be
// directories (EISDIR, or EPERM on some filesystems) go to `dirs`, files
// bind-mounted over a name (EBUSY) to `mounted`. Big directories are
// shared among a few threads: an unlink of a synced file can wait on the
// filesystem (about 1.5 ms each on ext4 mounted with discard), and such
// waits overlap (bench/tree.sh, replacing a tree).
constexpr std::size_t files_per_thread = 64;
constexpr std::size_t max_unlink_threads = 8;

struct unlink_share {
  std::uint64_t entries = 0;
  int error = 0;
  std::vector<std::string> dirs;
  std::vector<std::string> mounted;
};

void unlink_some(int fd, const std::vector<child>& files, std::atomic<std::size_t>& next, unlink_share& out) {
  for (std::size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < files.size();) {
    const std::string& name = files[i].name;
    if (::unlinkat(fd, name.c_str(), 0) == 0) {
      ++out.entries;
    } else if (errno == EISDIR || errno == EPERM) {
      out.dirs.push_back(name);
    } else if (errno == EBUSY) {
      out.mounted.push_back(name);
    } else if (errno != ENOENT && !out.error) {
      out.error = errno;
    }
  }
}

void unlink_files(int fd, const std::vector<child>& files, const std::string& prefix, removed_tree& r,
                  std::vector<std::string>& dirs) {
  const std::size_t wanted = std::min(max_unlink_threads, files.size() / files_per_thread);
  std::vector<unlink_share> shares(std::max<std::size_t>(wanted, 1));
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  if (wanted > 1) {
    // The helpers take no signals: they are the event loop's.
    sigset_t all, saved;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &saved);
    try {
      for (std::size_t k = 1; k < wanted; ++k)
        threads.emplace_back(unlink_some, fd, std::cref(files), std::ref(next), std::ref(shares[k]));
    } catch (const std::system_error&) {
      // No thread: this one does the rest.
    }
    ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  }
  unlink_some(fd, files, next, shares[0]);
  for (std::thread& t : threads) t.join();
  for (unlink_share& sh : shares) {
    r.entries += sh.entries;
    if (sh.error) note(r, sh.error);
    for (const std::string& name : sh.mounted) keep_mount(r, below(prefix, name));
    dirs.insert(dirs.end(), std::make_move_iterator(sh.dirs.begin()), std::make_move_iterator(sh.dirs.end()));
  }
}

// Empty directory `at`, depth first; `prefix` is its path below the top.
void empty_directory(const place& at, const std::string& prefix, removed_tree& r) {
  const int fd = at.fd;
  const struct stat& st = at.st;
  // A directory the builder made read-only (an archive's 0555) must be
  // writable and searchable by its owner to be emptied.
  if ((st.st_mode & 0700) != 0700) ::fchmod(fd, (st.st_mode & 07777) | 0700);
  std::vector<child> children;
  if (!list(fd, children)) return note(r, errno);
  std::vector<std::string> dirs;
  std::vector<child> files;
  for (child& c : children) {
    if (c.type == DT_DIR) dirs.push_back(std::move(c.name));
    else files.push_back(std::move(c));
  }
  unlink_files(fd, files, prefix, r, dirs);
  for (const std::string& name : dirs) {
    // A directory: unlink gives EISDIR (EPERM on some filesystems).
    unique_fd sub(::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat sst;
    if (!sub || ::fstat(sub.get(), &sst) != 0) {
      if (errno != ENOENT) note(r, errno);
      continue;
    }
    // Never into another mount: another filesystem, or a bind mount of
    // this one, whose files are not the tree's.
    if (crosses_mount(at, name, sub.get(), sst)) {
      keep_mount(r, below(prefix, name));
      continue;
    }
    empty_directory(place{sub.get(), sst, at.mount}, below(prefix, name), r);
    sub.reset();
    if (::unlinkat(fd, name.c_str(), AT_REMOVEDIR) == 0) ++r.entries;
    else if (errno != ENOENT) note(r, errno);
  }
}

}  // namespace

tree_probe claim_stale_tree(int dfd, const std::string& name, unique_fd& locked, struct stat& st) noexcept {
  locked.reset();
  if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? tree_probe::gone : tree_probe::foreign;
  if (!S_ISDIR(st.st_mode)) return tree_probe::foreign;
  unique_fd fd(::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return errno == ENOENT ? tree_probe::gone : tree_probe::foreign;
  struct stat opened;
  if (::fstat(fd.get(), &opened) != 0 || !S_ISDIR(opened.st_mode) || !same_inode(opened, st))
    return tree_probe::foreign;
  // A mount point (a bind mount of this filesystem too) is not ours to empty.
  struct stat parent;
  if (::fstat(dfd, &parent) != 0 || crosses_mount(place{dfd, parent, mount_id(dfd)}, name, fd.get(), opened))
    return tree_probe::foreign;
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) break;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? tree_probe::live : tree_probe::foreign;
  }
  if (!name_is(dfd, name, opened)) return tree_probe::gone;
  st = opened;
  locked = std::move(fd);
  return tree_probe::stale;
}

removed_tree remove_tree(int dfd, const std::string& name, int top) noexcept {
  removed_tree r;
  struct stat st;
  if (::fstat(top, &st) != 0) {
    note(r, errno);
    return r;
  }
  try {
    struct stat parent;
    // The top itself a mount point: nothing of it is ours.
    if (::fstat(dfd, &parent) == 0 && crosses_mount(place{dfd, parent, mount_id(dfd)}, name, top, st)) {
      keep_mount(r, ".");
      return r;
    }
    empty_directory(place{top, st, mount_id(top)}, "", r);
  } catch (const std::bad_alloc&) {
    note(r, ENOMEM);
  }
  if (!name_is(dfd, name, st)) return r;
  if (::unlinkat(dfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) note(r, errno);
  return r;
}

std::string kept_mounts(const removed_tree& r, const std::string& top) {
  if (r.mounts.empty()) return {};
  std::string text;
  for (const std::string& m : r.mounts) {
    if (!text.empty()) text += ", ";
    text += m == "." ? top : top + "/" + m;
  }
  if (r.mounts_kept > r.mounts.size()) text += " and " + std::to_string(r.mounts_kept - r.mounts.size()) + " more";
  return (r.mounts_kept == 1 ? "the mount point " : "the mount points ") + text +
         " kept: never entered, their files are not the tree's";
}

std::vector<std::string> sweep_stale_trees(int dfd, std::string_view target) {
  std::vector<std::string> removed;
  for (int slot = 0; slot < temp_slots; ++slot) {
    std::string name = tree_slot_name(target, slot);
    unique_fd locked;
    struct stat st;
    if (claim_stale_tree(dfd, name, locked, st) != tree_probe::stale) continue;
    if (remove_tree(dfd, name, locked.get()).error == 0) removed.push_back(std::move(name));
  }
  return removed;
}

void check_tree_name_fits(int dfd, const std::string& name, const std::string& display) {
  const long name_max = ::fpathconf(dfd, _PC_NAME_MAX);
  const long extra = static_cast<long>(tree_name_overhead());
  if (name_max <= 0 || static_cast<long>(name.size()) + extra <= name_max) return;
  throw error(errno_code(ENAMETOOLONG), "", display)
      .with_hint("mutx builds the new tree as .NAME.mutx-tree-XXXXXXXXXXXX beside it, and this directory takes names "
                 "of at most " + std::to_string(name_max) + " bytes: NAME can have " +
                 std::to_string(std::max(0L, name_max - extra)) + " at most.");
}

staged_tree::staged_tree(int dfd, std::string name, std::string display)
    : dfd_(dfd), name_(std::move(name)), display_(std::move(display)) {
  for (int attempt = 0; attempt < temp_slots + random_attempts; ++attempt) {
    std::string candidate = candidate_name(name_, attempt);
    if (::mkdirat(dfd_, candidate.c_str(), 0700) != 0) {
      if (errno != EEXIST) throw_errno("cannot create the staged tree in", dir_name(display_));
      continue;
    }
    unique_fd fd(::openat(dfd_, candidate.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    // A sweeper may have found the name in the instant before our flock:
    // it then holds the directory exclusively and removes it; move on.
    struct stat st;
    if (fd && claim_inode(fd.get()) && ::fstat(fd.get(), &st) == 0 && name_is(dfd_, candidate, st)) {
      fd_ = std::move(fd);
      staged_ = std::move(candidate);
      return;
    }
  }
  throw_errno("cannot create the staged tree in", dir_name(display_), EEXIST);
}

staged_tree::~staged_tree() {
  if (!published_ && fd_) remove_tree(dfd_, staged_, fd_.get());
}

}  // namespace mutx
