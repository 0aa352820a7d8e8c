// Renders a replica's runtime configuration (the format runtime/config parses;
// docs/runtime-config.md) from a Function and the Triggers bound to it, as
// their Kubernetes objects (the CRDs' shape). The one translation between the
// user-facing API and the runtime: the KubePlatform stores its output in
// a ConfigMap, and the local platform writes it to a file.
//
// Credentials never appear in the output: every Secret key the Function or a
// Trigger references becomes an environment variable (a secretKeyRef in the
// pod) or, for TLS material, a mounted Secret volume; the configuration names
// those. Pure functions over JSON; thread-safe.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sluice::spec {

// A Secret key carried into the replica as an environment variable.
struct SecretEnv {
  std::string envName;  // SLUICE_SECRET_<OWNER>_<KEY>
  std::string secretName;
  std::string secretKey;
  bool optional = false;
  friend bool operator==(const SecretEnv&, const SecretEnv&) = default;
};

// A Secret mounted whole (TLS certificates), readable as files.
struct SecretVolume {
  std::string volumeName;  // tls-<owner>
  std::string secretName;
  std::string mountPath;  // /etc/sluice/tls/<owner>
  friend bool operator==(const SecretVolume&, const SecretVolume&) = default;
};

struct RenderOptions {
  std::string codeDir = "/code";  // where the handler's code is in the replica
  std::string tlsDir = "/etc/sluice/tls";
};

struct RenderedConfig {
  nlohmann::json config;  // the runtime configuration document
  std::vector<SecretEnv> secretEnvs;
  std::vector<SecretVolume> secretVolumes;
};

// Triggers whose spec.functionRef does not name this Function are ignored;
// scaling-only triggers (prometheus) deliver no events and are left out.
// Errors name the object and field at fault.
Result<RenderedConfig> renderRuntimeConfig(const nlohmann::json& function, const std::vector<nlohmann::json>& triggers,
                                           const RenderOptions& options = {});

// "SLUICE_SECRET_" + OWNER + "_" + KEY, upper-cased, non-alphanumerics as '_'.
std::string secretEnvName(const std::string& owner, const std::string& key);

}  // namespace sluice::spec
