// librdkafka admin helpers shared by the mirror's topic sync and group offset
// sync: one admin client per cluster, and one admin request run to its answer.
#pragma once

#include <map>
#include <string>

#include <librdkafka/rdkafka.h>

#include "common/status.h"

namespace sluice::runtime::kafka_admin {

inline constexpr int kTimeoutMs = 15000;

// An admin client of one cluster (librdkafka's admin API runs on any client
// type); `what` names it in errors. The caller destroys it.
Result<rd_kafka_t*> makeClient(const std::map<std::string, std::string>& properties, const std::string& what);

// Runs one admin request: `start(options, queue)` sends it, `read(event)` reads
// the answer and returns the failure ("" for none).
template <typename Start, typename Read>
Status request(rd_kafka_t* client, const std::string& what, Start start, Read read) {
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client);
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_ANY);
  char error[256];
  rd_kafka_AdminOptions_set_request_timeout(options, kTimeoutMs, error, sizeof error);
  start(options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, kTimeoutMs + 5000);
  std::string failure;
  if (event == nullptr) {
    failure = "no answer within " + std::to_string(kTimeoutMs / 1000) + " s";
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failure = rd_kafka_event_error_string(event);
  } else {
    failure = read(event);
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_queue_destroy(queue);
  return failure.empty() ? Status::ok() : unavailable(what + ": " + failure);
}

}  // namespace sluice::runtime::kafka_admin
