// AsyncTargets: resolves a Trigger's spec.http.async for the gateway — the
// queue or topic from the Trigger (informer cache) and the AMQP URL or the
// Kafka credentials from the Secrets it names (read through the API,
// remembered for `secretTtl` so a burst of asynchronous calls costs one
// read; an edited Secret is seen after that).
// A resolved target is kept, shared, while its Trigger object is the one the
// cache holds and for at most `secretTtl`: an asynchronous call then costs a
// cache lookup, not a parse of the Trigger and a copy of its settings.
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/v1alpha1/trigger.h"
#include "common/clock.h"
#include "gateway/async_invoker.h"
#include "kube/informer.h"
#include "kube/resource_client.h"

namespace sluice::gateway {

class AsyncTargets {
 public:
  AsyncTargets(kube::Informer& triggers, kube::ResourceClient& client, const Clock& clock,
               std::chrono::seconds secretTtl = std::chrono::seconds(10))
      : triggers_(triggers), client_(client), clock_(clock), secretTtl_(secretTtl) {}

  // Null when the Trigger has no spec.http.async; an error naming the field
  // or the Secret when it cannot be resolved.
  Result<std::shared_ptr<const AsyncTarget>> lookup(const std::string& ns, const std::string& trigger);

 private:
  struct CachedValue {
    std::string value;
    Clock::TimePoint readAt;
  };
  struct Resolved {
    kube::ObjectPtr trigger;  // the object it was resolved from
    Clock::TimePoint resolvedAt;
    std::shared_ptr<const AsyncTarget> target;
  };
  Result<std::shared_ptr<const AsyncTarget>> resolve(const std::string& ns, const std::string& trigger,
                                                     const kube::Json& object);
  // spec.http.async.kafka with its Secrets' credentials as librdkafka properties.
  Result<std::shared_ptr<const AsyncTarget>> kafkaTarget(const std::string& ns,
                                                         const api::v1alpha1::KafkaSource& kafka);
  Result<std::string> secretValue(const std::string& ns, const std::string& secret, const std::string& key);

  kube::Informer& triggers_;
  kube::ResourceClient& client_;
  const Clock& clock_;
  const std::chrono::seconds secretTtl_;
  std::mutex mu_;
  std::map<std::string, CachedValue> secrets_;  // guarded by mu_; "ns/secret/key"
  std::map<std::string, Resolved> resolved_;    // guarded by mu_; "ns/trigger"
};

}  // namespace sluice::gateway
