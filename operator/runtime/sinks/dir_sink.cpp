#include "runtime/sinks/dir_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sluice::runtime {

namespace {

std::string errnoText() { return std::strerror(errno); }

}  // namespace

Result<std::unique_ptr<DirSink>> DirSink::create(DirSinkOptions options, Clock& clock) {
  while (options.directory.size() > 1 && options.directory.back() == '/') options.directory.pop_back();
  struct stat st {};
  if (::stat(options.directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return invalidArgument("dir output: " + options.directory + " is not a directory");
  }
  if (::access(options.directory.c_str(), W_OK) != 0) {
    return Status(StatusCode::kPermissionDenied, "dir output: " + options.directory + " is not writable");
  }
  if (options.suffix.find('/') != std::string::npos) {
    return invalidArgument("dir output: suffix must not contain '/', got \"" + options.suffix + "\"");
  }
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::string stem = "-" + std::string(host) + "-" + std::to_string(getpid()) + "-";
  return std::unique_ptr<DirSink>(new DirSink(std::move(options), clock, std::move(stem)));
}

DirSink::DirSink(DirSinkOptions options, Clock& clock, std::string stem)
    : options_(std::move(options)), clock_(clock), stem_(std::move(stem)) {}

void DirSink::write(Record record, WriteCallback done) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wallNow().time_since_epoch()).count();
  std::string name = std::to_string(ms) + stem_ + std::to_string(sequence_.fetch_add(1)) + options_.suffix;
  done(writeFile(name, record.value));
}

Status DirSink::writeFile(const std::string& name, const std::string& value) {
  std::string finalPath = options_.directory + "/" + name;
  std::string tempPath = options_.directory + "/." + name + ".tmp";
  int fd = ::open(tempPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return unavailable("dir output: create " + tempPath + ": " + errnoText());
  size_t written = 0;
  while (written < value.size()) {
    ssize_t n = ::write(fd, value.data() + written, value.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status error = unavailable("dir output: write " + tempPath + ": " + errnoText());
      ::close(fd);
      ::unlink(tempPath.c_str());
      return error;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status error = unavailable("dir output: fsync " + tempPath + ": " + errnoText());
    ::close(fd);
    ::unlink(tempPath.c_str());
    return error;
  }
  ::close(fd);
  if (::rename(tempPath.c_str(), finalPath.c_str()) != 0) {
    Status error = unavailable("dir output: rename " + tempPath + " -> " + finalPath + ": " + errnoText());
    ::unlink(tempPath.c_str());
    return error;
  }
  // The rename is durable only once the directory entry is.
  int dirFd = ::open(options_.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
  return Status::ok();
}

}  // namespace sluice::runtime
