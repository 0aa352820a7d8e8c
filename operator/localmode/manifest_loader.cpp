#include "localmode/manifest_loader.h"

#include <sys/stat.h>

#include "common/logging.h"
#include "localmode/manifests.h"
#include "spec/resources.h"

namespace sluice::localmode {

using nlohmann::json;

namespace {

// The kinds a manifest may hold (manifests.h validates that).
const kube::ResourceType* typeOf(const std::string& kind) {
  if (kind == "Function") return &spec::kFunctions;
  if (kind == "Trigger") return &spec::kTriggers;
  if (kind == "Secret") return &kube::resources::kSecrets;
  return nullptr;
}

}  // namespace

ManifestLoader::ManifestLoader(std::string dir, kube::InMemoryResourceClient& store)
    : dir_(std::move(dir)), store_(store) {}

std::vector<std::string> ManifestLoader::reload() {
  std::vector<std::string> errors = readChangedFiles();
  store();
  return errors;
}

std::vector<std::string> ManifestLoader::readChangedFiles() {
  std::vector<std::string> errors;
  std::set<std::string> present;
  for (const std::string& path : manifestPaths(dir_)) {
    present.insert(path);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    const long long mtime = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
    FileState& state = files_[path];
    if (state.mtimeNs == mtime && state.size == static_cast<long long>(st.st_size)) continue;
    state.mtimeNs = mtime;
    state.size = st.st_size;
    ManifestFile file = loadManifestFile(path, CrdValidator::builtin());
    if (!file.errors.empty()) {
      for (const std::string& error : file.errors) SLUICE_LOG_ERROR("local: {}", error);
      errors.insert(errors.end(), file.errors.begin(), file.errors.end());
      if (!state.objects.empty()) {
        SLUICE_LOG_WARN("local: {}: keeping its {} object(s) as they were before this change", path,
                        state.objects.size());
      }
      continue;
    }
    SLUICE_LOG_INFO("local: {}: {} object(s)", path, file.objects.size());
    state.objects = std::move(file.objects);
  }
  std::erase_if(files_, [&present](const auto& entry) { return !present.contains(entry.first); });
  return errors;
}

void ManifestLoader::store() {
  std::map<ObjectId, json> wanted;
  for (const auto& [path, state] : files_) {
    for (const json& object : state.objects) {
      ObjectId id{object.value("kind", std::string()), kube::objectKey(object)};
      if (wanted.contains(id)) SLUICE_LOG_WARN("local: {} {} is defined twice; {} wins", id.first, id.second, path);
      wanted[id] = object;
    }
  }
  std::set<ObjectId> loaded;
  for (const auto& [id, object] : wanted) {
    const kube::ResourceType* type = typeOf(id.first);
    if (!type) continue;
    store_.putKeepingStatus(*type, object);
    loaded.insert(id);
  }
  for (const ObjectId& id : loaded_) {
    if (loaded.contains(id)) continue;
    SLUICE_LOG_INFO("local: {} {} removed", id.first, id.second);
    const size_t slash = id.second.find('/');
    (void)store_.remove(*typeOf(id.first), id.second.substr(0, slash), id.second.substr(slash + 1));
  }
  loaded_ = std::move(loaded);
}

}  // namespace sluice::localmode
