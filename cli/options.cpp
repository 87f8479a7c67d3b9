#include "options.hpp"

#include "housekeep.hpp"

#include <boost/program_options/parsers.hpp>
#include <boost/program_options/variables_map.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace mutx::cli {

namespace po = boost::program_options;

namespace {

const char* const usage =
    "Usage: mutx [OPTIONS] OUTPUT [-- COMMAND [ARG...]]\n"
    "       mutx --tree [OPTIONS] DIR  (a tar stream on stdin or --input FILE.tar)\n"
    "       mutx --tree-from SRCDIR [OPTIONS] DIR\n"
    "       mutx housekeep [OPTIONS] [DIR]\n"
    "\n"
    "Replace OUTPUT atomically and durably with standard input (or --input, or\n"
    "the output of COMMAND, which gets OUTPUT's current content on its stdin),\n"
    "under OUTPUT's lock file. Readers see the old content or the new, never a mix.\n"
    "With --tree, OUTPUT is a directory replaced as a whole in one rename.\n";

const char* const epilogue =
    "\n"
    "Exit status: 0 success; 1 error; 2 lock not acquired (--no-wait or\n"
    "--timeout); 3 interrupted before the commit point.\n"
    "Environment: MUTX_IO=auto|uring|syscalls selects the I/O path;\n"
    "MUTX_LOCK_URL=etcd://... is --lock-url (the command line wins over it,\n"
    "it over the config file).\n"
    "Config: $XDG_CONFIG_HOME/mutx/config (else ~/.config/mutx/config), lines\n"
    "such as 'backup = true'; the command line wins (--no-backup and the like\n"
    "turn off a switch it sets); --no-config skips it.\n"
    "See mutx(1) and 'mutx housekeep --help'.\n";

}  // namespace

