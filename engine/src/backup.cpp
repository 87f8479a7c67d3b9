#include "mutx/backup.hpp"

#include "mutx/error.hpp"
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
        .with_hint(err == ENOENT ? "--backup-dir must exist; create it first." : "Check the backup directory.");
  }
  if (::faccessat(loc.dir.get(), ".", W_OK | X_OK, AT_EACCESS) != 0)
    throw_errno("cannot use backup directory", *opts.dir);
  return loc;
}

std::string backup_name(const backup_options& opts, const std::string& name, std::time_t when, int counter) {
  if (!opts.timestamp) return name + opts.suffix;
  std::tm tm{};
  ::localtime_r(&when, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  std::string out = name + "." + stamp;
  if (counter > 0) {
    // '_' sorts after '.', so NAME.T_001.backup comes after NAME.T.backup
    // and before the next second's NAME.T'.backup.
    char gen[16];
    std::snprintf(gen, sizeof gen, "_%03d", counter);
    out += gen;
  }
  return out + opts.suffix;
}

namespace {

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

// Put `tmp` (a name in `bdir`) onto the backup name: replacing the previous
// plain backup, or, for timestamped generations, never overwriting one.
std::string place(const backup_options& opts, const backup_location& where, const std::string& name,
                  const std::string& tmp) {
  std::time_t now = std::time(nullptr);
  for (int counter = 0; counter < 1000; ++counter) {
    std::string final_name = backup_name(opts, name, now, counter);
    int rc = opts.timestamp ? rename_noreplace(where.dir.get(), tmp, final_name)
                            : ::renameat(where.dir.get(), tmp.c_str(), where.dir.get(), final_name.c_str());
    if (rc == 0) {
      // rename() between two links of one inode succeeds and does nothing:
      // the old backup already was this file (a write interrupted after its
      // backup), and the temp name would be left behind.
      struct stat st;
      if (!opts.timestamp && ::fstatat(where.dir.get(), tmp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        ::unlinkat(where.dir.get(), tmp.c_str(), 0);
      if (opts.sync && ::fsync(where.dir.get()) != 0)
        throw_errno("cannot sync backup directory", where.display.empty() ? "." : where.display);
      return join_path(where.display, final_name);
    }
    if (errno == EEXIST && opts.timestamp) continue;
    int err = errno;
    ::unlinkat(where.dir.get(), tmp.c_str(), 0);
    throw_errno("cannot create backup", join_path(where.display, final_name), err);
  }
  ::unlinkat(where.dir.get(), tmp.c_str(), 0);
  throw_errno("cannot create backup of", name, EEXIST);
}

}  // namespace

backup_result make_backup(const backup_options& opts, const backup_location& where, int target_dir,
                          const std::string& name, int old_fd, const struct stat& old) {
  backup_result result;
  bool same_mode = !opts.mode || (*opts.mode & 07777) == (old.st_mode & 07777);
  if (same_mode) {
    std::string tmp = random_temp_name(name);
    if (::linkat(target_dir, name.c_str(), where.dir.get(), tmp.c_str(), 0) == 0) {
      // The name still points at old_fd's inode: we hold the target's lock.
      result.path = place(opts, where, name, tmp);
      return result;
    }
    if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != EOPNOTSUPP)
      throw_errno("cannot link backup of", name);
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
  std::string tmp = random_temp_name(name);
  std::string proc = "/proc/self/fd/" + std::to_string(staged.fd());
  if (::linkat(staged.fd(), "", where.dir.get(), tmp.c_str(), AT_EMPTY_PATH) != 0 &&
      ::linkat(AT_FDCWD, proc.c_str(), where.dir.get(), tmp.c_str(), AT_SYMLINK_FOLLOW) != 0)
    throw_errno("cannot create backup of", name);
  result.path = place(opts, where, name, tmp);
  result.copied = true;
  return result;
}

}  // namespace mutx
