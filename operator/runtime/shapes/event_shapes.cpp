#include "runtime/shapes/event_shapes.h"

#include <cstdio>
#include <ctime>

#include "common/encoding.h"
#include "common/time.h"

namespace sluice::runtime::shapes {
namespace {

using config::EventShape;
using nlohmann::json;

const std::string* findHeader(const Event& event, const char* name) {
  for (const auto& [key, value] : event.headers) {
    if (key == name) return &value;
  }
  return nullptr;
}

// Kafka-style headers as a dict; a repeated name becomes a list of its values.
json headersDict(const Headers& headers, bool skipInternal) {
  json out = json::object();
  for (const auto& [key, value] : headers) {
    if (skipInternal && key.rfind("sluice.", 0) == 0) continue;
    auto it = out.find(key);
    if (it == out.end()) {
      out[key] = value;
    } else {
      if (!it->is_array()) *it = json::array({*it});
      it->push_back(value);
    }
  }
  return out;
}

struct ObjectInfo {
  std::string bucket;
  std::string key;
  int64_t size = 0;
  std::string etag;
};

ObjectInfo objectInfo(const Event& event) {
  ObjectInfo info;
  const std::string* bucket = findHeader(event, kObjectBucketHeader);
  const std::string* key = findHeader(event, kObjectKeyHeader);
  if (bucket != nullptr && key != nullptr) {
    info.bucket = *bucket;
    info.key = *key;
  } else {
    size_t slash = event.subject.find('/');
    info.bucket = slash == std::string::npos ? event.subject : event.subject.substr(0, slash);
    info.key = slash == std::string::npos ? "" : event.subject.substr(slash + 1);
  }
  info.size = static_cast<int64_t>(event.data.size());
  if (const std::string* size = findHeader(event, kObjectSizeHeader)) {
    try {
      info.size = std::stoll(*size);
    } catch (const std::exception&) {
      // keep the payload size
    }
  }
  if (const std::string* etag = findHeader(event, kObjectEtagHeader)) info.etag = *etag;
  return info;
}

bool isObjectSource(const Event& event) {
  return event.source == "s3" || event.source == "dir" || event.source == "webhdfs";
}

int64_t epochMillis(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// S3 notifications carry the key form-URL-encoded (space as '+'), which
// Lambda handlers undo with unquote_plus; keep that contract.
std::string formEncode(const std::string& text) {
  return percentEncode(text, {.keepSlash = true, .spaceAsPlus = true});
}

json byteList(const std::string& bytes) {
  json out = json::array();
  for (unsigned char c : bytes) out.push_back(static_cast<int>(c));
  return out;
}

std::string queryOf(const Event& event) {
  const std::string* query = findHeader(event, kHttpQueryHeader);
  return query == nullptr ? "" : *query;
}

json queryDict(const std::string& query) {
  json out = json::object();
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    std::string pair = query.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      out[pair.substr(0, eq)] = eq == std::string::npos ? "" : pair.substr(eq + 1);
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// ------------------------------------------------------------------ SCF

json scfKafkaRecord(const Event& event) {
  return {{"Ckafka",
           {{"topic", event.subject},
            {"partition", event.partition.value_or(0)},
            {"offset", event.offset.value_or(0)},
            {"msgKey", event.key.value_or("None")},  // SCF's own rendering of a missing key
            {"msgBody", event.data}}}};
}

json scfCosRecord(const Event& event, const ShapeOptions& options) {
  ObjectInfo object = objectInfo(event);
  return {{"cos",
           {{"cosSchemaVersion", "1.0"},
            {"cosObject",
             {{"url", "/" + object.bucket + "/" + object.key},
              {"meta", {{"x-cos-request-id", event.id}, {"Content-Type", ""}, {"ETag", object.etag}}},
              {"vid", ""},
              {"key", "/" + object.bucket + "/" + object.key},
              {"size", object.size}}},
            {"cosBucket", {{"region", options.region}, {"name", object.bucket}, {"appid", ""}}},
            {"cosNotificationId", options.triggerName}}},
          {"event",
           {{"eventName", "cos:ObjectCreated:*"},
            {"eventVersion", "1.0"},
            {"eventTime", std::chrono::duration_cast<std::chrono::seconds>(event.time.time_since_epoch()).count()},
            {"eventSource", "qcs::cos"},
            {"requestParameters", {{"requestSourceIP", ""}, {"requestHeaders", json::object()}}},
            {"eventQueue", "sluice:" + options.triggerName},
            {"reservedInfo", ""},
            {"reqid", 0}}},
          // Not in SCF: the object's content, so a handler need not fetch it.
          {"sluice", {{"data", event.data}, {"id", event.id}}}};
}

json scfTimer(const Event& event, const ShapeOptions& options) {
  return {{"Type", "Timer"},
          {"TriggerName", options.triggerName.empty() ? event.subject : options.triggerName},
          {"Time", rfc3339(event.time)},
          {"Message", event.data}};
}

json scfHttp(const Event& event) {
  const std::string* method = findHeader(event, kHttpMethodHeader);
  std::string query = queryOf(event);
  return {{"httpMethod", method == nullptr ? "POST" : *method},
          {"path", event.subject},
          {"headers", headersDict(event.headers, true)},
          {"body", event.data},
          {"queryString", queryDict(query)},
          {"queryStringParameters", queryDict(query)},
          {"pathParameters", json::object()},
          {"headerParameters", json::object()},
          {"stageVariables", json::object()},
          {"requestContext",
           {{"requestId", event.id},
            {"path", event.subject},
            {"httpMethod", method == nullptr ? "POST" : *method},
            {"sourceIp", ""},
            {"stage", "release"}}}};
}

// ------------------------------------------------------------------ Lambda

json lambdaKafkaRecord(const Event& event) {
  json headers = json::array();
  for (const auto& [key, value] : event.headers) headers.push_back({{key, byteList(value)}});
  json record = {{"topic", event.subject},
                 {"partition", event.partition.value_or(0)},
                 {"offset", event.offset.value_or(0)},
                 {"timestamp", epochMillis(event.time)},
                 {"timestampType", "CREATE_TIME"},
                 {"value", base64Encode(event.data)},
                 {"headers", headers}};
  if (event.key) record["key"] = base64Encode(*event.key);
  return record;
}

json lambdaS3Record(const Event& event, const ShapeOptions& options) {
  ObjectInfo object = objectInfo(event);
  json s3Object = {{"key", formEncode(object.key)}, {"size", object.size}, {"sequencer", event.id}};
  if (!object.etag.empty()) s3Object["eTag"] = object.etag;
  return {{"eventVersion", "2.1"},
          {"eventSource", "aws:s3"},
          {"awsRegion", options.region},
          {"eventTime", rfc3339(event.time, FractionalSeconds::kMillis)},
          {"eventName", "ObjectCreated:Put"},
          {"userIdentity", {{"principalId", "sluice"}}},
          {"requestParameters", {{"sourceIPAddress", "127.0.0.1"}}},
          {"responseElements", {{"x-amz-request-id", event.id}, {"x-amz-id-2", event.id}}},
          {"s3",
           {{"s3SchemaVersion", "1.0"},
            {"configurationId", options.triggerName},
            {"bucket",
             {{"name", object.bucket},
              {"ownerIdentity", {{"principalId", "sluice"}}},
              {"arn", "arn:aws:s3:::" + object.bucket}}},
            {"object", s3Object}}},
          // Not in AWS: the object's content, so a handler need not fetch it.
          {"sluice", {{"data", event.data}, {"id", event.id}}}};
}

json lambdaScheduled(const Event& event, const ShapeOptions& options) {
  json detail = json::object();
  if (!event.data.empty()) {
    json parsed = json::parse(event.data, nullptr, false);
    detail = parsed.is_object() ? parsed : json{{"payload", event.data}};
  }
  std::string rule = options.triggerName.empty() ? event.subject : options.triggerName;
  return {{"version", "0"},
          {"id", event.id},
          {"detail-type", "Scheduled Event"},
          {"source", "aws.events"},
          {"account", "000000000000"},
          {"time", rfc3339(event.time)},
          {"region", options.region},
          {"resources", json::array({"arn:aws:events:" + options.region + ":000000000000:rule/" + rule})},
          {"detail", detail}};
}

json lambdaHttp(const Event& event) {
  const std::string* method = findHeader(event, kHttpMethodHeader);
  std::string query = queryOf(event);
  bool text = isValidUtf8(event.data);
  return {{"resource", event.subject},
          {"path", event.subject},
          {"httpMethod", method == nullptr ? "POST" : *method},
          {"headers", headersDict(event.headers, true)},
          {"queryStringParameters", query.empty() ? json(nullptr) : queryDict(query)},
          {"pathParameters", nullptr},
          {"body", text ? event.data : base64Encode(event.data)},
          {"isBase64Encoded", !text},
          {"requestContext", {{"requestId", event.id}, {"path", event.subject}, {"stage", "$default"}}}};
}

json shapeBatchNonEmpty(EventShape shape, const std::vector<Event>& events, const ShapeOptions& options) {
  const Event& first = events.front();
  if (shape == EventShape::kScf) {
    if (first.source == "kafka") {
      json records = json::array();
      for (const auto& e : events) records.push_back(scfKafkaRecord(e));
      return {{"Records", records}};
    }
    if (isObjectSource(first)) {
      json records = json::array();
      for (const auto& e : events) records.push_back(scfCosRecord(e, options));
      return {{"Records", records}};
    }
    if (first.source == "cron") return scfTimer(first, options);
    if (first.source == "http") return scfHttp(first);
  } else if (shape == EventShape::kLambda) {
    if (first.source == "kafka") {
      json records = json::object();
      for (const auto& e : events) {
        records[e.subject + "-" + std::to_string(e.partition.value_or(0))].push_back(lambdaKafkaRecord(e));
      }
      return {
          {"eventSource", "SelfManagedKafka"}, {"bootstrapServers", options.bootstrapServers}, {"records", records}};
    }
    if (isObjectSource(first)) {
      json records = json::array();
      for (const auto& e : events) records.push_back(lambdaS3Record(e, options));
      return {{"Records", records}};
    }
    if (first.source == "cron") return lambdaScheduled(first, options);
    if (first.source == "http") return lambdaHttp(first);
  }
  // canonical, and sources the platform has no shape for (e.g. rabbitmq)
  if (events.size() == 1) return canonicalEvent(first);
  json list = json::array();
  for (const auto& e : events) list.push_back(canonicalEvent(e));
  return list;
}

}  // namespace

json canonicalEvent(const Event& event) {
  return {{"id", event.id},
          {"source", event.source},
          {"type", event.type},
          {"time", rfc3339(event.time, FractionalSeconds::kMillis)},
          {"subject", event.subject},
          {"key", event.key ? json(*event.key) : json(nullptr)},
          {"headers", headersDict(event.headers, false)},
          {"partition", event.partition ? json(*event.partition) : json(nullptr)},
          {"offset", event.offset ? json(*event.offset) : json(nullptr)},
          {"data", event.data}};
}

json shapeEvent(EventShape shape, const Event& event, const ShapeOptions& options) {
  if (shape == EventShape::kCanonical) return canonicalEvent(event);
  return shapeBatchNonEmpty(shape, std::vector<Event>{event}, options);
}

json shapeBatch(EventShape shape, const std::vector<Event>& events, const ShapeOptions& options) {
  if (events.empty()) return json::array();
  return shapeBatchNonEmpty(shape, events, options);
}

bool isValidUtf8(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size(), i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra;
    uint32_t codepoint;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      codepoint = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      codepoint = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      codepoint = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= n) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      codepoint = (codepoint << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((extra == 1 && codepoint < 0x80) || (extra == 2 && codepoint < 0x800) || (extra == 3 && codepoint < 0x10000) ||
        codepoint > 0x10FFFF || (codepoint >= 0xD800 && codepoint <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace sluice::runtime::shapes
