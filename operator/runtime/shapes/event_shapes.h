// Event shapes: how an Event looks to a user's handler (docs/event-shapes.md).
//
// canonical: Sluice's own dict (id, source, type, time, subject, key, headers,
//   partition, offset, data).
// scf: Tencent SCF trigger payloads (Ckafka, COS, timer, API gateway).
// lambda: AWS Lambda payloads (self-managed Kafka, S3 notification,
//   EventBridge scheduled event, API Gateway proxy).
// So handlers written for those platforms run unchanged.
//
// Output is nlohmann::json; strings may hold non-UTF-8 bytes (payloads are
// bytes), which the Python host hands over as `bytes`. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/config/function_config.h"
#include "runtime/core/event.h"

namespace sluice::runtime::shapes {

// Header names an object-store source sets on its Events; the shapes read
// them (falling back to Event::subject = "<bucket>/<key>" and data size).
inline constexpr const char* kObjectBucketHeader = "sluice.object.bucket";
inline constexpr const char* kObjectKeyHeader = "sluice.object.key";
inline constexpr const char* kObjectSizeHeader = "sluice.object.size";
inline constexpr const char* kObjectEtagHeader = "sluice.object.etag";
// An HTTP source may set these (defaults: POST, Event::subject as the path).
inline constexpr const char* kHttpMethodHeader = "sluice.http.method";
inline constexpr const char* kHttpQueryHeader = "sluice.http.query";  // raw query string, a=1&b=2

struct ShapeOptions {
  std::string triggerName;
  std::string bootstrapServers;  // lambda Kafka events carry it
  std::string region = "us-east-1";
};

// One event per call, or a batch (Kafka/COS "Records" hold many). A batch is
// shaped by its first event's source; canonical batches become a list.
nlohmann::json shapeEvent(config::EventShape shape, const Event& event, const ShapeOptions& options);
nlohmann::json shapeBatch(config::EventShape shape, const std::vector<Event>& events, const ShapeOptions& options);

// The canonical dict of one event.
nlohmann::json canonicalEvent(const Event& event);

// Shared with tests and the Python host.
bool isValidUtf8(const std::string& text);

}  // namespace sluice::runtime::shapes
