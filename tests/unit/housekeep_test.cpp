#include "mutx/housekeep.hpp"

#include "mutx/lock.hpp"

#define BOOST_TEST_MODULE housekeep
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Each case runs in a fresh temp directory, removed afterwards.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "mutx-housekeep-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }

  std::string operator/(const std::string& name) const { return (path / name).string(); }
  void write(const std::string& name, const std::string& content = {}) const {
    std::ofstream(path / name, std::ios::binary) << content;
  }
  bool exists(const std::string& name) const { return fs::exists(fs::symlink_status(path / name)); }
  // Set the mtime to `age` before now.
  void age(const std::string& name, std::chrono::seconds age) const {
    struct timespec times[2];
    ::clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= age.count();
    times[1] = times[0];
    BOOST_REQUIRE(::utimensat(AT_FDCWD, (path / name).c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
  }
};

struct run_result {
  mutx::housekeep_result totals;
  std::vector<std::string> deleted;  // paths relative to the temp dir
  std::vector<std::string> skipped;
  std::vector<std::string> failed;
};

run_result run(const temp_dir& dir, mutx::housekeep_options opts) {
  run_result r;
  opts.report_skipped = true;
  const std::string root = dir.path.string();
  auto rel = [&](const std::string& p) { return p.substr(root.size() + 1); };
  r.totals = mutx::housekeep(root, opts, [&](const mutx::housekeep_event& ev) {
    switch (ev.what) {
      case mutx::housekeep_event::type::deleted: r.deleted.push_back(rel(ev.path)); break;
      case mutx::housekeep_event::type::skipped: r.skipped.push_back(rel(ev.path)); break;
      case mutx::housekeep_event::type::failed: r.failed.push_back(ev.message); break;
    }
  });
  return r;
}

mutx::housekeep_options locks_only() {
  mutx::housekeep_options o;
  o.locks = true;
  return o;
}
mutx::housekeep_options temps_only() {
  mutx::housekeep_options o;
  o.temps = true;
  return o;
}
mutx::housekeep_options backups_only() {
  mutx::housekeep_options o;
  o.backups = true;
  return o;
}

using names = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(age_limit)

BOOST_AUTO_TEST_CASE(units_and_bare_numbers) {
  BOOST_TEST(mutx::parse_age_limit("30s")->seconds(1h).count() == 30);
  BOOST_TEST(mutx::parse_age_limit("15m")->seconds(1h).count() == 900);
  BOOST_TEST(mutx::parse_age_limit("2h")->seconds(24h).count() == 7200);
  BOOST_TEST(mutx::parse_age_limit("7d")->seconds(1h).count() == 7 * 86400);
  BOOST_TEST(mutx::parse_age_limit("1w")->seconds(1h).count() == 7 * 86400);
  BOOST_TEST(mutx::parse_age_limit("0")->seconds(1h).count() == 0);
  // A bare number takes the unit of what it is applied to.
  BOOST_TEST(mutx::parse_age_limit("3")->seconds(1h).count() == 3 * 3600);
  BOOST_TEST(mutx::parse_age_limit("3")->seconds(24h).count() == 3 * 86400);
}

BOOST_AUTO_TEST_CASE(rejects_what_is_not_a_duration) {
  for (const char* bad : {"", "abc", "-5", "+5", "5x", "5H", "1.5h", " 5", "5 ", "h", "5hh", "5s5",
                          "99999999999999999999", "9223372036854775807", "106751991167301d"})
    BOOST_TEST(!mutx::parse_age_limit(bad).has_value(), "accepted '" << bad << "'");
}

BOOST_AUTO_TEST_CASE(largest_bare_number_still_fits_as_days) {
  const auto limit = mutx::parse_age_limit("106751991167300");
  BOOST_REQUIRE(limit.has_value());
  BOOST_TEST(limit->seconds(24h).count() > 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(backup_name)

BOOST_AUTO_TEST_CASE(plain_timestamped_and_counted) {
  auto plain = mutx::parse_backup_name("config.json.backup", ".backup");
  BOOST_REQUIRE(plain);
  BOOST_TEST(plain->original == "config.json");
  BOOST_TEST(!plain->timestamped);

  auto ts = mutx::parse_backup_name("config.json.20240131-235959.backup", ".backup");
  BOOST_REQUIRE(ts);
  BOOST_TEST(ts->original == "config.json");
  BOOST_TEST(ts->timestamped);
  BOOST_TEST(ts->year == 2024);
  BOOST_TEST(ts->month == 1);
  BOOST_TEST(ts->day == 31);
  BOOST_TEST(ts->hour == 23);
  BOOST_TEST(ts->minute == 59);
  BOOST_TEST(ts->second == 59);
  BOOST_TEST(ts->counter == -1);

  auto counted = mutx::parse_backup_name("a.20240131-235959_0012.backup", ".backup");
  BOOST_REQUIRE(counted);
  BOOST_TEST(counted->original == "a");
  BOOST_TEST(counted->counter == 12);
}

BOOST_AUTO_TEST_CASE(look_alikes_are_not_backups) {
  for (const char* name : {"notes.bakery.txt", "backup.md", "x.backup.old", "a.2024-backup", ".backup", "backup"})
    BOOST_TEST(!mutx::parse_backup_name(name, ".backup").has_value(), name);
}

BOOST_AUTO_TEST_CASE(malformed_timestamp_makes_a_plain_backup) {
  auto b = mutx::parse_backup_name("a.20241301-000000.backup", ".backup");
  BOOST_REQUIRE(b);
  BOOST_TEST(!b->timestamped);
  BOOST_TEST(b->original == "a.20241301-000000");
  auto short_counter = mutx::parse_backup_name("a.20240101-000000_12.backup", ".backup");
  BOOST_REQUIRE(short_counter);
  BOOST_TEST(!short_counter->timestamped);
}

BOOST_AUTO_TEST_CASE(other_suffix) {
  auto b = mutx::parse_backup_name("a.20240101-120000.bak", ".bak");
  BOOST_REQUIRE(b);
  BOOST_TEST(b->original == "a");
  BOOST_TEST(!mutx::parse_backup_name("a.20240101-120000.backup", ".bak").has_value());
  BOOST_TEST(!mutx::parse_backup_name("a.bak", "").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(temp_name)

BOOST_AUTO_TEST_CASE(names_the_target) {
  BOOST_TEST(*mutx::parse_temp_name(".config.json.mutx-a1B2c3") == "config.json");
  BOOST_TEST(*mutx::parse_temp_name(".x.mutx-y.mutx-z") == "x.mutx-y");
  for (const char* name : {"config.json.mutx-abc", ".mutx-abc", "..mutx-", ".a.mutx-", ".a.mutx"})
    BOOST_TEST(!mutx::parse_temp_name(name).has_value(), name);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(housekeep_locks)

BOOST_AUTO_TEST_CASE(orphan_is_deleted_and_reported) {
  temp_dir d;
  d.write("a.lock");
  auto r = run(d, locks_only());
  BOOST_TEST(r.deleted == names{"a.lock"});
  BOOST_TEST(r.totals.locks == 1u);
  BOOST_TEST(!d.exists("a.lock"));
}

BOOST_AUTO_TEST_CASE(held_lock_stays) {
  temp_dir d;
  d.write("held.lock");
  const mutx::unique_fd dfd(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  mutx::lock_file holder;
  BOOST_REQUIRE(holder.try_acquire(dfd.get(), "held.lock", 0644, false, "held.lock") ==
                mutx::lock_file::attempt::acquired);
  auto r = run(d, locks_only());
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(r.skipped == names{"held.lock"});
  BOOST_TEST(d.exists("held.lock"));
  holder.close_only();
  BOOST_TEST(run(d, locks_only()).deleted == names{"held.lock"});
}

BOOST_AUTO_TEST_CASE(other_programs_locks_and_symlinks_stay) {
  temp_dir d;
  temp_dir outside;
  d.write("Cargo.lock", "# cargo\n");
  d.write("yarn.lock", "# yarn\n");
  outside.write("target");
  fs::create_symlink(outside / "target", d / "x.lock");
  fs::create_directory(d / "dir.lock");
  auto r = run(d, locks_only());
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(r.failed.empty());
  for (const char* name : {"Cargo.lock", "yarn.lock", "x.lock", "dir.lock"}) BOOST_TEST(d.exists(name), name);
  BOOST_TEST(outside.exists("target"));
}

BOOST_AUTO_TEST_CASE(dry_run_changes_nothing) {
  temp_dir d;
  d.write("a.lock");
  auto o = locks_only();
  o.dry_run = true;
  auto r = run(d, o);
  BOOST_TEST(r.deleted == names{"a.lock"});
  BOOST_TEST(d.exists("a.lock"));
}

BOOST_AUTO_TEST_CASE(older_than_uses_the_mtime_and_bare_means_hours) {
  temp_dir d;
  d.write("old.lock");
  d.write("new.lock");
  d.age("old.lock", 3h);
  d.age("new.lock", 1h);
  auto o = locks_only();
  o.older_than = mutx::parse_age_limit("2");
  BOOST_TEST(run(d, o).deleted == names{"old.lock"});
  BOOST_TEST(d.exists("new.lock"));
}

BOOST_AUTO_TEST_CASE(subdirectories_only_with_recursive) {
  temp_dir d;
  fs::create_directories(d.path / "sub" / "deeper");
  d.write("sub/deeper/x.lock");
  BOOST_TEST(run(d, locks_only()).deleted.empty());
  auto o = locks_only();
  o.recursive = true;
  BOOST_TEST(run(d, o).deleted == names{"sub/deeper/x.lock"});
}

BOOST_AUTO_TEST_CASE(symlinked_directory_is_not_followed) {
  temp_dir d;
  temp_dir outside;
  outside.write("victim.lock");
  fs::create_directory_symlink(outside.path, d / "link");
  auto o = locks_only();
  o.recursive = true;
  auto r = run(d, o);
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(outside.exists("victim.lock"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(housekeep_temps)

BOOST_AUTO_TEST_CASE(stale_temp_waits_for_its_lock) {
  temp_dir d;
  d.write(".data.mutx-abc123", "half written");
  d.age(".data.mutx-abc123", 2h);
  d.write("data.lock");
  const mutx::unique_fd dfd(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  mutx::lock_file holder;
  BOOST_REQUIRE(holder.try_acquire(dfd.get(), "data.lock", 0644, false, "data.lock") ==
                mutx::lock_file::attempt::acquired);
  BOOST_TEST(run(d, temps_only()).deleted.empty());
  BOOST_TEST(d.exists(".data.mutx-abc123"));
  holder.release();
  auto r = run(d, temps_only());
  BOOST_TEST(r.deleted == names{".data.mutx-abc123"});
  BOOST_TEST(r.totals.bytes_freed == 12u);
  BOOST_TEST(!d.exists(".data.mutx-abc123"));
  BOOST_TEST(!d.exists("data.lock"));  // the one housekeep made is gone again
}

BOOST_AUTO_TEST_CASE(young_temp_stays_by_default) {
  temp_dir d;
  d.write(".data.mutx-abc123");
  d.age(".data.mutx-abc123", 30min);
  BOOST_TEST(run(d, temps_only()).deleted.empty());
  auto o = temps_only();
  o.older_than = mutx::parse_age_limit("15m");
  BOOST_TEST(run(d, o).deleted == names{".data.mutx-abc123"});
}

BOOST_AUTO_TEST_CASE(existing_orphan_lock_is_left_to_the_lock_pass) {
  temp_dir d;
  d.write(".data.mutx-abc123");
  d.age(".data.mutx-abc123", 2h);
  d.write("data.lock");
  BOOST_TEST(run(d, temps_only()).deleted == names{".data.mutx-abc123"});
  BOOST_TEST(d.exists("data.lock"));
}

BOOST_AUTO_TEST_CASE(fresh_hard_link_with_an_old_mtime_stays) {
  // What a backup in progress looks like in a --backup-dir.
  temp_dir d;
  d.write("target", "old content");
  d.age("target", 48h);
  fs::create_hard_link(d / "target", d / ".target.mutx-abc123");
  BOOST_TEST(run(d, temps_only()).deleted.empty());
  BOOST_TEST(d.exists(".target.mutx-abc123"));
}

BOOST_AUTO_TEST_CASE(dry_run_creates_no_lock_file) {
  temp_dir d;
  d.write(".data.mutx-abc123");
  d.age(".data.mutx-abc123", 2h);
  auto o = temps_only();
  o.dry_run = true;
  BOOST_TEST(run(d, o).deleted == names{".data.mutx-abc123"});
  BOOST_TEST(d.exists(".data.mutx-abc123"));
  BOOST_TEST(!d.exists("data.lock"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(housekeep_backups)

BOOST_AUTO_TEST_CASE(default_keeps_the_newest_generation) {
  temp_dir d;
  for (const char* n : {"a.20240101-120000.backup", "a.20240101-120000_001.backup", "a.20231231-235959.backup",
                        "b.20200101-000000.backup", "notes.bakery.txt", "backup.md", "x.backup.old",
                        "a.2024-backup"})
    d.write(n);
  auto r = run(d, backups_only());
  std::sort(r.deleted.begin(), r.deleted.end());
  BOOST_TEST(r.deleted == (names{"a.20231231-235959.backup", "a.20240101-120000.backup"}));
  for (const char* n : {"a.20240101-120000_001.backup", "b.20200101-000000.backup", "notes.bakery.txt",
                        "backup.md", "x.backup.old", "a.2024-backup"})
    BOOST_TEST(d.exists(n), n);
}

BOOST_AUTO_TEST_CASE(plain_backup_counts_by_mtime) {
  temp_dir d;
  d.write("a.backup");
  d.write("a.20000101-000000.backup");  // year 2000: older than the plain one's mtime
  auto r = run(d, backups_only());
  BOOST_TEST(r.deleted == names{"a.20000101-000000.backup"});
  BOOST_TEST(d.exists("a.backup"));
}

BOOST_AUTO_TEST_CASE(older_than_alone_and_with_keep_newest) {
  temp_dir d;
  d.write("a.backup");
  d.age("a.backup", 30 * 24h);
  auto o = backups_only();
  o.older_than = mutx::parse_age_limit("7d");
  o.keep_newest = 1;
  BOOST_TEST(run(d, o).deleted.empty());  // the newest always stays
  o.keep_newest.reset();
  BOOST_TEST(run(d, o).deleted == names{"a.backup"});
}

BOOST_AUTO_TEST_CASE(age_from_the_name_and_a_bare_number_means_days) {
  temp_dir d;
  d.write("a.20240101-000000.backup");
  d.write("a.20240110-000000.backup");
  d.write("a.20240120-000000.backup");
  auto o = backups_only();
  o.older_than = mutx::parse_age_limit("15");
  std::tm tm{};
  tm.tm_year = 124;
  tm.tm_mon = 0;
  tm.tm_mday = 21;
  tm.tm_isdst = -1;
  o.now = std::chrono::system_clock::from_time_t(std::mktime(&tm));
  BOOST_TEST(run(d, o).deleted == names{"a.20240101-000000.backup"});
}

BOOST_AUTO_TEST_CASE(symlinks_are_neither_deleted_nor_counted) {
  temp_dir d;
  temp_dir outside;
  outside.write("keep");
  fs::create_symlink(outside / "keep", d / "a.20990101-000000.backup");
  d.write("a.20240101-000000.backup");
  auto r = run(d, backups_only());
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(d.exists("a.20990101-000000.backup"));
  BOOST_TEST(outside.exists("keep"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(housekeep_root)

BOOST_AUTO_TEST_CASE(missing_file_and_symlink_roots_throw) {
  temp_dir d;
  d.write("file");
  fs::create_directory_symlink(d.path, d / "link");
  mutx::housekeep_options o = locks_only();
  BOOST_CHECK_THROW(mutx::housekeep(d / "missing", o, {}), mutx::error);
  BOOST_CHECK_THROW(mutx::housekeep(d / "file", o, {}), mutx::error);
  BOOST_CHECK_THROW(mutx::housekeep(d / "link", o, {}), mutx::error);
}

BOOST_AUTO_TEST_CASE(paths_join_the_root_as_given) {
  temp_dir d;
  d.write("a.lock");
  std::vector<std::string> paths;
  mutx::housekeep(d.path.string() + "//", locks_only(),
                  [&](const mutx::housekeep_event& ev) { paths.push_back(ev.path); });
  BOOST_TEST(paths == names{d / "a.lock"});
}

BOOST_AUTO_TEST_SUITE_END()
