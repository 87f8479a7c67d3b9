#include "mutx/housekeep.hpp"

#include "mutx/fd.hpp"
#include "mutx/inode.hpp"
#include "mutx/staging.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <cerrno>
#include <ctime>
#include <limits>
#include <memory>
#include <unordered_set>
#include <utility>
#include <vector>

namespace mutx {

namespace {

constexpr std::int64_t max_seconds = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t hour = 3600;
constexpr std::int64_t day = 86400;
// A timestamped backup's ctime against the time in its name. The writer
// takes the time just before it renames the backup into place (a copy is
// complete and synced by then), and the commit that follows moves the old
// inode's ctime once more (its link count drops): milliseconds after the
// stamp on a local disk. The window allows the filesystem's clock to be a
// minute behind the writer's (NFS: the server sets the ctime) and ten
// minutes between the stamp and the commit (a slow directory sync).
constexpr std::int64_t stamp_before = 60;
constexpr std::int64_t stamp_after = 600;

// The lock files of other tools. Each is the file its tool reads (most have
// content, which the non-empty rule already keeps) or holds with fcntl or
// flock (`.rpm.lock` is empty and fcntl-locked while rpm runs); none is
// ever mutx's, so their names alone keep them. Compared without case.
constexpr std::string_view foreign_lock_names[] = {
    "Cargo.lock",     "yarn.lock",    "bun.lock",     "deno.lock",      "Gemfile.lock",   "poetry.lock",
    "Pipfile.lock",   "pdm.lock",     "uv.lock",      "pixi.lock",      "composer.lock",  "flake.lock",
    "mix.lock",       "rebar.lock",   "pubspec.lock", "Podfile.lock",   "Berksfile.lock", "Puppetfile.lock",
    "shard.lock",     "Chart.lock",   "renv.lock",    "paket.lock",     "conan.lock",     "nimble.lock",
    "devbox.lock",    "MODULE.bazel.lock", "stack.yaml.lock", "requirements.lock", ".rpm.lock", ".pwd.lock",
};

bool same_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_foreign_lock_name(std::string_view name) noexcept {
  return std::any_of(std::begin(foreign_lock_names), std::end(foreign_lock_names),
                     [&](std::string_view f) { return same_ignoring_case(name, f); });
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// A point in time with nanoseconds, ordered.
struct stamp {
  std::int64_t sec = 0;
  std::int64_t nsec = 0;
  friend auto operator<=>(const stamp&, const stamp&) = default;
};

stamp ctime_of(const struct stat& st) noexcept { return {st.st_ctim.tv_sec, st.st_ctim.tv_nsec}; }
// When the file was last touched in any way: written (mtime) or changed
// (ctime: linked, renamed, chmod, touch). A copy that kept an old mtime, or
// a temp linked a moment ago, is new by its ctime; an mtime set into the
// future is new by its mtime.
stamp touched_of(const struct stat& st) noexcept {
  return std::max(stamp{st.st_mtim.tv_sec, st.st_mtim.tv_nsec}, ctime_of(st));
}

// now - limit, never overflowing: parse_age_limit keeps limits below 2^63 s
// and `now` is near 2^31 s.
stamp cutoff(stamp now, std::int64_t limit_seconds) noexcept {
  return {now.sec - std::min(limit_seconds, max_seconds / 2), now.nsec};
}

// A backup made at `made` (its ctime) whose name says `b`: true when the
// name's time, read as UTC (mutx's names) or as local time at `made` (the
// names of earlier mutx), lies where the writer would have taken it.
bool name_matches_ctime(const parsed_backup_name& b, std::int64_t made) noexcept {
  auto within = [&](std::int64_t name_epoch) {
    return made >= name_epoch - stamp_before && made <= name_epoch + stamp_after;
  };
  if (within(b.epoch_utc)) return true;
  const std::time_t t = static_cast<std::time_t>(made);
  std::tm tm{};
  if (::localtime_r(&t, &tm) == nullptr || tm.tm_gmtoff == 0) return false;
  return within(b.epoch_utc - tm.tm_gmtoff);
}

unsigned char dtype_of(mode_t mode) noexcept {
  if (S_ISREG(mode)) return DT_REG;
  if (S_ISDIR(mode)) return DT_DIR;
  if (S_ISLNK(mode)) return DT_LNK;
  return DT_UNKNOWN + 100;  // something else: FIFO, socket, device
}

std::string join(const std::string& dir, std::string_view name) {
  std::string path;
  path.reserve(dir.size() + 1 + name.size());
  path += dir;
  if (path.empty() || path.back() != '/') path += '/';
  path += name;
  return path;
}

// What git's own check asks of a git directory (setup.c,
// is_git_directory): HEAD, objects/ and refs/. Both a `.git` and a bare
// repository answer it.
bool is_git_dir(int dfd) noexcept {
  struct stat st;
  auto is = [&](const char* name, bool dir) {
    if (::fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    return dir ? S_ISDIR(st.st_mode) : (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode));
  };
  return is("HEAD", false) && is("objects", true) && is("refs", true);
}

bool names_a_git_dir(const std::string& path) {
  for (std::size_t pos = 0; pos <= path.size();) {
    std::size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    if (std::string_view(path).substr(pos, slash - pos) == ".git") return true;
    pos = slash + 1;
  }
  return false;
}

// Whether `dfd`, or a directory above it, is a git directory. Stops at the
// root, or where a parent cannot be opened (then only the path as given
// has spoken).
bool inside_git_dir(int dfd, const std::string& path) {
  if (names_a_git_dir(path)) return true;
  unique_fd owned;
  int cur = dfd;
  struct stat st;
  if (::fstat(cur, &st) != 0) return false;
  for (int depth = 0; depth < 4096; ++depth) {
    if (is_git_dir(cur)) return true;
    unique_fd up(::openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct stat upst;
    if (!up || ::fstat(up.get(), &upst) != 0) return false;
    if (same_inode(upst, st)) return false;  // "/"
    owned = std::move(up);
    cur = owned.get();
    st = upst;
  }
  return false;
}

struct entry {
  std::string name;
  unsigned char type;
};

struct backup_entry {
  std::string name;
  std::size_t group_size;  // the file it is a backup of: name.substr(0, group_size)
  stamp made;              // its ctime
  ino_t ino;               // the file judged: a name that is another file by now stays
  std::int64_t counter;    // _NNN of a proven timestamped name, else -1
  const char* reading;     // why a timestamped-looking name counts as plain, or nullptr
};

// Marks of a git directory among a directory's entries.
struct git_marks {
  bool head = false, objects = false, refs = false;
  bool all() const noexcept { return head && objects && refs; }
};

class walker {
 public:
  walker(const housekeep_options& opts, const housekeep_callback& on_event) : opts_(opts), on_event_(on_event) {
    const auto now = opts.now.value_or(std::chrono::system_clock::now());
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    now_ = {ns / 1'000'000'000, ns % 1'000'000'000};
    // A lock file or temp touched within the hour may be a writer's that we
    // cannot see yet (one that has opened but not locked, or an older mutx
    // that does not claim its temps): the holder check decides, the age is
    // a margin.
    const std::int64_t margin = opts.older_than ? opts.older_than->seconds(std::chrono::hours(1)).count() : hour;
    lock_cutoff_ = temp_cutoff_ = cutoff(now_, margin);
    if (opts.older_than) backup_cutoff_ = cutoff(now_, opts.older_than->seconds(std::chrono::hours(24)).count());
    keep_newest_ = opts.keep_newest.value_or(1);
  }

  void walk(int dfd, const std::string& display, const struct stat& root) {
    root_dev_ = root.st_dev;
    ancestors_.push_back({root.st_dev, root.st_ino});
    if (inside_git_dir(dfd, display))
      return skipped(housekeep_kind::directory, display, "inside a git directory, not touched");
    visit(dfd, display);
  }

  housekeep_result result;

 private:
  void emit(housekeep_event::type what, housekeep_kind kind, const std::string& path, std::uint64_t bytes = 0,
            std::string message = {}) {
    if (what == housekeep_event::type::failed) ++result.errors;
    if (what == housekeep_event::type::skipped && !opts_.report_skipped) return;
    if (on_event_) on_event_(housekeep_event{what, kind, path, bytes, std::move(message)});
  }
  void skipped(housekeep_kind kind, const std::string& path, std::string why) {
    if (opts_.report_skipped) emit(housekeep_event::type::skipped, kind, path, 0, std::move(why));
  }
  void failed(housekeep_kind kind, const std::string& path, std::string what, int err) {
    emit(housekeep_event::type::failed, kind, path, 0, what + " " + path + ": " + describe(errno_code(err)));
  }
  void deleted(housekeep_kind kind, const std::string& path, const std::string& name, std::uint64_t bytes) {
    switch (kind) {
      case housekeep_kind::lock: ++result.locks; break;
      case housekeep_kind::temp: ++result.temps; break;
      case housekeep_kind::backup: ++result.backups; break;
      case housekeep_kind::directory: break;
    }
    result.bytes_freed += bytes;
    // A dry run leaves the name, but must judge what follows as the real
    // run would: without it (a lock whose NAME is a temp just removed).
    gone_.insert(name);
    emit(housekeep_event::type::deleted, kind, path, bytes);
  }
  // Whether `name` is in the directory (as the real run would leave it).
  bool exists_beside(int dfd, const std::string& name) const {
    if (gone_.count(name)) return false;
    struct stat st;
    // Any error but ENOENT (EACCES cannot happen: we search this directory)
    // counts as existing: it keeps the file we are judging.
    return ::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
  }
  const char* too_young() const { return opts_.older_than ? "touched within --older-than" : "touched within the last hour"; }

  void visit(int dfd, const std::string& display);
  bool read_entries(int dfd, const std::string& display, std::vector<entry>& locks, std::vector<entry>& temps,
                    std::vector<entry>& backups, std::vector<entry>& dirs, git_marks& git);
  void clean_lock(int dfd, const std::string& display, const entry& e);
  void clean_temp(int dfd, const std::string& display, const entry& e);
  void clean_backups(int dfd, const std::string& display, std::vector<entry>& backups);
  void descend(int dfd, const std::string& display, const entry& e);

  const housekeep_options& opts_;
  const housekeep_callback& on_event_;
  stamp now_;
  stamp lock_cutoff_;
  stamp temp_cutoff_;
  std::optional<stamp> backup_cutoff_;
  std::uint64_t keep_newest_;
  dev_t root_dev_ = 0;
  std::vector<std::pair<dev_t, ino_t>> ancestors_;
  // Names deleted (or, in a dry run, that would be) in the directory being
  // cleaned.
  std::unordered_set<std::string> gone_;
  // Its entries whose names end in a timestamp: the files a timestamped
  // backup name may be the plain backup of. From the listing, not a lookup
  // per backup: 100,000 backups of 10,000 files took 2.3 s of fstatat
  // with the lookups, under load, against 0.3 s without.
  std::unordered_set<std::string> stems_;
  // One getdents64 buffer for the whole walk (entries are copied out before
  // descending); 256 KiB holds about 8,000 entries per call.
  static constexpr std::size_t buffer_size = 256 * 1024;
  std::unique_ptr<char[]> buffer_;
};

void walker::visit(int dfd, const std::string& display) {
  auto by_name = [](const entry& a, const entry& b) { return a.name < b.name; };
  std::vector<entry> dirs;
  {
    std::vector<entry> locks, temps, backups;
    git_marks git;
    gone_.clear();
    stems_.clear();
    if (!read_entries(dfd, display, locks, temps, backups, dirs, git)) return;
    // A bare repository (or a .git reached under another name): git's
    // index.lock and HEAD.lock sit beside their files, empty, and git never
    // flocks them.
    if (git.all() && is_git_dir(dfd))
      return skipped(housekeep_kind::directory, display, "a git directory, not touched");
    // Temps, then locks, then backups: a lock's NAME may be a temp, and a
    // backup's reading depends on what is beside it (gone_ answers for a
    // dry run).
    std::sort(temps.begin(), temps.end(), by_name);
    for (const entry& e : temps) clean_temp(dfd, display, e);
    std::sort(locks.begin(), locks.end(), by_name);
    for (const entry& e : locks) clean_lock(dfd, display, e);
    clean_backups(dfd, display, backups);
    gone_.clear();
    stems_.clear();
  }  // only the subdirectory names stay in memory while descending
  std::sort(dirs.begin(), dirs.end(), by_name);
  for (const entry& e : dirs) descend(dfd, display, e);
}

// One getdents64 pass; names sorted into what each operation wants. The
// type comes from d_type; only filesystems that leave it DT_UNKNOWN cost an
// fstatat, and only for names that matter.
bool walker::read_entries(int dfd, const std::string& display, std::vector<entry>& locks,
                          std::vector<entry>& temps, std::vector<entry>& backups, std::vector<entry>& dirs,
                          git_marks& git) {
  if (!buffer_) buffer_ = std::make_unique_for_overwrite<char[]>(buffer_size);
  for (;;) {
    const ssize_t n = ::getdents64(dfd, buffer_.get(), buffer_size);
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EINTR) continue;
      failed(housekeep_kind::directory, display, "cannot read directory", errno);
      return false;
    }
    for (ssize_t off = 0; off < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buffer_.get() + off);
      off += d->d_reclen;
      const std::string_view name(d->d_name);
      if (name == "." || name == "..") continue;
      if (name == "HEAD") git.head = true;
      if (name == "objects") git.objects = true;
      if (name == "refs") git.refs = true;
      // The digit test spares the allocation for almost every name.
      if (opts_.backups && !name.empty() && is_digit(name.back())) {
        std::string as_backup(name);
        as_backup += opts_.backup_suffix;
        if (auto b = parse_backup_name(as_backup, opts_.backup_suffix); b && b->timestamped) stems_.emplace(name);
      }
      std::vector<entry>* into = nullptr;
      if (opts_.locks && parse_lock_name(name)) {
        into = &locks;
      } else if (opts_.temps && parse_temp_name(name)) {
        into = &temps;
      } else if (opts_.backups && parse_backup_name(name, opts_.backup_suffix)) {
        into = &backups;
      } else if (!opts_.recursive || (d->d_type != DT_DIR && d->d_type != DT_UNKNOWN)) {
        continue;
      }
      unsigned char type = d->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st;
        if (::fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
        type = dtype_of(st.st_mode);
      }
      if (type == DT_DIR) {
        if (opts_.recursive) dirs.push_back({std::string(name), type});
      } else if (into) {
        into->push_back({std::string(name), type});
      }
    }
  }
}

void walker::clean_lock(int dfd, const std::string& display, const entry& e) {
  const std::string path = join(display, e.name);
  if (e.type == DT_LNK) return skipped(housekeep_kind::lock, path, "a symbolic link, not followed");
  if (e.type != DT_REG) return skipped(housekeep_kind::lock, path, "not a regular file");
  if (is_foreign_lock_name(e.name)) return skipped(housekeep_kind::lock, path, "another tool's lock file, by its name");
  // Look before opening: a non-empty *.lock (Cargo.lock, yarn.lock) is
  // another program's file, and even a moment's flock on it could make that
  // program's own non-blocking lock fail.
  struct stat st;
  if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) failed(housekeep_kind::lock, path, "cannot inspect", errno);
    return;
  }
  if (!S_ISREG(st.st_mode)) return skipped(housekeep_kind::lock, path, "not a regular file");
  if (st.st_size != 0) return skipped(housekeep_kind::lock, path, "not empty, so not a mutx lock file");
  // mutx locks NAME with NAME.lock beside it; with no NAME there is nothing
  // a mutx writer would lock with it (xtables.lock, parent.lock).
  const std::string target(*parse_lock_name(e.name));
  if (!exists_beside(dfd, target))
    return skipped(housekeep_kind::lock, path, "no " + target + " beside it, so not a mutx lock file");
  if (!(touched_of(st) < lock_cutoff_)) return skipped(housekeep_kind::lock, path, too_young());

  // O_RDONLY: enough for flock and F_OFD_GETLK, needs no write permission,
  // and breaks no one's read lease. O_NONBLOCK: a write lease makes the open
  // fail (EWOULDBLOCK) instead of waiting out the lease break.
  unique_fd fd(::openat(dfd, e.name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd) {
    const int err = errno;
    if (err == ENOENT) return;  // released and removed by its holder meanwhile
    if (err == ELOOP) return skipped(housekeep_kind::lock, path, "a symbolic link, not followed");
    if (err == EWOULDBLOCK) return skipped(housekeep_kind::lock, path, "held by another process (a lease)");
    return failed(housekeep_kind::lock, path, "cannot open lock file", err);
  }
  struct stat held;
  if (::fstat(fd.get(), &held) != 0) return failed(housekeep_kind::lock, path, "cannot inspect", errno);
  if (!same_inode(held, st) || !S_ISREG(held.st_mode) || held.st_size != 0)
    return skipped(housekeep_kind::lock, path, "replaced while being checked; try again later");
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) break;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return skipped(housekeep_kind::lock, path, "held by another process (flock)");
    return failed(housekeep_kind::lock, path, "cannot lock", errno);
  }
  // flock and fcntl locks do not see each other: ask for the fcntl ones
  // (POSIX and OFD, which lockf(3) and most databases use) separately. A
  // holder that takes one between this and the unlink below locks an
  // unlinked file: microseconds, after an hour of the file untouched.
  struct flock probe{};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  int rc = ::fcntl(fd.get(), F_OFD_GETLK, &probe);
  if (rc != 0 && errno == EINVAL) {  // kernels before 3.15: POSIX locks only
    probe = {};
    probe.l_type = F_WRLCK;
    probe.l_whence = SEEK_SET;
    rc = ::fcntl(fd.get(), F_GETLK, &probe);
  }
  if (rc != 0) return failed(housekeep_kind::lock, path, "cannot query the locks on", errno);
  if (probe.l_type != F_UNLCK)
    return skipped(housekeep_kind::lock, path,
                   probe.l_pid > 0 ? "held by another process (fcntl lock, pid " + std::to_string(probe.l_pid) + ")"
                                   : std::string("held by another process (open file description lock)"));
  // Held now. The name must still be this inode: a mutx writer that
  // released it meanwhile unlinked it, and the next may have made another.
  if (!name_is(dfd, e.name, held)) return;
  if (!opts_.dry_run && ::unlinkat(dfd, e.name.c_str(), 0) != 0) {
    // housekeep must say when a file stays (EACCES, EROFS).
    if (errno != ENOENT) failed(housekeep_kind::lock, path, "cannot delete", errno);
    return;
  }
  deleted(housekeep_kind::lock, path, e.name, 0);
}

