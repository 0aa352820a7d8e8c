#include "kube/kube_client.h"

#include "common/encoding.h"
#include "kube/api_error.h"
#include "kube/cpprest_transport.h"

namespace sluice::kube {
namespace {

void addParam(std::string& query, const std::string& name, const std::string& value) {
  if (value.empty()) return;
  query += query.empty() ? "?" : "&";
  query += name + "=" + percentEncode(value);
}

std::string where(const std::string& method, const std::string& path) { return method + " " + path; }

}  // namespace

std::string objectKey(const std::string& ns, const std::string& name) { return ns.empty() ? name : ns + "/" + name; }

std::string objectKey(const Json& object) {
  const Json& meta = object.contains("metadata") ? object["metadata"] : Json::object();
  return objectKey(meta.value("namespace", ""), meta.value("name", ""));
}

Result<Json> ResourceClient::apply(const ResourceType& type, const Json& object, const std::string& fieldManager,
                                   bool force, const std::string& subresource) {
  const Json& meta = object.contains("metadata") ? object["metadata"] : Json::object();
  Json body = object;
  if (!body.contains("apiVersion")) body["apiVersion"] = type.apiVersion();
  if (!body.contains("kind")) body["kind"] = type.kind;
  return patch(type, meta.value("namespace", ""), meta.value("name", ""), PatchType::kApply, body,
               PatchOptions{fieldManager, force, subresource});
}

Result<Json> KubeClient::call(const std::string& method, const std::string& pathAndQuery, const std::string& body,
                              const std::string& contentType) {
  HttpRequest request;
  request.method = method;
  request.pathAndQuery = pathAndQuery;
  request.body = body;
  request.contentType = contentType;
  auto response = transport_->send(request);
  if (!response) return response.status();
  if (response->status < 200 || response->status >= 300) {
    return apiError(response->status, response->body).withContext(where(method, pathAndQuery));
  }
  if (response->body.empty()) return Json::object();
  auto parsed = Json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return internalError(where(method, pathAndQuery) + ": response is not JSON");
  return parsed;
}

Result<Json> KubeClient::get(const ResourceType& type, const std::string& ns, const std::string& name) {
  return call("GET", type.path(ns, name));
}

Result<Json> KubeClient::list(const ResourceType& type, const std::string& ns, const ListOptions& options) {
  std::string query;
  addParam(query, "labelSelector", options.labelSelector);
  addParam(query, "fieldSelector", options.fieldSelector);
  if (options.limit > 0) addParam(query, "limit", std::to_string(options.limit));
  addParam(query, "continue", options.continueToken);
  addParam(query, "resourceVersion", options.resourceVersion);
  return call("GET", type.path(ns) + query);
}

Result<Json> KubeClient::create(const ResourceType& type, const std::string& ns, const Json& object) {
  return call("POST", type.path(ns), object.dump(), "application/json");
}

Result<Json> KubeClient::replace(const ResourceType& type, const Json& object, const std::string& subresource) {
  const Json& meta = object.contains("metadata") ? object["metadata"] : Json::object();
  std::string name = meta.value("name", "");
  if (name.empty()) return invalidArgument("update of " + type.resource + ": metadata.name is empty");
  return call("PUT", type.path(meta.value("namespace", ""), name, subresource), object.dump(), "application/json");
}

Result<Json> KubeClient::update(const ResourceType& type, const Json& object) { return replace(type, object, ""); }

Result<Json> KubeClient::updateStatus(const ResourceType& type, const Json& object) {
  return replace(type, object, "status");
}

Status KubeClient::remove(const ResourceType& type, const std::string& ns, const std::string& name,
                          const DeleteOptions& options) {
  Json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (!options.propagationPolicy.empty()) body["propagationPolicy"] = options.propagationPolicy;
  if (!options.preconditionUid.empty()) body["preconditions"]["uid"] = options.preconditionUid;
  if (!options.preconditionResourceVersion.empty()) {
    body["preconditions"]["resourceVersion"] = options.preconditionResourceVersion;
  }
  auto result = call("DELETE", type.path(ns, name), body.dump(), "application/json");
  return result.status();
}

Result<Json> KubeClient::patch(const ResourceType& type, const std::string& ns, const std::string& name,
                               PatchType patchType, const Json& patchBody, const PatchOptions& options) {
  std::string contentType;
  switch (patchType) {
    case PatchType::kMerge: contentType = "application/merge-patch+json"; break;
    case PatchType::kJson: contentType = "application/json-patch+json"; break;
    case PatchType::kStrategicMerge: contentType = "application/strategic-merge-patch+json"; break;
    case PatchType::kApply: contentType = "application/apply-patch+yaml"; break;  // JSON is valid YAML
  }
  if (patchType == PatchType::kApply && options.fieldManager.empty()) {
    return invalidArgument("server-side apply of " + type.resource + "/" + name + ": fieldManager is required");
  }
  std::string query;
  addParam(query, "fieldManager", options.fieldManager);
  if (options.force) addParam(query, "force", "true");
  return call("PATCH", type.path(ns, name, options.subresource) + query, patchBody.dump(), contentType);
}

Status KubeClient::watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                         const std::function<void(WatchEvent&&)>& onEvent, std::stop_token stop) {
  std::string query = "?watch=true";
  addParam(query, "resourceVersion", options.resourceVersion);
  addParam(query, "labelSelector", options.labelSelector);
  addParam(query, "fieldSelector", options.fieldSelector);
  if (options.allowBookmarks) addParam(query, "allowWatchBookmarks", "true");
  if (options.timeoutSeconds > 0) addParam(query, "timeoutSeconds", std::to_string(options.timeoutSeconds));
  HttpRequest request;
  request.pathAndQuery = type.path(ns) + query;
  // The server closes the watch after timeoutSeconds; the idle timer must outlast that.
  request.idleTimeout = std::chrono::seconds(std::max(options.timeoutSeconds, 60) + 30);

  Status streamError;
  auto onLine = [&](std::string_view line) {
    auto event = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object() || !event.contains("type") || !event.contains("object")) {
      streamError = internalError("watch " + type.resource + ": malformed event line");
      return false;
    }
    const std::string kind = event["type"].get<std::string>();
    WatchEventType eventType;
    if (kind == "ADDED") {
      eventType = WatchEventType::kAdded;
    } else if (kind == "MODIFIED") {
      eventType = WatchEventType::kModified;
    } else if (kind == "DELETED") {
      eventType = WatchEventType::kDeleted;
    } else if (kind == "BOOKMARK") {
      eventType = WatchEventType::kBookmark;
    } else {
      // ERROR carries a metav1.Status; 410 means our resourceVersion was compacted away.
      const Json& s = event["object"];
      streamError = apiError(s.value("code", 500), s.dump()).withContext("watch " + type.resource);
      return false;
    }
    onEvent(WatchEvent{eventType, std::move(event["object"])});
    return true;
  };
  auto response = transport_->stream(request, onLine, stop);
  if (!response) return response.status();
  if (response->status < 200 || response->status >= 300) {
    return apiError(response->status, response->body).withContext("watch " + type.resource);
  }
  return streamError;
}

Result<ConnectedClient> connect(const std::string& kubeconfigPath, Clock& clock, TransportOptions options) {
  auto config = kubeconfigPath.empty() ? inClusterConfig() : loadKubeconfig(kubeconfigPath);
  if (!config) return config.status();
  auto transport = makeCpprestTransport(*config, clock, options);
  if (!transport) return transport.status();
  return ConnectedClient{*config, std::make_shared<KubeClient>(std::shared_ptr<Transport>(std::move(*transport)))};
}

}  // namespace sluice::kube
