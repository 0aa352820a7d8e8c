#include "runtime/config/config_parser.h"

#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "common/strings.h"
#include "common/time.h"
#include "common/yaml.h"
#include "runtime/expression/expression.h"

namespace sluice::runtime::config {
namespace {

// ordered_json keeps the file's key order, which map operators depend on.
using json = nlohmann::ordered_json;

// Thrown inside the parser only; parseFunctionConfig turns it into a Status.
struct ConfigError {
  std::string message;
};

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw ConfigError{(path.empty() ? std::string("(root)") : path) + ": " + message};
}

std::string shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

const char* typeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "a list";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::binary: return "binary";
    case json::value_t::discarded: return "nothing";
    default: return "a number";
  }
}

bool isEnvName(const std::string& name) {
  static const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");
  return std::regex_match(name, kEnvName);
}

// A JSON object being read; remembers which keys were used so that finish()
// can refuse the rest.
class Fields {
 public:
  Fields(const json& value, std::string path) : value_(value), path_(std::move(path)) {
    if (!value_.is_object()) fail(path_, std::string("must be an object, got ") + typeName(value_));
  }

  std::string at(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const std::string& path() const { return path_; }
  bool has(const std::string& key) const { return value_.contains(key) && !value_.at(key).is_null(); }
  bool present(const std::string& key) const { return value_.contains(key); }

  const json* get(const std::string& key) {
    used_.insert(key);
    auto it = value_.find(key);
    if (it == value_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  const json& required(const std::string& key) {
    const json* v = get(key);
    if (v == nullptr) fail(at(key), "is required");
    return *v;
  }

  void string(const std::string& key, std::string& out, bool isRequired = false, bool allowEmpty = true) {
    const json* v = isRequired ? &required(key) : get(key);
    if (v == nullptr) return;
    if (!v->is_string()) fail(at(key), std::string("must be a string, got ") + shown(*v));
    out = v->get<std::string>();
    if (out.empty() && (isRequired || !allowEmpty)) fail(at(key), "must not be empty");
  }

  void envName(const std::string& key, std::string& out) {
    string(key, out);
    if (!out.empty() && !isEnvName(out)) {
      fail(at(key), "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), got \"" + out + "\"");
    }
  }

  void integer(const std::string& key, int& out, int min, int max) {
    int64_t value = out;
    integer64(key, value, min, max);
    out = static_cast<int>(value);
  }

  void integer64(const std::string& key, int64_t& out, int64_t min, int64_t max) {
    const json* v = get(key);
    if (v == nullptr) return;
    if (!v->is_number_integer()) fail(at(key), std::string("must be an integer, got ") + shown(*v));
    auto n = v->get<int64_t>();
    if (n < min || n > max) {
      fail(at(key), "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + shown(*v));
    }
    out = n;
  }

  void number(const std::string& key, double& out, double min, double max) {
    const json* v = get(key);
    if (v == nullptr) return;
    if (!v->is_number()) fail(at(key), std::string("must be a number, got ") + shown(*v));
    double n = v->get<double>();
    if (!(n >= min && n <= max)) {
      std::ostringstream range;
      range << "must be between " << min << " and " << max << ", got " << shown(*v);
      fail(at(key), range.str());
    }
    out = n;
  }

  void boolean(const std::string& key, bool& out) {
    const json* v = get(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) fail(at(key), std::string("must be true or false, got ") + shown(*v));
    out = v->get<bool>();
  }

  void duration(const std::string& key, std::chrono::milliseconds& out, std::chrono::milliseconds min) {
    const json* v = get(key);
    if (v == nullptr) return;
    std::string text;
    if (v->is_number()) {
      text = v->dump();
    } else if (v->is_string()) {
      text = v->get<std::string>();
    } else {
      fail(at(key), std::string("must be a duration such as \"500ms\", \"2s\", \"1m\" or \"1m30s\", got ") + shown(*v));
    }
    auto parsed = parseDuration(text);
    if (!parsed) fail(at(key), parsed.status().message());
    if (*parsed < min) {
      fail(at(key), "must be at least " + std::to_string(min.count()) + "ms, got " + shown(*v));
    }
    out = *parsed;
  }

  // One of `choices`; returns its index.
  size_t choice(const std::string& key, const std::vector<std::string>& choices, size_t defaultIndex) {
    const json* v = get(key);
    if (v == nullptr) return defaultIndex;
    if (v->is_string()) {
      for (size_t i = 0; i < choices.size(); ++i) {
        if (choices[i] == v->get<std::string>()) return i;
      }
    }
    fail(at(key), "must be one of " + join(choices, ", ") + ", got " + shown(*v));
  }

  void stringList(const std::string& key, std::vector<std::string>& out, bool isRequired) {
    const json* v = isRequired ? &required(key) : get(key);
    if (v == nullptr) return;
    if (!v->is_array()) fail(at(key), std::string("must be a list of strings, got ") + shown(*v));
    if (isRequired && v->empty()) fail(at(key), "must not be empty");
    out.clear();
    for (size_t i = 0; i < v->size(); ++i) {
      const json& item = (*v)[i];
      std::string itemPath = at(key) + "[" + std::to_string(i) + "]";
      if (!item.is_string()) fail(itemPath, std::string("must be a string, got ") + shown(item));
      if (item.get<std::string>().empty()) fail(itemPath, "must not be empty");
      out.push_back(item.get<std::string>());
    }
  }

  // An object of string values, in file order (nlohmann's ordered_json keeps it).
  std::vector<std::pair<std::string, std::string>> stringPairs(const std::string& key, bool isRequired) {
    const json* v = isRequired ? &required(key) : get(key);
    std::vector<std::pair<std::string, std::string>> out;
    if (v == nullptr) return out;
    if (!v->is_object()) fail(at(key), std::string("must be an object of strings, got ") + shown(*v));
    if (isRequired && v->empty()) fail(at(key), "must not be empty");
    for (const auto& [name, item] : v->items()) {
      if (!item.is_string()) fail(at(key) + "." + name, std::string("must be a string, got ") + shown(item));
      out.emplace_back(name, item.get<std::string>());
    }
    return out;
  }

  std::map<std::string, std::string> stringMap(const std::string& key) {
    std::map<std::string, std::string> out;
    for (auto& [name, value] : stringPairs(key, false)) out[name] = value;
    return out;
  }

  void finish() const {
    for (const auto& [key, ignored] : value_.items()) {
      if (!used_.contains(key)) fail(at(key), "unknown field");
    }
  }

 private:
  const json& value_;
  std::string path_;
  std::set<std::string> used_;
};

// Refuses "user:password@" in a URL: passwords come from env vars.
void refuseInlinePassword(const std::string& path, const std::string& url) {
  static const std::regex kUserInfo("^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@.*");
  if (std::regex_match(url, kUserInfo)) {
    fail(path, "must not contain a password; give it through passwordEnv or urlEnv");
  }
}

void requireUrlScheme(const std::string& path, const std::string& url, const std::vector<std::string>& schemes) {
  for (const auto& scheme : schemes) {
    if (url.rfind(scheme + "://", 0) == 0 && url.size() > scheme.size() + 3) return;
  }
  std::vector<std::string> shownSchemes;
  shownSchemes.reserve(schemes.size());
  for (const auto& s : schemes) shownSchemes.push_back(s + "://");
  fail(path, "must start with " + join(shownSchemes, ", ") + ", got \"" + url + "\"");
}

KafkaSecurityConfig parseKafkaSecurity(Fields& parent) {
  KafkaSecurityConfig out;
  const json* v = parent.get("security");
  if (v == nullptr) return out;
  Fields f(*v, parent.at("security"));
  static const std::vector<std::string> kProtocols = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
  out.protocol = kProtocols[f.choice("protocol", kProtocols, 0)];
  bool sasl = out.protocol.rfind("SASL_", 0) == 0;
  if (sasl) {
    static const std::vector<std::string> kMechanisms = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
    if (!f.has("saslMechanism")) fail(f.at("saslMechanism"), "is required when protocol is " + out.protocol);
    out.saslMechanism = kMechanisms[f.choice("saslMechanism", kMechanisms, 0)];
    f.envName("usernameEnv", out.usernameEnv);
    f.envName("passwordEnv", out.passwordEnv);
    if (out.usernameEnv.empty()) fail(f.at("usernameEnv"), "is required when protocol is " + out.protocol);
    if (out.passwordEnv.empty()) fail(f.at("passwordEnv"), "is required when protocol is " + out.protocol);
  } else {
    for (const char* key : {"saslMechanism", "usernameEnv", "passwordEnv"}) {
      if (f.has(key)) fail(f.at(key), "is only used when protocol is SASL_PLAINTEXT or SASL_SSL");
      f.get(key);
    }
  }
  f.string("caFile", out.caFile);
  f.string("certFile", out.certFile);
  f.string("keyFile", out.keyFile);
  f.envName("keyPasswordEnv", out.keyPasswordEnv);
  if (out.certFile.empty() != out.keyFile.empty()) {
    fail(f.at(out.certFile.empty() ? "certFile" : "keyFile"), "certFile and keyFile must be given together");
  }
  f.finish();
  return out;
}

void parseBootstrapServers(Fields& f, std::string& out) {
  f.string("bootstrapServers", out, true);
  static const std::regex kServer("[^\\s,:/]+:[0-9]{1,5}");
  std::stringstream servers(out);
  std::string server;
  while (std::getline(servers, server, ',')) {
    if (!std::regex_match(server, kServer)) {
      fail(f.at("bootstrapServers"), "must be host:port[,host:port...], got \"" + out + "\"");
    }
  }
}

std::map<std::string, std::string> parseKafkaProperties(Fields& f) {
  auto properties = f.stringMap("properties");
  for (const auto& [name, value] : properties) {
    if (name.find("password") != std::string::npos || name.find("secret") != std::string::npos ||
        name == "sasl.username") {
      fail(f.at("properties") + "." + name, "secrets are not allowed here; use security.*Env");
    }
  }
  return properties;
}

AmqpConnectionConfig parseAmqpConnection(Fields& f) {
  AmqpConnectionConfig out;
  f.string("url", out.url);
  f.envName("urlEnv", out.urlEnv);
  f.envName("usernameEnv", out.usernameEnv);
  f.envName("passwordEnv", out.passwordEnv);
  f.integer("heartbeatSeconds", out.heartbeatSeconds, 1, 600);
  f.envName("tlsCaEnv", out.tlsCaEnv);
  f.envName("tlsCertEnv", out.tlsCertEnv);
  f.envName("tlsKeyEnv", out.tlsKeyEnv);
  if (out.url.empty() == out.urlEnv.empty()) fail(f.at("url"), "exactly one of url and urlEnv is required");
  if (out.tlsCertEnv.empty() != out.tlsKeyEnv.empty()) {
    fail(f.at(out.tlsCertEnv.empty() ? "tlsCertEnv" : "tlsKeyEnv"), "tlsCertEnv and tlsKeyEnv go together");
  }
  if (!out.url.empty()) {
    requireUrlScheme(f.at("url"), out.url, {"amqp", "amqps"});
    refuseInlinePassword(f.at("url"), out.url);
  }
  return out;
}

KafkaSourceConfig parseKafkaSource(Fields& f) {
  KafkaSourceConfig out;
  parseBootstrapServers(f, out.bootstrapServers);
  f.stringList("topics", out.topics, true);
  f.string("consumerGroup", out.consumerGroup, true);
  static const std::vector<std::string> kOffsets = {"latest", "earliest"};
  out.initialOffset = kOffsets[f.choice("initialOffset", kOffsets, 0)];
  f.integer("batchSize", out.batchSize, 1, 10'000);
  f.integer("maxInFlight", out.maxInFlight, 1, 1'000'000);
  out.ordered = f.choice("ordering", {"partition", "none"}, 0) == 0;
  if (out.maxInFlight < out.batchSize) {
    fail(f.at("maxInFlight"),
         "must be at least batchSize (" + std::to_string(out.batchSize) + "), got " + std::to_string(out.maxInFlight));
  }
  out.security = parseKafkaSecurity(f);
  out.properties = parseKafkaProperties(f);
  f.finish();
  return out;
}

RabbitMqSourceConfig parseRabbitMqSource(Fields& f) {
  RabbitMqSourceConfig out;
  out.connection = parseAmqpConnection(f);
  f.string("queue", out.queue, true);
  f.string("exchange", out.exchange);
  f.stringList("routingKeys", out.routingKeys, false);
  if (!out.routingKeys.empty() && out.exchange.empty()) fail(f.at("routingKeys"), "needs exchange");
  f.envName("managementUrlEnv", out.managementUrlEnv);
  if (!out.managementUrlEnv.empty() && out.exchange.empty()) fail(f.at("managementUrlEnv"), "needs exchange");
  f.integer("prefetch", out.prefetch, 1, 65'535);
  if (f.has("maxAttempts")) {
    int attempts = 0;
    f.integer("maxAttempts", attempts, 1, 1000);
    out.maxAttempts = attempts;
  }
  f.string("deadLetterQueue", out.deadLetterQueue);
  f.finish();
  return out;
}

HttpSourceConfig parseHttpSource(Fields& f) {
  HttpSourceConfig out;
  f.string("path", out.path, false, false);
  if (out.path.empty() || out.path[0] != '/') fail(f.at("path"), "must start with '/', got \"" + out.path + "\"");
  if (const json* async = f.get("async")) {
    Fields asyncFields(*async, f.at("async"));
    if (asyncFields.has("rabbitmq") == asyncFields.has("kafka")) {
      fail(f.at("async"), "exactly one of rabbitmq and kafka is required");
    }
    if (const json* kafka = asyncFields.get("kafka")) {
      Fields topic(*kafka, asyncFields.at("kafka"));
      out.asyncKafka = parseKafkaSource(topic);
    } else {
      Fields queue(*asyncFields.get("rabbitmq"), asyncFields.at("rabbitmq"));
      out.async = parseRabbitMqSource(queue);
    }
    asyncFields.finish();
  }
  f.finish();
  return out;
}

CronSourceConfig parseCronSource(Fields& f) {
  CronSourceConfig out;
  f.string("schedule", out.schedule, true);
  static const std::regex kEvery("@every [0-9]+(ms|s|m|h)");
  static const std::regex kField("[0-9A-Za-z*/,?LW#-]+");
  if (out.schedule.rfind('@', 0) == 0) {
    static const std::set<std::string> kMacros = {"@yearly", "@annually", "@monthly", "@weekly",
                                                  "@daily",  "@midnight", "@hourly"};
    if (!kMacros.contains(out.schedule) && !std::regex_match(out.schedule, kEvery)) {
      fail(f.at("schedule"), "unknown schedule \"" + out.schedule + "\"");
    }
  } else {
    std::istringstream in(out.schedule);
    std::vector<std::string> parts;
    for (std::string part; in >> part;) parts.push_back(part);
    if (parts.size() != 5) {
      fail(f.at("schedule"), "must have 5 fields (minute hour day month weekday), got " + std::to_string(parts.size()) +
                                 " in \"" + out.schedule + "\"");
    }
    for (const auto& part : parts) {
      if (!std::regex_match(part, kField))
        fail(f.at("schedule"), "bad field \"" + part + "\" in \"" + out.schedule + "\"");
    }
  }
  f.string("timezone", out.timezone, false, false);
  f.string("payload", out.payload);
  f.finish();
  return out;
}

ObjectStoreSourceConfig parseObjectStoreSource(Fields& f) {
  ObjectStoreSourceConfig out;
  out.kind = static_cast<ObjectStoreKind>(f.choice("kind", {"s3", "dir", "webhdfs"}, 0));
  f.string("endpoint", out.endpoint);
  f.string("region", out.region, false, false);
  f.string("bucket", out.bucket);
  f.string("prefix", out.prefix);
  f.envName("accessKeyEnv", out.accessKeyEnv);
  f.envName("secretKeyEnv", out.secretKeyEnv);
  f.string("user", out.user);
  f.boolean("pathStyle", out.pathStyle);
  out.afterProcessing = static_cast<AfterProcessing>(f.choice("afterProcessing", {"delete", "move", "tag"}, 0));
  f.string("moveToPrefix", out.moveToPrefix);
  f.string("tagKey", out.tagKey, false, false);
  f.string("tagValue", out.tagValue);
  f.duration("pollInterval", out.pollInterval, std::chrono::milliseconds(100));
  f.duration("claimTtl", out.claimTtl, std::chrono::milliseconds(1000));
  switch (out.kind) {
    case ObjectStoreKind::kS3:
      if (out.endpoint.empty()) fail(f.at("endpoint"), "is required for kind s3");
      requireUrlScheme(f.at("endpoint"), out.endpoint, {"http", "https"});
      if (out.bucket.empty()) fail(f.at("bucket"), "is required for kind s3");
      if (out.accessKeyEnv.empty()) fail(f.at("accessKeyEnv"), "is required for kind s3");
      if (out.secretKeyEnv.empty()) fail(f.at("secretKeyEnv"), "is required for kind s3");
      break;
    case ObjectStoreKind::kDir:
      if (out.prefix.empty()) fail(f.at("prefix"), "is required for kind dir (the directory to watch)");
      if (!out.endpoint.empty()) fail(f.at("endpoint"), "is not used for kind dir");
      if (out.afterProcessing == AfterProcessing::kTag)
        fail(f.at("afterProcessing"), "tag is not possible for kind dir");
      break;
    case ObjectStoreKind::kWebHdfs:
      if (out.endpoint.empty()) fail(f.at("endpoint"), "is required for kind webhdfs");
      // swebhdfs (https) is not supported by this build's WebHDFS transport.
      requireUrlScheme(f.at("endpoint"), out.endpoint, {"http"});
      // Only simple auth (user.name) is supported: a delegation token or other
      // parameters smuggled into the URL would be sent on every request.
      if (out.endpoint.find_first_of("?#@", out.endpoint.find("://") + 3) != std::string::npos) {
        fail(f.at("endpoint"),
             "must be the NameNode's base URL http(s)://host:port with no query or credentials (WebHDFS delegation "
             "tokens and Kerberos are not supported; set user for simple auth), got \"" +
                 out.endpoint + "\"");
      }
      if (out.prefix.empty()) fail(f.at("prefix"), "is required for kind webhdfs (the directory to watch)");
      if (out.prefix[0] != '/') fail(f.at("prefix"), "must be an absolute HDFS path, got \"" + out.prefix + "\"");
      break;
  }
  if (out.afterProcessing == AfterProcessing::kMove && out.moveToPrefix.empty()) {
    fail(f.at("moveToPrefix"), "is required when afterProcessing is move");
  }
  if (out.afterProcessing == AfterProcessing::kMove && out.moveToPrefix == out.prefix) {
    fail(f.at("moveToPrefix"), "must differ from prefix, or moved objects would be processed again");
  }
  f.finish();
  return out;
}

// `path`: "retry" (the function's) or "triggers[i].retry".
RetryConfig parseRetry(const json& value, const std::string& path) {
  RetryConfig retry;
  Fields r(value, path);
  r.integer("maxAttempts", retry.maxAttempts, 1, 1000);
  if (const json* backoff = r.get("backoff")) {
    Fields b(*backoff, r.at("backoff"));
    b.duration("initialDelay", retry.backoff.initialDelay, std::chrono::milliseconds(1));
    b.duration("maxDelay", retry.backoff.maxDelay, std::chrono::milliseconds(1));
    b.number("multiplier", retry.backoff.multiplier, 1.0, 100.0);
    b.number("jitter", retry.backoff.jitter, 0.0, 1.0);
    if (retry.backoff.maxDelay < retry.backoff.initialDelay) {
      fail(b.at("maxDelay"), "must be at least initialDelay (" + std::to_string(retry.backoff.initialDelay.count()) +
                                 "ms), got " + std::to_string(retry.backoff.maxDelay.count()) + "ms");
    }
    b.finish();
  }
  r.finish();
  return retry;
}

// Exactly one of `kinds` is present in `f`; returns its name.
std::string oneKind(Fields& f, const std::vector<std::string>& kinds, const std::string& what) {
  std::vector<std::string> present;
  for (const auto& kind : kinds) {
    if (f.present(kind)) present.push_back(kind);  // `- mirror:` in YAML is present but null
  }
  if (present.size() != 1) {
    fail(f.path(), "must have exactly one " + what + " (" + join(kinds, ", ") + "), got " +
                       (present.empty() ? std::string("none") : join(present, ", ")));
  }
  return present[0];
}

SinkConfig parseSink(const json& value, const std::string& path, bool nameRequired);

TriggerConfig parseTrigger(const json& value, const std::string& path) {
  Fields f(value, path);
  TriggerConfig out;
  f.string("name", out.name, true);
  f.integer64("maxInFlightBytes", out.maxInFlightBytes, 1024 * 1024, int64_t{1} << 40);
  std::string kind = oneKind(f, {"kafka", "rabbitmq", "http", "cron", "objectStore"}, "source");
  static const json kEmpty = json::object();
  const json* body = f.get(kind);
  Fields source(body == nullptr ? kEmpty : *body, f.at(kind));
  if (kind == "kafka") out.source = parseKafkaSource(source);
  if (kind == "rabbitmq") out.source = parseRabbitMqSource(source);
  if (kind == "http") out.source = parseHttpSource(source);
  if (kind == "cron") out.source = parseCronSource(source);
  if (kind == "objectStore") out.source = parseObjectStoreSource(source);
  if (const json* retry = f.get("retry")) out.retry = parseRetry(*retry, f.at("retry"));
  if (const json* deadLetter = f.get("deadLetter")) {
    out.deadLetter = parseSink(*deadLetter, f.at("deadLetter"), false);
    if (out.deadLetter->name.empty()) out.deadLetter->name = "deadLetter";
  }
  f.finish();
  return out;
}

SinkConfig parseSink(const json& value, const std::string& path, bool nameRequired) {
  Fields f(value, path);
  SinkConfig out;
  f.string("name", out.name, nameRequired);
  if (!out.name.empty()) {
    static const std::regex kName("[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?");
    if (!std::regex_match(out.name, kName)) {
      fail(f.at("name"), "must be 1-63 letters, digits, '-', '_' or '.', got \"" + out.name + "\"");
    }
  }
  std::string kind = oneKind(f, {"kafka", "rabbitmq", "http", "s3", "dir"}, "sink");
  static const json kEmptySink = json::object();
  const json* body = f.get(kind);
  Fields s(body == nullptr ? kEmptySink : *body, f.at(kind));
  if (kind == "kafka") {
    KafkaSinkConfig sink;
    parseBootstrapServers(s, sink.bootstrapServers);
    s.string("topic", sink.topic, true);
    sink.security = parseKafkaSecurity(s);
    sink.properties = parseKafkaProperties(s);
    out.sink = sink;
  } else if (kind == "rabbitmq") {
    RabbitMqSinkConfig sink;
    sink.connection = parseAmqpConnection(s);
    s.string("exchange", sink.exchange);
    s.string("routingKey", sink.routingKey);
    if (sink.exchange.empty() && sink.routingKey.empty()) {
      fail(s.at("routingKey"), "is required with the default exchange (it names the queue)");
    }
    out.sink = sink;
  } else if (kind == "http") {
    HttpSinkConfig sink;
    s.string("url", sink.url, true);
    requireUrlScheme(s.at("url"), sink.url, {"http", "https"});
    refuseInlinePassword(s.at("url"), sink.url);
    static const std::vector<std::string> kMethods = {"POST", "PUT"};
    sink.method = kMethods[s.choice("method", kMethods, 0)];
    sink.headers = s.stringMap("headers");
    for (const auto& [name, ignored] : sink.headers) {
      std::string lower;
      for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "authorization") {
        fail(s.at("headers") + "." + name, "secrets are not allowed here; use bearerTokenEnv");
      }
    }
    s.envName("bearerTokenEnv", sink.bearerTokenEnv);
    s.duration("timeout", sink.timeout, std::chrono::milliseconds(1));
    out.sink = sink;
  } else if (kind == "s3") {
    S3SinkConfig sink;
    s.string("endpoint", sink.endpoint.endpoint, true);
    requireUrlScheme(s.at("endpoint"), sink.endpoint.endpoint, {"http", "https"});
    s.string("region", sink.endpoint.region, false, false);
    s.string("bucket", sink.endpoint.bucket, true);
    s.string("prefix", sink.endpoint.prefix);
    s.envName("accessKeyEnv", sink.endpoint.accessKeyEnv);
    s.envName("secretKeyEnv", sink.endpoint.secretKeyEnv);
    if (sink.endpoint.accessKeyEnv.empty()) fail(s.at("accessKeyEnv"), "is required");
    if (sink.endpoint.secretKeyEnv.empty()) fail(s.at("secretKeyEnv"), "is required");
    s.boolean("pathStyle", sink.endpoint.pathStyle);
    out.sink = sink;
  } else {
    DirSinkConfig sink;
    s.string("path", sink.path, true);
    out.sink = sink;
  }
  s.finish();
  f.finish();
  return out;
}

std::string requiredField(Fields& f, const std::string& key) {
  std::string out;
  f.string(key, out, true);
  return out;
}

void checkFieldPath(const std::string& path, const std::string& field) {
  if (field.empty() || field.front() == '.' || field.back() == '.' || field.find("..") != std::string::npos) {
    fail(path, "must be a dotted field path such as \"user.name\", got \"" + field + "\"");
  }
}

void checkExpression(const std::string& path, const std::string& expression) {
  auto compiled = Expression::compile(expression);
  if (!compiled) fail(path, compiled.status().message());
}

SetOperatorConfig parseSetOperator(Fields& o) {
  SetOperatorConfig op;
  const json& fields = o.required("fields");
  if (!fields.is_object() || fields.empty()) {
    fail(o.at("fields"), std::string("must be a non-empty object of field: value, got ") + shown(fields));
  }
  for (const auto& [name, item] : fields.items()) {
    checkFieldPath(o.at("fields") + "." + name, name);
    op.fields.emplace_back(name, nlohmann::json::parse(item.dump()));
  }
  return op;
}

MaskOperatorConfig parseMaskOperator(Fields& o) {
  MaskOperatorConfig op;
  o.string("field", op.field);
  if (!op.field.empty()) checkFieldPath(o.at("field"), op.field);
  op.pattern = requiredField(o, "pattern");
  if (auto error = checkRegex(op.pattern); !error.empty()) fail(o.at("pattern"), error);
  o.string("replacement", op.replacement);
  return op;
}

ParseOperatorConfig parseParseOperator(Fields& o) {
  ParseOperatorConfig op;
  op.format = static_cast<ParseFormat>(o.choice("format", {"json", "regex", "keyvalue"}, 0));
  o.string("field", op.field);
  if (!op.field.empty()) checkFieldPath(o.at("field"), op.field);
  o.string("target", op.target);
  if (!op.target.empty()) checkFieldPath(o.at("target"), op.target);
  if (op.format == ParseFormat::kRegex) {
    op.pattern = requiredField(o, "pattern");
    if (auto error = checkRegex(op.pattern, true); !error.empty()) fail(o.at("pattern"), error);
  } else if (o.has("pattern")) {
    fail(o.at("pattern"), "is only used with format regex");
  }
  o.string("pairSeparator", op.pairSeparator, false, false);
  o.string("keyValueSeparator", op.keyValueSeparator, false, false);
  return op;
}

DecompressOperatorConfig parseDecompressOperator(Fields& o) {
  DecompressOperatorConfig op;
  op.format = static_cast<DecompressFormat>(o.choice("format", {"auto", "gzip", "zip", "tar"}, 0));
  size_t split = o.choice("split", {"lines", "none"}, 0);
  op.splitLines = split == 0;
  if (o.has("maxBytes")) {
    const json& v = *o.get("maxBytes");
    if (!v.is_number_integer() || v.get<int64_t>() < 1) {
      fail(o.at("maxBytes"), std::string("must be a positive integer, got ") + shown(v));
    }
    op.maxBytes = v.get<int64_t>();
  }
  return op;
}

// Alias and prefix become part of Kafka topic names and header values, so
// they keep to the characters a topic name may use.
void checkTopicChars(const std::string& at, const std::string& value, size_t maxLength) {
  static const std::regex kChars("[A-Za-z0-9._-]+");
  if (value.size() > maxLength || !std::regex_match(value, kChars)) {
    fail(at, "must be 1 to " + std::to_string(maxLength) + " of A-Z a-z 0-9 . _ - (as in a Kafka topic name), got \"" +
                 value + "\"");
  }
}

AmqpDefinitionsSyncConfig parseDefinitionsSync(const json& value, const std::string& path) {
  AmqpDefinitionsSyncConfig sync;
  Fields d(value, path);
  d.envName("sourceManagementUrlEnv", sync.sourceManagementUrlEnv);
  d.envName("targetManagementUrlEnv", sync.targetManagementUrlEnv);
  if (sync.sourceManagementUrlEnv.empty()) fail(d.at("sourceManagementUrlEnv"), "is required");
  if (sync.targetManagementUrlEnv.empty()) fail(d.at("targetManagementUrlEnv"), "is required");
  d.stringList("names", sync.names, true);
  for (size_t i = 0; i < sync.names.size(); ++i) {
    if (sync.names[i][0] != '^') continue;
    if (auto error = checkRegex(sync.names[i]); !error.empty())
      fail(d.at("names") + "[" + std::to_string(i) + "]", error);
  }
  d.duration("interval", sync.interval, std::chrono::seconds(1));
  d.boolean("prune", sync.prune);
  d.finish();
  return sync;
}

// The failover fields of a mirror: groups to translate and the sync intervals.
void parseMirrorSync(Fields& o, MirrorOperatorConfig& op) {
  o.stringList("groups", op.groups, false);
  for (size_t i = 0; i < op.groups.size(); ++i) {
    if (op.groups[i][0] != '^') continue;
    if (auto error = checkRegex(op.groups[i]); !error.empty())
      fail(o.at("groups") + "[" + std::to_string(i) + "]", error);
  }
  if (!op.groups.empty() && op.rename == MirrorRename::kOutput) {
    fail(o.at("groups"), "needs rename identity or prefix (offsets are translated per source topic and partition)");
  }
  int64_t seconds = op.groupSyncInterval.count();
  o.integer64("groupSyncIntervalSeconds", seconds, 1, 3600);
  op.groupSyncInterval = std::chrono::seconds(seconds);
  seconds = op.configSyncInterval.count();
  o.integer64("configSyncIntervalSeconds", seconds, 0, 86400);
  op.configSyncInterval = std::chrono::seconds(seconds);
}

MirrorOperatorConfig parseMirrorOperator(Fields& o) {
  MirrorOperatorConfig op;
  op.rename = static_cast<MirrorRename>(o.choice("rename", {"output", "identity", "prefix"}, 0));
  o.string("sourceAlias", op.sourceAlias, false, false);
  o.string("targetAlias", op.targetAlias, false, false);
  o.string("prefix", op.prefix, false, false);
  if (!op.sourceAlias.empty()) checkTopicChars(o.at("sourceAlias"), op.sourceAlias, 64);
  if (!op.targetAlias.empty()) checkTopicChars(o.at("targetAlias"), op.targetAlias, 64);
  if (op.sourceAlias.empty() != op.targetAlias.empty()) {
    const char* missing = op.sourceAlias.empty() ? "sourceAlias" : "targetAlias";
    fail(o.at(missing), "is required with " + std::string(op.sourceAlias.empty() ? "targetAlias" : "sourceAlias") +
                            " (loop prevention needs both cluster aliases)");
  }
  if (!op.sourceAlias.empty() && op.sourceAlias == op.targetAlias) {
    fail(o.at("targetAlias"), "must differ from sourceAlias, both are \"" + op.sourceAlias + "\"");
  }
  o.boolean("keepUserId", op.keepUserId);
  if (const json* definitions = o.get("definitions"))
    op.definitions = parseDefinitionsSync(*definitions, o.at("definitions"));

  parseMirrorSync(o, op);
  if (op.rename != MirrorRename::kPrefix) {
    if (!op.prefix.empty()) fail(o.at("prefix"), "is only used with rename: prefix");
    return op;
  }
  if (op.prefix.empty() && op.sourceAlias.empty()) {
    fail(o.at("prefix"), "is required with rename: prefix (or set sourceAlias: the prefix is then \"<sourceAlias>.\")");
  }
  if (op.prefix.empty()) op.prefix = op.sourceAlias + ".";
  checkTopicChars(o.at("prefix"), op.prefix, 200);
  return op;
}

OperatorConfig parseOperator(const json& value, const std::string& path) {
  Fields f(value, path);
  std::string kind = oneKind(
      f, {"filter", "map", "project", "rename", "set", "mask", "parse", "decompress", "route", "mirror"}, "operator");
  static const json kEmpty = json::object();
  const json* body = f.get(kind);
  f.finish();
  Fields o(body == nullptr ? kEmpty : *body, f.at(kind));
  OperatorConfig out;
  if (kind == "filter") {
    FilterOperatorConfig op;
    op.expression = requiredField(o, "expression");
    checkExpression(o.at("expression"), op.expression);
    out.op = op;
  } else if (kind == "map") {
    MapOperatorConfig op;
    op.fields = o.stringPairs("fields", true);
    for (const auto& [target, expression] : op.fields) {
      checkFieldPath(o.at("fields") + "." + target, target);
      checkExpression(o.at("fields") + "." + target, expression);
    }
    out.op = op;
  } else if (kind == "project") {
    ProjectOperatorConfig op;
    o.stringList("fields", op.fields, true);
    for (size_t i = 0; i < op.fields.size(); ++i) {
      checkFieldPath(o.at("fields") + "[" + std::to_string(i) + "]", op.fields[i]);
    }
    out.op = op;
  } else if (kind == "rename") {
    RenameOperatorConfig op;
    op.fields = o.stringPairs("fields", true);
    for (const auto& [from, to] : op.fields) {
      checkFieldPath(o.at("fields") + "." + from, from);
      checkFieldPath(o.at("fields") + "." + from, to);
    }
    out.op = op;
  } else if (kind == "set") {
    out.op = parseSetOperator(o);
  } else if (kind == "mask") {
    out.op = parseMaskOperator(o);
  } else if (kind == "parse") {
    out.op = parseParseOperator(o);
  } else if (kind == "decompress") {
    out.op = parseDecompressOperator(o);
  } else if (kind == "route") {
    RouteOperatorConfig op;
    op.field = requiredField(o, "field");
    checkFieldPath(o.at("field"), op.field);
    op.routes = o.stringPairs("routes", true);
    o.string("default", op.defaultOutput);
    out.op = op;
  } else {
    out.op = parseMirrorOperator(o);
  }
  o.finish();
  return out;
}

CompatConfig parseCompat(const json& value) {
  CompatConfig compat;
  Fields c(value, "compat");
  c.string("region", compat.region);
  c.string("appId", compat.appId);
  c.string("uin", compat.uin);
  c.string("accountId", compat.accountId);
  compat.lambdaKafka =
      static_cast<LambdaKafkaForm>(c.choice("lambdaKafkaEventSource", {"SelfManagedKafka", "aws:kafka"}, 0));
  c.string("mskClusterArn", compat.mskClusterArn);
  if (!compat.accountId.empty() && !std::regex_match(compat.accountId, std::regex("[0-9]{12}"))) {
    fail("compat.accountId", "must be 12 digits, got \"" + compat.accountId + "\"");
  }
  if (!compat.mskClusterArn.empty() && compat.mskClusterArn.rfind("arn:", 0) != 0) {
    fail("compat.mskClusterArn", "must be an ARN (arn:aws:kafka:...), got \"" + compat.mskClusterArn + "\"");
  }
  c.finish();
  return compat;
}

HttpHandlerConfig parseHttpHandler(const json& value) {
  HttpHandlerConfig http;
  Fields h(value, "http");
  h.integer("port", http.port, 1, 65535);
  h.string("path", http.path);
  if (http.path.empty() || http.path.front() != '/') {
    fail("http.path", "must start with /, got \"" + http.path + "\"");
  }
  h.finish();
  return http;
}

// The first output or trigger that is not RabbitMQ ("outputs[0] is kafka"), or "" when all are.
std::string firstNotRabbitMq(const FunctionConfig& out) {
  static const char* kSinks[] = {"kafka", "rabbitmq", "http", "s3", "dir"};
  static const char* kSources[] = {"kafka", "rabbitmq", "http", "cron", "objectStore"};
  // The names above follow the variants' order, RabbitMQ at 1.
  static_assert(std::variant_size_v<SinkKindConfig> == 5 && std::variant_size_v<SourceConfig> == 5);
  static_assert(std::is_same_v<std::variant_alternative_t<1, SinkKindConfig>, RabbitMqSinkConfig>);
  static_assert(std::is_same_v<std::variant_alternative_t<1, SourceConfig>, RabbitMqSourceConfig>);
  for (size_t i = 0; i < out.outputs.size(); ++i) {
    const size_t kind = out.outputs[i].sink.index();
    if (kind != 1) return "outputs[" + std::to_string(i) + "] is " + kSinks[kind];
  }
  for (size_t i = 0; i < out.triggers.size(); ++i) {
    const size_t kind = out.triggers[i].source.index();
    if (kind != 1) return "triggers[" + std::to_string(i) + "] is " + kSources[kind];
  }
  return "";
}

// keepUserId and definitions act on AMQP properties and RabbitMQ's management
// API: a mirror with any other trigger or output (Kafka above all) would
// silently ignore them, so they are refused there.
void checkRabbitMqOnlyMirrorFields(const FunctionConfig& out) {
  for (size_t i = 0; i < out.pipeline.size(); ++i) {
    const auto* mirror = std::get_if<MirrorOperatorConfig>(&out.pipeline[i].op);
    if (mirror == nullptr || (!mirror->keepUserId && !mirror->definitions)) continue;
    const std::string other = firstNotRabbitMq(out);
    if (other.empty()) continue;
    const std::string base = "pipeline[" + std::to_string(i) + "].mirror";
    if (mirror->keepUserId) fail(base + ".keepUserId", "only a RabbitMQ mirror keeps the user id (" + other + ")");
    fail(base + ".definitions", "only a RabbitMQ mirror syncs queues, exchanges and bindings (" + other + ")");
  }
}

// Rules between fields: the runtime's requirements, routes naming declared outputs.
void checkCrossFields(const FunctionConfig& out) {
  checkRabbitMqOnlyMirrorFields(out);
  if (out.runtime == RuntimeKind::kPython311) {
    static const std::regex kHandler("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*\\.[A-Za-z_][A-Za-z0-9_]*");
    if (!std::regex_match(out.handler, kHandler)) {
      fail("handler", "must be module.function such as \"index.main_handler\", got \"" + out.handler + "\"");
    }
    if (out.codeDir.empty() && out.codeFiles.empty()) fail("codeDir", "is required for runtime python3.11");
    if (!out.pipeline.empty()) fail("pipeline", "is only used with runtime builtin");
  } else if (out.runtime == RuntimeKind::kHttp) {
    if (!out.pipeline.empty()) fail("pipeline", "is only used with runtime builtin");
  } else {
    if (out.pipeline.empty()) fail("pipeline", "must not be empty for runtime builtin");
  }
  for (size_t i = 0; i < out.pipeline.size(); ++i) {
    const auto* route = std::get_if<RouteOperatorConfig>(&out.pipeline[i].op);
    if (route == nullptr) continue;
    std::vector<std::string> known;
    for (const auto& output : out.outputs) known.push_back(output.name);
    auto check = [&](const std::string& path, const std::string& name) {
      if (findOutput(out, name) == nullptr || name.empty()) {
        fail(path, "unknown output \"" + name + "\" (outputs: " + (known.empty() ? "none" : join(known, ", ")) + ")");
      }
    };
    std::string base = "pipeline[" + std::to_string(i) + "].route";
    for (const auto& [value, name] : route->routes) check(base + ".routes." + value, name);
    if (!route->defaultOutput.empty()) check(base + ".default", route->defaultOutput);
  }
}

FunctionConfig parseFunction(const json& root) {
  Fields f(root, "");
  FunctionConfig out;
  f.string("name", out.name, true);
  f.string("namespace", out.namespaceName);
  out.runtime = static_cast<RuntimeKind>(f.choice("runtime", {"python3.11", "builtin", "http"}, 0));
  if (const json* http = f.get("http")) out.http = parseHttpHandler(*http);
  f.string("handler", out.handler, false, false);
  f.string("codeDir", out.codeDir);
  out.codeFiles = f.stringMap("codeFiles");
  for (const auto& [file, source] : out.codeFiles) {
    static const std::regex kFileName("[A-Za-z0-9_][A-Za-z0-9_.-]*");
    if (!std::regex_match(file, kFileName) || file.find("..") != std::string::npos) {
      fail("codeFiles", "file names must be plain names such as \"index.py\", got \"" + file + "\"");
    }
  }
  f.stringList("dependencyDirs", out.dependencyDirs, false);
  int timeoutSeconds = 30;
  f.integer("timeoutSeconds", timeoutSeconds, 1, 86'400);
  out.timeout = std::chrono::seconds(timeoutSeconds);
  f.integer("concurrency", out.concurrency, 1, 1024);
  out.eventShape = static_cast<EventShape>(f.choice("eventShape", {"canonical", "scf", "lambda"}, 0));
  out.environment = f.stringMap("environment");
  if (const json* compat = f.get("compat")) out.compat = parseCompat(*compat);
  if (const json* memory = f.get("memoryLimitMb")) {
    if (!memory->is_number_integer() || memory->get<int64_t>() < 0) {
      fail("memoryLimitMb", std::string("must be a non-negative integer, got ") + shown(*memory));
    }
    out.memoryLimitMb = memory->get<int64_t>();
  }

  if (const json* retry = f.get("retry")) out.retry = parseRetry(*retry, "retry");

  if (const json* outputs = f.get("outputs")) {
    if (!outputs->is_array()) fail("outputs", std::string("must be a list, got ") + shown(*outputs));
    std::set<std::string> names;
    for (size_t i = 0; i < outputs->size(); ++i) {
      std::string path = "outputs[" + std::to_string(i) + "]";
      out.outputs.push_back(parseSink((*outputs)[i], path, true));
      if (!names.insert(out.outputs.back().name).second) {
        fail(path + ".name", "duplicate output name \"" + out.outputs.back().name + "\"");
      }
    }
  }
  if (const json* deadLetter = f.get("deadLetter")) {
    out.deadLetter = parseSink(*deadLetter, "deadLetter", false);
    if (out.deadLetter->name.empty()) out.deadLetter->name = "deadLetter";
  }

  if (const json* triggers = f.get("triggers")) {
    if (!triggers->is_array()) fail("triggers", std::string("must be a list, got ") + shown(*triggers));
    std::set<std::string> names;
    for (size_t i = 0; i < triggers->size(); ++i) {
      std::string path = "triggers[" + std::to_string(i) + "]";
      out.triggers.push_back(parseTrigger((*triggers)[i], path));
      if (!names.insert(out.triggers.back().name).second) {
        fail(path + ".name", "duplicate trigger name \"" + out.triggers.back().name + "\"");
      }
    }
  }

  if (const json* pipeline = f.get("pipeline")) {
    if (!pipeline->is_array()) fail("pipeline", std::string("must be a list, got ") + shown(*pipeline));
    for (size_t i = 0; i < pipeline->size(); ++i) {
      out.pipeline.push_back(parseOperator((*pipeline)[i], "pipeline[" + std::to_string(i) + "]"));
    }
  }
  f.finish();

  checkCrossFields(out);
  return out;
}

// YAML -> JSON. Plain (unquoted) scalars become null/bool/number when they
// read as one; quoted scalars stay strings, as YAML 1.2's core schema says.
json yamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(yamlToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& item : node) out[item.first.as<std::string>()] = yamlToJson(item.second);
      return out;
    }
    case YAML::NodeType::Scalar: break;
  }
  const std::string& text = node.Scalar();
  if (node.Tag() != "?") return text;  // quoted or explicitly tagged: a string
  if (text == "null" || text == "~" || text.empty()) return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  static const std::regex kInteger("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?");
  if (std::regex_match(text, kInteger)) {
    try {
      return std::stoll(text);
    } catch (const std::out_of_range&) {
      return text;
    }
  }
  if (std::regex_match(text, kFloat)) return std::stod(text);
  return text;
}

}  // namespace

Result<FunctionConfig> parseFunctionConfig(const std::string& text) {
  json root;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    try {
      root = json::parse(text);
    } catch (const json::parse_error& e) {
      return invalidArgument(std::string("function config is not valid JSON: ") + e.what());
    }
  } else {
    // yaml-cpp takes any bytes; the JSON parser refuses what is not UTF-8 itself.
    if (std::string at = invalidUtf8Position(text); !at.empty()) {
      return invalidArgument("function config is not valid YAML: invalid UTF-8 at " + at);
    }
    try {
      root = yamlToJson(YAML::Load(text));
    } catch (const YAML::Exception& e) {
      return invalidArgument(std::string("function config is not valid YAML: ") + e.what());
    }
  }
  try {
    return parseFunction(root);
  } catch (const ConfigError& e) {
    return invalidArgument(e.message);
  }
}

Result<FunctionConfig> loadFunctionConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return notFound("cannot read function config " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto parsed = parseFunctionConfig(buffer.str());
  if (!parsed) return parsed.status().withContext(path);
  return parsed;
}

const SinkConfig* findOutput(const FunctionConfig& config, const std::string& name) {
  if (name.empty()) return config.outputs.empty() ? nullptr : &config.outputs.front();
  for (const auto& output : config.outputs) {
    if (output.name == name) return &output;
  }
  if (config.deadLetter && config.deadLetter->name == name) return &*config.deadLetter;
  return nullptr;
}

const char* toString(ObjectStoreKind kind) {
  switch (kind) {
    case ObjectStoreKind::kS3: return "s3";
    case ObjectStoreKind::kDir: return "dir";
    case ObjectStoreKind::kWebHdfs: return "webhdfs";
  }
  return "?";
}
const char* toString(AfterProcessing after) {
  switch (after) {
    case AfterProcessing::kDelete: return "delete";
    case AfterProcessing::kMove: return "move";
    case AfterProcessing::kTag: return "tag";
  }
  return "?";
}
const char* toString(EventShape shape) {
  switch (shape) {
    case EventShape::kCanonical: return "canonical";
    case EventShape::kScf: return "scf";
    case EventShape::kLambda: return "lambda";
  }
  return "?";
}
const char* toString(RuntimeKind kind) {
  switch (kind) {
    case RuntimeKind::kPython311: return "python3.11";
    case RuntimeKind::kBuiltin: return "builtin";
    case RuntimeKind::kHttp: return "http";
  }
  return "?";
}

}  // namespace sluice::runtime::config
