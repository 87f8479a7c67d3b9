// The staged file: where new content is written before it has a name
// (docs/design.md, section 3, steps 3 and 8), and the proof that a temp
// name belongs to no live writer (section 7).
//
// openat(dfd, ".", O_TMPFILE|O_RDWR|O_CLOEXEC, mode) where the filesystem
// supports it, else a named temp `.NAME.mutx-S` (names.hpp) created with
// O_CREAT|O_EXCL|O_NOFOLLOW; a writer under an etcd lease whose directory
// other hosts may mount (shared_filesystem) names it after its lease
// instead, `.NAME.mutx-eLEASE` (lease_temp_name): no other writer, on this
// host or another, can have that name, and housekeep removes it only once
// etcd says the lease is gone. The choice is made per directory. Until
// publish() the target is untouched; the destructor drops an unpublished
// file (O_TMPFILE: by close; named: unlinked). It never publishes.
//
// The claim: a writer holds a shared flock on every inode it puts under a
// temp name (its staged file, the old target linked for a backup), from
// before the name exists until the name is gone. Whoever wants to remove a
// temp takes an exclusive flock without waiting and checks that the name
// still points at the locked inode (claim_stale_temp): that succeeds only
// when no live writer, whatever lock file it used, still owns the name. A
// writer that finds its new name claimed by a sweeper in the instant
// between creating and flocking it moves on to the next name.
#pragma once

#include "mutx/fd.hpp"

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mutx {

// Refuse (ENAMETOOLONG, naming `display`) a NAME whose temp name would not
// fit the name limit of directory `dfd`: checked before any input is read,
// so a long stream is not written only to fail at the link. `under_lease`:
// the write takes an etcd lock, so its temp may be named after the lease.
void check_temp_name_fits(int dfd, const std::string& name, const std::string& display, bool under_lease = false);

// Whether a writer holding etcd lease `lease` (0: none) names its temps in
// `dfd` after it: under a lease, where other hosts may mount the directory.
bool names_temps_by_lease(int dfd, std::int64_t lease) noexcept;

// The hint for a directory that refuses new files (EACCES, EPERM): a file
// in it is replaced by a new one made beside it (the staged file, and the
// default lock file) and renamed over it, so no option helps, only write
// permission on the directory (PRD 7.2: sudo, or its permissions).
std::string unwritable_directory_hint(const std::string& dir_display);

// Mark `fd`'s inode as a live writer's: a shared flock, not waiting. False
// when another process holds an exclusive one (a sweeper about to remove
// the name).
bool claim_inode(int fd) noexcept;

// Put a new name for `fd`'s inode (or, with fd < 0, for `dfd`/`from` by
// name) into `dfd` under the first free temp name of `target` (slots first,
// then random names), and return it. Throws mutx::error naming `display`.
std::string link_under_temp_name(int fd, int from_dfd, const std::string& from, int dfd, std::string_view target,
                                 const std::string& display);

enum class temp_probe {
  stale,    // nobody holds it: `locked` holds it exclusively now
  live,     // a writer (or another program) holds a flock on it
  gone,     // no such name (any more)
  foreign,  // not a regular file, or cannot be opened to check
  shared,   // no flock here, but the filesystem may be mounted by other
            // hosts (shared_filesystem), whose writers' flocks we cannot see
};

// The kind of filesystem `dfd` is on when other hosts may mount it too
// (FUSE, NFS, SMB/CIFS, CephFS, GFS2, OCFS2, AFS, 9p, Lustre...; statfs's
// f_type), else nullptr. There a temp is never proven stale: neither the
// flock claim nor any age says that no writer on another host owns it.
const char* shared_filesystem(int dfd) noexcept;

// After an O_CREAT|O_EXCL open failed: whether it was EPERM for a name
// that exists now, or on a filesystem other hosts may mount. SFTP has no
// "exists" status, so sshfs reports a file another host created after our
// lookup (and may have renamed away since) as EPERM, not EEXIST (seen on
// two sshfs mounts: "cannot create a temporary file: Operation not
// permitted"). The caller moves on to the next name, or looks again.
bool created_elsewhere(int dfd, const std::string& name) noexcept;
// Take the exclusive flock that proves temp `name` in `dfd` is no live
// writer's. On stale the caller may unlink the name while `locked` stays
// open, then close it. `st` is the name's stat (valid unless gone).
temp_probe claim_stale_temp(int dfd, const std::string& name, unique_fd& locked, struct stat& st) noexcept;

// The writer's sweep, under NAME's lock: remove the stale temps in NAME's
// slots, and the stale check copies in its check slots. Costs 2 x temp_slots
// lookups whatever the size of the directory. Returns the names removed;
// those kept because the filesystem may be shared with other hosts go
// into `kept`. On such a filesystem nothing can be removed, so without
// `kept` no name is looked up (each lookup a round trip to the server:
// 0.2-1 ms on sshfs).
std::vector<std::string> sweep_stale_temps(int dfd, std::string_view target, std::vector<std::string>* kept = nullptr);

// The new content under a check copy's name (names.hpp) in the target's
// directory, for a check command that wants a path (--check's %s): owner
// (where permitted) and mode as `content_fd`'s. Claimed as a staged file is,
// so only the next writer's sweep or housekeep removes it after a crash;
// the destructor removes it while the name is still this file. Under an
// etcd lease (names_temps_by_lease) it is named after the lease.
class check_copy {
 public:
  check_copy(int dfd, const std::string& target, const std::string& dir_display, int content_fd,
             const std::string& display, std::int64_t lease = 0);
  ~check_copy();
  check_copy(const check_copy&) = delete;
  check_copy& operator=(const check_copy&) = delete;

  const std::string& path() const noexcept { return path_; }  // dir_display + its name
  int fd() const noexcept { return fd_.get(); }
  void remove() noexcept;

 private:
  int dfd_;
  std::string name_;
  std::string path_;
  unique_fd fd_;
};

class staged_file {
 public:
  // Stage a new file in the directory `dfd` for target `name`, created with
  // `mode` (the kernel applies the umask, or the directory's default ACL).
  // `display` is the directory as the user named it, for messages. EROFS,
  // EACCES, ENOSPC and EDQUOT are errors, never reasons to fall back.
  // `lease`: the etcd lease the writer holds (0: none), which names the
  // temp where names_temps_by_lease says so; a file that already has that
  // name is another program's, and an error.
  staged_file(int dfd, std::string name, std::string display, mode_t mode = 0600, std::int64_t lease = 0);
  ~staged_file();
  staged_file(const staged_file&) = delete;
  staged_file& operator=(const staged_file&) = delete;

  int fd() const noexcept { return fd_.get(); }
  // True when the fallback named temp was used.
  bool named() const noexcept { return named_; }
  const char* kind() const noexcept { return named() ? "named temp" : "O_TMPFILE"; }
  // The etcd lease its temp is named after (and a check copy's), else 0.
  std::int64_t lease() const noexcept { return lease_; }

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
  std::string temp_;  // its temp name: the named temp, or the link publish() makes
  bool named_ = false;  // O_TMPFILE was unavailable
  std::int64_t lease_ = 0;  // names the temp, where names_temps_by_lease says so
  unique_fd fd_;
  bool published_ = false;
};

}  // namespace mutx
