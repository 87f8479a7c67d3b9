#include "housekeep_backups.hpp"

#include "mutx/names.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <utility>

namespace mutx::detail {

bool ends_in_timestamp(std::string_view name, std::string_view suffix) {
  // The digit test spares the allocation for almost every name.
  if (name.empty() || name.back() < '0' || name.back() > '9') return false;
  std::string as_backup(name);
  as_backup += suffix;
  const auto b = parse_backup_name(as_backup, suffix);
  return b && b->timestamped;
}

backup_entry read_backup(std::string name, const struct stat& st, std::string_view suffix,
                         const std::unordered_set<std::string>& stems, const std::unordered_set<std::string>& gone) {
  const parsed_backup_name b = *parse_backup_name(name, suffix);
  backup_entry be{{}, b.stem.size(), ctime_of(st), st.st_ino, -1, nullptr};
  if (b.timestamped) {
    // `dump.20250101-120000.backup` is the plain backup of the file
    // `dump.20250101-120000` whenever that file is there, and of it too
    // unless its ctime says mutx made it at the time in its name.
    if (const std::string stem(b.stem); stems.count(stem) && !gone.count(stem)) {
      be.reading = "a plain backup: that file exists";
    } else if (const auto made = generation_stamp(b, be.made.sec); !made) {
      be.reading = "a plain backup: its ctime is not the time in its name";
    } else {
      // A proven generation is ordered by its name: a later chmod, or a
      // hard link (a snapshot), moves its ctime but not when it was made.
      be.group_size = b.original.size();
      be.counter = b.counter;
      be.generation = true;
      be.named = *made;
    }
  }
  be.name = std::move(name);  // last: `b` views it
  return be;
}

namespace {

// When a backup was made, to place a plain backup among generations: a
// generation's ctime while it is within the second after its name's time
// (nothing moved it since), else that time.
bool made_in_named_second(const backup_entry& b) noexcept {
  return b.made >= stamp{b.named, 0} && b.made < stamp{b.named + 2, 0};
}
stamp when_made(const backup_entry& b) noexcept {
  if (!b.generation || made_in_named_second(b)) return b.made;
  return {b.named, 0};
}

}  // namespace

void order_backups(std::vector<backup_entry>& backups) {
  // Per group: the generations newest first by their names (the time, then
  // within one second the ctime, the _NNN counter, the name), then the plain backups newest first
  // by ctime (one key each: a total order whatever the ctimes say) ...
  std::sort(backups.begin(), backups.end(), [](const backup_entry& a, const backup_entry& b) {
    if (auto c = a.group() <=> b.group(); c != 0) return c < 0;
    if (a.generation != b.generation) return a.generation;
    if (a.generation && a.named != b.named) return a.named > b.named;
    // One second, several generations: a _NNN freed by a deletion is taken
    // again by the next writer in that second, so the counter alone does
    // not tell the newest; the ctimes do while both still fit the name.
    if (a.generation && made_in_named_second(a) && made_in_named_second(b) && a.made != b.made)
      return a.made > b.made;
    if (!a.generation && a.made != b.made) return a.made > b.made;
    if (a.counter != b.counter) return a.counter > b.counter;
    return a.name > b.name;
  });
  // ... then the two merged, each keeping its order: a plain backup goes
  // before the first generation made before it.
  std::vector<backup_entry> merged;
  merged.reserve(backups.size());
  for (std::size_t first = 0; first < backups.size();) {
    std::size_t plain = first, last = first;
    while (last < backups.size() && backups[last].group() == backups[first].group()) {
      if (backups[last].generation) plain = last + 1;
      ++last;
    }
    std::size_t g = first, p = plain;
    while (g < plain || p < last) {
      if (p == last || (g < plain && !(when_made(backups[p]) > when_made(backups[g]))))
        merged.push_back(std::move(backups[g++]));
      else
        merged.push_back(std::move(backups[p++]));
    }
    first = last;
  }
  backups = std::move(merged);
}

backup_keep::backup_keep(const housekeep_options& opts, stamp now) : newest_(opts.keep_newest.value_or(1)) {
  if (opts.older_than) cutoff_ = cutoff(now, opts.older_than->seconds(std::chrono::hours(24)).count());
}

std::string backup_keep::why(std::uint64_t rank, const backup_entry& b) const {
  std::string text = rank < newest_
                         ? (newest_ == 1 ? "the newest backup of " : "one of the " + std::to_string(newest_) +
                                                                         " newest backups of ") +
                               std::string(b.group())
                         : "made within --older-than";
  if (b.reading) text += std::string(" (") + b.reading + ")";
  return text;
}

}  // namespace mutx::detail
