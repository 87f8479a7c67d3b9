// The rules by which housekeep (housekeep.hpp) proves that a `NAME.lock` is
// mutx's and that nobody holds it: the lock files of other tools, git
// directories (whose index.lock and HEAD.lock look like mutx's), and the
// flock, POSIX and OFD lock checks.
#pragma once

#include "mutx/fd.hpp"

#include <sys/stat.h>

#include <string>
#include <string_view>

namespace mutx::detail {

// Whether `name` is the lock file of another tool (Cargo.lock, .rpm.lock,
// ...), compared without case.
bool is_foreign_lock_name(std::string_view name) noexcept;

// Whether the directory `dfd` is a git directory: HEAD, objects/ and refs/.
bool is_git_dir(int dfd) noexcept;

// The names is_git_dir asks for, as a directory listing passes them.
struct git_marks {
  bool head = false, objects = false, refs = false;
  void see(std::string_view name) noexcept {
    head = head || name == "HEAD";
    objects = objects || name == "objects";
    refs = refs || name == "refs";
  }
  bool all() const noexcept { return head && objects && refs; }
};

// Whether `dfd` (reported as `path`), or a directory above it, is a git
// directory.
bool inside_git_dir(int dfd, const std::string& path);

// What probe_lock_holders found.
struct lock_probe {
  enum class verdict {
    unheld,  // nobody holds it: `fd` holds its flock, and the name is still it
    gone,    // no such name (any more), or another inode by now
    kept,    // stays: `why` says who holds it (or why that cannot be told)
    failed,  // an error: `why` is the context ("cannot lock"), `err` the errno
  };
  verdict what;
  std::string why = {};
  int err = 0;
};

// Opens the lock file `name` in `dfd`, which was `st` when inspected (a
// regular, empty file), and asks every kind of lock whether anyone holds
// it. On `unheld` the caller may unlink it while `fd` stays open.
lock_probe probe_lock_holders(int dfd, const std::string& name, const struct stat& st, unique_fd& fd);

}  // namespace mutx::detail
