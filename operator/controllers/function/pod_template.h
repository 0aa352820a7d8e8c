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
#include "controllers/function/control_token.h"
#include "spec/runtime_config_render.h"

namespace sluice::controllers {

// Labels every replica pod carries.
inline constexpr const char* kFunctionLabel = "sluice.io/function";
inline constexpr const char* kRoleLabel = "sluice.io/role";
inline constexpr const char* kTemplateHashLabel = "sluice.io/template-hash";
inline constexpr const char* kPoolLabel = "sluice.io/pool";  // warm pods: which image's pool
inline constexpr int kControlPort = 8090;
inline constexpr const char* kConfigMountPath = "/etc/sluice";
inline constexpr const char* kCodeMountPath = "/code";

struct PodTemplateOptions {
  std::string runtimeImage;   // used when the Function sets no spec.image
  std::string configMapName;  // the ConfigMap holding the rendered runtime configuration
};

// The Pod (without metadata.name: callers set generateName) for one replica,
// carrying the Secret env vars and volumes that `rendered` (renderRuntimeConfig
// of the same Function and Triggers) refers to. Errors name the field at fault.
Result<nlohmann::json> buildReplicaPod(const nlohmann::json& function, const spec::RenderedConfig& rendered,
                                       const PodTemplateOptions& options);

// A generic, unspecialized runtime pod of the warm pool for `image` in `ns`
// (role "warm", label sluice.io/pool = warmPoolName(image)); it starts with
// --warm and waits for an authenticated /specialize.
nlohmann::json buildWarmPod(const std::string& ns, const std::string& image);
std::string warmPoolName(const std::string& image);
// spec.scaling.warmPool.size, or `defaultSize` (the operator's
// --default-warm-pool-size, Helm's runtime.warmPool.defaultSize) when unset.
int warmPoolSize(const nlohmann::json& function, int defaultSize);

// A short stable hash of a pod spec; pods whose label differs are outdated.
std::string templateHash(const nlohmann::json& podSpec);

}  // namespace sluice::controllers
