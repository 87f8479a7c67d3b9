// SHA-256 of content as it flows (OpenSSL libcrypto's EVP interface):
// --sha256 checks it, --json and --log report it.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mutx {

class sha256_hasher {
 public:
  sha256_hasher();
  ~sha256_hasher();
  sha256_hasher(const sha256_hasher&) = delete;
  sha256_hasher& operator=(const sha256_hasher&) = delete;

  void update(const void* data, std::size_t n);
  // 64 lowercase hexadecimal digits. Once only.
  std::string finish_hex();

 private:
  struct state;
  std::unique_ptr<state> s_;
};

// `hex` in lowercase if it is 64 hexadecimal digits (either case), else
// nullopt.
std::optional<std::string> normalize_sha256(std::string_view hex);

// The SHA-256 of all of the regular file open as `fd` (pread from offset
// 0), for the audit log's old content. Throws mutx::error naming `name`.
std::string sha256_of_file(int fd, const std::string& name);

}  // namespace mutx
