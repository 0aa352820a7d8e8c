// CronFirer: delivers the ticks of cron Triggers through the operator, so a
// schedule fires even while its Function idles at zero replicas (KEDA's cron
// scaler only holds replicas up; it never delivers an event).
//
// The two halves of a tick:
//   - the autoscaler's CronTickScaler keeps a floor of one replica from each
//     firing until this reconciler has settled it (cronSettledBefore below),
//     which wakes a Function at zero and keeps its replica for the tick;
//   - this reconciler waits for a Ready replica of the Function and POSTs the
//     tick to its /invoke (X-Sluice-Event-Type: cron.tick, body: spec.cron.payload),
//     then records the firing in the Trigger's status.lastFireTime.
// A firing is retried every second while no replica is Ready or the replica
// answers "unavailable" (draining, not yet specialized), until it is older than
// that same window, so the replica the floor woke is the one that receives it
// (past the window a Warning Event "MissedSchedule" names the firing). Delivery
// is at-least-once: lastFireTime is written after the replica answered, so an
// operator that dies in between delivers the tick again. A replica that
// answered with an error ran the tick and failed every attempt (its dead letter
// has it): a Warning Event "FireFailed", and no second tick for that minute.
// A Trigger never fires for a minute that began before it was created, and an
// operator that was down for several firings delivers only the latest one
// (as a CronJob with startingDeadlineSeconds does).
// Thread-safety: as any Reconciler.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/clock.h"
#include "reconcile/event_recorder.h"
#include "reconcile/reconciler.h"
#include "kube/object_cache.h"
#include "kube/resource_client.h"
#include "platform/platform.h"

namespace sluice::controllers {

// The instant before which every firing of cron Trigger `trigger` is settled
// (delivered, failed terminally, missed, or before the Trigger existed): one
// second past status.lastFireTime, or the creationTimestamp before the first.
std::chrono::system_clock::time_point cronSettledBefore(const nlohmann::json& trigger);
// The same for Trigger (namespace, name) as `triggers` holds it now, nullopt
// when it holds none: what the autoscaler's cron floor asks
// (TriggerScalerFactoryOptions::cronSettledBefore). `triggers` outlives the result.
std::function<std::optional<std::chrono::system_clock::time_point>(const std::string&, const std::string&)>
cronSettledBeforeIn(const kube::ObjectCache& triggers);

class CronFirer final : public reconcile::Reconciler {
 public:
  CronFirer(kube::ResourceClient& client, const kube::ObjectCache& triggers, platform::Platform& platform,
            reconcile::EventRecorder& events, Clock& clock);

  reconcile::ReconcileResult reconcile(const std::string& key) override;

  // While a firing waits for a replica (or a replica failed to take it).
  static constexpr std::chrono::seconds kRetry{1};

 private:
  kube::ResourceClient& client_;
  const kube::ObjectCache& triggers_;
  platform::Platform& platform_;
  reconcile::EventRecorder& events_;
  Clock& clock_;
};

}  // namespace sluice::controllers
