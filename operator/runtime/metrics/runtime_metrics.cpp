#include "runtime/metrics/runtime_metrics.h"

#include <sys/resource.h>

#include <cstdio>

#include "http/metrics_response.h"

namespace sluice::runtime {

namespace {

prometheus::Family<prometheus::Counter>& counterFamily(prometheus::Registry& registry, const std::string& name,
                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

}  // namespace

RuntimeMetrics::RuntimeMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      received_(counterFamily(*registry_, "sluice_runtime_events_received_total", "Events taken from a source")),
      processed_(counterFamily(*registry_, "sluice_runtime_events_processed_total",
                               "Events whose outputs were durably written and which were acknowledged")),
      failed_(counterFamily(*registry_, "sluice_runtime_events_failed_total",
                            "Failed handler or sink attempts (each attempt counts)")),
      retried_(counterFamily(*registry_, "sluice_runtime_events_retried_total", "Retries after a failed attempt")),
      deadLettered_(counterFamily(*registry_, "sluice_runtime_events_dead_lettered_total",
                                  "Events given up on after maxAttempts or as invalid input")),
      handlerDuration_(prometheus::BuildHistogram()
                           .Name("sluice_runtime_handler_duration_seconds")
                           .Help("Time spent in the handler per attempt")
                           .Register(*registry_)),
      outputs_(prometheus::BuildHistogram()
                   .Name("sluice_runtime_outputs_per_event")
                   .Help("Output records produced by the handler for one event")
                   .Register(*registry_)),
      batchSize_(prometheus::BuildHistogram()
                     .Name("sluice_runtime_batch_size")
                     .Help("Events handed to the delivery loop together (one partition's records of one fetch)")
                     .Register(*registry_)),
      lag_(prometheus::BuildGauge()
               .Name("sluice_runtime_consumer_lag")
               .Help("Messages between the consumer position and the high watermark, per partition")
               .Register(*registry_)),
      mirrorLagRecords_(prometheus::BuildGauge()
                            .Name("sluice_mirror_replication_lag_records")
                            .Help("Records on the source cluster a mirror has not copied yet, per source partition")
                            .Register(*registry_)),
      mirrorLagSeconds_(prometheus::BuildGauge()
                            .Name("sluice_mirror_replication_lag_seconds")
                            .Help("While a mirror is behind: seconds since the newest record it copied was written "
                                  "on the source cluster (0 when caught up), per source partition")
                            .Register(*registry_)),
      inFlight_(&prometheus::BuildGauge()
                     .Name("sluice_runtime_in_flight")
                     .Help("Events taken from sources and not yet acknowledged")
                     .Register(*registry_)
                     .Add({})),
      specialization_(&prometheus::BuildHistogram()
                           .Name("sluice_runtime_specialization_duration_seconds")
                           .Help("Time from /specialize to sources running")
                           .Register(*registry_)
                           .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25,
                                                                            0.5, 1, 2.5, 5, 10})) {}

RuntimeMetrics::TriggerMetrics& RuntimeMetrics::forTrigger(const std::string& trigger) {
  std::lock_guard lock(mu_);
  auto it = triggers_.find(trigger);
  if (it != triggers_.end()) return it->second;
  prometheus::Labels labels{{"trigger", trigger}};
  TriggerMetrics metrics{
      &received_.Add(labels),
      &processed_.Add(labels),
      &failed_.Add(labels),
      &retried_.Add(labels),
      &deadLettered_.Add(labels),
      &handlerDuration_.Add(
          labels, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      &outputs_.Add(labels, prometheus::Histogram::BucketBoundaries{0, 1, 2, 5, 10, 100, 1000}),
      &batchSize_.Add(labels, prometheus::Histogram::BucketBoundaries{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}),
  };
  return triggers_.emplace(trigger, metrics).first->second;
}

void RuntimeMetrics::handlerSecondsEach(const std::string& trigger, const std::vector<double>& seconds) {
  prometheus::Histogram* histogram = forTrigger(trigger).handlerDuration;
  for (double value : seconds) histogram->Observe(value);
}

void RuntimeMetrics::outputsPerEventEach(const std::string& trigger, const std::vector<double>& counts) {
  prometheus::Histogram* histogram = forTrigger(trigger).outputs;
  for (double value : counts) histogram->Observe(value);
}

void RuntimeMetrics::setConsumerLag(const std::string& topic, int32_t partition, double lag) {
  lag_.Add({{"topic", topic}, {"partition", std::to_string(partition)}}).Set(lag);
}

void RuntimeMetrics::setMirrorLag(const std::string& topic, int32_t partition, double records, double seconds) {
  prometheus::Labels labels{{"topic", topic}, {"partition", std::to_string(partition)}};
  mirrorLagRecords_.Add(labels).Set(records);
  mirrorLagSeconds_.Add(labels).Set(seconds);
}

void RuntimeMetrics::removeConsumerLag(const std::string& topic, int32_t partition) {
  auto& gauge = lag_.Add({{"topic", topic}, {"partition", std::to_string(partition)}});
  lag_.Remove(&gauge);
}

double RuntimeMetrics::counterValue(const std::string& name, const std::string& trigger) {
  TriggerMetrics& m = forTrigger(trigger);
  if (name == "received") return m.received->Value();
  if (name == "processed") return m.processed->Value();
  if (name == "failed") return m.failed->Value();
  if (name == "retried") return m.retried->Value();
  if (name == "dead_lettered") return m.deadLettered->Value();
  if (name == "batches") return static_cast<double>(m.batchSize->Collect().histogram.sample_count);
  return -1;
}

std::string RuntimeMetrics::scrape() const {
  std::string text = http::prometheusText(registry_->Collect());
  // The process's CPU time, as Prometheus' client libraries name it: the
  // autoscaler's CPU scaler reads it where metrics.k8s.io is not installed.
  // Read at scrape time (prometheus-cpp has no process collector).
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    char sample[64];
    std::snprintf(sample, sizeof sample, "%.6f", seconds(usage.ru_utime) + seconds(usage.ru_stime));
    text += "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n";
    text += "# TYPE process_cpu_seconds_total counter\n";
    text += std::string("process_cpu_seconds_total ") + sample + "\n";
  }
  return text;
}

}  // namespace sluice::runtime
