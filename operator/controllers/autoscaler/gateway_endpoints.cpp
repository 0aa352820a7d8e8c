#include "controllers/autoscaler/gateway_endpoints.h"

namespace sluice::controllers {

std::vector<std::string> gatewayLoadsUrls(const kube::Json& endpoints, const std::string& portName) {
  std::vector<std::string> urls;
  for (const kube::Json& subset : endpoints.value("subsets", kube::Json::array())) {
    int port = 0;
    for (const kube::Json& candidate : subset.value("ports", kube::Json::array())) {
      if (candidate.value("name", std::string()) == portName) port = candidate.value("port", 0);
    }
    if (port == 0) continue;
    for (const kube::Json& address : subset.value("addresses", kube::Json::array())) {
      const std::string ip = address.value("ip", std::string());
      if (ip.empty()) continue;
      const std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
      urls.push_back("http://" + host + ":" + std::to_string(port) + "/loads");
    }
  }
  return urls;
}

}  // namespace sluice::controllers
