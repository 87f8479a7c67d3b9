// What a user watching the terminal is told while mutx waits on its input:
// the progress line of --stream (bytes, rate, elapsed, and percent and ETA
// when the input size is known) and the notice that the input is read from
// the terminal.
//
// The line is redrawn five times a second from a clock of its own, also
// when no input arrives: a stalled producer shows its rate falling to 0 and
// the seconds going on, not the last rate frozen. Under --json it is a
// "progress" event once a second instead, so stderr stays one object per
// line. The clock starts when the lock is taken (a wait for the lock is
// not the stream's time); the end of the stream is a summary line (bytes,
// time, average rate), or a last progress event with "done": true.
#pragma once

#include "options.hpp"
#include "report.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace mutx::cli {

class progress_line {
 public:
  // Shown for --progress, or for --stream when stderr is a terminal, but
  // not for input typed at that terminal (a redraw would overwrite what is
  // typed), under -q, or by default under --json; --no-progress hides it.
  // Under --json it reports through `report` as events.
  progress_line(const cli_options& c, const reporter& report);
  ~progress_line();
  progress_line(const progress_line&) = delete;
  progress_line& operator=(const progress_line&) = delete;

  bool enabled() const noexcept { return enabled_; }
  // The engine's progress: bytes written so far and the input size if known.
  void update(std::uint64_t bytes, std::optional<std::uint64_t> total);
  // An engine event, printed through `report` with the line out of its way.
  // "lock_acquired" starts the clock; "committed" ends the stream with its
  // summary, printed before the event.
  void show(const event& e, const reporter& report);
  // Stop the clock and erase the line (a summary stays).
  void clear();

 private:
  using clock = std::chrono::steady_clock;
  void start_locked();
  void tick(std::stop_token stop);
  // Sample the rate; draw the line (or send the event) if `show`.
  void draw_locked(clock::time_point now, bool show);
  void summary_locked(clock::time_point now);
  void erase_locked();

  const bool enabled_;
  const bool append_;
  const reporter* json_;
  std::mutex m_;
  std::condition_variable_any wake_;
  bool started_ = false, finished_ = false, drawn_ = false;
  std::uint64_t bytes_ = 0;
  std::optional<std::uint64_t> total_;
  clock::time_point start_, last_shown_;
  // (time, bytes) at each tick over the last rate window.
  std::deque<std::pair<clock::time_point, std::uint64_t>> samples_;
  std::jthread ticker_;  // last: joined before the members it uses go
};

// A writer whose input is typed at the terminal (standard input is a
// terminal, no --input, no command) says so once, and how to end it, as a
// notice (none under -q; a JSON event under --json).
void tell_typed_input(const cli_options& c, const reporter& report);

}  // namespace mutx::cli