void walker::clean_temp(int dfd, const std::string& display, const entry& e) {
  const std::string path = join(display, e.name);
  if (e.type == DT_LNK) return skipped(housekeep_kind::temp, path, "a symbolic link, not followed");
  if (e.type != DT_REG) return skipped(housekeep_kind::temp, path, "not a regular file");
  struct stat st;
  if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) failed(housekeep_kind::temp, path, "cannot inspect", errno);
    return;
  }
  if (!S_ISREG(st.st_mode)) return skipped(housekeep_kind::temp, path, "not a regular file");
  // The ctime counts too: a backup in progress is the old file linked (or
  // copied with its times) under a temp name, so its mtime is the old
  // content's however new the temp.
  if (!(touched_of(st) < temp_cutoff_)) return skipped(housekeep_kind::temp, path, too_young());

  unique_fd locked;
  switch (claim_stale_temp(dfd, e.name, locked, st)) {
    case temp_probe::stale: break;
    case temp_probe::gone: return;
    case temp_probe::live: return skipped(housekeep_kind::temp, path, "held by a live writer");
    case temp_probe::foreign:
      return skipped(housekeep_kind::temp, path, "cannot be opened to prove that no writer holds it");
  }
  // Ours exclusively now; touched since the first look means a writer used
  // it until a moment ago.
  if (!(touched_of(st) < temp_cutoff_)) return skipped(housekeep_kind::temp, path, too_young());
  if (!opts_.dry_run && ::unlinkat(dfd, e.name.c_str(), 0) != 0) {
    if (errno != ENOENT) failed(housekeep_kind::temp, path, "cannot delete", errno);
    return;
  }
  deleted(housekeep_kind::temp, path, e.name, static_cast<std::uint64_t>(st.st_size));
}

