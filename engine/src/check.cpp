#include "mutx/check.hpp"

#include "mutx/command.hpp"
#include "mutx/error.hpp"
#include "mutx/fd.hpp"

#include <boost/asio/this_coro.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <vector>

namespace mutx {

namespace asio = boost::asio;

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

bool names_path(std::string_view command) noexcept {
  for (std::size_t i = 0; i + 1 < command.size(); ++i) {
    if (command[i] != '%') continue;
    if (command[i + 1] == 's') return true;
    if (command[i + 1] == '%') ++i;  // "%%": a literal %
  }
  return false;
}

std::string with_path(std::string_view command, std::string_view path) {
  const std::string quoted = shell_quote(path);
  std::string out;
  for (std::size_t i = 0; i < command.size();) {
    if (command.compare(i, 2, "%s") == 0) {
      out += quoted;
      i += 2;
    } else if (command.compare(i, 2, "%%") == 0) {
      out += '%';
      i += 2;
    } else {
      out += command[i++];
    }
  }
  return out;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  return describe_wait_status(status);
}

asio::awaitable<int> run_shell(const shell_command& cmd, stop_source& stop) {
  unique_fd null_in;
  int in = cmd.stdin_fd;
  if (in < 0) {
    null_in.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_in) throw_errno("cannot open", "/dev/null");
    in = null_in.get();
  }
  const std::vector<std::string> argv = {"/bin/sh", "-c", cmd.command};
  unique_fd out_pipe, err_pipe;
  std::shared_ptr<line_relay> out_relay, err_relay;
  auto ex = co_await asio::this_coro::executor;
  std::optional<child_process> child;
  if (cmd.on_line) {
    child.emplace(argv, in, out_pipe, &err_pipe);
    out_relay = line_relay::start(ex, std::move(out_pipe), cmd.on_line);
    err_relay = line_relay::start(ex, std::move(err_pipe), cmd.on_line);
  } else {
    // Its stdout goes to our stderr: stdout may be where the caller's
    // data goes, and the check's words are messages.
    child.emplace(argv, in, out_pipe, nullptr, STDERR_FILENO);
  }
  null_in.reset();
  auto forward = stop.on_stop([&] { child->kill(stop.signal() ? stop.signal() : SIGTERM); });
  const int status = co_await child->wait();
  if (out_relay) out_relay->finish();
  if (err_relay) err_relay->finish();
  co_return status;
}

}  // namespace mutx
