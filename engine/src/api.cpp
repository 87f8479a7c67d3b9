#include "mutx/mutx.hpp"
#include "mutx/writer.hpp"

namespace mutx {

namespace {

result summary(const write_report& rep) {
  result r;
  r.bytes = rep.bytes;
  r.target = rep.target;
  r.backup = rep.backup;
  r.changed = rep.changed;
  r.entries = rep.entries;
  r.sha256 = rep.sha256.value_or("");
  r.fence = rep.fence;
  return r;
}

}  // namespace

write_options to_write_options(const std::string& path, const options& opts) {
  write_options w;
  w.output = path;
  w.append = opts.append;
  w.allow_empty = opts.allow_empty;
  w.sync = opts.sync;
  w.parents = opts.parents;
  w.symlinks = opts.symlinks;

  w.metadata.mode = opts.mode;
  if (opts.chmod) {
    if (opts.mode) throw error(failure_kind::io, "both mode and chmod are set", "Set one of them.");
    w.metadata.mode = mode_spec::parse(*opts.chmod);
    if (!w.metadata.mode)
      throw error(failure_kind::io, "invalid mode '" + *opts.chmod + "'",
                  "Give an octal mode such as 0644, or a symbolic one as chmod(1) takes, such as u=rw,go=r or a+x.");
  }
  w.metadata.preserve_mode = opts.preserve_mode;
  w.metadata.uid = opts.owner;
  w.metadata.gid = opts.group;
  w.in_place = opts.in_place;

  w.backup.enabled = opts.backup;
  w.backup.timestamp = opts.backup_timestamp;
  w.backup.suffix = opts.backup_suffix;
  w.backup.dir = opts.backup_dir;
  w.backup.mode = opts.backup_mode;

  if (!opts.lock_wait) {
    w.wait.how = lock_wait::policy::no_wait;
  } else if (opts.lock_timeout) {
    w.wait.how = lock_wait::policy::timeout;
    w.wait.timeout = *opts.lock_timeout;
  }
  w.lock_file = opts.lock_file;
  w.lock_mode = opts.lock_mode;
  w.keep_lock_file = opts.keep_lock_file;
  w.check = opts.check;
  w.compare = opts.compare;
  w.on_change = opts.on_change;
  w.sha256 = opts.sha256;
  w.log = opts.log;
  w.hash = opts.compute_sha256;
  w.lock_url = opts.lock_url;
  w.lock_name = opts.lock_name;
  w.lock_ttl = static_cast<long>(opts.lock_ttl.count());
  w.io = opts.io == io_mode::automatic ? io_mode_from_env() : opts.io;
  w.handle_signals = opts.handle_signals;
  normalize(w, opts.backup_suffix != options{}.backup_suffix || opts.backup_dir || opts.backup_mode);
  return w;
}

result write_file(const std::string& path, std::span<const std::byte> data, const options& opts) {
  write_options w = to_write_options(path, opts);
  w.data = data;
  return summary(write(w));
}

result write_file(const std::string& path, std::string_view data, const options& opts) {
  return write_file(path, std::as_bytes(std::span<const char>(data.data(), data.size())), opts);
}

result write_stream(const std::string& path, int fd, const options& opts) {
  write_options w = to_write_options(path, opts);
  w.input_fd = fd;
  w.stream = true;
  return summary(write(w));
}

result write_tree(const std::string& dir, const tree_source& source, const options& opts) {
  write_options w = to_write_options(dir, opts);
  w.tree.enabled = true;
  w.tree.keep_special = opts.tree_keep_special;
  w.tree.from = source.directory;
  w.input_fd = source.tar_fd;
  if (!source.directory && source.tar_fd < 0)
    throw error(failure_kind::io, "write_tree: no source", "Give a tar stream's descriptor or a directory.");
  return summary(write(w));
}

}  // namespace mutx
