// RFC 3339 timestamps as Kubernetes writes them ("2026-11-23T22:48:48Z").
// Pure functions; any thread.
#pragma once

#include <chrono>
#include <string>

namespace sluice {

// "2026-11-23T22:48:48Z"
std::string rfc3339(std::chrono::system_clock::time_point time);
// The epoch when `text` is not such a timestamp.
std::chrono::system_clock::time_point parseRfc3339(const std::string& text);

}  // namespace sluice
