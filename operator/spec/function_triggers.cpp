#include "spec/function_triggers.h"

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
  // By name without sorting: the cache returns its lookups in key order, and every key under one
  // index value is "ns/<name>" with the same ns (functionRefKey indexes a Trigger under its own
  // namespace), so key order is name order.
  return triggers.byIndex(kFunctionRefIndex, functionRefKey, kube::objectKey(ns, function));
}

}  // namespace sluice::spec
