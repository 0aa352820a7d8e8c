#include "runtime/memory/in_flight_budget.h"

#include <algorithm>

namespace sluice::runtime {

namespace {

int64_t quarterOfLimit(int64_t memoryLimitMebibytes) {
  if (memoryLimitMebibytes <= 0) return 256 * kMebibyte;
  return std::clamp(memoryLimitMebibytes * kMebibyte / 4, 16 * kMebibyte, 1024 * kMebibyte);
}

}  // namespace

bool InFlightBudget::admits(int64_t events, int64_t bytes) const {
  if (events >= maxEvents) return false;
  return maxBytes <= 0 || events == 0 || bytes < maxBytes;
}

int64_t eventBytes(const Event& event) {
  auto bytes = static_cast<int64_t>(event.data.size() + event.id.size() + event.subject.size());
  if (event.key) bytes += static_cast<int64_t>(event.key->size());
  for (const auto& [name, value] : event.headers) bytes += static_cast<int64_t>(name.size() + value.size());
  return bytes;
}

int64_t defaultInFlightBytes(int64_t memoryLimitMebibytes) { return quarterOfLimit(memoryLimitMebibytes); }

KafkaBudgetShares kafkaBudgetShares(int64_t triggerBudgetBytes) {
  KafkaBudgetShares shares;
  // librdkafka needs room for at least one record batch; 1 MiB is its smallest useful queue.
  shares.prefetchBytes = std::max<int64_t>(triggerBudgetBytes / 8, kMebibyte);
  shares.deliveryBytes = std::max<int64_t>(triggerBudgetBytes - 2 * shares.prefetchBytes, kMebibyte);
  return shares;
}

int64_t defaultDecompressBytes(int64_t memoryLimitMebibytes) { return quarterOfLimit(memoryLimitMebibytes); }

}  // namespace sluice::runtime
