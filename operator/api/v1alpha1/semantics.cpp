#include "api/v1alpha1/semantics.h"

#include <map>
#include <optional>

#include <re2/re2.h>

#include <mutex>

#include "common/cron_schedule.h"
#include "common/time.h"
#include "runtime/expression/expression.h"

namespace sluice::api::v1alpha1 {

namespace {

using nlohmann::json;

void invalid(std::vector<FieldError>& errors, const std::string& pointer, const json& value, const std::string& why) {
  errors.push_back({pointer, fieldPath(pointer) + ": Invalid value: " + value.dump() + ": " + why});
}

// A pattern by the runtime's own rule (runtime::checkRegex): RE2, with a named group for parse.
void checkPattern(const json& step, const char* kind, const std::string& pointer, std::vector<FieldError>& errors) {
  if (!step.contains(kind) || !step[kind].is_object()) return;
  const json& body = step[kind];
  const json* pattern = body.contains("pattern") ? &body["pattern"] : nullptr;
  if (pattern == nullptr || !pattern->is_string()) return;
  const bool parse = std::string(kind) == "parse";
  if (parse && body.value("format", json("json")) != "regex") return;  // only format regex reads it
  if (std::string problem = runtime::checkRegex(pattern->get<std::string>(), parse); !problem.empty()) {
    invalid(errors, pointer + "/" + kind + "/pattern", *pattern, problem);
  }
}

// filter.expression and each map.fields value, compiled by the runtime's compiler.
void checkExpressions(const json& step, const std::string& pointer, std::vector<FieldError>& errors) {
  auto check = [&errors](const json& text, const std::string& at) {
    if (!text.is_string()) return;
    if (auto compiled = runtime::Expression::compile(text.get<std::string>()); !compiled.isOk()) {
      invalid(errors, at, text, compiled.status().message());
    }
  };
  if (step.contains("filter") && step["filter"].is_object() && step["filter"].contains("expression")) {
    check(step["filter"]["expression"], pointer + "/filter/expression");
  }
  if (step.contains("map") && step["map"].is_object() && step["map"].contains("fields") &&
      step["map"]["fields"].is_object()) {
    for (const auto& [field, text] : step["map"]["fields"].items()) {
      check(text, pointer + "/map/fields/" + field);  // as the schema walker names map keys
    }
  }
}

// A definitions interval under a second: the runtime refuses it (it would poll both management APIs nonstop).
void checkMirrorInterval(const json& step, const std::string& pointer, std::vector<FieldError>& errors) {
  const json& mirror = step.value("mirror", json::object());
  if (!mirror.is_object() || !mirror.contains("definitions") || !mirror["definitions"].is_object()) return;
  const json& interval = mirror["definitions"].value("interval", json());
  if (!interval.is_string()) return;
  auto parsed = parseDuration(interval.get<std::string>());
  if (parsed.isOk() && *parsed < std::chrono::seconds(1)) {
    invalid(errors, pointer + "/mirror/definitions/interval", interval, "must be at least 1s");
  }
}

void checkPipeline(const json& spec, std::vector<FieldError>& errors) {
  if (!spec.contains("pipeline") || !spec["pipeline"].is_array()) return;
  for (size_t i = 0; i < spec["pipeline"].size(); ++i) {
    const json& step = spec["pipeline"][i];
    if (!step.is_object()) continue;
    const std::string pointer = "/spec/pipeline/" + std::to_string(i);
    checkPattern(step, "parse", pointer, errors);
    checkPattern(step, "mask", pointer, errors);
    checkExpressions(step, pointer, errors);
    checkMirrorInterval(step, pointer, errors);
  }
}

// The first output or trigger that is not RabbitMQ ("spec.outputs[0] is kafka"), or "" when all are.
std::string firstNotRabbitMq(const json& spec, const std::vector<TriggerSource>& triggers) {
  const json& outputs = spec.value("outputs", json::array());
  for (size_t i = 0; outputs.is_array() && i < outputs.size(); ++i) {
    if (!outputs[i].is_object() || outputs[i].contains("rabbitmq")) continue;
    for (const char* kind : {"kafka", "http", "s3", "dir"}) {
      if (outputs[i].contains(kind)) return "spec.outputs[" + std::to_string(i) + "] is " + kind;
    }
  }
  for (const TriggerSource& trigger : triggers) {
    if (trigger.kind != "rabbitmq") return "Trigger " + trigger.name + " is " + trigger.kind;
  }
  return "";
}

void checkCron(const json& spec, std::vector<FieldError>& errors) {
  if (!spec.contains("cron") || !spec["cron"].is_object()) return;
  const json& cron = spec["cron"];
  if (cron.contains("schedule") && cron["schedule"].is_string()) {
    const std::string schedule = cron["schedule"].get<std::string>();
    if (auto parsed = CronSchedule::parse(expandCronMacro(schedule)); !parsed.isOk()) {
      invalid(errors, "/spec/cron/schedule", cron["schedule"], parsed.status().message());
    }
  }
  if (cron.contains("timezone") && cron["timezone"].is_string()) {
    if (Status zone = checkTimeZone(cron["timezone"].get<std::string>()); !zone.isOk()) {
      invalid(errors, "/spec/cron/timezone", cron["timezone"], zone.message());
    }
  }
}

// Kafka refuses "." and ".." as topic names (the schema's pattern lets them through), wherever a topic is named.
void checkTopics(const json& value, const std::string& pointer, std::vector<FieldError>& errors) {
  auto bad = [](const json& topic) { return topic.is_string() && (topic == "." || topic == ".."); };
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      const std::string at = pointer + "/" + key;
      if (key == "topic" && bad(child)) invalid(errors, at, child, "a Kafka topic cannot be \".\" or \"..\"");
      if (key == "topics" && child.is_array()) {
        for (size_t i = 0; i < child.size(); ++i) {
          if (bad(child[i])) {
            invalid(errors, at + "/" + std::to_string(i), child[i], "a Kafka topic cannot be \".\" or \"..\"");
          }
        }
      }
      checkTopics(child, at, errors);
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) checkTopics(value[i], pointer + "/" + std::to_string(i), errors);
  }
}

