#include "metrics/state_collector.h"

#include <map>
#include <utility>

#include "api/function.h"
#include "api/pods.h"
#include "api/v1alpha1/function.h"

namespace sluice::metrics {

namespace {

prometheus::MetricFamily gaugeFamily(const char* name, const char* help) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = prometheus::MetricType::Gauge;
  return family;
}

void addSample(prometheus::MetricFamily& family, std::vector<prometheus::ClientMetric::Label> labels, double value) {
  prometheus::ClientMetric sample;
  sample.label = std::move(labels);
  sample.gauge.value = value;
  family.metric.push_back(std::move(sample));
}

}  // namespace

StateCollector::StateCollector(const kube::ObjectCache& functions, const kube::ObjectCache& pods,
                               std::function<bool()> isLeader, const Clock& clock)
    : functions_(functions), pods_(pods), isLeader_(std::move(isLeader)), clock_(clock) {}

std::vector<prometheus::MetricFamily> StateCollector::Collect() const {
  auto desired = gaugeFamily("sluice_function_desired_replicas",
                             "Replicas the FunctionController aims for (spec.replicas when pinned, else the "
                             "autoscaler's status.desiredReplicas clamped to min/max)");
  auto ready =
      gaugeFamily("sluice_function_ready_replicas", "Ready replica pods of the Function (status.readyReplicas)");
  auto maxReplicas = gaugeFamily("sluice_function_max_replicas", "The Function's spec.scaling.maxReplicas");
  for (const kube::ObjectPtr& function : functions_.list()) {
    std::vector<prometheus::ClientMetric::Label> labels{{"function", kube::objectKey(*function)}};
    Result<api::v1alpha1::Function> typed = api::v1alpha1::Function::fromJson(*function);
    if (!typed.isOk()) {
      // What the apiserver stored but the operator cannot read: desired as the platforms count it.
      addSample(desired, labels, api::desiredReplicas(*function));
      continue;
    }
    addSample(desired, labels, typed->desiredReplicas());
    addSample(ready, labels, typed->status.readyReplicas);
    addSample(maxReplicas, labels, typed->scaling.maxReplicas);
  }

  auto warm = gaugeFamily("sluice_warmpool_pods", "Generic, not yet specialized runtime pods of a warm pool");
  std::map<std::pair<std::string, std::string>, std::pair<int, int>> pools;  // (namespace, pool) -> (ready, not)
  for (const kube::ObjectPtr& pod : pods_.list()) {
    if (!api::isWarmPod(*pod)) continue;
    auto& [readyPods, notReadyPods] =
        pools[{pod->value("/metadata/namespace"_json_pointer, std::string()),
               pod->value("/metadata/labels"_json_pointer / api::kPoolLabel, std::string())}];
    ++(api::podReady(*pod) ? readyPods : notReadyPods);
  }
  {
    const Clock::TimePoint now = clock_.now();
    std::lock_guard lock(mu_);
    for (const auto& entry : pools) poolsSeen_[entry.first] = now;
    for (auto it = poolsSeen_.begin(); it != poolsSeen_.end();) {
      if (now - it->second > kPoolMemory) {
        it = poolsSeen_.erase(it);
      } else {
        pools.try_emplace(it->first, 0, 0);  // emptied lately: reads 0
        ++it;
      }
    }
  }
  for (const auto& [key, counts] : pools) {
    const auto& [ns, pool] = key;
    addSample(warm, {{"namespace", ns}, {"pool", pool}, {"ready", "true"}}, counts.first);
    addSample(warm, {{"namespace", ns}, {"pool", pool}, {"ready", "false"}}, counts.second);
  }

  auto leader = gaugeFamily("sluice_operator_is_leader",
                            "1 while this operator replica holds the leader Lease (or runs without election)");
  addSample(leader, {}, isLeader_() ? 1 : 0);
  return {desired, ready, maxReplicas, warm, leader};
}

}  // namespace sluice::metrics
