// The child of `mutx OUTPUT -- COMMAND [ARG...]`: run under the lock with
// the current content on stdin, its stdout piped back to us, its stderr
// passed through. Waited for on the loop through a pidfd.
#pragma once

#include "mutx/fd.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mutx {

class child_process {
 public:
  // Start `argv` in a process group of its own with `stdin_fd` as its
  // stdin; `stdout_pipe` receives the read end of its stdout, and
  // `stderr_pipe`, when given, that of its stderr (else it is ours).
  // With `stdout_fd` >= 0 its stdout is that descriptor and no pipe is
  // made (`stdout_pipe` stays empty).
  // Throws mutx::error if it cannot be started.
  child_process(const std::vector<std::string>& argv, int stdin_fd, unique_fd& stdout_pipe,
                unique_fd* stderr_pipe = nullptr, int stdout_fd = -1);
  ~child_process();  // kills and reaps a child still running
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // Wait for the exit on the loop; returns the waitpid status.
  boost::asio::awaitable<int> wait();
  // Send `signo` to the command's process group (mutx's own SIGINT/SIGTERM/
  // SIGHUP, forwarded). A child that
  // is still there `kill_grace` later gets SIGKILL from wait(): a shell
  // waits for its foreground job on SIGINT, and mutx holds the lock while
  // it waits for the command.
  void kill(int signo) noexcept;
  static constexpr std::chrono::milliseconds kill_grace{2000};
  pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_ = -1;
  unique_fd pidfd_;
  bool reaped_ = false;
  std::optional<std::chrono::steady_clock::time_point> kill_deadline_;
  boost::asio::posix::stream_descriptor* waiting_ = nullptr;  // wait()'s pidfd watch
};

// The command's stderr, line by line, for callers that report it as events
// (--json): read on the loop while the command runs, so a chatty command
// never blocks on a full pipe. finish() after the command has exited reads
// what is left without waiting (a background child may keep the pipe open)
// and stops; a last line without a newline is passed on too.
class line_relay : public std::enable_shared_from_this<line_relay> {
 public:
  static std::shared_ptr<line_relay> start(const boost::asio::any_io_executor& ex, unique_fd fd,
                                           std::function<void(std::string)> on_line);
  void finish();

  line_relay(const boost::asio::any_io_executor& ex, std::function<void(std::string)> on_line)
      : desc_(ex), on_line_(std::move(on_line)) {}

 private:
  boost::asio::awaitable<void> run();
  // Read what the pipe holds now, without waiting; false at its end.
  bool drain();
  void feed(const char* data, std::size_t n);
  boost::asio::posix::stream_descriptor desc_;
  std::function<void(std::string)> on_line_;
  std::string pending_;
  bool finished_ = false;
};

// "exited with status 3", "was killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

}  // namespace mutx
