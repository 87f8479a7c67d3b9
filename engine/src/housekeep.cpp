#include "mutx/housekeep.hpp"

#include "mutx/fd.hpp"
#include "mutx/lock.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <limits>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mutx {

namespace {

constexpr std::int64_t max_seconds = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t hour = 3600;
constexpr std::int64_t day = 86400;
// Lock files housekeep creates (for a temp whose target has none) live for
// microseconds; this is the writers' default mode.
constexpr mode_t lock_mode = 0644;

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// A point in time with nanoseconds, ordered.
struct stamp {
  std::int64_t sec = 0;
  std::int64_t nsec = 0;
  friend auto operator<=>(const stamp&, const stamp&) = default;
};

stamp mtime_of(const struct stat& st) noexcept { return {st.st_mtim.tv_sec, st.st_mtim.tv_nsec}; }

// now - limit, never overflowing: parse_age_limit keeps limits below 2^63 s
// and `now` is near 2^31 s.
stamp cutoff(stamp now, std::int64_t limit_seconds) noexcept {
  return {now.sec - std::min(limit_seconds, max_seconds / 2), now.nsec};
}

// Local time (the backup timestamp) to epoch seconds. mktime costs about a
// microsecond and takes a lock; the offset from UTC is cached per local hour,
// which is where it can change.
class local_clock {
 public:
  std::int64_t to_epoch(const parsed_backup_name& b) {
    const std::int64_t naive = days_from_civil(b.year, static_cast<unsigned>(b.month), static_cast<unsigned>(b.day)) * day +
                               b.hour * hour + b.minute * 60 + b.second;
    const std::int64_t key = naive / hour;
    auto it = offsets_.find(key);
    if (it == offsets_.end()) {
      std::tm tm{};
      tm.tm_year = b.year - 1900;
      tm.tm_mon = b.month - 1;
      tm.tm_mday = b.day;
      tm.tm_hour = b.hour;
      tm.tm_isdst = -1;
      const std::time_t t = std::mktime(&tm);
      const std::int64_t offset = t == static_cast<std::time_t>(-1) ? 0 : key * hour - static_cast<std::int64_t>(t);
      it = offsets_.emplace(key, offset).first;
    }
    return naive - it->second;
  }

 private:
  std::unordered_map<std::int64_t, std::int64_t> offsets_;
};

bool is_lock_name(std::string_view name) noexcept {
  return name.size() > 5 && name.ends_with(".lock");
}

unsigned char dtype_of(mode_t mode) noexcept {
  if (S_ISREG(mode)) return DT_REG;
  if (S_ISDIR(mode)) return DT_DIR;
  if (S_ISLNK(mode)) return DT_LNK;
  return DT_UNKNOWN + 100;  // something else: FIFO, socket, device
}

std::string join(const std::string& dir, std::string_view name) {
  std::string path;
  path.reserve(dir.size() + 1 + name.size());
  path += dir;
  if (path.empty() || path.back() != '/') path += '/';
  path += name;
  return path;
}

struct entry {
  std::string name;
  unsigned char type;
};

struct backup_entry {
  std::string name;
  std::size_t original_size;
  bool timestamped;
  stamp time;  // from the name, else the mtime
  std::int64_t counter;
};

class walker {
 public:
  walker(const housekeep_options& opts, const housekeep_callback& on_event) : opts_(opts), on_event_(on_event) {
    const auto now = opts.now.value_or(std::chrono::system_clock::now());
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    now_ = {ns / 1'000'000'000, ns % 1'000'000'000};
    if (opts.older_than) {
      lock_cutoff_ = cutoff(now_, opts.older_than->seconds(std::chrono::hours(1)).count());
      backup_cutoff_ = cutoff(now_, opts.older_than->seconds(std::chrono::hours(24)).count());
    }
    // A temp younger than an hour may belong to a writer that has not
    // locked yet in a way we can see; the lock decides, the age is a margin.
    temp_cutoff_ = lock_cutoff_.value_or(cutoff(now_, hour));
    keep_newest_ = opts.keep_newest.value_or(opts.older_than ? 0 : 1);
  }

  void walk(int dfd, const std::string& display, const struct stat& root) {
    root_dev_ = root.st_dev;
    ancestors_.push_back({root.st_dev, root.st_ino});
    visit(dfd, display);
  }

