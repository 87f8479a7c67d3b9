#include "options.hpp"

#include <boost/program_options/parsers.hpp>
#include <boost/program_options/variables_map.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace mutx::cli {

namespace po = boost::program_options;

namespace {

const char* const usage =
    "Usage: mutx [OPTIONS] OUTPUT [-- COMMAND [ARG...]]\n"
    "       mutx housekeep [OPTIONS] [DIR]\n"
    "\n"
    "Replace OUTPUT atomically and durably with standard input (or --input, or\n"
    "the output of COMMAND, which gets OUTPUT's current content on its stdin),\n"
    "under OUTPUT's lock file. Readers see the old content or the new, never a mix.\n";

const char* const epilogue =
    "\n"
    "Exit status: 0 success; 1 error; 2 lock not acquired (--no-wait or\n"
    "--timeout); 3 interrupted before the commit point.\n"
    "Environment: MUTX_IO=auto|uring|syscalls selects the I/O path.\n"
    "Config: $XDG_CONFIG_HOME/mutx/config (else ~/.config/mutx/config), lines\n"
    "such as 'backup = true'; the command line wins; --no-config skips it.\n"
    "See mutx(1) and 'mutx housekeep --help'.\n";

}  // namespace

po::options_description option_table() {
  po::options_description input("Input and mode");
  input.add_options()
      ("input,i", po::value<std::string>()->value_name("FILE"), "read input from FILE instead of stdin")
      ("stream", po::bool_switch(), "lock first, then write input to disk as it arrives (constant memory)")
      ("append", po::bool_switch(), "new content = old content + input, published atomically")
      ("allow-empty", po::bool_switch(), "accept empty input (otherwise refused, target untouched)");

  po::options_description meta("Target and metadata");
  meta.add_options()
      ("mode,m", po::value<std::string>()->value_name("OCTAL"), "mode of the new file (default: the old file's)")
      ("no-preserve-mode", po::bool_switch(), "give the new file 0666 & ~umask instead of the old mode")
      ("preserve-owner", po::bool_switch(), "keep the old owner and group; fail if not permitted")
      ("try-preserve-owner", po::bool_switch(), "keep the old owner and group where permitted")
      ("symlinks", po::value<std::string>()->value_name("follow|replace|refuse"),
       "a symlinked OUTPUT: write the file it points to (follow, default), replace the link, or refuse")
      ("parents,p", po::bool_switch(), "create missing parent directories")
      ("no-sync", po::bool_switch(), "skip the file and directory syncs (faster, not durable)");

  po::options_description backup("Backups");
  backup.add_options()
      ("backup,b", po::bool_switch(), "keep the old content as OUTPUT.backup")
      ("backup-suffix", po::value<std::string>()->value_name("SUFFIX"), "backup suffix (default .backup; implies --backup)")
      ("backup-dir", po::value<std::string>()->value_name("DIR"), "put backups in DIR (must exist; implies --backup)")
      ("backup-timestamp", po::bool_switch(), "name backups OUTPUT.YYYYMMDD-HHMMSS.backup (implies --backup)")
      ("backup-mode", po::value<std::string>()->value_name("OCTAL"), "mode of the backup (default: the old file's; implies --backup)");

  po::options_description lock("Locking");
  lock.add_options()
      ("wait", po::bool_switch(), "wait for the lock without limit (default)")
      ("timeout,t", po::value<std::string>()->value_name("SECONDS"), "wait at most SECONDS (fractions allowed), then exit 2")
      ("no-wait", po::bool_switch(), "exit 2 at once if the lock is held")
      ("lock-file", po::value<std::string>()->value_name("PATH"), "lock PATH instead of OUTPUT.lock")
      ("lock-mode", po::value<std::string>()->value_name("OCTAL"), "mode of a new lock file (default 0644)")
      ("keep-lock-file", po::bool_switch(), "never delete the lock file (for scripts that also use flock(1) on it)");

  po::options_description out("Output");
  out.add_options()
      ("verbose,v", "more detail on stderr (-vv: debug, names the I/O path)")
      ("quiet,q", po::bool_switch(), "print nothing but errors")
      ("json", po::bool_switch(), "one JSON object per line on stderr")
      ("progress", po::bool_switch(), "show a progress line for --stream even when stderr is not a terminal")
      ("no-progress", po::bool_switch(), "never show a progress line")
      ("io", po::value<std::string>()->value_name("auto|uring|syscalls"), "force the I/O path (default auto)")
      ("no-config", po::bool_switch(), "ignore the config file")
      ("help,h", "show this help and exit")
      ("version,V", "show the version and exit");

  po::options_description all;
  all.add(input).add(meta).add(backup).add(lock).add(out);
  return all;
}

std::string help_text() {
  std::ostringstream os;
  os << usage << "\n" << option_table() << epilogue;
  return os.str();
}

mode_t parse_mode(const std::string& text, const std::string& option) {
  bool ok = !text.empty() && text.size() <= 5;
  unsigned long v = 0;
  for (char c : text) {
    if (c < '0' || c > '7') ok = false;
    else v = v * 8 + static_cast<unsigned long>(c - '0');
  }
  if (!ok || v > 07777)
    throw error(failure_kind::io, "invalid mode '" + text + "' for --" + option,
                "Give an octal mode such as 0644 or 600.");
  return static_cast<mode_t>(v);
}

