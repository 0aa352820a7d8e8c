// Builds the replica Pod for a Function — the one place that decides what a
// Sluice replica looks like on Kubernetes: owner reference, labels, the runtime
// image, code and configuration volumes, credentials as secretKeyRef env vars,
// probes on the runtime's /readyz and /healthz, and a hardened security context
// (non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp).
// Pure functions over JSON objects; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sluice::controllers {

// Labels every replica pod carries.
inline constexpr const char* kFunctionLabel = "sluice.io/function";
inline constexpr const char* kRoleLabel = "sluice.io/role";
inline constexpr const char* kTemplateHashLabel = "sluice.io/template-hash";
inline constexpr int kControlPort = 8090;
inline constexpr const char* kConfigMountPath = "/etc/sluice";
inline constexpr const char* kCodeMountPath = "/code";

struct PodTemplateOptions {
  std::string runtimeImage;   // used when the Function sets no spec.image
  std::string configMapName;  // the ConfigMap holding the rendered runtime configuration
};

// A Secret key a replica needs, and the env var that carries it.
struct SecretEnv {
  std::string envName;
  std::string secretName;
  std::string secretKey;
  bool optional = false;
  friend bool operator==(const SecretEnv&, const SecretEnv&) = default;
};

// Every Secret key referenced by the Function's outputs/deadLetter and by its
// Triggers, with a stable env var name (SLUICE_SECRET_<OWNER>_<KEY>) that the
// runtime configuration refers to.
std::vector<SecretEnv> secretEnvsFor(const nlohmann::json& function, const std::vector<nlohmann::json>& triggers);

// The Pod (without metadata.name: callers set generateName) for one replica.
// Errors name the field at fault (e.g. "spec.code: ...").
Result<nlohmann::json> buildReplicaPod(const nlohmann::json& function, const std::vector<nlohmann::json>& triggers,
                                       const PodTemplateOptions& options);

// A short stable hash of a pod spec; pods whose label differs are outdated.
std::string templateHash(const nlohmann::json& podSpec);

}  // namespace sluice::controllers
