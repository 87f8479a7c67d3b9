#include "job_steps.hpp"

#include "mutx/backup.hpp"
#include "mutx/error.hpp"
#include "mutx/fd.hpp"
#include "mutx/metadata.hpp"
#include "mutx/staging.hpp"

#include <fcntl.h>

#include <cstdio>

namespace mutx::detail {

namespace asio = boost::asio;

// What a library caller can get wrong (the CLI's parser refuses most of
// it first), checked before anything is touched: a NUL byte would cut a
// path short and write another file; a mode above 07777 would be masked
// into another mode; a bad suffix would make the target its own backup.
void job_steps::validate() const {
  auto whole = [](const std::string& path, const char* what) {
    if (path.find('\0') != std::string::npos)
      throw error(failure_kind::io, std::string(what) + " contains a NUL byte",
                  "A path ends at its first NUL byte; pass the name without it.");
  };
  whole(o.output, "OUTPUT");
  if (o.input) whole(*o.input, "the input path");
  if (o.lock_file) whole(*o.lock_file, "the lock file path");
  if (o.backup.dir) whole(*o.backup.dir, "the backup directory");
  auto mode = [](std::optional<mode_t> m, const char* what) {
    if (!m || *m <= 07777) return;
    char octal[16];
    std::snprintf(octal, sizeof octal, "0%o", static_cast<unsigned>(*m));
    throw error(failure_kind::io, std::string("invalid ") + what + " " + octal + ": above 07777",
                "Give a mode of at most 07777, such as 0644.");
  };
  if (o.metadata.mode) mode(o.metadata.mode->absolute(), "mode");
  if (o.metadata.uid == static_cast<uid_t>(-1) || o.metadata.gid == static_cast<gid_t>(-1))
    throw error(failure_kind::io, "invalid owner or group -1 (4294967295)", "Give the user or group to set, or none.");
  mode(o.backup.mode, "backup mode");
  mode(o.lock_mode, "lock mode");
  if (o.backup.enabled) check_backup_suffix(o.backup.suffix);
}

job_steps::event_fields job_steps::committed_fields(clock_type::time_point started) {
  rep.duration_ms = ms_since(started);
  rep.backend = r.backend();
  return {{"bytes", static_cast<std::int64_t>(rep.bytes)},
          {"duration_ms", rep.duration_ms},
          {"strategy", rep.strategy},
          {"backend", rep.backend},
          {"staging", rep.staging},
          {"changed", true}};
}

job_steps::event_fields job_steps::unchanged_fields(clock_type::time_point started) {
  rep.changed = false;
  rep.duration_ms = ms_since(started);
  rep.backend = r.backend();
  return {{"changed", false}, {"bytes", static_cast<std::int64_t>(rep.bytes)}, {"duration_ms", rep.duration_ms}};
}

unique_fd job_steps::open_input_file(const std::string& replaces) const {
  unique_fd fd(::open(o.input->c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd)
    throw error(errno_code(), "", *o.input)
        .with_hint("It was named as the input, " + replaces + ".")
        .with_reason(failure_reason::input_unopenable);
  return fd;
}

void job_steps::report_backend() const {
  if (!hooks.debug_events) return;
  r.probe();
  emit(event::level::debug, "backend",
       "I/O backend: " + r.backend() + (r.fallback_reason().empty() ? "" : " (" + r.fallback_reason() + ")"),
       {{"backend", r.backend()}, {"reason", r.fallback_reason()}});
}

// " (5s timeout)" when the wait has a limit.
std::optional<event> job_steps::owner_change(const struct stat& was, const struct stat& now,
                                             const std::string& display, bool uid_asked, bool gid_asked) {
  if ((uid_asked || was.st_uid == now.st_uid) && (gid_asked || was.st_gid == now.st_gid)) return std::nullopt;
  std::string before = owner_name(was.st_uid, was.st_gid), after = owner_name(now.st_uid, now.st_gid);
  std::string w = display + " was owned by " + before + " and is now owned by " + after;
  rep.warnings.push_back(w);
  return event{event::level::warning, "owner_changed", std::move(w), {{"old_owner", before}, {"new_owner", after}}};
}

std::string job_steps::timeout_note() const {
  if (o.wait.how != lock_wait::policy::timeout) return {};
  char buf[48];
  std::snprintf(buf, sizeof buf, " (%gs timeout)", o.wait.timeout.count());
  return buf;
}

asio::awaitable<lock_file> job_steps::take_lock(const target& t) {
  lock_at = locate_lock(o.lock_file, t);
  rep.lock_file = lock_at.display;
  const auto start = clock_type::now();
  auto on_wait = [&] {
    emit(event::level::notice, "lock_wait", "Waiting for lock on " + o.output + timeout_note() + "...",
         {{"lock_file", lock_at.display}});
  };
  lock_file lk;
  try {
    lk = co_await acquire_lock(lock_at.dir(), lock_at.name, o.lock_mode, lock_at.display, o.output, o.wait, stop,
                               on_wait);
  } catch (const error& e) {
    // The default lock file is made in OUTPUT's directory, as the staged
    // file is: another lock file would not help, only that directory's
    // permissions (PRD 7.2).
    if (o.lock_file || e.reason() != failure_reason::lock_dir_unwritable) throw;
    throw error(e.code(), e.op(), e.path())
        .with_hint(unwritable_directory_hint(t.dir_display))
        .with_reason(failure_reason::directory_unwritable);
  }
  lk.keep_name(o.keep_lock_file);
  // FR-6: a lock file that stays behind is said, not fatal (housekeep
  // --clean-locks removes it). Said when the lock ends: after the commit,
  // or before the error of a write that failed.
  lk.on_unlink_failed([this, display = lock_at.display](int err) {
    std::string w = "could not remove lock file " + display + ": " + describe(errno_code(err));
    emit(event::level::warning, "lock_not_removed", w, {{"lock_file", display}, {"errno", std::int64_t{err}}});
    rep.warnings.push_back(std::move(w));
  });
  if (lock_at.dir_append_only && !o.keep_lock_file) {
    std::string w = "lock file " + lock_at.display +
                    " will be left behind: its directory is append-only (chattr +a), so no file in it can be removed";
    emit(event::level::warning, "lock_file", w, {{"lock_file", lock_at.display}});
    rep.warnings.push_back(std::move(w));
  }
  rep.lock_wait_ms = ms_since(start);
  // The PRD's words and level (TR-7: "info", also after a wait). A waiter
  // that was told "Waiting for lock..." hears "Lock acquired" too (7.1):
  // the command line shows it after a shown wait (report.cpp).
  emit(event::level::info, "lock_acquired", "Lock acquired",
       {{"lock_file", lock_at.display}, {"wait_time_ms", rep.lock_wait_ms}});
  co_return lk;
}

// The lock file must still be the one we locked: someone who removed or
// replaced it (rm, a flock(1) user's cleanup) let the next writer lock a
// new file and run beside us. Fail rather than commit over its update.
void job_steps::check_lock_intact(const lock_file& lk, const target& t) const {
  if (!lk.held() || lk.intact()) return;
  throw error(failure_kind::locked,
              "lock file " + rep.lock_file + " was removed or replaced while this write held it; " + t.display +
                  " was not changed",
              "Another program deleted or replaced the lock file; run again. Programs that use flock(1) on it "
              "need the lock file kept.")
      .with_reason(failure_reason::lock_lost);
}

asio::awaitable<int> job_steps::run_check(shell_command sc) {
  if (o.command_stderr_events)
    sc.on_line = [this](std::string line) {
      emit(event::level::notice, "check_output", std::move(line), {{"command", *o.check}});
    };
  emit(event::level::debug, "check", "Checking with: " + sc.command, {{"command", sc.command}});
  const int status = co_await run_shell(sc, stop);
  if (stop.stop_requested()) interrupted();
  co_return status;
}

void job_steps::refuse_failed_check(int status, const target& t) const {
  if (status != 0)
    throw error(failure_kind::io, t.display + ": check failed: '" + *o.check + "' " + describe_exit(status),
                "The target was left as it was.")
        .with_reason(failure_reason::check_failed);
  emit(event::level::info, "checked", "Check passed: " + *o.check, {{"command", *o.check}});
}

asio::awaitable<std::string> job_steps::run_on_change(const target& t) {
  shell_command sc;
  sc.command = names_path(*o.on_change) ? with_path(*o.on_change, o.output) : *o.on_change;
  if (o.command_stderr_events)
    sc.on_line = [this](std::string line) {
      emit(event::level::notice, "on_change_output", std::move(line), {{"command", *o.on_change}});
    };
  const int status = co_await run_shell(sc, stop);
  if (status == 0) co_return std::string();
  co_return t.display + ": the new content is in place, but --on-change '" + *o.on_change + "' " +
      describe_exit(status);
}

}  // namespace mutx::detail
