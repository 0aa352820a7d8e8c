#include "localmode/manifests.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/encoding.h"
#include "common/yaml.h"

namespace sluice::localmode {

using nlohmann::json;

namespace {

// A v1 Secret, as `kubectl apply` takes it: how Triggers and outputs get their
// credentials without putting them in a spec. stringData is folded into data
// (base64), as the apiserver does.
std::vector<FieldError> validateSecret(json& object) {
  std::vector<FieldError> errors;
  if (object.value("apiVersion", json("")) != "v1") {
    errors.push_back({"/apiVersion", "apiVersion: Unsupported value: " + object.value("apiVersion", json("")).dump() +
                                         ": supported values: \"v1\""});
    return errors;
  }
  const json& meta = object.value("metadata", json::object());
  if (!meta.is_object() || !meta.contains("name") || !meta["name"].is_string() ||
      meta["name"].get<std::string>().empty()) {
    errors.push_back({"/metadata/name", "metadata.name: Required value: name is required"});
  }
  for (const char* field : {"data", "stringData"}) {
    if (!object.contains(field)) continue;
    if (!object[field].is_object()) {
      errors.push_back({std::string("/") + field, std::string(field) + ": Invalid value: must be a map of strings"});
      continue;
    }
    for (const auto& [key, value] : object[field].items()) {
      const std::string pointer = std::string("/") + field + "/" + key;
      if (!value.is_string()) {
        errors.push_back({pointer, std::string(field) + "[" + key + "]: Invalid value: must be a string"});
      } else if (std::string(field) == "data" && !base64Decode(value.get<std::string>()).isOk()) {
        errors.push_back({pointer, "data[" + key + "]: Invalid value: not base64 (use stringData for plain text)"});
      }
    }
  }
  if (errors.empty() && object.contains("stringData")) {
    for (const auto& [key, value] : object["stringData"].items()) {
      object["data"][key] = base64Encode(value.get<std::string>());
    }
    object.erase("stringData");
  }
  return errors;
}

}  // namespace

ManifestFile parseManifests(const std::string& path, const std::string& text, const CrdValidator& validator) {
  ManifestFile out;
  out.path = path;
  auto documents = parseYamlDocuments(text);
  if (!documents.isOk()) {
    // yaml-cpp's message starts with "line N, column M"; make it path:N: like the others.
    const std::string& message = documents.status().message();
    std::string line = "1";
    if (message.rfind("line ", 0) == 0) line = message.substr(5, message.find_first_not_of("0123456789", 5) - 5);
    out.errors.push_back(path + ":" + line + ": invalid YAML: " + message);
    return out;
  }
  std::vector<json> objects;
  for (YamlDocument& document : *documents) {
    json& object = document.value;
    std::string what;
    if (object.is_object()) {
      const json& meta = object.value("metadata", json::object());
      if (!meta.is_object()) {
        what = object.value("kind", json("")).dump() + " ";
      } else {
        const std::string ns = meta.value("namespace", json("default")).is_string()
                                   ? meta.value("namespace", std::string("default"))
                                   : std::string("default");
        what = (object.value("kind", json("")).is_string() ? object.value("kind", std::string()) : std::string("?")) +
               " " + ns + "/" +
               (meta.value("name", json("")).is_string() ? meta.value("name", std::string()) : std::string("?")) + ": ";
      }
    }
    const bool secret = object.is_object() && object.value("kind", json("")) == "Secret";
    std::vector<FieldError> errors = secret ? validateSecret(object) : validator.validate(object);
    for (const FieldError& error : errors) {
      out.errors.push_back(path + ":" + std::to_string(document.lineOf(error.pointer)) + ": " + what + error.message);
    }
    if (errors.empty()) {
      if (!object["metadata"].contains("namespace")) object["metadata"]["namespace"] = "default";
      objects.push_back(std::move(object));
    }
  }
  if (out.errors.empty()) out.objects = std::move(objects);
  return out;
}

ManifestFile loadManifestFile(const std::string& path, const CrdValidator& validator) {
  std::ifstream in(path);
  if (!in) {
    ManifestFile out;
    out.path = path;
    out.errors.push_back(path + ":1: cannot read the file");
    return out;
  }
  std::stringstream text;
  text << in.rdbuf();
  return parseManifests(path, text.str(), validator);
}

std::vector<std::string> manifestPaths(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string ext = it->path().extension().string();
    if (name.empty() || name[0] == '.' || (ext != ".yaml" && ext != ".yml")) continue;
    if (!it->is_regular_file(ec)) continue;
    out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace sluice::localmode
