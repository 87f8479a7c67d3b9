#include "mutx/pump.hpp"

#include "mutx/direct_write.hpp"
#include "mutx/ops.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>

namespace mutx {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kib = 1024, mib = 1024 * kib;
// The slots: four of 4 MiB (why: inflight_writes, direct_write.hpp).
constexpr std::size_t slot_count = inflight_writes::slot_count;
constexpr std::size_t slot_size = inflight_writes::slot_size;

// Memory writes smaller than this go through the page cache, then one
// fsync: a 1 KiB config file gains nothing from O_DIRECT, and up to a few
// MiB the direct writes of the doubling chunks of read_all (64 KiB, 128 KiB,
// ...) cost more than the writeback. Simple mode from `cat`, medians of 20
// interleaved runs, direct from 1 MiB vs direct from 64 MiB: 2 MiB 22 vs
// 17 ms, 4 MiB 29 vs 24, 8 MiB 44 vs 41, 16 MiB 77 vs 80 (dd conv=fsync 12,
// 19, 32, 61 ms).
constexpr std::uint64_t direct_threshold = 16 * mib;
// Early writeback behind the splice cursor, so the final fsync is short.
constexpr std::uint64_t writeback_step = 8 * mib;

// A bigger pipe means fewer, larger reads and splices, and lets the
// producer run ahead while we wait on the disk. 1 MiB, not more (root
// could have 4 MiB): both ends copy under the pipe's mutex, and past 1 MiB
// the pipe pages no longer stay in cache between the producer's copy in
// and ours out. Measured, `cat 512MiB | reader` with a 1 MiB pipe
// 225 +- 26 ms, with 2 MiB 502 +- 79 ms, with 4 MiB 491 +- 36 ms;
// `mutx --stream` 315 ms (1 MiB) against 467 ms (4 MiB), medians of 14
// interleaved runs. A pipe the producer made bigger is left alone, and
// anything that is not a pipe is left as it is (F_GETPIPE_SZ fails).
void enlarge_pipe(int fd) {
  int pipe_size = ::fcntl(fd, F_GETPIPE_SZ);
  if (pipe_size >= 0 && static_cast<std::size_t>(pipe_size) < 1 * mib) ::fcntl(fd, F_SETPIPE_SZ, 1 * mib);
}

[[noreturn]] void write_failed(error_code ec, const pump_options& o) {
  throw_write_error(ec, "cannot write", o.output_name, o.output_name);
}

// Worded as the final fsync's failure (write_job.cpp): to the user they are
// the same thing.
[[noreturn]] void flush_failed(error_code ec, const pump_options& o) {
  throw_write_error(ec, "cannot sync (fsync) new content of", o.output_name, o.output_name);
}

struct fill_result {
  std::size_t n = 0;
  bool eof = false;  // `in` has ended (after those n bytes)
};

// Read from `in` until `len` bytes are in `buf` or the input ends. Slots
// and simple mode's chunks are filled whole before they are written: a
// direct write takes whole 4 KiB blocks, so only the last may be short.
// `arrived`, if set, is told the bytes in `buf` after each read: progress
// counts what arrived, not the whole slots written (a slot is 4 MiB).
asio::awaitable<fill_result> fill(ring& r, int in, char* buf, std::size_t len, const std::string& in_name,
                                  const std::function<void(std::size_t)>& arrived = {}) {
  fill_result f;
  while (f.n < len) {
    auto [ec, n] = co_await async_read(r, in, buf + f.n, len - f.n, -1, use_tuple);
    if (ec == asio::error::operation_aborted) throw error(failure_kind::interrupted, "Interrupted");
    if (ec) throw_error(ec, "cannot read", in_name);
    if (n == 0) {
      f.eof = true;
      break;
    }
    f.n += n;
    if (arrived) arrived(f.n);
  }
  co_return f;
}

// The direct and buffered strategies: fill a slot from `in`, hand it to the
// ring, go on filling the next while it is written.
asio::awaitable<pump_result> pump_slots(ring& r, int in, const std::string& in_name, int out,
                                        std::uint64_t off, bool direct, const pump_options& o) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<aligned_buffer> bufs;
  for (std::size_t i = 0; i < slot_count; ++i) bufs.emplace_back(slot_size);
  // Huge pages once the stream has filled one slot (a short stream keeps
  // costing 4 KiB pages, not 2 MiB ones). The copy out of the pipe and the
  // pinning of pages for each direct write are per page: measured on
  // 512 MiB, medians of 14 interleaved runs, 4 KiB pages 464 ms, huge
  // pages 363 ms (system time 520 -> 365 ms); dd conv=fsync 638 ms.
  bool long_stream = false;
  inflight_writes writes(r, out, ex);
  const std::uint64_t start = off;
  flush_behind flushes(r, out, ex, start, direct && o.sync);
  // A direct stream starts in the page cache: one that ends within its
  // first slot (4 MiB) is written back by the final fsync sooner than by a
  // direct write of the whole slot once it has filled. When a second slot
  // follows, writeback of the first starts (sync_file_range) and the rest
  // goes direct. `cat N | mutx --stream`, medians of 15 interleaved runs,
  // direct from the start vs from the second slot: 4 MiB 33 vs 24 ms,
  // 8 MiB 40 vs 38, 16 MiB 70 vs 62, 64 MiB 172 vs 172 (10 runs); dd
  // conv=fsync 19, 32, 60, 217 ms.
  bool buffered_start = direct && set_direct(out, false);
  bool went_direct = direct && !buffered_start;
  std::function<void(std::size_t)> arrived;
  if (o.on_progress) arrived = [&](std::size_t in_slot) { o.on_progress(off - start + in_slot); };
  std::exception_ptr failure;
  try {
    for (std::size_t i = 0;; i = (i + 1) % slot_count) {
      if (error_code ec = co_await writes.wait(i)) write_failed(ec, o);
      if (long_stream) bufs[i].use_huge_pages();  // its write is done: safe
      char* buf = bufs[i].data();
      const auto [filled, eof] = co_await fill(r, in, buf, slot_size, in_name, arrived);
      if (filled == 0) break;
      long_stream = long_stream || filled == slot_size;
      if (direct && filled % aligned_buffer::alignment != 0) {
        if (error_code ec = co_await writes.drain()) write_failed(ec, o);
        if (o.on_data) o.on_data(buf, filled);
        if (error_code ec = co_await write_tail(r, out, buf, filled, off)) write_failed(ec, o);
        off += filled;
        break;
      }
      if (buffered_start && off > start) {
        if (error_code ec = co_await writes.drain()) write_failed(ec, o);
        auto [ec, n] = co_await async_sync_range(r, out, static_cast<std::int64_t>(start), off - start,
                                                 SYNC_FILE_RANGE_WRITE, use_tuple);
        (void)n;
        if (ec) write_failed(ec, o);
        buffered_start = false;
        // Should O_DIRECT be refused now after all, the page cache serves.
        went_direct = set_direct(out, true);
      }
      writes.launch(i, buf, filled, off);
      // While the kernel writes the slot (it only reads it): the digest or
      // comparison overlaps the disk.
      if (o.on_data) o.on_data(buf, filled);
      off += filled;
      flushes.advance(off);
      if (eof) break;
    }
    if (error_code ec = co_await writes.drain()) write_failed(ec, o);
    if (error_code ec = co_await flushes.drain()) flush_failed(ec, o);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    co_await writes.drain();  // the kernel may still be reading our buffers
    co_await flushes.drain();  // and `flushes` lives in this frame
    std::rethrow_exception(failure);
  }
  co_return pump_result{off - start, went_direct ? "direct" : "buffered", flushes.count()};
}

