// Finding the file to replace: OUTPUT split into an open directory and a
// name, symlinks resolved by policy, missing parents created on request.
// Everything after this works relative to `dir` (docs/design.md, section 3,
// step 1).
#pragma once

#include "mutx/fd.hpp"
#include "mutx/types.hpp"

#include <sys/stat.h>

struct statx;

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace mutx {

symlink_policy parse_symlink_policy(const std::string& text);

struct target {
  unique_fd dir;            // O_RDONLY|O_DIRECTORY of the real target's directory
  std::string dir_display;  // that directory as a path, for messages ("" = ".")
  std::string name;         // the last component
  std::string display;      // dir_display + name
  std::optional<struct stat> existing;  // the current file, if any (lstat)
  bool via_symlink = false;
};

// Resolve `output`. With `parents`, missing directories are created (0777
// before umask, like install -D) and each new one is synced into its parent
// unless `sync` is false. Throws mutx::error with a plain-words reason and a
// hint (a missing directory names -p/--parents). A path that reaches a
// directory on procfs, or a symbolic link whose chain leads there (/dev/fd/N,
// /dev/stdout, /proc/self/fd/N), is refused whatever `policy` says: it names
// a descriptor or a kernel interface, not a file to replace.
target resolve_target(const std::string& output, symlink_policy policy, bool parents, bool sync);

// Refuse a target whose replacement would fail at the rename or that we must
// not replace, before anything is created: a directory that is append-only
// or immutable (for new files too); an existing directory, something other
// than a regular file, or a file the caller may not write (faccessat(W_OK,
// AT_EACCESS): a writable directory must not defeat a read-only file's
// mode; on a read-only mount this says read-only); an append-only file; a
// mount point (a bind-mounted file); another user's file in a sticky
// directory the caller does not own, without CAP_FOWNER. `in_place`: the
// file is to be overwritten in place (it keeps its name and inode), so a
// mount point, and the sticky directory's rename rule, are no reason to
// refuse it.
void check_replaceable(const target& t, bool in_place = false);

// Whether /proc/self/mountinfo lists `name` in `dir` as a mount point: how
// check_replaceable finds a bind-mounted file where statx gives no mount ID
// (before Linux 5.8). False when it cannot be read.
bool listed_as_mount_point(int dir, const std::string& name);

// Whether `name` in `dir` is the root of a mount (a bind mount of the same
// filesystem too): by statx's mount ID, else /proc/self/mountinfo, else a
// device other than the directory's.
bool is_mount_point(int dir, const std::string& name);

// The mount that descriptor `fd` was opened on: statx's mount ID (Linux
// 5.8); 0 where the kernel gives none. A descriptor stays on the mount it
// was opened on: no race with a mount made after the open.
std::uint64_t mount_id(int fd) noexcept;

// Whether directory `sub` (on device `sub_dev`), opened as `name` in
// `parent` (on `parent_dev`, mount `parent_mount` = mount_id(parent), 0 if
// unknown), lies on another mount: another filesystem, or a bind mount of
// the same one (the same st_dev), by mount ID, else by
// /proc/self/mountinfo. What the tree remover and housekeep's walk never
// enter: the files there belong elsewhere.
bool crosses_mount(int parent, dev_t parent_dev, std::uint64_t parent_mount, const std::string& name, int sub,
                   dev_t sub_dev);

// The directory must let mutx create, rename and remove names in it. An
// append-only (chattr +a) or immutable (+i) one is refused, the message
// starting with `context`: an append-only directory lets a lock file or a
// linked temp in but neither out again, so each attempt left both behind
// and failed only at the rename. `dsx`: the directory's statx, if known.
void check_names_changeable(int dir_fd, const std::string& dir_display, const std::string& context,
                            const struct statx* dsx = nullptr);

// Whether the caller may rename or remove a name that belongs to `owner` in
// the directory `dir`: always, unless the directory is sticky (like /tmp);
// then only the name's owner, the directory's owner or a caller with
// CAP_FOWNER may, whatever the file's mode.
bool may_move_name_of(int dir, uid_t owner);

// Refuse, before anything is created, to rename over (or move away) the
// existing `name` in `dir` (`display` in messages) where no rename can:
// another user's in a sticky directory (may_move_name_of), or an immutable
// or append-only file (chattr +i, +a), which not even root may rename or
// link. How a plain backup's previous generation is checked. False when
// nothing is at the name.
bool check_name_replaceable(int dir, const std::string& name, const std::string& display);

// The append-only and immutable flags (chattr +a, +i) of an open directory
// or file, as {append_only, immutable}; {false, false} where unknown.
std::pair<bool, bool> append_immutable_flags(int fd);

// Open a directory path, creating missing components when `create` (syncing
// each new one into its parent when `sync`). Used for OUTPUT's directory and
// --backup-dir.
unique_fd open_directory(const std::string& path, bool create, bool sync);

std::string join_path(const std::string& dir, const std::string& name);

}  // namespace mutx