  housekeep_result result;

 private:
  void emit(housekeep_event::type what, housekeep_kind kind, const std::string& path, std::uint64_t bytes = 0,
            std::string message = {}) {
    if (what == housekeep_event::type::failed) ++result.errors;
    if (what == housekeep_event::type::skipped && !opts_.report_skipped) return;
    if (on_event_) on_event_(housekeep_event{what, kind, path, bytes, std::move(message)});
  }
  void skipped(housekeep_kind kind, const std::string& path, std::string why) {
    if (opts_.report_skipped) emit(housekeep_event::type::skipped, kind, path, 0, std::move(why));
  }
  void failed(housekeep_kind kind, const std::string& path, std::string what, int err) {
    emit(housekeep_event::type::failed, kind, path, 0, what + " " + path + ": " + describe(errno_code(err)));
  }
  void deleted(housekeep_kind kind, const std::string& path, std::uint64_t bytes) {
    switch (kind) {
      case housekeep_kind::lock: ++result.locks; break;
      case housekeep_kind::temp: ++result.temps; break;
      case housekeep_kind::backup: ++result.backups; break;
      case housekeep_kind::directory: break;
    }
    result.bytes_freed += bytes;
    emit(housekeep_event::type::deleted, kind, path, bytes);
  }

  void visit(int dfd, const std::string& display);
  bool read_entries(int dfd, const std::string& display, std::vector<entry>& locks, std::vector<entry>& temps,
                    std::vector<entry>& backups, std::vector<entry>& dirs);
  void clean_lock(int dfd, const std::string& display, const entry& e);
  void clean_temp(int dfd, const std::string& display, const entry& e);
  void clean_backups(int dfd, const std::string& display, std::vector<entry>& backups);
  void descend(int dfd, const std::string& display, const entry& e);

  const housekeep_options& opts_;
  const housekeep_callback& on_event_;
  stamp now_;
  std::optional<stamp> lock_cutoff_;
  std::optional<stamp> backup_cutoff_;
  stamp temp_cutoff_;
  std::uint64_t keep_newest_;
  dev_t root_dev_ = 0;
  std::vector<std::pair<dev_t, ino_t>> ancestors_;
  local_clock clock_;
  // One getdents64 buffer for the whole walk (entries are copied out before
  // descending); 256 KiB holds about 8,000 entries per call.
  static constexpr std::size_t buffer_size = 256 * 1024;
  std::unique_ptr<char[]> buffer_;
};

void walker::visit(int dfd, const std::string& display) {
  auto by_name = [](const entry& a, const entry& b) { return a.name < b.name; };
  std::vector<entry> dirs;
  {
    std::vector<entry> locks, temps, backups;
    if (!read_entries(dfd, display, locks, temps, backups, dirs)) return;
    // Temps before locks: taking NAME.lock for a temp must not meet a lock
    // file this pass already removed, and an orphan NAME.lock it finds is
    // left for the lock pass to report.
    std::sort(temps.begin(), temps.end(), by_name);
    for (const entry& e : temps) clean_temp(dfd, display, e);
    std::sort(locks.begin(), locks.end(), by_name);
    for (const entry& e : locks) clean_lock(dfd, display, e);
    clean_backups(dfd, display, backups);
  }  // only the subdirectory names stay in memory while descending
  std::sort(dirs.begin(), dirs.end(), by_name);
  for (const entry& e : dirs) descend(dfd, display, e);
}

// One getdents64 pass; names sorted into what each operation wants. The
// type comes from d_type; only filesystems that leave it DT_UNKNOWN cost an
// fstatat, and only for names that matter.
bool walker::read_entries(int dfd, const std::string& display, std::vector<entry>& locks,
                          std::vector<entry>& temps, std::vector<entry>& backups, std::vector<entry>& dirs) {
  if (!buffer_) buffer_ = std::make_unique_for_overwrite<char[]>(buffer_size);
  for (;;) {
    const ssize_t n = ::getdents64(dfd, buffer_.get(), buffer_size);
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EINTR) continue;
      failed(housekeep_kind::directory, display, "cannot read directory", errno);
      return false;
    }
    for (ssize_t off = 0; off < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buffer_.get() + off);
      off += d->d_reclen;
      const std::string_view name(d->d_name);
      if (name == "." || name == "..") continue;
      std::vector<entry>* into = nullptr;
      if (opts_.locks && is_lock_name(name)) {
        into = &locks;
      } else if (opts_.temps && parse_temp_name(name)) {
        into = &temps;
      } else if (opts_.backups && parse_backup_name(name, opts_.backup_suffix)) {
        into = &backups;
      } else if (!opts_.recursive || (d->d_type != DT_DIR && d->d_type != DT_UNKNOWN)) {
        continue;
      }
      unsigned char type = d->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st;
        if (::fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
        type = dtype_of(st.st_mode);
      }
      if (type == DT_DIR) {
        if (opts_.recursive) dirs.push_back({std::string(name), type});
      } else if (into) {
        into->push_back({std::string(name), type});
      }
    }
  }
}

