#include "mutx/lock.hpp"

#define BOOST_TEST_MODULE lock
#include <boost/test/unit_test.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

namespace asio = boost::asio;
using mutx::lock_file;
using mutx::lock_wait;
using mutx::unique_fd;
using namespace std::chrono_literals;

namespace {

// Each case runs in a fresh temp directory, removed afterwards; `dfd` is
// open on it, as the writer's directory fd is.
struct fixture {
  std::string path;
  unique_fd dfd;
  fixture() {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/mutx-lock.XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
    dfd.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    BOOST_REQUIRE(dfd);
  }
  ~fixture() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string at(const std::string& name) const { return path + "/" + name; }
  bool exists(const std::string& name) const {
    struct stat st;
    return ::fstatat(dfd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  }
  ino_t inode(const std::string& name) const {
    struct stat st;
    BOOST_REQUIRE(::fstatat(dfd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0);
    return st.st_ino;
  }
  lock_file::attempt try_lock(lock_file& l, unique_fd* busy = nullptr) const {
    return l.try_acquire(dfd.get(), "f.lock", 0644, true, "f.lock", busy);
  }
};

ino_t inode_of(int fd) {
  struct stat st;
  BOOST_REQUIRE(::fstat(fd, &st) == 0);
  return st.st_ino;
}

// Run acquire_lock on a fresh loop; `during` may schedule work on the loop
// (release the holder, request a stop) before it runs.
struct acquire_result {
  std::optional<lock_file> lock;
  std::optional<mutx::failure_kind> failure;
  std::string message;
  int waits = 0;
};

template <typename During>
acquire_result acquire(const fixture& f, lock_wait wait, mutx::stop_source& stop, During during) {
  asio::io_context ctx;
  acquire_result r;
  asio::co_spawn(ctx,
                 mutx::acquire_lock(f.dfd.get(), "f.lock", 0644, "f.lock", "f", wait, stop, [&] { ++r.waits; }),
                 [&](std::exception_ptr e, lock_file l) {
                   if (!e) {
                     r.lock.emplace(std::move(l));
                     return;
                   }
                   try {
                     std::rethrow_exception(e);
                   } catch (const mutx::error& err) {
                     r.failure = err.kind();
                     r.message = err.what();
                   }
                 });
  during(ctx);
  ctx.run();
  return r;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(lock_file_protocol, fixture)

BOOST_AUTO_TEST_CASE(acquire_creates_the_lock_file_and_release_unlinks_it) {
  lock_file l;
  BOOST_TEST((try_lock(l) == lock_file::attempt::acquired));
  BOOST_TEST(l.held());
  BOOST_TEST(exists("f.lock"));
  l.release();
  BOOST_TEST(!l.held());
  BOOST_TEST(!exists("f.lock"));
  l.release();  // idempotent
}

BOOST_AUTO_TEST_CASE(lock_file_gets_the_requested_mode_under_the_umask) {
  mode_t old = ::umask(022);
  lock_file l;
  BOOST_TEST((l.try_acquire(dfd.get(), "f.lock", 0660, true, "f.lock") == lock_file::attempt::acquired));
  struct stat st;
  BOOST_REQUIRE(::fstat(l.fd(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0640u);
  ::umask(old);
}

BOOST_AUTO_TEST_CASE(second_acquirer_is_busy_and_gets_the_descriptor_back) {
  lock_file a, b;
  BOOST_REQUIRE((try_lock(a) == lock_file::attempt::acquired));
  unique_fd busy;
  BOOST_TEST((try_lock(b, &busy) == lock_file::attempt::busy));
  BOOST_TEST(!b.held());
  BOOST_REQUIRE(busy);
  BOOST_TEST(inode_of(busy.get()) == inode_of(a.fd()));
  // Retrying on the kept descriptor is still busy, and keeps it.
  BOOST_TEST((try_lock(b, &busy) == lock_file::attempt::busy));
  BOOST_TEST(static_cast<bool>(busy));
  a.release();
  // The name is gone with the holder: the kept descriptor is stale, and the
  // retry takes a new lock file under the name.
  BOOST_TEST((try_lock(b, &busy) == lock_file::attempt::acquired));
  BOOST_TEST(b.held());
  BOOST_TEST(inode_of(b.fd()) == inode("f.lock"));
}

BOOST_AUTO_TEST_CASE(flock_from_another_descriptor_excludes_both_ways) {
  // flock(1) interop: a plain flock on an open of the same file.
  unique_fd other(::open(at("f.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  BOOST_REQUIRE(other);
  BOOST_REQUIRE(::flock(other.get(), LOCK_EX | LOCK_NB) == 0);
  lock_file l;
  BOOST_TEST((try_lock(l) == lock_file::attempt::busy));
  BOOST_REQUIRE(::flock(other.get(), LOCK_UN) == 0);
  BOOST_TEST((try_lock(l) == lock_file::attempt::acquired));
  unique_fd third(::open(at("f.lock").c_str(), O_RDONLY | O_CLOEXEC));
  BOOST_REQUIRE(third);
  BOOST_TEST(::flock(third.get(), LOCK_EX | LOCK_NB) != 0);
  BOOST_TEST(errno == EWOULDBLOCK);
}

BOOST_AUTO_TEST_CASE(inode_recheck_sees_a_name_recreated_behind_the_holder) {
  // A holds inode X. The name is unlinked and recreated through another
  // descriptor (what a releasing holder and a new writer do between another
  // waiter's open and flock). A second acquirer must lock the new inode Y,
  // not X, and must not consider X's lock its own.
  lock_file a;
  BOOST_REQUIRE((try_lock(a) == lock_file::attempt::acquired));
  const ino_t x = inode_of(a.fd());
  BOOST_REQUIRE(::unlinkat(dfd.get(), "f.lock", 0) == 0);
  unique_fd recreated(::openat(dfd.get(), "f.lock", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  BOOST_REQUIRE(recreated);
  const ino_t y = inode_of(recreated.get());
  BOOST_REQUIRE(x != y);

  lock_file b;
  BOOST_TEST((try_lock(b) == lock_file::attempt::acquired));
  BOOST_TEST(inode_of(b.fd()) == y);
  // A still holds X, which no longer has the name: releasing A must not
  // remove B's lock file.
  a.release();
  BOOST_TEST(exists("f.lock"));
  BOOST_TEST(inode("f.lock") == y);
  b.release();
  BOOST_TEST(!exists("f.lock"));
}

BOOST_AUTO_TEST_CASE(a_locked_but_unlinked_inode_is_never_held) {
  // The waiter's race: it opened X, the holder unlinked X and let go, the
  // waiter's flock on X now succeeds, but X has no name: try again.
  lock_file a;
  BOOST_REQUIRE((try_lock(a) == lock_file::attempt::acquired));
  unique_fd kept;
  lock_file b;
  BOOST_REQUIRE((try_lock(b, &kept) == lock_file::attempt::busy));
  a.release();  // unlink X while holding, then close
  BOOST_REQUIRE(::flock(kept.get(), LOCK_EX | LOCK_NB) == 0);  // X is free now
  BOOST_REQUIRE(::flock(kept.get(), LOCK_UN) == 0);
  BOOST_TEST((try_lock(b, &kept) == lock_file::attempt::acquired));
  // Held means: the name exists and is the inode locked (X's number may be
  // reused by the new file once X is freed, so compare with the name).
  BOOST_TEST(exists("f.lock"));
  BOOST_TEST(inode_of(b.fd()) == inode("f.lock"));
  BOOST_TEST(!kept);
}

BOOST_AUTO_TEST_CASE(symlink_directory_and_fifo_are_refused_untouched) {
  {
    std::ofstream(at("target")) << "precious";
    BOOST_REQUIRE(::symlinkat("target", dfd.get(), "f.lock") == 0);
    lock_file l;
    BOOST_CHECK_THROW(try_lock(l), mutx::error);
    BOOST_TEST(!l.held());
    std::ifstream in(at("target"));
    std::string content;
    std::getline(in, content);
    BOOST_TEST(content == "precious");
    BOOST_REQUIRE(::unlinkat(dfd.get(), "f.lock", 0) == 0);
  }
  {
    BOOST_REQUIRE(::symlinkat("dangling", dfd.get(), "f.lock") == 0);
    lock_file l;
    BOOST_CHECK_THROW(try_lock(l), mutx::error);
    BOOST_TEST(!exists("dangling"));
    BOOST_REQUIRE(::unlinkat(dfd.get(), "f.lock", 0) == 0);
  }
  {
    BOOST_REQUIRE(::mkdirat(dfd.get(), "f.lock", 0755) == 0);
    lock_file l;
    BOOST_CHECK_THROW(try_lock(l), mutx::error);
    BOOST_REQUIRE(::unlinkat(dfd.get(), "f.lock", AT_REMOVEDIR) == 0);
  }
  {
    BOOST_REQUIRE(::mkfifoat(dfd.get(), "f.lock", 0644) == 0);
    lock_file l;
    BOOST_CHECK_THROW(try_lock(l), mutx::error);  // and does not block
    struct stat st;
    BOOST_REQUIRE(::fstatat(dfd.get(), "f.lock", &st, AT_SYMLINK_NOFOLLOW) == 0);
    BOOST_TEST(S_ISFIFO(st.st_mode));
  }
}

BOOST_AUTO_TEST_CASE(without_create_a_missing_lock_file_is_an_error) {
  lock_file l;
  BOOST_CHECK_THROW(l.try_acquire(dfd.get(), "f.lock", 0644, false, "f.lock"), mutx::error);
  BOOST_TEST(!exists("f.lock"));
}

BOOST_AUTO_TEST_CASE(a_lock_file_with_data_is_never_unlinked) {
  std::ofstream(at("f.lock")) << "user data";
  lock_file l;
  BOOST_REQUIRE((try_lock(l) == lock_file::attempt::acquired));
  l.release();
  BOOST_TEST(exists("f.lock"));
}

BOOST_AUTO_TEST_CASE(move_keeps_one_owner) {
  lock_file a;
  BOOST_REQUIRE((try_lock(a) == lock_file::attempt::acquired));
  lock_file b(std::move(a));
  BOOST_TEST(b.held());
  lock_file c;
  c = std::move(b);
  BOOST_TEST(c.held());
  BOOST_TEST(exists("f.lock"));
  c = lock_file();
  BOOST_TEST(!exists("f.lock"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(acquire_lock_on_the_loop, fixture)

BOOST_AUTO_TEST_CASE(uncontended_acquire_does_not_wait) {
  mutx::stop_source stop;
  auto r = acquire(*this, {}, stop, [](asio::io_context&) {});
  BOOST_REQUIRE(r.lock);
  BOOST_TEST(r.lock->held());
  BOOST_TEST(r.waits == 0);
}

BOOST_AUTO_TEST_CASE(no_wait_against_a_holder_is_a_locked_error) {
  lock_file holder;
  BOOST_REQUIRE((try_lock(holder) == lock_file::attempt::acquired));
  mutx::stop_source stop;
  auto r = acquire(*this, {lock_wait::policy::no_wait, 0s}, stop, [](asio::io_context&) {});
  BOOST_TEST(!r.lock);
  BOOST_REQUIRE(r.failure);
  BOOST_TEST((*r.failure == mutx::failure_kind::locked));
  BOOST_TEST(r.message == "f: File locked by another process");
  BOOST_TEST(r.waits == 0);
}

BOOST_AUTO_TEST_CASE(timeout_runs_out_with_a_locked_error) {
  lock_file holder;
  BOOST_REQUIRE((try_lock(holder) == lock_file::attempt::acquired));
  mutx::stop_source stop;
  auto start = std::chrono::steady_clock::now();
  auto r = acquire(*this, {lock_wait::policy::timeout, 0.2s}, stop, [](asio::io_context&) {});
  BOOST_TEST((std::chrono::steady_clock::now() - start >= 200ms));
  BOOST_REQUIRE(r.failure);
  BOOST_TEST((*r.failure == mutx::failure_kind::locked));
  BOOST_TEST(r.message == "f: Lock acquisition timeout after 0.2s");
  BOOST_TEST(r.waits == 1);
  BOOST_TEST(holder.held());
}

BOOST_AUTO_TEST_CASE(waiter_gets_the_lock_when_the_holder_releases) {
  lock_file holder;
  BOOST_REQUIRE((try_lock(holder) == lock_file::attempt::acquired));
  mutx::stop_source stop;
  auto r = acquire(*this, {}, stop, [&](asio::io_context& ctx) {
    auto t = std::make_shared<asio::steady_timer>(ctx, 100ms);
    t->async_wait([&holder, t](auto) { holder.release(); });
  });
  BOOST_REQUIRE(r.lock);
  BOOST_TEST(r.lock->held());
  BOOST_TEST(r.waits == 1);
  BOOST_TEST(inode_of(r.lock->fd()) == inode("f.lock"));
}

BOOST_AUTO_TEST_CASE(waiter_gets_the_lock_from_a_plain_flock_holder) {
  // flock(1) never unlinks: the waiter is woken by the close alone.
  unique_fd other(::open(at("f.lock").c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644));
  BOOST_REQUIRE(::flock(other.get(), LOCK_EX) == 0);
  const ino_t x = inode_of(other.get());
  mutx::stop_source stop;
  auto r = acquire(*this, {lock_wait::policy::timeout, 10s}, stop, [&](asio::io_context& ctx) {
    auto t = std::make_shared<asio::steady_timer>(ctx, 100ms);
    t->async_wait([&other, t](auto) { other.reset(); });
  });
  BOOST_REQUIRE(r.lock);
  BOOST_TEST(inode_of(r.lock->fd()) == x);
}

BOOST_AUTO_TEST_CASE(stop_while_waiting_is_interrupted) {
  lock_file holder;
  BOOST_REQUIRE((try_lock(holder) == lock_file::attempt::acquired));
  mutx::stop_source stop;
  auto start = std::chrono::steady_clock::now();
  auto r = acquire(*this, {}, stop, [&](asio::io_context& ctx) {
    auto t = std::make_shared<asio::steady_timer>(ctx, 100ms);
    t->async_wait([&stop, t](auto) { stop.request_stop(SIGINT); });
  });
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
  BOOST_REQUIRE(r.failure);
  BOOST_TEST((*r.failure == mutx::failure_kind::interrupted));
  BOOST_TEST(holder.held());
}

BOOST_AUTO_TEST_SUITE_END()
