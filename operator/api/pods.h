// What Sluice's pods look like from outside: the labels every replica and
// warm pod carries (selectors, dashboards and the chart rely on them), which
// pods are warm, and a pod's readiness. Read by the platform that makes the
// pods, the controllers and the metrics alike. Pure functions; any thread.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace sluice::api {

inline constexpr const char* kFunctionLabel = "sluice.io/function";
inline constexpr const char* kRoleLabel = "sluice.io/role";  // "replica" or "warm"
inline constexpr const char* kTemplateHashLabel = "sluice.io/template-hash";
inline constexpr const char* kPoolLabel = "sluice.io/pool";  // warm pods: which pool (buildWarmPod)
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kManagedBySelector = "app.kubernetes.io/managed-by=sluice";  // replicas and warm pods
// The runtime's control endpoint on every replica and warm pod (/drain, /specialize, /metrics, probes): the operator's.
inline constexpr int kControlPort = 8090;
// Its data endpoint (/invoke): the gateway's and the operator's cron firer's, never the control calls'.
inline constexpr int kDataPort = 8080;
// The port a spec.protocol http handler serves on when spec.http.port is unset (the CRD's default):
// not one of the two above, which the runtime beside it holds in the same network namespace.
inline constexpr int kDefaultHandlerPort = 8000;

// A label or annotation key only Sluice may set on its pods (sluice.io/..., app.kubernetes.io/managed-by);
// the Function CRD refuses them in spec.pod.labels and spec.pod.annotations.
bool isReservedPodKey(const std::string& key);
// A generic, not yet specialized runtime pod of a warm pool (role "warm"), not terminating.
bool isWarmPod(const nlohmann::json& pod);
// The pod's Ready condition is True.
bool podReady(const nlohmann::json& pod);

// Cuts `pod` in place to what the operator and the gateway read from a cached
// pod (identity, indexes, readiness, the replica's problem and image, the
// sluice.io annotations, the runtime container's env names), for the
// informers' transform: a replica pod's spec and status are mostly what
// nothing reads (volumes, resources, env values, mounts), kept 1,000 times.
// A field read from a cached pod must be added here.
void trimPodForCache(nlohmann::json& pod);

// The pod's runtime serves its control port over HTTPS: it was given a
// serving certificate (its container takes SLUICE_CONTROL_TLS_KEY). Callers
// must then use https and verify the certificate names controlServerName.
bool controlPortServesTls(const nlohmann::json& pod);
// The name the control port's certificate carries in namespace `ns`:
// sluice-replica.<ns>. Pod IPs are unknown when it is issued, so the
// operator verifies this name instead of the address it calls.
std::string controlServerName(const std::string& ns);

}  // namespace sluice::api
