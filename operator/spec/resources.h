// The Kubernetes resource types of Sluice's own API (crds/): the one place
// that names their group, version and plural.
#pragma once

#include "kube/resource.h"

namespace sluice::spec {

inline const kube::ResourceType kFunctions{"sluice.io", "v1alpha1", "functions", "Function", true};
inline const kube::ResourceType kTriggers{"sluice.io", "v1alpha1", "triggers", "Trigger", true};

}  // namespace sluice::spec
