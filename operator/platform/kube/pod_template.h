// Builds the replica Pod for a Function — the one place that decides what a
// Sluice replica looks like on Kubernetes: owner reference, labels, the runtime
// image (and, with spec.protocol, the Function's own image: the runtime copied
// into it, or its HTTP handler beside the runtime; docs/handler-images.md),
// code and configuration volumes, credentials as secretKeyRef env vars,
// probes on the runtime's /readyz and /healthz, and a hardened security context
// (non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp).
// Pure functions over JSON objects; thread-compatible.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "platform/kube/control_token.h"
#include "spec/runtime_config_render.h"

namespace sluice::platform {

inline constexpr const char* kConfigMountPath = "/etc/sluice";
inline constexpr const char* kCodeMountPath = "/code";
// spec.protocol python: where the runtime image keeps the runtime's bundle
// (bin/sluice-runtime, lib/ with every library it loads and the dynamic
// loader; images/build.sh makes it), and where the Function's image sees it.
inline constexpr const char* kRuntimeBundleSource = "/usr/local/lib/sluice-runtime-bundle";
inline constexpr const char* kRuntimeBundlePath = "/sluice";
inline constexpr const char* kRuntimeBundleVolume = "sluice-runtime";

// The ConfigMap holding a Function's rendered runtime configuration (and inline code).
std::string configMapNameOf(const std::string& function);

// The memory a replica or warm pod gets when its Function declares none
// (spec.resources.requests/limits.memory): without a limit one leaking
// handler could take the node's memory; without a request the scheduler
// packs pods it cannot hold. Kubernetes quantities; "" leaves that one unset.
struct DefaultMemory {
  std::string request;
  std::string limit;
};

struct PodTemplateOptions {
  std::string runtimeImage;   // used when the Function sets no spec.image
  std::string configMapName;  // the ConfigMap holding the rendered runtime configuration
  DefaultMemory defaultMemory{};
  // The runtime gets the namespace's serving certificate and key (Secret
  // sluice-control-token, like the tokens) and serves its control port over
  // HTTPS; the probes use https.
  bool controlTls = false;
};

// The container resources of a Function's pods: spec.resources, with
// `defaults` for memory when the Function sets neither a memory request nor
// a memory limit (one of them alone is the Function's choice: a default for
// the other could contradict it, e.g. a request above the default limit).
nlohmann::json containerResources(const nlohmann::json& functionSpec, const DefaultMemory& defaults);

// The Pod (without metadata.name: each replica is named by replicaPodName) for one replica,
// carrying the Secret env vars and volumes that `rendered` (renderRuntimeConfig
// of the same Function and Triggers) refers to. Errors name the field at fault.
Result<nlohmann::json> buildReplicaPod(const nlohmann::json& function, const spec::RenderedConfig& rendered,
                                       const PodTemplateOptions& options);

// The warm pod that can become a replica of `function`: its replica pod
// (buildReplicaPod, same arguments) without what names the Function — the
// configuration volume, inline code, SLUICE_FUNCTION/SLUICE_CONFIG — started
// with --warm, waiting for an authenticated /specialize to bring those. All the
// rest stays: image, Secret env vars and volumes, env, envFrom, resources, pod
// settings, a code ConfigMap or code image. The pool (label sluice.io/pool) is
// a hash of that pod spec, so Functions whose pods differ only in what
// /specialize brings share a pool, and any other difference (a Secret, a
// resource class) makes a pool of its own: an adopted pod is then exactly
// the pod the Function would have started.
Result<nlohmann::json> buildWarmPod(const nlohmann::json& function, const spec::RenderedConfig& rendered,
                                    const PodTemplateOptions& options);
// The same from a replica pod already built (buildReplicaPod with that ConfigMap name).
nlohmann::json warmPodOf(const nlohmann::json& replicaPod, const std::string& configMapName);
// The pool a warm pod belongs to ("" for other pods).
std::string warmPoolOf(const nlohmann::json& pod);

// Replica pods are named "<function>-<ordinal>", not generateName'd: two creates meant for the same
// slot (a retried POST, or a killed operator's create that lands after its successor listed the pods)
// then collide with AlreadyExists instead of both making a pod, so an in-flight create can never
// become a surplus replica. `taken` holds every pod name the caller knows in the namespace (terminating
// pods and other owners' pods too); the `count` lowest free ordinals are returned, lowest first, so two
// operator processes looking at the same pods choose the same names.
std::string replicaPodName(const std::string& function, int ordinal);
std::vector<std::string> freeReplicaPodNames(const std::string& function, const std::set<std::string>& taken,
                                             int count);

// A short stable hash of a pod spec; pods whose label differs are outdated.
std::string templateHash(const nlohmann::json& podSpec);

}  // namespace sluice::platform
