#include "mutx/ops.hpp"  // first: the header stands alone

#define BOOST_TEST_MODULE ring
#include "test_support.hpp"

#include "mutx/fd.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <boost/test/unit_test.hpp>

#include <cstring>

namespace asio = boost::asio;
using namespace mutx;
using mutx::test::temp_dir;

namespace {

// Run one coroutine on a fresh loop and ring; rethrow what it throws.
template <class F>
void on_loop(F body) {
  asio::io_context ctx;
  ring r(ctx, test::mode_under_test());
  std::exception_ptr failure;
  asio::co_spawn(ctx, body(r), [&](std::exception_ptr e) { failure = e; });
  ctx.run();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ring_ops)

BOOST_AUTO_TEST_CASE(backend_matches_requested_mode) {
  asio::io_context ctx;
  ring r(ctx, test::mode_under_test());
  if (test::mode_under_test() == io_mode::syscalls) {
    BOOST_TEST(!r.uring_active());
    BOOST_TEST(r.backend() == "syscalls");
  } else if (test::mode_under_test() == io_mode::uring) {
    BOOST_TEST(r.uring_active());
    BOOST_TEST(r.backend() == "io_uring");
  }
}

BOOST_AUTO_TEST_CASE(automatic_mode_sets_up_io_uring_only_when_needed) {
  temp_dir d;
  int fds[2];
  BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  unique_fd rd(fds[0]), wr(fds[1]);
  BOOST_REQUIRE(::write(wr.get(), "0123456789", 10) == 10);
  unique_fd f(::open((d / "f").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  BOOST_REQUIRE(f);
  std::string big(ring::lazy_limit + 5, 'x');
  BOOST_REQUIRE(::write(f.get(), big.data(), big.size()) == static_cast<ssize_t>(big.size()));

  asio::io_context ctx;
  ring r(ctx, io_mode::automatic);
  BOOST_TEST(!r.uring_active());
  BOOST_TEST(r.backend() == "syscalls");
  BOOST_TEST(r.fallback_reason().empty());  // not probed yet
  bool done = false;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    // A small read stays on syscalls.
    char buf[16];
    auto [ec, n] = co_await async_read(r, rd.get(), buf, sizeof buf, -1, use_tuple);
    BOOST_TEST(!ec);
    BOOST_TEST(std::string(buf, n) == "0123456789");
    BOOST_TEST(!r.uring_active());
    BOOST_TEST(r.fallback_reason().empty());
    // Reading up to the limit too; the read after it probes.
    std::string back(big.size(), '\0');
    std::size_t got = 0;
    while (got < ring::lazy_limit) {
      auto [rec, rn] = co_await async_read(r, f.get(), back.data() + got, ring::lazy_limit - got,
                                           static_cast<std::int64_t>(got), use_tuple);
      BOOST_TEST_REQUIRE(!rec);
      BOOST_TEST_REQUIRE(rn > 0u);
      got += rn;
    }
    BOOST_TEST(r.fallback_reason().empty());
    BOOST_TEST(!r.uring_active());
    auto [tec, tn] = co_await async_read(r, f.get(), back.data() + got, back.size() - got,
                                         static_cast<std::int64_t>(got), use_tuple);
    BOOST_TEST(!tec);
    BOOST_TEST(tn == 5u);
    BOOST_TEST(back == big);
    // Probed now: io_uring is up, or the reason it is not is known.
    BOOST_TEST((r.uring_active() || !r.fallback_reason().empty()));
    done = true;
  }, asio::detached);
  ctx.run();
  BOOST_TEST(done);
}

BOOST_AUTO_TEST_CASE(automatic_mode_small_writes_stay_on_syscalls_a_sync_probes) {
  temp_dir d;
  unique_fd f(::open((d / "f").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  BOOST_REQUIRE(f);
  asio::io_context ctx;
  ring r(ctx, io_mode::automatic);
  bool done = false;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    error_code ec = co_await write_all(r, f.get(), "abc", 3, 0);
    BOOST_TEST(!ec);
    BOOST_TEST(!r.uring_active());
    BOOST_TEST(r.fallback_reason().empty());  // not probed
    auto [sec, sn] = co_await async_fsync(r, f.get(), use_tuple);
    BOOST_TEST(!sec);
    BOOST_TEST((r.uring_active() || !r.fallback_reason().empty()));
    done = true;
  }, asio::detached);
  ctx.run();
  BOOST_TEST(done);
  char buf[4] = {};
  BOOST_TEST(::pread(f.get(), buf, sizeof buf, 0) == 3);
  BOOST_TEST(std::string(buf) == "abc");
}

BOOST_AUTO_TEST_CASE(automatic_mode_writes_past_the_limit_probe) {
  temp_dir d;
  unique_fd f(::open((d / "f").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  BOOST_REQUIRE(f);
  std::string big(ring::lazy_limit, 'y');
  asio::io_context ctx;
  ring r(ctx, io_mode::automatic);
  bool done = false;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    error_code ec = co_await write_all(r, f.get(), big.data(), big.size(), 0);
    BOOST_TEST(!ec);
    BOOST_TEST(!r.uring_active());
    BOOST_TEST(r.fallback_reason().empty());
    ec = co_await write_all(r, f.get(), "z", 1, static_cast<std::int64_t>(big.size()));
    BOOST_TEST(!ec);
    BOOST_TEST((r.uring_active() || !r.fallback_reason().empty()));
    done = true;
  }, asio::detached);
  ctx.run();
  BOOST_TEST(done);
  struct stat st;
  BOOST_TEST(::fstat(f.get(), &st) == 0);
  BOOST_TEST(static_cast<std::uint64_t>(st.st_size) == ring::lazy_limit + 1);
}

BOOST_AUTO_TEST_CASE(write_then_read_back_at_offsets) {
  temp_dir d;
  int fd = ::open((d / "f").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  BOOST_REQUIRE(fd >= 0);
  on_loop([fd](ring& r) -> asio::awaitable<void> {
    const char hello[] = "hello, ring";
    error_code ec = co_await write_all(r, fd, hello, sizeof hello - 1, 100);
    BOOST_TEST(!ec);
    char buf[32] = {};
    auto [rec, n] = co_await async_read(r, fd, buf, sizeof buf, 100, use_tuple);
    BOOST_TEST(!rec);
    BOOST_TEST(n == sizeof hello - 1);
    BOOST_TEST(std::string(buf, n) == "hello, ring");
    auto [sec, sn] = co_await async_fsync(r, fd, use_tuple);
    BOOST_TEST(!sec);
    (void)sn;
  });
  struct stat st;
  ::fstat(fd, &st);
  BOOST_TEST(st.st_size == 111);
  ::close(fd);
}

BOOST_AUTO_TEST_CASE(errors_map_to_error_codes) {
  on_loop([](ring& r) -> asio::awaitable<void> {
    char buf[8];
    auto [ec, n] = co_await async_read(r, 9999, buf, sizeof buf, 0, use_tuple);
    BOOST_TEST(ec == errno_code(EBADF));
    BOOST_TEST(n == 0u);
    auto [fec, fn] = co_await async_fsync(r, 9999, use_tuple);
    BOOST_TEST(fec == errno_code(EBADF));
    (void)fn;
  });
}

BOOST_AUTO_TEST_CASE(splice_moves_pipe_to_file_and_reports_eof) {
  temp_dir d;
  int fd = ::open((d / "f").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  BOOST_REQUIRE(::write(p[1], "spliced", 7) == 7);
  ::close(p[1]);
  on_loop([&](ring& r) -> asio::awaitable<void> {
    auto [ec, n] = co_await async_splice(r, p[0], fd, 1 << 20, 0, use_tuple);
    BOOST_TEST(!ec);
    BOOST_TEST(n == 7u);
    auto [ec2, n2] = co_await async_splice(r, p[0], fd, 1 << 20, 7, use_tuple);
    BOOST_TEST(!ec2);
    BOOST_TEST(n2 == 0u);  // end of input
  });
  BOOST_TEST(test::slurp(d / "f") == "spliced");
  ::close(p[0]);
  ::close(fd);
}

BOOST_AUTO_TEST_CASE(cancel_all_ends_a_read_that_would_wait_forever) {
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  asio::io_context ctx;
  ring r(ctx, test::mode_under_test());
  error_code got;
  bool done = false;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    char buf[16];
    auto [ec, n] = co_await async_read(r, p[0], buf, sizeof buf, -1, use_tuple);
    (void)n;
    got = ec;
    done = true;
  }, asio::detached);
  // Let the read start, then cancel it as the signal handler would.
  asio::post(ctx, [&] { asio::post(ctx, [&] { r.cancel_all(); }); });
  ctx.run();
  BOOST_TEST(done);
  BOOST_TEST(got == asio::error::operation_aborted);
  ::close(p[0]);
  ::close(p[1]);
}

BOOST_AUTO_TEST_CASE(a_read_started_after_cancel_all_ends_at_once) {
  // The signal may land between two reads: the next read must not wait.
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  asio::io_context ctx;
  ring r(ctx, test::mode_under_test());
  r.cancel_all();
  error_code got;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    char buf[16];
    auto [ec, n] = co_await async_read(r, p[0], buf, sizeof buf, -1, use_tuple);
    (void)n;
    got = ec;
  }, asio::detached);
  ctx.run();
  BOOST_TEST(got == asio::error::operation_aborted);
  ::close(p[0]);
  ::close(p[1]);
}

BOOST_AUTO_TEST_CASE(forced_uring_mode_is_uring_or_throws) {
  asio::io_context ctx;
  try {
    ring r(ctx, io_mode::uring);
    BOOST_TEST(r.uring_active());
  } catch (const mutx::error& e) {
    BOOST_TEST(std::string(e.what()).find("io_uring is unavailable") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(parse_io_mode_accepts_the_three_names) {
  BOOST_TEST((parse_io_mode("auto") == io_mode::automatic));
  BOOST_TEST((parse_io_mode("uring") == io_mode::uring));
  BOOST_TEST((parse_io_mode("syscalls") == io_mode::syscalls));
  BOOST_CHECK_THROW(parse_io_mode("fast"), mutx::error);
}

BOOST_AUTO_TEST_SUITE_END()
