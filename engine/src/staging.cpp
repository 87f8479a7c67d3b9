#include "mutx/staging.hpp"

#include "mutx/error.hpp"
#include "mutx/inode.hpp"
#include "mutx/names.hpp"
#include "mutx/pump.hpp"
#include "mutx/target.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace mutx {

void check_temp_name_fits(int dfd, const std::string& name, const std::string& display, bool under_lease) {
  const long name_max = ::fpathconf(dfd, _PC_NAME_MAX);
  // Under an etcd lease, where other hosts may mount the directory, the
  // temp is named after the lease: a longer name.
  const bool leased = under_lease && shared_filesystem(dfd);
  const long extra = static_cast<long>(temp_name_overhead(leased));
  if (name_max <= 0 || static_cast<long>(name.size()) + extra <= name_max) return;
  throw error(errno_code(ENAMETOOLONG), "", display)
      .with_hint(std::string("mutx stages the new content as ") +
                 (leased ? ".NAME.mutx-eLEASE (its etcd lease, 16 hex digits)" : ".NAME.mutx-XXXXXXXXXXXX") +
                 " beside it, and this directory takes names of at most " + std::to_string(name_max) +
                 " bytes: NAME can have " + std::to_string(std::max(0L, name_max - extra)) + " at most.");
}

bool names_temps_by_lease(int dfd, std::int64_t lease) noexcept { return lease > 0 && shared_filesystem(dfd); }

namespace {

// Slots first (the next writer finds them by name), then random names for
// when every slot is a live writer's or a look-alike that is not ours.
constexpr int random_attempts = 16;
std::string candidate_name(std::string_view target, int attempt) {
  return attempt < temp_slots ? temp_slot_name(target, attempt) : random_temp_name(target);
}

std::string dir_name(const std::string& display) { return display.empty() ? "." : display; }

// A temp that may not be created: for a directory that refuses new files,
// what can be done about it.
[[noreturn]] void temp_not_created(const std::string& dir_display, int err) {
  if (err != EACCES && err != EPERM) throw_errno("cannot create a temporary file in", dir_name(dir_display), err);
  throw error(errno_code(err), "cannot create a temporary file in", dir_name(dir_display))
      .with_hint(unwritable_directory_hint(dir_display))
      .with_reason(failure_reason::directory_unwritable);
}

// Create `name`, a temp named after the writer's etcd lease, in `dfd`, and
// claim it. Only one name will do: a file that has it already (EEXIST, or
// sshfs's EPERM for a name that exists) was made by another program, since
// etcd never grants a lease ID twice and each write makes its temp once.
unique_fd create_lease_named(int dfd, const std::string& name, mode_t mode, const std::string& display,
                             const char* what) {
  unique_fd fd(::openat(dfd, name.c_str(), O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, mode));
  if (!fd) {
    const int err = errno;
    struct stat st;
    if (err == EEXIST || (err == EPERM && ::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0))
      throw error(failure_kind::io,
                  std::string("cannot create ") + what + " " + join_path(display, name) +
                      ": a file of that name exists, which no mutx writer made (the name holds this write's etcd "
                      "lease); nothing was changed",
                  "Another program created it: move it away, then run again.");
    throw_errno(std::string("cannot create ") + what + " in", dir_name(display), err);
  }
  // For sweepers on this host. Housekeep removes a lease-named temp only
  // once etcd says its lease is gone, so a claim that fails now (a
  // sweeper asking etcd holds it) costs nothing: this writer, whose lease
  // is alive, keeps its name.
  claim_inode(fd.get());
  return fd;
}

}  // namespace

const char* shared_filesystem(int dfd) noexcept {
  struct statfs fs;
  if (::fstatfs(dfd, &fs) != 0) return nullptr;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0x65735546: return "FUSE";  // sshfs, s3fs, glusterfs, ceph-fuse...
    case 0x6969: return "NFS";
    case 0x517B: return "SMB";
    case 0xFF534D42: return "CIFS";
    case 0xFE534D42: return "SMB2";
    case 0x00C36400: return "CephFS";
    case 0x01161970: return "GFS2";
    case 0x7461636F: return "OCFS2";
    case 0x5346414F: return "AFS";
    case 0x6B414653: return "AFS";
    case 0x01021997: return "9p";
    case 0x73757245: return "Coda";
    case 0x0BD00BD0: return "Lustre";
    case 0x47504653: return "GPFS";
    case 0x13661366: return "OrangeFS";
    default: return nullptr;
  }
}

bool created_elsewhere(int dfd, const std::string& name) noexcept {
  if (errno != EPERM) return false;
  struct stat st;
  const bool exists = ::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  errno = EPERM;
  return exists || shared_filesystem(dfd);
}

