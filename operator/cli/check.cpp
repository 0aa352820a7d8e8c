#include "cli/check.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/v1alpha1/crd_validator.h"
#include "common/yaml.h"
#include "localmode/manifests.h"

namespace sluice::cli {

namespace {

using nlohmann::json;

// The 1-based line of the first occurrence of `needle` in `text` (1 when absent).
int lineOf(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  if (at == std::string::npos) return 1;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
}

std::string describeObject(const json& object) {
  const json& meta = object.value("metadata", json::object());
  return object.value("kind", std::string("?")) + " " + meta.value("namespace", std::string("default")) + "/" +
         meta.value("name", std::string("?"));
}

// The objects of one valid file as written, with code files inlined; errors when a code file is wrong.
void readRaw(const std::string& path, const std::string& text, CheckReport& report) {
  auto documents = parseYamlDocuments(text);
  if (!documents.isOk()) return;  // the validator has reported it
  const std::string baseDir = std::filesystem::path(path).parent_path().string();
  const auto& validator = api::v1alpha1::CrdValidator::builtin();
  for (YamlDocument& document : *documents) {
    json object = document.value;
    if (Status inlined = inlineCodeFile(object, baseDir); !inlined.isOk()) {
      report.errors.push_back(path + ":" + std::to_string(lineOf(text, kCodeFileAnnotation)) + ": " +
                              describeObject(object) + ": " + inlined.message());
      continue;
    }
    if (object.value("kind", std::string()) == "Function" && object.contains("metadata") &&
        object["metadata"].contains("annotations") && object["metadata"]["annotations"].contains(kCodeFileAnnotation)) {
      json defaulted = object;
      for (const auto& error : validator.validate(defaulted)) {
        report.errors.push_back(path + ":" + std::to_string(lineOf(text, kCodeFileAnnotation)) + ": " +
                                describeObject(object) + ": " + error.message);
      }
    }
    report.objects.push_back(std::move(object));
  }
}

void checkFile(const std::string& path, CheckReport& report) {
  report.files.push_back(path);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  localmode::ManifestFile file =
      in ? localmode::parseManifests(path, text.str(), api::v1alpha1::CrdValidator::builtin())
         : localmode::loadManifestFile(path, api::v1alpha1::CrdValidator::builtin());
  report.errors.insert(report.errors.end(), file.errors.begin(), file.errors.end());
  if (file.errors.empty()) readRaw(path, text.str(), report);
}

}  // namespace

Status inlineCodeFile(json& object, const std::string& baseDir) {
  const json* annotations = nullptr;
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object() &&
      object["metadata"].contains("annotations")) {
    annotations = &object["metadata"]["annotations"];
  }
  if (annotations == nullptr || !annotations->is_object() || !annotations->contains(kCodeFileAnnotation)) {
    return Status::ok();
  }
  const std::string field = std::string("metadata.annotations[") + kCodeFileAnnotation + "]";
  const json& name = (*annotations)[kCodeFileAnnotation];
  if (!name.is_string() || name.get<std::string>().empty()) return invalidArgument(field + ": must name a file");
  std::filesystem::path file = std::filesystem::path(baseDir) / name.get<std::string>();
  std::ifstream in(file, std::ios::binary);
  if (!in) return invalidArgument(field + ": cannot read " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  if (!object.contains("spec") || !object["spec"].is_object()) object["spec"] = json::object();
  object["spec"]["code"] = {{"inline", text.str()}};
  return Status::ok();
}

CheckReport checkPath(const std::string& path) {
  CheckReport report;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    for (const std::string& file : localmode::manifestPaths(path)) checkFile(file, report);
    return report;
  }
  if (!std::filesystem::exists(path, ec)) {
    report.errors.push_back(path + ": no such file or directory");
    return report;
  }
  checkFile(path, report);
  return report;
}

}  // namespace sluice::cli