void walker::clean_lock(int dfd, const std::string& display, const entry& e) {
  const std::string path = join(display, e.name);
  if (e.type == DT_LNK) return skipped(housekeep_kind::lock, path, "a symbolic link, not followed");
  if (e.type != DT_REG) return skipped(housekeep_kind::lock, path, "not a regular file");
  // Look before opening: a non-empty *.lock (Cargo.lock, yarn.lock) is
  // another program's file, and even a moment's flock on it could make that
  // program's own non-blocking lock fail.
  struct stat st;
  if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) failed(housekeep_kind::lock, path, "cannot inspect", errno);
    return;
  }
  if (!S_ISREG(st.st_mode)) return skipped(housekeep_kind::lock, path, "not a regular file");
  if (st.st_size != 0) return skipped(housekeep_kind::lock, path, "not empty, so not a mutx lock file");
  if (lock_cutoff_ && !(mtime_of(st) < *lock_cutoff_))
    return skipped(housekeep_kind::lock, path, "newer than --older-than");

  lock_file lock;
  try {
    if (lock.try_acquire(dfd, e.name, lock_mode, false, path) == lock_file::attempt::busy)
      return skipped(housekeep_kind::lock, path, "held by another process");
  } catch (const error& err) {
    if (err.code() == errno_code(ENOENT)) return;  // released and removed by its holder meanwhile
    if (err.code()) return emit(housekeep_event::type::failed, housekeep_kind::lock, path, 0, err.what());
    return skipped(housekeep_kind::lock, path, err.what());  // replaced by a symlink or a directory
  }
  // Held now, and the name is this inode. Check the locked file itself.
  struct stat held;
  if (::fstat(lock.fd(), &held) != 0) {
    failed(housekeep_kind::lock, path, "cannot inspect", errno);
    return lock.close_only();
  }
  if (!S_ISREG(held.st_mode) || held.st_size != 0) {
    skipped(housekeep_kind::lock, path, "not empty, so not a mutx lock file");
    return lock.close_only();
  }
  if (opts_.dry_run) {
    lock.close_only();
    return deleted(housekeep_kind::lock, path, 0);
  }
  // lock_file::release() would unlink while holding too, but swallows the
  // error; housekeep must say when a file stays (EACCES, EROFS).
  if (::unlinkat(dfd, e.name.c_str(), 0) != 0) {
    const int err = errno;
    lock.close_only();
    if (err != ENOENT) failed(housekeep_kind::lock, path, "cannot delete", err);
    return;
  }
  lock.close_only();
  deleted(housekeep_kind::lock, path, 0);
}

