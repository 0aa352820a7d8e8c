#include "gateway/async_invoker.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "common/logging.h"

namespace sluice::gateway {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

http::ServerResponse unavailableResponse(const std::string& text, int retryAfterSeconds) {
  http::ServerResponse response = http::textResponse(503, text);
  response.headers.emplace_back("Retry-After", std::to_string(retryAfterSeconds));
  return response;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> invocationHeaders(const UpstreamRequest& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) headers.emplace_back(lower(name), value);
  return headers;
}

Result<InvocationType> invocationTypeOf(const http::ServerRequest& request) {
  for (const auto& [name, value] : request.headers) {
    if (lower(name) != kInvocationTypeHeader) continue;
    const std::string type = lower(value);
    if (type == "event") return InvocationType::kEvent;
    if (type == "requestresponse") return InvocationType::kRequestResponse;
    return invalidArgument("X-Sluice-Invocation-Type: \"" + value + "\" is not RequestResponse or Event");
  }
  return InvocationType::kRequestResponse;
}

AsyncInvoker::AsyncInvoker(TargetLookup targetOf, InvocationQueue& queue,
                           std::function<Result<std::string>()> newRequestId, int retryAfterSeconds)
    : targetOf_(std::move(targetOf)),
      queue_(queue),
      newRequestId_(std::move(newRequestId)),
      retryAfterSeconds_(retryAfterSeconds) {}

http::ServerResponse AsyncInvoker::accept(const Route& route, const std::string& trigger,
                                          const UpstreamRequest& invoke) {
  const std::string triggerKey = route.ns + "/" + trigger;
  Result<std::shared_ptr<const AsyncTarget>> target = targetOf_(route.ns, trigger);
  if (!target.isOk()) {
    SLUICE_LOG_WARN("gateway: async invocation of {}: {}", route.key(), target.status().toString());
    return unavailableResponse("Function " + route.key() + ": asynchronous invocations cannot be accepted now: " +
                                   target.status().message() + "\n",
                               retryAfterSeconds_);
  }
  if (*target == nullptr) {
    return http::textResponse(
        400, "Function " + route.key() + " takes no asynchronous invocations: its Trigger " + triggerKey +
                 " has no spec.http.async (set spec.http.async.rabbitmq or spec.http.async.kafka to accept "
                 "X-Sluice-Invocation-Type: Event)\n");
  }
  Result<std::string> requestId = newRequestId_();
  if (!requestId.isOk()) {
    return unavailableResponse("no request id: " + requestId.status().message() + "\n", retryAfterSeconds_);
  }
  if (Status kept = queue_.enqueue(**target, *requestId, invoke); !kept.isOk()) {
    SLUICE_LOG_WARN("gateway: async invocation {} of {}: {}", *requestId, route.key(), kept.toString());
    return unavailableResponse("Function " + route.key() + ": the invocation could not be kept (" + kept.message() +
                                   "); it was not accepted, try again\n",
                               retryAfterSeconds_);
  }
  http::ServerResponse response;
  response.status = 202;
  response.headers.emplace_back(kRequestIdHeader, *requestId);
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = nlohmann::json{{"requestId", *requestId}}.dump() + "\n";
  return response;
}

}  // namespace sluice::gateway
