#include "mutx/error.hpp"  // first: the header stands alone

#define BOOST_TEST_MODULE error
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstring>
#include <string>

using mutx::error;
using mutx::errno_code;
using mutx::failure_kind;
using mutx::failure_reason;

namespace {

// An error domain other than errno's, as a library below the engine has.
class other_category : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "other"; }
  std::string message(int) const override { return "the other library's reason"; }
};
const other_category other;

}  // namespace

BOOST_AUTO_TEST_SUITE(error_message)

BOOST_AUTO_TEST_CASE(message_is_context_path_then_reason) {
  error e(errno_code(ENOENT), "cannot open", "/srv/app/config.json");
  BOOST_TEST(std::string(e.what()) == "cannot open /srv/app/config.json: No such file or directory");
  BOOST_TEST(e.code() == errno_code(ENOENT));
  BOOST_TEST(e.op() == "cannot open");
  BOOST_TEST(e.path() == "/srv/app/config.json");
}

BOOST_AUTO_TEST_CASE(an_empty_context_or_path_leaves_no_stray_space_or_colon) {
  BOOST_TEST(std::string(error(errno_code(EIO), "fsync").what()) == "fsync: Input/output error");
  BOOST_TEST(std::string(error(errno_code(EIO), "", "/data/f").what()) == "/data/f: Input/output error");
  BOOST_TEST(std::string(error(errno_code(EIO), "").what()) == "Input/output error");
}

BOOST_AUTO_TEST_CASE(throw_errno_takes_errno_when_not_given_one) {
  errno = EACCES;
  try {
    mutx::throw_errno("create temp file in", "/etc");
    BOOST_FAIL("expected an error");
  } catch (const error& e) {
    BOOST_TEST(e.code() == errno_code(EACCES));
    BOOST_TEST(std::string(e.what()) == "create temp file in /etc: Permission denied");
  }
  try {
    mutx::throw_errno("rename", "/a", EXDEV);
    BOOST_FAIL("expected an error");
  } catch (const error& e) {
    BOOST_TEST(e.code() == errno_code(EXDEV));
    BOOST_TEST(e.op() == "rename");
    BOOST_TEST(e.path() == "/a");
  }
}

BOOST_AUTO_TEST_CASE(an_error_without_errno_is_its_message) {
  error e(failure_kind::locked, "counter is locked by another writer", "Wait for it with --wait.");
  BOOST_TEST(std::string(e.what()) == "counter is locked by another writer");
  BOOST_TEST(e.hint() == "Wait for it with --wait.");
  BOOST_TEST(!e.code());
  BOOST_TEST(e.op().empty());
  BOOST_TEST(e.path().empty());
}

BOOST_AUTO_TEST_CASE(it_is_caught_as_a_standard_exception_with_the_same_message) {
  BOOST_CHECK_EXCEPTION(mutx::throw_error(errno_code(ENOSPC), "write", "/f"), std::exception,
                        [](const std::exception& e) { return std::string(e.what()) == "write /f: No space left on device"; });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errno_wording)

// strerror's words mislead for these three; the rest are coreutils' words.
BOOST_AUTO_TEST_CASE(describe_words_notdir_loop_and_xdev_plainly) {
  BOOST_TEST(mutx::describe(errno_code(ENOTDIR)) == "Not a directory (a component of the path is not a directory)");
  BOOST_TEST(mutx::describe(errno_code(ELOOP)) == "Too many levels of symbolic links");
  BOOST_TEST(mutx::describe(errno_code(EXDEV)) == "Not on the same filesystem");
}

BOOST_AUTO_TEST_CASE(describe_uses_strerror_for_the_rest) {
  for (int err : {ENOENT, EACCES, EPERM, ENOSPC, EISDIR, EBUSY})
    BOOST_TEST(mutx::describe(errno_code(err)) == std::strerror(err), "errno " << err);
  BOOST_TEST(mutx::describe(errno_code(EISDIR)) == "Is a directory");
}

