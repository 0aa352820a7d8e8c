#include "runtime/sources/kafka_client.h"

namespace sluice::runtime {

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

}  // namespace sluice::runtime