asio::awaitable<std::uint64_t> pump_splice(ring& r, int in, const std::string& in_name, int out,
                                           std::uint64_t off, const pump_options& o) {
  const std::uint64_t start = off;
  std::uint64_t written_back = off;
  for (;;) {
    auto [ec, n] = co_await async_splice(r, in, out, 4 * mib, static_cast<std::int64_t>(off), use_tuple);
    if (ec == asio::error::operation_aborted) throw error(failure_kind::interrupted, "Interrupted");
    if (ec) throw_write_error(ec, "cannot copy from", in_name + " to " + o.output_name, o.output_name);
    if (n == 0) break;
    off += n;
    if (o.on_progress) o.on_progress(off - start);
    if (o.sync && off - written_back >= writeback_step) {
      // Start writeback of what is behind the cursor now, so the final
      // fsync only has the last few MiB to push.
      auto [wec, wn] = co_await async_sync_range(r, out, static_cast<std::int64_t>(written_back),
                                                 off - written_back, SYNC_FILE_RANGE_WRITE, use_tuple);
      (void)wn;
      if (wec && wec != asio::error::operation_aborted) write_failed(wec, o);
      written_back = off;
    }
  }
  co_return off - start;
}

}  // namespace

asio::awaitable<memory_input> read_all(ring& r, int in, const std::string& input_name) {
  memory_input m;
  std::size_t next = 64 * kib;
  for (;;) {
    // The input is already 2 MiB or more when chunks reach huge-page size.
    aligned_buffer& chunk = m.chunks.emplace_back(next, true);
    const auto [used, eof] = co_await fill(r, in, chunk.data(), chunk.capacity(), input_name);
    if (used == 0) {  // the input ended where the last chunk did (or was empty)
      m.chunks.pop_back();
      co_return m;
    }
    m.used.push_back(used);
    m.size += used;
    if (eof) co_return m;
    // Input that fills the first 64 KiB chunk gets the 1 MiB pipe too (a
    // smaller one is left as it is). `cat N | mutx out`, medians of 40
    // interleaved runs, without/with: 256 KiB 6.2 vs 6.2 ms, 4 MiB 25.3 vs
    // 24.3, 16 MiB 64.6 vs 60.8, 64 MiB 228.5 vs 205.0.
    if (m.chunks.size() == 1) enlarge_pipe(in);
    next = std::min(next * 2, slot_size);
  }
}

