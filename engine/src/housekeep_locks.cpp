#include "housekeep_locks.hpp"

#include "mutx/inode.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <utility>

namespace mutx::detail {

namespace {

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

bool names_a_git_dir(const std::string& path) {
  for (std::size_t pos = 0; pos <= path.size();) {
    std::size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    if (std::string_view(path).substr(pos, slash - pos) == ".git") return true;
    pos = slash + 1;
  }
  return false;
}

lock_probe kept(std::string why) { return {lock_probe::verdict::kept, std::move(why)}; }
// A literal context: nothing allocates before `errno` is read.
lock_probe failed(const char* context, int err) { return {lock_probe::verdict::failed, context, err}; }

// flock and fcntl locks do not see each other: ask for the fcntl ones
// (POSIX and OFD, which lockf(3) and most databases use) separately. A
// holder that takes one between this and housekeep's unlink locks an
// unlinked file: microseconds, after an hour of the file untouched.
lock_probe probe_fcntl_locks(int fd) {
  struct flock probe{};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  int rc = ::fcntl(fd, F_OFD_GETLK, &probe);
  if (rc != 0 && errno == EINVAL) {  // kernels before 3.15: POSIX locks only
    probe = {};
    probe.l_type = F_WRLCK;
    probe.l_whence = SEEK_SET;
    rc = ::fcntl(fd, F_GETLK, &probe);
  }
  if (rc != 0) return failed("cannot query the locks on", errno);
  if (probe.l_type != F_UNLCK)
    return kept(probe.l_pid > 0 ? "held by another process (fcntl lock, pid " + std::to_string(probe.l_pid) + ")"
                                : std::string("held by another process (open file description lock)"));
  return {lock_probe::verdict::unheld};
}

}  // namespace

bool is_foreign_lock_name(std::string_view name) noexcept {
  return std::any_of(std::begin(foreign_lock_names), std::end(foreign_lock_names),
                     [&](std::string_view f) { return same_ignoring_case(name, f); });
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

// Stops at the root, or where a parent cannot be opened (then only the path
// as given has spoken).
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

lock_probe probe_lock_holders(int dfd, const std::string& name, const struct stat& st, unique_fd& fd) {
  // O_RDONLY: enough for flock and F_OFD_GETLK, needs no write permission,
  // and breaks no one's read lease. O_NONBLOCK: a write lease makes the open
  // fail (EWOULDBLOCK) instead of waiting out the lease break.
  fd.reset(::openat(dfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd) {
    const int err = errno;
    if (err == ENOENT) return {lock_probe::verdict::gone};  // released and removed by its holder meanwhile
    if (err == ELOOP) return kept("a symbolic link, not followed");
    if (err == EWOULDBLOCK) return kept("held by another process (a lease)");
    return failed("cannot open lock file", err);
  }
  struct stat now;
  if (::fstat(fd.get(), &now) != 0) return failed("cannot inspect", errno);
  if (!same_inode(now, st) || !S_ISREG(now.st_mode) || now.st_size != 0)
    return kept("replaced while being checked; try again later");
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) break;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return kept("held by another process (flock)");
    return failed("cannot lock", errno);
  }
  if (lock_probe p = probe_fcntl_locks(fd.get()); p.what != lock_probe::verdict::unheld) return p;
  // Held now. The name must still be this inode: a mutx writer that
  // released it meanwhile unlinked it, and the next may have made another.
  if (!name_is(dfd, name, now)) return {lock_probe::verdict::gone};
  return {lock_probe::verdict::unheld};
}

}  // namespace mutx::detail
