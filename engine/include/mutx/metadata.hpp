// What the replaced file keeps: owner, mode, extended attributes (which
// carry POSIX ACLs as system.posix_acl_access and the SELinux label as
// security.selinux). Applied to the staged fd before it has a name
// (docs/design.md, section 3, step 4): fchown first, since it clears set-id
// bits, then fchmod, then xattrs.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

namespace mutx {

enum class owner_policy {
  caller,        // the new file belongs to the caller (default)
  preserve,      // keep uid/gid; failing is an error (--preserve-owner)
  try_preserve,  // keep them where permitted (--try-preserve-owner)
};

struct metadata_options {
  std::optional<mode_t> mode;  // -m/--mode: wins over everything
  bool preserve_mode = true;   // else 0666 & ~umask
  owner_policy owner = owner_policy::caller;
};

// The final mode: --mode, else the old file's (when preserving), else
// 0666 & ~umask.
mode_t final_mode(const metadata_options& opts, const struct stat* old);

// Apply owner, mode and xattrs to `staged`, copying from `old_fd` (-1 when
// there is no old file). Throws mutx::error when --preserve-owner cannot be
// honoured. --try-preserve-owner keeps at least the group where the user
// cannot be kept. Set-id bits of the old mode are dropped when the new file
// has another owner (or group) than the old one, unless opts.mode sets them.
// Returns warnings (attributes the filesystem refused, set-id bits dropped).
std::vector<std::string> apply_metadata(int staged, int old_fd, const struct stat* old,
                                        const metadata_options& opts, const std::string& display);

// What a write of data takes away, put back: the kernel clears the set-id
// bits apply_metadata set (for a caller without CAP_FSETID) and file
// capabilities (security.capability, for everyone), so apply_metadata
// leaves the latter to this. Call after the data is written, before the
// fsync, with the mode the staged file had after apply_metadata and the old
// file (-1: none). Returns a warning for a capability the file refused.
std::vector<std::string> restore_after_write(int staged, mode_t mode, int old_fd, const std::string& display);

// "user:group" by name where the names are known, else by number.
std::string owner_name(uid_t uid, gid_t gid);

// Copy every extended attribute from `from` to `to`, but `skip` (an
// attribute name) when given. Returns warnings for those the destination
// refused; a destination that supports none is only a warning when the
// source had some.
std::vector<std::string> copy_xattrs(int from, int to, const std::string& display, const char* skip = nullptr);

}  // namespace mutx
