// Every name mutx gives a file on disk, made and recognised in one place.
//
// mutx deletes files (the writer's stale-temp sweep, housekeep), so the code
// that makes a name and the code that recognises one must never drift
// apart: both live here, and names_test.cpp proves the round trip (all that
// the writer makes is recognised, and look-alikes made by other programs
// are not).
//
//   lock         NAME.lock
//   temp         .NAME.mutx-S              S: one digit, a slot 0..temp_slots-1
//                .NAME.mutx-XXXXXXXXXXXX   12 of [a-z0-9]: when every slot is
//                                          taken by a live writer, and the
//                                          names of mutx before slots
//                .NAME.mutx-eLLLLLLLLLLLLLLLL  under an etcd lock (--lock-url)
//                                          where other hosts may mount the
//                                          directory: L, the writer's etcd
//                                          lease ID in 16 lowercase hex digits
//   check copy   .NAME.mutx-cS.EXT         the new content for a check command
//                .NAME.mutx-cXXXXXXXXXXXX.EXT  (--check's %s), EXT being NAME's
//                .NAME.mutx-ceLLLLLLLLLLLLLLLL.EXT  extension (.conf), or none
//   backup       NAME + SUFFIX                                   (plain)
//                NAME.YYYYMMDD-HHMMSS + SUFFIX                   (timestamped,
//                NAME.YYYYMMDD-HHMMSS_NNN + SUFFIX                UTC, NNN >= 001)
//   staged tree  .NAME.mutx-tree-S        a directory (mutx --tree) being
//                .NAME.mutx-tree-XXXXXXXXXXXX  built, S and X as for temps
//   old tree     .NAME.mutx-old           the generation a tree write
//                                          replaced, kept until the next one
//
// A name alone never proves that a file is mutx's: `dump.20250101-120000`
// has a plain backup whose name is also a timestamped one of `dump`, and
// anyone can create `.x.mutx-1`. Callers that delete add the proof
// (housekeep.hpp: who holds the file, when it was made).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace mutx {

// ---- lock files ----
std::string lock_name(std::string_view target);
// NAME of `NAME.lock` (NAME non-empty); nullopt for other names.
std::optional<std::string_view> parse_lock_name(std::string_view name) noexcept;

// ---- temps ----
// A writer stages in slot 0 first, then 1, ...: the next writer of NAME can
// find a crashed writer's temp by name, with temp_slots lookups, instead of
// listing the directory.
inline constexpr int temp_slots = 4;
std::string temp_slot_name(std::string_view target, int slot);
std::string random_temp_name(std::string_view target);
// A writer under an etcd lease whose directory other hosts may mount names
// its temp after the lease: no other writer can have that name, so one
// that stalls past its lease and resumes can never rename or unlink
// another's temp (a slot may have been reused meanwhile), and housekeep
// can ask etcd whether the writer's lease is gone. `lease` > 0.
std::string lease_temp_name(std::string_view target, std::int64_t lease);
// The most bytes a temp name adds to NAME: the random form, or with
// `leased` the lease form.
std::size_t temp_name_overhead(bool leased = false) noexcept;

struct parsed_temp_name {
  std::string_view target;  // NAME
  std::int64_t lease = 0;   // the etcd lease ID of a lease-named one, else 0
  bool check = false;       // a check copy
};
// What an exact temp name (a check copy's too) says; nullopt for anything
// else. A lease tag is exactly 16 lowercase hex digits of a lease etcd can
// grant (1 to 2^63-1).
std::optional<parsed_temp_name> parse_temp(std::string_view name) noexcept;
// NAME of an exact temp name (a check copy's too); nullopt for anything else.
std::optional<std::string_view> parse_temp_name(std::string_view name) noexcept;
// A check copy of NAME's new content keeps NAME's extension (".conf", the
// part from the last dot; none for ".bashrc" or "Makefile"), for tools that
// look at it. Slots as for temps, then random names.
std::string_view name_extension(std::string_view target) noexcept;
std::string check_slot_name(std::string_view target, int slot);
std::string random_check_name(std::string_view target);
// A check copy under an etcd lease, named as lease_temp_name is.
std::string lease_check_name(std::string_view target, std::int64_t lease);
// The most bytes a check copy's name adds to NAME (`leased`: the lease form).
std::size_t check_name_overhead(std::string_view target, bool leased = false) noexcept;

// ---- trees (mutx --tree DIR) ----
// The staged tree is built under a slot name first (the next writer finds a
// crashed one with temp_slots lookups), then a random one.
std::string tree_slot_name(std::string_view target, int slot);
std::string random_tree_name(std::string_view target);
// The most bytes a staged tree's name adds to NAME (the random form).
std::size_t tree_name_overhead() noexcept;
// NAME of an exact staged-tree name; nullopt for anything else.
std::optional<std::string_view> parse_tree_name(std::string_view name) noexcept;
std::string old_tree_name(std::string_view target);
// NAME of `.NAME.mutx-old`; nullopt for anything else.
std::optional<std::string_view> parse_old_tree_name(std::string_view name) noexcept;

// ---- backups ----
std::string plain_backup_name(std::string_view target, std::string_view suffix);
// `when` is written in UTC: generations sort by name and keep their order
// across DST changes and writers with different TZ. `counter` 0 is the
// plain stamp; 1+ adds _001, _002, ... which sort after it.
std::string timestamped_backup_name(std::string_view target, std::time_t when, int counter,
                                    std::string_view suffix);

struct parsed_backup_name {
  // NAME: for a timestamped name, what precedes ".YYYYMMDD-HHMMSS".
  std::string_view original;
  // NAME + SUFFIX read as a plain backup: the file `stem` would be the
  // original. For a timestamped name both readings are possible.
  std::string_view stem;
  bool timestamped = false;
  // The name's stamp (valid only when timestamped).
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::int64_t epoch_utc = 0;  // the stamp read as UTC, seconds since 1970
  // The `_NNN` generation counter; -1 for none (which sorts first).
  std::int64_t counter = -1;
};

// Nullopt unless `name` is NAME + suffix, NAME + ".YYYYMMDD-HHMMSS" + suffix
// or NAME + ".YYYYMMDD-HHMMSS_NNN" + suffix (NNN: three or more digits) with
// a non-empty NAME. A malformed timestamp (month 13, hour 24) makes it a
// plain backup of a NAME that includes the would-be timestamp.
std::optional<parsed_backup_name> parse_backup_name(std::string_view name, std::string_view suffix) noexcept;

// The proof that a name `b` parsed as timestamped is a generation mutx made
// at the time in its name: the file's `ctime` (seconds) lies where the
// writer would have taken the stamp, from a minute before it (the
// filesystem's clock behind the writer's: NFS) to ten minutes after (a slow
// directory sync before the commit). The stamp is read as UTC (mutx's
// names) or as local time at `ctime` (the names of earlier mutx). Returns
// the stamp's time in seconds since 1970 (read as it matched), or nullopt:
// then the name is not proven a generation and reads as a plain backup of
// the file `b.stem`. Housekeep (which generations to thin, in which order)
// and the writer (which names a plain backup may replace) read it alike.
std::optional<std::int64_t> generation_stamp(const parsed_backup_name& b, std::int64_t ctime) noexcept;

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept;

}  // namespace mutx
