#include "mutx/housekeep.hpp"

#include "etcd_lock.hpp"
#include "housekeep_age.hpp"
#include "housekeep_backups.hpp"
#include "housekeep_locks.hpp"

#include "mutx/fd.hpp"
#include "mutx/inode.hpp"
#include "mutx/staging.hpp"
#include "mutx/target.hpp"
#include "mutx/tree_staging.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <unordered_set>
#include <utility>
#include <vector>

namespace mutx::detail {

namespace {

unsigned char dtype_of(mode_t mode) noexcept {
  if (S_ISREG(mode)) return DT_REG;
  if (S_ISDIR(mode)) return DT_DIR;
  if (S_ISLNK(mode)) return DT_LNK;
  return DT_UNKNOWN + 100;  // something else: FIFO, socket, device
}

struct entry {
  std::string name;
  unsigned char type;
};

class walker {
 public:
  walker(const housekeep_options& opts, const housekeep_callback& on_event, std::optional<etcd_url> etcd)
      : opts_(opts),
        on_event_(on_event),
        etcd_(std::move(etcd)),
        now_(stamp_of(opts.now.value_or(std::chrono::system_clock::now()))),
        keep_(opts, now_) {
    // A lock file or temp touched within the hour may be a writer's that we
    // cannot see yet (one that has opened but not locked, or an older mutx
    // that does not claim its temps): the holder check decides, the age is
    // a margin.
    const std::int64_t margin = opts.older_than ? opts.older_than->seconds(std::chrono::hours(1)).count() : hour;
    lock_cutoff_ = temp_cutoff_ = cutoff(now_, margin);
  }

