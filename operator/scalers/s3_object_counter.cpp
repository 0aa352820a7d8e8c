#include "scalers/s3_object_counter.h"

#include <algorithm>

#include "common/encoding.h"

namespace sluice::scalers {

Result<int64_t> S3ObjectCounter::count(int64_t scanCap) {
  std::string base = location_.endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  size_t schemeEnd = base.find("://");
  std::string host = schemeEnd == std::string::npos ? base : base.substr(schemeEnd + 3);
  const std::string what = "object count of " + describe();

  int64_t found = 0;
  std::string continuation;
  while (found < scanCap) {
    objectstore::SigV4Request request;
    request.canonicalPath = "/" + percentEncode(location_.bucket);
    request.query["list-type"] = "2";
    request.query["max-keys"] = std::to_string(std::min<int64_t>(1000, scanCap - found));
    if (!location_.prefix.empty()) request.query["prefix"] = location_.prefix;
    if (!continuation.empty()) request.query["continuation-token"] = continuation;
    request.headers["host"] = host;
    objectstore::sign(request, location_.credentials, clock_.wallNow());
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [name, value] : request.headers) headers.emplace_back(name, value);
    Result<http::Response> response = http::get(
        *http_, base + request.canonicalPath + "?" + objectstore::canonicalQuery(request.query), kHttpTimeout, headers);
    if (!response.isOk()) return response.status().withContext(what);
    if (response->status != 200) return http::statusError(*response, what);
    for (const std::string& key : objectstore::xmlElements(response->body, "Key")) {
      if (!key.empty() && key.back() != '/') ++found;
    }
    std::vector<std::string> truncated = objectstore::xmlElements(response->body, "IsTruncated");
    std::vector<std::string> next = objectstore::xmlElements(response->body, "NextContinuationToken");
    if (truncated.empty() || truncated[0] != "true" || next.empty()) break;
    continuation = next[0];
  }
  return std::min(found, scanCap);
}

}  // namespace sluice::scalers
