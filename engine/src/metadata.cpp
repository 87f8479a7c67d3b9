#include "mutx/metadata.hpp"

#include <grp.h>
#include <pwd.h>

#include "mutx/error.hpp"

#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

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

namespace {
constexpr const char* capability_xattr = "security.capability";
}  // namespace

std::vector<std::string> copy_xattrs(int from, int to, const std::string& display, const char* skip) {
  std::vector<std::string> warnings;
  std::string names;
  if (!read_sized(names, [&](char* b, std::size_t n) { return ::flistxattr(from, b, n); })) {
    if (errno != ENOTSUP) warnings.push_back("cannot list extended attributes of " + display + ": " + describe(errno_code()));
    return warnings;
  }
  for (std::size_t i = 0; i < names.size();) {
    std::string name(names.c_str() + i);
    i += name.size() + 1;
    if (name.empty() || (skip && name == skip)) continue;
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
            .with_hint("Only root may give a file to another user; keep the owner only where permitted to go on "
                       "without it.")
            .with_reason(failure_reason::owner_not_kept);
      // Like cp -p: the user cannot be kept, but the group may be one the
      // caller belongs to.
      ::fchown(staged, static_cast<uid_t>(-1), old->st_gid);
    }
  }
  mode_t mode = final_mode(opts, old);
  if (old && !opts.mode && (mode & (S_ISUID | S_ISGID))) {
    // A set-id bit names the old owner or group. Kept on a file that now
    // belongs to someone else (root, by default) it would hand out their
    // privileges: drop it, as cp does, unless --mode asks for it.
    struct stat now;
    if (::fstat(staged, &now) != 0) throw_errno("cannot inspect the new", display);
    if ((mode & S_ISUID) && now.st_uid != old->st_uid) {
      mode &= ~static_cast<mode_t>(S_ISUID);
      warnings.push_back("set-user-ID bit of " + display + " was not kept: the owner changed (use --preserve-owner)");
    }
    if ((mode & S_ISGID) && now.st_gid != old->st_gid) {
      mode &= ~static_cast<mode_t>(S_ISGID);
      warnings.push_back("set-group-ID bit of " + display + " was not kept: the group changed (use --preserve-owner)");
    }
  }
  // A new file keeps the mode the kernel gave it at creation (0666 less
  // the umask, or what the directory's default ACL says).
  if ((old || opts.mode) && ::fchmod(staged, mode) != 0) throw_errno("cannot set the mode of the new", display);
  if (old_fd >= 0) {
    auto xw = copy_xattrs(old_fd, staged, display, capability_xattr);
    warnings.insert(warnings.end(), xw.begin(), xw.end());
    // An ACL copied over a different explicit mode rewrites the group bits;
    // the explicit --mode wins.
    if (opts.mode && ::fchmod(staged, mode) != 0) throw_errno("cannot set the mode of the new", display);
  }
  return warnings;
}

std::vector<std::string> restore_after_write(int staged, mode_t mode, int old_fd, const std::string& display) {
  std::vector<std::string> warnings;
  mode &= 07777;
  if (mode & (S_ISUID | S_ISGID)) {
    struct stat now;
    if (::fstat(staged, &now) != 0) throw_errno("cannot inspect the new", display);
    if ((now.st_mode & 07777) != mode && ::fchmod(staged, mode) != 0)
      throw_errno("cannot set the mode of the new", display);
  }
  std::string cap;
  if (old_fd >= 0 && read_sized(cap, [&](char* b, std::size_t n) { return ::fgetxattr(old_fd, capability_xattr, b, n); }) &&
      ::fsetxattr(staged, capability_xattr, cap.data(), cap.size(), 0) != 0)
    warnings.push_back(std::string("attribute ") + capability_xattr + " of " + display + " was not kept: " +
                       describe(errno_code()));
  return warnings;
}

// The binary is linked statically, where getpwuid() would need glibc's NSS
// modules at run time: the local files are read directly (fgetpwent_r
// uses no NSS). A user only a directory service knows shows as a number.
namespace {

// The name of the entry of `file` whose id is `id`, read with `next`
// (fgetpwent_r or fgetgrent_r); the number when there is none.
template <typename Entry, typename Next, typename Id, typename Name>
std::string name_in(const char* file, unsigned id, Next next, Id id_of, Name name_of) {
  std::string name = std::to_string(id);
  std::FILE* f = std::fopen(file, "re");
  if (!f) return name;
  char buf[4096];
  Entry entry, *e = nullptr;
  while (next(f, &entry, buf, sizeof buf, &e) == 0 && e)
    if (id_of(*e) == id) {
      name = name_of(*e);
      break;
    }
  std::fclose(f);
  return name;
}

}  // namespace

std::string owner_name(uid_t uid, gid_t gid) {
  return name_in<struct passwd>("/etc/passwd", uid, ::fgetpwent_r, [](const passwd& p) { return p.pw_uid; },
                                [](const passwd& p) { return p.pw_name; }) +
         ":" +
         name_in<struct group>("/etc/group", gid, ::fgetgrent_r, [](const group& g) { return g.gr_gid; },
                               [](const group& g) { return g.gr_name; });
}

}  // namespace mutx
