// Property-based tests (RapidCheck with its Boost.Test integration):
//   - for any input bytes and option set (stream, sync, append, I/O path,
//     input from memory, a pipe or a file), mutx::write leaves exactly the
//     input (old + input for --append) or throws and leaves the old file;
//   - a reader never sees a partial file while versions are written;
//   - two holders of a lock file never overlap (forked children);
//   - housekeep is idempotent, and a dry run predicts the real run.
// Cases per property: RC_PARAMS when set, else 40 x MUTX_TEST_SIZE (10 on
// sanitizer builds, MUTX_SANITIZED=1).
#include "mutx/housekeep.hpp"
#include "mutx/lock.hpp"
#include "mutx/writer.hpp"

#define BOOST_TEST_MODULE property
#include "test_support.hpp"

#include <rapidcheck/boost_test.h>

#include <sys/file.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

using namespace mutx;
using mutx::test::temp_dir;

namespace {

// Must run before RapidCheck reads its configuration (at the first check).
const bool configured = [] {
  if (!::getenv("RC_PARAMS")) {
    long size = 1;
    if (const char* s = ::getenv("MUTX_TEST_SIZE")) size = std::max(1L, std::strtol(s, nullptr, 10));
    long cases = 40 * size;
    if (const char* s = ::getenv("MUTX_SANITIZED"); s && std::strcmp(s, "1") == 0) cases = 10;
    std::string params = "max_success=" + std::to_string(cases) + " max_size=200";
    ::setenv("RC_PARAMS", params.c_str(), 1);
  }
  return true;
}();

std::set<std::string> listing(const std::string& dir) {
  std::set<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// Bytes, sometimes large enough to take the streaming strategies (several
// pump slots are 4 MiB; a few hundred KiB already crosses pipe buffers).
rc::Gen<std::string> input_bytes() {
  return rc::gen::oneOf(rc::gen::arbitrary<std::string>(),
                        rc::gen::map(rc::gen::pair(rc::gen::inRange(0, 3 * 1024 * 1024), rc::gen::arbitrary<char>()),
                                     [](std::pair<int, char> p) {
                                       std::string s(static_cast<std::size_t>(p.first), p.second);
                                       for (std::size_t i = 0; i < s.size(); i += 4093) s[i] = static_cast<char>(i);
                                       return s;
                                     }));
}

enum class source { memory, pipe, file };

}  // namespace

BOOST_AUTO_TEST_SUITE(property)

RC_BOOST_PROP(write_yields_the_input_or_an_error, ()) {
  const std::string data = *input_bytes();
  const auto old = *rc::gen::maybe(rc::gen::arbitrary<std::string>());
  const source from = *rc::gen::element(source::memory, source::pipe, source::file);
  write_options o;
  o.stream = *rc::gen::arbitrary<bool>();
  o.sync = *rc::gen::arbitrary<bool>();
  o.append = *rc::gen::arbitrary<bool>();
  o.allow_empty = *rc::gen::arbitrary<bool>();
  o.backup.enabled = *rc::gen::arbitrary<bool>();
  o.io = *rc::gen::element(io_mode::automatic, io_mode::uring, io_mode::syscalls);
  RC_TAG(o.stream, o.append, static_cast<int>(from));

  temp_dir d;
  o.output = d / "out";
  if (old) test::spit(o.output, *old);
  unique_fd read_end;
  std::thread feeder;
  if (from == source::memory) {
    o.data = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data.data()), data.size());
  } else if (from == source::file) {
    test::spit(d / "input", data);
    o.input = d / "input";
  } else {
    int p[2];
    RC_ASSERT(::pipe2(p, O_CLOEXEC) == 0);
    read_end.reset(p[0]);
    o.input_fd = p[0];
    feeder = std::thread([fd = p[1], &data] {
      std::size_t off = 0;
      while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
      }
      ::close(fd);
    });
  }
  bool threw = false;
  try {
    write(o);
  } catch (const mutx::error& e) {
    threw = true;
  }
  if (feeder.joinable()) feeder.join();

  const std::string expected = (o.append && old ? *old : std::string()) + data;
  std::set<std::string> allowed{"out", "input"};
  if (o.backup.enabled && old) allowed.insert("out.backup");
  if (threw) {
    // The only refusal for valid options: empty input without allow_empty.
    RC_ASSERT(data.empty());
    RC_ASSERT(!o.allow_empty);
    if (old) RC_ASSERT(test::slurp(o.output) == *old);
    else RC_ASSERT(!std::filesystem::exists(o.output));
    allowed.erase("out.backup");
  } else {
    RC_ASSERT(test::slurp(o.output) == expected);
    if (o.backup.enabled && old) RC_ASSERT(test::slurp(d / "out.backup") == *old);
  }
  for (const auto& name : listing(d.path)) RC_ASSERT(allowed.count(name) == 1);
}

RC_BOOST_PROP(a_reader_never_sees_a_partial_file, ()) {
  const auto versions = *rc::gen::container<std::vector<std::string>>(
      rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::inRange<char>('a', 'z'))));
  const bool sync = *rc::gen::arbitrary<bool>();
  temp_dir d;
  const std::string out = d / "out";
  // The writer is a child process; the parent reads as fast as it can.
  pid_t child = ::fork();
  RC_ASSERT(child >= 0);
  if (child == 0) {
    int rc = 0;
    for (std::size_t i = 0; i < versions.size(); ++i) {
      // Each version is distinct and self-describing: index, then bytes.
      std::string v = std::to_string(i) + ":" + std::string(1000 * (i % 7), versions[i][0]) + versions[i];
      write_options o;
      o.output = out;
      o.sync = sync;
      o.data = std::span<const std::byte>(reinterpret_cast<const std::byte*>(v.data()), v.size());
      o.io = test::mode_under_test();
      try {
        write(o);
      } catch (...) {
        rc = 1;
      }
    }
    ::_exit(rc);
  }
  std::set<std::string> valid;
  for (std::size_t i = 0; i < versions.size(); ++i)
    valid.insert(std::to_string(i) + ":" + std::string(1000 * (i % 7), versions[i][0]) + versions[i]);
  int status = 0;
  std::size_t reads = 0;
  for (;;) {
    pid_t done = ::waitpid(child, &status, WNOHANG);
    if (std::filesystem::exists(out)) {
      std::string seen = test::slurp(out);
      ++reads;
      // slurp may race with a rename between exists() and open(): an empty
      // string from a vanished name is not a partial file.
      if (!seen.empty()) RC_ASSERT(valid.count(seen) == 1);
    }
    if (done == child) break;
  }
  RC_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  RC_TAG(reads > versions.size() ? "many reads" : "few reads");
}