po::options_description option_table() {
  po::options_description input("Input and mode");
  input.add_options()
      ("input,i", po::value<std::string>()->value_name("FILE"), "read input from FILE instead of stdin (-: stdin)")
      ("stream", po::bool_switch(), "lock first, then write input to disk as it arrives (constant memory)")
      ("append", po::bool_switch(), "new content = old content + input, published atomically")
      ("allow-empty", po::bool_switch(), "accept empty input (otherwise refused, target untouched)");

  po::options_description tree("Directories (mutx --tree DIR)");
  tree.add_options()
      ("tree", po::bool_switch(), "OUTPUT is a directory, replaced as a whole by the tar stream on stdin (or --input)")
      ("tree-from", po::value<std::string>()->value_name("SRCDIR"), "replace the directory OUTPUT with a copy of SRCDIR "
       "(reflinks where the filesystem shares extents; implies --tree)")
      ("tree-keep-special", po::bool_switch(), "accept FIFOs, device nodes and set-user/group-ID bits in the new tree "
       "(otherwise refused)");

  po::options_description meta("Target and metadata");
  meta.add_options()
      ("mode,m", po::value<std::string>()->value_name("MODE"),
       "mode of the new file: octal, or as chmod(1) takes it (u=rw,go=r, g-w, a+x), applied to the old mode "
       "(default: the old file's)")
      ("preserve-mode", po::bool_switch(), "keep the old file's mode (the default)")
      ("no-preserve-mode", po::bool_switch(), "give the new file 0666 & ~umask instead of the old mode")
      ("preserve-owner", po::bool_switch(), "keep the old owner and group; fail if not permitted")
      ("try-preserve-owner", po::bool_switch(), "keep the old owner and group where permitted")
      ("owner", po::value<std::string>()->value_name("USER[:GROUP]"),
       "give the new file this owner (and group), by name or number, as chown(1)")
      ("group", po::value<std::string>()->value_name("GROUP"), "give the new file this group, by name or number")
      ("in-place", po::bool_switch(),
       "overwrite an existing OUTPUT in place (same inode), for a bind-mounted file; NOT atomic")
      ("symlinks", po::value<std::string>()->value_name("follow|replace|refuse"),
       "a symlinked OUTPUT: write the file it points to (follow, default), replace the link, or refuse")
      ("parents,p", po::bool_switch(), "create missing parent directories")
      ("sync", po::bool_switch(), "sync the file and its directory before exit 0 (the default)")
      ("no-sync", po::bool_switch(), "skip the file and directory syncs (faster, not durable)");

  po::options_description deploy("Checks around the write");
  deploy.add_options()
      ("check", po::value<std::string>()->value_name("CMD"),
       "before publishing, run sh -c CMD (%s: a copy of the new content beside OUTPUT, else it is on stdin); "
       "not 0: exit 1, OUTPUT untouched")
      ("compare,C", po::bool_switch(), "same content, mode and owner as OUTPUT: write nothing (same inode and mtime)")
      ("on-change", po::value<std::string>()->value_name("CMD"),
       "after a commit that changed OUTPUT, run sh -c CMD under the lock (%s: OUTPUT)")
      ("sha256", po::value<std::string>()->value_name("HEX"), "the new content must have this SHA-256, else exit 1, OUTPUT untouched")
      ("log", po::value<std::string>()->value_name("FILE"), "append one JSON line per attempt to FILE (an audit trail)");

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
      ("keep-lock-file", po::bool_switch(), "never delete the lock file (for scripts that also use flock(1) on it)")
      ("lock-url", po::value<std::string>()->value_name("etcd://HOST:PORT[,...][/PREFIX]"),
       "first take the lock in this etcd v3 cluster, for writers on several hosts sharing the file (also MUTX_LOCK_URL)")
      ("lock-name", po::value<std::string>()->value_name("NAME"), "the etcd lock's name (default: OUTPUT's absolute path)")
      ("lock-ttl", po::value<std::string>()->value_name("SECONDS"), "the etcd lease's length, 2 to 86400 (default 10)")
      ("no-lock-url", po::bool_switch(), "take only the lock file (undoes lock-url of the config file or MUTX_LOCK_URL)");

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

  // Each switch the config file may turn on, turned off for one run. The
  // opposites that are settings of their own (--sync, --preserve-mode,
  // --wait, --no-progress) are listed with their group above.
  po::options_description undo("Turning off a switch the config file turns on");
  undo.add_options()
      ("no-stream", po::bool_switch(), "read all input first (simple mode)")
      ("no-append", po::bool_switch(), "replace the content instead of appending")
      ("no-compare", po::bool_switch(), "write even when nothing changes")
      ("no-allow-empty", po::bool_switch(), "refuse empty input")
      ("no-preserve-owner", po::bool_switch(), "the new file belongs to the caller (undoes preserve-owner and try-preserve-owner)")
      ("no-in-place", po::bool_switch(), "replace OUTPUT atomically, by rename (undoes in-place)")
      ("no-log", po::bool_switch(), "append to no audit log (undoes log)")
      ("no-parents", po::bool_switch(), "a missing parent directory is an error")
      ("no-backup", po::bool_switch(), "make no backup (undoes backup and backup-timestamp)")
      ("no-backup-timestamp", po::bool_switch(), "name a backup OUTPUT.backup, without a timestamp")
      ("no-keep-lock-file", po::bool_switch(), "delete the lock file when done")
      ("no-verbose", po::bool_switch(), "default output: errors and warnings")
      ("no-quiet", po::bool_switch(), "default output: errors and warnings")
      ("no-json", po::bool_switch(), "plain text on stderr")
      ("no-tree-keep-special", po::bool_switch(), "refuse FIFOs, device nodes and set-id bits in a new tree");

  po::options_description all;
  all.add(input).add(tree).add(meta).add(deploy).add(backup).add(lock).add(out).add(undo);
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

// A group by name (/etc/group) or number, for --owner and --group.
gid_t group_id(const std::string& name, const char* option) {
  if (auto gid = find_group(name)) return *gid;
  throw error(failure_kind::io, "unknown group '" + name + "' for " + option,
              "Groups are looked up in /etc/group (mutx is linked statically and asks no directory service such as "
              "LDAP); give the group's number instead.");
}

// --owner as chown(1) takes it: USER, USER:GROUP, USER: (the user's login
// group) or :GROUP; names or numbers. Resolved here, so an unknown name is
// an error before anything is touched.
void parse_owner(const std::string& text, metadata_options& m) {
  const auto colon = text.find(':');
  const std::string user = text.substr(0, colon);
  const std::string group = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (user.empty() && group.empty())
    throw error(failure_kind::io, "invalid owner '" + text + "' for --owner",
                "Give USER, USER:GROUP, USER: (the user's login group) or :GROUP, by name or number.");
  if (!user.empty()) {
    gid_t login = static_cast<gid_t>(-1);
    auto uid = find_user(user, &login);
    if (!uid)
      throw error(failure_kind::io, "unknown user '" + user + "' for --owner",
                  "Users are looked up in /etc/passwd (mutx is linked statically and asks no directory service such "
                  "as LDAP); give the user's number instead.");
    m.uid = *uid;
    if (colon != std::string::npos && group.empty()) {
      if (login == static_cast<gid_t>(-1))
        throw error(failure_kind::io, "--owner " + text + ": user " + user + " has no login group in /etc/passwd",
                    "Name the group: --owner USER:GROUP.");
      m.gid = login;
    }
  }
  if (!group.empty()) m.gid = group_id(group, "--owner");
}

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

// Options of one choice: naming one on the command line drops all of them
// from the config file, so the command line wins also where it names a
// different option of the choice than the file: `timeout = 5` in the file
// and --no-wait on the command line means --no-wait, not "exclude each
// other"; `quiet = true` and -v means -v; `backup = true` and --no-backup
// means no backup.
const std::vector<std::vector<std::string>>& choices() {
  static const std::vector<std::vector<std::string>> all = {
      {"stream", "no-stream"},
      {"append", "no-append"},
      {"compare", "no-compare"},
      {"allow-empty", "no-allow-empty"},
      {"mode", "preserve-mode", "no-preserve-mode"},
      {"preserve-owner", "try-preserve-owner", "no-preserve-owner", "owner"},
      {"in-place", "no-in-place"},
      {"log", "no-log"},
      {"parents", "no-parents"},
      {"sync", "no-sync"},
      {"backup", "no-backup"},
      {"backup-timestamp", "no-backup-timestamp"},
      {"wait", "no-wait", "timeout"},
      {"keep-lock-file", "no-keep-lock-file"},
      {"lock-url", "no-lock-url"},
      {"quiet", "no-quiet", "verbose", "no-verbose"},
      {"json", "no-json"},
      {"progress", "no-progress"},
      {"tree-keep-special", "no-tree-keep-special"},
  };
  return all;
}

// And across choices, one way: --no-backup also drops `backup-timestamp =
// true` (which implies a backup); the command line's --backup-* options
// ask for a backup (as cp -S does), so they drop `no-backup = true`.
const std::multimap<std::string, std::string>& also_drops() {
  static const std::multimap<std::string, std::string> all = {
      {"no-backup", "backup-timestamp"}, {"backup-timestamp", "no-backup"}, {"backup-dir", "no-backup"},
      {"backup-suffix", "no-backup"},    {"backup-mode", "no-backup"},
  };
  return all;
}

// Pairs that contradict each other when both are given in one place (both
// on the command line, or both in the file): `set` says whether an option
// is, `message` words the error. --progress --no-progress is not one:
// --no-progress wins, as documented.
void refuse_contradictions(const std::function<bool(const std::string&)>& set,
                           const std::function<std::string(const std::string&, const std::string&)>& message,
                           bool command_line) {
  static const std::vector<std::pair<std::string, std::string>> pairs = {
      {"stream", "no-stream"},
      {"append", "no-append"},
      {"compare", "no-compare"},
      {"allow-empty", "no-allow-empty"},
      {"preserve-mode", "no-preserve-mode"},
      {"mode", "preserve-mode"},
      {"preserve-owner", "no-preserve-owner"},
      {"try-preserve-owner", "no-preserve-owner"},
      {"owner", "preserve-owner"},
      {"owner", "try-preserve-owner"},
      {"in-place", "no-in-place"},
      {"log", "no-log"},
      {"parents", "no-parents"},
      {"sync", "no-sync"},
      {"backup", "no-backup"},
      {"backup-timestamp", "no-backup"},
      {"backup-timestamp", "no-backup-timestamp"},
      {"keep-lock-file", "no-keep-lock-file"},
      {"lock-url", "no-lock-url"},
      {"quiet", "no-quiet"},
      {"verbose", "no-verbose"},
      {"json", "no-json"},
      {"tree-keep-special", "no-tree-keep-special"},
  };
  for (const auto& [a, b] : pairs)
    if (set(a) && set(b)) throw error(failure_kind::io, message(a, b));
  // Only on the command line do these ask for a backup.
  if (command_line)
    for (const char* a : {"backup-dir", "backup-suffix", "backup-mode"})
      if (set(a) && set("no-backup")) throw error(failure_kind::io, message("no-backup", a));
  // Both in the file: say which wins rather than pick one silently.
  if (!command_line && set("quiet") && set("verbose")) throw error(failure_kind::io, message("quiet", "verbose"));
}

// Edit distance with adjacent transpositions (optimal string alignment):
// "bakup" and "backpu" are both one step from "backup".
std::size_t distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// The long options nearest to `typed` (without dashes): one or two typing
// slips, fewer for short names, so `--x` suggests nothing. Several at the
// same distance are all named.
std::vector<std::string> nearest_options(const std::string& typed, const po::options_description& table) {
  const std::size_t limit = std::min<std::size_t>(2, std::max<std::size_t>(1, typed.size() / 3));
  std::size_t best = limit + 1;
  std::vector<std::string> found;
  for (const auto& o : table.options()) {
    const std::string& name = o->long_name();
    if (name.empty()) continue;
    std::size_t d = distance(typed, name);
    if (d > limit) continue;
    if (d < best) {
      best = d;
      found.clear();
    }
    if (d == best) found.push_back(name);
  }
  return found;
}

std::string did_you_mean(const std::vector<std::string>& names, const std::string& before, const std::string& after) {
  std::string text = "did you mean ";
  for (std::size_t i = 0; i < names.size(); ++i)
    text += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + before + names[i] + after;
  return text + "?";
}

// `args` as the housekeep command they were meant for: the word put in
// front, or in place of a slip of it (mutx housekep --all .), each word
// quoted for the shell where it needs it.
std::string housekeep_meant(const std::vector<std::string>& args) {
  std::string line = "mutx housekeep";
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i == 0 && !a.starts_with("-") && distance(a, "housekeep") <= 2) continue;
    line += ' ';
    if (!a.empty() && a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=:,+@%-") ==
                          std::string::npos) {
      line += a;
      continue;
    }
    line += '\'';
    for (char c : a) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += '\'';
  }
  return line;
}

