#include "gateway/route.h"

namespace sluice::gateway {

namespace {

// A DNS-1123 label (namespaces) or subdomain (Function names): lower-case
// alphanumerics, '-' and '.', starting and ending with an alphanumeric.
bool isKubeName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::optional<Route> parseRoute(const std::string& target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  Route route;
  std::string path = target;
  if (size_t question = path.find('?'); question != std::string::npos) {
    route.query = path.substr(question + 1);
    path.erase(question);
  }
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

std::string functionUrl(const std::string& base, const std::string& ns, const std::string& function) {
  std::string url = base;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url + "/" + ns + "/" + function;
}

}  // namespace sluice::gateway
