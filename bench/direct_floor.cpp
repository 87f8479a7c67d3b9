// The floor of a durable big write on this disk: the writes mutx's durable
// --stream issues (engine/src/pump.cpp, direct_write.cpp), with nothing else: no pipe to read,
// no event loop, no commit protocol. bench/stream.sh times it next to mutx
// and dd, so the share of a run that is the disk's own is visible in every
// run, on whatever the disk does that hour.
//
//   direct_floor SIZE_MIB OUTPUT
//
// Four aligned 4 MiB buffers of pseudo-random bytes (filled once: the same
// bytes are written again and again) kept in flight as io_uring writes to
// OUTPUT opened O_CREAT|O_TRUNC|O_DIRECT, an fdatasync on the ring every
// 32 MiB written (one at a time), then fsync.
// Exits 1 on the first failure, with the reason.
#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr std::size_t mib = 1024 * 1024;
constexpr unsigned slot_count = 4;               // as direct_write.hpp: inflight_writes::slot_count
constexpr std::size_t slot_size = 4 * mib;       // as direct_write.hpp: inflight_writes::slot_size
constexpr std::uint64_t flush_step = 32 * mib;   // as direct_write.hpp: flush_behind::step
constexpr std::uint64_t tag_flush = slot_count;  // user_data of the flush

[[noreturn]] void die(const char* what, int err) {
  std::fprintf(stderr, "direct_floor: %s: %s\n", what, std::strerror(err));
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  char* end = nullptr;
  unsigned long long size_mib = argc == 3 ? std::strtoull(argv[1], &end, 10) : 0;
  if (argc != 3 || *end != '\0' || size_mib == 0) {
    std::fprintf(stderr, "usage: direct_floor SIZE_MIB OUTPUT\n");
    return 2;
  }
  const std::uint64_t total = size_mib * mib;  // the last write may be short, but stays aligned

  // Only the buffers a write of this size uses, as mutx touches only what it
  // fills; 2 MiB pages, as direct_write.cpp asks for once a stream fills a slot.
  const std::size_t used = total < slot_count * slot_size ? (total + slot_size - 1) / slot_size * slot_size
                                                          : slot_count * slot_size;
  void* mem = nullptr;
  if (int err = ::posix_memalign(&mem, 2 * mib, slot_count * slot_size); err != 0) die("posix_memalign", err);
  if (total >= slot_size) ::madvise(mem, slot_count * slot_size, MADV_HUGEPAGE);
  // Bytes that no disk or host can compress (splitmix64): getrandom would
  // cost ~75 ms for 16 MiB, which is not the disk's time.
  auto* buf = static_cast<unsigned char*>(mem);
  std::uint64_t x = 0x9e3779b97f4a7c15u ^ static_cast<std::uint64_t>(::getpid());
  for (std::size_t i = 0; i < used; i += sizeof x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    std::memcpy(buf + i, &z, sizeof z);
  }

  int fd = ::open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644);
  if (fd < 0) die(argv[2], errno);
  io_uring ring;
  if (int err = ::io_uring_queue_init(2 * slot_count, &ring, 0); err < 0) die("io_uring_queue_init", -err);

  std::uint64_t next = 0, written = 0, flushed_to = 0;
  bool slot_busy[slot_count] = {};
  std::uint64_t slot_len[slot_count] = {};
  bool flushing = false;
  while (written < total || flushing) {
    for (unsigned s = 0; s < slot_count && next < total; ++s) {
      if (slot_busy[s]) continue;
      std::uint64_t len = total - next < slot_size ? total - next : slot_size;
      io_uring_sqe* sqe = ::io_uring_get_sqe(&ring);
      ::io_uring_prep_write(sqe, fd, buf + s * slot_size, static_cast<unsigned>(len), next);
      ::io_uring_sqe_set_data64(sqe, s);
      slot_busy[s] = true;
      slot_len[s] = len;
      next += len;
    }
    if (!flushing && written < total && written - flushed_to >= flush_step) {
      io_uring_sqe* sqe = ::io_uring_get_sqe(&ring);
      ::io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
      ::io_uring_sqe_set_data64(sqe, tag_flush);
      flushing = true;
      flushed_to = written;
    }
    if (int err = ::io_uring_submit_and_wait(&ring, 1); err < 0) die("io_uring_submit_and_wait", -err);
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      std::uint64_t tag = ::io_uring_cqe_get_data64(cqe);
      if (cqe->res < 0) die(tag == tag_flush ? "fdatasync" : "write", -cqe->res);
      if (tag == tag_flush) {
        flushing = false;
      } else {
        // A short direct write would leave a hole: direct_write.cpp resubmits the
        // rest, the floor simply refuses to measure such a disk.
        if (static_cast<std::uint64_t>(cqe->res) != slot_len[tag]) die("write", EIO);
        slot_busy[tag] = false;
        written += slot_len[tag];
      }
    }
    ::io_uring_cq_advance(&ring, seen);
  }
  if (::fsync(fd) != 0) die("fsync", errno);
  ::io_uring_queue_exit(&ring);
  ::close(fd);
  return 0;
}
