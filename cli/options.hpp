// The command line (docs/design.md, section 2) mapped onto engine options. One
// option table serves --help, the config file, the man page check and the
// completions check.
#pragma once

#include "mutx/writer.hpp"

#include <boost/program_options/options_description.hpp>

#include <string>
#include <vector>

namespace mutx::cli {

struct cli_options {
  write_options write;
  int verbosity = 0;  // -1 quiet, 0 default, 1 -v, 2 -vv
  bool json = false;
  bool help = false;
  bool version = false;
  enum class progress_mode { automatic, on, off } progress = progress_mode::automatic;
  // The input is typed at the terminal: standard input is a terminal and
  // neither --input FILE nor a command replaces it.
  bool typed_input = false;
};

// The option table (everything but OUTPUT and the command).
boost::program_options::options_description option_table();

// Parse argv (without the program name). Throws mutx::error on bad input,
// naming the option and what was expected.
cli_options parse_command_line(const std::vector<std::string>& args);

// The hint for an unknown long option `typed` (with its dashes, maybe
// "=VALUE"): "did you mean --backup?" naming the options of `table` one or
// two typing slips away, or "" when none is that near.
std::string suggest_option(const std::string& typed, const boost::program_options::options_description& table);

// The usage text for --help.
std::string help_text();

// "0644", "644", "4755" -> mode; throws naming `option` otherwise.
mode_t parse_mode(const std::string& text, const std::string& option);

// The config file in effect ($XDG_CONFIG_HOME/mutx/config, else
// ~/.config/mutx/config), or "" when neither variable is usable.
std::string config_path();

}  // namespace mutx::cli
