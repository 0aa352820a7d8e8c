#include "platform/kube/control_token.h"

#include "api/pods.h"

#include <openssl/rand.h>

#include <cpprest/asyncrt_utils.h>

namespace sluice::platform {

namespace {

Result<std::string> randomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return internalError("no randomness for the control token");
  static const char* kHex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

Result<std::string> tokenOf(const kube::Json& secret, const std::string& ns) {
  std::string encoded = secret.value("/data"_json_pointer / kControlTokenKey, std::string());
  if (encoded.empty()) {
    return Status(StatusCode::kFailedPrecondition,
                  "Secret " + ns + "/" + kControlTokenSecret + ": data." + kControlTokenKey + " is empty");
  }
  std::vector<unsigned char> bytes = utility::conversions::from_base64(encoded);
  return std::string(bytes.begin(), bytes.end());
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
    auto fresh = randomToken();
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
