#include "mutx/pump.hpp"  // first: the header stands alone

#define BOOST_TEST_MODULE pump
#include "test_support.hpp"

#include <boost/asio/co_spawn.hpp>

#include <boost/test/unit_test.hpp>

#include <random>
#include <thread>

namespace asio = boost::asio;
using namespace mutx;
using mutx::test::temp_dir;

namespace {

// Whether files in `dir` can be opened with O_DIRECT (tmpfs before 6.6
// and FUSE refuse it with EINVAL).
bool direct_io_supported(const std::string& dir) {
  std::string probe = dir + "/direct-probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  ::unlink(probe.c_str());
  return fd >= 0;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

// Write `data` into the pipe's write end `fd` from a thread, as a producer
// process would, then close it.
std::thread produce(int fd, const std::string& data) {
  return std::thread([fd, &data] {
    std::size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, std::min<std::size_t>(data.size() - off, 100000));
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(fd);
  });
}

// Feed `data` through a pipe and pump it into a fresh file; returns the
// strategy used.
pump_result pump_through_pipe_result(const std::string& data, const std::string& out, bool sync, bool direct,
                                     std::uint64_t start = 0) {
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  std::thread producer = produce(p[1], data);
  int fd = ::open(out.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  asio::io_context ctx;
  ring r(ctx, test::mode_under_test());
  stop_source stop;
  pump_options o;
  o.sync = sync;
  o.allow_direct = direct;
  o.output_name = out;
  pump_result res;
  std::exception_ptr failure;
  asio::co_spawn(ctx, pump(r, p[0], "pipe", fd, start, o, stop), [&](std::exception_ptr e, pump_result pr) {
    failure = e;
    res = pr;
  });
  ctx.run();
  producer.join();
  ::close(p[0]);
  ::close(fd);
  if (failure) std::rethrow_exception(failure);
  BOOST_TEST(res.bytes == data.size());
  return res;
}

std::string pump_through_pipe(const std::string& data, const std::string& out, bool sync, bool direct,
                              std::uint64_t start = 0) {
  return pump_through_pipe_result(data, out, sync, direct, start).strategy;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pump_strategies)

BOOST_AUTO_TEST_CASE(direct_stream_is_byte_exact_with_an_unaligned_tail) {
  temp_dir d;
  // 9 MiB + 123: two full slots, a partial one and an unaligned tail.
  std::string data = random_bytes(9 * 1024 * 1024 + 123, 1);
  std::string how = pump_through_pipe(data, d / "out", true, true);
  BOOST_TEST((how == "direct" || how == "splice"));  // splice where O_DIRECT is refused
  BOOST_TEST(test::slurp(d / "out") == data);
}

// A durable stream writes its first 4 MiB slot through the page cache and
// goes direct only when a second slot follows (pump.cpp: buffered_start);
// the bytes come out the same on each side of the switch.
BOOST_AUTO_TEST_CASE(direct_stream_starts_in_the_page_cache) {
  temp_dir d;
  constexpr std::size_t mib = 1024 * 1024;
  const bool direct_ok = direct_io_supported(d.path);
  for (std::size_t size : {std::size_t{4096}, std::size_t{4 * mib}, std::size_t{4 * mib + 123},
                           std::size_t{8 * mib + 4096}}) {
    BOOST_TEST_CONTEXT("size " << size) {
      std::string data = random_bytes(size, static_cast<unsigned>(size));
      std::string out = d / ("out" + std::to_string(size));
      std::string how = pump_through_pipe(data, out, true, true);
      BOOST_TEST(test::slurp(out) == data);
      if (!direct_ok) {
        BOOST_TEST(how == "splice");  // O_DIRECT refused here
      } else if (size <= 4 * mib + 123) {
        BOOST_TEST(how == "buffered");  // one slot, or one and a tail: never switched
      } else {
        BOOST_TEST(how == "direct");
      }
    }
  }
}

// Skipped (reported as such) where the temp dir refuses O_DIRECT.
struct direct_io_here {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    temp_dir d;
    boost::test_tools::assertion_result r(direct_io_supported(d.path));
    r.message() << "needs O_DIRECT in " << std::filesystem::temp_directory_path().string();
    return r;
  }
};

BOOST_AUTO_TEST_CASE(long_direct_stream_flushes_behind_the_cursor_on_io_uring,
                     *boost::unit_test::precondition(direct_io_here())) {
  temp_dir d;
  // 100 MiB + 5: three early flushes (every 32 MiB) fit, each while the
  // writes go on; the bytes must come out the same either way.
  std::string data = random_bytes(100 * 1024 * 1024 + 5, 6);
  pump_result res = pump_through_pipe_result(data, d / "out", true, true);
  BOOST_TEST(test::slurp(d / "out") == data);
  BOOST_TEST_REQUIRE(std::string(res.strategy) == "direct");
  asio::io_context ctx;
  ring r(ctx, test::mode_under_test());
  r.probe();
  if (r.uring_active()) {
    BOOST_TEST(res.early_flushes >= 2u);
    BOOST_TEST(res.early_flushes <= 3u);
  } else {
    BOOST_TEST(res.early_flushes == 0u);  // a syscall fdatasync would stall the stream
  }
}

BOOST_AUTO_TEST_CASE(no_sync_stream_splices) {
  temp_dir d;
  std::string data = random_bytes(3 * 1024 * 1024 + 7, 2);
  BOOST_TEST(pump_through_pipe(data, d / "out", false, true) == "splice");
  BOOST_TEST(test::slurp(d / "out") == data);
}

BOOST_AUTO_TEST_CASE(stream_after_existing_bytes_starts_at_the_offset) {
  temp_dir d;
  test::spit(d / "out", "12345");
  std::string data = random_bytes(5 * 1024 * 1024, 3);
  pump_through_pipe(data, d / "out", true, true, 5);
  BOOST_TEST(test::slurp(d / "out") == "12345" + data);
}

BOOST_AUTO_TEST_CASE(regular_file_input_is_copied_in_the_kernel) {
  temp_dir d;
  std::string data = random_bytes(2 * 1024 * 1024 + 1, 4);
  test::spit(d / "in", data);
  int in = ::open((d / "in").c_str(), O_RDONLY | O_CLOEXEC);
  int out = ::open((d / "out").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  const char* how = nullptr;
  std::uint64_t n = copy_file_contents(in, 0, out, 0, "in", "out", &how);
  BOOST_TEST(n == data.size());
  BOOST_TEST((std::string(how) == "clone" || std::string(how) == "copy_file_range"));
  BOOST_TEST(test::slurp(d / "out") == data);
  ::close(in);
  ::close(out);
}

// Below 16 MiB a memory write goes through the page cache; from 16 MiB on by
// O_DIRECT where the filesystem takes it (pump.cpp: direct_threshold), the
// unaligned tail included.
BOOST_AUTO_TEST_CASE(memory_input_round_trips_small_and_large) {
  temp_dir d;
  constexpr std::size_t mib = 1024 * 1024;
  const bool direct_ok = direct_io_supported(d.path);
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{65537},
                           std::size_t{3 * mib + 5}, std::size_t{16 * mib - 1}, std::size_t{17 * mib + 5}}) {
    std::string data = random_bytes(size, static_cast<unsigned>(size));
    test::spit(d / "in", data);
    int in = ::open((d / "in").c_str(), O_RDONLY | O_CLOEXEC);
    std::string out_path = d / ("out" + std::to_string(size));
    int out = ::open(out_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    asio::io_context ctx;
    ring r(ctx, test::mode_under_test());
    pump_options o;
    o.output_name = out_path;
    std::exception_ptr failure;
    asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
      memory_input m = co_await read_all(r, in, "in");
      BOOST_TEST(m.size == size);
      pump_result res = co_await write_memory(r, m, out, 0, o);
      BOOST_TEST(res.bytes == size);
      // From 16 MiB on, direct unless O_DIRECT is refused here (then buffered).
      std::string want = size >= 16 * mib && direct_ok ? "direct" : "buffered";
      BOOST_TEST(std::string(res.strategy) == want);
    }, [&](std::exception_ptr e) { failure = e; });
    ctx.run();
    if (failure) std::rethrow_exception(failure);
    ::close(in);
    ::close(out);
    BOOST_TEST(test::slurp(out_path) == data);
  }
}

