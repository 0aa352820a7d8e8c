// The Secret keys a spec needs before a replica can start: each becomes a
// secretKeyRef or a mounted file of the pod, so a missing one leaves the pod in
// CreateContainerConfigError (or failing to authenticate) where the user does
// not look. The controllers check them and name the field on the object's
// status instead. Pure functions over JSON; thread-safe.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice::api::v1alpha1 {

// A Secret key a spec needs: {secret name, key, the spec field naming the Secret}.
struct SecretKey {
  std::string secret;
  std::string key;
  std::string field;
  friend bool operator==(const SecretKey&, const SecretKey&) = default;
};

// The keys an output or dead letter (`sink`, at spec path `path`) needs:
// kafka sasl username/password and tls ca.crt (and tls.crt/tls.key when
// mutual), the rabbitmq URL key (connectionSecretRef.key, default "url") and
// its tls caKey/certKey/keyKey, the
// http bearer token key (bearerTokenSecretRef.key, default "token"), s3
// accessKey/secretKey. Reads malformed specs too (what it cannot read it skips).
std::vector<SecretKey> sinkSecretKeys(const nlohmann::json& sink, const std::string& path);

// A Function spec's: spec.outputs[i], spec.deadLetter and the non-optional
// spec.env[i].valueFrom.secretKeyRef.
std::vector<SecretKey> functionSecretKeys(const nlohmann::json& spec);

// "" when `secret` (an object read from the apiserver) has `need.key` in data
// or stringData, else "<field>: Secret <ns>/<secret> has no key <key>".
std::string missingSecretKey(const nlohmann::json& secret, const std::string& ns, const SecretKey& need);

}  // namespace sluice::api::v1alpha1
