// The library API: replace a file atomically and durably from a C++ program,
// with the same guarantees as the mutx command.
//
//   #include <mutx/mutx.hpp>
//
//   mutx::options opts;
//   opts.backup = true;                       // keep config.json.backup
//   opts.lock_timeout = std::chrono::seconds(5);
//   mutx::write_file("config.json", json_text, opts);
//
// What a call does (docs/design.md, sections 3 and 4, in mutx's source
// tree; installed as share/doc/mutx-dev/design.md): take OUTPUT.lock
// beside the target, stage the content in an unnamed temp file in the
// target's directory, give it the old file's mode
// (or `mode`), fsync it, make the backup if asked, rename it over the
// target, fsync the directory, release the lock. A reader sees the old
// content or the new, never a mix; a crash at any instant leaves one or the
// other.
//
// Error convention: every function here throws mutx::error (mutx/error.hpp)
// on failure and returns only when the new content is committed. Check
// error::kind() to tell the cases apart:
//   failure_kind::locked       the lock was not acquired (no_wait / timeout)
//   failure_kind::interrupted  only with options::handle_signals
//   failure_kind::io           everything else; what() says what and where,
//                              hint() suggests a fix, code() is the errno
// When a call throws, the target is untouched unless what() says the new
// content is in place but not confirmed durable (the directory fsync
// failed after the rename).
//
// Each call runs its own event loop on the calling thread and returns when
// done; calls from several threads or processes on the same target are
// serialised by the lock file.
#pragma once

#include "mutx/error.hpp"
#include "mutx/types.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mutx {

struct options {
  // Backups (skipped when the target does not exist yet). As on the
  // command line, each backup_* setting implies backup.
  bool backup = false;                        // keep the old content as PATH.backup
  bool backup_timestamp = false;              // PATH.YYYYMMDD-HHMMSS.backup
  std::string backup_suffix = ".backup";      // another suffix implies backup
  std::optional<std::string> backup_dir;      // must exist
  std::optional<mode_t> backup_mode;          // default: the old file's mode

  // Mode of the new file: `mode` if set, else the old file's mode, else
  // 0666 & ~umask (also when preserve_mode is false).
  std::optional<mode_t> mode;
  bool preserve_mode = true;
  // A mode as chmod(1) takes it, octal or symbolic ("u=rw,go=r", "a+x",
  // "g-w"): applied to the old file's mode, or to 0666 & ~umask for a new
  // file. Instead of `mode` (setting both is an error); an invalid one is
  // an error before anything is touched.
  std::optional<std::string> chmod;

  // Owner and group of the new file (numbers; see getpwnam(3)). Only root
  // may give a file away: otherwise an error, the target untouched. Unset:
  // the caller's (a new file's group may come from a set-group-ID
  // directory).
  std::optional<uid_t> owner;
  std::optional<gid_t> group;

  // Overwrite an existing target in place instead of replacing it: what a
  // bind-mounted file (Docker's -v file:file, a mount point, which no
  // rename may replace) needs, and it keeps the inode (hard links,
  // watchers). The new content is staged and synced first, the backup made,
  // then copied over the target under the lock, truncated and synced. NOT
  // atomic: a reader may see a partial file during the copy, and a crash
  // in it can leave the new content's first part over the rest of the old;
  // the backup (ask for one) holds the old content. A target that does not
  // exist yet is created atomically as always.
  bool in_place = false;

  // Locking. lock_wait false: fail at once (kind locked) if another writer
  // holds the lock. lock_timeout: wait at most that long. Neither: wait
  // without limit.
  bool lock_wait = true;
  std::optional<std::chrono::duration<double>> lock_timeout;
  std::optional<std::string> lock_file;       // default: PATH.lock beside the target
  mode_t lock_mode = 0644;
  // Never delete the lock file, so programs blocked in flock(1) on it take
  // turns with mutx writers (--keep-lock-file).
  bool keep_lock_file = false;
  // Writers on several hosts sharing a filesystem (--lock-url): take the
  // lock in an etcd v3 cluster, etcd://HOST:PORT[,HOST:PORT...][/PREFIX],
  // before the lock file, and commit only while it is provably still held
  // (else kind locked: "lost the etcd lock before the commit"). lock_name
  // names the lock (default: the target's absolute path; hosts that mount
  // the share at different paths give the same name); lock_ttl is the
  // lease's length in seconds (2 to 86400).
  std::optional<std::string> lock_url;
  std::optional<std::string> lock_name;
  std::chrono::seconds lock_ttl{10};

  // Durability: false skips the file and directory fsyncs (still atomic,
  // not durable across a crash).
  bool sync = true;

