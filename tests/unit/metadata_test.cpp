#include "mutx/metadata.hpp"  // first: the header stands alone

#define BOOST_TEST_MODULE metadata
#include "test_support.hpp"

#include "mutx/error.hpp"
#include "mutx/fd.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <sys/xattr.h>

using namespace mutx;
using mutx::test::temp_dir;

namespace {

struct umask_022 {
  mode_t saved;
  umask_022() : saved(::umask(022)) {}
  ~umask_022() { ::umask(saved); }
};

struct stat with_mode(mode_t mode) {
  struct stat st {};
  st.st_mode = S_IFREG | mode;
  return st;
}

struct root_only {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result r(::geteuid() == 0);
    r.message() << "needs root to give files away";
    return r;
  }
};

bool user_xattrs_on(const std::string& file) {
  return ::setxattr(file.c_str(), "user.probe", "1", 1, 0) == 0 && ::removexattr(file.c_str(), "user.probe") == 0;
}

// Whether files in the temp dir take user xattrs (tmpfs before 6.6 does not):
// the cases that need them are skipped (reported as such) where they do not.
struct user_xattrs_here {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    test::temp_dir d;
    test::spit(d / "probe", "");
    boost::test_tools::assertion_result r(user_xattrs_on(d / "probe"));
    r.message() << "needs user xattrs in " << std::filesystem::temp_directory_path().string();
    return r;
  }
};

std::string xattr(int fd, const char* name) {
  char buf[256];
  ssize_t n = ::fgetxattr(fd, name, buf, sizeof buf);
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<std::size_t>(n));
}

