#include "report.hpp"

#include "app.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <type_traits>
#include <iostream>

namespace mutx::cli {

namespace json = boost::json;

namespace {

const char* level_name(event::level l) {
  switch (l) {
    case event::level::warning: return "warning";
    case event::level::notice: return "notice";
    case event::level::info: return "info";
    case event::level::debug: return "debug";
  }
  return "info";
}

void put_line(const std::string& line) {
  // One write per line, so lines from concurrent writers never interleave
  // mid-line on a shared stderr.
  std::string buf = line + "\n";
  std::fwrite(buf.data(), 1, buf.size(), stderr);
  std::fflush(stderr);
}

// A duration or rate as a plain JSON number with at most three decimals:
// 0.058, 6.96, 1523. Boost.JSON writes every double in exponent form
// (5.771E-2), which the PRD's readers (jq scripts, log pipelines that
// compare numbers as text) do not expect.
std::string plain_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%.3f", v);
  if (n <= 0 || n >= static_cast<int>(sizeof buf)) return "null";
  while (buf[n - 1] == '0') --n;  // "%.3f" always has a '.' to stop at
  if (buf[n - 1] == '.') --n;
  if (n == 2 && buf[0] == '-' && buf[1] == '0') return "0";
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

bool asks_for_json(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--") return false;
    if (a == "--json") return true;
  }
  return false;
}

bool reporter::shown(event::level lvl) const {
  switch (lvl) {
    case event::level::warning:
    case event::level::notice: return verbosity_ >= 0;
    // --json carries the info events (bytes, duration, backup) even
    // without -v: it is meant for programs.
    case event::level::info: return verbosity_ >= 1 || (json_ && verbosity_ >= 0);
    case event::level::debug: return verbosity_ >= 2;
  }
  return false;
}

// What the command line offers about an event the engine reports.
std::string hint_for(const event& e) {
  if (e.name == "owner_changed")
    return "Pass --preserve-owner (or --try-preserve-owner), or set preserve-owner = true in the config file, to keep "
           "the owner.";
  if (e.name == "lock_not_removed")
    return "A lock file left behind is harmless; mutx housekeep --clean-locks removes it once no writer holds it.";
  return {};
}

void reporter::on_event(const event& e) const {
  // "Lock acquired" is an info event (TR-7), and it answers a "Waiting for
  // lock..." line that was shown, whatever the verbosity (PRD 7.1). Only
  // the engine's thread sends these (the progress clock sends "progress").
  const bool acquired = e.name == "lock_acquired" || e.name == "etcd_lock_acquired";
  const bool answers_wait = acquired && wait_shown_ && verbosity_ >= 0;
  if (acquired) wait_shown_ = false;
  if (!shown(e.lvl) && !answers_wait) return;
  if (e.name == "lock_wait" || e.name == "etcd_lock_wait") wait_shown_ = true;
  const std::string hint = hint_for(e);
  if (!json_) {
    put_line(e.lvl == event::level::warning ? "Warning: " + e.message : e.message);
    if (!hint.empty()) put_line("Hint: " + hint);
    return;
  }
  // Written field by field: the event's fields are flat, and doubles need
  // plain_number. Empty strings are left out, as the PRD's example does.
  std::string line = "{\"level\":\"";
  line.append(level_name(e.lvl)).append("\",\"event\":").append(json::serialize(json::string(e.name)));
  line.append(",\"message\":").append(json::serialize(json::string(utf8_lossy(e.message))));
  for (const auto& [k, v] : e.fields) {
    std::string text = std::visit(
        [](const auto& x) -> std::string {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::string>) return x.empty() ? std::string() : json::serialize(json::string(utf8_lossy(x)));
          else if constexpr (std::is_same_v<T, double>) return plain_number(x);
          else return json::serialize(json::value(x));
        },
        v);
    if (!text.empty()) line.append(",").append(json::serialize(json::string(k))).append(":").append(text);
  }
  if (!hint.empty()) line.append(",\"hint\":").append(json::serialize(json::string(hint)));
  line += '}';
  put_line(line);
}

