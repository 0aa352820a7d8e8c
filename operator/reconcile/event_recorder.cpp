#include "reconcile/event_recorder.h"

#include <ctime>

#include "common/logging.h"
#include "common/time.h"

namespace sluice::reconcile {

using kube::Json;

EventRecorder::EventRecorder(kube::ResourceClient& client, std::string component, Clock& clock)
    : client_(client), component_(std::move(component)), clock_(clock) {}

void EventRecorder::record(const Json& object, const std::string& type, const std::string& reason,
                           const std::string& message) {
  const Json& meta = object.contains("metadata") ? object["metadata"] : Json::object();
  std::string ns = meta.value("namespace", "default");
  std::string uid = meta.value("uid", "");
  std::string name = meta.value("name", "");
  std::string key = uid + "\n" + type + "\n" + reason + "\n" + message;
  std::string now = rfc3339(clock_.wallNow());

  std::unique_lock lock(mu_);
  auto& bucket = buckets_[uid];
  if (!bucket) bucket = std::make_unique<kube::TokenBucket>(clock_, 1.0 / 300.0, 25);
  if (!bucket->tryTake()) {
    ++dropped_;
    return;
  }
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    Seen seen = it->second;
    int count = ++it->second.count;
    lock.unlock();
    auto patched = client_.patch(kube::resources::kEvents, seen.eventNamespace, seen.eventName, kube::PatchType::kMerge,
                                 {{"count", count}, {"lastTimestamp", now}});
    if (patched) {
      std::lock_guard relock(mu_);
      ++aggregated_;
      return;
    }
    SLUICE_LOG_DEBUG("event {}: bump failed ({}), creating a new one", reason, patched.status().toString());
    lock.lock();
    seen_.erase(key);
  }
  std::string eventName =
      name + "." + std::to_string(clock_.wallNow().time_since_epoch().count()) + "." + std::to_string(++sequence_);
  lock.unlock();
  Json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", eventName}, {"namespace", ns}}},
                {"involvedObject",
                 {{"apiVersion", object.value("apiVersion", "")},
                  {"kind", object.value("kind", "")},
                  {"name", name},
                  {"namespace", meta.value("namespace", "")},
                  {"uid", uid},
                  {"resourceVersion", meta.value("resourceVersion", "")}}},
                {"type", type},
                {"reason", reason},
                {"message", message},
                {"source", {{"component", component_}}},
                {"reportingComponent", component_},
                {"firstTimestamp", now},
                {"lastTimestamp", now},
                {"count", 1}};
  auto created = client_.create(kube::resources::kEvents, ns, event);
  std::lock_guard relock(mu_);
  if (!created) {
    SLUICE_LOG_WARN("event {} on {}/{}: {}", reason, ns, name, created.status().toString());
    return;
  }
  ++created_;
  seen_[key] = Seen{eventName, ns, 1};
}

long EventRecorder::created() const {
  std::lock_guard lock(mu_);
  return created_;
}
long EventRecorder::aggregated() const {
  std::lock_guard lock(mu_);
  return aggregated_;
}
long EventRecorder::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace sluice::reconcile