  void walk(int dfd, const std::string& display, const struct stat& root) {
    root_dev_ = root.st_dev;
    ancestors_.push_back({root.st_dev, root.st_ino});
    if (inside_git_dir(dfd, display))
      return skipped(housekeep_kind::directory, display, "inside a git directory, not touched");
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
  void deleted(housekeep_kind kind, const std::string& path, const std::string& name, std::uint64_t bytes) {
    switch (kind) {
      case housekeep_kind::lock: ++result.locks; break;
      case housekeep_kind::temp: ++result.temps; break;
      case housekeep_kind::backup: ++result.backups; break;
      case housekeep_kind::directory: break;
    }
    result.bytes_freed += bytes;
    // A dry run leaves the name, but must judge what follows as the real
    // run would: without it (a lock whose NAME is a temp just removed).
    gone_.insert(name);
    emit(housekeep_event::type::deleted, kind, path, bytes);
  }
  // Whether `name` is in the directory (as the real run would leave it).
  bool exists_beside(int dfd, const std::string& name) const {
    if (gone_.count(name)) return false;
    struct stat st;
    // Any error but ENOENT (EACCES cannot happen: we search this directory)
    // counts as existing: it keeps the file we are judging.
    return ::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
  }
  const char* too_young() const { return opts_.older_than ? "touched within --older-than" : "touched within the last hour"; }

  void visit(int dfd, const std::string& display);
  bool read_entries(int dfd, const std::string& display, std::vector<entry>& locks, std::vector<entry>& temps,
                    std::vector<entry>& backups, std::vector<entry>& trees, std::vector<entry>& dirs, git_marks& git);
  void clean_tree(int dfd, const std::string& display, const entry& e);
  void clean_lock(int dfd, const std::string& display, const entry& e);
  void clean_temp(int dfd, const std::string& display, const entry& e);
  void clean_backups(int dfd, const std::string& display, std::vector<entry>& backups);
  void descend(int dfd, const std::string& display, const entry& e);

  // Whether a temp named after etcd lease `lease` may go: etcd says the
  // lease is gone. Otherwise it is kept (skipped) or an error (failed) is
  // reported, and false returned.
  bool lease_gone(std::int64_t lease, const std::string& path);

  const housekeep_options& opts_;
  const housekeep_callback& on_event_;
  std::optional<etcd_url> etcd_;  // --lock-url
  std::string etcd_down_;         // why etcd did not answer, once it did not: not asked again
  stamp now_;
  stamp lock_cutoff_;
  stamp temp_cutoff_;
  backup_keep keep_;
  dev_t root_dev_ = 0;
  std::vector<std::pair<dev_t, ino_t>> ancestors_;
  // Names deleted (or, in a dry run, that would be) in the directory being
  // cleaned.
  std::unordered_set<std::string> gone_;
  // Its entries whose names end in a timestamp: the files a timestamped
  // backup name may be the plain backup of. From the listing, not a lookup
  // per backup: 100,000 backups of 10,000 files took 2.3 s of fstatat
  // with the lookups, under load, against 0.3 s without.
  std::unordered_set<std::string> stems_;
  // One getdents64 buffer for the whole walk (entries are copied out before
  // descending); 256 KiB holds about 8,000 entries per call.
  static constexpr std::size_t buffer_size = 256 * 1024;
  std::unique_ptr<char[]> buffer_;
};

void walker::visit(int dfd, const std::string& display) {
  auto by_name = [](const entry& a, const entry& b) { return a.name < b.name; };
  std::vector<entry> dirs;
  {
    std::vector<entry> locks, temps, backups, trees;
    git_marks git;
    gone_.clear();
    stems_.clear();
    if (!read_entries(dfd, display, locks, temps, backups, trees, dirs, git)) return;
    // A bare repository (or a .git reached under another name): git's
    // index.lock and HEAD.lock sit beside their files, empty, and git never
    // flocks them.
    if (git.all() && is_git_dir(dfd))
      return skipped(housekeep_kind::directory, display, "a git directory, not touched");
    // Temps, then locks, then backups: a lock's NAME may be a temp, and a
    // backup's reading depends on what is beside it (gone_ answers for a
    // dry run).
    std::sort(temps.begin(), temps.end(), by_name);
    for (const entry& e : temps) clean_temp(dfd, display, e);
    std::sort(trees.begin(), trees.end(), by_name);
    for (const entry& e : trees) clean_tree(dfd, display, e);
    std::sort(locks.begin(), locks.end(), by_name);
    for (const entry& e : locks) clean_lock(dfd, display, e);
    clean_backups(dfd, display, backups);
    gone_.clear();
    stems_.clear();
  }  // only the subdirectory names stay in memory while descending
  std::sort(dirs.begin(), dirs.end(), by_name);
  for (const entry& e : dirs) descend(dfd, display, e);
}

// One getdents64 pass; names sorted into what each operation wants. The
// type comes from d_type; only filesystems that leave it DT_UNKNOWN cost an
// fstatat, and only for names that matter.
bool walker::read_entries(int dfd, const std::string& display, std::vector<entry>& locks,
                          std::vector<entry>& temps, std::vector<entry>& backups, std::vector<entry>& trees,
                          std::vector<entry>& dirs, git_marks& git) {
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
      git.see(name);
      if (opts_.backups && ends_in_timestamp(name, opts_.backup_suffix)) stems_.emplace(name);
      std::vector<entry>* into = nullptr;
      // A staged tree (temps) or an old generation (backups) of `mutx
      // --tree`: a directory, judged whole and never descended into.
      const bool staged_tree = parse_tree_name(name).has_value(), old_tree = parse_old_tree_name(name).has_value();
      if (staged_tree || old_tree) {
        if (!(staged_tree ? opts_.temps : opts_.backups)) continue;
        unsigned char type = d->d_type;
        if (type == DT_UNKNOWN) {
          struct stat st;
          if (::fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
          type = dtype_of(st.st_mode);
        }
        trees.push_back({std::string(name), type});
        continue;
      }
      if (opts_.locks && parse_lock_name(name)) {
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
  const std::string path = join_path(display, e.name);
  if (e.type == DT_LNK) return skipped(housekeep_kind::lock, path, "a symbolic link, not followed");
  if (e.type != DT_REG) return skipped(housekeep_kind::lock, path, "not a regular file");
  if (is_foreign_lock_name(e.name)) return skipped(housekeep_kind::lock, path, "another tool's lock file, by its name");
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
  // mutx locks NAME with NAME.lock beside it; with no NAME there is nothing
  // a mutx writer would lock with it (xtables.lock, parent.lock).
  const std::string target(*parse_lock_name(e.name));
  if (!exists_beside(dfd, target))
    return skipped(housekeep_kind::lock, path, "no " + target + " beside it, so not a mutx lock file");
  if (!(touched_of(st) < lock_cutoff_)) return skipped(housekeep_kind::lock, path, too_young());

  unique_fd fd;  // holds the flock while the name is unlinked
  switch (lock_probe p = probe_lock_holders(dfd, e.name, st, fd); p.what) {
    case lock_probe::verdict::unheld: break;
    case lock_probe::verdict::gone: return;
    case lock_probe::verdict::kept: return skipped(housekeep_kind::lock, path, std::move(p.why));
    case lock_probe::verdict::failed: return failed(housekeep_kind::lock, path, std::move(p.why), p.err);
  }
  if (!opts_.dry_run && ::unlinkat(dfd, e.name.c_str(), 0) != 0) {
    // housekeep must say when a file stays (EACCES, EROFS).
    if (errno != ENOENT) failed(housekeep_kind::lock, path, "cannot delete", errno);
    return;
  }
  deleted(housekeep_kind::lock, path, e.name, 0);
}

std::string lease_text(std::int64_t lease) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(lease));
  return buf;
}

bool walker::lease_gone(std::int64_t lease, const std::string& path) {
  if (etcd_down_.empty()) {
    std::string why;
    const std::optional<bool> alive = etcd_lease_alive(*etcd_, lease, why);
    if (alive) {
      if (!*alive) return true;
      skipped(housekeep_kind::temp, path, "its etcd lease " + lease_text(lease) + " is alive");
      return false;
    }
    etcd_down_ = "cannot reach etcd at " + etcd_->hosts + ": " + why;
  }
  emit(housekeep_event::type::failed, housekeep_kind::temp, path, 0,
       etcd_down_ + "; " + path + " (named after etcd lease " + lease_text(lease) + ") was kept");
  return false;
}

void walker::clean_temp(int dfd, const std::string& display, const entry& e) {
  const std::string path = join_path(display, e.name);
  if (e.type == DT_LNK) return skipped(housekeep_kind::temp, path, "a symbolic link, not followed");
  if (e.type != DT_REG) return skipped(housekeep_kind::temp, path, "not a regular file");
  struct stat st;
  if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) failed(housekeep_kind::temp, path, "cannot inspect", errno);
    return;
  }
  if (!S_ISREG(st.st_mode)) return skipped(housekeep_kind::temp, path, "not a regular file");
  // The ctime counts too: a backup in progress is the old file linked (or
  // copied with its times) under a temp name, so its mtime is the old
  // content's however new the temp.
  if (!(touched_of(st) < temp_cutoff_)) return skipped(housekeep_kind::temp, path, too_young());
  // A temp named after a writer's etcd lease: that writer may run on any
  // host that mounts this directory (this one may be the server of the
  // share, where no client's flock shows), so only etcd can say it is gone.
  const std::int64_t lease = parse_temp(e.name)->lease;
  if (lease && !etcd_)
    return skipped(housekeep_kind::temp, path,
                   "named after etcd lease " + lease_text(lease) +
                       ": a writer on any host that mounts this directory may own it; pass --lock-url to ask etcd "
                       "whether that lease is gone");