void walker::clean_backups(int dfd, const std::string& display, std::vector<entry>& found) {
  std::vector<backup_entry> backups;
  backups.reserve(found.size());
  for (entry& e : found) {
    // Symlinks and other non-regular files are neither removed nor counted
    // as a kept generation.
    if (e.type != DT_REG) {
      if (e.type == DT_LNK) skipped(housekeep_kind::backup, join(display, e.name), "a symbolic link, not followed");
      continue;
    }
    struct stat st;
    if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) failed(housekeep_kind::backup, join(display, e.name), "cannot inspect", errno);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    const parsed_backup_name b = *parse_backup_name(e.name, opts_.backup_suffix);
    backup_entry be{{}, b.stem.size(), ctime_of(st), st.st_ino, -1, nullptr};
    if (b.timestamped) {
      // `dump.20250101-120000.backup` is the plain backup of the file
      // `dump.20250101-120000` whenever that file is there, and of it too
      // unless its ctime says mutx made it at the time in its name.
      if (const std::string stem(b.stem); stems_.count(stem) && !gone_.count(stem)) {
        be.reading = "a plain backup: that file exists";
      } else if (!name_matches_ctime(b, be.made.sec)) {
        be.reading = "a plain backup: its ctime is not the time in its name";
      } else {
        be.group_size = b.original.size();
        be.counter = b.counter;
      }
    }
    be.name = std::move(e.name);
    backups.push_back(std::move(be));
  }
  auto group = [](const backup_entry& b) { return std::string_view(b.name).substr(0, b.group_size); };
  // Per original file, newest first: when made, then the generation counter
  // (two in one second), then the name.
  std::sort(backups.begin(), backups.end(), [&](const backup_entry& a, const backup_entry& b) {
    if (auto c = group(a) <=> group(b); c != 0) return c < 0;
    if (a.made != b.made) return a.made > b.made;
    if (a.counter != b.counter) return a.counter > b.counter;
    return a.name > b.name;
  });
  std::uint64_t rank = 0;
  for (std::size_t i = 0; i < backups.size(); ++i) {
    const backup_entry& b = backups[i];
    rank = (i > 0 && group(backups[i - 1]) == group(b)) ? rank + 1 : 0;
    const std::string path = join(display, b.name);
    if (rank < keep_newest_ || (backup_cutoff_ && !(b.made < *backup_cutoff_))) {
      if (!opts_.report_skipped) continue;
      std::string why = rank < keep_newest_
                            ? (keep_newest_ == 1 ? "the newest backup of " : "one of the " + std::to_string(keep_newest_) +
                                                                                 " newest backups of ") +
                                  std::string(group(b))
                            : "made within --older-than";
      if (b.reading) why += std::string(" (") + b.reading + ")";
      skipped(housekeep_kind::backup, path, std::move(why));
      continue;
    }
    struct stat st;
    if (::fstatat(dfd, b.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) failed(housekeep_kind::backup, path, "cannot inspect", errno);
      continue;
    }
    if (!S_ISREG(st.st_mode) || st.st_ino != b.ino) continue;
    if (!opts_.dry_run && ::unlinkat(dfd, b.name.c_str(), 0) != 0) {
      if (errno != ENOENT) failed(housekeep_kind::backup, path, "cannot delete", errno);
      continue;
    }
    deleted(housekeep_kind::backup, path, b.name, static_cast<std::uint64_t>(st.st_size));
  }
}

