// The staged tree of `mutx --tree DIR`: a directory built beside DIR under a
// name mutx owns (names.hpp: `.NAME.mutx-tree-S`, then a random tag), and
// the proof that such a directory, or an old generation `.NAME.mutx-old`,
// belongs to no live writer before anything removes it (docs/design.md,
// section 8).
//
// The claim is the temps' (staging.hpp), on the directory's inode: a writer
// holds a shared flock on the staged directory from the instant after
// mkdirat until the name is gone (published by the exchange, or removed).
// Whoever wants to remove a staged tree takes an exclusive flock without
// waiting and checks that the name still points at the locked directory:
// that succeeds only when no live writer owns it. A writer that finds its
// fresh directory claimed by a sweeper in between moves on to the next name.
// Removal works on directory descriptors (openat O_NOFOLLOW|O_DIRECTORY,
// unlinkat), never follows a symbolic link and never crosses a mount.
#pragma once

#include "mutx/fd.hpp"

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mutx {

enum class tree_probe {
  stale,    // nobody holds it: `locked` holds it exclusively now
  live,     // a writer (or another program) holds a flock on it
  gone,     // no such name (any more)
  foreign,  // not a directory, or cannot be opened to check
};

// Take the exclusive flock that proves directory `name` in `dfd` is no live
// writer's. On stale, the caller may remove it (remove_tree) while `locked`
// stays open. `st` is the name's stat (valid unless gone).
tree_probe claim_stale_tree(int dfd, const std::string& name, unique_fd& locked, struct stat& st) noexcept;

struct removed_tree {
  std::uint64_t entries = 0;  // names removed below the top
  int error = 0;              // the first errno that left something behind
  // Mount points inside (another filesystem, or a bind mount of the same
  // one, files bind-mounted too): never entered nor removed. Their paths
  // below the top ("." the top itself), the first few.
  static constexpr std::size_t mounts_listed = 4;
  std::vector<std::string> mounts;
  std::uint64_t mounts_kept = 0;
};

// Remove everything below the directory open as `top`, then `name` in
// `dfd` if it still is `top`. Never enters another mount (mount IDs, so a
// bind mount of the same filesystem too) nor follows a symbolic link. The
// walk goes on past errors and reports the first.
removed_tree remove_tree(int dfd, const std::string& name, int top) noexcept;

// What remove_tree kept as mount points, for a message about `top` (the
// tree's path); empty if none.
std::string kept_mounts(const removed_tree& r, const std::string& top);

// The writer's sweep, under NAME's lock: remove the stale staged trees in
// NAME's slots. Returns the names removed.
std::vector<std::string> sweep_stale_trees(int dfd, std::string_view target);

// Refuse (ENAMETOOLONG) a NAME whose staged tree name would not fit.
void check_tree_name_fits(int dfd, const std::string& name, const std::string& display);

class staged_tree {
 public:
  // mkdirat a staged directory for DIR `name` in `dfd` (mode 0700 while it
  // is built), open and claim it. `display` names DIR's directory.
  staged_tree(int dfd, std::string name, std::string display);
  // Not published: the staged tree (whatever it holds then) is removed.
  ~staged_tree();
  staged_tree(const staged_tree&) = delete;
  staged_tree& operator=(const staged_tree&) = delete;

  int fd() const noexcept { return fd_.get(); }
  const std::string& name() const noexcept { return staged_; }

  // The exchange happened: the staged name now holds the old generation
  // (or, for a new DIR, is gone). The destructor no longer removes it.
  void published() noexcept { published_ = true; }

 private:
  int dfd_;
  std::string name_;
  std::string display_;
  std::string staged_;
  unique_fd fd_;
  bool published_ = false;
};

}  // namespace mutx
