#include "mutx/target.hpp"

#include "mutx/error.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <optional>
#include <tuple>
#include <utility>
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
      .with_hint("Create it first, or let the write create missing directories.")
      .with_reason(failure_reason::directory_missing);
}

std::pair<std::string, std::string> split_path(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {"", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

bool on_procfs(int fd) {
  struct statfs fs;
  return ::fstatfs(fd, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
}

std::optional<std::string> read_link(int dir, const std::string& name, const struct stat& st) {
  std::string link(st.st_size > 0 ? static_cast<std::size_t>(st.st_size) + 1 : 4096, '\0');
  ssize_t n = ::readlinkat(dir, name.c_str(), link.data(), link.size());
  if (n < 0) return std::nullopt;
  link.resize(static_cast<std::size_t>(n));
  return link;
}

// A name in /proc/PID/fd (or /dev/fd, /dev/stdout, which lead there) is a
// "magic" link: following it by name, as mutx follows links, reaches the
// path the descriptor was opened on, and renaming over that replaces the
// file the shell redirected stdout to, under a process that still writes to
// the old inode. Anything else in /proc is a kernel interface, written in
// place. Neither is a file mutx can replace. `proc_dir` is where the path
// landed in /proc, to tell the two apart.
[[noreturn]] void refuse_proc(const std::string& output, const std::string& proc_dir) {
  bool fd_dir = proc_dir == "fd" || (proc_dir.size() > 3 && proc_dir.ends_with("/fd"));
  if (fd_dir)
    throw error(failure_kind::io, output + ": is a file descriptor, not a file mutx can replace",
                "mutx renames a new file over a path, and through /proc that would replace the file the "
                "descriptor was opened on. Redirect instead (COMMAND > FILE), or give mutx the real path; "
                "sponge writes through the descriptor.");
  throw error(failure_kind::io, output + ": is in /proc (a kernel interface), not a file mutx can replace",
              "Write it in place with > (echo VALUE > PATH).");
}

// Where the symbolic link chain starting with `link` (read from a link in
// `dir_display`) first enters a directory on procfs, if it does. Followed by
// text, as resolve_target would, without creating or refusing anything; a
// chain that breaks off does not reach /proc. /dev/stdout -> /proc/self/fd/1
// says "/proc/self/fd" here even for --symlinks=replace, which would
// otherwise let root replace the /dev/stdout link itself.
std::optional<std::string> chain_into_proc(const std::string& dir_display, std::string link) {
  std::string path = link[0] == '/' ? link : join_path(dir_display, link);
  for (int hops = 0; hops <= 40 && !path.empty(); ++hops) {
    auto [dir, name] = split_path(path);
    unique_fd d(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    // No /proc mounted (a minimal container): the name still says where the
    // link was meant to go.
    if (!d) return path.starts_with("/proc/") ? std::optional<std::string>(dir) : std::nullopt;
    if (on_procfs(d.get())) return dir;
    struct stat st;
    if (name.empty() || ::fstatat(d.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode))
      return std::nullopt;
    std::optional<std::string> next = read_link(d.get(), name, st);
    if (!next || next->empty()) return std::nullopt;
    path = (*next)[0] == '/' ? *next : join_path(dir, *next);
  }
  return std::nullopt;
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
    target t;
    std::tie(t.dir_display, t.name) = split_path(path);
    t.display = path;
    if (t.name == "." || t.name == "..") throw_error(errno_code(EISDIR), "", output);
    t.dir = open_directory(t.dir_display, parents, sync);
    // By the filesystem, not the name: /dev/fd is a link to /proc/self/fd.
    if (on_procfs(t.dir.get())) refuse_proc(output, t.dir_display);
    t.via_symlink = hops > 0;
    struct stat st;
    if (::fstatat(t.dir.get(), t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) throw_errno("cannot inspect", path);
      return t;
    }
    std::optional<std::string> link;
    if (S_ISLNK(st.st_mode)) {
      link = read_link(t.dir.get(), t.name, st);
      if (!link) throw_errno("cannot read symbolic link", path);
      if (link->empty()) throw_error(errno_code(ENOENT), "cannot resolve", path);
      // Whatever the policy: replacing /dev/stdout is as wrong as following it.
      if (auto proc_dir = chain_into_proc(t.dir_display, *link)) refuse_proc(output, *proc_dir);
    }
    if (!S_ISLNK(st.st_mode) || policy == symlink_policy::replace) {
      if (!S_ISLNK(st.st_mode)) t.existing = st;
      return t;
    }
    if (policy == symlink_policy::refuse)
      throw error(failure_kind::io, output + " is a symbolic link (refused by --symlinks=refuse)",
                  "Follow it to write the file it points to, or replace the link itself.")
          .with_reason(failure_reason::symlink_refused);
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
                  "As the kernel's fs.protected_symlinks does. Write the real path, or replace the link itself.")
          .with_reason(failure_reason::symlink_foreign);
    path = (*link)[0] == '/' ? *link : join_path(t.dir_display, *link);
  }
}

namespace {

// statx of `name` in `dir` ("" = the directory itself), not following a
// final link; false when it cannot be had (a missing name, a kernel or
// seccomp profile without statx: the checks that need it are then skipped).
bool entry_statx(int dir, const std::string& name, struct statx& sx) {
  int flags = AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT | (name.empty() ? AT_EMPTY_PATH : 0);
  return ::statx(dir, name.c_str(), flags, STATX_BASIC_STATS | STATX_MNT_ID, &sx) == 0;
}

bool has_attribute(const struct statx& sx, std::uint64_t attr) {
  return (sx.stx_attributes_mask & attr) != 0 && (sx.stx_attributes & attr) != 0;
}

// The append-only and immutable flags (chattr +a, +i) of an open directory
// or file: from statx where the filesystem reports them, else by the ioctl
// lsattr uses.
std::pair<bool, bool> directory_append_immutable(int dir, const struct statx* sx) {
  const std::uint64_t both = STATX_ATTR_APPEND | STATX_ATTR_IMMUTABLE;
  if (sx && (sx->stx_attributes_mask & both) == both)
    return {has_attribute(*sx, STATX_ATTR_APPEND), has_attribute(*sx, STATX_ATTR_IMMUTABLE)};
  int flags = 0;  // the kernel reads and writes an int, whatever the ioctl's name says
  if (::ioctl(dir, FS_IOC_GETFLAGS, &flags) != 0) return {false, false};
  return {(flags & FS_APPEND_FL) != 0, (flags & FS_IMMUTABLE_FL) != 0};
}

// CAP_FOWNER in the effective set: what lets root (or a capable service)
// rename over another user's file in a sticky directory.
bool has_cap_fowner() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return ::geteuid() == 0;
  return (data[CAP_TO_INDEX(CAP_FOWNER)].effective & CAP_TO_MASK(CAP_FOWNER)) != 0;
}

// In a sticky directory (like /tmp) only the name's owner, the directory's
// owner or a caller with CAP_FOWNER may rename or remove a name, whatever
// the file's mode.
bool sticky_forbids(const struct statx& dsx, uid_t owner) {
  if (!(dsx.stx_mode & S_ISVTX)) return false;
  const uid_t me = ::geteuid();
  return owner != me && dsx.stx_uid != me && !has_cap_fowner();
}

[[noreturn]] void refuse_sticky(const std::string& display, uid_t owner) {
  throw error(failure_kind::io,
              "cannot replace " + display + ": it belongs to uid " + std::to_string(owner) +
                  " and its directory is sticky",
              "In a sticky directory (like /tmp) only the file's owner, the directory's owner or root may "
              "replace or remove a file, whatever its mode. Ask its owner, or write another path.");
}

}  // namespace

std::pair<bool, bool> append_immutable_flags(int fd) {
  struct statx sx;
  return directory_append_immutable(fd, entry_statx(fd, "", sx) ? &sx : nullptr);
}

bool may_move_name_of(int dir, uid_t owner) {
  struct statx dsx;
  return !entry_statx(dir, "", dsx) || !sticky_forbids(dsx, owner);
}

bool check_name_replaceable(int dir, const std::string& name, const std::string& display) {
  struct statx sx;
  if (!entry_statx(dir, name, sx)) return false;
  struct statx dsx;
  if (entry_statx(dir, "", dsx) && sticky_forbids(dsx, sx.stx_uid)) refuse_sticky(display, sx.stx_uid);
  if (!S_ISREG(sx.stx_mode)) return true;
  std::pair<bool, bool> flags{false, false};
  const std::uint64_t both = STATX_ATTR_APPEND | STATX_ATTR_IMMUTABLE;
  if ((sx.stx_attributes_mask & both) == both) {
    flags = directory_append_immutable(-1, &sx);
  } else if (unique_fd fd(::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)); fd) {
    flags = directory_append_immutable(fd.get(), nullptr);
  }
  auto [append_only, immutable] = flags;
  if (!append_only && !immutable) return true;
  const char* flag = immutable ? "i" : "a";
  throw error(errno_code(EPERM), "cannot replace", display)
      .with_hint(std::string("The file is ") + (immutable ? "immutable" : "append-only") +
                 " ('lsattr' shows " + flag + "): no one, not even root, may replace, rename or remove it. " +
                 "Remove the flag with 'chattr -" + flag + " " + display + "' as root, or keep it and write elsewhere.");
}

