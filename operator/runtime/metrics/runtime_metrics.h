// RuntimeMetrics: the replica's Prometheus metrics (prometheus-cpp).
//
// Counters by trigger: events received, processed (outputs acknowledged),
// failed (handler or sink attempts that failed), retried, dead-lettered;
// a handler-duration histogram, the in-flight gauge, the number of records
// per event, the events per delivery batch, consumer lag per topic partition, and specialization time.
// Thread-safe. The registry outlives every exposer that serves it.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace sluice::runtime {

class RuntimeMetrics {
 public:
  RuntimeMetrics();

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  void received(const std::string& trigger, double count = 1) { forTrigger(trigger).received->Increment(count); }
  void processed(const std::string& trigger, double count = 1) { forTrigger(trigger).processed->Increment(count); }
  void failed(const std::string& trigger) { forTrigger(trigger).failed->Increment(); }
  void retried(const std::string& trigger) { forTrigger(trigger).retried->Increment(); }
  void deadLettered(const std::string& trigger) { forTrigger(trigger).deadLettered->Increment(); }
  void handlerSeconds(const std::string& trigger, double seconds) {
    forTrigger(trigger).handlerDuration->Observe(seconds);
  }
  // Events taken by the delivery loop in one hand-off (a Kafka fetch's records of one partition).
  void batchSize(const std::string& trigger, double events) { forTrigger(trigger).batchSize->Observe(events); }
  void outputsPerEvent(const std::string& trigger, double count) { forTrigger(trigger).outputs->Observe(count); }
  // One observation per element, for a whole batch with one trigger lookup.
  void handlerSecondsEach(const std::string& trigger, const std::vector<double>& seconds);
  void outputsPerEventEach(const std::string& trigger, const std::vector<double>& counts);
  void setInFlight(double value) { inFlight_->Set(value); }
  void setConsumerLag(const std::string& topic, int32_t partition, double lag);
  void removeConsumerLag(const std::string& topic, int32_t partition);
  // A mirror's replication lag of one source partition (KafkaMirrorSync).
  void setMirrorLag(const std::string& topic, int32_t partition, double records, double seconds);
  void specializationSeconds(double seconds) { specialization_->Observe(seconds); }

  // Reads a counter back (tests and logs): family name without the _total suffix.
  double counterValue(const std::string& name, const std::string& trigger);

  // The Prometheus text exposition of everything registered.
  std::string scrape() const;

 private:
  struct TriggerMetrics {
    prometheus::Counter* received;
    prometheus::Counter* processed;
    prometheus::Counter* failed;
    prometheus::Counter* retried;
    prometheus::Counter* deadLettered;
    prometheus::Histogram* handlerDuration;
    prometheus::Histogram* outputs;
    prometheus::Histogram* batchSize;
  };
  TriggerMetrics& forTrigger(const std::string& trigger);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Counter>& processed_;
  prometheus::Family<prometheus::Counter>& failed_;
  prometheus::Family<prometheus::Counter>& retried_;
  prometheus::Family<prometheus::Counter>& deadLettered_;
  prometheus::Family<prometheus::Histogram>& handlerDuration_;
  prometheus::Family<prometheus::Histogram>& outputs_;
  prometheus::Family<prometheus::Histogram>& batchSize_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& mirrorLagRecords_;
  prometheus::Family<prometheus::Gauge>& mirrorLagSeconds_;
  prometheus::Gauge* inFlight_;
  prometheus::Histogram* specialization_;

  std::mutex mu_;
  std::map<std::string, TriggerMetrics> triggers_;  // guarded by mu_; entries are never removed
};

}  // namespace sluice::runtime
