// librdkafka admin helpers shared by the mirror's topic sync and group offset
// sync: one admin client per cluster, and one admin request run to its answer.
#pragma once

#include <atomic>
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
// the answer and returns the failure ("" for none): kDeadlineExceeded when no
// answer came, kUnavailable when the answer is an error. `cancelled`, when given and
// set, gives up waiting within a quarter second (a mirror stopping while a
// cluster does not answer must not wait out the timeout).
template <typename Start, typename Read>
Status request(rd_kafka_t* client, const std::string& what, Start start, Read read,
               const std::atomic<bool>* cancelled = nullptr) {
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client);
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_ANY);
  char error[256];
  rd_kafka_AdminOptions_set_request_timeout(options, kTimeoutMs, error, sizeof error);
  start(options, queue);
  rd_kafka_event_t* event = nullptr;
  for (int waited = 0; event == nullptr && waited < kTimeoutMs + 5000; waited += 250) {
    if (cancelled != nullptr && cancelled->load()) break;
    event = rd_kafka_queue_poll(queue, 250);
  }
  std::string failure;
  if (event == nullptr && cancelled != nullptr && cancelled->load()) {
    failure = "cancelled: the mirror is stopping";
  } else if (event == nullptr) {
    failure = "no answer within " + std::to_string(kTimeoutMs / 1000) + " s";
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failure = rd_kafka_event_error_string(event);
  } else {
    failure = read(event);
  }
  const bool answered = event != nullptr;
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_queue_destroy(queue);
  if (failure.empty()) return Status::ok();
  // No answer at all: the cluster is unreachable (callers stop asking it for the rest of a pass).
  if (!answered) return Status(StatusCode::kDeadlineExceeded, what + ": " + failure);
  return unavailable(what + ": " + failure);
}

}  // namespace sluice::runtime::kafka_admin