// A retry whose first wait is longer than its longest: the runtime would never grow it, only cut it.
void checkBackoff(const json& retry, const std::string& pointer, std::vector<FieldError>& errors) {
  if (!retry.is_object() || !retry.contains("initialBackoff") || !retry.contains("maxBackoff")) return;
  const json& initial = retry["initialBackoff"];
  const json& longest = retry["maxBackoff"];
  if (!initial.is_string() || !longest.is_string()) return;
  auto first = parseDuration(initial.get<std::string>());
  auto most = parseDuration(longest.get<std::string>());
  if (first.isOk() && most.isOk() && *first > *most) {
    invalid(errors, pointer + "/initialBackoff", initial, "longer than maxBackoff " + longest.dump());
  }
}

// An image reference as container runtimes parse it: [registry[:port]/]path[:tag][@digest], the path lower-case.
// The first component names a registry only when it has a dot or a port or is
// "localhost" (as Docker and containerd decide); otherwise it is part of the
// path, so "Library/nginx" is refused for its upper case, not read as a host.
void checkImage(const json& spec, const char* parent, std::vector<FieldError>& errors) {
  static const std::string kLabel = R"([a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)";
  static const std::string kRegistry =
      "(?:localhost(?::[0-9]+)?|" + kLabel + "(?:\\." + kLabel + ")+(?::[0-9]+)?|" + kLabel + ":[0-9]+)/";
  static const std::string kComponent = R"([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)";
  static const RE2 kReference("^(?:" + kRegistry + ")?" + kComponent + "(?:/" + kComponent + ")*" +
                              R"((?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?)" +
                              R"((?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$)");
  const json* holder = &spec;
  std::string pointer = "/spec";
  if (parent != nullptr) {
    if (!spec.contains(parent) || !spec[parent].is_object()) return;
    holder = &spec[parent];
    pointer += std::string("/") + parent;
  }
  if (!holder->contains("image") || !(*holder)["image"].is_string()) return;
  const std::string image = (*holder)["image"].get<std::string>();
  if (image.size() > 255 || !RE2::FullMatch(image, kReference)) {
    invalid(errors, pointer + "/image", (*holder)["image"],
            "not an image reference ([registry[:port]/]lower-case/path[:tag][@digest])");
  }
}