void walker::clean_temp(int dfd, const std::string& display, const entry& e) {
  const std::string path = join(display, e.name);
  if (e.type == DT_LNK) return skipped(housekeep_kind::temp, path, "a symbolic link, not followed");
  if (e.type != DT_REG) return skipped(housekeep_kind::temp, path, "not a regular file");
  struct stat st;
  if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) failed(housekeep_kind::temp, path, "cannot inspect", errno);
    return;
  }
  if (!S_ISREG(st.st_mode)) return skipped(housekeep_kind::temp, path, "not a regular file");
  if (!(mtime_of(st) < temp_cutoff_))
    return skipped(housekeep_kind::temp, path,
                   opts_.older_than ? "newer than --older-than" : "modified within the last hour");
  // A backup in progress is a hard link of the old target under a temp name
  // (DESIGN section 6): its mtime is the old file's, however new the link.
  // The link itself set the ctime, so for a linked temp that must be old too.
  // (With --backup-dir the writer's lock is not beside it to protect it.)
  if (st.st_nlink > 1 && !(stamp{st.st_ctim.tv_sec, st.st_ctim.tv_nsec} < temp_cutoff_))
    return skipped(housekeep_kind::temp, path, "a hard link made recently (a backup in progress?)");

  const std::string lock_name = std::string(*parse_temp_name(e.name)) + ".lock";
  const std::string lock_path = join(display, lock_name);
  struct stat lst;
  bool lock_exists = true;
  if (::fstatat(dfd, lock_name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return failed(housekeep_kind::temp, lock_path, "cannot inspect", errno);
    lock_exists = false;
  }
  // No lock file means no writer holds the lock (a holder keeps the name).
  // A dry run must not create one, so that is its whole answer.
  if (opts_.dry_run && !lock_exists) return deleted(housekeep_kind::temp, path, static_cast<std::uint64_t>(st.st_size));

  // Take the target's lock like a writer would. Creating it when missing is
  // harmless: it is unlinked again while held, and a writer opening it in
  // between follows the inode check. (Run as root, the file is briefly
  // root's; a writer of another user opening it in those microseconds fails
  // with EACCES and can simply retry.)
  lock_file lock;
  try {
    if (lock.try_acquire(dfd, lock_name, lock_mode, !lock_exists, lock_path) == lock_file::attempt::busy)
      return skipped(housekeep_kind::temp, path, "its target is locked by a writer (" + lock_path + ")");
  } catch (const error& err) {
    if (err.code() == errno_code(ENOENT)) return skipped(housekeep_kind::temp, path, "its lock file changed; try again later");
    if (err.code()) return emit(housekeep_event::type::failed, housekeep_kind::temp, path, 0, err.what());
    return skipped(housekeep_kind::temp, path, err.what());
  }
  // Only a lock file we created goes with it; an existing one is the lock
  // pass's to judge.
  auto unlock = [&] { lock_exists ? lock.close_only() : lock.release(); };

  struct stat now;
  if (::fstatat(dfd, e.name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0 || now.st_dev != st.st_dev ||
      now.st_ino != st.st_ino || !S_ISREG(now.st_mode)) {
    return unlock();  // replaced or removed meanwhile: leave it for next time
  }
  const auto bytes = static_cast<std::uint64_t>(now.st_size);
  if (!opts_.dry_run && ::unlinkat(dfd, e.name.c_str(), 0) != 0) {
    const int err = errno;
    unlock();
    if (err != ENOENT) failed(housekeep_kind::temp, path, "cannot delete", err);
    return;
  }
  unlock();
  deleted(housekeep_kind::temp, path, bytes);
}

void walker::clean_backups(int dfd, const std::string& display, std::vector<entry>& found) {
  std::vector<backup_entry> backups;
  backups.reserve(found.size());
  for (entry& e : found) {
    // Symlinks and other non-regular files are neither removed nor counted
    // as a kept generation.
    if (e.type != DT_REG) {
      if (e.type == DT_LNK) skipped(housekeep_kind::backup, join(display, e.name), "a symbolic link, not followed");
      continue;
    }
    const parsed_backup_name b = *parse_backup_name(e.name, opts_.backup_suffix);
    backup_entry be{std::move(e.name), b.original.size(), b.timestamped, {}, b.counter};
    if (b.timestamped) {
      be.time = {clock_.to_epoch(b), 0};
    } else {
      struct stat st;
      if (::fstatat(dfd, be.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) failed(housekeep_kind::backup, join(display, be.name), "cannot inspect", errno);
        continue;
      }
      if (!S_ISREG(st.st_mode)) continue;
      be.time = mtime_of(st);
    }
    backups.push_back(std::move(be));
  }
  auto original = [](const backup_entry& b) { return std::string_view(b.name).substr(0, b.original_size); };
  // Per original file, newest first: time, then the generation counter.
  std::sort(backups.begin(), backups.end(), [&](const backup_entry& a, const backup_entry& b) {
    if (auto c = original(a) <=> original(b); c != 0) return c < 0;
    if (a.time != b.time) return a.time > b.time;
    if (a.counter != b.counter) return a.counter > b.counter;
    return a.name > b.name;
  });
  std::uint64_t rank = 0;
  for (std::size_t i = 0; i < backups.size(); ++i) {
    const backup_entry& b = backups[i];
    rank = (i > 0 && original(backups[i - 1]) == original(b)) ? rank + 1 : 0;
    if (rank < keep_newest_) continue;
    if (backup_cutoff_ && !(b.time < *backup_cutoff_)) continue;

    const std::string path = join(display, b.name);
    struct stat st;
    if (::fstatat(dfd, b.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) failed(housekeep_kind::backup, path, "cannot inspect", errno);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    if (!opts_.dry_run && ::unlinkat(dfd, b.name.c_str(), 0) != 0) {
      if (errno != ENOENT) failed(housekeep_kind::backup, path, "cannot delete", errno);
      continue;
    }
    deleted(housekeep_kind::backup, path, static_cast<std::uint64_t>(st.st_size));
  }
}

void walker::descend(int dfd, const std::string& display, const entry& e) {
  const std::string path = join(display, e.name);
  // AT_NO_AUTOMOUNT: looking at an automount point must not mount it.
  struct stat st;
  if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) != 0) {
    if (errno != ENOENT) failed(housekeep_kind::directory, path, "cannot inspect directory", errno);
    return;
  }
  if (!S_ISDIR(st.st_mode)) return;  // replaced since the listing
  if (st.st_dev != root_dev_) return skipped(housekeep_kind::directory, path, "on another filesystem, not crossed");
  unique_fd sub(::openat(dfd, e.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub) {
    // ENOTDIR, ELOOP: it became something else (a symlink) since fstatat.
    if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
      failed(housekeep_kind::directory, path, "cannot open directory", errno);
    return;
  }
  struct stat opened;
  if (::fstat(sub.get(), &opened) != 0) return failed(housekeep_kind::directory, path, "cannot inspect directory", errno);
  if (opened.st_dev != st.st_dev || opened.st_ino != st.st_ino) return;  // swapped between the two calls
  // A bind mount of an ancestor (same st_dev) would loop forever.
  const std::pair<dev_t, ino_t> id{opened.st_dev, opened.st_ino};
  if (std::find(ancestors_.begin(), ancestors_.end(), id) != ancestors_.end())
    return skipped(housekeep_kind::directory, path, "a loop back to a parent directory, not entered");
  ancestors_.push_back(id);
  visit(sub.get(), path);
  ancestors_.pop_back();
}

}  // namespace

