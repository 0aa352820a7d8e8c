#include "runtime/memory/memory_watchdog.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace sluice::runtime {

namespace {

// The process's started watchdog, for memoryOverThreshold.
std::atomic<MemoryWatchdog*> processWatchdog{nullptr};

}  // namespace

int64_t residentBytes(const std::string& statmFile) {
  // statm, not status: one short line of numbers that the kernel fills
  // without walking the process's other counters; read up to 250 times a
  // second (the watchdog and the delivery loop's samples), so it shows.
  const int fd = ::open(statmFile.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  std::array<char, 128> text{};
  const ssize_t n = ::read(fd, text.data(), text.size() - 1);
  ::close(fd);
  if (n <= 0) return -1;
  // "<size> <resident> <shared> ..." in pages.
  char* end = nullptr;
  std::strtoll(text.data(), &end, 10);
  const char* residentField = end;
  const long long pages = std::strtoll(residentField, &end, 10);
  if (end == residentField || pages < 0) return -1;
  static const int64_t kPageBytes = ::sysconf(_SC_PAGESIZE);
  return static_cast<int64_t>(pages) * kPageBytes;
}

MemoryWatchdog::MemoryWatchdog(MemoryWatchdogOptions options, std::function<int64_t()> readResident, Clock& clock)
    : options_(options), readResident_(std::move(readResident)), clock_(clock) {}

MemoryWatchdog::~MemoryWatchdog() { stop(); }

int64_t MemoryWatchdog::thresholdBytes() const {
  return static_cast<int64_t>(std::floor(static_cast<double>(options_.limitBytes) * options_.threshold));
}

std::optional<std::string> MemoryWatchdog::check() const {
  if (options_.limitBytes <= 0) return std::nullopt;
  const int64_t resident = readResident_();
  if (resident < 0 || resident < thresholdBytes()) return std::nullopt;
  constexpr double kMebibyte = 1024.0 * 1024.0;
  std::ostringstream message;
  message.precision(1);
  message << std::fixed << "memory watchdog: resident set " << static_cast<double>(resident) / kMebibyte
          << " MiB reached " << options_.threshold * 100 << "% of the memory limit of "
          << static_cast<double>(options_.limitBytes) / kMebibyte
          << " MiB; stopped taking events, drained (finished work committed, the rest left for redelivery) and "
             "exited to be restarted before the kernel's OOM kill";
  return message.str();
}

void MemoryWatchdog::start(std::function<void(const std::string& message)> onTrip) {
  if (options_.limitBytes <= 0) return;
  onTrip_ = std::move(onTrip);
  processWatchdog = this;
  thread_ = std::jthread([this](std::stop_token stop) {
    while (!tripped_ && clock_.sleepFor(options_.interval, stop)) {
      if (auto message = check()) {
        trip(*message);
        return;
      }
    }
  });
}

void MemoryWatchdog::stop() {
  MemoryWatchdog* self = this;
  processWatchdog.compare_exchange_strong(self, nullptr);
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

bool MemoryWatchdog::sample() {
  if (tripped_) return true;
  if (!onTrip_) return false;  // not started
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.now().time_since_epoch()).count();
  int64_t last = lastSampleNanos_.load();
  if (now - last < 5'000'000 || !lastSampleNanos_.compare_exchange_strong(last, now)) return tripped_;
  if (auto message = check()) trip(*message);
  return tripped_;
}

void MemoryWatchdog::trip(const std::string& message) {
  if (tripped_.exchange(true)) return;
  onTrip_(message);
}

bool memoryOverThreshold() {
  MemoryWatchdog* watchdog = processWatchdog.load();
  return watchdog != nullptr && watchdog->sample();
}

}  // namespace sluice::runtime