std::mutex pythonMu;
PythonSyntaxCheck& installedPythonCheck() {
  static PythonSyntaxCheck check;
  return check;
}

// Inline Python of the python3.11 runtime, compiled as the replica would load it (when a binary
// installed an interpreter). The code can be long: the message names the line instead of repeating it.
void checkPython(const json& spec, std::vector<FieldError>& errors) {
  if (!spec.contains("code") || !spec["code"].is_object() || !spec["code"].contains("inline")) return;
  const json& code = spec["code"]["inline"];
  if (!code.is_string() || spec.value("runtime", std::string("python3.11")) != "python3.11") return;
  PythonSyntaxCheck check;
  {
    std::lock_guard lock(pythonMu);
    check = installedPythonCheck();
  }
  if (!check) return;
  if (std::string why = check(code.get<std::string>()); !why.empty()) {
    errors.push_back({"/spec/code/inline", "spec.code.inline: Invalid value: " + why});
  }
}

}  // namespace

std::vector<FieldError> rabbitMqOnlyMirrorErrors(const json& spec, const std::vector<TriggerSource>& triggers) {
  std::vector<FieldError> errors;
  const json& pipeline = spec.is_object() ? spec.value("pipeline", json::array()) : json::array();
  for (size_t i = 0; pipeline.is_array() && i < pipeline.size(); ++i) {
    const json& step = pipeline[i];
    if (!step.is_object() || !step.contains("mirror") || !step["mirror"].is_object()) continue;
    const json& mirror = step["mirror"];
    const bool keepUserId = mirror.value("keepUserId", json(false)) == json(true);
    if (!keepUserId && !mirror.contains("definitions")) continue;
    const std::string other = firstNotRabbitMq(spec, triggers);
    if (other.empty()) continue;
    const std::string pointer = "/spec/pipeline/" + std::to_string(i) + "/mirror";
    if (keepUserId) {
      invalid(errors, pointer + "/keepUserId", true, "only a RabbitMQ mirror keeps the user id (" + other + ")");
    }
    if (mirror.contains("definitions")) {
      // An object's value is shown as Kubernetes shows it.
      invalid(errors, pointer + "/definitions", "object",
              "only a RabbitMQ mirror syncs queues, exchanges and bindings (" + other + ")");
    }
  }
  return errors;
}

void setPythonSyntaxCheck(PythonSyntaxCheck check) {
  std::lock_guard lock(pythonMu);
  installedPythonCheck() = std::move(check);
}

std::vector<FieldError> checkSemantics(const json& object) {
  std::vector<FieldError> errors;
  if (!object.is_object() || !object.contains("spec") || !object["spec"].is_object()) return errors;
  const json& spec = object["spec"];
  checkPipeline(spec, errors);
  checkCron(spec, errors);
  checkTopics(spec, "/spec", errors);
  if (spec.contains("retry")) checkBackoff(spec["retry"], "/spec/retry", errors);
  if (spec.contains("delivery") && spec["delivery"].is_object() && spec["delivery"].contains("retry")) {
    checkBackoff(spec["delivery"]["retry"], "/spec/delivery/retry", errors);
  }
  checkImage(spec, nullptr, errors);
  checkImage(spec, "code", errors);
  if (object.value("kind", "") == "Function") {
    checkPython(spec, errors);
    for (FieldError& error : rabbitMqOnlyMirrorErrors(spec)) errors.push_back(std::move(error));
  }
  return errors;
}

}  // namespace sluice::api::v1alpha1
