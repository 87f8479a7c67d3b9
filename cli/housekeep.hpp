// `mutx housekeep [OPTIONS] [DIR]`: argv after the word "housekeep".
#pragma once

#include <string>
#include <vector>

namespace mutx::cli {

int housekeep_main(const std::vector<std::string>& args);

// The long names of housekeep's options, for the hint to a write command
// line that gives one of them (`mutx --clean-locks DIR`).
std::vector<std::string> housekeep_option_names();

}  // namespace mutx::cli
