#include "gateway/proxy_response.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cctype>
#include <optional>
#include <string_view>

#include "common/encoding.h"

namespace sluice::gateway {

using nlohmann::json;

namespace {

// Headers the server sets itself, or that only mean something on one hop.
// Compared without case: a handler may well write "Content-Length".
bool isHopHeader(std::string_view name) {
  static constexpr std::array<std::string_view, 11> kHop = {
      "connection",     "keep-alive", "proxy-connection",   "te", "trailer", "transfer-encoding", "upgrade", "host",
      "content-length", "expect",     "proxy-authorization"};
  for (std::string_view hop : kHop) {
    if (name.size() == hop.size() && std::equal(name.begin(), name.end(), hop.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        }))
      return true;
  }
  return false;
}

std::string headerValue(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

// Why a handler's header cannot go to the client as it is, if it cannot. A
// line break in a value would end the header there and start another the
// handler never meant (response splitting, e.g. a Location echoed from a
// query string), so the whole answer is refused rather than repaired.
std::optional<std::string> badHeader(const http::HeaderList& headers) {
  for (const auto& [name, value] : headers) {
    if (!http::isHeaderName(name)) return "an invalid header name \"" + name + "\"";
    if (!http::isHeaderValue(value)) return "header \"" + name + "\" with a line break or NUL in its value";
  }
  return std::nullopt;
}

}  // namespace

http::ServerResponse clientResponseFrom(const UpstreamResponse& upstream) {
  http::ServerResponse response;
  response.status = upstream.status;
  if (upstream.status == 200) {
    json proxy = json::parse(upstream.body, nullptr, false);
    if (proxy.is_object() && proxy.contains("statusCode") && proxy["statusCode"].is_number_integer()) {
      const int status = proxy["statusCode"].get<int>();
      if (status >= 100 && status <= 599) {
        response.status = status;
        if (proxy.contains("headers") && proxy["headers"].is_object()) {
          for (const auto& [name, value] : proxy["headers"].items()) {
            if (!isHopHeader(name)) response.headers.emplace_back(name, headerValue(value));
          }
        }
        if (proxy.contains("multiValueHeaders") && proxy["multiValueHeaders"].is_object()) {
          for (const auto& [name, values] : proxy["multiValueHeaders"].items()) {
            if (isHopHeader(name) || !values.is_array()) continue;
            for (const json& value : values) response.headers.emplace_back(name, headerValue(value));
          }
        }
        if (proxy.contains("cookies") && proxy["cookies"].is_array()) {
          for (const json& cookie : proxy["cookies"]) response.headers.emplace_back("Set-Cookie", headerValue(cookie));
        }
        const json& body = proxy.value("body", json());
        std::string bytes = body.is_null() ? "" : body.is_string() ? body.get<std::string>() : body.dump();
        if (proxy.value("isBase64Encoded", false)) {
          Result<std::string> decoded = base64Decode(bytes);
          if (!decoded.isOk()) {
            return http::textResponse(502,
                                      "the handler's proxy response has isBase64Encoded but its body is not base64: " +
                                          decoded.status().message() + "\n");
          }
          bytes = std::move(*decoded);
        }
        if (std::optional<std::string> bad = badHeader(response.headers)) {
          return http::textResponse(502, "the handler's proxy response has " + *bad + "\n");
        }
        response.body = std::move(bytes);
        return response;
      }
    }
  }
  for (const auto& [name, value] : upstream.headers) {
    if (name == "content-type") response.headers.emplace_back("Content-Type", value);
  }
  response.body = upstream.body;
  return response;
}

UpstreamRequest invokeRequestFor(http::ServerRequest request, const Route& route, const std::string& trigger) {
  UpstreamRequest invoke;
  invoke.headers.reserve(request.headers.size() + 6);
  for (auto& [name, value] : request.headers) {
    if (isHopHeader(name) || name.rfind("x-sluice-", 0) == 0 || name.rfind("sluice.", 0) == 0) continue;
    invoke.headers.emplace_back(std::move(name), std::move(value));
  }
  invoke.headers.emplace_back("sluice.http.method", request.method);
  invoke.headers.emplace_back("sluice.http.path", route.path);
  if (!route.query.empty()) invoke.headers.emplace_back("sluice.http.query", route.query);
  // host:port, or [v6]:port: the event shapes' sourceIp is the address alone.
  std::string ip = request.remoteAddress.substr(0, request.remoteAddress.rfind(':'));
  if (ip.size() > 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
  if (!ip.empty()) invoke.headers.emplace_back("sluice.http.source-ip", ip);
  invoke.headers.emplace_back("X-Sluice-Trigger", trigger);
  invoke.headers.emplace_back("X-Sluice-Event-Type", "http.request");
  invoke.body = std::move(request.body);
  return invoke;
}

}  // namespace sluice::gateway
