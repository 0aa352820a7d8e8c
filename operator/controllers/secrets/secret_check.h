// Whether the Secrets and keys an object needs exist, read from the apiserver
// (GETs, not a watch: the operator does not cache every Secret of the
// cluster, to stay small at thousands of Functions). Both the Trigger and the
// Function controllers report what is missing on the object's Ready
// condition, naming the field that refers to it, so a user sees it before any
// replica sits in CreateContainerConfigError. Thread-safe (the client is).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "api/v1alpha1/secret_keys.h"
#include "common/status.h"
#include "kube/resource_client.h"

namespace sluice::controllers {

// How soon an object whose Secret or key is missing is looked at again: Secrets
// are read, not watched, so this is when a fix shows.
constexpr auto kSecretRecheck = std::chrono::seconds(30);

struct SecretCheck {
  std::string reason;                       // "" (all there), SecretNotFound or SecretKeyMissing
  std::string message;                      // names the namespace and Secrets, or each field, Secret and key
  std::map<std::string, kube::Json> found;  // the Secrets read, by name
};

// Reads each of `names` and the Secret of each of `keys` in `ns`; the first
// missing Secrets (all named) or else the missing keys (all named) are the
// reason. Errors: the apiserver's, other than NotFound.
Result<SecretCheck> checkSecrets(kube::ResourceClient& client, const std::string& ns, std::vector<std::string> names,
                                 const std::vector<api::v1alpha1::SecretKey>& keys);

}  // namespace sluice::controllers
