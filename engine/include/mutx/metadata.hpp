// What the replaced file keeps: owner, mode, extended attributes (which
// carry POSIX ACLs as system.posix_acl_access and the SELinux label as
// security.selinux). Applied to the staged fd before it has a name
// (docs/design.md, section 3, step 4): fchown first, since it clears set-id
// bits, then fchmod, then xattrs.
#pragma once

#include "mutx/mode_spec.hpp"

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
  // -m/--mode: wins over everything. Octal sets the mode; symbolic (chmod's
  // "g-w") changes the old mode, or 0666 & ~umask for a new file (and with
  // preserve_mode false).
  std::optional<mode_spec> mode;
  bool preserve_mode = true;   // else 0666 & ~umask
  owner_policy owner = owner_policy::caller;
  // --owner/--group: the new file's user and group, set after what `owner`
  // keeps. Failing to set them is an error (EPERM: not root).
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

// The final mode: --mode (applied to the old mode when symbolic), else the
// old file's (when preserving), else 0666 & ~umask. `touched`: the bits
// --mode sets or clears on purpose (none without it).
mode_t final_mode(const metadata_options& opts, const struct stat* old, mode_t* touched = nullptr);

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
std::string user_name(uid_t uid);
std::string group_name(gid_t gid);

// A user or group named as chown(1) takes it: a name in /etc/passwd or
// /etc/group (read directly: the binary is static and asks no directory
// service), else a number; "+N" is always the number N. nullopt for a name
// neither file knows. `login_group` receives the user's group.
std::optional<uid_t> find_user(const std::string& name, gid_t* login_group = nullptr);
std::optional<gid_t> find_group(const std::string& name);

// What --owner/--group say, for messages: "nobody", "nobody:nogroup",
// "group nogroup" (by name where known).
std::string describe_owner(std::optional<uid_t> uid, std::optional<gid_t> gid);

// --in-place: the owner (--owner/--group only) and the mode `opts` give an
// existing file, set on `target` itself (open for writing; `old` its stat
// before). fchown first, as it clears set-id bits. Returns the mode set,
// for restore_after_write once the data is written; warnings are added to
// `warnings`. Throws mutx::error when the owner may not be set.
mode_t apply_in_place(int target, const struct stat& old, const metadata_options& opts, const std::string& display,
                      std::vector<std::string>& warnings);

// Copy every extended attribute from `from` to `to`, but `skip` (an
// attribute name) when given. Returns warnings for those the destination
// refused; a destination that supports none is only a warning when the
// source had some.
std::vector<std::string> copy_xattrs(int from, int to, const std::string& display, const char* skip = nullptr);

}  // namespace mutx
