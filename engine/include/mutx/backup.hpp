// Keeping the old content (docs/design.md, section 6).
//
// The old target is hard-linked to a temp name beside the backup and
// renamed onto the backup name: atomic, no data copied, same inode. Where
// links are refused or the backup directory is on another filesystem
// (EXDEV), or --backup-mode asks for another mode than the old file's, the
// old content is copied (reflink / copy_file_range / reads and writes) into
// a staged file there, synced and renamed. Either way the backup is whole
// and durable before the new content is published.
#pragma once

#include "mutx/fd.hpp"

#include <sys/stat.h>

#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace mutx {

struct backup_options {
  bool enabled = false;
  bool timestamp = false;  // NAME.YYYYMMDD-HHMMSS[_NNN]SUFFIX, never overwritten
  std::string suffix = ".backup";
  std::optional<std::string> dir;  // must exist and be writable
  std::optional<mode_t> mode;
  bool sync = true;
};

// Where backups go, opened and checked before anything changes: a missing
// or unwritable --backup-dir, or the suffix ".lock" (the lock file's name),
// is an error (exit 1) with the target untouched.
struct backup_location {
  unique_fd dir;
  std::string display;  // "" for the current directory
};
// Refuse a suffix that names no separate file: empty, with a '/', or
// ".lock" (OUTPUT.lock is the lock file).
void check_backup_suffix(const std::string& suffix);

backup_location open_backup_location(const backup_options& opts, int target_dir,
                                     const std::string& target_dir_display);

// Before anything is created, and again as the backup is put in place:
// whether a plain backup of `name` (in `target_dir`) may replace what is at
// its name in `where` now. Refused (an error, nothing changed) when that is
// immutable or append-only, another user's in a sticky directory
// (check_name_replaceable), or may be another file's timestamped backup:
// the plain backup of `dump.20261207-034403` has the name of a generation
// of `dump`, refused when the file there is proven one by its ctime (as
// housekeep reads it) or `dump` is there. Timestamped backups replace
// nothing: never refused.
void check_backup_replaceable(const backup_options& opts, const backup_location& where, int target_dir,
                              const std::string& name);

// The backup name for target `name` at time `when`, generation `counter`
// (0: the plain timestamp; 1+: _001, _002, ... which sort after it).
std::string backup_name(const backup_options& opts, const std::string& name, std::time_t when, int counter);

// The backup a write has put in place, undone on destruction unless the
// commit happened and keep() was called. The backup_location it was made in
// must outlive it.
class placed_backup {
 public:
  placed_backup() = default;
  placed_backup(placed_backup&& other) noexcept { *this = std::move(other); }
  placed_backup& operator=(placed_backup&& other) noexcept;
  ~placed_backup() { undo(); }

  // The commit happened: drop the saved previous generation.
  void keep() noexcept;
  // The commit did not happen: put the previous generation back (or remove
  // the new name when there was none). Idempotent.
  void undo() noexcept;
  // After undo(): where the previous generation is left when it could not
  // be put back (its temp name, as a path), else "". The next writer's
  // sweep removes that temp as stale: the failure's message names it.
  const std::string& stranded() const noexcept { return stranded_; }

 private:
  friend struct backup_placer;
  friend struct backup_result make_backup(const backup_options&, const backup_location&, int, const std::string&, int,
                                          const struct stat&, bool);
  int dir_ = -1;
  bool sync_ = true;
  std::string name_;   // the backup name
  std::string saved_;  // the previous generation's temp name, "" for none
  std::string display_;   // the backup directory, for stranded_
  std::string stranded_;  // see stranded()
  struct stat placed_ {};  // the inode now under name_
  unique_fd claims_[2];  // shared flocks on what is under temp names
  bool active_ = false;
};

struct backup_result {
  std::string path;
  bool copied = false;  // true when the content was copied, not linked
  // Attributes a copied backup could not keep (its filesystem refused them).
  std::vector<std::string> warnings;
  placed_backup placed;
};

// Back up the current target `name` in `target_dir` (open as `old_fd`,
// `old` its stat). Throws mutx::error; on failure no partial backup remains.
// The result's `placed` undoes it unless kept. `copy`: never link, copy the
// content (the target is about to be overwritten in place, and a link would
// be the same inode).
backup_result make_backup(const backup_options& opts, const backup_location& where, int target_dir,
                          const std::string& name, int old_fd, const struct stat& old, bool copy = false);

}  // namespace mutx
