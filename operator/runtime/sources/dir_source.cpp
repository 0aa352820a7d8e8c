#include "runtime/sources/dir_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "common/logging.h"

namespace sluice::runtime {

namespace fs = std::filesystem;

namespace {

constexpr const char* kClaimDir = ".sluice-claims";
constexpr const char* kFailedDir = ".sluice-failed";

std::string errnoText() { return std::strerror(errno); }

timespec toTimespec(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

std::chrono::system_clock::time_point mtimeOf(const struct stat& st) {
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

// Sets a file's mtime (and atime) to `t`, so claim ages follow the Clock.
void touch(const std::string& path, std::chrono::system_clock::time_point t) {
  timespec times[2] = {toTimespec(t), toTimespec(t)};
  utimensat(AT_FDCWD, path.c_str(), times, 0);
}

// rename(), or copy + fsync + unlink across file systems.
Status moveFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) == 0) return Status::ok();
  if (errno != EXDEV) return unavailable("rename " + from + " -> " + to + ": " + errnoText());
  std::error_code ec;
  std::string temp = (fs::path(to).parent_path() / ("." + fs::path(to).filename().string() + ".moving")).string();
  fs::copy_file(from, temp, fs::copy_options::overwrite_existing, ec);
  if (ec) return unavailable("copy " + from + " -> " + temp + ": " + ec.message());
  int fd = ::open(temp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (::rename(temp.c_str(), to.c_str()) != 0) return unavailable("rename " + temp + " -> " + to + ": " + errnoText());
  if (::unlink(from.c_str()) != 0) return unavailable("unlink " + from + ": " + errnoText());
  return Status::ok();
}

}  // namespace

struct DirSource::State {
  DirSourceOptions options;
  Clock& clock;
  ClaimedObjects claimed;  // file name -> event id

  State(DirSourceOptions o, Clock& c) : options(std::move(o)), clock(c), claimed(options.maxInFlight) {}

  std::string filePath(const std::string& name) const { return (fs::path(options.directory) / name).string(); }
  std::string claimPath(const std::string& name) const {
    return (fs::path(options.directory) / kClaimDir / name).string();
  }

  // Takes the claim of `name`; false when another replica holds a live one.
  bool claim(const std::string& name) {
    std::string path = claimPath(name);
    for (int tries = 0; tries < 2; ++tries) {
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
      if (fd >= 0) {
        std::string owner = options.owner + "\n";
        (void)!::write(fd, owner.data(), owner.size());
        ::close(fd);
        touch(path, clock.wallNow());
        return true;
      }
      if (errno != EEXIST) {
        SLUICE_LOG_WARN("dir trigger {}: cannot claim {}: {}", options.triggerName, path, errnoText());
        return false;
      }
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) continue;  // released meanwhile: try again
      if (clock.wallNow() - mtimeOf(st) <= options.claimTtl) return false;
      // Abandoned. Rename it away first: of several replicas seeing it stale,
      // only one rename succeeds, and the O_EXCL create decides the new owner.
      std::string stale = path + ".stale." + options.owner;
      if (::rename(path.c_str(), stale.c_str()) != 0) return false;
      ::unlink(stale.c_str());
      SLUICE_LOG_WARN("dir trigger {}: took over the abandoned claim of {}", options.triggerName, name);
    }
    return false;
  }

  void release(const std::string& name) { ::unlink(claimPath(name).c_str()); }

  void finishFile(const std::string& name, Outcome outcome) {
    if (!claimed.complete(name)) return;  // the claim was released; whoever owns the file now decides
    std::string path = filePath(name);
    Status status;
    switch (outcome) {
      case Outcome::kAcked:
        if (options.afterProcessing == DirAfterProcessing::kDelete) {
          if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            status = unavailable("unlink " + path + ": " + errnoText());
        } else {
          status = moveFile(path, (fs::path(options.moveTo) / name).string());
        }
        break;
      case Outcome::kRejected:
        status = moveFile(path, (fs::path(options.directory) / kFailedDir / name).string());
        if (status.isOk())
          SLUICE_LOG_ERROR("dir trigger {}: {} rejected, moved to {}/", options.triggerName, name, kFailedDir);
        break;
      case Outcome::kRequeue: break;  // left in place: the next scan takes it again
    }
    if (!status.isOk()) {
      // Keep the claim: it goes stale after claimTtl and the file is tried
      // again then, instead of at every scan.
      SLUICE_LOG_ERROR("dir trigger {}: after processing {}: {}", options.triggerName, name, status.toString());
      return;
    }
    release(name);
  }
};

