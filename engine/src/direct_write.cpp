#include "mutx/direct_write.hpp"

#include "mutx/ops.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <exception>
#include <new>

namespace mutx {

namespace asio = boost::asio;

void aligned_buffer::free_deleter::operator()(char* p) const noexcept {
  std::free(p);
}

aligned_buffer::aligned_buffer(std::size_t capacity, bool huge_pages) : capacity_(capacity) {
  // Touch nothing: pages are only faulted in as they are filled, so a 1 KiB
  // input costs 4 KiB of memory, not 4 MiB (unless huge pages are asked for
  // at once).
  bool whole_pages = capacity % huge_page == 0;
  void* p = std::aligned_alloc(whole_pages ? huge_page : alignment, capacity);
  if (!p) throw std::bad_alloc();
  data_.reset(static_cast<char*>(p));
  if (whole_pages && huge_pages) use_huge_pages();
}

void aligned_buffer::use_huge_pages() noexcept {
  if (huge_ || capacity_ % huge_page != 0) return;
  huge_ = true;
  // Where THP is off or the advice is refused, the small pages work the
  // same; nothing to report.
  ::madvise(data_.get(), capacity_, MADV_DONTNEED);
  ::madvise(data_.get(), capacity_, MADV_HUGEPAGE);
}

bool set_direct(int fd, bool on) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0) return false;
  int want = on ? (fl | O_DIRECT) : (fl & ~O_DIRECT);
  return want == fl || ::fcntl(fd, F_SETFL, want) == 0;
}

namespace detail {

wakeup::wakeup(const asio::any_io_executor& ex) : timer_(ex, asio::steady_timer::time_point::max()) {}

asio::awaitable<void> wakeup::wait() {
  co_await timer_.async_wait(use_tuple);
  timer_.expires_at(asio::steady_timer::time_point::max());
}

}  // namespace detail

inflight_writes::inflight_writes(ring& r, int fd, const asio::any_io_executor& ex)
    : r_(r), fd_(fd), ex_(ex), ev_(ex) {}

void inflight_writes::launch(std::size_t i, const char* buf, std::size_t len, std::uint64_t off) {
  slot& s = slots_[i];
  s.busy = true;
  asio::co_spawn(ex_, write_all(r_, fd_, buf, len, static_cast<std::int64_t>(off)),
                 [this, &s](std::exception_ptr e, error_code ec) {
                   s.busy = false;
                   s.ec = e ? errno_code(EIO) : ec;
                   ev_.notify();
                 });
}

asio::awaitable<error_code> inflight_writes::wait(std::size_t i) {
  while (slots_[i].busy) co_await ev_.wait();
  co_return slots_[i].ec;
}

asio::awaitable<error_code> inflight_writes::drain() {
  error_code first;
  for (std::size_t i = 0; i < slot_count; ++i) {
    error_code ec = co_await wait(i);
    if (ec && !first) first = ec;
  }
  co_return first;
}

flush_behind::flush_behind(ring& r, int fd, const asio::any_io_executor& ex, std::uint64_t start, bool on)
    : r_(r), fd_(fd), ex_(ex), ev_(ex), flushed_(start), on_(on) {}

void flush_behind::advance(std::uint64_t off) {
  // uring_active() only once automatic mode has set the ring up, which a
  // stream this long has done by its first step.
  if (!on_ || !r_.uring_active() || busy_ || ec_ || off - flushed_ < step) return;
  busy_ = true;
  flushed_ = off;
  ++count_;
  asio::co_spawn(ex_, run(), asio::detached);
}

asio::awaitable<error_code> flush_behind::drain() {
  while (busy_) co_await ev_.wait();
  co_return ec_;
}

asio::awaitable<void> flush_behind::run() {
  auto [ec, n] = co_await async_fsync(r_, fd_, use_tuple, sync_what::data);
  (void)n;
  if (ec && !ec_) ec_ = ec;
  busy_ = false;
  ev_.notify();
}

asio::awaitable<error_code> write_tail(ring& r, int out, const char* buf, std::size_t len, std::uint64_t off) {
  std::size_t aligned = len & ~(aligned_buffer::alignment - 1);
  if (aligned) {
    error_code ec = co_await write_all(r, out, buf, aligned, static_cast<std::int64_t>(off));
    if (ec) co_return ec;
  }
  if (!set_direct(out, false)) co_return errno_code();
  co_return co_await write_all(r, out, buf + aligned, len - aligned, static_cast<std::int64_t>(off + aligned));
}

}  // namespace mutx
