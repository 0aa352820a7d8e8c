// `sluice init`: every template writes a directory that `sluice check`
// accepts (0 errors, a Function and a Trigger), the python template's
// handler.py is what the checked Function runs, the seed scenarios are the
// examples themselves, and bad names, unknown templates and existing files
// are refused naming the flag or file.
#include "cli/templates.h"

#include <gtest/gtest.h>

#include "cli/app.h"
#include "cli/check.h"
#include "cli_harness.h"

namespace sluice::cli {
namespace {

using testing::Harness;
using testing::TempDir;

TEST(TemplatesTest, EveryTemplatePassesCheck) {
  Harness h;
  TempDir root;
  ASSERT_EQ(templateNames().size(), 9u);
  for (const std::string& name : templateNames()) {
    const std::string dir = (root.path / name).string();
    ASSERT_EQ(h.run({"init", dir, "--template", name}), kExitOk) << name << ": " << h.err.str();
    EXPECT_EQ(h.run({"check", dir}), kExitOk) << name << ": " << h.out.str();
    EXPECT_EQ(h.out.str(), dir + ": 2 object(s), no errors\n") << name;
    CheckReport report = checkPath(dir);
    ASSERT_EQ(report.objects.size(), 2u) << name;
    EXPECT_EQ(report.objects[0]["kind"], "Function") << name;
    EXPECT_EQ(report.objects[1]["kind"], "Trigger") << name;
    EXPECT_EQ(report.objects[1]["spec"]["functionRef"]["name"], report.objects[0]["metadata"]["name"]) << name;
  }
}

TEST(TemplatesTest, PythonTemplateRunsHandlerPyAndTakesTheDirectoryName) {
  Harness h;
  TempDir root;
  const std::string dir = (root.path / "greeter").string();
  ASSERT_EQ(h.run({"init", dir}), kExitOk) << h.err.str();
  // An edit to handler.py is what the checked (and applied) Function carries.
  testing::writeText(root.path / "greeter/handler.py", "def main_handler(event, context):\n    return 'edited'\n");
  CheckReport report = checkPath(dir);
  ASSERT_TRUE(report.errors.empty()) << report.errors[0];
  EXPECT_EQ(report.objects[0]["metadata"]["name"], "greeter");
  EXPECT_EQ(report.objects[0]["spec"]["code"]["inline"], "def main_handler(event, context):\n    return 'edited'\n");
  EXPECT_EQ(report.objects[1]["metadata"]["name"], "greeter-http");
  EXPECT_EQ(report.objects[1]["spec"]["http"]["path"], "/greeter");
}

// The bring-your-own-image templates pass `sluice check` as they are (EveryTemplatePassesCheck) and
// carry the contract of docs/handler-images.md: protocol python runs handler.py in the image's Python
// 3.11; protocol http runs the image's server on the port the CRD allows (not 8080/8090).
TEST(TemplatesTest, ByoImageTemplatesCheckAndCarryTheirProtocol) {
  Harness h;
  TempDir root;
  const std::string py = (root.path / "enrich").string();
  ASSERT_EQ(h.run({"init", py, "-t", "byo-python"}), kExitOk) << h.err.str();
  EXPECT_EQ(h.run({"check", py}), kExitOk) << h.out.str();
  CheckReport report = checkPath(py);
  ASSERT_EQ(report.objects.size(), 2u);
  const auto& fn = report.objects[0]["spec"];
  EXPECT_EQ(fn["protocol"], "python");
  EXPECT_EQ(fn["image"], "docker.io/library/python:3.11-slim");
  EXPECT_EQ(fn["code"]["inline"], testing::readText(root.path / "enrich/handler.py"));
  EXPECT_TRUE(std::filesystem::exists(root.path / "enrich/Containerfile"));

  const std::string node = (root.path / "resize").string();
  ASSERT_EQ(h.run({"init", node, "-t", "byo-http"}), kExitOk) << h.err.str();
  EXPECT_EQ(h.run({"check", node}), kExitOk) << h.out.str();
  report = checkPath(node);
  ASSERT_EQ(report.objects.size(), 2u);
  const auto& http = report.objects[0]["spec"];
  EXPECT_EQ(http["protocol"], "http");
  EXPECT_EQ(http["image"], "registry.example/resize:1");
  EXPECT_EQ(http["http"]["port"], 8000);
  EXPECT_FALSE(http.contains("code"));
  EXPECT_EQ(report.objects[1]["spec"]["http"]["path"], "/resize");
  // The CRD's rule holds for the template too: the runtime's ports are refused, naming the field.
  std::string text = testing::readText(root.path / "resize/function.yaml");
  testing::writeText(root.path / "resize/function.yaml", testing::replaceAll(text, "port: 8000", "port: 8080"));
  EXPECT_EQ(h.run({"check", node}), kExitUsage);
  EXPECT_NE(h.out.str().find("spec.http.port"), std::string::npos) << h.out.str();
}

TEST(TemplatesTest, ScenarioTemplateIsTheExampleSplitInTwo) {
  auto files = renderTemplate("cron-timer", "");
  ASSERT_TRUE(files.isOk());
  ASSERT_EQ(files->size(), 2u);
  const std::string example =
      testing::readText(std::filesystem::path(SLUICE_SOURCE_DIR) / "examples/04-cron-timer/nightly-report.yaml");
  EXPECT_EQ((*files)[0].text + "---\n" + (*files)[1].text, example);
  EXPECT_NE((*files)[1].text.find("kind: Trigger"), std::string::npos);
}

TEST(TemplatesTest, BadNamesAndTemplatesAreRefused) {
  Harness h;
  TempDir root;
  EXPECT_EQ(h.run({"init", (root.path / "x").string(), "--name", "Bad_Name"}), kExitUsage);
  EXPECT_EQ(h.err.str(),
            "sluice init: --name: \"Bad_Name\" is not a valid name (lower-case letters, digits and '-', starting and "
            "ending with a letter or digit, at most 63 characters)\n");
  EXPECT_EQ(h.run({"init", (root.path / "x").string(), "-t", "java"}), kExitUsage);
  EXPECT_EQ(h.err.str(),
            "sluice init: --template: no template java (one of python, pipeline, byo-python, byo-http, cron-timer, "
            "kafka-mirror, log-cleansing, moderation, stream-pull)\n");
  EXPECT_EQ(h.run({"init", (root.path / "x").string(), "-t", "moderation", "--name", "mine"}), kExitUsage);
  EXPECT_FALSE(std::filesystem::exists(root.path / "x"));
}

TEST(TemplatesTest, ExistingFilesAreKeptUnlessForced) {
  Harness h;
  TempDir root;
  const std::string dir = (root.path / "fn").string();
  testing::writeText(root.path / "fn/handler.py", "mine\n");
  EXPECT_EQ(h.run({"init", dir}), kExitUsage);
  EXPECT_EQ(h.err.str(), "sluice init: " + dir + "/handler.py exists already (--force overwrites it)\n");
  EXPECT_FALSE(std::filesystem::exists(root.path / "fn/function.yaml"));  // nothing written
  EXPECT_EQ(testing::readText(root.path / "fn/handler.py"), "mine\n");
  EXPECT_EQ(h.run({"init", dir, "--force"}), kExitOk);
  EXPECT_NE(testing::readText(root.path / "fn/handler.py"), "mine\n");
}

TEST(TemplatesTest, ListNamesEveryTemplate) {
  Harness h;
  EXPECT_EQ(h.run({"init", "--list"}), kExitOk);
  EXPECT_EQ(
      h.out.str(),
      "python\npipeline\nbyo-python\nbyo-http\ncron-timer\nkafka-mirror\nlog-cleansing\nmoderation\nstream-pull\n");
}

}  // namespace
}  // namespace sluice::cli
