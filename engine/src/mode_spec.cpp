#include "mutx/mode_spec.hpp"

#include <sys/stat.h>

#include <cstdio>

namespace mutx {

namespace {

constexpr mode_t all_bits = 07777;

// The grammar and the arithmetic are chmod's: gnulib's modechange.c
// (mode_compile, mode_adjust), for a file that is not a directory.
constexpr mode_t class_bits(char c) {
  switch (c) {
    case 'u': return S_ISUID | S_IRWXU;
    case 'g': return S_ISGID | S_IRWXG;
    case 'o': return S_ISVTX | S_IRWXO;
    case 'a': return all_bits;
    default: return 0;
  }
}

// "+755" and the like: digits after an operator, up to a comma or the end.
bool octal(std::string_view s, std::size_t& i, mode_t& value) {
  if (i >= s.size() || s[i] < '0' || s[i] > '7') return false;
  unsigned v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '7') {
    v = v * 8 + static_cast<unsigned>(s[i++] - '0');
    if (v > all_bits) return false;
  }
  value = static_cast<mode_t>(v);
  return true;
}

}  // namespace

mode_spec::mode_spec(mode_t absolute) : absolute_(absolute) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0%o", static_cast<unsigned>(absolute));
  text_ = buf;
}

std::optional<mode_spec> mode_spec::parse(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s[0] >= '0' && s[0] <= '7') {
    std::size_t i = 0;
    mode_t v = 0;
    if (!octal(s, i, v) || i != s.size()) return std::nullopt;
    mode_spec m(v);
    m.text_ = std::string(s);
    return m;
  }
  mode_spec m;
  m.text_ = std::string(s);
  std::size_t i = 0;
  for (;;) {
    // [ugoa]*
    mode_t who = 0;
    while (i < s.size() && class_bits(s[i])) who |= class_bits(s[i++]);
    // ([-+=]([rwxXst]*|[ugo]|[0-7]+))+
    if (i >= s.size() || (s[i] != '=' && s[i] != '+' && s[i] != '-')) return std::nullopt;
    while (i < s.size() && (s[i] == '=' || s[i] == '+' || s[i] == '-')) {
      clause c;
      c.op = s[i++];
      c.who = who;
      if (i < s.size() && s[i] >= '0' && s[i] <= '7') {
        // Octal after the operator: only with no class named, and alone.
        if (who || !octal(s, i, c.value) || (i < s.size() && s[i] != ',')) return std::nullopt;
        c.who = all_bits;
      } else if (i < s.size() && (s[i] == 'u' || s[i] == 'g' || s[i] == 'o')) {
        c.kind = clause::copy;
        c.value = s[i] == 'u' ? S_IRWXU : s[i] == 'g' ? S_IRWXG : S_IRWXO;
        ++i;
      } else {
        for (; i < s.size(); ++i) {
          const char p = s[i];
          if (p == 'r') c.value |= S_IRUSR | S_IRGRP | S_IROTH;
          else if (p == 'w') c.value |= S_IWUSR | S_IWGRP | S_IWOTH;
          else if (p == 'x') c.value |= S_IXUSR | S_IXGRP | S_IXOTH;
          else if (p == 'X') c.kind = clause::x_if_any;
          else if (p == 's') c.value |= S_ISUID | S_ISGID;
          else if (p == 't') c.value |= S_ISVTX;
          else break;
        }
      }
      m.clauses_.push_back(c);
    }
    if (i == s.size()) return m;
    if (s[i] != ',') return std::nullopt;
    ++i;
  }
}

mode_t mode_spec::apply(mode_t old, mode_t umask, mode_t* touched) const {
  if (absolute_) {
    if (touched) *touched = all_bits;
    return *absolute_ & all_bits;
  }
  mode_t mode = old & all_bits;
  mode_t changed = 0;
  for (const clause& c : clauses_) {
    mode_t value = c.value;
    if (c.kind == clause::copy) {
      value &= mode;
      value = (value & (S_IRUSR | S_IRGRP | S_IROTH) ? S_IRUSR | S_IRGRP | S_IROTH : 0) |
              (value & (S_IWUSR | S_IWGRP | S_IWOTH) ? S_IWUSR | S_IWGRP | S_IWOTH : 0) |
              (value & (S_IXUSR | S_IXGRP | S_IXOTH) ? S_IXUSR | S_IXGRP | S_IXOTH : 0);
    } else if (c.kind == clause::x_if_any && (mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
      value |= S_IXUSR | S_IXGRP | S_IXOTH;
    }
    // Named classes limit the change to their bits; none named, the umask
    // keeps its bits out of it.
    value &= c.who ? c.who : ~umask;
    switch (c.op) {
      case '=': {
        // With classes named, the bits of the others stay; without, all go.
        const mode_t kept = c.who ? ~c.who : 0;
        changed |= all_bits & ~kept;
        mode = (mode & kept) | value;
        break;
      }
      case '+':
        changed |= value;
        mode |= value;
        break;
      default:
        changed |= value;
        mode &= ~value;
    }
  }
  if (touched) *touched = changed;
  return mode & all_bits;
}

std::optional<mode_t> mode_spec::absolute() const { return absolute_; }

}  // namespace mutx
