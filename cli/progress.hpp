// The progress line for --stream: bytes, rate, elapsed, and percent and
// ETA when the input size is known; redrawn at most 5 times a second and
// cleared at the end. Under --json it is a "progress" event instead, one
// JSON line a second, so stderr stays one object per line.
#pragma once

#include "report.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace mutx::cli {

class progress_line {
 public:
  // `json`: report through it as events rather than draw a line.
  explicit progress_line(bool enabled, const reporter* json = nullptr);
  bool enabled() const noexcept { return enabled_; }
  void update(std::uint64_t bytes, std::optional<std::uint64_t> total);
  void clear();

 private:
  bool enabled_;
  const reporter* json_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace mutx::cli
