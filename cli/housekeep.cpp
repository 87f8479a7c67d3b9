#include "housekeep.hpp"

#include "app.hpp"

#include <iostream>

namespace mutx::cli {

int housekeep_main(const std::vector<std::string>&) {
  std::cerr << "Error: housekeep is not implemented yet\n";
  return exit_error;
}

}  // namespace mutx::cli