// What only the command line may say: what one run writes from and checks
// it against (a checksum, a check of one file's format).
bool settable_in_config(const std::string& name) {
  for (const char* only : {"help", "version", "input", "no-config", "check", "on-change", "sha256", "tree", "tree-from"})
    if (name == only) return false;
  return true;
}

// Why an option is taken from the command line only, in one line.
std::string why_command_line_only(const std::string& name) {
  if (name == "check" || name == "on-change") return "the command belongs to one file, and the file applies to every write";
  if (name == "sha256") return "a checksum is of one run's content";
  if (name == "input" || name == "tree" || name == "tree-from") return "it says what one run writes";
  return "it is not a setting";
}

// A config file after check_config: the text for Program_options and the
// `verbose` line, which is not in the table (-v is counted by hand).
struct checked_config {
  std::string text;
  std::optional<int> verbosity;
};

// Config lines are checked here first so a bad one is reported with its
// file and line, which Program_options' own parser does not tell. The text
// for Program_options has the ';' comments it does not know, and the
// `verbose` line, blanked out.
checked_config check_config(const std::string& path, std::istream& in, const po::options_description& table) {
  checked_config out;
  std::string line;
  std::map<std::string, int> seen;       // name -> line
  std::map<std::string, bool> turned_on;  // a switch set to true, or a value set
  for (int number = 1; std::getline(in, line); ++number) {
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#' || line[first] == ';') {
      out.text += "\n";
      continue;
    }
    auto bad = [&](const std::string& why, const std::string& hint =
                                               "Lines are 'long-option = value', e.g. 'backup = true' or 'timeout = 5'.") {
      throw error(failure_kind::io, path + ":" + std::to_string(number) + ": " + why, hint);
    };
    auto eq = line.find('=');
    if (eq == std::string::npos) bad("expected 'name = value'");
    std::string name = line.substr(first, eq - first);
    name.erase(name.find_last_not_of(" \t") + 1);
    std::string value = line.substr(eq + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r") + 1);
    const po::option_description* d = table.find_nothrow(name, false);
    if (d && !settable_in_config(name)) {
      const std::string why = why_command_line_only(name);
      bad("'" + name + "' cannot be set in the configuration file: " + why,
          why == "it is not a setting" ? "Remove the line." : "Give --" + name + " on the command line.");
    }
    if (!d) {
      auto near = nearest_options(name, table);
      std::erase_if(near, [](const std::string& n) { return !settable_in_config(n); });
      if (near.empty()) bad("unknown option '" + name + "'");
      bad("unknown option '" + name + "'", did_you_mean(near, "'", "'"));
    }
    if (auto [it, fresh] = seen.emplace(name, number); !fresh)
      bad("'" + name + "' is set again (first on line " + std::to_string(it->second) + ")");
    if (name == "verbose") {
      // As -v (1) and -vv (2).
      static const std::map<std::string, int> levels = {{"false", 0}, {"true", 1}, {"0", 0}, {"1", 1}, {"2", 2}};
      auto level = levels.find(value);
      if (level == levels.end()) bad("'verbose' takes true, false, 1 or 2, not '" + value + "'");
      out.verbosity = level->second;
      turned_on[name] = level->second > 0;
      out.text += "\n";
    } else {
      if (d->semantic()->max_tokens() == 0 && value != "true" && value != "false")
        bad("'" + name + "' takes true or false, not '" + value + "'");
      turned_on[name] = d->semantic()->max_tokens() != 0 || value == "true";
      out.text += line + "\n";
    }
    refuse_contradictions(
        [&](const std::string& n) { return turned_on.contains(n) && turned_on.at(n); },
        [&](const std::string& a, const std::string& b) {
          const std::string& other = name == a ? b : a;
          return path + ":" + std::to_string(number) + ": '" + a + "' and '" + b + "' exclude each other (the other is on line " +
                 std::to_string(seen.at(other)) + ")";
        },
        false);
  }
  return out;
}

