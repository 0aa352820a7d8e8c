#include "cli/dlq.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "api/v1alpha1/trigger.h"
#include "common/encoding.h"
#include "common/strings.h"
#include "spec/amqp_tls.h"
#include "spec/kafka_client_settings.h"
#include "spec/resources.h"

namespace sluice::cli {

namespace {

using nlohmann::json;

// A Secret key's value read with the user's access; errors name the field that names the Secret.
spec::SecretReader secretReader(kube::ResourceClient& client, const std::string& ns) {
  return [&client, ns](const api::v1alpha1::SecretKey& need) -> Result<std::string> {
    const std::string what = need.field + ": Secret " + ns + "/" + need.secret;
    auto secret = client.get(kube::resources::kSecrets, ns, need.secret);
    if (!secret.isOk()) {
      if (secret.status().code() == StatusCode::kNotFound) return Status(StatusCode::kNotFound, what + " not found");
      return secret.status().withContext(what);
    }
    const json data = secret->value("data", json::object());
    if (!data.is_object() || !data.contains(need.key) || !data[need.key].is_string()) {
      return Status(StatusCode::kFailedPrecondition, what + " has no key " + need.key);
    }
    auto decoded = base64Decode(data[need.key].get<std::string>());
    if (!decoded.isOk()) return decoded.status().withContext(what + " key " + need.key);
    return decoded;
  };
}

Result<KafkaEndpoint> kafkaEndpoint(const api::v1alpha1::KafkaSource& kafka, const std::string& path,
                                    const spec::SecretReader& read) {
  auto settings = spec::kafkaClientSettings(kafka, path, read);
  if (!settings.isOk()) return settings.status();
  return KafkaEndpoint{std::move(settings).value(), kafka.topics};
}

Result<AmqpEndpoint> amqpEndpoint(const api::v1alpha1::RabbitMqSource& rabbitmq, const std::string& path,
                                  const spec::SecretReader& read) {
  auto url = read({rabbitmq.connectionSecretName, rabbitmq.urlKey, path + ".connectionSecretRef"});
  if (!url.isOk()) return url.status();
  auto tls = spec::amqpTls(rabbitmq, path, read);
  if (!tls.isOk()) return tls.status();
  return AmqpEndpoint{std::move(url).value(), std::move(tls).value(), rabbitmq.queue};
}

// `path`: the field the dead letter is (spec.delivery.deadLetter, spec.deadLetter), named in errors.
Status deadLetterOf(const json& deadLetter, const std::string& path, const spec::SecretReader& read, DlqPlan& plan) {
  if (deadLetter.contains("kafka")) {
    const json& k = deadLetter["kafka"];
    auto security = api::v1alpha1::kafkaSecurityOf(k, path + ".kafka");
    if (!security.isOk()) return security.status();
    security->bootstrapServers = k.value("bootstrapServers", std::vector<std::string>{});
    security->topics = {k.value("topic", "")};
    auto endpoint = kafkaEndpoint(*security, path + ".kafka", read);
    if (!endpoint.isOk()) return endpoint.status();
    plan.kafkaDeadLetter = std::move(endpoint).value();
    return Status::ok();
  }
  if (deadLetter.contains("rabbitmq")) {
    const json& r = deadLetter["rabbitmq"];
    const std::string exchange = r.value("exchange", "");
    if (!exchange.empty()) {
      return Status(StatusCode::kFailedPrecondition,
                    path + ".rabbitmq.exchange: \"" + exchange +
                        "\": dlq reads a queue, and which queues an exchange routes to is the broker's business "
                        "(dead-letter to the default exchange, with routingKey the queue)");
    }
    auto connection = api::v1alpha1::rabbitMqConnectionOf(r, path + ".rabbitmq");
    if (!connection.isOk()) return connection.status();
    connection->queue = r.value("routingKey", "");
    if (connection->queue.empty()) {
      return Status(StatusCode::kFailedPrecondition, path + ".rabbitmq.routingKey is not set (it names the queue)");
    }
    auto endpoint = amqpEndpoint(*connection, path + ".rabbitmq", read);
    if (!endpoint.isOk()) return endpoint.status();
    plan.amqpDeadLetter = std::move(endpoint).value();
    return Status::ok();
  }
  std::string kind = deadLetter.is_object() && !deadLetter.empty() ? deadLetter.begin().key() : "";
  if (kind == "name" && deadLetter.size() > 1) kind = std::next(deadLetter.begin()).key();
  return Status(StatusCode::kFailedPrecondition,
                path + ": a " + kind + " dead letter cannot be read back (dlq reads kafka topics and rabbitmq queues)");
}

// The source a redrive publishes into; a failure is kept as the reason a redrive cannot, not an error of `ls`.
void sourceOf(const json& trigger, const spec::SecretReader& read, DlqPlan& plan) {
  auto parsed = api::v1alpha1::Trigger::fromJson(trigger);
  if (!parsed.isOk()) {
    plan.sourceRefusal = parsed.status().message();
    return;
  }
  Status status = Status::ok();
  if (parsed->kafka || parsed->httpAsyncKafka) {
    const bool async = !parsed->kafka;
    auto endpoint = kafkaEndpoint(async ? *parsed->httpAsyncKafka : *parsed->kafka,
                                  async ? "spec.http.async.kafka" : "spec.kafka", read);
    status = endpoint.status();  // read before the value is moved out
    if (endpoint.isOk()) plan.kafkaSource = std::move(endpoint).value();
  } else if (parsed->rabbitmq || parsed->httpAsync) {
    const bool async = !parsed->rabbitmq;
    auto endpoint = amqpEndpoint(async ? *parsed->httpAsync : *parsed->rabbitmq,
                                 async ? "spec.http.async.rabbitmq" : "spec.rabbitmq", read);
    status = endpoint.status();  // read before the value is moved out
    if (endpoint.isOk()) plan.amqpSource = std::move(endpoint).value();
  } else {
    status = Status(StatusCode::kFailedPrecondition,
                    "spec." + parsed->sourceType + ": a " + parsed->sourceType +
                        " source cannot take events back (redrive re-injects into kafka topics and rabbitmq queues)");
  }
  if (!status.isOk()) plan.sourceRefusal = "trigger " + plan.trigger + ": " + status.message();
}

std::string nameOf(const json& object) { return object.value("/metadata/name"_json_pointer, std::string()); }

bool hasDeadLetter(const json& trigger) {
  return trigger.value("/spec/delivery/deadLetter"_json_pointer, json()).is_object();
}

// The Triggers of `all` that name `function`.
std::vector<json> triggersOf(const std::vector<json>& all, const std::string& function) {
  std::vector<json> mine;
  for (const json& t : all) {
    if (t.value("/spec/functionRef/name"_json_pointer, std::string()) == function) mine.push_back(t);
  }
  return mine;
}

// `wanted` among `all`, which must feed `function`.
Result<json> namedTrigger(const std::vector<json>& all, const std::string& ns, const std::string& function,
                          const std::string& wanted) {
  auto it = std::find_if(all.begin(), all.end(), [&](const json& t) { return nameOf(t) == wanted; });
  if (it == all.end()) return Status(StatusCode::kNotFound, "Trigger " + ns + "/" + wanted + " not found");
  const std::string feeds = it->value("/spec/functionRef/name"_json_pointer, std::string());
  if (feeds != function) {
    return invalidArgument("--trigger: Trigger " + ns + "/" + wanted + " feeds Function " + feeds + ", not " +
                           function);
  }
  return *it;
}

// Without --trigger: the one dead letter the Function's records reach. A Trigger (its own
// spec.delivery.deadLetter), null for the Function's spec.deadLetter, or the Function's one
// Trigger (whose missing dead letter resolveDlq names).
Result<json> chooseDeadLetter(const std::vector<json>& mine, const std::string& ns, const std::string& function,
                              bool functionDeadLetter) {
  std::vector<std::string> names;
  std::vector<std::string> withDeadLetter;
  for (const json& t : mine) {
    names.push_back(nameOf(t));
    if (hasDeadLetter(t)) withDeadLetter.push_back(nameOf(t));
  }
  // The Function's own dead letter takes the records of its Triggers without one.
  const bool functionCounts = functionDeadLetter && withDeadLetter.size() < std::max<size_t>(mine.size(), 1);
  if (withDeadLetter.size() + (functionCounts ? 1 : 0) > 1) {
    std::string which = functionCounts ? "its spec.deadLetter and " : "";
    return invalidArgument("Function " + ns + "/" + function + " has " +
                           std::to_string(withDeadLetter.size() + (functionCounts ? 1 : 0)) + " dead letters (" +
                           which + "spec.delivery.deadLetter of " + join(withDeadLetter, ", ") +
                           "): pick one with --trigger");
  }
  if (functionCounts) return json(nullptr);
  if (withDeadLetter.size() == 1) {
    return *std::find_if(mine.begin(), mine.end(), [&](const json& t) { return nameOf(t) == withDeadLetter[0]; });
  }
  if (mine.size() == 1) return mine[0];  // its missing dead letter is named below
  if (mine.empty())
    return Status(StatusCode::kFailedPrecondition,
                  "Function " + ns + "/" + function + " has no Trigger and no spec.deadLetter");
  return Status(StatusCode::kFailedPrecondition,
                "Function " + ns + "/" + function + ": none of its Triggers (" + join(names, ", ") +
                    ") sets spec.delivery.deadLetter, nor the Function spec.deadLetter");
}

// The Function's spec.deadLetter, for the records of `only` (a Trigger's name; "": every Trigger's):
// each route is a Trigger without a dead letter of its own, whose source a redrive publishes into.
Result<DlqPlan> functionPlan(const json& fn, const std::vector<json>& mine, const std::string& only,
                             const spec::SecretReader& read, DlqPlan plan) {
  plan.functionLevel = true;
  plan.trigger = only;
  // Not a Trigger's group: ':' is in no Kubernetes name, so no Trigger's group can be this one.
  plan.redriveGroup = "sluice-redrive-" + plan.ns + "-function:" + plan.function;
  if (Status s = deadLetterOf(fn["spec"]["deadLetter"], "spec.deadLetter", read, plan); !s.isOk()) {
    return Status(s.code(), "Function " + plan.ns + "/" + plan.function + ": " + s.message());
  }
  for (const json& t : mine) {
    if (hasDeadLetter(t) || (!only.empty() && nameOf(t) != only)) continue;
    DlqPlan route;
    route.ns = plan.ns;
    route.function = plan.function;
    route.trigger = nameOf(t);
    sourceOf(t, read, route);
    plan.routes.push_back(std::move(route));
  }
  return plan;
}

std::string rfc3339(int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::ostringstream out;
  out << std::put_time(&utc, "%Y-%m-%dT%H:%M:%SZ");
  return out.str();
}

// An error's first line (a traceback stays in --output json).
std::string firstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

std::string ownerText(const json& header) {
  const std::string ns = header["namespace"].get<std::string>();
  const std::string trigger = header["trigger"].get<std::string>();
  if (header.value("deadLetterField", "") != "spec.deadLetter") return "Trigger " + ns + "/" + trigger;
  return "Function " + ns + "/" + header["function"].get<std::string>() + " (spec.deadLetter)" +
         (trigger.empty() ? "" : ", Trigger " + trigger);
}

bool isDeadLetterHeader(const std::string& name) {
  return name == kErrorHeader || name == kAttemptsHeader || name == kEventIdHeader || name == kSourceHeader ||
         name == kTriggerHeader;
}

void readDeadLetterHeaders(const std::vector<std::pair<std::string, std::string>>& headers, DeadLetter& into) {
  for (const auto& [name, value] : headers) {
    if (!isDeadLetterHeader(name)) {
      into.headers.emplace_back(name, value);
    } else if (name == kErrorHeader) {
      into.error = value;
    } else if (name == kAttemptsHeader) {
      into.attempts = std::atoi(value.c_str());
    } else if (name == kEventIdHeader) {
      into.id = value;
    } else if (name == kSourceHeader) {
      into.source = value;
    } else {
      into.trigger = value;
    }
  }
}

std::string DlqPlan::deadLetterName() const {
  if (kafkaDeadLetter) return "kafka topic " + join(kafkaDeadLetter->topics, ",");
  return amqpDeadLetter ? "rabbitmq queue " + amqpDeadLetter->queue : "";
}

std::string DlqPlan::sourceName() const {
  if (functionLevel) {
    std::vector<std::string> names;
    for (const DlqPlan& route : routes) {
      if (route.sourceRefusal.empty()) names.push_back(route.sourceName() + " (Trigger " + route.trigger + ")");
    }
    return names.empty() ? "no source" : join(names, "; ");
  }
  if (kafkaSource) return "kafka topic " + join(kafkaSource->topics, ",");
  return amqpSource ? "rabbitmq queue " + amqpSource->queue : "";
}

std::string DlqPlan::deadLetterField() const { return functionLevel ? "spec.deadLetter" : "spec.delivery.deadLetter"; }

std::string DlqPlan::ownerName() const {
  if (!functionLevel) return "Trigger " + ns + "/" + trigger;
  return "Function " + ns + "/" + function + (trigger.empty() ? "" : ", Trigger " + trigger);
}

const DlqPlan* DlqPlan::routeOf(const std::string& name) const {
  auto it = std::find_if(routes.begin(), routes.end(), [&](const DlqPlan& r) { return r.trigger == name; });
  return it == routes.end() || !it->sourceRefusal.empty() ? nullptr : &*it;
}

Result<DlqPlan> resolveDlq(kube::ResourceClient& client, const std::string& ns, const std::string& function,
                           const std::string& trigger) {
  auto fn = client.get(spec::kFunctions, ns, function);
  if (!fn.isOk()) {
    const std::string what = "Function " + ns + "/" + function;
    if (fn.status().code() == StatusCode::kNotFound) return Status(StatusCode::kNotFound, what + " not found");
    return fn.status().withContext(what);
  }
  auto triggers = client.list(spec::kTriggers, ns, {});
  if (!triggers.isOk()) return triggers.status().withContext("listing Triggers in " + ns);
  const auto all = triggers->value("items", json::array()).get<std::vector<json>>();
  const std::vector<json> mine = triggersOf(all, function);
  const bool functionDeadLetter = fn->value("/spec/deadLetter"_json_pointer, json()).is_object();
  auto chosen = trigger.empty() ? chooseDeadLetter(mine, ns, function, functionDeadLetter)
                                : namedTrigger(all, ns, function, trigger);
  if (!chosen.isOk()) return chosen.status();
  DlqPlan plan;
  plan.ns = ns;
  plan.function = function;
  const spec::SecretReader read = secretReader(client, ns);
  if (chosen->is_null() || (!hasDeadLetter(*chosen) && functionDeadLetter)) {
    return functionPlan(*fn, mine, chosen->is_null() ? "" : nameOf(*chosen), read, std::move(plan));
  }
  plan.trigger = nameOf(*chosen);
  plan.redriveGroup = "sluice-redrive-" + ns + "-" + plan.trigger;
  const std::string where = "trigger " + plan.trigger;
  if (!hasDeadLetter(*chosen)) {
    return Status(StatusCode::kFailedPrecondition,
                  where + ": spec.delivery.deadLetter is not set, nor the Function's spec.deadLetter");
  }
  const json& deadLetter = (*chosen)["spec"]["delivery"]["deadLetter"];
  if (Status s = deadLetterOf(deadLetter, "spec.delivery.deadLetter", read, plan); !s.isOk()) {
    return Status(s.code(), where + ": " + s.message());
  }
  sourceOf(*chosen, read, plan);
  return plan;
}

json deadLetterJson(const DeadLetter& letter, std::chrono::system_clock::time_point now) {
  json out = {{"id", letter.id},       {"position", letter.position}, {"attempts", letter.attempts},
              {"error", letter.error}, {"source", letter.source},     {"trigger", letter.trigger},
              {"time", nullptr},       {"ageSeconds", nullptr},       {"size", letter.size}};
  if (letter.timeMs) {
    const int64_t nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    out["time"] = rfc3339(*letter.timeMs);
    out["ageSeconds"] = std::max<int64_t>(0, (nowMs - *letter.timeMs) / 1000);
  }
  return out;
}

std::string ageText(const json& ageSeconds) {
  if (!ageSeconds.is_number_integer()) return "-";
  const int64_t s = ageSeconds.get<int64_t>();
  if (s < 120) return std::to_string(s) + "s";
  if (s < int64_t{2} * 3600) return std::to_string(s / 60) + "m";
  if (s < int64_t{2} * 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string dlqListText(const json& listing) {
  std::ostringstream out;
  const json& items = listing["items"];
  out << ownerText(listing) << ": " << listing["deadLetter"].get<std::string>() << ", " << items.size()
      << " dead letter" << (items.size() == 1 ? "" : "s")
      << (listing.value("truncated", false) ? " shown (--limit)" : "") << "\n";
  if (items.empty()) return out.str();
  std::vector<std::vector<std::string>> rows = {{"ID", "ATTEMPTS", "AGE", "SIZE", "ERROR"}};
  for (const json& item : items) {
    const std::string id = item["id"].get<std::string>();
    rows.push_back({id.empty() ? item["position"].get<std::string>() : id, std::to_string(item["attempts"].get<int>()),
                    ageText(item["ageSeconds"]), std::to_string(item["size"].get<int64_t>()),
                    firstLine(item["error"].get<std::string>())});
  }
  std::vector<size_t> widths(4, 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i < widths.size(); ++i) out << row[i] << std::string(widths[i] - row[i].size() + 2, ' ');
    out << row[4] << "\n";
  }
  return out.str();
}

}  // namespace sluice::cli