RC_BOOST_PROP(two_lock_holders_never_overlap, ()) {
  const int children = *rc::gen::inRange(2, 5);
  const int rounds = *rc::gen::inRange(1, 40);
  temp_dir d;
  const std::string counter = d / "counter";
  test::spit(counter, std::string(16, '\0'));
  std::vector<pid_t> pids;
  for (int c = 0; c < children; ++c) {
    pid_t pid = ::fork();
    RC_ASSERT(pid >= 0);
    if (pid == 0) {
      int dir = ::open(d.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      int cf = ::open(counter.c_str(), O_RDWR | O_CLOEXEC);
      int bad = (dir < 0 || cf < 0) ? 2 : 0;
      for (int r = 0; r < rounds && !bad; ++r) {
        lock_file lk;
        try {
          while (lk.try_acquire(dir, "counter.lock", 0644, true, "counter.lock") != lock_file::attempt::acquired)
            ::sched_yield();
        } catch (...) {
          bad = 3;
          break;
        }
        // Inside: the flag must be clear, then set it, bump the count, clear.
        std::uint64_t state[2];
        if (::pread(cf, state, sizeof state, 0) != sizeof state) bad = 4;
        if (state[0] != 0) bad = 5;  // someone else is inside
        state[0] = 1;
        ::pwrite(cf, state, sizeof state, 0);
        ::sched_yield();
        state[0] = 0;
        state[1] += 1;
        ::pwrite(cf, state, sizeof state, 0);
        lk.release();  // unlinks the lock file: the inode check must hold
      }
      ::_exit(bad);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    RC_ASSERT(WIFEXITED(status));
    RC_ASSERT(WEXITSTATUS(status) == 0);
  }
  std::string state = test::slurp(counter);
  std::uint64_t count = 0;
  std::memcpy(&count, state.data() + 8, 8);
  RC_ASSERT(count == static_cast<std::uint64_t>(children * rounds));
  RC_ASSERT(!std::filesystem::exists(d / "counter.lock"));
}

RC_BOOST_PROP(housekeep_is_idempotent_and_a_dry_run_predicts_it, ()) {
  temp_dir d;
  // A directory of things housekeep judges: locks (empty or not), temps,
  // plain and timestamped backups, ordinary files, in a subdirectory too.
  const auto names = *rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
      "a.lock", "b.lock", "Cargo.lock", ".a.mutx-abcdefabcdef", ".b.mutx-000000000000", "a.backup",
      "a.20240101-000000.backup", "a.20240101-000000_001.backup", "a.20991231-235959.backup", "b.backup", "a",
      "b", "notes.txt", "sub/a.lock", "sub/.a.mutx-zzzzzzzzzzzz", "sub/a.20230101-120000.backup"));
  const bool nonempty_locks = *rc::gen::arbitrary<bool>();
  std::filesystem::create_directory(d / "sub");
  for (const auto& n : names) {
    // mutx's own lock files are empty; Cargo.lock (another program's) is not.
    bool lock = n.size() > 5 && n.compare(n.size() - 5, 5, ".lock") == 0 && n != "Cargo.lock";
    test::spit(d / n, lock && (!nonempty_locks || n != "b.lock") ? std::string() : "data " + n);
  }
  housekeep_options opts;
  opts.locks = opts.temps = opts.backups = true;
  opts.recursive = *rc::gen::arbitrary<bool>();
  if (*rc::gen::arbitrary<bool>()) opts.older_than = age_limit{0, 1};
  if (*rc::gen::arbitrary<bool>()) opts.keep_newest = *rc::gen::inRange<std::uint64_t>(0, 3);

  std::set<std::string> predicted, deleted;
  auto collect = [](std::set<std::string>& into) {
    return [&into](const housekeep_event& e) {
      RC_ASSERT(e.what != housekeep_event::type::failed);
      if (e.what == housekeep_event::type::deleted) into.insert(e.path);
    };
  };
  housekeep_options dry = opts;
  dry.dry_run = true;
  const auto before = listing(d.path);
  housekeep(d.path, dry, collect(predicted));
  RC_ASSERT(listing(d.path) == before);  // a dry run changes nothing

  housekeep(d.path, opts, collect(deleted));
  RC_ASSERT(deleted == predicted);
  const auto after_once = listing(d.path);
  const auto sub_once = listing(d / "sub");

  std::set<std::string> again;
  housekeep_result second = housekeep(d.path, opts, collect(again));
  RC_ASSERT(again.empty());
  RC_ASSERT(second.locks + second.temps + second.backups == 0u);
  RC_ASSERT(listing(d.path) == after_once);
  RC_ASSERT(listing(d / "sub") == sub_once);
  // Files that are not mutx's are never touched.
  for (const char* keep : {"Cargo.lock", "a", "b", "notes.txt"})
    if (before.count(keep)) RC_ASSERT(after_once.count(keep) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
