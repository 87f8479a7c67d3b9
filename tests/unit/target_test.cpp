#include "mutx/target.hpp"  // first: the header stands alone

#include "mutx/error.hpp"
#define BOOST_TEST_MODULE target
#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

using namespace mutx;
using mutx::test::temp_dir;

namespace {

// The message of the mutx::error that `f` throws, or "" if it throws none.
template <class F>
std::string refusal(F f) {
  try {
    f();
  } catch (const mutx::error& e) {
    return std::string(e.what()) + "\nHint: " + e.hint();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// chattr +a/+i on `path` (or off); false where the filesystem or the
// caller cannot set inode flags.
bool set_flags(const std::string& path, int flags) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  return fd && ::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags) == 0;
}

// Clears the flags of a path when the test case ends, so temp_dir can go.
struct flags_guard {
  std::string path;
  ~flags_guard() { set_flags(path, 0); }
};

boost::test_tools::assertion_result can_set_flags(boost::unit_test::test_unit_id) {
  temp_dir d;
  bool ok = set_flags(d.path, FS_APPEND_FL) && set_flags(d.path, 0);
  boost::test_tools::assertion_result r(ok);
  if (!ok) r.message() << "needs root and a filesystem with inode flags (chattr) for the temp directory";
  return r;
}

boost::test_tools::assertion_result is_root(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(::geteuid() == 0);
  if (!r) r.message() << "needs root to act as another user";
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(target_resolution)

BOOST_AUTO_TEST_CASE(plain_path_splits_into_directory_and_name) {
  temp_dir d;
  target t = resolve_target(d / "f", symlink_policy::follow, false, true);
  BOOST_TEST(t.name == "f");
  BOOST_TEST(t.dir_display == d.path);
  BOOST_TEST(!t.existing.has_value());
}

BOOST_AUTO_TEST_CASE(missing_directory_is_an_error_with_a_reason_and_no_flag_in_its_hint) {
  temp_dir d;
  try {
    resolve_target(d / "no/such/f", symlink_policy::follow, false, true);
    BOOST_FAIL("expected an error");
  } catch (const mutx::error& e) {
    BOOST_TEST(e.code() == errno_code(ENOENT));
    BOOST_TEST((e.reason() == failure_reason::directory_missing));
    BOOST_TEST(e.hint() == "Create it first, or let the write create missing directories.");
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

BOOST_AUTO_TEST_CASE(descriptor_paths_are_refused_whatever_the_policy) {
  temp_dir d;
  test::spit(d / "redirected", "kept");
  unique_fd fd(::open((d / "redirected").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  BOOST_REQUIRE(fd);
  const std::string n = std::to_string(fd.get());
  // A link of one's own into /proc is refused too, even when only the link
  // itself would be replaced: the same rule as for /dev/stdout.
  BOOST_REQUIRE(::symlink(("/proc/self/fd/" + n).c_str(), (d / "link").c_str()) == 0);
  std::vector<std::string> paths{"/dev/fd/" + n, "/proc/self/fd/" + n, "/proc/" + std::to_string(::getpid()) + "/fd/" + n,
                                 d / "link"};
  if (::access("/dev/stdout", F_OK) == 0) paths.push_back("/dev/stdout");
  for (symlink_policy policy : {symlink_policy::follow, symlink_policy::replace, symlink_policy::refuse})
    for (const std::string& path : paths) {
      std::string why = refusal([&] { check_replaceable(resolve_target(path, policy, false, true)); });
      BOOST_TEST(contains(why, path + ": is a file descriptor, not a file mutx can replace"), path << ": " << why);
      BOOST_TEST(contains(why, "Redirect instead"), path << ": " << why);
    }
  BOOST_TEST(test::slurp(d / "redirected") == "kept");
  BOOST_TEST(test::entries(d.path) == 2u);
}

BOOST_AUTO_TEST_CASE(other_proc_files_are_refused_and_paths_through_proc_to_real_directories_are_not) {
  std::string why = refusal([] { resolve_target("/proc/version", symlink_policy::follow, false, true); });
  BOOST_TEST(contains(why, "/proc/version: is in /proc (a kernel interface)"), why);
  // /proc/self/root leads back to an ordinary directory: the rename there
  // goes to a real name, so nothing is refused.
  temp_dir d;
  target t = resolve_target("/proc/self/root" + (d / "f"), symlink_policy::follow, false, true);
  BOOST_TEST(t.name == "f");
  BOOST_CHECK_NO_THROW(check_replaceable(t));
}

BOOST_AUTO_TEST_CASE(ordinary_files_and_new_names_pass) {
  temp_dir d;
  test::spit(d / "f", "x");
  BOOST_CHECK_NO_THROW(check_replaceable(resolve_target(d / "f", symlink_policy::follow, false, true)));
  BOOST_CHECK_NO_THROW(check_replaceable(resolve_target(d / "new", symlink_policy::follow, false, true)));
}

BOOST_AUTO_TEST_CASE(append_only_or_immutable_directory_is_refused_for_new_and_existing_files,
                     *boost::unit_test::precondition(can_set_flags)) {
  temp_dir d;
  test::spit(d / "f", "x");
  flags_guard guard{d.path};
  for (int flag : {FS_APPEND_FL, FS_IMMUTABLE_FL}) {
    BOOST_REQUIRE(set_flags(d.path, flag));
    const std::string what = flag == FS_APPEND_FL ? "is append-only (chattr +a)" : "is immutable (chattr +i)";
    const std::string undo = flag == FS_APPEND_FL ? "chattr -a " : "chattr -i ";
    for (const char* name : {"f", "new"}) {
      std::string why = refusal([&] { check_replaceable(resolve_target(d / name, symlink_policy::follow, false, true)); });
      BOOST_TEST(contains(why, d / name + ": its directory " + d.path + " " + what), why);
      BOOST_TEST(contains(why, "'" + undo + d.path + "'"), why);
    }
    BOOST_REQUIRE(set_flags(d.path, 0));
  }
  BOOST_TEST(test::entries(d.path) == 1u);
}

BOOST_AUTO_TEST_CASE(append_only_file_is_refused_with_its_own_hint, *boost::unit_test::precondition(can_set_flags)) {
  temp_dir d;
  test::spit(d / "f", "x");
  flags_guard guard{d / "f"};
  BOOST_REQUIRE(set_flags(d / "f", FS_APPEND_FL));
  target t = resolve_target(d / "f", symlink_policy::follow, false, true);
  try {
    check_replaceable(t);
    BOOST_FAIL("expected an error");
  } catch (const mutx::error& e) {
    BOOST_TEST(e.code() == errno_code(EPERM));
    BOOST_TEST(contains(e.hint(), "The file is append-only ('lsattr' shows a)"), e.hint());
    BOOST_TEST(contains(e.hint(), "'chattr -a " + d / "f" + "'"), e.hint());
  }
}

BOOST_AUTO_TEST_CASE(another_users_file_in_a_sticky_directory_is_refused_unless_owner_or_root,
                     *boost::unit_test::precondition(is_root)) {
  temp_dir d;
  BOOST_REQUIRE(::chmod(d.path.c_str(), 01777) == 0);
  test::spit(d / "roots", "x");
  test::spit(d / "mine", "x");
  BOOST_REQUIRE(::chmod((d / "roots").c_str(), 0666) == 0);
  BOOST_REQUIRE(::chown((d / "mine").c_str(), 65534, 65534) == 0);
  target roots = resolve_target(d / "roots", symlink_policy::follow, false, true);
  target mine = resolve_target(d / "mine", symlink_policy::follow, false, true);
  BOOST_CHECK_NO_THROW(check_replaceable(roots));  // root: CAP_FOWNER
  // As uid 65534 (the effective capabilities go with the euid, and come
  // back with it).
  struct as_nobody {
    as_nobody() { BOOST_REQUIRE(::seteuid(65534) == 0); }
    ~as_nobody() {
      if (::seteuid(0) != 0) std::abort();  // every later test would run as nobody
    }
  };
  {
    as_nobody nobody;
    std::string why = refusal([&] { check_replaceable(roots); });
    BOOST_TEST(contains(why, "cannot replace " + d / "roots" + ": it belongs to uid 0 and its directory is sticky"), why);
    BOOST_CHECK_NO_THROW(check_replaceable(mine));
  }
  // The directory's owner may replace anything in it.
  BOOST_REQUIRE(::chown(d.path.c_str(), 65534, 65534) == 0);
  {
    as_nobody nobody;
    BOOST_CHECK_NO_THROW(check_replaceable(roots));
  }
}

// A bind-mounted file: refused (the reason says so, for the command line's
// hint) unless it is to be written in place; /proc/self/mountinfo, the
// fallback where statx gives no mount ID, lists it too.
BOOST_AUTO_TEST_CASE(bind_mounted_file_is_a_mount_point) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: mount needs root");
    return;
  }
  temp_dir d;
  test::spit(d / "t", "under");
  test::spit(d / "src", "mounted");
  test::spit(d / "plain", "plain");
  const std::string cmd = "mount --bind " + d / "src" + " " + d / "t" + " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) {
    BOOST_TEST_MESSAGE("skipped: cannot bind-mount a file here");
    return;
  }
  struct unmount {
    std::string path;
    ~unmount() { (void)std::system(("umount -l " + path).c_str()); }
  } undo{d / "t"};
  target t = resolve_target(d / "t", symlink_policy::follow, false, true);
  std::string why = refusal([&] { check_replaceable(t); });
  BOOST_TEST(contains(why, ": is a mount point (a bind-mounted file); it cannot be replaced atomically"), why);
  try {
    check_replaceable(t);
  } catch (const mutx::error& e) {
    BOOST_TEST((e.reason() == failure_reason::mount_point));
    BOOST_TEST(!contains(e.hint(), "--"), e.hint());  // the engine names no flag
  }
  BOOST_CHECK_NO_THROW(check_replaceable(t, true));
  BOOST_TEST(listed_as_mount_point(t.dir.get(), t.name));
  target plain = resolve_target(d / "plain", symlink_policy::follow, false, true);
  BOOST_TEST(!listed_as_mount_point(plain.dir.get(), plain.name));
  BOOST_CHECK_NO_THROW(check_replaceable(plain));
}

BOOST_AUTO_TEST_CASE(symlink_policy_names) {
  BOOST_TEST((parse_symlink_policy("follow") == symlink_policy::follow));
  BOOST_TEST((parse_symlink_policy("replace") == symlink_policy::replace));
  BOOST_TEST((parse_symlink_policy("refuse") == symlink_policy::refuse));
  BOOST_CHECK_THROW(parse_symlink_policy("maybe"), mutx::error);
}

BOOST_AUTO_TEST_SUITE_END()
