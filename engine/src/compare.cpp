#include "mutx/compare.hpp"

#include "mutx/error.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mutx {

namespace {
constexpr std::size_t chunk = 1 << 20;
}

content_compare::content_compare(int old_fd, std::uint64_t old_size, std::uint64_t start, std::string name)
    : fd_(old_fd), old_size_(old_size), pos_(start), name_(std::move(name)) {}

content_compare::~content_compare() = default;

void content_compare::feed(const void* data, std::size_t n) {
  if (differs_ || n == 0) return;
  if (pos_ + n > old_size_) {
    differs_ = true;  // longer than the old content
    return;
  }
  if (!buf_) buf_ = std::make_unique_for_overwrite<char[]>(chunk);
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const std::size_t want = std::min(n, chunk);
    std::size_t got = 0;
    while (got < want) {
      const ssize_t r = ::pread(fd_, buf_.get() + got, want - got, static_cast<off_t>(pos_ + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw_errno("cannot read current content of", name_);
      if (r == 0) break;  // shorter than it was: changed under us
      got += static_cast<std::size_t>(r);
    }
    read_ += got;
    if (got < want || std::memcmp(buf_.get(), p, want) != 0) {
      differs_ = true;
      return;
    }
    p += want;
    n -= want;
    pos_ += want;
  }
}

}  // namespace mutx
