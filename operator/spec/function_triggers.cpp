#include "spec/function_triggers.h"

#include <algorithm>

namespace sluice::spec {
namespace {

constexpr const char* kFunctionRefIndex = "spec.functionRef";

std::vector<std::string> functionRefKey(const kube::Json& trigger) {
  const std::string function = trigger.value("/spec/functionRef/name"_json_pointer, std::string());
  if (function.empty()) return {};
  return {kube::objectKey(trigger.value("/metadata/namespace"_json_pointer, std::string()), function)};
}

}  // namespace

std::vector<kube::ObjectPtr> triggersOf(const kube::ObjectCache& triggers, const std::string& ns,
                                        const std::string& function) {
  std::vector<kube::ObjectPtr> bound =
      triggers.byIndex(kFunctionRefIndex, functionRefKey, kube::objectKey(ns, function));
  std::sort(bound.begin(), bound.end(), [](const kube::ObjectPtr& a, const kube::ObjectPtr& b) {
    return a->value("/metadata/name"_json_pointer, std::string()) <
           b->value("/metadata/name"_json_pointer, std::string());
  });
  return bound;
}

}  // namespace sluice::spec