mode_t fmode(int fd) {
  struct stat st;
  ::fstat(fd, &st);
  return st.st_mode & 07777;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(final_mode_rules)

BOOST_AUTO_TEST_CASE(explicit_mode_wins) {
  metadata_options o;
  o.mode = 0600;
  struct stat old = with_mode(0755);
  BOOST_TEST(final_mode(o, &old) == 0600u);
  BOOST_TEST(final_mode(o, nullptr) == 0600u);
  o.mode = S_IFREG | 04755;  // only the permission bits count
  BOOST_TEST(final_mode(o, &old) == 04755u);
}

BOOST_AUTO_TEST_CASE(old_mode_is_kept_by_default) {
  metadata_options o;
  struct stat old = with_mode(04750);
  BOOST_TEST(final_mode(o, &old) == 04750u);
}

BOOST_AUTO_TEST_CASE(new_file_gets_0666_minus_umask) {
  umask_022 u;
  metadata_options o;
  BOOST_TEST(final_mode(o, nullptr) == 0644u);
}

BOOST_AUTO_TEST_CASE(no_preserve_mode_ignores_the_old_mode) {
  umask_022 u;
  metadata_options o;
  o.preserve_mode = false;
  struct stat old = with_mode(0700);
  BOOST_TEST(final_mode(o, &old) == 0644u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(copy_xattrs_between_files)

BOOST_AUTO_TEST_CASE(user_attributes_are_copied, *boost::unit_test::precondition(user_xattrs_here())) {
  temp_dir d;
  test::spit(d / "from", "a");
  test::spit(d / "to", "b");
  const char binary[] = {'\0', '\1', '\2', '\3'};
  ::setxattr((d / "from").c_str(), "user.test", "hello", 5, 0);
  ::setxattr((d / "from").c_str(), "user.binary", binary, sizeof binary, 0);
  unique_fd from(::open((d / "from").c_str(), O_RDONLY));
  unique_fd to(::open((d / "to").c_str(), O_RDWR));
  std::vector<std::string> w = copy_xattrs(from.get(), to.get(), "to");
  BOOST_TEST(w.empty());
  BOOST_TEST(xattr(to.get(), "user.test") == "hello");
  BOOST_TEST(xattr(to.get(), "user.binary") == std::string(binary, sizeof binary));
}

BOOST_AUTO_TEST_CASE(no_attributes_and_a_refusing_destination_is_quiet) {
  temp_dir d;
  test::spit(d / "from", "a");
  unique_fd from(::open((d / "from").c_str(), O_RDONLY));
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  unique_fd r(p[0]), w(p[1]);
  // A pipe takes no user xattrs; with nothing to copy there is nothing to say.
  BOOST_TEST(copy_xattrs(from.get(), w.get(), "pipe").empty());
  // Nor is a source that lists none (a pipe) any reason to warn.
  unique_fd to(::open((d / "from").c_str(), O_RDWR));
  BOOST_TEST(copy_xattrs(r.get(), to.get(), "from").empty());
}

BOOST_AUTO_TEST_CASE(attributes_the_destination_refuses_are_warnings,
                     *boost::unit_test::precondition(user_xattrs_here())) {
  temp_dir d;
  test::spit(d / "from", "a");
  ::setxattr((d / "from").c_str(), "user.test", "hello", 5, 0);
  unique_fd from(::open((d / "from").c_str(), O_RDONLY));
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  unique_fd r(p[0]), w(p[1]);
  std::vector<std::string> warnings = copy_xattrs(from.get(), w.get(), "the pipe");
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].rfind("attribute user.test of the pipe was not kept: ", 0) == 0u, warnings[0]);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(apply_metadata_to_staged)

BOOST_AUTO_TEST_CASE(mode_and_xattrs_follow_the_old_file) {
  temp_dir d;
  test::spit(d / "old", "a");
  test::spit(d / "new", "b");
  ::chmod((d / "old").c_str(), 0640);
  bool xattrs = user_xattrs_on(d / "old");
  if (xattrs) ::setxattr((d / "old").c_str(), "user.test", "hello", 5, 0);
  unique_fd old(::open((d / "old").c_str(), O_RDONLY));
  unique_fd staged(::open((d / "new").c_str(), O_RDWR));
  struct stat st;
  ::fstat(old.get(), &st);
  metadata_options o;
  std::vector<std::string> w = apply_metadata(staged.get(), old.get(), &st, o, "new");
  BOOST_TEST(w.empty());
  BOOST_TEST(fmode(staged.get()) == 0640u);
  if (xattrs) BOOST_TEST(xattr(staged.get(), "user.test") == "hello");
}

BOOST_AUTO_TEST_CASE(preserve_owner_as_root_keeps_uid_gid_and_setuid, *boost::unit_test::precondition(root_only())) {
  temp_dir d;
  test::spit(d / "old", "a");
  test::spit(d / "new", "b");
  BOOST_REQUIRE(::chown((d / "old").c_str(), 65534, 65534) == 0);
  ::chmod((d / "old").c_str(), 04755);
  unique_fd old(::open((d / "old").c_str(), O_RDONLY));
  unique_fd staged(::open((d / "new").c_str(), O_RDWR));
  struct stat st;
  ::fstat(old.get(), &st);
  metadata_options o;
  o.owner = owner_policy::preserve;
  BOOST_TEST(apply_metadata(staged.get(), old.get(), &st, o, "new").empty());
  struct stat now;
  ::fstat(staged.get(), &now);
  BOOST_TEST(now.st_uid == 65534u);
  BOOST_TEST(now.st_gid == 65534u);
  // fchown before fchmod: the chown would have cleared the bit otherwise.
  BOOST_TEST((now.st_mode & 07777) == 04755u);
}

BOOST_AUTO_TEST_CASE(setuid_is_dropped_when_the_owner_changes, *boost::unit_test::precondition(root_only())) {
  temp_dir d;
  test::spit(d / "old", "a");
  test::spit(d / "new", "b");
  BOOST_REQUIRE(::chown((d / "old").c_str(), 65534, 0) == 0);
  ::chmod((d / "old").c_str(), 06755);
  unique_fd old(::open((d / "old").c_str(), O_RDONLY));
  unique_fd staged(::open((d / "new").c_str(), O_RDWR));
  struct stat st;
  ::fstat(old.get(), &st);
  metadata_options o;  // the caller (root) owns the new file
  std::vector<std::string> w = apply_metadata(staged.get(), old.get(), &st, o, "new");
  BOOST_REQUIRE(w.size() == 1u);
  BOOST_TEST(w[0] == "set-user-ID bit of new was not kept: the owner changed (use --preserve-owner)");
  // The group (0) did not change, so set-group-ID stays.
  BOOST_TEST(fmode(staged.get()) == 02755u);
  o.mode = 04755;  // asked for explicitly: honoured
  BOOST_TEST(apply_metadata(staged.get(), old.get(), &st, o, "new").empty());
  BOOST_TEST(fmode(staged.get()) == 04755u);
}

BOOST_AUTO_TEST_CASE(preserve_owner_refused_is_an_error, *boost::unit_test::precondition(root_only())) {
  // fchown answers EPERM only to an unprivileged caller: drop to uid 65534
  // in a child and report back through its exit code.
  temp_dir d;
  ::chmod(d.path.c_str(), 0777);
  test::spit(d / "old", "a");
  BOOST_REQUIRE(::chown((d / "old").c_str(), 1000, 1000) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    unique_fd old(::open((d / "old").c_str(), O_RDONLY));
    unique_fd staged(::open((d / "new").c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
    struct stat st;
    ::fstat(old.get(), &st);
    metadata_options o;
    o.owner = owner_policy::preserve;
    int code = 1;
    try {
      apply_metadata(staged.get(), old.get(), &st, o, "new");
    } catch (const mutx::error& e) {
      code = e.code().value() == EPERM && !e.hint().empty() ? 0 : 2;
    }
    o.owner = owner_policy::try_preserve;
    try {
      apply_metadata(staged.get(), old.get(), &st, o, "new");
      struct stat now;
      ::fstat(staged.get(), &now);
      if (now.st_uid != 65534) code = 3;
    } catch (...) {
      code = 4;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0, "child code " << WEXITSTATUS(status));
}

BOOST_AUTO_TEST_CASE(restore_after_write_sets_setid_bits_again) {
  temp_dir d;
  test::spit(d / "f", "a");
  unique_fd f(::open((d / "f").c_str(), O_RDWR));
  ::fchmod(f.get(), 0755);  // as the kernel leaves it after a write
  BOOST_TEST(restore_after_write(f.get(), S_IFREG | 04755, -1, "f").empty());
  BOOST_TEST(fmode(f.get()) == 04755u);
  ::fchmod(f.get(), 0700);
  BOOST_TEST(restore_after_write(f.get(), S_IFREG | 0644, -1, "f").empty());  // no set-id bits: nothing to do
  BOOST_TEST(fmode(f.get()) == 0700u);
}

BOOST_AUTO_TEST_SUITE_END()
