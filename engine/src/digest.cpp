#include "mutx/digest.hpp"

#include "mutx/error.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <unistd.h>

#include <cerrno>
#include <new>
#include <vector>

namespace mutx {

struct sha256_hasher::state {
  EVP_MD_CTX* ctx = nullptr;
  ~state() { EVP_MD_CTX_free(ctx); }
};

sha256_hasher::sha256_hasher() : s_(std::make_unique<state>()) {
  // No openssl.cnf: the built-in provider's SHA-256 is all we use, and a
  // system config naming providers to load would make a static binary
  // dlopen them.
  static const bool ready = OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) == 1;
  (void)ready;
  s_->ctx = EVP_MD_CTX_new();
  if (!s_->ctx) throw std::bad_alloc();
  if (EVP_DigestInit_ex(s_->ctx, EVP_sha256(), nullptr) != 1)
    throw error(failure_kind::io, "cannot start a SHA-256 digest (OpenSSL)");
}

sha256_hasher::~sha256_hasher() = default;

void sha256_hasher::update(const void* data, std::size_t n) {
  if (n && EVP_DigestUpdate(s_->ctx, data, n) != 1) throw error(failure_kind::io, "cannot compute SHA-256 (OpenSSL)");
}

std::string sha256_hasher::finish_hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(s_->ctx, md, &len) != 1) throw error(failure_kind::io, "cannot compute SHA-256 (OpenSSL)");
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * len);
  for (unsigned i = 0; i < len; ++i) {
    hex += digits[md[i] >> 4];
    hex += digits[md[i] & 0xf];
  }
  return hex;
}

std::optional<std::string> normalize_sha256(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  std::string out;
  out.reserve(64);
  for (char c : hex) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    out += c;
  }
  return out;
}

std::string sha256_of_file(int fd, const std::string& name) {
  sha256_hasher h;
  std::vector<char> buf(1 << 20);
  for (off_t off = 0;;) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("cannot read", name);
    if (n == 0) break;
    h.update(buf.data(), static_cast<std::size_t>(n));
    off += n;
  }
  return h.finish_hex();
}

}  // namespace mutx
