#include "progress.hpp"

#include <cstdio>
#include <string>

namespace mutx::cli {

namespace {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

}  // namespace

progress_line::progress_line(bool enabled)
    : enabled_(enabled), start_(std::chrono::steady_clock::now()), last_(start_) {}

void progress_line::update(std::uint64_t bytes, std::optional<std::uint64_t> total) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  // At most five redraws a second: the stream must not slow down for us.
  if (drawn_ && now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? static_cast<double>(bytes) / secs : 0;
  std::string line = human_bytes(static_cast<double>(bytes)) + "  " + human_bytes(rate) + "/s  " +
                     std::to_string(static_cast<long>(secs)) + "s";
  if (total && *total > 0) {
    double pct = 100.0 * static_cast<double>(bytes) / static_cast<double>(*total);
    char buf[64];
    double eta = rate > 0 ? static_cast<double>(*total - std::min(bytes, *total)) / rate : 0;
    std::snprintf(buf, sizeof buf, "  %.0f%%  ETA %.0fs", pct, eta);
    line += buf;
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void progress_line::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace mutx::cli
