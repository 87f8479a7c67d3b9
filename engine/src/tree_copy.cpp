// A directory into a tree_builder: `mutx --tree DIR --tree-from SRCDIR`.
#include "tree_build.hpp"

#include "mutx/error.hpp"
#include "mutx/pump.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

namespace mutx::detail {

namespace {

struct copier {
  const std::string& name;
  tree_builder& b;
  std::map<std::pair<dev_t, ino_t>, std::string> linked;  // inode -> first path, for st_nlink > 1
  std::uint64_t entries = 0;

  tree_entry entry_of(const std::string& path, const struct stat& st) const {
    using k = tree_entry::kind;
    tree_entry e;
    e.path = path.empty() ? "." : path;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime = st.st_mtim;
    e.rdev = st.st_rdev;
    e.type = S_ISREG(st.st_mode)    ? k::file
             : S_ISDIR(st.st_mode)  ? k::directory
             : S_ISLNK(st.st_mode)  ? k::symlink
             : S_ISFIFO(st.st_mode) ? k::fifo
             : S_ISCHR(st.st_mode)  ? k::char_device
             : S_ISBLK(st.st_mode)  ? k::block_device
             : S_ISSOCK(st.st_mode) ? k::socket
                                    : k::unknown;
    return e;
  }

  std::string where(const std::string& path) const { return path.empty() ? name : name + "/" + path; }

  void directory(int fd, const std::string& path) {
    std::vector<std::string> names;
    {
      DIR* d = ::fdopendir(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
      if (!d) throw_errno("cannot read directory", where(path));
      errno = 0;
      while (struct dirent* de = ::readdir(d)) {
        std::string_view n(de->d_name);
        if (n != "." && n != "..") names.emplace_back(n);
      }
      const int err = errno;
      ::closedir(d);
      if (err) throw_errno("cannot read directory", where(path), err);
    }
    // Inode order reads a large directory faster on most filesystems; names
    // keep the archive-like order for messages. Sorted by name: stable.
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) {
      const std::string child = path.empty() ? n : path + "/" + n;
      struct stat st;
      if (::fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("cannot inspect", where(child));
      tree_entry e = entry_of(child, st);
      ++entries;
      if (e.type == tree_entry::kind::symlink) {
        std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 255) + 1, '\0');
        const ssize_t len = ::readlinkat(fd, n.c_str(), target.data(), target.size());
        if (len < 0) throw_errno("cannot read link", where(child));
        target.resize(static_cast<std::size_t>(len));
        e.link = std::move(target);
        b.add(e);
      } else if (e.type == tree_entry::kind::file) {
        if (st.st_nlink > 1) {
          auto [it, fresh] = linked.emplace(std::pair{st.st_dev, st.st_ino}, child);
          if (!fresh) {
            e.type = tree_entry::kind::hardlink;
            e.link = it->second;
            b.add(e);
            continue;
          }
        }
        unique_fd in(::openat(fd, n.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
        if (!in) throw_errno("cannot read", where(child));
        b.add(e, [&](int out) -> std::uint64_t {
          const char* how = nullptr;
          const std::uint64_t copied = copy_file_contents(in.get(), 0, out, 0, where(child), b.display_of(child), &how);
          if (copied && how) b.totals.strategy = how;
          return copied;
        });
      } else if (e.type == tree_entry::kind::directory) {
        b.add(e);
        unique_fd sub(::openat(fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) throw_errno("cannot open directory", where(child));
        directory(sub.get(), child);
      } else {
        b.add(e);  // refused unless allowed (FIFOs, devices), or always (sockets)
      }
    }
  }
};

}  // namespace

std::uint64_t copy_directory(int src, const std::string& name, tree_builder& b) {
  struct stat st;
  if (::fstat(src, &st) != 0) throw_errno("cannot inspect", name);
  copier c{name, b, {}, 0};
  b.add(c.entry_of({}, st));
  c.directory(src, {});
  return c.entries + 1;  // the top, as a tar stream's "." entry counts
}

}  // namespace mutx::detail