  unique_fd locked;
  switch (claim_stale_temp(dfd, e.name, locked, st)) {
    case temp_probe::stale: break;
    case temp_probe::gone: return;
    case temp_probe::live: return skipped(housekeep_kind::temp, path, "held by a live writer");
    case temp_probe::foreign:
      return skipped(housekeep_kind::temp, path, "cannot be opened to prove that no writer holds it");
    case temp_probe::shared:
      if (lease) break;  // no flock proves anything here: the lease decides
      return skipped(housekeep_kind::temp, path,
                     std::string("on ") + shared_filesystem(dfd) +
                         ", which other hosts may mount: nothing proves that no writer there owns it");
  }
  if (lease) {
    if (!lease_gone(lease, path)) return;
    // The name must still be the file judged (and not touched since).
    struct stat now;
    if (::fstatat(dfd, e.name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0) return;
    if (!same_inode(now, st)) return skipped(housekeep_kind::temp, path, "replaced while etcd was asked");
    st = now;
  }
  // Ours exclusively now; touched since the first look means a writer used
  // it until a moment ago.
  if (!(touched_of(st) < temp_cutoff_)) return skipped(housekeep_kind::temp, path, too_young());
  if (!opts_.dry_run && ::unlinkat(dfd, e.name.c_str(), 0) != 0) {
    if (errno != ENOENT) failed(housekeep_kind::temp, path, "cannot delete", errno);
    return;
  }
  deleted(housekeep_kind::temp, path, e.name, static_cast<std::uint64_t>(st.st_size));
}

// A staged tree `.NAME.mutx-tree-S` is a crashed writer's once it is
// untouched for the temps' age and claim_stale_tree proves that no live
// writer holds it; an old generation `.NAME.mutx-old` goes only beside its
// NAME, a directory, under the backups' rules (--keep-newest 0 to remove
// it; --older-than by when it was swapped out, its ctime), and likewise
// only while nobody holds a flock on it.
void walker::clean_tree(int dfd, const std::string& display, const entry& e) {
  const bool staged = parse_tree_name(e.name).has_value();
  const housekeep_kind kind = staged ? housekeep_kind::temp : housekeep_kind::backup;
  const std::string path = join_path(display, e.name);
  if (e.type == DT_LNK) return skipped(kind, path, "a symbolic link, not followed");
  if (e.type != DT_DIR) return skipped(kind, path, "not a directory, so not a mutx tree");
  struct stat st;
  if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) failed(kind, path, "cannot inspect", errno);
    return;
  }
  if (!S_ISDIR(st.st_mode)) return skipped(kind, path, "not a directory, so not a mutx tree");
  if (st.st_dev != root_dev_) return skipped(kind, path, "on another filesystem, not crossed");
  if (staged) {
    if (!(touched_of(st) < temp_cutoff_)) return skipped(kind, path, too_young());
  } else {
    const std::string target(*parse_old_tree_name(e.name));
    struct stat tst;
    if (gone_.count(target) || ::fstatat(dfd, target.c_str(), &tst, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(tst.st_mode))
      return skipped(kind, path, "no directory " + target + " beside it, so not a mutx tree's old generation");
    backup_entry b{e.name, 0, ctime_of(st), st.st_ino, -1, nullptr};
    if (keep_.keeps(0, b))
      return skipped(kind, path, opts_.keep_newest.value_or(1) > 0 ? "the old generation of " + target + " (--keep-newest)"
                                                                   : "swapped out within --older-than");
  }
  unique_fd locked;
  switch (claim_stale_tree(dfd, e.name, locked, st)) {
    case tree_probe::stale: break;
    case tree_probe::gone: return;
    case tree_probe::live: return skipped(kind, path, "held by a live writer");
    case tree_probe::foreign: return skipped(kind, path, "cannot be opened to prove that no writer holds it");
  }
  if (staged && !(touched_of(st) < temp_cutoff_)) return skipped(kind, path, too_young());
  if (!opts_.dry_run) {
    const removed_tree r = remove_tree(dfd, e.name, locked.get());
    if (r.error) return failed(kind, path, "cannot delete all of", r.error);
  }
  deleted(kind, path, e.name, 0);
}

void walker::clean_backups(int dfd, const std::string& display, std::vector<entry>& found) {
  std::vector<backup_entry> backups;
  backups.reserve(found.size());
  for (entry& e : found) {
    // Symlinks and other non-regular files are neither removed nor counted
    // as a kept generation.
    if (e.type != DT_REG) {
      if (e.type == DT_LNK) skipped(housekeep_kind::backup, join_path(display, e.name), "a symbolic link, not followed");
      continue;
    }
    struct stat st;
    if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) failed(housekeep_kind::backup, join_path(display, e.name), "cannot inspect", errno);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    backups.push_back(read_backup(std::move(e.name), st, opts_.backup_suffix, stems_, gone_));
  }
  order_backups(backups);
  std::uint64_t rank = 0;
  for (std::size_t i = 0; i < backups.size(); ++i) {
    const backup_entry& b = backups[i];
    rank = (i > 0 && backups[i - 1].group() == b.group()) ? rank + 1 : 0;
    const std::string path = join_path(display, b.name);
    if (keep_.keeps(rank, b)) {
      if (opts_.report_skipped) skipped(housekeep_kind::backup, path, keep_.why(rank, b));
      continue;
    }
    struct stat st;
    if (::fstatat(dfd, b.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) failed(housekeep_kind::backup, path, "cannot inspect", errno);
      continue;
    }
    if (!S_ISREG(st.st_mode) || st.st_ino != b.ino) continue;
    if (!opts_.dry_run && ::unlinkat(dfd, b.name.c_str(), 0) != 0) {
      if (errno != ENOENT) failed(housekeep_kind::backup, path, "cannot delete", errno);
      continue;
    }
    deleted(housekeep_kind::backup, path, b.name, static_cast<std::uint64_t>(st.st_size));
  }
}

void walker::descend(int dfd, const std::string& display, const entry& e) {
  const std::string path = join_path(display, e.name);
  if (e.name == ".git") return skipped(housekeep_kind::directory, path, "a git directory, not entered");
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
  if (!same_inode(opened, st)) return;  // swapped between the two calls
  // A bind mount of an ancestor (same st_dev) would loop forever.
  const std::pair<dev_t, ino_t> id{opened.st_dev, opened.st_ino};
  if (std::find(ancestors_.begin(), ancestors_.end(), id) != ancestors_.end())
    return skipped(housekeep_kind::directory, path, "a loop back to a parent directory, not entered");
  ancestors_.push_back(id);
  visit(sub.get(), path);
  ancestors_.pop_back();
}

}  // namespace

}  // namespace mutx::detail

namespace mutx {

housekeep_result housekeep(const std::string& dir, const housekeep_options& opts, const housekeep_callback& on_event) {
  std::optional<detail::etcd_url> etcd;
  if (opts.lock_url) etcd = detail::parse_etcd_url(*opts.lock_url);
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

  detail::walker w(opts, on_event, std::move(etcd));
  w.walk(root.get(), display, st);
  return w.result;
}

}  // namespace mutx
