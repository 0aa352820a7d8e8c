// AutoscaleReconciler: the autoscaler loop, one round per Function per
// reconcile, run by a Controller (so it runs only while this operator leads,
// each Function on its own schedule through the work queue's Clock-driven
// addAfter, and a slow source holds only the worker measuring it).
//
// One round of "namespace/name":
//   1. reads the Function and its Triggers from the informer caches; the
//      ScalingPolicy comes from spec.scaling (spec.replicas pins it);
//   2. keeps one Scaler per Trigger, built by the ScalerFactory and rebuilt
//      when the Trigger's generation changes or after repeated read errors (a
//      rotated Secret); a Trigger whose scaler cannot be built counts as a
//      failing scaler (never idleness);
//      with spec.scaling.cpuTargetUtilization, one more scaler measures the
//      replicas' CPU (metric "CPU", rebuilt when the Function's spec changes);
//   3. reads every scaler (timed) and runs the Function's DecisionEngine with
//      the last desired count it wrote as the current count;
//   4. writes, with a merge patch on the status subresource and only when
//      something changed, the Function's status.desiredReplicas, metrics[] and
//      lastActiveTime, and each Trigger's metricValue and active (the rest of
//      a Trigger's status is the TriggerController's);
//   5. records an Event per change of desiredReplicas and the autoscaler's
//      Prometheus series;
//   6. asks to be called again after decision.nextCheckAfter (≤ 1 s at zero,
//      pollingIntervalSeconds otherwise). An earlier call (a watch event) only
//      re-measures when the Function's spec or its Triggers changed, or when
//      wake() asked for it (a gateway holds a request for it at zero).
// A Function without any measurable Trigger (none, or only http) is left alone:
// its desiredReplicas belongs to whoever sets it.
// Thread-safety: reconcile() may run on several workers at once, never twice
// at once for one key; per-Function state sits behind a mutex-guarded map.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "api/v1alpha1/function.h"
#include "autoscaler/autoscaler_metrics.h"
#include "autoscaler/decision_engine.h"
#include "autoscaler/rate_estimator.h"
#include "common/clock.h"
#include "controllers/autoscaler/scaler_factory.h"
#include "kube/object_cache.h"
#include "kube/resource_client.h"
#include "reconcile/event_recorder.h"
#include "reconcile/reconciler.h"

namespace sluice::controllers {

struct AutoscaleReconcilerOptions {
  std::string fieldManager = "sluice-autoscaler";
  // Consecutive read errors after which a Trigger's scaler is built afresh
  // (re-reading its Secrets).
  int rebuildAfterErrors = 3;
  // When not zero, the next round of a Function at zero comes after this
  // instead of its spec.scaling.activationIntervalMilliseconds (tests show
  // the gateways' activation feed waking Functions with the poll set long).
  Clock::Duration atZeroCheckInterval{};
};

struct AutoscaleCaches {
  const kube::ObjectCache& functions;
  const kube::ObjectCache& triggers;
};

class AutoscaleReconciler final : public reconcile::Reconciler {
 public:
  // `metrics` may be null (no Prometheus series).
  AutoscaleReconciler(AutoscaleReconcilerOptions options, kube::ResourceClient& client, AutoscaleCaches caches,
                      ScalerFactory& factory, reconcile::EventRecorder& events, autoscaler::AutoscalerMetrics* metrics,
                      Clock& clock);

  reconcile::ReconcileResult reconcile(const std::string& key) override;

  // The next round of `key` measures even if its time has not come: a gateway
  // holds a request for it with no replica. Any thread; enqueue the key after.
  void wake(const std::string& key);

  // The last decision made for a Function (tests, debugging).
  std::optional<autoscaler::ScaleDecision> lastDecision(const std::string& key) const;