void walker::descend(int dfd, const std::string& display, const entry& e) {
  const std::string path = join(display, e.name);
  if (e.name == ".git") return skipped(housekeep_kind::directory, path, "a git directory, not entered");
  // AT_NO_AUTOMOUNT: looking at an automount point must not mount it.
  struct stat st;
  if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) != 0) {
    if (errno != ENOENT) failed(housekeep_kind::directory, path, "cannot inspect directory", errno);
    return;
  }
  if (!S_ISDIR(st.st_mode)) return;  // replaced since the listing
  if (st.st_dev != root_dev_) return skipped(housekeep_kind::directory, path, "on another filesystem, not crossed");
  unique_fd sub(::openat(dfd, e.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub) {
    // ENOTDIR, ELOOP: it became something else (a symlink) since fstatat.
    if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
      failed(housekeep_kind::directory, path, "cannot open directory", errno);
    return;
  }
  struct stat opened;
  if (::fstat(sub.get(), &opened) != 0) return failed(housekeep_kind::directory, path, "cannot inspect directory", errno);
  if (!same_inode(opened, st)) return;  // swapped between the two calls
  // A bind mount of an ancestor (same st_dev) would loop forever.
  const std::pair<dev_t, ino_t> id{opened.st_dev, opened.st_ino};
  if (std::find(ancestors_.begin(), ancestors_.end(), id) != ancestors_.end())
    return skipped(housekeep_kind::directory, path, "a loop back to a parent directory, not entered");
  ancestors_.push_back(id);
  visit(sub.get(), path);
  ancestors_.pop_back();
}

}  // namespace

