#include "mutx/staging.hpp"

#include "mutx/error.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace mutx {

std::string temp_prefix(const std::string& name) {
  return "." + name + ".mutx-";
}

namespace {
constexpr std::size_t random_length = 12;
}  // namespace

std::string temp_name(const std::string& name) {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char raw[random_length];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) {
    // getrandom cannot fail for 12 bytes once the pool is up; fall back to
    // something unique to this process rather than aborting a write.
    for (unsigned i = 0; i < sizeof raw; ++i) raw[i] = static_cast<unsigned char>((::getpid() >> (i % 4)) + i * 7);
  }
  std::string out = temp_prefix(name);
  for (unsigned char c : raw) out += alphabet[c % (sizeof alphabet - 1)];
  return out;
}

void check_temp_name_fits(int dfd, const std::string& name, const std::string& display) {
  const long name_max = ::fpathconf(dfd, _PC_NAME_MAX);
  const long extra = static_cast<long>(temp_prefix("").size() + random_length);
  if (name_max <= 0 || static_cast<long>(name.size()) + extra <= name_max) return;
  throw error(errno_code(ENAMETOOLONG), "", display)
      .with_hint("mutx stages the new content as .NAME.mutx-XXXXXXXXXXXX beside it, and this directory takes names of "
                 "at most " + std::to_string(name_max) + " bytes: NAME can have " +
                 std::to_string(std::max(0L, name_max - extra)) + " at most.");
}

namespace {

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir == ".") return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

}  // namespace

staged_file::staged_file(int dfd, std::string name, std::string display)
    : dfd_(dfd), name_(std::move(name)), display_(std::move(display)) {
  fd_.reset(::openat(dfd_, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd_) return;
  int err = errno;
  if (err != EOPNOTSUPP && err != EISDIR && err != EINVAL && err != ENOENT)
    throw_errno("cannot create a temporary file in", display_.empty() ? "." : display_, err);
  // No O_TMPFILE here (FUSE, NFS, older filesystems): a named temp that
  // only mutx's own name pattern matches, removed on any failure.
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string candidate = temp_name(name_);
    fd_.reset(::openat(dfd_, candidate.c_str(), O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, 0600));
    if (fd_) {
      temp_ = std::move(candidate);
      return;
    }
    if (errno != EEXIST) throw_errno("cannot create a temporary file in", display_.empty() ? "." : display_);
  }
  throw_errno("cannot create a temporary file in", display_.empty() ? "." : display_, EEXIST);
}

staged_file::~staged_file() {
  if (!published_ && !temp_.empty()) ::unlinkat(dfd_, temp_.c_str(), 0);
}

void staged_file::publish() {
  const std::string target = join(display_, name_);
  if (!temp_.empty()) {
    if (::renameat(dfd_, temp_.c_str(), dfd_, name_.c_str()) != 0) throw_errno("cannot rename temporary file onto", target);
    published_ = true;
    return;
  }
  // linkat cannot replace a name, so the file first gets a temp name.
  std::string link_name;
  for (int attempt = 0; attempt < 16; ++attempt) {
    link_name = temp_name(name_);
    int rc = ::linkat(fd_.get(), "", dfd_, link_name.c_str(), AT_EMPTY_PATH);
    if (rc != 0 && (errno == ENOENT || errno == EPERM || errno == EINVAL)) {
      // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older kernels; the
      // /proc/self/fd path works for any user who owns the descriptor.
      std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
      rc = ::linkat(AT_FDCWD, proc.c_str(), dfd_, link_name.c_str(), AT_SYMLINK_FOLLOW);
    }
    if (rc == 0) break;
    if (errno != EEXIST) throw_errno("cannot link temporary file into", display_.empty() ? "." : display_);
    link_name.clear();
  }
  if (link_name.empty()) throw_errno("cannot link temporary file into", display_.empty() ? "." : display_, EEXIST);
  if (::renameat(dfd_, link_name.c_str(), dfd_, name_.c_str()) != 0) {
    int err = errno;
    ::unlinkat(dfd_, link_name.c_str(), 0);
    throw_errno("cannot rename temporary file onto", target, err);
  }
  published_ = true;
}

}  // namespace mutx
