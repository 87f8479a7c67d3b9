// housekeep's walker: one directory tree, rule by rule. Private to the
// engine; its rules live in housekeep.cpp (the walk, locks, backups) and
// housekeep_temps.cpp (temps, staged trees, lease-named temps).
#pragma once

#include "etcd_lock.hpp"
#include "housekeep_age.hpp"
#include "housekeep_backups.hpp"
#include "housekeep_locks.hpp"

#include "mutx/error.hpp"
#include "mutx/housekeep.hpp"
#include "mutx/tree_staging.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace mutx::detail {

inline unsigned char dtype_of(mode_t mode) noexcept {
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
  // A tree removed in part: why (the mount points it kept, by name).
  void failed_tree(housekeep_kind kind, const std::string& path, const removed_tree& r);
  void clean_lock(int dfd, const std::string& display, const entry& e);
  void clean_temp(int dfd, const std::string& display, const entry& e);
  void clean_backups(int dfd, const std::string& display, std::vector<entry>& backups);
  bool tree_backup(int dfd, const std::string& display, const struct stat& st, backup_entry& b);
  void remove_tree_backup(int dfd, const std::string& path, const backup_entry& b);
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

}  // namespace mutx::detail
