// The staged file: where new content is written before it has a name
// (DESIGN section 3, steps 3 and 8).
//
// openat(dfd, ".", O_TMPFILE|O_RDWR|O_CLOEXEC, 0600) where the filesystem
// supports it, else a named temp `.NAME.mutx-RANDOM` created with
// O_CREAT|O_EXCL|O_NOFOLLOW, 0600. The choice is made per directory. Until
// publish() the target is untouched; the destructor drops an unpublished
// file (O_TMPFILE: by close; named: unlinked). It never publishes.
#pragma once

#include "mutx/fd.hpp"

#include <string>

namespace mutx {

// The prefix of every temp name mutx makes for target NAME.
std::string temp_prefix(const std::string& name);
// `.NAME.mutx-` plus 12 random characters.
std::string temp_name(const std::string& name);
// Refuse (ENAMETOOLONG, naming `display`) a NAME whose temp name would not
// fit the name limit of directory `dfd`: checked before any input is read,
// so a long stream is not written only to fail at the link.
void check_temp_name_fits(int dfd, const std::string& name, const std::string& display);

class staged_file {
 public:
  // Stage a new file in the directory `dfd` for target `name`. `display` is
  // the directory as the user named it, for messages. EROFS, EACCES, ENOSPC
  // and EDQUOT are errors, never reasons to fall back.
  staged_file(int dfd, std::string name, std::string display);
  ~staged_file();
  staged_file(const staged_file&) = delete;
  staged_file& operator=(const staged_file&) = delete;

  int fd() const noexcept { return fd_.get(); }
  // True when the fallback named temp was used.
  bool named() const noexcept { return !temp_.empty(); }
  const char* kind() const noexcept { return named() ? "named temp" : "O_TMPFILE"; }

  // Give the file its name: linkat() to a temp name (AT_EMPTY_PATH, or
  // /proc/self/fd/N with AT_SYMLINK_FOLLOW where that is refused), then
  // renameat() onto the target. The rename is the commit point: once this
  // returns, the new content is visible. Throws before the rename on error,
  // leaving the target untouched and no temp behind.
  void publish();
  bool published() const noexcept { return published_; }

 private:
  int dfd_;
  std::string name_;
  std::string display_;
  std::string temp_;  // the named temp, when O_TMPFILE is unavailable
  unique_fd fd_;
  bool published_ = false;
};

}  // namespace mutx
