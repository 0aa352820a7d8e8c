// The sluice CLI's cluster subcommands over a kube::ResourceClient (KubeClient
// from the kubeconfig in the binary, the in-memory apiserver in unit tests):
// `apply` (server-side apply, field manager "sluice-cli"), `delete` and
// `describe`. Each returns JSON the subcommand prints as text, JSON or YAML.
// Errors keep the apiserver's message (kube/api_error.h), prefixed with the object.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "kube/resource_client.h"

namespace sluice::cli {

inline constexpr const char* kFieldManager = "sluice-cli";

// The ResourceType of a kind `sluice apply` takes: Function, Trigger, Secret, ConfigMap.
Result<kube::ResourceType> resourceTypeOf(const std::string& kind);

// Applies `objects` (Secrets and ConfigMaps first, then Functions, then
// Triggers); an object without a namespace goes to `defaultNamespace`.
// Returns one {kind, namespace, name, result: created|configured|unchanged}
// per object; stops at the first error.
Result<nlohmann::json> applyObjects(kube::ResourceClient& client, std::vector<nlohmann::json> objects,
                                    const std::string& defaultNamespace, bool forceConflicts);

// Deletes the Function `name` and the Triggers whose functionRef names it.
// Returns [{kind, namespace, name, result: deleted}]; kNotFound when the Function is missing.
Result<nlohmann::json> deleteFunction(kube::ResourceClient& client, const std::string& ns, const std::string& name);

// Deletes the objects of manifests; a missing one is an error unless `ignoreNotFound`.
Result<nlohmann::json> deleteObjects(kube::ResourceClient& client, const std::vector<nlohmann::json>& objects,
                                     const std::string& defaultNamespace, bool ignoreNotFound);

// {name, namespace, url, runtime, replicas{desired, current, ready, warm} (null: not in the status),
//  conditions[{type, status, reason, message, lastTransitionTime}],
//  triggers[{name, type, metric, active}], events[{type, reason, message, count, lastTimestamp}]}
// with at most `maxEvents` Events, the most recent last.
Result<nlohmann::json> describeFunction(kube::ResourceClient& client, const std::string& ns, const std::string& name,
                                        int maxEvents = 10);
std::string describeText(const nlohmann::json& description);

}  // namespace sluice::cli
