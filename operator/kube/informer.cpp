#include "kube/informer.h"

#include <algorithm>
#include <set>

#include "common/logging.h"

namespace sluice::kube {
namespace {

std::string resourceVersionOf(const Json& object) {
  if (!object.contains("metadata")) return "";
  return object["metadata"].value("resourceVersion", "");
}

std::string uidOf(const Json& object) {
  if (!object.contains("metadata")) return "";
  return object["metadata"].value("uid", "");
}

std::vector<std::string> splitNamespaces(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    std::string ns = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!ns.empty() && std::find(out.begin(), out.end(), ns) == out.end()) out.push_back(std::move(ns));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) out.push_back("");
  return out;
}

// What no controller reads leaves an object before it is cached: its managedFields, and the
// annotation client-side `kubectl apply` keeps, which repeats the whole object (a Function's
// inline code included). They were 47-62 % of the JSON of the pods, Functions and Triggers of
// bench/scale.
void trimForCache(Json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return;
  meta->erase("managedFields");
  auto annotations = meta->find("annotations");
  if (annotations != meta->end() && annotations->is_object()) {
    annotations->erase("kubectl.kubernetes.io/last-applied-configuration");
  }
}

std::string namespaceOfKey(const std::string& key) {
  const size_t slash = key.find('/');
  return slash == std::string::npos ? "" : key.substr(0, slash);
}

}  // namespace

Informer::Informer(ResourceClient& client, ResourceType type, InformerOptions options, Clock& clock)
    : client_(client),
      type_(std::move(type)),
      options_(std::move(options)),
      clock_(clock),
      namespaces_(splitNamespaces(options_.ns)) {}

Informer::~Informer() { stop(); }

void Informer::addHandler(EventHandler handler) {
  std::lock_guard lock(handlersMu_);
  if (synced_.load() && handler.onAdd) {
    for (auto& object : cache_.list()) handler.onAdd(*object);
  }
  handlers_.push_back(std::move(handler));
}

void Informer::start() {
  if (!reflectors_.empty()) return;
  for (const std::string& ns : namespaces_) {
    reflectors_.emplace_back([this, ns](std::stop_token stop) { reflectorLoop(stop, ns); });
  }
  if (options_.resyncPeriod > Clock::Duration::zero()) {
    resync_ = std::jthread([this](std::stop_token stop) { resyncLoop(stop); });
  }
}

void Informer::stop() {
  for (auto& reflector : reflectors_) reflector.request_stop();
  resync_.request_stop();
  for (auto& reflector : reflectors_) {
    if (reflector.joinable()) reflector.join();
  }
  if (resync_.joinable()) resync_.join();
}

bool Informer::waitForSync(std::stop_token stop) {
  std::unique_lock lock(stateMu_);
  return syncedCv_.wait(lock, stop, [&] { return synced_.load(); });
}

std::string Informer::lastResourceVersion() const {
  std::lock_guard lock(stateMu_);
  auto it = resourceVersions_.find(namespaces_.front());
  return it == resourceVersions_.end() ? "" : it->second;
}

Status Informer::listAndReplace(std::stop_token stop, const std::string& ns) {
  std::vector<Json> items;
  std::string listVersion;
  ListOptions listOptions;
  listOptions.labelSelector = options_.labelSelector;
  listOptions.fieldSelector = options_.fieldSelector;
  listOptions.limit = options_.pageSize;
  while (true) {
    if (stop.stop_requested()) return Status(StatusCode::kCancelled, "informer stopped");
    auto page = client_.list(type_, ns, listOptions);
    if (!page) {
      if (page.status().code() == StatusCode::kGone && !listOptions.continueToken.empty()) {
        // The continue token expired mid-list: start the list over from the beginning.
        SLUICE_LOG_INFO("informer {}: continue token expired, restarting the list", type_.resource);
        items.clear();
        listOptions.continueToken.clear();
        continue;
      }
      return page.status();
    }
    Json& list = *page;
    if (list.contains("items") && list["items"].is_array()) {
      for (auto& item : list["items"]) items.push_back(std::move(item));
    }
    const Json& meta = list.contains("metadata") ? list["metadata"] : Json::object();
    // The first page's resourceVersion is the snapshot every page belongs to.
    if (listOptions.continueToken.empty()) listVersion = meta.value("resourceVersion", "");
    std::string next = meta.value("continue", "");
    if (next.empty()) break;
    listOptions.continueToken = next;
  }

  // Counted before the cache or any handler sees the list: whoever has observed a change it made
  // (a handler's call, the synced flag) then finds it in relistCount(), never one behind.
  if (relists_.fetch_add(1) > 0 || watches_.load() > 0) {
    SLUICE_LOG_INFO("informer {}: relisted at resourceVersion {}", type_.resource, listVersion);
  }

  // List items carry no kind/apiVersion; fill them so handlers see whole objects.
  std::lock_guard handlersLock(handlersMu_);
  std::set<std::string> listed;
  for (auto& item : items) {
    if (!item.contains("kind")) item["kind"] = type_.kind;
    if (!item.contains("apiVersion")) item["apiVersion"] = type_.apiVersion();
    trimForCache(item);
    if (options_.transform) options_.transform(item);
    std::string key = objectKey(item);
    listed.insert(key);
    auto object = std::make_shared<const Json>(std::move(item));
    auto previous = cache_.upsert(object);
    if (!previous) {
      for (auto& h : handlers_) {
        if (h.onAdd) h.onAdd(*object);
      }
    } else if (resourceVersionOf(*previous) != resourceVersionOf(*object)) {
      deliverChange(*previous, *object);
    }
  }
  // Whatever the cache holds (of this namespace) that the list did not is gone: deleted while we were not watching.
  for (auto& key : cache_.keys()) {
    if (listed.count(key) || (!ns.empty() && namespaceOfKey(key) != ns)) continue;
    auto removed = cache_.erase(key);
    if (!removed) continue;
    for (auto& h : handlers_) {
      if (h.onDelete) h.onDelete(*removed);
    }
  }
  {
    std::lock_guard lock(stateMu_);
    resourceVersions_[ns] = listVersion;
    synced_ = resourceVersions_.size() == namespaces_.size();
  }
  syncedCv_.notify_all();
  return Status::ok();
}

