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

// Which failure it was, for callers that act on it: the engine's hint says
// what to do in the library's terms; the command line words its own advice
// (which flag to pass) from this.
enum class failure_reason {
  unspecified,
  no_input,              // empty input refused (allow_empty accepts it)
  command_no_output,     // the command exited 0 and printed nothing
  lock_busy,             // no waiting, and another writer holds the lock
  lock_timeout,          // the wait for the lock ran out
  lock_lost,             // the lock file was removed or replaced while held
  etcd_lock_lost,        // the etcd lock (--lock-url) could not be proven held before the commit,
                         // or a writer with a newer fencing token committed
  lock_file_unusable,    // a symlink, directory or other file at its name
  lock_file_unreadable,  // it exists and may not be opened
  lock_dir_unwritable,   // it may not be created in its directory, or that directory opened
  directory_unwritable,  // OUTPUT's directory refuses new files (the lock file, the staged file)
  lock_file_is_target,   // the lock file named is the file being written
  lock_dir_missing,      // the lock file's directory does not exist
  backup_dir_missing,    // the backup directory does not exist
  backup_name_taken,     // a plain backup's name may be another file's timestamped backup
  owner_not_kept,        // keeping the owner was required and not permitted
  owner_not_set,         // the owner or group asked for may not be set
  mount_point,           // OUTPUT is a mount point (a bind-mounted file): no rename replaces it
  directory_missing,     // OUTPUT's directory does not exist
  symlink_refused,       // OUTPUT is a link and the policy refuses links
  symlink_foreign,       // another user's link in a sticky directory
  io_uring_unavailable,  // io_uring was required and the kernel refused it
  input_unopenable,      // the input file named could not be opened
  tree_entry_refused,    // a tree's entry would reach out of it (absolute, .., a link out)
  tree_special_refused,  // a tree's FIFO, device node or set-id bit, not allowed
  tree_exchange_unsupported,  // the filesystem refuses RENAME_EXCHANGE
  tree_not_directory,    // --tree's DIR exists and is not a directory
  check_failed,          // the check command refused the new content
  checksum_mismatch,     // the new content's SHA-256 is not the one expected
  on_change_failed,      // committed, but the on-change command failed
  log_not_written,       // committed, but the audit log could not take its line
  tree_owner_refused,    // an owner or group asked for a tree
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
  failure_reason reason() const noexcept { return reason_; }
  error& with_reason(failure_reason r) & { reason_ = r; return *this; }
  error&& with_reason(failure_reason r) && { reason_ = r; return std::move(*this); }

 private:
  error_code ec_;
  std::string op_;
  std::string path_;
  failure_kind kind_ = failure_kind::io;
  std::string hint_;
  failure_reason reason_ = failure_reason::unspecified;
};

// The plain-words reason for an errno, as users know them from coreutils.
std::string describe(const error_code& ec);

error_code errno_code(int err = errno) noexcept;

[[noreturn]] void throw_error(error_code ec, std::string op, std::string path = {});
[[noreturn]] inline void throw_errno(std::string op, std::string path = {}, int err = errno) {
  throw_error(errno_code(err), std::move(op), std::move(path));
}

// A failed write of new content to `output` (a write, copy or fsync): a
// full disk or quota in PRD 7.3's words, `OUTPUT: No space left on device`
// (the hint says the rest); any other error as `op what: reason`.
[[noreturn]] void throw_write_error(error_code ec, std::string op, std::string what, const std::string& output);

}  // namespace mutx