std::optional<age_limit> parse_age_limit(std::string_view text) noexcept {
  std::size_t digits = 0;
  std::int64_t amount = 0;
  while (digits < text.size() && is_digit(text[digits])) {
    const int d = text[digits] - '0';
    if (amount > (max_seconds - d) / 10) return std::nullopt;
    amount = amount * 10 + d;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  std::int64_t unit = 0;
  if (digits < text.size()) {
    if (digits + 1 != text.size()) return std::nullopt;
    switch (text[digits]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = hour; break;
      case 'd': unit = day; break;
      case 'w': unit = 7 * day; break;
      default: return std::nullopt;
    }
  }
  // A bare number may mean days.
  if (amount > max_seconds / (unit ? unit : day)) return std::nullopt;
  return age_limit{amount, unit};
}

housekeep_result housekeep(const std::string& dir, const housekeep_options& opts, const housekeep_callback& on_event) {
  unique_fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) {
    const int err = errno;
    struct stat st;
    if (err == ENOTDIR && ::lstat(dir.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode))
        throw error(failure_kind::io, dir + " is a symbolic link; housekeep never follows links",
                    "Name the directory itself, e.g. " + dir + "/ to follow this one link.");
      throw error(failure_kind::io, dir + " is not a directory");
    }
    throw_errno("cannot open directory", dir, err);
  }
  struct stat st;
  if (::fstat(root.get(), &st) != 0) throw_errno("cannot inspect directory", dir);

  // Paths are reported as DIR + "/" + relative name; trailing slashes of DIR
  // are dropped so that "dir/" gives "dir/a.lock", not "dir//a.lock".
  std::string display = dir;
  while (display.size() > 1 && display.back() == '/') display.pop_back();

  walker w(opts, on_event);
  w.walk(root.get(), display, st);
  return w.result;
}

}  // namespace mutx