void check_names_changeable(int dir_fd, const std::string& dir_display, const std::string& context,
                            const struct statx* dsx) {
  auto [append_only, immutable] = directory_append_immutable(dir_fd, dsx);
  if (!append_only && !immutable) return;
  const std::string dir = dir_display.empty() ? "." : dir_display;
  const char* flag = immutable ? "i" : "a";
  throw error(failure_kind::io,
              context + ": its directory " + dir +
                  (immutable ? " is immutable (chattr +i): no name in it can be created, renamed or removed"
                             : " is append-only (chattr +a): no name in it can be renamed or removed"),
              std::string("mutx publishes by renaming a new file over the old one") +
                  (immutable ? "" : ", and would leave its temp and lock file behind") +
                  ". Remove the flag with 'chattr -" + flag + " " + dir + "' as root ('lsattr -d " + dir +
                  "' shows it), or write elsewhere.");
}

bool listed_as_mount_point(int dir, const std::string& name) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", dir);
  std::string path(4096, '\0');
  ssize_t n = ::readlink(link, path.data(), path.size());
  if (n <= 0 || static_cast<std::size_t>(n) >= path.size()) return false;
  path.resize(static_cast<std::size_t>(n));
  path = join_path(path, name);
  std::FILE* f = std::fopen("/proc/self/mountinfo", "re");
  if (!f) return false;
  // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the
  // fifth field is where it is mounted, with ' ', '\t', '\n' and '\\' as
  // octal escapes (\040).
  bool found = false;
  char* line = nullptr;
  std::size_t cap = 0;
  while (!found && ::getline(&line, &cap, f) > 0) {
    std::string_view l(line);
    std::size_t at = 0;
    for (int field = 0; field < 4 && at != std::string_view::npos; ++field) at = l.find(' ', at + (field ? 1 : 0));
    if (at == std::string_view::npos) continue;
    std::size_t end = l.find(' ', at + 1);
    std::string_view raw = l.substr(at + 1, end == std::string_view::npos ? std::string_view::npos : end - at - 1);
    std::string point;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 3 < raw.size()) {
        point += static_cast<char>((raw[i + 1] - '0') * 64 + (raw[i + 2] - '0') * 8 + (raw[i + 3] - '0'));
        i += 3;
      } else {
        point += raw[i];
      }
    }
    found = point == path;
  }
  std::free(line);
  std::fclose(f);
  return found;
}