std::string unwritable_directory_hint(const std::string& dir_display) {
  const std::string dir = dir_name(dir_display);
  return "You may not create files in " + dir +
         ", and replacing a file there needs that: its new content (and its lock file) is created beside it and "
         "renamed over it. Run with sudo, or check the directory's permissions (ls -ld " + dir + ").";
}

bool claim_inode(int fd) noexcept {
  for (;;) {
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) return true;
    if (errno != EINTR) return false;
  }
}

temp_probe claim_stale_temp(int dfd, const std::string& name, unique_fd& locked, struct stat& st) noexcept {
  locked.reset();
  if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? temp_probe::gone : temp_probe::foreign;
  if (!S_ISREG(st.st_mode)) return temp_probe::foreign;
  // O_NONBLOCK: a FIFO swapped in meanwhile must not hang us; fstat below
  // proves what was opened.
  unique_fd fd(::openat(dfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd) return errno == ENOENT ? temp_probe::gone : temp_probe::foreign;
  struct stat opened;
  if (::fstat(fd.get(), &opened) != 0 || !S_ISREG(opened.st_mode) || opened.st_dev != st.st_dev ||
      opened.st_ino != st.st_ino)
    return temp_probe::foreign;
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) break;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? temp_probe::live : temp_probe::foreign;
  }
  // Held: no writer can claim it any more. The name must still be this
  // inode (a writer may have moved on and another file taken the name).
  if (!name_is(dfd, name, opened)) return temp_probe::gone;
  // ...on this host. Where other hosts mount the directory, their writers'
  // flocks are not seen here (measured on two sshfs mounts: 10-34 % of
  // writes lost their temp to the other host's sweep), and no age proves
  // a writer elsewhere gone.
  if (shared_filesystem(dfd)) return temp_probe::shared;
  st = opened;
  locked = std::move(fd);
  return temp_probe::stale;
}

std::vector<std::string> sweep_stale_temps(int dfd, std::string_view target, std::vector<std::string>* kept) {
  std::vector<std::string> removed;
  if (!kept && shared_filesystem(dfd)) return removed;
  for (int slot = 0; slot < 2 * temp_slots; ++slot) {
    // The staging slots, then the check copies' (a writer killed while its
    // check command ran).
    std::string name = slot < temp_slots ? temp_slot_name(target, slot) : check_slot_name(target, slot - temp_slots);
    unique_fd locked;
    struct stat st;
    const temp_probe p = claim_stale_temp(dfd, name, locked, st);
    if (p == temp_probe::shared && kept) kept->push_back(name);
    if (p != temp_probe::stale) continue;
    if (::unlinkat(dfd, name.c_str(), 0) == 0) removed.push_back(std::move(name));
  }
  return removed;
}

check_copy::check_copy(int dfd, const std::string& target, const std::string& dir_display, int content_fd,
                       const std::string& display, std::int64_t lease)
    : dfd_(dfd) {
  // Created under its name at once (no O_TMPFILE): the name is claimed
  // before the content is copied in, so a writer killed meanwhile leaves a
  // claimable, recognisable temp that the next sweep or housekeep removes.
  if (names_temps_by_lease(dfd_, lease)) {
    name_ = lease_check_name(target, lease);
    fd_ = create_lease_named(dfd_, name_, 0600, dir_display, "a copy to check");
  }
  for (int attempt = 0; !fd_ && attempt < temp_slots + random_attempts; ++attempt) {
    std::string candidate = attempt < temp_slots ? check_slot_name(target, attempt) : random_check_name(target);
    unique_fd fd(::openat(dfd_, candidate.c_str(), O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, 0600));
    if (!fd) {
      if (errno != EEXIST && !created_elsewhere(dfd_, candidate))
        throw_errno("cannot create a copy to check in", dir_name(dir_display));
      continue;
    }
    struct stat st;
    if (claim_inode(fd.get()) && ::fstat(fd.get(), &st) == 0 && name_is(dfd_, candidate, st)) {
      fd_ = std::move(fd);
      name_ = std::move(candidate);
      break;
    }
  }
  if (!fd_) throw_errno("cannot create a copy to check in", dir_name(dir_display), EEXIST);
  path_ = join_path(dir_display, name_);
  // Those who run the check see what the target will be: content, then
  // owner (when permitted) and mode.
  copy_file_contents(content_fd, 0, fd_.get(), 0, display, path_);
  struct stat meta;
  if (::fstat(content_fd, &meta) == 0) {
    if (::fchown(fd_.get(), meta.st_uid, meta.st_gid) != 0) {
      // Only root may give it away; the caller's own file is still readable to the caller.
    }
    ::fchmod(fd_.get(), meta.st_mode & 07777);
  }
}

