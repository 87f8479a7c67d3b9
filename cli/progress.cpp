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

progress_line::progress_line(bool enabled, const reporter* json)
    : enabled_(enabled), json_(json), start_(std::chrono::steady_clock::now()), last_(start_) {}

void progress_line::update(std::uint64_t bytes, std::optional<std::uint64_t> total) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  // At most five redraws a second: the stream must not slow down for us.
  // A JSON line a second: each one stays in the log.
  if (drawn_ && now - last_ < std::chrono::milliseconds(json_ ? 1000 : 200)) return;
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
  drawn_ = true;
  if (json_) {
    event e{event::level::info, "progress", line,
            {{"bytes", static_cast<std::int64_t>(bytes)},
             {"elapsed_ms", static_cast<std::int64_t>(secs * 1000)},
             {"bytes_per_second", static_cast<std::int64_t>(rate)}}};
    if (total && *total > 0) e.fields.emplace_back("total_bytes", static_cast<std::int64_t>(*total));
    json_->on_event(e);
    return;
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
}

void progress_line::clear() {
  if (!drawn_ || json_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace mutx::cli