// The engine's hints speak of what to do; the command line says which flag
// does it. By failure_reason, so a library caller sees no flags.
std::string cli_hint(const mutx::error& e) {
  const std::string& h = e.hint();
  auto replaced = [&](std::string_view from, std::string_view to) {
    std::string out = h;
    if (auto at = out.find(from); at != std::string::npos) out.replace(at, from.size(), to);
    return out;
  };
  switch (e.reason()) {
    case failure_reason::no_input:
      return h == "The directory was left as it was."
                 ? "The directory was left as it was; pass --allow-empty to make it an empty directory."
                 : "The target was left as it was; pass --allow-empty to write an empty file.";
    case failure_reason::command_no_output:
      return h == "The target was left as it was." ? "The target was left as it was; pass --allow-empty to write an empty file."
                                                   : h;
    case failure_reason::lock_file_unusable: return "Remove it or choose another with --lock-file.";
    case failure_reason::lock_file_unreadable:
      return h + " mutx housekeep --clean-locks removes it once no writer holds it; or choose another with --lock-file.";
    case failure_reason::lock_dir_unwritable:
      return replaced("; choose a lock file in a directory you may write (the same one for every writer of the file).",
                      "; pass --lock-file PATH in a directory you may write (the same PATH for every writer of the "
                      "file).");
    case failure_reason::lock_dir_missing: return "--lock-file's directory must exist.";
    case failure_reason::lock_file_is_target:
      return replaced("Choose another lock file, or use the default, ", "Choose another --lock-file, or leave it out to use ");
    case failure_reason::lock_lost:
      return "Another program deleted or replaced the lock file; run again. Scripts that use flock(1) on it need "
             "--keep-lock-file.";
    case failure_reason::backup_dir_missing: return "--backup-dir must exist; create it first.";
    case failure_reason::backup_name_taken:
      return replaced("make its backups timestamped, or give them another suffix or directory",
                      "pass --backup-timestamp, or another --backup-suffix or --backup-dir");
    case failure_reason::owner_not_kept:
      return "Only root may give a file to another user; use --try-preserve-owner to go on without it.";
    case failure_reason::directory_missing: return "Create it first, or pass -p/--parents to create missing directories.";
    case failure_reason::symlink_refused:
      return "Use --symlinks=follow to write the file it points to, or --symlinks=replace.";
    case failure_reason::symlink_foreign:
      return replaced("or replace the link itself.", "or use --symlinks=replace to replace the link itself.");
    case failure_reason::io_uring_unavailable: return "Use --io=syscalls.";
    case failure_reason::input_unopenable:
      return h.find("directory whose copy") != std::string::npos
                 ? "--tree-from SRCDIR names the directory whose copy replaces DIR."
                 : "--input FILE names the file whose content replaces OUTPUT.";
    case failure_reason::tree_special_refused:
      return "Pass --tree-keep-special to accept FIFOs, device nodes and set-id bits; nothing was published.";
    case failure_reason::tree_exchange_unsupported:
      return replaced("Keep the tree on a local filesystem", "Keep the --tree DIR on a local filesystem");
    case failure_reason::tree_owner_refused:
      return "A tree's entries belong to the caller, or, as root with --preserve-owner, keep the owners in the "
             "archive or SRCDIR; set them there, or run chown -R on DIR after the write. Nothing was touched.";
    case failure_reason::mount_point:
      return "Pass --in-place to copy the new content over it in place (not atomic: a reader may see a partial "
             "file during the copy; add --backup to keep the old content), or replace the file on the other side "
             "of the bind mount.";
    default: return h;
  }
}

int reporter::on_error(const mutx::error& e) const {
  int code = exit_error;
  if (e.kind() == failure_kind::locked) code = exit_locked;
  if (e.kind() == failure_kind::interrupted) code = exit_interrupted;
  if (json_) {
    json::object o;
    o["level"] = "error";
    o["event"] = e.kind() == failure_kind::interrupted ? "interrupted" : (e.kind() == failure_kind::locked ? "locked" : "error");
    o["message"] = utf8_lossy(e.what());
    if (const std::string hint = cli_hint(e); !hint.empty()) o["hint"] = utf8_lossy(hint);
    if (!e.op().empty()) o["operation"] = utf8_lossy(e.op());
    if (!e.path().empty()) o["path"] = utf8_lossy(e.path());
    if (e.code()) o["errno"] = e.code().value();
    o["exit_code"] = code;
    put_line(json::serialize(o));
    return code;
  }
  if (e.kind() == failure_kind::interrupted) {
    put_line("Interrupted");
    return code;
  }
  put_line(std::string("Error: ") + e.what());
  if (const std::string hint = cli_hint(e); !hint.empty() && verbosity_ >= 0) put_line("Hint: " + hint);
  return code;
}

int reporter::on_error(const std::string& message, const std::string& hint) const {
  return on_error(mutx::error(failure_kind::io, message, hint));
}

}  // namespace mutx::cli
