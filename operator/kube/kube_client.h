// KubeClient: ResourceClient over a Transport (the apiserver's REST API).
// Thread-safe (the Transport is).
#pragma once

#include <memory>

#include "common/clock.h"
#include "kube/config.h"
#include "kube/cpprest_transport.h"
#include "kube/resource_client.h"
#include "kube/transport.h"

namespace sluice::kube {

class KubeClient final : public ResourceClient {
 public:
  explicit KubeClient(std::shared_ptr<Transport> transport) : transport_(std::move(transport)) {}

  Result<Json> get(const ResourceType& type, const std::string& ns, const std::string& name) override;
  Result<Json> list(const ResourceType& type, const std::string& ns, const ListOptions& options) override;
  Result<Json> create(const ResourceType& type, const std::string& ns, const Json& object) override;
  Result<Json> update(const ResourceType& type, const Json& object) override;
  Result<Json> updateStatus(const ResourceType& type, const Json& object) override;
  Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                const DeleteOptions& options) override;
  Result<Json> patch(const ResourceType& type, const std::string& ns, const std::string& name, PatchType patchType,
                     const Json& patch, const PatchOptions& options) override;
  Status watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
               const std::function<void(WatchEvent&&)>& onEvent, std::stop_token stop) override;

 private:
  Result<Json> call(const std::string& method, const std::string& pathAndQuery, const std::string& body = "",
                    const std::string& contentType = "");
  Result<Json> replace(const ResourceType& type, const Json& object, const std::string& subresource);

  std::shared_ptr<Transport> transport_;
};

// Loads the kubeconfig (or in-cluster config when `kubeconfigPath` is empty)
// and builds a KubeClient over cpprestsdk.
struct ConnectedClient {
  ClientConfig config;
  std::shared_ptr<KubeClient> client;
};
Result<ConnectedClient> connect(const std::string& kubeconfigPath, Clock& clock, TransportOptions options = {});

}  // namespace sluice::kube
