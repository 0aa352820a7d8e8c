#include "clients/kafka_client.h"

#include "common/logging.h"

namespace sluice::clients {

Result<std::unique_ptr<RdKafka::Conf>> makeKafkaConf(const std::map<std::string, std::string>& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  for (const auto& [key, value] : properties) {
    if (conf->set(key, value, error) != RdKafka::Conf::CONF_OK) {
      return invalidArgument("kafka property \"" + key + "\": " + error);
    }
  }
  return conf;
}

bool kafkaErrorIsUnusable(RdKafka::ErrorCode code) {
  switch (code) {
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR__SSL:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART: return true;
    default: return false;
  }
}

Status KafkaEventLog::attachTo(RdKafka::Conf& conf) {
  std::string error;
  if (conf.set("event_cb", static_cast<RdKafka::EventCb*>(this), error) != RdKafka::Conf::CONF_OK) {
    return internalError(owner_ + ": kafka event callback: " + error);
  }
  return Status::ok();
}

void KafkaEventLog::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR: {
      RdKafka::ErrorCode code = event.err();
      if (event.fatal()) {
        SLUICE_LOG_ERROR("{}: fatal kafka error: {}", owner_, event.str());
      } else if (kafkaErrorIsUnusable(code)) {
        SLUICE_LOG_ERROR("{}: {}", owner_, event.str());
      } else {
        SLUICE_LOG_WARN("{}: {} ({})", owner_, event.str(), RdKafka::err2str(code));
      }
      if (onError_) onError_(code, event.str(), event.fatal());
      break;
    }
    case RdKafka::Event::EVENT_LOG: {
      // syslog levels: 0-3 error, 4 warning, 5-6 notice/info, 7 debug. A
      // broker connection failure ("FAIL") also arrives as an error event,
      // logged above; its log line would only repeat it.
      RdKafka::Event::Severity severity =
          event.fac() == "FAIL" ? RdKafka::Event::EVENT_SEVERITY_DEBUG : event.severity();
      if (severity <= RdKafka::Event::EVENT_SEVERITY_ERROR) {
        SLUICE_LOG_ERROR("{}: librdkafka {}: {}", owner_, event.fac(), event.str());
      } else if (severity == RdKafka::Event::EVENT_SEVERITY_WARNING) {
        SLUICE_LOG_WARN("{}: librdkafka {}: {}", owner_, event.fac(), event.str());
      } else if (severity <= RdKafka::Event::EVENT_SEVERITY_INFO) {
        SLUICE_LOG_INFO("{}: librdkafka {}: {}", owner_, event.fac(), event.str());
      } else {
        SLUICE_LOG_DEBUG("{}: librdkafka {}: {}", owner_, event.fac(), event.str());
      }
      break;
    }
    default: break;  // statistics and throttling are not enabled
  }
}

}  // namespace sluice::clients
