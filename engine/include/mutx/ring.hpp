// The I/O backend: an io_uring ring joined to the one io_context, or plain
// syscalls where io_uring is unavailable.
//
// The ring's eventfd (io_uring_register_eventfd) is watched by an asio
// posix::stream_descriptor, so ring completions, timers and signals share one
// loop. Each in-flight operation is an op_base whose address rides in the
// SQE's user_data; completions are mapped to error codes in one place
// (complete_from_result).
#pragma once

#include "mutx/error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "mutx/types.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

struct io_uring;
struct io_uring_sqe;

namespace mutx {

// Parses "auto", "uring", "syscalls"; throws mutx::error otherwise.
io_mode parse_io_mode(const std::string& text);
// The mode MUTX_IO asks for (automatic when unset or empty).
io_mode io_mode_from_env();

namespace detail {

// One operation: what to do (filled by ops.hpp) and how to finish.
// complete() is called exactly once, from the loop.
struct op_base {
  enum class kind { read, write, splice, fsync, fdatasync, sync_range };
  virtual ~op_base() = default;
  virtual void complete(error_code ec, std::size_t n) = 0;

  kind what = kind::read;
  int fd = -1;          // read/write/sync: the file; splice: the input
  int fd_out = -1;      // splice: the output
  void* buf = nullptr;  // read/write
  std::size_t len = 0;
  std::int64_t off = -1;      // -1: the current file position
  std::int64_t off_out = -1;  // splice: output offset
  unsigned flags = 0;         // sync_range flags

  op_base* prev = nullptr;
  op_base* next = nullptr;
};

}  // namespace detail

class ring {
 public:
  // `uring` probes io_uring now and throws if it is unavailable. `automatic`
  // probes on first need (see start()); a failing probe (EPERM in
  // containers, kernel.io_uring_disabled, ENOSYS, ENOMEM, EINVAL, or a
  // missing opcode) selects syscalls. `syscalls` never probes.
  ring(boost::asio::io_context& ctx, io_mode mode);
  ~ring();
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;

  boost::asio::io_context& context() noexcept { return ctx_; }
  // Probe now if that is still to be done (automatic mode).
  void probe();
  bool uring_active() const noexcept { return uring_ != nullptr; }
  // "io_uring" or "syscalls" (also when the probe is still to be done:
  // everything so far ran on syscalls), and why io_uring was not used.
  std::string backend() const { return uring_ ? "io_uring" : "syscalls"; }
  const std::string& fallback_reason() const noexcept { return fallback_reason_; }

  // Cancel every operation in flight (reads from pipes can wait forever);
  // they complete with operation_aborted. Reads and splices started later
  // fail the same way at once: a signal that lands between two reads must
  // not leave the next one waiting. Used on SIGINT/SIGTERM/SIGHUP.
  void cancel_all();

  // Start `op` (used by ops.hpp): an SQE on the ring, or the syscall. On
  // the syscall path a read or splice from a pipe, tty or socket first waits
  // on the loop until the descriptor is readable, so it never blocks signals.
  // In automatic mode reads and writes run as syscalls until lazy_limit
  // bytes have been moved; the ring is set up by the first read or write
  // after that, or by the first splice or sync: a small write (a 1 KiB
  // config file) never pays for io_uring.
  void start(detail::op_base* op);
  static constexpr std::uint64_t lazy_limit = 1024 * 1024;

  std::size_t inflight() const noexcept { return inflight_count_; }

 private:
  void start_uring(detail::op_base* op);
  void start_syscall(detail::op_base* op);
  static long perform(detail::op_base* op);
  void post_result(detail::op_base* op, long res);
  void arm();
  void drain();
  void link(detail::op_base* op);
  void unlink(detail::op_base* op);

  void setup(io_mode mode);

  boost::asio::io_context& ctx_;
  bool probe_pending_ = false;
  std::uint64_t syscall_bytes_ = 0;
  std::unique_ptr<io_uring> uring_;
  boost::asio::posix::stream_descriptor event_;
  bool armed_ = false;
  bool cancelled_ = false;
  detail::op_base* inflight_ = nullptr;
  std::size_t inflight_count_ = 0;
  std::string fallback_reason_;
  // Syscall path: the waits in progress, by operation. Each is an epoll
  // instance of its own holding the operation's fd, watched by the loop and
  // closed when the wait ends: no dup of the caller's fd outlives the wait
  // (a kept read end of a command's pipe left the command blocked forever
  // once mutx stopped reading), and the caller's file description never
  // becomes O_NONBLOCK (asio sets it on what it waits on; a shared stdin
  // stayed non-blocking after mutx exited).
  std::map<detail::op_base*, std::unique_ptr<boost::asio::posix::stream_descriptor>> pollers_;
};

// Map a raw result (>= 0: bytes; < 0: -errno) to (error_code, bytes).
// -ECANCELED and -EINTR from a cancelled request become operation_aborted.
void complete_from_result(detail::op_base* op, long res);

}  // namespace mutx
