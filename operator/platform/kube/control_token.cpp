#include "platform/kube/control_token.h"

#include "api/pods.h"
#include "common/encoding.h"
#include "common/random.h"

namespace sluice::platform {

namespace {

Result<std::string> tokenOf(const kube::Json& secret, const std::string& ns) {
  std::string encoded = secret.value("/data"_json_pointer / kControlTokenKey, std::string());
  if (encoded.empty()) {
    return Status(StatusCode::kFailedPrecondition,
                  "Secret " + ns + "/" + kControlTokenSecret + ": data." + kControlTokenKey + " is empty");
  }
  Result<std::string> token = base64Decode(encoded);
  if (!token)
    return Status(StatusCode::kFailedPrecondition, "Secret " + ns + "/" + kControlTokenSecret + ": data." +
                                                       kControlTokenKey + ": " + token.status().message());
  return token;
}

}  // namespace

Result<std::string> ControlTokens::ensure(const std::string& ns) {
  {
    std::lock_guard lock(mu_);
    if (auto it = tokens_.find(ns); it != tokens_.end()) return it->second;
  }
  auto existing = client_.get(kube::resources::kSecrets, ns, kControlTokenSecret);
  Result<std::string> token = internalError("unset");
  if (existing.isOk()) {
    token = tokenOf(*existing, ns);
  } else if (existing.status().code() == StatusCode::kNotFound) {
    auto fresh = randomHexToken(32);
    if (!fresh.isOk()) return fresh.status();
    kube::Json secret = {
        {"apiVersion", "v1"},
        {"kind", "Secret"},
        {"metadata",
         {{"name", kControlTokenSecret}, {"namespace", ns}, {"labels", {{api::kManagedByLabel, "sluice"}}}}},
        {"type", "Opaque"},
        {"stringData", {{kControlTokenKey, *fresh}}}};
    auto created = client_.create(kube::resources::kSecrets, ns, secret);
    if (created.isOk()) {
      token = *fresh;
    } else if (created.status().code() == StatusCode::kAlreadyExists) {
      // Another operator replica won the race: use its token.
      auto again = client_.get(kube::resources::kSecrets, ns, kControlTokenSecret);
      if (!again.isOk()) return again.status();
      token = tokenOf(*again, ns);
    } else {
      return created.status().withContext("creating Secret " + ns + "/" + kControlTokenSecret);
    }
  } else {
    return existing.status().withContext("reading Secret " + ns + "/" + kControlTokenSecret);
  }
  if (!token.isOk()) return token.status();
  std::lock_guard lock(mu_);
  tokens_[ns] = *token;
  return *token;
}

}  // namespace sluice::platform
