#include "report.hpp"

#include "app.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <iostream>

namespace mutx::cli {

namespace json = boost::json;

namespace {

const char* level_name(event::level l) {
  switch (l) {
    case event::level::warning: return "warning";
    case event::level::notice: return "notice";
    case event::level::info: return "info";
    case event::level::debug: return "debug";
  }
  return "info";
}

void put_line(const std::string& line) {
  // One write per line, so lines from concurrent writers never interleave
  // mid-line on a shared stderr.
  std::string buf = line + "\n";
  std::fwrite(buf.data(), 1, buf.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

bool reporter::shown(event::level lvl) const {
  switch (lvl) {
    case event::level::warning:
    case event::level::notice: return verbosity_ >= 0;
    // --json carries the info events (bytes, duration, backup) even
    // without -v: it is meant for programs.
    case event::level::info: return verbosity_ >= 1 || (json_ && verbosity_ >= 0);
    case event::level::debug: return verbosity_ >= 2;
  }
  return false;
}

void reporter::on_event(const event& e) const {
  if (!shown(e.lvl)) return;
  if (!json_) {
    put_line(e.lvl == event::level::warning ? "Warning: " + e.message : e.message);
    return;
  }
  json::object o;
  o["level"] = level_name(e.lvl);
  o["event"] = e.name;
  o["message"] = e.message;
  for (const auto& [k, v] : e.fields) {
    std::visit([&, key = k](const auto& x) { o[key] = x; }, v);
  }
  put_line(json::serialize(o));
}

int reporter::on_error(const mutx::error& e) const {
  int code = exit_error;
  if (e.kind() == failure_kind::locked) code = exit_locked;
  if (e.kind() == failure_kind::interrupted) code = exit_interrupted;
  if (json_) {
    json::object o;
    o["level"] = "error";
    o["event"] = e.kind() == failure_kind::interrupted ? "interrupted" : (e.kind() == failure_kind::locked ? "locked" : "error");
    o["message"] = e.what();
    if (!e.hint().empty()) o["hint"] = e.hint();
    if (!e.op().empty()) o["operation"] = e.op();
    if (!e.path().empty()) o["path"] = e.path();
    if (e.code()) o["errno"] = e.code().value();
    o["exit_code"] = code;
    put_line(json::serialize(o));
    return code;
  }
  if (e.kind() == failure_kind::interrupted) {
    put_line("Interrupted");
    return code;
  }
  put_line(std::string("Error: ") + e.what());
  if (!e.hint().empty() && verbosity_ >= 0) put_line("Hint: " + e.hint());
  return code;
}

int reporter::on_error(const std::string& message, const std::string& hint) const {
  return on_error(mutx::error(failure_kind::io, message, hint));
}

}  // namespace mutx::cli
