// Housekeeping: remove what writers leave behind (docs/design.md, sections
// 4 and 7).
//
// housekeep runs from cron over trees holding other programs' files, and a
// name alone never proves a file is mutx's (names.hpp). Each kind is
// removed only with a proof that it is mutx's and no live writer's; where
// the proof fails, the file stays.
//
//   locks    `NAME.lock` (parse_lock_name) with NAME beside it: regular,
//            empty, untouched (mtime and ctime) for an hour or
//            --older-than, and held by nobody: not by flock (taken here,
//            not waiting), not by a POSIX or OFD lock (F_OFD_GETLK). It is
//            unlinked while the flock is held, so a mutx writer that opened
//            it meanwhile sees the inode change and retries. The lock files
//            of other tools (Cargo.lock, .rpm.lock, ...) are never touched.
//   temps    `.NAME.mutx-S` / `.NAME.mutx-XXXXXXXXXXXX` (parse_temp_name),
//            untouched for an hour or --older-than, and removed only while
//            claim_stale_temp (staging.hpp) holds the proof that no live
//            writer owns it, whatever lock file that writer used. Where
//            other hosts may mount the directory (shared_filesystem), that
//            proof is not enough, and such temps stay.
//            `.NAME.mutx-eLEASE` (a writer's under an etcd lock, on a share
//            other hosts mount): the same, on any filesystem, and only with
//            lock_url, when etcd says that lease is gone (etcd_lease_alive):
//            then no writer anywhere can commit with it, and no other writer
//            makes that name. A cluster that does not answer is an error
//            for that temp, which stays.
//   trees    a staged tree `.NAME.mutx-tree-S` (with temps): a directory,
//            untouched as long, claimed by claim_stale_tree (a shared flock
//            on the directory held by its writer) and removed whole. An old
//            generation `.NAME.mutx-old` (with backups): a directory beside
//            the directory NAME, counted as NAME's one older generation by
//            --keep-newest (default 1: kept) and --older-than (its ctime),
//            removed whole under the same claim. Neither is descended into.
//   backups  `NAME` + SUFFIX (plain), and `NAME.YYYYMMDD-HHMMSS[_NNN]` +
//            SUFFIX (timestamped) only where that reading is proven: the
//            file NAME.YYYYMMDD-HHMMSS does not exist beside it and the
//            backup's ctime lies within [-60 s, +600 s] of the time in its
//            name, read as UTC (or as local time, which earlier mutx
//            wrote); otherwise it is the plain backup of NAME.YYYYMMDD-HHMMSS.
//            Directories named as backups are never touched (a name
//            cannot prove them mutx's tree backups).
//            Backups are aged and ordered by their ctime (when the backup
//            was made: a linked backup's mtime is the old content's), per
//            original file, and the newest of each stays unless
//            --keep-newest says otherwise.
//
// Git directories (`.git`, or any directory holding HEAD, objects/ and
// refs/) are never entered, and a DIR inside one is left alone.
//
// The walk runs on directory descriptors (openat, fstatat with
// AT_SYMLINK_NOFOLLOW, unlinkat): it never follows a symbolic link, never
// crosses into another filesystem and never re-resolves a path by name.
// Nothing here prints: what happens is reported through a callback, and the
// totals come back as a result.
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
  // Also report every candidate that is kept, and why (held locks, busy
  // temps, the newest backups, symlinks): housekeep_event::type::skipped.
  bool report_skipped = false;
  // Locks and temps: untouched for this long (default 1 hour). Backups:
  // made this long ago (default: any age).
  std::optional<age_limit> older_than;
  // Backups of each file that stay whatever their age (default 1).
  std::optional<std::uint64_t> keep_newest;
  std::string backup_suffix = ".backup";
  // The etcd cluster (etcd://HOST:PORT[,...][/PREFIX]) asked whether the
  // lease a temp is named after is gone; without it such temps stay.
  std::optional<std::string> lock_url;
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
