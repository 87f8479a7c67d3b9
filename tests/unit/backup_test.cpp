#include "mutx/backup.hpp"  // first: the header stands alone

#define BOOST_TEST_MODULE backup
#include "test_support.hpp"

#include "mutx/error.hpp"
#include "mutx/names.hpp"

#include <boost/test/unit_test.hpp>

#include <stdlib.h>
#include <sys/xattr.h>
#include <time.h>

#include <algorithm>
#include <vector>

using namespace mutx;
using mutx::test::temp_dir;

namespace {

// Backup names use local time; pin the zone so the expected names are fixed.
struct utc_zone {
  utc_zone() {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
};

// 2024-01-31 23:59:59 UTC.
constexpr std::time_t last_second_of_january = 1706745599;

struct opened {
  unique_fd dir;
  unique_fd old;
  struct stat st {};
  opened(const std::string& dir_path, const std::string& name) {
    dir.reset(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    old.reset(::openat(dir.get(), name.c_str(), O_RDONLY | O_CLOEXEC));
    ::fstat(old.get(), &st);
  }
};

ino_t inode_of(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

mode_t mode_of(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backup_name_format)

BOOST_AUTO_TEST_CASE(plain_name_is_output_plus_suffix) {
  backup_options o;
  BOOST_TEST(backup_name(o, "config.json", last_second_of_january, 0) == "config.json.backup");
  o.suffix = ".orig";
  BOOST_TEST(backup_name(o, "config.json", last_second_of_january, 0) == "config.json.orig");
}

BOOST_AUTO_TEST_CASE(timestamp_names_count_generations_within_a_second) {
  utc_zone utc;
  backup_options o;
  o.timestamp = true;
  BOOST_TEST(backup_name(o, "f", last_second_of_january, 0) == "f.20240131-235959.backup");
  BOOST_TEST(backup_name(o, "f", last_second_of_january, 1) == "f.20240131-235959_001.backup");
  BOOST_TEST(backup_name(o, "f", last_second_of_january, 12) == "f.20240131-235959_012.backup");
  o.suffix = ".bak";
  BOOST_TEST(backup_name(o, "f", last_second_of_january + 1, 0) == "f.20240201-000000.bak");
}

BOOST_AUTO_TEST_CASE(timestamp_names_sort_in_time_order) {
  utc_zone utc;
  backup_options o;
  o.timestamp = true;
  std::vector<std::string> in_time_order = {
      backup_name(o, "f", last_second_of_january - 1, 0), backup_name(o, "f", last_second_of_january, 0),
      backup_name(o, "f", last_second_of_january, 1),     backup_name(o, "f", last_second_of_january, 2),
      backup_name(o, "f", last_second_of_january, 12),    backup_name(o, "f", last_second_of_january, 999),
      backup_name(o, "f", last_second_of_january + 1, 0),
  };
  std::vector<std::string> sorted = in_time_order;
  std::sort(sorted.begin(), sorted.end());
  BOOST_TEST(sorted == in_time_order, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(backup_location_checks)

BOOST_AUTO_TEST_CASE(missing_backup_dir_is_an_error_with_a_hint) {
  temp_dir d;
  unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  backup_options o;
  o.enabled = true;
  o.dir = d / "nodir";
  try {
    open_backup_location(o, dir.get(), d.path);
    BOOST_FAIL("expected an error");
  } catch (const mutx::error& e) {
    BOOST_TEST(e.code().value() == ENOENT);
    BOOST_TEST(std::string(e.what()).find("cannot use backup directory") != std::string::npos);
    // The library's words; the command line names --backup-dir by reason.
    BOOST_TEST(e.hint() == "The backup directory must exist; create it first.");
    BOOST_TEST((e.reason() == failure_reason::backup_dir_missing));
  }
  BOOST_TEST(test::entries(d.path) == 0u);
}

BOOST_AUTO_TEST_CASE(lock_suffix_is_refused) {
  temp_dir d;
  unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  backup_options o;
  o.suffix = ".lock";
  BOOST_CHECK_THROW(open_backup_location(o, dir.get(), d.path), mutx::error);
  o.suffix = ".lck";
  BOOST_CHECK_NO_THROW(open_backup_location(o, dir.get(), d.path));
}

BOOST_AUTO_TEST_CASE(without_a_dir_backups_go_beside_the_target) {
  temp_dir d;
  unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  backup_options o;
  backup_location loc = open_backup_location(o, dir.get(), d.path);
  BOOST_TEST(loc.display == d.path);
  struct stat a, b;
  ::fstat(dir.get(), &a);
  ::fstat(loc.dir.get(), &b);
  BOOST_TEST(a.st_ino == b.st_ino);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(make_backup_of_target)

BOOST_AUTO_TEST_CASE(same_mode_links_the_old_inode) {
  temp_dir d;
  test::spit(d / "f", "old");
  ::chmod((d / "f").c_str(), 0640);
  opened t(d.path, "f");
  backup_options o;
  o.enabled = true;
  backup_location loc = open_backup_location(o, t.dir.get(), d.path);
  backup_result r = make_backup(o, loc, t.dir.get(), "f", t.old.get(), t.st);
  BOOST_TEST(!r.copied);
  BOOST_TEST(r.path == d / "f.backup");
  BOOST_TEST(inode_of(d / "f.backup") == t.st.st_ino);
  BOOST_TEST(test::slurp(d / "f.backup") == "old");
  BOOST_TEST(names_in(d.path) == (std::vector<std::string>{"f", "f.backup"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(another_mode_copies_with_that_mode) {
  temp_dir d;
  test::spit(d / "f", "old content");
  ::chmod((d / "f").c_str(), 0644);
  opened t(d.path, "f");
  backup_options o;
  o.enabled = true;
  o.mode = 0600;
  backup_location loc = open_backup_location(o, t.dir.get(), d.path);
  backup_result r = make_backup(o, loc, t.dir.get(), "f", t.old.get(), t.st);
  BOOST_TEST(r.copied);
  BOOST_TEST(inode_of(d / "f.backup") != t.st.st_ino);
  BOOST_TEST(mode_of(d / "f.backup") == 0600u);
  BOOST_TEST(mode_of(d / "f") == 0644u);
  BOOST_TEST(test::slurp(d / "f.backup") == "old content");
  BOOST_TEST(names_in(d.path) == (std::vector<std::string>{"f", "f.backup"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(backup_mode_equal_to_the_old_mode_still_links) {
  temp_dir d;
  test::spit(d / "f", "old");
  ::chmod((d / "f").c_str(), 0600);
  opened t(d.path, "f");
  backup_options o;
  o.mode = 0600;
  backup_location loc = open_backup_location(o, t.dir.get(), d.path);
  backup_result r = make_backup(o, loc, t.dir.get(), "f", t.old.get(), t.st);
  BOOST_TEST(!r.copied);
  BOOST_TEST(inode_of(d / "f.backup") == t.st.st_ino);
}

BOOST_AUTO_TEST_CASE(plain_backup_replaces_the_previous_one) {
  temp_dir d;
  test::spit(d / "f", "second");
  test::spit(d / "f.backup", "first");
  opened t(d.path, "f");
  backup_options o;
  backup_location loc = open_backup_location(o, t.dir.get(), d.path);
  backup_result r = make_backup(o, loc, t.dir.get(), "f", t.old.get(), t.st);
  BOOST_TEST(test::slurp(d / "f.backup") == "second");
  // Until the commit, the previous generation is kept under a temp name.
  BOOST_TEST(names_in(d.path) == (std::vector<std::string>{".f.mutx-1", "f", "f.backup"}), boost::test_tools::per_element());
  BOOST_TEST(test::slurp(d / ".f.mutx-1") == "first");
  r.placed.keep();
  BOOST_TEST(test::slurp(d / "f.backup") == "second");
  BOOST_TEST(names_in(d.path) == (std::vector<std::string>{"f", "f.backup"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_plain_backup_never_replaces_another_files_generation) {
  temp_dir d;
  // `dump`'s generation made just now, and a file with its stem's name.
  const std::string stem = timestamped_backup_name("dump", std::time(nullptr), 0, "");
  test::spit(d / (stem + ".backup"), "dump's generation");
  test::spit(d / stem, "current");
  opened t(d.path, stem);
  backup_options o;
  backup_location loc = open_backup_location(o, t.dir.get(), d.path);
  try {
    check_backup_replaceable(o, loc, t.dir.get(), stem);
    BOOST_FAIL("the generation's name was not refused");
  } catch (const error& e) {
    BOOST_TEST((e.reason() == failure_reason::backup_name_taken));
  }
  // Under the lock, make_backup refuses it too and leaves nothing behind.
  BOOST_CHECK_THROW(make_backup(o, loc, t.dir.get(), stem, t.old.get(), t.st), error);
  BOOST_TEST(test::slurp(d / (stem + ".backup")) == "dump's generation");
  BOOST_TEST(names_in(d.path) == (std::vector<std::string>{stem, stem + ".backup"}), boost::test_tools::per_element());
  // A timestamped backup of it has a name of its own.
  o.timestamp = true;
  BOOST_CHECK_NO_THROW(check_backup_replaceable(o, loc, t.dir.get(), stem));
}

BOOST_AUTO_TEST_CASE(a_backup_not_kept_gives_the_previous_generation_back) {
  temp_dir d;
  test::spit(d / "f", "second");
  test::spit(d / "f.backup", "first");
  const ino_t first = inode_of(d / "f.backup");
  opened t(d.path, "f");
  backup_options o;
  backup_location loc = open_backup_location(o, t.dir.get(), d.path);
  {
    backup_result r = make_backup(o, loc, t.dir.get(), "f", t.old.get(), t.st);
    BOOST_TEST(test::slurp(d / "f.backup") == "second");
  }  // the commit failed: not kept
  BOOST_TEST(test::slurp(d / "f.backup") == "first");
  BOOST_TEST(inode_of(d / "f.backup") == first);
  BOOST_TEST(names_in(d.path) == (std::vector<std::string>{"f", "f.backup"}), boost::test_tools::per_element());
  // With no previous generation, and for a timestamped one, the new name goes.
  BOOST_REQUIRE(::unlink((d / "f.backup").c_str()) == 0);
  { backup_result r = make_backup(o, loc, t.dir.get(), "f", t.old.get(), t.st); }
  o.timestamp = true;
  { backup_result r = make_backup(o, loc, t.dir.get(), "f", t.old.get(), t.st); }
  BOOST_TEST(names_in(d.path) == (std::vector<std::string>{"f"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(stale_backup_that_is_the_same_inode_leaves_no_temp) {
  temp_dir d;
  test::spit(d / "f", "old");
  BOOST_REQUIRE(::link((d / "f").c_str(), (d / "f.backup").c_str()) == 0);
  opened t(d.path, "f");
  backup_options o;
  backup_location loc = open_backup_location(o, t.dir.get(), d.path);
  make_backup(o, loc, t.dir.get(), "f", t.old.get(), t.st).placed.keep();
  BOOST_TEST(names_in(d.path) == (std::vector<std::string>{"f", "f.backup"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(timestamped_generation_never_overwrites) {
  temp_dir d;
  test::spit(d / "f", "new generation");
  opened t(d.path, "f");
  backup_options o;
  o.timestamp = true;
  // Occupy the counter-0 name of this second and the next two, so the
  // backup must count past an existing one whenever it runs.
  std::time_t now = std::time(nullptr);
  for (int s = 0; s < 3; ++s) test::spit(d / backup_name(o, "f", now + s, 0), "precious");
  backup_location loc = open_backup_location(o, t.dir.get(), d.path);
  backup_result r = make_backup(o, loc, t.dir.get(), "f", t.old.get(), t.st);
  for (int s = 0; s < 3; ++s) BOOST_TEST(test::slurp(d / backup_name(o, "f", now + s, 0)) == "precious");
  BOOST_TEST(test::slurp(r.path) == "new generation");
  BOOST_TEST(r.path.size() > 4);
  BOOST_TEST(r.path.find("_001.backup") != std::string::npos, r.path);
  BOOST_TEST(test::entries(d.path) == 5u);
}

namespace {
// /dev/shm is a tmpfs on most systems: another filesystem than the temp dir.
// Where it is not, this case is skipped (reported as such).
struct shm_on_another_filesystem {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    const std::string tmp = std::filesystem::temp_directory_path().string();
    struct stat here, shm;
    boost::test_tools::assertion_result r(::stat(tmp.c_str(), &here) == 0 && ::stat("/dev/shm", &shm) == 0 &&
                                          here.st_dev != shm.st_dev && ::access("/dev/shm", W_OK) == 0);
    r.message() << "needs a writable /dev/shm on another filesystem than " << tmp;
    return r;
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(other_filesystem_copies_content_and_mode,
                     *boost::unit_test::precondition(shm_on_another_filesystem())) {
  temp_dir d;
  std::string bdir = "/dev/shm/mutx-unit-backup-" + std::to_string(::getpid());
  BOOST_REQUIRE(::mkdir(bdir.c_str(), 0700) == 0);
  std::string data(200000, 'x');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 23);
  test::spit(d / "f", data);
  ::chmod((d / "f").c_str(), 0604);
  ::setxattr((d / "f").c_str(), "user.test", "hello", 5, 0);
  opened t(d.path, "f");
  backup_options o;
  o.dir = bdir;
  backup_location loc = open_backup_location(o, t.dir.get(), d.path);
  backup_result r = make_backup(o, loc, t.dir.get(), "f", t.old.get(), t.st);
  BOOST_TEST(r.copied);
  BOOST_TEST(r.path == bdir + "/f.backup");
  BOOST_TEST(test::slurp(bdir + "/f.backup") == data);
  BOOST_TEST(mode_of(bdir + "/f.backup") == 0604u);
  char value[16] = {};
  ssize_t n = ::getxattr((bdir + "/f.backup").c_str(), "user.test", value, sizeof value);
  if (::getxattr((d / "f").c_str(), "user.test", nullptr, 0) == 5) {
    BOOST_TEST(n == 5);
    BOOST_TEST(std::string(value, n > 0 ? static_cast<std::size_t>(n) : 0) == "hello");
  }
  BOOST_TEST(test::entries(bdir) == 1u);
  std::filesystem::remove_all(bdir);
}

BOOST_AUTO_TEST_SUITE_END()
