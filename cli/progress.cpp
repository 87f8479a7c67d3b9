#include "progress.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <system_error>

namespace mutx::cli {

namespace {

// Five redraws a second keep a terminal line alive without slowing the
// stream; a JSON line a second (every fifth tick), since each one stays in
// the log. The rate is sampled at every tick either way.
constexpr std::chrono::milliseconds tick_period{200};
constexpr int ticks_per_json_event = 5;
// The rate is what arrived over the last two seconds: a stalled producer
// shows 0 B/s two seconds after its last byte.
constexpr std::chrono::seconds rate_window{2};

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

namespace {

bool wanted(const cli_options& c) {
  using mode = cli_options::progress_mode;
  if (c.verbosity < 0 || c.progress == mode::off) return false;
  if (c.progress == mode::on) return true;
  return c.write.stream && !c.json && !c.typed_input && ::isatty(STDERR_FILENO);
}

}  // namespace

progress_line::progress_line(const cli_options& c, const reporter& report)
    : enabled_(wanted(c)),
      append_(c.write.append),
      json_(report.json() ? &report : nullptr) {}

progress_line::~progress_line() { clear(); }

void progress_line::start_locked() {
  if (started_ || finished_ || !enabled_) return;
  started_ = true;
  start_ = clock::now();
  samples_.assign(1, {start_, bytes_});
  // The clock's thread takes no signals: SIGINT, SIGTERM and SIGHUP belong
  // to the engine's handler on the main thread, which unblocks them there.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    ticker_ = std::jthread([this](std::stop_token stop) { tick(stop); });
  } catch (const std::system_error&) {
    // No thread to be had (a process limit): update() draws as the bytes
    // come, which is all a progress line did before it had its own clock.
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void progress_line::tick(std::stop_token stop) {
  std::unique_lock lk(m_);
  long ticks = 1;
  for (;;) {
    clock::time_point next = start_ + ticks * tick_period;
    wake_.wait_until(lk, stop, next, [&] { return finished_; });
    if (stop.stop_requested() || finished_) return;
    clock::time_point now = clock::now();
    if (now < next) continue;
    draw_locked(now, !json_ || ticks % ticks_per_json_event == 0);
    // A late wake-up skips the ticks it missed instead of catching up, but
    // a JSON event due in them still comes (late) rather than never.
    long due = static_cast<long>((now - start_) / tick_period) + 1;
    long next_event = (ticks / ticks_per_json_event + 1) * ticks_per_json_event;
    ticks = json_ && next_event < due ? next_event : std::max(ticks + 1, due);
  }
}

void progress_line::update(std::uint64_t bytes, std::optional<std::uint64_t> total) {
  if (!enabled_) return;
  std::lock_guard lk(m_);
  if (finished_) return;
  start_locked();
  bytes_ = bytes;
  total_ = total;
  // A terminal shows the first bytes at once; later ones at the next tick.
  auto now = clock::now();
  if (!json_ && !drawn_) draw_locked(now, true);
  else if (!ticker_.joinable() && now - last_shown_ >= (json_ ? ticks_per_json_event : 1) * tick_period)
    draw_locked(now, true);
}

void progress_line::draw_locked(clock::time_point now, bool show) {
  samples_.emplace_back(now, bytes_);
  while (samples_.size() > 2 && samples_[1].first <= now - rate_window) samples_.pop_front();
  const auto& [then, bytes_then] = samples_.front();
  double window = std::chrono::duration<double>(now - then).count();
  double rate = window > 0 ? static_cast<double>(bytes_ - bytes_then) / window : 0;
  if (!show) return;
  last_shown_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  std::string line = human_bytes(static_cast<double>(bytes_)) + "  " + human_bytes(rate) + "/s  " +
                     std::to_string(static_cast<long>(secs)) + "s";
  if (total_ && *total_ > 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "  %.0f%%", 100.0 * static_cast<double>(bytes_) / static_cast<double>(*total_));
    line += buf;
    // No ETA while nothing arrives: it would be a guess from an old rate.
    if (rate > 0) {
      std::snprintf(buf, sizeof buf, "  ETA %.0fs", static_cast<double>(*total_ - std::min(bytes_, *total_)) / rate);
      line += buf;
    }
  }
  if (json_) {
    event e{event::level::info, "progress", line,
            {{"bytes", static_cast<std::int64_t>(bytes_)},
             {"elapsed_ms", static_cast<std::int64_t>(secs * 1000)},
             {"bytes_per_second", static_cast<std::int64_t>(rate)}}};
    if (total_ && *total_ > 0) e.fields.emplace_back("total_bytes", static_cast<std::int64_t>(*total_));
    json_->on_event(e);
    return;
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void progress_line::summary_locked(clock::time_point now) {
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = static_cast<double>(bytes_) / std::max(secs, 0.001);
  char time[32];
  std::snprintf(time, sizeof time, "%.1fs", secs);
  std::string line = human_bytes(static_cast<double>(bytes_)) + " in " + time + " (" + human_bytes(rate) + "/s)";
  if (json_) {
    json_->on_event(event{event::level::info, "progress", line,
                          {{"bytes", static_cast<std::int64_t>(bytes_)},
                           {"elapsed_ms", static_cast<std::int64_t>(secs * 1000)},
                           {"bytes_per_second", static_cast<std::int64_t>(rate)},
                           {"done", true}}});
    return;
  }
  erase_locked();
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void progress_line::erase_locked() {
  if (!drawn_ || json_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

void progress_line::show(const event& e, const reporter& report) {
  if (!enabled_) {
    report.on_event(e);
    return;
  }
  std::lock_guard lk(m_);
  if (e.name == "committed" && !finished_) {
    // The bytes of the stream: the engine's last progress call may lag
    // behind the end (none for a short final piece). Appended, the
    // committed file also holds the old content, which was not streamed.
    for (const auto& [key, value] : e.fields)
      if (key == "bytes" && !append_ && std::holds_alternative<std::int64_t>(value))
        bytes_ = std::max<std::uint64_t>(bytes_, static_cast<std::uint64_t>(std::get<std::int64_t>(value)));
    // Timed from the lock; a write that reported no lock is timed from
    // here, without a clock thread for the instant it has left.
    if (!started_) start_ = clock::now();
    summary_locked(clock::now());
    finished_ = true;
    wake_.notify_all();
  }
  erase_locked();
  report.on_event(e);
  if (e.name == "lock_acquired") start_locked();
}

void progress_line::clear() {
  {
    std::lock_guard lk(m_);
    finished_ = true;
    erase_locked();
  }
  wake_.notify_all();
  if (ticker_.joinable()) {
    ticker_.request_stop();
    ticker_.join();
  }
}

void tell_typed_input(const cli_options& c, const reporter& report) {
  if (!c.typed_input) return;
  report.on_event(event{event::level::notice, "reading_terminal",
                        "Reading standard input from the terminal for " + c.write.output +
                            "; end it with Ctrl-D at the start of a line (Ctrl-C cancels)",
                        {}});
}

}  // namespace mutx::cli
