// Housekeeping: remove what writers leave behind (DESIGN sections 2 and 4).
//
//   locks    `*.lock` files that are regular, empty and not held. Each is
//            taken with the lock protocol (flock, then the inode check) and
//            unlinked while held, so a live writer never loses its lock.
//   temps    `.NAME.mutx-*` staging files of crashed writers, removed only
//            while holding NAME.lock, so a writer still filling one is never
//            disturbed; by default only those untouched for an hour.
//   backups  `NAME.backup`, `NAME.YYYYMMDD-HHMMSS.backup` and
//            `NAME.YYYYMMDD-HHMMSS_NNN.backup` (any suffix), thinned per
//            original file.
//
// The walk runs on directory descriptors (openat, fstatat with
// AT_SYMLINK_NOFOLLOW, unlinkat): it never follows a symbolic link, never
// crosses into another filesystem and never re-resolves a path by name. It
// runs from cron over trees holding other programs' files, so every rule
// errs towards keeping a file. Nothing here prints: what happens is reported
// through a callback, and the totals come back as a result.
#pragma once

#include "mutx/error.hpp"
#include "mutx/names.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mutx {

// A parsed --older-than value: `30s 15m 2h 7d 1w`, or a bare number whose
// unit depends on what it is applied to (hours for locks and temps, days for
// backups).
struct age_limit {
  std::int64_t amount = 0;
  std::int64_t unit_seconds = 0;  // 0: a bare number

  std::chrono::seconds seconds(std::chrono::seconds bare_unit) const noexcept {
    return std::chrono::seconds(amount * (unit_seconds ? unit_seconds : bare_unit.count()));
  }
};

// Nullopt for anything else: empty, signs, fractions, spaces, other units,
// and values whose seconds would not fit in 63 bits under any unit.
std::optional<age_limit> parse_age_limit(std::string_view text) noexcept;

struct housekeep_options {
  bool locks = false;
  bool temps = false;
  bool backups = false;
  bool recursive = false;
  bool dry_run = false;
  // Also report files that are kept for a reason worth knowing (held locks,
  // busy temps, symlinks): housekeep_event::type::skipped.
  bool report_skipped = false;
  std::optional<age_limit> older_than;
  std::optional<std::uint64_t> keep_newest;
  std::string backup_suffix = ".backup";
  // The clock, for tests; the real time when unset.
  std::optional<std::chrono::system_clock::time_point> now;
};

enum class housekeep_kind { lock, temp, backup, directory };

struct housekeep_event {
  enum class type {
    deleted,  // removed, or (dry run) would be
    skipped,  // kept on purpose; `message` says why
    failed,   // an error; `message` is "CONTEXT: REASON", the walk goes on
  };
  type what;
  housekeep_kind kind;
  // The root as given, "/", then the path below it ("./a.lock", "sub/x.lock").
  const std::string& path;
  std::uint64_t bytes = 0;
  std::string message;
};

struct housekeep_result {
  std::uint64_t locks = 0;    // deleted (or would be, in a dry run)
  std::uint64_t temps = 0;
  std::uint64_t backups = 0;
  std::uint64_t bytes_freed = 0;
  std::uint64_t errors = 0;   // failed events
};

using housekeep_callback = std::function<void(const housekeep_event&)>;

// Clean `dir` as `opts` say. Throws mutx::error when `dir` itself cannot be
// opened as a directory (missing, not a directory, a symbolic link); errors
// below it are reported as failed events and counted, and the walk goes on.
housekeep_result housekeep(const std::string& dir, const housekeep_options& opts,
                           const housekeep_callback& on_event);

}  // namespace mutx
