#include "mutx/writer.hpp"  // first: the header stands alone

#define BOOST_TEST_MODULE writer
#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

using namespace mutx;
using mutx::test::temp_dir;

namespace {

write_options options_for(const std::string& out, const std::string& data) {
  static std::string keep;
  keep = data;
  write_options o;
  o.output = out;
  o.data = std::span<const std::byte>(reinterpret_cast<const std::byte*>(keep.data()), keep.size());
  o.io = test::mode_under_test();
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(writer)

BOOST_AUTO_TEST_CASE(writes_a_buffer_and_leaves_nothing_else) {
  temp_dir d;
  write_report rep = write(options_for(d / "out", "content"));
  BOOST_TEST(test::slurp(d / "out") == "content");
  BOOST_TEST(rep.bytes == 7u);
  BOOST_TEST(test::entries(d.path) == 1u);  // no temp, no lock file
}

BOOST_AUTO_TEST_CASE(empty_input_is_refused_unless_allowed) {
  temp_dir d;
  test::spit(d / "out", "old");
  BOOST_CHECK_THROW(write(options_for(d / "out", "")), mutx::error);
  BOOST_TEST(test::slurp(d / "out") == "old");
  write_options o = options_for(d / "out", "");
  o.allow_empty = true;
  write(o);
  BOOST_TEST(test::slurp(d / "out") == "");
}

BOOST_AUTO_TEST_CASE(append_adds_to_the_old_content) {
  temp_dir d;
  test::spit(d / "log", "one\n");
  write_options o = options_for(d / "log", "two\n");
  o.append = true;
  write(o);
  BOOST_TEST(test::slurp(d / "log") == "one\ntwo\n");
}

BOOST_AUTO_TEST_CASE(mode_is_preserved_or_set) {
  temp_dir d;
  test::spit(d / "f", "old");
  ::chmod((d / "f").c_str(), 0640);
  write(options_for(d / "f", "new"));
  struct stat st;
  ::stat((d / "f").c_str(), &st);
  BOOST_TEST((st.st_mode & 07777) == 0640u);
  write_options o = options_for(d / "f", "newer");
  o.metadata.mode = 0600;
  write(o);
  ::stat((d / "f").c_str(), &st);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
}

BOOST_AUTO_TEST_CASE(backup_keeps_the_old_inode) {
  temp_dir d;
  test::spit(d / "f", "old");
  struct stat before;
  ::stat((d / "f").c_str(), &before);
  write_options o = options_for(d / "f", "new");
  o.backup.enabled = true;
  write_report rep = write(o);
  BOOST_REQUIRE(rep.backup.has_value());
  struct stat bst;
  ::stat((d / "f.backup").c_str(), &bst);
  BOOST_TEST(bst.st_ino == before.st_ino);
  BOOST_TEST(test::slurp(d / "f.backup") == "old");
  BOOST_TEST(test::slurp(d / "f") == "new");
}

BOOST_AUTO_TEST_CASE(held_lock_with_no_wait_is_a_lock_failure) {
  temp_dir d;
  unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
  lock_file held;
  BOOST_REQUIRE(held.try_acquire(dir.get(), "f.lock", 0644, true, "f.lock") == lock_file::attempt::acquired);
  write_options o = options_for(d / "f", "new");
  o.wait.how = lock_wait::policy::no_wait;
  try {
    write(o);
    BOOST_FAIL("expected a lock failure");
  } catch (const mutx::error& e) {
    BOOST_TEST((e.kind() == failure_kind::locked));
  }
  BOOST_TEST(!std::filesystem::exists(d / "f"));
}

BOOST_AUTO_TEST_CASE(events_report_the_backend) {
  temp_dir d;
  std::string backend;
  write_hooks hooks;
  hooks.on_event = [&](const event& e) {
    if (e.name == "backend")
      for (auto& [k, v] : e.fields)
        if (k == "backend") backend = std::get<std::string>(v);
  };
  write(options_for(d / "f", "x"), hooks);
  if (test::mode_under_test() == io_mode::syscalls) BOOST_TEST(backend == "syscalls");
  if (test::mode_under_test() == io_mode::uring) BOOST_TEST(backend == "io_uring");
}

BOOST_AUTO_TEST_SUITE_END()
