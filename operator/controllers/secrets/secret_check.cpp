#include "controllers/secrets/secret_check.h"

#include <algorithm>

#include "kube/resource.h"

namespace sluice::controllers {

Result<SecretCheck> checkSecrets(kube::ResourceClient& client, const std::string& ns, std::vector<std::string> names,
                                 const std::vector<api::v1alpha1::SecretKey>& keys) {
  for (const api::v1alpha1::SecretKey& need : keys) {
    if (std::find(names.begin(), names.end(), need.secret) == names.end()) names.push_back(need.secret);
  }
  SecretCheck out;
  std::vector<std::string> missing;
  for (const std::string& secret : names) {
    auto got = client.get(kube::resources::kSecrets, ns, secret);
    if (got.isOk()) {
      out.found[secret] = std::move(got).value();
      continue;
    }
    if (got.status().code() != StatusCode::kNotFound) return got.status();
    missing.push_back(secret);
  }
  if (!missing.empty()) {
    out.reason = "SecretNotFound";
    out.message = "Secret" + std::string(missing.size() > 1 ? "s" : "") + " not found in namespace " + ns + ":";
    for (const std::string& s : missing) out.message += " " + s;
    return out;
  }
  // A replica would not start (a secretKeyRef to a missing key) or not
  // authenticate: name each key that is absent.
  for (const api::v1alpha1::SecretKey& need : keys) {
    std::string absent = api::v1alpha1::missingSecretKey(out.found[need.secret], ns, need);
    if (absent.empty()) continue;
    out.reason = "SecretKeyMissing";
    out.message += (out.message.empty() ? "" : "; ") + absent;
  }
  return out;
}

}  // namespace sluice::controllers
