// Small choices shared by the public API (mutx.hpp) and the engine, kept in
// a header of their own so that the public one pulls in nothing else.
#pragma once

namespace mutx {

// The I/O path: io_uring where the kernel allows it (automatic), or forced.
enum class io_mode { automatic, uring, syscalls };

// What to do when OUTPUT is a symbolic link.
enum class symlink_policy {
  follow,   // write the file the link points to, keep the link (default)
  replace,  // replace the link itself with a regular file
  refuse,   // error out if OUTPUT is a symlink
};

}  // namespace mutx
