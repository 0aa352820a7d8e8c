#include "gateway/route.h"

#include <cctype>

namespace sluice::gateway {

namespace {

// A DNS-1123 subdomain (Function names; namespaces in the path form, as
// before) or, without dots, a label (namespaces): lower-case alphanumerics,
// '-' (and '.'), starting and ending with an alphanumeric.
bool isKubeName(const std::string& name, bool dots = true) {
  if (name.empty() || name.size() > (dots ? 253U : 63U)) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (char c : name) {
    if (!alnum(c) && c != '-' && (c != '.' || !dots)) return false;
  }
  return true;
}

// Splits "path?query" into the Route's path and query.
void setPathAndQuery(Route& route, std::string target) {
  if (size_t question = target.find('?'); question != std::string::npos) {
    route.query = target.substr(question + 1);
    target.erase(question);
  }
  route.path = target.empty() ? "/" : target;
}

// Host names compare without case and without a port.
std::string hostName(const std::string& host) {
  std::string name = host;
  if (name.empty() || name.front() == '[') return std::string();  // an IPv6 literal names no Function
  if (size_t colon = name.find(':'); colon != std::string::npos) name.erase(colon);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!name.empty() && name.back() == '.') name.pop_back();  // a fully qualified name's root
  return name;
}

}  // namespace

std::optional<Route> parseRoute(const std::string& target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  Route route;
  setPathAndQuery(route, target);
  const std::string path = route.path;
  size_t nsEnd = path.find('/', 1);
  if (nsEnd == std::string::npos) return std::nullopt;
  route.ns = path.substr(1, nsEnd - 1);
  size_t functionEnd = path.find('/', nsEnd + 1);
  route.function =
      path.substr(nsEnd + 1, functionEnd == std::string::npos ? std::string::npos : functionEnd - nsEnd - 1);
  route.path = functionEnd == std::string::npos ? "/" : path.substr(functionEnd);
  if (!isKubeName(route.ns) || !isKubeName(route.function)) return std::nullopt;
  return route;
}

std::optional<Route> parseRoute(const std::string& host, const std::string& target, const std::string& domain) {
  const std::string name = hostName(host);
  const std::string suffix = "." + hostName(domain);
  if (domain.empty() || target.empty() || target.front() != '/' || name.size() <= suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return parseRoute(target);
  }
  const std::string functionAndNamespace = name.substr(0, name.size() - suffix.size());
  const size_t dot = functionAndNamespace.rfind('.');
  if (dot == std::string::npos) return std::nullopt;  // under the domain, but names no namespace
  Route route;
  route.function = functionAndNamespace.substr(0, dot);
  route.ns = functionAndNamespace.substr(dot + 1);
  if (!isKubeName(route.ns, false) || !isKubeName(route.function)) return std::nullopt;
  setPathAndQuery(route, target);
  return route;
}

}  // namespace sluice::gateway
