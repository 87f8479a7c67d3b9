#include "write_job.hpp"

#include "etcd_lock.hpp"
#include "job_steps.hpp"

#include "mutx/audit_log.hpp"
#include "mutx/check.hpp"
#include "mutx/command.hpp"
#include "mutx/compare.hpp"
#include "mutx/digest.hpp"
#include "mutx/direct_write.hpp"
#include "mutx/ops.hpp"
#include "mutx/pump.hpp"
#include "mutx/staging.hpp"

#include <boost/asio/this_coro.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace mutx::detail {

namespace asio = boost::asio;

namespace {

[[noreturn]] void no_input() {
  throw error(failure_kind::io, "No input provided", "The target was left as it was.")
      .with_reason(failure_reason::no_input);
}

// Where the new content comes from, when it is not a buffer or a command.
struct input_source {
  unique_fd owned;
  int fd = 0;
  std::string name = "standard input";
  bool is_file = false;
  std::optional<memory_input> mem;  // simple mode: all of it, read before the lock
};

// The target as it is under the lock.
struct current_target {
  std::optional<struct stat> st;  // nullopt: a new file
  unique_fd fd;                   // open for reading, when it could be
  std::string unreadable;         // why it could not be read (a write-only file)
};

// One write in progress: the options, the loop's pieces, what we report.
// run() is the protocol; each step below it is one thing it does.
struct job : job_steps {
  std::optional<etcd_url> etcd_at;  // --lock-url, parsed by validate()
  // What watches the new content as it flows (fill): its digest, and the
  // comparison with the old content.
  std::optional<sha256_hasher> hasher;
  std::optional<content_compare> comparer;
  std::optional<std::string> expected_sha256;
  audit_log log;
  std::optional<std::string> old_sha256;  // for the log
  bool logged = false;

  asio::awaitable<void> run() {
    validate();
    const auto started = clock_type::now();
    open_log();
    // Every attempt leaves its line in the log, a failed one too.
    try {
      co_await write(started);
    } catch (const error& e) {
      log_failure(e.kind() == failure_kind::interrupted || (stop.stop_requested() && !committed), e.what(), started);
      throw;
    } catch (const std::exception& e) {
      log_failure(stop.stop_requested() && !committed, e.what(), started);
      throw;
    }
  }

  asio::awaitable<void> write(clock_type::time_point started) {
    report_backend();
    target t = inspect_target();
    std::optional<backup_location> backup_dir;
    if (o.backup.enabled) backup_dir = open_backup_location(o.backup, t.dir.get(), t.dir_display);
    if (backup_dir && t.existing) check_backup_replaceable(o.backup, *backup_dir, t.dir.get(), t.name);
    input_source in = open_input();
    co_await read_before_lock(in);

    // The etcd lock first, then the lock file: one order for everyone.
    etcd_lock etcd;
    if (etcd_at) etcd = co_await take_etcd_lock(t);
    lock_file lk;
    if (o.lock) lk = co_await take_lock(t);
    sweep(t);
    current_target cur = inspect_current(t);
    hash_old_for_log(cur, t);

    // Under the etcd lock, on a share other hosts mount, the temp is named
    // after the lease (staging.hpp): no other writer can ever use its name.
    staged_file staged(t.dir.get(), t.name, t.dir_display, creation_mode(cur), etcd.lease());
    const mode_t staged_mode = prepare_staged(staged, cur, t);
    stamp_fence(staged, etcd, t);
    co_await fill(staged, in, cur, t);
    verify_checksum(t);
    restore_metadata(staged, staged_mode, cur, t);
    if (unchanged(staged, cur, t, started)) co_return;
    co_await check(staged, t);
    co_await sync(staged, t);

    check_lock_intact(lk, t);
    placed_backup backup = back_up(t, cur, backup_dir);
    check_log_room();
    if (stop.stop_requested()) interrupted();
    check_lock_intact(lk, t);
    co_await confirm_etcd_lock(etcd, t);
    if (writes_in_place(cur))
      overwrite_in_place(staged, backup, cur, t, etcd);
    else
      publish(staged, backup, t, etcd);
    report_committed(t, started);
    co_await on_change(t, started);
  }

