// EndpointAllowList: the hosts the operator's scalers may connect to, when
// the operator is told to restrict them (--scaler-endpoint-allow, the Helm
// value operator.scalerEndpointAllowList). A Trigger names its own brokers,
// buckets and query servers; without a list the operator connects wherever
// a Trigger says, with one it refuses before connecting, naming the field.
// Endpoints the operator finds itself (replica /metrics, gateway /loads) are
// not checked. Entries:
//   host           that host, any port        (kafka.data.svc)
//   host:port      that host and port         (10.0.0.7:9092, [fd00::1]:9093)
//   *.domain[:port] any host under the domain (*.data.svc.cluster.local)
// Hosts compare case-insensitively. Immutable; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::scalers {

class EndpointAllowList {
 public:
  // The empty list allows every endpoint.
  EndpointAllowList() = default;
  // Fails on an entry that is not one of the forms above, naming it.
  static Result<EndpointAllowList> parse(const std::vector<std::string>& entries);

  bool empty() const { return entries_.empty(); }
  // `endpoint` is host:port or a URL (scheme://[user@]host[:port]/...); the
  // URL's scheme gives the default port. kPermissionDenied names `field` and
  // the endpoint (without user info) when the list does not allow it.
  Status check(const std::string& endpoint, const std::string& field) const;

 private:
  struct Entry {
    std::string host;  // lower case; "*.suffix" for a domain
    std::string port;  // "" = any
  };
  std::vector<Entry> entries_;
};

}  // namespace sluice::scalers