namespace {

double parse_seconds(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  // Plain decimal only: strtod alone would also take " 2", "0x10" and "inf".
  bool plain = !text.empty() && text.find_first_not_of("0123456789.") == std::string::npos;
  double v = std::strtod(text.c_str(), &end);
  if (!plain || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v < 0 || v > 1e9)
    throw error(failure_kind::io, "invalid timeout '" + text + "'",
                "Give a number of seconds such as 5 or 0.5.");
  return v;
}

// Config lines are checked here first so a bad one is reported with its
// file and line, which Program_options' own parser does not tell. Returns
// the text for Program_options, with the ';' comments it does not know
// blanked out.
std::string check_config(const std::string& path, std::istream& in, const po::options_description& table) {
  std::string line, text;
  std::map<std::string, int> seen;
  for (int number = 1; std::getline(in, line); ++number) {
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#' || line[first] == ';') {
      text += "\n";
      continue;
    }
    text += line + "\n";
    auto bad = [&](const std::string& why) {
      throw error(failure_kind::io, path + ":" + std::to_string(number) + ": " + why,
                  "Lines are 'long-option = value', e.g. 'backup = true' or 'timeout = 5'.");
    };
    auto eq = line.find('=');
    if (eq == std::string::npos) bad("expected 'name = value'");
    std::string name = line.substr(first, eq - first);
    name.erase(name.find_last_not_of(" \t") + 1);
    std::string value = line.substr(eq + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r") + 1);
    const po::option_description* d = table.find_nothrow(name, false);
    if (!d || name == "help" || name == "version" || name == "input" || name == "no-config" || name == "verbose")
      bad("unknown option '" + name + "'");
    if (d->semantic()->max_tokens() == 0 && value != "true" && value != "false")
      bad("'" + name + "' takes true or false, not '" + value + "'");
    if (auto [it, fresh] = seen.emplace(name, number); !fresh)
      bad("'" + name + "' is set again (first on line " + std::to_string(it->second) + ")");
  }
  return text;
}

// The command line wins over the config file, also where they name
// different options of one choice: `timeout = 5` in the file and --no-wait on
// the command line means --no-wait, not "exclude each other"; `quiet = true`
// and -v means -v. `verbose` is counted outside the table (`verbosity`).
void drop_overridden(po::parsed_options& parsed, const po::variables_map& cmdline, int verbosity) {
  static const std::vector<std::vector<std::string>> choices = {
      {"wait", "no-wait", "timeout"},
      {"preserve-owner", "try-preserve-owner"},
      {"progress", "no-progress"},
      {"quiet", "verbose"},
  };
  auto given = [&](const std::string& name) {
    if (name == "verbose") return verbosity > 0;
    return cmdline.count(name) && !cmdline[name].defaulted();
  };
  std::erase_if(parsed.options, [&](const po::option& o) {
    for (const auto& choice : choices) {
      if (std::find(choice.begin(), choice.end(), o.string_key) == choice.end()) continue;
      for (const auto& other : choice)
        if (given(other)) return true;
    }
    return false;
  });
}

}  // namespace

std::string config_path() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x == '/') return std::string(x) + "/mutx/config";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.config/mutx/config";
  return {};
}

