#include "mutx/command.hpp"

#include "mutx/error.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace mutx {

namespace asio = boost::asio;

child_process::child_process(const std::vector<std::string>& argv, int stdin_fd, unique_fd& stdout_pipe,
                             unique_fd* stderr_pipe, int stdout_fd) {
  if (argv.empty()) throw error(failure_kind::io, "no command given after --");
  int p[2];
  unique_fd rd, wr;
  if (stdout_fd < 0) {
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("cannot create a pipe for", argv[0]);
    rd.reset(p[0]);
    wr.reset(p[1]);
  }
  unique_fd err_rd, err_wr;
  if (stderr_pipe) {
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("cannot create a pipe for", argv[0]);
    err_rd.reset(p[0]);
    err_wr.reset(p[1]);
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, stdin_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, stdout_fd >= 0 ? stdout_fd : wr.get(), STDOUT_FILENO);
  if (err_wr) posix_spawn_file_actions_adddup2(&fa, err_wr.get(), STDERR_FILENO);
  // The child starts with default signal handling and an empty mask, as a
  // shell would give it, whatever the loop has installed (SIGPIPE, which the
  // CLI ignores, must kill `yes` again). Only SIGHUP, SIGINT and SIGQUIT stay
  // ignored when our caller ignores them: nohup and a script's background
  // jobs mean them for the command too.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, reset;
  sigemptyset(&none);
  sigfillset(&reset);
  for (int signo : {SIGHUP, SIGINT, SIGQUIT}) {
    struct sigaction current;
    if (::sigaction(signo, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) sigdelset(&reset, signo);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &reset);
  // Its own process group, so that ending it ends what it started too
  // (`sh -c 'sleep 30'`: the sleep). Terminal signals reach mutx, which
  // forwards them to the group, as timeout(1) does.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = ::posix_spawnp(&pid_, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    pid_ = -1;
    throw error(errno_code(rc), "cannot run command", argv[0]);
  }
  pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  stdout_pipe = std::move(rd);
  if (stderr_pipe) *stderr_pipe = std::move(err_rd);
}

child_process::~child_process() {
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void child_process::kill(int signo) noexcept {
  if (pid_ <= 0) return;
  // The whole group: the command's own children too, also once the
  // command itself has exited.
  ::kill(-pid_, signo);
  if (reaped_) return;
  if (!kill_deadline_) kill_deadline_ = std::chrono::steady_clock::now() + kill_grace;
  // Wake wait() so it starts the grace timer.
  if (waiting_) waiting_->cancel();
}

asio::awaitable<int> child_process::wait() {
  using namespace asio::experimental::awaitable_operators;
  constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
  int status = 0;
  int dup = pidfd_ ? ::fcntl(pidfd_.get(), F_DUPFD_CLOEXEC, 0) : -1;
  if (dup >= 0) {
    // A pidfd becomes readable when the child exits: wait on the loop, so a
    // signal to mutx is still handled while the command runs.
    auto ex = co_await asio::this_coro::executor;
    asio::posix::stream_descriptor d(ex);
    d.assign(dup);
    waiting_ = &d;
    struct unhook {
      asio::posix::stream_descriptor*& w;
      ~unhook() { w = nullptr; }
    } unhook_on_exit{waiting_};
    auto exited = [&] {
      pollfd p{d.native_handle(), POLLIN, 0};
      return ::poll(&p, 1, 0) > 0;
    };
    while (!exited()) {
      if (!kill_deadline_) {
        co_await d.async_wait(asio::posix::descriptor_base::wait_read, use_tuple);
        continue;
      }
      if (std::chrono::steady_clock::now() >= *kill_deadline_) {
        ::kill(-pid_, SIGKILL);
        co_await d.async_wait(asio::posix::descriptor_base::wait_read, use_tuple);
        continue;
      }
      asio::steady_timer grace(ex, *kill_deadline_);
      co_await (d.async_wait(asio::posix::descriptor_base::wait_read, use_tuple) || grace.async_wait(use_tuple));
    }
  }
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("cannot wait for command");
  }
  reaped_ = true;
  co_return status;
}

std::shared_ptr<line_relay> line_relay::start(const asio::any_io_executor& ex, unique_fd fd,
                                              std::function<void(std::string)> on_line) {
  auto relay = std::make_shared<line_relay>(ex, std::move(on_line));
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  relay->desc_.assign(fd.release());
  asio::co_spawn(ex, [relay]() { return relay->run(); }, asio::detached);
  return relay;
}

// The loop waits for readiness and reads itself, without waiting: an
// async read could hold bytes it took from the pipe in a completion not run
// yet when finish() drains the rest, and they came late, out of order, or
// (an unterminated last line) not at all.
asio::awaitable<void> line_relay::run() {
  auto keep = shared_from_this();
  while (!finished_) {
    auto [ec] = co_await desc_.async_wait(asio::posix::descriptor_base::wait_read, asio::as_tuple(asio::use_awaitable));
    if (ec || finished_ || !drain()) break;
  }
}

bool line_relay::drain() {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(desc_.native_handle(), buf, sizeof buf);
    if (n > 0) {
      feed(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);  // false at the end or on an error
  }
}

void line_relay::feed(const char* data, std::size_t n) {
  pending_.append(data, n);
  std::size_t from = 0;
  for (std::size_t nl; (nl = pending_.find('\n', from)) != std::string::npos; from = nl + 1)
    on_line_(pending_.substr(from, nl - from));
  pending_.erase(0, from);
}

void line_relay::finish() {
  if (finished_) return;
  finished_ = true;
  if (desc_.is_open()) {
    drain();
    desc_.cancel();
  }
  if (!pending_.empty()) on_line_(std::exchange(pending_, {}));
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "ended with wait status " + std::to_string(status);
}

}  // namespace mutx
