// A file mode as chmod(1) takes it: octal ("0640", "4755") or symbolic
// ("u=rw,go=r", "a+x", "g-w", "u+s", "=r", "go=u", "a+X"), a comma-separated
// list of clauses applied left to right. The rules are chmod's (GNU
// coreutils, POSIX): a clause that names no u, g, o or a changes only the
// bits the umask leaves; '=' clears the bits of the classes it names first;
// X adds execute only where someone may already execute; u, g or o after
// the operator copy that class's bits. Octal is absolute: every bit is set
// or cleared.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mutx {

class mode_spec {
 public:
  // An absolute mode (octal on the command line). Above 07777 is kept as
  // given, for the caller to refuse (absolute() shows it).
  mode_spec(mode_t absolute);  // NOLINT(google-explicit-constructor): a mode is a mode spec

  // Octal or symbolic; nullopt when `text` is neither (the caller words the
  // error, naming where the text came from).
  static std::optional<mode_spec> parse(std::string_view text);

  // The mode `old` (permission bits) becomes, with `umask` masking the
  // clauses that name no class. `touched`, when given, receives the bits
  // the spec sets or clears on purpose (all of them for an octal mode),
  // so a caller can tell a set-id bit asked for from one kept from `old`.
  mode_t apply(mode_t old, mode_t umask, mode_t* touched = nullptr) const;

  // The mode itself when it does not depend on the old one (octal).
  std::optional<mode_t> absolute() const;

  // As given ("u=rw,go=r"), or the octal form ("0640").
  const std::string& text() const noexcept { return text_; }

 private:
  mode_spec() = default;
  struct clause {
    char op = '=';           // '=', '+' or '-'
    enum { bits, copy, x_if_any } kind = bits;
    mode_t who = 0;          // the classes named (0: none, the umask applies)
    mode_t value = 0;        // r/w/x/s/t bits, or the class copied from
  };
  std::vector<clause> clauses_;
  std::optional<mode_t> absolute_;
  std::string text_;
};

}  // namespace mutx
