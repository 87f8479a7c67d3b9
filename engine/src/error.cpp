#include "mutx/error.hpp"

#include <cerrno>
#include <cstring>

namespace mutx {

namespace {

std::string compose(const error_code& ec, const std::string& op, const std::string& path) {
  std::string context = op;
  if (!path.empty()) {
    if (!context.empty()) context += ' ';
    context += path;
  }
  return context.empty() ? describe(ec) : context + ": " + describe(ec);
}

// A hint for the errors people can do something about.
std::string default_hint(const error_code& ec) {
  if (ec.category() != boost::system::system_category()) return {};
  switch (ec.value()) {
    case ENOSPC: return "Free some space on that filesystem; the target was left as it was.";
    case EDQUOT: return "Your disk quota is exhausted; the target was left as it was.";
    case EROFS: return "The filesystem is mounted read-only.";
    case EFBIG: return "The file size limit (ulimit -f) or the filesystem's largest file size was reached; the target was left as it was.";
    case EMFILE: return "This process may open no more files (ulimit -n); raise the limit.";
    case EACCES:
    case EPERM: return "Check the permissions of the file and of its directory.";
    default: return {};
  }
}

}  // namespace

error::error(error_code ec, std::string op, std::string path)
    : std::runtime_error(compose(ec, op, path)),
      ec_(ec),
      op_(std::move(op)),
      path_(std::move(path)),
      hint_(default_hint(ec)) {}

error::error(failure_kind kind, std::string message, std::string hint)
    : std::runtime_error(std::move(message)), kind_(kind), hint_(std::move(hint)) {}

std::string describe(const error_code& ec) {
  if (ec.category() == boost::system::system_category()) {
    switch (ec.value()) {
      // strerror's words, except where they mislead.
      case ENOTDIR: return "Not a directory (a component of the path is not a directory)";
      case ELOOP: return "Too many levels of symbolic links";
      case EXDEV: return "Not on the same filesystem";
      default: return std::strerror(ec.value());
    }
  }
  return ec.message();
}

error_code errno_code(int err) noexcept {
  return error_code(err, boost::system::system_category());
}

void throw_error(error_code ec, std::string op, std::string path) {
  throw error(ec, std::move(op), std::move(path));
}

void throw_write_error(error_code ec, std::string op, std::string what, const std::string& output) {
  if (ec.category() == boost::system::system_category() && (ec.value() == ENOSPC || ec.value() == EDQUOT))
    throw error(ec, "", output);
  throw error(ec, std::move(op), std::move(what));
}

}  // namespace mutx
