#include "cli/invoke.h"

#include <sstream>

#include "common/encoding.h"

namespace sluice::cli {

std::string gatewayFunctionUrl(const std::string& base, const std::string& ns, const std::string& name) {
  std::string url = base;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url + "/" + ns + "/" + name;
}

Result<std::pair<std::string, std::string>> parseHeader(const std::string& text) {
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) {
    return invalidArgument("--header: \"" + text + "\" is not \"Name: value\"");
  }
  std::string value = text.substr(colon + 1);
  value.erase(0, value.find_first_not_of(" \t"));
  return std::make_pair(text.substr(0, colon), value);
}

Result<nlohmann::json> invoke(http::HttpClient& client, const Clock& clock, const InvokeRequest& request) {
  http::Request http;
  http.method = !request.method.empty() ? request.method : request.hasPayload ? "POST" : "GET";
  http.url = request.url + request.path;
  http.headers = request.headers;
  if (request.async) http.headers.emplace_back("X-Sluice-Invocation-Type", "Event");
  http.body = request.payload;
  http.timeout = request.timeout;
  const Clock::TimePoint started = clock.now();
  auto response = client.send(http);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - started);
  if (!response.isOk()) {
    return Status(response.status().code(), http::withoutUserInfo(http.url) + ": " + response.status().message());
  }
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [name, value] : response->headers) headers[name] = value;
  // JSON holds text only: a body that is not UTF-8 is shown as base64, and says so.
  const bool binary = invalidUtf8At(response->body) != std::string::npos;
  return nlohmann::json{{"url", http::withoutUserInfo(http.url)},
                        {"method", http.method},
                        {"status", response->status},
                        {"headers", headers},
                        {"body", binary ? base64Encode(response->body) : response->body},
                        {"bodyEncoding", binary ? "base64" : "text"},
                        {"durationMs", took.count()}};
}

std::string invokeText(const nlohmann::json& result) {
  std::ostringstream out;
  out << "HTTP " << result["status"] << " in " << result["durationMs"] << " ms\n";
  for (const auto& [name, value] : result["headers"].items()) out << name << ": " << value.get<std::string>() << "\n";
  out << "\n" << result["body"].get<std::string>();
  const std::string& body = result["body"].get_ref<const std::string&>();
  if (!body.empty() && body.back() != '\n') out << "\n";
  return out.str();
}

}  // namespace sluice::cli
