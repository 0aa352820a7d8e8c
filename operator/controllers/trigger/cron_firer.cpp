#include "controllers/trigger/cron_firer.h"

#include <algorithm>

#include "common/logging.h"
#include "common/time.h"
#include "scalers/cron_scaler.h"
#include "spec/resources.h"

namespace sluice::controllers {

using nlohmann::json;
using std::chrono::system_clock;

namespace {

// Cron is minute-grained: look again just after the next minute starts.
Clock::Duration untilNextMinute(system_clock::time_point now) {
  auto next = std::chrono::floor<std::chrono::minutes>(now) + std::chrono::minutes(1);
  return std::chrono::duration_cast<Clock::Duration>(next - now) + std::chrono::milliseconds(50);
}

}  // namespace

system_clock::time_point cronSettledBefore(const json& trigger) {
  const std::string last = trigger.value("/status/lastFireTime"_json_pointer, std::string());
  if (last.empty()) return parseRfc3339(trigger.value("/metadata/creationTimestamp"_json_pointer, std::string()));
  return parseRfc3339(last) + std::chrono::seconds(1);
}

std::function<std::optional<system_clock::time_point>(const std::string&, const std::string&)> cronSettledBeforeIn(
    const kube::ObjectCache& triggers) {
  return [&triggers](const std::string& ns, const std::string& name) -> std::optional<system_clock::time_point> {
    kube::ObjectPtr trigger = triggers.get(kube::objectKey(ns, name));
    if (!trigger) return std::nullopt;
    return cronSettledBefore(*trigger);
  };
}

CronFirer::CronFirer(kube::ResourceClient& client, const kube::ObjectCache& triggers, platform::Platform& platform,
                     reconcile::EventRecorder& events, Clock& clock)
    : client_(client), triggers_(triggers), platform_(platform), events_(events), clock_(clock) {}

reconcile::ReconcileResult CronFirer::reconcile(const std::string& key) {
  kube::ObjectPtr cached = triggers_.get(key);
  if (!cached || cached->contains("/metadata/deletionTimestamp"_json_pointer) ||
      !cached->contains("/spec/cron"_json_pointer)) {
    return reconcile::ReconcileResult::done();
  }
  const json& trigger = *cached;
  const json& cron = trigger["spec"]["cron"];
  const std::string ns = trigger["metadata"].value("namespace", "default");
  const std::string name = trigger["metadata"].value("name", "");
  const system_clock::time_point now = clock_.wallNow();

  auto latest =
      scalers::latestCronFiring(cron.value("schedule", std::string()), cron.value("timezone", std::string("UTC")), now);
  // The apiserver's CEL rules refuse most bad schedules; what they let through waits for a spec change.
  if (!latest.isOk()) return reconcile::ReconcileResult::terminalError(latest.status().withContext("spec"));
  if (!*latest) return reconcile::ReconcileResult::requeueAfter(untilNextMinute(now));
  const system_clock::time_point firing = **latest;

  // Fired already, or a minute that began before the Trigger existed.
  if (firing < cronSettledBefore(trigger)) return reconcile::ReconcileResult::requeueAfter(untilNextMinute(now));

  const auto window = std::chrono::seconds(std::max(cron.value("windowSeconds", 0), 60));
  auto recordFiring = [&]() -> reconcile::ReconcileResult {
    kube::PatchOptions options;
    options.subresource = "status";
    auto patched = client_.patch(spec::kTriggers, ns, name, kube::PatchType::kMerge,
                                 json{{"status", {{"lastFireTime", rfc3339(firing)}}}}, options);
    if (!patched.isOk() && patched.status().code() != StatusCode::kNotFound) {
      return reconcile::ReconcileResult::error(patched.status());
    }
    return reconcile::ReconcileResult::requeueAfter(untilNextMinute(now));
  };
  if (now - firing >= window) {
    events_.record(trigger, "Warning", "MissedSchedule",
                   "the firing of " + rfc3339(firing) + " was not delivered within " + std::to_string(window.count()) +
                       " s (no Ready replica took it)");
    return recordFiring();
  }

  const std::string function = trigger.value("/spec/functionRef/name"_json_pointer, std::string());
  auto delivered =
      platform_.invoke(kube::objectKey(ns, function), name, "cron.tick", cron.value("payload", std::string()));
  if (!delivered.isOk() && delivered.status().code() == StatusCode::kUnavailable) {
    // No Ready replica yet (the autoscaler's cron floor is waking one), or it asked for another try.
    SLUICE_LOG_DEBUG("cron trigger {}: firing of {} not delivered yet: {}", key, rfc3339(firing),
                     delivered.status().toString());
    return reconcile::ReconcileResult::requeueAfter(kRetry);
  }
  if (!delivered.isOk()) {
    // The replica ran the tick and its handler failed every attempt (its dead letter has it):
    // firing again would run a second tick for the same minute.
    events_.record(trigger, "Warning", "FireFailed",
                   "the firing of " + rfc3339(firing) + ": " + delivered.status().message());
    return recordFiring();
  }
  events_.record(trigger, "Normal", "Fired", "delivered the firing of " + rfc3339(firing) + " to " + *delivered);
  return recordFiring();
}

}  // namespace sluice::controllers
