#include "mutx/audit_log.hpp"

#include "mutx/error.hpp"
#include "mutx/metadata.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace mutx {

namespace {

// The valid UTF-8 sequence at `i` in `s`: its length (0: not valid) and
// code point.
std::size_t utf8_at(std::string_view s, std::size_t i, std::uint32_t& cp) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  unsigned char c = p[i];
  std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  bool ok = len != 0 && i + len <= n;
  for (std::size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
  cp = c;
  if (ok && len > 1) {
    // Reject overlong forms, surrogates and values above U+10FFFF.
    cp = c & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3F);
    static constexpr std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = cp >= min_for_len[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
  }
  return ok ? len : 0;
}

}  // namespace

std::string utf8_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp;
    if (const std::size_t len = utf8_at(s, i, cp)) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [&](unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  };
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp;
    const std::size_t len = utf8_at(s, i, cp);
    if (len == 0) {
      hex(static_cast<unsigned char>(s[i++]));
      continue;
    }
    switch (cp) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (cp < 0x20 || cp == 0x7f) {
          hex(static_cast<unsigned char>(cp));
        } else if (cp >= 0x80 && cp <= 0x9f) {  // C1: CSI (U+009B) starts an escape on some terminals
          for (std::size_t k = 0; k < len; ++k) hex(static_cast<unsigned char>(s[i + k]));
        } else {
          out.append(s.substr(i, len));
        }
    }
    i += len;
  }
  return out;
}

std::string json_quote(std::string_view s) {
  const std::string text = utf8_lossy(s);
  std::string out = "\"";
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

namespace {

// From /etc/passwd itself (metadata.hpp): the binary is static, and NSS
// through getpwuid would need the shared libraries of the glibc it was built with.
std::string user_name() { return mutx::user_name(::geteuid()); }

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

audit_log::audit_log(const std::string& path) : path_(path) {
  // Only a regular file takes whole lines from concurrent writers and can
  // be checked for room: a FIFO (whose open would wait for a reader), a
  // socket or a device (/dev/full, a terminal) is refused before it is
  // opened, as it may act on an open.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) refuse_not_regular();
  fd_.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640));
  if (!fd_) throw error(errno_code(), "cannot open log", path).with_hint("The target was left as it was.");
  if (::fstat(fd_.get(), &st) != 0) throw_errno("cannot inspect log", path);
  if (!S_ISREG(st.st_mode)) refuse_not_regular();
  (void)::fcntl(fd_.get(), F_SETFL, O_APPEND);  // O_NONBLOCK was for the open only
}

void audit_log::refuse_not_regular() const {
  throw error(failure_kind::io, "cannot use log " + path_ + ": not a regular file",
              "The log must be a regular file; the target was left as it was.");
}

void audit_log::check_room(std::size_t bytes) const {
  if (!fd_) return;
  struct stat st;
  struct statvfs vs;
  if (::fstat(fd_.get(), &st) != 0 || ::fstatvfs(fd_.get(), &vs) != 0 || vs.f_blocks == 0 || vs.f_frsize == 0)
    return;  // nothing known: the append will tell
  // What the file has allocated past its end takes the line first.
  const auto allocated = static_cast<unsigned long long>(st.st_blocks) * 512;
  const auto size = static_cast<unsigned long long>(st.st_size);
  const unsigned long long slack = allocated > size ? allocated - size : 0;
  if (slack >= bytes) return;
  // Root may use the blocks reserved for it (ext4's reserved blocks).
  const unsigned long long free_blocks = ::geteuid() == 0 ? vs.f_bfree : vs.f_bavail;
  const unsigned long long need = (bytes - slack + vs.f_frsize - 1) / vs.f_frsize;
  if (free_blocks < need)
    throw error(errno_code(ENOSPC), "no room for a line in log", path_);
}

std::string audit_log::format(const audit_entry& e) {
  char num[64];
  std::string line = "{\"time\":" + json_quote(utc_now()) + ",\"user\":" + json_quote(user_name()) +
                     ",\"host\":" + json_quote(host_name()) + ",\"pid\":" + std::to_string(::getpid()) +
                     ",\"target\":" + json_quote(e.target) + ",\"outcome\":" + json_quote(e.outcome);
  if (!e.reason.empty()) line += ",\"reason\":" + json_quote(e.reason);
  line += ",\"bytes\":" + std::to_string(e.bytes);
  line += ",\"sha256\":" + (e.sha256 ? json_quote(*e.sha256) : std::string("null"));
  line += ",\"old_sha256\":" + (e.old_sha256 ? json_quote(*e.old_sha256) : std::string("null"));
  line += ",\"backup\":" + (e.backup ? json_quote(*e.backup) : std::string("null"));
  std::snprintf(num, sizeof num, "%.3f", e.duration_ms);
  line += ",\"duration_ms\":" + std::string(num) + "}\n";
  return line;
}

void audit_log::append(const audit_entry& e, bool sync) {
  if (!fd_) return;
  const std::string line = format(e);
  // One write: O_APPEND moves to the end and writes the line as one step.
  ssize_t n;
  do {
    n = ::write(fd_.get(), line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw_errno("cannot write log", path_);
  if (static_cast<std::size_t>(n) != line.size())
    throw_errno("cannot write log", path_, ENOSPC);  // a short append: the disk is full
  if (sync && ::fdatasync(fd_.get()) != 0 && errno != EINVAL && errno != EROFS) throw_errno("cannot sync log", path_);
}

}  // namespace mutx
