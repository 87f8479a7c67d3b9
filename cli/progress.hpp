// The progress line for --stream: bytes, rate, elapsed, and percent and
// ETA when the input size is known; redrawn at most 5 times a second and
// cleared at the end.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace mutx::cli {

class progress_line {
 public:
  explicit progress_line(bool enabled);
  bool enabled() const noexcept { return enabled_; }
  void update(std::uint64_t bytes, std::optional<std::uint64_t> total);
  void clear();

 private:
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace mutx::cli
