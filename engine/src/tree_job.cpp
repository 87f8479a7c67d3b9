// `mutx --tree DIR`: a whole directory replaced at once (docs/design.md,
// section 8). The new tree is built beside DIR as a staged directory, synced,
// and swapped with DIR by renameat2(RENAME_EXCHANGE) (a new DIR: by
// RENAME_NOREPLACE); the old generation keeps a name until the next write
// (or becomes the backup), so a reader that opened DIR once reads one whole
// generation to the end.
#include "tree_job.hpp"

#include "job_steps.hpp"
#include "tree_build.hpp"

#include "mutx/backup.hpp"
#include "mutx/inode.hpp"
#include "mutx/names.hpp"
#include "mutx/tree_staging.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <functional>
#include <thread>

namespace mutx::detail {

namespace asio = boost::asio;

namespace {

// Where the new tree comes from.
struct tree_input {
  unique_fd owned;
  int fd = 0;  // the tar stream, or the source directory
  std::string name = "standard input";
  bool directory = false;
};

// DIR as it is under the lock.
struct current_tree {
  std::optional<struct stat> st;  // nullopt: a new DIR
  unique_fd fd;                   // open and claimed (a shared flock) while it is swapped out
};

// Run `work` on a thread of its own while the loop goes on, so that a signal
// is seen (`cancel` turns true) while a producer is slow to write the next
// block or a sync is long. Rethrows what `work` throws.
asio::awaitable<void> off_loop(stop_source& stop, const std::function<void(const std::atomic<bool>&)>& work) {
  std::atomic<bool> cancel{false};
  auto reg = stop.on_stop([&] { cancel = true; });
  asio::steady_timer done(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
  std::exception_ptr failure;
  bool finished = false;
  // The thread takes no signals: they are the loop's (asio's handler).
  sigset_t all, saved;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &saved);
  std::thread worker([&, ex = done.get_executor()] {
    try {
      work(cancel);
    } catch (...) {
      failure = std::current_exception();
    }
    asio::post(ex, [&] {
      finished = true;
      done.cancel();
    });
  });
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  while (!finished) co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
  worker.join();
  if (failure) std::rethrow_exception(failure);
}

std::string dir_name(const std::string& display) { return display.empty() ? "." : display; }

struct tree_job : job_steps {
  asio::awaitable<void> run() {
    validate();
    validate_tree();
    const auto started = clock_type::now();
    report_backend();
    if (o.log)
      emit(event::level::warning, "log", "the audit log records file writes only; this tree write is not logged");
    target t = inspect_target();
    std::optional<backup_location> backup_dir = open_backups(t);
    tree_input in = open_input();
    refuse_source_holding(in, t);

    lock_file lk;
    if (o.lock) lk = co_await take_lock(t);
    sweep(t);
    current_tree cur = inspect_current(t);

    staged_tree staged(t.dir.get(), t.name, t.dir_display);
    co_await build(staged, in, cur, t);
    if (unchanged(staged, cur, t, started)) co_return;
    co_await check(staged, t);
    co_await sync(staged, t);

    check_lock_intact(lk, t);
    if (stop.stop_requested()) interrupted();
    publish(staged, cur, t);
    warn_owner_change(staged, cur, t);
    keep_old_generation(staged, cur, t, backup_dir);
    sync_directories(t, backup_dir);
    report_committed(t, started);
    if (o.on_change)
      if (std::string failure = co_await run_on_change(t); !failure.empty())
        throw error(failure_kind::io, failure).with_reason(failure_reason::on_change_failed);
  }

  // What only a tree write can get wrong.
  void validate_tree() const {
    if (o.tree.from && o.tree.from->find('\0') != std::string::npos)
      throw error(failure_kind::io, "the source directory contains a NUL byte",
                  "A path ends at its first NUL byte; pass the name without it.");
    auto refuse = [](const char* what) {
      throw error(failure_kind::io, std::string("a tree cannot be written ") + what,
                  "A tree is replaced as a whole from a tar stream or a directory.");
    };
    if (o.append) refuse("by appending");
    if (!o.command.empty()) refuse("from a command's output");
    if (o.data) refuse("from a buffer");
    if (o.tree.from && o.input) refuse("from both a tar file and a directory");
    if (o.sha256)
      throw error(failure_kind::io, "a tree has no one SHA-256 to check",
                  "Check the archive itself (sha256sum) before it is written.");
    if (o.in_place) refuse("in place");
    // Which entries an owner would go to (the top directory, every entry,
    // only the files?) is no choice to make silently: refused.
    if (o.metadata.uid || o.metadata.gid)
      throw error(failure_kind::io, "a tree is not given an owner or group",
                  "A tree's entries belong to the caller, or keep the owners of the archive or source directory "
                  "when they are to be preserved; change them after the write (chown -R) if need be.")
          .with_reason(failure_reason::tree_owner_refused);
    if (o.lock_url)
      throw error(failure_kind::io, "a tree is not yet written under an etcd lock",
                  "Write the tree without the lock URL; writers of one tree on several hosts are not coordinated.");
  }

