// A tar stream into a tree_builder, by libarchive (tar formats only:
// ustar, pax, GNU and their extensions, as archive_read_support_format_tar
// reads them; no decompression filters, so the static binary links
// libarchive.a alone).
#include "tree_build.hpp"

#include "mutx/audit_log.hpp"

#include "mutx/error.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

namespace mutx::detail {

namespace {

struct stream {
  int fd;
  const std::atomic<bool>& cancel;
  std::unique_ptr<char[]> buf = std::make_unique<char[]>(size);
  std::uint64_t total = 0;
  bool interrupted = false;
  static constexpr std::size_t size = 1 << 20;
};

// libarchive pulls; a read waits in slices so that an interrupt is seen.
la_ssize_t pull(struct archive* a, void* data, const void** out) {
  auto* s = static_cast<stream*>(data);
  for (;;) {
    if (s->cancel.load(std::memory_order_relaxed)) {
      s->interrupted = true;
      archive_set_error(a, EINTR, "interrupted");
      return -1;
    }
    struct pollfd p {s->fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 100);
    if (ready < 0 && errno != EINTR) break;
    if (ready > 0) break;
  }
  for (;;) {
    const ssize_t n = ::read(s->fd, s->buf.get(), stream::size);
    if (n >= 0) {
      s->total += static_cast<std::uint64_t>(n);
      *out = s->buf.get();
      return n;
    }
    if (errno == EINTR) continue;
    archive_set_error(a, errno, "read error");
    return -1;
  }
}

tree_entry::kind kind_of(struct archive_entry* e) {
  using k = tree_entry::kind;
  if (archive_entry_hardlink(e)) return k::hardlink;
  switch (archive_entry_filetype(e)) {
    case AE_IFREG: return k::file;
    case AE_IFDIR: return k::directory;
    case AE_IFLNK: return k::symlink;
    case AE_IFIFO: return k::fifo;
    case AE_IFCHR: return k::char_device;
    case AE_IFBLK: return k::block_device;
    case AE_IFSOCK: return k::socket;
    default: return k::unknown;
  }
}

}  // namespace

std::uint64_t read_tar(int fd, const std::string& name, tree_builder& b, const std::atomic<bool>& cancel,
                       bool& empty_input) {
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
  if (!a) throw error(errno_code(ENOMEM), "cannot read", name);
  archive_read_support_format_tar(a.get());
  stream s{fd, cancel};
  auto damaged = [&](const std::string& where) -> error {
    if (s.interrupted) return error(failure_kind::interrupted, "Interrupted");
    const char* why = archive_error_string(a.get());
    std::string text = name + ": " + where + ": " + (why ? why : "unreadable");
    return error(failure_kind::io, text,
                 "The input must be an uncompressed tar stream (tar -c; decompress first, e.g. zcat FILE.tar.gz | "
                 "...). Nothing was published.");
  };
  if (archive_read_open(a.get(), &s, nullptr, pull, nullptr) != ARCHIVE_OK) {
    if (s.total == 0 && !s.interrupted) {
      empty_input = true;
      return 0;
    }
    throw damaged("not a tar archive");
  }
  std::uint64_t entries = 0;
  for (;;) {
    struct archive_entry* e = nullptr;
    const int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    // ARCHIVE_RETRY: a damaged header (a bad checksum) libarchive would
    // skip; a tree is written whole or not at all.
    if (rc < ARCHIVE_WARN || rc == ARCHIVE_RETRY) {
      if (s.total == 0 && !s.interrupted) {
        empty_input = true;
        return 0;
      }
      throw damaged(entries ? "after entry " + std::to_string(entries) : std::string("not a tar archive"));
    }
    tree_entry t;
    const char* path = archive_entry_pathname(e);
    t.path = path ? path : "";
    t.type = kind_of(e);
    t.mode = archive_entry_perm(e) & 07777;
    t.uid = static_cast<uid_t>(archive_entry_uid(e));
    t.gid = static_cast<gid_t>(archive_entry_gid(e));
    if (t.type == tree_entry::kind::hardlink) t.link = archive_entry_hardlink(e);
    if (t.type == tree_entry::kind::symlink && archive_entry_symlink(e)) t.link = archive_entry_symlink(e);
    if (archive_entry_mtime_is_set(e))
      t.mtime = timespec{static_cast<time_t>(archive_entry_mtime(e)), archive_entry_mtime_nsec(e)};
    t.rdev = archive_entry_rdev(e);
    const la_int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    b.add(t, [&](int out) -> std::uint64_t {
      const void* buf;
      size_t len;
      la_int64_t off;
      std::uint64_t written = 0;
      for (;;) {
        const int r = archive_read_data_block(a.get(), &buf, &len, &off);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) throw damaged("entry '" + printable(t.path) + "'");
        const char* p = static_cast<const char*>(buf);
        while (len > 0) {
          const ssize_t n = ::pwrite(out, p, len, off);
          if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("cannot write", b.display_of(t.path));
          }
          p += n;
          off += n;
          len -= static_cast<size_t>(n);
          written += static_cast<std::uint64_t>(n);
        }
      }
      // A sparse file's hole at the end.
      if (size > 0 && static_cast<std::uint64_t>(size) > written && ::ftruncate(out, size) != 0) throw_errno("cannot write", b.display_of(t.path));
      return size > 0 ? static_cast<std::uint64_t>(size) : written;
    });
    ++entries;
  }
  if (s.total == 0) empty_input = true;
  return entries;
}

}  // namespace mutx::detail
