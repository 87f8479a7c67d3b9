// Building a staged tree from entries (a tar archive's, or a directory's),
// refusing what would reach out of the tree or smuggle in what a tree of
// configuration or content has no business holding (docs/design.md,
// section 8). Every refusal names the entry and why, and leaves the staged
// tree to its owner to remove: nothing has been published.
//
// Every entry is created relative to the staged directory's descriptor,
// each parent opened component by component with O_NOFOLLOW: no entry can
// be written through a symbolic link, whatever the archive holds.
#pragma once

#include "mutx/fd.hpp"
#include "mutx/metadata.hpp"

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace mutx::detail {

struct tree_entry {
  enum class kind { file, directory, symlink, hardlink, fifo, char_device, block_device, socket, unknown };
  std::string path;  // as the source names it
  kind type = kind::unknown;
  mode_t mode = 0;  // permission bits, set-id and sticky bits
  uid_t uid = 0;
  gid_t gid = 0;
  std::string link;  // a symbolic link's target; a hard link's other name
  std::optional<struct timespec> mtime;
  dev_t rdev = 0;
};

struct tree_build_options {
  bool keep_special = false;  // set-id bits, FIFOs and device nodes
  owner_policy owner = owner_policy::caller;
  std::optional<mode_t> top_mode;  // the top directory's mode (else the source's, else 0777 & ~umask)
  std::string source;              // for messages: "the archive", "SRCDIR"
  std::string display;             // DIR, for messages
};

struct tree_totals {
  std::uint64_t files = 0, directories = 0, symlinks = 0, hardlinks = 0, special = 0;
  std::uint64_t bytes = 0;
  const char* strategy = nullptr;  // how file data was copied (a directory source)
};

class tree_builder {
 public:
  tree_builder(int root, const tree_build_options& o, const std::atomic<bool>& cancel);
  ~tree_builder();

  // Check and create one entry. For a regular file, `fill(fd)` writes its
  // content and returns the bytes written. Throws mutx::error.
  void add(const tree_entry& e, const std::function<std::uint64_t(int fd)>& fill = {});
  // Directory modes and times (after their content), the symbolic links'
  // reach checked by the kernel (RESOLVE_BENEATH), the top directory's mode.
  void finish();

  // An entry's path in messages: its name escaped (audit_log.hpp printable).
  std::string display_of(const std::string& path) const;

  tree_totals totals;
  std::vector<std::string> warnings;

 private:
  // add()'s kinds of entry, each made under `name` in `parent`.
  void add_file(const tree_entry& e, int parent, const std::string& name, const std::string& path,
                const std::function<std::uint64_t(int fd)>& fill);
  void add_symlink(const tree_entry& e, int parent, const std::string& name, const std::string& path);
  void add_hardlink(const tree_entry& e, int parent, const std::string& name, const std::string& path);
  void add_special(const tree_entry& e, int parent, const std::string& name, const std::string& path);
  // The normalized relative path ("" for the top), or a refusal.
  std::string normalize(const tree_entry& e) const;
  int parent_of(const std::string& path, const tree_entry& e);
  void check_special(const tree_entry& e, const std::string& path) const;
  void apply_owner(int dirfd, const std::string& name, int fd, const tree_entry& e, const std::string& path);
  [[noreturn]] void refuse(const tree_entry& e, const std::string& why) const;
  void check_cancel() const;

  int root_;
  const tree_build_options& o_;
  const std::atomic<bool>& cancel_;
  long name_max_;  // the longest name in the staged tree's filesystem
  // Entries made, by normalized path: each name once.
  std::unordered_map<std::string, tree_entry::kind> made_;
  // Directories to finish: path -> (mode, mtime), deepest last.
  struct dir_meta {
    mode_t mode;
    std::optional<struct timespec> mtime;
    bool explicit_entry;
  };
  std::map<std::string, dir_meta> dirs_;
  std::vector<std::string> symlinks_;
  // The last parent opened, kept: archives list a directory's files together.
  std::string cached_parent_;
  int cached_fd_ = -1;
  std::optional<mode_t> top_source_mode_;
  std::optional<struct timespec> top_mtime_;
};

// The sources (one file each). Both throw mutx::error and stop with
// failure_kind::interrupted once `cancel` is set.
//
// A tar stream (ustar, pax, GNU; uncompressed) read with libarchive from
// `fd`, waiting for input in slices of 100 ms so that `cancel` is seen while
// a producer is slow. Returns the number of entries; `empty_input` turns
// true when the stream had no bytes at all.
std::uint64_t read_tar(int fd, const std::string& name, tree_builder& b, const std::atomic<bool>& cancel,
                       bool& empty_input);

// A directory `src` (`name` for messages): regular files copied by reflink
// (FICLONE) where the filesystem shares extents, else copy_file_range; hard
// links kept. Returns the number of entries.
std::uint64_t copy_directory(int src, const std::string& name, tree_builder& b);

// --compare (tree_compare.cpp): the trees open as `a` and `b` hold the same
// names, types, permission bits, owners, link targets and file contents.
bool same_tree(int a, int b);

}  // namespace mutx::detail
