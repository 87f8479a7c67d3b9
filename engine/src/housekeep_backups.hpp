// How housekeep (housekeep.hpp) reads the backups in a directory: which
// file each is a backup of (a timestamped name only where its ctime proves
// it), their order per original file, and which of them stay (the newest
// few, and those made within --older-than).
#pragma once

#include "housekeep_age.hpp"

#include "mutx/housekeep.hpp"

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace mutx::detail {

// A backup found in a directory, as housekeep reads it.
struct backup_entry {
  std::string name;
  std::size_t group_size;  // the file it is a backup of: name.substr(0, group_size)
  stamp made;              // its ctime
  ino_t ino;               // the file judged: a name that is another file by now stays
  std::int64_t counter;    // _NNN of a proven timestamped name, else -1
  const char* reading;     // why a timestamped-looking name counts as plain, or nullptr
  bool generation = false; // a proven timestamped name
  std::int64_t named = 0;  // then: the time in its name (generation_stamp), seconds
  bool tree = false;       // a directory: a tree write's backup (its NAME a directory beside it)

  std::string_view group() const noexcept { return std::string_view(name).substr(0, group_size); }
};

// Whether the file `name` ends in a timestamp: a file that a timestamped
// backup name (`name` + `suffix`) may be the plain backup of.
bool ends_in_timestamp(std::string_view name, std::string_view suffix);

// How the backup `name` reads: a regular file, `st`, whose name
// parse_backup_name accepts with `suffix`. `stems` are the names in its
// directory that ends_in_timestamp; `gone` those removed from it already (or
// that a dry run would have removed).
backup_entry read_backup(std::string name, const struct stat& st, std::string_view suffix,
                         const std::unordered_set<std::string>& stems, const std::unordered_set<std::string>& gone);

// Per original file, newest first. Generations by the time and _NNN in
// their names, which a later chmod or hard link does not move as it moves a
// ctime; plain backups by ctime; a plain backup among the generations by
// its ctime against when each was made (its ctime while that is within the
// second after its name's time, else its name's time).
void order_backups(std::vector<backup_entry>& backups);

// Which backups stay whatever their age or reading. `rank` counts from 0,
// the newest of its group, in order_backups' order.
class backup_keep {
 public:
  backup_keep(const housekeep_options& opts, stamp now);
  bool keeps(std::uint64_t rank, const backup_entry& b) const noexcept {
    return rank < newest_ || (cutoff_ && !(b.made < *cutoff_));
  }
  // Why keeps() said so, for a skipped event.
  std::string why(std::uint64_t rank, const backup_entry& b) const;

 private:
  std::uint64_t newest_;
  std::optional<stamp> cutoff_;
};

}  // namespace mutx::detail
