#include "clients/kafka_publisher.h"

#include <condition_variable>
#include <mutex>

namespace sluice::clients {

namespace {
constexpr std::chrono::seconds kReportMargin{5};
}  // namespace

// One publish waiting for its delivery report; shared by the caller and the
// report (which may come after the caller gave up waiting).
struct KafkaPublisher::Pending {
  std::mutex mu;
  std::condition_variable reported;
  bool done = false;  // guarded by mu
  Status status;      // guarded by mu
};

KafkaPublisher::KafkaPublisher(std::string bootstrapServers, std::chrono::milliseconds confirmTimeout)
    : bootstrapServers_(std::move(bootstrapServers)),
      confirmTimeout_(confirmTimeout),
      events_("kafka publisher (bootstrap " + bootstrapServers_ + ")") {}

Result<std::unique_ptr<KafkaPublisher>> KafkaPublisher::create(const std::string& bootstrapServers,
                                                               std::map<std::string, std::string> properties,
                                                               std::chrono::milliseconds confirmTimeout) {
  std::unique_ptr<KafkaPublisher> publisher(new KafkaPublisher(bootstrapServers, confirmTimeout));
  properties["bootstrap.servers"] = bootstrapServers;
  properties["enable.idempotence"] = "true";
  properties["acks"] = "all";
  properties["linger.ms"] = "0";  // one record waits for nothing but its acknowledgement
  properties["message.timeout.ms"] = std::to_string(confirmTimeout.count());
  auto conf = makeKafkaConf(properties);
  if (!conf.isOk()) return conf.status().withContext("kafka publisher");
  std::string error;
  if ((*conf)->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(publisher.get()), error) !=
      RdKafka::Conf::CONF_OK) {
    return internalError("kafka delivery callback: " + error);
  }
  if (Status attached = publisher->events_.attachTo(**conf); !attached.isOk()) return attached;
  publisher->producer_.reset(RdKafka::Producer::create(conf->get(), error));
  if (!publisher->producer_) return invalidArgument("kafka publisher (bootstrap " + bootstrapServers + "): " + error);
  KafkaPublisher* raw = publisher.get();
  publisher->poller_ = std::thread([raw] {
    while (!raw->stop_) raw->producer_->poll(50);
  });
  return publisher;
}

KafkaPublisher::~KafkaPublisher() {
  // Reports still due fail their (abandoned) Pending and free it.
  if (producer_) producer_->flush(static_cast<int>(confirmTimeout_.count()));
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  if (producer_) producer_->poll(0);
  producer_.reset();
}

Status KafkaPublisher::publish(const std::string& topic, const KafkaRecord& record) {
  auto pending = std::make_shared<Pending>();
  RdKafka::Headers* headers = RdKafka::Headers::create();
  for (const auto& [name, value] : record.headers) headers->add(name, value.data(), value.size());
  // The report owns one reference, freed in dr_cb.
  auto* opaque = new std::shared_ptr<Pending>(pending);
  RdKafka::ErrorCode err = producer_->produce(
      topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(record.value.data()),
      record.value.size(), record.nullKey ? nullptr : record.key.data(), record.key.size(), 0, headers, opaque);
  if (err != RdKafka::ERR_NO_ERROR) {
    delete headers;  // librdkafka took it only on success
    delete opaque;
    return unavailable("kafka topic " + topic + " (bootstrap " + bootstrapServers_ + "): " + RdKafka::err2str(err));
  }
  std::unique_lock lock(pending->mu);
  // librdkafka reports every record by message.timeout.ms, and that report says why ("Message
  // timed out", a broker's error); the margin covers its own latency: it looks for timed-out
  // records once a second, and on a loaded machine (a CI run) 1 s of margin was seen to run out first.
  if (!pending->reported.wait_for(lock, confirmTimeout_ + kReportMargin, [&] { return pending->done; })) {
    return unavailable("kafka topic " + topic + " (bootstrap " + bootstrapServers_ + "): no acknowledgement within " +
                       std::to_string(confirmTimeout_.count()) + " ms");
  }
  return pending->status;
}

void KafkaPublisher::dr_cb(RdKafka::Message& message) {
  std::unique_ptr<std::shared_ptr<Pending>> opaque(static_cast<std::shared_ptr<Pending>*>(message.msg_opaque()));
  if (!opaque) return;
  Pending& pending = **opaque;
  std::lock_guard lock(pending.mu);
  pending.done = true;
  if (message.err() != RdKafka::ERR_NO_ERROR) {
    pending.status = unavailable("kafka topic " + message.topic_name() + " (bootstrap " + bootstrapServers_ +
                                 "): " + message.errstr());
  }
  pending.reported.notify_all();
}

}  // namespace sluice::clients
