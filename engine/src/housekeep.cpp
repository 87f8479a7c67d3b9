#include "mutx/housekeep.hpp"

#include "housekeep_locks.hpp"
#include "housekeep_walker.hpp"

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
        // A directory named as a backup may be a tree write's (clean_backups).
        if (into == &backups) backups.push_back({std::string(name), type});
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

void walker::clean_backups(int dfd, const std::string& display, std::vector<entry>& found) {
  std::vector<backup_entry> backups;
  backups.reserve(found.size());
  for (entry& e : found) {
    // Symlinks and other non-regular files are neither removed nor counted
    // as a kept generation; directories only as a tree write's backups.
    if (e.type != DT_REG && e.type != DT_DIR) {
      if (e.type == DT_LNK) skipped(housekeep_kind::backup, join_path(display, e.name), "a symbolic link, not followed");
      continue;
    }
    struct stat st;
    if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) failed(housekeep_kind::backup, join_path(display, e.name), "cannot inspect", errno);
      continue;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) continue;
    backup_entry b = read_backup(std::move(e.name), st, opts_.backup_suffix, stems_, gone_);
    if (S_ISDIR(st.st_mode) && !tree_backup(dfd, display, st, b)) continue;
    backups.push_back(std::move(b));
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
    if (st.st_ino != b.ino) continue;
    if (b.tree) {
      if (S_ISDIR(st.st_mode)) remove_tree_backup(dfd, path, b);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    if (!opts_.dry_run && ::unlinkat(dfd, b.name.c_str(), 0) != 0) {
      if (errno != ENOENT) failed(housekeep_kind::backup, path, "cannot delete", errno);
      continue;
    }
    deleted(housekeep_kind::backup, path, b.name, static_cast<std::uint64_t>(st.st_size));
  }
}

// A directory named as a backup is a tree write's (mutx --tree --backup,
// the old generation renamed) only with the directory NAME beside it, on
// the walk's filesystem: other directories of such names are kept.
bool walker::tree_backup(int dfd, const std::string& display, const struct stat& st, backup_entry& b) {
  const std::string path = join_path(display, b.name);
  const std::string target(b.group());
  if (st.st_dev != root_dev_) {
    skipped(housekeep_kind::backup, path, "on another filesystem, not crossed");
    return false;
  }
  struct stat tst;
  if (gone_.count(target) || ::fstatat(dfd, target.c_str(), &tst, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(tst.st_mode)) {
    skipped(housekeep_kind::backup, path,
            "a directory with no directory " + target + " beside it, so not a mutx tree's backup");
    return false;
  }
  b.tree = true;
  return true;
}

// A tree backup goes whole, under claim_stale_tree's proof (no writer holds
// a flock on it: the one that made it holds one until it ends) and never
// into a mount inside it.
void walker::remove_tree_backup(int dfd, const std::string& path, const backup_entry& b) {
  unique_fd locked;
  struct stat st;
  switch (claim_stale_tree(dfd, b.name, locked, st)) {
    case tree_probe::stale: break;
    case tree_probe::gone: return;
    case tree_probe::live: return skipped(housekeep_kind::backup, path, "held by a live writer");
    case tree_probe::foreign:
      return skipped(housekeep_kind::backup, path, "cannot be opened to prove that no writer holds it");
  }
  if (st.st_ino != b.ino) return;
  if (!opts_.dry_run) {
    const removed_tree r = remove_tree(dfd, b.name, locked.get());
    if (r.error) return failed_tree(housekeep_kind::backup, path, r);
  }
  deleted(housekeep_kind::backup, path, b.name, 0);
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
  // A bind mount of this filesystem (the same st_dev) is another mount too:
  // what it shows belongs elsewhere.
  if (crosses_mount(dfd, opened.st_dev, mount_id(dfd), e.name, sub.get(), opened.st_dev))
    return skipped(housekeep_kind::directory, path, "a mount point (a bind mount), not crossed");
  // A bind mount of an ancestor (same st_dev) would loop forever.
  const std::pair<dev_t, ino_t> id{opened.st_dev, opened.st_ino};
  if (std::find(ancestors_.begin(), ancestors_.end(), id) != ancestors_.end())
    return skipped(housekeep_kind::directory, path, "a loop back to a parent directory, not entered");
  ancestors_.push_back(id);
  visit(sub.get(), path);
  ancestors_.pop_back();
}

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
