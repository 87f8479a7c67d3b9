#include "mutx/writer.hpp"

#include "tree_job.hpp"
#include "write_job.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/this_coro.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>

namespace mutx {

namespace asio = boost::asio;

namespace {

write_report write_on_loop(const write_options& o, const write_hooks& hooks) {
  asio::io_context ctx(1);
  ring r(ctx, o.io);
  stop_source stop;
  bool committed = false;
  bool done = false;
  write_report rep;
  std::exception_ptr failure;

  std::optional<asio::signal_set> signals;
  // The caller's signal mask, put back before `signals` is destroyed (which
  // sets SIG_DFL). The CLI blocks SIGINT/SIGTERM/SIGHUP from its start, as
  // a signal before the handler exists killed it with 143; they are
  // unblocked only while the handler is installed. Blocked again on the way
  // out, a signal after the job stays pending and the CLI exits with the
  // job's outcome: the kernel drops it at exit (a late SIGTERM killed 3 of
  // 544 runs with 143 after the commit).
  struct mask_restorer {
    std::optional<sigset_t> saved;
    ~mask_restorer() {
      if (saved) ::pthread_sigmask(SIG_SETMASK, &*saved, nullptr);
    }
  } restore_mask;
  std::function<void()> arm_signals;
  if (o.handle_signals) {
    // A signal the caller ignores stays ignored (nohup's SIGHUP, SIGINT of
    // a script's background job), as sort(1) and make(1) do; asio's
    // sigaction would otherwise turn a hangup under nohup into exit 3.
    signals.emplace(ctx);
    sigset_t handled;
    sigemptyset(&handled);
    for (int signo : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction current;
      if (::sigaction(signo, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) continue;
      signals->add(signo);
      sigaddset(&handled, signo);
    }
    arm_signals = [&] {
      signals->async_wait([&](error_code ec, int signo) {
        // A wait that completed just as the job ended must not wait again:
        // nothing would end that wait, and ctx.run() never returned (2 of
        // 660 SIGTERMs around the commit hung for good).
        if (ec || done) return;
        // Before the commit point: cancel everything and unwind, and keep
        // listening (a second signal cancels what was started since). After
        // it: finish the write and succeed; later signals are left queued.
        if (committed) return;
        stop.request_stop(signo);
        r.cancel_all();
        arm_signals();
      });
    };
    arm_signals();
    sigset_t saved;
    if (::pthread_sigmask(SIG_UNBLOCK, &handled, &saved) == 0) restore_mask.saved = saved;
  }

  auto job = o.tree.enabled ? detail::run_tree(o, hooks, r, stop, committed, rep)
                            : detail::run_write(o, hooks, r, stop, committed, rep);
  asio::co_spawn(ctx, std::move(job), [&](std::exception_ptr e) {
    failure = e;
    done = true;
    if (signals) signals->cancel();
  });
  ctx.run();
  if (failure) {
    if (stop.stop_requested() && !committed) {
      try {
        std::rethrow_exception(failure);
      } catch (const error& e) {
        if (e.kind() == failure_kind::interrupted) throw;
      } catch (...) {
      }
      throw error(failure_kind::interrupted, "Interrupted");
    }
    std::rethrow_exception(failure);
  }
  return rep;
}

}  // namespace

void normalize(write_options& w, bool backup_details_given) {
  w.backup.enabled = w.backup.enabled || w.backup.timestamp || backup_details_given;
  w.backup.sync = w.sync;
}

write_report write(const write_options& o, const write_hooks& hooks) {
  try {
    return write_on_loop(o, hooks);
  } catch (const boost::system::system_error& e) {
    // Only asio throws these: the loop's own descriptors (eventfd, epoll,
    // timerfd, the signal pipe) could not be made, as under a low ulimit -n.
    // The job itself reports through mutx::error.
    throw error(e.code(), "cannot set up the event loop");
  }
}

}  // namespace mutx
