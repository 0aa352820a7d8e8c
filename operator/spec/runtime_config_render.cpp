#include "spec/runtime_config_render.h"

#include <cctype>
#include <cstdint>
#include <map>

#include "api/pods.h"
#include "api/v1alpha1/semantics.h"
#include "api/v1alpha1/trigger.h"
#include "common/strings.h"

namespace sluice::spec {
namespace {

using nlohmann::json;

std::string token(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  return out;
}

// MiB of a Kubernetes memory quantity ("256Mi", "1G", "134217728", "1.5Gi",
// "5e8"); 0 when it does not read as one (the CRD's pattern refuses those).
int64_t memoryMebibytes(const json& quantity) {
  if (quantity.is_number()) return static_cast<int64_t>(quantity.get<double>() / (1024.0 * 1024.0));
  if (!quantity.is_string()) return 0;
  const std::string text = quantity.get<std::string>();
  size_t end = 0;
  double number = 0;
  try {
    number = std::stod(text, &end);
  } catch (const std::exception&) {
    return 0;
  }
  const std::string suffix = text.substr(end);
  static const std::map<std::string, double> kMultipliers = {{"", 1},
                                                             {"m", 1e-3},
                                                             {"k", 1e3},
                                                             {"M", 1e6},
                                                             {"G", 1e9},
                                                             {"T", 1e12},
                                                             {"P", 1e15},
                                                             {"E", 1e18},
                                                             {"Ki", 1024.0},
                                                             {"Mi", 1048576.0},
                                                             {"Gi", 1073741824.0},
                                                             {"Ti", 1099511627776.0},
                                                             {"Pi", 1125899906842624.0},
                                                             {"Ei", 1152921504606846976.0}};
  auto it = kMultipliers.find(suffix);
  if (it == kMultipliers.end()) return 0;  // an exponent form: stod already read it
  return static_cast<int64_t>(number * it->second / 1048576.0);
}

// Collects the Secret references of one owner (an output, the dead letter or a trigger).
class SecretCollector {
 public:
  SecretCollector(RenderedConfig& out, const RenderOptions& options, std::string owner)
      : out_(out), options_(options), owner_(std::move(owner)) {}

  std::string env(const json& secretRef, const std::string& key, bool optional = false) {
    std::string name = secretEnvName(owner_, key);
    out_.secretEnvs.push_back({name, secretRef.at("name").get<std::string>(), key, optional});
    return name;
  }

  std::string volume(const json& secretRef) {
    std::string lowered;
    for (char c : owner_)
      lowered += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '-';
    SecretVolume v{"tls-" + lowered, secretRef.at("name").get<std::string>(), options_.tlsDir + "/" + lowered};
    out_.secretVolumes.push_back(v);
    return v.mountPath;
  }

