// A stop request that reaches whatever the write is waiting on.
//
// The signal handler (on the same io_context) calls request_stop(); every
// wait that can last (the lock wait, reads from a pipe, the child command)
// registers a callback that cancels it, so an interrupt takes effect at once
// and unwinds through the normal RAII cleanup.
#pragma once

#include <functional>
#include <list>
#include <utility>

namespace mutx {

class stop_source {
 public:
  using callback = std::function<void()>;

  class registration {
   public:
    registration() = default;
    registration(stop_source* src, std::list<callback>::iterator it) : src_(src), it_(it) {}
    registration(registration&& o) noexcept : src_(std::exchange(o.src_, nullptr)), it_(o.it_) {}
    registration& operator=(registration&& o) noexcept {
      if (this != &o) {
        reset();
        src_ = std::exchange(o.src_, nullptr);
        it_ = o.it_;
      }
      return *this;
    }
    ~registration() { reset(); }
    void reset() {
      if (src_) src_->callbacks_.erase(it_);
      src_ = nullptr;
    }

   private:
    stop_source* src_ = nullptr;
    std::list<callback>::iterator it_;
  };

  // Runs `cb` now if a stop was already requested, else on request_stop().
  [[nodiscard]] registration on_stop(callback cb) {
    if (stopped_) {
      cb();
      return {};
    }
    callbacks_.push_back(std::move(cb));
    return registration(this, std::prev(callbacks_.end()));
  }

  void request_stop(int signo = 0) {
    if (stopped_) return;
    stopped_ = true;
    signal_ = signo;
    // Callbacks may unregister others; run them from a copy.
    auto pending = callbacks_;
    for (auto& cb : pending) cb();
  }

  bool stop_requested() const noexcept { return stopped_; }
  int signal() const noexcept { return signal_; }

 private:
  std::list<callback> callbacks_;
  bool stopped_ = false;
  int signal_ = 0;
};

}  // namespace mutx