check_copy::~check_copy() { remove(); }

void check_copy::remove() noexcept {
  // Only while the name is still our inode: the command may have renamed
  // it, and another file may have its name now.
  if (fd_ && name_is_fd(dfd_, name_, fd_.get())) ::unlinkat(dfd_, name_.c_str(), 0);
  fd_.reset();
}

std::string link_under_temp_name(int fd, int from_dfd, const std::string& from, int dfd, std::string_view target,
                                 const std::string& display) {
  std::string proc = fd >= 0 ? "/proc/self/fd/" + std::to_string(fd) : std::string();
  for (int attempt = 0; attempt < temp_slots + random_attempts; ++attempt) {
    std::string name = candidate_name(target, attempt);
    int rc;
    if (fd < 0) {
      rc = ::linkat(from_dfd, from.c_str(), dfd, name.c_str(), 0);
    } else {
      rc = ::linkat(fd, "", dfd, name.c_str(), AT_EMPTY_PATH);
      // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older kernels; the
      // /proc/self/fd path works for any user who owns the descriptor.
      if (rc != 0 && (errno == ENOENT || errno == EPERM || errno == EINVAL))
        rc = ::linkat(AT_FDCWD, proc.c_str(), dfd, name.c_str(), AT_SYMLINK_FOLLOW);
    }
    if (rc == 0) return name;
    if (errno != EEXIST) throw_errno("cannot link temporary file into", dir_name(display));
  }
  throw_errno("cannot link temporary file into", dir_name(display), EEXIST);
}

staged_file::staged_file(int dfd, std::string name, std::string display, mode_t mode, std::int64_t lease)
    : dfd_(dfd), name_(std::move(name)), display_(std::move(display)) {
  if (names_temps_by_lease(dfd_, lease)) lease_ = lease;
  fd_.reset(::openat(dfd_, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode));
  if (fd_) {
    // Nobody else can reach it yet: the shared flock always succeeds, and
    // covers the temp name publish() links it under.
    claim_inode(fd_.get());
    return;
  }
  int err = errno;
  if (err != EOPNOTSUPP && err != EISDIR && err != EINVAL && err != ENOENT) temp_not_created(display_, err);
  // No O_TMPFILE here (FUSE, NFS, older filesystems): a named temp that
  // only mutx's own name pattern matches, removed on any failure. Under an
  // etcd lease on a shared filesystem, the one name of the writer's lease.
  if (lease_) {
    std::string candidate = lease_temp_name(name_, lease_);
    fd_ = create_lease_named(dfd_, candidate, mode, display_, "a temporary file");
    temp_ = std::move(candidate);
    named_ = true;
    return;
  }
  int last = EEXIST;
  for (int attempt = 0; attempt < temp_slots + random_attempts; ++attempt) {
    std::string candidate = candidate_name(name_, attempt);
    unique_fd fd(::openat(dfd_, candidate.c_str(), O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, mode));
    if (!fd) {
      const int create_err = errno;
      if (create_err != EEXIST && !created_elsewhere(dfd_, candidate)) temp_not_created(display_, create_err);
      last = errno;
      continue;
    }
    // A sweeper may have found the name in the instant before our flock:
    // it then holds the inode exclusively and removes the name; move on.
    struct stat st;
    if (claim_inode(fd.get()) && ::fstat(fd.get(), &st) == 0 && name_is(dfd_, candidate, st)) {
      fd_ = std::move(fd);
      temp_ = std::move(candidate);
      named_ = true;
      return;
    }
  }
  throw_errno("cannot create a temporary file in", dir_name(display_), last);
}

staged_file::~staged_file() {
  if (!published_ && !temp_.empty()) ::unlinkat(dfd_, temp_.c_str(), 0);
}

void staged_file::publish() {
  const std::string target = join_path(display_, name_);
  if (temp_.empty() && lease_) {
    // O_TMPFILE on a shared filesystem (FUSE may offer it): the link too
    // takes the lease's name.
    std::string name = lease_temp_name(name_, lease_);
    if (::linkat(AT_FDCWD, ("/proc/self/fd/" + std::to_string(fd_.get())).c_str(), dfd_, name.c_str(),
                 AT_SYMLINK_FOLLOW) != 0)
      throw_errno("cannot link temporary file into", dir_name(display_));
    temp_ = std::move(name);
  }
  if (temp_.empty()) temp_ = link_under_temp_name(fd_.get(), -1, {}, dfd_, name_, display_);
  if (::renameat(dfd_, temp_.c_str(), dfd_, name_.c_str()) != 0) throw_errno("cannot rename temporary file onto", target);
  published_ = true;
}

}  // namespace mutx
