// RFC 3339 timestamps, the one implementation for the operator (Kubernetes
// timestamps, Lease MicroTime) and the runtime (event times). UTC on output.
// Pure functions; any thread.
#pragma once

#include <chrono>
#include <string>

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

}  // namespace sluice