// Collecting from a pipe: input that fills the first 64 KiB chunk gets the
// 1 MiB pipe (pump.cpp: enlarge_pipe), a smaller one keeps the pipe as it
// is; the bytes are the same either way.
BOOST_AUTO_TEST_CASE(memory_input_from_a_pipe_enlarges_it_past_the_first_chunk) {
  for (std::size_t size : {std::size_t{1000}, std::size_t{65535}, std::size_t{200000}}) {
    BOOST_TEST_CONTEXT("size " << size) {
      std::string data = random_bytes(size, static_cast<unsigned>(size) + 7);
      int p[2];
      BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
      const int before = ::fcntl(p[0], F_GETPIPE_SZ);
      BOOST_REQUIRE(before > 0);
      BOOST_REQUIRE(static_cast<std::size_t>(before) < 1024 * 1024);
      std::thread producer = produce(p[1], data);
      asio::io_context ctx;
      ring r(ctx, test::mode_under_test());
      memory_input m;
      std::exception_ptr failure;
      asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { m = co_await read_all(r, p[0], "pipe"); },
                     [&](std::exception_ptr e) { failure = e; });
      ctx.run();
      producer.join();
      const int after = ::fcntl(p[0], F_GETPIPE_SZ);
      ::close(p[0]);
      if (failure) std::rethrow_exception(failure);
      std::string got;
      for (std::size_t i = 0; i < m.chunks.size(); ++i) got.append(m.chunks[i].data(), m.used[i]);
      BOOST_TEST(m.size == size);
      BOOST_TEST((got == data));
      BOOST_TEST(after == (size >= 65536 ? 1024 * 1024 : before));
    }
  }
}

BOOST_AUTO_TEST_CASE(aligned_buffers_are_aligned) {
  aligned_buffer b(8192);
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(b.data()) % aligned_buffer::alignment == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
