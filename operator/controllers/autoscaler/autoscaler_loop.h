// AutoscalerLoop: wires the AutoscaleReconciler into a Manager as the
// "autoscaler" controller: watches Functions (spec changes, deletions) and
// Triggers (mapped to their Function), measures through the real
// TriggerScalerFactory, and exports AutoscalerMetrics when given a registry.
// The Manager runs it only while this process leads. With the gateways' /loads
// URLs it also follows their activation feed (ActivationWatcher), on every
// replica: a standby's wake-ups only wait in its queue, deduplicated.
// Not thread-safe: construct before Manager::run(); keep alive while it runs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autoscaler/autoscaler_metrics.h"
#include "common/clock.h"
#include "controllers/autoscaler/activation_watcher.h"
#include "controllers/autoscaler/autoscale_reconciler.h"
#include "controllers/autoscaler/scaler_factory.h"
#include "controllers/autoscaler/trigger_scaler_factory.h"
#include "kube/informer.h"
#include "reconcile/event_recorder.h"
#include "reconcile/manager.h"

namespace sluice::controllers {

// How Functions at zero are woken besides their at-zero poll.
struct AutoscalerActivationOptions {
  // Long-poll every gateway's /activations (activation_watcher.h), so a request
  // held at zero is measured at once; needs the gateways' /loads URLs.
  bool feed = true;
  std::chrono::seconds feedWait{10};
  // See AutoscaleReconcilerOptions::atZeroCheckInterval (zero: each Function's own).
  Clock::Duration atZeroCheckInterval{};
};

// Functions measured at once: a source slow to answer (up to its client
// timeout) holds one worker, not the others' schedules.
constexpr int kAutoscalerWorkers = 8;

class AutoscalerLoop {
 public:
  // `factory` null: the real TriggerScalerFactory, which measures CPU on the
  // replica pods of `pods` (null: CPU is not measured) and http Triggers on the
  // gateways' `gatewayLoadsUrls` (null: not measured). `registry` null: no metrics.
  AutoscalerLoop(reconcile::Manager& manager, kube::Informer& functions, kube::Informer& triggers,
                 reconcile::EventRecorder& events, std::shared_ptr<prometheus::Registry> registry, Clock& clock,
                 std::unique_ptr<ScalerFactory> factory = nullptr,
                 reconcile::ControllerMetrics* controllerMetrics = nullptr, kube::Informer* pods = nullptr,
                 std::function<std::vector<std::string>()> gatewayLoadsUrls = nullptr,
                 TriggerScalerFactoryOptions factoryOptions = {}, AutoscalerActivationOptions activation = {});
  ~AutoscalerLoop();

 private:
  std::unique_ptr<ScalerFactory> factory_;
  std::unique_ptr<autoscaler::AutoscalerMetrics> metrics_;
  std::unique_ptr<AutoscaleReconciler> reconciler_;
  std::unique_ptr<ActivationWatcher> watcher_;  // last: stopped before the rest goes
};

// Enqueue a Function when its spec changes or it goes away; our own and the
// FunctionController's status writes are not worth a round (the loop keeps its
// own schedule), nor is a new pinned spec.replicas alone.
bool autoscalerNeedsRound(const kube::Json& previous, const kube::Json& current);

// The /metrics URLs of a Function's Ready replica pods (http://<podIP>:8090/metrics, https:// for a pod
// whose control port serves TLS).
std::vector<std::string> replicaMetricsUrls(const kube::ObjectCache& pods, const std::string& ns,
                                            const std::string& function);
// The names of the same pods (their PodMetrics in metrics.k8s.io).
std::vector<std::string> replicaPodNames(const kube::ObjectCache& pods, const std::string& ns,
                                         const std::string& function);

}  // namespace sluice::controllers
