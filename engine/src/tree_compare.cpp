// --compare for a tree: is the staged tree the current DIR? Names, types,
// permission bits, owners, symbolic link targets and file contents, the
// contents compared by content_compare (compare.hpp) as for one file.
#include "tree_build.hpp"

#include "mutx/compare.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace mutx::detail {

namespace {

bool names(int fd, std::vector<std::string>& out) {
  DIR* d = ::fdopendir(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!d) return false;
  ::rewinddir(d);
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") out.emplace_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return true;
}

bool same_meta(const struct stat& a, const struct stat& b) {
  return (a.st_mode & S_IFMT) == (b.st_mode & S_IFMT) && (a.st_mode & 07777) == (b.st_mode & 07777) &&
         a.st_uid == b.st_uid && a.st_gid == b.st_gid;
}

bool same_file(int a_dir, int b_dir, const std::string& n, const struct stat& b_st) {
  unique_fd a(::openat(a_dir, n.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  unique_fd b(::openat(b_dir, n.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!a || !b) return false;
  content_compare cmp(b.get(), static_cast<std::uint64_t>(b_st.st_size), 0, n);
  auto buf = std::make_unique<char[]>(1 << 16);
  for (;;) {
    const ssize_t got = ::read(a.get(), buf.get(), 1 << 16);
    if (got < 0) return false;
    if (got == 0) break;
    cmp.feed(buf.get(), static_cast<std::size_t>(got));
  }
  return cmp.same();
}

bool same_dir(int a, int b) {
  std::vector<std::string> an, bn;
  if (!names(a, an) || !names(b, bn) || an != bn) return false;
  for (const std::string& n : an) {
    struct stat as, bs;
    if (::fstatat(a, n.c_str(), &as, AT_SYMLINK_NOFOLLOW) != 0 || ::fstatat(b, n.c_str(), &bs, AT_SYMLINK_NOFOLLOW) != 0 ||
        !same_meta(as, bs))
      return false;
    if (S_ISREG(as.st_mode)) {
      if (as.st_size != bs.st_size || !same_file(a, b, n, bs)) return false;
    } else if (S_ISLNK(as.st_mode)) {
      char la[4096], lb[4096];
      const ssize_t x = ::readlinkat(a, n.c_str(), la, sizeof la), y = ::readlinkat(b, n.c_str(), lb, sizeof lb);
      if (x < 0 || x != y || std::string_view(la, static_cast<std::size_t>(x)) != std::string_view(lb, static_cast<std::size_t>(y)))
        return false;
    } else if (S_ISDIR(as.st_mode)) {
      unique_fd sa(::openat(a, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      unique_fd sb(::openat(b, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sa || !sb || !same_dir(sa.get(), sb.get())) return false;
    } else if (as.st_rdev != bs.st_rdev) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool same_tree(int a, int b) {
  struct stat as, bs;
  if (::fstat(a, &as) != 0 || ::fstat(b, &bs) != 0 || !same_meta(as, bs)) return false;
  return same_dir(a, b);
}

}  // namespace mutx::detail
