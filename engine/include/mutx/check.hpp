// Shell commands around a write: a check of the new content before it is
// published (--check) and a command after a commit that changed the file
// (--on-change). Run as `/bin/sh -c CMD` through child_process (command.hpp:
// a process group of its own, ended with it on a stop request), on the loop.
// Used for one file by write_job.cpp; a tree writer runs them the same way.
#pragma once

#include "mutx/stop.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <string_view>

namespace mutx {

// `s` quoted for /bin/sh: 'it'\''s'.
std::string shell_quote(std::string_view s);
// Whether CMD names the file (`%s`), or reads the content on its stdin.
bool names_path(std::string_view command) noexcept;
// CMD with every `%s` replaced by shell_quote(path) and every `%%` by `%`
// (as printf and Ansible's validate have it: `stat -c %%a %s`). A CMD
// without `%s` is run as it is.
std::string with_path(std::string_view command, std::string_view path);
// "exited 1", "was killed by signal 9 (Killed)": how a check failed.
std::string describe_exit(int status);

struct shell_command {
  std::string command;  // run as /bin/sh -c COMMAND
  int stdin_fd = -1;    // -1: /dev/null
  // Each line of its output (stdout and stderr), for callers that report
  // it as events (--json). Empty: both go to our stderr as they come.
  std::function<void(std::string)> on_line;
};

// Run it and return its wait status. A stop request (SIGINT, SIGTERM,
// SIGHUP) is passed on to its process group; the caller checks
// stop.stop_requested() afterwards. Throws mutx::error if it cannot start.
boost::asio::awaitable<int> run_shell(const shell_command& cmd, stop_source& stop);

}  // namespace mutx
