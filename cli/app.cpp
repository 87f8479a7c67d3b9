#include "app.hpp"

#include "housekeep.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "report.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#ifndef MUTX_VERSION
#define MUTX_VERSION "unknown"
#endif

namespace mutx::cli {

namespace {

// The signal mask mutx was started with. SIGINT, SIGTERM and SIGHUP are
// blocked from the start and mutx::write unblocks them while its handler is
// installed: one that came earlier killed mutx with 143, not exit 3. What
// installs no handler (housekeep, --help, an argument error) gets the
// caller's mask back, so it can be interrupted as any program can.
sigset_t caller_mask;
void restore_caller_mask() { ::pthread_sigmask(SIG_SETMASK, &caller_mask, nullptr); }

// Before main(): the static binary's C++ initialisation (locale, iostreams,
// Boost) runs first, and exec to main() took 500 us (median of 30 runs) where
// exec to this constructor takes 35 us, the kernel's and libc's own start.
[[gnu::constructor(101)]] void block_termination_signals() {
  sigset_t termination;
  sigemptyset(&termination);
  for (int signo : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&termination, signo);
  ::pthread_sigmask(SIG_BLOCK, &termination, &caller_mask);
}

int run_write(const std::vector<std::string>& args) {
  cli_options c;
  try {
    c = parse_command_line(args);
  } catch (const mutx::error& e) {
    restore_caller_mask();
    return reporter(0, asks_for_json(args)).on_error(e);
  }
  if (c.help || c.version) restore_caller_mask();
  if (c.help) {
    // The text is longer than stdout's 4 KiB buffer, so a write that fails
    // (>/dev/full) fails here rather than in main's final flush: say why.
    errno = 0;
    if (!(std::cout << help_text() << std::flush))
      return reporter(0, false).on_error(std::string("cannot write to standard output: ") + std::strerror(errno ? errno : EIO));
    return exit_ok;
  }
  if (c.version) {
    std::cout << "mutx " << MUTX_VERSION << "\n";
    return exit_ok;
  }
  reporter report(c.verbosity, c.json);
  tell_typed_input(c, report);
  progress_line progress(c, report);
  write_hooks hooks;
  hooks.debug_events = report.shown(event::level::debug);
  hooks.info_events = report.shown(event::level::info);
  hooks.on_event = [&](const event& e) { progress.show(e, report); };
  if (progress.enabled()) hooks.on_progress = [&](std::uint64_t n, std::optional<std::uint64_t> total) { progress.update(n, total); };
  try {
    mutx::write(c.write, hooks);
    progress.clear();
    return exit_ok;
  } catch (const mutx::error& e) {
    progress.clear();
    return report.on_error(e);
  } catch (const std::bad_alloc&) {
    progress.clear();
    return report.on_error("out of memory", "Use --stream for input larger than memory.");
  }
}

}  // namespace

int main(int argc, char** argv) {
  // A closed stdout or stderr must give EPIPE and an exit code, not a
  // silent death by SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  // Likewise a file size limit (ulimit -f) must give EFBIG and an error,
  // not death by SIGXFSZ with the lock file left behind. A command run with
  // `--` gets the default back (command.cpp).
  ::signal(SIGXFSZ, SIG_IGN);
  // A closed stdin, stdout or stderr (`mutx OUT <&-`, `2>&-`) would lend its
  // number to the first descriptor the engine opens (the loop's eventfd):
  // mutx read its input from that and hung, and wrote its messages into it.
  // Park /dev/null there instead; a closed stdin then reads as empty input.
  for (int fd = 0; fd <= 2; ++fd)
    if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "housekeep") {
    restore_caller_mask();
    return housekeep_main(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  try {
    return run_write(args);
  } catch (const std::exception& e) {
    std::cerr << "Error: " << e.what() << "\n";
    return exit_error;
  }
}

}  // namespace mutx::cli
