#include "housekeep.hpp"

#include "app.hpp"
#include "options.hpp"
#include "report.hpp"

#include "mutx/housekeep.hpp"

#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

namespace mutx::cli {

namespace po = boost::program_options;

namespace {

constexpr const char* usage =
    "Usage: mutx housekeep [OPTIONS] [DIR]\n"
    "\n"
    "Remove what mutx writers leave behind in DIR (default: .): orphaned lock\n"
    "files, temp files of crashed writers and old backups, each only where it is\n"
    "provably mutx's and no live writer's. A lock file goes only as NAME.lock\n"
    "beside NAME, empty, untouched for an hour and held by nobody (flock, POSIX\n"
    "or OFD locks); other tools' lock files (Cargo.lock, .rpm.lock), git\n"
    "directories and symbolic links are never touched. Backups are aged and\n"
    "ordered by when they were made (their ctime), and the newest of each file\n"
    "stays unless --keep-newest says otherwise. A temp on a filesystem other hosts\n"
    "may mount (FUSE, NFS, CephFS...) is never removed by its age alone; one named\n"
    "after a writer's etcd lease (.NAME.mutx-eLEASE) goes only with --lock-url,\n"
    "once etcd says that lease is gone. Prints one line per path deleted\n"
    "(with --dry-run: 'would delete PATH', and nothing is deleted).\n";

constexpr const char* duration_help =
    "use a whole number with a unit: 30s 15m 2h 7d 1w; a bare number is hours for locks and temps, days for backups";

std::optional<std::uint64_t> parse_count(const std::string& s) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(s);
}

const char* kind_name(housekeep_kind kind) {
  switch (kind) {
    case housekeep_kind::lock: return "lock";
    case housekeep_kind::temp: return "temp";
    case housekeep_kind::backup: return "backup";
    case housekeep_kind::directory: return "directory";
  }
  return "";
}

std::string plural(std::uint64_t n, const char* word) {
  return std::to_string(n) + ' ' + word + (n == 1 ? "" : "s");
}

// One JSON object a line: the deletions and the summary on stdout; under
// --json also what is skipped or failed, on stderr, as the write command's
// events.
void put_json_line(const boost::json::object& o, std::FILE* to) {
  std::string line = boost::json::serialize(o);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), to);
}

}  // namespace

namespace {

// What housekeep's options set.
struct housekeep_args {
  housekeep_options opts;
  bool all = false, verbose = false, json = false, help = false;
  std::string older_than, keep_newest;
};

// Housekeep's options: the operations and the rest, bound to `a`.
void describe_options(po::options_description& ops, po::options_description& rest, housekeep_args& a) {
  ops.add_options()
      ("clean-locks", po::bool_switch(&a.opts.locks), "delete empty NAME.lock files beside NAME that no process holds")
      ("clean-temps", po::bool_switch(&a.opts.temps), "delete .NAME.mutx-* temp files and .NAME.mutx-tree-* staged trees "
       "that no live writer holds")
      ("clean-backups", po::bool_switch(&a.opts.backups), "thin NAME[.YYYYMMDD-HHMMSS[_NNN]].backup files, by when "
       "each was made, and .NAME.mutx-old trees (with --keep-newest 0)")
      ("all", po::bool_switch(&a.all), "all three");
  rest.add_options()
      ("recursive,r", po::bool_switch(&a.opts.recursive), "descend into subdirectories (never through symlinks or into other filesystems)")
      ("older-than", po::value(&a.older_than)->value_name("DURATION"),
       "only files older than DURATION (30s 15m 2h 7d 1w; a bare number is hours for locks and temps, days for "
       "backups); locks and temps default to 1h")
      ("keep-newest", po::value(&a.keep_newest)->value_name("N"), "keep the N newest backups of each file, whatever "
       "their age (default 1)")
      ("backup-suffix", po::value(&a.opts.backup_suffix)->value_name("S"), "backup suffix (default .backup)")
      ("lock-url", po::value<std::string>()->value_name("etcd://HOST:PORT[,...][/PREFIX]"),
       "ask this etcd cluster whether the lease a .NAME.mutx-eLEASE temp is named after is gone: only then is it "
       "removed (without it, such temps stay)")
      ("dry-run,n", po::bool_switch(&a.opts.dry_run), "change nothing; list what would be deleted")
      ("verbose,v", po::bool_switch(&a.verbose), "say on stderr what is kept and why, and a summary")
      ("json", po::bool_switch(&a.json), "one JSON object per line on stdout, then a summary object")
      ("help,h", po::bool_switch(&a.help), "show this help");
}

}  // namespace

std::vector<std::string> housekeep_option_names() {
  housekeep_args a;
  po::options_description ops, rest;
  describe_options(ops, rest, a);
  std::vector<std::string> names;
  for (const auto* table : {&ops, &rest})
    for (const auto& o : table->options()) names.push_back(o->long_name());
  return names;
}

