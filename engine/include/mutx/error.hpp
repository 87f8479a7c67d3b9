// Errors with context: the operation, the path it touched and the errno.
//
// Low-level engine calls return boost::system::error_code as a value; code
// above them throws mutx::error, and only cli/ turns it into a message and an
// exit code ("Error: CONTEXT: REASON").
#pragma once

#include <boost/system/error_code.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace mutx {

using error_code = boost::system::error_code;

// What went wrong, which decides the exit code in cli/.
enum class failure_kind {
  io,           // exit 1: I/O, permission, bad arguments, failed command
  locked,       // exit 2: lock not acquired (timeout or --no-wait)
  interrupted,  // exit 3: SIGINT, SIGTERM or SIGHUP before the commit point
};

class error : public std::runtime_error {
 public:
  // `op` is a short verb phrase ("fsync", "create temp file in"), `path` what
  // it acted on; either may be empty. what() is "op path: reason".
  error(error_code ec, std::string op, std::string path = {});
  // A failure that has no errno behind it (the message is the whole story).
  error(failure_kind kind, std::string message, std::string hint = {});

  const error_code& code() const noexcept { return ec_; }
  const std::string& op() const noexcept { return op_; }
  const std::string& path() const noexcept { return path_; }
  failure_kind kind() const noexcept { return kind_; }
  // A suggestion for the user, or empty.
  const std::string& hint() const noexcept { return hint_; }
  error& with_hint(std::string hint) & { hint_ = std::move(hint); return *this; }
  error&& with_hint(std::string hint) && { hint_ = std::move(hint); return std::move(*this); }

 private:
  error_code ec_;
  std::string op_;
  std::string path_;
  failure_kind kind_ = failure_kind::io;
  std::string hint_;
};

// The plain-words reason for an errno, as users know them from coreutils.
std::string describe(const error_code& ec);

error_code errno_code(int err = errno) noexcept;

[[noreturn]] void throw_error(error_code ec, std::string op, std::string path = {});
[[noreturn]] inline void throw_errno(std::string op, std::string path = {}, int err = errno) {
  throw_error(errno_code(err), std::move(op), std::move(path));
}

}  // namespace mutx
