// `mutx housekeep [OPTIONS] [DIR]`: argv after the word "housekeep".
#pragma once

#include <string>
#include <vector>

namespace mutx::cli {

int housekeep_main(const std::vector<std::string>& args);

}  // namespace mutx::cli