cli_options parse_command_line(const std::vector<std::string>& argv) {
  cli_options c;
  std::vector<std::string> args;
  bool has_command = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      c.write.command.assign(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
      has_command = true;
      break;
    }
    // -v, -vv, -vvv and --verbose count; Program_options cannot.
    if (a == "--verbose" || (a.size() >= 2 && a[0] == '-' && a.find_first_not_of('v', 1) == std::string::npos)) {
      c.verbosity += a == "--verbose" ? 1 : static_cast<int>(a.size() - 1);
      continue;
    }
    args.push_back(a);
  }
  if (has_command && c.write.command.empty())
    throw error(failure_kind::io, "no command given after --", "Usage: mutx OUTPUT -- COMMAND [ARG...]");

  po::options_description table = option_table();
  po::options_description hidden;
  hidden.add_options()("output", po::value<std::vector<std::string>>());
  po::options_description everything;
  everything.add(table).add(hidden);
  po::positional_options_description pos;
  pos.add("output", -1);

  po::variables_map vm;
  bool backup_detail_given = false;
  try {
    po::store(po::command_line_parser(args)
                  .options(everything)
                  .positional(pos)
                  .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
                  .run(),
              vm);
    // Like cp -S: naming where or how to back up on the command line asks
    // for a backup. In the config file these only say where backups go.
    backup_detail_given = vm.count("backup-dir") || vm.count("backup-suffix") || vm.count("backup-mode");
    if (!vm.count("help") && !vm.count("version") && !vm["no-config"].as<bool>()) {
      std::string path = config_path();
      std::ifstream f(path);
      if (!path.empty() && f) {
        std::istringstream checked(check_config(path, f, table));
        po::parsed_options parsed = po::parse_config_file(checked, table, false);
        drop_overridden(parsed, vm, c.verbosity);
        po::store(parsed, vm);
      }
    }
    po::notify(vm);
  } catch (const error&) {
    throw;
  } catch (const po::unknown_option& e) {
    // `mutx -f` may mean a file named -f.
    const std::string& name = e.get_option_name();
    std::string hint = "See 'mutx --help'.";
    if (name.size() > 1 && name[0] == '-' && name[1] != '-')
      hint = "See 'mutx --help'; a file whose name starts with '-' is named as ./" + name + ".";
    throw error(failure_kind::io, e.what(), hint);
  } catch (const po::error& e) {
    throw error(failure_kind::io, e.what(), "See 'mutx --help'.");
  }

  c.help = vm.count("help") > 0;
  c.version = vm.count("version") > 0;
  if (c.help || c.version) return c;

  auto flag = [&](const char* name) { return vm[name].as<bool>(); };
  auto text = [&](const char* name) -> std::optional<std::string> {
    if (!vm.count(name)) return std::nullopt;
    return vm[name].as<std::string>();
  };

  if (!vm.count("output"))
    throw error(failure_kind::io, "missing OUTPUT",
                !has_command ? "Usage: mutx [OPTIONS] OUTPUT; see 'mutx --help'."
                : c.write.command[0].starts_with("-")
                    ? "Everything after -- is the command: mutx OUTPUT -- COMMAND [ARG...]. A file whose name "
                      "starts with '-' is named as ./" + c.write.command[0] + "."
                    : "Everything after -- is the command; OUTPUT comes before it: mutx OUTPUT -- COMMAND [ARG...].");
  auto outputs = vm["output"].as<std::vector<std::string>>();
  if (outputs.size() > 1)
    throw error(failure_kind::io, "more than one OUTPUT given ('" + outputs[0] + "', '" + outputs[1] + "')",
                "To run a command on OUTPUT, put it after --: mutx OUTPUT -- COMMAND [ARG...]");
  write_options& w = c.write;
  w.output = outputs[0];
  w.input = text("input");
  if (w.input && w.input->empty()) throw error(failure_kind::io, "--input needs a file name");
  if (w.input && !w.command.empty())
    throw error(failure_kind::io, "--input cannot be combined with a command",
                "The command reads OUTPUT's current content on its stdin.");
  w.stream = flag("stream");
  w.append = flag("append");
  w.allow_empty = flag("allow-empty");
  if (auto m = text("mode")) w.metadata.mode = parse_mode(*m, "mode");
  w.metadata.preserve_mode = !flag("no-preserve-mode");
  if (flag("preserve-owner") && flag("try-preserve-owner"))
    throw error(failure_kind::io, "--preserve-owner and --try-preserve-owner exclude each other");
  if (flag("preserve-owner")) w.metadata.owner = owner_policy::preserve;
  if (flag("try-preserve-owner")) w.metadata.owner = owner_policy::try_preserve;
  if (auto s = text("symlinks")) w.symlinks = parse_symlink_policy(*s);
  w.parents = flag("parents");
  w.sync = !flag("no-sync");
  w.backup.sync = w.sync;

  w.backup.timestamp = flag("backup-timestamp");
  w.backup.enabled = flag("backup") || w.backup.timestamp || backup_detail_given;
  if (auto s = text("backup-suffix")) w.backup.suffix = *s;  // checked by the engine
  w.backup.dir = text("backup-dir");
  if (auto m = text("backup-mode")) w.backup.mode = parse_mode(*m, "backup-mode");

  // `--wait --timeout S` is the PRD's own form: the same as --timeout S.
  if (flag("no-wait") && flag("wait")) throw error(failure_kind::io, "--wait and --no-wait exclude each other");
  if (flag("no-wait") && vm.count("timeout"))
    throw error(failure_kind::io, "--no-wait and --timeout exclude each other",
                "--no-wait fails at once; --timeout SECONDS waits that long first.");
  if (flag("no-wait")) w.wait.how = lock_wait::policy::no_wait;
  if (auto t = text("timeout")) {
    w.wait.how = lock_wait::policy::timeout;
    w.wait.timeout = std::chrono::duration<double>(parse_seconds(*t));
  }
  w.lock_file = text("lock-file");
  if (w.lock_file && w.lock_file->empty()) throw error(failure_kind::io, "--lock-file needs a path");
  if (auto m = text("lock-mode")) w.lock_mode = parse_mode(*m, "lock-mode");
  w.keep_lock_file = flag("keep-lock-file");

  if (flag("quiet")) c.verbosity = -1;
  c.json = flag("json");
  w.command_stderr_events = c.json;
  if (flag("progress")) c.progress = cli_options::progress_mode::on;
  if (flag("no-progress")) c.progress = cli_options::progress_mode::off;
  // --io overrides MUTX_IO: the variable is not even read then.
  auto io = text("io");
  w.io = io ? parse_io_mode(*io) : io_mode_from_env();
  w.handle_signals = true;
  return c;
}

}  // namespace mutx::cli
