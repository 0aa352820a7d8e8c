// ObjectCache: the informer's thread-safe store of objects, keyed by
// "namespace/name" and indexed by namespace, labels ("key=value") and owner
// UID, so controllers find a Function's pods without scanning everything.
// Objects are held as shared_ptr<const Json>: readers get cheap snapshots that
// stay valid after the cache moves on. Thread-safe (reader/writer lock).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "kube/resource_client.h"

namespace sluice::kube {

using ObjectPtr = std::shared_ptr<const Json>;

class ObjectCache {
 public:
  // Inserts or replaces; returns the previous object (null if new).
  ObjectPtr upsert(ObjectPtr object);
  // Removes by key; returns the removed object (null if absent).
  ObjectPtr erase(const std::string& key);

  ObjectPtr get(const std::string& key) const;
  std::vector<ObjectPtr> list() const;
  std::vector<std::string> keys() const;
  std::vector<ObjectPtr> byNamespace(const std::string& ns) const;
  std::vector<ObjectPtr> byLabel(const std::string& label, const std::string& value) const;
  std::vector<ObjectPtr> byOwnerUid(const std::string& uid) const;
  size_t size() const;

 private:
  using Index = std::map<std::string, std::set<std::string>>;  // index value -> keys
  void indexLocked(const std::string& key, const Json& object, bool add);
  std::vector<ObjectPtr> lookupLocked(const Index& index, const std::string& value) const;

  mutable std::shared_mutex mu_;
  std::map<std::string, ObjectPtr> objects_;
  Index byNamespace_;
  Index byLabel_;
  Index byOwner_;
};

}  // namespace sluice::kube
