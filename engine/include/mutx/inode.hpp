// Is this name still that file? The one test behind the lock protocol's
// inode check, the temp claim, a backup's undo and the lock-file rules,
// written once. Names are looked up in a directory descriptor without
// following a symbolic link.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <string>

namespace mutx {

inline bool same_inode(const struct stat& a, const struct stat& b) noexcept {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// `name` in `dfd` is the inode `st` describes.
inline bool name_is(int dfd, const std::string& name, const struct stat& st) noexcept {
  struct stat now;
  return ::fstatat(dfd, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 && same_inode(now, st);
}

// `name` in `dfd` is the inode open as `fd`.
inline bool name_is_fd(int dfd, const std::string& name, int fd) noexcept {
  struct stat mine;
  return ::fstat(fd, &mine) == 0 && name_is(dfd, name, mine);
}

}  // namespace mutx
