// mutx-example OUTPUT: replace OUTPUT with standard input, atomically and
// durably, through the mutx library (the same protocol as `mutx --stream`).
#include <mutx/mutx.hpp>

#include <chrono>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "Usage: mutx-example OUTPUT < input\n";
    return 1;
  }
  mutx::options opts;
  opts.lock_timeout = std::chrono::seconds(10);
  try {
    mutx::result r = mutx::write_stream(argv[1], 0, opts);
    std::cerr << "wrote " << r.bytes << " bytes to " << r.target << "\n";
    return 0;
  } catch (const mutx::error& e) {
    std::cerr << "Error: " << e.what() << "\n";
    if (!e.hint().empty()) std::cerr << "Hint: " << e.hint() << "\n";
    return e.kind() == mutx::failure_kind::locked ? 2 : 1;
  }
}