namespace {

// Whether `name` in `dir` (its statx `sx`; the directory's, `dsx`, when
// known) is the root of a mount: by the attribute or a mount ID other than
// the directory's (statx, Linux 5.8), else by /proc/self/mountinfo, else by
// a device other than the directory's. Not by st_dev where statx answers:
// overlayfs reports the layer's device for files but not for directories.
bool is_mount_point(int dir, const std::string& name, const struct statx* sx, const struct statx* dsx) {
  if (sx && has_attribute(*sx, STATX_ATTR_MOUNT_ROOT)) return true;
  if (sx && dsx && (sx->stx_mask & STATX_MNT_ID) && (dsx->stx_mask & STATX_MNT_ID))
    return sx->stx_mnt_id != dsx->stx_mnt_id;
  if (listed_as_mount_point(dir, name)) return true;
  struct stat d, f;
  if (::access("/proc/self/mountinfo", R_OK) == 0) return false;  // it answered: not listed
  return ::fstat(dir, &d) == 0 && ::fstatat(dir, name.c_str(), &f, AT_SYMLINK_NOFOLLOW) == 0 && d.st_dev != f.st_dev;
}

[[noreturn]] void refuse_mount_point(const target& t) {
  throw error(failure_kind::io, t.display + ": is a mount point (a bind-mounted file); it cannot be replaced atomically",
              "rename(2) cannot replace a mount point. Have it written in place (not atomic: a reader may see a "
              "partial file during the copy), replace the file on the other side of the bind mount, or mount its "
              "directory instead of the single file.")
      .with_reason(failure_reason::mount_point);
}

}  // namespace

