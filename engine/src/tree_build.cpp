#include "tree_build.hpp"

#include "mutx/audit_log.hpp"
#include "mutx/error.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>

namespace mutx::detail {

namespace {

std::vector<std::string_view> components(std::string_view p) {
  std::vector<std::string_view> out;
  while (!p.empty()) {
    const std::size_t slash = p.find('/');
    const std::string_view c = p.substr(0, slash);
    if (!c.empty() && c != ".") out.push_back(c);
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  return out;
}

std::string parent_path(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

const char* kind_words(tree_entry::kind k) {
  switch (k) {
    case tree_entry::kind::fifo: return "a FIFO (named pipe)";
    case tree_entry::kind::char_device: return "a character device node";
    case tree_entry::kind::block_device: return "a block device node";
    case tree_entry::kind::socket: return "a socket";
    default: return "an entry of unknown type";
  }
}

mode_t current_umask() {
  const mode_t m = ::umask(022);
  ::umask(m);
  return m;
}

std::string octal(mode_t m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0%o", static_cast<unsigned>(m & 07777));
  return buf;
}

}  // namespace

tree_builder::tree_builder(int root, const tree_build_options& o, const std::atomic<bool>& cancel)
    : root_(root), o_(o), cancel_(cancel), name_max_(::fpathconf(root, _PC_NAME_MAX)) {}

tree_builder::~tree_builder() {
  if (cached_fd_ >= 0 && cached_fd_ != root_) ::close(cached_fd_);
}

std::string tree_builder::display_of(const std::string& path) const { return o_.display + "/" + printable(path); }

void tree_builder::refuse(const tree_entry& e, const std::string& why) const {
  const bool special = why.find("(allowed") != std::string::npos;
  throw error(failure_kind::io,
              o_.display + ": " + o_.source + " entry '" + printable(e.path) + "' refused: " + printable(why),
              special ? "Special files and set-id bits are refused unless the caller allows them; nothing was "
                        "published and " + o_.display + " was left as it was."
                      : "Nothing was published; " + o_.display + " was left as it was.")
      .with_reason(special ? failure_reason::tree_special_refused : failure_reason::tree_entry_refused);
}

void tree_builder::check_cancel() const {
  if (cancel_.load(std::memory_order_relaxed)) throw error(failure_kind::interrupted, "Interrupted");
}

std::string tree_builder::normalize(const tree_entry& e) const {
  if (e.path.empty()) refuse(e, "an empty name");
  if (e.path[0] == '/') refuse(e, "an absolute path");
  // Longer than a path or a name may be (ENAMETOOLONG later, naming no
  // entry): the entry's own fault, said as such.
  if (e.path.size() >= PATH_MAX)
    refuse(e, "a path of " + std::to_string(e.path.size()) + " bytes, longer than the " +
                  std::to_string(PATH_MAX - 1) + " a path may have");
  std::string out;
  for (std::string_view c : components(e.path)) {
    if (c == "..") refuse(e, "a '..' component leads out of the tree");
    if (name_max_ > 0 && static_cast<long>(c.size()) > name_max_)
      refuse(e, "a name of " + std::to_string(c.size()) + " bytes, longer than the " + std::to_string(name_max_) +
                    " this filesystem takes");
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

void tree_builder::check_special(const tree_entry& e, const std::string&) const {
  if (o_.keep_special) return;
  using k = tree_entry::kind;
  if (e.type == k::fifo || e.type == k::char_device || e.type == k::block_device)
    refuse(e, std::string(kind_words(e.type)) + " (allowed only on request)");
  if (e.mode & S_ISUID) refuse(e, "the set-user-ID bit, mode " + octal(e.mode) + " (allowed only on request)");
  // A set-group-ID directory only passes its group on to new files.
  if ((e.mode & S_ISGID) && e.type != k::directory)
    refuse(e, "the set-group-ID bit, mode " + octal(e.mode) + " (allowed only on request)");
}

int tree_builder::parent_of(const std::string& path, const tree_entry& e) {
  const std::string parent = parent_path(path);
  if (parent.empty()) return root_;
  if (cached_fd_ >= 0 && parent == cached_parent_) return cached_fd_;
  if (cached_fd_ >= 0 && cached_fd_ != root_) ::close(cached_fd_);
  cached_fd_ = -1;
  cached_parent_.clear();
  int fd = root_;
  std::string so_far;
  static const mode_t implicit_mode = 0777 & ~current_umask();
  for (std::string_view c : components(parent)) {
    if (!so_far.empty()) so_far += '/';
    so_far += c;
    const std::string name(c);
    if (auto it = made_.find(so_far); it != made_.end() && it->second != tree_entry::kind::directory) {
      if (fd != root_) ::close(fd);
      refuse(e, it->second == tree_entry::kind::symlink ? "it lies beyond the symbolic link '" + so_far + "'"
                                                         : "'" + so_far + "' is not a directory");
    }
    int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT) {
      // A directory the archive names only through its entries (tar -c of
      // single files): made as tar -x makes it.
      if (::mkdirat(fd, name.c_str(), 0700) != 0 && errno != EEXIST) {
        const int err = errno;
        if (fd != root_) ::close(fd);
        throw_errno("cannot create directory", display_of(so_far), err);
      }
      made_[so_far] = tree_entry::kind::directory;
      dirs_[so_far] = {implicit_mode, std::nullopt, false};
      ++totals.directories;
      next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    const int err = errno;
    if (fd != root_) ::close(fd);
    if (next < 0) {
      if (err == ELOOP || err == ENOTDIR) refuse(e, "'" + so_far + "' is not a directory");
      throw_errno("cannot open directory", display_of(so_far), err);
    }
    fd = next;
  }
  cached_fd_ = fd;
  cached_parent_ = parent;
  return fd;
}

void tree_builder::apply_owner(int dirfd, const std::string& name, int fd, const tree_entry& e,
                               const std::string& path) {
  if (o_.owner == owner_policy::caller) return;
  const int rc = fd >= 0 ? ::fchown(fd, e.uid, e.gid) : ::fchownat(dirfd, name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
  if (rc == 0) return;
  const int err = errno;
  if (o_.owner == owner_policy::preserve)
    throw error(errno_code(err), "cannot give " + std::to_string(e.uid) + ":" + std::to_string(e.gid) + " the entry",
                path == "." ? o_.display : display_of(path))
        .with_hint("Only root may give files to other users; nothing was published.")
        .with_reason(failure_reason::owner_not_kept);
  if (warnings.empty())
    warnings.push_back("the owners in " + o_.source + " were not kept (first: " + printable(path) + ", " +
                       std::to_string(e.uid) + ":" + std::to_string(e.gid) + ": " + describe(errno_code(err)) + ")");
}

void tree_builder::add(const tree_entry& e, const std::function<std::uint64_t(int)>& fill) {
  check_cancel();
  using k = tree_entry::kind;
  const std::string path = normalize(e);
  if (path.empty()) {
    if (e.type != k::directory) refuse(e, "the top of the tree must be a directory");
    check_special(e, path);
    top_source_mode_ = e.mode & 07777;
    top_mtime_ = e.mtime;
    if (o_.owner != owner_policy::caller) apply_owner(root_, {}, root_, e, ".");
    return;
  }
  if (auto it = made_.find(path); it != made_.end()) {
    auto d = dirs_.find(path);
    if (e.type == k::directory && d != dirs_.end() && !d->second.explicit_entry) {
      check_special(e, path);
      d->second = {static_cast<mode_t>(e.mode & 07777), e.mtime, true};
      if (o_.owner != owner_policy::caller) apply_owner(root_, path, -1, e, path);
      return;
    }
    refuse(e, "a second entry of the same name");
  }
  check_special(e, path);
  const int parent = parent_of(path, e);
  const std::string name = base_name(path);
  switch (e.type) {
    case k::file: add_file(e, parent, name, path, fill); break;
    case k::directory:
      if (::mkdirat(parent, name.c_str(), 0700) != 0) throw_errno("cannot create directory", display_of(path));
      apply_owner(parent, name, -1, e, path);
      dirs_[path] = {static_cast<mode_t>(e.mode & 07777), e.mtime, true};
      ++totals.directories;
      break;
    case k::symlink: add_symlink(e, parent, name, path); break;
    case k::hardlink:
      add_hardlink(e, parent, name, path);
      return;
    case k::fifo:
    case k::char_device:
    case k::block_device: add_special(e, parent, name, path); break;
    case k::socket:
    case k::unknown: refuse(e, kind_words(e.type));
  }
  made_[path] = e.type;
}

void tree_builder::add_file(const tree_entry& e, int parent, const std::string& name, const std::string& path,
                            const std::function<std::uint64_t(int)>& fill) {
  // A new name (O_EXCL): nothing of the old tree or outside it can be
  // written through it.
  unique_fd fd(::openat(parent, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw_errno("cannot create", display_of(path));
  const std::uint64_t n = fill ? fill(fd.get()) : 0;
  apply_owner(parent, name, fd.get(), e, path);
  // After the owner: fchown clears the set-id bits.
  if (::fchmod(fd.get(), e.mode & 07777) != 0) throw_errno("cannot set the mode of", display_of(path));
  if (e.mtime) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, *e.mtime};
    ::futimens(fd.get(), times);
  }
  ++totals.files;
  totals.bytes += n;
}

void tree_builder::add_symlink(const tree_entry& e, int parent, const std::string& name, const std::string& path) {
  if (e.link.empty()) refuse(e, "a symbolic link with an empty target");
  if (e.link[0] == '/') refuse(e, "a symbolic link to the absolute path '" + e.link + "'");
  // Resolved by name from where the link is; the kernel checks the
  // chains through other links at the end (finish).
  std::vector<std::string_view> at = components(parent_path(path));
  for (std::string_view c : components(e.link)) {
    if (c != "..") {
      at.push_back(c);
    } else if (at.empty()) {
      refuse(e, "a symbolic link pointing out of the tree ('" + e.link + "')");
    } else {
      at.pop_back();
    }
  }
  if (::symlinkat(e.link.c_str(), parent, name.c_str()) != 0) throw_errno("cannot create", display_of(path));
  apply_owner(parent, name, -1, e, path);
  if (e.mtime) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, *e.mtime};
    ::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  symlinks_.push_back(path);
  ++totals.symlinks;
}

void tree_builder::add_hardlink(const tree_entry& e, int parent, const std::string& name, const std::string& path) {
  using k = tree_entry::kind;
  if (e.link.empty()) refuse(e, "a hard link with an empty target");
  if (e.link[0] == '/') refuse(e, "a hard link to the absolute path '" + e.link + "'");
  std::string other;
  for (std::string_view c : components(e.link)) {
    if (c == "..") refuse(e, "a hard link out of the tree ('" + e.link + "')");
    if (!other.empty()) other += '/';
    other += c;
  }
  auto it = made_.find(other);
  if (it == made_.end() || it->second != k::file)
    refuse(e, "a hard link to '" + e.link + "', which is not a regular file before it in " + o_.source);
  // `other`'s parents are directories this builder made (no entry can
  // replace one), so the path reaches the file it names.
  if (::linkat(root_, other.c_str(), parent, name.c_str(), 0) != 0) throw_errno("cannot link", display_of(path));
  made_[path] = k::file;
  ++totals.hardlinks;
}

void tree_builder::add_special(const tree_entry& e, int parent, const std::string& name, const std::string& path) {
  using k = tree_entry::kind;
  const mode_t type = e.type == k::fifo ? S_IFIFO : e.type == k::char_device ? S_IFCHR : S_IFBLK;
  if (::mknodat(parent, name.c_str(), type | 0600, e.type == k::fifo ? 0 : e.rdev) != 0)
    throw_errno("cannot create", display_of(path));
  apply_owner(parent, name, -1, e, path);
  if (::fchmodat(parent, name.c_str(), e.mode & 07777, 0) != 0)
    throw_errno("cannot set the mode of", display_of(path));
  ++totals.special;
}

void tree_builder::finish() {
  check_cancel();
  // A link that stays inside by its own words may still leave through
  // another (a -> b/.., b -> ../..): ask the kernel to resolve each one
  // beneath the top.
  for (const std::string& path : symlinks_) {
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const long fd = ::syscall(SYS_openat2, root_, path.c_str(), &how, sizeof how);
    if (fd >= 0) {
      ::close(static_cast<int>(fd));
    } else if (errno == EXDEV) {
      tree_entry e;
      e.path = path;
      refuse(e, "a symbolic link that leads out of the tree through other links");
    }
  }
  if (cached_fd_ >= 0 && cached_fd_ != root_) ::close(cached_fd_);
  cached_fd_ = -1;
  // Children before their parents (a path sorts after its prefix): a
  // read-only directory gets its mode once nothing more is made in it.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    check_cancel();
    if (::fchmodat(root_, it->first.c_str(), it->second.mode, 0) != 0)
      throw_errno("cannot set the mode of", display_of(it->first));
    if (it->second.mtime) {
      const struct timespec times[2] = {{0, UTIME_OMIT}, *it->second.mtime};
      ::utimensat(root_, it->first.c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
  }
  const mode_t top = o_.top_mode ? *o_.top_mode : top_source_mode_ ? *top_source_mode_ : 0777 & ~current_umask();
  if (::fchmod(root_, top) != 0) throw_errno("cannot set the mode of", o_.display);
  if (top_mtime_) {
    const struct timespec times[2] = {{0, UTIME_OMIT}, *top_mtime_};
    ::futimens(root_, times);
  }
}

}  // namespace mutx::detail
