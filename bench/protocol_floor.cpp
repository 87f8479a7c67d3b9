// The floor of the commit protocol (docs/design.md, sections 3 and 4) for one small
// write, with nothing else: no option parsing, no event loop, no metadata
// copy, no stale-temp sweep, no error messages. bench/small.sh times it next
// to mutx and dd, so what a small write costs beyond the protocol's own
// syscalls is visible in every run.
//
//   protocol_floor INPUT OUTPUT     (a regular INPUT of at most 64 KiB)
//
// lock: create OUTPUT.lock, flock; stage: O_TMPFILE in OUTPUT's directory,
// mode of the old file, write, fsync; publish: linkat to a temp name,
// renameat onto OUTPUT, fsync the directory; unlock: unlink, close.
// Exits 1 on the first failure, with perror's message.
#include <fcntl.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace {

[[noreturn]] void die(const char* what) {
  std::perror(what);
  _exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: protocol_floor INPUT OUTPUT\n");
    return 2;
  }
  static char buf[64 * 1024];
  int in = ::open(argv[1], O_RDONLY | O_CLOEXEC);
  if (in < 0) die("open input");
  ssize_t n = ::read(in, buf, sizeof buf);
  if (n < 0) die("read input");

  std::string out = argv[2];
  std::string dir_copy = out, base_copy = out;
  std::string dir = ::dirname(dir_copy.data());
  std::string name = ::basename(base_copy.data());
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) die("open directory");

  std::string lock = name + ".lock";
  int lfd = ::openat(dfd, lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (lfd < 0 || ::flock(lfd, LOCK_EX) != 0) die("lock");

  mode_t mode = 0644;
  struct stat st;
  if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) mode = st.st_mode & 07777;
  int fd = ::openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 || ::fchmod(fd, mode) != 0) die("stage");
  if (::write(fd, buf, static_cast<size_t>(n)) != n) die("write");
  if (::fsync(fd) != 0) die("fsync");
  std::string tmp = "." + name + ".floor-tmp";
  if (::linkat(fd, "", dfd, tmp.c_str(), AT_EMPTY_PATH) != 0) die("linkat");
  if (::renameat(dfd, tmp.c_str(), dfd, name.c_str()) != 0) die("renameat");
  if (::fsync(dfd) != 0) die("fsync directory");
  ::close(fd);
  ::unlinkat(dfd, lock.c_str(), 0);
  ::close(lfd);
  return 0;
}