 private:
  struct TriggerState {
    std::string uid;
    long long generation = 0;
    std::unique_ptr<scalers::Scaler> scaler;  // null: nothing to measure, or buildError
    std::string buildError;
    int consecutiveErrors = 0;
    Clock::TimePoint builtAt{};
    nlohmann::json writtenStatus;     // what we last wrote, to skip identical writes
    autoscaler::RateEstimator rates;  // the scaler's measured throughput (rate policy)
  };
  struct FunctionState {
    std::string uid;
    std::string fingerprint;  // spec generation + Triggers' uids and generations
    std::unique_ptr<autoscaler::DecisionEngine> engine;
    std::map<std::string, TriggerState> triggers;  // by Trigger name
    // spec.scaling.cpuTargetUtilization's scaler, observed as metric "CPU";
    // its generation is the Function's.
    TriggerState cpu;
    std::optional<int> desired;               // last desiredReplicas written
    std::optional<Clock::TimePoint> nextDue;  // none: not scaled by this loop
    nlohmann::json writtenStatus;
    // The lastActiveTime status says; moved on at most every kLastActiveRefresh while active.
    std::optional<std::chrono::system_clock::time_point> lastActiveStamp;
    std::optional<autoscaler::ScaleDecision> lastDecision;
    // The last scale-up not yet ready: when it was decided and the count it asked for (cold-start time).
    std::optional<std::pair<Clock::TimePoint, int>> pendingScaleUp;
  };

  using Observations = std::map<std::string, autoscaler::MetricObservation>;  // by metric name

  std::shared_ptr<FunctionState> stateFor(const std::string& key);
  // The state of the Function with this uid (a new Function under an old name starts from nothing).
  std::shared_ptr<FunctionState> stateOf(const std::string& key, const std::string& uid);
  void syncTriggers(FunctionState& state, const std::vector<kube::ObjectPtr>& triggers);
  void syncCpu(FunctionState& state, const nlohmann::json& function, bool scalesOnCpu);
  // Builds, rebuilds or drops the scalers; false when nothing is left to measure.
  // The Function's scaling policy as its engine runs it (the operator's at-zero interval applied).
  autoscaler::ScalingPolicy policyFor(const api::v1alpha1::Function& function) const;
  bool syncScalers(const std::string& key, FunctionState& state, const nlohmann::json& function,
                   const std::vector<kube::ObjectPtr>& triggers, bool scalesOnCpu);
  // Reads every scaler (each read bounded by its client's timeout).
  Observations measure(const std::string& key, FunctionState& state);
  // Feeds each Trigger's counters to its RateEstimator and fills the observation's measured rates.
  void measureRates(FunctionState& state, std::vector<autoscaler::MetricObservation>& observations, int readyReplicas);
  // Start-to-ready of the last scale-up, once the Function's ready replicas reach it, into every
  // estimator; none for a held count (the user's, not a decision of this loop).
  void measureColdStart(FunctionState& state, int readyReplicas, int current,
                        const autoscaler::ScaleDecision& decision);
  // The replica count the engine starts from: ours, else the status's.
  static int currentReplicas(const FunctionState& state, const api::v1alpha1::Function& function);
  // Writes the Function's status and says what changed (log, Event); the write's status.
  Status publish(const std::string& key, const nlohmann::json& function, FunctionState& state, int current,
                 const autoscaler::ScaleDecision& decision, const Observations& observations);
  void writeTriggerStatuses(const std::vector<kube::ObjectPtr>& triggers, FunctionState& state,
                            const autoscaler::ScaleDecision& decision, const Observations& observations);
  // One timed read of a scaler (or its build error), named `name` in the decision.
  autoscaler::MetricObservation observe(const std::string& key, const std::string& name, TriggerState& t);
  Status writeFunctionStatus(const nlohmann::json& function, FunctionState& state,
                             const autoscaler::ScaleDecision& decision,
                             const std::map<std::string, autoscaler::MetricObservation>& observations);
  void writeTriggerStatus(const nlohmann::json& trigger, TriggerState& state,
                          const autoscaler::MetricObservation* observation, bool active);

  AutoscaleReconcilerOptions options_;
  kube::ResourceClient& client_;
  AutoscaleCaches caches_;
  ScalerFactory& factory_;
  reconcile::EventRecorder& events_;
  autoscaler::AutoscalerMetrics* metrics_;
  Clock& clock_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<FunctionState>> states_;
  std::set<std::string> woken_;  // keys wake() named since their last round; guarded by mu_
};

// The value as status shows it: integers without a fraction ("120"), others
// with up to 6 significant digits ("0.25").
std::string formatMetricValue(double value);

}  // namespace sluice::controllers