asio::awaitable<pump_result> write_memory(ring& r, const memory_input& input, int out, std::uint64_t start,
                                          const pump_options& o) {
  bool direct = o.sync && o.allow_direct && input.size >= direct_threshold &&
                start % aligned_buffer::alignment == 0 && set_direct(out, true);
  std::uint64_t off = start;
  if (!direct) {
    for (std::size_t i = 0; i < input.chunks.size(); ++i) {
      if (o.on_data) o.on_data(input.chunks[i].data(), input.used[i]);
      if (error_code ec = co_await write_all(r, out, input.chunks[i].data(), input.used[i], static_cast<std::int64_t>(off)))
        write_failed(ec, o);
      off += input.used[i];
    }
    co_return pump_result{off - start, "buffered"};
  }
  auto ex = co_await asio::this_coro::executor;
  inflight_writes writes(r, out, ex);
  flush_behind flushes(r, out, ex, start, true);
  std::exception_ptr failure;
  try {
    for (std::size_t i = 0; i < input.chunks.size(); ++i) {
      std::size_t slot = i % slot_count;
      if (error_code ec = co_await writes.wait(slot)) write_failed(ec, o);
      std::size_t len = input.used[i];
      if (len % aligned_buffer::alignment != 0) {  // only the last chunk
        if (error_code ec = co_await writes.drain()) write_failed(ec, o);
        if (error_code ec = co_await write_tail(r, out, input.chunks[i].data(), len, off)) write_failed(ec, o);
      } else {
        writes.launch(slot, input.chunks[i].data(), len, off);
      }
      if (o.on_data) o.on_data(input.chunks[i].data(), len);
      off += len;
      flushes.advance(off);
    }
    if (error_code ec = co_await writes.drain()) write_failed(ec, o);
    if (error_code ec = co_await flushes.drain()) flush_failed(ec, o);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    co_await writes.drain();
    co_await flushes.drain();
    std::rethrow_exception(failure);
  }
  co_return pump_result{off - start, "direct", flushes.count()};
}

