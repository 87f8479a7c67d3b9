// housekeep's rules for what a writer stages: temps (lease-named ones
// asked of etcd) and staged trees. housekeep_walker.hpp.
#include "housekeep_walker.hpp"

#include "mutx/fd.hpp"
#include "mutx/inode.hpp"
#include "mutx/names.hpp"
#include "mutx/staging.hpp"
#include "mutx/target.hpp"
#include "mutx/tree_staging.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace mutx::detail {

namespace {

std::string lease_text(std::int64_t lease) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(lease));
  return buf;
}

}  // namespace

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
    if (r.error) return failed_tree(kind, path, r);
  }
  deleted(kind, path, e.name, 0);
}

void walker::failed_tree(housekeep_kind kind, const std::string& path, const removed_tree& r) {
  if (r.mounts.empty()) return failed(kind, path, "cannot delete all of", r.error);
  emit(housekeep_event::type::failed, kind, path, 0, "cannot delete all of " + path + ": " + kept_mounts(r, path));
}

}  // namespace mutx::detail