  bool append = false;       // new content = old content + input
  bool allow_empty = false;  // else empty input is an error, target untouched
  bool parents = false;      // create missing parent directories
  symlink_policy symlinks = symlink_policy::follow;

  // Config deploys. check: run `/bin/sh -c CMD` on the new content before
  // it is published (`%s`: the quoted path of a copy of it beside the
  // target, keeping its extension; without `%s` the content is on CMD's
  // stdin); any exit but 0 throws and leaves the target as it was.
  // compare: the same content, mode and owner as now: write nothing
  // (result::changed false). on_change: run `/bin/sh -c CMD` after a commit
  // that changed the file, under the lock (`%s`: the path); a failure
  // throws though the new content is in place. sha256: the new content
  // must have this SHA-256 (hex), else nothing is published. log: append
  // one JSON line per attempt to this regular file (time, user, host, pid,
  // target, outcome: written, unchanged, failed or interrupted, reason,
  // bytes, sha256, old_sha256, backup, duration_ms). A log that cannot be
  // opened, is no regular file or has no room for the line throws before
  // anything is published; should the line fail after the commit, the
  // error (failure_reason::log_not_written) says the content is in place.
  // A commit whose on_change then failed is logged "written", with the
  // failure as its reason.
  std::optional<std::string> check;
  bool compare = false;
  std::optional<std::string> on_change;
  std::optional<std::string> sha256;
  std::optional<std::string> log;
  // Fill result::sha256 (also done for sha256 and log). The content then
  // passes through memory: no clone or splice.
  bool compute_sha256 = false;

  // Trees (write_tree): accept FIFOs, device nodes and set-id bits on files
  // in the new tree (otherwise refused, naming the entry).
  bool tree_keep_special = false;

  // The I/O path. automatic: what MUTX_IO says (auto, uring, syscalls), else
  // io_uring where the kernel allows it, else plain system calls.
  io_mode io = io_mode::automatic;

  // Let SIGINT/SIGTERM/SIGHUP cancel the write before the commit point
  // (error kind interrupted). Off by default: signals belong to the program.
  // While it runs, the call unblocks those it handles (not one the program
  // ignores) and puts the program's signal mask back on return.
  bool handle_signals = false;
};

// What was done.
struct result {
  std::uint64_t bytes = 0;            // the size of the new content
  std::string target;                 // the file replaced (symlinks resolved)
  std::optional<std::string> backup;  // the backup made, if any
  bool changed = true;                // false: compare found it the same, nothing written
  std::string sha256;                 // of the new content (64 hex digits), when computed
  std::uint64_t entries = 0;          // write_tree: entries written (files, directories, links)
  std::optional<std::int64_t> fence;  // with lock_url: the etcd fencing token
};

// Replace `path` with `data`. Throws mutx::error.
result write_file(const std::string& path, std::span<const std::byte> data, const options& opts = {});
result write_file(const std::string& path, std::string_view data, const options& opts = {});

// Replace `path` with everything read from `fd` (a pipe, socket or file; the
// caller keeps ownership). The lock is taken first and the input streamed to
// disk as it arrives, in constant memory, like `mutx --stream`. Throws
// mutx::error; the target is untouched if `fd` fails or is empty.
result write_stream(const std::string& path, int fd, const options& opts = {});

// Replace the directory `dir` as a whole (`mutx --tree`): the new tree is
// built beside it from a source, synced, and swapped in by one
// renameat2(RENAME_EXCHANGE) (a new `dir`: RENAME_NOREPLACE). The old
// generation is kept as .DIR.mutx-old until the next write (or becomes the
// backup when opts ask for one), so a reader that opened `dir` once reads
// one generation whole. Hostile entries (absolute names, `..`, links out
// of the tree, entries below a link, FIFOs, devices, set-id bits unless
// tree_keep_special) throw before anything is published, naming the entry.
// Files belong to the caller (the archive's owners are not applied);
// `mode` sets the top directory's mode. append, sha256, in_place, owner
// and group throw before anything is touched (owner and group with
// failure_reason::tree_owner_refused: which entries they would go to is
// no choice to make silently). The log is not written for a tree.
// Throws mutx::error.
struct tree_source {
  // A tar stream (ustar, pax, GNU; uncompressed) read from this descriptor
  // (the caller keeps it), or, when `directory` is set, a copy of that
  // directory (reflinks where the filesystem shares extents).
  int tar_fd = -1;
  std::optional<std::string> directory;
};
result write_tree(const std::string& dir, const tree_source& source, const options& opts = {});

}  // namespace mutx
