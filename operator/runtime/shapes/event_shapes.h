// Event shapes: how an Event looks to a user's handler (docs/event-shapes.md).
//
// canonical: Sluice's own dict (id, source, type, time, subject, key, headers,
//   partition, offset, data).
// scf: Tencent SCF trigger payloads (Ckafka, COS, timer, API gateway).
// lambda: AWS Lambda payloads (self-managed Kafka or Amazon MSK, S3
//   notification, EventBridge scheduled event, API Gateway REST proxy).
// So handlers written for those platforms run unchanged.
//
// Output is nlohmann::json; strings may hold non-UTF-8 bytes (payloads are
// bytes), which the Python host hands over as `bytes`. Pure functions;
// thread-safe.
#pragma once

#include <map>
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
// Optional: the object's HTTP(S) URL, its version id (versioned buckets) and content type.
inline constexpr const char* kObjectUrlHeader = "sluice.object.url";
inline constexpr const char* kObjectVersionIdHeader = "sluice.object.version-id";
inline constexpr const char* kObjectContentTypeHeader = "sluice.object.content-type";
// An HTTP source may set these (defaults: POST, "/" + Event::subject as the
// path, no query, the client address unknown: 127.0.0.1).
inline constexpr const char* kHttpMethodHeader = "sluice.http.method";
inline constexpr const char* kHttpQueryHeader = "sluice.http.query";  // raw query string, a=1&b=2
inline constexpr const char* kHttpPathHeader = "sluice.http.path";
inline constexpr const char* kHttpSourceIpHeader = "sluice.http.source-ip";

// Defaults of the platform identifiers (spec.compat), documented in docs/event-shapes.md.
inline constexpr const char* kDefaultScfRegion = "ap-guangzhou";
inline constexpr const char* kDefaultLambdaRegion = "us-east-1";
inline constexpr const char* kDefaultScfAppId = "1250000000";
inline constexpr const char* kDefaultScfUin = "100000000001";
inline constexpr const char* kDefaultAwsAccountId = "000000000000";

struct ShapeOptions {
  std::string triggerName;   // the trigger the events came through
  std::string functionName;  // SCF COS eventQueue names the function
  std::string namespaceName;
  std::string bootstrapServers;  // lambda Kafka events carry it (when kafkaServers does not name the trigger)
  std::map<std::string, std::string> kafkaServers;  // trigger name -> its bootstrap servers
  std::string region = kDefaultLambdaRegion;
  std::string appId = kDefaultScfAppId;
  std::string accountId = kDefaultAwsAccountId;
  config::LambdaKafkaForm lambdaKafka = config::LambdaKafkaForm::kSelfManaged;
  std::string mskClusterArn;  // empty: derived from region, account and trigger
};

// The options a Function's configuration implies: its compat settings with
// the defaults of its event shape filled in, and its triggers' Kafka servers.
ShapeOptions shapeOptionsFor(const config::FunctionConfig& config);

// One event per call, or a batch (Kafka/COS "Records" hold many). A batch is
// shaped by its first event's source; canonical batches become a list, even
// of one event (a handler of a batchSize > 1 trigger is written for lists).
nlohmann::json shapeEvent(config::EventShape shape, const Event& event, const ShapeOptions& options);
nlohmann::json shapeBatch(config::EventShape shape, const std::vector<Event>& events, const ShapeOptions& options);

// The canonical dict of one event.
nlohmann::json canonicalEvent(const Event& event);

// Shared with tests and the Python host.
bool isValidUtf8(const std::string& text);

}  // namespace sluice::runtime::shapes
