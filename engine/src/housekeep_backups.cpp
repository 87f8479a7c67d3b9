#include "housekeep_backups.hpp"

#include "mutx/names.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <utility>

namespace mutx::detail {

namespace {

// A timestamped backup's ctime against the time in its name. The writer
// takes the time just before it renames the backup into place (a copy is
// complete and synced by then), and the commit that follows moves the old
// inode's ctime once more (its link count drops): milliseconds after the
// stamp on a local disk. The window allows the filesystem's clock to be a
// minute behind the writer's (NFS: the server sets the ctime) and ten
// minutes between the stamp and the commit (a slow directory sync).
constexpr std::int64_t stamp_before = 60;
constexpr std::int64_t stamp_after = 600;

// A backup made at `made` (its ctime) whose name says `b`: true when the
// name's time, read as UTC (mutx's names) or as local time at `made` (the
// names of earlier mutx), lies where the writer would have taken it.
bool name_matches_ctime(const parsed_backup_name& b, std::int64_t made) noexcept {
  auto within = [&](std::int64_t name_epoch) {
    return made >= name_epoch - stamp_before && made <= name_epoch + stamp_after;
  };
  if (within(b.epoch_utc)) return true;
  const std::time_t t = static_cast<std::time_t>(made);
  std::tm tm{};
  if (::localtime_r(&t, &tm) == nullptr || tm.tm_gmtoff == 0) return false;
  return within(b.epoch_utc - tm.tm_gmtoff);
}

}  // namespace

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
    } else if (!name_matches_ctime(b, be.made.sec)) {
      be.reading = "a plain backup: its ctime is not the time in its name";
    } else {
      be.group_size = b.original.size();
      be.counter = b.counter;
    }
  }
  be.name = std::move(name);  // last: `b` views it
  return be;
}

void order_backups(std::vector<backup_entry>& backups) {
  // Newest first: when made, then the generation counter (two in one
  // second), then the name.
  std::sort(backups.begin(), backups.end(), [](const backup_entry& a, const backup_entry& b) {
    if (auto c = a.group() <=> b.group(); c != 0) return c < 0;
    if (a.made != b.made) return a.made > b.made;
    if (a.counter != b.counter) return a.counter > b.counter;
    return a.name > b.name;
  });
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