  // What a file write's caller can get wrong besides job_steps::validate:
  // a sum that is no SHA-256, a NUL byte in the log path or a command.
  void validate() {
    job_steps::validate();
    auto whole = [](const std::string& path, const char* what) {
      if (path.find('\0') != std::string::npos)
        throw error(failure_kind::io, std::string(what) + " contains a NUL byte",
                    "A path ends at its first NUL byte; pass the name without it.");
    };
    if (o.sha256) {
      expected_sha256 = normalize_sha256(*o.sha256);
      if (!expected_sha256)
        throw error(failure_kind::io, "invalid SHA-256 '" + *o.sha256 + "': expected 64 hexadecimal digits",
                    "Give the sum as sha256sum prints it.");
    }
    if (o.log) whole(*o.log, "the log path");
    for (const auto* cmd : {&o.check, &o.on_change})
      if (*cmd && cmd->value().find('\0') != std::string::npos)
        throw error(failure_kind::io, "a command contains a NUL byte", "Pass the command without it.");
    if (o.lock_url) {
      etcd_at = parse_etcd_url(*o.lock_url);
      check_etcd_ttl(o.lock_ttl);
      if (o.lock_name && o.lock_name->empty())
        throw error(failure_kind::io, "the lock name is empty", "Give a name every writer of the file uses.");
    } else if (o.lock_name) {
      throw error(failure_kind::io, "a lock name was given without a lock URL",
                  "The lock name names the etcd lock; give the etcd cluster's URL too.");
    }
  }

  // Before anything is read or locked: a log that cannot be written (it
  // cannot be opened, is no regular file, or its filesystem is full) stops
  // the write before anything is published.
  void open_log() {
    if (!o.log) return;
    log = audit_log(*o.log);
    check_log_room();
  }

  // Room in the log's filesystem for this write's line: checked when the
  // log is opened and again just before the commit (the backup, the
  // staged file or other writers may have used it up meanwhile). The line
  // as it would be written, with room for both sums and a reason.
  void check_log_room() {
    if (!log.open()) return;
    audit_entry e = log_entry("written", {}, clock_type::now());
    log.check_room(audit_log::format(e).size() + 2 * 80 + 512);
  }

  audit_entry log_entry(const std::string& outcome, const std::string& reason, clock_type::time_point started) const {
    audit_entry e;
    // An audit trail names the file wherever it is read: the absolute path
    // (mutx never changes its working directory).
    auto absolute = [](const std::string& path) {
      std::error_code ec;
      const auto abs = std::filesystem::absolute(path, ec);
      return ec ? path : abs.string();
    };
    e.target = absolute(rep.target.empty() ? o.output : rep.target);
    e.outcome = outcome;
    e.reason = reason;
    e.bytes = rep.bytes;
    e.sha256 = rep.sha256;
    e.old_sha256 = old_sha256;
    if (rep.backup) e.backup = absolute(*rep.backup);
    e.duration_ms = ms_since(started);
    return e;
  }

  void log_line(const std::string& outcome, const std::string& reason, clock_type::time_point started) {
    if (!log.open() || logged) return;
    logged = true;
    log.append(log_entry(outcome, reason, started), o.sync);
  }

  // A failed attempt's line. The failure is what the caller hears about: a
  // log that fails now too is not reported over it. Past the commit the
  // new content is in place: "written", with what went wrong after it.
  void log_failure(bool interrupted_, const std::string& why, clock_type::time_point started) noexcept {
    try {
      if (committed) log_line("written", why, started);
      else log_line(interrupted_ ? "interrupted" : "failed", interrupted_ ? "" : why, started);
    } catch (...) {
    }
  }

  // The line of a committed write; `after` is what went wrong after the
  // commit (the on-change command), its reason. A log that cannot take the
  // line now is an error that says the content is in place.
  void log_committed(const target& t, const std::string& after, clock_type::time_point started) {
    try {
      log_line("written", after, started);
    } catch (const error& e) {
      const std::string why = e.code() ? describe(e.code()) : std::string(e.what());
      const std::string lost = "the log " + log.path() + " could not be written: " + why;
      throw error(failure_kind::io, after.empty() ? t.display + ": the new content is in place, but " + lost
                                                  : after + "; and " + lost,
                  e.code() == errno_code(ENOSPC) || e.code() == errno_code(EDQUOT)
                      ? "This change is missing from the log; free some space on the log's filesystem."
                      : "This change is missing from the log.")
          .with_reason(failure_reason::log_not_written);
    }
  }

  // The log has the old content's sum too: what each change replaced.
  void hash_old_for_log(const current_target& cur, const target& t) {
    if (log.open() && cur.fd) old_sha256 = sha256_of_file(cur.fd.get(), t.display);
  }