void Informer::apply(WatchEvent&& event, const std::string& ns) {
  std::string version = resourceVersionOf(event.object);
  if (event.type != WatchEventType::kBookmark) {
    if (!event.object.contains("kind")) event.object["kind"] = type_.kind;
    if (!event.object.contains("apiVersion")) event.object["apiVersion"] = type_.apiVersion();
    trimForCache(event.object);
    if (options_.transform) options_.transform(event.object);
    std::lock_guard handlersLock(handlersMu_);
    if (event.type == WatchEventType::kDeleted) {
      cache_.erase(objectKey(event.object));
      auto last = std::make_shared<const Json>(std::move(event.object));
      for (auto& h : handlers_) {
        if (h.onDelete) h.onDelete(*last);
      }
    } else {
      auto object = std::make_shared<const Json>(std::move(event.object));
      auto previous = cache_.upsert(object);
      if (previous) {
        deliverChange(*previous, *object);
      } else {
        for (auto& h : handlers_) {
          if (h.onAdd) h.onAdd(*object);
        }
      }
    }
    ++eventsApplied_;
  }
  if (!version.empty()) {
    std::lock_guard lock(stateMu_);
    resourceVersions_[ns] = version;
  }
}

void Informer::deliverChange(const Json& previous, const Json& current) {
  // Same name, new UID: the object we knew was deleted and another made under its name while we
  // were not watching (a relist finds only the new one). That is a delete and an add, not an update:
  // a controller lowering its Expectations on deletes and adds (pods named by ordinal are recreated
  // under the same name) would otherwise wait for both until the expectations expire.
  const bool replaced = uidOf(previous) != uidOf(current);
  for (auto& h : handlers_) {
    if (replaced) {
      if (h.onDelete) h.onDelete(previous);
      if (h.onAdd) h.onAdd(current);
    } else if (h.onUpdate) {
      h.onUpdate(previous, current);
    }
  }
}

void Informer::reflectorLoop(std::stop_token stop, const std::string& ns) {
  bool needList = true;
  Clock::Duration backoff = std::chrono::milliseconds(500);
  auto failed = [&](const Status& status, const char* what) {
    SLUICE_LOG_WARN("informer {}: {} failed, retrying in {} ms: {}", type_.resource, what,
                    std::chrono::duration_cast<std::chrono::milliseconds>(backoff).count(), status.toString());
    clock_.sleepFor(backoff, stop);
    backoff = std::min(backoff * 2, options_.maxBackoff);
  };
  while (!stop.stop_requested()) {
    if (needList) {
      auto status = listAndReplace(stop, ns);
      if (status.code() == StatusCode::kCancelled) return;
      if (!status.isOk()) {
        failed(status, "list");
        continue;
      }
      needList = false;
    }
    WatchOptions watchOptions;
    {
      std::lock_guard lock(stateMu_);
      watchOptions.resourceVersion = resourceVersions_[ns];
    }
    watchOptions.labelSelector = options_.labelSelector;
    watchOptions.fieldSelector = options_.fieldSelector;
    watchOptions.allowBookmarks = true;
    watchOptions.timeoutSeconds = options_.watchTimeoutSeconds;
    ++watches_;
    bool sawEvent = false;
    auto status = client_.watch(
        type_, ns, watchOptions,
        [&](WatchEvent&& event) {
          sawEvent = true;
          apply(std::move(event), ns);
        },
        stop);
    if (stop.stop_requested() || status.code() == StatusCode::kCancelled) return;
    if (status.code() == StatusCode::kGone) {
      SLUICE_LOG_INFO("informer {}: resourceVersion {} is too old, relisting", type_.resource,
                      watchOptions.resourceVersion);
      needList = true;
      continue;
    }
    if (!status.isOk()) {
      // Connection lost or server trouble: resume from the last resourceVersion after a pause.
      failed(status, "watch");
      continue;
    }
    if (sawEvent) backoff = std::chrono::milliseconds(500);
  }
}

void Informer::resyncLoop(std::stop_token stop) {
  while (clock_.sleepFor(options_.resyncPeriod, stop)) {
    if (!synced_.load()) continue;
    std::lock_guard handlersLock(handlersMu_);
    for (auto& object : cache_.list()) {
      for (auto& h : handlers_) {
        if (h.onUpdate) h.onUpdate(*object, *object);
      }
    }
  }
}

}  // namespace sluice::kube
