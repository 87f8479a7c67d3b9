#include "mutx/backup.hpp"

#include "mutx/error.hpp"
#include "mutx/inode.hpp"
#include "mutx/metadata.hpp"
#include "mutx/names.hpp"
#include "mutx/pump.hpp"
#include "mutx/staging.hpp"
#include "mutx/target.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace mutx {

void check_backup_suffix(const std::string& suffix) {
  if (suffix.empty() || suffix.find('/') != std::string::npos)
    throw error(failure_kind::io, "invalid backup suffix '" + suffix + "'", "A suffix is non-empty and has no '/'.");
  if (suffix == ".lock")
    // OUTPUT.lock is the lock file: a backup renamed onto it would replace
    // the lock a writer holds and let the next one in beside it.
    throw error(failure_kind::io, "invalid backup suffix '.lock': OUTPUT.lock is the lock file",
                "Choose another suffix, such as .backup or .orig.");
}

backup_location open_backup_location(const backup_options& opts, int target_dir,
                                     const std::string& target_dir_display) {
  check_backup_suffix(opts.suffix);
  backup_location loc;
  if (!opts.dir) {
    loc.dir.reset(::fcntl(target_dir, F_DUPFD_CLOEXEC, 0));
    if (!loc.dir) throw_errno("cannot open directory", target_dir_display.empty() ? "." : target_dir_display);
    loc.display = target_dir_display;
    return loc;
  }
  loc.display = *opts.dir;
  loc.dir.reset(::open(opts.dir->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!loc.dir) {
    int err = errno;
    throw error(errno_code(err), "cannot use backup directory", *opts.dir)
        .with_hint(err == ENOENT ? "The backup directory must exist; create it first." : "Check the backup directory.")
        .with_reason(err == ENOENT ? failure_reason::backup_dir_missing : failure_reason::unspecified);
  }
  // A backup is linked under a temp name there and renamed: an append-only
  // backup directory would keep the temp and fail at the rename. (First: an
  // immutable one fails the access check below with a less helpful EPERM.)
  check_names_changeable(loc.dir.get(), *opts.dir, "cannot use backup directory " + *opts.dir);
  if (::faccessat(loc.dir.get(), ".", W_OK | X_OK, AT_EACCESS) != 0)
    throw_errno("cannot use backup directory", *opts.dir);
  return loc;
}

std::string backup_name(const backup_options& opts, const std::string& name, std::time_t when, int counter) {
  return opts.timestamp ? timestamped_backup_name(name, when, counter, opts.suffix) : plain_backup_name(name, opts.suffix);
}

namespace {

// A plain backup's name that parses as a timestamped one: the target
// `dump.20261207-034403`, its backup `dump.20261207-034403.backup`, which
// is also the name of the generation `dump` got at 03:44:03. When the file
// there may be that generation (its ctime proves it one, as housekeep
// reads it, or `dump` is there beside the target), replacing it could lose
// the only copy of an older `dump`: refused.
void check_not_a_generation(const backup_options& opts, const backup_location& where, int target_dir,
                            const std::string& name, const std::string& final_name) {
  const auto b = parse_backup_name(final_name, opts.suffix);
  if (!b || !b->timestamped) return;
  struct stat st;
  if (::fstatat(where.dir.get(), final_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return;
  const std::string original(b->original);
  struct stat ost;
  const bool proven = generation_stamp(*b, st.st_ctim.tv_sec).has_value();
  if (!proven && ::fstatat(target_dir, original.c_str(), &ost, AT_SYMLINK_NOFOLLOW) != 0) return;
  const std::string path = join_path(where.display, final_name);
  throw error(failure_kind::io,
              "cannot back up " + name + ": " + path + " may be a timestamped backup of " + original +
                  (proven ? " (its ctime is the time in its name)" : " (" + original + " is there)") +
                  ", which a plain backup would replace",
              "The plain backup of a file whose name ends in a date-time has the name of a timestamped backup "
              "of the file before that date-time. Keep them apart: make its backups timestamped, or give them "
              "another suffix or directory; if " + path + " is " + name + "'s own backup, move it away first.")
      .with_reason(failure_reason::backup_name_taken);
}

}  // namespace

void check_backup_replaceable(const backup_options& opts, const backup_location& where, int target_dir,
                              const std::string& name) {
  // A timestamped backup never replaces a name (place() takes the next
  // _NNN), so nothing there needs to move.
  if (opts.timestamp) return;
  const std::string final_name = plain_backup_name(name, opts.suffix);
  if (!check_name_replaceable(where.dir.get(), final_name, join_path(where.display, final_name))) return;
  check_not_a_generation(opts, where, target_dir, name, final_name);
}

namespace {

// rename() between two links of one inode succeeds and does nothing (the
// old backup already was this file: a write interrupted after its backup),
// and would leave `from` behind.
int move_name(int dfd, const std::string& from, const std::string& to) noexcept {
  struct stat st;
  if (::fstatat(dfd, from.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return -1;
  if (::renameat(dfd, from.c_str(), dfd, to.c_str()) != 0) return -1;
  if (name_is(dfd, from, st)) ::unlinkat(dfd, from.c_str(), 0);
  return 0;
}

// Move `tmp` onto `final_name` without replacing an existing name. Some
// filesystems (older FUSE and NFS) answer RENAME_NOREPLACE with EINVAL;
// linkat never replaces a name either, so it stands in there.
int rename_noreplace(int dfd, const std::string& tmp, const std::string& final_name) {
  if (::renameat2(dfd, tmp.c_str(), dfd, final_name.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  if (::linkat(dfd, tmp.c_str(), dfd, final_name.c_str(), 0) != 0) return -1;
  ::unlinkat(dfd, tmp.c_str(), 0);
  return 0;
}

// A new open file description of `fd`'s inode holding a shared flock: the
// claim that keeps sweepers off the temp names it has (staging.hpp), given
// up on its own when the placement is kept or undone.
unique_fd claim_of(int fd) {
  unique_fd own(::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (own) claim_inode(own.get());
  return own;
}

}  // namespace

placed_backup& placed_backup::operator=(placed_backup&& other) noexcept {
  if (this != &other) {
    undo();
    dir_ = other.dir_;
    sync_ = other.sync_;
    name_ = std::move(other.name_);
    saved_ = std::move(other.saved_);
    display_ = std::move(other.display_);
    stranded_ = std::move(other.stranded_);
    placed_ = other.placed_;
    claims_[0] = std::move(other.claims_[0]);
    claims_[1] = std::move(other.claims_[1]);
    active_ = std::exchange(other.active_, false);
  }
  return *this;
}

void placed_backup::keep() noexcept {
  if (!active_) return;
  active_ = false;
  if (!saved_.empty()) ::unlinkat(dir_, saved_.c_str(), 0);
  claims_[0].reset();
  claims_[1].reset();
}

void placed_backup::undo() noexcept {
  if (!active_) return;
  active_ = false;
  if (!saved_.empty()) {
    if (move_name(dir_, saved_, name_) != 0) stranded_ = join_path(display_, saved_);
  } else if (name_is(dir_, name_, placed_)) {
    ::unlinkat(dir_, name_.c_str(), 0);
  }
  if (sync_) ::fsync(dir_);
  claims_[0].reset();
  claims_[1].reset();
}

// Puts `tmp` (a name in the backup directory) onto the backup name:
// replacing the previous plain backup, whose link is saved for undo(), or,
// for timestamped generations, never overwriting one.
struct backup_placer {
  const backup_options& opts;
  const backup_location& where;
  const int target_dir;
  const std::string& name;

  std::string saved_previous(const std::string& final_name, placed_backup& placed) const {
    const int dir = where.dir.get();
    struct stat st;
    if (::fstatat(dir, final_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return {};
    unique_fd prev(::openat(dir, final_name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
    if (prev) claim_inode(prev.get());
    std::string saved = link_under_temp_name(prev ? prev.get() : -1, dir, final_name, dir, name, where.display);
    placed.claims_[1] = std::move(prev);
    return saved;
  }

  std::string place(const std::string& tmp, placed_backup& placed) const {
    const int dir = where.dir.get();
    struct stat linked;
    if (::fstatat(dir, tmp.c_str(), &linked, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("cannot create backup of", name);
    placed.dir_ = dir;
    placed.display_ = where.display;
    placed.sync_ = opts.sync;
    placed.placed_ = linked;
    std::time_t now = std::time(nullptr);
    for (int counter = 0; counter < 1000; ++counter) {
      std::string final_name = backup_name(opts, name, now, counter);
      if (!opts.timestamp) {
        // Checked again under the lock: what is there now is what moves.
        try {
          check_backup_replaceable(opts, where, target_dir, name);
          placed.saved_ = saved_previous(final_name, placed);
        } catch (...) {
          ::unlinkat(dir, tmp.c_str(), 0);
          throw;
        }
      }
      int rc = opts.timestamp ? rename_noreplace(dir, tmp, final_name) : move_name(dir, tmp, final_name);
      if (rc == 0) {
        placed.name_ = final_name;
        placed.active_ = true;
        if (opts.sync && ::fsync(dir) != 0)
          throw_errno("cannot sync backup directory", where.display.empty() ? "." : where.display);
        return join_path(where.display, final_name);
      }
      int err = errno;
      if (!placed.saved_.empty()) ::unlinkat(dir, placed.saved_.c_str(), 0);
      placed.saved_.clear();
      if (err == EEXIST && opts.timestamp) continue;
      ::unlinkat(dir, tmp.c_str(), 0);
      throw_errno("cannot create backup", join_path(where.display, final_name), err);
    }
    ::unlinkat(dir, tmp.c_str(), 0);
    throw_errno("cannot create backup of", name, EEXIST);
  }
};


backup_result make_backup(const backup_options& opts, const backup_location& where, int target_dir,
                          const std::string& name, int old_fd, const struct stat& old, bool copy) {
  backup_result result;
  const backup_placer placer{opts, where, target_dir, name};
  bool same_mode = !opts.mode || (*opts.mode & 07777) == (old.st_mode & 07777);
  // In a sticky backup directory a link to another user's file could be
  // neither renamed onto the backup name nor removed again: a copy is ours.
  if (same_mode && !copy && may_move_name_of(where.dir.get(), old.st_uid)) {
    // The name still points at old_fd's inode: we hold the target's lock.
    // Linking through old_fd links exactly the inode claimed.
    unique_fd claim = claim_of(old_fd);
    std::string tmp;
    try {
      tmp = link_under_temp_name(claim ? claim.get() : -1, target_dir, name, where.dir.get(), name, where.display);
    } catch (const error& e) {
      const int err = e.code().value();
      if (err != EXDEV && err != EPERM && err != EMLINK && err != EOPNOTSUPP)
        throw error(e.code(), "cannot link backup of", name);
    }
    if (!tmp.empty()) {
      result.placed.claims_[0] = std::move(claim);
      result.path = placer.place(tmp, result.placed);
      return result;
    }
  }
  // Copy: a staged file in the backup directory with the backup's mode,
  // filled, synced, linked under a temp name and renamed.
  staged_file staged(where.dir.get(), name, where.display);
  copy_file_contents(old_fd, 0, staged.fd(), 0, name, "backup of " + name);
  // The file has no name yet, so its metadata can follow the data; that
  // order also keeps set-id bits, which the kernel clears when a caller
  // without CAP_FSETID writes. Like a linked backup, the copy keeps the old
  // owner where the caller may give it away (root), chown before chmod
  // because chown clears set-id bits, and the old extended attributes and
  // ACLs where the backup's filesystem takes them; --backup-mode wins over
  // an ACL's mask.
  if (::fchown(staged.fd(), old.st_uid, old.st_gid) != 0 && errno != EPERM && errno != EINVAL)
    throw_errno("cannot set the owner of backup of", name);
  result.warnings = copy_xattrs(old_fd, staged.fd(), "backup of " + name);
  if (::fchmod(staged.fd(), opts.mode ? (*opts.mode & 07777) : (old.st_mode & 07777)) != 0)
    throw_errno("cannot set the mode of backup of", name);
  // And its times, as a link has them: `ls -l` shows when the old content
  // was written, and housekeep orders untimestamped backups by mtime.
  const struct timespec times[2] = {old.st_atim, old.st_mtim};
  if (::futimens(staged.fd(), times) != 0) throw_errno("cannot set the times of backup of", name);
  if (opts.sync && ::fsync(staged.fd()) != 0) throw_errno("cannot sync backup of", name);
  // Publish under a temp name first so place() can apply the same
  // replace-or-never-overwrite rule as for links.
  std::string tmp = link_under_temp_name(staged.fd(), -1, {}, where.dir.get(), name, where.display);
  result.path = placer.place(tmp, result.placed);
  result.copied = true;
  return result;
}

}  // namespace mutx
