// The command-line front end: parse, run the engine, report, exit code.
#pragma once

namespace mutx::cli {

// Exit codes (docs/design.md, section 2).
enum exit_code : int {
  exit_ok = 0,
  exit_error = 1,        // I/O, permission, bad arguments, failed command
  exit_locked = 2,       // lock not acquired (timeout or --no-wait)
  exit_interrupted = 3,  // SIGINT, SIGTERM, SIGHUP before the commit point
};

int main(int argc, char** argv);

}  // namespace mutx::cli
