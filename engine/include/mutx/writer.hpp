// Replace a file atomically and durably, under its lock: the whole commit
// protocol of docs/design.md, section 3, in one call. This is the engine's
// front door, for cli/ and for programs linking the library (see
// mutx/mutx.hpp).
#pragma once

#include "mutx/backup.hpp"
#include "mutx/lock.hpp"
#include "mutx/metadata.hpp"
#include "mutx/mutx.hpp"
#include "mutx/ring.hpp"
#include "mutx/target.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace mutx {

struct write_options {
  std::string output;

  // Input: `data` when set (library buffer writes), else `input` (a path),
  // else the descriptor `input_fd` (stdin by default).
  std::optional<std::span<const std::byte>> data;
  std::optional<std::string> input;
  int input_fd = 0;
  // `mutx OUTPUT -- COMMAND [ARG...]`: run it under the lock with the
  // current content on stdin, commit its stdout if it exits 0.
  std::vector<std::string> command;
  // Report the command's stderr as "command_stderr" events instead of
  // passing it through (--json: stderr is all JSON).
  bool command_stderr_events = false;

  bool stream = false;       // lock first, then write as input arrives
  bool append = false;       // new content = old content + input
  bool allow_empty = false;  // else empty input is refused
  bool sync = true;          // fsync file and directory (--no-sync: neither)
  bool parents = false;      // create missing parent directories
  bool direct = true;        // allow O_DIRECT for durable streams
  // Overwrite an existing target in place (same inode) instead of renaming
  // over it: what a bind-mounted file (a mount point) needs. Not atomic.
  bool in_place = false;
  symlink_policy symlinks = symlink_policy::follow;
  metadata_options metadata;
  backup_options backup;

  bool lock = true;
  lock_wait wait;
  std::optional<std::string> lock_file;  // default: NAME.lock beside the target
  mode_t lock_mode = 0644;
  // Never delete the lock file (--keep-lock-file): see lock_file::keep_name.
  bool keep_lock_file = false;
  // Writers on several hosts (--lock-url): an etcd v3 lock, taken before
  // the lock file and proven still held just before the rename. The key is
  // PREFIX/ + hex SHA-256 of lock_name (default: the target's absolute
  // path after the symlink policy); the lease lasts lock_ttl seconds.
  std::optional<std::string> lock_url;  // etcd://HOST:PORT[,HOST:PORT...][/PREFIX]
  std::optional<std::string> lock_name;
  long lock_ttl = 10;

  // `mutx --tree DIR`: OUTPUT is a directory, replaced as a whole by the
  // tar stream on the input (`input` or `input_fd`), or by a copy of the
  // directory `from` (docs/design.md, section 8).
  struct tree_options {
    bool enabled = false;
    std::optional<std::string> from;  // --tree-from SRCDIR
    bool keep_special = false;         // FIFOs, device nodes, set-id bits
  } tree;
  // Before a config deploy goes live (docs/design.md, "Checks around a
  // write"). `check`: run `/bin/sh -c CMD` once the new content is staged,
  // before it is synced and published, `%s` being the quoted path of a
  // copy of it beside the target (check_copy), else the content is on its
  // stdin; anything but exit 0 leaves the target as it was.
  std::optional<std::string> check;
  // Content, mode and owner all the same as the current file's: write
  // nothing (no rename, no backup, no directory sync); report.changed false.
  bool compare = false;
  // After a commit that changed the file, still under the lock: run
  // `/bin/sh -c CMD`, `%s` being OUTPUT's quoted path.
  std::optional<std::string> on_change;
  // The SHA-256 (64 hex digits) the new content must have, else nothing is
  // published.
  std::optional<std::string> sha256;
  // Compute the SHA-256 of the new content into report.sha256 (also done
  // for `sha256` and `log`).
  bool hash = false;
  // Append one JSON line per attempt to this file (audit_log.hpp).
  std::optional<std::string> log;

  io_mode io = io_mode::automatic;
  // Handle SIGINT/SIGTERM/SIGHUP on the loop (exit 3 semantics). The CLI
  // sets it; a library caller usually leaves signals to its program. While
  // the handler is installed the call unblocks those it handles (not one the
  // caller ignores), and it puts the caller's signal mask back on return.
  bool handle_signals = false;
};

// Something worth telling the user; cli/ decides how (human or JSON).
struct event {
  enum class level { warning, notice, info, debug };
  using value = std::variant<std::string, std::int64_t, double, bool>;
  level lvl = level::info;
  std::string name;     // "lock_wait", "backend", "committed", ...
  std::string message;  // human words
  std::vector<std::pair<std::string, value>> fields;
};

struct write_report {
  std::uint64_t bytes = 0;
  std::uint64_t entries = 0;  // a tree: files, directories and links written
  std::string backend;   // io_uring or syscalls
  std::string strategy;  // direct, splice, clone, copy_file_range, buffered...
  std::string staging;   // O_TMPFILE or named temp
  bool in_place = false;  // the target was overwritten in place, not replaced
  std::string target;    // the file that was replaced (symlinks resolved)
  std::optional<std::string> backup;
  std::string lock_file;
  double lock_wait_ms = 0;
  // Under lock_url: the etcd key held and its create_revision, the fencing
  // token the new file carries in its xattr user.mutx.fence.
  std::string etcd_key;
  std::optional<std::int64_t> fence;
  double duration_ms = 0;
  std::vector<std::string> warnings;
  // False when `compare` found nothing to change (nothing was written).
  bool changed = false;
  std::optional<std::string> sha256;  // of the new content, when computed
};

struct write_hooks {
  std::function<void(const event&)> on_event;
  // on_event shows debug events. The I/O backend is then chosen at the
  // start so that the "backend" event can name it; otherwise io_uring is
  // set up only if the write needs it (ring's automatic mode).
  bool debug_events = true;
  // on_event shows info events (-v, --json). Without them the sweep of a
  // filesystem other hosts may mount, which can remove nothing, looks up
  // nothing either (sweep_stale_temps, staging.hpp).
  bool info_events = true;
  // Bytes written so far during a stream, and the input size if known.
  std::function<void(std::uint64_t, std::optional<std::uint64_t>)> on_progress;
};

// The option rules every front end applies, in one place: a timestamped
// backup, or any backup detail the caller gave (where, how, which suffix:
// `details_given`, as each front end knows its own sources: the command
// line counts, the config file does not), asks for a backup; backups are
// synced as the write is. write() checks the rest (validate).
void normalize(write_options& w, bool backup_details_given);

// Throws mutx::error (kind() tells lock failures and interrupts apart).
write_report write(const write_options& opts, const write_hooks& hooks = {});

// The engine options the public API's options (mutx.hpp) map to.
write_options to_write_options(const std::string& path, const options& opts);

}  // namespace mutx
