#include "kube/object_cache.h"

#include <mutex>

namespace sluice::kube {

void ObjectCache::updateIndex(Index& index, const std::string& key, const std::string& value, bool add) {
  if (add) {
    index[value].insert(key);
  } else if (auto it = index.find(value); it != index.end()) {
    it->second.erase(key);
    if (it->second.empty()) index.erase(it);
  }
}

void ObjectCache::indexLocked(const std::string& key, const Json& object, bool add) {
  auto update = [&](Index& index, const std::string& value) { updateIndex(index, key, value, add); };
  for (auto& [name, custom] : custom_) {
    for (const std::string& value : custom.valuesOf(object)) update(custom.index, value);
  }
  const Json& meta = object.contains("metadata") ? object["metadata"] : Json::object();
  update(byNamespace_, meta.value("namespace", ""));
  if (meta.contains("labels") && meta["labels"].is_object()) {
    for (auto& [k, v] : meta["labels"].items()) {
      if (v.is_string()) update(byLabel_, k + "=" + v.get<std::string>());
    }
  }
  if (meta.contains("ownerReferences") && meta["ownerReferences"].is_array()) {
    for (auto& ref : meta["ownerReferences"]) {
      if (ref.is_object()) update(byOwner_, ref.value("uid", ""));
    }
  }
}

ObjectPtr ObjectCache::upsert(ObjectPtr object) {
  std::string key = objectKey(*object);
  std::unique_lock lock(mu_);
  ObjectPtr previous;
  auto it = objects_.find(key);
  if (it != objects_.end()) {
    previous = it->second;
    indexLocked(key, *previous, false);
    it->second = object;
  } else {
    objects_.emplace(key, object);
  }
  indexLocked(key, *object, true);
  return previous;
}

ObjectPtr ObjectCache::erase(const std::string& key) {
  std::unique_lock lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return nullptr;
  ObjectPtr previous = it->second;
  indexLocked(key, *previous, false);
  objects_.erase(it);
  return previous;
}

ObjectPtr ObjectCache::get(const std::string& key) const {
  std::shared_lock lock(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> ObjectCache::list() const {
  std::shared_lock lock(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (auto& [key, object] : objects_) out.push_back(object);
  return out;
}

std::vector<std::string> ObjectCache::keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (auto& [key, object] : objects_) out.push_back(key);
  return out;
}

std::vector<ObjectPtr> ObjectCache::lookupLocked(const Index& index, const std::string& value) const {
  std::vector<ObjectPtr> out;
  auto it = index.find(value);
  if (it == index.end()) return out;
  for (auto& key : it->second) out.push_back(objects_.at(key));  // std::set: in key order, as the header promises
  return out;
}

std::vector<ObjectPtr> ObjectCache::byNamespace(const std::string& ns) const {
  std::shared_lock lock(mu_);
  return lookupLocked(byNamespace_, ns);
}

std::vector<ObjectPtr> ObjectCache::byLabel(const std::string& label, const std::string& value) const {
  std::shared_lock lock(mu_);
  return lookupLocked(byLabel_, label + "=" + value);
}

std::vector<ObjectPtr> ObjectCache::byOwnerUid(const std::string& uid) const {
  std::shared_lock lock(mu_);
  return lookupLocked(byOwner_, uid);
}

std::vector<ObjectPtr> ObjectCache::byIndex(const std::string& name, const IndexFunc& valuesOf,
                                            const std::string& value) const {
  {
    std::shared_lock lock(mu_);
    if (auto it = custom_.find(name); it != custom_.end()) return lookupLocked(it->second.index, value);
  }
  std::unique_lock lock(mu_);
  auto [it, added] = custom_.try_emplace(name, CustomIndex{valuesOf, {}});
  if (added) {
    for (const auto& [key, object] : objects_) {
      for (const std::string& indexed : valuesOf(*object)) updateIndex(it->second.index, key, indexed, true);
    }
  }
  return lookupLocked(it->second.index, value);
}

size_t ObjectCache::size() const {
  std::shared_lock lock(mu_);
  return objects_.size();
}

}  // namespace sluice::kube