std::uint64_t mount_id(int fd) noexcept {
  struct statx sx;
  if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_MNT_ID, &sx) != 0 ||
      !(sx.stx_mask & STATX_MNT_ID))
    return 0;
  return sx.stx_mnt_id;
}

bool crosses_mount(int parent, dev_t parent_dev, std::uint64_t parent_mount, const std::string& name, int sub,
                   dev_t sub_dev) {
  if (sub_dev != parent_dev) return true;
  const std::uint64_t m = mount_id(sub);
  if (m && parent_mount) return m != parent_mount;
  return listed_as_mount_point(parent, name);
}

bool is_mount_point(int dir, const std::string& name) {
  struct statx sx, dsx;
  const bool known = entry_statx(dir, name, sx), dir_known = known && entry_statx(dir, "", dsx);
  return is_mount_point(dir, name, known ? &sx : nullptr, dir_known ? &dsx : nullptr);
}

void check_replaceable(const target& t, bool in_place) {
  struct statx dsx;
  bool dir_known = entry_statx(t.dir.get(), "", dsx);
  check_names_changeable(t.dir.get(), t.dir_display, t.display, dir_known ? &dsx : nullptr);
  if (t.existing) {
    if (S_ISDIR(t.existing->st_mode)) throw_error(errno_code(EISDIR), "", t.display);
    if (!S_ISREG(t.existing->st_mode))
      throw error(failure_kind::io, t.display + ": not a regular file",
                  "mutx replaces regular files only (not FIFOs, devices or sockets).");
    if (::faccessat(t.dir.get(), t.name.c_str(), W_OK, AT_EACCESS | AT_SYMLINK_NOFOLLOW) != 0) {
      int err = errno;
      if (err == EACCES)
        throw error(errno_code(EACCES), "", t.display)
            .with_hint("The file is not writable by you; mutx refuses it, as the shell's > does (sed -i and sponge replace it "
                       "when the directory is writable). Make it writable first if it should change.");
      if (err == EPERM)  // not the mode: an attribute no one may write through
        throw error(errno_code(EPERM), "", t.display)
            .with_hint("The file is immutable or append-only ('lsattr' shows i or a); mutx refuses it as > would.");
      throw_errno("", t.display, err);
    }
  }
  // Whatever is at the name now (with --symlinks=replace, the link) is what
  // the rename replaces.
  struct statx sx;
  if (!entry_statx(t.dir.get(), t.name, sx)) {
    // No statx (an old kernel, a seccomp profile): the other checks below
    // are skipped, but a mount point is still found.
    if (t.existing && !in_place && is_mount_point(t.dir.get(), t.name, nullptr, nullptr)) refuse_mount_point(t);
    return;
  }
  // Append-only passes the write check above (only opens without O_APPEND
  // are refused) and failed at the rename.
  if (S_ISREG(sx.stx_mode) && has_attribute(sx, STATX_ATTR_APPEND))
    throw error(errno_code(EPERM), "", t.display)
        .with_hint("The file is append-only ('lsattr' shows a): it may be added to but never replaced, not even "
                   "by root. Append with >>, or remove the flag with 'chattr -a " + t.display + "' as root.");
  // A file bind-mounted over another (Docker's -v file:file, Kubernetes'
  // subPath) is the root of its own mount, and rename(2) over a mount point
  // fails with EBUSY. Written in place, it needs no rename.
  if (!in_place && is_mount_point(t.dir.get(), t.name, &sx, dir_known ? &dsx : nullptr)) refuse_mount_point(t);
  // Written in place, the file keeps its name: the rules for renaming over
  // it (below) do not apply.
  if (in_place && S_ISREG(sx.stx_mode)) return;
  // In a sticky directory (like /tmp) only the file's owner, the
  // directory's owner or a caller with CAP_FOWNER may rename over it,
  // whatever its mode: a 0666 file of another user passes the write check
  // and the rename fails, after a backup may already have been made.
  if (dir_known && sticky_forbids(dsx, sx.stx_uid)) refuse_sticky(t.display, sx.stx_uid);
}

}  // namespace mutx
