// Where the autoscaler reads the gateway's per-Function request counts: the
// /loads URL of every ready address of the gateway Service's Endpoints, on
// the port named `portName` ("admin" in the chart). Pure; any thread.
#pragma once

#include <string>
#include <vector>

#include "kube/resource.h"
#include "kube/resource_client.h"

namespace sluice::controllers {

inline const kube::ResourceType kEndpoints{"", "v1", "endpoints", "Endpoints", true};

std::vector<std::string> gatewayLoadsUrls(const kube::Json& endpoints, const std::string& portName);

}  // namespace sluice::controllers
