#include "app.hpp"

#include "housekeep.hpp"

#include <iostream>
#include <string>
#include <vector>

namespace mutx::cli {

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "housekeep")
    return housekeep_main(std::vector<std::string>(argv + 2, argv + argc));
  std::cerr << "Error: not implemented yet\n";
  return exit_error;
}

}  // namespace mutx::cli
