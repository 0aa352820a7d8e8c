// Route: which Function a gateway request is for. The gateway serves
// `<method> /<namespace>/<function><path>`; the rest of the path and the
// query reach the handler. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>

namespace sluice::gateway {

struct Route {
  std::string ns;
  std::string function;
  std::string path = "/";  // what follows /<namespace>/<function>, always starting with '/'
  std::string query;       // raw, without '?'

  std::string key() const { return ns + "/" + function; }
};

// Null when the target names no namespace and function (or names that are
// not valid Kubernetes names, which no Function can have).
std::optional<Route> parseRoute(const std::string& target);

// The URL of a Function behind a gateway whose base URL is `base`
// ("http://gw.example:8080", no trailing slash needed).
std::string functionUrl(const std::string& base, const std::string& ns, const std::string& function);

}  // namespace sluice::gateway
