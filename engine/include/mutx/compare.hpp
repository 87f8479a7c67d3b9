// Is the new content the old? (--compare, as `install -C`.) Compared as the
// new content flows, chunk by chunk against the old file read at the same
// offset, not after both are whole: a difference found early ends the
// comparison, and the write goes on at full speed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mutx {

class content_compare {
 public:
  // `old_fd`: the old file, readable; `old_size` its size. The new content
  // starts at offset `start` (what --append copied of the old content, the
  // same by construction). `name` is for messages.
  content_compare(int old_fd, std::uint64_t old_size, std::uint64_t start, std::string name);
  ~content_compare();

  // The next `n` bytes of the new content.
  void feed(const void* data, std::size_t n);
  // Everything fed so far is the old content and the old content ends
  // there.
  bool same() const noexcept { return !differs_ && pos_ == old_size_; }
  // The bytes of the old file read to compare.
  std::uint64_t read_bytes() const noexcept { return read_; }

 private:
  int fd_;
  std::uint64_t old_size_;
  std::uint64_t pos_;
  std::string name_;
  bool differs_ = false;
  std::uint64_t read_ = 0;
  std::unique_ptr<char[]> buf_;
};

}  // namespace mutx
