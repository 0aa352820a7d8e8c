// The Triggers bound to a Function (spec.functionRef.name, same namespace), out of an informer's
// cache through an index of its own: every reconcile of every Function asks, so a scan of the
// namespace's Triggers made the operator's idle CPU grow with the square of the Functions
// (BENCHMARKS.md, "Scale").
#pragma once

#include <string>
#include <vector>

#include "kube/object_cache.h"

namespace sluice::spec {

// Sorted by name, so every caller sees them in one order.
std::vector<kube::ObjectPtr> triggersOf(const kube::ObjectCache& triggers, const std::string& ns,
                                        const std::string& function);

}  // namespace sluice::spec
