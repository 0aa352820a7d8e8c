// The pods of spec.protocol python and http (docs/handler-images.md): which
// image runs where, the runtime bundle copied in or the handler sidecar
// beside, and the restricted Pod Security Standard for every container.
#include <gtest/gtest.h>

#include "platform/kube/pod_template.h"
#include "spec/runtime_config_render.h"

namespace sluice::platform {
namespace {

using nlohmann::json;

json function(json spec) {
  return {{"apiVersion", "sluice.io/v1alpha1"},
          {"kind", "Function"},
          {"metadata", {{"name", "byo"}, {"namespace", "team"}, {"uid", "uid-7"}}},
          {"spec", std::move(spec)}};
}

const PodTemplateOptions kOptions{.runtimeImage = "localhost/sluice-runtime-python:0.1.0",
                                  .configMapName = "byo-sluice-config"};

Result<json> podFor(const json& fn) {
  auto rendered = spec::renderRuntimeConfig(fn, {});
  if (!rendered.isOk()) return rendered.status();
  return buildReplicaPod(fn, *rendered, kOptions);
}

const json& named(const json& list, const std::string& name) {
  static const json kNone;
  for (const json& item : list) {
    if (item.value("name", "") == name) return item;
  }
  return kNone;
}

std::vector<std::string> names(const json& list) {
  std::vector<std::string> out;
  for (const json& item : list) out.push_back(item.value("name", ""));
  return out;
}

void expectRestricted(const json& container) {
  SCOPED_TRACE(container.value("name", ""));
  const json& security = container["securityContext"];
  EXPECT_EQ(security["allowPrivilegeEscalation"], false);
  EXPECT_EQ(security["readOnlyRootFilesystem"], true);
  EXPECT_EQ(security["runAsNonRoot"], true);
  EXPECT_EQ(security["capabilities"]["drop"], json::array({"ALL"}));
}

const json kPythonSpec = {{"image", "registry.example/team/py-requests:1"},
                          {"protocol", "python"},
                          {"handler", "main.handle"},
                          {"code", {{"inline", "def handle(event, context):\n    return event\n"}}},
                          {"env", json::array({{{"name", "MODE"}, {"value", "strict"}}})}};

const json kHttpSpec = {{"image", "registry.example/team/node-handler:1"},
                        {"protocol", "http"},
                        {"http", {{"port", 3000}, {"path", "/events"}}},
                        {"concurrency", 8},
                        {"env", json::array({{{"name", "MODE"}, {"value", "strict"}}})},
                        {"resources", {{"limits", {{"memory", "512Mi"}}}}}};

TEST(PodTemplateProtocolTest, PythonRunsTheCopiedRuntimeInTheFunctionsImage) {
  auto pod = podFor(function(kPythonSpec));
  ASSERT_TRUE(pod.isOk()) << pod.status().toString();
  const json& spec = (*pod)["spec"];
  ASSERT_EQ(spec["containers"].size(), 1u);
  const json& runtime = spec["containers"][0];
  EXPECT_EQ(runtime["image"], "registry.example/team/py-requests:1");
  EXPECT_EQ(runtime["command"], json::array({"/sluice/lib/ld-linux-x86-64.so.2", "--library-path", "/sluice/lib",
                                             "/sluice/bin/sluice-runtime"}));
  EXPECT_EQ(runtime["args"][0], "--config");
  EXPECT_EQ(named(runtime["volumeMounts"], "sluice-runtime"),
            (json{{"name", "sluice-runtime"}, {"mountPath", "/sluice"}, {"readOnly", true}}));
  EXPECT_EQ(named(runtime["env"], "SLUICE_PYTHON_FROM_IMAGE")["value"], "1");
  EXPECT_EQ(named(runtime["env"], "MODE")["value"], "strict");
  // The runtime image installs the bundle first; nothing else runs before.
  ASSERT_EQ(names(spec["initContainers"]), std::vector<std::string>{"install-runtime"});
  const json& install = spec["initContainers"][0];
  EXPECT_EQ(install["image"], "localhost/sluice-runtime-python:0.1.0");
  EXPECT_EQ(install["command"], json::array({"cp", "-R", "/usr/local/lib/sluice-runtime-bundle/.", "/sluice"}));
  EXPECT_EQ(install["volumeMounts"][0]["mountPath"], "/sluice");
  EXPECT_EQ(named(spec["volumes"], "sluice-runtime")["emptyDir"]["sizeLimit"], "512Mi");
  for (const json& c : {runtime, install}) expectRestricted(c);
  EXPECT_EQ(spec["securityContext"]["runAsUser"], 65532);
}

TEST(PodTemplateProtocolTest, PythonWithACodeImageCopiesTheRuntimeThenTheCode) {
  json spec = kPythonSpec;
  spec["code"] = {{"image", "registry.example/team/code:3"}};
  auto pod = podFor(function(spec));
  ASSERT_TRUE(pod.isOk()) << pod.status().toString();
  EXPECT_EQ(names((*pod)["spec"]["initContainers"]), (std::vector<std::string>{"install-runtime", "fetch-code"}));
}

TEST(PodTemplateProtocolTest, HttpRunsTheHandlerAsASidecarBesideTheRuntimeImage) {
  auto pod = podFor(function(kHttpSpec));
  ASSERT_TRUE(pod.isOk()) << pod.status().toString();
  const json& spec = (*pod)["spec"];
  ASSERT_EQ(spec["containers"].size(), 1u);
  const json& runtime = spec["containers"][0];
  EXPECT_EQ(runtime["name"], "runtime");
  EXPECT_EQ(runtime["image"], "localhost/sluice-runtime-python:0.1.0");
  EXPECT_FALSE(runtime.contains("command")) << "the runtime image's own entrypoint";
  // The Function's env and resources are its handler's; the tokens stay with the runtime.
  EXPECT_TRUE(named(runtime["env"], "MODE").is_null());
  EXPECT_FALSE(named(runtime["env"], "SLUICE_SPECIALIZE_TOKEN").is_null());
  EXPECT_FALSE(runtime.value("resources", json::object()).contains("limits"));
  EXPECT_TRUE(named(runtime["volumeMounts"], "code").is_null()) << "no code volume: the image holds the handler";

  ASSERT_EQ(names(spec["initContainers"]), std::vector<std::string>{"handler"});
  const json& handler = spec["initContainers"][0];
  EXPECT_EQ(handler["image"], "registry.example/team/node-handler:1");
  EXPECT_EQ(handler["restartPolicy"], "Always") << "a sidecar: started first, stopped after the runtime drains";
  EXPECT_EQ(handler["ports"], json::array({{{"name", "handler"}, {"containerPort", 3000}}}));
  EXPECT_EQ(handler["startupProbe"]["tcpSocket"]["port"], 3000);
  EXPECT_EQ(named(handler["env"], "MODE")["value"], "strict");
  EXPECT_EQ(named(handler["env"], "PORT")["value"], "3000") << "the port to serve on, as Knative gives it";
  EXPECT_TRUE(named(handler["env"], "SLUICE_SPECIALIZE_TOKEN").is_null());
  EXPECT_EQ(handler["resources"]["limits"]["memory"], "512Mi");
  EXPECT_EQ(named(handler["volumeMounts"], "handler-tmp")["mountPath"], "/tmp");
  EXPECT_FALSE(named(spec["volumes"], "handler-tmp").is_null());
  for (const json& c : {runtime, handler}) expectRestricted(c);
}

TEST(PodTemplateProtocolTest, HttpRendersTheRuntimeConfigurationOfTheHandlerServer) {
  auto rendered = spec::renderRuntimeConfig(function(kHttpSpec), {});
  ASSERT_TRUE(rendered.isOk()) << rendered.status().toString();
  EXPECT_EQ(rendered->config["runtime"], "http");
  EXPECT_EQ(rendered->config["http"], (json{{"port", 3000}, {"path", "/events"}}));
  EXPECT_EQ(rendered->config["concurrency"], 8);
  EXPECT_FALSE(rendered->config.contains("codeDir"));
  json defaults = kHttpSpec;
  defaults.erase("http");
  rendered = spec::renderRuntimeConfig(function(defaults), {});
  ASSERT_TRUE(rendered.isOk());
  EXPECT_EQ(rendered->config["http"], (json{{"port", 8000}, {"path", "/"}}));
}

// Warm pods are pooled by their spec: a BYO Function adopts only warm pods of
// its own image and protocol, never a plain runtime's, nor another image's.
TEST(PodTemplateProtocolTest, WarmPoolsDifferByImageAndProtocol) {
  const json plain = function({{"code", {{"inline", "def main_handler(e, c): return e"}}}});
  json otherImage = kPythonSpec;
  otherImage["image"] = "registry.example/team/py-numpy:1";
  std::set<std::string> pools;
  for (const json& fn : {plain, function(kPythonSpec), function(otherImage), function(kHttpSpec)}) {
    auto rendered = spec::renderRuntimeConfig(fn, {});
    ASSERT_TRUE(rendered.isOk());
    auto warm = buildWarmPod(fn, *rendered, kOptions);
    ASSERT_TRUE(warm.isOk()) << warm.status().toString();
    pools.insert(warmPoolOf(*warm));
    EXPECT_EQ((*warm)["spec"]["containers"][0]["args"][0], "--warm");
  }
  EXPECT_EQ(pools.size(), 4u);
}

TEST(PodTemplateProtocolTest, PythonNeedsTheOperatorsRuntimeImage) {
  auto rendered = spec::renderRuntimeConfig(function(kPythonSpec), {});
  ASSERT_TRUE(rendered.isOk());
  PodTemplateOptions options = kOptions;
  options.runtimeImage.clear();
  auto pod = buildReplicaPod(function(kPythonSpec), *rendered, options);
  ASSERT_FALSE(pod.isOk());
  EXPECT_EQ(pod.status().message(),
            "spec.protocol: python needs the operator's runtime image to copy the runtime from");
}

}  // namespace
}  // namespace sluice::platform
