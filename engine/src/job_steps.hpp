// The steps every write shares, file or tree (write_job.cpp, tree_job.cpp):
// the job's state, events, the library caller's input checked, the lock
// taken and checked intact before the commit. Each protocol derives its job
// from job_steps and reads top to bottom as its own steps.
#pragma once

#include "mutx/check.hpp"
#include "mutx/lock.hpp"
#include "mutx/ring.hpp"
#include "mutx/stop.hpp"
#include "mutx/target.hpp"
#include "mutx/writer.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace mutx::detail {

using clock_type = std::chrono::steady_clock;

inline double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

[[noreturn]] inline void interrupted() { throw error(failure_kind::interrupted, "Interrupted"); }

struct job_steps {
  const write_options& o;
  const write_hooks& hooks;
  ring& r;
  stop_source& stop;
  bool& committed;
  write_report& rep;
  // Where the lock file is; its directory must outlive the lock_file,
  // which keeps only the descriptor's number.
  lock_location lock_at;

  void emit(event::level lvl, std::string name, std::string message,
            std::vector<std::pair<std::string, event::value>> fields = {}) const {
    if (hooks.on_event) hooks.on_event(event{lvl, std::move(name), std::move(message), std::move(fields)});
  }

  // What a library caller can get wrong (the CLI's parser refuses most of
  // it first), checked before anything is touched: a NUL byte would cut a
  // path short and write another file; a mode above 07777 would be masked
  // into another mode; a bad suffix would make the target its own backup.
  void validate() const;

  // --input FILE opened for reading, or the error in the PRD's words (7.4:
  // `Error: missing.txt: No such file or directory`); `replaces` says in
  // the hint what the input is.
  unique_fd open_input_file(const std::string& replaces) const;

  // The "backend" debug event (-vv): which I/O path the write takes.
  void report_backend() const;

  // The commit's figures in the report (duration, backend) and the fields
  // every "committed" event carries; each job adds its own.
  using event_fields = std::vector<std::pair<std::string, event::value>>;
  event_fields committed_fields(clock_type::time_point started);
  // The same for a write that found nothing to change (--compare).
  event_fields unchanged_fields(clock_type::time_point started);

  // Root replacing another user's file or tree hands it to root unless
  // asked to keep the owner (the PRD keeps that opt-in); `sed -i` keeps it,
  // so it is said: an app's 0600 config would become unreadable to the app.
  // The "owner_changed" warning for `display`, once `was` (the old file or
  // top directory) and `now` (the new one) differ in owner or group
  // (`uid_asked`/`gid_asked`: what --owner/--group set is not a change to
  // warn of), added to the report's warnings; nullopt when nothing changed.
  std::optional<event> owner_change(const struct stat& was, const struct stat& now, const std::string& display,
                                    bool uid_asked = false, bool gid_asked = false);

  // " (5s timeout)" when the wait has a limit.
  std::string timeout_note() const;

  boost::asio::awaitable<lock_file> take_lock(const target& t);

  // The lock file must still be the one we locked: someone who removed or
  // replaced it (rm, a flock(1) user's cleanup) let the next writer lock a
  // new file and run beside us. Fail rather than commit over its update.
  void check_lock_intact(const lock_file& lk, const target& t) const;

  // --check: run `sc` (its command already holds the staged path for %s),
  // its output relayed as check_output events under --json. Returns the
  // wait status; throws interrupted on a stop request.
  boost::asio::awaitable<int> run_check(shell_command sc);
  // A check that did not exit 0 leaves the target as it was.
  void refuse_failed_check(int status, const target& t) const;

  // --on-change after a commit that changed the target, `%s` being OUTPUT.
  // Returns "" or what failed (the caller reports it after the log line).
  boost::asio::awaitable<std::string> run_on_change(const target& t);
};

// A protocol's entry point (run_write, run_tree): its job, run.
template <class Job>
boost::asio::awaitable<void> run_job(const write_options& o, const write_hooks& hooks, ring& r, stop_source& stop,
                                     bool& committed, write_report& rep) {
  Job j{{o, hooks, r, stop, committed, rep, {}}};
  co_await j.run();
}

}  // namespace mutx::detail