// Whether `name` is on the command line. `verbose` is counted outside the
// table (`verbosity`).
bool given(const std::string& name, const po::variables_map& cmdline, int verbosity) {
  if (name == "verbose") return verbosity > 0;
  return cmdline.count(name) && !cmdline[name].defaulted();
}

// Whether an option of the command line drops `key` from the config file.
bool overridden(const std::string& key, const po::variables_map& cmdline, int verbosity) {
  for (const auto& choice : choices()) {
    if (std::find(choice.begin(), choice.end(), key) == choice.end()) continue;
    for (const auto& other : choice)
      if (given(other, cmdline, verbosity)) return true;
  }
  for (const auto& [by, dropped] : also_drops())
    if (dropped == key && given(by, cmdline, verbosity)) return true;
  return false;
}

void drop_overridden(po::parsed_options& parsed, const po::variables_map& cmdline, int verbosity) {
  std::erase_if(parsed.options, [&](const po::option& o) { return overridden(o.string_key, cmdline, verbosity); });
}

}  // namespace

std::string suggest_option(const std::string& typed, const po::options_description& table) {
  if (!typed.starts_with("--")) return {};
  std::vector<std::string> near = nearest_options(typed.substr(2, typed.find('=') - 2), table);
  return near.empty() ? std::string() : did_you_mean(near, "--", "");
}

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
  bool lock_url_given = false;
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
    lock_url_given = vm.count("lock-url") || (vm.count("no-lock-url") && vm["no-lock-url"].as<bool>());
    if (!vm.count("help") && !vm.count("version")) {
      refuse_contradictions([&](const std::string& n) { return given(n, vm, c.verbosity); },
                            [](const std::string& a, const std::string& b) {
                              return "--" + a + " and --" + b + " exclude each other";
                            },
                            true);
    }
    if (!vm.count("help") && !vm.count("version") && !vm["no-config"].as<bool>()) {
      std::string path = config_path();
      std::ifstream f(path);
      if (!path.empty() && f) {
        checked_config cfg = check_config(path, f, table);
        if (cfg.verbosity && !overridden("verbose", vm, c.verbosity)) c.verbosity = *cfg.verbosity;
        std::istringstream checked(cfg.text);
        po::parsed_options parsed = po::parse_config_file(checked, table, false);
        drop_overridden(parsed, vm, c.verbosity);
        po::store(parsed, vm);
      }
    }
    po::notify(vm);
  } catch (const error&) {
    throw;
  } catch (const po::unknown_option& e) {
    const std::string& name = e.get_option_name();
    std::string hint = "See 'mutx --help'.";
    // `mutx -f` may mean a file named -f.
    if (name.size() > 1 && name[0] == '-' && name[1] != '-')
      hint = "See 'mutx --help'; a file whose name starts with '-' is named as ./" + name + ".";
    // A slip of the keyboard (--bakup): name what was meant; an option of
    // housekeep without the word (mutx --clean-locks DIR): the command meant.
    if (name.starts_with("--")) {
      const std::string bare = name.substr(2, name.find('=') - 2);
      const std::vector<std::string> hk = housekeep_option_names();
      if (std::find(hk.begin(), hk.end(), bare) != hk.end())
        hint = "--" + bare + " is an option of housekeep: did you mean " + housekeep_meant(argv) + "?";
      else if (std::string near = suggest_option(name, table); !near.empty())
        hint = near;
    }
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
  // `-` is standard input, as for cat and sort; a file named - is ./-.
  if (w.input == "-") w.input.reset();
  c.typed_input = !w.input && w.command.empty() && ::isatty(STDIN_FILENO);
  w.stream = flag("stream");
  w.append = flag("append");
  w.allow_empty = flag("allow-empty");
  if (auto m = text("mode")) {
    w.metadata.mode = mode_spec::parse(*m);
    if (!w.metadata.mode)
      throw error(failure_kind::io, "invalid mode '" + *m + "' for --mode",
                  m->find_first_not_of("0123456789") == std::string::npos
                      ? "Give an octal mode such as 0644 or 600."
                      : "Give an octal mode such as 0644, or a symbolic one as chmod(1) takes, such as u=rw,go=r, "
                        "g-w or a+x.");
  }
  w.metadata.preserve_mode = !flag("no-preserve-mode");
  if (flag("preserve-owner") && flag("try-preserve-owner"))
    throw error(failure_kind::io, "--preserve-owner and --try-preserve-owner exclude each other");
  if (flag("preserve-owner")) w.metadata.owner = owner_policy::preserve;
  if (flag("try-preserve-owner")) w.metadata.owner = owner_policy::try_preserve;
  if (auto o = text("owner")) parse_owner(*o, w.metadata);
  if (auto g = text("group")) {
    if (vm.count("owner") && vm["owner"].as<std::string>().find(':') != std::string::npos)
      throw error(failure_kind::io, "--owner USER:GROUP and --group exclude each other", "Name the group once.");
    w.metadata.gid = group_id(*g, "--group");
  }
  w.in_place = flag("in-place");
  if (auto s = text("symlinks")) w.symlinks = parse_symlink_policy(*s);
  w.parents = flag("parents");
  w.sync = !flag("no-sync");

  w.backup.timestamp = flag("backup-timestamp");
  w.backup.enabled = flag("backup");
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
  // The etcd lock: the command line, else MUTX_LOCK_URL, else the config file.
  const char* env_url = std::getenv("MUTX_LOCK_URL");
  if (!flag("no-lock-url")) {
    if (lock_url_given || !env_url || !*env_url) w.lock_url = text("lock-url");
    else w.lock_url = env_url;
  }
  if (w.lock_url && w.lock_url->empty()) throw error(failure_kind::io, "--lock-url needs a URL");
  w.lock_name = text("lock-name");
  if (w.lock_name && !w.lock_url)
    throw error(failure_kind::io, "--lock-name names the etcd lock: it needs --lock-url (or MUTX_LOCK_URL)");
  if (auto t = text("lock-ttl")) {
    bool digits = !t->empty() && t->size() <= 6 && t->find_first_not_of("0123456789") == std::string::npos;
    if (!digits) throw error(failure_kind::io, "invalid --lock-ttl '" + *t + "'", "Give whole seconds, 2 to 86400.");
    w.lock_ttl = std::stol(*t);
  }

  w.check = text("check");
  w.compare = flag("compare");
  w.on_change = text("on-change");
  w.sha256 = text("sha256");  // checked by the engine
  w.log = text("log");
  if (flag("no-log")) w.log.reset();
  for (const char* name : {"check", "on-change", "log"})
    if (auto v = text(name); v && v->empty()) throw error(failure_kind::io, std::string("--") + name + " needs a value");

  if (flag("quiet")) c.verbosity = -1;
  c.json = flag("json");
  // The JSON result carries the new content's SHA-256.
  w.hash = c.json;
  w.command_stderr_events = c.json;
  if (flag("progress")) c.progress = cli_options::progress_mode::on;
  if (flag("no-progress")) c.progress = cli_options::progress_mode::off;
  // --io overrides MUTX_IO: the variable is not even read then.
  auto io = text("io");
  w.io = io ? parse_io_mode(*io) : io_mode_from_env();
  w.tree.from = text("tree-from");
  if (w.tree.from && w.tree.from->empty()) throw error(failure_kind::io, "--tree-from needs a directory");
  w.tree.enabled = flag("tree") || w.tree.from.has_value();
  w.tree.keep_special = flag("tree-keep-special");
  if (w.tree.enabled) {
    auto refuse = [](const std::string& what, const std::string& hint) {
      throw error(failure_kind::io, "--tree cannot be combined with " + what, hint);
    };
    const std::string whole = "A tree is replaced as a whole from a tar stream or a directory.";
    if (!w.command.empty()) refuse("a command", "Pipe its tar output in: COMMAND | mutx --tree DIR.");
    if (w.append) refuse("--append", whole);
    if (w.stream) refuse("--stream", "A tree's input is always read as it arrives.");
    if (w.tree.from && w.input) refuse("both --tree-from and --input", whole);
    if (w.symlinks == symlink_policy::replace) refuse("--symlinks=replace", "A symbolic link to DIR is followed (the default) or refused.");
    c.typed_input = false;
    if (!w.input && !w.tree.from && ::isatty(STDIN_FILENO))
      throw error(failure_kind::io, "--tree reads a tar stream, and standard input is a terminal",
                  "Pipe one in (tar -C SRC -c . | mutx --tree DIR), or pass --input FILE.tar or --tree-from SRCDIR.");
  }
  w.handle_signals = true;
  normalize(w, backup_detail_given);
  return c;
}

}  // namespace mutx::cli
