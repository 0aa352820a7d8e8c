#include "runtime/sinks/kafka_admin.h"

namespace sluice::runtime::kafka_admin {

Result<rd_kafka_t*> makeClient(const std::map<std::string, std::string>& properties, const std::string& what) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char text[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), text, sizeof text) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return invalidArgument(what + ": property \"" + key + "\": " + text);
    }
  }
  rd_kafka_t* client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, text, sizeof text);
  if (client == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new owns it only on success
    return invalidArgument(what + ": " + text);
  }
  return client;
}

}  // namespace sluice::runtime::kafka_admin