BOOST_AUTO_TEST_CASE(another_domains_error_is_worded_by_that_domain) {
  // Its value is ENOTDIR's, but it is not an errno: no errno wording.
  boost::system::error_code ec(ENOTDIR, other);
  BOOST_TEST(mutx::describe(ec) == "the other library's reason");
  BOOST_TEST(std::string(error(ec, "read", "/f").what()) == "read /f: the other library's reason");
}

BOOST_AUTO_TEST_CASE(errno_code_is_in_the_system_category) {
  BOOST_TEST(errno_code(EINTR).value() == EINTR);
  BOOST_TEST((errno_code(EINTR).category() == boost::system::system_category()));
  errno = EAGAIN;
  BOOST_TEST(errno_code() == errno_code(EAGAIN));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(default_hints)

BOOST_AUTO_TEST_CASE(errors_a_user_can_act_on_come_with_a_hint) {
  struct {
    int err;
    const char* hint;
  } const cases[] = {
      {ENOSPC, "Free some space on that filesystem; the target was left as it was."},
      {EDQUOT, "Your disk quota is exhausted; the target was left as it was."},
      {EROFS, "The filesystem is mounted read-only."},
      {EFBIG, "The file size limit (ulimit -f) or the filesystem's largest file size was reached; the target was "
              "left as it was."},
      {EMFILE, "This process may open no more files (ulimit -n); raise the limit."},
      {EACCES, "Check the permissions of the file and of its directory."},
      {EPERM, "Check the permissions of the file and of its directory."},
  };
  for (const auto& c : cases) BOOST_TEST(error(errno_code(c.err), "write", "/f").hint() == c.hint, "errno " << c.err);
}

BOOST_AUTO_TEST_CASE(other_errors_have_no_hint) {
  for (int err : {ENOENT, EIO, EXDEV, ENOTDIR, ELOOP, EEXIST})
    BOOST_TEST(error(errno_code(err), "open", "/f").hint().empty(), "errno " << err);
  // ENOSPC's value from another domain is not a full disk.
  BOOST_TEST(error(boost::system::error_code(ENOSPC, other), "write").hint().empty());
}

BOOST_AUTO_TEST_CASE(with_hint_replaces_the_default_hint) {
  error e(errno_code(EACCES), "open", "/f");
  e.with_hint("The file is immutable.");
  BOOST_TEST(e.hint() == "The file is immutable.");
  error moved = error(errno_code(ENOSPC), "write", "/f").with_hint("");
  BOOST_TEST(moved.hint().empty());
  BOOST_TEST(std::string(moved.what()) == "write /f: No space left on device");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(failure_kinds)

BOOST_AUTO_TEST_CASE(an_errno_error_is_an_io_failure) {
  for (int err : {ENOENT, EACCES, EINTR, ECANCELED, EWOULDBLOCK})
    BOOST_TEST((error(errno_code(err), "op").kind() == failure_kind::io), "errno " << err);
}

BOOST_AUTO_TEST_CASE(an_error_without_errno_keeps_its_kind) {
  for (failure_kind k : {failure_kind::io, failure_kind::locked, failure_kind::interrupted})
    BOOST_TEST((error(k, "message").kind() == k));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(failure_reasons)

BOOST_AUTO_TEST_CASE(a_reason_is_unspecified_until_given_and_changes_nothing_else) {
  error e(errno_code(ENOENT), "cannot open", "/f");
  BOOST_TEST((e.reason() == failure_reason::unspecified));
  e.with_reason(failure_reason::input_unopenable);
  BOOST_TEST((e.reason() == failure_reason::input_unopenable));
  BOOST_TEST((e.kind() == failure_kind::io));
  BOOST_TEST(std::string(e.what()) == "cannot open /f: No such file or directory");
  error busy = error(failure_kind::locked, "f is locked").with_reason(failure_reason::lock_busy);
  BOOST_TEST((busy.reason() == failure_reason::lock_busy));
  BOOST_TEST((busy.kind() == failure_kind::locked));
}

BOOST_AUTO_TEST_SUITE_END()