DirSource::DirSource(DirSourceOptions options, Clock& clock)
    : ObjectSource("dir", "file", options.triggerName, clock, options.pollInterval, options.claimTtl),
      options_(std::move(options)) {
  if (options_.owner.empty()) options_.owner = defaultOwner();
  while (options_.directory.size() > 1 && options_.directory.back() == '/') options_.directory.pop_back();
  if (options_.maxInFlight < 1) options_.maxInFlight = 1;
  state_ = std::make_shared<State>(options_, clock_);
}

DirSource::~DirSource() { (void)finish(clock_.now()); }

Status DirSource::start(EventDispatcher& dispatcher) {
  const std::string& where = this->where();
  std::error_code ec;
  if (!fs::is_directory(options_.directory, ec)) {
    return invalidArgument(where + ": " + options_.directory + " is not a directory");
  }
  for (const char* sub : {kClaimDir, kFailedDir}) {
    fs::create_directories(fs::path(options_.directory) / sub, ec);
    if (ec)
      return unavailable(where + ": cannot create " + (fs::path(options_.directory) / sub).string() + ": " +
                         ec.message());
  }
  if (options_.afterProcessing == DirAfterProcessing::kMove) {
    if (options_.moveTo.empty()) return invalidArgument(where + ": afterProcessing move needs moveToPrefix");
    fs::create_directories(options_.moveTo, ec);
    if (ec) return unavailable(where + ": cannot create " + options_.moveTo + ": " + ec.message());
  }
  startScanning(dispatcher, options_.directory);
  return Status::ok();
}

size_t DirSource::releaseInFlight() {
  return state_->claimed.closeAndRelease([this](const std::string& name) { state_->release(name); });
}

void DirSource::refreshClaims() {
  auto now = clock_.wallNow();
  for (const auto& name : state_->claimed.keys()) touch(state_->claimPath(name), now);
}

void DirSource::scan() {
  struct Candidate {
    std::string name;
    std::chrono::system_clock::time_point mtime;
    int64_t size;
  };
  std::vector<Candidate> candidates;
  std::error_code ec;
  for (auto it = fs::directory_iterator(options_.directory, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    struct stat st {};
    if (::stat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    candidates.push_back({name, mtimeOf(st), static_cast<int64_t>(st.st_size)});
  }
  if (ec) {
    SLUICE_LOG_WARN("dir trigger {}: listing {}: {}", options_.triggerName, options_.directory, ec.message());
    return;
  }
  // Oldest first, so a backlog drains in arrival order.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.mtime != b.mtime ? a.mtime < b.mtime : a.name < b.name;
  });
  for (const Candidate& c : candidates) {
    if (!fetching() || !hasRoom()) return;
    ClaimedObjects::Admission admission = state_->claimed.admit(c.name);
    if (admission == ClaimedObjects::Admission::kFull) return;
    if (admission == ClaimedObjects::Admission::kAlreadyOurs) continue;
    if (!state_->claim(c.name)) continue;
    std::string path = state_->filePath(c.name);
    if (c.size > options_.maxFileBytes) {
      Status moved = moveFile(path, (fs::path(options_.directory) / kFailedDir / c.name).string());
      SLUICE_LOG_ERROR("dir trigger {}: {} is {} bytes, over the {} byte limit: moved to {}/ ({})",
                       options_.triggerName, c.name, c.size, options_.maxFileBytes, kFailedDir, moved.toString());
      state_->release(c.name);
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      state_->release(c.name);  // finished and removed by another replica meanwhile
      continue;
    }
    std::ostringstream content;
    content << in.rdbuf();
    const std::string version =
        std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(c.mtime.time_since_epoch()).count()) + "-" +
        std::to_string(c.size);
    Event event = objectEvent(path, version, fs::path(options_.directory).filename().string(), c.name, c.mtime,
                              std::move(content).str());
    state_->claimed.add(c.name, event.id);
    std::weak_ptr<State> weak = state_;
    std::string name = c.name;
    // No lane: files are independent and run in parallel.
    dispatcher_->dispatch(std::move(event), "", options_.triggerName, [weak, name](Outcome outcome) {
      if (auto state = weak.lock()) state->finishFile(name, outcome);
    });
  }
}

}  // namespace sluice::runtime
