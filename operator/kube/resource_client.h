// ResourceClient: access to any Kubernetes resource as JSON (nlohmann::json).
//
// The interface controllers depend on, so reconcile logic can be unit-tested
// with an in-memory fake and runs against the apiserver through KubeClient.
// Errors are Status values built by apiError() (the API's reason and message
// are in the message). Implementations are thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "kube/resource.h"

namespace sluice::kube {

using Json = nlohmann::json;

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int limit = 0;              // page size; 0 = everything at once
  std::string continueToken;  // from the previous page's metadata.continue
  std::string resourceVersion;
};

struct DeleteOptions {
  std::string propagationPolicy;  // "", "Foreground", "Background", "Orphan"
  std::string preconditionUid;
  std::string preconditionResourceVersion;
};

enum class PatchType { kMerge, kJson, kStrategicMerge, kApply };

struct PatchOptions {
  std::string fieldManager;
  bool force = false;       // server-side apply only: take ownership of conflicting fields
  std::string subresource;  // "status" for status writes
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark };

struct WatchEvent {
  WatchEventType type;
  Json object;
};

struct WatchOptions {
  std::string resourceVersion;
  std::string labelSelector;
  std::string fieldSelector;
  bool allowBookmarks = true;
  int timeoutSeconds = 300;  // the server ends the watch after this; the caller resumes
};

class ResourceClient {
 public:
  virtual ~ResourceClient() = default;

  virtual Result<Json> get(const ResourceType& type, const std::string& ns, const std::string& name) = 0;
  // One page (or everything when limit is 0): a List object with items and metadata.continue.
  virtual Result<Json> list(const ResourceType& type, const std::string& ns, const ListOptions& options) = 0;
  virtual Result<Json> create(const ResourceType& type, const std::string& ns, const Json& object) = 0;
  // Replaces the object; fails with kConflict when metadata.resourceVersion is stale.
  virtual Result<Json> update(const ResourceType& type, const Json& object) = 0;
  virtual Result<Json> updateStatus(const ResourceType& type, const Json& object) = 0;
  virtual Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                        const DeleteOptions& options = {}) = 0;
  virtual Result<Json> patch(const ResourceType& type, const std::string& ns, const std::string& name,
                             PatchType patchType, const Json& patch, const PatchOptions& options = {}) = 0;
  // Blocks, delivering events in order, until the server ends the watch (OK),
  // the resourceVersion is too old (kGone), `stop` is requested (kCancelled),
  // or the connection fails.
  virtual Status watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                       const std::function<void(WatchEvent&&)>& onEvent, std::stop_token stop) = 0;

  // Server-side apply of a whole (partial) object: kind/apiVersion/metadata.name required.
  Result<Json> apply(const ResourceType& type, const Json& object, const std::string& fieldManager, bool force = false,
                     const std::string& subresource = "");
};

// "namespace/name", or "name" for cluster-scoped objects: the cache and work-queue key.
std::string objectKey(const Json& object);
std::string objectKey(const std::string& ns, const std::string& name);

}  // namespace sluice::kube