  // Resolve OUTPUT and refuse, before any input is read, what no rename can
  // replace and a name too long for its temp name.
  target inspect_target() {
    target t = resolve_target(o.output, o.symlinks, o.parents, o.sync);
    check_replaceable(t, o.in_place);
    check_temp_name_fits(t.dir.get(), t.name, t.display, etcd_at.has_value());
    rep.target = t.display;
    return t;
  }

  input_source open_input() const {
    input_source in;
    in.fd = o.input_fd;
    if (o.input) {
      in.owned = open_input_file("whose content replaces the target");
      in.fd = in.owned.get();
      in.name = *o.input;
    }
    if (o.data) {
      if (o.data->empty() && !o.allow_empty) no_input();
      return in;
    }
    if (!o.command.empty()) return in;
    struct stat ist;
    if (::fstat(in.fd, &ist) != 0) throw_errno("cannot read", in.name);
    if (S_ISDIR(ist.st_mode)) throw_error(errno_code(EISDIR), "cannot read", in.name);
    in.is_file = S_ISREG(ist.st_mode);
    // An empty file is refused before the lock is taken. Its size alone
    // does not say so: /proc and sysfs files report 0 and have content.
    if (in.is_file && !o.allow_empty) {
      off_t pos = ::lseek(in.fd, 0, SEEK_CUR);
      if (pos < 0) pos = 0;
      char probe;
      if (ist.st_size <= pos && ::pread(in.fd, &probe, 1, pos) == 0) no_input();
    }
    return in;
  }

  // Simple mode reads everything before taking the lock, so a slow
  // producer never holds up other writers.
  asio::awaitable<void> read_before_lock(input_source& in) {
    if (!o.data && o.command.empty() && !o.stream && !in.is_file) {
      in.mem = co_await read_all(r, in.fd, in.name);
      if (in.mem->size == 0 && !o.allow_empty) no_input();
    }
    if (stop.stop_requested()) interrupted();
  }

  // The etcd lock (etcd_lock.hpp), named by --lock-name or by the
  // target's absolute path after the symlink policy.
  asio::awaitable<etcd_lock> take_etcd_lock(const target& t) {
    etcd_lock_settings s;
    s.url = *etcd_at;
    s.name = o.lock_name ? *o.lock_name : absolute_path(t);
    s.ttl = o.lock_ttl;
    s.wait = o.wait;
    s.target = o.output;
    const auto start = clock_type::now();
    auto on_wait = [&] {
      emit(event::level::notice, "etcd_lock_wait",
           "Waiting for the etcd lock on " + o.output + timeout_note() + "...", {{"lock_name", s.name}});
    };
    auto on_debug = [&](const std::string& what) { emit(event::level::debug, "etcd", what); };
    etcd_lock lock = co_await etcd_lock::acquire(s, stop, on_wait, on_debug);
    rep.etcd_key = lock.key();
    rep.fence = lock.fence();
    const double ms = ms_since(start);
    // Info, as the lock file's event (TR-7); shown after a shown wait.
    emit(event::level::info, "etcd_lock_acquired",
         "etcd lock acquired (key " + lock.key() + ", fencing token " + std::to_string(lock.fence()) + ")",
         {{"etcd_key", lock.key()}, {"fence", lock.fence()}, {"lock_name", s.name}, {"wait_time_ms", ms}});
    co_return lock;
  }

  static std::string absolute_path(const target& t) {
    char buf[4096];
    const std::string proc = "/proc/self/fd/" + std::to_string(t.dir.get());
    const ssize_t n = ::readlink(proc.c_str(), buf, sizeof buf);
    if (n <= 0 || n >= static_cast<ssize_t>(sizeof buf)) throw_errno("cannot find the absolute path of", t.display);
    std::string dir(buf, static_cast<std::size_t>(n));
    return dir == "/" ? "/" + t.name : dir + "/" + t.name;
  }

  // The fencing token on the new file, where xattrs are allowed: a later
  // writer whose token is lower refuses to replace it (confirm_etcd_lock).
  void stamp_fence(staged_file& staged, const etcd_lock& etcd, const target& t) {
    if (!etcd.held()) return;
    const std::string token = std::to_string(etcd.fence());
    if (::fsetxattr(staged.fd(), fence_xattr, token.data(), token.size(), 0) == 0) return;
    // The target, on the same filesystem, cannot carry one either.
    no_fence_xattrs = errno == ENOTSUP || errno == EOPNOTSUPP;
    emit(event::level::info, "fence",
         "The fencing token " + token + " is not stored on " + t.display + ": xattr " + fence_xattr + " refused (" +
             describe(errno_code()) + ")",
         {{"fence", etcd.fence()}});
  }
  static constexpr const char* fence_xattr = "user.mutx.fence";
  bool no_fence_xattrs = false;

