#include "mutx/target.hpp"  // first: the header stands alone

#include "mutx/error.hpp"
#define BOOST_TEST_MODULE target
#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

using namespace mutx;
using mutx::test::temp_dir;

BOOST_AUTO_TEST_SUITE(target_resolution)

BOOST_AUTO_TEST_CASE(plain_path_splits_into_directory_and_name) {
  temp_dir d;
  target t = resolve_target(d / "f", symlink_policy::follow, false, true);
  BOOST_TEST(t.name == "f");
  BOOST_TEST(t.dir_display == d.path);
  BOOST_TEST(!t.existing.has_value());
}

BOOST_AUTO_TEST_CASE(missing_directory_is_an_error_with_a_parents_hint) {
  temp_dir d;
  try {
    resolve_target(d / "no/such/f", symlink_policy::follow, false, true);
    BOOST_FAIL("expected an error");
  } catch (const mutx::error& e) {
    BOOST_TEST(e.code() == errno_code(ENOENT));
    BOOST_TEST(e.hint().find("--parents") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(parents_creates_missing_directories) {
  temp_dir d;
  target t = resolve_target(d / "a/b/c/f", symlink_policy::follow, true, true);
  BOOST_TEST(t.name == "f");
  struct stat st;
  BOOST_TEST(::stat((d / "a/b/c").c_str(), &st) == 0);
  BOOST_TEST(S_ISDIR(st.st_mode));
}

BOOST_AUTO_TEST_CASE(symlink_followed_to_its_target_through_a_chain) {
  temp_dir d;
  test::spit(d / "real", "x");
  BOOST_REQUIRE(::symlink("real", (d / "l1").c_str()) == 0);
  BOOST_REQUIRE(::symlink((d / "l1").c_str(), (d / "l2").c_str()) == 0);
  target t = resolve_target(d / "l2", symlink_policy::follow, false, true);
  BOOST_TEST(t.name == "real");
  BOOST_TEST(t.existing.has_value());
  BOOST_TEST(t.via_symlink);
}

BOOST_AUTO_TEST_CASE(symlink_replace_and_refuse) {
  temp_dir d;
  test::spit(d / "real", "x");
  BOOST_REQUIRE(::symlink("real", (d / "link").c_str()) == 0);
  target t = resolve_target(d / "link", symlink_policy::replace, false, true);
  BOOST_TEST(t.name == "link");
  BOOST_TEST(!t.existing.has_value());
  BOOST_CHECK_THROW(resolve_target(d / "link", symlink_policy::refuse, false, true), mutx::error);
}

BOOST_AUTO_TEST_CASE(symlink_loop_is_an_error) {
  temp_dir d;
  BOOST_REQUIRE(::symlink("b", (d / "a").c_str()) == 0);
  BOOST_REQUIRE(::symlink("a", (d / "b").c_str()) == 0);
  BOOST_CHECK_THROW(resolve_target(d / "a", symlink_policy::follow, false, true), mutx::error);
}

BOOST_AUTO_TEST_CASE(directory_and_fifo_targets_are_refused) {
  temp_dir d;
  ::mkdir((d / "dir").c_str(), 0755);
  ::mkfifo((d / "fifo").c_str(), 0644);
  BOOST_CHECK_THROW(check_replaceable(resolve_target(d / "dir", symlink_policy::follow, false, true)), mutx::error);
  BOOST_CHECK_THROW(check_replaceable(resolve_target(d / "fifo", symlink_policy::follow, false, true)), mutx::error);
  BOOST_CHECK_THROW(resolve_target(d.path + "/", symlink_policy::follow, false, true), mutx::error);
}

BOOST_AUTO_TEST_CASE(symlink_policy_names) {
  BOOST_TEST((parse_symlink_policy("follow") == symlink_policy::follow));
  BOOST_TEST((parse_symlink_policy("replace") == symlink_policy::replace));
  BOOST_TEST((parse_symlink_policy("refuse") == symlink_policy::refuse));
  BOOST_CHECK_THROW(parse_symlink_policy("maybe"), mutx::error);
}

BOOST_AUTO_TEST_SUITE_END()
