#include "mutx/staging.hpp"  // first: the header stands alone

#define BOOST_TEST_MODULE staging
#include "test_support.hpp"
#include "mutx/tree_staging.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>

#include <boost/test/unit_test.hpp>

using namespace mutx;
using mutx::test::temp_dir;

BOOST_AUTO_TEST_SUITE(staging_file)

BOOST_AUTO_TEST_CASE(not_publishing_leaves_target_untouched_and_no_temp) {
  temp_dir d;
  test::spit(d / "t", "old");
  {
    unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
    staged_file s(dir.get(), "t", d.path);
    BOOST_TEST(::write(s.fd(), "new", 3) == 3);
  }
  BOOST_TEST(test::slurp(d / "t") == "old");
  BOOST_TEST(test::entries(d.path) == 1u);
}

BOOST_AUTO_TEST_CASE(publishing_replaces_the_target_with_a_new_inode) {
  temp_dir d;
  test::spit(d / "t", "old");
  struct stat before;
  ::stat((d / "t").c_str(), &before);
  unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  staged_file s(dir.get(), "t", d.path);
  BOOST_TEST(::write(s.fd(), "new", 3) == 3);
  s.publish();
  BOOST_TEST(s.published());
  BOOST_TEST(test::slurp(d / "t") == "new");
  struct stat after;
  ::stat((d / "t").c_str(), &after);
  BOOST_TEST(after.st_ino != before.st_ino);
  BOOST_TEST(test::entries(d.path) == 1u);
}

BOOST_AUTO_TEST_CASE(staged_file_is_private_before_publish) {
  temp_dir d;
  unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  staged_file s(dir.get(), "t", d.path);
  struct stat st;
  ::fstat(s.fd(), &st);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
}

BOOST_AUTO_TEST_CASE(sweep_removes_only_unclaimed_temps_in_the_targets_own_slots) {
  temp_dir d;
  unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  test::spit(d / ".t.mutx-0", "crashed writer");
  test::spit(d / ".t.mutx-1", "live writer");
  unique_fd live(::open((d / ".t.mutx-1").c_str(), O_RDONLY));
  BOOST_REQUIRE(claim_inode(live.get()));
  // Look-alikes: another target's slot whose name starts like ours, a
  // random-named temp (housekeep's to judge), a directory in a slot.
  test::spit(d / ".t.mutx-b.mutx-0", "writer of t.mutx-b");
  test::spit(d / ".t.mutx-abcdefghijkl", "random");
  BOOST_REQUIRE(::mkdir((d / ".t.mutx-2").c_str(), 0700) == 0);
  auto removed = sweep_stale_temps(dir.get(), "t");
  BOOST_TEST(removed.size() == 1u);
  BOOST_TEST(!std::filesystem::exists(d / ".t.mutx-0"));
  BOOST_TEST(test::slurp(d / ".t.mutx-1") == "live writer");
  BOOST_TEST(test::slurp(d / ".t.mutx-b.mutx-0") == "writer of t.mutx-b");
  BOOST_TEST(test::slurp(d / ".t.mutx-abcdefghijkl") == "random");
  BOOST_TEST(std::filesystem::exists(d / ".t.mutx-2"));
  live.reset();  // its writer is gone: now it is stale
  BOOST_TEST(sweep_stale_temps(dir.get(), "t").size() == 1u);
  BOOST_TEST(!std::filesystem::exists(d / ".t.mutx-1"));
}

BOOST_AUTO_TEST_CASE(a_named_staged_file_is_claimed_until_it_is_gone) {
  temp_dir d;
  unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  test::spit(d / "t", "old");
  staged_file s(dir.get(), "t", d.path);
  std::string linked = link_under_temp_name(s.fd(), -1, {}, dir.get(), "t", d.path);
  BOOST_TEST(linked == ".t.mutx-0");
  unique_fd locked;
  struct stat st;
  BOOST_TEST((claim_stale_temp(dir.get(), linked, locked, st) == temp_probe::live));
  BOOST_TEST(sweep_stale_temps(dir.get(), "t").empty());
  // The next free slot is taken, never the claimed one.
  BOOST_TEST(link_under_temp_name(s.fd(), -1, {}, dir.get(), "t", d.path) == ".t.mutx-1");
  BOOST_TEST((claim_stale_temp(dir.get(), "missing", locked, st) == temp_probe::gone));
}

namespace {
// Root writes anywhere: this case is skipped (reported as such) for root,
// and the CLI suite covers it through setpriv.
struct not_root {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result r(::geteuid() != 0);
    r.message() << "needs an unprivileged user";
    return r;
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(unwritable_directory_is_an_error_not_a_fallback,
                     *boost::unit_test::precondition(not_root())) {
  temp_dir d;
  ::chmod(d.path.c_str(), 0500);
  unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  BOOST_CHECK_THROW(staged_file(dir.get(), "t", d.path), mutx::error);
  ::chmod(d.path.c_str(), 0700);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(staged_tree_removal)

// remove_tree shares the unlinks of a big directory among threads: every
// name goes, nested and read-only directories too, and a symbolic link is
// removed as a link (its target outside the tree is untouched).
BOOST_AUTO_TEST_CASE(remove_tree_removes_a_big_tree_whole_and_follows_no_link) {
  temp_dir d;
  test::spit(d / "outside", "keep me");
  const std::string top = d / "gen";
  ::mkdir(top.c_str(), 0755);
  std::uint64_t made = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string sub = top + "/d" + std::to_string(i);
    ::mkdir(sub.c_str(), 0755);
    ++made;
    for (int j = 0; j < 700; ++j, ++made) test::spit(sub + "/f" + std::to_string(j), "x");
  }
  for (int j = 0; j < 300; ++j, ++made) test::spit(top + "/f" + std::to_string(j), "y");
  BOOST_REQUIRE(::symlink((d / "outside").c_str(), (top + "/link").c_str()) == 0);
  ++made;
  BOOST_REQUIRE(::mkdir((top + "/ro").c_str(), 0755) == 0);
  test::spit(top + "/ro/f", "z");
  ::chmod((top + "/ro").c_str(), 0555);
  made += 2;

  unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  unique_fd fd(::open(top.c_str(), O_RDONLY | O_DIRECTORY));
  const removed_tree r = remove_tree(dir.get(), "gen", fd.get());
  BOOST_TEST(r.error == 0);
  BOOST_TEST(r.entries == made);
  BOOST_TEST(!std::filesystem::exists(top));
  BOOST_TEST(test::slurp(d / "outside") == "keep me");
  BOOST_TEST(test::entries(d.path) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
