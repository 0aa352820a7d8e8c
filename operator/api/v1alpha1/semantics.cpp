#include "api/v1alpha1/semantics.h"

#include <re2/re2.h>

#include "common/cron_schedule.h"

namespace sluice::api::v1alpha1 {

namespace {

using nlohmann::json;

void invalid(std::vector<FieldError>& errors, const std::string& pointer, const json& value, const std::string& why) {
  errors.push_back({pointer, fieldPath(pointer) + ": Invalid value: " + value.dump() + ": " + why});
}

// An RE2 pattern as the runtime's pipeline compiles it.
void checkPattern(const json& step, const char* kind, const std::string& pointer, std::vector<FieldError>& errors) {
  if (!step.contains(kind) || !step[kind].is_object()) return;
  const json& body = step[kind];
  const json* pattern = body.contains("pattern") ? &body["pattern"] : nullptr;
  if (pattern == nullptr || !pattern->is_string()) return;
  RE2 compiled(pattern->get<std::string>(), RE2::Quiet);
  if (!compiled.ok()) invalid(errors, pointer + "/" + kind + "/pattern", *pattern, compiled.error());
}

void checkPipeline(const json& spec, std::vector<FieldError>& errors) {
  if (!spec.contains("pipeline") || !spec["pipeline"].is_array()) return;
  for (size_t i = 0; i < spec["pipeline"].size(); ++i) {
    const json& step = spec["pipeline"][i];
    if (!step.is_object()) continue;
    const std::string pointer = "/spec/pipeline/" + std::to_string(i);
    checkPattern(step, "parse", pointer, errors);
    checkPattern(step, "mask", pointer, errors);
  }
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

}  // namespace

std::vector<FieldError> checkSemantics(const json& object) {
  std::vector<FieldError> errors;
  if (!object.is_object() || !object.contains("spec") || !object["spec"].is_object()) return errors;
  const json& spec = object["spec"];
  checkPipeline(spec, errors);
  checkCron(spec, errors);
  checkTopics(spec, "/spec", errors);
  return errors;
}

}  // namespace sluice::api::v1alpha1
