#include "app.hpp"

int main(int argc, char** argv) {
  return mutx::cli::main(argc, argv);
}
