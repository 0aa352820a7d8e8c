// ObjectCache: the informer's thread-safe store of objects, keyed by
// "namespace/name" and indexed by namespace, labels ("key=value") and owner
// UID, so controllers find a Function's pods without scanning everything.
// Objects are held as shared_ptr<const Json>: readers get cheap snapshots that
// stay valid after the cache moves on. Thread-safe (reader/writer lock).
//
// byIndex() adds indexes of the caller's own (client-go's Indexers): the first lookup under a name
// indexes every object with the given function, and from then on each change keeps that index
// current, so a lookup costs the objects it finds, not the objects in the cache.
#pragma once

#include <functional>
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
// The values an object is found under in one index (none: not in it).
using IndexFunc = std::function<std::vector<std::string>(const Json&)>;

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
  // Lookups (byNamespace, byLabel, byOwnerUid, byIndex) return objects in key order
  // ("namespace/name", byte-wise), as the indexes keep the keys sorted: callers may rely on it.
  // The objects `valuesOf` puts under `value` in the index `name`. Every call with one name must
  // pass the same function: the first builds the index with it, later ones use the one kept.
  std::vector<ObjectPtr> byIndex(const std::string& name, const IndexFunc& valuesOf, const std::string& value) const;
  size_t size() const;

 private:
  using Index = std::map<std::string, std::set<std::string>>;  // index value -> keys
  static void updateIndex(Index& index, const std::string& key, const std::string& value, bool add);
  void indexLocked(const std::string& key, const Json& object, bool add);
  std::vector<ObjectPtr> lookupLocked(const Index& index, const std::string& value) const;
  struct CustomIndex {
    IndexFunc valuesOf;
    Index index;
  };

  mutable std::shared_mutex mu_;
  std::map<std::string, ObjectPtr> objects_;
  Index byNamespace_;
  Index byLabel_;
  Index byOwner_;
  // Built on first use by a const lookup: logically part of the cache's state, not of its contents.
  mutable std::map<std::string, CustomIndex> custom_;
};

}  // namespace sluice::kube
