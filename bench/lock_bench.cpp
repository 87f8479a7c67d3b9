// Lock benchmarks (issue 4), inside one process, with the engine's own code:
//
//   1. uncontended acquire + release: lock_file::try_acquire + release(), and
//      the whole acquire_lock() awaitable on an io_context as the writer runs
//      it (target: under 20 microseconds);
//   2. hand-off latency: a holder in another process releases; how long until
//      the waiter holds the lock. mutx's waiter (acquire_lock: inotify + timer
//      on the loop) against a blocking flock(2), which is what flock(1) does.
//
// Usage: lock_bench [DIR] [ITERATIONS] [HANDOFF_ROUNDS]   (DIR default: .)
#include "mutx/lock.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace asio = boost::asio;
using mutx::lock_file;

namespace {

double now_us() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

void report(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))]; };
  std::printf("%-44s n=%-6zu mean %8.1f us  median %8.1f us  p90 %8.1f us  p99 %8.1f us\n", what, v.size(),
              sum / static_cast<double>(v.size()), pct(0.5), pct(0.9), pct(0.99));
}

void must(bool ok, const char* what) {
  if (!ok) {
    std::perror(what);
    std::exit(1);
  }
}

// The holder side of one hand-off round, in a child process: take the lock,
// say so, hold it long enough that the waiter is surely waiting, then record
// the instant of release and send it over.
enum class holder_kind { mutx, plain_flock };

void holder(int dfd, const std::string& dir, holder_kind kind, int rounds, int to_parent, int from_parent) {
  for (int i = 0; i < rounds; ++i) {
    char go;
    if (::read(from_parent, &go, 1) != 1) std::_Exit(1);
    double t0 = 0;
    if (kind == holder_kind::mutx) {
      lock_file l;
      while (l.try_acquire(dfd, "h.lock", 0644, true, "h.lock") != lock_file::attempt::acquired) ::usleep(100);
      if (::write(to_parent, "H", 1) != 1) std::_Exit(1);
      ::usleep(20000);
      t0 = now_us();
      l.release();
    } else {
      int fd = ::open((dir + "/h.lock").c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0 || ::flock(fd, LOCK_EX) != 0) std::_Exit(1);
      if (::write(to_parent, "H", 1) != 1) std::_Exit(1);
      ::usleep(20000);
      t0 = now_us();
      ::close(fd);  // flock(1) releases by exiting, i.e. closing
    }
    if (::write(to_parent, &t0, sizeof t0) != sizeof t0) std::_Exit(1);
  }
  std::_Exit(0);
}

enum class waiter_kind { mutx, blocking_flock };

std::vector<double> handoff(int dfd, const std::string& dir, holder_kind hk, waiter_kind wk, int rounds) {
  int up[2], down[2];
  must(::pipe(up) == 0 && ::pipe(down) == 0, "pipe");
  pid_t pid = ::fork();
  must(pid >= 0, "fork");
  if (pid == 0) {
    ::close(up[0]);
    ::close(down[1]);
    holder(dfd, dir, hk, rounds, up[1], down[0]);
  }
  ::close(up[1]);
  ::close(down[0]);
  std::vector<double> lat;
  for (int i = 0; i < rounds; ++i) {
    must(::write(down[1], "g", 1) == 1, "write");
    char h;
    must(::read(up[0], &h, 1) == 1, "read");
    double t1 = 0;
    if (wk == waiter_kind::mutx) {
      asio::io_context ctx;
      mutx::stop_source stop;
      lock_file got;
      asio::co_spawn(ctx, mutx::acquire_lock(dfd, "h.lock", 0644, "h.lock", "h", {}, stop, nullptr),
                     [&](std::exception_ptr e, lock_file l) {
                       t1 = now_us();
                       if (e) std::rethrow_exception(e);
                       got = std::move(l);
                     });
      ctx.run();
      got.release();
    } else {
      int fd = ::open((dir + "/h.lock").c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
      must(fd >= 0 && ::flock(fd, LOCK_EX) == 0, "flock");
      t1 = now_us();
      ::close(fd);
    }
    double t0;
    must(::read(up[0], &t0, sizeof t0) == sizeof t0, "read");
    lat.push_back(t1 - t0);
  }
  int status;
  ::waitpid(pid, &status, 0);
  ::close(up[0]);
  ::close(down[1]);
  ::unlinkat(dfd, "h.lock", 0);
  return lat;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : ".";
  int iterations = argc > 2 ? std::atoi(argv[2]) : 20000;
  int rounds = argc > 3 ? std::atoi(argv[3]) : 200;
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  must(dfd >= 0, "open directory");

  // 1. Uncontended.
  {
    std::vector<double> v;
    v.reserve(static_cast<std::size_t>(iterations));
    for (int i = 0; i < iterations; ++i) {
      double t = now_us();
      lock_file l;
      if (l.try_acquire(dfd, "u.lock", 0644, true, "u.lock") != lock_file::attempt::acquired) return 1;
      l.release();
      v.push_back(now_us() - t);
    }
    report("uncontended try_acquire+release", v);
  }
  {
    std::vector<double> v;
    asio::io_context ctx;
    mutx::stop_source stop;
    for (int i = 0; i < iterations; ++i) {
      double t = now_us();
      asio::co_spawn(ctx, mutx::acquire_lock(dfd, "u.lock", 0644, "u.lock", "u", {}, stop, nullptr),
                     [](std::exception_ptr e, lock_file l) {
                       if (e) std::rethrow_exception(e);
                       l.release();
                     });
      ctx.run();
      ctx.restart();
      v.push_back(now_us() - t);
    }
    report("uncontended acquire_lock (loop)+release", v);
  }

  // 2. Hand-off.
  report("hand-off mutx holder -> mutx waiter", handoff(dfd, dir, holder_kind::mutx, waiter_kind::mutx, rounds));
  report("hand-off flock holder -> mutx waiter", handoff(dfd, dir, holder_kind::plain_flock, waiter_kind::mutx, rounds));
  report("hand-off flock holder -> blocking flock", handoff(dfd, dir, holder_kind::plain_flock, waiter_kind::blocking_flock, rounds));
  report("hand-off mutx holder -> blocking flock", handoff(dfd, dir, holder_kind::mutx, waiter_kind::blocking_flock, rounds));
  ::close(dfd);
  return 0;
}
