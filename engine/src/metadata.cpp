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

mode_t final_mode(const metadata_options& opts, const struct stat* old, mode_t* touched) {
  if (touched) *touched = 0;
  const mode_t umask = current_umask();
  const mode_t base = opts.preserve_mode && old ? old->st_mode & 07777 : 0666 & ~umask;
  return opts.mode ? opts.mode->apply(base, umask, touched) : base;
}

namespace {

constexpr const char* capability_xattr = "security.capability";

// --owner/--group on `fd`, if given.
void set_owner(int fd, const metadata_options& opts, const std::string& display) {
  if (!opts.uid && !opts.gid) return;
  if (::fchown(fd, opts.uid.value_or(static_cast<uid_t>(-1)), opts.gid.value_or(static_cast<gid_t>(-1))) == 0) return;
  const int err = errno;
  error e(errno_code(err), display + ": cannot set " + describe_owner(opts.uid, opts.gid));
  if (err == EPERM)
    e.with_hint("Only root may give a file to another user; others may choose only a group they belong to. The target "
                "was left as it was.");
  throw std::move(e).with_reason(failure_reason::owner_not_set);
}

// A set-id bit names the old owner or group. Kept on a file that now
// belongs to someone else (root, by default) it would hand out their
// privileges: drop it, as cp does, unless the mode given sets it (`touched`).
mode_t drop_foreign_setid(mode_t mode, mode_t touched, const struct stat& old, int fd, const metadata_options& opts,
                          const std::string& display, std::vector<std::string>& warnings) {
  const mode_t kept = mode & (S_ISUID | S_ISGID) & ~touched;
  if (!kept) return mode;
  struct stat now;
  if (::fstat(fd, &now) != 0) throw_errno("cannot inspect the new", display);
  const char* advice = opts.uid || opts.gid ? "(set it with --mode)" : "(use --preserve-owner)";
  if ((kept & S_ISUID) && now.st_uid != old.st_uid) {
    mode &= ~static_cast<mode_t>(S_ISUID);
    warnings.push_back("set-user-ID bit of " + display + " was not kept: the owner changed " + advice);
  }
  if ((kept & S_ISGID) && now.st_gid != old.st_gid) {
    mode &= ~static_cast<mode_t>(S_ISGID);
    warnings.push_back("set-group-ID bit of " + display + " was not kept: the group changed " + advice);
  }
  return mode;
}

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
  set_owner(staged, opts, display);
  mode_t touched = 0;
  mode_t mode = final_mode(opts, old, &touched);
  if (old) mode = drop_foreign_setid(mode, touched, *old, staged, opts, display, warnings);
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

mode_t apply_in_place(int target, const struct stat& old, const metadata_options& opts, const std::string& display,
                      std::vector<std::string>& warnings) {
  set_owner(target, opts, display);
  mode_t touched = 0;
  mode_t mode = final_mode(opts, &old, &touched);
  mode = drop_foreign_setid(mode, touched, old, target, opts, display, warnings);
  struct stat now;
  if (::fstat(target, &now) != 0) throw_errno("cannot inspect", display);
  if ((now.st_mode & 07777) != mode && ::fchmod(target, mode) != 0) throw_errno("cannot set the mode of", display);
  return mode;
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

// The first entry of `file` (read with `next`: fgetpwent_r or fgetgrent_r)
// that `match` accepts, passed to `take`. False when there is none.
template <typename Entry, typename Next, typename Match, typename Take>
bool find_entry(const char* file, Next next, Match match, Take take) {
  std::FILE* f = std::fopen(file, "re");
  if (!f) return false;
  char buf[4096];
  Entry entry, *e = nullptr;
  bool found = false;
  while (!found && next(f, &entry, buf, sizeof buf, &e) == 0 && e)
    if (match(*e)) {
      take(*e);
      found = true;
    }
  std::fclose(f);
  return found;
}

// "N" or "+N" within the range of uid_t/gid_t (not -1, which means "no change").
std::optional<unsigned> plain_number(const std::string& text) {
  std::string digits = text.starts_with("+") ? text.substr(1) : text;
  if (digits.empty() || digits.size() > 10 || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  unsigned long long v = std::stoull(digits);
  if (v >= 0xffffffffULL) return std::nullopt;
  return static_cast<unsigned>(v);
}

}  // namespace

std::string user_name(uid_t uid) {
  std::string name = std::to_string(uid);
  find_entry<struct passwd>("/etc/passwd", ::fgetpwent_r, [&](const passwd& p) { return p.pw_uid == uid; },
                            [&](const passwd& p) { name = p.pw_name; });
  return name;
}

std::string group_name(gid_t gid) {
  std::string name = std::to_string(gid);
  find_entry<struct group>("/etc/group", ::fgetgrent_r, [&](const group& g) { return g.gr_gid == gid; },
                           [&](const group& g) { name = g.gr_name; });
  return name;
}

std::string owner_name(uid_t uid, gid_t gid) { return user_name(uid) + ":" + group_name(gid); }

std::optional<uid_t> find_user(const std::string& name, gid_t* login_group) {
  std::optional<uid_t> uid;
  gid_t gid = static_cast<gid_t>(-1);
  if (!name.empty() && !name.starts_with("+"))
    find_entry<struct passwd>("/etc/passwd", ::fgetpwent_r, [&](const passwd& p) { return name == p.pw_name; },
                              [&](const passwd& p) {
                                uid = p.pw_uid;
                                gid = p.pw_gid;
                              });
  if (!uid) {
    auto n = plain_number(name);
    if (!n) return std::nullopt;
    uid = *n;
    // chown(1) gives "N:" the group of the user whose number N is.
    find_entry<struct passwd>("/etc/passwd", ::fgetpwent_r, [&](const passwd& p) { return p.pw_uid == *uid; },
                              [&](const passwd& p) { gid = p.pw_gid; });
  }
  if (login_group) *login_group = gid;
  return uid;
}

std::optional<gid_t> find_group(const std::string& name) {
  std::optional<gid_t> gid;
  if (!name.empty() && !name.starts_with("+"))
    find_entry<struct group>("/etc/group", ::fgetgrent_r, [&](const group& g) { return name == g.gr_name; },
                             [&](const group& g) { gid = g.gr_gid; });
  if (!gid)
    if (auto n = plain_number(name)) gid = *n;
  return gid;
}

std::string describe_owner(std::optional<uid_t> uid, std::optional<gid_t> gid) {
  if (!uid) return gid ? "group " + group_name(*gid) : std::string("owner");
  return "owner " + user_name(*uid) + (gid ? ":" + group_name(*gid) : "");
}

}  // namespace mutx