  // DIR resolved (a symbolic link to it followed, by the policy), and
  // refused if it is there and not a directory, or its staged name would
  // not fit.
  target inspect_target() {
    target t = resolve_target(o.output, o.symlinks, o.parents, o.sync);
    check_tree_name_fits(t.dir.get(), t.name, t.display);
    check_names_changeable(t.dir.get(), t.dir_display, "cannot replace " + t.display);
    struct stat st;
    const bool exists = ::fstatat(t.dir.get(), t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !S_ISDIR(st.st_mode))
      throw error(errno_code(ENOTDIR), "", t.display)
          .with_hint("A tree write replaces a directory; " + t.display + " is another kind of file.")
          .with_reason(failure_reason::tree_not_directory);
    // rename(2) moves no mount point (EBUSY): found now, not after the
    // whole tree is built.
    if (exists && is_mount_point(t.dir.get(), t.name))
      throw error(failure_kind::io, t.display + ": is a mount point; a tree cannot be swapped with it",
                  "rename(2) cannot move a mount point, and mutx replaces a directory only by a rename. Write the "
                  "tree to a directory inside the mount (" + join_path(t.display, "NAME") +
                  "), or mount the directory that holds it instead. It was left as it was.");
    rep.target = t.display;
    return t;
  }

  // The old generation becomes the backup by a rename: the backup
  // directory must be on DIR's filesystem, checked before anything changes.
  std::optional<backup_location> open_backups(const target& t) const {
    if (!o.backup.enabled) return std::nullopt;
    backup_location where = open_backup_location(o.backup, t.dir.get(), t.dir_display);
    struct stat a, b;
    if (::fstat(where.dir.get(), &a) == 0 && ::fstat(t.dir.get(), &b) == 0 && a.st_dev != b.st_dev)
      throw error(errno_code(EXDEV), "cannot keep the old tree as a backup in", dir_name(where.display))
          .with_hint("The old tree becomes the backup by a rename, so the backup directory must be on the "
                     "filesystem of " + t.display + ".");
    return where;
  }

