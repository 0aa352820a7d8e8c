#include "platform/kube/pod_template.h"

#include "api/pods.h"

#include <cstdint>
#include <cstdio>

namespace sluice::platform {
namespace {

using nlohmann::json;

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

json hardenedContainerSecurityContext() {
  return {{"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"runAsNonRoot", true},
          {"capabilities", {{"drop", json::array({"ALL"})}}}};
}

json podSecurityContext() {
  return {{"runAsNonRoot", true},
          {"runAsUser", 65532},
          {"runAsGroup", 65532},
          {"fsGroup", 65532},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

// The kubelet does not verify an HTTPS probe's certificate: the probe checks health, not identity.
json httpProbe(const char* path, int periodSeconds, bool https, int failureThreshold = 3) {
  return {{"httpGet", {{"path", path}, {"port", "control"}, {"scheme", https ? "HTTPS" : "HTTP"}}},
          {"periodSeconds", periodSeconds},
          {"failureThreshold", failureThreshold}};
}

// Probes of the runtime container. Each probe of an HTTPS control port is a
// TLS handshake (the kubelet keeps no connection), so the fast cadence is for
// startup only: the startup probe asks /healthz every second until it first
// answers, and the moment it does the kubelet runs the readiness probe at
// once (its prober runs a pending readiness probe when a container turns
// started); from then on /readyz every 2 s and /healthz every 10 s, as
// before. A replica so becomes Ready within about 1 s of serving instead of
// up to 2 s, for a few handshakes once per pod, where a 1 s readiness period
// would double the handshakes for the pod's whole life. The startup budget
// (30 x 1 s) is what the liveness probe gave before (3 x 10 s); /healthz, not
// /readyz: a replica waiting for its broker is alive and must not be
// restarted for it.
void addProbes(json& container, bool https) {
  container["startupProbe"] = httpProbe("/healthz", 1, https, 30);
  container["readinessProbe"] = httpProbe("/readyz", 2, https);
  container["livenessProbe"] = httpProbe("/healthz", 10, https);
}

// The namespace's control token (/specialize, /drain), invoke tokens
// (/invoke) and control port certificate and key, which the runtime reads and
// scrubs from its environment before any handler code runs.
json tokenEnv(const char* env, const char* key) {
  return {{"name", env}, {"valueFrom", {{"secretKeyRef", {{"name", kControlTokenSecret}, {"key", key}}}}}};
}

json listenArgs() {
  return json::array({"--control-bind-address", "0.0.0.0:" + std::to_string(api::kControlPort), "--data-bind-address",
                      "0.0.0.0:" + std::to_string(api::kDataPort)});
}

}  // namespace

std::string configMapNameOf(const std::string& function) { return function + "-sluice-config"; }

std::string replicaPodName(const std::string& function, int ordinal) {
  return function + "-" + std::to_string(ordinal);
}

std::vector<std::string> freeReplicaPodNames(const std::string& function, const std::set<std::string>& taken,
                                             int count) {
  std::vector<std::string> names;
  for (int ordinal = 0; static_cast<int>(names.size()) < count; ++ordinal) {
    std::string name = replicaPodName(function, ordinal);
    if (!taken.count(name)) names.push_back(std::move(name));
  }
  return names;
}

std::string templateHash(const json& podSpec) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(fnv1a(podSpec.dump())));
  return std::string(buffer, 10);
}

namespace {

// The volumes and mounts of a replica: its configuration, /tmp, the Secrets
// the configuration names, and (for Python) its code.
struct Storage {
  json volumes;
  json mounts;
  json initContainers = json::array();
};

// /code from a ConfigMap, the configuration's inline code.py, or a code image copied by an init container.
Status addCode(const json& spec, const std::string& runtime, const PodTemplateOptions& options, Storage& storage) {
  const json& code = spec.value("code", json::object());
  if (code.contains("configMapRef")) {
    storage.volumes.push_back({{"name", "code"}, {"configMap", {{"name", code["configMapRef"]["name"]}}}});
  } else if (code.contains("inline")) {
    // The renderer stores inline code in the configuration ConfigMap under key code.py; it
    // appears in /code as the handler's module file (index.main_handler -> index.py).
    const std::string handler = spec.value("handler", "index.main_handler");
    const std::string module = handler.substr(0, handler.rfind('.'));
    storage.volumes.push_back({{"name", "code"},
                               {"configMap",
                                {{"name", options.configMapName},
                                 {"items", json::array({{{"key", "code.py"}, {"path", module + ".py"}}})}}}});
  } else if (code.contains("image")) {
    // The code image's /code is copied into a shared emptyDir before the runtime starts.
    storage.volumes.push_back({{"name", "code"}, {"emptyDir", {{"sizeLimit", "1Gi"}}}});
    storage.initContainers.push_back({{"name", "fetch-code"},
                                      {"image", code["image"]},
                                      {"command", json::array({"cp", "-R", "/code/.", "/workspace/"})},
                                      {"volumeMounts", json::array({{{"name", "code"}, {"mountPath", "/workspace"}}})},
                                      {"securityContext", hardenedContainerSecurityContext()}});
  } else {
    return invalidArgument("spec.code: runtime " + runtime + " needs code (inline, configMapRef or image)");
  }
  storage.mounts.push_back({{"name", "code"}, {"mountPath", kCodeMountPath}, {"readOnly", true}});
  return Status::ok();
}

Result<Storage> replicaStorage(const json& spec, const spec::RenderedConfig& rendered,
                               const PodTemplateOptions& options) {
  Storage storage;
  storage.volumes = json::array({
      {{"name", "config"}, {"configMap", {{"name", options.configMapName}}}},
      {{"name", "tmp"}, {"emptyDir", {{"sizeLimit", "256Mi"}}}},
  });
  storage.mounts = json::array({
      {{"name", "config"}, {"mountPath", kConfigMountPath}, {"readOnly", true}},
      {{"name", "tmp"}, {"mountPath", "/tmp"}},
  });
  for (const spec::SecretVolume& v : rendered.secretVolumes) {
    storage.volumes.push_back({{"name", v.volumeName}, {"secret", {{"secretName", v.secretName}}}});
    storage.mounts.push_back({{"name", v.volumeName}, {"mountPath", v.mountPath}, {"readOnly", true}});
  }
  const std::string runtime = spec.value("runtime", "python3.11");
  // spec.protocol http: the handler's image holds its code.
  if (runtime != "builtin" && spec.value("protocol", "") != "http") {
    if (Status s = addCode(spec, runtime, options, storage); !s.isOk()) return s;
  }
  return storage;
}

// The runtime's own variables, the Secret keys the configuration reads, then spec.env.
json replicaEnv(const std::string& name, const json& spec, const spec::RenderedConfig& rendered, bool controlTls) {
  json env = json::array({
      tokenEnv(kControlTokenEnv, kControlTokenKey),
      tokenEnv(kInvokeTokenEnv, kInvokeTokenKey),
      {{"name", "SLUICE_FUNCTION"}, {"value", name}},
      {{"name", "SLUICE_NAMESPACE"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}},
      {{"name", "SLUICE_POD_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
      {{"name", "SLUICE_CONFIG"}, {"value", std::string(kConfigMountPath) + "/function.json"}},
  });
  if (controlTls) {
    env.push_back(tokenEnv(kControlTlsCertificateEnv, kTlsCertificateKey));
    env.push_back(tokenEnv(kControlTlsKeyEnv, kTlsKeyKey));
  }
  for (const spec::SecretEnv& s : rendered.secretEnvs) {
    json ref = {{"name", s.secretName}, {"key", s.secretKey}};
    if (s.optional) ref["optional"] = true;
    env.push_back({{"name", s.envName}, {"valueFrom", {{"secretKeyRef", ref}}}});
  }
  for (const json& e : spec.value("env", json::array())) env.push_back(e);
  return env;
}

json runtimeContainer(const std::string& image, const json& spec, json env, json mounts,
                      const PodTemplateOptions& options) {
  json container = {
      {"name", "runtime"},
      {"image", image},
      {"args", json::array({"--config", std::string(kConfigMountPath) + "/function.json"})},
      {"ports", json::array({{{"name", "control"}, {"containerPort", api::kControlPort}},
                             {{"name", "data"}, {"containerPort", api::kDataPort}}})},
      {"env", std::move(env)},
      {"volumeMounts", std::move(mounts)},
      {"securityContext", hardenedContainerSecurityContext()},
  };
  addProbes(container, options.controlTls);
  if (spec.contains("envFrom")) container["envFrom"] = spec["envFrom"];
  if (json resources = containerResources(spec, options.defaultMemory); !resources.empty()) {
    container["resources"] = resources;
  }
  return container;
}

json replicaPodSpec(const json& spec, json container, Storage storage) {
  const json& pod = spec.value("pod", json::object());
  json podSecurity = podSecurityContext();
  if (pod.contains("securityContext")) podSecurity.update(pod["securityContext"]);
  // Drain gets the handler timeout plus time to commit before SIGKILL.
  const int grace = spec.value("timeoutSeconds", 30) + 15;
  json podSpec = {
      {"containers", json::array({std::move(container)})},
      {"volumes", std::move(storage.volumes)},
      {"securityContext", podSecurity},
      {"automountServiceAccountToken", false},
      {"enableServiceLinks", false},
      {"terminationGracePeriodSeconds", grace},
      {"restartPolicy", "Always"},
  };
  if (!storage.initContainers.empty()) podSpec["initContainers"] = std::move(storage.initContainers);
  for (const char* key : {"nodeSelector", "tolerations", "serviceAccountName"}) {
    if (pod.contains(key)) podSpec[key] = pod[key];
  }
  return podSpec;
}

// spec.protocol python (docs/handler-images.md): an init container copies
// the runtime's bundle (the binary, its libraries and the dynamic loader they
// were built with, from the runtime image) into an emptyDir, and the
// Function's image runs it through that loader, so neither the image's C
// library nor its LD_LIBRARY_PATH matters, and a handler's subprocesses see
// the image unchanged. The embedded Python uses the image's standard library
// and packages (SLUICE_PYTHON_FROM_IMAGE: the runtime checks it is 3.11).
Status addPythonProtocol(json& podSpec, const PodTemplateOptions& options) {
  if (options.runtimeImage.empty()) {
    return invalidArgument("spec.protocol: python needs the operator's runtime image to copy the runtime from");
  }
  podSpec["volumes"].push_back({{"name", kRuntimeBundleVolume}, {"emptyDir", {{"sizeLimit", "512Mi"}}}});
  json install = {
      {"name", "install-runtime"},
      {"image", options.runtimeImage},
      {"command", json::array({"cp", "-R", std::string(kRuntimeBundleSource) + "/.", std::string(kRuntimeBundlePath)})},
      {"volumeMounts", json::array({{{"name", kRuntimeBundleVolume}, {"mountPath", kRuntimeBundlePath}}})},
      {"securityContext", hardenedContainerSecurityContext()},
  };
  json init = json::array({std::move(install)});
  for (json& other : podSpec.value("initContainers", json::array())) init.push_back(std::move(other));
  podSpec["initContainers"] = std::move(init);
  json& container = podSpec["containers"][0];
  const std::string bundle = kRuntimeBundlePath;
  container["command"] = json::array(
      {bundle + "/lib/ld-linux-x86-64.so.2", "--library-path", bundle + "/lib", bundle + "/bin/sluice-runtime"});
  container["volumeMounts"].push_back(
      {{"name", kRuntimeBundleVolume}, {"mountPath", kRuntimeBundlePath}, {"readOnly", true}});
  // The runtime image sets the last two in its configuration; another image may not (its root is read-only).
  for (const char* name : {"SLUICE_PYTHON_FROM_IMAGE", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}) {
    container["env"].push_back({{"name", name}, {"value", "1"}});
  }
  return Status::ok();
}

// spec.protocol http (docs/handler-images.md): the Function's image serves
// the handler beside the runtime, as a sidecar (an init container that keeps
// running): the kubelet starts it, and waits for its port, before the
// runtime, restarts it when it exits, and stops it only after the runtime has
// drained, so a scale-down never cuts a call the runtime still waits on. It
// gets the Function's env, envFrom and resources; the runtime keeps Sluice's
// tokens and the triggers' credentials to itself.
void addHttpHandlerContainer(const json& spec, json& podSpec) {
  const json& server = spec.value("http", json::object());
  const int port = server.value("port", api::kDefaultHandlerPort);
  // PORT names the port to serve on, as Knative tells its containers; the Function's own env wins.
  json env = json::array({{{"name", "PORT"}, {"value", std::to_string(port)}}});
  for (const json& e : spec.value("env", json::array())) {
    if (e.value("name", "") == "PORT") env.erase(0);
    env.push_back(e);
  }
  json handler = {
      {"name", "handler"},
      {"image", spec["image"]},
      {"restartPolicy", "Always"},
      {"ports", json::array({{{"name", "handler"}, {"containerPort", port}}})},
      {"env", std::move(env)},
      // Up to 5 minutes to listen (a JVM), checked every second.
      {"startupProbe", {{"tcpSocket", {{"port", port}}}, {"periodSeconds", 1}, {"failureThreshold", 300}}},
      {"volumeMounts", json::array({{{"name", "handler-tmp"}, {"mountPath", "/tmp"}}})},
      {"securityContext", hardenedContainerSecurityContext()},
  };
  if (spec.contains("envFrom")) handler["envFrom"] = spec["envFrom"];
  if (spec.contains("resources")) handler["resources"] = spec["resources"];
  podSpec["volumes"].push_back({{"name", "handler-tmp"}, {"emptyDir", {{"sizeLimit", "256Mi"}}}});
  json init = podSpec.value("initContainers", json::array());
  init.push_back(std::move(handler));
  podSpec["initContainers"] = std::move(init);
}

json replicaPodMeta(const json& meta, const json& spec, const json& podSpec, const spec::RenderedConfig& rendered) {
  const std::string name = meta["name"].get<std::string>();
  const json& pod = spec.value("pod", json::object());
  // The Function's own labels first, then Sluice's over them: the CRD refuses reserved keys, and a
  // Function stored before it did must still not hide its pods from the operator's selectors.
  // Bound to names: items() of a temporary would outlive it in the loop.
  const json userLabels = pod.value("labels", json::object());
  const json userAnnotations = pod.value("annotations", json::object());
  json labels = json::object();
  for (const auto& [k, v] : userLabels.items()) {
    if (!api::isReservedPodKey(k)) labels[k] = v;
  }
  labels[api::kFunctionLabel] = name;
  labels[api::kRoleLabel] = "replica";
  labels[api::kManagedByLabel] = "sluice";
  // The configuration is read once at start, so a change to it (a trigger's topic, say) must roll the pods too.
  labels[api::kTemplateHashLabel] = templateHash(json::object({{"spec", podSpec}, {"config", rendered.config}}));
  json podMeta = {
      {"namespace", meta.value("namespace", "default")},
      {"labels", labels},
      {"ownerReferences", json::array({{{"apiVersion", "sluice.io/v1alpha1"},
                                        {"kind", "Function"},
                                        {"name", name},
                                        {"uid", meta["uid"]},
                                        {"controller", true},
                                        {"blockOwnerDeletion", true}}})},
  };
  json annotations = json::object();
  for (const auto& [k, v] : userAnnotations.items()) {
    if (!api::isReservedPodKey(k)) annotations[k] = v;
  }
  if (!annotations.empty()) podMeta["annotations"] = std::move(annotations);
  return podMeta;
}

}  // namespace

json containerResources(const json& functionSpec, const DefaultMemory& defaults) {
  json resources = functionSpec.value("resources", json::object());
  const bool declared = resources.value("requests", json::object()).contains("memory") ||
                        resources.value("limits", json::object()).contains("memory");
  if (declared) return resources;
  if (!defaults.request.empty()) resources["requests"]["memory"] = defaults.request;
  if (!defaults.limit.empty()) resources["limits"]["memory"] = defaults.limit;
  return resources;
}

Result<json> buildReplicaPod(const json& function, const spec::RenderedConfig& rendered,
                             const PodTemplateOptions& options) {
  if (!function.contains("metadata") || !function["metadata"].contains("name") ||
      !function["metadata"].contains("uid")) {
    return invalidArgument("metadata: a Function needs name and uid to own pods");
  }
  const json& meta = function["metadata"];
  const json& spec = function.value("spec", json::object());
  const std::string protocol = spec.value("protocol", "");
  // With spec.protocol http the runtime container is Sluice's own, and what
  // the Function gives its handler (env, resources) goes to the handler's.
  const bool http = protocol == "http";
  json runtimeSpec = spec;
  if (http) {
    for (const char* key : {"env", "envFrom", "resources"}) runtimeSpec.erase(key);
  }
  const std::string image = http ? options.runtimeImage : spec.value("image", options.runtimeImage);
  if (image.empty())
    return invalidArgument("spec.image: no runtime image (set spec.image or the operator's runtime image)");
  if (options.configMapName.empty())
    return invalidArgument("configMapName: the rendered configuration has no ConfigMap");
  Result<Storage> storage = replicaStorage(spec, rendered, options);
  if (!storage.isOk()) return storage.status();
  json container = runtimeContainer(
      image, runtimeSpec, replicaEnv(meta["name"].get<std::string>(), runtimeSpec, rendered, options.controlTls),
      std::move(storage->mounts), options);
  for (const json& arg : listenArgs()) container["args"].push_back(arg);
  json podSpec = replicaPodSpec(spec, std::move(container), std::move(*storage));
  if (http) addHttpHandlerContainer(spec, podSpec);
  if (protocol == "python") {
    if (Status s = addPythonProtocol(podSpec, options); !s.isOk()) return s;
  }
  json podMeta = replicaPodMeta(meta, spec, podSpec, rendered);
  return json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", podMeta}, {"spec", podSpec}};
}

Result<json> buildWarmPod(const json& function, const spec::RenderedConfig& rendered,
                          const PodTemplateOptions& options) {
  auto replica = buildReplicaPod(function, rendered, options);
  if (!replica.isOk()) return replica.status();
  return warmPodOf(*replica, options.configMapName);
}

json warmPodOf(const json& replicaPod, const std::string& configMapName) {
  json podSpec = replicaPod["spec"];
  json& container = podSpec["containers"][0];
  container["args"] = json::array({"--warm"});
  for (const json& arg : listenArgs()) container["args"].push_back(arg);
  // What names the Function goes: it arrives with /specialize.
  json env = json::array();
  for (const json& e : container["env"]) {
    const std::string name = e.value("name", "");
    if (name != "SLUICE_FUNCTION" && name != "SLUICE_CONFIG") env.push_back(e);
  }
  container["env"] = env;
  // The rendered configuration, and inline code (a key of the same ConfigMap), travel in /specialize.
  std::set<std::string> dropped = {"config"};
  for (const json& v : podSpec["volumes"]) {
    if (v.value("/configMap/name"_json_pointer, std::string()) == configMapName) dropped.insert(v.value("name", ""));
  }
  auto keep = [&dropped](json& list) {
    json kept = json::array();
    for (const json& item : list) {
      if (!dropped.count(item.value("name", ""))) kept.push_back(item);
    }
    list = kept;
  };
  keep(podSpec["volumes"]);
  keep(container["volumeMounts"]);
  const std::string pool = "pool-" + templateHash(podSpec);
  json metadata = {{"generateName", "sluice-warm-"},
                   {"namespace", replicaPod["metadata"].value("namespace", "default")},
                   {"labels", {{api::kRoleLabel, "warm"}, {api::kPoolLabel, pool}, {api::kManagedByLabel, "sluice"}}}};
  return json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", metadata}, {"spec", podSpec}};
}

std::string warmPoolOf(const json& pod) {
  return pod.value("/metadata/labels"_json_pointer / api::kPoolLabel, std::string());
}

}  // namespace sluice::platform
