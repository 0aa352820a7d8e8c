// RFC 3339 timestamps and durations, the one implementation for the operator (Kubernetes
// timestamps, Lease MicroTime) and the runtime (event times). UTC on output.
// Pure functions; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace sluice {

enum class FractionalSeconds { kNone, kMillis, kMicros };

// "2026-11-23T22:48:48Z"; kMillis: "2026-11-23T22:48:48.123Z"; kMicros: "...48.123456Z".
// Times before the epoch count down from the second below (…:59.999Z is 1 ms before a second).
std::string rfc3339(std::chrono::system_clock::time_point time, FractionalSeconds fraction = FractionalSeconds::kNone);

// "2026-11-23T22:48:48Z", with optional fractional seconds (any number of
// digits, kept to the nanosecond) and a zone: "Z"/"z" or "+hh:mm"/"-hh:mm".
// A missing zone reads as UTC. The epoch when `text` is not such a timestamp.
std::chrono::system_clock::time_point parseRfc3339(const std::string& text);

// `time` (whole seconds, UTC) in a strftime `format` of the C locale, for
// the other formats protocols want ("20261123T224848Z" for SigV4,
// "23/Nov/2026:22:48:48 +0000" for API Gateway). Up to 63 characters.
std::string formatUtc(std::chrono::system_clock::time_point time, const char* format);

// A duration as the CRDs write it (the pattern ^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$):
// "250ms", "2s", "1.5m", "1m30s", "1h2m3.5s"; a bare number is seconds. At
// most 168h. The one reader for the runtime's configuration and the API's
// validator, so what `kubectl apply` takes the replica reads the same way.
Result<std::chrono::milliseconds> parseDuration(const std::string& text);

// `count` units (std::chrono::seconds or milliseconds) after the epoch, as a
// clock time; nullopt when the clock cannot hold it (beyond the years
// 1678-2262 of a nanosecond clock). For times a peer sends (a Kafka record's
// timestamp, an AMQP message's): converting those unchecked overflows, which
// is undefined behaviour.
template <typename Unit>
std::optional<std::chrono::system_clock::time_point> fromEpoch(int64_t count) {
  using WallClock = std::chrono::system_clock;
  constexpr int64_t kPerUnit = std::chrono::duration_cast<WallClock::duration>(Unit(1)).count();
  constexpr int64_t kLimit = WallClock::duration::max().count() / kPerUnit;
  if (count > kLimit || count < -kLimit) return std::nullopt;
  return WallClock::time_point(std::chrono::duration_cast<WallClock::duration>(Unit(count)));
}

}  // namespace sluice
