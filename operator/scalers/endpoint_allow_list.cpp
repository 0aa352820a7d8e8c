#include "scalers/endpoint_allow_list.h"

#include <cctype>
#include <optional>

namespace sluice::scalers {
namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

struct HostPort {
  std::string host;
  std::string port;  // "" when not given
};

// "host", "host:port", "[v6]" or "[v6]:port"; nullopt when malformed.
std::optional<HostPort> splitHostPort(const std::string& authority) {
  HostPort out;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      out.port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      if (authority.find(':', colon + 1) != std::string::npos) return std::nullopt;
      out.port = authority.substr(colon + 1);
    }
  }
  if (out.host.empty()) return std::nullopt;
  if (out.port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  if (authority.find(':') != std::string::npos && authority.back() == ':') return std::nullopt;
  out.host = lower(out.host);
  return out;
}

std::string defaultPort(const std::string& scheme) {
  if (scheme == "https" || scheme == "amqps") return scheme == "https" ? "443" : "5671";
  if (scheme == "http") return "80";
  if (scheme == "amqp") return "5672";
  return "";
}

}  // namespace

Result<EndpointAllowList> EndpointAllowList::parse(const std::vector<std::string>& entries) {
  EndpointAllowList list;
  for (const std::string& text : entries) {
    if (text.empty()) continue;
    std::optional<HostPort> parsed = splitHostPort(text);
    const bool wildcard = parsed && parsed->host.rfind("*.", 0) == 0;
    if (!parsed || (!wildcard && parsed->host.find('*') != std::string::npos) ||
        (wildcard && (parsed->host.size() < 3 || parsed->host.find('*', 1) != std::string::npos)) ||
        parsed->host.find('/') != std::string::npos) {
      return invalidArgument("scaler endpoint allow-list entry \"" + text +
                             "\": expected host, host:port or *.domain[:port]");
    }
    list.entries_.push_back({parsed->host, parsed->port});
  }
  return list;
}

Status EndpointAllowList::check(const std::string& endpoint, const std::string& field) const {
  if (entries_.empty()) return Status::ok();
  std::string authority = endpoint;
  std::string scheme;
  if (size_t sep = endpoint.find("://"); sep != std::string::npos) {
    scheme = lower(endpoint.substr(0, sep));
    authority = endpoint.substr(sep + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    if (size_t at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  }
  std::optional<HostPort> target = splitHostPort(authority);
  const std::string shown = scheme.empty() ? authority : scheme + "://" + authority;
  if (!target) return invalidArgument(field + ": " + shown + " is not a host[:port]");
  if (target->port.empty()) target->port = defaultPort(scheme);
  for (const Entry& e : entries_) {
    const bool hostMatches =
        e.host.rfind("*.", 0) == 0
            ? target->host.size() > e.host.size() - 1 && target->host.compare(target->host.size() - (e.host.size() - 1),
                                                                              e.host.size() - 1, e.host.substr(1)) == 0
            : target->host == e.host;
    if (hostMatches && (e.port.empty() || e.port == target->port)) return Status::ok();
  }
  return Status(StatusCode::kPermissionDenied, field + ": " + shown +
                                                   " is not in the operator's scaler endpoint allow-list "
                                                   "(--scaler-endpoint-allow); the scaler does not connect to it");
}

}  // namespace sluice::scalers
