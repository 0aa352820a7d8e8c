#include "runtime/memory/memory_watchdog.h"

#include <cmath>
#include <fstream>
#include <sstream>

namespace sluice::runtime {

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
  thread_ = std::jthread([this, onTrip = std::move(onTrip)](std::stop_token stop) {
    while (clock_.sleepFor(options_.interval, stop)) {
      if (auto message = check()) {
        onTrip(*message);
        return;
      }
    }
  });
}

void MemoryWatchdog::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

}  // namespace sluice::runtime
