// Writing with O_DIRECT: the pieces both direct strategies of pump.cpp are
// made of, a stream from a pipe and simple mode's memory input alike.
//
//   aligned_buffer   the aligned memory O_DIRECT needs
//   set_direct       O_DIRECT on or off an open descriptor
//   inflight_writes  up to four 4 MiB ring writes at once, one per buffer
//   flush_behind     device cache flushes behind the write cursor
//   write_tail       the last, unaligned piece, after clearing O_DIRECT
//
// They report failures as error codes; pump.cpp words them as the write's.
// Not installed: an engine internal, like pump.hpp.
#pragma once

#include "mutx/error.hpp"
#include "mutx/ring.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace mutx {

// A 4096-aligned heap buffer (O_DIRECT needs aligned memory). Buffers of
// whole 2 MiB pages are aligned to 2 MiB so that they can be backed by
// transparent huge pages.
class aligned_buffer {
 public:
  static constexpr std::size_t alignment = 4096;
  static constexpr std::size_t huge_page = 2 * 1024 * 1024;
  // huge_pages: ask for huge pages at once (madvise; where THP is off the
  // advice is ignored and the buffer works the same).
  explicit aligned_buffer(std::size_t capacity, bool huge_pages = false);
  char* data() const noexcept { return data_.get(); }
  std::size_t capacity() const noexcept { return capacity_; }
  // From now on back the buffer by huge pages. Drops the pages already
  // touched: the contents are lost. Not while the kernel may be reading it.
  void use_huge_pages() noexcept;
  bool huge_pages() const noexcept { return huge_; }

 private:
  struct free_deleter {
    void operator()(char* p) const noexcept;
  };
  std::unique_ptr<char, free_deleter> data_;
  std::size_t capacity_;
  bool huge_ = false;
};

// Sets or clears O_DIRECT on `fd`; false (errno set) where the file
// refuses it (tmpfs before 6.6, FUSE: EINVAL).
bool set_direct(int fd, bool on);

namespace detail {

// A one-shot-at-a-time wake-up on the loop: waiters loop on their own
// condition, so a notify with nobody waiting is never lost.
class wakeup {
 public:
  explicit wakeup(const boost::asio::any_io_executor& ex);
  boost::asio::awaitable<void> wait();
  void notify() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace detail

// Up to slot_count writes in flight, each from its own buffer. The owner
// must drain() before the buffers go away, also on the error path: the
// kernel may still be reading them.
class inflight_writes {
 public:
  // Four 4 MiB buffers: enough in flight to keep the disk busy (the
  // prototype measured 0.32x dd conv=fsync with these) at 16 MiB of memory.
  // Measured on 512 MiB, medians of 12 interleaved runs: 4x4 MiB 379 ms,
  // 6x4 354, 8x2 383, 3x4 410 (dd conv=fsync 657): the same within the
  // noise but for 3 slots. The disk itself takes ~370 ms for 512 MiB with 4
  // direct writers in parallel (dd oflag=direct), so with four slots the
  // write path runs at the disk's speed. IOSQE_ASYNC on the writes: no gain
  // (316 +- 35 ms without, 358 +- 71 ms with). No preallocation: fallocate
  // 64 MiB ahead of the cursor (an extending O_DIRECT write waits under
  // ext4's inode lock) was worth it with 4 KiB pages, but with huge pages
  // and the 1 MiB pipe it only costs (each fallocate waits for the writes in
  // flight): 380 vs 355, 437 vs 388, 422 vs 403 ms without, medians of 10-12
  // interleaved runs; a sparse ftruncate ahead instead: 394 ms, the same.
  static constexpr std::size_t slot_count = 4;
  static constexpr std::size_t slot_size = 4 * 1024 * 1024;

  inflight_writes(ring& r, int fd, const boost::asio::any_io_executor& ex);

  // Writes [buf, buf+len) at `off` from slot `i`, which must be free.
  void launch(std::size_t i, const char* buf, std::size_t len, std::uint64_t off);
  // Until slot `i` is free; its write's error, if any.
  boost::asio::awaitable<error_code> wait(std::size_t i);
  // Until every slot is free; the first error among them.
  boost::asio::awaitable<error_code> drain();

 private:
  struct slot {
    bool busy = false;
    error_code ec;
  };
  ring& r_;
  int fd_;
  boost::asio::any_io_executor ex_;
  detail::wakeup ev_;
  std::array<slot, slot_count> slots_{};
};

// Device cache flushes behind the write cursor of a direct stream. A disk
// with a volatile write cache (write_cache "write back": SSDs, virtual disks)
// acknowledges a direct write once it is in that cache, and the final fsync
// then waits while the whole file goes from the cache to the medium: here
// (strace -T, 512 MiB from cat) 0.60 s of writes, then 0.70 s in the fsync.
// An fdatasync every step (32 MiB), one at a time, on the ring beside the
// writes, lets the disk empty its cache while the stream goes on, so the
// final fsync has only the last step left; the writes then run at the pace of
// the flushes (32 MiB per ~65 ms here): the medium is the limit. It changes
// nothing about when the data is durable (only the final fsync promises
// that), and an error from one is an error of the write: after a failed flush
// the kernel may answer the next fsync with success. Measured on 512 MiB from
// cat, medians of 8 interleaved runs: no flushes 1169 ms, every 16 MiB 1081,
// 32 MiB 1008, 64 MiB 1031, 128 MiB 1103 (dd conv=fsync 1258); then 12 runs,
// without 1218 ms, with 1104 (dd 1338). Only on io_uring: on plain syscalls
// the fdatasync would stop the stream while it runs.
class flush_behind {
 public:
  static constexpr std::uint64_t step = 32 * 1024 * 1024;

  // `start`: the offset the stream began at. With `on` false, never flushes.
  flush_behind(ring& r, int fd, const boost::asio::any_io_executor& ex, std::uint64_t start, bool on);

  // Call after each write is launched, with the offset it ends at.
  void advance(std::uint64_t off);
  // The first error of any flush so far, once none is in flight.
  boost::asio::awaitable<error_code> drain();
  unsigned count() const noexcept { return count_; }

 private:
  boost::asio::awaitable<void> run();

  ring& r_;
  int fd_;
  boost::asio::any_io_executor ex_;
  detail::wakeup ev_;
  std::uint64_t flushed_;
  bool on_;
  bool busy_ = false;
  unsigned count_ = 0;
  error_code ec_;
};

// Write the last, unaligned piece of a direct stream: the aligned part with
// O_DIRECT, the rest after clearing it. `buf` is aligned, `off` a multiple
// of aligned_buffer::alignment.
boost::asio::awaitable<error_code> write_tail(ring& r, int out, const char* buf, std::size_t len,
                                              std::uint64_t off);

}  // namespace mutx
