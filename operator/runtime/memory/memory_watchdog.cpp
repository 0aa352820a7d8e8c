#include "runtime/memory/memory_watchdog.h"

#include <cmath>
#include <fstream>
#include <sstream>

namespace sluice::runtime {

namespace {

// The process's started watchdog, for memoryOverThreshold.
std::atomic<MemoryWatchdog*> processWatchdog{nullptr};

}  // namespace

int64_t residentBytes(const std::string& statusFile) {
  std::ifstream in(statusFile);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    int64_t kibibytes = -1;
    fields >> kibibytes;
    return kibibytes < 0 ? -1 : kibibytes * 1024;
  }
  return -1;
}

MemoryWatchdog::MemoryWatchdog(MemoryWatchdogOptions options, std::function<int64_t()> readResident, Clock& clock)
    : options_(std::move(options)), readResident_(std::move(readResident)), clock_(clock) {}

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
