#include "mutx/metadata.hpp"

#include "mutx/error.hpp"

#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

namespace mutx {

namespace {

mode_t current_umask() {
  mode_t m = ::umask(0);
  ::umask(m);
  return m;
}

// flistxattr/fgetxattr into a string, growing on ERANGE.
template <class Call>
bool read_sized(std::string& out, Call call) {
  for (std::size_t size = 1024; size <= (1u << 20); size *= 4) {
    out.resize(size);
    ssize_t n = call(out.data(), out.size());
    if (n >= 0) {
      out.resize(static_cast<std::size_t>(n));
      return true;
    }
    if (errno != ERANGE) return false;
  }
  return false;
}

}  // namespace

mode_t final_mode(const metadata_options& opts, const struct stat* old) {
  if (opts.mode) return *opts.mode & 07777;
  if (opts.preserve_mode && old) return old->st_mode & 07777;
  return 0666 & ~current_umask();
}

std::vector<std::string> copy_xattrs(int from, int to, const std::string& display) {
  std::vector<std::string> warnings;
  std::string names;
  if (!read_sized(names, [&](char* b, std::size_t n) { return ::flistxattr(from, b, n); })) {
    if (errno != ENOTSUP) warnings.push_back("cannot list extended attributes of " + display + ": " + describe(errno_code()));
    return warnings;
  }
  for (std::size_t i = 0; i < names.size();) {
    std::string name(names.c_str() + i);
    i += name.size() + 1;
    if (name.empty()) continue;
    std::string value;
    if (!read_sized(value, [&](char* b, std::size_t n) { return ::fgetxattr(from, name.c_str(), b, n); })) {
      if (errno != ENODATA) warnings.push_back("cannot read attribute " + name + " of " + display + ": " + describe(errno_code()));
      continue;
    }
    if (::fsetxattr(to, name.c_str(), value.data(), value.size(), 0) != 0) {
      // trusted.* and security.* may be refused to an unprivileged caller,
      // and some filesystems take no xattrs at all: the write goes on, but
      // the user hears of what was lost.
      warnings.push_back("attribute " + name + " of " + display + " was not kept: " + describe(errno_code()));
    }
  }
  return warnings;
}

std::vector<std::string> apply_metadata(int staged, int old_fd, const struct stat* old,
                                        const metadata_options& opts, const std::string& display) {
  std::vector<std::string> warnings;
  if (old && opts.owner != owner_policy::caller) {
    if (::fchown(staged, old->st_uid, old->st_gid) != 0) {
      int err = errno;
      if (opts.owner == owner_policy::preserve || (err != EPERM && err != EINVAL))
        throw error(errno_code(err), "cannot preserve the owner of", display)
            .with_hint("Only root may give a file to another user; use --try-preserve-owner to go on without it.");
    }
  }
  mode_t mode = final_mode(opts, old);
  if (::fchmod(staged, mode) != 0) throw_errno("cannot set the mode of the new", display);
  if (old_fd >= 0) {
    auto xw = copy_xattrs(old_fd, staged, display);
    warnings.insert(warnings.end(), xw.begin(), xw.end());
    // An ACL copied over a different explicit mode rewrites the group bits;
    // the explicit --mode wins.
    if (opts.mode && ::fchmod(staged, mode) != 0) throw_errno("cannot set the mode of the new", display);
  }
  return warnings;
}

}  // namespace mutx
