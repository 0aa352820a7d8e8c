#include "controllers/function/pod_template.h"

#include <cctype>
#include <cstdint>
#include <cstdio>

namespace sluice::controllers {
namespace {

using nlohmann::json;

std::string envToken(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  return out;
}

void addSecretKeys(std::vector<SecretEnv>& out, const std::string& owner, const json& ref,
                   const std::vector<std::pair<std::string, bool>>& keys) {
  if (!ref.is_object() || !ref.contains("name")) return;
  const std::string secret = ref["name"].get<std::string>();
  for (const auto& [key, optional] : keys) {
    out.push_back({"SLUICE_SECRET_" + envToken(owner) + "_" + envToken(key), secret, key, optional});
  }
}

void addSinkSecrets(std::vector<SecretEnv>& out, const std::string& owner, const json& sink) {
  if (sink.contains("kafka")) {
    addSecretKeys(out, owner, sink["kafka"].value("secretRef", json()),
                  {{"username", true}, {"password", true}, {"ca.crt", true}, {"tls.crt", true}, {"tls.key", true}});
  }
  if (sink.contains("rabbitmq")) {
    const json& ref = sink["rabbitmq"]["connectionSecretRef"];
    addSecretKeys(out, owner, ref, {{ref.value("key", "url"), false}});
  }
  if (sink.contains("http")) {
    // Header secrets are mounted whole (keys are not known here): see buildReplicaPod's envFrom.
  }
  if (sink.contains("s3")) {
    addSecretKeys(out, owner, sink["s3"].value("credentialsSecretRef", json()),
                  {{"accessKey", false}, {"secretKey", false}});
  }
}

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

}  // namespace

std::vector<SecretEnv> secretEnvsFor(const json& function, const std::vector<json>& triggers) {
  std::vector<SecretEnv> out;
  const json& spec = function.value("spec", json::object());
  for (const json& output : spec.value("outputs", json::array())) {
    addSinkSecrets(out, "output_" + output.value("name", "default"), output);
  }
  if (spec.contains("deadLetter")) addSinkSecrets(out, "deadletter", spec["deadLetter"]);
  for (const json& trigger : triggers) {
    const std::string owner = "trigger_" + trigger["metadata"].value("name", "");
    const json& tspec = trigger.value("spec", json::object());
    if (tspec.contains("kafka")) {
      const json& kafka = tspec["kafka"];
      addSecretKeys(out, owner, kafka.contains("sasl") ? kafka["sasl"].value("secretRef", json()) : json(),
                    {{"username", false}, {"password", false}});
      addSecretKeys(out, owner, kafka.contains("tls") ? kafka["tls"].value("secretRef", json()) : json(),
                    {{"ca.crt", true}, {"tls.crt", true}, {"tls.key", true}});
    }
    if (tspec.contains("rabbitmq")) {
      const json& ref = tspec["rabbitmq"]["connectionSecretRef"];
      addSecretKeys(out, owner, ref,
                    {{ref.value("key", "url"), false}, {ref.value("managementKey", "managementUrl"), true}});
    }
    if (tspec.contains("objectStore")) {
      addSecretKeys(out, owner, tspec["objectStore"].value("credentialsSecretRef", json()),
                    {{"accessKey", true}, {"secretKey", true}, {"user", true}});
    }
  }
  return out;
}

std::string templateHash(const json& podSpec) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(fnv1a(podSpec.dump())));
  return std::string(buffer, 10);
}

