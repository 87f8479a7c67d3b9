#include "mutx/writer.hpp"

#include "mutx/command.hpp"
#include "mutx/ops.hpp"
#include "mutx/pump.hpp"
#include "mutx/staging.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/this_coro.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>

namespace mutx {

namespace asio = boost::asio;

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

[[noreturn]] void interrupted() {
  throw error(failure_kind::interrupted, "Interrupted");
}

[[noreturn]] void no_input() {
  throw error(failure_kind::io, "No input provided",
              "The target was left as it was; pass --allow-empty to write an empty file.");
}

// One write in progress: the options, the loop's pieces, what we report.
struct job {
  const write_options& o;
  const write_hooks& hooks;
  ring& r;
  stop_source& stop;
  bool& committed;
  write_report& rep;

  void emit(event::level lvl, std::string name, std::string message,
            std::vector<std::pair<std::string, event::value>> fields = {}) const {
    if (hooks.on_event) hooks.on_event(event{lvl, std::move(name), std::move(message), std::move(fields)});
  }

  // " (5s timeout)" when the wait has a limit.
  std::string timeout_note() const {
    if (o.wait.how != lock_wait::policy::timeout) return {};
    char buf[48];
    std::snprintf(buf, sizeof buf, " (%gs timeout)", o.wait.timeout.count());
    return buf;
  }

  asio::awaitable<lock_file> take_lock(const target& t) {
    lock_at = locate_lock(o.lock_file, t);
    rep.lock_file = lock_at.display;
    auto start = clock_type::now();
    bool waited = false;
    lock_file lk = co_await acquire_lock(lock_at.dir(), lock_at.name, o.lock_mode, lock_at.display, o.output, o.wait,
                                         stop, [&] {
                                           waited = true;
                                           emit(event::level::notice, "lock_wait",
                                                "Waiting for lock on " + o.output + timeout_note() + "...",
                                                {{"lock_file", lock_at.display}});
                                         });
    lk.keep_name(o.keep_lock_file);
    rep.lock_wait_ms = ms_since(start);
    // The PRD's words; after a wait it is said as the wait was (section 7.1).
    emit(waited ? event::level::notice : event::level::info, "lock_acquired", "Lock acquired",
         {{"lock_file", lock_at.display}, {"wait_time_ms", rep.lock_wait_ms}});
    co_return lk;
  }
  // Where the lock file is; its directory must outlive the lock_file,
  // which keeps only the descriptor's number.
  lock_location lock_at;

  // The lock file must still be the one we locked: someone who removed or
  // replaced it (rm, a flock(1) user's cleanup) let the next writer lock a
  // new file and run beside us. Fail rather than commit over its update.
  void check_lock_intact(const lock_file& lk, const target& t) const {
    if (!lk.held() || lk.intact()) return;
    throw error(failure_kind::locked, "lock file " + rep.lock_file + " was removed or replaced while this write held it; " +
                                          t.display + " was not changed",
                "Another program deleted or replaced the lock file; run again. Scripts that use flock(1) on it "
                "need --keep-lock-file.");
  }

  // What a library caller can get wrong (the CLI's parser refuses most of
  // it first), checked before anything is touched: a NUL byte would cut a
  // path short and write another file; a mode above 07777 would be masked
  // into another mode; a bad suffix would make the target its own backup.
  void validate() const {
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
    mode(o.metadata.mode, "mode");
    mode(o.backup.mode, "backup mode");
    mode(o.lock_mode, "lock mode");
    if (o.backup.enabled) check_backup_suffix(o.backup.suffix);
  }