asio::awaitable<pump_result> pump(ring& r, int in, const std::string& input_name, int out, std::uint64_t start,
                                  const pump_options& o, stop_source& stop) {
  struct stat st;
  if (::fstat(in, &st) != 0) throw_errno("cannot inspect", input_name);
  if (S_ISDIR(st.st_mode)) throw_error(errno_code(EISDIR), "cannot read", input_name);

  bool aligned = start % aligned_buffer::alignment == 0;
  // The content must pass through our buffers to be seen: read it, never
  // splice or clone it.
  if (o.on_data) {
    if (S_ISFIFO(st.st_mode)) enlarge_pipe(in);
    const bool direct = o.sync && o.allow_direct && aligned && set_direct(out, true);
    co_return co_await pump_slots(r, in, input_name, out, start, direct, o);
  }
  if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
    off_t pos = ::lseek(in, 0, SEEK_CUR);
    file_copier copier(in, pos < 0 ? 0 : static_cast<std::uint64_t>(pos), out, start, input_name, o.output_name);
    while (copier.step()) {
      if (o.on_progress) o.on_progress(copier.copied());
      // Let signals and timers run between chunks of a long copy.
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
      if (stop.stop_requested()) throw error(failure_kind::interrupted, "Interrupted");
    }
    co_return pump_result{copier.copied(), copier.strategy()};
  }
  if (S_ISFIFO(st.st_mode)) {
    enlarge_pipe(in);
    if (o.sync && o.allow_direct && aligned && set_direct(out, true)) {
      co_return co_await pump_slots(r, in, input_name, out, start, true, o);
    }
    std::uint64_t n = co_await pump_splice(r, in, input_name, out, start, o);
    co_return pump_result{n, "splice"};
  }
  co_return co_await pump_slots(r, in, input_name, out, start, false, o);
}

file_copier::file_copier(int in, std::uint64_t in_off, int out, std::uint64_t out_off, std::string in_name,
                         std::string out_name)
    : in_(in),
      out_(out),
      in_off_(static_cast<loff_t>(in_off)),
      out_off_(static_cast<loff_t>(out_off)),
      in_name_(std::move(in_name)),
      out_name_(std::move(out_name)) {
  if (in_off != 0 || out_off != 0) how_ = how::copy_range;
}

bool file_copier::step() {
  constexpr std::size_t chunk = 64 * mib;
  if (how_ == how::clone) {
    struct stat st;
    if (::ioctl(out_, FICLONE, in_) == 0 && ::fstat(in_, &st) == 0) {
      strategy_ = "clone";
      copied_ = static_cast<std::uint64_t>(st.st_size);
      return false;
    }
    how_ = how::copy_range;
  }
  if (how_ == how::copy_range) {
    ssize_t n;
    do {
      n = ::copy_file_range(in_, &in_off_, out_, &out_off_, chunk, 0);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
      strategy_ = "copy_file_range";
      copied_ += static_cast<std::uint64_t>(n);
      return n > 0;
    }
    // EXDEV (ext4 to tmpfs answers it here), EINVAL, ENOSYS, EOPNOTSUPP:
    // the kernel will not do it for us; anything else is a real error.
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP && errno != ETXTBSY)
      throw_write_error(errno_code(), "cannot copy from", in_name_ + " to " + out_name_, out_name_);
    how_ = how::rw;
  }
  strategy_ = "read/write";
  if (!buf_) buf_ = std::make_unique<aligned_buffer>(1 * mib);
  ssize_t n;
  do {
    n = ::pread(in_, buf_->data(), buf_->capacity(), in_off_);
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw_errno("cannot read", in_name_);
  if (n == 0) return false;
  for (ssize_t done = 0; done < n;) {
    ssize_t w = ::pwrite(out_, buf_->data() + done, static_cast<std::size_t>(n - done), out_off_);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw_write_error(errno_code(), "cannot write", out_name_, out_name_);
    done += w;
    out_off_ += w;
  }
  in_off_ += n;
  copied_ += static_cast<std::uint64_t>(n);
  return true;
}

std::uint64_t copy_file_contents(int in, std::uint64_t in_off, int out, std::uint64_t out_off,
                                 const std::string& in_name, const std::string& out_name, const char** strategy) {
  file_copier copier(in, in_off, out, out_off, in_name, out_name);
  while (copier.step()) {
  }
  if (strategy) *strategy = copier.strategy();
  return copier.copied();
}

}  // namespace mutx