int housekeep_main(const std::vector<std::string>& args) {
  housekeep_args a;
  a.json = asks_for_json(args);  // errors are JSON under --json, also those found before it is parsed
  housekeep_options& opts = a.opts;
  bool &all = a.all, &verbose = a.verbose, &json = a.json, &help = a.help;
  std::string &older_than = a.older_than, &keep_newest = a.keep_newest;
  std::string dir = ".";
  auto fail = [&](const std::string& message, const std::string& hint = {}) {
    return reporter(0, json).on_error(message, hint);
  };

  po::options_description ops("Operations (at least one)");
  po::options_description rest("Options");
  describe_options(ops, rest, a);
  po::options_description hidden;
  hidden.add_options()("dir", po::value<std::vector<std::string>>());
  po::options_description all_options;
  all_options.add(ops).add(rest).add(hidden);
  po::positional_options_description positional;
  positional.add("dir", -1);

  po::variables_map vm;
  try {
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args).options(all_options).positional(positional).style(style).run(), vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    // A slip of the keyboard (--dryrun): name what was meant.
    const std::string& name = e.get_option_name();
    po::options_description visible;
    visible.add(ops).add(rest);
    std::string hint = suggest_option(name, visible);
    return fail(e.what(), hint.empty() ? "mutx housekeep --help lists the options." : hint);
  } catch (const po::error& e) {
    return fail(e.what(), "mutx housekeep --help lists the options.");
  }
  if (help) {
    po::options_description shown;
    shown.add(ops).add(rest);
    std::cout << usage << shown;
    return exit_ok;
  }
  if (vm.count("dir")) {
    const auto& dirs = vm["dir"].as<std::vector<std::string>>();
    if (dirs.size() > 1) return fail("housekeep takes one DIR, got " + std::to_string(dirs.size()));
    dir = dirs.front();
  }
  if (all) opts.locks = opts.temps = opts.backups = true;
  if (!opts.locks && !opts.temps && !opts.backups)
    return fail("Specify at least one operation (--clean-locks, --clean-backups, --clean-temps or --all)");
  if (vm.count("older-than")) {
    opts.older_than = parse_age_limit(older_than);
    if (!opts.older_than) return fail("invalid duration '" + older_than + "' for --older-than (" + duration_help + ")");
  }
  if (vm.count("keep-newest")) {
    opts.keep_newest = parse_count(keep_newest);
    if (!opts.keep_newest) return fail("invalid --keep-newest '" + keep_newest + "' (expected a non-negative integer)");
  }
  if (opts.backup_suffix.empty() || opts.backup_suffix.find('/') != std::string::npos)
    return fail("invalid --backup-suffix '" + opts.backup_suffix + "' (expected a non-empty file name ending)");
  if (vm.count("lock-url")) {
    opts.lock_url = vm["lock-url"].as<std::string>();
    if (opts.lock_url->empty()) return fail("--lock-url needs a URL");
  }
  opts.report_skipped = verbose;

  const auto start = std::chrono::steady_clock::now();
  auto on_event = [&](const housekeep_event& ev) {
    switch (ev.what) {
      case housekeep_event::type::deleted:
        if (json) {
          boost::json::object o;
          o["action"] = opts.dry_run ? "would_delete" : "delete";
          o["kind"] = kind_name(ev.kind);
          o["path"] = utf8_lossy(ev.path);
          o["bytes"] = ev.bytes;
          put_json_line(o, stdout);
        } else {
          // A dry run says so on every line (the path stays the last word);
          // a real run prints the bare path it deleted.
          const std::string line = (opts.dry_run ? "would delete " : "") + ev.path + "\n";
          std::fwrite(line.data(), 1, line.size(), stdout);
        }
        break;
      case housekeep_event::type::skipped:
      case housekeep_event::type::failed:
        if (json) {
          const bool failed = ev.what == housekeep_event::type::failed;
          boost::json::object o;
          o["level"] = failed ? "error" : "info";
          o["event"] = failed ? "failed" : "skipped";
          o["kind"] = kind_name(ev.kind);
          o["path"] = utf8_lossy(ev.path);
          o["message"] = utf8_lossy(ev.message);
          std::fflush(stdout);
          put_json_line(o, stderr);
        } else if (ev.what == housekeep_event::type::skipped) {
          std::cerr << "Skipped " << ev.path << ": " << ev.message << '\n';
        } else {
          std::cerr << "Error: " << ev.message << '\n';
        }
        break;
    }
  };

  housekeep_result result;
  try {
    result = housekeep(dir, opts, on_event);
  } catch (const error& e) {
    return fail(e.what(), e.hint());
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);

  if (json) {
    boost::json::object o;
    o["summary"] = true;
    o["locks"] = result.locks;
    o["temps"] = result.temps;
    o["backups"] = result.backups;
    o["bytes_freed"] = result.bytes_freed;
    o["errors"] = result.errors;
    o["duration_ms"] = ms.count();
    o["dry_run"] = opts.dry_run;
    put_json_line(o, stdout);
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return fail("cannot write to standard output");
  if (verbose && !json) {  // --json has the summary object
    std::cerr << (opts.dry_run ? "Would delete " : "Deleted ") << plural(result.locks, "lock") << ", "
              << plural(result.temps, "temp") << ", " << plural(result.backups, "backup") << " ("
              << result.bytes_freed << " bytes) in " << ms.count() << " ms"
              << (result.errors ? ", " + plural(result.errors, "error") : std::string()) << '\n';
  }
  return result.errors ? exit_error : exit_ok;
}

}  // namespace mutx::cli
