// Route: which Function a gateway request is for. The gateway serves
// `<method> /<namespace>/<function><path>` and, when it is given a domain,
// `Host: <function>.<namespace>.<domain>` with any path; the rest of the path
// and the query reach the handler. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>

namespace sluice::gateway {

struct Route {
  std::string ns;
  std::string function;
  std::string path = "/";  // what follows /<namespace>/<function> (or the whole path of a host route), from '/'
  std::string query;       // raw, without '?'

  std::string key() const { return ns + "/" + function; }
};

// Null when the target names no namespace and function (or names that are
// not valid Kubernetes names, which no Function can have).
std::optional<Route> parseRoute(const std::string& target);

// The route of a request with this Host header: with a `domain` (host, and
// port if any, as in "fn.example.com" or "localtest.me:8080"; the Host's port
// is not compared) and a Host `<function>.<namespace>.<domain>`, the host
// names the Function and the whole target is its path; any other Host
// (another name, the bare domain, an IP, none) falls back to parseRoute.
// A namespace is one DNS label, so a Function name with dots is unambiguous.
std::optional<Route> parseRoute(const std::string& host, const std::string& target, const std::string& domain);

}  // namespace sluice::gateway
