#include "runtime/shapes/event_shapes.h"

#include <cstdio>
#include <ctime>
#include <variant>

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
  std::string url;
  std::string versionId;
  std::string contentType;
};

std::string headerOr(const Event& event, const char* name, const std::string& fallback = "") {
  const std::string* value = findHeader(event, name);
  return value == nullptr ? fallback : *value;
}

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
  info.etag = headerOr(event, kObjectEtagHeader);
  info.versionId = headerOr(event, kObjectVersionIdHeader);
  info.contentType = headerOr(event, kObjectContentTypeHeader);
  // A URL a handler can fetch: the store's own, else a file URL for a local path.
  info.url = headerOr(event, kObjectUrlHeader,
                      !event.subject.empty() && event.subject[0] == '/' ? "file://" + event.subject : event.subject);
  return info;
}

bool isObjectSource(const Event& event) {
  return event.source == "s3" || event.source == "dir" || event.source == "webhdfs";
}

int64_t epochMillis(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

int64_t epochSeconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
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

// Ids the platforms make up per request (UUIDs, S3 request ids, COS reqids)
// are derived from the event id, so a retried event shows the same ones.
uint64_t fnv1a(const std::string& text, uint64_t seed) {
  uint64_t hash = 14695981039346656037ULL ^ seed;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::string hexDigits(uint64_t value, int digits, bool upper) {
  static const char* kLower = "0123456789abcdef";
  static const char* kUpper = "0123456789ABCDEF";
  std::string out(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, value >>= 4)
    out[static_cast<size_t>(i)] = (upper ? kUpper : kLower)[value & 15];
  return out;
}

// A version-4-shaped UUID (8-4-4-4-12 lower-case hex).
std::string uuidFrom(const std::string& seed) {
  uint64_t high = fnv1a(seed, 1), low = fnv1a(seed, 2);
  std::string hex = hexDigits(high, 16, false) + hexDigits(low, 16, false);
  hex[12] = '4';
  hex[16] = "89ab"[low & 3];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

std::string base64Id(const std::string& seed, int words) {
  std::string bytes;
  for (int i = 0; i < words; ++i) {
    uint64_t hash = fnv1a(seed, static_cast<uint64_t>(10 + i));
    for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<char>((hash >> (8 * b)) & 0xff));
  }
  return base64Encode(bytes);
}

std::string sourceIpOf(const Event& event) {
  if (const std::string* ip = findHeader(event, kHttpSourceIpHeader)) return *ip;
  if (const std::string* forwarded = findHeader(event, "x-forwarded-for")) {
    std::string first = forwarded->substr(0, forwarded->find(','));
    while (!first.empty() && first.front() == ' ') first.erase(0, 1);
    if (!first.empty()) return first;
  }
  return "127.0.0.1";  // a poller does not know who wrote the object, nor a push without a gateway
}

std::string httpPathOf(const Event& event) {
  if (const std::string* path = findHeader(event, kHttpPathHeader)) return *path;
  return !event.subject.empty() && event.subject[0] == '/' ? event.subject : "/" + event.subject;
}

std::string httpMethodOf(const Event& event) { return headerOr(event, kHttpMethodHeader, "POST"); }

std::string queryOf(const Event& event) { return headerOr(event, kHttpQueryHeader); }

// name -> last value, and name -> every value in order.
void queryDicts(const std::string& query, json& single, json& multi) {
  single = json::object();
  multi = json::object();
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    std::string pair = query.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string name = pair.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : pair.substr(eq + 1);
      single[name] = value;
      multi[name].push_back(value);
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

json queryDict(const std::string& query) {
  json single, multi;
  queryDicts(query, single, multi);
  return single;
}

// HTTP headers without Sluice's own: name -> last value, and name -> every value.
void httpHeaderDicts(const Headers& headers, json& single, json& multi) {
  single = json::object();
  multi = json::object();
  for (const auto& [key, value] : headers) {
    if (key.rfind("sluice.", 0) == 0) continue;
    single[key] = value;
    multi[key].push_back(value);
  }
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
  json meta = {{"x-cos-request-id", base64Id(event.id, 2)}, {"Content-Type", object.contentType}};
  if (!object.etag.empty()) meta["ETag"] = object.etag;
  if (!object.versionId.empty()) meta["x-cos-version-id"] = object.versionId;
  return {{"cos",
           {{"cosSchemaVersion", "1.0"},
            {"cosObject",
             {{"url", object.url},
              {"meta", meta},
              {"vid", object.versionId},
              {"key", "/" + options.appId + "/" + object.bucket + "/" + object.key},
              {"size", object.size}}},
            {"cosBucket", {{"region", options.region}, {"name", object.bucket}, {"appid", options.appId}}},
            {"cosNotificationId", options.triggerName}}},
          {"event",
           {{"eventName", "cos:ObjectCreated:*"},
            {"eventVersion", "1.0"},
            {"eventTime", epochSeconds(event.time)},
            {"eventSource", "qcs::cos"},
            {"requestParameters", {{"requestSourceIP", sourceIpOf(event)}, {"requestHeaders", json::object()}}},
            {"eventQueue", "qcs:0:scf:" + options.region + ":appid/" + options.appId + ":" +
                               (options.namespaceName.empty() ? "default" : options.namespaceName) + "." +
                               options.functionName + ".$LATEST"},
            {"reservedInfo", ""},
            {"reqid", static_cast<int64_t>(fnv1a(event.id, 3) % 1'000'000'000ULL)}}},
          // Not in SCF: the object's content, so a handler need not fetch it.
          {"sluice", {{"data", event.data}, {"id", event.id}}}};
}

json scfTimer(const Event& event, const ShapeOptions& options) {
  return {{"Type", "Timer"},
          {"TriggerName", options.triggerName.empty() ? event.subject : options.triggerName},
          {"Time", rfc3339(event.time)},
          {"Message", event.data}};
}

json scfHttp(const Event& event, const ShapeOptions& options) {
  const std::string method = httpMethodOf(event);
  const std::string path = httpPathOf(event);
  json query = queryDict(queryOf(event));
  json headers, multiHeaders;
  httpHeaderDicts(event.headers, headers, multiHeaders);
  return {{"httpMethod", method},
          {"path", path},
          {"headers", headers},
          {"body", event.data},
          {"queryString", query},
          {"queryStringParameters", query},
          {"pathParameters", json::object()},
          {"headerParameters", json::object()},
          {"stageVariables", json::object()},
          {"requestContext",
           {{"serviceId", "service-" + hexDigits(fnv1a(options.functionName, 4), 8, false)},
            {"requestId", event.id},
            {"path", path},
            {"httpMethod", method},
            {"identity", json::object()},
            {"sourceIp", sourceIpOf(event)},
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

std::string mskClusterArn(const ShapeOptions& options) {
  if (!options.mskClusterArn.empty()) return options.mskClusterArn;
  return "arn:aws:kafka:" + options.region + ":" + options.accountId + ":cluster/" + options.triggerName + "/" +
         uuidFrom(options.triggerName) + "-1";
}

json lambdaKafka(const std::vector<Event>& events, const ShapeOptions& options) {
  json records = json::object();
  for (const auto& e : events) {
    records[e.subject + "-" + std::to_string(e.partition.value_or(0))].push_back(lambdaKafkaRecord(e));
  }
  auto servers = options.kafkaServers.find(options.triggerName);
  const std::string bootstrap = servers == options.kafkaServers.end() ? options.bootstrapServers : servers->second;
  if (options.lambdaKafka == config::LambdaKafkaForm::kMsk) {
    return {{"eventSource", "aws:kafka"},
            {"eventSourceArn", mskClusterArn(options)},
            {"bootstrapServers", bootstrap},
            {"records", records}};
  }
  return {{"eventSource", "SelfManagedKafka"}, {"bootstrapServers", bootstrap}, {"records", records}};
}

json lambdaS3Record(const Event& event, const ShapeOptions& options) {
  ObjectInfo object = objectInfo(event);
  // The sequencer orders events of one key: hex of the object's time in nanoseconds, as S3 compares it.
  const auto nanos = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(event.time.time_since_epoch()).count());
  json s3Object = {{"key", formEncode(object.key)}, {"size", object.size}, {"sequencer", hexDigits(nanos, 18, true)}};
  if (!object.etag.empty()) s3Object["eTag"] = object.etag;
  if (!object.versionId.empty()) s3Object["versionId"] = object.versionId;
  const std::string principal = "AWS:" + options.accountId;
  return {{"eventVersion", "2.1"},
          {"eventSource", "aws:s3"},
          {"awsRegion", options.region},
          {"eventTime", rfc3339(event.time, FractionalSeconds::kMillis)},
          {"eventName", "ObjectCreated:Put"},
          {"userIdentity", {{"principalId", principal}}},
          {"requestParameters", {{"sourceIPAddress", sourceIpOf(event)}}},
          {"responseElements",
           {{"x-amz-request-id", hexDigits(fnv1a(event.id, 5), 16, true)}, {"x-amz-id-2", base64Id(event.id, 6)}}},
          {"s3",
           {{"s3SchemaVersion", "1.0"},
            {"configurationId", options.triggerName},
            {"bucket",
             {{"name", object.bucket},
              {"ownerIdentity", {{"principalId", options.accountId}}},
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
          {"id", uuidFrom(event.id)},
          {"detail-type", "Scheduled Event"},
          {"source", "aws.events"},
          {"account", options.accountId},
          {"time", rfc3339(event.time)},
          {"region", options.region},
          {"resources", json::array({"arn:aws:events:" + options.region + ":" + options.accountId + ":rule/" + rule})},
          {"detail", detail}};
}

// API Gateway's requestTime: "09/Apr/2015:12:34:56 +0000".
std::string apiGatewayTime(std::chrono::system_clock::time_point time) {
  return formatUtc(time, "%d/%b/%Y:%H:%M:%S +0000");
}

json lambdaHttp(const Event& event, const ShapeOptions& options) {
  const std::string method = httpMethodOf(event);
  const std::string path = httpPathOf(event);
  json query, multiQuery, headers, multiHeaders;
  queryDicts(queryOf(event), query, multiQuery);
  httpHeaderDicts(event.headers, headers, multiHeaders);
  const bool text = isValidUtf8(event.data);
  const std::string apiId = hexDigits(fnv1a(options.functionName, 7), 10, false);
  const std::string userAgent = headerOr(event, "user-agent");
  json identity = {{"accessKey", nullptr},
                   {"accountId", nullptr},
                   {"caller", nullptr},
                   {"cognitoAuthenticationProvider", nullptr},
                   {"cognitoAuthenticationType", nullptr},
                   {"cognitoIdentityId", nullptr},
                   {"cognitoIdentityPoolId", nullptr},
                   {"principalOrgId", nullptr},
                   {"sourceIp", sourceIpOf(event)},
                   {"user", nullptr},
                   {"userAgent", userAgent},
                   {"userArn", nullptr}};
  const std::string host = headerOr(event, "host", apiId + ".execute-api." + options.region + ".amazonaws.com");
  return {{"resource", path},
          {"path", path},
          {"httpMethod", method},
          {"headers", headers.empty() ? json(nullptr) : headers},
          {"multiValueHeaders", multiHeaders.empty() ? json(nullptr) : multiHeaders},
          {"queryStringParameters", query.empty() ? json(nullptr) : query},
          {"multiValueQueryStringParameters", multiQuery.empty() ? json(nullptr) : multiQuery},
          {"pathParameters", nullptr},
          {"stageVariables", nullptr},
          {"requestContext",
           {{"accountId", options.accountId},
            {"apiId", apiId},
            {"domainName", host},
            {"domainPrefix", host.substr(0, host.find('.'))},
            {"extendedRequestId", base64Id(event.id, 1)},
            {"httpMethod", method},
            {"identity", identity},
            {"path", path},
            {"protocol", "HTTP/1.1"},
            {"requestId", uuidFrom(event.id)},
            {"requestTime", apiGatewayTime(event.time)},
            {"requestTimeEpoch", epochMillis(event.time)},
            {"resourceId", hexDigits(fnv1a(path, 8), 6, false)},
            {"resourcePath", path},
            {"stage", "$default"}}},
          {"body", text ? event.data : base64Encode(event.data)},
          {"isBase64Encoded", !text}};
}

// `asList`: a canonical batch is a list even of one event (shapeBatch); shapeEvent's one event is itself.
json shapeBatchNonEmpty(EventShape shape, const std::vector<Event>& events, const ShapeOptions& options, bool asList) {
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
    if (first.source == "http") return scfHttp(first, options);
  } else if (shape == EventShape::kLambda) {
    if (first.source == "kafka") return lambdaKafka(events, options);
    if (isObjectSource(first)) {
      json records = json::array();
      for (const auto& e : events) records.push_back(lambdaS3Record(e, options));
      return {{"Records", records}};
    }
    if (first.source == "cron") return lambdaScheduled(first, options);
    if (first.source == "http") return lambdaHttp(first, options);
  }
  // canonical, and sources the platform has no shape for (e.g. rabbitmq)
  if (events.size() == 1 && !asList) return canonicalEvent(first);
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

ShapeOptions shapeOptionsFor(const config::FunctionConfig& config) {
  ShapeOptions options;
  options.functionName = config.name;
  options.namespaceName = config.namespaceName;
  const config::CompatConfig& compat = config.compat;
  options.region = !compat.region.empty()                  ? compat.region
                   : config.eventShape == EventShape::kScf ? kDefaultScfRegion
                                                           : kDefaultLambdaRegion;
  if (!compat.appId.empty()) options.appId = compat.appId;
  if (!compat.accountId.empty()) options.accountId = compat.accountId;
  options.lambdaKafka = compat.lambdaKafka;
  options.mskClusterArn = compat.mskClusterArn;
  for (const config::TriggerConfig& trigger : config.triggers) {
    if (options.triggerName.empty()) options.triggerName = trigger.name;
    if (const auto* kafka = std::get_if<config::KafkaSourceConfig>(&trigger.source)) {
      options.kafkaServers[trigger.name] = kafka->bootstrapServers;
      if (options.bootstrapServers.empty()) options.bootstrapServers = kafka->bootstrapServers;
    }
  }
  return options;
}

json shapeEvent(EventShape shape, const Event& event, const ShapeOptions& options) {
  if (shape == EventShape::kCanonical) return canonicalEvent(event);
  return shapeBatchNonEmpty(shape, std::vector<Event>{event}, options, /*asList=*/false);
}

json shapeBatch(EventShape shape, const std::vector<Event>& events, const ShapeOptions& options) {
  if (events.empty()) return json::array();
  return shapeBatchNonEmpty(shape, events, options, /*asList=*/true);
}

bool isValidUtf8(const std::string& text) { return invalidUtf8At(text) == std::string_view::npos; }

}  // namespace sluice::runtime::shapes