  asio::awaitable<void> run() {
    validate();
    auto started = clock_type::now();
    if (hooks.debug_events) {
      r.probe();
      emit(event::level::debug, "backend",
           "I/O backend: " + r.backend() + (r.fallback_reason().empty() ? "" : " (" + r.fallback_reason() + ")"),
           {{"backend", r.backend()}, {"reason", r.fallback_reason()}});
    }

    target t = resolve_target(o.output, o.symlinks, o.parents, o.sync);
    check_replaceable(t);
    check_temp_name_fits(t.dir.get(), t.name, t.display);
    rep.target = t.display;
    std::optional<backup_location> backup_dir;
    if (o.backup.enabled) backup_dir = open_backup_location(o.backup, t.dir.get(), t.dir_display);

    // Input.
    unique_fd owned_in;
    int in = o.input_fd;
    std::string in_name = "standard input";
    if (o.input) {
      owned_in.reset(::open(o.input->c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
      if (!owned_in) throw_errno("cannot open input", *o.input);
      in = owned_in.get();
      in_name = *o.input;
    }
    bool input_is_file = false;
    if (!o.data && o.command.empty()) {
      struct stat ist;
      if (::fstat(in, &ist) != 0) throw_errno("cannot read", in_name);
      if (S_ISDIR(ist.st_mode)) throw_error(errno_code(EISDIR), "cannot read", in_name);
      input_is_file = S_ISREG(ist.st_mode);
      // An empty file is refused before the lock is taken. Its size alone
      // does not say so: /proc and sysfs files report 0 and have content.
      if (input_is_file && !o.allow_empty) {
        off_t pos = ::lseek(in, 0, SEEK_CUR);
        if (pos < 0) pos = 0;
        char probe;
        if (ist.st_size <= pos && ::pread(in, &probe, 1, pos) == 0) no_input();
      }
    }
    if (o.data && o.data->empty() && !o.allow_empty) no_input();

    // Simple mode reads everything before taking the lock, so a slow
    // producer never holds up other writers.
    std::optional<memory_input> mem;
    if (!o.data && o.command.empty() && !o.stream && !input_is_file) {
      mem = co_await read_all(r, in, in_name);
      if (mem->size == 0 && !o.allow_empty) no_input();
    }
    if (stop.stop_requested()) interrupted();

    lock_file lk;
    if (o.lock) lk = co_await take_lock(t);
    // A crashed writer (no O_TMPFILE, or killed between link and rename)
    // leaves a temp in one of NAME's slots; those no live writer claims go.
    for (const std::string& gone : sweep_stale_temps(t.dir.get(), t.name))
      emit(event::level::info, "stale_temp_removed", "Removed stale temporary file " + join_path(t.dir_display, gone),
           {{"path", join_path(t.dir_display, gone)}});

    // The target as it is now, under the lock.
    std::optional<struct stat> old;
    unique_fd old_fd;
    std::string unreadable_old;
    {
      struct stat st;
      if (::fstatat(t.dir.get(), t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          (S_ISREG(st.st_mode) || o.symlinks != symlink_policy::replace)) {
        t.existing = st;
        check_replaceable(t);
        old = st;
        old_fd.reset(::openat(t.dir.get(), t.name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
        // Without read permission (a write-only file) the write goes on, as
        // `>` would, but the xattrs cannot be copied: say so. Any other
        // failure to open it is an error, not a reason to drop metadata.
        if (!old_fd && (o.append || !o.command.empty() || o.backup.enabled || (errno != EACCES && errno != EPERM)))
          throw_errno("cannot read current content of", t.display);
        if (!old_fd) unreadable_old = describe(errno_code());
      } else if (errno != ENOENT && !(S_ISLNK(st.st_mode))) {
        throw_errno("cannot inspect", t.display);
      }
    }

    // A new file is created with 0666 and left as the kernel makes it: the
    // umask, or the directory's default ACL (setfacl -d), applies as for
    // `>`. fchmod over it would widen what a default ACL keeps private.
    const bool kernel_mode = !old && !o.metadata.mode;
    staged_file staged(t.dir.get(), t.name, t.dir_display, kernel_mode ? 0666 : 0600);
    rep.staging = staged.kind();
    emit(event::level::debug, "staged", std::string("Staged with ") + staged.kind() + " in " + (t.dir_display.empty() ? "." : t.dir_display),
         {{"staging", rep.staging}});
    rep.warnings = apply_metadata(staged.fd(), old_fd.get(), old ? &*old : nullptr, o.metadata, t.display);
    if (!unreadable_old.empty())
      rep.warnings.push_back("extended attributes and ACL of " + t.display + " were not copied: cannot read it (" +
                             unreadable_old + ")");
    for (const auto& w : rep.warnings) emit(event::level::warning, "metadata", w);
    struct stat staged_meta;
    if (::fstat(staged.fd(), &staged_meta) != 0) throw_errno("cannot inspect the new", t.display);
    // Root replacing another user's file hands it to root unless asked to
    // keep the owner (the PRD keeps that opt-in); `sed -i` keeps it, so say
    // so: an app's 0600 config would become unreadable to the app.
    // With --try-preserve-owner the caller knows the owner may change.
    if (old && o.metadata.owner == owner_policy::caller &&
        (old->st_uid != staged_meta.st_uid || old->st_gid != staged_meta.st_gid)) {
      std::string was = owner_name(old->st_uid, old->st_gid), now = owner_name(staged_meta.st_uid, staged_meta.st_gid);
      std::string w = t.display + " was owned by " + was + " and is now owned by " + now;
      emit(event::level::warning, "owner_changed", w, {{"old_owner", was}, {"new_owner", now}});
      rep.warnings.push_back(std::move(w));
    }

    std::uint64_t start = 0;
    if (o.append && old_fd) {
      const char* how = "";
      start = copy_file_contents(old_fd.get(), 0, staged.fd(), 0, t.display, t.display, &how);
      emit(event::level::debug, "append", "Copied " + std::to_string(start) + " old bytes by " + how,
           {{"bytes", static_cast<std::int64_t>(start)}, {"strategy", std::string(how)}});
    }

    pump_options po;
    po.sync = o.sync;
    po.allow_direct = o.direct;
    po.output_name = t.display;
    std::optional<std::uint64_t> total;
    if (input_is_file) {
      struct stat ist;
      if (::fstat(in, &ist) == 0 && ist.st_size > 0) total = static_cast<std::uint64_t>(ist.st_size);
    }
    if (hooks.on_progress) po.on_progress = [&](std::uint64_t n) { hooks.on_progress(n, total); };

    pump_result moved;
    if (o.data) {
      if (error_code ec = co_await write_all(r, staged.fd(), o.data->data(), o.data->size(), static_cast<std::int64_t>(start)))
        throw_error(ec, "cannot write", t.display);
      moved = {o.data->size(), "buffered"};
    } else if (mem) {
      moved = co_await write_memory(r, *mem, staged.fd(), start, po);
    } else if (!o.command.empty()) {
      unique_fd child_in(old_fd ? ::fcntl(old_fd.get(), F_DUPFD_CLOEXEC, 0) : ::open("/dev/null", O_RDONLY | O_CLOEXEC));
      if (!child_in) throw_errno("cannot prepare input for", o.command[0]);
      unique_fd out_pipe, err_pipe;
      child_process child(o.command, child_in.get(), out_pipe, o.command_stderr_events ? &err_pipe : nullptr);
      child_in.reset();
      std::shared_ptr<line_relay> relay;
      if (err_pipe)
        relay = line_relay::start(co_await asio::this_coro::executor, std::move(err_pipe), [this](std::string line) {
          emit(event::level::notice, "command_stderr", std::move(line), {{"command", o.command[0]}});
        });
      auto forward = stop.on_stop([&] { child.kill(stop.signal() ? stop.signal() : SIGTERM); });
      std::exception_ptr pump_failure;
      try {
        moved = co_await pump(r, out_pipe.get(), o.command[0], staged.fd(), start, po, stop);
      } catch (...) {
        pump_failure = std::current_exception();
      }
      out_pipe.reset();
      // The write has failed: the command's output can no longer be used,
      // so it is ended (SIGTERM, SIGKILL after a grace time), not awaited.
      if (pump_failure) child.kill(SIGTERM);
      int status = co_await child.wait();
      if (relay) relay->finish();
      if (stop.stop_requested()) interrupted();
      if (pump_failure) std::rethrow_exception(pump_failure);
      if (status != 0)
        throw error(failure_kind::io, "command '" + o.command[0] + "' " + describe_wait_status(status),
                    "The target was left as it was.");
      if (moved.bytes == 0 && !o.allow_empty)
        throw error(failure_kind::io, "command '" + o.command[0] + "' produced no output",
                    old ? "The target was left as it was; pass --allow-empty to write an empty file."
                        : t.display + " did not exist, so the command read empty input (jq, for one, prints "
                                      "nothing then). Create the file first (echo '{}' | mutx " + t.display +
                                      "), or give the command input it handles.");
    } else {
      moved = co_await pump(r, in, in_name, staged.fd(), start, po, stop);
      if (moved.bytes == 0 && !o.allow_empty) no_input();
    }
    rep.bytes = start + moved.bytes;
    rep.strategy = moved.strategy;
    emit(event::level::debug, "pumped",
         "Wrote " + std::to_string(moved.bytes) + " bytes by " + moved.strategy +
             (moved.early_flushes ? " (" + std::to_string(moved.early_flushes) + " early flushes)" : ""),
         {{"bytes", static_cast<std::int64_t>(moved.bytes)},
          {"strategy", rep.strategy},
          {"early_flushes", static_cast<std::int64_t>(moved.early_flushes)}});
    if (stop.stop_requested()) interrupted();
    for (auto& w : restore_after_write(staged.fd(), staged_meta.st_mode, old_fd.get(), t.display)) {
      emit(event::level::warning, "metadata", w);
      rep.warnings.push_back(std::move(w));
    }

    if (o.sync) {
      // Never retry a failed fsync: the kernel may have dropped the dirty
      // pages and a second fsync would "succeed" over lost data.
      // A small file is synced inline: io_uring hands an fsync to an io-wq
      // worker thread, and waking it cost several ms per write under load
      // (1 KiB writes: 24 ms via the ring vs 15 ms inline at load ~20).
      // A large one goes through the ring so signals are still seen.
      error_code ec;
      if (rep.bytes < (1u << 20)) {
        if (::fsync(staged.fd()) != 0) ec = errno_code();
      } else {
        auto [aec, n] = co_await async_fsync(r, staged.fd(), use_tuple);
        (void)n;
        ec = aec;
      }
      if (stop.stop_requested()) interrupted();
      if (ec) throw_error(ec, "cannot sync (fsync) new content of", t.display);
    }

    check_lock_intact(lk, t);
    // Undone unless the commit below happens: a failed rename or a signal
    // in between leaves every backup as it was.
    placed_backup backup;
    if (o.backup.enabled && old) {
      backup_result b = make_backup(o.backup, *backup_dir, t.dir.get(), t.name, old_fd.get(), *old);
      rep.backup = b.path;
      for (const auto& w : b.warnings) emit(event::level::warning, "backup", w);
      rep.warnings.insert(rep.warnings.end(), b.warnings.begin(), b.warnings.end());
      emit(event::level::info, "backup", "Backup created: " + b.path, {{"backup", b.path}, {"copied", b.copied}});
      backup = std::move(b.placed);
    }

    if (stop.stop_requested()) interrupted();
    check_lock_intact(lk, t);
    // The commit point. From here on a signal no longer turns this write
    // into a failure.
    committed = true;
    staged.publish();
    backup.keep();
    if (o.sync && ::fsync(t.dir.get()) != 0)
      throw_errno("the new content is in place but not confirmed durable: cannot sync directory",
                  t.dir_display.empty() ? "." : t.dir_display);
    rep.duration_ms = ms_since(started);
    rep.backend = r.backend();
    emit(event::level::info, "committed",
         "Wrote " + std::to_string(rep.bytes) + " bytes to " + t.display,
         {{"bytes", static_cast<std::int64_t>(rep.bytes)}, {"duration_ms", rep.duration_ms},
          {"strategy", rep.strategy}, {"backend", rep.backend}, {"staging", rep.staging}});
  }
};

}  // namespace

namespace {

write_report write_on_loop(const write_options& o, const write_hooks& hooks) {
  asio::io_context ctx(1);
  ring r(ctx, o.io);
  stop_source stop;
  bool committed = false;
  bool done = false;
  write_report rep;
  std::exception_ptr failure;

  std::optional<asio::signal_set> signals;
  // The caller's signal mask, put back before `signals` is destroyed (which
  // sets SIG_DFL). The CLI blocks SIGINT/SIGTERM/SIGHUP from its start, as
  // a signal before the handler exists killed it with 143; they are
  // unblocked only while the handler is installed. Blocked again on the way
  // out, a signal after the job stays pending and the CLI exits with the
  // job's outcome: the kernel drops it at exit (a late SIGTERM killed 3 of
  // 544 runs with 143 after the commit).
  struct mask_restorer {
    std::optional<sigset_t> saved;
    ~mask_restorer() {
      if (saved) ::pthread_sigmask(SIG_SETMASK, &*saved, nullptr);
    }
  } restore_mask;
  std::function<void()> arm_signals;
  if (o.handle_signals) {
    // A signal the caller ignores stays ignored (nohup's SIGHUP, SIGINT of
    // a script's background job), as sort(1) and make(1) do; asio's
    // sigaction would otherwise turn a hangup under nohup into exit 3.
    signals.emplace(ctx);
    sigset_t handled;
    sigemptyset(&handled);
    for (int signo : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction current;
      if (::sigaction(signo, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) continue;
      signals->add(signo);
      sigaddset(&handled, signo);
    }
    arm_signals = [&] {
      signals->async_wait([&](error_code ec, int signo) {
        // A wait that completed just as the job ended must not wait again:
        // nothing would end that wait, and ctx.run() never returned (2 of
        // 660 SIGTERMs around the commit hung for good).
        if (ec || done) return;
        // Before the commit point: cancel everything and unwind, and keep
        // listening (a second signal cancels what was started since). After
        // it: finish the write and succeed; later signals are left queued.
        if (committed) return;
        stop.request_stop(signo);
        r.cancel_all();
        arm_signals();
      });
    };
    arm_signals();
    sigset_t saved;
    if (::pthread_sigmask(SIG_UNBLOCK, &handled, &saved) == 0) restore_mask.saved = saved;
  }

  job j{o, hooks, r, stop, committed, rep, {}};
  asio::co_spawn(ctx, j.run(), [&](std::exception_ptr e) {
    failure = e;
    done = true;
    if (signals) signals->cancel();
  });
  ctx.run();
  if (failure) {
    if (stop.stop_requested() && !committed) {
      try {
        std::rethrow_exception(failure);
      } catch (const error& e) {
        if (e.kind() == failure_kind::interrupted) throw;
      } catch (...) {
      }
      interrupted();
    }
    std::rethrow_exception(failure);
  }
  return rep;
}

}  // namespace

write_report write(const write_options& o, const write_hooks& hooks) {
  try {
    return write_on_loop(o, hooks);
  } catch (const boost::system::system_error& e) {
    // Only asio throws these: the loop's own descriptors (eventfd, epoll,
    // timerfd, the signal pipe) could not be made, as under a low ulimit -n.
    // The job itself reports through mutx::error.
    throw error(e.code(), "cannot set up the event loop");
  }
}

}  // namespace mutx
