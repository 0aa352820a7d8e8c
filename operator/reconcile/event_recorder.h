// EventRecorder: writes core/v1 Events about objects (scale decisions,
// failures) so `kubectl describe` shows them.
//
// Aggregated like client-go's recorder: a repeat of the same (object, type,
// reason, message) bumps the existing Event's count and lastTimestamp instead
// of creating a new one, and each object gets a token bucket (burst 25, then
// one Event per 5 minutes) so a hot reconcile loop cannot flood the apiserver.
// Failures are logged, never returned: an Event is best-effort. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "kube/resource_client.h"
#include "kube/token_bucket.h"

namespace sluice::reconcile {

class EventRecorder {
 public:
  EventRecorder(kube::ResourceClient& client, std::string component, Clock& clock);

  // type is "Normal" or "Warning"; reason is CamelCase ("ScaledUp").
  void record(const kube::Json& object, const std::string& type, const std::string& reason, const std::string& message);

  // Events written / bumped / dropped by the rate limit (for tests and metrics).
  long created() const;
  long aggregated() const;
  long dropped() const;

 private:
  struct Seen {
    std::string eventName;
    std::string eventNamespace;
    int count = 0;
  };

  kube::ResourceClient& client_;
  const std::string component_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, Seen> seen_;                                   // aggregation key -> Event
  std::map<std::string, std::unique_ptr<kube::TokenBucket>> buckets_;  // object uid -> spam filter
  long created_ = 0;
  long aggregated_ = 0;
  long dropped_ = 0;
  unsigned long sequence_ = 0;
};

}  // namespace sluice::reconcile
