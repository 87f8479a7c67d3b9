// One tree write (`mutx --tree DIR`), step by step: docs/design.md,
// section 8, as the engine runs it on the loop. writer.cpp owns the loop and
// the signals and calls this when write_options::tree is enabled.
#pragma once

#include "mutx/ring.hpp"
#include "mutx/stop.hpp"
#include "mutx/writer.hpp"

#include <boost/asio/awaitable.hpp>

namespace mutx::detail {

// As run_write (write_job.hpp), for a tree.
boost::asio::awaitable<void> run_tree(const write_options& o, const write_hooks& hooks, ring& r, stop_source& stop,
                                      bool& committed, write_report& rep);

}  // namespace mutx::detail
