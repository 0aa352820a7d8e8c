// `sluice invoke NAME`: one request to a Function through the gateway
// (operator/gateway: `<method> <gateway>/<namespace>/<function><path>`), and
// what came back: status, headers, body and duration. The URL is the
// Function's status.url (the operator writes it from --gateway-url or
// --gateway-domain) unless a gateway base URL is given (`--gateway`, or
// `--local URL` for a `sluice local` / `sluice-operator --local` run, whose
// gateway logs its URL). The gateway takes no client credentials: it adds the
// namespace's invoke token itself (docs/trust.md).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/status.h"
#include "http/http_client.h"

namespace sluice::cli {

struct InvokeRequest {
  std::string url;     // the Function's URL (no trailing slash)
  std::string method;  // empty: POST with a payload, GET without
  std::string path;    // appended to the URL ("/items?id=1")
  std::string payload;
  bool hasPayload = false;
  std::vector<std::pair<std::string, std::string>> headers;
  bool async = false;  // X-Sluice-Invocation-Type: Event (202 once kept)
  std::chrono::milliseconds timeout{60'000};
};

// `<base>/<namespace>/<name>` for a gateway base URL (trailing slashes dropped).
std::string gatewayFunctionUrl(const std::string& base, const std::string& ns, const std::string& name);

// "Name: value" (the first ':' splits); the error names --header.
Result<std::pair<std::string, std::string>> parseHeader(const std::string& text);

// {url, method, status, headers{lower-case name: value}, body, durationMs}; a
// network failure is kUnavailable naming the URL. Any HTTP status is a result.
Result<nlohmann::json> invoke(http::HttpClient& client, const Clock& clock, const InvokeRequest& request);

// "HTTP 200 in 12 ms\nheader: value\n...\n\nbody" (the body as it came).
std::string invokeText(const nlohmann::json& result);

}  // namespace sluice::cli
