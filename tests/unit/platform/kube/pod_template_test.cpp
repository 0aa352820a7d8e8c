#include "platform/kube/pod_template.h"

#include <gtest/gtest.h>

#include "api/pods.h"
#include "common/tokens.h"
#include "spec/runtime_config_render.h"

namespace sluice::platform {
namespace {

using nlohmann::json;

json function(json spec) {
  return {{"apiVersion", "sluice.io/v1alpha1"},
          {"kind", "Function"},
          {"metadata", {{"name", "clean-logs"}, {"namespace", "etl"}, {"uid", "uid-1"}}},
          {"spec", std::move(spec)}};
}

const PodTemplateOptions kOptions{.runtimeImage = "sluice/runtime-python:0.1.0", .configMapName = "clean-logs-sluice"};

// The pod for a Function and its Triggers, as the controller builds it.
Result<json> podFor(const json& fn, const std::vector<json>& triggers = {},
                    const PodTemplateOptions& options = kOptions) {
  auto rendered = spec::renderRuntimeConfig(fn, triggers);
  if (!rendered.isOk()) return rendered.status();
  return buildReplicaPod(fn, *rendered, options);
}

json envNamed(const json& pod, const std::string& name) {
  for (const json& e : pod["spec"]["containers"][0]["env"]) {
    if (e["name"] == name) return e;
  }
  return nullptr;
}

TEST(PodTemplateTest, OwnedLabelledAndHardened) {
  auto pod = podFor(function({{"code", {{"inline", "def main_handler(e, c): return e"}}}}));
  ASSERT_TRUE(pod.isOk()) << pod.status().toString();
  const json& meta = (*pod)["metadata"];
  EXPECT_FALSE(meta.contains("generateName")) << "replicas are named by ordinal (replicaPodName)";
  EXPECT_FALSE(meta.contains("name"));
  EXPECT_EQ(meta["namespace"], "etl");
  EXPECT_EQ(meta["labels"][api::kFunctionLabel], "clean-logs");
  EXPECT_EQ(meta["labels"][api::kRoleLabel], "replica");
  ASSERT_EQ(meta["ownerReferences"].size(), 1u);
  EXPECT_EQ(meta["ownerReferences"][0]["uid"], "uid-1");
  EXPECT_EQ(meta["ownerReferences"][0]["controller"], true);

  const json& spec = (*pod)["spec"];
  EXPECT_EQ(spec["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(spec["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(spec["automountServiceAccountToken"], false);
  const json& c = spec["containers"][0];
  EXPECT_EQ(c["image"], "sluice/runtime-python:0.1.0");
  EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(c["securityContext"]["capabilities"]["drop"], json::array({"ALL"}));
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(spec["terminationGracePeriodSeconds"], 45);
}

// Fast to Ready, cheap after: a 1 s startup probe on /healthz until the
// runtime serves (the kubelet then runs the readiness probe at once), then
// readiness every 2 s and liveness every 10 s, as each probe of a TLS
// control port is a handshake. Warm pods are built from the same container.
TEST(PodTemplateTest, ProbesStartupEverySecondThenReadinessEveryTwoSeconds) {
  const json fn = function({{"code", {{"inline", "def main_handler(e, c): return e"}}}});
  auto pod = podFor(fn);
  ASSERT_TRUE(pod.isOk()) << pod.status().toString();
  auto rendered = spec::renderRuntimeConfig(fn, {});
  ASSERT_TRUE(rendered.isOk());
  auto warm = buildWarmPod(fn, *rendered, kOptions);
  ASSERT_TRUE(warm.isOk()) << warm.status().toString();
  for (const json* built : {&*pod, &*warm}) {
    const json& c = (*built)["spec"]["containers"][0];
    EXPECT_EQ(c["startupProbe"]["httpGet"]["path"], "/healthz");
    EXPECT_EQ(c["startupProbe"]["httpGet"]["port"], "control");
    EXPECT_EQ(c["startupProbe"]["periodSeconds"], 1);
    EXPECT_EQ(c["startupProbe"]["failureThreshold"], 30) << "30 s to start, as 3 liveness periods of 10 s gave";
    EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    EXPECT_EQ(c["readinessProbe"]["periodSeconds"], 2);
    EXPECT_EQ(c["readinessProbe"]["failureThreshold"], 3);
    EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    EXPECT_EQ(c["livenessProbe"]["periodSeconds"], 10);
  }
  PodTemplateOptions tls = kOptions;
  tls.controlTls = true;
  auto https = podFor(fn, {}, tls);
  ASSERT_TRUE(https.isOk());
  EXPECT_EQ((*https)["spec"]["containers"][0]["startupProbe"]["httpGet"]["scheme"], "HTTPS");
}

// Sluice's labels win over spec.pod.labels (a Function stored before the CRD refused reserved keys
// must not hide its pods from the operator's selectors), and reserved annotation keys are dropped.
TEST(PodTemplateTest, WithControlTlsTheRuntimeTakesTheCertificateFromTheTokenSecretAndProbesUseHttps) {
  const json fn = function({{"code", {{"inline", "def main_handler(e, c): return e"}}}});
  auto plain = podFor(fn);
  ASSERT_TRUE(plain.isOk());
  EXPECT_TRUE(envNamed(*plain, kControlTlsKeyEnv).is_null());
  EXPECT_FALSE(api::controlPortServesTls(*plain));
  EXPECT_EQ((*plain)["spec"]["containers"][0]["readinessProbe"]["httpGet"]["scheme"], "HTTP");

  PodTemplateOptions options = kOptions;
  options.controlTls = true;
  auto pod = podFor(fn, {}, options);
  ASSERT_TRUE(pod.isOk());
  EXPECT_TRUE(api::controlPortServesTls(*pod));
  for (auto [env, key] :
       {std::pair{kControlTlsCertificateEnv, kTlsCertificateKey}, std::pair{kControlTlsKeyEnv, kTlsKeyKey}}) {
    EXPECT_EQ(envNamed(*pod, env)["valueFrom"]["secretKeyRef"], (json{{"name", kControlTokenSecret}, {"key", key}}))
        << env;
  }
  const json& c = (*pod)["spec"]["containers"][0];
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["scheme"], "HTTPS");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["scheme"], "HTTPS");
  auto rendered = spec::renderRuntimeConfig(fn, {});
  ASSERT_TRUE(rendered.isOk());
  auto warm = buildWarmPod(fn, *rendered, options);
  ASSERT_TRUE(warm.isOk());
  EXPECT_TRUE(api::controlPortServesTls(*warm)) << "warm pods are specialized over the same TLS";
  EXPECT_NE(warmPoolOf(*warm), warmPoolOf(*buildWarmPod(fn, *rendered, kOptions)))
      << "a pool of plain pods is not adopted as if it served TLS";
}

TEST(PodTemplateTest, ReservedLabelAndAnnotationKeysStaySluices) {
  auto pod =
      podFor(function({{"code", {{"inline", "def main_handler(e, c): return e"}}},
                       {"pod",
                        {{"labels", {{"team", "etl"}, {api::kFunctionLabel, "other"}, {api::kManagedByLabel, "me"}}},
                         {"annotations", {{"note", "kept"}, {"sluice.io/role", "warm"}}}}}}));
  ASSERT_TRUE(pod.isOk()) << pod.status().toString();
  const json& meta = (*pod)["metadata"];
  EXPECT_EQ(meta["labels"]["team"], "etl");
  EXPECT_EQ(meta["labels"][api::kFunctionLabel], "clean-logs");
  EXPECT_EQ(meta["labels"][api::kManagedByLabel], "sluice");
  EXPECT_EQ(meta["annotations"], (json{{"note", "kept"}}));
}

TEST(PodTemplateTest, InlineCodeIsMountedAsTheHandlersModule) {
  auto pod = podFor(function({{"handler", "clean.handle"}, {"code", {{"inline", "x"}}}}));
  ASSERT_TRUE(pod.isOk());
  json codeVolume;
  for (const json& v : (*pod)["spec"]["volumes"]) {
    if (v["name"] == "code") codeVolume = v;
  }
  EXPECT_EQ(codeVolume["configMap"]["name"], "clean-logs-sluice");
  EXPECT_EQ(codeVolume["configMap"]["items"][0]["path"], "clean.py");
}

TEST(PodTemplateTest, CodeImageIsCopiedByAnInitContainer) {
  auto pod = podFor(function({{"code", {{"image", "registry.local/handlers:7"}}}}));
  ASSERT_TRUE(pod.isOk());
  ASSERT_EQ((*pod)["spec"]["initContainers"].size(), 1u);
  EXPECT_EQ((*pod)["spec"]["initContainers"][0]["image"], "registry.local/handlers:7");
}

TEST(PodTemplateTest, BuiltinPipelineNeedsNoCode) {
  auto pod = podFor(function({{"runtime", "builtin"}, {"pipeline", json::array({{{"mirror", json::object()}}})}}));
  ASSERT_TRUE(pod.isOk());
  for (const json& v : (*pod)["spec"]["volumes"]) EXPECT_NE(v["name"], "code");
}

TEST(PodTemplateTest, ErrorsNameTheField) {
  auto noCode = podFor(function({{"runtime", "python3.11"}}));
  EXPECT_EQ(noCode.status().message(), "spec.code: runtime python3.11 needs code (inline, configMapRef or image)");
  auto noImage = podFor(function({{"runtime", "builtin"}}), {}, {.runtimeImage = "", .configMapName = "c"});
  EXPECT_EQ(noImage.status().message(),
            "spec.image: no runtime image (set spec.image or the operator's runtime image)");
  json nameless = function({{"code", {{"inline", "x"}}}});
  nameless["metadata"].erase("uid");
  EXPECT_EQ(podFor(nameless).status().code(), StatusCode::kInvalidArgument);
}

TEST(PodTemplateTest, CredentialsComeOnlyFromSecretKeyRefs) {
  json trigger = {{"metadata", {{"name", "orders"}}},
                  {"spec",
                   {{"functionRef", {{"name", "clean-logs"}}},
                    {"kafka",
                     {{"bootstrapServers", {"k:9092"}},
                      {"topics", {"t"}},
                      {"consumerGroup", "g"},
                      {"sasl", {{"mechanism", "PLAIN"}, {"secretRef", {{"name", "kafka-creds"}}}}},
                      {"tls", {{"secretRef", {{"name", "kafka-ca"}}}}}}}}}};
  json fn = function({{"runtime", "builtin"},
                      {"pipeline", json::array({{{"mirror", json::object()}}})},
                      {"outputs", json::array({{{"name", "lake"},
                                                {"s3",
                                                 {{"endpoint", "http://s3:9000"},
                                                  {"bucket", "lake"},
                                                  {"credentialsSecretRef", {{"name", "s3-creds"}}}}}}})}});
  auto pod = podFor(fn, {trigger});
  ASSERT_TRUE(pod.isOk());
  json user = envNamed(*pod, "SLUICE_SECRET_TRIGGER_ORDERS_USERNAME");
  EXPECT_EQ(user["valueFrom"]["secretKeyRef"], (json{{"name", "kafka-creds"}, {"key", "username"}}));
  json key = envNamed(*pod, "SLUICE_SECRET_OUTPUT_LAKE_ACCESSKEY");
  EXPECT_EQ(key["valueFrom"]["secretKeyRef"], (json{{"name", "s3-creds"}, {"key", "accessKey"}}));
  bool tlsMounted = false;
  for (const json& v : (*pod)["spec"]["volumes"]) {
    if (v.contains("secret") && v["secret"]["secretName"] == "kafka-ca") tlsMounted = true;
  }
  EXPECT_TRUE(tlsMounted);
  for (const json& e : (*pod)["spec"]["containers"][0]["env"]) {
    if (e["name"].get<std::string>().rfind("SLUICE_SECRET_", 0) == 0) {
      EXPECT_FALSE(e.contains("value")) << e.dump();
    }
  }
}

TEST(PodTemplateTest, TemplateHashFollowsTheSpec) {
  auto a = podFor(function({{"code", {{"inline", "x"}}}}));
  auto same = podFor(function({{"code", {{"inline", "x"}}}}));
  auto changed = podFor(function({{"code", {{"inline", "x"}}}, {"timeoutSeconds", 60}}));
  ASSERT_TRUE(a.isOk() && same.isOk() && changed.isOk());
  EXPECT_EQ((*a)["metadata"]["labels"][api::kTemplateHashLabel],
            (*same)["metadata"]["labels"][api::kTemplateHashLabel]);
  EXPECT_NE((*a)["metadata"]["labels"][api::kTemplateHashLabel],
            (*changed)["metadata"]["labels"][api::kTemplateHashLabel]);
  EXPECT_EQ((*a)["metadata"]["labels"][api::kTemplateHashLabel].get<std::string>().size(), 10u);
}

// The warm pod of a Function, built as the WarmPoolController and the platform build it.
Result<json> warmFor(const json& fn, const std::vector<json>& triggers = {}) {
  auto rendered = spec::renderRuntimeConfig(fn, triggers);
  if (!rendered.isOk()) return rendered.status();
  return buildWarmPod(fn, *rendered, kOptions);
}

json named(const json& fn, const std::string& name) {
  json copy = fn;
  copy["metadata"]["name"] = name;
  copy["metadata"]["uid"] = "uid-" + name;
  return copy;
}

TEST(PodTemplateTest, WarmPodIsTheReplicaWithoutWhatSpecializeBrings) {
  json fn = function({{"code", {{"inline", "def main_handler(e, c): return e"}}},
                      {"env", json::array({{{"name", "MODE"}, {"value", "strict"}}})},
                      {"resources", {{"limits", {{"memory", "256Mi"}}}}}});
  auto replica = podFor(fn);
  auto warm = warmFor(fn);
  ASSERT_TRUE(replica.isOk() && warm.isOk()) << warm.status().toString();
  const json& meta = (*warm)["metadata"];
  EXPECT_EQ(meta["generateName"], "sluice-warm-");
  EXPECT_EQ(meta["namespace"], "etl");
  EXPECT_EQ(meta["labels"][api::kRoleLabel], "warm");
  EXPECT_FALSE(meta["labels"].contains(api::kFunctionLabel));
  EXPECT_FALSE(meta.contains("ownerReferences")) << "a warm pod belongs to no Function until adopted";
  EXPECT_EQ(warmPoolOf(*warm).rfind("pool-", 0), 0u);

  const json& c = (*warm)["spec"]["containers"][0];
  EXPECT_EQ(c["args"],
            json::array({"--warm", "--control-bind-address", "0.0.0.0:8090", "--data-bind-address", "0.0.0.0:8080"}));
  EXPECT_TRUE(envNamed(*warm, "SLUICE_FUNCTION").is_null());
  EXPECT_TRUE(envNamed(*warm, "SLUICE_CONFIG").is_null());
  EXPECT_EQ(envNamed(*warm, "MODE")["value"], "strict") << "the user's env is in the warm pod from its start";
  EXPECT_FALSE(envNamed(*warm, kControlTokenEnv).is_null());
  EXPECT_EQ(envNamed(*warm, kInvokeTokenEnv)["valueFrom"]["secretKeyRef"],
            (json{{"name", "sluice-control-token"}, {"key", "invoke"}}));
  EXPECT_EQ(c["resources"], (*replica)["spec"]["containers"][0]["resources"]);
  for (const json& v : (*warm)["spec"]["volumes"]) {
    EXPECT_NE(v.value("/configMap/name"_json_pointer, std::string()), kOptions.configMapName)
        << "the configuration and inline code arrive with /specialize: " << v.dump();
  }
  for (const json& m : c["volumeMounts"]) EXPECT_NE(m["name"], "config");
  EXPECT_EQ((*warm)["spec"]["securityContext"], (*replica)["spec"]["securityContext"]);
  EXPECT_EQ(c["securityContext"], (*replica)["spec"]["containers"][0]["securityContext"]);
}

TEST(PodTemplateTest, FunctionsShareAWarmPoolExactlyWhenTheirPodsDifferOnlyInConfiguration) {
  json plain = function({{"code", {{"inline", "def main_handler(e, c): return 1"}}}});
  json otherCode = named(function({{"code", {{"inline", "def main_handler(e, c): return 2"}}}}), "other");
  json withEnv = function({{"code", {{"inline", "x"}}}, {"env", json::array({{{"name", "A"}, {"value", "1"}}})}});
  json bigger = function({{"code", {{"inline", "x"}}}, {"resources", {{"requests", {{"cpu", "2"}}}}}});
  json otherImage = function({{"code", {{"inline", "x"}}}, {"image", "acme/python:3"}});
  json builtin = function({{"runtime", "builtin"}, {"pipeline", json::array({{{"mirror", json::object()}}})}});
  json trigger = {{"metadata", {{"name", "orders"}}},
                  {"spec",
                   {{"functionRef", {{"name", "clean-logs"}}},
                    {"kafka",
                     {{"bootstrapServers", {"k:9092"}},
                      {"topics", {"t"}},
                      {"consumerGroup", "g"},
                      {"sasl", {{"mechanism", "PLAIN"}, {"secretRef", {{"name", "kafka-creds"}}}}}}}}}};
  auto pool = [](const Result<json>& pod) { return pod.isOk() ? warmPoolOf(*pod) : pod.status().toString(); };
  EXPECT_EQ(pool(warmFor(plain)), pool(warmFor(otherCode))) << "inline code travels in /specialize";
  EXPECT_EQ(pool(warmFor(plain)), pool(warmFor(builtin))) << "so does a pipeline";
  EXPECT_NE(pool(warmFor(plain)), pool(warmFor(withEnv)));
  EXPECT_NE(pool(warmFor(plain)), pool(warmFor(bigger))) << "a resource class is a pool of its own";
  EXPECT_NE(pool(warmFor(plain)), pool(warmFor(otherImage)));
  EXPECT_NE(pool(warmFor(builtin)), pool(warmFor(builtin, {trigger}))) << "a Secret is in the warm pod";
  auto withSecret = warmFor(builtin, {trigger});
  ASSERT_TRUE(withSecret.isOk());
  EXPECT_EQ(envNamed(*withSecret, "SLUICE_SECRET_TRIGGER_ORDERS_USERNAME")["valueFrom"]["secretKeyRef"],
            (json{{"name", "kafka-creds"}, {"key", "username"}}));
}

TEST(PodTemplateTest, WarmPodKeepsACodeImageOrCodeConfigMap) {
  auto image = warmFor(function({{"code", {{"image", "acme/handlers:7"}}}}));
  ASSERT_TRUE(image.isOk());
  ASSERT_TRUE((*image)["spec"].contains("initContainers"));
  EXPECT_EQ((*image)["spec"]["initContainers"][0]["image"], "acme/handlers:7");
  auto configMap = warmFor(function({{"code", {{"configMapRef", {{"name", "handlers"}}}}}}));
  ASSERT_TRUE(configMap.isOk());
  bool mounted = false;
  for (const json& v : (*configMap)["spec"]["volumes"]) {
    if (v.value("/configMap/name"_json_pointer, std::string()) == "handlers") mounted = true;
  }
  EXPECT_TRUE(mounted) << (*configMap)["spec"]["volumes"].dump();
}

TEST(PodTemplateTest, ReplicaNamesAreTheLowestFreeOrdinals) {
  EXPECT_EQ(replicaPodName("clean-logs", 7), "clean-logs-7");
  EXPECT_EQ(freeReplicaPodNames("f", {}, 3), (std::vector<std::string>{"f-0", "f-1", "f-2"}));
  // Terminating pods and other owners' pods keep their names until they are gone.
  EXPECT_EQ(freeReplicaPodNames("f", {"f-0", "f-2", "f-x7k2p", "g-1"}, 3),
            (std::vector<std::string>{"f-1", "f-3", "f-4"}));
  EXPECT_TRUE(freeReplicaPodNames("f", {"f-0"}, 0).empty());
}

TEST(PodTemplateTest, PodsWithoutDeclaredMemoryGetTheDefaultsAndAFunctionsOwnWins) {
  PodTemplateOptions options = kOptions;
  options.defaultMemory = {"256Mi", "1Gi"};
  json plain = function(
      {{"code", {{"inline", "def main_handler(e, c): return e"}}}, {"resources", {{"requests", {{"cpu", "100m"}}}}}});
  auto pod = podFor(plain, {}, options);
  ASSERT_TRUE(pod.isOk()) << pod.status().toString();
  EXPECT_EQ((*pod)["spec"]["containers"][0]["resources"],
            json::parse(R"({"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}})"));
  auto warm = buildWarmPod(plain, *spec::renderRuntimeConfig(plain, {}), options);
  ASSERT_TRUE(warm.isOk());
  EXPECT_EQ((*warm)["spec"]["containers"][0]["resources"], (*pod)["spec"]["containers"][0]["resources"]);

  // A memory request alone is the Function's choice: no default limit could undercut it.
  json big = function(
      {{"code", {{"inline", "def main_handler(e, c): return e"}}}, {"resources", {{"requests", {{"memory", "4Gi"}}}}}});
  auto own = podFor(big, {}, options);
  ASSERT_TRUE(own.isOk());
  EXPECT_EQ((*own)["spec"]["containers"][0]["resources"], json::parse(R"({"requests": {"memory": "4Gi"}})"));

  // Without defaults (operator flags set to ""), nothing is added.
  auto none = podFor(function({{"code", {{"inline", "def main_handler(e, c): return e"}}}}));
  ASSERT_TRUE(none.isOk());
  EXPECT_FALSE((*none)["spec"]["containers"][0].contains("resources"));
}

}  // namespace
}  // namespace sluice::platform
