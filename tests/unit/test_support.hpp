// Helpers shared by the unit tests: a fresh temp directory per test case,
// whole-file reads, and the I/O mode under test (MUTX_IO, set by CTest to
// uring and to syscalls, so every concept runs on both paths).
#pragma once

#include "mutx/ring.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mutx::test {

struct temp_dir {
  std::string path;
  temp_dir() {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/mutx-unit.XXXXXX";
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

inline std::string slurp(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

inline void spit(const std::string& file, const std::string& data) {
  std::ofstream(file, std::ios::binary) << data;
}

inline std::size_t entries(const std::string& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

// The mode under test: MUTX_IO when set, else automatic.
inline io_mode mode_under_test() { return io_mode_from_env(); }

}  // namespace mutx::test