std::optional<age_limit> parse_age_limit(std::string_view text) noexcept {
  std::size_t digits = 0;
  std::int64_t amount = 0;
  while (digits < text.size() && is_digit(text[digits])) {
    const int d = text[digits] - '0';
    if (amount > (max_seconds - d) / 10) return std::nullopt;
    amount = amount * 10 + d;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  std::int64_t unit = 0;
  if (digits < text.size()) {
    if (digits + 1 != text.size()) return std::nullopt;
    switch (text[digits]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = hour; break;
      case 'd': unit = day; break;
      case 'w': unit = 7 * day; break;
      default: return std::nullopt;
    }
  }
  // A bare number may mean days.
  if (amount > max_seconds / (unit ? unit : day)) return std::nullopt;
  return age_limit{amount, unit};
}

housekeep_result housekeep(const std::string& dir, const housekeep_options& opts, const housekeep_callback& on_event) {
  unique_fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) {
    const int err = errno;
    struct stat st;
    if (err == ENOTDIR && ::lstat(dir.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode))
        throw error(failure_kind::io, dir + " is a symbolic link; housekeep never follows links",
                    "Name the directory itself, e.g. " + dir + "/ to follow this one link.");
      throw error(failure_kind::io, dir + " is not a directory");
    }
    throw_errno("cannot open directory", dir, err);
  }
  struct stat st;
  if (::fstat(root.get(), &st) != 0) throw_errno("cannot inspect directory", dir);

  // Paths are reported as DIR + "/" + relative name; trailing slashes of DIR
  // are dropped so that "dir/" gives "dir/a.lock", not "dir//a.lock".
  std::string display = dir;
  while (display.size() > 1 && display.back() == '/') display.pop_back();

  walker w(opts, on_event);
  w.walk(root.get(), display, st);
  return w.result;
}

}  // namespace mutx
