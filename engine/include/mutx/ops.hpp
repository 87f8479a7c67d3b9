// Awaitable I/O operations on a mutx::ring, built with async_initiate.
// Completion signature: void(error_code, std::size_t bytes). Short reads and
// writes are normal results, never errors: callers loop (write_all).
//
//   auto [ec, n] = co_await async_read(r, fd, buf, len, -1, use_tuple);
#pragma once

#include "mutx/ring.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mutx {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

namespace detail {

template <class Handler>
struct handler_op final : op_base {
  using executor_type =
      boost::asio::associated_executor_t<Handler, boost::asio::io_context::executor_type>;

  handler_op(Handler&& h, const boost::asio::io_context::executor_type& io_ex)
      : handler(std::move(h)),
        work(boost::asio::get_associated_executor(handler, io_ex)) {}

  void complete(error_code ec, std::size_t n) override {
    // Move everything out before freeing the op, then resume the caller
    // through its own executor (never inline from the ring's drain loop).
    auto h = std::move(handler);
    auto w = std::move(work);
    delete this;
    auto ex = w.get_executor();
    boost::asio::post(ex, boost::asio::append(std::move(h), ec, n));
  }

  Handler handler;
  boost::asio::executor_work_guard<executor_type> work;
};

template <class Token, class Fill>
auto start_op(ring& r, Fill fill, Token&& token) {
  return boost::asio::async_initiate<Token, void(error_code, std::size_t)>(
      [&r, fill](auto handler) {
        using H = decltype(handler);
        auto* op = new handler_op<H>(std::move(handler), r.context().get_executor());
        fill(*op);
        r.start(op);
      },
      token);
}

}  // namespace detail

// Read up to `len` bytes at `off` (-1: the current position, as for pipes).
template <class Token>
auto async_read(ring& r, int fd, void* buf, std::size_t len, std::int64_t off, Token&& token) {
  return detail::start_op(r, [=](detail::op_base& op) {
    op.what = detail::op_base::kind::read;
    op.fd = fd, op.buf = buf, op.len = len, op.off = off;
  }, std::forward<Token>(token));
}

// Write up to `len` bytes at `off` (-1: the current position).
template <class Token>
auto async_write(ring& r, int fd, const void* buf, std::size_t len, std::int64_t off, Token&& token) {
  return detail::start_op(r, [=](detail::op_base& op) {
    op.what = detail::op_base::kind::write;
    op.fd = fd, op.buf = const_cast<void*>(buf), op.len = len, op.off = off;
  }, std::forward<Token>(token));
}

// Move up to `len` bytes from the pipe `in` to `out` at `off_out`, with no
// copy through user space. 0 bytes means end of input.
template <class Token>
auto async_splice(ring& r, int in, int out, std::size_t len, std::int64_t off_out, Token&& token) {
  return detail::start_op(r, [=](detail::op_base& op) {
    op.what = detail::op_base::kind::splice;
    op.fd = in, op.fd_out = out, op.len = len, op.off_out = off_out;
  }, std::forward<Token>(token));
}

// fsync(2), or fdatasync(2) when only the data (and the size) must be
// durable.
enum class sync_what { all, data };
template <class Token>
auto async_fsync(ring& r, int fd, Token&& token, sync_what what = sync_what::all) {
  return detail::start_op(r, [=](detail::op_base& op) {
    op.what = what == sync_what::data ? detail::op_base::kind::fdatasync : detail::op_base::kind::fsync;
    op.fd = fd;
  }, std::forward<Token>(token));
}

// Start writeback of [off, off+len) early (SYNC_FILE_RANGE_WRITE), so the
// final fsync has less to push.
template <class Token>
auto async_sync_range(ring& r, int fd, std::int64_t off, std::size_t len, unsigned flags, Token&& token) {
  return detail::start_op(r, [=](detail::op_base& op) {
    op.what = detail::op_base::kind::sync_range;
    op.fd = fd, op.off = off, op.len = len, op.flags = flags;
  }, std::forward<Token>(token));
}

// Write all of [buf, buf+len) at `off` (or the current position if -1),
// resubmitting after short writes.
boost::asio::awaitable<error_code> write_all(ring& r, int fd, const void* buf, std::size_t len,
                                             std::int64_t off);

}  // namespace mutx
