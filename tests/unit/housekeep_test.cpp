#include "mutx/housekeep.hpp"  // first: the header stands alone

#include "mutx/lock.hpp"
#include "mutx/names.hpp"

#define BOOST_TEST_MODULE housekeep
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
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
  // Set the mtime (only: the kernel sets the ctime to now) to `age` ago.
  void age(const std::string& name, std::chrono::seconds age) const {
    struct timespec times[2];
    ::clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= age.count();
    times[1] = times[0];
    BOOST_REQUIRE(::utimensat(AT_FDCWD, (path / name).c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
  }
};

// Open `name` to hold a lock on it (O_RDWR: fcntl write locks need it).
mutx::unique_fd open_rw(const temp_dir& d, const std::string& name) {
  mutx::unique_fd fd(::open((d / name).c_str(), O_RDWR | O_CLOEXEC));
  BOOST_REQUIRE(fd);
  return fd;
}

// A ctime cannot be set back; the clock can be set forward instead: every
// file made before this runs looks `age` old.
mutx::housekeep_options later(mutx::housekeep_options o, std::chrono::seconds age) {
  o.now = std::chrono::system_clock::now() + age;
  return o;
}

// File times come from the kernel's coarse clock (one tick, 4 ms at
// HZ=250): files made in one tick share a ctime. Tests that order backups
// by ctime wait out a tick between them.
void next_tick() { std::this_thread::sleep_for(20ms); }

struct run_result {
  mutx::housekeep_result totals;
  std::vector<std::string> deleted;  // paths relative to the temp dir
  std::vector<std::string> skipped;
  std::vector<std::string> why;      // the skipped ones' reasons
  std::vector<std::string> failed;
};

run_result run(const temp_dir& dir, mutx::housekeep_options opts) {
  run_result r;
  opts.report_skipped = true;
  const std::string root = dir.path.string();
  auto rel = [&](const std::string& p) { return p.size() > root.size() ? p.substr(root.size() + 1) : "."; };
  r.totals = mutx::housekeep(root, opts, [&](const mutx::housekeep_event& ev) {
    switch (ev.what) {
      case mutx::housekeep_event::type::deleted: r.deleted.push_back(rel(ev.path)); break;
      case mutx::housekeep_event::type::skipped:
        r.skipped.push_back(rel(ev.path));
        r.why.push_back(ev.message);
        break;
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

// A child process holding a POSIX (lockf) lock on a file until destroyed:
// a process's own POSIX locks never conflict with themselves.
class posix_holder {
 public:
  explicit posix_holder(const std::string& path) {
    int ready[2], done[2];
    BOOST_REQUIRE(::pipe(ready) == 0 && ::pipe(done) == 0);
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(done[1]);  // else the read below never sees the parent's close
      const int fd = ::open(path.c_str(), O_RDWR);
      char c = (fd >= 0 && ::lockf(fd, F_LOCK, 0) == 0) ? 'y' : 'n';
      (void)!::write(ready[1], &c, 1);
      (void)!::read(done[0], &c, 1);
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(done[0]);
    release_ = done[1];
    char c = 0;
    BOOST_REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
    BOOST_REQUIRE(c == 'y');
  }
  ~posix_holder() {
    ::close(release_);
    ::waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
  int release_ = -1;
};

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

// The names housekeep asks names.hpp about (names_test.cpp has the grammar).
BOOST_AUTO_TEST_SUITE(names_as_housekeep_reads_them)

BOOST_AUTO_TEST_CASE(a_timestamped_name_has_two_readings) {
  auto ts = mutx::parse_backup_name("dump.20250101-120000.backup", ".backup");
  BOOST_REQUIRE(ts);
  BOOST_TEST(ts->timestamped);
  BOOST_TEST(ts->original == "dump");                  // a generation of dump
  BOOST_TEST(ts->stem == "dump.20250101-120000");      // or the backup of this file
  BOOST_TEST(ts->epoch_utc == 1735732800);             // 2025-01-01 12:00:00 UTC
  auto counted = mutx::parse_backup_name("a.20240131-235959_0012.backup", ".backup");
  BOOST_REQUIRE(counted);
  BOOST_TEST(counted->original == "a");
  BOOST_TEST(counted->counter == 12);
}

BOOST_AUTO_TEST_CASE(look_alikes_are_not_backups_locks_or_temps) {
  for (const char* name : {"notes.bakery.txt", "backup.md", "x.backup.old", "a.2024-backup", ".backup", "backup"})
    BOOST_TEST(!mutx::parse_backup_name(name, ".backup").has_value(), name);
  auto malformed = mutx::parse_backup_name("a.20241301-000000.backup", ".backup");
  BOOST_REQUIRE(malformed);
  BOOST_TEST(!malformed->timestamped);
  BOOST_TEST(malformed->original == "a.20241301-000000");
  BOOST_TEST(*mutx::parse_lock_name("config.json.lock") == "config.json");
  BOOST_TEST(!mutx::parse_lock_name(".lock").has_value());
  BOOST_TEST(*mutx::parse_temp_name(".config.json.mutx-0") == "config.json");
  BOOST_TEST(*mutx::parse_temp_name(".x.mutx-y.mutx-abcdefghij12") == "x.mutx-y");
  // The loose names earlier housekeep took for temps.
  for (const char* name : {".config.json.mutx-a1B2c3", ".data.mutx-abc123", "config.json.mutx-abc", ".a.mutx-"})
    BOOST_TEST(!mutx::parse_temp_name(name).has_value(), name);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(housekeep_locks)

BOOST_AUTO_TEST_CASE(orphan_beside_its_file_is_deleted_once_untouched_for_an_hour) {
  temp_dir d;
  d.write("a");
  d.write("a.lock");
  BOOST_TEST(run(d, locks_only()).deleted.empty());  // made just now
  auto r = run(d, later(locks_only(), 61min));
  BOOST_TEST(r.deleted == names{"a.lock"});
  BOOST_TEST(r.totals.locks == 1u);
  BOOST_TEST(!d.exists("a.lock"));
  BOOST_TEST(d.exists("a"));
}

BOOST_AUTO_TEST_CASE(a_fresh_lock_stays_even_with_an_old_mtime) {
  // `set -C; : > x.lock` seconds ago, or a lock file restored by `cp -p`.
  temp_dir d;
  d.write("x");
  d.write("x.lock");
  d.age("x.lock", 48h);
  auto r = run(d, locks_only());
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(r.why == names{"touched within the last hour"});
  // --older-than overrides the hour (a bare number is hours).
  auto o = locks_only();
  o.older_than = mutx::parse_age_limit("2");
  BOOST_TEST(run(d, later(o, 1h)).deleted.empty());
  BOOST_TEST(run(d, later(o, 3h)).deleted == names{"x.lock"});
}

BOOST_AUTO_TEST_CASE(a_lock_without_its_file_beside_it_stays) {
  temp_dir d;
  d.write("xtables.lock");
  d.write("parent.lock");
  fs::create_directory(d.path / "dir");
  d.write("dir.lock");  // NAME may be any kind of file
  auto r = run(d, later(locks_only(), 48h));
  BOOST_TEST(r.deleted == names{"dir.lock"});
  BOOST_TEST(d.exists("xtables.lock"));
  BOOST_TEST(d.exists("parent.lock"));
}

BOOST_AUTO_TEST_CASE(held_by_flock_stays) {
  temp_dir d;
  d.write("held");
  d.write("held.lock");
  const mutx::unique_fd dfd(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  mutx::lock_file holder;
  BOOST_REQUIRE(holder.try_acquire(dfd.get(), "held.lock", 0644, false, "held.lock") ==
                mutx::lock_file::attempt::acquired);
  auto r = run(d, later(locks_only(), 2h));
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(r.why == names{"held by another process (flock)"});
  BOOST_TEST(d.exists("held.lock"));
  holder.close_only();
  BOOST_TEST(run(d, later(locks_only(), 2h)).deleted == names{"held.lock"});
}

BOOST_AUTO_TEST_CASE(held_by_a_posix_lock_stays) {
  // flock(2) does not see lockf(3)/fcntl locks: housekeep's own flock
  // succeeds on this file, and earlier housekeep deleted it.
  temp_dir d;
  d.write("posix");
  d.write("posix.lock");
  {
    posix_holder holder(d / "posix.lock");
    auto r = run(d, later(locks_only(), 2h));
    BOOST_TEST(r.deleted.empty());
    BOOST_REQUIRE(r.why.size() == 1u);
    BOOST_TEST(r.why[0].starts_with("held by another process (fcntl lock, pid "), r.why[0]);
    BOOST_TEST(d.exists("posix.lock"));
  }
  BOOST_TEST(run(d, later(locks_only(), 2h)).deleted == names{"posix.lock"});
}

BOOST_AUTO_TEST_CASE(held_by_an_ofd_lock_stays) {
  temp_dir d;
  d.write("ofd");
  d.write("ofd.lock");
  {
    const mutx::unique_fd fd = open_rw(d, "ofd.lock");
    struct flock fl{};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    BOOST_REQUIRE(::fcntl(fd.get(), F_OFD_SETLK, &fl) == 0);
    auto r = run(d, later(locks_only(), 2h));
    BOOST_TEST(r.deleted.empty());
    BOOST_TEST(r.why == names{"held by another process (open file description lock)"});
  }
  BOOST_TEST(run(d, later(locks_only(), 2h)).deleted == names{"ofd.lock"});
}

BOOST_AUTO_TEST_CASE(other_tools_locks_and_non_mutx_files_stay) {
  temp_dir d;
  temp_dir outside;
  // Each beside its NAME, empty where it could be, and old: only the name
  // or the content tells them apart from a mutx lock file.
  for (const char* n : {".rpm", "Gemfile", "flake", "Cargo", "yarn", "MODULE.bazel", "x", "y", "fifo"}) d.write(n);
  for (const char* n : {".rpm.lock", "Gemfile.lock", "FLAKE.LOCK", "MODULE.bazel.lock"}) d.write(n);
  d.write("Cargo.lock", "# cargo\n");
  d.write("yarn.lock", "# yarn\n");
  outside.write("target");
  fs::create_symlink(outside / "target", d / "x.lock");
  fs::create_directory(d / "y.lock");
  BOOST_REQUIRE(::mkfifo((d / "fifo.lock").c_str(), 0644) == 0);
  auto o = later(locks_only(), 48h);
  o.older_than = mutx::parse_age_limit("0");
  auto r = run(d, o);
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(r.failed.empty());
  for (const char* n : {".rpm.lock", "Gemfile.lock", "FLAKE.LOCK", "MODULE.bazel.lock", "Cargo.lock", "yarn.lock",
                        "x.lock", "y.lock", "fifo.lock"})
    BOOST_TEST(d.exists(n), n);
  BOOST_TEST(outside.exists("target"));
}

BOOST_AUTO_TEST_CASE(git_directories_are_never_touched) {
  temp_dir d;
  // A work tree's .git, and a bare repository under another name.
  for (const char* repo : {"work/.git", "bare.git"}) {
    fs::create_directories(d.path / repo / "objects");
    fs::create_directories(d.path / repo / "refs" / "heads");
    for (const char* n : {"HEAD", "index", "index.lock", "config", "config.lock", "refs/heads/main",
                          "refs/heads/main.lock"})
      d.write(std::string(repo) + "/" + n);
  }
  d.write("work/file");
  d.write("work/file.lock");
  auto o = later(locks_only(), 48h);
  o.recursive = true;
  auto r = run(d, o);
  BOOST_TEST(r.deleted == names{"work/file.lock"});
  for (const char* repo : {"work/.git", "bare.git"})
    for (const char* n : {"index.lock", "config.lock", "refs/heads/main.lock"})
      BOOST_TEST(d.exists(std::string(repo) + "/" + n), repo << "/" << n);
  // Named as DIR, or a directory inside one: nothing there is touched.
  for (const char* root : {"work/.git", "work/.git/refs/heads", "bare.git", "bare.git/refs"}) {
    std::vector<std::string> deleted;
    mutx::housekeep(d / root, o, [&](const mutx::housekeep_event& ev) {
      if (ev.what == mutx::housekeep_event::type::deleted) deleted.push_back(ev.path);
    });
    BOOST_TEST(deleted.empty(), root);
  }
  BOOST_TEST(d.exists("work/.git/index.lock"));
  BOOST_TEST(d.exists("bare.git/refs/heads/main.lock"));
}

BOOST_AUTO_TEST_CASE(dry_run_changes_nothing_and_predicts_the_run) {
  temp_dir d;
  // a.lock.lock's NAME is a.lock, which the same run removes first: the
  // real run keeps a.lock.lock, so the dry run must say so too.
  for (const char* n : {"a", "a.lock", "a.lock.lock"}) d.write(n);
  auto o = later(locks_only(), 2h);
  o.dry_run = true;
  auto dry = run(d, o);
  BOOST_TEST(dry.deleted == names{"a.lock"});
  BOOST_TEST(d.exists("a.lock"));
  o.dry_run = false;
  BOOST_TEST(run(d, o).deleted == dry.deleted);
  BOOST_TEST(d.exists("a.lock.lock"));
}

BOOST_AUTO_TEST_CASE(subdirectories_only_with_recursive) {
  temp_dir d;
  fs::create_directories(d.path / "sub" / "deeper");
  d.write("sub/deeper/x");
  d.write("sub/deeper/x.lock");
  BOOST_TEST(run(d, later(locks_only(), 2h)).deleted.empty());
  auto o = later(locks_only(), 2h);
  o.recursive = true;
  BOOST_TEST(run(d, o).deleted == names{"sub/deeper/x.lock"});
}

BOOST_AUTO_TEST_CASE(symlinked_directory_is_not_followed) {
  temp_dir d;
  temp_dir outside;
  outside.write("victim");
  outside.write("victim.lock");
  fs::create_directory_symlink(outside.path, d / "link");
  auto o = later(locks_only(), 2h);
  o.recursive = true;
  auto r = run(d, o);
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(outside.exists("victim.lock"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(housekeep_temps)

BOOST_AUTO_TEST_CASE(a_claimed_temp_stays_whatever_its_age_and_lock) {
  // A writer claims its temp with a shared flock; with --lock-file its
  // NAME.lock is free (earlier housekeep took that and deleted the temp).
  temp_dir d;
  d.write(".data.mutx-0", "streaming");
  d.age(".data.mutx-0", 2h);
  auto o = later(temps_only(), 2h);
  o.older_than = mutx::parse_age_limit("0");
  {
    const mutx::unique_fd writer = open_rw(d, ".data.mutx-0");
    BOOST_REQUIRE(::flock(writer.get(), LOCK_SH) == 0);
    auto r = run(d, o);
    BOOST_TEST(r.deleted.empty());
    BOOST_TEST(r.why == names{"held by a live writer"});
    BOOST_TEST(d.exists(".data.mutx-0"));
    BOOST_TEST(!d.exists("data.lock"));  // no lock file made to decide
  }
  auto r = run(d, o);
  BOOST_TEST(r.deleted == names{".data.mutx-0"});
  BOOST_TEST(r.totals.bytes_freed == 9u);
}

BOOST_AUTO_TEST_CASE(a_copied_backup_temp_with_an_old_mtime_stays) {
  // What a copy into a --backup-dir on another filesystem looks like: the
  // old file's times, a ctime of now, one link.
  temp_dir d;
  d.write(".target.mutx-abcdefghij12", "old content");
  d.age(".target.mutx-abcdefghij12", 48h);
  auto r = run(d, temps_only());
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(r.why == names{"touched within the last hour"});
  BOOST_TEST(run(d, later(temps_only(), 2h)).deleted == names{".target.mutx-abcdefghij12"});
}

BOOST_AUTO_TEST_CASE(a_fresh_hard_link_with_an_old_mtime_stays) {
  // A linked backup in progress.
  temp_dir d;
  d.write("target", "old content");
  d.age("target", 48h);
  fs::create_hard_link(d / "target", d / ".target.mutx-1");
  BOOST_TEST(run(d, temps_only()).deleted.empty());
  BOOST_TEST(d.exists(".target.mutx-1"));
}

BOOST_AUTO_TEST_CASE(young_temp_stays_by_default_and_older_than_decides) {
  temp_dir d;
  d.write(".data.mutx-2");
  BOOST_TEST(run(d, later(temps_only(), 30min)).deleted.empty());
  auto o = later(temps_only(), 30min);
  o.older_than = mutx::parse_age_limit("15m");
  BOOST_TEST(run(d, o).deleted == names{".data.mutx-2"});
}

BOOST_AUTO_TEST_CASE(look_alikes_and_symlinks_stay) {
  temp_dir d;
  temp_dir outside;
  outside.write("secret");
  for (const char* n : {".data.mutx-abc123", ".data.mutx-4", ".data.mutx-ABCDEFGHIJKL", "data.mutx-0"}) d.write(n);
  fs::create_symlink(outside / "secret", d / ".link.mutx-0");
  fs::create_directory(d / ".dir.mutx-1");
  auto o = later(temps_only(), 48h);
  o.older_than = mutx::parse_age_limit("0");
  auto r = run(d, o);
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(r.failed.empty());
  for (const char* n : {".data.mutx-abc123", ".data.mutx-4", ".data.mutx-ABCDEFGHIJKL", "data.mutx-0", ".link.mutx-0",
                        ".dir.mutx-1"})
    BOOST_TEST(d.exists(n), n);
  BOOST_TEST(outside.exists("secret"));
}

// A temp named after a writer's etcd lease: on a local filesystem too (the
// share's server, where no client's flock shows), the flock claim is not
// enough. Without a lock URL it stays; with one that no etcd answers, it
// is an error and stays. (Against a real cluster: tests/etcd/
// etcd_lease_temps.sh.)
BOOST_AUTO_TEST_CASE(a_lease_named_temp_needs_etcd) {
  temp_dir d;
  const std::string temp = mutx::lease_temp_name("data", 0x694d8a4b8a2b6c0e);
  const std::string copy = mutx::lease_check_name("app.conf", 0x694d8a4b8a2b6c0e);
  d.write(temp, "staged");
  d.write(copy, "copy");
  auto o = later(temps_only(), 48h);
  o.older_than = mutx::parse_age_limit("0");
  auto r = run(d, o);
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(r.failed.empty());
  BOOST_REQUIRE(r.why.size() == 2u);
  BOOST_TEST(r.why[0].starts_with("named after etcd lease 694d8a4b8a2b6c0e: a writer on any host"));
  BOOST_TEST(r.why[1].ends_with("pass --lock-url to ask etcd whether that lease is gone"));

  // A port nobody listens on: refused at once. Asked once for the run.
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  BOOST_REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  BOOST_REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const std::string port = std::to_string(ntohs(a.sin_port));
  ::close(s);
  o.lock_url = "etcd://127.0.0.1:" + port;
  r = run(d, o);
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(r.totals.errors == 2u);
  BOOST_REQUIRE(r.failed.size() == 2u);
  BOOST_TEST(r.failed[0].starts_with("cannot reach etcd at 127.0.0.1:" + port + ": "));
  BOOST_TEST(r.failed[0].ends_with(d / copy + " (named after etcd lease 694d8a4b8a2b6c0e) was kept"));
  BOOST_TEST(r.failed[1].ends_with(d / temp + " (named after etcd lease 694d8a4b8a2b6c0e) was kept"));
  BOOST_TEST(d.exists(temp));
  BOOST_TEST(d.exists(copy));

  // A bad URL is refused before anything is looked at.
  o.lock_url = "http://127.0.0.1:2379";
  BOOST_CHECK_THROW(run(d, o), mutx::error);
}

BOOST_AUTO_TEST_CASE(dry_run_changes_nothing) {
  temp_dir d;
  d.write(".data.mutx-3");
  auto o = later(temps_only(), 2h);
  o.dry_run = true;
  BOOST_TEST(run(d, o).deleted == names{".data.mutx-3"});
  BOOST_TEST(d.exists(".data.mutx-3"));
  BOOST_TEST(!d.exists("data.lock"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(housekeep_backups)

BOOST_AUTO_TEST_CASE(generations_go_newest_first_by_when_they_were_made) {
  // Proven generations: names of the time they are made, as the writer
  // gives them. Two in one second order by counter; the ctime decides
  // between seconds.
  temp_dir d;
  const std::time_t now = std::time(nullptr);
  const std::string g1 = mutx::timestamped_backup_name("a", now, 0, ".backup");
  const std::string g2 = mutx::timestamped_backup_name("a", now, 1, ".backup");
  const std::string g3 = mutx::timestamped_backup_name("a", now, 2, ".backup");
  const std::string other = mutx::timestamped_backup_name("b", now, 0, ".backup");
  for (const std::string& n : {g1, g2, g3, other}) {
    d.write(n);
    next_tick();
  }
  for (const char* n : {"notes.bakery.txt", "backup.md", "x.backup.old", "a.2024-backup"}) d.write(n);
  auto r = run(d, backups_only());
  BOOST_TEST(r.deleted == (names{g2, g1}));
  for (const std::string& n : {g3, other}) BOOST_TEST(d.exists(n), n);
  for (const char* n : {"notes.bakery.txt", "backup.md", "x.backup.old", "a.2024-backup"}) BOOST_TEST(d.exists(n), n);
}

BOOST_AUTO_TEST_CASE(a_date_named_files_plain_backup_is_its_own) {
  // dump.20250101-120000.backup is the backup of dump.20250101-120000 when
  // that file is there, and when its ctime is not the time in its name
  // (made now, named 2025): never a generation of dump to thin.
  temp_dir d;
  for (const char* n : {"dump.20250101-120000", "dump.20250101-120000.backup", "dump.20250102-120000.backup",
                        "dump.20250103-120000.backup"}) {
    d.write(n);
    next_tick();
  }
  auto r = run(d, backups_only());
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(r.skipped.size() == 3u);
  BOOST_TEST(r.why[0] == "the newest backup of dump.20250101-120000 (a plain backup: that file exists)");
  BOOST_TEST(r.why[1] ==
             "the newest backup of dump.20250102-120000 (a plain backup: its ctime is not the time in its name)");
  for (const char* n : {"dump.20250101-120000.backup", "dump.20250102-120000.backup", "dump.20250103-120000.backup"})
    BOOST_TEST(d.exists(n), n);
}

BOOST_AUTO_TEST_CASE(a_plain_backup_is_aged_by_when_it_was_made) {
  // A linked backup is the old file: its mtime is the old content's (ten
  // days here), but it was made just now.
  temp_dir d;
  d.write("app.conf.backup", "v1");
  d.age("app.conf.backup", 10 * 24h);
  auto o = backups_only();
  o.older_than = mutx::parse_age_limit("7d");
  o.keep_newest = 0;
  BOOST_TEST(run(d, o).deleted.empty());
  BOOST_TEST(d.exists("app.conf.backup"));
  BOOST_TEST(run(d, later(o, 8 * 24h)).deleted == names{"app.conf.backup"});
}

BOOST_AUTO_TEST_CASE(older_than_alone_keeps_the_newest) {
  temp_dir d;
  const std::time_t now = std::time(nullptr);
  const std::string older = mutx::timestamped_backup_name("a", now, 0, ".backup");
  d.write(older);
  next_tick();
  d.write("a.backup");  // plain and timestamped backups of one file count together
  auto o = backups_only();
  o.older_than = mutx::parse_age_limit("7d");
  auto r = run(d, later(o, 30 * 24h));
  BOOST_TEST(r.deleted == names{older});
  BOOST_TEST(r.why == names{"the newest backup of a"});
  BOOST_TEST(d.exists("a.backup"));
  o.keep_newest = 0;
  BOOST_TEST(run(d, later(o, 30 * 24h)).deleted == names{"a.backup"});
}

BOOST_AUTO_TEST_CASE(keep_newest_and_older_than_both_must_allow) {
  temp_dir d;
  const std::time_t now = std::time(nullptr);
  std::vector<std::string> gen;
  for (int i = 0; i < 4; ++i) {
    gen.push_back(mutx::timestamped_backup_name("f", now, i, ".backup"));
    d.write(gen.back());
    next_tick();
  }
  auto o = backups_only();
  o.keep_newest = 3;
  BOOST_TEST(run(d, o).deleted == names{gen[0]});
  o.keep_newest = 1;
  o.older_than = mutx::parse_age_limit("1");  // a bare number is days
  BOOST_TEST(run(d, later(o, 12h)).deleted.empty());
  BOOST_TEST(run(d, later(o, 36h)).deleted == (names{gen[2], gen[1]}));
  BOOST_TEST(d.exists(gen[3]));
}

BOOST_AUTO_TEST_CASE(local_time_names_of_earlier_mutx_are_generations_ordered_by_ctime) {
  // An earlier mutx under TZ=Asia/Tokyo named its backup in local time,
  // nine hours "ahead"; a later one names in UTC. By name the older looks
  // newer, and --keep-newest 1 deleted the newest backup.
  const char* saved = std::getenv("TZ");
  const std::string saved_tz = saved ? saved : "";
  ::setenv("TZ", "Asia/Tokyo", 1);
  ::tzset();
  temp_dir d;
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  const std::string old_name = std::string("conf.") + stamp + ".backup";
  d.write(old_name);
  next_tick();
  const std::string utc_name = mutx::timestamped_backup_name("conf", now, 1, ".backup");
  d.write(utc_name);
  BOOST_TEST((old_name > utc_name));
  auto r = run(d, backups_only());
  if (saved) ::setenv("TZ", saved_tz.c_str(), 1); else ::unsetenv("TZ");
  ::tzset();
  BOOST_TEST(r.deleted == names{old_name});
  BOOST_TEST(d.exists(utc_name));
}

BOOST_AUTO_TEST_CASE(symlinks_are_neither_deleted_nor_counted) {
  temp_dir d;
  temp_dir outside;
  outside.write("keep");
  const std::time_t now = std::time(nullptr);
  d.write(mutx::timestamped_backup_name("a", now, 0, ".backup"));
  next_tick();
  fs::create_symlink(outside / "keep", d / mutx::timestamped_backup_name("a", now, 1, ".backup"));
  auto r = run(d, backups_only());
  BOOST_TEST(r.deleted.empty());
  BOOST_TEST(d.exists(mutx::timestamped_backup_name("a", now, 1, ".backup")));
  BOOST_TEST(outside.exists("keep"));
}

BOOST_AUTO_TEST_CASE(only_the_given_suffix_counts) {
  temp_dir d;
  const std::time_t now = std::time(nullptr);
  for (const char* suffix : {".bak", ".backup"})
    for (int i = 0; i < 2; ++i) {
      d.write(mutx::timestamped_backup_name("h", now, i, suffix));
      next_tick();
    }
  auto o = backups_only();
  o.backup_suffix = ".bak";
  BOOST_TEST(run(d, o).deleted == names{mutx::timestamped_backup_name("h", now, 0, ".bak")});
  BOOST_TEST(d.exists(mutx::timestamped_backup_name("h", now, 0, ".backup")));
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
  d.write("a");
  d.write("a.lock");
  std::vector<std::string> paths;
  mutx::housekeep(d.path.string() + "//", later(locks_only(), 2h),
                  [&](const mutx::housekeep_event& ev) { paths.push_back(ev.path); });
  BOOST_TEST(paths == names{d / "a.lock"});
}

BOOST_AUTO_TEST_SUITE_END()
