// Moving the input into the staged file (docs/design.md, section 5).
//
// Strategies, chosen by what the input is and whether the write is durable:
//  - direct:  a pipe (or memory) into an O_DIRECT staged file, from four
//             4096-aligned 4 MiB buffers kept in flight as ring writes; the
//             unaligned tail goes after clearing O_DIRECT. Durable writes
//             only: measured 0.32x the wall time of `dd conv=fsync` on 1 GiB,
//             whose final fsync pushes the whole page cache through
//             writeback; splice plus fsync measured 0.92-1.0x. Its pieces
//             are in direct_write.hpp.
//  - splice:  a pipe where O_DIRECT is refused (FUSE, tmpfs) or with
//             --no-sync: zero-copy IORING_OP_SPLICE, pipe enlarged with
//             F_SETPIPE_SZ, early writeback (sync_file_range) when durable.
//  - clone:   a regular file: FICLONE where extents can be shared, else
//             copy_file_range, else reads and writes.
//  - buffered: anything else (tty, socket): ring reads and writes over the
//             same buffers, reading chunk N+1 while chunk N is written.
#pragma once

#include "mutx/direct_write.hpp"
#include "mutx/error.hpp"
#include "mutx/ring.hpp"
#include "mutx/stop.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace mutx {

// Simple mode's input: read whole before the lock is taken. Chunks are
// aligned and filled completely before the next starts, so they can go
// straight to an O_DIRECT file.
struct memory_input {
  std::vector<aligned_buffer> chunks;
  std::vector<std::size_t> used;
  std::uint64_t size = 0;
};

struct pump_options {
  bool sync = true;         // durable: O_DIRECT or early writeback
  bool allow_direct = true; // false to test the other strategies
  std::string output_name;  // for messages ("cannot write OUTPUT")
  // Called with the bytes written so far, for progress reporting.
  std::function<void(std::uint64_t)> on_progress;
  // Called with each piece of the content, in order, as it is written (a
  // digest, a comparison): the content then goes through our buffers, so
  // splice and clone/copy_file_range are not used.
  std::function<void(const char*, std::size_t)> on_data;
};

struct pump_result {
  std::uint64_t bytes = 0;
  const char* strategy = "";
  // fdatasyncs issued behind the cursor of a direct write (flush_behind,
  // direct_write.hpp).
  unsigned early_flushes = 0;
};

// Read all of `in` into memory.
boost::asio::awaitable<memory_input> read_all(ring& r, int in, const std::string& input_name);

// Write `input` to `out` at offset `start`.
boost::asio::awaitable<pump_result> write_memory(ring& r, const memory_input& input, int out,
                                                 std::uint64_t start, const pump_options& opts);

// Copy everything from the descriptor `in` to `out` at offset `start`,
// choosing the strategy by what `in` is. `input_name` is for messages.
boost::asio::awaitable<pump_result> pump(ring& r, int in, const std::string& input_name, int out,
                                         std::uint64_t start, const pump_options& opts, stop_source& stop);

// Copies a regular file to another descriptor without going through user
// space where the kernel allows: FICLONE (whole files, both at offset 0),
// copy_file_range, then pread/pwrite. One step() moves one chunk, so the
// caller can yield to the loop between chunks.
class file_copier {
 public:
  file_copier(int in, std::uint64_t in_off, int out, std::uint64_t out_off, std::string in_name,
              std::string out_name);
  // Copies the next chunk; returns false at the end of `in`.
  bool step();
  std::uint64_t copied() const noexcept { return copied_; }
  const char* strategy() const noexcept { return strategy_; }

 private:
  int in_, out_;
  loff_t in_off_, out_off_;
  std::string in_name_, out_name_;
  std::uint64_t copied_ = 0;
  const char* strategy_ = "clone";
  enum class how { clone, copy_range, rw } how_ = how::clone;
  std::unique_ptr<aligned_buffer> buf_;
};

// Copy all of `in` from `in_off` to `out` at `out_off`, synchronously.
std::uint64_t copy_file_contents(int in, std::uint64_t in_off, int out, std::uint64_t out_off,
                                 const std::string& in_name, const std::string& out_name,
                                 const char** strategy = nullptr);

}  // namespace mutx