  // Just before the rename: the etcd lock is still ours (etcd_lock::
  // confirm), and no writer with a newer token has replaced the target.
  asio::awaitable<void> confirm_etcd_lock(etcd_lock& etcd, const target& t) {
    if (!etcd.held()) co_return;
    co_await etcd.confirm(t.display, stop);
    if (stop.stop_requested()) interrupted();
    const std::int64_t theirs = no_fence_xattrs ? 0 : target_fence(t);
    if (theirs > etcd.fence())
      throw error(failure_kind::locked,
                  t.display + ": a writer with a newer etcd lock (fencing token " + std::to_string(theirs) + " > " +
                      std::to_string(etcd.fence()) + ") has replaced it; nothing was changed",
                  "This write stalled past its lease and another writer committed meanwhile. Run again.")
          .with_reason(failure_reason::etcd_lock_lost);
  }

  // The token on the target as it is now, 0 when it has none.
  std::int64_t target_fence(const target& t) const {
    unique_fd fd(::openat(t.dir.get(), t.name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
    if (!fd) return 0;
    char buf[32];
    const ssize_t n = ::fgetxattr(fd.get(), fence_xattr, buf, sizeof buf - 1);
    if (n <= 0) return 0;
    buf[n] = '\0';
    return std::strtoll(buf, nullptr, 10);
  }

  // A crashed writer (no O_TMPFILE, or killed between link and rename)
  // leaves a temp in one of NAME's slots; those no live writer claims go.
  // Where other hosts may mount the directory, none is provably stale.
  void sweep(const target& t) const {
    // What was kept is worth the lookups only to someone who sees it.
    std::vector<std::string> kept;
    for (const std::string& gone : sweep_stale_temps(t.dir.get(), t.name, hooks.info_events ? &kept : nullptr))
      emit(event::level::info, "stale_temp_removed", "Removed stale temporary file " + join_path(t.dir_display, gone),
           {{"path", join_path(t.dir_display, gone)}});
    for (const std::string& k : kept)
      emit(event::level::info, "stale_temp_kept",
           "Kept temporary file " + join_path(t.dir_display, k) + ": on " + shared_filesystem(t.dir.get()) +
               ", which other hosts may mount, a writer there may own it",
           {{"path", join_path(t.dir_display, k)}});
  }

  current_target inspect_current(target& t) const {
    current_target cur;
    struct stat st {};
    if (::fstatat(t.dir.get(), t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        (!S_ISREG(st.st_mode) && o.symlinks == symlink_policy::replace)) {
      if (errno != ENOENT && !S_ISLNK(st.st_mode)) throw_errno("cannot inspect", t.display);
      return cur;
    }
    t.existing = st;
    check_replaceable(t, o.in_place);
    cur.fd.reset(::openat(t.dir.get(), t.name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
    // Gone between the stat and the open: removed by a program that takes
    // no lock, or by another host under a FUSE or network filesystem whose
    // cached attributes still showed it (bindfs after `rm` beneath it). The
    // open said so: it is a new file (what the stat saw is not there).
    if (!cur.fd && errno == ENOENT) return current_target{};
    // A FUSE filesystem answers the stat from attributes cached for a
    // second: a chmod beneath bindfs was not seen, and the new file got the
    // mode from before it. Ask the filesystem itself (a local one answers
    // as the stat did), then read the attributes it refreshed.
    struct statx fresh;
    if (cur.fd && ::statx(cur.fd.get(), "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &fresh) == 0)
      ::fstat(cur.fd.get(), &st);
    t.existing = st;
    cur.st = st;
    // Without read permission (a write-only file) the write goes on, as
    // `>` would, but the xattrs cannot be copied: say so. Any other
    // failure to open it is an error, not a reason to drop metadata.
    if (!cur.fd && (o.append || !o.command.empty() || o.backup.enabled || (errno != EACCES && errno != EPERM)))
      throw_errno("cannot read current content of", t.display);
    if (!cur.fd) cur.unreadable = describe(errno_code());
    return cur;
  }

  // A new file is created with 0666 and left as the kernel makes it: the
  // umask, or the directory's default ACL (setfacl -d), applies as for
  // `>`. fchmod over it would widen what a default ACL keeps private.
  mode_t creation_mode(const current_target& cur) const { return !cur.st && !o.metadata.mode ? 0666 : 0600; }

  // Owner, mode and xattrs on the staged file before it has a name.
  // Returns its mode, which restore_metadata puts back after the data.
  mode_t prepare_staged(staged_file& staged, const current_target& cur, const target& t) {
    rep.staging = staged.kind();
    emit(event::level::debug, "staged",
         std::string("Staged with ") + staged.kind() + " in " + (t.dir_display.empty() ? "." : t.dir_display),
         {{"staging", rep.staging}});
    // Written in place, the target keeps its own metadata (overwrite_in_place
    // sets what was asked for): the staged file is only the content.
    if (!writes_in_place(cur))
      rep.warnings = apply_metadata(staged.fd(), cur.fd.get(), cur.st ? &*cur.st : nullptr, o.metadata, t.display);
    if (!cur.unreadable.empty() && !writes_in_place(cur))
      rep.warnings.push_back("extended attributes and ACL of " + t.display + " were not copied: cannot read it (" +
                             cur.unreadable + ")");
    for (const auto& w : rep.warnings) held.push_back(event{event::level::warning, "metadata", w, {}});
    struct stat staged_meta;
    if (::fstat(staged.fd(), &staged_meta) != 0) throw_errno("cannot inspect the new", t.display);
    warn_owner_change(cur, staged_meta, t);
    return staged_meta.st_mode;
  }

  // A new owner, said (job_steps::owner_change). With --try-preserve-owner
  // the caller knows the owner may change; written in place, the file
  // keeps its owner.
  void warn_owner_change(const current_target& cur, const struct stat& now, const target& t) {
    if (!cur.st || o.metadata.owner != owner_policy::caller || writes_in_place(cur)) return;
    if (auto e = owner_change(*cur.st, now, t.display, o.metadata.uid.has_value(), o.metadata.gid.has_value()))
      held.push_back(std::move(*e));
  }

  // What the metadata steps found is said once the new file is in place: a
  // write that then fails (a check, no output, a lost lock) or changes
  // nothing (--compare) did not change an owner, and its error comes first.
  std::vector<event> held;
  void say_held_warnings() {
    for (auto& e : held) emit(e.lvl, std::move(e.name), std::move(e.message), std::move(e.fields));
    held.clear();
  }

  // The new content: the old one first for --append, then the buffer, the
  // input or the command's output.
  asio::awaitable<void> fill(staged_file& staged, input_source& in, const current_target& cur, const target& t) {
    if (o.sha256 || o.hash || log.open()) hasher.emplace();
    const std::uint64_t start = copy_old_for_append(staged, cur, t);
    if (o.compare && cur.st && cur.fd)
      comparer.emplace(cur.fd.get(), static_cast<std::uint64_t>(cur.st->st_size), start, t.display);
    pump_options po = pump_options_for(t, in);
    if (hasher || comparer) po.on_data = [this](const char* p, std::size_t n) { observe(p, n); };
    pump_result moved;
    if (o.data) {
      observe(reinterpret_cast<const char*>(o.data->data()), o.data->size());
      if (error_code ec = co_await write_all(r, staged.fd(), o.data->data(), o.data->size(),
                                             static_cast<std::int64_t>(start)))
        throw_write_error(ec, "cannot write", t.display, t.display);
      moved = {o.data->size(), "buffered"};
    } else if (in.mem) {
      moved = co_await write_memory(r, *in.mem, staged.fd(), start, po);
    } else if (!o.command.empty()) {
      moved = co_await run_command(staged, start, po, cur, t);
    } else {
      moved = co_await pump(r, in.fd, in.name, staged.fd(), start, po, stop);
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
  }

  void observe(const char* p, std::size_t n) {
    if (hasher) hasher->update(p, n);
    if (comparer) comparer->feed(p, n);
  }

  std::uint64_t copy_old_for_append(staged_file& staged, const current_target& cur, const target& t) {
    if (!o.append || !cur.fd) return 0;
    const char* how = "";
    const std::uint64_t n = copy_file_contents(cur.fd.get(), 0, staged.fd(), 0, t.display, t.display, &how);
    // The kernel copied it; the digest of the new content starts with it.
    if (hasher) {
      std::vector<char> buf(1 << 20);
      for (std::uint64_t off = 0; off < n;) {
        const ssize_t got = ::pread(cur.fd.get(), buf.data(), std::min<std::uint64_t>(buf.size(), n - off),
                                    static_cast<off_t>(off));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) throw_errno("cannot read current content of", t.display);
        if (got == 0) break;
        hasher->update(buf.data(), static_cast<std::size_t>(got));
        off += static_cast<std::uint64_t>(got);
      }
    }
    emit(event::level::debug, "append", "Copied " + std::to_string(n) + " old bytes by " + how,
         {{"bytes", static_cast<std::int64_t>(n)}, {"strategy", std::string(how)}});
    return n;
  }

  pump_options pump_options_for(const target& t, const input_source& in) const {
    pump_options po;
    po.sync = o.sync;
    po.allow_direct = o.direct;
    po.output_name = t.display;
    std::optional<std::uint64_t> total;
    struct stat ist;
    if (in.is_file && ::fstat(in.fd, &ist) == 0 && ist.st_size > 0) total = static_cast<std::uint64_t>(ist.st_size);
    if (hooks.on_progress) po.on_progress = [this, total](std::uint64_t n) { hooks.on_progress(n, total); };
    return po;
  }

  // `mutx OUTPUT -- COMMAND`: the command reads the current content and
  // its output is the new content, used only if it exits 0.
  asio::awaitable<pump_result> run_command(staged_file& staged, std::uint64_t start, const pump_options& po,
                                           const current_target& cur, const target& t) {
    unique_fd child_in(cur.fd ? ::fcntl(cur.fd.get(), F_DUPFD_CLOEXEC, 0) : ::open("/dev/null", O_RDONLY | O_CLOEXEC));
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
    pump_result moved;
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
    const int status = co_await child.wait();
    if (relay) relay->finish();
    if (stop.stop_requested()) interrupted();
    if (pump_failure) std::rethrow_exception(pump_failure);
    if (status != 0)
      throw error(failure_kind::io, "command '" + o.command[0] + "' " + describe_wait_status(status),
                  "The target was left as it was.");
    // A command that read empty input (no file yet, or an empty one) and
    // printed nothing is usually jq, not a command meant to empty the file:
    // the hint says so rather than offer --allow-empty.
    if (moved.bytes == 0 && !o.allow_empty)
      throw error(failure_kind::io, "command '" + o.command[0] + "' produced no output",
                  cur.st && cur.st->st_size > 0
                      ? "The target was left as it was."
                      : t.display + (cur.st ? " was empty" : " did not exist") +
                            ", so the command read empty input (jq, for one, prints nothing then). " +
                            (cur.st ? "Put content in it first" : "Create the file first") +
                            ", or give the command input it handles.")
          .with_reason(failure_reason::command_no_output);
    co_return moved;
  }

  // The digest, once the content is whole; a sum that differs from the one
  // expected stops the write here.
  void verify_checksum(const target& t) {
    if (!hasher) return;
    rep.sha256 = hasher->finish_hex();
    hasher.reset();
    if (expected_sha256 && *rep.sha256 != *expected_sha256)
      throw error(failure_kind::io,
                  t.display + ": checksum mismatch (expected " + *expected_sha256 + ", got " + *rep.sha256 + ")",
                  "The target was left as it was.")
          .with_reason(failure_reason::checksum_mismatch);
  }

  // The same content, mode and owner as the current file: nothing to do.
  // --compare: content, mode and owner as they are change nothing. Says
  // so (and logs it); the write then ends.
  bool unchanged(const staged_file& staged, const current_target& cur, const target& t,
                 clock_type::time_point started) {
    if (!same_as_current(staged, cur)) return false;
    event_fields fields = unchanged_fields(started);
    if (rep.sha256) fields.emplace_back("sha256", *rep.sha256);
    emit(event::level::info, "unchanged", "Unchanged: " + t.display, std::move(fields));
    log_line("unchanged", "", started);
    return true;
  }

  bool same_as_current(const staged_file& staged, const current_target& cur) const {
    if (!comparer || !comparer->same()) return false;
    // Written in place, the staged file carries no metadata: what
    // overwrite_in_place would set is what --mode, --owner and --group ask.
    if (writes_in_place(cur))
      return final_mode(o.metadata, &*cur.st) == (cur.st->st_mode & 07777) &&
             o.metadata.uid.value_or(cur.st->st_uid) == cur.st->st_uid &&
             o.metadata.gid.value_or(cur.st->st_gid) == cur.st->st_gid;
    struct stat now;
    if (::fstat(staged.fd(), &now) != 0) return false;
    return (now.st_mode & 07777) == (cur.st->st_mode & 07777) && now.st_uid == cur.st->st_uid &&
           now.st_gid == cur.st->st_gid;
  }

  // The check command, on the staged content, before it is synced: a
  // refusal leaves nothing behind (the staged file and the copy go).
  asio::awaitable<void> check(staged_file& staged, const target& t) {
    if (!o.check) co_return;
    // The copy and the check's reads go through the page cache.
    set_direct(staged.fd(), false);
    std::optional<check_copy> copy;
    unique_fd content;
    shell_command sc;
    sc.command = *o.check;
    if (names_path(*o.check)) {
      copy.emplace(t.dir.get(), t.name, t.dir_display, staged.fd(), t.display, staged.lease());
      sc.command = with_path(*o.check, copy->path());
    } else {
      // The content on its stdin, read-only and from offset 0: a new open
      // of the staged file; else (no /proc) a copy.
      content.reset(::open(("/proc/self/fd/" + std::to_string(staged.fd())).c_str(), O_RDONLY | O_CLOEXEC));
      if (!content) copy.emplace(t.dir.get(), t.name, t.dir_display, staged.fd(), t.display, staged.lease());
      sc.stdin_fd = content ? content.get() : copy->fd();
    }
    const int status = co_await run_check(std::move(sc));
    content.reset();
    if (copy) copy->remove();
    refuse_failed_check(status, t);
  }

  // After the commit, under the lock: the on-change command, then the
  // log's line (synced with the commit).
  asio::awaitable<void> on_change(const target& t, clock_type::time_point started) {
    std::string failure;
    if (o.on_change) failure = co_await run_on_change(t);
    log_committed(t, failure, started);
    if (!failure.empty()) throw error(failure_kind::io, failure).with_reason(failure_reason::on_change_failed);
  }

  // What a write of data takes away (set-id bits, file capabilities), put
  // back before the sync.
  void restore_metadata(staged_file& staged, mode_t mode, const current_target& cur, const target& t) {
    for (auto& w : restore_after_write(staged.fd(), mode, cur.fd.get(), t.display)) {
      emit(event::level::warning, "metadata", w);
      rep.warnings.push_back(std::move(w));
    }
  }

  asio::awaitable<void> sync(staged_file& staged, const target& t) {
    if (!o.sync) co_return;
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
    if (ec) throw_write_error(ec, "cannot sync (fsync) new content of", t.display, t.display);
  }

  // Undone unless the commit happens: a failed rename or a signal in
  // between leaves every backup as it was.
  placed_backup back_up(const target& t, const current_target& cur, const std::optional<backup_location>& where) {
    if (!o.backup.enabled || !cur.st) return {};
    backup_result b = make_backup(o.backup, *where, t.dir.get(), t.name, cur.fd.get(), *cur.st, writes_in_place(cur));
    rep.backup = b.path;
    for (const auto& w : b.warnings) emit(event::level::warning, "backup", w);
    rep.warnings.insert(rep.warnings.end(), b.warnings.begin(), b.warnings.end());
    emit(event::level::info, "backup", "Backup created: " + b.path, {{"backup", b.path}, {"copied", b.copied}});
    return std::move(b.placed);
  }

  // The commit point. From here on a signal no longer turns this write
  // into a failure.
  void publish(staged_file& staged, placed_backup& backup, const target& t, const etcd_lock& etcd) {
    // The last check: no co_await from here to the rename.
    etcd.check_deadline(t.display);
    note_final_stat(staged.fd());
    committed = true;
    rep.changed = true;
    try {
      staged.publish();
    } catch (error& e) {
      put_back(backup, e, t);
      throw;
    }
    backup.keep();
    if (o.sync && ::fsync(t.dir.get()) != 0)
      throw_errno("the new content is in place but not confirmed durable: cannot sync directory",
                  t.dir_display.empty() ? "." : t.dir_display);
  }

  // The commit failed: the previous backup goes back to its name. Where
  // that fails too, the error says where it is left.
  static void put_back(placed_backup& backup, error& e, const target& t) {
    backup.undo();
    if (backup.stranded().empty()) return;
    e.with_hint("The previous backup could not be put back either: it is left as " + backup.stranded() +
                ", which the next write of " + t.display + " removes as a stale temp; copy it out first." +
                (e.hint().empty() ? "" : " " + e.hint()));
  }

  // The committed file's owner and mode, for the committed event.
  std::optional<struct stat> final_stat;
  void note_final_stat(int fd) {
    struct stat st;
    if (hooks.on_event && ::fstat(fd, &st) == 0) final_stat = st;
  }

  // --in-place applies to a target that exists; a new file is created by
  // the rename, as always.
  bool writes_in_place(const current_target& cur) const { return o.in_place && cur.st.has_value(); }

  // The commit for a file no rename may replace (a bind-mounted file) or
  // whose inode must stay: the staged content is copied over the target,
  // which is then truncated and synced, under the lock. Not atomic: a
  // reader may see a partial file during the copy, and a crash in it leaves
  // the new content's first part over the old content's rest; the backup,
  // whole and synced before the first byte is written, holds the old one.
  // The target keeps its owner (and mode) unless they are given.
  void overwrite_in_place(staged_file& staged, placed_backup& backup, const current_target& cur, const target& t,
                          const etcd_lock& etcd) {
    etcd.check_deadline(t.display);
    unique_fd out(::openat(t.dir.get(), t.name.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
    if (!out) throw_errno("cannot open for writing in place", t.display);
    struct stat now;
    if (::fstat(out.get(), &now) != 0) throw_errno("cannot inspect", t.display);
    if (now.st_dev != cur.st->st_dev || now.st_ino != cur.st->st_ino)
      throw error(failure_kind::io, t.display + " was replaced by another program during this write; it was not changed",
                  "A program that does not take the lock wrote it; run again.");
    std::vector<std::string> warnings;
    const mode_t mode = apply_in_place(out.get(), *cur.st, o.metadata, t.display, warnings);
    for (auto& w : warnings) {
      emit(event::level::warning, "metadata", w);
      rep.warnings.push_back(std::move(w));
    }
    std::string w = t.display + " is overwritten in place, not replaced atomically: a reader may see a partial file "
                                "until the copy is done";
    emit(event::level::warning, "in_place", w, {{"path", t.display}, {"backup", rep.backup.value_or("")}});
    rep.warnings.push_back(std::move(w));
    // From the first byte on, the old content is only in the backup.
    committed = true;
    rep.changed = true;
    backup.keep();
    rep.in_place = true;
    try {
      const char* how = "";
      copy_file_contents(staged.fd(), 0, out.get(), 0, t.display, t.display, &how);
      if (::ftruncate(out.get(), static_cast<off_t>(rep.bytes)) != 0) throw_errno("cannot truncate", t.display);
      for (auto& w : restore_after_write(out.get(), mode, staged.fd(), t.display)) {
        emit(event::level::warning, "metadata", w);
        rep.warnings.push_back(std::move(w));
      }
      if (o.sync && ::fsync(out.get()) != 0) throw_write_error(errno_code(), "cannot sync (fsync)", t.display, t.display);
      note_final_stat(out.get());
      emit(event::level::debug, "in_place_copied", "Copied " + std::to_string(rep.bytes) + " bytes in place by " + how,
           {{"strategy", std::string(how)}});
    } catch (const error& e) {
      throw error(failure_kind::io,
                  std::string(e.what()) + "; " + t.display + " was being overwritten in place and may hold part of "
                                                             "the new content",
                  rep.backup ? "Its old content is in " + *rep.backup + "; run again to write the new content."
                             : "Its old content is lost (no backup was asked for); run again to write the new content.");
    }
  }

  void report_committed(const target& t, clock_type::time_point started) {
    say_held_warnings();
    event_fields fields = committed_fields(started);
    if (!hooks.on_event) return;
    // From the descriptor, not the name: a lookup would also cache the name
    // in a FUSE mount, where another program may remove it behind our back.
    struct stat st {};
    if (final_stat) st = *final_stat;
    char mode[16] = "";
    if (final_stat) std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    fields.insert(fields.end(), {{"in_place", rep.in_place},
                                 {"mode", std::string(mode)},
                                 {"uid", static_cast<std::int64_t>(st.st_uid)},
                                 {"gid", static_cast<std::int64_t>(st.st_gid)}});
    if (rep.sha256) fields.emplace_back("sha256", *rep.sha256);
    if (rep.fence) fields.emplace_back("fence", *rep.fence);
    emit(event::level::info, "committed", "Wrote " + std::to_string(rep.bytes) + " bytes to " + t.display,
         std::move(fields));
  }
};

}  // namespace

asio::awaitable<void> run_write(const write_options& o, const write_hooks& hooks, ring& r, stop_source& stop,
                                bool& committed, write_report& rep) {
  return run_job<job>(o, hooks, r, stop, committed, rep);
}

}  // namespace mutx::detail
