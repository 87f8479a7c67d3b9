// One write, step by step: the commit protocol of docs/design.md section 3
// as the engine runs it on the loop. writer.cpp owns the loop and the
// signals; this is what runs on it.
#pragma once

#include "mutx/ring.hpp"
#include "mutx/stop.hpp"
#include "mutx/writer.hpp"

#include <boost/asio/awaitable.hpp>

namespace mutx::detail {

// Runs the write `o` describes, reporting through `hooks` and into `rep`.
// `committed` turns true at the commit point (the rename), after which a
// signal no longer fails the write. Throws mutx::error.
boost::asio::awaitable<void> run_write(const write_options& o, const write_hooks& hooks, ring& r, stop_source& stop,
                                       bool& committed, write_report& rep);

}  // namespace mutx::detail
