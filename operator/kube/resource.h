// ResourceType: which Kubernetes collection a call addresses (group, version,
// plural resource, namespaced or not) and how to build its REST path. Values.
#pragma once

#include <string>

namespace sluice::kube {

struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;  // plural, lower case
  std::string kind;      // used by server-side apply and Events
  bool namespaced = true;

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "/api/v1/namespaces/ns/configmaps[/name[/subresource]]"; ns ignored when cluster-scoped,
  // empty ns on a namespaced type means all namespaces.
  std::string path(const std::string& ns, const std::string& name = "", const std::string& subresource = "") const;
};

namespace resources {
inline const ResourceType kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};
inline const ResourceType kPods{"", "v1", "pods", "Pod", true};
inline const ResourceType kNamespaces{"", "v1", "namespaces", "Namespace", false};
inline const ResourceType kEvents{"", "v1", "events", "Event", true};
inline const ResourceType kSecrets{"", "v1", "secrets", "Secret", true};
inline const ResourceType kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
inline const ResourceType kCustomResourceDefinitions{"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                                     "CustomResourceDefinition", false};
}  // namespace resources

}  // namespace sluice::kube
