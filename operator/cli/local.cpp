#include "cli/local.h"

#include <filesystem>
#include <fstream>

#include "cli/check.h"

namespace sluice::cli {

namespace {

bool namesCodeFile(const nlohmann::json& object) {
  const nlohmann::json* annotations = nullptr;
  if (object.contains("metadata") && object["metadata"].contains("annotations")) {
    annotations = &object["metadata"]["annotations"];
  }
  return annotations != nullptr && annotations->is_object() && annotations->contains(kCodeFileAnnotation);
}

}  // namespace

Result<std::string> localDirectory(const std::string& dir, const std::string& stageRoot) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return invalidArgument(dir + " is not a directory");
  CheckReport report = checkPath(dir);
  if (!report.errors.empty()) {
    std::string all;
    for (const std::string& error : report.errors) all += (all.empty() ? "" : "\n") + error;
    return invalidArgument(all);
  }
  bool staged = false;
  for (const auto& object : report.objects) staged = staged || namesCodeFile(object);
  if (!staged) return dir;
  fs::create_directories(stageRoot, ec);
  if (ec) return Status(StatusCode::kInternal, "cannot create " + stageRoot + ": " + ec.message());
  std::ofstream out(fs::path(stageRoot) / "manifests.yaml", std::ios::trunc);
  for (const auto& object : report.objects) out << "---\n" << object.dump(2) << "\n";
  if (!out.flush()) return Status(StatusCode::kInternal, "cannot write " + stageRoot + "/manifests.yaml");
  return stageRoot;
}

}  // namespace sluice::cli