Result<json> buildReplicaPod(const json& function, const std::vector<json>& triggers,
                             const PodTemplateOptions& options) {
  if (!function.contains("metadata") || !function["metadata"].contains("name") ||
      !function["metadata"].contains("uid")) {
    return invalidArgument("metadata: a Function needs name and uid to own pods");
  }
  const json& meta = function["metadata"];
  const std::string name = meta["name"].get<std::string>();
  const json& spec = function.value("spec", json::object());
  const std::string runtime = spec.value("runtime", "python3.11");
  const std::string image = spec.value("image", options.runtimeImage);
  if (image.empty())
    return invalidArgument("spec.image: no runtime image (set spec.image or the operator's runtime image)");
  if (options.configMapName.empty())
    return invalidArgument("configMapName: the rendered configuration has no ConfigMap");

  json volumes = json::array({
      {{"name", "config"}, {"configMap", {{"name", options.configMapName}}}},
      {{"name", "tmp"}, {"emptyDir", {{"sizeLimit", "256Mi"}}}},
  });
  json mounts = json::array({
      {{"name", "config"}, {"mountPath", kConfigMountPath}, {"readOnly", true}},
      {{"name", "tmp"}, {"mountPath", "/tmp"}},
  });
  json initContainers = json::array();
  if (runtime != "builtin") {
    const json& code = spec.value("code", json::object());
    if (code.contains("configMapRef")) {
      volumes.push_back({{"name", "code"}, {"configMap", {{"name", code["configMapRef"]["name"]}}}});
    } else if (code.contains("inline")) {
      // The renderer stores inline code in the configuration ConfigMap under key code.py; it
      // appears in /code as the handler's module file (index.main_handler -> index.py).
      const std::string handler = spec.value("handler", "index.main_handler");
      const std::string module = handler.substr(0, handler.rfind('.'));
      volumes.push_back({{"name", "code"},
                         {"configMap",
                          {{"name", options.configMapName},
                           {"items", json::array({{{"key", "code.py"}, {"path", module + ".py"}}})}}}});
    } else if (code.contains("image")) {
      // The code image's /code is copied into a shared emptyDir before the runtime starts.
      volumes.push_back({{"name", "code"}, {"emptyDir", {{"sizeLimit", "1Gi"}}}});
      initContainers.push_back({{"name", "fetch-code"},
                                {"image", code["image"]},
                                {"command", json::array({"cp", "-R", "/code/.", "/workspace/"})},
                                {"volumeMounts", json::array({{{"name", "code"}, {"mountPath", "/workspace"}}})},
                                {"securityContext", hardenedContainerSecurityContext()}});
    } else {
      return invalidArgument("spec.code: runtime " + runtime + " needs code (inline, configMapRef or image)");
    }
    mounts.push_back({{"name", "code"}, {"mountPath", kCodeMountPath}, {"readOnly", true}});
  }

  json env = json::array({
      {{"name", "SLUICE_FUNCTION"}, {"value", name}},
      {{"name", "SLUICE_NAMESPACE"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}},
      {{"name", "SLUICE_POD_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
      {{"name", "SLUICE_CONFIG"}, {"value", std::string(kConfigMountPath) + "/function.json"}},
  });
  for (const SecretEnv& s : secretEnvsFor(function, triggers)) {
    json ref = {{"name", s.secretName}, {"key", s.secretKey}};
    if (s.optional) ref["optional"] = true;
    env.push_back({{"name", s.envName}, {"valueFrom", {{"secretKeyRef", ref}}}});
  }
  for (const json& e : spec.value("env", json::array())) env.push_back(e);

  json probe = [](const char* path, int period) {
    return json{{"httpGet", {{"path", path}, {"port", "control"}}}, {"periodSeconds", period}, {"failureThreshold", 3}};
  }("/readyz", 2);
  json container = {
      {"name", "runtime"},
      {"image", image},
      {"args", json::array({"--config", std::string(kConfigMountPath) + "/function.json", "--control-bind-address",
                            "0.0.0.0:" + std::to_string(kControlPort)})},
      {"ports", json::array({{{"name", "control"}, {"containerPort", kControlPort}}})},
      {"env", env},
      {"volumeMounts", mounts},
      {"readinessProbe", probe},
      {"livenessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", "control"}}}, {"periodSeconds", 10}, {"failureThreshold", 3}}},
      {"securityContext", hardenedContainerSecurityContext()},
  };
  if (spec.contains("envFrom")) container["envFrom"] = spec["envFrom"];
  if (spec.contains("resources")) container["resources"] = spec["resources"];

  const json& pod = spec.value("pod", json::object());
  json podSecurity = {{"runAsNonRoot", true},
                      {"runAsUser", 65532},
                      {"runAsGroup", 65532},
                      {"fsGroup", 65532},
                      {"seccompProfile", {{"type", "RuntimeDefault"}}}};
  if (pod.contains("securityContext")) podSecurity.update(pod["securityContext"]);
  // Drain gets the handler timeout plus time to commit before SIGKILL.
  const int grace = spec.value("timeoutSeconds", 30) + 15;
  json podSpec = {
      {"containers", json::array({container})},
      {"volumes", volumes},
      {"securityContext", podSecurity},
      {"automountServiceAccountToken", false},
      {"enableServiceLinks", false},
      {"terminationGracePeriodSeconds", grace},
      {"restartPolicy", "Always"},
  };
  if (!initContainers.empty()) podSpec["initContainers"] = initContainers;
  for (const char* key : {"nodeSelector", "tolerations", "serviceAccountName"}) {
    if (pod.contains(key)) podSpec[key] = pod[key];
  }

  json labels = {{kFunctionLabel, name}, {kRoleLabel, "replica"}, {"app.kubernetes.io/managed-by", "sluice"}};
  for (const auto& [k, v] : pod.value("labels", json::object()).items()) labels[k] = v;
  labels[kTemplateHashLabel] = templateHash(podSpec);

  json podMeta = {
      {"generateName", name + "-"},
      {"namespace", meta.value("namespace", "default")},
      {"labels", labels},
      {"ownerReferences", json::array({{{"apiVersion", "sluice.io/v1alpha1"},
                                        {"kind", "Function"},
                                        {"name", name},
                                        {"uid", meta["uid"]},
                                        {"controller", true},
                                        {"blockOwnerDeletion", true}}})},
  };
  if (pod.contains("annotations")) podMeta["annotations"] = pod["annotations"];
  return json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", podMeta}, {"spec", podSpec}};
}

}  // namespace sluice::controllers