 private:
  RenderedConfig& out_;
  const RenderOptions& options_;
  std::string owner_;
};

json kafkaSecurity(const json& kafka, SecretCollector& secrets) {
  const bool sasl = kafka.contains("sasl");
  const bool tls = kafka.contains("tls");
  json security = {{"protocol", api::v1alpha1::kafkaSecurityProtocol(sasl, tls)}};
  if (sasl) {
    security["saslMechanism"] = kafka["sasl"].at("mechanism");
    security["usernameEnv"] = secrets.env(kafka["sasl"].at("secretRef"), "username");
    security["passwordEnv"] = secrets.env(kafka["sasl"].at("secretRef"), "password");
  }
  if (tls && kafka["tls"].contains("secretRef")) {
    const std::string dir = secrets.volume(kafka["tls"]["secretRef"]);
    security["caFile"] = dir + "/ca.crt";
    if (kafka["tls"].value("mutual", false)) {
      security["certFile"] = dir + "/tls.crt";
      security["keyFile"] = dir + "/tls.key";
    }
  }
  return security;
}

// The AMQP connection of a rabbitmq object (a Trigger's source or async
// queue, a Function's output): the URL and any tls keys, all from its
// connectionSecretRef, as environment variables of the replica.
json amqpConnection(const json& rabbitmq, SecretCollector& secrets) {
  const json& ref = rabbitmq.at("connectionSecretRef");
  json out = {{"urlEnv", secrets.env(ref, ref.value("key", "url"))}};
  const json& tls = rabbitmq.value("tls", json::object());
  for (auto [key, field] :
       {std::pair{"caKey", "tlsCaEnv"}, std::pair{"certKey", "tlsCertEnv"}, std::pair{"keyKey", "tlsKeyEnv"}}) {
    if (tls.contains(key)) out[field] = secrets.env(ref, tls[key].get<std::string>());
  }
  return out;
}

Result<json> renderSink(const json& sink, const std::string& where, SecretCollector& secrets) {
  json out;
  if (sink.contains("name")) out["name"] = sink["name"];
  if (sink.contains("kafka")) {
    const json& k = sink["kafka"];
    out["kafka"] = {{"bootstrapServers", join(k.at("bootstrapServers").get<std::vector<std::string>>(), ",")},
                    {"topic", k.at("topic")},
                    {"security", kafkaSecurity(k, secrets)}};
  } else if (sink.contains("rabbitmq")) {
    const json& r = sink["rabbitmq"];
    out["rabbitmq"] = amqpConnection(r, secrets);
    out["rabbitmq"]["exchange"] = r.value("exchange", "");
    if (r.contains("routingKey")) out["rabbitmq"]["routingKey"] = r["routingKey"];
  } else if (sink.contains("http")) {
    const json& h = sink["http"];
    out["http"] = {{"url", h.at("url")}};
    if (h.contains("bearerTokenSecretRef")) {
      const json& ref = h["bearerTokenSecretRef"];
      out["http"]["bearerTokenEnv"] = secrets.env(ref, ref.value("key", "token"));
    }
  } else if (sink.contains("s3")) {
    const json& s = sink["s3"];
    out["s3"] = {{"endpoint", s.at("endpoint")},
                 {"region", s.value("region", "us-east-1")},
                 {"bucket", s.at("bucket")},
                 {"prefix", s.value("prefix", "")}};
    if (s.contains("credentialsSecretRef")) {
      out["s3"]["accessKeyEnv"] = secrets.env(s["credentialsSecretRef"], "accessKey");
      out["s3"]["secretKeyEnv"] = secrets.env(s["credentialsSecretRef"], "secretKey");
    }
  } else if (sink.contains("dir")) {
    out["dir"] = {{"path", sink["dir"].at("path")}};
  } else {
    return invalidArgument(where + ": an output must set one of kafka, rabbitmq, http, s3 or dir");
  }
  return out;
}

// The queue or topic the gateway keeps an http Trigger's asynchronous
// invocations in, as the replica's source of them.
json renderHttpAsync(const json& async, const std::string& ns, const std::string& trigger, const json& delivery,
                     SecretCollector& secrets) {
  if (async.contains("kafka")) {
    const json& k = async["kafka"];
    // Earliest: the invocations that woke the Function came before its group existed.
    return json{{"kafka",
                 {{"bootstrapServers", join(k.at("bootstrapServers").get<std::vector<std::string>>(), ",")},
                  {"topics", json::array({k.at("topic")})},
                  {"consumerGroup", k.value("consumerGroup", api::v1alpha1::asyncConsumerGroup(ns, trigger))},
                  {"initialOffset", "earliest"},
                  {"maxInFlight", delivery.value("maxInFlight", 100)},
                  {"security", kafkaSecurity(k, secrets)}}}};
  }
  const json& r = async.at("rabbitmq");
  json rabbit = amqpConnection(r, secrets);
  rabbit["queue"] = r.at("queue");
  rabbit["prefetch"] = r.value("prefetch", 10);
  return json{{"rabbitmq", rabbit}};
}

// `ns`, `trigger`: whose spec it is (a default consumer group is named after them).
Result<json> renderSource(const json& spec, const std::string& ns, const std::string& trigger,
                          SecretCollector& secrets) {
  const std::string where = "Trigger " + ns + "/" + trigger + ": spec";
  const json& delivery = spec.value("delivery", json::object());
  if (spec.contains("kafka")) {
    const json& k = spec["kafka"];
    return json{{"kafka",
                 {{"bootstrapServers", join(k.at("bootstrapServers").get<std::vector<std::string>>(), ",")},
                  {"topics", k.at("topics")},
                  {"consumerGroup", k.at("consumerGroup")},
                  {"initialOffset", k.value("initialOffset", "latest")},
                  {"batchSize", delivery.value("batchSize", 1)},
                  {"maxInFlight", delivery.value("maxInFlight", 100)},
                  {"ordering", delivery.value("ordering", "partition")},
                  {"security", kafkaSecurity(k, secrets)}}}};
  }
  if (spec.contains("rabbitmq")) {
    const json& r = spec["rabbitmq"];
    const json& ref = r.at("connectionSecretRef");
    json rabbit = amqpConnection(r, secrets);
    rabbit["queue"] = r.at("queue");
    rabbit["prefetch"] = r.value("prefetch", 10);
    if (r.contains("exchange")) {
      rabbit["exchange"] = r["exchange"];
      // Optional: with it the replica also removes bindings whose key left routingKeys.
      rabbit["managementUrlEnv"] = secrets.env(ref, ref.value("managementKey", "managementUrl"), /*optional=*/true);
    }
    if (r.contains("routingKeys")) rabbit["routingKeys"] = r["routingKeys"];
    return json{{"rabbitmq", rabbit}};
  }
  if (spec.contains("cron")) {
    const json& c = spec["cron"];
    return json{{"cron",
                 {{"schedule", c.at("schedule")},
                  {"timezone", c.value("timezone", "UTC")},
                  {"payload", c.value("payload", "")}}}};
  }
  if (spec.contains("http")) {
    const json& h = spec["http"];
    json http = {{"path", h.at("path")}};
    if (h.contains("async")) http["async"] = renderHttpAsync(h["async"], ns, trigger, delivery, secrets);
    return json{{"http", http}};
  }
  if (spec.contains("objectStore")) {
    const json& o = spec["objectStore"];
    const std::string type = o.at("type").get<std::string>();
    json store = {{"kind", type}};
    if (type == "s3") {
      store["endpoint"] = o.at("endpoint");
      store["region"] = o.value("region", "us-east-1");
      store["bucket"] = o.at("bucket");
      store["prefix"] = o.value("prefix", "");
      if (o.contains("credentialsSecretRef")) {
        store["accessKeyEnv"] = secrets.env(o["credentialsSecretRef"], "accessKey");
        store["secretKeyEnv"] = secrets.env(o["credentialsSecretRef"], "secretKey");
      }
    } else {
      if (type == "webhdfs") store["endpoint"] = o.at("endpoint");
      if (o.contains("user")) store["user"] = o["user"];
      store["prefix"] = o.at("path");
    }
    const json& after = o.value("afterProcessing", json::object());
    const std::string action = after.value("action", "delete");
    store["afterProcessing"] = action;
    if (action == "move") store["moveToPrefix"] = after.at("destinationPrefix");
    if (action == "tag") {
      const std::string tag = after.value("tag", "sluice-processed=true");
      const size_t eq = tag.find('=');
      if (eq == std::string::npos || eq == 0) {
        return invalidArgument(where + ".objectStore.afterProcessing.tag: must be key=value, got \"" + tag + "\"");
      }
      store["tagKey"] = tag.substr(0, eq);
      store["tagValue"] = tag.substr(eq + 1);
    }
    return json{{"objectStore", store}};
  }
  return json(nullptr);  // prometheus: scaling only
}

}  // namespace

std::string secretEnvName(const std::string& owner, const std::string& key) {
  return "SLUICE_SECRET_" + token(owner) + "_" + token(key);
}

namespace {

// The runtime's retry of a Function's spec.retry, or of a Trigger's
// spec.delivery.retry over it (a field the Trigger leaves out is the Function's).
json renderRetry(const json& retry, const json& over = json::object()) {
  auto field = [&](const char* key, const json& fallback) { return over.value(key, retry.value(key, fallback)); };
  return {{"maxAttempts", field("maxAttempts", 3)},
          {"backoff",
           {{"initialDelay", field("initialBackoff", "200ms")},
            {"maxDelay", field("maxBackoff", "30s")},
            {"multiplier", field("multiplier", 2.0)}}}};
}

// The Function's own settings: handler, limits, environment, retry, pipeline.
void renderFunctionSettings(json& c, const json& spec, const RenderOptions& options) {
  // spec.protocol http: the handler is the image's HTTP server (docs/handler-images.md).
  const bool http = spec.value("protocol", "") == "http";
  const std::string runtime = http ? "http" : spec.value("runtime", "python3.11");
  c["runtime"] = runtime;
  if (http) {
    const json& server = spec.value("http", json::object());
    c["http"] = {{"port", server.value("port", api::kDefaultHandlerPort)}, {"path", server.value("path", "/")}};
  } else if (runtime == "python3.11") {
    c["handler"] = spec.value("handler", "index.main_handler");
    c["codeDir"] = options.codeDir;
  }
  c["timeoutSeconds"] = spec.value("timeoutSeconds", 30);
  c["concurrency"] = spec.value("concurrency", 1);
  c["eventShape"] = spec.value("eventShape", "canonical");
  if (spec.contains("compat")) c["compat"] = spec["compat"];
  const json& limits = spec.value("resources", json::object()).value("limits", json::object());
  if (limits.contains("memory")) c["memoryLimitMb"] = memoryMebibytes(limits["memory"]);
  // Plain environment values, so the scf context's `environment`/`environ`
  // can list them (the pod sets them too; secrets stay out of the file).
  for (const json& variable : spec.value("env", json::array())) {
    if (variable.contains("value") && variable["value"].is_string()) {
      c["environment"][variable.at("name").get<std::string>()] = variable["value"];
    }
  }
  c["retry"] = renderRetry(spec.value("retry", json::object()));
}

// A RabbitMQ mirror's definitions: the management API URLs come from Secrets,
// as environment variables of the replica (never in the config file).
json renderMirrorDefinitions(json definitions, const std::string& owner, RenderedConfig& out,
                             const RenderOptions& options) {
  for (const char* side : {"source", "target"}) {
    const std::string field = std::string(side) + "ManagementSecretRef";
    const json ref = definitions.at(field);
    definitions.erase(field);
    SecretCollector secrets(out, options, owner + "_" + side);
    definitions[std::string(side) + "ManagementUrlEnv"] = secrets.env(ref, ref.value("key", "managementUrl"));
  }
  return definitions;
}

// spec.pipeline, as the runtime reads it.
void renderPipeline(RenderedConfig& out, const json& spec, const RenderOptions& options) {
  if (!spec.contains("pipeline")) return;
  json& pipeline = out.config["pipeline"] = json::array();
  for (size_t i = 0; i < spec["pipeline"].size(); ++i) {
    json step = spec["pipeline"][i];
    step.erase("name");  // a label for people; the runtime does not need it
    if (step.contains("mirror") && step["mirror"].contains("definitions")) {
      step["mirror"]["definitions"] = renderMirrorDefinitions(step["mirror"]["definitions"],
                                                              "pipeline" + std::to_string(i) + "_mirror", out, options);
    }
    pipeline.push_back(step);
  }
}

// spec.outputs and spec.deadLetter.
Status renderOutputs(RenderedConfig& out, const json& spec, const std::string& where, const RenderOptions& options) {
  json& c = out.config;
  c["outputs"] = json::array();
  const json& outputs = spec.value("outputs", json::array());
  for (size_t i = 0; i < outputs.size(); ++i) {
    SecretCollector secrets(out, options, "output_" + outputs[i].value("name", "output" + std::to_string(i)));
    auto sink = renderSink(outputs[i], where + ": spec.outputs[" + std::to_string(i) + "]", secrets);
    if (!sink.isOk()) return sink.status();
    // The CRD lets a lone output go unnamed; the runtime names every output.
    if (!sink->contains("name")) (*sink)["name"] = "output" + std::to_string(i);
    c["outputs"].push_back(*sink);
  }
  if (spec.contains("deadLetter")) {
    SecretCollector secrets(out, options, "deadletter");
    auto sink = renderSink(spec["deadLetter"], where + ": spec.deadLetter", secrets);
    if (!sink.isOk()) return sink.status();
    sink->erase("name");
    c["deadLetter"] = *sink;
  }
  return Status::ok();
}

// A Trigger's spec.delivery.retry and deadLetter, into its runtime entry.
Status renderTriggerDelivery(json& entry, const json& tspec, const json& functionSpec, const std::string& where,
                             SecretCollector& secrets) {
  const json& delivery = tspec.value("delivery", json::object());
  if (delivery.contains("retry")) {
    entry["retry"] = renderRetry(functionSpec.value("retry", json::object()), delivery["retry"]);
  }
  if (delivery.contains("deadLetter")) {
    auto sink = renderSink(delivery["deadLetter"], where + ": spec.delivery.deadLetter", secrets);
    if (!sink.isOk()) return sink.status();
    sink->erase("name");
    entry["deadLetter"] = *sink;
  }
  return Status::ok();
}

// The Triggers that name Function `name`; scaling-only ones (prometheus) are left out.
Status renderTriggers(RenderedConfig& out, const std::vector<json>& triggers, const std::string& name,
                      const json& functionSpec, const RenderOptions& options) {
  json& c = out.config;
  c["triggers"] = json::array();
  for (const json& trigger : triggers) {
    const json& tspec = trigger.value("spec", json::object());
    if (tspec.value("functionRef", json::object()).value("name", "") != name) continue;
    const std::string tname = trigger.at("metadata").at("name").get<std::string>();
    SecretCollector secrets(out, options, "trigger_" + tname);
    auto source = renderSource(tspec, c["namespace"].get<std::string>(), tname, secrets);
    if (!source.isOk()) return source.status();
    if (source->is_null()) continue;
    json entry = {{"name", tname}};
    entry.update(*source);
    if (auto bytes = api::v1alpha1::maxInFlightBytesOf(tspec)) entry["maxInFlightBytes"] = *bytes;
    const std::string where = "Trigger " + c["namespace"].get<std::string>() + "/" + tname;
    // Its own owner: the dead letter's Secret keys must not share the source's variable names.
    SecretCollector deadLetterSecrets(out, options, "trigger_" + tname + "_deadletter");
    if (Status delivery = renderTriggerDelivery(entry, tspec, functionSpec, where, deadLetterSecrets);
        !delivery.isOk()) {
      return delivery;
    }
    c["triggers"].push_back(entry);
  }
  return Status::ok();
}

// A mirror's RabbitMQ-only fields with a Trigger (or output) that is not
// RabbitMQ: admission saw the outputs only; the Triggers are known here.
Status checkMirrorSources(const json& spec, const std::vector<json>& triggers, const std::string& name,
                          const std::string& where) {
  std::vector<api::v1alpha1::TriggerSource> sources;
  for (const json& trigger : triggers) {
    const json& tspec = trigger.value("spec", json::object());
    if (tspec.value("functionRef", json::object()).value("name", "") != name) continue;
    for (const char* kind : {"kafka", "rabbitmq", "http", "cron", "objectStore"}) {
      if (tspec.contains(kind)) sources.push_back({trigger.at("metadata").value("name", ""), kind});
    }
  }
  auto errors = api::v1alpha1::rabbitMqOnlyMirrorErrors(spec, sources);
  if (errors.empty()) return Status::ok();
  return invalidArgument(where + ": " + errors.front().message);
}

}  // namespace

Result<RenderedConfig> renderRuntimeConfig(const json& function, const std::vector<json>& triggers,
                                           const RenderOptions& options) {
  try {
    const json& meta = function.at("metadata");
    const std::string name = meta.at("name").get<std::string>();
    const std::string where = "Function " + meta.value("namespace", "default") + "/" + name;
    const json& spec = function.value("spec", json::object());
    if (Status mirror = checkMirrorSources(spec, triggers, name, where); !mirror.isOk()) return mirror;
    RenderedConfig out;
    out.config["name"] = name;
    out.config["namespace"] = meta.value("namespace", "default");
    renderFunctionSettings(out.config, spec, options);
    renderPipeline(out, spec, options);
    if (Status outputs = renderOutputs(out, spec, where, options); !outputs.isOk()) return outputs;
    if (Status sources = renderTriggers(out, triggers, name, spec, options); !sources.isOk()) return sources;
    return out;
  } catch (const json::exception& e) {
    // A required field is missing or has the wrong type: the CRD schema should have refused it.
    return invalidArgument(std::string("rendering the runtime configuration: ") + e.what());
  }
}

}  // namespace sluice::spec
