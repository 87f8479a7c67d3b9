// Human and JSON output on stderr. Errors are "Error: CONTEXT: REASON"
// plus an optional "Hint: ..."; --json writes one object per line instead.
#pragma once

#include "mutx/audit_log.hpp"
#include "mutx/error.hpp"
#include "mutx/writer.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace mutx::cli {

// `s` with every byte sequence that is not valid UTF-8 replaced by U+FFFD,
// so --json lines stay valid JSON when a path holds arbitrary bytes (Linux
// names are bytes; Boost.JSON copies them through unchecked).
using mutx::utf8_lossy;  // mutx/audit_log.hpp

// Whether the command line asks for --json (before `--`), for the errors
// found before or while it is parsed.
bool asks_for_json(const std::vector<std::string>& args);

class reporter {
 public:
  reporter(int verbosity, bool json) : verbosity_(verbosity), json_(json) {}

  void on_event(const event& e) const;
  // Prints the error; returns the exit code for it.
  int on_error(const mutx::error& e) const;
  int on_error(const std::string& message, const std::string& hint = {}) const;
  bool json() const noexcept { return json_; }
  // Whether events of this level are printed (-q, -v, -vv, --json).
  bool shown(event::level lvl) const;

 private:
  int verbosity_;
  bool json_;
  // A "Waiting for lock..." line was shown and no "Lock acquired" yet.
  mutable bool wait_shown_ = false;
};

}  // namespace mutx::cli
