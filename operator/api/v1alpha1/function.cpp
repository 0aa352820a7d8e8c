#include "api/v1alpha1/function.h"

#include "api/function.h"
#include "api/v1alpha1/fields.h"
#include "api/v1alpha1/scaling.h"

namespace sluice::api::v1alpha1 {

using nlohmann::json;

ObjectMeta ObjectMeta::of(const json& object) {
  ObjectMeta meta;
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return meta;
  const json& m = object["metadata"];
  meta.name = m.value("name", std::string());
  meta.ns = m.value("namespace", std::string());
  meta.uid = m.value("uid", std::string());
  meta.generation =
      m.contains("generation") && m["generation"].is_number_integer() ? m["generation"].get<long long>() : 0;
  meta.deleting = m.contains("deletionTimestamp") && !m["deletionTimestamp"].is_null();
  return meta;
}

namespace {

Status readStatus(const json& function, FunctionStatus& out) {
  const json* status = nullptr;
  if (Status s = readObject(function, "status", "", status); !s.isOk() || !status) return s;
  if (hasField(*status, "desiredReplicas")) {
    int desired = 0;
    if (Status s = readInt(*status, "desiredReplicas", "status", desired); !s.isOk()) return s;
    out.desiredReplicas = desired;
  }
  if (Status s = readInt(*status, "replicas", "status", out.replicas); !s.isOk()) return s;
  if (Status s = readInt(*status, "readyReplicas", "status", out.readyReplicas); !s.isOk()) return s;
  return readString(*status, "imageDigest", "status", out.imageDigest);
}

}  // namespace

Result<Function> Function::fromJson(const json& function) {
  Function out;
  out.metadata = ObjectMeta::of(function);
  const json* spec = nullptr;
  if (Status s = readObject(function, "spec", "", spec); !s.isOk()) return s;
  const json empty = json::object();
  if (!spec) spec = &empty;
  Result<autoscaler::ScalingPolicy> scaling = scalingPolicyFromSpec(*spec);
  if (!scaling.isOk()) return scaling.status();
  out.scaling = std::move(*scaling);
  if (const json* warm = spec->contains("scaling") ? &(*spec)["scaling"] : nullptr;
      warm && hasField(*warm, "warmPool")) {
    out.warmPool = out.scaling.warmPool;
  }
  const json* resources = nullptr;
  if (Status s = readObject(*spec, "resources", "spec", resources); !s.isOk()) return s;
  const json* requests = nullptr;
  if (resources) {
    if (Status s = readObject(*resources, "requests", "spec.resources", requests); !s.isOk()) return s;
  }
  if (requests && hasField(*requests, "cpu")) out.cpuRequest = (*requests)["cpu"];
  if (Status s = readStatus(function, out.status); !s.isOk()) return s;
  return out;
}

int Function::desiredReplicas() const {
  return desiredReplicasFor(scaling.pause.pinnedReplicas, status.desiredReplicas, scaling.minReplicas,
                            scaling.maxReplicas);
}

int Function::warmPoolSize(int defaultSize) const { return warmPool.value_or(defaultSize); }

}  // namespace sluice::api::v1alpha1
