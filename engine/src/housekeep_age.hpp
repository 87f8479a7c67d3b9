// How housekeep tells the age of a file (housekeep.hpp): times with
// nanoseconds, what counts as touched, and the cutoffs --older-than gives.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <compare>
#include <cstdint>
#include <limits>

namespace mutx::detail {

constexpr std::int64_t max_seconds = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t hour = 3600;
constexpr std::int64_t day = 86400;

// A point in time with nanoseconds, ordered.
struct stamp {
  std::int64_t sec = 0;
  std::int64_t nsec = 0;
  friend auto operator<=>(const stamp&, const stamp&) = default;
};

// The clock (or housekeep_options::now) as a stamp.
inline stamp stamp_of(std::chrono::system_clock::time_point t) noexcept {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return {ns / 1'000'000'000, ns % 1'000'000'000};
}

inline stamp ctime_of(const struct stat& st) noexcept { return {st.st_ctim.tv_sec, st.st_ctim.tv_nsec}; }

// When the file was last touched in any way: written (mtime) or changed
// (ctime: linked, renamed, chmod, touch). A copy that kept an old mtime, or
// a temp linked a moment ago, is new by its ctime; an mtime set into the
// future is new by its mtime.
inline stamp touched_of(const struct stat& st) noexcept {
  return std::max(stamp{st.st_mtim.tv_sec, st.st_mtim.tv_nsec}, ctime_of(st));
}

// now - limit, never overflowing: parse_age_limit keeps limits below 2^63 s
// and `now` is near 2^31 s.
inline stamp cutoff(stamp now, std::int64_t limit_seconds) noexcept {
  return {now.sec - std::min(limit_seconds, max_seconds / 2), now.nsec};
}

}  // namespace mutx::detail
