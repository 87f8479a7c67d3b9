#include "mutx/mutx.hpp"  // first: the header stands alone

#define BOOST_TEST_MODULE api
#include "test_support.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
#include <vector>


using namespace mutx;
using mutx::test::temp_dir;

namespace {

options quiet() {
  options o;
  o.io = test::mode_under_test();
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(library_api)

// write_tree: a directory replaced as a whole; the old generation kept
// beside it; a FIFO in the source refused by name, nothing published.
BOOST_AUTO_TEST_CASE(write_tree_replaces_a_directory) {
  temp_dir d;
  const std::string src = d / "src", dir = d / "site";
  BOOST_REQUIRE(::mkdir(src.c_str(), 0755) == 0);
  write_file(src + "/a", "one", quiet());
  tree_source from;
  from.directory = src;
  result r = write_tree(dir, from, quiet());
  BOOST_TEST(r.changed);
  BOOST_TEST(r.entries == 2u);  // the top and a (the source's own lock file is gone)
  BOOST_TEST(test::slurp(dir + "/a") == "one");
  write_file(src + "/a", "two", quiet());
  write_tree(dir, from, quiet());
  BOOST_TEST(test::slurp(dir + "/a") == "two");
  BOOST_TEST(test::slurp(d / ".site.mutx-old/a") == "one");
  BOOST_REQUIRE(::mkfifo((src + "/pipe").c_str(), 0644) == 0);
  try {
    write_tree(dir, from, quiet());
    BOOST_FAIL("a FIFO was accepted");
  } catch (const error& e) {
    BOOST_TEST(std::string(e.what()).find("entry 'pipe' refused: a FIFO") != std::string::npos, e.what());
    BOOST_TEST((e.reason() == failure_reason::tree_special_refused));
  }
  BOOST_TEST(test::slurp(dir + "/a") == "two");
  BOOST_TEST(test::entries(d.path) == 3u);  // src, site, .site.mutx-old: no staged tree, no lock file
}

BOOST_AUTO_TEST_CASE(write_file_replaces_and_reports) {
  temp_dir d;
  const std::string f = d / "conf";
  result r = write_file(f, "one", quiet());
  BOOST_TEST(r.bytes == 3u);
  BOOST_TEST(test::slurp(f) == "one");
  BOOST_TEST(!r.backup);
  r = write_file(f, "two", quiet());
  BOOST_TEST(test::slurp(f) == "two");
  BOOST_TEST(test::entries(d.path) == 1u);  // no backup, no temp, no lock file
}

// Each backup_* setting implies a backup, as the command line's options do.
BOOST_AUTO_TEST_CASE(backup_settings_imply_backup) {
  temp_dir d;
  const std::string f = d / "conf";
  write_file(f, "v1", quiet());

  options suffix = quiet();
  suffix.backup_suffix = ".orig";
  result r = write_file(f, "v2", suffix);
  BOOST_TEST(r.backup.has_value());
  BOOST_TEST(test::slurp(f + ".orig") == "v1");

  const std::string dir = d / "bk";
  BOOST_REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  options in_dir = quiet();
  in_dir.backup_dir = dir;
  write_file(f, "v3", in_dir);
  BOOST_TEST(test::slurp(dir + "/conf.backup") == "v2");

  options mode = quiet();
  mode.backup_mode = 0600;
  write_file(f, "v4", mode);
  BOOST_TEST(test::slurp(f + ".backup") == "v3");
  struct stat st;
  BOOST_REQUIRE(::stat((f + ".backup").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
  BOOST_TEST(test::slurp(f) == "v4");
}

BOOST_AUTO_TEST_CASE(empty_data_is_refused_and_the_target_kept) {
  temp_dir d;
  const std::string f = d / "conf";
  write_file(f, "keep", quiet());
  BOOST_CHECK_THROW(write_file(f, "", quiet()), mutx::error);
  BOOST_TEST(test::slurp(f) == "keep");
  options o = quiet();
  o.allow_empty = true;
  write_file(f, "", o);
  BOOST_TEST(test::slurp(f) == "");
}

// A library caller is told what went wrong by a reason it can switch on,
// and its hint names no command-line flag it could not pass.
BOOST_AUTO_TEST_CASE(errors_carry_a_reason_and_hints_name_no_flags) {
  temp_dir d;
  const std::string f = d / "conf";
  write_file(f, "keep", quiet());
  try {
    write_file(f, "", quiet());
    BOOST_FAIL("expected an error");
  } catch (const mutx::error& e) {
    BOOST_TEST((e.reason() == failure_reason::no_input));
    BOOST_TEST(e.hint().find("--") == std::string::npos, e.hint());
  }
  try {
    write_file(d / "no/such/dir/f", "x", quiet());
    BOOST_FAIL("expected an error");
  } catch (const mutx::error& e) {
    BOOST_TEST((e.reason() == failure_reason::directory_missing));
    BOOST_TEST(e.hint().find("--") == std::string::npos, e.hint());
  }
  options refuse = quiet();
  refuse.symlinks = symlink_policy::refuse;
  BOOST_REQUIRE(::symlink("conf", (d / "link").c_str()) == 0);
  try {
    write_file(d / "link", "x", refuse);
    BOOST_FAIL("expected an error");
  } catch (const mutx::error& e) {
    BOOST_TEST((e.reason() == failure_reason::symlink_refused));
    BOOST_TEST(e.hint().find("--") == std::string::npos, e.hint());
  }
}

// What the command line's parser refuses, the library refuses too, before
// anything is touched: the target keeps its content and nothing appears.
BOOST_AUTO_TEST_CASE(bad_options_are_refused_and_the_target_kept) {
  temp_dir d;
  const std::string f = d / "conf";
  write_file(f, "old", quiet());
  auto refused = [&](const std::string& path, const options& o, const std::string& words) {
    try {
      write_file(path, "new", o);
      BOOST_ERROR("accepted: " << words);
    } catch (const mutx::error& e) {
      BOOST_TEST(std::string(e.what()).find(words) != std::string::npos, e.what());
    }
    BOOST_TEST(test::slurp(f) == "old");
    BOOST_TEST(test::entries(d.path) == 1u);
  };
  options empty_suffix = quiet();
  empty_suffix.backup_suffix = "";  // else the target would be its own backup
  refused(f, empty_suffix, "invalid backup suffix ''");
  options slash_suffix = quiet();
  slash_suffix.backup_suffix = "/x";
  refused(f, slash_suffix, "invalid backup suffix '/x'");
  options big_mode = quiet();
  big_mode.mode = 0177777;
  refused(f, big_mode, "invalid mode 0177777: above 07777");
  options big_lock_mode = quiet();
  big_lock_mode.lock_mode = 010644;
  refused(f, big_lock_mode, "invalid lock mode 010644");
  refused(f + std::string("\0x", 2), quiet(), "OUTPUT contains a NUL byte");
  refused(d / std::string("co\0nf", 5), quiet(), "OUTPUT contains a NUL byte");  // would have written "co"
}

// Config deploys through the library: compare, sha256, check, on_change.
BOOST_AUTO_TEST_CASE(deploy_options) {
  temp_dir d;
  const std::string f = d / "app.conf";
  options o = quiet();
  o.compute_sha256 = true;
  result r = write_file(f, "v1\n", o);
  BOOST_TEST(r.changed);
  BOOST_TEST(r.sha256 == "2d27fbdf4e8ca207afbfa388ca9172fbcc6c70e534af2476b3b704f87debadcf");

  struct stat before, after;
  BOOST_REQUIRE(::stat(f.c_str(), &before) == 0);
  options same = quiet();
  same.compare = true;
  r = write_file(f, "v1\n", same);
  BOOST_TEST(!r.changed);
  BOOST_REQUIRE(::stat(f.c_str(), &after) == 0);
  BOOST_TEST(before.st_ino == after.st_ino);
  r = write_file(f, "v2\n", same);
  BOOST_TEST(r.changed);
  BOOST_TEST(test::slurp(f) == "v2\n");

  options sum = quiet();
  sum.sha256 = std::string(64, '0');
  try {
    write_file(f, "v3\n", sum);
    BOOST_FAIL("a wrong sha256 was accepted");
  } catch (const error& e) {
    BOOST_TEST((e.reason() == failure_reason::checksum_mismatch));
    BOOST_TEST(std::string(e.what()).find("checksum mismatch (expected 0000") != std::string::npos);
  }
  BOOST_TEST(test::slurp(f) == "v2\n");

  options check = quiet();
  check.check = "grep -q v3 %s";
  check.on_change = "cp %s " + (d / "changed");
  write_file(f, "v3\n", check);
  BOOST_TEST(test::slurp(d / "changed") == "v3\n");
  try {
    write_file(f, "v4\n", check);
    BOOST_FAIL("a failed check was accepted");
  } catch (const error& e) {
    BOOST_TEST((e.reason() == failure_reason::check_failed));
  }
  BOOST_TEST(test::slurp(f) == "v3\n");
  BOOST_TEST(test::entries(d.path) == 2u);  // app.conf and changed: no check copy, no temp
}

// log: one JSON line per attempt appended to the file, whose fields parse:
// a write, an unchanged one and a refused one; a log that is no regular
// file throws before anything is published.
BOOST_AUTO_TEST_CASE(log_appends_one_line_per_attempt) {
  temp_dir d;
  const std::string f = d / "app.conf", log = d / "audit.log";
  test::spit(f, "v1\n");
  options o = quiet();
  o.log = log;
  o.backup = true;
  write_file(f, "v2\n", o);
  options same = quiet();
  same.log = log;
  same.compare = true;
  write_file(f, "v2\n", same);
  options refused = quiet();
  refused.log = log;
  refused.check = "exit 3";
  BOOST_CHECK_THROW(write_file(f, "v3\n", refused), mutx::error);

  std::vector<boost::json::object> lines;
  std::istringstream in(test::slurp(log));
  for (std::string line; std::getline(in, line);) lines.push_back(boost::json::parse(line).as_object());
  BOOST_REQUIRE(lines.size() == 3u);
  const auto& w = lines[0];
  BOOST_TEST(w.at("outcome").as_string() == "written");
  BOOST_TEST(w.at("target").as_string() == f);
  BOOST_TEST(w.at("bytes").to_number<std::int64_t>() == 3);
  BOOST_TEST(w.at("sha256").as_string() == "81db67b6a5702b9b68f0016f061c409bf3fb16d062fc854d1b424bb4e9c28c56");
  BOOST_TEST(w.at("old_sha256").as_string() == "2d27fbdf4e8ca207afbfa388ca9172fbcc6c70e534af2476b3b704f87debadcf");
  BOOST_TEST(w.at("backup").as_string() == f + ".backup");
  BOOST_TEST(w.at("pid").to_number<std::int64_t>() == ::getpid());
  BOOST_TEST(w.at("time").as_string().size() == 24u);  // 2026-01-02T03:04:05.678Z
  BOOST_TEST(w.at("duration_ms").is_number());
  BOOST_TEST(!w.contains("reason"));
  BOOST_TEST(lines[1].at("outcome").as_string() == "unchanged");
  BOOST_TEST(lines[1].at("backup").is_null());
  BOOST_TEST(lines[2].at("outcome").as_string() == "failed");
  BOOST_TEST(std::string(lines[2].at("reason").as_string()).find("check failed: 'exit 3' exited 3") != std::string::npos);

  // Not a regular file: refused up front, the target as it was.
  options device = quiet();
  device.log = "/dev/null";
  BOOST_CHECK_THROW(write_file(f, "v4\n", device), mutx::error);
  BOOST_TEST(test::slurp(f) == "v2\n");
  BOOST_TEST(test::entries(d.path) == 3u);  // app.conf, its backup, audit.log
}

// chmod takes chmod(1)'s forms, applied to the old mode; with mode too it
// is an error, as is a spec chmod refuses; the target is untouched then.
BOOST_AUTO_TEST_CASE(chmod_applies_to_the_old_mode) {
  temp_dir d;
  const std::string f = d / "conf";
  test::spit(f, "old");
  BOOST_REQUIRE(::chmod(f.c_str(), 0664) == 0);
  options o = quiet();
  o.chmod = "g-w,o=";
  write_file(f, "new", o);
  struct stat st;
  BOOST_REQUIRE(::stat(f.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0640u);
  o.chmod = "g+z";
  BOOST_CHECK_THROW(write_file(f, "bad", o), mutx::error);
  o.chmod = "u+x";
  o.mode = 0600;
  BOOST_CHECK_THROW(write_file(f, "bad", o), mutx::error);
  BOOST_TEST(test::slurp(f) == "new");
  BOOST_TEST(test::entries(d.path) == 1u);
}

// in_place keeps the inode (and so a hard link sees the new content).
BOOST_AUTO_TEST_CASE(in_place_keeps_the_inode) {
  temp_dir d;
  const std::string f = d / "conf", link = d / "link";
  test::spit(f, "old content");
  BOOST_REQUIRE(::link(f.c_str(), link.c_str()) == 0);
  struct stat before, after;
  BOOST_REQUIRE(::stat(f.c_str(), &before) == 0);
  options o = quiet();
  o.in_place = true;
  o.backup = true;
  result r = write_file(f, "new", o);
  BOOST_REQUIRE(::stat(f.c_str(), &after) == 0);
  BOOST_TEST(after.st_ino == before.st_ino);
  BOOST_TEST(test::slurp(link) == "new");
  BOOST_REQUIRE(r.backup);
  BOOST_TEST(test::slurp(*r.backup) == "old content");
  BOOST_TEST(test::entries(d.path) == 3u);  // conf, link, conf.backup
}

// owner and group, as numbers; only root may give a file away.
BOOST_AUTO_TEST_CASE(owner_and_group_are_set) {
  temp_dir d;
  const std::string f = d / "conf";
  options o = quiet();
  o.owner = 4242;
  o.group = 4343;
  if (::geteuid() != 0) {
    BOOST_CHECK_THROW(write_file(f, "x", o), mutx::error);
    BOOST_TEST(test::entries(d.path) == 0u);
    return;
  }
  write_file(f, "x", o);
  struct stat st;
  BOOST_REQUIRE(::stat(f.c_str(), &st) == 0);
  BOOST_TEST(st.st_uid == 4242u);
  BOOST_TEST(st.st_gid == 4343u);
}

BOOST_AUTO_TEST_SUITE_END()