  tree_input open_input() const {
    tree_input in;
    in.fd = o.input_fd;
    if (o.tree.from) {
      in.owned.reset(::open(o.tree.from->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!in.owned)
        throw error(errno_code(), "", *o.tree.from)
            .with_hint("It was named as the directory whose copy replaces the target.")
            .with_reason(failure_reason::input_unopenable);
      in.fd = in.owned.get();
      in.name = *o.tree.from;
      in.directory = true;
      return in;
    }
    if (o.input) {
      in.owned = open_input_file("the tar archive whose tree replaces the target");
      in.fd = in.owned.get();
      in.name = *o.input;
    }
    struct stat ist;
    if (::fstat(in.fd, &ist) != 0) throw_errno("cannot read", in.name);
    if (S_ISDIR(ist.st_mode))
      throw error(errno_code(EISDIR), "cannot read", in.name)
          .with_hint("A tree is read as a tar stream; a directory is copied when named as the tree's source.");
    return in;
  }

  // --tree-from a directory that holds DIR's directory (`--tree-from .`
  // into ./site): the staged tree, built beside DIR, would lie inside the
  // source and be copied into itself without end. Refused before anything
  // is created, by walking up from DIR's directory.
  void refuse_source_holding(const tree_input& in, const target& t) const {
    struct stat src;
    if (!in.directory || ::fstat(in.fd, &src) != 0) return;
    unique_fd at(::fcntl(t.dir.get(), F_DUPFD_CLOEXEC, 0));
    for (int depth = 0; at && depth < 4096; ++depth) {
      struct stat st;
      if (::fstat(at.get(), &st) != 0) return;
      if (same_inode(st, src))
        throw error(failure_kind::io,
                    t.display + ": lies inside " + in.name +
                        ", the source directory, so the copy would hold the new tree being built beside it",
                    "Copy from a directory that does not hold " + t.display + ", or write the tree elsewhere; " +
                        t.display + " was left as it was.");
      unique_fd up(::openat(at.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      struct stat ust;
      if (!up || ::fstat(up.get(), &ust) != 0 || same_inode(ust, st)) return;  // the root
      at = std::move(up);
    }
  }

  // A crashed writer's staged trees in NAME's slots, which no live writer
  // claims, go.
  void sweep(const target& t) const {
    for (const std::string& gone : sweep_stale_trees(t.dir.get(), t.name))
      emit(event::level::info, "stale_tree_removed", "Removed stale staged tree " + join_path(t.dir_display, gone),
           {{"path", join_path(t.dir_display, gone)}});
  }

  // DIR is claimed (a shared flock on it) so that, swapped out under the
  // staged name, no sweeper takes it for a crashed writer's.
  current_tree inspect_current(const target& t) const {
    current_tree cur;
    struct stat st;
    if (::fstatat(t.dir.get(), t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) throw_errno("cannot inspect", t.display);
      return cur;
    }
    if (!S_ISDIR(st.st_mode))
      throw error(errno_code(ENOTDIR), "", t.display).with_reason(failure_reason::tree_not_directory);
    cur.fd.reset(::openat(t.dir.get(), t.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!cur.fd) throw_errno("cannot open", t.display);
    ::flock(cur.fd.get(), LOCK_SH | LOCK_NB);
    cur.st = st;
    return cur;
  }

  // The new tree, entry by entry, into the staged directory: off the loop,
  // so that a signal is seen while a producer is slow.
  asio::awaitable<void> build(staged_tree& staged, tree_input& in, const current_tree& cur, const target& t) {
    emit(event::level::debug, "staged", "Staged tree " + join_path(t.dir_display, staged.name()),
         {{"staging", staged.name()}});
    rep.staging = "staged tree";
    tree_build_options bo;
    bo.keep_special = o.tree.keep_special;
    bo.owner = o.metadata.owner;
    bo.display = t.display;
    bo.source = in.directory ? in.name : "the archive";
    if (o.metadata.mode) {
      const mode_t um = ::umask(022);
      ::umask(um);
      bo.top_mode = o.metadata.mode->apply(cur.st ? cur.st->st_mode & 07777 : 0777 & ~um, um);
    } else if (cur.st && o.metadata.preserve_mode) {
      bo.top_mode = cur.st->st_mode & 07777;
    }
    tree_totals totals;
    std::vector<std::string> warnings;
    bool empty = false;
    co_await off_loop(stop, [&](const std::atomic<bool>& cancel) {
      tree_builder b(staged.fd(), bo, cancel);
      rep.entries = in.directory ? copy_directory(in.fd, in.name, b) : read_tar(in.fd, in.name, b, cancel, empty);
      if (!empty) b.finish();
      totals = b.totals;
      warnings = std::move(b.warnings);
    });
    if (stop.stop_requested()) interrupted();
    // No bytes at all is never a tree (an empty archive still has its end
    // blocks); an archive of no entries is an empty directory if asked for.
    if (empty)
      throw error(failure_kind::io, "No input provided",
                  "The directory was left as it was; give a tar stream, such as tar -C SRC -c .");
    if (rep.entries == 0 && !o.allow_empty)
      throw error(failure_kind::io, "the archive holds no entries", "The directory was left as it was.")
          .with_reason(failure_reason::no_input);
    for (auto& w : warnings) {
      emit(event::level::warning, "metadata", w);
      rep.warnings.push_back(std::move(w));
    }
    rep.bytes = totals.bytes;
    rep.strategy = in.directory ? (totals.strategy ? totals.strategy : "copy") : "tar";
    emit(event::level::debug, "tree_built",
         "Built " + std::to_string(rep.entries) + " entries (" + std::to_string(totals.files) + " files, " +
             std::to_string(totals.directories) + " directories, " + std::to_string(totals.symlinks) +
             " symbolic links, " + std::to_string(totals.hardlinks) + " hard links), " + std::to_string(rep.bytes) +
             " bytes",
         {{"entries", static_cast<std::int64_t>(rep.entries)},
          {"files", static_cast<std::int64_t>(totals.files)},
          {"directories", static_cast<std::int64_t>(totals.directories)},
          {"bytes", static_cast<std::int64_t>(rep.bytes)},
          {"strategy", rep.strategy}});
  }

  // --compare: the new tree is the current one (names, types, modes,
  // owners, link targets, contents): nothing is swapped or kept.
  // --compare: a tree identical to DIR changes nothing. Says so; the
  // write then ends.
  bool unchanged(staged_tree& staged, const current_tree& cur, const target& t, clock_type::time_point started) {
    if (!o.compare || !cur.fd || !same_tree(staged.fd(), cur.fd.get())) return false;
    event_fields fields = unchanged_fields(started);
    fields.emplace_back("entries", static_cast<std::int64_t>(rep.entries));
    emit(event::level::info, "unchanged", "Unchanged: " + t.display, std::move(fields));
    return true;
  }

  // --check CMD on the staged tree before it is synced, `%s` being the
  // staged directory (nginx -t -p %s); anything but exit 0 leaves DIR as
  // it was and the staged tree is removed.
  asio::awaitable<void> check(staged_tree& staged, const target& t) {
    if (!o.check) co_return;
    shell_command sc;
    sc.command = with_path(*o.check, join_path(t.dir_display, staged.name()));
    refuse_failed_check(co_await run_check(std::move(sc)), t);
  }

  // Every file and directory of the new tree on disk before it is swapped
  // in: syncfs(2) of DIR's filesystem (what `sync -f` does), one flush for
  // the whole tree rather than an fsync per file; the kernel reports a
  // writeback error of any of them (Linux 5.8 and later).
  asio::awaitable<void> sync(staged_tree& staged, const target& t) {
    if (!o.sync) co_return;
    co_await off_loop(stop, [&](const std::atomic<bool>&) {
      if (::syncfs(staged.fd()) != 0) throw_errno("cannot sync (syncfs) the new tree of", t.display);
    });
    if (stop.stop_requested()) interrupted();
  }

  // The commit point: one rename swaps the trees (or names the new one).
  // Never two renames: a filesystem without RENAME_EXCHANGE is an error.
  void publish(staged_tree& staged, const current_tree& cur, const target& t) {
    const unsigned flags = cur.st ? RENAME_EXCHANGE : RENAME_NOREPLACE;
    if (::renameat2(t.dir.get(), staged.name().c_str(), t.dir.get(), t.name.c_str(), flags) != 0) {
      const int err = errno;
      if (err == EINVAL || err == ENOSYS || err == EOPNOTSUPP)
        throw error(errno_code(err), cur.st ? "cannot swap the new tree with" : "cannot name the new tree", t.display)
            .with_hint("This filesystem does not offer renameat2(" +
                       std::string(cur.st ? "RENAME_EXCHANGE" : "RENAME_NOREPLACE") +
                       ") (some FUSE and network filesystems), and mutx never replaces a directory in two steps "
                       "that a reader could see between. Keep the tree on a local filesystem (ext4, xfs, btrfs, "
                       "tmpfs). " + t.display + " was left as it was.")
            .with_reason(failure_reason::tree_exchange_unsupported);
      if (err == EEXIST || err == ENOTEMPTY)
        throw error(errno_code(err), "cannot name the new tree", t.display)
            .with_hint("Another program created it meanwhile, without the lock; it was left as it was.");
      throw_errno(cur.st ? "cannot swap the new tree with" : "cannot name the new tree", t.display, err);
    }
    committed = true;
    rep.changed = true;
    staged.published();
  }

  // A tree of another user's replaced by root's: said as for a file
  // (job_steps::owner_change), of the top directory.
  void warn_owner_change(const staged_tree& staged, const current_tree& cur, const target& t) {
    if (!cur.st || o.metadata.owner != owner_policy::caller) return;
    struct stat now;
    if (::fstat(staged.fd(), &now) != 0) return;
    if (auto e = owner_change(*cur.st, now, t.display)) emit(e->lvl, std::move(e->name), std::move(e->message), std::move(e->fields));
  }

  // The generation just swapped out (under the staged name) becomes the
  // backup, or `.NAME.mutx-old` in place of the one before it, which goes.
  // A reader that opened it still reads it whole until the next write.
  void keep_old_generation(staged_tree& staged, current_tree& cur, const target& t,
                           const std::optional<backup_location>& backup_dir) {
    if (!cur.st) return;
    const int dfd = t.dir.get();
    const std::string old = old_tree_name(t.name);
    std::string kept;
    if (backup_dir) {
      kept = place_backup(staged.name(), *backup_dir, t);
      remove_generation(dfd, old, t);  // one kept before backups were asked for
    } else {
      // Swap with the previous old generation if there is one, so that the
      // staged name holds what is no longer needed.
      if (::renameat2(dfd, staged.name().c_str(), dfd, old.c_str(), RENAME_NOREPLACE) != 0) {
        if (errno != EEXIST || ::renameat2(dfd, staged.name().c_str(), dfd, old.c_str(), RENAME_EXCHANGE) != 0)
          return warn_old_left(join_path(t.dir_display, staged.name()));
        remove_generation(dfd, staged.name(), t);
      }
      kept = join_path(t.dir_display, old);
    }
    emit(event::level::info, backup_dir ? "backup" : "old_generation",
         (backup_dir ? "Backup created: " : "Old tree kept as ") + kept, {{backup_dir ? "backup" : "path", kept}});
    if (backup_dir) rep.backup = kept;
  }

  // The old tree renamed to the backup name (the same filesystem, checked
  // by open_backups). A plain backup replaces the previous one, which goes.
  std::string place_backup(const std::string& from, const backup_location& where, const target& t) {
    const int dfd = t.dir.get();
    const std::time_t now = std::time(nullptr);
    for (int counter = 0; counter < 1000; ++counter) {
      const std::string name = backup_name(o.backup, t.name, now, counter);
      if (::renameat2(dfd, from.c_str(), where.dir.get(), name.c_str(), RENAME_NOREPLACE) == 0)
        return join_path(where.display, name);
      if (errno != EEXIST) break;
      if (o.backup.timestamp) continue;
      if (::renameat2(dfd, from.c_str(), where.dir.get(), name.c_str(), RENAME_EXCHANGE) != 0) break;
      struct stat st;
      if (::fstatat(dfd, from.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
        remove_generation(dfd, from, t);
      else
        ::unlinkat(dfd, from.c_str(), 0);
      return join_path(where.display, name);
    }
    throw error(errno_code(), "the new tree is in place; the old one could not be made the backup and is left as",
                join_path(t.dir_display, from));
  }

  void sync_directories(const target& t, const std::optional<backup_location>& backup_dir) {
    if (!o.sync) return;
    if (::fsync(t.dir.get()) != 0)
      throw_errno("the new tree is in place but not confirmed durable: cannot sync directory", dir_name(t.dir_display));
    if (backup_dir && backup_dir->dir && ::fsync(backup_dir->dir.get()) != 0)
      throw_errno("the new tree is in place but the backup is not confirmed durable: cannot sync directory",
                  dir_name(backup_dir->display));
  }

  void report_committed(const target& t, clock_type::time_point started) {
    event_fields fields = committed_fields(started);
    fields.emplace_back("entries", static_cast<std::int64_t>(rep.entries));
    emit(event::level::info, "committed",
         "Wrote " + std::to_string(rep.entries) + " entries (" + std::to_string(rep.bytes) + " bytes) to " + t.display,
         std::move(fields));
  }

  void warn_old_left(const std::string& where) {
    std::string w = "the old tree is left as " + where + ": " + describe(errno_code());
    emit(event::level::warning, "old_generation", w, {{"path", where}});
    rep.warnings.push_back(std::move(w));
  }

  // A generation no reader is promised any more.
  void remove_generation(int dfd, const std::string& name, const target& t) {
    unique_fd fd(::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return;
    const removed_tree gone = remove_tree(dfd, name, fd.get());
    if (!gone.error) return;
    const std::string path = join_path(t.dir_display, name);
    const std::string mounts = kept_mounts(gone, path);
    std::string w = "an old tree could not be removed whole (" + path +
                    "): " + (mounts.empty() ? describe(errno_code(gone.error)) : mounts);
    emit(event::level::warning, "old_generation", w, {{"path", path}});
    rep.warnings.push_back(std::move(w));
  }
};

}  // namespace

asio::awaitable<void> run_tree(const write_options& o, const write_hooks& hooks, ring& r, stop_source& stop,
                               bool& committed, write_report& rep) {
  return run_job<tree_job>(o, hooks, r, stop, committed, rep);
}

}  // namespace mutx::detail
