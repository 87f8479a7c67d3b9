#include "mutx/target.hpp"

#include "mutx/error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace mutx {

symlink_policy parse_symlink_policy(const std::string& text) {
  if (text == "follow") return symlink_policy::follow;
  if (text == "replace") return symlink_policy::replace;
  if (text == "refuse") return symlink_policy::refuse;
  throw error(failure_kind::io, "invalid value '" + text + "' for --symlinks",
              "Use --symlinks=follow, --symlinks=replace or --symlinks=refuse.");
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

namespace {

std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

[[noreturn]] void missing_directory(const std::string& path) {
  throw error(errno_code(ENOENT), "cannot open directory", path.empty() ? "." : path)
      .with_hint("Create it first, or pass -p/--parents to create missing directories.");
}

}  // namespace

unique_fd open_directory(const std::string& path, bool create, bool sync) {
  const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  unique_fd fd(::open(path.empty() ? "." : path.c_str(), flags));
  if (fd) return fd;
  if (path.empty()) throw_errno("cannot open directory", ".");
  int err = errno;
  if (err != ENOENT) throw_errno("cannot open directory", path, err);
  if (!create) missing_directory(path);
  // Walk down from the root or the current directory, creating what is
  // missing; each new directory is synced into its parent so it survives a
  // crash together with the file we put in it.
  unique_fd cur(::open(path[0] == '/' ? "/" : ".", flags));
  if (!cur) throw_errno("cannot open directory", path[0] == '/' ? "/" : ".");
  std::string walked = path[0] == '/' ? "/" : "";
  for (const std::string& comp : components(path)) {
    walked = walked.empty() ? comp : join_path(walked, comp);
    unique_fd next(::openat(cur.get(), comp.c_str(), flags));
    if (!next && errno == ENOENT) {
      if (::mkdirat(cur.get(), comp.c_str(), 0777) != 0 && errno != EEXIST)
        throw_errno("cannot create directory", walked);
      if (sync && ::fsync(cur.get()) != 0) throw_errno("cannot sync directory", walked);
      next.reset(::openat(cur.get(), comp.c_str(), flags));
    }
    if (!next) throw_errno("cannot open directory", walked);
    cur = std::move(next);
  }
  return cur;
}

target resolve_target(const std::string& output, symlink_policy policy, bool parents, bool sync) {
  if (output.empty()) throw error(failure_kind::io, "OUTPUT is empty", "Name the file to write.");
  std::string path = output;
  for (int hops = 0;; ++hops) {
    if (hops > 40) throw_error(errno_code(ELOOP), "cannot resolve", output);
    if (path.back() == '/') throw_error(errno_code(EISDIR), "", output);
    std::size_t slash = path.rfind('/');
    target t;
    t.name = slash == std::string::npos ? path : path.substr(slash + 1);
    t.dir_display = slash == std::string::npos ? "" : (slash == 0 ? "/" : path.substr(0, slash));
    t.display = path;
    if (t.name == "." || t.name == "..") throw_error(errno_code(EISDIR), "", output);
    t.dir = open_directory(t.dir_display, parents, sync);
    t.via_symlink = hops > 0;
    struct stat st;
    if (::fstatat(t.dir.get(), t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) throw_errno("cannot inspect", path);
      return t;
    }
    if (!S_ISLNK(st.st_mode) || policy == symlink_policy::replace) {
      if (!S_ISLNK(st.st_mode)) t.existing = st;
      return t;
    }
    if (policy == symlink_policy::refuse)
      throw error(failure_kind::io, output + " is a symbolic link (refused by --symlinks=refuse)",
                  "Use --symlinks=follow to write the file it points to, or --symlinks=replace.");
    // The kernel's fs.protected_symlinks rule, applied to the link mutx
    // follows itself (the kernel guards only the links it follows): in a
    // sticky, world-writable directory such as /tmp a link is followed only
    // if it belongs to the caller or to the directory's owner. Otherwise
    // anyone could plant /tmp/report -> /etc/passwd for root to replace.
    // Applied whatever the sysctl says: mutx replaces the file it reaches.
    struct stat dst;
    if (::fstat(t.dir.get(), &dst) == 0 && (dst.st_mode & S_ISVTX) && (dst.st_mode & S_IWOTH) &&
        st.st_uid != ::geteuid() && st.st_uid != dst.st_uid)
      throw error(failure_kind::io,
                  "refusing to follow " + path + ": a symbolic link owned by another user (uid " +
                      std::to_string(st.st_uid) + ") in a sticky, world-writable directory",
                  "As the kernel's fs.protected_symlinks does. Write the real path, or use --symlinks=replace to replace the link itself.");
    std::string link(st.st_size > 0 ? static_cast<std::size_t>(st.st_size) + 1 : 4096, '\0');
    ssize_t n = ::readlinkat(t.dir.get(), t.name.c_str(), link.data(), link.size());
    if (n < 0) throw_errno("cannot read symbolic link", path);
    link.resize(static_cast<std::size_t>(n));
    if (link.empty()) throw_error(errno_code(ENOENT), "cannot resolve", path);
    path = link[0] == '/' ? link : join_path(t.dir_display, link);
  }
}

void check_replaceable(const target& t) {
  if (!t.existing) return;
  if (S_ISDIR(t.existing->st_mode)) throw_error(errno_code(EISDIR), "", t.display);
  if (!S_ISREG(t.existing->st_mode))
    throw error(failure_kind::io, t.display + ": not a regular file",
                "mutx replaces regular files only (not FIFOs, devices or sockets).");
  if (::faccessat(t.dir.get(), t.name.c_str(), W_OK, AT_EACCESS | AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    if (err == EACCES)
      throw error(errno_code(EACCES), "", t.display)
          .with_hint("The file is not writable by you; mutx refuses it as > and sponge would.");
    if (err == EPERM)  // not the mode: an attribute no one may write through
      throw error(errno_code(EPERM), "", t.display)
          .with_hint("The file is immutable or append-only ('lsattr' shows i or a); mutx refuses it as > would.");
    throw_errno("", t.display, err);
  }
}

}  // namespace mutx
