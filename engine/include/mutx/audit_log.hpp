// The audit log (--log FILE): one JSON line per write attempt, appended
// with a single write(2) to a descriptor opened O_APPEND, so concurrent
// writers of any targets never interleave or lose lines (the kernel
// serialises appends to a regular file), and synced with the commit.
#pragma once

#include "mutx/fd.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mutx {

// `s` with every byte sequence that is not valid UTF-8 replaced by U+FFFD,
// so JSON lines stay valid when a path holds arbitrary bytes (Linux names
// are bytes).
std::string utf8_lossy(std::string_view s);
// `s` as a JSON string, quotes included (utf8_lossy first).
std::string json_quote(std::string_view s);
// A name from untrusted input (an archive's entry) fit for a message on a
// terminal: control characters (newline, ESC, C1) and bytes that are not
// UTF-8 as C escapes (\n, \x1b), a backslash doubled; the rest as is. So
// a name can neither forge a line nor send a terminal escape.
std::string printable(std::string_view s);

struct audit_entry {
  std::string target;
  std::string outcome;  // written, unchanged, failed, interrupted
  std::string reason;   // why it failed
  std::uint64_t bytes = 0;
  std::optional<std::string> sha256;      // of the new content
  std::optional<std::string> old_sha256;  // of the content replaced
  std::optional<std::string> backup;
  double duration_ms = 0;
};

class audit_log {
 public:
  audit_log() = default;
  // Open (create, 0640) `path` for appending. Throws mutx::error: a log that
  // cannot be opened, or is not a regular file (a device such as /dev/full,
  // a FIFO, a socket), stops the write before anything is published.
  explicit audit_log(const std::string& path);
  bool open() const noexcept { return bool(fd_); }
  // The line: time (UTC, ISO 8601 with milliseconds), user, host, pid, then
  // the entry's fields. With `sync`, fdatasync'd. Throws mutx::error.
  void append(const audit_entry& e, bool sync);
  // Throws mutx::error (ENOSPC) when the log's filesystem has no room for
  // `bytes` more (what the file has allocated past its end counts): called
  // before the commit, so a log that could not take the line stops the
  // write while the target is still as it was.
  void check_room(std::size_t bytes) const;
  // The line append() writes for `e`.
  static std::string format(const audit_entry& e);
  const std::string& path() const noexcept { return path_; }

 private:
  [[noreturn]] void refuse_not_regular() const;
  unique_fd fd_;
  std::string path_;
};

}  // namespace mutx
