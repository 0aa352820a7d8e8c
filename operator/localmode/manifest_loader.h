// ManifestLoader: keeps the Functions, Triggers and Secrets of `sluice-operator
// --local DIR` in the in-memory apiserver as DIR's manifests say. reload()
// re-reads the files that changed: a file with errors keeps its last good
// objects and reports each error once, with file, line and field (other files
// are unaffected); a name defined twice: the later file wins. Objects are put
// as `kubectl apply` would (status kept; an unchanged one is not written, so
// nothing moves), and the ones a file no longer has are deleted. It touches
// only what it put (the controllers' own objects stay).
// Not thread-safe: reload() from one thread.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/memory/in_memory_resource_client.h"

namespace sluice::localmode {

class ManifestLoader {
 public:
  ManifestLoader(std::string dir, kube::InMemoryResourceClient& store);

  // Reads DIR again; returns the errors of files that changed (each reported once).
  std::vector<std::string> reload();

 private:
  struct FileState {
    long long mtimeNs = 0;
    long long size = -1;
    std::vector<nlohmann::json> objects;  // the last good ones
  };
  using ObjectId = std::pair<std::string, std::string>;  // kind, namespace/name

  // Re-reads the files whose size or mtime moved; forgets removed files.
  std::vector<std::string> readChangedFiles();
  // Puts the union of every file's objects and deletes what is no longer in any.
  void store();

  const std::string dir_;
  kube::InMemoryResourceClient& store_;
  std::map<std::string, FileState> files_;
  std::set<ObjectId> loaded_;  // what the last store() put
};

}  // namespace sluice::localmode
